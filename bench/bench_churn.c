/* bench_churn.c — isolation under churn: steady listeners' continuity while clients come, leave and are killed, beside the same run without churn. */
#define _GNU_SOURCE	/* pipe2, strcasestr */
#include <sys/resource.h>

#include "bench/benchutil.h"

#define K_STEADY	8		/* steady listeners, 8 channels int16 each */
#define NCH		8
#define WORKERS		4		/* churning clients in flight at most */
#define MAXRUN		3
#define PERIODS_S	750		/* 64-frame packets a second at 48 kHz */
#define WAIT_MS		10000

enum leave { L_FIN, L_RST, L_KILL, NLEAVE };

/* The churn schedule, shared by the worker threads. */
struct churn {
	int		 native, http;
	uint64_t	 t0_ns, end_ns, step_ns;
	atomic_int	 next;
	atomic_int	 done[NLEAVE];
	atomic_int	 failed;
};

/* One window of one run. */
struct window {
	double	lost;		/* periods missing at the steady listeners */
	double	worst_ms;	/* longest inter-arrival gap */
	double	p99_ms;
	double	done[NLEAVE];
	double	failed;		/* churn events that did not complete */
	double	rate;		/* churn events per second achieved */
	double	steady_failed;	/* steady listeners that lost their stream */
};

static struct window ref[MAXRUN], chr[MAXRUN];
static int rate_m, dur_ms, ref_ms;

/* The session of id is SIGKILLed; the client sees its socket end. */
static int
leave_by_kill(struct churn *ch, struct v2c *c, const char *id)
{
	pid_t pid = http_session_pid(ch->http, id);
	int rc;

	if (pid <= 0 || kill(pid, SIGKILL) == -1) {
		v2_close(c);
		return -1;
	}
	rc = v2_wait_eof(c, WAIT_MS);
	v2_close(c);
	return rc == V2_EOF ? 0 : -1;
}

/*
 * Churn event k: a full handshake; every other one subscribes two channels
 * and reads a packet; then it leaves by FIN, RST or SIGKILL in rotation.
 * Returns the way it left, or -1.
 */
static int
churn_one(struct churn *ch, int k)
{
	struct proto_audio a;
	char id[64];
	struct v2c c;
	int how = k % NLEAVE;

	snprintf(id, sizeof(id), "churn-%d-%d", (int)getpid(), k);
	if (v2_join(&c, ch->native, id, k % 2 == 0 ? v2_channels(2) : NULL,
	    WAIT_MS) == -1)
		return -1;
	if (k % 2 == 0 && v2_recv_audio(&c, &a, WAIT_MS) != V2_MSG) {
		v2_close(&c);
		return -1;
	}
	if (how == L_FIN)
		v2_close(&c);
	else if (how == L_RST)
		v2_reset(&c);
	else if (leave_by_kill(ch, &c, id) == -1)
		return -1;
	return how;
}

static void *
churn_worker(void *arg)
{
	struct churn *ch = arg;
	uint64_t at;
	int k, how;

	for (;;) {
		k = atomic_fetch_add(&ch->next, 1);
		at = ch->t0_ns + (uint64_t)k * ch->step_ns;
		if (at >= ch->end_ns || clock_mono_ns() >= ch->end_ns)
			break;
		tu_sleep_until(at);	/* the schedule, not a synchronisation */
		if ((how = churn_one(ch, k)) < 0)
			atomic_fetch_add(&ch->failed, 1);
		else
			atomic_fetch_add(&ch->done[how], 1);
	}
	return NULL;
}

/* The steady listeners' figures of the window just ended. */
static void
take(struct steady *s, struct window *w)
{
	struct steady_figures f;

	steady_snapshot(s, &f);
	w->lost = (double)(f.lost + f.backwards);
	w->worst_ms = (double)f.max_gap_ns / 1e6;
	w->steady_failed = f.failed;
	w->p99_ms = steady_gap_pct(s, 99);
}

/* M events a second for ms, by WORKERS threads; fills w's churn counts. */
static void
churn_for(const struct rcd *d, int m, int ms, struct window *w)
{
	struct churn ch = { .native = d->native_port, .http = d->http_port };
	pthread_t t[WORKERS];
	int nt = 0, sum = 0;

	ch.step_ns = 1000000000ull / (uint64_t)m;
	ch.t0_ns = clock_mono_ns();
	ch.end_ns = ch.t0_ns + (uint64_t)ms * 1000000ull;
	for (; nt < WORKERS; nt++)
		if (pthread_create(&t[nt], NULL, churn_worker, &ch) != 0)
			break;
	for (int i = 0; i < nt; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < NLEAVE; i++) {
		w->done[i] = atomic_load(&ch.done[i]);
		sum += atomic_load(&ch.done[i]);
	}
	w->failed = atomic_load(&ch.failed) + (nt < WORKERS);
	w->rate = (double)sum * 1e9 / (double)(clock_mono_ns() - ch.t0_ns);
}

/* One run: a daemon, K steady listeners, a window without churn, one with. */
static int
run(int r)
{
	static const char *const extra[] = { "--source", "tone", "--channels",
	    "8", "--period", "64", NULL };
	struct steady s;
	struct timespec ts = { ref_ms / 1000, (ref_ms % 1000) * 1000000L };

	if (bu_daemon_up("churn", extra) == -1)
		return -1;
	if (bu_steady_up(&s, "steady", K_STEADY, NCH, PERIODS_S / 2) == -1)
		return bu_daemon_down(-1);
	steady_reset(&s);
	nanosleep(&ts, NULL);	/* the reference window: the reader counts */
	take(&s, &ref[r]);
	steady_reset(&s);
	churn_for(&bu_daemon, rate_m, dur_ms, &chr[r]);
	take(&s, &chr[r]);
	steady_stop(&s);
	return bu_daemon_down(0);
}

/* ---- the table ---- */

static const int W[] = { 9, 3, 6, 6, 5, 5, 5, 6, 10, 8, 8 };
#define NW	BU_NCOL(W)

#define MED(w, n, f)	BU_MED(w, n, struct window, f)

static void
row(const char *name, int m, const struct window *w, int nrun)
{
	char c[NW][32];

	snprintf(c[0], 32, "%s", name);
	snprintf(c[1], 32, "%d", K_STEADY);
	snprintf(c[2], 32, "%d", m);
	snprintf(c[3], 32, "%.1f", m ? MED(w, nrun, rate) : 0);
	snprintf(c[4], 32, "%.0f", MED(w, nrun, done[L_FIN]));
	snprintf(c[5], 32, "%.0f", MED(w, nrun, done[L_RST]));
	snprintf(c[6], 32, "%.0f", MED(w, nrun, done[L_KILL]));
	snprintf(c[7], 32, "%.0f", MED(w, nrun, failed));
	snprintf(c[8], 32, "%.0f", MED(w, nrun, lost));
	snprintf(c[9], 32, "%.1f", MED(w, nrun, worst_ms));
	snprintf(c[10], 32, "%.1f", MED(w, nrun, p99_ms));
	bu_row(W, NW, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8],
	    c[9], c[10]);
}

static void
report(int nrun)
{
	double lost_max = 0, worst = 0, sf = 0;
	char runs[32], a[64];

	snprintf(runs, sizeof(runs), nrun > 1 ? "median of %d" : "%d run",
	    nrun);
	printf("Isolation under churn: %d steady listeners (8 ch int16, "
	    "64-frame packets) while clients connect, leave by FIN/RST and "
	    "have their sessions SIGKILLed (%s; churn %d s, reference %d s)\n",
	    K_STEADY, runs, dur_ms / 1000, ref_ms / 1000);
	bu_row(W, NW, "run", "K", "M/s", "done/s", "FIN", "RST", "KILL",
	    "failed", "lost per.", "worst ms", "p99 ms");
	bu_rule(W, NW);
	row("no churn", 0, ref, nrun);
	row("churn", rate_m, chr, nrun);
	for (int i = 0; i < nrun; i++) {
		if (chr[i].lost > lost_max)
			lost_max = chr[i].lost;
		if (chr[i].worst_ms > worst)
			worst = chr[i].worst_ms;
		sf += chr[i].steady_failed + ref[i].steady_failed;
	}
	printf("(lost per.: periods missing from the steady listeners' "
	    "positions, all %d together; worst over runs: %.0f lost, %.1f ms "
	    "gap; steady streams lost: %.0f)\n\ntargets:\n", K_STEADY,
	    lost_max, worst, sf);
	snprintf(a, sizeof(a), "%.0f (worst run %.0f)", MED(chr, nrun, lost),
	    lost_max);
	bu_target("0 lost periods for steady clients under churn", a,
	    lost_max == 0 && sf == 0);
}

int
main(void)
{
	int quick = bu_quick(), nrun = quick ? 1 : MAXRUN;
	struct rlimit rl;

	bu_begin();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rate_m = quick ? 20 : 50;
	dur_ms = quick ? 8000 : 20000;
	ref_ms = quick ? 3000 : 8000;
	bu_watchdog(quick ? 60 : 150);
	return bu_runs(nrun, run, report);
}
