/* test_ringcastd.c — ringcastd end to end: the real daemon, its real children, v2 clients and HTTP. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/un.h>

#include <pwd.h>

#include <criterion/criterion.h>

#include "tests/v2client.h"

#define READY_MS	30000	/* generous: a noisy, shared 2-core VM */
#define WAIT_MS		10000
#define NCLIENT		8
#define CHURN		200
#define CHURN_BATCH	8
#define NCH		8

static struct rcd D;
static struct v2c C[NCLIENT];
static struct v2r R[NCLIENT];

static void
setup(void)
{
	int i;

	memset(&D, 0, sizeof(D));
	for (i = 0; i < NCLIENT; i++)
		C[i].fd = -1;
}

/* Runs after a failed assertion too: nothing the test started survives. */
static void
teardown(void)
{
	int i;

	for (i = 0; i < NCLIENT; i++) {
		v2r_stop(&R[i]);
		v2_close(&C[i]);
	}
	rcd_cleanup(&D);
}

TestSuite(ringcastd, .init = setup, .fini = teardown);

#define check(cond, ...)	rcd_check(&D, cond, __VA_ARGS__)

static void
daemon_up(const char *tag, const char *const *extra)
{
	cr_assert_eq(rcd_mkdir(&D, tag), 0, "temp dir");
	check(rcd_start(&D, extra, READY_MS) == 0, "ringcastd not ready "
	    "within %d ms", READY_MS);
}

static json_t *
ctl(struct v2c *c, const char *type, bool *audio_seen)
{
	json_t *o = v2_recv_ctl(c, type, WAIT_MS, audio_seen);

	check(o != NULL, "no %s", type);
	return o;
}

/*
 * Connect as identity id; wait for the handshake response and the mix_state
 * that follows it.  Returns the response.
 */
static json_t *
join(struct v2c *c, const char *id)
{
	json_t *hr;

	check(v2_open(c, D.native_port, id, NULL, WAIT_MS) == 0,
	    "connect %s", id);
	hr = ctl(c, "handshake_response", NULL);
	json_decref(ctl(c, "mix_state", NULL));
	return hr;
}

/* Ask for a mix change and wait for the committed mix_state. */
static json_t *
change(struct v2c *c, json_t *fields)
{
	json_object_set_new(fields, "type", json_string("update_mix"));
	check(v2_send_ctl(c, fields) == 0, "update_mix");
	return ctl(c, "mix_state", NULL);
}

/* A listener subscribed to every channel, its reader thread running. */
static void
steady(int i, const char *id)
{
	json_decref(join(&C[i], id));
	json_decref(change(&C[i], json_pack("{s:[iiiiiiii]}", "channels",
	    0, 1, 2, 3, 4, 5, 6, 7)));
	cr_assert_eq(v2r_start(&R[i], &C[i]), 0, "reader");
	check(v2r_wait(&R[i], 100, WAIT_MS), "listener %s gets no audio", id);
}

static json_t *
status(void)
{
	json_t *o = http_json(D.http_port, "GET", "/api/status", NULL, NULL);

	check(o != NULL, "GET /api/status");
	return o;
}

static pid_t
child_pid(const char *which)
{
	json_t *o = status();
	pid_t pid = json_integer_value(json_object_get(json_object_get(o,
	    which), "pid"));

	json_decref(o);
	check(pid > 0, "no %s pid in /api/status", which);
	return pid;
}

static json_t *
client_entry(const char *id, int *st)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	return http_json(D.http_port, "GET", path, NULL, st);
}

static pid_t
session_pid(const char *id)
{
	json_t *o = client_entry(id, NULL);
	pid_t pid = o ? json_integer_value(json_object_get(o, "pid")) : 0;

	json_decref(o);
	check(pid > 0, "no session pid for %s", id);
	return pid;
}

static void
listeners_flowing(int n, uint64_t packets)
{
	int i;

	for (i = 0; i < n; i++)
		check(v2r_wait(&R[i], packets, WAIT_MS), "listener %d stalled",
		    i);
}

static double
worst_gap_ms(int n)
{
	uint64_t w = 0;
	int i;

	for (i = 0; i < n; i++)
		if (atomic_load(&R[i].max_gap_ns) > w)
			w = atomic_load(&R[i].max_gap_ns);
	return w / 1e6;
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
		check(kill(session_pid(id), SIGKILL) == 0, "kill %s", id);
		v2_wait_eof(c, WAIT_MS);
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
				v2_send_ctl(&b[j], json_pack("{s:s, s:[ii]}",
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

	daemon_up("iso", NULL);
	for (i = 0; i < 4; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		steady(i, id);
	}
	churn(CHURN);
	listeners_flowing(4, 300);
	for (i = 0; i < 4; i++)
		v2r_stop(&R[i]);
	cr_log_info("isolation: %d sessions came and went; steady listeners' "
	    "worst arrival gap %.1f ms", CHURN, worst_gap_ms(4));
	for (i = 0; i < 4; i++) {
		check(!atomic_load(&R[i].failed), "listener %d failed", i);
		check(atomic_load(&R[i].gaps) == 0 &&
		    atomic_load(&R[i].backwards) == 0,
		    "listener %d lost periods: %llu gaps", i,
		    (unsigned long long)atomic_load(&R[i].gaps));
		snprintf(id, sizeof(id), "steady-%d", i);
		e = client_entry(id, NULL);
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

	check(v2_open(c, D.native_port, "launch-2", id, WAIT_MS) == 0,
	    "reconnect %s", when);
	hr = ctl(c, "handshake_response", &audio);
	check(json_is_true(json_object_get(hr, "state_restored")) &&
	    json_is_true(json_object_get(hr, "is_reconnection")),
	    "%s: not restored", when);
	check(strcmp(json_string_value(json_object_get(hr, "persistent_id")),
	    id) == 0, "%s: persistent_id", when);
	ms = ctl(c, "mix_state", &audio);
	check(!audio, "%s: audio before the mix_state", when);
	check(v2_mix(ms, NCH, &got) == 0 && mix_equal(&got, want),
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

	daemon_up("mix", NULL);
	check(v2_open(&C[0], D.native_port, "launch-1", id, WAIT_MS) == 0,
	    "connect");
	hr = ctl(&C[0], "handshake_response", NULL);
	check(json_is_false(json_object_get(hr, "state_restored")),
	    "a new identity restored");
	json_decref(hr);
	json_decref(ctl(&C[0], "mix_state", NULL));
	ms = change(&C[0], saved_mix_fields());
	check(v2_mix(ms, NCH, &want) == 0 && want.master > 0.79f,
	    "mix_state");
	json_decref(ms);
	v2_close(&C[0]);

	expect_restored(&C[0], id, &want, "after a disconnect");

	check(kill(session_pid(id), SIGKILL) == 0, "kill session");
	check(v2_wait_eof(&C[0], WAIT_MS), "session killed, socket open");
	v2_close(&C[0]);
	expect_restored(&C[0], id, &want, "after SIGKILL of the session");
	v2_close(&C[0]);

	st = rcd_stop(&D, 15000);
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "stop: status 0x%x", st);
	check(rcd_start(&D, NULL, READY_MS) == 0, "restart");
	expect_restored(&C[0], id, &want, "after a ringcastd restart");
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

	daemon_up("burst", NULL);
	json_decref(join(&C[0], id));
	for (k = 1; k <= 400; k++)
		check(v2_send_ctl(&C[0], json_pack("{s:s, s:{s:f}}", "type",
		    "update_mix", "gains", "0", k / 1000.0)) == 0, "send");
	while (acks < 30 && (ms = ctl(&C[0], "mix_state", NULL)) != NULL) {
		last = acked_k(ms);
		acks++;
		json_decref(ms);
	}
	check(kill(D.pid, SIGKILL) == 0, "kill ringcastd");
	tu_wait_exit(D.pid, WAIT_MS);
	D.pid = 0;
	/* Whatever still arrives was committed before it was sent. */
	while ((ms = v2_recv_ctl(&C[0], "mix_state", WAIT_MS, NULL)) != NULL) {
		last = acked_k(ms);
		acks++;
		json_decref(ms);
	}
	v2_close(&C[0]);
	check(rcd_start(&D, NULL, READY_MS) == 0, "restart after SIGKILL");
	e = client_entry(id, &st);
	check(e != NULL, "GET the record: %d", st);
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
	pid_t old, now;
	json_t *o;
	int i;

	daemon_up("cap", NULL);
	steady(0, "cap-0");
	steady(1, "cap-1");
	/* Over a second of audio: the capture has been running fine. */
	listeners_flowing(2, 1000);
	old = child_pid("capture");
	for (i = 0; i < 2; i++)
		atomic_store(&R[i].max_gap_ns, 0);
	check(kill(old, SIGKILL) == 0, "kill capture");
	/* A second of audio after the kill: the new capture is feeding them. */
	listeners_flowing(2, 750);
	cr_log_info("capture SIGKILL: longest silence at the listeners %.1f "
	    "ms", worst_gap_ms(2));
	check(worst_gap_ms(2) < 1000, "audio took too long to resume");
	for (i = 0; i < 2; i++) {
		check(!atomic_load(&R[i].failed), "listener %d dropped", i);
		check(atomic_load(&R[i].backwards) == 0, "listener %d: "
		    "positions went back", i);
	}
	now = child_pid("capture");
	check(now != old, "capture not replaced");
	o = status();
	check(json_integer_value(json_object_get(json_object_get(o,
	    "capture"), "restarts")) == 1, "restarts != 1");
	json_decref(o);
}

Test(ringcastd, broker_sigkill_spares_streams, .timeout = 180)
{
	pid_t old;
	json_t *o;
	int i;

	daemon_up("brk", NULL);
	steady(0, "brk-0");
	steady(1, "brk-1");
	old = child_pid("broker");
	check(kill(old, SIGKILL) == 0, "kill broker");
	/* The listener stays bound: this connection waits for the new broker. */
	json_decref(join(&C[2], "brk-new"));
	listeners_flowing(2, 300);
	for (i = 0; i < 2; i++) {
		check(!atomic_load(&R[i].failed), "listener %d dropped", i);
		check(atomic_load(&R[i].gaps) == 0, "listener %d lost periods",
		    i);
	}
	o = status();
	check(json_integer_value(json_object_get(json_object_get(o,
	    "broker"), "restarts")) == 1, "broker restarts != 1");
	check(json_integer_value(json_object_get(o, "sessions")) == 3,
	    "sessions != 3");
	json_decref(o);
	cr_log_info("broker SIGKILL: listeners' worst gap %.1f ms",
	    worst_gap_ms(2));
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
	daemon_up("stop", NULL);
	unsetenv("NOTIFY_SOCKET");
	check(notify_wait(nfd, "READY=1"), "no READY=1 on NOTIFY_SOCKET");
	json_decref(join(&C[0], "stop-0"));
	json_decref(join(&C[1], "stop-1"));
	pids[0] = child_pid("capture");
	pids[1] = child_pid("broker");
	pids[2] = session_pid("stop-0");
	pids[3] = session_pid("stop-1");
	st = rcd_stop(&D, 15000);
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ringcastd status 0x%x", st);
	check(notify_wait(nfd, "STOPPING=1"), "no STOPPING=1");
	for (i = 0; i < 4; i++)
		check(kill(pids[i], 0) == -1 && errno == ESRCH,
		    "child %d outlived ringcastd", (int)pids[i]);
	for (i = 0; i < 2; i++)
		check(v2_wait_eof(&C[i], WAIT_MS), "client %d still open", i);
	fd = shm_open(D.ring, O_RDONLY, 0);
	check(fd == -1 && errno == ENOENT, "ring %s not unlinked", D.ring);
	close(nfd);
}

/* ---- configuration ---- */

/* Run ringcastd to completion; its exit code, stdout+stderr in out. */
static int
run(const char *const *argv, char *out, size_t len)
{
	int p[2], st;
	size_t have = 0;
	ssize_t n;
	pid_t pid;

	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	cr_assert((pid = fork()) != -1);
	if (pid == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	while (have < len - 1 && (n = read(p[0], out + have,
	    len - 1 - have)) > 0)
		have += n;
	out[have] = '\0';
	close(p[0]);
	st = tu_wait_exit(pid, WAIT_MS);
	if (st == -1) {
		kill(pid, SIGKILL);
		tu_wait_exit(pid, WAIT_MS);
	}
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

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

	snprintf(path, sizeof(path), "%s/ringcast.conf", D.dir);
	write_conf(path, conf);
	if (arg != NULL) {
		argv[n++] = "--native";
		argv[n++] = arg;
	}
	argv[n] = NULL;
	rc = run(argv, out, sizeof(out));
	cr_assert_eq(rc, code, "conf \"%s\": exit %d, want %d: %s", conf, rc,
	    code, out);
	cr_assert(strstr(out, text) != NULL, "conf \"%s\": \"%s\" not in: %s",
	    conf, text, out);
}

Test(ringcastd, check_mode_reports_clearly, .timeout = 60)
{
	cr_assert_eq(rcd_mkdir(&D, "conf"), 0);
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
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	char addr[64], state[256], out[4096];
	int l, rc;

	cr_assert_eq(rcd_mkdir(&D, "port"), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1);
	cr_assert(bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&a,
	    &al) == 0);
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", ntohs(a.sin_port));
	snprintf(state, sizeof(state), "%s/state", D.dir);
	{
		const char *argv[] = { tu_prog("ringcastd"), "--native", addr,
		    "--http", "127.0.0.1:0", "--state", state, "--ring",
		    D.ring, NULL };

		rc = run(argv, out, sizeof(out));
	}
	close(l);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, out);
	cr_assert(strstr(out, "address already in use") != NULL &&
	    strstr(out, addr) != NULL, "unclear: %s", out);
}

/* ---- the API ---- */

static int
api(const char *method, const char *path, const char *body, json_t **out)
{
	int st;
	char *resp;

	st = http_req(D.http_port, method, path, body, &resp, WAIT_MS);
	*out = resp ? json_loads(resp, 0, NULL) : NULL;
	free(resp);
	return st;
}

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

	daemon_up("api", NULL);
	json_decref(join(&C[0], "web-1"));
	st = api("POST", "/api/clients/web-1/mix", "{\"channels\":[3],"
	    "\"gains\":{\"3\":2.5}}", &o);
	check(st == 200, "POST mix: %d", st);
	json_decref(o);
	ms = ctl(&C[0], "mix_state", NULL);
	check(json_number_value(json_object_get(json_object_get(ms, "gains"),
	    "3")) == 2.5, "the session did not apply the web's mix");
	json_decref(ms);
	json_decref(ctl(&C[0], "channel_update", NULL));

	st = api("POST", "/api/clients/web-1/mix", "{\"gains\":{\"3\":99}}",
	    &o);
	check(st == 400 && json_string_value(json_object_get(o, "error")),
	    "invalid mix: %d", st);
	json_decref(o);
	check(api("POST", "/api/clients/nobody/mix", "{}", &o) == 404, "404");
	json_decref(o);

	check(api("DELETE", "/api/clients/web-1", NULL, &o) == 200, "DELETE");
	json_decref(o);
	check(api("DELETE", "/api/clients/web-1", NULL, &o) == 404,
	    "DELETE twice");
	json_decref(o);
	/* Forgotten but connected: still listed, not saved. */
	check(api("GET", "/api/clients", NULL, &o) == 200 &&
	    has_client(o, "web-1"), "connected client not listed");
	json_decref(o);
	v2_close(&C[0]);

	/* A disconnected identity's mix can be changed from the web. */
	json_decref(join(&C[1], "web-2"));
	v2_close(&C[1]);
	check(api("POST", "/api/clients/web-2/mix", "{\"master_gain\":0.5}",
	    &o) == 200 && json_number_value(json_object_get(o,
	    "master_gain")) == 0.5, "offline mix change");
	json_decref(o);

	st = http_req(D.http_port, "GET", "/metrics", NULL, &text, WAIT_MS);
	check(st == 200 && text != NULL &&
	    strstr(text, "# TYPE ringcast_sessions gauge") &&
	    strstr(text, "ringcast_connects_total 2") &&
	    strstr(text, "ringcast_disconnects_total{reason=") &&
	    strstr(text, "ringcast_periods_dropped_total") &&
	    strstr(text, "ringcast_capture_xruns_total") &&
	    strstr(text, "ringcast_child_restarts_total{child=\"capture\"} 0"),
	    "metrics: %s", text ? text : "(none)");
	free(text);
	check(api("GET", "/api/nothing", NULL, &o) == 404, "unknown path");
	json_decref(o);
}

/* ---- limits and reload ---- */

static int
max_clients_now(void)
{
	json_t *o = status();
	int n = json_integer_value(json_object_get(o, "max_clients"));

	json_decref(o);
	return n;
}

Test(ringcastd, max_clients_and_reload, .timeout = 120)
{
	const char *extra[] = { "-f", NULL, NULL };
	char path[256];
	uint64_t end;
	json_t *err;

	cr_assert_eq(rcd_mkdir(&D, "max"), 0);
	snprintf(path, sizeof(path), "%s/ringcast.conf", D.dir);
	write_conf(path, "max-clients = 2\n");
	extra[1] = path;
	check(rcd_start(&D, extra, READY_MS) == 0, "start");
	json_decref(join(&C[0], "max-0"));
	json_decref(join(&C[1], "max-1"));
	check(v2_open(&C[2], D.native_port, "max-2", NULL, WAIT_MS) == 0,
	    "connect");
	err = ctl(&C[2], "error", NULL);
	check(strstr(json_string_value(json_object_get(err, "message")),
	    "full") != NULL, "refusal");
	json_decref(err);
	check(v2_wait_eof(&C[2], WAIT_MS), "refused client not closed");
	v2_close(&C[2]);

	write_conf(path, "max-clients = 3\n");
	kill(D.pid, SIGHUP);
	/* The signal is handled between two requests: ask until it shows. */
	end = tu_now_ms() + WAIT_MS;
	while (max_clients_now() != 3 && tu_now_ms() < end)
		;
	check(max_clients_now() == 3, "SIGHUP did not apply max-clients");
	json_decref(join(&C[2], "max-2"));
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

	daemon_up("lat", NULL);
	json_decref(join(&C[0], "lat-1"));
	ms = change(&C[0], json_pack("{s:[ii], s:{s:f}}", "channels", 0, 1,
	    "gains", "1", 0.25));
	check(v2_mix(ms, NCH, &want) == 0, "mix");
	json_decref(ms);
	v2_close(&C[0]);
	for (i = 0; i < 100; i++) {
		audio = false;
		t0 = tu_now_ns();
		check(v2_open(&C[0], D.native_port, "lat-1", NULL, WAIT_MS) == 0,
		    "connect");
		json_decref(ctl(&C[0], "handshake_response", &audio));
		ms = ctl(&C[0], "mix_state", &audio);
		check(!audio && v2_mix(ms, NCH, &got) == 0 &&
		    mix_equal(&got, &want), "reconnect %d: mix", i);
		json_decref(ms);
		check(v2_recv_audio(&C[0], &a, WAIT_MS) == 1, "no audio");
		t[i] = tu_now_ns() - t0;
		v2_close(&C[0]);
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
	int p[2], lfd, i;
	uint64_t t0;
	FILE *f;

	cr_assert_eq(rcd_mkdir(&D, "loop"), 0);
	snprintf(lib, sizeof(lib), "%s/libexec", D.dir);
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
	snprintf(state, sizeof(state), "%s/state", D.dir);
	cr_assert(pipe2(p, O_CLOEXEC) == 0);
	t0 = tu_now_ms();
	if ((D.pid = fork()) == 0) {
		lfd = open("/dev/null", O_RDONLY);
		dup2(lfd, 0);
		dup2(p[1], 2);
		setenv("RINGCAST_LIBEXEC", lib, 1);
		execl(tu_prog("ringcastd"), "ringcastd", "--native",
		    "127.0.0.1:0", "--http", "127.0.0.1:0", "--state", state,
		    "--ring", D.ring, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	cr_assert(D.pid > 0);
	check(tu_wait_text(p[0], "permanent failure", 60000),
	    "no crash-loop verdict");
	/* Backoff 1 + 2 + 4 + 8 s between the five failed starts. */
	check(tu_now_ms() - t0 >= 10000, "restarts not backed off: %llu ms",
	    (unsigned long long)(tu_now_ms() - t0));
	close(p[0]);
}

/* ---- privileges ---- */

/* The real uid of pid from /proc, or -1. */
static long
proc_uid(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Uid: %ld", &uid) == 1)
			break;
	fclose(f);
	return uid;
}

Test(ringcastd, network_children_drop_to_user, .timeout = 120)
{
	const char *extra[] = { "--user", "nobody", NULL };
	struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("needs root");
	cr_assert_not_null(pw = getpwnam("nobody"), "no user nobody");
	daemon_up("user", extra);
	steady(0, "user-0");
	check(proc_uid(child_pid("broker")) == (long)pw->pw_uid,
	    "broker not running as nobody");
	check(proc_uid(session_pid("user-0")) == (long)pw->pw_uid,
	    "session not running as nobody");
	check(proc_uid(child_pid("capture")) == (long)pw->pw_uid,
	    "capture not running as nobody");
	listeners_flowing(1, 100);
}
