/* benchutil.h — benchmark helpers: /proc figures, percentiles, tables, the watchdog; the daemon and clients are tests/lib's. */
#ifndef RINGCAST_BENCHUTIL_H
#define RINGCAST_BENCHUTIL_H

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/proc.h"
#include "tests/lib/daemon.h"
#include "tests/lib/http.h"
#include "tests/lib/steady.h"
#include "tests/lib/tu.h"
#include "tests/lib/v2.h"

/* A benchmark's start: no SIGPIPE, stdout line by line (tables as they come). */
static inline void
bu_begin(void)
{
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* BENCH_QUICK=1 in the environment: one short run instead of three. */
static inline int
bu_quick(void)
{
	const char *q = getenv("BENCH_QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/* ---- /proc figures ---- */

/* Unique set size (Private_Clean + Private_Dirty) in KiB, or -1. */
static inline long
bu_uss_kib(pid_t pid)
{
	char path[64], line[256];
	long kb, sum = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "Private_Clean: %ld kB", &kb) == 1 ||
		    sscanf(line, "Private_Dirty: %ld kB", &kb) == 1)
			sum = (sum < 0 ? 0 : sum) + kb;
	}
	fclose(f);
	return sum;
}

/* utime + stime of pid in microseconds, or -1. */
static inline long long
bu_cpu_us(pid_t pid)
{
	unsigned long long t[2];

	if (proc_stat_fields(pid, 14, t, 2) == -1)
		return -1;
	return (long long)((t[0] + t[1]) * 1000000ull /
	    (unsigned long long)sysconf(_SC_CLK_TCK));
}

/* The name (comm) of pid into buf; 0 or -1. */
static inline int
bu_comm(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/*
 * The children of ppid (from /proc/PID/task/PID/children) into pids[max];
 * the number found.
 */
static inline int
bu_children(pid_t ppid, pid_t *pids, int max)
{
	char path[96];
	FILE *f;
	int n = 0, p;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)ppid,
	    (int)ppid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (n < max && fscanf(f, "%d", &p) == 1)
		pids[n++] = p;
	fclose(f);
	return n;
}

/* ---- statistics ---- */

static inline int
bu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (0..100, nearest rank) of v[n]; sorts v.  0 if n = 0. */
static inline double
bu_percentile(double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bu_cmp_double);
	i = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (i > 0)
		i--;
	return v[i < n ? i : n - 1];
}

static inline double
bu_median(double *v, size_t n)
{
	return bu_percentile(v, n, 50);
}

/* ---- tables ---- */

/* One table row or header: cells right-aligned in width columns. */
static inline void
bu_row(const int *width, int ncol, ...)
{
	va_list ap;

	va_start(ap, ncol);
	for (int i = 0; i < ncol; i++)
		printf("%*s%s", width[i], va_arg(ap, const char *),
		    i + 1 < ncol ? " " : "\n");
	va_end(ap);
}

/* A rule under a header as wide as the columns. */
static inline void
bu_rule(const int *width, int ncol)
{
	int w = 0;

	for (int i = 0; i < ncol; i++)
		w += width[i] + (i + 1 < ncol);
	for (int i = 0; i < w; i++)
		putchar('-');
	putchar('\n');
}

/* A line of the "targets" block: target, measured, met or missed. */
static inline void
bu_target(const char *target, const char *measured, int met)
{
	printf("  %-44s %-24s %s\n", target, measured, met ? "met" : "missed");
}

/* ---- one daemon at a time, under a watchdog ---- */

/* The daemon running now, for the watchdog. */
static struct rcd bu_daemon __attribute__((unused));

/* Past the budget: end the daemon's process group and fail. */
static inline void
bu_on_alarm(int sig)
{
	(void)sig;
	if (bu_daemon.pid > 0)
		kill(-bu_daemon.pid, SIGKILL);
	_exit(2);
}

static inline void
bu_watchdog(unsigned seconds)
{
	signal(SIGALRM, bu_on_alarm);
	alarm(seconds);
}

/* run(0) .. run(n - 1), then report(n): the benchmark's exit status. */
static inline int
bu_runs(int n, int (*run)(int), void (*report)(int))
{
	for (int r = 0; r < n; r++)
		if (run(r) == -1)
			return 1;
	report(n);
	return 0;
}

/* The end of a run: a failure shows the daemon's log; bu_daemon cleaned up. */
static inline int
bu_daemon_down(int rc)
{
	if (rc == -1) {
		fprintf(stderr, "%s: a part failed\n",
		    program_invocation_short_name);
		rcd_dump_log(&bu_daemon, 2048);
	}
	rcd_cleanup(&bu_daemon);
	return rc;
}

/* Start bu_daemon (temp dir, tag) with these arguments; 0 or -1. */
static inline int
bu_daemon_up(const char *tag, const char *const *extra)
{
	if (rcd_init(&bu_daemon, tag) == -1 ||
	    rcd_start(&bu_daemon, extra, 30000) == -1) {
		fprintf(stderr, "%s: ringcastd would not start\n",
		    program_invocation_short_name);
		return bu_daemon_down(-1);
	}
	return 0;
}

/*
 * n steady listeners "<prefix>-0".. on channels 0..nch-1 of bu_daemon, read
 * by s, until each got packets; 0 or -1 (s stopped again).
 */
static inline int
bu_steady_up(struct steady *s, const char *prefix, int n, int nch,
    uint64_t packets)
{
	json_t *mix = v2_channels(nch);
	char id[96];
	int rc = steady_start(s);

	for (int i = 0; i < n && rc == 0; i++) {
		snprintf(id, sizeof(id), "%s-%d", prefix, i);
		if (steady_join(s, bu_daemon.native_port, id, mix, 10000) == -1)
			rc = -1;
	}
	json_decref(mix);
	if (rc == 0 && !steady_wait(s, packets, 10000))
		rc = -1;
	if (rc == -1) {
		fprintf(stderr, "%s: steady listeners do not stream\n",
		    program_invocation_short_name);
		steady_stop(s);
	}
	return rc;
}

/* The median over n runs (an array) of the double field f of type. */
#define BU_MED(runs, n, type, f)	bu_median_field((runs), sizeof((runs)[0]), \
					    (n), offsetof(type, f))
/* The columns of a table of widths w. */
#define BU_NCOL(w)	((int)(sizeof(w) / sizeof((w)[0])))

/* The median over n runs of the double at offset off in each (stride apart). */
static inline double
bu_median_field(const void *runs, size_t stride, int n, size_t off)
{
	double v[64];
	int i;

	for (i = 0; i < n && i < 64; i++)
		v[i] = *(const double *)(const void *)((const char *)runs +
		    (size_t)i * stride + off);
	return bu_median(v, (size_t)i);
}

#endif
