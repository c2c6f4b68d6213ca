/* broker_api.c — the HTTP routes in one table: method and path to a route, a body to its struct. */
/*
 * Every request is routed here, once.  The broker serves its own routes
 * (the event stream, the WAV stream, the page); an API route becomes a
 * struct msg_api_request with its parameters decoded (the identity from
 * the path, the offset from the query, the body into the route's struct),
 * so the supervisor switches over a route id and never reads HTTP or the
 * client's JSON.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/opt.h"
#include "shared/ring.h"
#include "shared/state.h"
#include "shared/text.h"
#include "broker/broker.h"

enum match {
	EXACT,		/* the path itself */
	PREFIX,		/* the path and anything below it */
	CLIENT,		/* /api/clients/{id}, or /api/clients/{id}/{sub} */
};

/* A POST body's decoder: 0, or an HTTP status with why. */
typedef int body_fn(struct msg_api_request *, const json_t *, char *,
    size_t);

struct route {
	const char	*path;
	enum match	 match;
	const char	*sub;		/* CLIENT: what follows the identity */
	unsigned	 methods;	/* HTTP_* it serves */
	uint32_t	 route;		/* enum api_route, or BROKER_* */
	body_fn		*body;		/* POST: decodes the JSON body */
	enum access	 access;	/* who may (broker_auth.c) */
};

static body_fn	body_client, body_mix, body_channels, body_probe, body_link,
		body_capture, body_import;

#define GET	HTTP_GET
#define POST	HTTP_POST

/* First match wins: specific paths before the prefixes that cover them. */
#define ENG	ACCESS_ENGINEER
static const struct route routes[] = {
	{ "/api/events", EXACT, NULL, GET, BROKER_EVENTS, NULL,
	    ACCESS_LISTENER },
	{ "/api/login", EXACT, NULL, POST, BROKER_LOGIN, NULL, ACCESS_PUBLIC },
	{ "/api/logout", EXACT, NULL, POST, BROKER_LOGOUT, NULL,
	    ACCESS_PUBLIC },
	{ "/api/session", EXACT, NULL, GET, BROKER_SESSION, NULL, ACCESS_ANY },
	{ "/api/status", EXACT, NULL, GET, API_STATUS, NULL, ACCESS_LISTENER },
	{ "/api/clients", EXACT, NULL, GET, API_CLIENTS, NULL, ENG },
	{ "/api/clients/", CLIENT, NULL, GET, API_CLIENT_GET, NULL,
	    ACCESS_OWN },
	{ "/api/clients/", CLIENT, NULL, POST, API_CLIENT_SET, body_client,
	    ENG },
	{ "/api/clients/", CLIENT, NULL, HTTP_DELETE, API_CLIENT_DELETE,
	    NULL, ENG },
	{ "/api/clients/", CLIENT, "mix", POST, API_CLIENT_MIX, body_mix,
	    ACCESS_OWN },
	{ "/api/clients/", CLIENT, "disconnect", POST, API_CLIENT_DISCONNECT,
	    NULL, ENG },
	{ "/api/clients/", CLIENT, "approve", POST, API_CLIENT_APPROVE, NULL,
	    ENG },
	{ "/api/clients/", CLIENT, "link", POST, API_CLIENT_LINK, body_link,
	    ENG },
	{ "/api/channels", EXACT, NULL, GET, API_CHANNELS_GET, NULL, ENG },
	{ "/api/channels", EXACT, NULL, POST, API_CHANNELS_SET,
	    body_channels, ENG },
	{ "/api/test/probe", EXACT, NULL, POST, API_PROBE, body_probe, ENG },
	{ "/api/devices", EXACT, NULL, GET, API_DEVICES, NULL, ENG },
	{ "/api/capture", EXACT, NULL, POST, API_CAPTURE, body_capture, ENG },
	{ "/api/state/import", EXACT, NULL, POST, API_STATE_IMPORT,
	    body_import, ENG },
	{ "/api/publish", EXACT, NULL, GET, API_PUBLISH, NULL, ENG },
	{ "/api/", PREFIX, NULL, 0, 0, NULL, ENG },	/* nothing else under /api */
	{ "/metrics", EXACT, NULL, GET, API_METRICS, NULL, ACCESS_METRICS },
	{ "/stream.wav", EXACT, NULL, GET, BROKER_WAV, NULL, ACCESS_LISTENER },
	{ "/", PREFIX, NULL, GET | HTTP_HEAD, BROKER_STATIC, NULL,
	    ACCESS_PUBLIC },
};

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
	int hi, lo, c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '%') {
			if (i + 2 >= n || (hi = hexval(
			    (unsigned char)s[i + 1])) < 0 || (lo = hexval(
			    (unsigned char)s[i + 2])) < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return text_ident_field(out, outlen) ? 0 : -1;
}

/* Does path fit r?  For the client routes, the identity goes into req. */
static bool
fits(const struct route *r, const char *path, struct msg_api_request *req)
{
	size_t n = strlen(r->path);
	const char *rest, *slash;

	if (r->match == EXACT)
		return strcmp(path, r->path) == 0;
	if (strncmp(path, r->path, n) != 0)
		return false;
	if (r->match == PREFIX)
		return true;
	rest = path + n;
	slash = strchr(rest, '/');
	if (r->sub == NULL ? slash != NULL : slash == NULL ||
	    strcmp(slash + 1, r->sub) != 0)
		return false;
	return decode_id(rest, slash ? (size_t)(slash - rest) : strlen(rest),
	    req->client, sizeof(req->client)) == 0;
}

static int
query_offset(const char *query, uint32_t *offset, char *why, size_t len)
{
	const char *v;
	char num[24];
	long long n;
	size_t l;

	*offset = 0;
	if (query == NULL || (v = strstr(query, "offset=")) == NULL ||
	    (v != query && v[-1] != '&'))
		return 0;
	v += 7;
	l = strcspn(v, "&");
	snprintf(num, sizeof(num), "%.*s", (int)(l < sizeof(num) ? l :
	    sizeof(num) - 1), v);
	if (l >= sizeof(num) || opt_number(num, 0, UINT32_MAX, &n) == -1) {
		errbuf_set(why, len, "offset: a number 0..%u", UINT32_MAX);
		return 400;
	}
	*offset = (uint32_t)n;
	return 0;
}

int
api_match(unsigned method, const char *path, const char *query,
    struct msg_api_request *req, char *why, size_t whylen)
{
	const struct route *r;
	bool seen = false;
	size_t i;

	memset(req, 0, sizeof(*req));
	for (i = 0; path != NULL && i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		if (!fits(r, path, req))
			continue;
		/* A prefix covers only paths no specific route named. */
		if ((r->match == PREFIX && seen) || r->methods == 0)
			break;
		seen = true;
		if ((r->methods & method) == 0)
			continue;
		req->route = r->route;
		if (r->route == API_CLIENTS)
			return query_offset(query, &req->offset, why, whylen);
		return 0;
	}
	errbuf_set(why, whylen, seen ? "method not allowed" : "not found");
	return seen ? 405 : 404;
}

bool
api_route_has_body(uint32_t route)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].route == route && routes[i].body != NULL)
			return true;
	return false;
}

enum access
api_route_access(uint32_t route)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].route == route && routes[i].methods != 0)
			return routes[i].access;
	return ACCESS_ENGINEER;
}

/* Routes that start a process before they can answer. */
int
api_route_reply_ms(uint32_t route)
{
	return route == API_DEVICES || route == API_CAPTURE ?
	    API_SLOW_REPLY_MS : BROKER_REPLY_MS;
}

/* The records of the import being forwarded: decoded just before. */
static struct state_record import_recs[API_IMPORT_BATCH];
static size_t import_n;

const void *
api_route_tail(uint32_t route, size_t *len)
{
	*len = route == API_STATE_IMPORT ? import_n * sizeof(import_recs[0]) :
	    0;
	return *len > 0 ? import_recs : NULL;
}

int
api_decode_body(struct msg_api_request *req, const json_t *body, char *why,
    size_t whylen)
{
	size_t i;

	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (routes[i].route == req->route && routes[i].body != NULL)
			return routes[i].body(req, body, why, whylen);
	return 0;
}

/* ---- bodies ---- */

/* A display name from the API: a JSON string of 1..63 bytes, no controls. */
static bool
name_into(const json_t *v, char out[API_NAME_MAX])
{
	if (!proto_name_valid(v))
		return false;
	snprintf(out, API_NAME_MAX, "%s", json_string_value(v));
	return true;
}

/* {"name": "...", "order": n}: either or both. */
static int
body_client(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	struct api_client_set *c = &req->body.client;
	const json_t *name = json_object_get(body, "name");
	const json_t *order = json_object_get(body, "order");

	c->has_name = name != NULL;
	c->has_order = order != NULL;
	if ((name == NULL && order == NULL) || (name != NULL &&
	    !name_into(name, c->name)) || (order != NULL &&
	    (!json_is_integer(order) || json_integer_value(order) < -1000000 ||
	    json_integer_value(order) > 1000000))) {
		errbuf_set(why, len, "expected {\"name\": 1..63 bytes without "
		    "control characters} and/or {\"order\": an integer}");
		return 400;
	}
	c->order = order != NULL ? (int32_t)json_integer_value(order) : 0;
	return 0;
}

static int
body_mix(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	if (!json_is_object(body)) {
		errbuf_set(why, len, "the body must be a JSON object of "
		    "update_mix fields");
		return 400;
	}
	return mix_patch_from_json(&req->body.mix, body, MIX_MAX_CHANNELS, why,
	    len) == -1 ? 400 : 0;
}

/* {"names": [...]} (a prefix of the channels) or {"channel": c, "name": "..."}. */
static int
body_channels(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	struct api_channels_set *c = &req->body.channels;
	const json_t *names = json_object_get(body, "names"), *v;
	const json_t *ch = json_object_get(body, "channel");
	size_t i;

	if (json_is_array(names) && json_array_size(names) > 0 &&
	    json_array_size(names) <= MIX_MAX_CHANNELS) {
		json_array_foreach(names, i, v)
			if (!name_into(v, c->names[i]))
				goto bad;
		c->n = (uint32_t)json_array_size(names);
		return 0;
	}
	if (json_is_integer(ch) && json_integer_value(ch) >= 0 &&
	    json_integer_value(ch) < MIX_MAX_CHANNELS &&
	    name_into(json_object_get(body, "name"), c->names[0])) {
		c->first = (uint32_t)json_integer_value(ch);
		c->n = 1;
		return 0;
	}
bad:
	errbuf_set(why, len, "expected {\"names\": [up to one name per "
	    "channel]} or {\"channel\": N, \"name\": \"...\"}; a name is "
	    "1..63 bytes without control characters");
	return 400;
}

/* {"target": "...", "syscall": "..."} or {"target": "...", "send": "TYPE"}. */
static int
body_probe(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	struct api_probe *p = &req->body.probe;
	const char *target = json_string_value(json_object_get(body, "target"));
	const char *call = json_string_value(json_object_get(body, "syscall"));
	const char *send = json_string_value(json_object_get(body, "send"));
	uint32_t t;

	if (target == NULL || (call == NULL) == (send == NULL) ||
	    strlen(target) >= sizeof(p->target) || (call != NULL &&
	    strlen(call) >= sizeof(p->action))) {
		errbuf_set(why, len, "target and syscall (or send) strings "
		    "expected");
		return 400;
	}
	snprintf(p->target, sizeof(p->target), "%s", target);
	snprintf(p->action, sizeof(p->action), "%s", call ? call : "send");
	for (t = 1; send != NULL && t < MSG_TYPE_MAX; t++)
		if (strcmp(msg_name(t), send) == 0)
			break;
	p->type = send != NULL ? t : 0;
	if (send != NULL && t == MSG_TYPE_MAX) {
		errbuf_set(why, len, "send: no message type %s", send);
		return 400;
	}
	if (!text_ident_field(p->target, sizeof(p->target)) ||
	    !text_ident_field(p->action, sizeof(p->action))) {
		errbuf_set(why, len, "target and syscall: printable ASCII");
		return 400;
	}
	return 0;
}

/* {"origin": "https://host:port"}: where the listener's link points. */
static int
body_link(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	struct api_link *l = &req->body.link;
	const json_t *o = json_object_get(body, "origin");
	const char *v = json_string_value(o);

	if (v == NULL || json_string_length(o) >= sizeof(l->origin) ||
	    (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) ||
	    strpbrk(v, "#?\"<> ") != NULL || !text_ident(v, strlen(v))) {
		errbuf_set(why, len, "expected {\"origin\": \"http(s)://host"
		    "[:port]\"}");
		return 400;
	}
	snprintf(l->origin, sizeof(l->origin), "%s", v);
	return 0;
}

/* A source's name: 1..size - 1 bytes without control characters. */
static bool
source_into(const json_t *v, char *out, size_t size)
{
	if (!json_is_string(v) || json_string_length(v) == 0 ||
	    json_string_length(v) >= size ||
	    !text_name(json_string_value(v), json_string_length(v)))
		return false;
	snprintf(out, size, "%s", json_string_value(v));
	return true;
}

/* A channel count, or "max" (or nothing): 0, every input of the source. */
static bool
count_into(const json_t *v, uint32_t *out)
{
	*out = 0;
	if (v == NULL || (json_is_string(v) && strcmp(json_string_value(v),
	    "max") == 0))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < 1 ||
	    json_integer_value(v) > RING_MAX_CHANNELS)
		return false;
	*out = (uint32_t)json_integer_value(v);
	return true;
}

/* {"source": "tone" | "auto" | "wav:PATH" | "portaudio:NAME", "channels": N | "max"}. */
static int
body_capture(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	struct api_capture_set *c = &req->body.capture;

	if (!source_into(json_object_get(body, "source"), c->source,
	    sizeof(c->source))) {
		errbuf_set(why, len, "source: a string of 1..%zu bytes without "
		    "control characters: tone, auto, wav:PATH or "
		    "portaudio:NAME", sizeof(c->source) - 1);
		return 400;
	}
	if (!count_into(json_object_get(body, "channels"), &c->channels)) {
		errbuf_set(why, len, "channels: \"max\" or a number 1..%u",
		    RING_MAX_CHANNELS);
		return 400;
	}
	return 0;
}

/*
 * {"import": token (0 for the first batch), "last": true|false,
 * "records": [records as `ringcast state export` writes them]}: each
 * decoded and checked here, sent after the request as its tail.
 */
static int
body_import(struct msg_api_request *req, const json_t *body, char *why,
    size_t len)
{
	const json_t *recs = json_object_get(body, "records"), *v;
	const json_t *token = json_object_get(body, "import");
	const json_t *last = json_object_get(body, "last");
	char err[200];
	size_t i;

	import_n = 0;
	if (!json_is_array(recs) || json_array_size(recs) > API_IMPORT_BATCH ||
	    (token != NULL && (!json_is_integer(token) ||
	    json_integer_value(token) < 0 ||
	    json_integer_value(token) > UINT32_MAX)) ||
	    (last != NULL && !json_is_boolean(last))) {
		errbuf_set(why, len, "expected {\"records\": [at most %d "
		    "records], \"import\": the token of the first batch's "
		    "answer (0 or absent for the first), \"last\": "
		    "true|false}", API_IMPORT_BATCH);
		return 400;
	}
	json_array_foreach(recs, i, v)
		if (state_record_from_json(v, MIX_MAX_CHANNELS, &import_recs[i],
		    err, sizeof(err)) != STATE_OK) {
			errbuf_set(why, len, "records[%zu]: %s", i, err);
			return 400;
		}
	import_n = json_array_size(recs);
	req->body.import.token = token != NULL ?
	    (uint32_t)json_integer_value(token) : 0;
	req->body.import.last = last == NULL || json_is_true(last);
	return 0;
}
