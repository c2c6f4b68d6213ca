/* loadclient.h — an epoll load client: hundreds of v2 connections, per-packet on-time and lost-period accounting. */
#ifndef RINGCAST_LOADCLIENT_H
#define RINGCAST_LOADCLIENT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "bench/benchutil.h"
#include "shared/clock.h"
#include "shared/proto.h"
#include "tests/lib/poller.h"
#include "tests/lib/tu.h"
#include "tests/lib/v2.h"

/*
 * One thread owns an epoll set and every connection in it.  Reads are large
 * (LC_BUF) and parse whole messages in place; nothing is allocated per
 * packet.  A packet is on time when it is read within deadline_ns of the
 * moment its last period was published (the time source says when that
 * was: the ring slot's CLOCK_MONOTONIC timestamp, or the baseline's table).
 * Periods missing from the position sequence count as lost, not on time.
 */

#define LC_BUF		(64 * 1024)
#define LC_MAXCONN	2048

enum lc_state { LC_HELLO, LC_STREAM, LC_DEAD };

/* The publish time (CLOCK_MONOTONIC ns) of the period ending at position; 0 if unknown. */
typedef uint64_t (*lc_time_fn)(void *arg, uint64_t position);

struct lc_conn {
	struct v2c	c;		/* LC_BUF of buffer */
	int		state;		/* enum lc_state */
	uint64_t	last_pos;	/* 0: none yet */
	/* counters of the current window */
	uint64_t	periods;	/* received */
	uint64_t	ontime;		/* received on time */
	uint64_t	lost;		/* missing from the positions */
	uint64_t	streaming_ns;	/* first audio seen */
};

struct lc {
	struct poller	 poller;
	uint32_t	 period_frames;		/* frames per ring period */
	uint32_t	 packet_frames;		/* frames per packet */
	uint64_t	 deadline_ns;
	lc_time_fn	 time_of;
	void		*time_arg;
	pthread_mutex_t	 mu;		/* guards counters against lc_take */
	pthread_cond_t	 cv;		/* with mu: a handshake answered, a
					   stream begun, a connection lost */
	struct lc_conn	*conn[LC_MAXCONN];
	atomic_int	 nconn;
	atomic_int	 nstream;	/* connections that saw audio */
	atomic_int	 nhello;	/* handshakes answered */
	atomic_int	 ndead;
	uint64_t	 max_late_ns;	/* worst lateness in the window */
};

/* Totals of a window over all connections. */
struct lc_totals {
	uint64_t	periods, ontime, lost, max_late_ns;
	int		conns, dead;
};

/* The deployed app's handshake, not persistent, plus packet_frames. */
static inline int
lc_send_hello(int fd, int id, uint32_t packet_frames)
{
	char cid[64];
	json_t *o;

	snprintf(cid, sizeof(cid), "bench-%d-%d", (int)getpid(), id);
	o = v2_hello(cid, NULL);
	json_object_update_new(o, json_pack("{s:b, s:b, s:b, s:s, s:i}",
	    "rf_mode", 0, "persistent", 0, "auto_reconnect", 0,
	    "device_name", "bench", "packet_frames", (int)packet_frames));
	return v2_send_ctl(fd, o);
}

/* Subscribe channels 0..7 (int16, the default format). */
static inline int
lc_send_mix(int fd)
{
	json_t *o = v2_channels(8);

	json_object_set_new(o, "type", json_string("update_mix"));
	return v2_send_ctl(fd, o);
}

/* Count one audio packet; called with lc->mu held. */
static inline void
lc_account(struct lc *lc, struct lc_conn *c, const struct proto_hdr *h,
    const uint8_t *payload, uint64_t now)
{
	struct proto_audio a;
	uint64_t k, pub, late;

	if (proto_audio_decode(h, payload, 1, &a) != PROTO_OK) {
		c->state = LC_DEAD;
		return;
	}
	k = a.frames / lc->period_frames;
	if (k == 0)
		k = 1;
	if (c->last_pos != 0 && a.position > c->last_pos + a.frames)
		c->lost += (a.position - c->last_pos - a.frames) /
		    lc->period_frames;
	c->last_pos = a.position;
	c->periods += k;
	pub = lc->time_of(lc->time_arg, a.position);
	if (pub == 0)
		return;		/* overwritten long ago: late */
	late = now > pub ? now - pub : 0;
	if (late <= lc->deadline_ns)
		c->ontime += k;
	if (late > lc->max_late_ns)
		lc->max_late_ns = late;
}

/* One whole message of c (its struct v2c is the first member); mu held. */
static inline int
lc_message(void *arg, struct v2c *v, uint64_t now)
{
	struct lc *lc = arg;
	struct lc_conn *c = (struct lc_conn *)v;
	const struct proto_hdr *h = &v->hdr;
	const uint8_t *payload = v->payload;
	enum proto_ctl t;
	json_t *o;

	if (h->type == PROTO_TYPE_AUDIO) {
		if (c->streaming_ns == 0) {
			c->streaming_ns = now;
			atomic_fetch_add(&lc->nstream, 1);
			pthread_cond_broadcast(&lc->cv);
		}
		lc_account(lc, c, h, payload, now);
		return c->state == LC_DEAD ? -1 : 0;
	}
	if (c->state != LC_HELLO ||
	    proto_control_parse(payload, h->length, &o, &t) != PROTO_OK)
		return 0;
	if (t == PROTO_CTL_HANDSHAKE_RESPONSE) {
		atomic_fetch_add(&lc->nhello, 1);
		pthread_cond_broadcast(&lc->cv);
		c->state = lc_send_mix(c->c.fd) == 0 ? LC_STREAM : LC_DEAD;
	} else if (t == PROTO_CTL_ERROR)
		c->state = LC_DEAD;
	json_decref(o);
	return c->state == LC_DEAD ? -1 : 0;
}

/* Read what is there and parse every whole message; -1 when closed. */
static inline int
lc_readable(struct lc *lc, struct lc_conn *c)
{
	int rc;

	pthread_mutex_lock(&lc->mu);
	rc = v2_drain(&c->c, lc_message, lc);
	pthread_mutex_unlock(&lc->mu);
	return rc;
}

static inline void
lc_drop(struct lc *lc, struct lc_conn *c)
{
	poller_unwatch(&lc->poller, c->c.fd);
	close(c->c.fd);
	c->c.fd = -1;
	c->state = LC_DEAD;
	pthread_mutex_lock(&lc->mu);
	atomic_fetch_add(&lc->ndead, 1);
	pthread_cond_broadcast(&lc->cv);
	pthread_mutex_unlock(&lc->mu);
}

static inline void
lc_ready(void *arg, void *conn)
{
	struct lc *lc = arg;
	struct lc_conn *c = conn;

	if (c->c.fd >= 0 && lc_readable(lc, c) == -1)
		lc_drop(lc, c);
}

static inline int
lc_init(struct lc *lc, uint32_t period_frames, uint32_t packet_frames,
    uint64_t deadline_ns, lc_time_fn time_of, void *time_arg)
{
	memset(lc, 0, sizeof(*lc));
	lc->period_frames = period_frames;
	lc->packet_frames = packet_frames;
	lc->deadline_ns = deadline_ns;
	lc->time_of = time_of;
	lc->time_arg = time_arg;
	pthread_mutex_init(&lc->mu, NULL);
	tu_cond_init(&lc->cv);
	return poller_start(&lc->poller, lc_ready, lc);
}

/*
 * Watch fd; hello: it is a v2 server and we still owe the handshake (already
 * sent by lc_connect) — else it streams at once (the baseline).
 */
static inline int
lc_add_fd(struct lc *lc, int fd, bool hello)
{
	struct lc_conn *c;
	int i = atomic_load(&lc->nconn);

	if (i >= LC_MAXCONN || (c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (v2_init(&c->c, fd, LC_BUF) == -1) {
		free(c);
		return -1;
	}
	c->state = hello ? LC_HELLO : LC_STREAM;
	lc->conn[i] = c;
	atomic_store(&lc->nconn, i + 1);
	return poller_watch(&lc->poller, fd, c);
}

/* Connect one v2 client to port and send its handshake. */
static inline int
lc_connect(struct lc *lc, int port)
{
	int fd, id = atomic_load(&lc->nconn);

	if ((fd = v2_connect(port, 0, 10000)) == -1)
		return -1;
	if (lc_send_hello(fd, id, lc->packet_frames) == -1 ||
	    lc_add_fd(lc, fd, true) == -1) {
		close(fd);
		return -1;
	}
	return 0;
}

/* Handshakes sent and not answered yet. */
static inline int
lc_pending(struct lc *lc)
{
	return atomic_load(&lc->nconn) - atomic_load(&lc->nhello) -
	    atomic_load(&lc->ndead);
}

/*
 * Connect up to n clients, keeping at most window handshakes unanswered: the
 * broker admits only a few pending handshakes per source address.
 */
static inline int
lc_connect_many(struct lc *lc, int port, int n, int window, int timeout_ms)
{
	struct timespec ts = tu_deadline(timeout_ms);
	int ok = 1;

	pthread_mutex_lock(&lc->mu);
	while (ok && atomic_load(&lc->nconn) < n) {
		/* The loop thread counts answers and signals cv. */
		if (lc_pending(lc) >= window) {
			ok = pthread_cond_timedwait(&lc->cv, &lc->mu, &ts) == 0;
			continue;
		}
		pthread_mutex_unlock(&lc->mu);
		ok = lc_connect(lc, port) == 0;
		pthread_mutex_lock(&lc->mu);
	}
	pthread_mutex_unlock(&lc->mu);
	return ok ? 0 : -1;
}

/* Wait until want connections stream audio (or died); 0, or -1 on timeout. */
static inline int
lc_wait_streaming(struct lc *lc, int want, int timeout_ms)
{
	struct timespec ts = tu_deadline(timeout_ms);
	int ok = 1;

	pthread_mutex_lock(&lc->mu);
	while (atomic_load(&lc->nstream) + atomic_load(&lc->ndead) < want &&
	    (ok = pthread_cond_timedwait(&lc->cv, &lc->mu, &ts) == 0))
		;
	pthread_mutex_unlock(&lc->mu);
	return ok && atomic_load(&lc->ndead) == 0 ? 0 : -1;
}

/* Sum the window's counters and start a new window. */
static inline void
lc_take(struct lc *lc, struct lc_totals *t)
{
	int n = atomic_load(&lc->nconn);

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&lc->mu);
	for (int i = 0; i < n; i++) {
		struct lc_conn *c = lc->conn[i];

		t->periods += c->periods;
		t->ontime += c->ontime;
		t->lost += c->lost;
		c->periods = c->ontime = c->lost = 0;
		t->conns++;
		t->dead += c->state == LC_DEAD;
	}
	t->max_late_ns = lc->max_late_ns;
	lc->max_late_ns = 0;
	pthread_mutex_unlock(&lc->mu);
}

/* Stop the thread and close every connection (a FIN each). */
static inline void
lc_free(struct lc *lc)
{
	int n = atomic_load(&lc->nconn);

	poller_stop(&lc->poller);
	for (int i = 0; i < n; i++) {
		v2_close(&lc->conn[i]->c);
		free(lc->conn[i]);
		lc->conn[i] = NULL;
	}
	atomic_store(&lc->nconn, 0);
	pthread_mutex_destroy(&lc->mu);
	pthread_cond_destroy(&lc->cv);
}

#endif
