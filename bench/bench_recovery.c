/* bench_recovery.c — recovery: reconnect to first audio with the restored mix, stalled and vanished clients ended, capture and ringcastd SIGKILL, an upgrade. */
#define _GNU_SOURCE	/* pipe2, strcasestr */
#include <sys/resource.h>
#include <sys/stat.h>

#include <limits.h>
#include <poll.h>

#include "bench/benchutil.h"
#include "shared/mix.h"

#define NCH		8
#define MAXRUN		3
#define RECONNECTS	200
#define KILLS		3
#define STALL_MS	3000		/* ringcastd's defaults, passed explicitly */
#define UTO_MS		4000
#define LIMIT_MS	5000		/* the target: ended within 5 s */
#define WAIT_MS		10000
#define PERIODS_S	750		/* 64-frame packets a second at 48 kHz */

/* One run's figures; -1 where not measured. */
struct run {
	double	rc_p50, rc_p99, rc_max;	/* reconnect to audio, ms */
	double	hr_p50, hr_p99, hr_max;	/* reconnect to handshake_response */
	double	stall_ms, vanish_ms;	/* client stops / vanishes to session end */
	double	cap_gap_ms;		/* median of KILLS capture SIGKILLs */
	double	cap_gap_max;
	double	sup_lost, sup_gap_max;	/* ringcastd SIGKILLs: at the listeners */
	double	sup_adopt_ms, sup_adopt_max;	/* exec to adoption done */
	double	up_lost, up_gap_max, up_ms;	/* SIGUSR2 to upgrade done */
	int	rc_bad;			/* reconnects without the restored mix */
	char	stall_why[32], vanish_why[32];
};

static struct run res[MAXRUN];
static char nft_table[64];		/* set while the drop rule is in place */
static int vanish_skipped;		/* 1: not root, 2: nft failed */

/* Run nft with these arguments (NULL-terminated); 0 on success. */
static int
nft(const char *const *args)
{
	const char *argv[16] = { "nft" };
	int n = 1, st, dn;
	pid_t pid;

	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		dn = open("/dev/null", O_WRONLY);
		dup2(dn, 1);
		dup2(dn, 2);
		execvp("nft", (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) &&
	    WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void
nft_remove(void)
{
	const char *const del[] = { "delete", "table", "inet", nft_table,
	    NULL };

	if (nft_table[0] != '\0')
		(void)nft(del);
	nft_table[0] = '\0';
}

/*
 * Every packet to or from the client's port is dropped on loopback: the
 * peer vanishes as a phone leaving the Wi-Fi does, no FIN, no RST.
 */
static int
nft_drop_port(int port)
{
	char chain[160], rule_s[64], rule_d[64];
	const char *const add_t[] = { "add", "table", "inet", nft_table, NULL };
	const char *const add_c[] = { "add", "chain", "inet", nft_table, "in",
	    chain, NULL };
	const char *const add_s[] = { "add", "rule", "inet", nft_table, "in",
	    rule_s, NULL };
	const char *const add_d[] = { "add", "rule", "inet", nft_table, "in",
	    rule_d, NULL };

	snprintf(nft_table, sizeof(nft_table), "rcbench_%d", (int)getpid());
	snprintf(chain, sizeof(chain), "{ type filter hook input priority "
	    "-300; policy accept; }");
	snprintf(rule_s, sizeof(rule_s), "tcp sport %d drop", port);
	snprintf(rule_d, sizeof(rule_d), "tcp dport %d drop", port);
	if (nft(add_t) == -1) {
		nft_table[0] = '\0';
		return -1;
	}
	if (nft(add_c) == -1 || nft(add_s) == -1 || nft(add_d) == -1) {
		nft_remove();
		return -1;
	}
	return 0;
}

/* The watchdog: past the budget, end the daemon, lift the rule, fail. */
static void
on_alarm(int sig)
{
	(void)sig;
	if (bu_daemon.pid > 0)
		kill(-bu_daemon.pid, SIGKILL);
	nft_remove();
	_exit(2);
}

/* ---- reconnect to first audio ---- */

static json_t *
saved_fields(void)
{
	return json_pack("{s:[ii], s:{s:f}, s:{s:f}, s:f}", "channels", 1, 2,
	    "gains", "1", 0.5, "pans", "2", -0.25, "master_gain", 0.8);
}

/*
 * One reconnect as rec-1: restored, the mix_state before any audio is the
 * saved mix, and the first packet carries the saved channels.  Its time
 * from connect() to that packet in ns, or 0.
 */
static uint64_t
reconnect_once(int port, const struct mix *want, uint32_t mask,
    uint64_t *hr_ns)
{
	struct proto_audio a;
	struct mix got;
	char err[128];
	bool audio = false, ok;
	uint64_t t0 = clock_mono_ns(), t;
	json_t *hr = NULL, *ms = NULL;
	struct v2c c;

	if (v2_open(&c, port, v2_hello("rec-1", NULL), WAIT_MS) == -1)
		return 0;
	hr = v2_recv_ctl(&c, "handshake_response", WAIT_MS, &audio);
	*hr_ns = clock_mono_ns() - t0;
	ok = hr != NULL &&
	    json_is_true(json_object_get(hr, "state_restored")) &&
	    (ms = v2_recv_ctl(&c, "mix_state", WAIT_MS, &audio)) != NULL &&
	    !audio && mix_from_json(&got, NCH, ms, err, sizeof(err)) == 0 &&
	    mix_equal(&got, want) &&
	    v2_recv_audio(&c, &a, WAIT_MS) == V2_MSG && a.mask[0] == mask;
	t = clock_mono_ns() - t0;
	json_decref(hr);
	json_decref(ms);
	v2_close(&c);
	return ok ? t : 0;
}

static int
reconnects(const struct rcd *d, struct run *r)
{
	double v[RECONNECTS], h[RECONNECTS];
	struct mix want;
	char err[128];
	json_t *f = saved_fields();
	struct v2c c;
	uint64_t t, th;
	int n = 0;

	mix_init(&want, NCH);
	if (mix_apply_json(&want, f, err, sizeof(err)) != 0 ||
	    v2_join(&c, d->native_port, "rec-1", f, WAIT_MS) == -1) {
		fprintf(stderr, "bench_recovery: cannot save a mix\n");
		return -1;
	}
	v2_close(&c);
	for (int i = 0; i < RECONNECTS; i++) {
		if ((t = reconnect_once(d->native_port, &want, 0x6, &th)) ==
		    0)
			r->rc_bad++;
		else {
			h[n] = (double)th / 1e6;
			v[n++] = (double)t / 1e6;
		}
	}
	r->hr_p50 = bu_percentile(h, (size_t)n, 50);
	r->hr_p99 = bu_percentile(h, (size_t)n, 99);
	r->hr_max = bu_percentile(h, (size_t)n, 100);
	r->rc_p50 = bu_percentile(v, (size_t)n, 50);
	r->rc_p99 = bu_percentile(v, (size_t)n, 99);
	r->rc_max = bu_percentile(v, (size_t)n, 100);
	return n > 0 ? 0 : -1;
}

/* ---- a client that stops reading, one that vanishes ---- */

struct ender {
	struct v2c	c;
	const char	*id;
	int		pidfd;
	uint64_t	t0_ns, ended_ns;
	char		why[32];	/* the exit reason recorded */
};

/* Join streaming 8 channels, read a packet, hold the session's pidfd. */
static int
ender_up(const struct rcd *d, struct ender *e, const char *id)
{
	struct proto_audio a;
	pid_t pid;

	e->id = id;
	e->pidfd = -1;
	if (v2_join(&e->c, d->native_port, id, v2_channels(NCH), WAIT_MS) ==
	    -1)
		return -1;
	if (v2_recv_audio(&e->c, &a, WAIT_MS) != V2_MSG ||
	    (pid = http_session_pid(d->http_port, id)) <= 0 ||
	    (e->pidfd = tu_pidfd_open(pid)) == -1)
		return -1;
	return 0;
}

static void
ender_down(struct ender *e)
{
	if (e->pidfd >= 0)
		close(e->pidfd);
	e->pidfd = -1;
	v2_reset(&e->c);
}

/*
 * The reasons the supervisor recorded for the n enders' exits, from their
 * client_disconnected events (each comes once its record is committed).
 */
static void
exit_reasons(struct http_sse *ev, struct ender *e, int n)
{
	int left = n;
	json_t *o;

	for (int i = 0; i < n; i++)
		snprintf(e[i].why, sizeof(e[i].why), "?");
	while (left > 0 && (o = http_sse_next(ev, "client_disconnected",
	    WAIT_MS, NULL)) != NULL) {
		for (int i = 0; i < n; i++)
			if (strcmp(json_string_value(json_object_get(o, "id")) ?:
			    "", e[i].id) == 0) {
				snprintf(e[i].why, sizeof(e[i].why), "%s",
				    json_string_value(json_object_get(o,
				    "reason")) ?: "?");
				left--;
			}
		json_decref(o);
	}
}

/* Wait for both sessions' ends (either may be absent: pidfd -1). */
static void
wait_ends(struct ender *e, int n, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	struct pollfd p[2];
	int left;

	for (;;) {
		left = 0;
		for (int i = 0; i < n; i++) {
			p[i] = (struct pollfd){ .fd = e[i].ended_ns ? -1 :
			    e[i].pidfd, .events = POLLIN };
			left += p[i].fd >= 0;
		}
		if (left == 0 || clock_mono_ms() >= end ||
		    poll(p, (nfds_t)n, (int)(end - clock_mono_ms())) <= 0)
			return;
		for (int i = 0; i < n; i++)
			if (p[i].fd >= 0 && (p[i].revents & POLLIN))
				e[i].ended_ns = clock_mono_ns();
	}
}

/* Both at once: one stops reading, the other's packets are dropped. */
static int
enders(const struct rcd *d, struct run *r)
{
	static struct http_sse ev;
	struct ender e[2];
	int rc = -1, vanish;

	memset(e, 0, sizeof(e));
	e[0].pidfd = e[1].pidfd = e[0].c.fd = e[1].c.fd = -1;
	if (http_sse_open(&ev, d->http_port, 0) == -1 ||
	    ender_up(d, &e[0], "rec-stall") == -1 ||
	    ender_up(d, &e[1], "rec-vanish") == -1)
		goto out;
	vanish = vanish_skipped == 0 &&
	    nft_drop_port(v2_local_port(e[1].c.fd)) == 0;
	if (!vanish && vanish_skipped == 0)
		vanish_skipped = 2;
	e[1].t0_ns = clock_mono_ns();
	e[0].t0_ns = clock_mono_ns();	/* from now on nobody reads */
	wait_ends(e, vanish ? 2 : 1, STALL_MS + UTO_MS + WAIT_MS);
	nft_remove();
	exit_reasons(&ev, e, vanish ? 2 : 1);
	for (int i = 0; i < (vanish ? 2 : 1); i++) {
		snprintf(i ? r->vanish_why : r->stall_why, 32, "%s", e[i].why);
		*(i ? &r->vanish_ms : &r->stall_ms) = e[i].ended_ns == 0 ? -1 :
		    (double)(e[i].ended_ns - e[i].t0_ns) / 1e6;
	}
	rc = 0;
out:
	nft_remove();
	ender_down(&e[0]);
	ender_down(&e[1]);
	http_sse_close(&ev);
	return rc;
}

/* ---- capture SIGKILL ---- */

static int
capture_kills(const struct rcd *d, struct run *r)
{
	struct steady_figures f;
	struct steady s;
	double v[KILLS];
	pid_t pid;
	int n;

	if (bu_steady_up(&s, "rec-cap", 1, NCH, PERIODS_S) == -1)
		return -1;
	for (n = 0; n < KILLS; n++) {
		pid = http_child_pid(d->http_port, "capture");
		steady_reset(&s);
		/*
		 * 1.2 s of audio after the kill: the new capture runs, and has
		 * been ready over 1 s before the next kill (no back-off).
		 */
		if (pid <= 0 || kill(pid, SIGKILL) == -1 ||
		    !steady_wait(&s, PERIODS_S * 6 / 5, WAIT_MS))
			break;
		steady_snapshot(&s, &f);
		v[n] = (double)f.max_gap_ns / 1e6;
	}
	steady_stop(&s);
	r->cap_gap_max = bu_percentile(v, (size_t)n, 100);
	r->cap_gap_ms = bu_median(v, (size_t)n);
	return n == KILLS ? 0 : -1;
}

/* ---- ringcastd SIGKILL, started again as systemd would ---- */

#define STEADY_N	4

static int
supervisor_kills(struct rcd *d, const char *const *extra, struct run *r)
{
	struct steady_figures f;
	struct steady s;
	double v[KILLS];
	int n;

	if (bu_steady_up(&s, "rec-sup", STEADY_N, NCH, PERIODS_S) == -1)
		return -1;
	steady_reset(&s);
	for (n = 0; n < KILLS; n++) {
		rcd_kill(d);
		/* ready_ms: exec to "ready", which comes once all is adopted. */
		if (rcd_start(d, extra, WAIT_MS) == -1 ||
		    !steady_wait(&s, PERIODS_S / 2, WAIT_MS))
			break;
		v[n] = (double)d->ready_ms;
	}
	steady_wait(&s, PERIODS_S, WAIT_MS);
	steady_snapshot(&s, &f);
	steady_stop(&s);
	r->sup_lost = (double)f.lost + f.failed * 1e6;
	r->sup_gap_max = (double)f.max_gap_ns / 1e6;
	r->sup_adopt_ms = bu_median(v, (size_t)n);
	r->sup_adopt_max = bu_percentile(v, (size_t)n, 100);
	return n == KILLS ? 0 : -1;
}

/* ---- an upgrade: the programs installed anew, then SIGUSR2 ---- */

/* "done" in /api/status's upgrade, polled: the ms from t0, or -1. */
static double
upgrade_done(const struct rcd *d, uint64_t t0)
{
	struct pollfd none = { .fd = -1 };
	const char *st;
	json_t *o;

	while (clock_mono_ms() - t0 < WAIT_MS) {
		o = http_get(d->http_port, "/api/status");
		st = json_string_value(json_object_get(json_object_get(o,
		    "upgrade"), "state"));
		if (st != NULL && strcmp(st, "done") == 0) {
			json_decref(o);
			return (double)(clock_mono_ms() - t0);
		}
		json_decref(o);
		poll(&none, 0, 5);	/* the poll's own pace */
	}
	return -1;
}

static int
upgrade(const char *const *extra, struct run *r)
{
	struct steady_figures f;
	struct steady s;
	char bin[PATH_MAX], next[PATH_MAX];
	uint64_t t0;
	int rc = -1;

	snprintf(next, sizeof(next), "%s/next", tu_build_dir());
	if (rcd_init(&bu_daemon, "rec-up") == -1)
		return -1;
	snprintf(bin, sizeof(bin), "%.100s/bin", bu_daemon.dir);
	snprintf(bu_daemon.prog, sizeof(bu_daemon.prog), "%.150s/ringcastd",
	    bin);
	if (mkdir(bin, 0755) == -1 || rcd_install(tu_build_dir(), bin) == -1 ||
	    rcd_start(&bu_daemon, extra, WAIT_MS) == -1)
		return bu_daemon_down(-1);
	if (bu_steady_up(&s, "rec-up", STEADY_N, NCH, PERIODS_S) == -1)
		return bu_daemon_down(-1);
	steady_reset(&s);
	if (rcd_install(next, bin) == 0) {
		t0 = clock_mono_ms();
		if (kill(bu_daemon.pid, SIGUSR2) == 0 &&
		    (r->up_ms = upgrade_done(&bu_daemon, t0)) >= 0 &&
		    steady_wait(&s, PERIODS_S, WAIT_MS))
			rc = 0;
	}
	steady_snapshot(&s, &f);
	steady_stop(&s);
	r->up_lost = (double)f.lost + f.failed * 1e6;
	r->up_gap_max = (double)f.max_gap_ns / 1e6;
	return bu_daemon_down(rc);
}

static int
run(int i)
{
	struct run *r = &res[i];
	static const char *const extra[] = { "--source", "tone", "--channels",
	    "8", "--period", "64", "--stall-ms", "3000", "--user-timeout-ms",
	    "4000", NULL };

	memset(r, 0, sizeof(*r));
	r->stall_ms = r->vanish_ms = r->cap_gap_ms = r->cap_gap_max = -1;
	r->sup_lost = r->sup_gap_max = r->sup_adopt_ms = r->sup_adopt_max = -1;
	r->up_lost = r->up_gap_max = r->up_ms = -1;
	if (bu_daemon_up("rec", extra) == -1)
		return -1;
	if (bu_daemon_down(reconnects(&bu_daemon, r) == -1 ||
	    enders(&bu_daemon, r) == -1 ||
	    capture_kills(&bu_daemon, r) == -1 ||
	    supervisor_kills(&bu_daemon, extra, r) == -1 ? -1 : 0) == -1)
		return -1;
	return upgrade(extra, r);
}

/* ---- the table ---- */

#define MED(n, f)	BU_MED(res, n, struct run, f)

static const int W[] = { 34, 9, 9, 9, 9, 9 };
#define NW	BU_NCOL(W)

/* The largest value over runs of a field. */
static double
max_of(int nrun, size_t off)
{
	double m = -1, x;

	for (int i = 0; i < nrun; i++) {
		x = *(const double *)(const void *)((const char *)&res[i] +
		    off);
		if (x > m)
			m = x;
	}
	return m;
}

#define MAX(n, f)	max_of(n, offsetof(struct run, f))

static void
row(const char *what, double a, double b, double c, const char *limit,
    const char *why)
{
	char x[3][32];

	snprintf(x[0], 32, a < 0 ? "-" : "%.2f", a);
	snprintf(x[1], 32, b < 0 ? "-" : "%.2f", b);
	snprintf(x[2], 32, c < 0 ? "-" : "%.2f", c);
	bu_row(W, NW, what, x[0], x[1], x[2], limit, why);
}

/* Whether every run ended that client for the expected reason. */
static int
all_why(int nrun, size_t off, const char *want)
{
	for (int i = 0; i < nrun; i++)
		if (strcmp((const char *)&res[i] + off, want) != 0)
			return 0;
	return 1;
}

static void
report(int nrun)
{
	char runs[32], m[64];
	double p99 = MED(nrun, rc_p99), st = MED(nrun, stall_ms);
	double va = MED(nrun, vanish_ms), gap = MED(nrun, cap_gap_ms);
	int bad = 0;

	for (int i = 0; i < nrun; i++)
		bad += res[i].rc_bad;
	snprintf(runs, sizeof(runs), nrun > 1 ? "median of %d" : "%d run",
	    nrun);
	printf("Recovery (%s; stall-ms %d, user-timeout-ms %d)\n", runs,
	    STALL_MS, UTO_MS);
	bu_row(W, NW, "what", "p50 ms", "p99 ms", "max ms", "limit ms",
	    "reason");
	bu_rule(W, NW);
	row("reconnect -> audio, restored mix", MED(nrun, rc_p50), p99,
	    MED(nrun, rc_max), "p99 5", "");
	row("  of which to handshake_response", MED(nrun, hr_p50),
	    MED(nrun, hr_p99), MED(nrun, hr_max), "", "");
	row("stops reading -> session ended", st, -1, MAX(nrun, stall_ms),
	    "5000", res[0].stall_why);
	if (vanish_skipped)
		bu_row(W, NW, "peer vanishes -> session ended", "-", "-", "-",
		    "5000", vanish_skipped == 1 ? "skipped: needs root" :
		    "skipped: nft failed");
	else
		row("peer vanishes -> session ended", va, -1,
		    MAX(nrun, vanish_ms), "5000", res[0].vanish_why);
	row("capture SIGKILL -> audio again", gap, -1, MAX(nrun, cap_gap_max),
	    "300", "");
	row("ringcastd SIGKILL -> adopted", MED(nrun, sup_adopt_ms), -1,
	    MAX(nrun, sup_adopt_max), "500", "");
	row("  steady listeners: worst gap", -1, -1, MAX(nrun, sup_gap_max),
	    "", "");
	row("  steady listeners: periods lost", -1, -1, MAX(nrun, sup_lost),
	    "0", "");
	row("upgrade (SIGUSR2) -> done", MED(nrun, up_ms), -1,
	    MAX(nrun, up_ms), "", "");
	row("  steady listeners: worst gap", -1, -1, MAX(nrun, up_gap_max), "",
	    "");
	row("  steady listeners: periods lost", -1, -1, MAX(nrun, up_lost),
	    "0", "");
	printf("(reconnect: %d per run, connect() to the first packet, each "
	    "checked: restored, saved mix before audio, saved channels; %d "
	    "failed the check. Ended: from the moment the client stops or "
	    "vanishes to the session's exit (pidfd), the reason recorded. "
	    "Capture gap: longest silence at a listener, median of %d kills "
	    "per run. ringcastd: SIGKILLed %d times, started again at once "
	    "with the same arguments, %d steady listeners; adopted: exec to "
	    "ready. Upgrade: the programs installed anew as version -next, "
	    "SIGUSR2 to /api/status saying done)\n\ntargets:\n", RECONNECTS,
	    bad, KILLS, KILLS, STEADY_N);
	snprintf(m, sizeof(m), "%.2f ms", p99);
	bu_target("reconnect -> first audio p99 <= 5 ms", m,
	    p99 <= 5 && bad == 0);
	snprintf(m, sizeof(m), "%.0f ms, %s", st, res[0].stall_why);
	bu_target("stalled client ended <= 5 s (stall-ms 3000)", m, st >= 0 &&
	    st <= LIMIT_MS &&
	    all_why(nrun, offsetof(struct run, stall_why), "stalled"));
	if (vanish_skipped)
		bu_target("vanished peer ended <= 5 s", "skipped", 0);
	else {
		snprintf(m, sizeof(m), "%.0f ms, %s", va, res[0].vanish_why);
		bu_target("vanished peer ended <= 5 s (user-timeout 4000)", m,
		    va >= 0 && va <= LIMIT_MS && all_why(nrun,
		    offsetof(struct run, vanish_why), "timeout"));
	}
	snprintf(m, sizeof(m), "%.1f ms", gap);
	bu_target("capture SIGKILL gap <= 300 ms", m, gap >= 0 && gap <= 300);
	snprintf(m, sizeof(m), "%.0f ms, %.0f lost", MAX(nrun, sup_adopt_max),
	    MAX(nrun, sup_lost));
	bu_target("ringcastd SIGKILL: adopted <= 500 ms, 0 lost", m,
	    MAX(nrun, sup_adopt_max) >= 0 && MAX(nrun, sup_adopt_max) <= 500 &&
	    MAX(nrun, sup_lost) == 0);
	snprintf(m, sizeof(m), "%.0f ms, %.0f lost", MAX(nrun, up_ms),
	    MAX(nrun, up_lost));
	bu_target("upgrade: 0 periods lost", m, MAX(nrun, up_ms) >= 0 &&
	    MAX(nrun, up_lost) == 0);
}

int
main(void)
{
	int quick = bu_quick(), nrun = quick ? 1 : MAXRUN;

	bu_begin();
	if (geteuid() != 0)
		vanish_skipped = 1;
	signal(SIGALRM, on_alarm);	/* bu_watchdog's, and the nft rule lifted */
	alarm(quick ? 60 : 150);
	return bu_runs(nrun, run, report);
}
