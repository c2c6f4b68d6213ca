/* aes67.c — test library: box A publishes its tone, box B ingests it; what B's listeners hear, judged. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/rtp.h"
#include "shared/tone.h"
#include "tests/lib/aes67.h"
#include "tests/lib/http.h"
#include "tests/lib/tu.h"

int
aes67_up(struct aes67 *x, const char *tag, char *why, size_t whylen)
{
	uint32_t k;

	memset(x, 0, sizeof(*x));
	if (netns_pair(&x->ns, tag, why, whylen) == -1)
		return -1;
	if ((x->tone = calloc(AES67_RATE, sizeof(float))) == NULL) {
		snprintf(why, whylen, "out of memory");
		aes67_down(x);
		return -1;
	}
	for (k = 0; k < AES67_RATE; k++)
		x->tone[k] = rtp_quantize(RTP_L24, tone_value(k, AES67_RATE));
	return netns_enter(&x->ns, NETNS_B);
}

/* ringcastd in a namespace, its arguments and then extra. */
static int
aes67_start(struct aes67 *x, struct rcd *d, enum netns_side side,
    const char *tag, const char *const *args, const char *const *extra)
{
	const char *argv[32];
	int n = 0, rc;

	while (*args != NULL && n < 16)
		argv[n++] = *args++;
	while (extra != NULL && *extra != NULL && n < 31)
		argv[n++] = *extra++;
	argv[n] = NULL;
	if ((d->dir[0] == '\0' && rcd_init(d, tag) == -1) ||
	    netns_enter(&x->ns, side) == -1)
		return -1;
	rc = rcd_start(d, argv, AES67_WAIT_MS);
	(void)netns_enter(&x->ns, NETNS_B);
	return rc;
}

int
aes67_start_a(struct aes67 *x, const char *const *extra)
{
	const char *args[] = { "--publish", "rtp://239.69.1.1:5004?name="
	    AES67_NAME, "--multicast-interface", x->ns.ifname[NETNS_A],
	    "--sap-interval", "1", NULL };

	if (aes67_start(x, &x->a, NETNS_A, "a", args, extra) == -1)
		return -1;
	if (x->ring_a == NULL && ring_reader_open(x->a.ring, &x->ring_a) !=
	    RING_OK)
		return -1;
	return 0;
}

int
aes67_start_b(struct aes67 *x, const char *source, const char *const *extra)
{
	const char *args[] = { "--source", source, "--multicast-interface",
	    x->ns.ifname[NETNS_B], NULL };

	return aes67_start(x, &x->b, NETNS_B, "b", args, extra);
}

json_t *
aes67_get(struct aes67 *x, enum netns_side side, const char *path)
{
	json_t *o;

	if (netns_enter(&x->ns, side) == -1)
		return NULL;
	o = http_get(side == NETNS_A ? x->a.http_port : x->b.http_port, path);
	(void)netns_enter(&x->ns, NETNS_B);
	return o;
}

static json_t *
aes67_path_get(const json_t *o, const char *a, const char *b)
{
	return json_object_get(json_object_get(o, a), b);
}

/* B position = A position + delta: from A's timestamp offset and B's anchor. */
int
aes67_offset(struct aes67 *x, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	json_t *pub = NULL, *st = NULL, *in;
	uint32_t off, ts;
	int rc = -1;

	while (rc == -1 && clock_mono_ms() < end) {
		json_decref(pub);
		json_decref(st);
		pub = aes67_get(x, NETNS_A, "/api/publish");
		st = aes67_get(x, NETNS_B, "/api/status");
		in = aes67_path_get(st, "capture", "ingest");
		if (pub == NULL || !json_is_true(json_object_get(in,
		    "anchored"))) {
			tu_sleep_until(clock_mono_ns() + 100000000ull);
			continue;
		}
		off = (uint32_t)json_integer_value(json_object_get(
		    json_array_get(json_object_get(pub, "streams"), 0),
		    "ts_offset"));
		ts = (uint32_t)json_integer_value(json_object_get(in, "ts"));
		x->delta = (int64_t)json_integer_value(json_object_get(in,
		    "position")) - (int64_t)(uint32_t)(ts - off);
		rc = 0;
	}
	json_decref(pub);
	json_decref(st);
	return rc;
}

int
aes67_reader_realtime(void)
{
	struct sched_param sp = { .sched_priority = 50 };

	return pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0 ?
	    0 : -1;
}

int
aes67_listen(struct aes67 *x, struct v2c *c, const char *id, int nch)
{
	json_t *hello = v2_hello(id, NULL);

	json_object_set_new(hello, "audio_format", json_string("float32"));
	return v2_join_hello(c, x->b.native_port, hello, v2_channels(nch),
	    AES67_WAIT_MS);
}

/* When A captured the frame before a_end (its ring's slot times). */
static int
aes67_a_time(struct aes67 *x, uint64_t a_end, uint64_t *ns)
{
	uint64_t p = (a_end + AES67_PERIOD - 1) / AES67_PERIOD * AES67_PERIOD;

	if (ring_reader_time_of(x->ring_a, p, ns) == -1)
		return -1;
	*ns -= (p - a_end) * 1000000000ull / AES67_RATE;
	return 0;
}

static void
aes67_latency_add(struct aes67_heard *h, double ms)
{
	double *n;

	if (h->nlat == h->caplat) {
		h->caplat = h->caplat ? 2 * h->caplat : 4096;
		if ((n = realloc(h->lat_ms, h->caplat * sizeof(*n))) == NULL)
			return;
		h->lat_ms = n;
	}
	h->lat_ms[h->nlat++] = ms;
}

/*
 * A run of zeros where A's tone was: lost or late packets, so it must
 * start and end on A's packet boundaries.  Once every 192 frames the tone
 * is zero on every channel: such a frame fits either, so a run takes it in
 * only when it begins or ends right next to it.
 */
static void
aes67_frame(struct aes67 *x, struct aes67_heard *h, const struct proto_audio *a,
    uint32_t f, uint64_t an)
{
	bool ok = true, zero = true;
	uint32_t c;
	float v;

	for (c = 0; c < a->nch; c++) {
		v = proto_audio_sample(a, (size_t)f * a->nch + c);
		ok = ok && v == x->tone[tone_index(c, an, AES67_RATE)];
		zero = zero && v == 0.0f;
	}
	h->frames++;
	if (ok && zero) {
		h->exact++;
		if (h->amb_from == 0)
			h->amb_from = an;
		return;
	}
	if (zero) {
		h->zeros++;
		if (h->run_start == 0) {
			h->run_start = h->amb_from != 0 ? h->amb_from : an;
			/* Begun before we listened: its start is not ours to judge. */
			h->run_cut = h->frames == 1;
		}
		h->run_end = an + 1;
	} else if (ok) {
		h->exact++;
		if (h->run_start != 0) {
			h->zero_runs++;
			h->misaligned += (!h->run_cut &&
			    h->run_start % AES67_FRAMES != 0) ||
			    h->run_end % AES67_FRAMES != 0;
			h->run_start = 0;
		}
	} else
		h->wrong++;
	h->amb_from = 0;
}

void
aes67_hear(struct aes67 *x, struct aes67_heard *h, const struct proto_audio *a,
    uint64_t recv_ns)
{
	uint64_t first = a->position - a->frames, t;
	uint32_t f;

	if (h->last_end != 0 && first != h->last_end)
		h->gaps += first > h->last_end ? (first - h->last_end) /
		    AES67_PERIOD : 1;
	h->last_end = a->position;
	h->packets++;
	for (f = 0; f < a->frames; f++)
		aes67_frame(x, h, a, f, (uint64_t)((int64_t)(first + f) -
		    x->delta));
	if (aes67_a_time(x, (uint64_t)((int64_t)a->position - x->delta),
	    &t) == 0 && recv_ns > t)
		aes67_latency_add(h, (double)(recv_ns - t) / 1e6);
}

static int
aes67_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double
aes67_latency_pct(struct aes67_heard *h, double p)
{
	size_t i;

	if (h->nlat == 0)
		return -1;
	qsort(h->lat_ms, h->nlat, sizeof(double), aes67_cmp_double);
	i = (size_t)(p / 100.0 * (double)(h->nlat - 1) + 0.5);
	return h->lat_ms[i < h->nlat ? i : h->nlat - 1];
}

void
aes67_down(struct aes67 *x)
{
	if (x->ring_a != NULL)
		ring_reader_close(x->ring_a);
	x->ring_a = NULL;
	rcd_cleanup(&x->b);
	rcd_cleanup(&x->a);
	netns_cleanup(&x->ns);
	free(x->tone);
	x->tone = NULL;
}
