/* jack.c — test library: a private JACK server on the dummy driver, and its tools. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/jack.h"
#include "tests/lib/tu.h"

#define JACK_STOP_MS	5000

/* A command's output into a file (or nowhere): sh execs it, same pid. */
static pid_t
spawn_logged(const char *cmd, const char *log)
{
	char line[1024];
	char *argv[] = { "sh", "-c", line, NULL };

	snprintf(line, sizeof(line), "exec %s >%s 2>&1", cmd, log);
	return tu_spawn(argv, -1, NULL);
}

int
jack_start(struct jack *j, int channels, int timeout_ms, char *err,
    size_t errlen)
{
	char cmd[512], out[4096], secs[16];
	const char *wait[] = { "jack_wait", "-w", "-s", j->server, "-t", secs,
	    NULL };
	int st, fd;

	memset(j, 0, sizeof(*j));
	snprintf(j->server, sizeof(j->server), "rc-test-%d-jack", (int)getpid());
	snprintf(j->metro, sizeof(j->metro), "rc-test-%d-metro", (int)getpid());
	snprintf(j->log, sizeof(j->log), "/tmp/rc-test-%d-jackd.log",
	    (int)getpid());
	setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
	setenv("JACK_NO_START_SERVER", "1", 1);
	setenv("JACK_DEFAULT_SERVER", j->server, 1);
	snprintf(cmd, sizeof(cmd), "jackd -n %s --no-realtime -d dummy -C %d "
	    "-P %d -r 48000 -p 64", j->server, channels, channels);
	if ((j->jackd = spawn_logged(cmd, j->log)) <= 0) {
		snprintf(err, errlen, "cannot start jackd");
		return -1;
	}
	snprintf(secs, sizeof(secs), "%d", (timeout_ms + 999) / 1000);
	st = tu_run(wait, out, sizeof(out), timeout_ms + 5000);
	if (st == 0)
		return 0;
	out[0] = '\0';
	if ((fd = open(j->log, O_RDONLY | O_CLOEXEC)) >= 0) {
		(void)tu_read_all(fd, out, sizeof(out) - 1, 1000);
		close(fd);
	}
	snprintf(err, errlen, "jackd did not come up (jack_wait %d): %.3000s",
	    st, out);
	return -1;
}

void
jack_env_none(void)
{
	char name[64];

	snprintf(name, sizeof(name), "rc-test-%d-nojack", (int)getpid());
	setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
	setenv("JACK_NO_START_SERVER", "1", 1);
	setenv("JACK_DEFAULT_SERVER", name, 1);
}

int
jack_metro_start(struct jack *j)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "jack_metro -n %s -b 600 -D 50", j->metro);
	j->metro_pid = spawn_logged(cmd, "/dev/null");
	return j->metro_pid > 0 ? 0 : -1;
}

/* The n-th line of lsp that starts with prefix into port: 1, or 0. */
static int
find_port(const char *lsp, const char *prefix, int n, char *port, size_t len)
{
	const char *line = lsp, *nl;

	for (; *line != '\0'; line = nl + 1) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (strncmp(line, prefix, strlen(prefix)) == 0 && n-- == 0) {
			snprintf(port, len, "%.*s", (int)(nl - line), line);
			return 1;
		}
		if (*nl == '\0')
			break;
	}
	return 0;
}

/*
 * JACK has no event for "a client registered its ports" that a shell
 * tool can wait on, so the list is polled, briefly, up to a deadline.
 */
int
jack_port_wait(const char *prefix, int n, char *port, size_t len,
    int timeout_ms)
{
	const char *lsp[] = { "jack_lsp", NULL };
	struct timespec gap = { 0, 20 * 1000 * 1000 };
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	char out[8192];

	for (;;) {
		if (tu_run(lsp, out, sizeof(out), timeout_ms) == 0 &&
		    find_port(out, prefix, n, port, len))
			return 0;
		if (clock_mono_ms() >= end) {
			snprintf(port, len, "%s", out);
			return -1;
		}
		nanosleep(&gap, NULL);
	}
}

int
jack_connect(const char *from, const char *to, char *err, size_t errlen)
{
	const char *argv[] = { "jack_connect", from, to, NULL };

	return tu_run(argv, err, errlen, 10000) == 0 ? 0 : -1;
}

/* A killed jackd leaves its objects in /dev/shm: remove those of ours. */
static void
shm_cleanup(const char *server)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	if ((d = opendir("/dev/shm")) == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strstr(e->d_name, server) != NULL) {
			snprintf(path, sizeof(path), "/dev/shm/%s", e->d_name);
			unlink(path);
		}
	closedir(d);
}

void
jack_stop(struct jack *j)
{
	if (j->metro_pid > 0)
		tu_stop(j->metro_pid, JACK_STOP_MS);
	if (j->jackd > 0)
		tu_stop(j->jackd, JACK_STOP_MS);
	j->metro_pid = j->jackd = 0;
	if (j->server[0] != '\0')
		shm_cleanup(j->server);
	if (j->log[0] != '\0')
		unlink(j->log);
}
