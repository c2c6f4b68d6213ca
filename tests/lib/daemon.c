/* daemon.c — test library: ringcastd started on kernel-chosen ports in a temp dir, stopped, cleaned up. */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/inotify.h>
#include <sys/mman.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/daemon.h"
#include "tests/lib/tu.h"

int
rcd_install(const char *from, const char *dir)
{
	static const char *const progs[] = { "ringcastd", "ringcast-capture",
	    "ringcast-broker", "ringcast-sessiond" };
	char src[PATH_MAX], dst[PATH_MAX + 8], tmp[PATH_MAX + 16], out[256];

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", from, progs[i]);
		snprintf(dst, sizeof(dst), "%s/%s", dir, progs[i]);
		snprintf(tmp, sizeof(tmp), "%s.new", dst);
		if (tu_run((const char *const[]){ "cp", src, tmp, NULL }, out,
		    sizeof(out), 30000) != 0 || rename(tmp, dst) == -1)
			return -1;
	}
	return 0;
}

int
rcd_init(struct rcd *d, const char *tag)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/rc-test-%d-%s-XXXXXX",
	    (int)getpid(), tag);
	snprintf(d->ring, sizeof(d->ring), "%s", tu_name(tag));
	if (mkdtemp(d->dir) == NULL) {
		d->dir[0] = '\0';
		return -1;
	}
	snprintf(d->log, sizeof(d->log), "%s/ringcastd.log", d->dir);
	return 0;
}

/* The port of the line "KEY HOST:PORT" in text, or -1. */
static int
rcd_notify_port(const char *text, const char *key)
{
	const char *p = text, *eol, *colon;
	size_t kl = strlen(key);

	while (p != NULL && *p != '\0') {
		eol = strchr(p, '\n');
		if (strncmp(p, key, kl) == 0 && p[kl] == ' ') {
			colon = memrchr(p, ':', (size_t)((eol ? eol :
			    p + strlen(p)) - p));
			return colon != NULL ? atoi(colon + 1) : -1;
		}
		p = eol != NULL ? eol + 1 : NULL;
	}
	return -1;
}

/* Read "native HOST:PORT\nhttp HOST:PORT\nready\n" from the pipe; 0 or -1. */
static int
rcd_read_notify(struct rcd *d, int fd, int timeout_ms)
{
	char buf[1024];
	size_t have = 0;
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	buf[0] = '\0';
	while (strstr(buf, "ready\n") == NULL) {
		if ((now = clock_mono_ms()) >= end ||
		    have >= sizeof(buf) - 1 ||
		    poll(&pfd, 1, (int)(end - now)) <= 0)
			return -1;
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += (size_t)n;
		buf[have] = '\0';
	}
	d->native_port = rcd_notify_port(buf, "native");
	d->http_port = rcd_notify_port(buf, "http");
	if (d->native_port > 0 && d->http_port > 0)
		return 0;
	fprintf(stderr, "ringcastd said: %s", buf);
	return -1;
}

static void
rcd_exec(const char *const *argv, int lfd, int notify)
{
	int dn = open("/dev/null", O_RDONLY);

	setpgid(0, 0);
	dup2(dn, 0);
	dup2(lfd, 1);
	dup2(lfd, 2);
	dup2(notify, 3);
	execv(argv[0], (char *const *)(uintptr_t)argv);
	_exit(127);
}

int
rcd_start(struct rcd *d, const char *const *extra, int timeout_ms)
{
	char state[192];
	const char *argv[48] = { d->prog[0] ? d->prog : tu_prog("ringcastd"),
	    "--native",
	    "127.0.0.1:0", "--http", "127.0.0.1:0", "--state", state,
	    "--ring", d->ring, "--notify-fd", "3" };
	int n = 11, p[2], lfd, rc;
	uint64_t t0;

	snprintf(state, sizeof(state), "%s/state", d->dir);
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
	t0 = clock_mono_ns();
	if ((d->pid = fork()) == 0)
		rcd_exec(argv, lfd, p[1]);
	close(p[1]);
	close(lfd);
	if (d->pid == -1) {
		d->pid = 0;
		close(p[0]);
		return -1;
	}
	setpgid(d->pid, d->pid);	/* both sides: no race with a kill */
	if (d->npgid < RCD_PGIDS)
		d->pgid[d->npgid++] = d->pid;
	rc = rcd_read_notify(d, p[0], timeout_ms);
	close(p[0]);
	d->ready_ms = (clock_mono_ns() - t0) / 1000000ull;
	return rc;
}

int
rcd_stop(struct rcd *d, int timeout_ms)
{
	int st;

	if (d->pid <= 0)
		return -1;
	st = tu_stop(d->pid, timeout_ms);
	d->pid = 0;
	return st;
}

void
rcd_kill(struct rcd *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	tu_wait_exit(d->pid, 10000);
	d->pid = 0;
}

void
rcd_cleanup(struct rcd *d)
{
	char lock[80];

	if (d->pid > 0 && rcd_stop(d, 10000) == -1)
		rcd_kill(d);
	for (int i = 0; i < d->npgid; i++)
		kill(-d->pgid[i], SIGKILL);
	d->npgid = 0;
	if (d->ring[0] != '\0') {
		shm_unlink(d->ring);
		snprintf(lock, sizeof(lock), "%s.lock", d->ring);
		shm_unlink(lock);
	}
	d->ring[0] = '\0';
	tu_rmtree(d->dir);
	d->dir[0] = '\0';
}

void
rcd_dump_log(const struct rcd *d, size_t tail)
{
	char buf[8192];
	ssize_t n;
	off_t size;
	int fd;

	if ((fd = open(d->log, O_RDONLY | O_CLOEXEC)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)tail ? size - (off_t)tail : 0, SEEK_SET);
	fprintf(stderr, "---- %s (last %zu bytes)\n", d->log, tail);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(2, buf, (size_t)n);
	close(fd);
}

bool
rcd_log_has(const struct rcd *d, const char *text)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	if ((fd = open(d->log, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

int
rcd_log_wait(const struct rcd *d, const char *text, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	char ev[4096];
	int in, ok;

	if ((in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK)) == -1)
		return 0;
	if (inotify_add_watch(in, d->log, IN_MODIFY) == -1) {
		close(in);
		return 0;
	}
	/* Watching before the first look: no write falls between the two. */
	while (!(ok = rcd_log_has(d, text)) && (now = clock_mono_ms()) < end) {
		struct pollfd pfd = { .fd = in, .events = POLLIN };

		if (poll(&pfd, 1, (int)(end - now)) == 1)
			while (read(in, ev, sizeof(ev)) > 0)
				;
	}
	close(in);
	return ok;
}
