/* broker_http.c — HTTP front end: routes, the supervisor's API, request deadlines. */
/*
 * evhttp parses; broker_api.c routes.  An API request becomes a
 * MSG_BROKER_REQUEST (its route and decoded parameters) and waits at most
 * BROKER_REPLY_MS for the supervisor's MSG_BROKER_REPLY (then 503).  evhttp only times out idle reads, so each
 * connection also gets a whole-request deadline, request_ms from the
 * accept: a client trickling its request is cut off then.  Every response
 * closes its connection, so that one deadline covers the only request.
 * At most max_pending connections are open: beyond that the listener rests
 * and new clients wait in the kernel's backlog.
 */
#define _GNU_SOURCE	/* dup3 */
#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "shared/log.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "broker/broker.h"

#define HTTP_BODY_MAX		(64 * 1024)
#define HTTP_HEADERS_MAX	(8 * 1024)
#define HTTP_ALL_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | \
    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | \
    EVHTTP_REQ_PATCH)

/* One open connection, until evhttp closes it. */
struct hconn {
	TAILQ_ENTRY(hconn)	 entry;
	struct bufferevent	*bev;
	struct evhttp_connection *evcon;	/* NULL until adopted */
	struct event		*deadline;	/* adoption, then the deadline */
};

/* One request waiting for the supervisor. */
struct hreq {
	struct await		 await;		/* first: a request is an await */
	struct evhttp_request	*req;
};

static struct {
	struct event_base	*base;
	const struct broker_config *cfg;
	struct evhttp		*http;
	struct evconnlistener	*lev;
	struct rest		 rest;
	bool			 listening;
	bool			 paused;	/* out of descriptors */
	bool			 retired;	/* a successor accepts now */
	TAILQ_HEAD(, hconn)	 conns;
	int			 nconns;
	struct hconn		*freeing;	/* see conn_deadline */
	struct awaits		 reqs;
	int			 spare_fd;	/* stands in for a taken socket */
} hs = {
	.conns = TAILQ_HEAD_INITIALIZER(hs.conns),
	.reqs = AWAITS_INITIALIZER(hs.reqs),
};

/* ---- responses ---- */

static void
reply_send(struct evhttp_request *req, int status, const char *ctype,
    const char *data, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *buf;

	if ((buf = evbuffer_new()) == NULL || evbuffer_add(buf, data, len)) {
		log_warnx("out of memory");
		evbuffer_free(buf);
		evhttp_send_error(req, 500, NULL);
		return;
	}
	/* evhttp refuses a value with CR or LF: fall back to plain text. */
	if (evhttp_add_header(h, "Content-Type", ctype) == -1)
		evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_add_header(h, "Connection", "close");
	evhttp_send_reply(req, status, NULL, buf);
	evbuffer_free(buf);
}

static void
reply_json(struct evhttp_request *req, int status, const json_t *body)
{
	static const char oom[] = "{\"error\":\"out of memory\"}";
	char *s;

	if (body == NULL ||
	    (s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY)) == NULL) {
		reply_send(req, 500, "application/json", oom, sizeof(oom) - 1);
		return;
	}
	reply_send(req, status, "application/json", s, strlen(s));
	free(s);
}

static void
reply_error(struct evhttp_request *req, int status, const char *message)
{
	json_t *o = json_pack("{s:s}", "error", message);

	reply_json(req, status, o);
	json_decref(o);
}

/* ---- connections and their whole-request deadline ---- */

/* Rest the listener while out of descriptors or at the connection cap. */
static void
listener_update(void)
{
	bool on = !hs.retired && !hs.paused &&
	    hs.nconns < hs.cfg->max_pending;

	if (on == hs.listening)
		return;
	if ((on ? evconnlistener_enable(hs.lev) :
	    evconnlistener_disable(hs.lev)) == -1)
		fatalx("HTTP listener");
	hs.listening = on;
}

static void
conn_free(struct hconn *c)
{
	if (hs.freeing == c)
		hs.freeing = NULL;
	event_free(c->deadline);
	TAILQ_REMOVE(&hs.conns, c, entry);
	hs.nconns--;
	free(c);
	listener_update();
}

static void
conn_closed(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	conn_free(arg);
}

/*
 * evhttp gives no handle on a connection before its first request is whole.
 * Once the accept callback has returned, the bufferevent made in conn_new
 * has the evhttp_connection as its callback argument: take it to learn of
 * the close and to cut the connection at its deadline.  If evhttp has
 * already dropped the connection (out of memory), the bufferevent has no
 * callbacks left; our reference kept it valid until here.
 */
static void
conn_adopt(struct hconn *c)
{
	bufferevent_event_cb eventcb;
	struct timeval tv;
	void *arg;

	bufferevent_getcb(c->bev, NULL, NULL, &eventcb, &arg);
	if (eventcb == NULL || arg == NULL) {
		bufferevent_decref(c->bev);
		conn_free(c);
		return;
	}
	c->evcon = arg;
	if (evhttp_connection_get_bufferevent(c->evcon) != c->bev)
		fatalx("libevent: HTTP connection not found");
	evhttp_connection_set_closecb(c->evcon, conn_closed, c);
	bufferevent_decref(c->bev);
	broker_tv(&tv, hs.cfg->request_ms);
	if (evtimer_add(c->deadline, &tv) == -1)
		fatalx("HTTP deadline timer");
}

static void
conn_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *c = arg;

	(void)fd;
	(void)what;
	if (c->evcon == NULL) {
		conn_adopt(c);
		return;
	}
	log_debug("HTTP request deadline: connection closed");
	/* conn_closed frees c; should evhttp not call it, free c here. */
	hs.freeing = c;
	evhttp_connection_free(c->evcon);
	if (hs.freeing == c)
		conn_free(c);
}

/* evhttp's bufferevent factory: our hook on every accepted connection. */
static struct bufferevent *
conn_new(struct event_base *base, void *arg)
{
	struct bufferevent *bev;
	struct hconn *c;

	(void)arg;
	/* No BEV_OPT_CLOSE_ON_FREE: evhttp closes the socket itself. */
	if (tls_on())
		bev = tls_bufferevent(base);
	else
		bev = bufferevent_socket_new(base, -1, 0);
	if (bev == NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->deadline = evtimer_new(base, conn_deadline, c)) == NULL) {
		log_warnx("out of memory: HTTP connection has no deadline");
		free(c);
		return bev;
	}
	c->bev = bev;
	bufferevent_incref(bev);	/* until conn_adopt */
	TAILQ_INSERT_TAIL(&hs.conns, c, entry);
	hs.nconns++;
	listener_update();
	event_active(c->deadline, EV_TIMEOUT, 0);
	return bev;
}

/* The whole request is in: from here BROKER_REPLY_MS bounds it. */
static void
conn_request_done(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct hconn *c;

	TAILQ_FOREACH(c, &hs.conns, entry)
		if (c->evcon == evcon && evcon != NULL) {
			evtimer_del(c->deadline);
			return;
		}
}

static void
http_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	hs.paused = false;
	listener_update();
}

static void
accept_error(struct evconnlistener *lev, void *arg)
{
	(void)lev;
	(void)arg;
	hs.paused = true;
	listener_update();
	rest_begin(&hs.rest);
}

/* ---- requests for the supervisor ---- */

/* No supervisor now: the next one is seconds away at most. */
static void
reply_restarting(struct evhttp_request *req)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Retry-After", "1");
	reply_error(req, 503, "server restarting, try again");
}

static void
hreq_expire(struct await *a)
{
	struct hreq *r = (struct hreq *)a;

	log_warnx("request %u: no reply from the supervisor in %d ms",
	    a->id, a->ms);
	reply_error(r->req, 503, "supervisor busy");
	free(r);
}

void
http_orphaned(void)
{
	struct await *a;
	struct hreq *r;

	/* No reply will come: say so now, as to a request made meanwhile. */
	while ((a = TAILQ_FIRST(&hs.reqs.list)) != NULL) {
		await_drop(a);
		r = (struct hreq *)a;
		reply_restarting(r->req);
		free(r);
	}
}

static struct hreq *
hreq_new(struct evhttp_request *req, uint32_t route)
{
	struct hreq *r;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    await_add(&hs.reqs, &r->await, hs.base, api_route_reply_ms(route),
	    hreq_expire) == -1) {
		free(r);
		return NULL;
	}
	r->req = req;
	return r;
}

static unsigned
method_bits(enum evhttp_cmd_type cmd)
{
	switch (cmd) {
	case EVHTTP_REQ_GET:	return HTTP_GET;
	case EVHTTP_REQ_POST:	return HTTP_POST;
	case EVHTTP_REQ_DELETE:	return HTTP_DELETE;
	case EVHTTP_REQ_HEAD:	return HTTP_HEAD;
	default:		return HTTP_OTHER;
	}
}

static bool
is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	size_t n = sizeof(json) - 1;

	return strncasecmp(ct, json, n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* A POST body: one JSON object or array.  0, or an HTTP status and why. */
int
http_body_json(struct evhttp_request *req, json_t **out, char *why,
    size_t len)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	const char *ct, *p;
	size_t n = evbuffer_get_length(in);

	ct = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Content-Type");
	if (ct != NULL && !is_json_type(ct)) {
		snprintf(why, len, "the body must be application/json");
		return 415;
	}
	if (n == 0 || (p = (const char *)evbuffer_pullup(in, -1)) == NULL) {
		snprintf(why, len, "a JSON body is required");
		return 400;
	}
	if (proto_json_body(p, n, out, why, len) != PROTO_OK)
		return 400;
	return 0;
}

/* Pass the request on; the reply (or hreq_expire) answers the client. */
static void
forward(struct evhttp_request *req, struct msg_api_request *api)
{
	struct hreq *r;
	const void *tail;
	size_t len;

	if ((r = hreq_new(req, api->route)) == NULL) {
		reply_error(req, 503, "out of memory");
		return;
	}
	api->id = r->await.id;
	tail = api_route_tail(api->route, &len);
	if (broker_send(MSG_BROKER_REQUEST, api, sizeof(*api), tail, len,
	    -1) == -1) {
		log_warn("MSG_BROKER_REQUEST");
		reply_error(req, 503, "supervisor busy");
		await_drop(&r->await);
		free(r);
	}
}

static void
serve_api(struct evhttp_request *req, struct msg_api_request *api)
{
	json_t *body = NULL;
	char why[256];
	int status = 0;

	if (hs.reqs.n >= hs.cfg->max_pending) {
		reply_error(req, 503, "too many requests");
		return;
	}
	/* Between two supervisors: the next one is seconds away at most. */
	if (broker_orphan()) {
		reply_restarting(req);
		return;
	}
	if (api_route_has_body(api->route) &&
	    ((status = http_body_json(req, &body, why, sizeof(why))) != 0 ||
	    (status = api_decode_body(api, body, why, sizeof(why))) != 0))
		reply_error(req, status, why);
	else
		forward(req, api);
	json_decref(body);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	static struct msg_api_request api;
	struct principal who;
	char why[256];
	int status;

	(void)arg;
	conn_request_done(req);
	status = api_match(method_bits(evhttp_request_get_command(req)),
	    evhttp_uri_get_path(uri), evhttp_uri_get_query(uri), &api, why,
	    sizeof(why));
	if (status != 0) {
		reply_error(req, status, why);
		return;
	}
	if (auth_gate(req, &api, &who) != 0)
		return;
	switch (api.route) {
	case BROKER_EVENTS:
		events_serve(req, &who);
		break;
	case BROKER_WAV:
		wav_serve(req, &who);
		break;
	case BROKER_STATIC:
		static_serve(req);
		break;
	case BROKER_LOGIN:
		auth_login(req);
		break;
	case BROKER_LOGOUT:
		auth_logout(req);
		break;
	case BROKER_SESSION:
		auth_session(req, &who);
		break;
	default:
		serve_api(req, &api);
		break;
	}
}

/* ---- messages from the supervisor ---- */

void
http_reply(const struct msg_api_reply *rep, const char *body, size_t len)
{
	static const char *const ctypes[CTYPE_MAX] = {
		[CTYPE_JSON] = "application/json",
		[CTYPE_METRICS] = "text/plain; version=0.0.4; charset=utf-8",
	};
	struct hreq *r = (struct hreq *)await_take(&hs.reqs, rep->id);

	if (r == NULL) {
		log_debug("reply to request %u came too late", rep->id);
		return;
	}
	reply_send(r->req, (int)rep->status, ctypes[rep->ctype], body, len);
	free(r);
}

const char *
http_reason(uint32_t status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status < 500 ? "Client Error" : "Server Error";
	}
}

void
http_error(struct evhttp_request *req, int status, const char *message)
{
	reply_error(req, status, message);
}

void
http_send(struct evhttp_request *req, int status, const char *ctype,
    const void *data, size_t len)
{
	reply_send(req, status, ctype, data, len);
}

/*
 * Take a request's socket away from evhttp, which has sent nothing yet:
 * a copy for the caller, then the connection freed without touching the
 * client.  evhttp_connection_free shuts down and closes the descriptor it
 * knows, so that number is first detached from the loop and pointed at a
 * spare descriptor.  Safe inside the request callback: evhttp no longer
 * touches the connection once it returns.  Returns the socket, or -1.
 */
int
http_take_socket(struct evhttp_request *req, char *remote, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct bufferevent *bev;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, copy;

	if (tls_on())
		return tls_take(req, remote, len);
	if (evcon == NULL || (bev = evhttp_connection_get_bufferevent(evcon)) ==
	    NULL || (fd = bufferevent_getfd(bev)) == -1)
		return -1;
	if ((copy = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1) {
		log_warn("HTTP: taking a socket");
		return -1;
	}
	snprintf(remote, len, "?");
	if (getpeername(copy, (struct sockaddr *)&ss, &sl) == 0)
		broker_addr_str((struct sockaddr *)&ss, sl, remote, len);
	bufferevent_disable(bev, EV_READ | EV_WRITE);
	if (dup3(hs.spare_fd, fd, O_CLOEXEC) == -1)
		fatal("HTTP: detaching a socket");
	evhttp_connection_free(evcon);
	return copy;
}

void
http_init(struct event_base *base, const struct broker_config *cfg)
{
	struct evhttp_bound_socket *bound;
	struct timeval tv;

	hs.base = base;
	hs.cfg = cfg;
	if ((hs.spare_fd = eventfd(0, EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	if (evutil_make_socket_nonblocking(cfg->http_fd) == -1)
		fatal("HTTP listener: O_NONBLOCK");
	if ((hs.http = evhttp_new(base)) == NULL)
		fatalx("evhttp_new");
	rest_init(&hs.rest, base, "HTTP accept", http_resume);
	evhttp_set_max_body_size(hs.http, HTTP_BODY_MAX);
	evhttp_set_max_headers_size(hs.http, HTTP_HEADERS_MAX);
	/* Idle reads and slow writes; conn_deadline bounds the whole. */
	broker_tv(&tv, cfg->request_ms);
	evhttp_set_timeout_tv(hs.http, &tv);
	/* We answer 405 ourselves, as JSON (evhttp would say 501). */
	evhttp_set_allowed_methods(hs.http, HTTP_ALL_METHODS);
	evhttp_set_bevcb(hs.http, conn_new, NULL);
	evhttp_set_gencb(hs.http, on_request, NULL);
	if ((bound = evhttp_accept_socket_with_handle(hs.http,
	    cfg->http_fd)) == NULL)
		fatalx("HTTP listener");
	hs.lev = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(hs.lev, accept_error);
	hs.listening = true;
}

void
http_stop(void)
{
	hs.retired = true;
	listener_update();
}

int
http_pending(void)
{
	return hs.reqs.n;
}
