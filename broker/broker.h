/* broker.h — internal interface of ringcast-broker: native and HTTP front ends. */
#ifndef RINGCAST_BROKER_H
#define RINGCAST_BROKER_H

#include <sys/queue.h>
#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

#include "shared/adopt.h"
#include "shared/msg.h"

#define BROKER_HANDSHAKE_MS	2000	/* whole handshake, from accept */
#define BROKER_MAX_CLIENTS	64	/* pending handshakes; HTTP connections */
#define BROKER_MAX_PER_ADDR	4	/* pending handshakes per source address */
#define BROKER_REQUEST_MS	10000	/* whole HTTP request, from accept */
#define BROKER_REPLY_MS		2000	/* the supervisor's answer to a request */
#define BROKER_PAUSE_MS		100	/* accept paused when out of descriptors */
#define BROKER_MS_MAX		600000

struct broker_config {
	int	parent_fd;
	int	native_fd;
	int	http_fd;
	int	handshake_ms;
	int	max_pending;
	int	max_per_addr;
	int	request_ms;
	int	verbose;
	const char *web_dir;	/* the web UI's files; NULL: none */
	const char *adopt;	/* --adopt RING: we can outlive the supervisor */
	int	auth;		/* credentials asked for (until told) */
	int	metrics_public;	/* /metrics without a credential */
	const char *tls_cert;	/* PEM files: HTTPS only; NULL: plain */
	const char *tls_key;
};

/* ---- broker.c: the process and its parent channel ---- */

/*
 * Send a message (with a tail, or NULL, and a descriptor, or -1) to the
 * supervisor without blocking.  Returns 0, or -1 with errno: EAGAIN when
 * the channel is full.
 */
int	broker_send(uint32_t type, const void *body, size_t len,
	    const void *tail, size_t taillen, int fd);
/* "ip:port" ("[ip6]:port") of a socket address, for logs and the supervisor. */
void	broker_addr_str(const struct sockaddr *sa, socklen_t len, char *buf,
	    size_t buflen);
void	broker_tv(struct timeval *tv, int ms);
/* No supervisor at the moment: ours died, a new one has not adopted us. */
bool	broker_orphan(void);

/*
 * A listener that fails to accept for a reason that persists (out of
 * descriptors) stays readable: it rests BROKER_PAUSE_MS instead of
 * spinning, said at most once a second.  The caller stops watching it,
 * calls rest_begin, and watches it again in `done`.
 */
struct rest {
	const char	*what;
	struct event	*timer;
	time_t		 logged;
};
void	rest_init(struct rest *r, struct event_base *base, const char *what,
	    event_callback_fn done);
void	rest_begin(struct rest *r);

/*
 * Something waiting for the supervisor's answer (a handed-off client, an
 * HTTP request), embedded in the waiter's own struct: numbered, listed,
 * and given up after ms (BROKER_REPLY_MS, or a slow route's), when
 * `expire` must free it.
 */
struct await;
typedef void (*await_fn)(struct await *);
struct await {
	TAILQ_ENTRY(await)	 entry;
	uint32_t		 id;
	struct event		*deadline;
	struct awaits		*set;
	await_fn		 expire;
	int			 ms;
};
struct awaits {
	TAILQ_HEAD(, await)	 list;
	uint32_t		 next_id;
	int			 n;
};
#define AWAITS_INITIALIZER(s)	{ TAILQ_HEAD_INITIALIZER((s).list), 0, 0 }
/* Numbers and lists a, to expire after ms; 0, or -1 (nothing listed). */
int	await_add(struct awaits *, struct await *a, struct event_base *,
	    int ms, await_fn expire);
/* The one numbered id, taken off the list; NULL when it expired. */
struct await *await_take(struct awaits *, uint32_t id);
/* Off the list (the caller frees its struct). */
void	await_drop(struct await *a);

/* ---- broker_api.c: the routes ---- */

/* Methods, as bits (a route serves several). */
#define HTTP_GET	0x01
#define HTTP_POST	0x02
#define HTTP_DELETE	0x04
#define HTTP_HEAD	0x08
#define HTTP_OTHER	0x10

/* Routes the broker serves itself, after the API's (enum api_route). */
enum {
	BROKER_EVENTS = API_ROUTE_MAX,	/* GET /api/events */
	BROKER_WAV,			/* GET /stream.wav */
	BROKER_STATIC,			/* the web UI's files */
	BROKER_LOGIN,			/* POST /api/login */
	BROKER_LOGOUT,			/* POST /api/logout */
	BROKER_SESSION,			/* GET /api/session: who am I */
};

/* Who may use a route (broker_auth.c applies it). */
enum access {
	ACCESS_ENGINEER,	/* an engineer's token (the default) */
	ACCESS_PUBLIC,		/* anyone: the page, its files, the login */
	ACCESS_ANY,		/* any valid token */
	ACCESS_OWN,		/* a listener's token for its own identity */
	ACCESS_LISTENER,	/* a listener's too, narrowed to its own */
	ACCESS_METRICS,		/* an engineer's, or anyone with metrics-public */
};

/* Whose request it is, once its credential was checked. */
struct principal {
	uint8_t		role;		/* enum token_role */
	bool		cookie;		/* the credential came in a cookie */
	char		listener[TOKEN_LISTENER_MAX];
};

/*
 * The route of method (HTTP_*) on path: 0 with req->route and the path's
 * and query's parameters set, or 404, 405 or 400 with why.
 */
int	api_match(unsigned method, const char *path, const char *query,
	    struct msg_api_request *req, char *why, size_t whylen);
bool	api_route_has_body(uint32_t route);
/* Who may use a route. */
enum access api_route_access(uint32_t route);
/* How long the supervisor may take to answer route (ms). */
int	api_route_reply_ms(uint32_t route);
/* Bytes to send after the request of route (imported records), or NULL. */
const void *api_route_tail(uint32_t route, size_t *len);
/* The JSON body of req->route into req->body: 0, or 400 with why. */
int	api_decode_body(struct msg_api_request *req, const json_t *body,
	    char *why, size_t whylen);

/* ---- broker_handoff.c: listeners handed to the supervisor ---- */

/*
 * Pass a listener's socket to the supervisor (m->id is set here) and keep
 * fd until it answers: a refusal is written to the client by us, as a v2
 * error (native) or an HTTP error (WAV), then fd is closed.  Returns 0 (fd
 * is ours now), or -1 if it could not be passed (the caller answers and
 * closes fd).  No descriptor is needed on the way: the kernel makes the
 * supervisor's copy.
 */
int	handoff_client(struct msg_client *m, int fd);
void	handoff_done(const struct msg_client_done *d);
/* Listeners held while we were an orphan: now to the new supervisor. */
void	handoff_flush(void);
/* How many are held; how many await an answer. */
int	handoff_held(void);
int	handoff_pending(void);
void	handoff_init(struct event_base *base, int hold_ms);
/* Best effort, one non-blocking write: an error before closing. */
void	handoff_v2_error(int fd, const char *message);
void	handoff_http_error(int fd, uint32_t status, const char *message);

/* ---- broker_auth.c: credentials, roles, failed attempts, TLS ---- */

void	auth_init(struct event_base *base, const struct broker_config *cfg);
/* MSG_BROKER_TOKENS: the table that checks credentials from now on. */
void	auth_tokens(const struct msg_tokens *m);
/*
 * The gate every request passes first, route known: 0 with p set (the
 * request may go on), or non-zero when it was answered (401, 403, 429,
 * 400, 503).  api carries the identity of /api/clients/ID routes.
 */
int	auth_gate(struct evhttp_request *req, const struct msg_api_request *api,
	    struct principal *p);
/* POST /api/login, POST /api/logout, GET /api/session. */
void	auth_login(struct evhttp_request *req);
void	auth_logout(struct evhttp_request *req);
void	auth_session(struct evhttp_request *req, const struct principal *p);

/* ---- broker_tls.c: HTTPS ---- */

/* With --tls-cert and --tls-key: load them (before the drop). */
void	tls_init(struct event_base *base, const struct broker_config *cfg);
bool	tls_on(void);
/* A TLS bufferevent for a new HTTP connection, or NULL. */
struct bufferevent *tls_bufferevent(struct event_base *base);
/*
 * http_take_socket over TLS: a plain socket whose bytes are relayed
 * through the connection's TLS (a socketpair), or -1.  evhttp keeps the
 * connection, which is freed when either side ends.
 */
int	tls_take(struct evhttp_request *req, char *remote, size_t len);

/* ---- broker_native.c: the Fichatech v2 listener ---- */

void	native_init(struct event_base *base, const struct broker_config *cfg);
/* Retiring: accept no more; the handshakes under way, for the idle check. */
void	native_stop(void);
int	native_pending(void);

/* ---- broker_http.c: the web UI, the JSON API and /metrics ---- */

void	http_init(struct event_base *base, const struct broker_config *cfg);
/* Retiring: accept no more connections; requests still awaiting a reply. */
void	http_stop(void);
/* The supervisor died: the requests it had will never be answered. */
void	http_orphaned(void);
int	http_pending(void);
/* MSG_BROKER_REPLY: the answer to a request we forwarded. */
void	http_reply(const struct msg_api_reply *r, const char *body,
	    size_t len);
/* A JSON {"error": message} response (Connection: close), for every route. */
void	http_error(struct evhttp_request *req, int status, const char *message);
/*
 * Take the socket of a request nothing has been answered on away from
 * evhttp (the request is gone afterwards): the descriptor, which the caller
 * owns, or -1.  remote gets the peer's "ip:port".
 */
int	http_take_socket(struct evhttp_request *req, char *remote, size_t len);
/* The reason phrase of an HTTP status ("Not Found"). */
const char *http_reason(uint32_t status);
/* A response with this body and Content-Type (Connection: close). */
void	http_send(struct evhttp_request *req, int status, const char *ctype,
	    const void *data, size_t len);
/* A POST's JSON body (shared/proto.h's rules): 0, or an HTTP status and why. */
int	http_body_json(struct evhttp_request *req, json_t **out, char *why,
	    size_t len);

/* ---- broker_events.c: GET /api/events, server-sent events ---- */

void	events_init(struct event_base *base, const struct broker_config *cfg);
void	events_serve(struct evhttp_request *req, const struct principal *p);
int	events_subscribers(void);
/* Retiring: every stream ends (browsers reconnect to the successor). */
void	events_close_all(void);
/* One MSG_BROKER_EVENT to fan out: its name and JSON data. */
void	events_publish(const struct msg_event *e, const char *data,
	    size_t len);

/* ---- broker_wav.c: GET /stream.wav, handed to a session ---- */

void	wav_serve(struct evhttp_request *req, const struct principal *p);

/* ---- broker_static.c: the web UI's files ---- */

void	static_init(const struct broker_config *cfg);
void	static_serve(struct evhttp_request *req);

#endif
