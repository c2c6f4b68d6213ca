/* testutil.h — helpers shared by the Criterion tests: processes, deadlines. */
#ifndef RINGCAST_TESTUTIL_H
#define RINGCAST_TESTUTIL_H

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef BUILD_DIR
#define BUILD_DIR "build"
/*
 * Wait until *count has grown by n (a reader thread increments it and
 * broadcasts cv under mu), *failed is set, or timeout_ms passes: 1 or 0.
 */
static inline int
tu_wait_count(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_ullong *count,
    atomic_int *failed, uint64_t n, int timeout_ms)
{
	uint64_t want = atomic_load(count) + n;
	uint64_t end = tu_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts = { end / 1000000000ull, end % 1000000000ull };
	int ok;

	pthread_mutex_lock(mu);
	while (atomic_load(count) < want && !atomic_load(failed) &&
	    pthread_cond_timedwait(cv, mu, &ts) == 0)
		;
	ok = atomic_load(count) >= want;
	pthread_mutex_unlock(mu);
	return ok;
}

#endif

static inline uint64_t
tu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t
tu_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* A name unique to this test process, e.g. for a ring: "/rc-test-<pid>-<tag>". */
static inline const char *
tu_name(const char *tag)
{
	static char buf[8][64];
	static int i;
	char *b = buf[i++ & 7];

	snprintf(b, 64, "/rc-test-%d-%s", (int)getpid(), tag);
	return b;
}

/* Path of a built program: BUILD_DIR "/" name. */
static inline const char *
tu_prog(const char *name)
{
	static char buf[4][512];
	static int i;
	char *b = buf[i++ & 3];

	snprintf(b, 512, "%s/%s", BUILD_DIR, name);
	return b;
}

/*
 * Start argv[0] with a pipe on notify_fd (if >= 0): the child sees the write
 * end as that descriptor number, the parent gets the read end in *rfd.
 * stdin is /dev/null; stdout and stderr are inherited.
 */
static inline pid_t
tu_spawn(char *const argv[], int notify_fd, int *rfd)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (notify_fd >= 0 && pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		int dn = open("/dev/null", O_RDONLY);

		if (dn >= 0)
			dup2(dn, 0);
		if (notify_fd >= 0)
			dup2(p[1], notify_fd);	/* dup2 clears CLOEXEC */
		execv(argv[0], argv);
		_exit(127);
	}
	if (notify_fd >= 0) {
		close(p[1]);
		*rfd = p[0];
	}
	return pid;
}

/* Read from fd until the text contains `want` or timeout_ms passes: 1 / 0. */
static inline int
tu_wait_text(int fd, const char *want, int timeout_ms)
{
	char buf[4096];
	size_t have = 0;
	uint64_t end = tu_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (tu_now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - tu_now_ms())) <= 0)
			continue;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return 0;
		have += n;
		buf[have] = '\0';
		if (strstr(buf, want) != NULL)
			return 1;
		if (have == sizeof(buf) - 1)
			have = 0;
	}
	return 0;
}

/* Wait for pid to exit within timeout_ms; returns its wait status or -1. */
static inline int
tu_wait_exit(pid_t pid, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r == -1 && errno != EINTR)
			return -1;
		if (tu_now_ms() >= end)
			return -1;
		/* Polling a child's exit has no readiness descriptor to wait on. */
		struct timespec ts = { 0, 2 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* SIGTERM, then SIGKILL after grace_ms; always reaps. */
static inline int
tu_stop(pid_t pid, int grace_ms)
{
	int st;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if ((st = tu_wait_exit(pid, grace_ms)) != -1)
		return st;
	kill(pid, SIGKILL);
	return tu_wait_exit(pid, 5000);
}

/*
 * Wait until *count has grown by n (a reader thread increments it and
 * broadcasts cv under mu), *failed is set, or timeout_ms passes: 1 or 0.
 */
static inline int
tu_wait_count(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_ullong *count,
    atomic_int *failed, uint64_t n, int timeout_ms)
{
	uint64_t want = atomic_load(count) + n;
	uint64_t end = tu_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts = { end / 1000000000ull, end % 1000000000ull };
	int ok;

	pthread_mutex_lock(mu);
	while (atomic_load(count) < want && !atomic_load(failed) &&
	    pthread_cond_timedwait(cv, mu, &ts) == 0)
		;
	ok = atomic_load(count) >= want;
	pthread_mutex_unlock(mu);
	return ok;
}

#endif
