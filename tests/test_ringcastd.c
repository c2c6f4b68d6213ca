/* test_ringcastd.c — ringcastd end to end: the real daemon, its real children, v2 clients and HTTP. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"
#include "tests/lib/records.h"

#define CHURN		200
#define CHURN_BATCH	8
#define WAIT_MS		E2E_WAIT_MS

TestSuite(ringcastd, .init = e2e_setup, .fini = e2e_teardown);

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

/* Connect as identity id: the handshake response (its mix_state read). */
static json_t *
join(struct v2c *c, const char *id)
{
	return e2e_open(c, id, NULL);
}

/* ---- isolation ---- */

/* One churning client leaves: FIN, RST, or its session is SIGKILLed. */
static void
churn_leave(struct v2c *c, int k)
{
	char id[32];

	snprintf(id, sizeof(id), "churn-%d", k);
	if (k % 3 == 0)
		v2_close(c);
	else if (k % 3 == 1)
		v2_reset(c);
	else {
		check(kill(e2e_session_pid(id), SIGKILL) == 0, "kill %s", id);
		check(v2_wait_eof(c, WAIT_MS) == V2_EOF, "session of %s "
		    "killed, its socket did not end cleanly", id);
		v2_close(c);
	}
}

static void
churn(int total)
{
	struct v2c b[CHURN_BATCH];
	char id[32];
	int k, j, n;

	for (k = 0; k < total; k += n) {
		n = total - k < CHURN_BATCH ? total - k : CHURN_BATCH;
		for (j = 0; j < n; j++) {
			snprintf(id, sizeof(id), "churn-%d", k + j);
			json_decref(join(&b[j], id));
			/* Half of them stream too, without waiting for it. */
			if ((k + j) % 2 == 0)
				v2_send_ctl(b[j].fd, json_pack("{s:s, s:[ii]}",
				    "type", "update_mix", "channels", 0, 1));
		}
		for (j = 0; j < n; j++)
			churn_leave(&b[j], k + j);
	}
}

Test(ringcastd, isolation_under_churn, .timeout = 300)
{
	json_t *e;
	char id[32];
	int i;

	e2e_up("iso", NULL);
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		e2e_listen(id, NULL, E2E_NCH);
	}
	churn(CHURN);
	e2e_flowing(300);
	cr_log_info("isolation: %d sessions came and went", CHURN);
	e2e_steady_clean("isolation");
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		e = http_client(E.d.http_port, id);
		check(e != NULL && json_integer_value(json_object_get(e,
		    "periods_dropped")) == 0, "session of %s dropped periods",
		    id);
		json_decref(e);
	}
}

/* ---- the saved mix ---- */

static json_t *
saved_mix_fields(void)
{
	return json_pack("{s:[ii], s:{s:f}, s:{s:f}, s:{s:b}, s:f}",
	    "channels", 1, 2, "gains", "1", 0.5, "pans", "2", -0.25,
	    "mutes", "1", 1, "master_gain", 0.8);
}

/*
 * Reconnect as id: the response says restored, and the mix_state that
 * precedes any audio is the saved mix.
 */
static void
expect_restored(struct v2c *c, const char *id, const struct mix *want,
    const char *when)
{
	struct mix got;
	bool audio = false;
	json_t *hr, *ms;

	check(v2_open(c, E.d.native_port, v2_hello("launch-2", id), WAIT_MS) ==
	    0,
	    "reconnect %s", when);
	hr = e2e_ctl(c, "handshake_response", &audio);
	check(json_is_true(json_object_get(hr, "state_restored")) &&
	    json_is_true(json_object_get(hr, "is_reconnection")),
	    "%s: not restored", when);
	check(strcmp(json_string_value(json_object_get(hr, "persistent_id")),
	    id) == 0, "%s: persistent_id", when);
	ms = e2e_ctl(c, "mix_state", &audio);
	check(!audio, "%s: audio before the mix_state", when);
	check((e2e_mix(ms, &got), 1) && mix_equal(&got, want),
	    "%s: the mix differs", when);
	json_decref(hr);
	json_decref(ms);
}

Test(ringcastd, saved_mix_returns, .timeout = 180)
{
	const char *id = "uuid-phone-1";
	struct mix want;
	json_t *hr, *ms;
	int st;

	e2e_up("mix", NULL);
	check(v2_open(&E.c[0], E.d.native_port, v2_hello("launch-1", id),
	    WAIT_MS) == 0,
	    "connect");
	hr = e2e_ctl(&E.c[0], "handshake_response", NULL);
	check(json_is_false(json_object_get(hr, "state_restored")),
	    "a new identity restored");
	json_decref(hr);
	json_decref(e2e_ctl(&E.c[0], "mix_state", NULL));
	ms = e2e_change(&E.c[0], saved_mix_fields());
	e2e_mix(ms, &want);
	check(want.master > 0.79f,
	    "mix_state");
	json_decref(ms);
	v2_close(&E.c[0]);

	expect_restored(&E.c[0], id, &want, "after a disconnect");

	check(kill(e2e_session_pid(id), SIGKILL) == 0, "kill session");
	check(v2_wait_eof(&E.c[0], WAIT_MS) == V2_EOF, "session killed, "
	    "socket open or broken");
	v2_close(&E.c[0]);
	expect_restored(&E.c[0], id, &want, "after SIGKILL of the session");
	v2_close(&E.c[0]);

	st = rcd_stop(&E.d, 15000);
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "stop: status 0x%x", st);
	check(rcd_start(&E.d, NULL, E2E_READY_MS) == 0, "restart");
	expect_restored(&E.c[0], id, &want, "after a ringcastd restart");
}

/* ---- acknowledged = committed, even when the supervisor dies ---- */

static int
acked_k(const json_t *ms)
{
	double g = json_number_value(json_object_get(json_object_get(ms,
	    "gains"), "0"));

	return (int)(g * 1000.0 + 0.5);
}

Test(ringcastd, acknowledged_changes_survive_sigkill, .timeout = 180)
{
	const char *id = "burst-1";
	int k, acks = 0, last = 0, stored, st;
	json_t *ms, *e;

	e2e_up("burst", NULL);
	json_decref(join(&E.c[0], id));
	for (k = 1; k <= 400; k++)
		check(v2_send_ctl(E.c[0].fd, json_pack("{s:s, s:{s:f}}", "type",
		    "update_mix", "gains", "0", k / 1000.0)) == 0, "send");
	while (acks < 30 && (ms = e2e_ctl(&E.c[0], "mix_state", NULL)) != NULL) {
		last = acked_k(ms);
		acks++;
		json_decref(ms);
	}
	check(kill(E.d.pid, SIGKILL) == 0, "kill ringcastd");
	tu_wait_exit(E.d.pid, WAIT_MS);
	E.d.pid = 0;
	/* Whatever still arrives was committed before it was sent. */
	while ((ms = v2_recv_ctl(&E.c[0], "mix_state", WAIT_MS, NULL)) != NULL) {
		last = acked_k(ms);
		acks++;
		json_decref(ms);
	}
	v2_close(&E.c[0]);
	check(rcd_start(&E.d, NULL, E2E_READY_MS) == 0, "restart after SIGKILL");
	e = http_json(E.d.http_port, "GET", "/api/clients/burst-1", NULL, &st);
	check(st == 200 && e != NULL, "GET the record: %d", st);
	stored = acked_k(e);
	cr_log_info("SIGKILL during a burst: %d acknowledged (last %d), "
	    "stored %d", acks, last, stored);
	check(stored >= last, "acknowledged change %d lost (stored %d)", last,
	    stored);
	json_decref(e);
}

/* ---- child crashes ---- */

Test(ringcastd, capture_sigkill_resumes_audio, .timeout = 180)
{
	struct steady_figures f;
	pid_t old, now;
	json_t *o;

	e2e_up("cap", NULL);
	e2e_listen("cap-0", NULL, E2E_NCH);
	e2e_listen("cap-1", NULL, E2E_NCH);
	/* Over a second of audio: the capture has been running fine. */
	e2e_flowing(1000);
	old = e2e_child_pid("capture");
	steady_reset(&E.s);
	check(kill(old, SIGKILL) == 0, "kill capture");
	/* A second of audio after the kill: the new capture is feeding them. */
	e2e_flowing(750);
	steady_snapshot(&E.s, &f);
	cr_log_info("capture SIGKILL: longest silence at the listeners %.1f "
	    "ms", f.max_gap_ns / 1e6);
	check(f.max_gap_ns < 1000000000ull, "audio took too long to resume");
	check(f.failed == 0, "a listener dropped");
	check(f.backwards == 0, "positions went back");
	now = e2e_child_pid("capture");
	check(now != old, "capture not replaced");
	o = e2e_status();
	check(json_integer_value(json_object_get(json_object_get(o,
	    "capture"), "restarts")) == 1, "restarts != 1");
	json_decref(o);
}

Test(ringcastd, broker_sigkill_spares_streams, .timeout = 180)
{
	pid_t old;
	json_t *o;

	e2e_up("brk", NULL);
	e2e_listen("brk-0", NULL, E2E_NCH);
	e2e_listen("brk-1", NULL, E2E_NCH);
	old = e2e_child_pid("broker");
	check(kill(old, SIGKILL) == 0, "kill broker");
	/* The listener stays bound: this connection waits for the new broker. */
	json_decref(join(&E.c[2], "brk-new"));
	e2e_flowing(300);
	e2e_steady_clean("broker SIGKILL");
	o = e2e_status();
	check(json_integer_value(json_object_get(json_object_get(o,
	    "broker"), "restarts")) == 1, "broker restarts != 1");
	check(json_integer_value(json_object_get(o, "sessions")) == 3,
	    "sessions != 3");
	json_decref(o);
}

/* ---- orderly stop ---- */

static int
notify_socket(char *name, size_t len)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	snprintf(name, len, "@rc-test-%d-notify", (int)getpid());
	memcpy(sun.sun_path + 1, name + 1, strlen(name) - 1);
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(fd, (struct sockaddr *)&sun, offsetof(struct sockaddr_un,
	    sun_path) + strlen(name)) == -1)
		return -1;
	return fd;
}

static int
notify_wait(int fd, const char *want)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char buf[256];
	ssize_t n;

	while (poll(&pfd, 1, WAIT_MS) == 1) {
		if ((n = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			return 0;
		buf[n] = '\0';
		if (strstr(buf, want) != NULL)
			return 1;
	}
	return 0;
}

Test(ringcastd, orderly_stop_leaves_nothing, .timeout = 120)
{
	pid_t pids[4];
	char name[64];
	int nfd, st, i, fd;

	cr_assert((nfd = notify_socket(name, sizeof(name))) != -1, "socket");
	setenv("NOTIFY_SOCKET", name, 1);
	e2e_up("stop", NULL);
	unsetenv("NOTIFY_SOCKET");
	check(notify_wait(nfd, "READY=1"), "no READY=1 on NOTIFY_SOCKET");
	json_decref(join(&E.c[0], "stop-0"));
	json_decref(join(&E.c[1], "stop-1"));
	pids[0] = e2e_child_pid("capture");
	pids[1] = e2e_child_pid("broker");
	pids[2] = e2e_session_pid("stop-0");
	pids[3] = e2e_session_pid("stop-1");
	st = rcd_stop(&E.d, 15000);
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ringcastd status 0x%x", st);
	check(notify_wait(nfd, "STOPPING=1"), "no STOPPING=1");
	for (i = 0; i < 4; i++)
		check(kill(pids[i], 0) == -1 && errno == ESRCH,
		    "child %d outlived ringcastd", (int)pids[i]);
	for (i = 0; i < 2; i++)
		check(v2_wait_eof(&E.c[i], WAIT_MS) == V2_EOF, "client %d "
		    "still open, or its stream broke", i);
	fd = shm_open(E.d.ring, O_RDONLY, 0);
	check(fd == -1 && errno == ENOENT, "ring %s not unlinked", E.d.ring);
	close(nfd);
}

/* ---- configuration ---- */

static void
write_conf(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* ringcastd -n -f <conf> [--native arg]: exit code and a text in its output. */
static void
expect_check(const char *conf, const char *arg, int code, const char *text)
{
	char path[256], out[4096];
	const char *argv[8] = { tu_prog("ringcastd"), "-n", "-f", path };
	int n = 4, rc;

	snprintf(path, sizeof(path), "%s/ringcast.conf", E.d.dir);
	write_conf(path, conf);
	if (arg != NULL) {
		argv[n++] = "--native";
		argv[n++] = arg;
	}
	argv[n] = NULL;
	rc = tu_run(argv, out, sizeof(out), WAIT_MS);
	cr_assert_eq(rc, code, "conf \"%s\": exit %d, want %d: %s", conf, rc,
	    code, out);
	cr_assert(strstr(out, text) != NULL, "conf \"%s\": \"%s\" not in: %s",
	    conf, text, out);
}

Test(ringcastd, check_mode_reports_clearly, .timeout = 60)
{
	cr_assert_eq(rcd_init(&E.d, "conf"), 0);
	expect_check("# a comment\nnative = 127.0.0.1:5101\nchannels = 4\n"
	    "max-clients = 10   # inline\n", NULL, 0, "configuration OK");
	expect_check("channels = 0\n", NULL, 1, "channels");
	expect_check("chanels = 4\n", NULL, 1, "unknown key \"chanels\"");
	expect_check("\n\nrate\n", NULL, 1, ":3:");
	expect_check("source = mp3:/x\n", NULL, 1, "source");
	expect_check("native = localhost\n", NULL, 1, "HOST:PORT");
	expect_check("user = rc-test-no-such-user\n", NULL, 1,
	    "unknown user");
	expect_check("state = /etc/passwd\n", NULL, 1, "not a directory");
	/* The command line wins over the file. */
	expect_check("native = localhost\n", "127.0.0.1:5101", 0,
	    "configuration OK");
	expect_check("native = 127.0.0.1:5101\n", "nowhere", 1, "HOST:PORT");
}

Test(ringcastd, port_in_use_is_a_clear_error, .timeout = 60)
{
	char addr[64], state[256], out[4096];
	int l, rc, port;

	cr_assert_eq(rcd_init(&E.d, "port"), 0);
	cr_assert((l = tu_tcp_listen(1, &port)) != -1);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	{
		const char *argv[] = { tu_prog("ringcastd"), "--native", addr,
		    "--http", "127.0.0.1:0", "--state", state, "--ring",
		    E.d.ring, NULL };

		rc = tu_run(argv, out, sizeof(out), WAIT_MS);
	}
	close(l);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "address already in use") != NULL &&
	    strstr(out, addr) != NULL, "unclear: %s", out);
}

/* ---- the API ---- */

static bool
has_client(const json_t *list, const char *id)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(list, "clients"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "id")), id) == 0)
			return true;
	return false;
}

Test(ringcastd, api_mix_forget_and_metrics, .timeout = 120)
{
	json_t *o, *ms;
	char *text;
	int st;

	e2e_up("api", NULL);
	json_decref(join(&E.c[0], "web-1"));
	st = e2e_api("POST", "/api/clients/web-1/mix", "{\"channels\":[3],"
	    "\"gains\":{\"3\":2.5}}", &o);
	check(st == 200, "POST mix: %d", st);
	json_decref(o);
	ms = e2e_ctl(&E.c[0], "mix_state", NULL);
	check(json_number_value(json_object_get(json_object_get(ms, "gains"),
	    "3")) == 2.5, "the session did not apply the web's mix");
	json_decref(ms);
	json_decref(e2e_ctl(&E.c[0], "channel_update", NULL));

	st = e2e_api("POST", "/api/clients/web-1/mix", "{\"gains\":{\"3\":99}}",
	    &o);
	check(st == 400 && json_string_value(json_object_get(o, "error")),
	    "invalid mix: %d", st);
	json_decref(o);
	check(e2e_api("POST", "/api/clients/nobody/mix", "{}", &o) == 404, "404");
	json_decref(o);

	check(e2e_api("DELETE", "/api/clients/web-1", NULL, &o) == 200, "DELETE");
	json_decref(o);
	check(e2e_api("DELETE", "/api/clients/web-1", NULL, &o) == 404,
	    "DELETE twice");
	json_decref(o);
	/* Forgotten but connected: still listed, not saved. */
	check(e2e_api("GET", "/api/clients", NULL, &o) == 200 &&
	    has_client(o, "web-1"), "connected client not listed");
	json_decref(o);
	v2_close(&E.c[0]);

	/* A disconnected identity's mix can be changed from the web. */
	json_decref(join(&E.c[1], "web-2"));
	v2_close(&E.c[1]);
	check(e2e_api("POST", "/api/clients/web-2/mix", "{\"master_gain\":0.5}",
	    &o) == 200 && json_number_value(json_object_get(o,
	    "master_gain")) == 0.5, "offline mix change");
	json_decref(o);

	st = http_req(E.d.http_port, "GET", "/metrics", NULL, &text, WAIT_MS);
	check(st == 200 && text != NULL &&
	    strstr(text, "# TYPE ringcast_sessions gauge") &&
	    strstr(text, "ringcast_connects_total 2") &&
	    strstr(text, "ringcast_disconnects_total{reason=") &&
	    strstr(text, "ringcast_periods_dropped_total") &&
	    strstr(text, "ringcast_capture_xruns_total") &&
	    strstr(text, "ringcast_child_restarts_total{child=\"capture\"} 0"),
	    "metrics: %s", text ? text : "(none)");
	free(text);
	check(e2e_api("GET", "/api/nothing", NULL, &o) == 404, "unknown path");
	json_decref(o);
}

/* ---- ringcast state import, through the running daemon ---- */

/* An export of n records ("imp-0" ... with aliases "was-0" ...) in dir. */
static const char *
import_file(int n)
{
	static char path[256];

	snprintf(path, sizeof(path), "%s/export.json", E.d.dir);
	cr_assert_eq(records_export_write(path, n, E2E_NCH,
	    1767671704881ull), 0);
	return path;
}

/* `ringcast state --http ... import FILE`: its exit code, output in out. */
static int
state_import_run(const char *file, char *out, size_t len)
{
	char http[64], state[192];
	const char *argv[] = { tu_prog("ringcast"), "state", "-d", state,
	    "--http", http, "import", file, NULL };

	snprintf(http, sizeof(http), "127.0.0.1:%d", E.d.http_port);
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	return tu_run(argv, out, len, WAIT_MS);
}

/*
 * While ringcastd runs the import goes through it (LMDB has one writer):
 * refused whole while one record's identity streams, saying which; taken
 * whole once it has left; 30 records travel in batches.
 */
Test(ringcastd, state_import_through_the_daemon, .timeout = 120)
{
	const char *file;
	char out[8192];
	json_t *e;
	int rc;

	e2e_up("import", NULL);
	file = import_file(30);
	json_decref(join(&E.c[0], "imp-17"));
	rc = state_import_run(file, out, sizeof(out));
	check(rc == 1 && strstr(out, "connected now: imp-17") != NULL &&
	    strstr(out, "nothing was imported") != NULL, "%d: %s", rc, out);
	check(http_client(E.d.http_port, "imp-3") == NULL, "imp-3 imported");
	v2_close(&E.c[0]);
	json_decref(e2e_ended("imp-17"));
	rc = state_import_run(file, out, sizeof(out));
	check(rc == 0 && strstr(out, "imported 30 records") != NULL, "%d: %s",
	    rc, out);
	e = http_client(E.d.http_port, "was-29");
	check(e != NULL && strcmp(v2_str(e, "id"), "imp-29") == 0 &&
	    strcmp(v2_str(e, "name"), "Imported 29") == 0, "imp-29 by its alias");
	json_decref(e);
	/* Its listener comes back to the imported mix. */
	e = join(&E.c[1], "imp-17");
	json_decref(e);
	e = http_client(E.d.http_port, "imp-17");
	check(e != NULL && strcmp(v2_str(e, "name"), "Imported 17") == 0,
	    "imp-17 after the import");
	json_decref(e);
}

/* ---- limits and reload ---- */

Test(ringcastd, max_clients_and_reload, .timeout = 120)
{
	const char *extra[] = { "-f", NULL, NULL };
	char path[256];
	uint64_t end;
	json_t *err;

	cr_assert_eq(rcd_init(&E.d, "max"), 0);
	snprintf(path, sizeof(path), "%s/ringcast.conf", E.d.dir);
	write_conf(path, "max-clients = 2\n");
	extra[1] = path;
	e2e_up("max", extra);
	json_decref(join(&E.c[0], "max-0"));
	json_decref(join(&E.c[1], "max-1"));
	check(v2_open(&E.c[2], E.d.native_port, v2_hello("max-2", NULL),
	    WAIT_MS) == 0,
	    "connect");
	err = e2e_ctl(&E.c[2], "error", NULL);
	check(strstr(json_string_value(json_object_get(err, "message")),
	    "full") != NULL, "refusal");
	json_decref(err);
	check(v2_wait_eof(&E.c[2], WAIT_MS) == V2_EOF, "refused client not "
	    "closed cleanly");
	v2_close(&E.c[2]);

	write_conf(path, "max-clients = 3\n");
	kill(E.d.pid, SIGHUP);
	/* The signal is handled between two requests: ask until it shows. */
	end = clock_mono_ms() + WAIT_MS;
	while (e2e_status_int("max_clients", NULL) != 3 &&
	    clock_mono_ms() < end)
		;
	check(e2e_status_int("max_clients", NULL) == 3, "SIGHUP did not apply "
	    "max-clients");
	json_decref(join(&E.c[2], "max-2"));
}

/* ---- reconnect latency ---- */

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(ringcastd, reconnect_latency, .timeout = 300)
{
	uint64_t t[100], t0;
	struct proto_audio a;
	struct mix want, got;
	json_t *ms;
	bool audio;
	int i;

	e2e_up("lat", NULL);
	json_decref(join(&E.c[0], "lat-1"));
	ms = e2e_change(&E.c[0], json_pack("{s:[ii], s:{s:f}}", "channels", 0, 1,
	    "gains", "1", 0.25));
	e2e_mix(ms, &want);
	json_decref(ms);
	v2_close(&E.c[0]);
	for (i = 0; i < 100; i++) {
		audio = false;
		t0 = clock_mono_ns();
		check(v2_open(&E.c[0], E.d.native_port, v2_hello("lat-1",
		    NULL), WAIT_MS) == 0,
		    "connect");
		json_decref(e2e_ctl(&E.c[0], "handshake_response", &audio));
		ms = e2e_ctl(&E.c[0], "mix_state", &audio);
		e2e_mix(ms, &got);
		check(!audio && mix_equal(&got, &want), "reconnect %d: mix", i);
		json_decref(ms);
		check(v2_recv_audio(&E.c[0], &a, WAIT_MS) == V2_MSG, "no audio");
		t[i] = clock_mono_ns() - t0;
		v2_close(&E.c[0]);
	}
	qsort(t, 100, sizeof(t[0]), cmp_u64);
	cr_log_info("TCP connect to first audio with the restored mix, 100 "
	    "reconnects: p50 %.2f ms, p99 %.2f ms", t[49] / 1e6, t[98] / 1e6);
}

/* ---- supervision of a failing child ---- */

Test(ringcastd, crash_loop_verdict_after_backoff, .timeout = 120)
{
	char lib[256], link[300], script[300], state[256];
	const char *names[] = { "ringcast-broker", "ringcast-sessiond" };
	const char *argv[] = { tu_prog("ringcastd"), "--native", "127.0.0.1:0",
	    "--http", "127.0.0.1:0", "--state", state, "--ring", E.d.ring,
	    NULL };
	int p, i;
	uint64_t t0;
	FILE *f;

	cr_assert_eq(rcd_init(&E.d, "loop"), 0);
	snprintf(lib, sizeof(lib), "%s/libexec", E.d.dir);
	cr_assert(mkdir(lib, 0700) == 0);
	for (i = 0; i < 2; i++) {
		snprintf(link, sizeof(link), "%s/%s", lib, names[i]);
		cr_assert(symlink(tu_prog(names[i]), link) == 0);
	}
	snprintf(script, sizeof(script), "%s/ringcast-capture", lib);
	cr_assert((f = fopen(script, "w")) != NULL);
	fputs("#!/bin/sh\nexit 3\n", f);
	fclose(f);
	chmod(script, 0700);
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	t0 = clock_mono_ms();
	/* Its stderr (the log) into our pipe; its libexec is ours. */
	setenv("RINGCAST_LIBEXEC", lib, 1);
	E.d.pid = tu_spawn((char *const *)(uintptr_t)argv, 2, &p);
	unsetenv("RINGCAST_LIBEXEC");
	cr_assert(E.d.pid > 0);
	check(tu_wait_text(p, "permanent failure", 60000),
	    "no crash-loop verdict");
	/* Backoff 1 + 2 + 4 + 8 s between the five failed starts. */
	check(clock_mono_ms() - t0 >= 10000, "restarts not backed off: %llu ms",
	    (unsigned long long)(clock_mono_ms() - t0));
	close(p);
}

/* ---- privileges ---- */

/* The real uid of pid from /proc, or -1. */
static long
proc_uid(pid_t pid)
{
	return tu_proc_field(pid, "status", "Uid");
}

Test(ringcastd, network_children_drop_to_user, .timeout = 120)
{
	const char *extra[] = { "--user", "nobody", NULL };
	struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_not_null(pw = getpwnam("nobody"), "no user nobody");
	e2e_up("user", extra);
	e2e_listen("user-0", NULL, E2E_NCH);
	check(proc_uid(e2e_child_pid("broker")) == (long)pw->pw_uid,
	    "broker not running as nobody");
	check(proc_uid(e2e_session_pid("user-0")) == (long)pw->pw_uid,
	    "session not running as nobody");
	check(proc_uid(e2e_child_pid("capture")) == (long)pw->pw_uid,
	    "capture not running as nobody");
	e2e_flowing(100);
}
