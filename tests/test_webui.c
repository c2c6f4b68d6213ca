/*
 * test_webui.c — the web UI in a real headless Chromium against the real
 * ringcastd and v2 listeners: at desktop width, on a 360 px phone, and the
 * old server's PWA retired by web/sw.js.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "shared/token.h"
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

/* What listener A saw, and when (unix ms), from its own thread. */
static struct {
	pthread_t	 thr;
	atomic_int	 stop;
	atomic_ullong	 gain_ms;	/* mix_state with channel 0 at -12 dB */
	atomic_ullong	 sub_ms;	/* an audio packet carrying channel 3 */
	atomic_ullong	 off_ms;	/* mix_state with no channel */
	atomic_ullong	 all_ms;	/* an audio packet carrying channels 0-7 */
	atomic_ullong	 eof_ms;	/* the server closed the connection */
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
watch_stop(void)
{
	atomic_store(&seen.stop, 1);
	if (seen.thr)
		pthread_join(seen.thr, NULL);
	seen.thr = 0;
}

static void
teardown(void)
{
	watch_stop();
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

static void
watch_control(void)
{
	enum proto_ctl t;
	json_t *o, *g, *ch;

	if (proto_control_parse(A->payload, A->hdr.length, &o, &t) !=
	    PROTO_OK)
		return;
	g = json_object_get(json_object_get(o, "gains"), "0");
	ch = json_object_get(o, "channels");
	if (t == PROTO_CTL_MIX_STATE && json_is_number(g) &&
	    json_number_value(g) < 0.3 && json_number_value(g) > 0.2)
		saw(&seen.gain_ms);
	if (t == PROTO_CTL_MIX_STATE && json_is_array(ch) &&
	    json_array_size(ch) == 0)
		saw(&seen.off_ms);
	json_decref(o);
}

static void *
watch(void *arg)
{
	struct proto_audio a;
	int rc;

	(void)arg;
	while (!atomic_load(&seen.stop)) {
		if ((rc = v2_recv(A, 100)) == V2_EOF)
			saw(&seen.eof_ms);
		if (rc == V2_EOF || rc == V2_ERROR)
			break;
		if (rc != V2_MSG)
			continue;
		if (A->hdr.type != PROTO_TYPE_AUDIO) {
			watch_control();
			continue;
		}
		if (proto_audio_decode(&A->hdr, A->payload, 1, &a) != PROTO_OK)
			continue;
		if (a.mask[0] & 0x8)
			saw(&seen.sub_ms);
		if ((a.mask[0] & 0xff) == 0xff)
			saw(&seen.all_ms);
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

/* A listener connects as id, is named (so saved) and leaves. */
static void
leave_saved(struct v2c *c, const char *id, const char *body,
    struct http_sse *ev)
{
	json_t *d;
	bool mine;

	json_decref(e2e_open(c, id, NULL));
	name(id, body);
	v2_close(c);
	do {
		d = http_sse_next(ev, "client_disconnected", E2E_WAIT_MS, NULL);
		check(d != NULL, "no client_disconnected for %s", id);
		mine = strcmp(v2_str(d, "id"), id) == 0;
		json_decref(d);
	} while (!mine);
}

/*
 * Who the page shows: iem-1 (A, watched), iem-2 (server mix), launch-2 (an
 * app relaunched where launch-1 left: its record, launch-1 an alias), all
 * connected, and iem-4 saved and offline.
 */
static void
listeners(void)
{
	static struct http_sse ev;
	json_t *o;

	e2e_up("webui", opts);
	check(http_sse_open(&ev, E.d.http_port, 0) == 0, "event stream");
	json_decref(e2e_open(A, "iem-1", NULL));
	json_decref(e2e_change(A, v2_channels(2)));
	e2e_listen("iem-2", json_pack("{s:b}", "server_mix", 1), 7);
	name("iem-1", "{\"name\":\"Lead vocal IEM\",\"order\":1}");
	name("iem-2", "{\"name\":\"Drums IEM\",\"order\":2}");
	leave_saved(&E.c[1], "launch-1", "{\"name\":\"Bass IEM\",\"order\":3}",
	    &ev);
	e2e_listen("launch-2", json_pack("{s:s}", "device_name", "Bass IEM"),
	    4);
	o = http_client(E.d.http_port, "launch-2");
	check(o != NULL && strcmp(json_string_value(json_array_get(
	    json_object_get(o, "aliases"), 0)) ?: "", "launch-1") == 0,
	    "launch-2 did not take launch-1's record over");
	json_decref(o);
	leave_saved(&E.c[2], "iem-4", "{\"name\":\"Keys IEM\",\"order\":4}",
	    &ev);
	http_sse_close(&ev);
	cr_assert(pthread_create(&seen.thr, NULL, watch, NULL) == 0);
}

static bool
have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static void
need_browser(void)
{
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
}

/* Start node on a script of tests/browser (argv[0]), its arguments after. */
static void
node_start(const char *const *argv)
{
	const char *args[16] = { "node" };
	char script[128];
	posix_spawn_file_actions_t fa;
	int in[2], out[2], n;

	snprintf(script, sizeof(script), "tests/browser/%s", argv[0]);
	args[1] = script;
	for (n = 2; *++argv != NULL && n < 15; n++)
		args[n] = *argv;
	args[n] = NULL;
	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	cr_assert(posix_spawnp(&node_pid, "node", &fa, NULL,
	    (char *const *)(uintptr_t)args, environ) == 0, "node");
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

/* The number after want on the script's next line ("gain_at 1767..."). */
static uint64_t
node_expect_ms(const char *want)
{
	char line[256];

	node_expect(want, line, sizeof(line));
	return strtoull(line + strlen(want), NULL, 10);
}

static void
node_go(void)
{
	check(write(node_in, "go\n", 3) == 3, "browser stdin");
}

/* The script's last line, and its exit. */
static void
node_done(void)
{
	char line[256];

	node_expect("done", line, sizeof(line));
	check(tu_wait_exit(node_pid, 10000) == 0, "browser script exit");
	node_pid = 0;
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
	check(ms < UI_LIMIT_MS, "%s took %ld ms to reach the stream", what, ms);
	return ms;
}

/* Channels of a listener's saved mix, or -1; its last exit in exit. */
static int
saved_channels(const char *id, char *last_exit, size_t len)
{
	json_t *o = http_client(E.d.http_port, id);
	int n = o ? (int)json_array_size(json_object_get(o, "channels")) : -1;

	if (last_exit != NULL)
		snprintf(last_exit, len, "%s", o && json_is_false(json_object_get(o,
		    "connected")) ? v2_str(o, "last_exit") : "connected");
	json_decref(o);
	return n;
}

/* What a page script is told: the URL, its screenshot, the header's line. */
static struct {
	char	url[128];
	char	shot[512];
	char	phones[64];
} pg;

static void
page_setup(const char *shot)
{
	need_browser();
	listeners();
	snprintf(pg.url, sizeof(pg.url), "http://127.0.0.1:%d/",
	    E.d.http_port);
	snprintf(pg.shot, sizeof(pg.shot), "%s/%s", BUILD_DIR, shot);
	snprintf(pg.phones, sizeof(pg.phones), "Phones: 127.0.0.1 port %d",
	    E.d.native_port);
}

static void
screenshot_written(void)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "test -s %s", pg.shot);
	check(system(cmd) == 0, "no screenshot at %s", pg.shot);
	cr_log_info("screenshot: %s", pg.shot);
}

Test(webui, the_page_lists_mixes_and_follows_a_listener)
{
	char line[256];
	const char *argv[] = { "webui.js", pg.url, "iem-1", pg.shot, pg.phones,
	    "launch-2", "iem-4", NULL };

	page_setup("webui-desktop.png");
	node_start(argv);
	node_expect("listed", line, sizeof(line));
	/* A fader: channel 0 to -12 dB. */
	node_go();
	at_stream(&seen.gain_ms, node_expect_ms("gain_at "), "gain fader");
	/* A subscription: channel 3 on. */
	node_go();
	at_stream(&seen.sub_ms, node_expect_ms("sub_at "), "channel on");
	/* The listener leaves: the page shows it. */
	node_go();
	node_expect("ready_disconnect", line, sizeof(line));
	watch_stop();
	v2_close(A);
	node_expect("disconnected", line, sizeof(line));
	node_done();
	/* The mix the UI set is the one saved. */
	check(saved_channels("iem-1", NULL, 0) == 3, "saved mix: not the "
	    "3 channels the UI set");
	screenshot_written();
}

Test(webui, on_a_phone_a_listener_is_one_line_and_its_mixer_works)
{
	char line[256], how[32];
	const char *argv[] = { "phone.js", pg.url, "iem-1", "iem-2", pg.shot,
	    pg.phones, NULL };

	page_setup("webui-phone.png");
	node_start(argv);
	node_expect("collapsed", line, sizeof(line));
	node_expect("accordion", line, sizeof(line));
	/* All off, then all on: the listener's subscription follows. */
	node_go();
	at_stream(&seen.off_ms, node_expect_ms("alloff_at "), "all off");
	check(saved_channels("iem-1", NULL, 0) == 0, "all off: channels left");
	node_go();
	at_stream(&seen.all_ms, node_expect_ms("allon_at "), "all on");
	check(saved_channels("iem-1", NULL, 0) == E2E_NCH, "all on: not "
	    "every channel saved");
	node_go();
	node_expect("pan", line, sizeof(line));
	/* Disconnect: the listener's connection ends, reason kicked. */
	node_go();
	at_stream(&seen.eof_ms, node_expect_ms("kick_at "), "disconnect");
	node_expect("kicked", line, sizeof(line));
	saved_channels("iem-1", how, sizeof(how));
	check(strcmp(how, "kicked") == 0, "iem-1 after a disconnect: %s", how);
	node_expect("device", line, sizeof(line));
	node_done();
	screenshot_written();
}

Test(webui, an_old_pwa_worker_is_retired)
{
	char url[128], line[256], old[PATH_MAX], web[PATH_MAX], http[64];
	const char *argv[] = { "pwa.js", url, NULL };
	const char *first[] = { "--web-dir", old, NULL };
	const char *second[] = { "--http", http, "--web-dir", web, NULL };
	int port;

	need_browser();
	cr_assert(realpath("tests/browser/old-pwa", old) != NULL &&
	    realpath("web", web) != NULL, "web directories");
	/* The old server's page and worker, at the origin phones used. */
	e2e_up("pwa", first);
	port = E.d.http_port;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	node_start(argv);
	node_expect("installed", line, sizeof(line));
	/* ringcast in its place: same host and port, the real web UI. */
	check(rcd_stop(&E.d, 15000) == 0, "ringcastd stop");
	snprintf(http, sizeof(http), "127.0.0.1:%d", port);
	e2e_up("pwa", second);
	check(E.d.http_port == port, "restarted on port %d, not %d",
	    E.d.http_port, port);
	node_go();
	node_expect("retired ", line, sizeof(line));
	node_done();
}

/* Auth on: the engineer logs in, makes a musician's link; the musician's
 * phone opens it and sees, and changes, its own mix alone. */
static void
auth_browser(const char *scheme, const char *const *extra)
{
	char out[4096], state[192], url[128], shot[256], line[256];
	const char *mk[] = { tu_prog("ringcast"), "token", "-d", state,
	    "create", "engineer", NULL };
	const char *argv[] = { "auth.js", url, NULL, "iem-1", "iem-2", shot,
	    NULL };
	char *tok, *save = NULL;

	need_browser();
	cr_assert_eq(rcd_init(&E.d, "webui-auth"), 0);
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	check(tu_run(mk, out, sizeof(out), 10000) == 0, "token: %s", out);
	for (tok = strtok_r(out, "\n", &save); tok != NULL &&
	    strlen(tok) != TOKEN_LEN; tok = strtok_r(NULL, "\n", &save))
		;
	check(tok != NULL, "no token printed");
	argv[2] = tok;
	e2e_up("webui-auth", extra);
	json_decref(e2e_open(A, "iem-1", NULL));
	json_decref(e2e_open(&E.c[1], "iem-2", NULL));
	cr_assert(pthread_create(&seen.thr, NULL, watch, NULL) == 0);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%d/", scheme,
	    E.d.http_port);
	snprintf(shot, sizeof(shot), "%s/musician.png", E.d.dir);
	node_start(argv);
	node_expect("engineer_in", line, sizeof(line));
	node_expect("link", line, sizeof(line));
	node_expect("musician_in", line, sizeof(line));
	node_go();
	at_stream(&seen.all_ms, node_expect_ms("allon_at "), "musician's All "
	    "on");
	node_expect("own_only", line, sizeof(line));
	node_done();
}

Test(webui, a_musician_link_shows_and_changes_its_own_mix_alone)
{
	static const char *const on[] = { "--auth", "on", NULL };

	auth_browser("http", on);
}

Test(webui, the_engineer_logs_in_over_https)
{
	char dir[160], cert[256], key[256], cmd[1024], out[4096];
	const char *sh[] = { "sh", "-c", cmd, NULL };
	const char *args[] = { "--auth", "on", "--tls-cert", cert, "--tls-key",
	    key, NULL };

	need_browser();
	snprintf(dir, sizeof(dir), "/tmp/rc-test-%d-certs", (int)getpid());
	snprintf(cert, sizeof(cert), "%s/venue.pem", dir);
	snprintf(key, sizeof(key), "%s/venue.key", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cd %s && openssl req -x509 "
	    "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "
	    "venue.key -out venue.pem -days 2 -subj /CN=127.0.0.1 -addext "
	    "subjectAltName=IP:127.0.0.1", dir, dir);
	check(tu_run(sh, out, sizeof(out), 30000) == 0, "openssl: %s", out);
	auth_browser("https", args);
	tu_rmtree(dir);
}
