/* supervisor_api.c — answers the API requests the broker routed: one handler per route. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		    sv.cap.stalled ? "stalled" :
		    sv.cap.state[0] ? sv.cap.state : "running"));
		json_object_set_new(cap, "source", json_string(sv.cfg.source));
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
		json_object_set_new(r->body, "native", json_string(
		    sv.native_addr));
		json_object_set_new(r->body, "http", json_string(sv.http_addr));
		json_object_set_new(r->body, "addresses",
		    super_lan_addresses());
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
	metric(f, "ringcast_capture_stalls_total", "counter",
	    "Times the ring stopped advancing while capture was ready.");
	fprintf(f, "ringcast_capture_stalls_total %llu\n",
	    (unsigned long long)sv.cap.stalls);
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
	metric(f, "ringcast_channel_faults_total", "counter",
	    "Parent-channel messages refused (wrong direction, size or "
	    "contents), by the kind of child involved.");
	for (i = 0; i < CHILD_KINDS; i++)
		fprintf(f, "ringcast_channel_faults_total{child=\"%s\"} %llu\n",
		    (const char *[]){ "capture", "broker", "sessiond",
		    "publish" }[i], (unsigned long long)sv.faults[i]);
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

/* Names of channels first .. first + n, saved in the meta database. */
static void
post_channels(struct reply *r, const struct api_channels_set *set)
{
	char saved[RING_MAX_CHANNELS][64];
	json_t *list;
	char *text;
	uint32_t i;
	int rc;

	if (set->first + set->n > sv.cfg.channels) {
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
		state_record_init(&rec, id, sv.cfg.channels, clock_wall_ms());
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

/* ---- one handler per route ---- */

static void
route(struct reply *r, const struct msg_api_request *q)
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
api_request(struct child *broker, const struct msg_api_request *q)
{
	struct reply r = { 0 };

	if (sv.state == NULL)
		fail(&r, 503, "starting or stopping");
	else
		route(&r, q);
	reply_send(broker, q->id, &r);
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
