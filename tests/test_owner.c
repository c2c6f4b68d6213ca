/* test_owner.c — one ring, one owner: a second ringcastd, a frozen capture, make run beside a show. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

static struct rcd B;
static struct http_sse EV = { .fd = -1 };

static void
setup(void)
{
	e2e_setup();
	memset(&B, 0, sizeof(B));
	EV.fd = -1;
}

static void
teardown(void)
{
	http_sse_close(&EV);
	rcd_cleanup(&B);
	e2e_teardown();
}

TestSuite(owner, .init = setup, .fini = teardown, .timeout = 180);

/* A capture event whose state (and pid, if not 0) is the one wanted. */
static json_t *
capture_event(const char *state, pid_t not_pid, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	json_t *o;

	while (clock_mono_ms() < end && (o = http_sse_next(&EV, "capture",
	    (int)(end - clock_mono_ms()), NULL)) != NULL) {
		if (strcmp(v2_str(o, "state"), state) == 0 && (not_pid == 0 ||
		    json_integer_value(json_object_get(o, "pid")) != not_pid))
			return o;
		json_decref(o);
	}
	return NULL;
}

Test(owner, a_second_daemon_on_the_same_ring_stops_at_once_naming_the_first)
{
	char want[64];
	uint64_t t0;
	pid_t cap;
	int st;

	e2e_up("first", NULL);
	e2e_listen("steady-1", NULL, 2);
	cr_assert_eq(rcd_init(&B, "second"), 0);
	snprintf(B.ring, sizeof(B.ring), "%s", E.d.ring);
	t0 = clock_mono_ms();
	check(rcd_start(&B, NULL, WAIT_MS) == -1, "a second ringcastd on %s "
	    "started", E.d.ring);
	st = tu_wait_exit(B.pid, WAIT_MS);
	B.pid = 0;
	cr_log_info("second ringcastd gone after %llu ms",
	    (unsigned long long)(clock_mono_ms() - t0));
	check(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status 0x%x", st);
	check(clock_mono_ms() - t0 < 5000, "it took %llu ms to give up",
	    (unsigned long long)(clock_mono_ms() - t0));
	snprintf(want, sizeof(want), "in use by ringcastd pid %d", (int)E.d.pid);
	check(rcd_log_has(&B, want), "the second did not name the first");
	check(rcd_log_has(&B, "--ring NAME"), "no word of how to choose "
	    "another ring");
	/* The first never noticed: its listeners, new or old, and capture. */
	e2e_flowing(200);
	e2e_steady_clean("beside a second ringcastd");
	e2e_listen("new-1", NULL, 2);
	cap = e2e_child_pid("capture");
	kill(cap, SIGKILL);
	check(steady_wait(&E.s, 400, WAIT_MS), "no audio after the first's "
	    "capture restarted");
	check(e2e_child_pid("capture") != cap, "capture was not restarted");
}

static bool
metric_is(const char *line)
{
	char *resp = NULL;
	bool found;

	found = http_req(E.d.http_port, "GET", "/metrics", NULL, &resp,
	    WAIT_MS) == 200 && strstr(resp, line) != NULL;
	free(resp);
	return found;
}

Test(owner, a_frozen_capture_is_stalled_then_replaced)
{
	const char *const args[] = { "--capture-stall-ms", "500", NULL };
	uint64_t t0, stalled_ms, back_ms;
	json_t *o;
	pid_t cap;

	e2e_up("frozen", args);
	e2e_listen("steady-1", NULL, 2);
	cr_assert_eq(http_sse_open(&EV, E.d.http_port, 0), 0, "events");
	json_decref(capture_event("running", 0, WAIT_MS));
	cap = e2e_child_pid("capture");
	t0 = clock_mono_ms();
	kill(cap, SIGSTOP);
	o = capture_event("stalled", 0, WAIT_MS);
	stalled_ms = clock_mono_ms() - t0;
	check(o != NULL, "no stalled capture event");
	json_decref(o);
	check(e2e_status_int("capture", "pid") == cap, "a new capture before "
	    "the stall was said");
	o = capture_event("running", cap, WAIT_MS);
	back_ms = clock_mono_ms() - t0;
	check(o != NULL, "no new capture running");
	json_decref(o);
	cr_log_info("frozen capture: stalled after %llu ms, a new one running "
	    "after %llu ms", (unsigned long long)stalled_ms,
	    (unsigned long long)back_ms);
	check(stalled_ms < 1000 + 2000, "stalled said after %llu ms",
	    (unsigned long long)stalled_ms);
	check(back_ms < 500 + 1000 + 5000, "replaced after %llu ms",
	    (unsigned long long)back_ms);
	check(metric_is("ringcast_capture_stalls_total 1"), "the stall was not "
	    "counted");
	/* The listener hears audio again, on the same connection. */
	steady_reset(&E.s);
	check(steady_wait(&E.s, 300, WAIT_MS), "no audio after the new capture");
}

/* make run's script: its ring named after its state, its ports stepping aside. */
static pid_t
make_run(struct rcd *d)
{
	char build[PATH_MAX];
	char *const argv[] = { "/bin/sh", "tools/run.sh", build, NULL };
	int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	pid_t pid;

	snprintf(build, sizeof(build), "%s", tu_build_dir());
	cr_assert_geq(fd, 0);
	if ((pid = fork()) == 0) {
		setpgid(0, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (chdir(tu_build_dir()) == 0 && chdir("..") == 0)
			execv(argv[0], argv);
		_exit(127);
	}
	close(fd);
	if (d->npgid < RCD_PGIDS)
		d->pgid[d->npgid++] = pid;
	d->pid = pid;
	return pid;
}

/* "ready: native 127.0.0.1:P," in d's log: P. */
static int
ready_port(const struct rcd *d)
{
	char buf[8192], *p;
	int fd = open(d->log, O_RDONLY), port = -1;
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if ((p = strstr(buf, "ready: native 127.0.0.1:")) != NULL)
		port = atoi(p + 24);
	return port;
}

Test(owner, make_run_beside_a_daemon_on_the_default_ring)
{
	const char *const args[] = { "--ring", "/ringcast", NULL };
	struct proto_audio a;
	struct v2c c = { .fd = -1 };
	int port;

	/* The installed service's ring; a machine running one skips this. */
	if (access("/dev/shm/ringcast", F_OK) == 0)
		cr_skip_test("a ringcastd on /ringcast runs here already");
	snprintf(E.d.ring, sizeof(E.d.ring), "/ringcast");
	e2e_up("service", args);
	e2e_listen("service-1", NULL, 2);
	cr_assert_eq(rcd_init(&B, "makerun"), 0);
	make_run(&B);
	check(rcd_log_wait(&B, "ready: native", WAIT_MS) == 1, "make run's "
	    "ringcastd did not start beside the other");
	check((port = ready_port(&B)) > 0, "no port in the ready line");
	check(v2_join(&c, port, "run-1", v2_channels(2), WAIT_MS) == 0,
	    "make run's ringcastd does not serve");
	check(v2_recv_audio(&c, &a, WAIT_MS) == V2_MSG, "no audio from make "
	    "run's ringcastd");
	v2_close(&c);
	e2e_flowing(200);
	e2e_steady_clean("beside make run");
	kill(B.pid, SIGTERM);
	check(tu_wait_exit(B.pid, WAIT_MS) != -1, "make run did not stop");
	B.pid = 0;
}
