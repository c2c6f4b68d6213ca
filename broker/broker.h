/* broker.h — internal interface of ringcast-broker: native and HTTP front ends. */
#ifndef RINGCAST_BROKER_H
#define RINGCAST_BROKER_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/http.h>
#include <jansson.h>

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
};

/* ---- broker.c: the process and its parent channel ---- */

/*
 * Send a JSON message (and fd, or -1) to the supervisor without blocking.
 * Returns 0, or -1 with errno: EAGAIN when the channel is full, EMSGSIZE when
 * the message is over MSG_MAX_PAYLOAD.
 */
int	broker_send(uint32_t type, const json_t *obj, int fd);
/* "ip:port" ("[ip6]:port") of a socket address, for logs and the supervisor. */
void	broker_addr_str(const struct sockaddr *sa, socklen_t len, char *buf,
	    size_t buflen);
void	broker_tv(struct timeval *tv, int ms);

/* ---- broker_native.c: the Fichatech v2 listener ---- */

void	native_init(struct event_base *base, const struct broker_config *cfg);

/* ---- broker_http.c: the web UI, the JSON API and /metrics ---- */

void	http_init(struct event_base *base, const struct broker_config *cfg);
/* MSG_BROKER_REPLY / MSG_BROKER_EVENT payloads (NUL-terminated JSON). */
void	http_reply(const char *data);
void	http_event(const char *data);
/* A JSON {"error": message} response (Connection: close), for every route. */
void	http_error(struct evhttp_request *req, int status, const char *message);
/*
 * Take the socket of a request nothing has been answered on away from
 * evhttp (the request is gone afterwards): the descriptor, which the caller
 * owns, or -1.  remote gets the peer's "ip:port".
 */
int	http_take_socket(struct evhttp_request *req, char *remote, size_t len);
/* A response with this body and Content-Type (Connection: close). */
void	http_send(struct evhttp_request *req, int status, const char *ctype,
	    const void *data, size_t len);

/* ---- broker_events.c: GET /api/events, server-sent events ---- */

void	events_init(struct event_base *base, const struct broker_config *cfg);
void	events_serve(struct evhttp_request *req);
/* One MSG_BROKER_EVENT payload {"event": name, "data": {...}} to fan out. */
void	events_publish(const char *data);

/* ---- broker_wav.c: GET /stream.wav, handed to a session ---- */

void	wav_serve(struct evhttp_request *req);

/* ---- broker_static.c: the web UI's files ---- */

void	static_init(const struct broker_config *cfg);
void	static_serve(struct evhttp_request *req);

#endif
