/* test_webui.c — the web UI in a real headless Chromium against the real ringcastd and a v2 listener. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		30000	/* one browser step, chromium's start included */
#define UI_LIMIT_MS	1000	/* a UI change at the stream: the assertion */
#define UI_TARGET_MS	100	/* ...and what is measured against */

extern char **environ;

static struct v2c *const A = &E.c[0];	/* watched by this test's thread */
static const char *const opts[] = { "--channel-names",
    "Kick,Snare,Bass DI,Keys L,Keys R,Guitar,Lead vox,Talkback", NULL };
static pid_t node_pid;
static int node_in = -1, node_out = -1;

/* What the listener saw, and when (unix ms), from its own thread. */
static struct {
	pthread_t	 thr;
	atomic_int	 stop;
	atomic_ullong	 gain_ms;	/* mix_state with channel 0 at -12 dB */
	atomic_ullong	 sub_ms;	/* an audio packet carrying channel 3 */
	atomic_ullong	 packets;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
} seen = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* Record the first time something was seen, and wake the test. */
static void
saw(atomic_ullong *when)
{
	if (atomic_load(when) != 0)
		return;
	pthread_mutex_lock(&seen.mu);
	atomic_store(when, clock_wall_ms());
	pthread_cond_broadcast(&seen.cv);
	pthread_mutex_unlock(&seen.mu);
}

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

static void
teardown(void)
{
	atomic_store(&seen.stop, 1);
	if (seen.thr)
		pthread_join(seen.thr, NULL);
	seen.thr = 0;
	if (node_pid > 0) {
		kill(node_pid, SIGKILL);
		waitpid(node_pid, NULL, 0);
	}
	if (node_in >= 0)
		close(node_in);
	if (node_out >= 0)
		close(node_out);
	e2e_teardown();
}

TestSuite(webui, .init = e2e_setup, .fini = teardown, .timeout = 180);

static void *
watch(void *arg)
{
	struct proto_audio a;
	enum proto_ctl t;
	json_t *o, *g;

	(void)arg;
	while (!atomic_load(&seen.stop)) {
		if (v2_recv(A, 100) != 1)
			continue;
		if (A->hdr.type == PROTO_TYPE_AUDIO) {
			atomic_fetch_add(&seen.packets, 1);
			if (proto_audio_decode(&A->hdr, A->payload, 1, &a) ==
			    PROTO_OK && (a.mask[0] & 0x8))
				saw(&seen.sub_ms);
			continue;
		}
		if (proto_control_parse(A->payload, A->hdr.length, &o, &t) !=
		    PROTO_OK)
			continue;
		g = json_object_get(json_object_get(o, "gains"), "0");
		if (t == PROTO_CTL_MIX_STATE && json_is_number(g) &&
		    json_number_value(g) < 0.3 && json_number_value(g) > 0.2)
			saw(&seen.gain_ms);
		json_decref(o);
	}
	return NULL;
}

static void
name(const char *id, const char *body)
{
	char path[64];
	json_t *o;
	int st;

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	st = e2e_api("POST", path, body, &o);
	json_decref(o);
	check(st == 200, "POST %s: %d", path, st);
}

static bool
have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static void
node_start(const char *url, const char *shot)
{
	const char *argv[] = { "node", "tests/browser/webui.js", url, "iem-1",
	    shot, NULL };
	posix_spawn_file_actions_t fa;
	int in[2], out[2];

	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	cr_assert(posix_spawnp(&node_pid, "node", &fa, NULL,
	    (char *const *)(uintptr_t)argv, environ) == 0, "node");
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	node_in = in[1];
	node_out = out[0];
}

/* The next line from the script; it must start with want. */
static void
node_expect(const char *want, char *line, size_t len)
{
	uint64_t end = clock_mono_ms() + WAIT_MS;
	struct pollfd pfd = { .fd = node_out, .events = POLLIN };
	size_t n = 0;
	char c;

	for (;;) {
		n = 0;
		for (;;) {
			check(clock_mono_ms() < end && poll(&pfd, 1, (int)(end -
			    clock_mono_ms())) == 1, "browser: no \"%s\" in time",
			    want);
			check(read(node_out, &c, 1) == 1, "browser script "
			    "ended before \"%s\"", want);
			if (c == '\n')
				break;
			if (n + 1 < len)
				line[n++] = c;
		}
		line[n] = '\0';
		cr_log_info("browser: %s", line);
		check(strncmp(line, "fail", 4) != 0, "browser: %s", line);
		if (strncmp(line, "pageerror", 9) == 0)
			continue;
		check(strncmp(line, want, strlen(want)) == 0, "browser said "
		    "\"%s\", expected \"%s\"", line, want);
		return;
	}
}

static void
node_go(void)
{
	check(write(node_in, "go\n", 3) == 3, "browser stdin");
}

/* Wait for the listener to see what the UI did; the delay in ms. */
static long
at_stream(atomic_ullong *when, uint64_t input_ms, const char *what)
{
	struct timespec end;
	long ms;

	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += UI_LIMIT_MS * 10 / 1000;
	pthread_mutex_lock(&seen.mu);
	while (atomic_load(when) == 0 &&
	    pthread_cond_timedwait(&seen.cv, &seen.mu, &end) == 0)
		;
	pthread_mutex_unlock(&seen.mu);
	check(atomic_load(when) != 0, "%s never reached the stream", what);
	ms = (long)(atomic_load(when) - input_ms);
	cr_log_info("%s: UI input -> listener in %ld ms (target %d ms)", what,
	    ms, UI_TARGET_MS);
	return ms;
}

Test(webui, the_page_lists_mixes_and_follows_a_listener)
{
	char url[128], shot[512], line[256], cmd[1200];
	long gain_ms, sub_ms;
	uint64_t t;

	if (!have("node") || !have("chromium")) {
		cr_log_info("skipped: node or chromium missing (make test "
		    "installs them)");
		cr_skip_test("node or chromium missing");
	}
	if (access("tests/browser/node_modules/playwright-core", R_OK) != 0) {
		cr_log_info("skipped: tests/browser/node_modules missing (make "
		    "test runs npm ci there)");
		cr_skip_test("playwright-core missing");
	}
	e2e_up("webui", opts);
	json_decref(e2e_open(A, "iem-1", NULL));
	json_decref(e2e_change(A, v2_channels(2)));
	e2e_listen("iem-2", json_pack("{s:b}", "server_mix", 1), 7);
	name("iem-1", "{\"name\":\"Lead vocal IEM\",\"order\":1}");
	name("iem-2", "{\"name\":\"Drums IEM\",\"order\":2}");
	cr_assert(pthread_create(&seen.thr, NULL, watch, NULL) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", E.d.http_port);
	snprintf(shot, sizeof(shot), "%s/webui.png", BUILD_DIR);
	node_start(url, shot);
	node_expect("listed", line, sizeof(line));
	/* A fader: channel 0 to -12 dB. */
	node_go();
	node_expect("gain_at ", line, sizeof(line));
	t = strtoull(line + 8, NULL, 10);
	gain_ms = at_stream(&seen.gain_ms, t, "gain fader");
	/* A subscription: channel 3 on. */
	node_go();
	node_expect("sub_at ", line, sizeof(line));
	t = strtoull(line + 7, NULL, 10);
	sub_ms = at_stream(&seen.sub_ms, t, "channel on");
	check(gain_ms < UI_LIMIT_MS && sub_ms < UI_LIMIT_MS, "UI changes took "
	    "%ld and %ld ms to reach the stream", gain_ms, sub_ms);
	/* The listener leaves: the page shows it. */
	node_go();
	node_expect("ready_disconnect", line, sizeof(line));
	atomic_store(&seen.stop, 1);
	pthread_join(seen.thr, NULL);
	seen.thr = 0;
	v2_close(A);
	node_expect("disconnected", line, sizeof(line));
	node_expect("done", line, sizeof(line));
	check(tu_wait_exit(node_pid, 10000) == 0, "browser script exit");
	node_pid = 0;
	/* The mix the UI set is the one saved. */
	{
		json_t *o = http_client(E.d.http_port, "iem-1");

		check(o != NULL && json_array_size(json_object_get(o,
		    "channels")) == 3, "saved mix: %s", o ? json_dumps(o, 0) :
		    "none");
		json_decref(o);
	}
	snprintf(cmd, sizeof(cmd), "test -s %s", shot);
	check(system(cmd) == 0, "no screenshot at %s", shot);
	cr_log_info("screenshot: %s", shot);
}
