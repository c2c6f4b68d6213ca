/* broker_handoff.c — listeners handed to the supervisor, held until it answers. */
/*
 * A native client after its handshake, or a /stream.wav player after its
 * request, goes to the supervisor with its socket (MSG_BROKER_CLIENT).  We
 * keep our copy until MSG_BROKER_CLIENT_DONE: when a session took the
 * client we just close it (the session's copy keeps the connection); when
 * the supervisor refused it, the refusal is written here, so that every
 * answer a client gets before its session is the broker's.  Should no
 * answer come within BROKER_REPLY_MS the copy is closed without a word: a
 * session may still take the socket, and nothing may write into its stream.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/proto.h"
#include "broker/broker.h"

struct handoff {
	struct await		 await;		/* first: a handoff is an await */
	uint32_t		 kind;
	int			 fd;
};

static struct {
	struct event_base	*base;
	struct awaits		 set;
} ho = { .set = AWAITS_INITIALIZER(ho.set) };

void
handoff_init(struct event_base *base)
{
	ho.base = base;
}

void
handoff_v2_error(int fd, const char *message)
{
	json_t *o;
	uint8_t *buf;
	size_t len;

	if ((o = json_pack("{s:s, s:s}", "type", "error", "message",
	    message)) == NULL)
		return;
	if (proto_control_encode(o, false, &buf, &len) == PROTO_OK) {
		(void)!send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(buf);
	}
	json_decref(o);
}

void
handoff_http_error(int fd, uint32_t status, const char *message)
{
	char buf[512], *body;
	json_t *o = json_pack("{s:s}", "error", message);
	int n;

	body = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	n = snprintf(buf, sizeof(buf), "HTTP/1.0 %u %s\r\nContent-Type: "
	    "application/json\r\nCache-Control: no-store\r\nConnection: "
	    "close\r\n\r\n%s", status, http_reason(status), body ? body :
	    "{}");
	if (n > 0)
		(void)!send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(body);
	json_decref(o);
}

static void
handoff_free(struct handoff *h)
{
	close(h->fd);
	free(h);
}

static void
handoff_expire(struct await *a)
{
	struct handoff *h = (struct handoff *)a;

	log_warnx("client %u: no answer from the supervisor in %d ms",
	    a->id, BROKER_REPLY_MS);
	handoff_free(h);
}

int
handoff_client(struct msg_client *m, int fd)
{
	struct handoff *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    await_add(&ho.set, &h->await, ho.base, BROKER_REPLY_MS,
	    handoff_expire) == -1) {
		free(h);
		return -1;
	}
	m->id = h->await.id;
	h->kind = m->kind;
	if (broker_send(MSG_BROKER_CLIENT, m, sizeof(*m), NULL, 0, fd) == -1) {
		log_warn("%s: passing the client", m->remote);
		await_drop(&h->await);
		free(h);
		return -1;
	}
	h->fd = fd;
	return 0;
}

void
handoff_done(const struct msg_client_done *d)
{
	struct handoff *h = (struct handoff *)await_take(&ho.set, d->id);

	if (h == NULL) {
		log_debug("client %u: the answer came too late", d->id);
		return;
	}
	if (d->status != 0 && h->kind == CLIENT_WAV)
		handoff_http_error(h->fd, d->status, d->message);
	else if (d->status != 0)
		handoff_v2_error(h->fd, d->message);
	handoff_free(h);
}
