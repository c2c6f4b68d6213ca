/* steady.c — test library: the one continuity reader of the tests and benchmarks. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/steady.h"
#include "tests/lib/tu.h"

/* Count one audio packet of sc, arrived at now; mu held. */
static void
steady_count(struct steady *s, struct steady_conn *sc,
    const struct proto_audio *a, uint64_t now)
{
	struct steady_figures *f = &s->fig;
	uint64_t gap, bin;

	/* Every step but one packet is counted: overlaps as backwards, the
	 * others as lost whole periods, rounded up. */
	if (sc->last_pos != 0 && a->position < sc->last_pos + a->frames)
		f->backwards++;
	else if (sc->last_pos != 0 && a->position != sc->last_pos + a->frames)
		f->lost += (a->position - sc->last_pos - 1) / a->frames;
	if (sc->last_ns != 0) {
		gap = now - sc->last_ns;
		if (gap > f->max_gap_ns)
			f->max_gap_ns = gap;
		bin = gap / 100000;
		s->gaps[bin < STEADY_BINS ? bin : STEADY_BINS - 1]++;
		s->ngaps++;
	}
	sc->last_pos = a->position;
	sc->last_ns = now;
	sc->packets++;
	f->packets++;
}

/* One message of a listener (its struct v2c is the first member); mu held. */
static int
steady_msg(void *arg, struct v2c *c, uint64_t now)
{
	struct proto_audio a;

	if (c->hdr.type != PROTO_TYPE_AUDIO)
		return 0;
	if (proto_audio_decode(&c->hdr, c->payload, c->mask_words, &a) !=
	    PROTO_OK)
		return -1;
	steady_count(arg, (struct steady_conn *)c, &a, now);
	return 0;
}

static void
steady_unwatch(struct steady *s, struct steady_conn *sc)
{
	poller_unwatch(&s->poller, sc->c.fd);
	sc->watched = false;
}

static void
steady_ready(void *arg, void *conn)
{
	struct steady *s = arg;
	struct steady_conn *sc = conn;

	/* Under mu: steady_remove may take it meanwhile. */
	pthread_mutex_lock(&s->mu);
	if (sc->watched && v2_drain(&sc->c, steady_msg, s) == -1) {
		steady_unwatch(s, sc);
		s->fig.failed++;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

int
steady_start(struct steady *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	tu_cond_init(&s->cv);
	for (int i = 0; i < STEADY_MAX; i++)
		s->conn[i].c.fd = -1;
	return poller_start(&s->poller, steady_ready, s);
}

int
steady_add(struct steady *s, struct v2c *c)
{
	struct steady_conn *sc;
	int i;

	pthread_mutex_lock(&s->mu);
	if ((i = s->n) >= STEADY_MAX) {
		pthread_mutex_unlock(&s->mu);
		return -1;
	}
	sc = &s->conn[s->n++];
	memset(sc, 0, sizeof(*sc));
	sc->c = *c;
	c->fd = -1;
	c->buf = NULL;
	sc->watched = poller_watch(&s->poller, sc->c.fd, sc) == 0;
	pthread_mutex_unlock(&s->mu);
	return sc->watched ? i : -1;
}

int
steady_join(struct steady *s, int port, const char *id, const json_t *mix,
    int timeout_ms)
{
	struct v2c c;

	if (v2_join(&c, port, id, mix ? json_deep_copy(mix) : NULL,
	    timeout_ms) == -1)
		return -1;
	return steady_add(s, &c);
}

void
steady_remove(struct steady *s, int i, struct v2c *out)
{
	struct steady_conn *sc = &s->conn[i];

	pthread_mutex_lock(&s->mu);
	if (sc->watched)
		steady_unwatch(s, sc);
	*out = sc->c;
	sc->c.fd = -1;
	sc->c.buf = NULL;
	pthread_mutex_unlock(&s->mu);
	if (out->fd >= 0)
		fcntl(out->fd, F_SETFL, fcntl(out->fd, F_GETFL) & ~O_NONBLOCK);
}

/* Every watched listener has its count; mu held. */
static bool
steady_all_reached(const struct steady *s, const uint64_t *want)
{
	for (int i = 0; i < s->n; i++)
		if (s->conn[i].watched && s->conn[i].packets < want[i])
			return false;
	return true;
}

int
steady_wait(struct steady *s, uint64_t n, int timeout_ms)
{
	struct timespec ts = tu_deadline(timeout_ms);
	uint64_t want[STEADY_MAX];
	int failed, ok;

	pthread_mutex_lock(&s->mu);
	failed = s->fig.failed;
	for (int i = 0; i < s->n; i++)
		want[i] = s->conn[i].packets + n;
	while (!(ok = steady_all_reached(s, want)) && s->fig.failed == failed &&
	    pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		;
	ok = ok && s->fig.failed == failed;
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void
steady_snapshot(struct steady *s, struct steady_figures *f)
{
	pthread_mutex_lock(&s->mu);
	*f = s->fig;
	pthread_mutex_unlock(&s->mu);
}

void
steady_reset(struct steady *s)
{
	pthread_mutex_lock(&s->mu);
	s->fig = (struct steady_figures){ .failed = s->fig.failed };
	memset(s->gaps, 0, sizeof(s->gaps));
	s->ngaps = 0;
	pthread_mutex_unlock(&s->mu);
}

double
steady_gap_pct(struct steady *s, double p)
{
	uint64_t want, sum = 0;
	double v = 0;

	pthread_mutex_lock(&s->mu);
	want = (uint64_t)(p / 100.0 * (double)s->ngaps + 0.999999);
	for (int i = 0; i < STEADY_BINS && s->ngaps > 0; i++) {
		sum += s->gaps[i];
		if (sum >= want) {
			v = (i + 1) * 0.1;	/* the bin's upper edge */
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return v;
}

void
steady_stop(struct steady *s)
{
	poller_stop(&s->poller);
	for (int i = 0; i < s->n; i++)
		v2_close(&s->conn[i].c);
	s->n = 0;
}
