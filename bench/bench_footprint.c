/* bench_footprint.c — footprint: memory per session, ringcastd and its children at idle, start-up time to ready. */
#define _GNU_SOURCE	/* pipe2, strcasestr */
#include "bench/benchutil.h"

#define NCH		8
#define MAXRUN		3
#define STARTS		5		/* start-up time: median of 5 */
#define NSESS		20		/* idle-connected, subscribed sessions */
#define MAXPROC		(NSESS + 8)
#define USS_TARGET	1024		/* KiB per session */
#define WAIT_MS		10000
#define PERIODS_S	750

/* The daemon's services, by the name (comm) each process carries. */
enum svc { S_SUPER, S_CAPTURE, S_BROKER, NSVC };
static const char *svc_comm[NSVC] = { "ringcastd", "ringcast-captur",
    "ringcast-broker" };
static const char *svc_name[NSVC] = { "ringcastd", "capture", "broker" };

struct run {
	double	ready_ms;		/* median of STARTS */
	double	ready_max;
	double	rss[NSVC + 1], uss[NSVC + 1];	/* KiB; [NSVC]: all three */
	double	cpu[NSVC + 1];		/* % of one core at idle */
	double	sess_uss_med, sess_uss_max, sess_rss_med;	/* KiB */
	int	nsess;
};

static struct run res[MAXRUN];
static int idle_ms;
static int unreadable;	/* /proc of non-dumpable children needs root */

static const char *const extra[] = { "--source", "tone", "--channels", "8",
    "--period", "64", NULL };

/* Exec to "ready" on the notify fd, STARTS times; the last one stays up. */
static int
startups(struct run *r)
{
	double v[STARTS];

	for (int i = 0; i < STARTS; i++) {
		if (i > 0)
			rcd_cleanup(&bu_daemon);
		if (bu_daemon_up("foot", extra) == -1)
			return -1;
		v[i] = (double)bu_daemon.ready_ms;
	}
	r->ready_ms = bu_median(v, STARTS);
	r->ready_max = bu_percentile(v, STARTS, 100);
	return 0;
}

/* The daemon's service processes: pids[svc], 0 when not found. */
static void
services(pid_t *pids)
{
	pid_t kids[MAXPROC];
	char comm[32];
	int n = bu_children(bu_daemon.pid, kids, MAXPROC);

	memset(pids, 0, sizeof(*pids) * NSVC);
	pids[S_SUPER] = bu_daemon.pid;
	for (int i = 0; i < n; i++) {
		if (bu_comm(kids[i], comm, sizeof(comm)) == -1)
			continue;
		for (int s = S_CAPTURE; s < NSVC; s++)
			if (strcmp(comm, svc_comm[s]) == 0)
				pids[s] = kids[i];
	}
}

/* RSS, USS and CPU % of the three services over idle_ms without clients. */
static int
idle(struct run *r)
{
	pid_t pids[NSVC];
	long long c0[NSVC], c1;
	uint64_t t0;
	struct timespec ts = { idle_ms / 1000, (idle_ms % 1000) * 1000000L };

	services(pids);
	for (int s = 0; s < NSVC; s++)
		if (pids[s] <= 0 || (c0[s] = bu_cpu_us(pids[s])) < 0)
			return -1;
	t0 = clock_mono_ns();
	nanosleep(&ts, NULL);	/* the window: nothing to wait for at idle */
	memset(r->cpu, 0, sizeof(r->cpu));
	memset(r->rss, 0, sizeof(r->rss));
	memset(r->uss, 0, sizeof(r->uss));
	for (int s = 0; s < NSVC; s++) {
		if ((c1 = bu_cpu_us(pids[s])) < 0)
			return -1;
		r->cpu[s] = 100.0 * (double)(c1 - c0[s]) /
		    ((double)(clock_mono_ns() - t0) / 1000.0);
		r->rss[s] = (double)tu_proc_field(pids[s], "smaps_rollup", "Rss");
		r->uss[s] = (double)bu_uss_kib(pids[s]);
		if (r->rss[s] < 0 || r->uss[s] < 0)
			unreadable = 1;
		r->cpu[NSVC] += r->cpu[s];
		r->rss[NSVC] += r->rss[s];
		r->uss[NSVC] += r->uss[s];
	}
	return 0;
}

/* NSESS listeners streaming 8 channels; USS and RSS of their sessions. */
static int
sessions(struct run *r)
{
	double uss[NSESS], rss[NSESS];
	struct steady s;
	char id[64];
	pid_t pid;
	int rc = -1;

	r->nsess = 0;
	if (bu_steady_up(&s, "foot", NSESS, NCH, PERIODS_S / 2) == -1)
		return -1;
	/* Half a second more of steady streaming for every listener. */
	if (!steady_wait(&s, PERIODS_S / 2, WAIT_MS))
		goto out;
	for (int i = 0; i < NSESS; i++) {
		snprintf(id, sizeof(id), "foot-%d", i);
		if ((pid = http_session_pid(bu_daemon.http_port, id)) <= 0)
			goto out;
		uss[r->nsess] = (double)bu_uss_kib(pid);
		rss[r->nsess++] = (double)tu_proc_field(pid, "smaps_rollup", "Rss");
		if (uss[r->nsess - 1] < 0 || rss[r->nsess - 1] < 0)
			unreadable = 1;
	}
	r->sess_uss_med = bu_median(uss, (size_t)r->nsess);
	r->sess_uss_max = bu_percentile(uss, (size_t)r->nsess, 100);
	r->sess_rss_med = bu_median(rss, (size_t)r->nsess);
	rc = 0;
out:
	steady_stop(&s);
	return rc;
}

static int
run(int i)
{
	struct run *r = &res[i];
	struct timespec ts = { 1, 0 };

	if (startups(r) == -1)
		return -1;
	nanosleep(&ts, NULL);	/* past start-up: the first second's work */
	return bu_daemon_down(idle(r) == -1 || sessions(r) == -1 ? -1 : 0);
}

/* ---- the table ---- */

#define MED(n, f)	BU_MED(res, n, struct run, f)

static const int W[] = { 36, 10, 10, 8 };
#define NW	BU_NCOL(W)

static void
row(const char *what, const char *a, const char *b, const char *c)
{
	bu_row(W, NW, what, a, b, c);
}

static void
report(int nrun)
{
	char runs[32], what[64], a[32], b[32], c[32];
	double uss = MED(nrun, sess_uss_med), umax = 0;

	for (int i = 0; i < nrun; i++)
		if (res[i].sess_uss_max > umax)
			umax = res[i].sess_uss_max;
	snprintf(runs, sizeof(runs), nrun > 1 ? "median of %d" : "%d run",
	    nrun);
	printf("Footprint (%s; %d sessions streaming 8 ch int16; idle "
	    "window %d ms)\n", runs, NSESS, idle_ms);
	row("what", "RSS", "USS", "CPU %");
	bu_rule(W, NW);
	snprintf(a, 32, "%.0f KiB", MED(nrun, sess_rss_med));
	snprintf(b, 32, "%.0f KiB", uss);
	row("session (median)", a, b, "-");
	snprintf(b, 32, "%.0f KiB", MED(nrun, sess_uss_max));
	row("session (max)", "-", b, "-");
	for (int s = 0; s <= NSVC; s++) {
		snprintf(what, sizeof(what), "%s at idle", s < NSVC ?
		    svc_name[s] : "ringcastd + children");
		snprintf(a, 32, "%.2f MiB", MED(nrun, rss[s]) / 1024);
		snprintf(b, 32, "%.2f MiB", MED(nrun, uss[s]) / 1024);
		snprintf(c, 32, "%.2f", MED(nrun, cpu[s]));
		row(what, a, b, c);
	}
	printf("\n");
	row("start-up: exec -> ready", "median", "max", "");
	bu_rule(W, NW);
	snprintf(a, 32, "%.0f ms", MED(nrun, ready_ms));
	snprintf(b, 32, "%.0f ms", MED(nrun, ready_max));
	row("ringcastd (tone, 8 ch)", a, b, "");
	printf("(USS: Private_Clean + Private_Dirty of smaps_rollup; CPU: "
	    "utime + stime over the idle window; start-up: median of %d "
	    "starts per run)\n\ntargets:\n", STARTS);
	if (unreadable) {
		printf("  (memory of the children unreadable: they are not "
		    "dumpable; run as root)\n");
		bu_target("USS <= 1 MiB per session", "skipped: needs root", 0);
		return;
	}
	snprintf(a, 32, "%.0f KiB (max %.0f)", uss, umax);
	bu_target("USS <= 1 MiB per session", a, umax > 0 &&
	    umax <= USS_TARGET);
}

int
main(void)
{
	int quick = bu_quick(), nrun = quick ? 1 : MAXRUN;

	bu_begin();
	idle_ms = quick ? 2000 : 3000;
	bu_watchdog(quick ? 60 : 120);
	return bu_runs(nrun, run, report);
}
