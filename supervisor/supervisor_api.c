/* supervisor_api.c — answers the API requests the broker routed: one handler per route. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/ring.h"
#include "supervisor/supervisor.h"

/* A reply is one channel message: room for the body after its header. */
#define BODY_MAX	(MSG_MAX_PAYLOAD - (int)sizeof(struct msg_api_reply))

struct reply {
	int		 status;
	json_t		*body;		/* JSON; or NULL with text */
	char		*text;		/* CTYPE_METRICS */
};

static void
fail(struct reply *r, int status, const char *msg)
{
	r->status = status;
	r->body = json_pack("{s:s}", "error", msg);
}

static void
answer(struct reply *r, json_t *body)
{
	if (body == NULL) {
		fail(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->body = body;
}

static json_t *
service_json(const struct service *s)
{
	return json_pack("{s:o, s:I, s:s, s:b, s:o}",
	    "pid", s->child ? json_integer(s->child->pid) : json_null(),
	    "restarts", (json_int_t)s->restarts,
	    "last_exit", s->last_exit,
	    "ready", s->child != NULL && s->child->ready,
	    "version", s->child && s->child->version[0] ?
	    json_string(s->child->version) : json_null());
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
		    sv.cap.stalled ? "stalled" :
		    sv.cap.state[0] ? sv.cap.state : "running"));
		json_object_set_new(cap, "source", json_string(
		    source_current()));
		json_object_set_new(cap, "channels", json_integer(sv.channels));
		json_object_set_new(cap, "epoch", json_integer(sv.cap.epoch));
		json_object_set_new(cap, "xruns", json_integer(sv.cap.xruns));
		json_object_set_new(cap, "overruns",
		    json_integer(sv.cap.overruns));
		if (ingest_source(sv.cfg.source))
			json_object_set_new(cap, "ingest", ingest_json());
	}
	return cap;
}

static void
get_status(struct reply *r)
{
	json_t *cap = api_capture_json();

	answer(r, json_pack("{s:s, s:I, s:i, s:i, s:i, s:s, s:s, s:o, "
	    "s:o, s:i, s:i, s:i}",
	    "version", RINGCAST_VERSION,
	    "uptime_s", (json_int_t)((clock_mono_ms() - sv.start_ms) / 1000),
	    "rate", (int)sv.cfg.rate, "period", (int)sv.cfg.period,
	    "channels", (int)sv.channels,
	    "source", source_current(), "ring", sv.cfg.ring,
	    "capture", cap, "broker", service_json(&sv.broker),
	    "sessions", (int)session_count(),
	    "max_clients", (int)sv.cfg.max_clients,
	    "saved", (int)state_count(sv.state)));
	if (r->status == 200) {
		json_object_set_new(r->body, "sandbox_violations",
		    json_integer((json_int_t)sv.sandbox_violations));
		json_object_set_new(r->body, "channel_names",
		    api_channel_names());
		json_object_set_new(r->body, "native", json_string(
		    sv.native_addr));
		json_object_set_new(r->body, "http", json_string(sv.http_addr));
		json_object_set_new(r->body, "addresses",
		    super_lan_addresses());
		json_object_set_new(r->body, "pid", json_integer(getpid()));
		json_object_set_new(r->body, "upgrade", upgrade_json());
	}
}

/* Test only: POST /api/test/probe. */
static void
post_probe(struct reply *r, const struct api_probe *p)
{
	char err[256];
	int status;

	if (!sv.cfg.test_probes) {
		fail(r, 404, "not found");
		return;
	}
	if ((status = child_probe(p, err, sizeof(err))) != 202) {
		fail(r, status, err);
		return;
	}
	answer(r, json_pack("{s:s, s:s}", "target", p->target, "action",
	    p->action));
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

static void
get_clients(struct reply *r, uint32_t offset)
{
	struct page p = { .arr = json_array(), .skip = offset };
	int rc;

	if (p.arr == NULL) {
		fail(r, 500, "out of memory");
		return;
	}
	if ((rc = state_each(sv.state, page_add, &p)) < 0) {
		json_decref(p.arr);
		fail(r, 500, state_strerror(sv.state, rc));
		return;
	}
	if (p.skip == 0)
		session_unsaved_entries(p.arr);
	answer(r, json_pack("{s:o, s:I, s:o}", "clients", p.arr,
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
		fail(r, 500, state_strerror(sv.state, rc));
	else if (rc == STATE_NOTFOUND && cl == NULL)
		fail(r, 404, "no such client");
	else
		answer(r, session_entry(rc == STATE_OK ? &rec : NULL, cl));
}

static void
post_mix(struct reply *r, const char *id, const struct mix_patch *p)
{
	char err[256];
	struct mix m;
	int status;

	status = session_mix_commit(id, p, ORIGIN_WEB, &m, err, sizeof(err));
	if (status != 200) {
		fail(r, status, err);
		return;
	}
	log_info("client %s: mix changed from the web", id);
	answer(r, mix_to_json(&m));
}

/* Forget a saved mix; a connected listener keeps its mix until it leaves. */
static void
delete_client(struct reply *r, const char *id)
{
	int rc = state_del(sv.state, id);

	if (rc == STATE_NOTFOUND)
		fail(r, 404, "no such client");
	else if (rc != STATE_OK)
		fail(r, 500, state_strerror(sv.state, rc));
	else {
		log_info("client %s: saved mix forgotten", id);
		answer(r, json_pack("{s:s, s:b}", "id", id, "deleted", 1));
		api_event("client_updated", json_pack("{s:s, s:b}", "id", id,
		    "deleted", 1));
	}
}

/* ---- /metrics ---- */

/* One sample, labelled label="key" (quote and backslash escaped) unless label is NULL. */
static void
sample(FILE *f, const char *name, const char *label, const char *key,
    uint64_t v)
{
	if (label == NULL) {
		fprintf(f, "%s %llu\n", name, (unsigned long long)v);
		return;
	}
	fprintf(f, "%s{%s=\"", name, label);
	for (; *key != '\0'; key++)
		fprintf(f, "%s%c", *key == '"' || *key == '\\' ? "\\" : "",
		    *key);
	fprintf(f, "\"} %llu\n", (unsigned long long)v);
}

/* One metric: its help and type, then n samples, labelled label="keys[i]"
 * (keys NULL: one sample, no label). */
static void
metric(FILE *f, const char *name, const char *type, const char *help,
    const char *label, const char *const *keys, const uint64_t *v, int n)
{
	int i;

	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (i = 0; i < n; i++)
		sample(f, name, keys != NULL ? label : NULL,
		    keys != NULL ? keys[i] : NULL, v[i]);
}

void
metric_counters(FILE *f, const struct metric_counter *m, size_t nm,
    const char *label, const char *const *keys, const void *rec,
    size_t stride, int n)
{
	size_t k;
	int i;

	for (k = 0; k < nm && n > 0; k++) {
		fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", m[k].name,
		    m[k].help, m[k].name);
		for (i = 0; i < n; i++)
			sample(f, m[k].name, label, keys != NULL ? keys[i] :
			    NULL, *(const uint64_t *)(const void *)((const char *)
			    rec + (size_t)i * stride + m[k].off));
	}
}

static void
metrics_text(FILE *f)
{
	static const char *const services[] = { "capture", "broker" };
	static const char *const results[] = { [ADOPT_ADOPTED] = "adopted",
	    [ADOPT_REFUSED] = "refused",
	    [ADOPT_INCOMPATIBLE] = "incompatible" };
	static const char *const kinds[] = { [CHILD_CAPTURE] = "capture",
	    [CHILD_BROKER] = "broker", [CHILD_SESSION] = "sessiond",
	    [CHILD_LISTER] = "devices", [CHILD_PUBLISH] = "publish" };
	const uint64_t sessions = session_count(), restarts[] = {
	    sv.capture.restarts, sv.broker.restarts };
	const struct {
		const char	*name, *type, *help;
		const uint64_t	*v;
	} one[] = {
		{ "ringcast_sessions", "gauge", "Listener sessions running.",
		    &sessions },
		{ "ringcast_connects_total", "counter", "Sessions started.",
		    &sv.connects },
		{ "ringcast_refused_total", "counter",
		    "Clients refused because the server was full.",
		    &sv.refused },
		{ "ringcast_periods_dropped_total", "counter", "Periods "
		    "sessions dropped because their client did not drain.",
		    &sv.periods_dropped },
		{ "ringcast_capture_xruns_total", "counter",
		    "Overflows the audio source reported.", &sv.cap.xruns },
		{ "ringcast_capture_stalls_total", "counter", "Times the ring "
		    "stopped advancing while capture was ready.",
		    &sv.cap.stalls },
		{ "ringcast_bookkeeping_commits_total", "counter",
		    "Transactions that wrote connects and exits.",
		    &sv.book_commits },
		{ "ringcast_bookkeeping_notes_total", "counter",
		    "Connects and exits they wrote.", &sv.book_notes },
		{ "ringcast_sandbox_violations_total", "counter",
		    "Children killed by their seccomp list (SIGSYS).",
		    &sv.sandbox_violations },
	};
	size_t i;

	for (i = 0; i < sizeof(one) / sizeof(one[0]); i++)
		metric(f, one[i].name, one[i].type, one[i].help, NULL, NULL,
		    one[i].v, 1);
	metric(f, "ringcast_disconnects_total", "counter",
	    "Sessions ended, by reason.", "reason", super_reasons,
	    sv.disconnects, SUPER_REASONS);
	metric(f, "ringcast_child_restarts_total", "counter",
	    "Restarts of the capture and broker processes.", "child",
	    services, restarts, 2);
	metric(f, "ringcast_adoptions_total", "counter", "Children of a "
	    "previous ringcastd found at start, by what became of them.",
	    "result", results, sv.adoptions, ADOPT_RESULTS);
	metric(f, "ringcast_channel_faults_total", "counter",
	    "Parent-channel messages refused (wrong direction, size or "
	    "contents), by the kind of child involved.", "child", kinds,
	    sv.faults, CHILD_KINDS);
	metric(f, "ringcast_auth_failures_total", "counter",
	    "HTTP credentials refused: wrong, malformed or revoked tokens.",
	    NULL, NULL, &auth_counts()->failed, 1);
	metric(f, "ringcast_auth_limited_total", "counter",
	    "HTTP requests answered 429: their address failed too often.",
	    NULL, NULL, &auth_counts()->limited, 1);
	metric(f, "ringcast_auth_blocks_total", "counter",
	    "Addresses refused for a minute after 20 failed credentials.",
	    NULL, NULL, &auth_counts()->blocks, 1);
	ingest_metrics(f);
	publish_metrics(f);
}

static void
get_metrics(struct reply *r)
{
	size_t len = 0;
	FILE *f;

	if ((f = open_memstream(&r->text, &len)) == NULL) {
		fail(r, 500, strerror(errno));
		return;
	}
	metrics_text(f);
	fclose(f);
	r->status = 200;
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

	for (c = 0; a != NULL && c < sv.channels; c++)
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

	for (c = 0; c < sv.channels; c++)
		chname_default(c);
	/* The file's names for the channels the ring has now. */
	if (channel_names_parse(sv.cfg.channel_names, RING_MAX_CHANNELS, names,
	    &n, buf, sizeof(buf)) == 0)
		for (c = 0; c < n && c < sv.channels; c++)
			memcpy(chname[c], names[c], sizeof(chname[c]));
	if (sv.state == NULL || state_meta_get(sv.state, "channel_names", buf,
	    sizeof(buf)) != STATE_OK || (a = json_loads(buf, 0, NULL)) == NULL)
		return;
	/* Saved from the UI: they win over the file; null keeps the file's. */
	json_array_foreach(a, i, v)
		if (i < sv.channels && proto_name_valid(v))
			snprintf(chname[i], sizeof(chname[i]), "%s",
			    json_string_value(v));
	json_decref(a);
}

/* Names of channels first .. first + n, saved in the meta database. */
static void
post_channels(struct reply *r, const struct api_channels_set *set)
{
	char saved[RING_MAX_CHANNELS][64];
	json_t *list;
	char *text;
	uint32_t i;
	int rc;

	if (set->first + set->n > sv.channels) {
		fail(r, 400, "more names than channels");
		return;
	}
	memcpy(saved, chname, sizeof(saved));
	for (i = 0; i < set->n; i++)
		snprintf(chname[set->first + i], sizeof(chname[0]), "%s",
		    set->names[i]);
	list = api_channel_names();
	text = json_dumps(list, JSON_COMPACT);
	json_decref(list);
	if (text == NULL || (rc = state_meta_put(sv.state, "channel_names",
	    text)) != STATE_OK) {
		memcpy(chname, saved, sizeof(chname));
		fail(r, 500, text ? state_strerror(sv.state, rc) :
		    "out of memory");
		free(text);
		return;
	}
	free(text);
	api_event("channels", json_pack("{s:o}", "channel_names",
	    api_channel_names()));
	answer(r, json_pack("{s:o}", "channel_names", api_channel_names()));
}

/* POST /api/clients/ID {"name": "...", "order": n}: saved in the record. */
static void
post_client(struct reply *r, const char *id, const struct api_client_set *set)
{
	struct client *cl = session_find(id);
	struct state_record rec;
	json_t *e;
	int rc;

	if (cl != NULL && cl->player) {
		fail(r, 409, "a WAV listener is not saved");
		return;
	}
	rc = state_get(sv.state, id, &rec);
	if (rc == STATE_NOTFOUND && cl == NULL) {
		fail(r, 404, "no such client");
		return;
	}
	if (rc != STATE_OK && rc != STATE_NOTFOUND) {
		fail(r, 500, state_strerror(sv.state, rc));
		return;
	}
	if (rc == STATE_NOTFOUND) {
		state_record_init(&rec, id, sv.channels, clock_wall_ms());
		rec.mix = cl->mix;
	}
	if (set->has_name)
		snprintf(rec.name, sizeof(rec.name), "%s", set->name);
	if (set->has_order)
		rec.order = set->order;
	if ((rc = state_put(sv.state, &rec)) != STATE_OK) {
		fail(r, 500, state_strerror(sv.state, rc));
		return;
	}
	e = session_entry(&rec, cl);
	api_event("client_updated", json_incref(e));
	answer(r, e);
}

/* The engineer ends a listener's session (reason "kicked"). */
static void
post_disconnect(struct reply *r, const char *id)
{
	if (session_kick(id) == -1)
		fail(r, 404, "no such client connected");
	else
		answer(r, json_pack("{s:s, s:b}", "id", id, "disconnected", 1));
}

/* Admit approve: the engineer lets a waiting listener stream. */
static void
post_approve(struct reply *r, const char *id)
{
	char err[200];
	int status;

	if ((status = session_approve(id, err, sizeof(err))) != 200)
		fail(r, status, err);
	else
		answer(r, json_pack("{s:s, s:b}", "id", id, "approved", 1));
}

static void
post_link(struct reply *r, const char *id, const struct api_link *l)
{
	json_t *o = auth_link(id, l->origin, &r->status);

	if (r->status == 200)
		answer(r, o);
	else
		r->body = o;
}

/* ---- one handler per route ---- */

static void
post_import(struct reply *r, const struct api_import *b, const char *tail,
    size_t len)
{
	json_t *body;

	r->status = import_batch(b, tail, len, &body);
	r->body = body;
	if (body == NULL)
		fail(r, 500, "out of memory");
}

/* Routes that answer later (api_pending_reply) leave r->status 0. */
static void
route(struct reply *r, struct child *broker, const struct msg_api_request *q,
    const char *tail, size_t taillen)
{
	switch (q->route) {
	case API_STATUS:	get_status(r); break;
	case API_CLIENTS:	get_clients(r, q->offset); break;
	case API_CLIENT_GET:	get_client(r, q->client); break;
	case API_CLIENT_SET:	post_client(r, q->client, &q->body.client); break;
	case API_CLIENT_DELETE:	delete_client(r, q->client); break;
	case API_CLIENT_MIX:	post_mix(r, q->client, &q->body.mix); break;
	case API_CHANNELS_GET:
		answer(r, json_pack("{s:o}", "channel_names",
		    api_channel_names()));
		break;
	case API_CHANNELS_SET:	post_channels(r, &q->body.channels); break;
	case API_METRICS:	get_metrics(r); break;
	case API_PROBE:		post_probe(r, &q->body.probe); break;
	case API_CLIENT_DISCONNECT: post_disconnect(r, q->client); break;
	case API_CLIENT_APPROVE: post_approve(r, q->client); break;
	case API_CLIENT_LINK:	post_link(r, q->client, &q->body.link); break;
	case API_DEVICES:	source_list(broker, q->id); break;
	case API_CAPTURE:	source_switch(broker, q->id, &q->body.capture); break;
	case API_STATE_IMPORT:
		post_import(r, &q->body.import, tail, taillen);
		break;
	case API_PUBLISH:	answer(r, publish_json()); break;
	default:		fail(r, 404, "not found"); break;
	}
}

static void
reply_send(struct child *broker, uint32_t id, struct reply *r)
{
	struct msg_api_reply h = { id, (uint32_t)r->status, r->text ?
	    CTYPE_METRICS : CTYPE_JSON };
	char *text = r->text;

	if (text == NULL && (r->body == NULL || (text = json_dumps(r->body,
	    JSON_COMPACT | JSON_ENCODE_ANY)) == NULL)) {
		h.status = 500;
		text = strdup("{\"error\":\"out of memory\"}");
	}
	if (text != NULL && strlen(text) > BODY_MAX) {
		h.status = 500;
		free(text);
		text = strdup("{\"error\":\"reply too large\"}");
	}
	if (child_send(broker, MSG_BROKER_REPLY, &h, sizeof(h), text,
	    text ? strlen(text) : 0) == -1)
		log_warn("MSG_BROKER_REPLY");
	free(text);
	json_decref(r->body);
}

void
api_request(struct child *broker, const struct msg_api_request *q,
    const char *tail, size_t taillen)
{
	struct reply r = { 0 };

	if (sv.state == NULL)
		fail(&r, 503, "starting or stopping");
	else
		route(&r, broker, q, tail, taillen);
	if (r.status != 0)
		reply_send(broker, q->id, &r);
}

void
api_pending_take(struct api_pending *p, const struct child *broker,
    uint32_t id)
{
	p->id = id;
	p->broker = broker->pid;
}

/*
 * A restarted broker numbers its requests afresh: an answer meant for
 * its predecessor would reach the wrong client, so it is dropped.
 */
void
api_pending_reply(struct api_pending *p, int status, json_t *body)
{
	struct child *b = sv.broker.child;
	struct reply r = { status, body, NULL };

	if (p->broker == 0)
		json_decref(body);
	else if (b == NULL || b->pid != p->broker) {
		log_info("request %u: its broker is gone, answer dropped", p->id);
		json_decref(body);
	} else {
		if (body == NULL)
			fail(&r, 500, "out of memory");
		reply_send(b, p->id, &r);
	}
	p->broker = 0;
}

json_t *
api_error(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return json_pack("{s:s}", "error", buf);
}

/* Kept from the browser that lags first: they come again in a moment. */
static bool
droppable(const char *event)
{
	return strcmp(event, "meters") == 0 || strcmp(event, "stats") == 0;
}

/*
 * For /api/events subscribers; dropped when nobody subscribes or the
 * broker is not there.  Steals data.
 */
void
api_event(const char *event, json_t *data)
{
	struct child *b = sv.broker.child;
	struct msg_event e;
	char *text;

	if (b == NULL || !b->ready || sv.subscribers == 0 || data == NULL) {
		json_decref(data);
		return;
	}
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", event);
	e.droppable = droppable(event);
	/* Compact JSON holds no newline: one SSE data line. */
	text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_REAL_PRECISION(4));
	if (text != NULL)
		(void)child_send(b, MSG_BROKER_EVENT, &e, sizeof(e), text,
		    strlen(text));
	free(text);
	json_decref(data);
}
