/* test_webui.c — the web UI in a real headless Chromium against the real ringcastd and a v2 listener. */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <pthread.h>
#include <signal.h>
#include <spawn.h>

#include <criterion/criterion.h>

#include "tests/v2client.h"

#define READY_MS	30000	/* generous: a noisy, shared 2-core VM */
#define WAIT_MS		30000	/* one browser step, chromium's start included */
#define UI_LIMIT_MS	1000	/* a UI change at the stream: the assertion */
#define UI_TARGET_MS	100	/* ...and what is measured against */

extern char **environ;

static struct rcd D;
static struct v2c A = { .fd = -1 }, B = { .fd = -1 };
static struct v2r RB;
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

static uint64_t
unix_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Record the first time something was seen, and wake the test. */
static void
saw(atomic_ullong *when)
{
	if (atomic_load(when) != 0)
		return;
	pthread_mutex_lock(&seen.mu);
	atomic_store(when, unix_now_ms());
	pthread_cond_broadcast(&seen.cv);
	pthread_mutex_unlock(&seen.mu);
}

#define check(cond, ...)	rcd_check(&D, cond, __VA_ARGS__)

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
	v2r_stop(&RB);
	v2_close(&A);
	v2_close(&B);
	rcd_cleanup(&D);
}

TestSuite(webui, .fini = teardown, .timeout = 180);

static void *
watch(void *arg)
{
	struct proto_audio a;
	enum proto_ctl t;
	json_t *o, *g;

	(void)arg;
	while (!atomic_load(&seen.stop)) {
		if (v2_recv(&A, 100) != 1)
			continue;
		if (A.hdr.type == PROTO_TYPE_AUDIO) {
			atomic_fetch_add(&seen.packets, 1);
			if (proto_audio_decode(&A.hdr, A.payload, 1, &a) ==
			    PROTO_OK && (a.mask[0] & 0x8))
				saw(&seen.sub_ms);
			continue;
		}
		if (proto_control_parse(A.payload, A.hdr.length, &o, &t) !=
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
listener(struct v2c *c, const char *id, json_t *channels, bool mix)
{
	json_t *o, *hello = v2_hello(id, NULL);

	if (mix)
		json_object_set_new(hello, "server_mix", json_true());
	check(v2_open_hello(c, D.native_port, hello, 10000) == 0, "connect %s",
	    id);
	json_decref(v2_recv_ctl(c, "mix_state", 10000, NULL));
	check(v2_send_ctl(c, json_pack("{s:s, s:o}", "type", "update_mix",
	    "channels", channels)) == 0, "subscribe");
	o = v2_recv_ctl(c, "mix_state", 10000, NULL);
	check(o != NULL, "%s: mix_state", id);
	json_decref(o);
}

static void
name(const char *id, const char *body)
{
	char path[64], *r;
	int st;

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	st = http_req(D.http_port, "POST", path, body, &r, 10000);
	free(r);
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
	uint64_t end = tu_now_ms() + WAIT_MS;
	struct pollfd pfd = { .fd = node_out, .events = POLLIN };
	size_t n = 0;
	char c;

	for (;;) {
		n = 0;
		for (;;) {
			check(tu_now_ms() < end && poll(&pfd, 1, (int)(end -
			    tu_now_ms())) == 1, "browser: no \"%s\" in time",
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
	int st;

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
	cr_assert_eq(rcd_mkdir(&D, "webui"), 0);
	check(rcd_start(&D, opts, READY_MS) == 0, "ringcastd not ready");
	listener(&A, "iem-1", json_pack("[ii]", 0, 1), false);
	listener(&B, "iem-2", json_pack("[iiii]", 0, 1, 2, 6), true);
	cr_assert(v2r_start(&RB, &B) == 0);
	name("iem-1", "{\"name\":\"Lead vocal IEM\",\"order\":1}");
	name("iem-2", "{\"name\":\"Drums IEM\",\"order\":2}");
	cr_assert(pthread_create(&seen.thr, NULL, watch, NULL) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", D.http_port);
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
	v2_close(&A);
	node_expect("disconnected", line, sizeof(line));
	node_expect("done", line, sizeof(line));
	check(tu_wait_exit(node_pid, 10000) == 0, "browser script exit");
	node_pid = 0;
	/* The mix the UI set is the one saved. */
	{
		json_t *o = http_json(D.http_port, "GET", "/api/clients/iem-1",
		    NULL, &st);

		check(o != NULL && json_array_size(json_object_get(o,
		    "channels")) == 3, "saved mix: %s", o ? json_dumps(o, 0) :
		    "none");
		json_decref(o);
	}
	snprintf(cmd, sizeof(cmd), "test -s %s", shot);
	check(system(cmd) == 0, "no screenshot at %s", shot);
	cr_log_info("screenshot: %s", shot);
}
