/* bench_ring.c — ring readers against a bare futex + memcpy baseline: wake latency, reader CPU, writer cost. */
#define _GNU_SOURCE	/* prctl, pipe2 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/ring.h"
#include "tests/lib/tu.h"

#define B_RATE		48000
#define B_FRAMES	64
#define B_CH		8
#define B_FLOATS	(B_FRAMES * B_CH)
#define B_PERIOD_NS	(1000000000ull * B_FRAMES / B_RATE)
#define B_MAXREAD	100
#define B_ROUNDS	6		/* ring and bare alternate, to share the noise */

/* Latency histogram: 1 us steps to 1 ms, then 64 us steps to ~132 ms. */
#define H_FINE		1024
#define H_BUCKETS	(H_FINE + 2048)

/*
 * bare: futex wait + memcpy of one shared buffer, mapped read-write.
 * bare-ro: the same through a read-only mapping, as sessions map the ring:
 * it isolates what the kernel charges for a futex on a read-only page.
 */
enum impl { RING, BARE, BARE_RO, NIMPL };
static const char *impl_name[NIMPL] = { "ring", "bare", "b-ro" };

struct rstat {
	uint64_t	periods, lost, ontime, cpu_ns, max_ns;
	uint32_t	hist[H_BUCKETS];
};

/* Shared by the writer (this process) and every reader, created before fork. */
struct shared {
	atomic_int	stop;
	struct rstat	r[B_MAXREAD];
};

/* The bare baseline's whole protocol: a buffer, a sequence, a futex word. */
struct bell {
	_Atomic uint32_t futex;
	_Atomic uint64_t seq;
	_Atomic uint64_t ts;
	float		buf[B_FLOATS];
};

/* One N, one implementation, all rounds summed. */
struct result {
	uint64_t	periods, lost, ontime, max_ns;
	uint64_t	hist[H_BUCKETS];
	double		cpu[B_ROUNDS * B_MAXREAD];	/* per reader, us/period */
	int		ncpu;
	uint64_t	wr_n, wr_sum, wr_max, wr_cpu;
	uint64_t	wr_hist[H_BUCKETS];
};

static struct shared *sh;
static struct bell *bell;		/* read-write, the writer's */
static int bell_fd = -1;
static char ring_name[64];
static volatile sig_atomic_t quit;

static int
bucket(uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (us < H_FINE)
		return us;
	us = H_FINE + (us - H_FINE) / 64;
	return us < H_BUCKETS ? (int)us : H_BUCKETS - 1;
}

static uint64_t
bucket_us(int b)
{
	return b < H_FINE ? (uint64_t)b : H_FINE + (uint64_t)(b - H_FINE) * 64;
}

/* One period read: when the reader woke, and when it was done with it. */
static void
account(struct rstat *st, uint64_t ts, uint64_t woke, uint64_t done)
{
	uint64_t lat = woke > ts ? woke - ts : 0;

	st->periods++;
	st->hist[bucket(lat)]++;
	if (lat > st->max_ns)
		st->max_ns = lat;
	if (done - ts <= B_PERIOD_NS)
		st->ontime++;
}

static void
ring_reader(struct rstat *st, int ready)
{
	static float x[B_FLOATS];
	struct ring_period info;
	struct ring_reader *r;
	uint64_t lost, woke, c0;
	int rc;

	if (ring_reader_open(ring_name, &r) != RING_OK)
		_exit(2);
	c0 = tu_thread_cpu_ns();
	if (write(ready, "R", 1) != 1)
		_exit(3);
	for (;;) {
		if (ring_wait(r, -1) < 0)
			continue;
		woke = clock_mono_ns();
		/* The last wake only says stop: no reader counts it. */
		if (atomic_load_explicit(&sh->stop, memory_order_acquire))
			break;
		while ((rc = ring_read(r, x, &info, &lost)) != RING_READ_AGAIN)
			if (rc == RING_READ_OK)
				account(st, info.timestamp_ns, woke, clock_mono_ns());
			else
				st->lost += lost;
	}
	st->cpu_ns = tu_thread_cpu_ns() - c0;
	ring_reader_close(r);
}

/* The bell as a reader sees it: the writer's mapping, or a read-only one. */
static struct bell *
bell_view(int ro)
{
	void *p;

	if (!ro)
		return bell;
	p = mmap(NULL, sizeof(*bell), PROT_READ, MAP_SHARED, bell_fd, 0);
	if (p == MAP_FAILED)
		_exit(2);
	madvise(p, sizeof(*bell), MADV_POPULATE_READ);
	return p;
}

/* The baseline: wait for the word to move, copy the buffer, nothing else. */
static void
bare_reader(struct rstat *st, int ready, int ro)
{
	static float x[B_FLOATS];
	struct bell *b = bell_view(ro);
	uint64_t last = atomic_load(&b->seq), seq, woke;
	uint64_t c0 = tu_thread_cpu_ns();
	uint32_t f;

	if (write(ready, "R", 1) != 1)
		_exit(3);
	for (;;) {
		f = atomic_load_explicit(&b->futex, memory_order_acquire);
		if ((uint32_t)last == f) {
			syscall(SYS_futex, &b->futex, FUTEX_WAIT, f, NULL,
			    NULL, 0);
			continue;
		}
		woke = clock_mono_ns();
		if (atomic_load_explicit(&sh->stop, memory_order_acquire))
			break;
		seq = atomic_load_explicit(&b->seq, memory_order_acquire);
		memcpy(x, b->buf, sizeof(x));
		st->lost += seq - last - 1;
		last = seq;
		account(st, atomic_load(&b->ts), woke, clock_mono_ns());
	}
	st->cpu_ns = tu_thread_cpu_ns() - c0;
}

static void
bare_write(const float *x)
{
	uint64_t seq = atomic_load_explicit(&bell->seq,
	    memory_order_relaxed) + 1;

	memcpy(bell->buf, x, sizeof(bell->buf));
	atomic_store_explicit(&bell->ts, clock_mono_ns(), memory_order_relaxed);
	atomic_store_explicit(&bell->seq, seq, memory_order_release);
	atomic_store_explicit(&bell->futex, (uint32_t)seq,
	    memory_order_release);
	syscall(SYS_futex, &bell->futex, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Write one period with the implementation under test; returns its cost. */
static uint64_t
write_one(enum impl impl, struct ring_writer *w, const float *x,
    uint64_t *cpu)
{
	uint64_t t0 = clock_mono_ns(), c0 = tu_thread_cpu_ns();

	if (impl == RING)
		ring_writer_write(w, x, 0);
	else
		bare_write(x);
	*cpu += tu_thread_cpu_ns() - c0;
	return clock_mono_ns() - t0;
}

static void
writer(enum impl impl, struct ring_writer *w, double secs, struct result *res)
{
	static float x[B_FLOATS];
	uint64_t start = clock_mono_ns(), k, n = secs * B_RATE / B_FRAMES, c;
	size_t i;

	for (k = 0; k < n && !quit; k++) {
		tu_sleep_until(start + k * 1000000000ull * B_FRAMES / B_RATE);
		for (i = 0; i < B_FLOATS; i++)
			x[i] = (float)((k + i) % 1000) / 1000.0f;
		c = write_one(impl, w, x, &res->wr_cpu);
		res->wr_n++;
		res->wr_sum += c;
		res->wr_hist[bucket(c)]++;
		if (c > res->wr_max)
			res->wr_max = c;
	}
	/* Wake everyone one last time to see the stop flag. */
	atomic_store(&sh->stop, 1);
	write_one(impl, w, x, &c);
}

static pid_t
spawn_reader(enum impl impl, int i, int ready)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	/* No reader outlives the benchmark. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(1);
	if (impl == RING)
		ring_reader(&sh->r[i], ready);
	else
		bare_reader(&sh->r[i], ready, impl == BARE_RO);
	_exit(0);
}

/* Wait for n ready bytes; -1 if the readers did not all come up. */
static int
wait_ready(int fd, int n)
{
	char buf[B_MAXREAD];
	ssize_t got;

	while (n > 0) {
		got = read(fd, buf, n);
		if (got == 0 || (got == -1 && errno != EINTR))
			return -1;
		if (got > 0)
			n -= got;
	}
	return 0;
}

static void
merge(const struct rstat *st, struct result *res)
{
	int b;

	res->periods += st->periods;
	res->lost += st->lost;
	res->ontime += st->ontime;
	if (st->periods > 0 && res->ncpu < B_ROUNDS * B_MAXREAD)
		res->cpu[res->ncpu++] = st->cpu_ns / 1000.0 / st->periods;
	if (st->max_ns > res->max_ns)
		res->max_ns = st->max_ns;
	for (b = 0; b < H_BUCKETS; b++)
		res->hist[b] += st->hist[b];
}

static int
reap(pid_t *pids, int n, struct result *res)
{
	int i, st, bad = 0;

	for (i = 0; i < n; i++) {
		if (pids[i] <= 0)
			continue;
		if (waitpid(pids[i], &st, 0) != pids[i] || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			bad++;
		else
			merge(&sh->r[i], res);
	}
	return bad ? -1 : 0;
}

static int
open_writer(enum impl impl, struct ring_writer **w)
{
	struct ring_config cfg = { B_RATE, B_CH, B_FRAMES, 0 };

	*w = NULL;
	memset(sh, 0, sizeof(*sh));
	memset(bell, 0, sizeof(*bell));
	if (impl != RING)
		return 0;
	return ring_writer_open(ring_name, &cfg, 1, w) == RING_OK ? 0 : -1;
}

/* One round: n readers of impl for secs seconds, added into res. */
static int
run(enum impl impl, int n, double secs, struct result *res)
{
	pid_t pids[B_MAXREAD] = { 0 };
	struct ring_writer *w;
	int p[2], i, rc = -1;

	if (open_writer(impl, &w) == -1 || pipe2(p, O_CLOEXEC) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if ((pids[i] = spawn_reader(impl, i, p[1])) == -1)
			break;
	close(p[1]);
	if (i == n && wait_ready(p[0], n) == 0) {
		writer(impl, w, secs, res);
		rc = 0;
	}
	close(p[0]);
	if (rc == -1) {
		atomic_store(&sh->stop, 1);
		for (i = 0; i < n; i++)
			if (pids[i] > 0)
				kill(pids[i], SIGKILL);
	}
	if (reap(pids, n, res) == -1)
		rc = -1;
	ring_writer_close(w);
	return rc;
}

static uint64_t
pct(const uint64_t *hist, uint64_t total, double q)
{
	uint64_t want = (uint64_t)(q * total), seen = 0;
	int b;

	for (b = 0; b < H_BUCKETS; b++) {
		seen += hist[b];
		if (seen > want)
			return bucket_us(b);
	}
	return bucket_us(H_BUCKETS - 1);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The median reader's CPU per period: on a shared machine a few readers
 * catch interrupts or another job's cache misses, and a mean follows them.
 */
static double
cpu_per_period(struct result *r)
{
	if (r->ncpu == 0)
		return 0;
	qsort(r->cpu, r->ncpu, sizeof(r->cpu[0]), cmp_double);
	return r->cpu[r->ncpu / 2];
}

static void
row(int n, const char *name, struct result *r, const char *r1,
    const char *r2)
{
	double wn = r->wr_n ? r->wr_n : 1;

	printf("%4d  %-4s %6llu %6llu %7llu   %6.2f   %7.1f %6llu %6llu "
	    "%7.1f  %6.2f%% %6llu  %5s %5s\n", n, name,
	    (unsigned long long)pct(r->hist, r->periods, 0.50),
	    (unsigned long long)pct(r->hist, r->periods, 0.99),
	    (unsigned long long)r->max_ns / 1000, cpu_per_period(r),
	    r->wr_sum / wn / 1000.0,
	    (unsigned long long)pct(r->wr_hist, r->wr_n, 0.99),
	    (unsigned long long)r->wr_max / 1000, r->wr_cpu / wn / 1000.0,
	    r->periods ? 100.0 * r->ontime / r->periods : 0,
	    (unsigned long long)r->lost, r1, r2);
}

static void
header(double secs)
{
	printf("bench_ring: %d frames x %d channels at %d Hz (period %.3f ms), "
	    "%d x %.1f s per implementation and N, rounds alternating\n",
	    B_FRAMES, B_CH, B_RATE, B_PERIOD_NS / 1e6, B_ROUNDS,
	    secs / B_ROUNDS);
	printf("ring = ring_wait + ring_read; bare = futex wait + memcpy of "
	    "one shared buffer (no slots, no seqlock, no meters);\n"
	    "b-ro = bare through a read-only mapping, as sessions map the "
	    "ring\n");
	printf("wake: publish timestamp to the reader's return from its wait; "
	    "cpu/per: the median reader's CPU time per period;\n"
	    "write: one write incl. the futex wake, wall time (mean p99 max) "
	    "and the writer's CPU time (cpu); all in us\n"
	    "on-time: periods read within one period of publish; lost: "
	    "periods overwritten before a reader got to them\n\n");
	printf("                                                                 "
	    "                   ring cpu / cpu of\n");
	printf("   N  impl   wake p50    p99     max  cpu/per  write mean    "
	    "p99    max     cpu  on-time   lost   bare  b-ro\n");
}

static void
ratio(char *buf, size_t len, double a, double b)
{
	snprintf(buf, len, "%.2fx", b > 0 ? a / b : 0);
}

static int
bench_n(int n, double secs)
{
	static struct result res[NIMPL];
	double cpu[NIMPL];
	char r1[16], r2[16];
	int k, i;

	memset(res, 0, sizeof(res));
	for (k = 0; k < B_ROUNDS && !quit; k++)
		for (i = 0; i < NIMPL; i++)
			if (run(i, n, secs / B_ROUNDS, &res[i]) == -1) {
				fprintf(stderr, "bench_ring: N=%d %s: a run "
				    "failed\n", n, impl_name[i]);
				return -1;
			}
	for (i = 0; i < NIMPL; i++)
		cpu[i] = cpu_per_period(&res[i]);
	ratio(r1, sizeof(r1), cpu[RING], cpu[BARE]);
	ratio(r2, sizeof(r2), cpu[RING], cpu[BARE_RO]);
	row(n, impl_name[RING], &res[RING], r1, r2);
	row(n, impl_name[BARE], &res[BARE], "", "");
	row(n, impl_name[BARE_RO], &res[BARE_RO], "", "");
	fflush(stdout);
	return 0;
}

/* Statistics (anonymous, inherited) and the baseline's bell (a memfd). */
static int
map_shared(void)
{
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return -1;
	if ((bell_fd = memfd_create("bench-bell", 0)) == -1 ||
	    ftruncate(bell_fd, sizeof(*bell)) == -1)
		return -1;
	bell = mmap(NULL, sizeof(*bell), PROT_READ | PROT_WRITE, MAP_SHARED,
	    bell_fd, 0);
	return bell == MAP_FAILED ? -1 : 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

int
main(int argc, char *argv[])
{
	static const int ns[] = { 1, 10, 50, 100 };
	struct sigaction sa = { .sa_handler = on_signal };
	const char *q = getenv("BENCH_QUICK");
	double secs = q != NULL && *q == '1' ? 1.0 : 3.0;
	size_t i;
	int rc = 0;

	if (argc > 1)
		secs = atof(argv[1]);
	if (secs <= 0) {
		fprintf(stderr, "usage: bench_ring [seconds per N and impl]\n");
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(ring_name, sizeof(ring_name), "/rc-bench-%d", (int)getpid());
	if (map_shared() == -1) {
		perror("bench_ring");
		return 1;
	}
	header(secs);
	for (i = 0; i < sizeof(ns) / sizeof(ns[0]) && !quit && rc == 0; i++)
		rc = bench_n(ns[i], secs);
	ring_unlink(ring_name);
	return rc == 0 && !quit ? 0 : 1;
}
