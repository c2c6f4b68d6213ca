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
	struct msg_client	 m;		/* held: what we will pass */
};

static struct {
	struct event_base	*base;
	int			 hold_ms;	/* the client's patience */
	struct awaits		 set;		/* passed, awaiting an answer */
	struct awaits		 held;		/* while we are an orphan */
} ho = {
	.set = AWAITS_INITIALIZER(ho.set),
	.held = AWAITS_INITIALIZER(ho.held),
};

void
handoff_init(struct event_base *base, int hold_ms)
{
	ho.base = base;
	ho.hold_ms = hold_ms;
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

/* A held or passed client refused: in its own protocol, then closed. */
static void
handoff_refuse(struct handoff *h, uint32_t status, const char *message)
{
	if (h->kind == CLIENT_WAV)
		handoff_http_error(h->fd, status, message);
	else
		handoff_v2_error(h->fd, message);
	handoff_free(h);
}

static void
handoff_expire(struct await *a)
{
	struct handoff *h = (struct handoff *)a;

	log_warnx("client %u: no answer from the supervisor in %d ms",
	    a->id, BROKER_REPLY_MS);
	handoff_free(h);
}

/* Pass h on and await the answer; -1 if it could not go (h is not listed). */
static int
pass(struct handoff *h)
{
	if (await_add(&ho.set, &h->await, ho.base, BROKER_REPLY_MS,
	    handoff_expire) == -1)
		return -1;
	h->m.id = h->await.id;
	if (broker_send(MSG_BROKER_CLIENT, &h->m, sizeof(h->m), NULL, 0,
	    h->fd) == -1) {
		log_warn("%s: passing the client", h->m.remote);
		await_drop(&h->await);
		return -1;
	}
	return 0;
}

/* Nobody adopted us in time: the client hears why and may come back. */
static void
held_expire(struct await *a)
{
	struct handoff *h = (struct handoff *)a;

	log_warnx("%s: no supervisor within %d ms", h->m.remote, ho.hold_ms);
	handoff_refuse(h, 503, "server restarting, try again");
}

int
handoff_client(struct msg_client *m, int fd)
{
	struct handoff *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -1;
	h->m = *m;
	h->kind = m->kind;
	h->fd = fd;
	/* An orphan holds finished handshakes for the next supervisor. */
	if (broker_orphan() ? await_add(&ho.held, &h->await, ho.base,
	    ho.hold_ms, held_expire) == -1 : pass(h) == -1) {
		free(h);
		return -1;
	}
	return 0;
}

void
handoff_flush(void)
{
	struct awaits again = AWAITS_INITIALIZER(again);
	struct await *a;
	struct handoff *h;

	/*
	 * Those passed to the supervisor that died: no answer will come.  The
	 * new one hears of them again and knows whether a session serves
	 * them already (our sockets' copies tell nothing).
	 */
	while ((a = TAILQ_FIRST(&ho.set.list)) != NULL) {
		await_drop(a);
		TAILQ_INSERT_TAIL(&again.list, a, entry);
	}
	while ((a = TAILQ_FIRST(&again.list)) != NULL) {
		TAILQ_REMOVE(&again.list, a, entry);
		h = (struct handoff *)a;
		h->m.again = 1;
		if (pass(h) == -1)
			handoff_free(h);
	}
	while ((a = TAILQ_FIRST(&ho.held.list)) != NULL) {
		await_drop(a);
		h = (struct handoff *)a;
		if (pass(h) == -1)
			handoff_refuse(h, 503, "server busy, try again");
	}
}

int
handoff_held(void)
{
	return ho.held.n;
}

int
handoff_pending(void)
{
	return ho.set.n + ho.held.n;
}

void
handoff_done(const struct msg_client_done *d)
{
	struct handoff *h = (struct handoff *)await_take(&ho.set, d->id);

	if (h == NULL) {
		log_debug("client %u: the answer came too late", d->id);
		return;
	}
	if (d->status != 0)
		handoff_refuse(h, d->status, d->message);
	else
		handoff_free(h);
}
