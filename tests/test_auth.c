/* test_auth.c — who may do what: tokens, login, roles, failed attempts, HTTPS and native admission, through the real daemon. */
#define _GNU_SOURCE

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "shared/token.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS
#define REVOKE_MS	1000	/* the daemon's promise for a revocation */

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

TestSuite(auth, .init = e2e_setup, .fini = e2e_teardown, .timeout = 240);

static const char *const auth_on[] = { "--auth", "on", NULL };

/* ---- helpers ---- */

/* `ringcast token -d <state> ARGS…`: its output, checked to succeed. */
static void
run_token(char *out, size_t len, const char *a1, const char *a2,
    const char *a3)
{
	char state[192];
	const char *argv[] = { tu_prog("ringcast"), "token", "-d", state, a1,
	    a2, a3, NULL };
	int rc;

	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	rc = tu_run(argv, out, len, 10000);
	check(rc == 0, "ringcast token %s %s: exit %d: %s", a1, a2 ? a2 : "",
	    rc, out);
}

/* A new token of that role (listener: for id): the token's text. */
static void
token_make(char tok[TOKEN_LEN + 1], const char *role, const char *id)
{
	char out[4096], dummy[TOKEN_ID_LEN + 1], *line, *save = NULL;

	/* stdout and stderr together: the token is the line of its form. */
	run_token(out, sizeof(out), "create", role, id);
	for (line = strtok_r(out, "\n", &save); line != NULL &&
	    !token_parse(line, strlen(line), dummy);
	    line = strtok_r(NULL, "\n", &save))
		;
	check(line != NULL, "create printed no token");
	memcpy(tok, line, TOKEN_LEN + 1);
}

/* A request with these options: its status (body freed). */
static int
req(const struct http_opts *o, const char *method, const char *path,
    const char *body)
{
	char *resp = NULL;
	int st = http_req_with(E.d.http_port, o, method, path, body, &resp,
	    WAIT_MS);

	free(resp);
	return st;
}

static int
as(const char *tok, const char *method, const char *path, const char *body)
{
	struct http_opts o = { NULL, tok, NULL };

	return req(&o, method, path, body);
}

/* POST /api/login with tok: the status; the answer must name want. */
static int
login(const char *tok, const char *want)
{
	char body[128], *resp = NULL;
	int st;

	snprintf(body, sizeof(body), "{\"token\":\"%s\"}", tok);
	st = http_req(E.d.http_port, "POST", "/api/login", body, &resp,
	    WAIT_MS);
	check(st != 200 || (resp && strstr(resp, want)), "login answered %s",
	    resp);
	free(resp);
	return st;
}

/* Before ringcastd starts: the temp dir and its state directory. */
static void
prepare(const char *tag)
{
	char state[192];

	cr_assert_eq(rcd_init(&E.d, tag), 0, "temp dir");
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	cr_assert(mkdir(state, 0750) == 0, "state dir");
}

/*
 * Auth on with an engineer's token and a listener token for phone-a; two
 * phones connected: phone-a, the listener's, and phone-b, somebody else's.
 */
static void
two_phones(const char *tag, char eng[TOKEN_LEN + 1], char lis[TOKEN_LEN + 1])
{
	prepare(tag);
	token_make(eng, "engineer", NULL);
	token_make(lis, "listener", "phone-a");
	e2e_up(tag, auth_on);
	json_decref(e2e_open(&E.c[0], "phone-a", NULL));
	json_decref(e2e_open(&E.c[1], "phone-b", NULL));
}

/* Every route that needs a credential, and how to ask for it. */
static const struct {
	const char	*method, *path, *body;
} guarded[] = {
	{ "GET", "/api/status", NULL },
	{ "GET", "/api/clients", NULL },
	{ "GET", "/api/clients/x", NULL },
	{ "POST", "/api/clients/x", "{\"name\":\"n\"}" },
	{ "DELETE", "/api/clients/x", NULL },
	{ "POST", "/api/clients/x/mix", "{\"master_gain\":1}" },
	{ "POST", "/api/clients/x/disconnect", NULL },
	{ "POST", "/api/clients/x/approve", NULL },
	{ "POST", "/api/clients/x/link", "{\"origin\":\"http://h\"}" },
	{ "GET", "/api/channels", NULL },
	{ "POST", "/api/channels", "{\"names\":[\"a\"]}" },
	{ "GET", "/api/session", NULL },
	{ "GET", "/api/events", NULL },
	{ "GET", "/stream.wav?channels=0", NULL },
	{ "GET", "/metrics", NULL },
};

/* ---- tests ---- */

Test(auth, every_route_needs_a_credential_and_the_page_does_not)
{
	char eng[TOKEN_LEN + 1];
	struct http_opts o = { 0 };
	size_t i;
	int st;

	prepare("auth-401");
	token_make(eng, "engineer", NULL);
	e2e_up("auth-401", auth_on);
	for (i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		st = req(&o, guarded[i].method, guarded[i].path,
		    guarded[i].body);
		check(st == 401, "%s %s without a credential: %d",
		    guarded[i].method, guarded[i].path, st);
	}
	check(as(NULL, "GET", "/", NULL) == 200, "the page needs none");
	check(as(NULL, "GET", "/app.js", NULL) == 200, "nor its script");
	check(as(NULL, "GET", "/sw.js", NULL) == 200, "nor /sw.js");
	check(as(eng, "GET", "/api/status", NULL) == 200, "engineer: status");
	check(as(eng, "GET", "/metrics", NULL) == 200, "engineer: metrics");
	check(as(NULL, "POST", "/api/login", "{\"token\":\"x\"}") == 400,
	    "a malformed login");
	check(login(eng, "\"engineer\"") == 200, "engineer login");
}

Test(auth, login_cookie_roles_and_foreign_origins)
{
	char eng[TOKEN_LEN + 1], lis[TOKEN_LEN + 1];
	char cookie[256], hdr[512];
	struct http_opts o = { 0 };
	char *resp = NULL;
	int st, i;

	two_phones("auth-roles", eng, lis);

	check(login(lis, "\"listener\":\"phone-a\"") == 200,
	    "listener login");
	snprintf(cookie, sizeof(cookie), "Cookie: ringcast_token=%s\r\n", lis);
	o.headers = cookie;
	check(req(&o, "GET", "/api/clients/phone-a", NULL) == 200,
	    "its own entry by cookie");
	check(req(&o, "GET", "/api/clients/phone-b", NULL) == 403,
	    "another's entry");
	check(req(&o, "POST", "/api/clients/phone-b/mix",
	    "{\"master_gain\":0.5}") == 403, "another's mix");
	check(req(&o, "GET", "/api/channels", NULL) == 403, "channels");
	check(req(&o, "POST", "/api/channels", "{\"names\":[\"x\"]}") == 403,
	    "channel names");
	check(req(&o, "DELETE", "/api/clients/phone-b", NULL) == 403,
	    "forgetting a listener");
	check(req(&o, "GET", "/api/clients", NULL) == 403, "the list");
	check(req(&o, "GET", "/metrics", NULL) == 403, "metrics");
	/* Its own mix: committed, and it reaches its phone. */
	check(req(&o, "POST", "/api/clients/phone-a/mix",
	    "{\"channels\":[0,1],\"master_gain\":0.5}") == 200, "own mix");
	json_decref(e2e_ctl(&E.c[0], "mix_state", NULL));
	/* A cookie write from a foreign page, or one a browser marks so. */
	snprintf(hdr, sizeof(hdr), "%sOrigin: http://evil.example\r\n",
	    cookie);
	o.headers = hdr;
	check(req(&o, "POST", "/api/clients/phone-a/mix",
	    "{\"master_gain\":1}") == 403, "foreign Origin");
	snprintf(hdr, sizeof(hdr), "%sSec-Fetch-Site: cross-site\r\n", cookie);
	check(req(&o, "POST", "/api/clients/phone-a/mix",
	    "{\"master_gain\":1}") == 403, "cross-site");
	snprintf(hdr, sizeof(hdr), "%sOrigin: http://127.0.0.1:%d\r\n",
	    cookie, E.d.http_port);
	check(req(&o, "POST", "/api/clients/phone-a/mix",
	    "{\"master_gain\":1}") == 200, "same origin");
	/* The engineer may do everything. */
	for (i = 0; i < 2; i++)
		check(as(eng, "GET", i ? "/api/channels" : "/api/clients",
		    NULL) == 200, "engineer");
	check(as(eng, "POST", "/api/clients/phone-b/mix",
	    "{\"master_gain\":0.5}") == 200, "engineer: any mix");
	st = http_req(E.d.http_port, "POST", "/api/logout", "{}", &resp,
	    WAIT_MS);
	check(st == 200, "logout %d", st);
	free(resp);
}

Test(auth, a_listener_token_hears_and_sees_its_own_alone)
{
	char eng[TOKEN_LEN + 1], lis[TOKEN_LEN + 1], auth[128], url[128];
	static char out[256 * 1024];
	const char *ev[] = { "curl", "-s", "-N", "-m", "4", "-H", auth, url,
	    NULL };
	unsigned long long bytes = 0;
	int fd, code = 0, rc;
	pid_t pid;

	two_phones("auth-own", eng, lis);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", lis);
	/* Its event stream: its own mix changes and the meters, no other's. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/events",
	    E.d.http_port);
	cr_assert((pid = tu_run_start(ev, &fd)) > 0, "curl");
	/* Subscribed once its head came: the events after it are its. */
	check(tu_wait_text(fd, "retry: 1000", WAIT_MS), "no event stream");
	check(as(eng, "POST", "/api/clients/phone-b/mix",
	    "{\"master_gain\":0.25}") == 200, "phone-b's mix");
	check(as(eng, "POST", "/api/clients/phone-a/mix",
	    "{\"master_gain\":0.5}") == 200, "phone-a's mix");
	rc = tu_run_finish(pid, fd, out, sizeof(out), 20000);
	check(strstr(out, "event: mix_changed") && strstr(out,
	    "\"id\":\"phone-a\"") && strstr(out, "event: meters"),
	    "its events missing (curl %d): %.300s", rc, out);
	check(strstr(out, "phone-b") == NULL, "another listener's event: "
	    "%.300s", strstr(out, "phone-b"));
	/* Its WAV: its own mix, whatever the query asks. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stream.wav?"
	    "channels=5", E.d.http_port);
	{
		const char *wav[] = { "curl", "-s", "-m", "2", "-H", auth, "-w",
		    "%{http_code} %{size_download}", "-o", "/dev/null", url,
		    NULL };

		rc = tu_run(wav, out, sizeof(out), 20000);
	}
	check(sscanf(out, "%d %llu", &code, &bytes) == 2 && code == 200 &&
	    bytes > 44, "its own WAV: curl %d, %s", rc, out);
	check(rcd_log_has(&E.d, "(WAV, mixed)"), "not a mix: the query's "
	    "channel was taken");
}

Test(auth, a_revoked_token_fails_within_a_second)
{
	char eng[TOKEN_LEN + 1], out[1024], id[TOKEN_ID_LEN + 1];
	uint64_t t0, now;
	int st;

	prepare("auth-revoke");
	e2e_up("auth-revoke", auth_on);
	/* Made while it runs: works within a second too. */
	token_make(eng, "engineer", NULL);
	t0 = clock_mono_ms();
	while ((st = as(eng, "GET", "/api/status", NULL)) != 200 &&
	    clock_mono_ms() - t0 < REVOKE_MS)
		usleep(20000);	/* polling an outcome, not a sync */
	check(st == 200, "a new token still refused after %d ms: %d",
	    REVOKE_MS, st);
	memcpy(id, eng, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	run_token(out, sizeof(out), "revoke", id, NULL);
	t0 = clock_mono_ms();
	while ((st = as(eng, "GET", "/api/status", NULL)) == 200 &&
	    (now = clock_mono_ms()) - t0 < REVOKE_MS)
		usleep(20000);
	check(st == 401, "a revoked token still works after %d ms",
	    REVOKE_MS);
	run_token(out, sizeof(out), "list", NULL, NULL);
	check(strstr(out, id) == NULL, "list shows the revoked %s", id);
}

Test(auth, guessing_is_penalised_for_that_address_alone)
{
	char eng[TOKEN_LEN + 1], bad[TOKEN_LEN + 1];
	struct http_opts evil = { "127.0.0.2", NULL, NULL };
	json_t *m;
	int i, st, n429 = 0;

	prepare("auth-429");
	token_make(eng, "engineer", NULL);
	e2e_up("auth-429", auth_on);
	e2e_listen("steady-1", NULL, 2);
	e2e_listen("steady-2", NULL, 2);
	steady_reset(&E.s);
	memcpy(bad, eng, sizeof(bad));
	bad[TOKEN_LEN - 1] = bad[TOKEN_LEN - 1] == 'A' ? 'B' : 'A';
	evil.token = bad;
	for (i = 0; i < 25; i++) {
		st = req(&evil, "GET", "/api/status", NULL);
		check(st == 401 || st == 429, "wrong token %d: %d", i, st);
		n429 += st == 429;
	}
	check(n429 == 5, "25 wrong tokens: %d answered 429, not the last 5",
	    n429);
	evil.token = eng;
	check(req(&evil, "GET", "/api/status", NULL) == 429, "a right token "
	    "from the blocked address");
	check(req(&evil, "GET", "/", NULL) == 429, "the page too");
	check(as(eng, "GET", "/api/status", NULL) == 200, "another address "
	    "is unaffected");
	m = NULL;
	{
		char *resp = NULL;
		struct http_opts o = { NULL, eng, NULL };

		st = http_req_with(E.d.http_port, &o, "GET", "/metrics", NULL,
		    &resp, WAIT_MS);
		check(st == 200 && resp && strstr(resp,
		    "ringcast_auth_limited_total 7") && strstr(resp,
		    "ringcast_auth_blocks_total 1"), "metrics: %s", resp);
		free(resp);
	}
	json_decref(m);
	e2e_flowing(100);
	e2e_steady_clean("while an address guessed tokens");
}

Test(auth, the_state_holds_no_token)
{
	char eng[TOKEN_LEN + 1], lis[TOKEN_LEN + 1], dump[65536], state[192];
	const char *argv[] = { "mdb_dump", "-a", "-p", state, NULL };
	int rc;

	prepare("auth-dump");
	token_make(eng, "engineer", NULL);
	token_make(lis, "listener", "phone-a");
	snprintf(state, sizeof(state), "%s/state", E.d.dir);
	rc = tu_run(argv, dump, sizeof(dump), 10000);
	check(rc == 0, "mdb_dump: %d %s", rc, dump);
	check(strstr(dump, "tokens") != NULL, "no tokens database: %s", dump);
	check(strstr(dump, eng + TOKEN_ID_LEN + 1) == NULL &&
	    strstr(dump, lis + TOKEN_ID_LEN + 1) == NULL, "a secret in LMDB");
	check(strstr(dump, eng) == NULL, "a token in LMDB");
}

Test(auth, hostile_credentials_get_400_or_401)
{
	static const char *const cookies[] = {
		"Cookie: ringcast_token=\r\n",
		"Cookie: ringcast_token=;ringcast_token=;\r\n",
		"Cookie: ;;;=;=x; ringcast_token\r\n",
		"Cookie: ringcast_token=aaaaaaaa.%%%%\r\n",
		"Cookie: a=b; ringcast_token=aaaaaaaa.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
	};
	static const char *const bodies[] = {
		"null", "true", "1", "-1.5e300", "\"token\"", "[]",
		"[\"token\"]", "{}", "{\"token\":null}", "{\"token\":1}",
		"{\"token\":[]}", "{\"token\":{}}", "{\"token\":\"\"}",
		"{\"token\":\"x\",\"more\":1}", "{\"token\":\"aaaaaaaa.a\"}",
	};
	char eng[TOKEN_LEN + 1], src[32], *big;
	struct http_opts o = { 0 };
	size_t i, n = 1 << 20;
	int st;

	prepare("auth-hostile");
	token_make(eng, "engineer", NULL);
	e2e_up("auth-hostile", auth_on);
	/* Each from its own address: none of them may reach the 429. */
	cr_assert((big = malloc(n + 64)) != NULL);
	memcpy(big, "Authorization: Bearer ", 22);
	memset(big + 22, 'a', n);
	memcpy(big + 22 + n, "\r\n", 3);
	o.src = "127.0.0.3";
	o.headers = big;
	st = req(&o, "GET", "/api/status", NULL);
	check(st == 400 || st == 401 || st == -1, "1 MiB header: %d", st);
	free(big);
	for (i = 0; i < sizeof(cookies) / sizeof(cookies[0]); i++) {
		snprintf(src, sizeof(src), "127.0.1.%zu", i + 1);
		o.src = src;
		o.headers = cookies[i];
		st = req(&o, "GET", "/api/status", NULL);
		check(st == 401, "cookie %zu: %d", i, st);
	}
	o.headers = NULL;
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		snprintf(src, sizeof(src), "127.0.2.%zu", i + 1);
		o.src = src;
		st = req(&o, "POST", "/api/login", bodies[i]);
		check(st == 400 || st == 401, "login %s: %d", bodies[i], st);
	}
	check(as(eng, "GET", "/api/status", NULL) == 200, "still serving");
}

/* ---- native admission ---- */

/* The control error the broker sends before it closes; checked. */
static void
refused(struct v2c *c, const char *why)
{
	json_t *e = e2e_ctl(c, "error", NULL);

	check(strstr(v2_str(e, "message"), why) != NULL, "error \"%s\", not "
	    "\"%s\"", v2_str(e, "message"), why);
	json_decref(e);
	check(v2_wait_eof(c, WAIT_MS) == V2_EOF, "not closed after the error");
	v2_close(c);
}

Test(auth, admit_known_refuses_strangers_and_serves_saved_ones)
{
	static const char *const args[] = { "--admit", "known",
	    "--affinity-minutes", "0", NULL };
	json_t *e;

	prepare("auth-known");
	e2e_up("auth-known", NULL);
	/* Saved under the open default... */
	json_decref(e2e_open(&E.c[0], "saved-one", NULL));
	json_decref(e2e_change(&E.c[0], v2_channels(2)));
	v2_close(&E.c[0]);
	check((e = e2e_ended("saved-one")) != NULL, "saved-one never ended");
	json_decref(e);
	cr_assert_eq(rcd_stop(&E.d, WAIT_MS) != -1, 1, "stop");
	/* ...and known to the strict daemon. */
	e2e_up("auth-known", args);
	check(v2_open(&E.c[1], E.d.native_port, v2_hello("stranger", NULL),
	    WAIT_MS) == 0, "connect");
	refused(&E.c[1], "not admitted");
	json_decref(e2e_open(&E.c[0], "saved-one", NULL));
	{
		struct proto_audio a;

		check(v2_recv_audio(&E.c[0], &a, WAIT_MS) == V2_MSG,
		    "the saved listener gets no audio");
	}
}

Test(auth, admit_approve_holds_a_stranger_silent_until_approved)
{
	static const char *const args[] = { "--admit", "approve", NULL };
	json_t *e, *fields;
	struct proto_audio a;
	bool audio = false;
	int st;

	prepare("auth-approve");
	e2e_up("auth-approve", args);
	json_decref(e2e_open(&E.c[0], "newcomer", NULL));
	e = http_client(E.d.http_port, "newcomer");
	check(e != NULL && json_is_true(json_object_get(e, "pending")),
	    "not marked pending");
	json_decref(e);
	/* It asks for channels: kept, refused for now, no audio. */
	fields = v2_channels(2);
	json_object_set_new(fields, "type", json_string("update_mix"));
	check(v2_send_ctl(E.c[0].fd, fields) == 0, "update_mix");
	json_decref(e2e_ctl(&E.c[0], "mix_state", &audio));
	check(v2_recv_audio(&E.c[0], &a, 1500) == V2_TIMEOUT && !audio,
	    "audio before approval");
	st = e2e_api("POST", "/api/clients/newcomer/approve", NULL, &e);
	json_decref(e);
	check(st == 200, "approve: %d", st);
	check(v2_recv_audio(&E.c[0], &a, WAIT_MS) == V2_MSG, "no audio after "
	    "approval");
	e = http_client(E.d.http_port, "newcomer");
	check(e != NULL && json_object_get(e, "pending") == NULL &&
	    json_is_true(json_object_get(e, "saved")), "approved, not saved");
	json_decref(e);
	st = e2e_api("POST", "/api/clients/newcomer/approve", NULL, &e);
	json_decref(e);
	check(st == 409, "approved twice: %d", st);
}

Test(auth, a_live_identity_is_not_taken_from_another_address)
{
	struct v2c thief = { .fd = -1 }, again = { .fd = -1 };
	json_t *hr;

	prepare("auth-take");
	e2e_up("auth-take", NULL);
	e2e_listen("victim", NULL, 2);
	e2e_listen("bystander", NULL, 2);
	e2e_flowing(200);	/* healthy: reporting for a while */
	steady_reset(&E.s);
	check(v2_open_from(&thief, E.d.native_port, "127.0.0.9",
	    v2_hello("victim", NULL), WAIT_MS) == 0, "connect");
	refused(&thief, "identity in use");
	e2e_flowing(200);
	e2e_steady_clean("after a takeover from another address");
	/* From the same address: the app's quick reconnect takes over. */
	check(v2_open(&again, E.d.native_port, v2_hello("victim", NULL),
	    WAIT_MS) == 0, "connect");
	hr = e2e_ctl(&again, "handshake_response", NULL);
	json_decref(hr);
	v2_close(&again);
}

/* ---- HTTPS ---- */

/* A test CA and a certificate for 127.0.0.1 in dir, by the openssl CLI. */
static void
make_certs(const char *dir)
{
	char cmd[2048], out[4096];
	const char *argv[] = { "sh", "-c", cmd, NULL };
	int rc;

	snprintf(cmd, sizeof(cmd), "cd '%s' && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=ringcast "
	    "test CA' && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout venue.key -out venue.csr -subj '/CN=127.0.0.1' && "
	    "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext && "
	    "openssl x509 -req -in venue.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -out venue.pem -days 2 -extfile ext", dir);
	rc = tu_run(argv, out, sizeof(out), 30000);
	cr_assert(rc == 0, "openssl: %d %s", rc, out);
}

/* curl's exit code and the status it printed (out: "%{http_code}"). */
static int
curl(const char *url, const char *ca, const char *tok, const char *extra,
    char *out, size_t len)
{
	char auth[128];
	const char *argv[16] = { "curl", "-s", "-m", "10", "-o", "/dev/null",
	    "-w", "%{http_code}" };
	int n = 8;

	if (ca != NULL) {
		argv[n++] = "--cacert";
		argv[n++] = ca;
	}
	if (tok != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
		argv[n++] = "-H";
		argv[n++] = auth;
	}
	if (extra != NULL)
		argv[n++] = extra;
	argv[n++] = url;
	argv[n] = NULL;
	return tu_run(argv, out, len, 20000);
}

Test(auth, https_only_on_the_http_port)
{
	char eng[TOKEN_LEN + 1], cert[256], key[256], ca[256], url[128];
	char out[256];
	const char *args[] = { "--auth", "on", "--tls-cert", cert,
	    "--tls-key", key, NULL };
	int rc;

	prepare("auth-tls");
	make_certs(E.d.dir);
	snprintf(cert, sizeof(cert), "%s/venue.pem", E.d.dir);
	snprintf(key, sizeof(key), "%s/venue.key", E.d.dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", E.d.dir);
	token_make(eng, "engineer", NULL);
	e2e_up("auth-tls", args);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/status",
	    E.d.http_port);
	rc = curl(url, ca, eng, NULL, out, sizeof(out));
	check(rc == 0 && strcmp(out, "200") == 0, "HTTPS with the test CA: "
	    "exit %d, %s", rc, out);
	rc = curl(url, ca, NULL, NULL, out, sizeof(out));
	check(rc == 0 && strcmp(out, "401") == 0, "HTTPS without a token: "
	    "exit %d, %s", rc, out);
	rc = curl(url, NULL, eng, NULL, out, sizeof(out));
	check(rc != 0, "a certificate nobody vouches for was accepted");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", E.d.http_port);
	{
		const char *argv[] = { "curl", "-s", "-m", "10", "-o",
		    "/dev/null", "-w", "%{http_code}", "--cacert", ca,
		    "--tlsv1.1", "--tls-max", "1.1", url, NULL };

		rc = tu_run(argv, out, sizeof(out), 20000);
		check(rc != 0, "TLS 1.1 was accepted: %s", out);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/status",
	    E.d.http_port);
	rc = curl(url, NULL, eng, NULL, out, sizeof(out));
	check(rc != 0 || strcmp(out, "000") == 0, "plain HTTP on the HTTPS "
	    "port answered %s", out);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", E.d.http_port);
	rc = curl(url, ca, NULL, NULL, out, sizeof(out));
	check(rc == 0 && strcmp(out, "200") == 0, "the page over HTTPS: %s",
	    out);
	/* The streams a socket is handed to go through TLS too. */
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/stream.wav?"
	    "channels=0,1", E.d.http_port);
	{
		char auth[128];
		const char *argv[] = { "curl", "-s", "-m", "2", "--cacert", ca,
		    "-H", auth, "-w", "%{http_code} %{size_download}", "-o",
		    "/dev/null", url, NULL };
		unsigned long long bytes = 0;
		int code = 0;

		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", eng);
		rc = tu_run(argv, out, sizeof(out), 20000);
		check(sscanf(out, "%d %llu", &code, &bytes) == 2 && code == 200 &&
		    bytes > 44 + 48000, "WAV over HTTPS: curl %d, %s", rc, out);
	}
}
