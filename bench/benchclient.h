/* benchclient.h — benchmark clients: the tests' v2 client and HTTP helpers joined up, an epoll reader of steady listeners. */
#ifndef RINGCAST_BENCHCLIENT_H
#define RINGCAST_BENCHCLIENT_H

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "bench/benchutil.h"
#include "tests/v2client.h"
#include "shared/proto.h"

/* ---- TCP ---- */

/* The local port of a connected socket, or -1. */
static inline int
bc_local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l) == -1)
		return -1;
	return ntohs(a.sin_port);
}

/* ---- the v2 client of the tests (tests/v2client.h), joined ---- */

/*
 * Handshake as id, wait for handshake_response and mix_state, then (if
 * mix is not NULL) send it as update_mix and wait for the committed
 * mix_state.  0 or -1.
 */
static inline int
bc_join(struct v2c *c, int port, const char *id, json_t *mix, int timeout_ms)
{
	json_t *o;

	if (v2_open(c, port, id, NULL, timeout_ms) == -1) {
		json_decref(mix);
		return -1;
	}
	if ((o = v2_recv_ctl(c, "handshake_response", timeout_ms, NULL)) ==
	    NULL)
		goto fail;
	json_decref(o);
	if ((o = v2_recv_ctl(c, "mix_state", timeout_ms, NULL)) == NULL)
		goto fail;
	json_decref(o);
	if (mix == NULL)
		return 0;
	json_object_set_new(mix, "type", json_string("update_mix"));
	o = mix;
	mix = NULL;
	if (v2_send_ctl(c, o) == -1 ||
	    (o = v2_recv_ctl(c, "mix_state", timeout_ms, NULL)) == NULL)
		goto fail;
	json_decref(o);
	return 0;
fail:
	json_decref(mix);
	v2_close(c);
	return -1;
}

/* update_mix fields subscribing channels 0..n-1. */
static inline json_t *
bc_channels(int n)
{
	json_t *o = json_object(), *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer(i));
	json_object_set_new(o, "channels", a);
	return o;
}

/* ---- HTTP/1.1, one request per connection ---- */

/* One request; the JSON body (NULL if none), *status the HTTP status or -1. */
static inline json_t *
bc_http(int port, const char *method, const char *path, const char *body,
    int *status)
{
	json_t *o = NULL;
	char *resp;

	*status = http_req(port, method, path, body, &resp, 5000);
	if (resp != NULL)
		o = json_loads(resp, 0, NULL);
	free(resp);
	return o;
}

/* An integer field of GET path (sub: one level down in key); -1. */
static inline long long
bc_api_int(int port, const char *path, const char *key, const char *sub)
{
	int st;
	json_t *o = bc_http(port, "GET", path, NULL, &st), *v;
	long long x = -1;

	v = json_object_get(o, key);
	if (sub != NULL)
		v = json_object_get(v, sub);
	if (st == 200 && json_is_integer(v))
		x = (long long)json_integer_value(v);
	json_decref(o);
	return x;
}

/* The session pid of a connected identity, or -1. */
static inline pid_t
bc_session_pid(int port, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	return (pid_t)bc_api_int(port, path, "pid", NULL);
}

/* A descriptor that becomes readable when pid exits (any process), or -1. */
static inline int
bc_pidfd(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Wait for a pidfd; 0 when the process ended, -1 on timeout. */
static inline int
bc_pidfd_wait(int pfd, int timeout_ms)
{
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 ? 0 : -1;
}

/* Resident set size (Rss of smaps_rollup) in KiB, or -1. */
static inline long
bc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* ---- steady listeners: one epoll thread checking continuity ---- */

#define BC_MAXSTEADY	64
#define BC_GAP_BINS	20000		/* 0.1 ms bins up to 2 s */

struct bc_steady_conn {
	struct v2c	 c;
	uint64_t	 last_pos;	/* 0: none yet */
	uint64_t	 last_ns;
};

/*
 * Counters are the loop thread's; the main thread reads them under mu
 * (a few times a run, not per packet).
 */
struct bc_steady {
	struct bc_steady_conn	 conn[BC_MAXSTEADY];
	int			 n;
	int			 ep;
	pthread_t		 thr;
	atomic_int		 stop;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	uint64_t		 packets;
	uint64_t		 lost;		/* periods missing from positions */
	uint64_t		 backwards;	/* positions that went back */
	uint64_t		 max_gap_ns;	/* longest time between packets */
	uint64_t		 gaps[BC_GAP_BINS];
	uint64_t		 ngaps;
	int			 failed;	/* a listener lost its stream */
};

/* Count one audio packet of s->conn[i], arrived at now; mu held. */
static inline void
bc_steady_packet(struct bc_steady *s, struct bc_steady_conn *sc,
    const struct proto_audio *a, uint64_t now)
{
	uint64_t gap, bin;

	if (sc->last_pos != 0) {
		if (a->position < sc->last_pos)
			s->backwards++;
		else if (a->position > sc->last_pos + a->frames)
			s->lost += (a->position - sc->last_pos - a->frames) /
			    a->frames;
	}
	if (sc->last_ns != 0) {
		gap = now - sc->last_ns;
		if (gap > s->max_gap_ns)
			s->max_gap_ns = gap;
		bin = gap / 100000;
		s->gaps[bin < BC_GAP_BINS ? bin : BC_GAP_BINS - 1]++;
		s->ngaps++;
	}
	sc->last_pos = a->position;
	sc->last_ns = now;
	s->packets++;
}

/* Read what one listener has and count its packets; -1 if it ended. */
static inline int
bc_steady_read(struct bc_steady *s, struct bc_steady_conn *sc)
{
	struct v2c *c = &sc->c;
	struct proto_audio a;
	size_t used;
	uint64_t now;
	ssize_t n;
	int rc;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	n = read(c->fd, c->buf + c->len, V2_BUF - c->len);
	if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
		return -1;
	if (n < 0)
		return 0;
	now = bu_now_ns();	/* one clock read per read: the arrival */
	c->len += (size_t)n;
	pthread_mutex_lock(&s->mu);
	while ((rc = proto_split(c->buf + c->off, c->len - c->off,
	    V2_BUF - PROTO_HDR_LEN, &c->hdr, &c->payload, &used)) ==
	    PROTO_OK) {
		c->off += used;
		if (c->hdr.type == PROTO_TYPE_AUDIO &&
		    proto_audio_decode(&c->hdr, c->payload, 1, &a) == PROTO_OK)
			bc_steady_packet(s, sc, &a, now);
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rc == PROTO_EMORE ? 0 : -1;
}

static inline void *
bc_steady_loop(void *arg)
{
	struct bc_steady *s = arg;
	struct epoll_event ev[BC_MAXSTEADY];
	int n;

	while (!atomic_load(&s->stop)) {
		n = epoll_wait(s->ep, ev, BC_MAXSTEADY, 50);
		for (int i = 0; i < n; i++) {
			struct bc_steady_conn *sc = ev[i].data.ptr;

			if (bc_steady_read(s, sc) == 0)
				continue;
			epoll_ctl(s->ep, EPOLL_CTL_DEL, sc->c.fd, NULL);
			pthread_mutex_lock(&s->mu);
			s->failed++;
			pthread_cond_broadcast(&s->cv);
			pthread_mutex_unlock(&s->mu);
		}
	}
	return NULL;
}

/*
 * n listeners "<prefix>-0".. joined with mix (update_mix fields, copied for
 * each), read by one thread.  0 or -1 (everything closed again).
 */
static inline int
bc_steady_start(struct bc_steady *s, int port, const char *prefix, int n,
    const json_t *mix)
{
	struct epoll_event ev = { .events = EPOLLIN };
	pthread_condattr_t ca;
	char id[96];

	memset(s, 0, sizeof(*s));
	s->ep = -1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (n > BC_MAXSTEADY || (s->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	for (s->n = 0; s->n < n; s->n++) {
		snprintf(id, sizeof(id), "%s-%d", prefix, s->n);
		if (bc_join(&s->conn[s->n].c, port, id, json_deep_copy(mix),
		    10000) == -1)
			return -1;
		ev.data.ptr = &s->conn[s->n];
		fcntl(s->conn[s->n].c.fd, F_SETFL, O_NONBLOCK);
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->conn[s->n].c.fd, &ev) ==
		    -1)
			return -1;
	}
	if (pthread_create(&s->thr, NULL, bc_steady_loop, s) != 0)
		return -1;
	return 0;
}

/* Stop the thread and close every listener; safe on a failed start. */
static inline void
bc_steady_stop(struct bc_steady *s)
{
	if (s->ep >= 0 && s->n > 0 && s->thr != 0) {
		atomic_store(&s->stop, 1);
		pthread_join(s->thr, NULL);
		s->thr = 0;
	}
	for (int i = 0; i < BC_MAXSTEADY && i <= s->n; i++)
		if (s->conn[i].c.buf != NULL || s->conn[i].c.fd > 0)
			v2_close(&s->conn[i].c);
	if (s->ep >= 0)
		close(s->ep);
	s->ep = -1;
	s->n = 0;
}

/* Start a new measuring window: counters to zero (positions are kept). */
static inline void
bc_steady_reset(struct bc_steady *s)
{
	pthread_mutex_lock(&s->mu);
	s->packets = s->lost = s->backwards = s->max_gap_ns = s->ngaps = 0;
	memset(s->gaps, 0, sizeof(s->gaps));
	pthread_mutex_unlock(&s->mu);
}

/*
 * Wait until every listener together got want more packets; 0, or -1 on
 * timeout or when one failed.
 */
static inline int
bc_steady_wait(struct bc_steady *s, uint64_t want, int timeout_ms)
{
	uint64_t end = bu_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	struct timespec ts = { (time_t)(end / 1000000000ull),
	    (long)(end % 1000000000ull) };
	int rc;

	pthread_mutex_lock(&s->mu);
	want += s->packets;
	while (s->packets < want && s->failed == 0 &&
	    pthread_cond_timedwait(&s->cv, &s->mu, &ts) == 0)
		;
	rc = s->packets >= want ? 0 : -1;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* The p-th percentile of the inter-arrival gaps, in ms (0.1 ms bins). */
static inline double
bc_steady_gap_pct(struct bc_steady *s, double p)
{
	uint64_t want, sum = 0;
	double v = 0;

	pthread_mutex_lock(&s->mu);
	want = (uint64_t)(p / 100.0 * (double)s->ngaps + 0.999999);
	for (int i = 0; i < BC_GAP_BINS && s->ngaps > 0; i++) {
		sum += s->gaps[i];
		if (sum >= want) {
			v = (i + 1) * 0.1;	/* the bin's upper edge */
			break;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return v;
}


/* ---- shared by the benchmarks that run one daemon at a time ---- */

/* The daemon running now, for the watchdog. */
static struct bu_daemon bc_daemon __attribute__((unused));

/* Past the budget: end the daemon's process group and fail. */
static inline void
bc_on_alarm(int sig)
{
	(void)sig;
	if (bc_daemon.pid > 0)
		kill(-bc_daemon.pid, SIGKILL);
	_exit(2);
}

static inline void
bc_watchdog(unsigned seconds)
{
	signal(SIGALRM, bc_on_alarm);
	alarm(seconds);
}

/* The median over n runs of the double at offset off in each (stride apart). */
static inline double
bc_median_field(const void *runs, size_t stride, int n, size_t off)
{
	double v[64];
	int i;

	for (i = 0; i < n && i < 64; i++)
		v[i] = *(const double *)(const void *)((const char *)runs +
		    (size_t)i * stride + off);
	return bu_median(v, (size_t)i);
}

#endif
