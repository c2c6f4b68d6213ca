/* supervisor_api.c — answers the broker's /api and /metrics requests. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/ring.h"
#include "supervisor/supervisor.h"

/* A reply is one channel message: leave room for the envelope and escaping. */
#define BODY_MAX	(MSG_MAX_PAYLOAD / 2)
#define CT_JSON		"application/json"
#define CT_METRICS	"text/plain; version=0.0.4; charset=utf-8"

struct reply {
	int		 status;
	json_t		*body;		/* object, or a string sent as text */
	const char	*ctype;
};

static void
reply_error(struct reply *r, int status, const char *msg)
{
	r->status = status;
	r->body = json_pack("{s:s}", "error", msg);
	r->ctype = CT_JSON;
}

static void
reply_json(struct reply *r, json_t *body)
{
	if (body == NULL) {
		reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->body = body;
	r->ctype = CT_JSON;
}

static json_t *
service_json(const struct service *s)
{
	return json_pack("{s:o, s:I, s:s, s:b}",
	    "pid", s->child ? json_integer(s->child->pid) : json_null(),
	    "restarts", (json_int_t)s->restarts,
	    "last_exit", s->last_exit,
	    "ready", s->child != NULL && s->child->ready);
}

/* Capture as /api/status and the `capture` event show it. */
json_t *
api_capture_json(void)
{
	json_t *cap = service_json(&sv.capture);

	if (cap != NULL) {
		json_object_set_new(cap, "state", json_string(
		    sv.capture.child == NULL ? "down" :
		    !sv.capture.child->ready ? "starting" :
		    sv.cap.state[0] ? sv.cap.state : "running"));
		json_object_set_new(cap, "source", json_string(sv.cfg.source));
		json_object_set_new(cap, "epoch", json_integer(sv.cap.epoch));
		json_object_set_new(cap, "xruns", json_integer(sv.cap.xruns));
		json_object_set_new(cap, "overruns",
		    json_integer(sv.cap.overruns));
	}
	return cap;
}

static void
get_status(struct reply *r)
{
	json_t *cap = api_capture_json();

	reply_json(r, json_pack("{s:s, s:I, s:i, s:i, s:i, s:s, s:s, s:o, "
	    "s:o, s:i, s:i, s:i}",
	    "version", RINGCAST_VERSION,
	    "uptime_s", (json_int_t)((clock_mono_ms() - sv.start_ms) / 1000),
	    "rate", (int)sv.cfg.rate, "period", (int)sv.cfg.period,
	    "channels", (int)sv.cfg.channels,
	    "source", sv.cfg.source, "ring", sv.cfg.ring,
	    "capture", cap, "broker", service_json(&sv.broker),
	    "sessions", (int)session_count(),
	    "max_clients", (int)sv.cfg.max_clients,
	    "saved", (int)state_count(sv.state)));
	if (r->status == 200) {
		json_object_set_new(r->body, "sandbox_violations",
		    json_integer((json_int_t)sv.sandbox_violations));
		json_object_set_new(r->body, "channel_names",
		    api_channel_names());
	}
}

/* Test only: POST /api/test/probe {"target": "…", "syscall": "…"}. */
static void
post_probe(struct reply *r, const json_t *body)
{
	const char *target = json_string_value(json_object_get(body, "target"));
	const char *call = json_string_value(json_object_get(body, "syscall"));
	char err[256];
	int status;

	if (target == NULL || call == NULL) {
		reply_error(r, 400, "target and syscall strings expected");
		return;
	}
	if ((status = child_probe(target, call, err, sizeof(err))) != 202) {
		reply_error(r, status, err);
		return;
	}
	reply_json(r, json_pack("{s:s, s:s}", "target", target, "syscall",
	    call));
	if (r->status == 200)
		r->status = 202;
}

/* Records in key order from offset, as many as fit one reply. */
struct page {
	json_t		*arr;
	size_t		 skip, size, total;
	bool		 full;
	size_t		 next;
};

static int
page_add(const struct state_record *rec, void *arg)
{
	struct page *p = arg;
	json_t *e;
	size_t n;

	if (p->total++ < p->skip || p->full)
		return 0;
	e = session_entry(rec, session_find(rec->id));
	n = e ? json_dumpb(e, NULL, 0, JSON_COMPACT) + 1 : 0;
	if (e == NULL || p->size + n > BODY_MAX) {
		json_decref(e);
		p->full = true;
		p->next = p->total - 1;
		return 0;
	}
	p->size += n;
	json_array_append_new(p->arr, e);
	return 0;
}

static size_t
query_offset(const char *query)
{
	const char *v;

	if (query == NULL || (v = strstr(query, "offset=")) == NULL)
		return 0;
	return (size_t)strtoul(v + 7, NULL, 10);
}

static void
get_clients(struct reply *r, const char *query)
{
	struct page p = { .arr = json_array(), .skip = query_offset(query) };
	int rc;

	if (p.arr == NULL) {
		reply_error(r, 500, "out of memory");
		return;
	}
	if ((rc = state_each(sv.state, page_add, &p)) < 0) {
		json_decref(p.arr);
		reply_error(r, 500, state_strerror(sv.state, rc));
		return;
	}
	if (p.skip == 0)
		session_unsaved_entries(p.arr);
	reply_json(r, json_pack("{s:o, s:I, s:o}", "clients", p.arr,
	    "total", (json_int_t)p.total,
	    "next", p.full ? json_integer((json_int_t)p.next) : json_null()));
}

static void
get_client(struct reply *r, const char *id)
{
	struct state_record rec;
	struct client *cl = session_find(id);
	int rc = state_get(sv.state, id, &rec);

	if (rc != STATE_OK && rc != STATE_NOTFOUND)
		reply_error(r, 500, state_strerror(sv.state, rc));
	else if (rc == STATE_NOTFOUND && cl == NULL)
		reply_error(r, 404, "no such client");
	else
		reply_json(r, session_entry(rc == STATE_OK ? &rec : NULL, cl));
}

static void
post_mix(struct reply *r, const char *id, const json_t *body)
{
	char err[256];
	struct mix m;
	int status;

	if (!json_is_object(body)) {
		reply_error(r, 400, "the body must be a JSON object of "
		    "update_mix fields");
		return;
	}
	status = session_mix_commit(id, body, "web", &m, err, sizeof(err));
	if (status != 200) {
		reply_error(r, status, err);
		return;
	}
	log_info("client %s: mix changed from the web", id);
	reply_json(r, mix_to_json(&m));
}

/* Forget a saved mix; a connected listener keeps its mix until it leaves. */
static void
delete_client(struct reply *r, const char *id)
{
	int rc = state_del(sv.state, id);

	if (rc == STATE_NOTFOUND)
		reply_error(r, 404, "no such client");
	else if (rc != STATE_OK)
		reply_error(r, 500, state_strerror(sv.state, rc));
	else {
		log_info("client %s: saved mix forgotten", id);
		reply_json(r, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
		api_event("client_updated", json_pack("{s:s, s:b}", "id", id,
		    "deleted", 1));
	}
}

/* ---- /metrics ---- */

static void
metric(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_text(FILE *f)
{
	int i;

	metric(f, "ringcast_sessions", "gauge", "Listener sessions running.");
	fprintf(f, "ringcast_sessions %u\n", session_count());
	metric(f, "ringcast_connects_total", "counter", "Sessions started.");
	fprintf(f, "ringcast_connects_total %llu\n",
	    (unsigned long long)sv.connects);
	metric(f, "ringcast_refused_total", "counter",
	    "Clients refused because the server was full.");
	fprintf(f, "ringcast_refused_total %llu\n",
	    (unsigned long long)sv.refused);
	metric(f, "ringcast_disconnects_total", "counter",
	    "Sessions ended, by reason.");
	for (i = 0; i < SUPER_REASONS; i++)
		fprintf(f, "ringcast_disconnects_total{reason=\"%s\"} %llu\n",
		    super_reasons[i], (unsigned long long)sv.disconnects[i]);
	metric(f, "ringcast_periods_dropped_total", "counter",
	    "Periods sessions dropped because their client did not drain.");
	fprintf(f, "ringcast_periods_dropped_total %llu\n",
	    (unsigned long long)(sv.done_dropped + session_live_dropped()));
	metric(f, "ringcast_capture_xruns_total", "counter",
	    "Overflows the audio source reported.");
	fprintf(f, "ringcast_capture_xruns_total %llu\n",
	    (unsigned long long)sv.cap.xruns);
	metric(f, "ringcast_child_restarts_total", "counter",
	    "Restarts of the capture and broker processes.");
	fprintf(f, "ringcast_child_restarts_total{child=\"capture\"} %llu\n",
	    (unsigned long long)sv.capture.restarts);
	fprintf(f, "ringcast_child_restarts_total{child=\"broker\"} %llu\n",
	    (unsigned long long)sv.broker.restarts);
	metric(f, "ringcast_sandbox_violations_total", "counter",
	    "Children killed by their seccomp list (SIGSYS).");
	fprintf(f, "ringcast_sandbox_violations_total %llu\n",
	    (unsigned long long)sv.sandbox_violations);
}

static void
get_metrics(struct reply *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&buf, &len)) == NULL) {
		reply_error(r, 500, strerror(errno));
		return;
	}
	metrics_text(f);
	fclose(f);
	r->status = 200;
	r->body = json_stringn(buf, len);
	r->ctype = CT_METRICS;
	free(buf);
}

/* ---- names and order ---- */

static char chname[RING_MAX_CHANNELS][64];

static void
chname_default(uint32_t c)
{
	snprintf(chname[c], sizeof(chname[c]), "Ch %u", c + 1);
}

json_t *
api_channel_names(void)
{
	json_t *a = json_array();
	uint32_t c;

	for (c = 0; a != NULL && c < sv.cfg.channels; c++)
		json_array_append_new(a, json_string(chname[c]));
	return a;
}

void
api_channels_load(void)
{
	char names[RING_MAX_CHANNELS][64], buf[STATE_RECORD_MAX];
	uint32_t c, n = 0;
	json_t *a, *v;
	size_t i;

	for (c = 0; c < sv.cfg.channels; c++)
		chname_default(c);
	if (channel_names_parse(sv.cfg.channel_names, sv.cfg.channels, names,
	    &n, buf, sizeof(buf)) == 0)
		for (c = 0; c < n; c++)
			memcpy(chname[c], names[c], sizeof(chname[c]));
	if (sv.state == NULL || state_meta_get(sv.state, "channel_names", buf,
	    sizeof(buf)) != STATE_OK || (a = json_loads(buf, 0, NULL)) == NULL)
		return;
	/* Saved from the UI: they win over the file; null keeps the file's. */
	json_array_foreach(a, i, v)
		if (i < sv.cfg.channels && proto_name_valid(v))
			snprintf(chname[i], sizeof(chname[i]), "%s",
			    json_string_value(v));
	json_decref(a);
}

/* {"names": [...]} (a prefix of the channels) or {"channel": c, "name": "..."}. */
static void
post_channels(struct reply *r, const json_t *body)
{
	char saved[RING_MAX_CHANNELS][64];
	const json_t *names = json_object_get(body, "names"), *v;
	json_t *list;
	json_int_t c = json_integer_value(json_object_get(body, "channel"));
	char *text;
	size_t i;
	int rc;

	memcpy(saved, chname, sizeof(saved));
	if (json_is_array(names) && json_array_size(names) <= sv.cfg.channels) {
		json_array_foreach(names, i, v) {
			if (!proto_name_valid(v))
				goto bad;
			snprintf(chname[i], sizeof(chname[i]), "%s",
			    json_string_value(v));
		}
	} else if (json_is_integer(json_object_get(body, "channel")) &&
	    c >= 0 && c < sv.cfg.channels &&
	    proto_name_valid(v = json_object_get(body, "name")))
		snprintf(chname[c], sizeof(chname[c]), "%s",
		    json_string_value(v));
	else
		goto bad;
	list = api_channel_names();
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	if (text == NULL || (rc = state_meta_put(sv.state, "channel_names",
	    text)) != STATE_OK) {
		memcpy(chname, saved, sizeof(chname));
		reply_error(r, 500, text ? state_strerror(sv.state, rc) :
		    "out of memory");
		free(text);
		return;
	}
	free(text);
	api_event("channels", json_pack("{s:o}", "channel_names",
	    api_channel_names()));
	reply_json(r, json_pack("{s:o}", "channel_names", api_channel_names()));
	return;
bad:
	memcpy(chname, saved, sizeof(chname));
	reply_error(r, 400, "expected {\"names\": [up to one name per "
	    "channel]} or {\"channel\": N, \"name\": \"...\"}; a name is "
	    "1..63 bytes without control characters");
}

/* POST /api/clients/ID {"name": "...", "order": n}: saved in the record. */
static void
post_client(struct reply *r, const char *id, const json_t *body)
{
	const json_t *name = json_object_get(body, "name");
	const json_t *order = json_object_get(body, "order");
	struct client *cl = session_find(id);
	struct state_record rec;
	json_t *e;
	int rc;

	if ((name == NULL && order == NULL) || (name && !proto_name_valid(name)) ||
	    (order && (!json_is_integer(order) ||
	    json_integer_value(order) < -1000000 ||
	    json_integer_value(order) > 1000000))) {
		reply_error(r, 400, "expected {\"name\": 1..63 bytes without "
		    "control characters} and/or {\"order\": an integer}");
		return;
	}
	if (cl != NULL && cl->wav) {
		reply_error(r, 409, "a WAV listener is not saved");
		return;
	}
	rc = state_get(sv.state, id, &rec);
	if (rc == STATE_NOTFOUND && cl == NULL) {
		reply_error(r, 404, "no such client");
		return;
	}
	if (rc != STATE_OK && rc != STATE_NOTFOUND) {
		reply_error(r, 500, state_strerror(sv.state, rc));
		return;
	}
	if (rc == STATE_NOTFOUND) {
		state_record_init(&rec, id, sv.cfg.channels, clock_wall_ms());
		rec.mix = cl->mix;
	}
	if (name != NULL)
		snprintf(rec.name, sizeof(rec.name), "%s",
		    json_string_value(name));
	if (order != NULL)
		rec.order = (int32_t)json_integer_value(order);
	if ((rc = state_put(sv.state, &rec)) != STATE_OK) {
		reply_error(r, 500, state_strerror(sv.state, rc));
		return;
	}
	e = session_entry(&rec, cl);
	api_event("client_updated", json_incref(e));
	reply_json(r, e);
}

/* ---- routing ---- */

static int
hexval(int c)
{
	if (isdigit(c))
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode one path segment into an identity; -1 if it cannot be one. */
static int
decode_id(const char *s, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			if (i + 2 >= n)
				return -1;
			if ((hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

/* /api/clients/{id}[/mix]: the id and whether "/mix" followed. */
static int
client_path(const char *rest, char *id, size_t idlen, bool *mix)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

	*mix = false;
	if (slash != NULL) {
		if (strcmp(slash, "/mix") != 0)
			return -1;
		*mix = true;
	}
	return decode_id(rest, n, id, idlen);
}

static void
route_client(struct reply *r, const char *method, const char *rest,
    const json_t *body)
{
	char id[STATE_ID_MAX];
	bool mix;

	if (client_path(rest, id, sizeof(id), &mix) == -1)
		reply_error(r, 404, "not found");
	else if (mix && strcmp(method, "POST") == 0)
		post_mix(r, id, body);
	else if (!mix && strcmp(method, "GET") == 0)
		get_client(r, id);
	else if (!mix && strcmp(method, "POST") == 0)
		post_client(r, id, body);
	else if (!mix && strcmp(method, "DELETE") == 0)
		delete_client(r, id);
	else
		reply_error(r, 405, "method not allowed");
}

static void
route(struct reply *r, const char *method, char *path, const json_t *body)
{
	char *query = strchr(path, '?');
	bool get = strcmp(method, "GET") == 0;

	if (query != NULL)
		*query++ = '\0';
	if (strncmp(path, "/api/clients/", 13) == 0)
		route_client(r, method, path + 13, body);
	else if (strcmp(path, "/api/status") == 0 && get)
		get_status(r);
	else if (strcmp(path, "/api/clients") == 0 && get)
		get_clients(r, query);
	else if (strcmp(path, "/metrics") == 0 && get)
		get_metrics(r);
	else if (strcmp(path, "/api/channels") == 0 && strcmp(method,
	    "POST") == 0)
		post_channels(r, body);
	else if (strcmp(path, "/api/channels") == 0 && get)
		reply_json(r, json_pack("{s:o}", "channel_names",
		    api_channel_names()));
	else if (strcmp(path, "/api/test/probe") == 0 && sv.cfg.test_probes &&
	    strcmp(method, "POST") == 0)
		post_probe(r, body);
	else if (strcmp(path, "/api/status") == 0 ||
	    strcmp(path, "/api/clients") == 0 || strcmp(path, "/metrics") == 0)
		reply_error(r, 405, "method not allowed");
	else
		reply_error(r, 404, "not found");
}

void
api_request(struct child *broker, const char *data)
{
	struct reply r = { 0 };
	const char *method, *path;
	char buf[1024];
	json_t *o, *id;

	if ((o = json_loads(data, 0, NULL)) == NULL ||
	    !json_is_integer(id = json_object_get(o, "id"))) {
		log_warnx("malformed MSG_BROKER_REQUEST");
		json_decref(o);
		return;
	}
	method = json_string_value(json_object_get(o, "method"));
	path = json_string_value(json_object_get(o, "path"));
	if (method == NULL || path == NULL || strlen(path) >= sizeof(buf))
		reply_error(&r, 400, "bad request");
	else if (sv.state == NULL)
		reply_error(&r, 503, "starting or stopping");
	else {
		snprintf(buf, sizeof(buf), "%s", path);
		route(&r, method, buf, json_object_get(o, "body"));
	}
	if (r.body == NULL)
		reply_error(&r, 500, "out of memory");
	if (child_send_json(broker, MSG_BROKER_REPLY, json_pack("{s:O, s:i, "
	    "s:o, s:s}", "id", id, "status", r.status, "body", r.body,
	    "content_type", r.ctype)) == -1)
		log_warn("MSG_BROKER_REPLY");
	json_decref(o);
}

/* For /api/events subscribers; dropped when the broker is not there. Steals data. */
void
api_event(const char *event, json_t *data)
{
	struct child *b = sv.broker.child;

	if (b == NULL || !b->ready || data == NULL) {
		json_decref(data);
		return;
	}
	(void)child_send_json(b, MSG_BROKER_EVENT, json_pack("{s:s, s:o}",
	    "event", event, "data", data));
}
