/* broker_events.c — GET /api/events: server-sent events to the web UI, bounded per browser. */
/*
 * The supervisor sends every event once (MSG_BROKER_EVENT); each subscriber
 * gets a copy in its own output buffer.  A browser that falls behind loses
 * `meters` and `stats` first (above EVENTS_SOFT bytes queued), is closed
 * above EVENTS_HARD bytes, or when nothing at all drained for request_ms
 * (the write timeout): a slow browser costs the broker bounded memory and
 * nobody else anything.  The socket is taken away from evhttp after the
 * request, so that evhttp's read timeout does not end a quiet stream.
 */
#define _GNU_SOURCE	/* asprintf */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "shared/log.h"
#include "broker/broker.h"

#define EVENTS_SOFT		(64 * 1024)	/* droppable events skipped */
#define EVENTS_HARD		(256 * 1024)	/* the subscriber is closed */
#define EVENTS_KEEPALIVE_MS	15000
#define EVENTS_SNDBUF		(32 * 1024)	/* the kernel's share, bounded too */

struct sub {
	TAILQ_ENTRY(sub)	 entry;
	struct bufferevent	*bev;
	char			 remote[80];
	unsigned long long	 skipped;
	char			 only[TOKEN_LISTENER_MAX];	/* a listener's
						 * token: its own events */
};

static struct {
	struct event_base	*base;
	const struct broker_config *cfg;
	struct event		*keepalive;
	struct event		*recount;
	TAILQ_HEAD(, sub)	 subs;
	int			 nsubs;
	int			 nonly;		/* subscribers with only set */
	unsigned long long	 closed_slow;
} es = { .subs = TAILQ_HEAD_INITIALIZER(es.subs) };

/*
 * The supervisor sends events only while somebody listens: it learns the
 * count at every change.  A full channel retries shortly, so that a new
 * browser never waits on a count that was lost.
 */
static void
count_changed(void)
{
	struct msg_subscribers m = { (uint32_t)es.nsubs };
	struct timeval tv;

	/* An orphan's count goes with its adoption. */
	if (broker_orphan() || broker_send(MSG_BROKER_SUBSCRIBERS, &m,
	    sizeof(m), NULL, 0, -1) == 0)
		return;
	log_warn("MSG_BROKER_SUBSCRIBERS: retrying");
	broker_tv(&tv, BROKER_PAUSE_MS);
	evtimer_add(es.recount, &tv);
}

static void
recount_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	count_changed();
}

static void
sub_free(struct sub *s, const char *why)
{
	log_debug("events: %s closed (%s), %llu events skipped", s->remote, why,
	    s->skipped);
	TAILQ_REMOVE(&es.subs, s, entry);
	es.nsubs--;
	es.nonly -= s->only[0] != '\0';
	bufferevent_free(s->bev);
	free(s);
	count_changed();
}

/* The browser sends nothing we need after its request: drop it. */
static void
sub_read(struct bufferevent *bev, void *arg)
{
	struct evbuffer *in = bufferevent_get_input(bev);

	(void)arg;
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void
sub_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & BEV_EVENT_TIMEOUT)
		es.closed_slow++;
	sub_free(arg, what & BEV_EVENT_TIMEOUT ? "not reading" :
	    what & BEV_EVENT_EOF ? "closed" : "error");
}

/* Queue text for s unless it is too far behind; droppable text first goes. */
static void
sub_add(struct sub *s, const char *text, size_t len, bool droppable)
{
	size_t queued = evbuffer_get_length(bufferevent_get_output(s->bev));

	if (queued + len > EVENTS_HARD) {
		es.closed_slow++;
		sub_free(s, "too far behind");
		return;
	}
	if (droppable && queued > EVENTS_SOFT) {
		s->skipped++;
		return;
	}
	if (bufferevent_write(s->bev, text, len) == -1)
		sub_free(s, "out of memory");
}

/*
 * A listener's token sees its own events (those whose "id" is its
 * identity) and the meters, nothing else; about (NULL) is an event that
 * concerns no listener, such as a keep-alive, which everyone gets.
 */
static bool
sub_wants(const struct sub *s, const char *name, const char *about)
{
	if (s->only[0] == '\0' || name == NULL)
		return true;
	if (strcmp(name, "meters") == 0)
		return true;
	return about != NULL && strcmp(about, s->only) == 0;
}

static void
broadcast(const char *text, size_t len, bool droppable, const char *name,
    const char *about)
{
	struct sub *s, *next;

	for (s = TAILQ_FIRST(&es.subs); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (sub_wants(s, name, about))
			sub_add(s, text, len, droppable);
	}
}

static void
keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
	static const char ping[] = ":\n\n";

	(void)fd;
	(void)what;
	(void)arg;
	broadcast(ping, sizeof(ping) - 1, true, NULL, NULL);
}

void
events_init(struct event_base *base, const struct broker_config *cfg)
{
	struct timeval tv;

	es.base = base;
	es.cfg = cfg;
	broker_tv(&tv, EVENTS_KEEPALIVE_MS);
	if ((es.keepalive = event_new(base, -1, EV_PERSIST, keepalive_cb,
	    NULL)) == NULL || event_add(es.keepalive, &tv) == -1 ||
	    (es.recount = evtimer_new(base, recount_cb, NULL)) == NULL)
		fatalx("events: timers");
}

void
events_serve(struct evhttp_request *req, const struct principal *p)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/event-stream\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Connection: close\r\n\r\n"
	    "retry: 1000\n\n";
	struct timeval wtv;
	struct sub *s;
	int fd, sndbuf;

	if (es.nsubs >= es.cfg->max_pending) {
		http_error(req, 503, "too many event streams");
		return;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		http_error(req, 503, "out of memory");
		return;
	}
	if ((fd = http_take_socket(req, s->remote, sizeof(s->remote))) == -1) {
		free(s);
		http_error(req, 503, "server busy");
		return;
	}
	if ((s->bev = bufferevent_socket_new(es.base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		log_warnx("events: out of memory");
		close(fd);
		free(s);
		return;
	}
	sndbuf = EVENTS_SNDBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) ==
	    -1)
		log_debug("events: SO_SNDBUF: %s", strerror(errno));
	bufferevent_setcb(s->bev, sub_read, NULL, sub_event, s);
	/* No read timeout: a quiet browser is fine; one that drains nothing is not. */
	broker_tv(&wtv, es.cfg->request_ms);
	bufferevent_set_timeouts(s->bev, NULL, &wtv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	if (p->role == TOKEN_LISTENER)
		snprintf(s->only, sizeof(s->only), "%s", p->listener);
	TAILQ_INSERT_TAIL(&es.subs, s, entry);
	es.nsubs++;
	es.nonly += s->only[0] != '\0';
	count_changed();
	log_debug("events: %s subscribed (%d)", s->remote, es.nsubs);
	sub_add(s, head, sizeof(head) - 1, false);
}

/* An event from the supervisor, to every subscriber. */
void
events_publish(const struct msg_event *e, const char *data, size_t len)
{
	json_t *o = NULL;
	char *text;
	int n;

	if (es.nsubs == 0)
		return;
	/* Whom it is about, read only when a listener's stream must know. */
	if (es.nonly > 0)
		o = json_loadb(data, len, 0, NULL);
	/* One copy of the text; msg_recv made sure data holds no newline. */
	if ((n = asprintf(&text, "event: %s\ndata: %.*s\n\n", e->name,
	    (int)len, data)) > 0) {
		broadcast(text, (size_t)n, e->droppable != 0, e->name,
		    json_string_value(json_object_get(o, "id")));
		free(text);
	}
	json_decref(o);
}

int
events_subscribers(void)
{
	return es.nsubs;
}

void
events_close_all(void)
{
	struct sub *s;

	while ((s = TAILQ_FIRST(&es.subs)) != NULL)
		sub_free(s, "retiring");
}
