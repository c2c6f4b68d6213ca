/* fuzz_api.c — the HTTP API as it runs: the broker's routes and body decoders, the channel's check, the supervisor's handler. */
/*
 * An input is "METHOD PATH[?QUERY]\n" and a body.  It goes the way a
 * request goes: broker_api.c routes it and decodes its body into the
 * struct the broker sends; the parent channel's table must accept that
 * struct; the supervisor's real handler (supervisor_api.c and what it
 * calls, on a real LMDB state with two saved listeners) answers it over a
 * real channel, where a reply and any events must again pass the table.
 */
#include <sys/socket.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"
#include "broker/broker.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "supervisor/supervisor.h"

#define PATH_LINE_MAX	2048

static int chan[2] = { -1, -1 };
static struct child broker;
static char dir[] = "/tmp/rc-fuzz-api-XXXXXX";

/* The state is LMDB's two files in dir. */
static void
teardown(void)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[sizeof(dir) + 16];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

static void
saved(const char *id, uint32_t sub)
{
	struct state_record rec;

	state_record_init(&rec, id, sv.cfg.channels, 1);
	rec.mix.sub[sub] = 1;
	FUZZ_CHECK(state_put(sv.state, &rec) == STATE_OK);
}

/* The supervisor as it stands once started, its broker on our channel. */
static void
setup(void)
{
	char *argv[] = { "ringcastd", "--state", dir, NULL };
	char err[512];

	log_init("fuzz_api", -1);
	FUZZ_CHECK(mkdtemp(dir) != NULL);
	atexit(teardown);
	FUZZ_CHECK(config_load(&sv.cfg, 3, argv, err, sizeof(err)) == 0);
	FUZZ_CHECK((sv.base = event_base_new()) != NULL);
	FUZZ_CHECK(state_open(dir, false, sv.cfg.channels, 0, 0, &sv.state,
	    err, sizeof(err)) == STATE_OK);
	saved("phone-a", 0);
	saved("phone-b", 3);
	api_channels_load();
	FUZZ_CHECK(msg_channel(chan) == 0);
	FUZZ_CHECK(fcntl(chan[0], F_SETFL, O_NONBLOCK) == 0);
	FUZZ_CHECK(fcntl(chan[1], F_SETFL, O_NONBLOCK) == 0);
	broker = (struct child){ .kind = CHILD_BROKER, .pid = getpid(),
	    .chan = chan[0], .ready = true };
	sv.broker.child = &broker;
	sv.subscribers = 1;
}

static unsigned
method_of(const char *m, size_t n)
{
	static const struct { const char *name; unsigned bit; } ms[] = {
		{ "GET", HTTP_GET }, { "POST", HTTP_POST },
		{ "DELETE", HTTP_DELETE }, { "HEAD", HTTP_HEAD },
	};
	size_t i;

	for (i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
		if (strlen(ms[i].name) == n && memcmp(ms[i].name, m, n) == 0)
			return ms[i].bit;
	return HTTP_OTHER;
}

/* Whatever the supervisor sent us: every message valid, replies sane. */
static void
drain(uint32_t want_id)
{
	static struct msg m;
	const struct msg_api_reply *r;
	unsigned replies = 0;
	json_t *o;
	size_t len;
	const char *body;
	int rc;

	while ((rc = msg_recv(chan[1], ROLE_BROKER, ROLE_SUPERVISOR, &m)) == 1) {
		body = msg_tail(&m, &len);
		if (m.hdr.type == MSG_BROKER_EVENT) {
			FUZZ_CHECK((o = json_loadb(body, len, 0, NULL)) != NULL);
			json_decref(o);
			continue;
		}
		FUZZ_CHECK(m.hdr.type == MSG_BROKER_REPLY);
		r = MSG_BODY(&m, struct msg_api_reply);
		FUZZ_CHECK(r->id == want_id);
		if (r->ctype == CTYPE_JSON) {
			FUZZ_CHECK((o = json_loadb(body, len, JSON_DECODE_ANY,
			    NULL)) != NULL);
			json_decref(o);
		}
		replies++;
	}
	FUZZ_CHECK(rc == -1 && errno == EAGAIN);
	FUZZ_CHECK(replies == 1);
}

static void
request(unsigned method, char *path, const uint8_t *body, size_t blen)
{
	static struct msg_api_request req;
	static char buf[MSG_MAX_PAYLOAD];
	static uint32_t id;
	const void *tail;
	size_t tlen;
	char *query = strchr(path, '?'), why[256];
	json_t *o = NULL;
	int status;

	if (query != NULL)
		*query++ = '\0';
	status = api_match(method, path, query, &req, why, sizeof(why));
	FUZZ_CHECK(status == 0 || status == 400 || status == 404 ||
	    status == 405);
	if (status != 0 || req.route >= API_ROUTE_MAX)
		return;
	if (api_route_has_body(req.route)) {
		if (proto_json_body(body, blen, &o, why, sizeof(why)) !=
		    PROTO_OK)
			return;
		status = api_decode_body(&req, o, why, sizeof(why));
		json_decref(o);
		FUZZ_CHECK(status == 0 || status == 400);
		if (status != 0)
			return;
	}
	/* These start a process and answer later: their bodies are fuzzed. */
	if (req.route == API_DEVICES || req.route == API_CAPTURE)
		return;
	req.id = ++id;
	tail = api_route_tail(req.route, &tlen);
	memcpy(buf, &req, sizeof(req));
	if (tlen > 0)
		memcpy(buf + sizeof(req), tail, tlen);
	/* What the broker would send, the supervisor's msg_recv must take. */
	FUZZ_CHECK(msg_valid(MSG_BROKER_REQUEST, buf, sizeof(req) + tlen));
	api_request(&broker, &req, tlen > 0 ? buf + sizeof(req) : NULL, tlen);
	drain(id);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[PATH_LINE_MAX];
	const uint8_t *nl;
	const char *sp;
	size_t n;

	if (chan[0] == -1)
		setup();
	if ((nl = memchr(data, '\n', size)) == NULL ||
	    (n = (size_t)(nl - data)) >= sizeof(line))
		return 0;
	memcpy(line, data, n);
	line[n] = '\0';
	if (strlen(line) != n || (sp = strchr(line, ' ')) == NULL)
		return 0;
	request(method_of(line, (size_t)(sp - line)), (char *)(uintptr_t)sp + 1,
	    nl + 1, size - n - 1);
	return 0;
}
