/* benchutil.h — benchmark helpers: the daemon, process groups, /proc figures, percentiles, tables. */
#ifndef RINGCAST_BENCHUTIL_H
#define RINGCAST_BENCHUTIL_H

#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BUILD_DIR
#define BUILD_DIR "build"
#endif

static inline uint64_t
bu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t
bu_now_ms(void)
{
	return bu_now_ns() / 1000000ull;
}

/* BENCH_QUICK=1 in the environment: one short run instead of three. */
static inline int
bu_quick(void)
{
	const char *q = getenv("BENCH_QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/* A program of the build directory. */
static inline const char *
bu_prog(const char *name)
{
	static char path[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", BUILD_DIR, name);
	return path[i];
}

/* ---- the daemon ---- */

struct bu_daemon {
	pid_t	pid;
	int	native_port;
	int	http_port;
	char	dir[128];	/* temp dir: state/, ringcastd.log */
	char	ring[64];	/* /rc-bench-PID-TAG */
	char	log[192];
	uint64_t ready_ms;	/* exec to "ready" */
};

static inline int
bu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* Remove the temp dir and the ring object; safe to call twice. */
static inline void
bu_daemon_clean(struct bu_daemon *d)
{
	char shm[128];

	if (d->dir[0] != '\0')
		nftw(d->dir, bu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	d->dir[0] = '\0';
	if (d->ring[0] != '\0') {
		snprintf(shm, sizeof(shm), "/dev/shm%s", d->ring);
		unlink(shm);
	}
	d->ring[0] = '\0';
}

/* The port of the line "KEY HOST:PORT" in text, or -1. */
static inline int
bu_notify_port(const char *text, const char *key)
{
	const char *p = text, *eol, *colon;
	size_t kl = strlen(key);

	while (p != NULL && *p != '\0') {
		eol = strchr(p, '\n');
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			colon = NULL;
			for (const char *q = p; q < (eol ? eol : p + strlen(p));
			    q++)
				if (*q == ':')
					colon = q;
			return colon != NULL ? atoi(colon + 1) : -1;
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	return -1;
}

/* Read the notify pipe until "ready"; 0 or -1. */
static inline int
bu_read_notify(struct bu_daemon *d, int fd, int timeout_ms)
{
	char buf[1024];
	size_t have = 0;
	uint64_t end = bu_now_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	while (strstr(buf, "ready\n") == NULL) {
		if (bu_now_ms() >= end || have >= sizeof(buf) - 1 ||
		    poll(&pfd, 1, (int)(end - bu_now_ms())) <= 0)
			return -1;
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
	}
	d->native_port = bu_notify_port(buf, "native");
	d->http_port = bu_notify_port(buf, "http");
	return d->native_port > 0 && d->http_port > 0 ? 0 : -1;
}

/*
 * Start ringcastd in its own process group (its children die with it) on
 * kernel-chosen loopback ports, state and log in a new temp dir, ring
 * /rc-bench-PID-TAG, extra arguments appended; wait until it is ready.
 */
static inline int
bu_daemon_start(struct bu_daemon *d, const char *tag,
    const char *const *extra, int timeout_ms)
{
	char state[192];
	const char *argv[48];
	int n = 0, p[2], lfd;
	uint64_t t0;

	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/rc-bench-%d-%s-XXXXXX",
	    (int)getpid(), tag);
	snprintf(d->ring, sizeof(d->ring), "/rc-bench-%d-%s", (int)getpid(),
	    tag);
	if (mkdtemp(d->dir) == NULL)
		return -1;
	snprintf(d->log, sizeof(d->log), "%s/ringcastd.log", d->dir);
	snprintf(state, sizeof(state), "%s/state", d->dir);
	argv[n++] = bu_prog("ringcastd");
	argv[n++] = "--native";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--http";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n++] = "--ring";
	argv[n++] = d->ring;
	argv[n++] = "--notify-fd";
	argv[n++] = "3";
	while (extra != NULL && *extra != NULL && n < 46)
		argv[n++] = *extra++;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((lfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	t0 = bu_now_ns();
	if ((d->pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		close(lfd);
		return -1;
	}
	if (d->pid == 0) {
		int dn = open("/dev/null", O_RDONLY);

		setpgid(0, 0);
		dup2(dn, 0);
		dup2(lfd, 1);
		dup2(lfd, 2);
		dup2(p[1], 3);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	setpgid(d->pid, d->pid);	/* both sides: no race with the kill */
	close(p[1]);
	close(lfd);
	if (bu_read_notify(d, p[0], timeout_ms) == -1) {
		close(p[0]);
		return -1;
	}
	d->ready_ms = (bu_now_ns() - t0) / 1000000ull;
	close(p[0]);
	return 0;
}

/* Wait for pid to exit within timeout_ms; its status or -1. */
static inline int
bu_wait_pid(pid_t pid, int timeout_ms)
{
	uint64_t end = bu_now_ms() + (uint64_t)timeout_ms;
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r == -1 && errno != EINTR)
			return -1;
		if (bu_now_ms() >= end)
			return -1;
		/* No child-exit fd to wait on without a signal handler. */
		usleep(2000);
	}
}

/*
 * End a process group: SIGTERM, then SIGKILL after grace_ms; reap its leader.
 * The group is killed with SIGKILL in any case, so nothing outlives it.
 */
static inline void
bu_kill_group(pid_t pgid, int grace_ms)
{
	if (pgid <= 0)
		return;
	kill(-pgid, SIGTERM);
	if (bu_wait_pid(pgid, grace_ms) == -1) {
		kill(-pgid, SIGKILL);
		bu_wait_pid(pgid, 10000);
	}
	kill(-pgid, SIGKILL);
}

static inline void
bu_daemon_stop(struct bu_daemon *d)
{
	bu_kill_group(d->pid, 5000);
	d->pid = 0;
	bu_daemon_clean(d);
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
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields start after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu "
	    "%llu", &ut, &st) != 2)
		return -1;
	return (long long)((ut + st) * 1000000ull /
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

#endif
