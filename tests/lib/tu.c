/* tu.c — test library: names, built programs, child processes, waits. */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/tu.h"

const char *
tu_name(const char *tag)
{
	static char buf[8][64];
	static int i;
	char *b = buf[i++ & 7];

	snprintf(b, 64, "/rc-test-%d-%s", (int)getpid(), tag);
	return b;
}

/* The build directory: this program lives in <build>/tests or <build>/bench. */
const char *
tu_build_dir(void)
{
	static char dir[PATH_MAX];
	char *slash;
	ssize_t n;

	if (dir[0] != '\0')
		return dir;
	if ((n = readlink("/proc/self/exe", dir, sizeof(dir) - 1)) <= 0) {
		snprintf(dir, sizeof(dir), "build");
		return dir;
	}
	dir[n] = '\0';
	for (int up = 0; up < 2; up++)
		if ((slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';
	return dir;
}

const char *
tu_prog(const char *name)
{
	static char buf[4][PATH_MAX + 64];
	static int i;
	char *b = buf[i++ & 3];

	snprintf(b, PATH_MAX + 64, "%s/%s", tu_build_dir(), name);
	return b;
}

pid_t
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
		execvp(argv[0], argv);
		_exit(127);
	}
	if (notify_fd >= 0) {
		close(p[1]);
		*rfd = p[0];
	}
	return pid;
}

pid_t
tu_run_start(const char *const argv[], int *outfd)
{
	int p[2];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int dn = open("/dev/null", O_RDONLY);

		if (dn >= 0)
			dup2(dn, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	*outfd = p[0];
	return pid;
}

size_t
tu_read_all(int fd, void *buf, size_t cap, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;

	while (have < cap) {
		uint64_t now = clock_mono_ms();

		if (now >= end || poll(&pfd, 1, (int)(end - now)) != 1)
			break;
		if ((n = read(fd, (char *)buf + have, cap - have)) < 0 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	return have;
}

int
tu_run_finish(pid_t pid, int fd, char *out, size_t len, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	size_t have = tu_read_all(fd, out, len - 1, timeout_ms);
	uint64_t now = clock_mono_ms();
	int st;

	out[have] = '\0';
	close(fd);
	st = tu_wait_exit(pid, now < end ? (int)(end - now) : 1);
	if (st == -1) {
		tu_stop(pid, 100);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int
tu_run(const char *const argv[], char *out, size_t len, int timeout_ms)
{
	int fd;
	pid_t pid;

	if ((pid = tu_run_start(argv, &fd)) == -1)
		return -1;
	return tu_run_finish(pid, fd, out, len, timeout_ms);
}

int
tu_wait_text(int fd, const char *want, int timeout_ms)
{
	char buf[4096];
	size_t have = 0;
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while ((now = clock_mono_ms()) < end) {
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = read(fd, buf + have, sizeof(buf) - 1 - have);
		if (n <= 0)
			return 0;
		have += (size_t)n;
		buf[have] = '\0';
		if (strstr(buf, want) != NULL)
			return 1;
		if (have == sizeof(buf) - 1) {
			/* Keep a tail as long as want, in case it straddles. */
			size_t keep = strlen(want) < have ? strlen(want) : have;

			memmove(buf, buf + have - keep, keep);
			have = keep;
		}
	}
	return 0;
}

int
tu_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int
tu_pidfd_wait(int pidfd, int timeout_ms)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int rc;

	while ((rc = poll(&p, 1, timeout_ms)) == -1 && errno == EINTR)
		;
	return rc == 1;
}

int
tu_wait_exit(pid_t pid, int timeout_ms)
{
	pid_t r;
	int st, pfd;

	if ((r = waitpid(pid, &st, WNOHANG)) == pid)
		return st;
	if (r == -1)
		return -1;
	/* The pidfd becomes readable when the child exits: its readiness. */
	if ((pfd = tu_pidfd_open(pid)) == -1)
		return -1;
	if (!tu_pidfd_wait(pfd, timeout_ms)) {
		close(pfd);
		return -1;
	}
	close(pfd);
	while ((r = waitpid(pid, &st, 0)) == -1 && errno == EINTR)
		;
	return r == pid ? st : -1;
}

int
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

void
tu_run_end(pid_t *pid, int *outfd)
{
	if (*pid > 0)
		tu_stop(*pid, 3000);
	if (*outfd >= 0)
		close(*outfd);
	*pid = -1;
	*outfd = -1;
}

void
tu_kill_group(pid_t pgid, int grace_ms)
{
	if (pgid <= 0)
		return;
	kill(-pgid, SIGTERM);
	if (tu_wait_exit(pgid, grace_ms) == -1) {
		kill(-pgid, SIGKILL);
		tu_wait_exit(pgid, 10000);
	}
	kill(-pgid, SIGKILL);
}

void
tu_cond_init(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

struct timespec
tu_deadline(int timeout_ms)
{
	uint64_t end = clock_mono_ns() + (uint64_t)timeout_ms * 1000000ull;

	return (struct timespec){ (time_t)(end / 1000000000ull),
	    (long)(end % 1000000000ull) };
}

int
tu_wait_count(pthread_mutex_t *mu, pthread_cond_t *cv, atomic_ullong *count,
    atomic_int *failed, uint64_t n, int timeout_ms)
{
	uint64_t want = atomic_load(count) + n;
	struct timespec ts = tu_deadline(timeout_ms);
	int ok;

	pthread_mutex_lock(mu);
	while (atomic_load(count) < want && !atomic_load(failed) &&
	    pthread_cond_timedwait(cv, mu, &ts) == 0)
		;
	ok = atomic_load(count) >= want;
	pthread_mutex_unlock(mu);
	return ok;
}

void
tu_sleep_until(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000ull),
	    (long)(ns % 1000000000ull) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

uint64_t
tu_thread_cpu_ns(void)
{
	struct timespec ts;

	return clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 ?
	    (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec : 0;
}

int
tu_tcp_listen(int backlog, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    (backlog > 0 && listen(fd, backlog) == -1) ||
	    getsockname(fd, (struct sockaddr *)&a, &al) == -1) {
		close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int
tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

void
tu_rmtree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
tu_proc_line(pid_t pid, const char *file, const char *key, char *val,
    size_t len)
{
	char path[96], line[512], *v;
	size_t n = strlen(key);
	int rc = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (rc == -1 && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':') {
			v = line + n + 1 + strspn(line + n + 1, " \t");
			v[strcspn(v, "\n")] = '\0';
			while (*v != '\0' && strchr(" \t", v[strlen(v) - 1]))
				v[strlen(v) - 1] = '\0';
			snprintf(val, len, "%s", v);
			rc = 0;
		}
	fclose(f);
	return rc;
}

long
tu_proc_field(pid_t pid, const char *file, const char *key)
{
	char v[256];

	return tu_proc_line(pid, file, key, v, sizeof(v)) == 0 ?
	    strtol(v, NULL, 10) : -1;
}
