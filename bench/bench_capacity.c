/* bench_capacity.c — how many native clients ringcast serves on time, against a bare futex + copy + send baseline. */
#define _GNU_SOURCE	/* pipe2, prctl */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <linux/futex.h>

#include <limits.h>
#include <sched.h>

#include "bench/benchutil.h"
#include "bench/loadclient.h"
#include "shared/ring.h"

#define C_RATE		48000
#define C_PERIOD	64			/* ringcastd's default period */
#define C_CH		8
#define C_PERIOD_NS	(1000000000ull * C_PERIOD / C_RATE)
#define C_SLACK_NS	5000000ull		/* on time: packet + 5 ms */
#define C_TARGET	99.0			/* on-time % a step must keep */
#define C_MAXSTEP	20
#define C_MAXRUN	3
#define C_BSLOTS	512			/* baseline publish times kept */

/*
 * N per packet size, fine where each one's limit lies on a 2-core machine:
 * a sweep's time share buys about six steps.  0 ends a list.
 */
#define NSTEPS	12
static const int steps_of[2][NSTEPS] = {
	{ 25, 50, 75, 100, 125, 150, 175, 200, 250, 300, 400, 0 },
	{ 50, 100, 150, 200, 250, 300, 350, 400, 500, 600, 0, 0 },
};

enum impl { RINGCAST, BASELINE, NIMPL };
static const char *impl_name[NIMPL] = { "ringcast", "baseline" };
static const uint32_t sizes[] = { 64, 256 };
#define NSIZES	2

/* One step of one sweep. */
struct step {
	int	n;
	double	ontime;		/* % */
	double	overruns;	/* ring overruns in the window */
	double	lost;		/* lost periods per client */
	double	cpu_us;		/* per client per period */
	double	uss_kib;	/* median per process */
	double	lc_cpu;		/* load client, % of one core */
	double	late_ms;	/* worst lateness */
	int	failed;		/* connections lost or never streaming */
};

struct sweep {
	struct step	s[C_MAXSTEP];
	int		ns;
	int		n99;	/* largest N at >= C_TARGET on time */
	int		capped;	/* stopped by the step list or the time budget */
};

static struct sweep result[C_MAXRUN][NSIZES][NIMPL];
static int window_ms, settle_ms, sweep_ms;
static int broken;		/* a set-up failed: the exit status says so */

/* ---- time of a period: the ring ---- */

struct ringsrc {
	struct ring_reader		*r;
	const struct ring_header	*h;
};

/* The publish time of the period ending at position, checked by seqlock. */
static uint64_t
ring_time_of(void *arg, uint64_t position)
{
	uint64_t ts;

	return ring_reader_time_of(arg, position, &ts) == 0 ? ts : 0;
}

/* ---- the bare baseline: a futex word, a shared page, send() ---- */

struct bell {
	_Atomic uint32_t	futex;
	_Atomic uint64_t	seq;		/* periods published */
	atomic_int		stop;
	uint64_t		ts[C_BSLOTS];	/* publish time of period n */
	uint8_t			data[C_CH * 256 * 2];
};

static struct bell *bell;

static uint64_t
bell_time_of(void *arg, uint64_t position)
{
	uint64_t seq = position / C_PERIOD - 1, cur;

	(void)arg;
	cur = atomic_load_explicit(&bell->seq, memory_order_acquire);
	if (position % C_PERIOD != 0 || seq >= cur || cur - seq >= C_BSLOTS - 8)
		return 0;
	return bell->ts[seq % C_BSLOTS];
}

static void *
bell_writer(void *arg)
{
	struct timespec t;
	uint64_t n;

	(void)arg;
	/* As capture's audio thread: SCHED_FIFO 70 when allowed. */
	pthread_setschedparam(pthread_self(), SCHED_FIFO,
	    &(struct sched_param){ .sched_priority = 70 });
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (!atomic_load(&bell->stop)) {
		t.tv_nsec += (long)C_PERIOD_NS;
		if (t.tv_nsec >= 1000000000L) {
			t.tv_nsec -= 1000000000L;
			t.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
		n = atomic_load(&bell->seq);
		bell->data[n % sizeof(bell->data)] = (uint8_t)n;
		bell->ts[n % C_BSLOTS] = clock_mono_ns();
		atomic_store_explicit(&bell->seq, n + 1, memory_order_release);
		atomic_store(&bell->futex, (uint32_t)(n + 1));
		syscall(SYS_futex, &bell->futex, FUTEX_WAKE, INT_MAX, NULL,
		    NULL, 0);
	}
	return NULL;
}

static void
put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

/* One packet of k periods ending with period blk * k + k - 1. */
static int
bell_send(int fd, uint8_t *pkt, uint64_t blk, uint32_t k)
{
	uint32_t bytes = C_CH * C_PERIOD * 2 * k;

	put_be(pkt, PROTO_MAGIC, 4);
	put_be(pkt + 4, 2, 2);
	put_be(pkt + 6, PROTO_TYPE_AUDIO << 8 | PROTO_FLAG_INT16, 2);
	put_be(pkt + 8, 0, 4);
	put_be(pkt + 12, 12 + bytes, 4);
	put_be(pkt + 16, (blk + 1) * k * C_PERIOD, 8);
	put_be(pkt + 24, 0xff, 4);
	memcpy(pkt + 28, bell->data, bytes);
	return send(fd, pkt, 28 + bytes, MSG_NOSIGNAL) == -1 ? -1 : 0;
}

/*
 * A baseline process: wait, copy, frame by hand, send; no ringcast code.
 * Like a session it sends every whole block it has not sent yet, so a late
 * wake-up costs time, not periods.
 */
static void
bell_worker(int fd, uint32_t frames)
{
	static uint8_t pkt[28 + sizeof(bell->data)];
	uint32_t k = frames / C_PERIOD, seen;
	uint64_t next, blk;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	seen = atomic_load(&bell->futex);
	next = atomic_load(&bell->seq) / k;	/* the first block to send */
	while (!atomic_load(&bell->stop)) {
		syscall(SYS_futex, &bell->futex, FUTEX_WAIT, seen, NULL, NULL,
		    0);
		seen = atomic_load(&bell->futex);
		blk = atomic_load_explicit(&bell->seq, memory_order_acquire) /
		    k;
		for (; next < blk; next++)
			if (bell_send(fd, pkt, next, k) == -1)
				_exit(0);
	}
	_exit(0);
}

/* ---- one process set under test ---- */

struct sut {
	enum impl	  impl;
	uint32_t	  frames;
	struct rcd	  d;
	struct ringsrc	  rs;
	int		  lfd;		/* baseline: listening socket */
	int		  lport;
	pid_t		  pgid;		/* baseline workers' group */
	pid_t		  pids[LC_MAXCONN];
	int		  npids;
	pthread_t	  wr;
	int		  wr_on;
};

static int
sut_listen(struct sut *u)
{
	return (u->lfd = tu_tcp_listen(1024, &u->lport)) == -1 ? -1 : 0;
}

static int
sut_start(struct sut *u, struct lc *lc)
{
	static const char *const extra[] = { "--max-clients", "4096", NULL };
	uint64_t dl = C_PERIOD_NS * (u->frames / C_PERIOD) + C_SLACK_NS;

	if (u->impl == BASELINE) {
		memset(bell, 0, sizeof(*bell));
		if (sut_listen(u) == -1 ||
		    pthread_create(&u->wr, NULL, bell_writer, NULL) != 0)
			return -1;
		u->wr_on = 1;
		return lc_init(lc, C_PERIOD, u->frames, dl, bell_time_of, NULL);
	}
	if (rcd_init(&u->d, "cap") == -1 ||
	    rcd_start(&u->d, extra, 20000) == -1)
		return -1;
	if (ring_reader_open(u->d.ring, &u->rs.r) != RING_OK)
		return -1;
	u->rs.h = ring_reader_header(u->rs.r);
	return lc_init(lc, C_PERIOD, u->frames, dl, ring_time_of, u->rs.r);
}

/* One more baseline process, streaming to a new load-client connection. */
static int
sut_add_worker(struct sut *u, struct lc *lc)
{
	int cfd, sfd;
	pid_t pid;

	if ((cfd = v2_connect(u->lport, 0, 10000)) == -1)
		return -1;
	if ((sfd = accept4(u->lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		close(cfd);
		return -1;
	}
	/* As sessions do: no Nagle wait for the peer's delayed ACK. */
	setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	if ((pid = fork()) == -1) {
		close(cfd);
		close(sfd);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, u->pgid);
		close(cfd);
		bell_worker(sfd, u->frames);
	}
	if (u->pgid == 0)
		u->pgid = pid;
	setpgid(pid, u->pgid);
	u->pids[u->npids++] = pid;
	close(sfd);
	return lc_add_fd(lc, cfd, false);
}

/* Grow to n connections. */
static int
sut_grow(struct sut *u, struct lc *lc, int n)
{
	if (u->impl == RINGCAST)
		return lc_connect_many(lc, u->d.native_port, n, 4, 30000);
	while (atomic_load(&lc->nconn) < n)
		if (sut_add_worker(u, lc) == -1)
			return -1;
	return 0;
}

/* The processes serving clients: the sessions, or the baseline workers. */
static int
sut_procs(struct sut *u, pid_t *pids, int max)
{
	pid_t kids[LC_MAXCONN + 16];
	char comm[32];
	int n, m = 0;

	if (u->impl == BASELINE) {
		memcpy(pids, u->pids, sizeof(pid_t) * (size_t)u->npids);
		return u->npids;
	}
	n = bu_children(u->d.pid, kids, LC_MAXCONN + 16);
	for (int i = 0; i < n && m < max; i++)
		if (bu_comm(kids[i], comm, sizeof(comm)) == 0 &&
		    strncmp(comm, "ringcast-sessio", 15) == 0)
			pids[m++] = kids[i];
	return m;
}

static long long
procs_cpu(const pid_t *pids, int n)
{
	long long sum = 0, c;

	for (int i = 0; i < n; i++)
		if ((c = bu_cpu_us(pids[i])) > 0)
			sum += c;
	return sum;
}

static double
procs_uss(const pid_t *pids, int n)
{
	double v[LC_MAXCONN];
	int m = 0;
	long k;

	/* A sample is enough for the median; smaps_rollup walks every VMA. */
	for (int i = 0; i < n && m < 64; i += 1 + n / 64)
		if ((k = bu_uss_kib(pids[i])) >= 0)
			v[m++] = (double)k;
	return bu_median(v, (size_t)m);
}

static void
sut_stop(struct sut *u, struct lc *lc)
{
	lc_free(lc);
	if (u->impl == BASELINE) {
		atomic_store(&bell->stop, 1);
		if (u->wr_on)
			pthread_join(u->wr, NULL);
		u->wr_on = 0;
		tu_kill_group(u->pgid, 0);
		for (int i = 0; i < u->npids; i++)
			tu_wait_exit(u->pids[i], 5000);
		if (u->lfd >= 0)
			close(u->lfd);
		return;
	}
	if (u->rs.r != NULL)
		ring_reader_close(u->rs.r);
	u->rs.r = NULL;
	rcd_cleanup(&u->d);
}

/* ---- measuring ---- */

static uint64_t
overruns(const struct sut *u)
{
	return u->impl == RINGCAST && u->rs.h != NULL ?
	    atomic_load(&u->rs.h->overruns) : 0;
}

/* Settle, then one window of steady state at the current N. */
static void
measure(struct sut *u, struct lc *lc, int n, struct step *st)
{
	static pid_t pids[LC_MAXCONN];
	struct lc_totals t;
	struct timespec ts = { settle_ms / 1000, (settle_ms % 1000) * 1000000L };
	long long cpu0, lc0;
	uint64_t t0, ov0, periods;
	int np;

	nanosleep(&ts, NULL);	/* let the connect ramp drain */
	np = sut_procs(u, pids, LC_MAXCONN);
	lc_take(lc, &t);
	ov0 = overruns(u);
	cpu0 = procs_cpu(pids, np);
	lc0 = bu_cpu_us(getpid());
	t0 = clock_mono_ns();
	ts = (struct timespec){ window_ms / 1000, (window_ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);	/* the window: the load client counts */
	lc_take(lc, &t);
	periods = (clock_mono_ns() - t0) / C_PERIOD_NS;
	st->n = n;
	st->ontime = t.periods + t.lost == 0 ? 0 :
	    100.0 * (double)t.ontime / (double)(t.periods + t.lost);
	st->overruns = (double)(overruns(u) - ov0);
	st->lost = (double)t.lost / n;
	st->cpu_us = np == 0 || periods == 0 ? 0 :
	    (double)(procs_cpu(pids, np) - cpu0) / (double)periods / np;
	st->uss_kib = procs_uss(pids, np);
	st->lc_cpu = 100.0 * (double)(bu_cpu_us(getpid()) - lc0) /
	    ((double)(clock_mono_ns() - t0) / 1000.0);
	st->late_ms = (double)t.max_late_ns / 1e6;
	st->failed = t.dead + (n - np > 0 && u->impl == RINGCAST ? n - np : 0);
}

/* Step N up until on-time falls below the target, the list ends or time runs out. */
static void
sweep(enum impl impl, int z, struct sweep *sw)
{
	const int *steps = steps_of[z];
	uint32_t frames = sizes[z];
	struct sut u = { .impl = impl, .frames = frames, .lfd = -1 };
	struct lc lc = { 0 };
	uint64_t end = clock_mono_ms() + (uint64_t)sweep_ms;
	struct step *st;

	memset(sw, 0, sizeof(*sw));
	sw->capped = 1;
	if (sut_start(&u, &lc) == -1) {
		fprintf(stderr, "bench_capacity: %s would not start\n",
		    impl_name[impl]);
		broken = 1;
		sut_stop(&u, &lc);
		return;
	}
	for (int i = 0; i < NSTEPS && steps[i] > 0 && sw->ns < C_MAXSTEP;
	    i++) {
		/* A step takes its settle time and window, plus its connects. */
		if (clock_mono_ms() + (uint64_t)(settle_ms + window_ms + 500) >=
		    end)
			break;
		st = &sw->s[sw->ns++];
		if (sut_grow(&u, &lc, steps[i]) == -1 ||
		    lc_wait_streaming(&lc, steps[i], 20000) == -1) {
			if (impl == RINGCAST)
				rcd_dump_log(&u.d, 2048);
			st->n = steps[i];
			st->failed = steps[i] - atomic_load(&lc.nstream);
			sw->capped = 0;
			break;
		}
		measure(&u, &lc, steps[i], st);
		if (st->ontime < C_TARGET || st->failed > 0) {
			sw->capped = 0;
			break;
		}
		sw->n99 = steps[i];
	}
	sut_stop(&u, &lc);
}

/* ---- the table ---- */

static const int W[] = { 8, 6, 5, 9, 8, 9, 9, 8, 7, 8, 6 };
#define NW	BU_NCOL(W)

static double
med_of(double *v, int n)
{
	return bu_median(v, (size_t)n);
}

/* The median over runs of one column at step index i (runs that reached it). */
static int
step_median(int nrun, int z, int m, int n, struct step *out)
{
	double v[8][C_MAXRUN];
	int k = 0;

	for (int r = 0; r < nrun; r++)
		for (int i = 0; i < result[r][z][m].ns; i++) {
			const struct step *s = &result[r][z][m].s[i];

			if (s->n != n)
				continue;
			v[0][k] = s->ontime;
			v[1][k] = s->overruns;
			v[2][k] = s->lost;
			v[3][k] = s->cpu_us;
			v[4][k] = s->uss_kib;
			v[5][k] = s->lc_cpu;
			v[6][k] = s->late_ms;
			v[7][k] = s->failed;
			k++;
		}
	if (k == 0)
		return 0;
	*out = (struct step){ n, med_of(v[0], k), med_of(v[1], k),
	    med_of(v[2], k), med_of(v[3], k), med_of(v[4], k),
	    med_of(v[5], k), med_of(v[6], k), (int)med_of(v[7], k) };
	return k;
}

static void
print_rows(int nrun, int z, int m)
{
	char c[NW][32];
	struct step s;
	int k;

	for (int i = 0; i < NSTEPS && steps_of[z][i] > 0; i++) {
		if ((k = step_median(nrun, z, m, steps_of[z][i], &s)) == 0)
			continue;
		snprintf(c[0], 32, "%s", impl_name[m]);
		snprintf(c[1], 32, "%u", sizes[z]);
		snprintf(c[2], 32, "%d", s.n);
		snprintf(c[3], 32, "%.2f", s.ontime);
		snprintf(c[4], 32, "%.0f", s.overruns);
		snprintf(c[5], 32, "%.2f", s.lost);
		snprintf(c[6], 32, "%.1f", s.cpu_us);
		snprintf(c[7], 32, "%.0f", s.uss_kib);
		snprintf(c[8], 32, "%.0f", s.lc_cpu);
		snprintf(c[9], 32, "%.1f", s.late_ms);
		snprintf(c[10], 32, "%d/%d", s.failed, k);
		bu_row(W, NW, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
		    c[8], c[9], c[10]);
	}
}

/* Median over runs of the N at 99 % on time; *capped if any run was. */
static double
n99(int nrun, int z, int m, int *capped)
{
	double v[C_MAXRUN];

	*capped = 0;
	for (int r = 0; r < nrun; r++) {
		v[r] = result[r][z][m].n99;
		*capped |= result[r][z][m].capped;
	}
	return med_of(v, nrun);
}

static void
report(int nrun)
{
	char runs[32], a[64], b[64];
	double x[NSIZES], y[NSIZES];
	int cx, cy;

	snprintf(runs, sizeof(runs), nrun > 1 ? "median of %d" : "%d run",
	    nrun);
	printf("Capacity: %d ch int16 per client, N stepped until on time < "
	    "%.0f %% (%s; window %d ms)\n", C_CH, C_TARGET, runs, window_ms);
	bu_row(W, NW, "impl", "frames", "N", "ontime%", "overruns",
	    "lost/cli", "cpu us/p", "USS KiB", "lc cpu%", "late ms", "fail/r");
	bu_rule(W, NW);
	for (int z = 0; z < NSIZES; z++)
		for (int m = 0; m < NIMPL; m++)
			print_rows(nrun, z, m);
	printf("\n");
	for (int z = 0; z < NSIZES; z++) {
		x[z] = n99(nrun, z, RINGCAST, &cx);
		y[z] = n99(nrun, z, BASELINE, &cy);
		printf("N at %.0f %% on time, %u-frame packets: ringcast %.0f%s, "
		    "baseline %.0f%s, ratio %.2f\n", C_TARGET, sizes[z], x[z],
		    cx ? "+" : "", y[z], cy ? "+" : "",
		    y[z] > 0 ? x[z] / y[z] : 0);
	}
	printf("(+: the step list or the time budget ended first)\n\ntargets:\n");
	snprintf(a, sizeof(a), "%.0f / %.0f = %.2f", x[0], y[0],
	    y[0] > 0 ? x[0] / y[0] : 0);
	bu_target("64-frame capacity >= 80% of baseline N", a,
	    y[0] > 0 && x[0] / y[0] >= 0.8);
	snprintf(b, sizeof(b), "%.0f clients", x[1]);
	bu_target(">= 250 clients at 256 frames, >= 99% on time", b,
	    x[1] >= 250);
}

static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int
main(void)
{
	int quick = bu_quick(), nrun = quick ? 1 : C_MAXRUN;
	int budget_ms = quick ? 45000 : 240000, left;
	uint64_t end;

	bu_begin();
	raise_nofile();
	window_ms = quick ? 1000 : 2000;
	settle_ms = quick ? 300 : 500;
	end = clock_mono_ms() + (uint64_t)budget_ms;
	bell = mmap(NULL, sizeof(*bell), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (bell == MAP_FAILED) {
		perror("bench_capacity: mmap");
		return 1;
	}
	for (int r = 0; r < nrun; r++)
		for (int z = 0; z < NSIZES; z++)
			for (int m = 0; m < NIMPL; m++) {
				/* An equal share of what is left; stopping costs ~1 s. */
				left = nrun * NSIZES * NIMPL -
				    (r * NSIZES + z) * NIMPL - m;
				sweep_ms = (int)((int64_t)(end - clock_mono_ms()) /
				    left) - 1000;
				if (sweep_ms < 0)
					sweep_ms = 0;
				sweep(m, z, &result[r][z][m]);
			}
	report(nrun);
	return broken;
}
