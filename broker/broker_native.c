/* broker_native.c — native listener: reads each client's handshake under a deadline. */
#define _GNU_SOURCE	/* accept4 */
/*
 * A native client's first message must be a control message of type
 * handshake with a valid hello, all of it within handshake_ms of the accept
 * (a whole-message deadline: trickling bytes does not extend it).  The
 * broker reads exactly that message, header then payload, so anything the
 * client sent after it stays in the socket for its session.  The socket and
 * the hello then go to the supervisor; everything else is closed.
 *
 * Limits: at most max_pending handshakes pending, max_per_addr of them from
 * one source address (the supervisor caps streaming sessions itself).  Out
 * of descriptors, accepting pauses for BROKER_PAUSE_MS instead of spinning.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "broker/broker.h"

#define ACCEPT_BURST	32	/* connections accepted per wake-up */

struct pending {
	TAILQ_ENTRY(pending)	 entry;
	int			 fd;
	struct event		*rd;
	struct event		*deadline;
	struct sockaddr_storage	 addr;
	char			 remote[64];
	uint8_t			 hdr[PROTO_HDR_LEN];
	size_t			 hdr_have;
	uint8_t			*payload;	/* once the header is valid */
	size_t			 len, have;
};

static struct {
	struct event_base	*base;
	const struct broker_config *cfg;
	int			 fd;
	struct event		*accept_ev;
	struct rest		 rest;
	TAILQ_HEAD(, pending)	 pending;
	int			 npending;
	bool			 retired;	/* a successor accepts now */
} nl = { .pending = TAILQ_HEAD_INITIALIZER(nl.pending) };

static void
pending_close(struct pending *p, const char *why)
{
	log_debug("%s: closed: %s", p->remote, why);
	TAILQ_REMOVE(&nl.pending, p, entry);
	nl.npending--;
	event_free(p->rd);
	event_free(p->deadline);
	if (p->fd != -1)
		close(p->fd);
	free(p->payload);
	free(p);
}

/* Hand the client to the supervisor; our copy of the socket closes after. */
static void
pass_client(struct pending *p, const struct proto_hello *h)
{
	struct msg_client m;

	memset(&m, 0, sizeof(m));
	m.kind = CLIENT_NATIVE;
	snprintf(m.remote, sizeof(m.remote), "%s", p->remote);
	m.hello = *h;
	if (handoff_client(&m, p->fd) == -1)
		handoff_v2_error(p->fd, "server busy, try again");
	else {
		log_debug("%s: client %s passed to the supervisor", p->remote,
		    h->client_id);
		p->fd = -1;	/* the hand-off holds it now */
	}
	pending_close(p, "handed over");
}

static void
handshake_done(struct pending *p)
{
	struct proto_hello h;
	enum proto_ctl type = PROTO_CTL_UNKNOWN;
	const char *why = NULL;
	json_t *o = NULL;
	int rc;

	if ((rc = proto_control_parse(p->payload, p->len, &o, &type)) !=
	    PROTO_OK)
		why = proto_strerror(rc);
	else if (type != PROTO_CTL_HANDSHAKE)
		why = "expected a handshake";
	else if (proto_hello_parse(o, &h) != PROTO_OK)
		why = "invalid handshake";
	json_decref(o);
	if (why != NULL) {
		handoff_v2_error(p->fd, why);
		pending_close(p, why);
		return;
	}
	pass_client(p, &h);
}

/* The header is whole: decide whether its payload is worth reading. */
static const char *
handshake_header_check(struct pending *p)
{
	struct proto_hdr h;

	if (proto_hdr_decode(p->hdr, &h) != PROTO_OK)
		return "bad magic";
	if (h.type != PROTO_TYPE_CONTROL)
		return "first message is not a control message";
	if (h.length == 0 || h.length > PROTO_CONTROL_MAX)
		return "bad control length";
	if ((p->payload = malloc(h.length)) == NULL)
		return "out of memory";
	p->len = h.length;
	return NULL;
}

/* Account for n new bytes: NULL to go on, else why the client is refused. */
static const char *
pending_take(struct pending *p, size_t n)
{
	static const uint8_t magic[4] = { PROTO_MAGIC >> 24,
	    (PROTO_MAGIC >> 16) & 0xff, (PROTO_MAGIC >> 8) & 0xff,
	    PROTO_MAGIC & 0xff };

	if (p->payload != NULL) {
		p->have += n;
		return NULL;
	}
	p->hdr_have += n;
	/* Framing is lost at the first wrong magic byte: no need to wait. */
	if (memcmp(p->hdr, magic, p->hdr_have < 4 ? p->hdr_have : 4) != 0)
		return "bad magic";
	return p->hdr_have == PROTO_HDR_LEN ? handshake_header_check(p) : NULL;
}

static void
pending_read(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	const char *why;
	ssize_t n;

	(void)what;
	for (;;) {
		if (p->payload == NULL)
			n = read(fd, p->hdr + p->hdr_have,
			    PROTO_HDR_LEN - p->hdr_have);
		else
			n = read(fd, p->payload + p->have, p->len - p->have);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			pending_close(p, n == 0 ? "end of file" : strerror(errno));
			return;
		}
		if ((why = pending_take(p, (size_t)n)) != NULL) {
			pending_close(p, why);
			return;
		}
		if (p->payload != NULL && p->have == p->len) {
			handshake_done(p);
			return;
		}
	}
}

static void
pending_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pending_close(arg, "handshake deadline");
}

static bool
same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss_family == AF_INET6)
		return memcmp(&a6->sin6_addr, &b6->sin6_addr,
		    sizeof(a6->sin6_addr)) == 0;
	return true;	/* local sockets: one source */
}

/* NULL if the limits admit another pending handshake from addr. */
static const char *
admit(const struct sockaddr_storage *addr)
{
	struct pending *p;
	int n = 0;

	if (nl.npending >= nl.cfg->max_pending)
		return "too many pending handshakes";
	TAILQ_FOREACH(p, &nl.pending, entry)
		if (same_addr(&p->addr, addr) && ++n >= nl.cfg->max_per_addr)
			return "too many pending handshakes from this address";
	return NULL;
}

static void
pending_new(int fd, const struct sockaddr_storage *addr, socklen_t len)
{
	struct pending *p;
	struct timeval tv;

	if ((p = calloc(1, sizeof(*p))) == NULL ||
	    (p->rd = event_new(nl.base, fd, EV_READ | EV_PERSIST,
	    pending_read, p)) == NULL ||
	    (p->deadline = evtimer_new(nl.base, pending_timeout, p)) == NULL) {
		log_warnx("out of memory: connection dropped");
		if (p != NULL && p->rd != NULL)
			event_free(p->rd);
		free(p);
		close(fd);
		return;
	}
	p->fd = fd;
	p->addr = *addr;
	broker_addr_str((const struct sockaddr *)addr, len, p->remote,
	    sizeof(p->remote));
	broker_tv(&tv, nl.cfg->handshake_ms);
	TAILQ_INSERT_TAIL(&nl.pending, p, entry);
	nl.npending++;
	if (event_add(p->rd, NULL) == -1 || evtimer_add(p->deadline, &tv) == -1)
		pending_close(p, "event_add failed");
	else
		log_debug("%s: connected", p->remote);
}

static void
native_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (!nl.retired && event_add(nl.accept_ev, NULL) == -1)
		fatalx("native listener event");
}

static void
native_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct sockaddr_storage addr;
	socklen_t len;
	const char *why;
	char remote[64];
	int i, fd;

	(void)what;
	(void)arg;
	for (i = 0; i < ACCEPT_BURST; i++) {
		len = sizeof(addr);
		fd = accept4(lfd, (struct sockaddr *)&addr, &len,
		    SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				event_del(nl.accept_ev);
				rest_begin(&nl.rest);
			}
			return;
		}
		if ((why = admit(&addr)) != NULL) {
			broker_addr_str((struct sockaddr *)&addr, len, remote,
			    sizeof(remote));
			log_debug("%s: refused: %s", remote, why);
			close(fd);
			continue;
		}
		pending_new(fd, &addr, len);
	}
}

void
native_init(struct event_base *base, const struct broker_config *cfg)
{
	nl.base = base;
	nl.cfg = cfg;
	nl.fd = cfg->native_fd;
	if (evutil_make_socket_nonblocking(nl.fd) == -1)
		fatal("native listener: O_NONBLOCK");
	if ((nl.accept_ev = event_new(base, nl.fd, EV_READ | EV_PERSIST,
	    native_accept, NULL)) == NULL || event_add(nl.accept_ev, NULL) == -1)
		fatalx("native listener event");
	rest_init(&nl.rest, base, "native accept", native_resume);
}

void
native_stop(void)
{
	event_del(nl.accept_ev);
	evtimer_del(nl.rest.timer);
	nl.retired = true;
}

int
native_pending(void)
{
	return nl.npending;
}
