/* supervisor_publish.c — the published AES67 streams: configuration, sockets, SDP, one restarted publisher each. */
/*
 * Each `publish` entry is one or more streams (at most 8 channels each,
 * the AES67 limit: more channels become several streams on consecutive
 * group addresses).  At start, before any child runs, the supervisor
 * opens each stream's sockets (RTP and SAP, connected to their groups:
 * errors show at once and restarts reuse them), picks its random numbers
 * (SSRC, timestamp and sequence offsets, SAP hash, SDP session id: kept
 * for the life of ringcastd, so a restarted publisher continues the same
 * stream) and builds the SDP it announces.  A publisher
 * (sessiond/publish.c) is a service like capture and the broker: restarted
 * with backoff whenever it ends, sandboxed like a session.  A publisher
 * that outlived the previous ringcastd is adopted when it sends the
 * stream configured under its name: its numbers and SDP become the
 * stream's, so its receivers see one stream throughout.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "shared/log.h"
#include "shared/mcast.h"
#include "shared/opt.h"
#include "shared/rtp.h"
#include "shared/sdp.h"
#include "supervisor/supervisor.h"

#define PUB_STREAMS_MAX		32
#define PUB_PAYLOAD_MAX		1440	/* AES67: a packet fits a 1500-byte MTU */
#define PUB_TTL_DEFAULT		1	/* the local network; routers do not pass it */

/* One stream as the configuration defines it. */
struct pubdef {
	char		 name[128];
	const char	*entry;		/* the publish = line it comes from */
	uint32_t	 group;
	uint16_t	 port;
	uint8_t		 ttl, pt;
	enum rtp_format	 format;
	uint32_t	 frames, ptime_us;
	uint32_t	 nch;
	uint16_t	 channels[MSG_PUBLISH_CHANNELS];
};

struct pubstream {
	struct service		 svc;
	char			 svc_name[160];
	struct pubdef		 def;
	struct msg_publish_start st;
	uint32_t		 session_id;	/* the SDP's o= */
	char			 sdp[SDP_MAX];
	size_t			 sdp_len;
	uint32_t		 source;	/* the packets' source address */
	int			 rtp_fd, sap_fd;
	struct msg_publish_state last;	/* its last report */
};

static struct pubstream streams[PUB_STREAMS_MAX];
static int nstreams;

/* ---- the configuration ---- */

static const char *const publish_keys[] = { "channels", "format", "ptime",
	"name", "ttl", "pt", NULL };

static int
def_format(struct pubdef *d, const struct rtp_url *u, uint32_t rate,
    char *err, size_t errlen)
{
	const char *v;
	double ms = 1.0, exact;
	long long n;

	d->format = RTP_L24;
	if ((v = rtp_url_get(u, "format")) != NULL &&
	    rtp_format_parse(v, strlen(v), &d->format) == -1) {
		errbuf_set(err, errlen, "format %s: L24 or L16", v);
		return -1;
	}
	if ((v = rtp_url_get(u, "ptime")) != NULL &&
	    opt_decimal(v, 0.01, 20, &ms) == -1) {
		errbuf_set(err, errlen, "ptime %s: a number of ms", v);
		return -1;
	}
	exact = ms * rate / 1000.0;
	d->frames = (uint32_t)llround(exact);
	if (d->frames == 0 || fabs(exact - d->frames) > 0.01) {
		errbuf_set(err, errlen, "ptime %g ms is no whole number of "
		    "frames at %u Hz", ms, rate);
		return -1;
	}
	d->ptime_us = (uint32_t)((uint64_t)d->frames * 1000000 / rate);
	if (rtp_url_number(u, "ttl", 1, 255, PUB_TTL_DEFAULT, &n, err,
	    errlen) == -1)
		return -1;
	d->ttl = (uint8_t)n;
	if (rtp_url_number(u, "pt", 96, 127, RTP_PT_DYNAMIC, &n, err,
	    errlen) == -1)
		return -1;
	d->pt = (uint8_t)n;
	return 0;
}

static void
default_name(char *name, size_t len)
{
	char host[64];

	if (gethostname(host, sizeof(host)) == -1)
		snprintf(host, sizeof(host), "host");
	host[sizeof(host) - 1] = '\0';
	snprintf(name, len, "ringcast-%s", host);
}

/* The channels, split into streams of at most 8; the next free slot in out. */
static int
def_split(const struct pubdef *d, const uint32_t *list, int nlist,
    struct pubdef *out, int room, char *err, size_t errlen)
{
	int k, nsplit = (nlist + MSG_PUBLISH_CHANNELS - 1) /
	    MSG_PUBLISH_CHANNELS, i;
	struct pubdef *o;

	if (nsplit > room) {
		errbuf_set(err, errlen, "more than %d streams in all",
		    PUB_STREAMS_MAX);
		return -1;
	}
	for (k = 0; k < nsplit; k++) {
		o = &out[k];
		*o = *d;
		o->group = htonl(ntohl(d->group) + (uint32_t)k);
		o->nch = 0;
		for (i = k * MSG_PUBLISH_CHANNELS; i < nlist &&
		    o->nch < MSG_PUBLISH_CHANNELS; i++)
			o->channels[o->nch++] = (uint16_t)list[i];
		if (nsplit > 1)
			snprintf(o->name, sizeof(o->name), "%.120s-%d", d->name,
			    (k + 1) % 100);
		if (o->frames * o->nch * o->format > PUB_PAYLOAD_MAX) {
			errbuf_set(err, errlen, "%u channels of %s at %u frames "
			    "a packet exceed %d bytes: fewer channels or a "
			    "shorter ptime", o->nch, rtp_format_name(o->format),
			    o->frames, PUB_PAYLOAD_MAX);
			return -1;
		}
	}
	return nsplit;
}

/* One publish = entry into streams; how many, or -1. */
static int
def_parse(const struct config *c, const char *entry, struct pubdef *out,
    int room, char *err, size_t errlen)
{
	uint32_t list[OPT_CHANNELS_MAX];
	struct rtp_url u;
	struct pubdef d;
	const char *v;
	int n;

	memset(&d, 0, sizeof(d));
	d.entry = entry;
	if (rtp_url_parse(entry, &u, err, errlen) == -1 ||
	    rtp_url_only(&u, publish_keys, err, errlen) == -1 ||
	    mcast_addr(u.host, u.port, &d.group, &d.port, err, errlen) == -1 ||
	    def_format(&d, &u, c->rate, err, errlen) == -1)
		return -1;
	if ((v = rtp_url_get(&u, "name")) != NULL)
		snprintf(d.name, sizeof(d.name), "%s", v);
	else
		default_name(d.name, sizeof(d.name));
	if ((v = rtp_url_get(&u, "channels")) == NULL) {
		for (n = 0; n < (int)c->channels; n++)
			list[n] = (uint32_t)n;
	} else if ((n = opt_channels(v, c->channels, list, OPT_CHANNELS_MAX,
	    err, errlen)) == -1)
		return -1;
	return def_split(&d, list, n, out, room, err, errlen);
}

/* Every entry, and no two streams on one group and port. */
static int
defs_parse(const struct config *c, struct pubdef *defs, int *n, char *err,
    size_t errlen)
{
	char why[256];
	uint32_t i;
	int k, j, got;

	*n = 0;
	for (i = 0; i < c->publish.n; i++) {
		got = def_parse(c, c->publish.item[i], defs + *n,
		    PUB_STREAMS_MAX - *n, why, sizeof(why));
		if (got == -1) {
			snprintf(err, errlen, "publish %s: %s",
			    c->publish.item[i], why);
			return -1;
		}
		*n += got;
	}
	for (k = 0; k < *n; k++)
		for (j = 0; j < k; j++)
			if (defs[k].group == defs[j].group &&
			    defs[k].port == defs[j].port) {
				snprintf(err, errlen, "publish: streams %s and "
				    "%s share a group and port", defs[j].name,
				    defs[k].name);
				return -1;
			}
	return 0;
}

int
publish_check(const struct config *c, char *err, size_t errlen)
{
	static struct pubdef defs[PUB_STREAMS_MAX];
	int n;

	return defs_parse(c, defs, &n, err, errlen);
}

/* ---- start: sockets, numbers, SDP ---- */

static uint32_t
random32(void)
{
	uint32_t v;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		fatalx("RAND_bytes failed");
	return v;
}

/* "ringcast channels 1-8", as people count them. */
static void
info_text(const struct pubdef *d, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "ringcast channel%s ",
	    d->nch > 1 ? "s" : "");
	uint32_t i;

	if ((uint32_t)(d->channels[d->nch - 1] - d->channels[0]) == d->nch - 1 &&
	    d->nch > 1) {
		snprintf(out + n, len - n, "%u-%u", d->channels[0] + 1u,
		    d->channels[d->nch - 1] + 1u);
		return;
	}
	for (i = 0; i < d->nch && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%u", i ? "," : "",
		    d->channels[i] + 1u);
}

/*
 * The stream as the configuration and its numbers make it, into st and
 * sdp: what a publisher is started with, and what an adopted one must be
 * sending.
 */
static void
describe(const struct pubstream *ps, const struct msg_publish_start *numbers,
    uint32_t session_id, struct msg_publish_start *st, char *sdp,
    size_t *sdp_len)
{
	const struct pubdef *d = &ps->def;
	struct sdp_stream s = { .group = d->group, .ttl = d->ttl,
	    .port = d->port, .pt = d->pt, .format = d->format,
	    .rate = sv.cfg.rate, .channels = d->nch, .ptime_us = d->ptime_us,
	    .source = ps->source, .has_offset = true,
	    .session_id = session_id };

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", d->name);
	st->nch = d->nch;
	memcpy(st->channels, d->channels, sizeof(st->channels));
	st->format = d->format;
	st->frames = d->frames;
	st->pt = d->pt;
	st->ssrc = numbers->ssrc;
	st->ts_offset = numbers->ts_offset;
	st->seq = numbers->seq;
	st->sap_interval_ms = sv.cfg.sap_interval * 1000;
	st->sap_hash = numbers->sap_hash;
	st->sap_origin = ps->source ? ps->source : htonl(INADDR_LOOPBACK);
	snprintf(s.name, sizeof(s.name), "%s", d->name);
	info_text(d, s.info, sizeof(s.info));
	s.origin = st->sap_origin;
	s.offset = st->ts_offset;
	*sdp_len = sdp_build(&s, sdp, SDP_MAX);
}

/* A new stream's numbers, kept for the life of ringcastd. */
static void
numbers_pick(struct pubstream *ps)
{
	struct msg_publish_start n = {
		.ssrc = random32(), .ts_offset = random32(),
		.seq = random32() & 0xffff,
		.sap_hash = (random32() & 0xfffe) + 1,	/* never 0 */
	};

	ps->session_id = random32();
	describe(ps, &n, ps->session_id, &ps->st, ps->sdp, &ps->sdp_len);
}

/*
 * What an orphaned publisher sends is this stream, numbers aside: it is
 * adopted, and its numbers and SDP become the stream's.
 */
static bool
fits(void *arg, const struct msg_adopt_publish *m)
{
	static char sdp[SDP_MAX];
	struct pubstream *ps = arg;
	struct msg_publish_start st;
	struct sdp_stream got;
	char err[128];
	size_t len;

	if (sdp_parse(m->sdp, strlen(m->sdp), &got, err, sizeof(err)) !=
	    SDP_OK)
		return false;
	describe(ps, &m->st, (uint32_t)got.session_id, &st, sdp, &len);
	if (memcmp(&st, &m->st, sizeof(st)) != 0 || len != strlen(m->sdp) ||
	    memcmp(sdp, m->sdp, len) != 0)
		return false;
	ps->st = st;
	ps->session_id = (uint32_t)got.session_id;
	memcpy(ps->sdp, sdp, len + 1);
	ps->sdp_len = len;
	ps->last = m->counters;
	return true;
}

static int
open_sockets(struct pubstream *ps, uint32_t sap_group, uint16_t sap_port,
    char *err, size_t errlen)
{
	char why[256];
	uint32_t unused;

	if ((ps->rtp_fd = mcast_sender(ps->def.group, ps->def.port,
	    ps->def.ttl, sv.cfg.mcast_if, &ps->source, why,
	    sizeof(why))) == -1 ||
	    (ps->sap_fd = mcast_sender(sap_group, sap_port, ps->def.ttl,
	    sv.cfg.mcast_if, &unused, why, sizeof(why))) == -1) {
		snprintf(err, errlen, "publish %s: %s", ps->def.name, why);
		return -1;
	}
	return 0;
}

int
publish_setup(char *err, size_t errlen)
{
	static struct pubdef defs[PUB_STREAMS_MAX];
	char host[64], port[8];
	uint32_t sap_group;
	uint16_t sap_port;
	int i;

	if (defs_parse(&sv.cfg, defs, &nstreams, err, errlen) == -1 ||
	    opt_hostport(sv.cfg.sap, NULL, host, sizeof(host), port,
	    sizeof(port), err, errlen) == -1 || mcast_addr(host, port,
	    &sap_group, &sap_port, err, errlen) == -1)
		return -1;
	if (nstreams > 0 && access(super_prog("ringcast-publish"), X_OK) == -1) {
		snprintf(err, errlen, "publish: %s: %s",
		    super_prog("ringcast-publish"), strerror(errno));
		return -1;
	}
	for (i = 0; i < nstreams; i++) {
		streams[i].def = defs[i];
		streams[i].rtp_fd = streams[i].sap_fd = -1;
		if (open_sockets(&streams[i], sap_group, sap_port, err,
		    errlen) == -1)
			return -1;
		numbers_pick(&streams[i]);
	}
	return 0;
}

/* ---- the publishers ---- */

static struct pubstream *
stream_of(const struct child *c)
{
	int i;

	for (i = 0; i < nstreams; i++)
		if (streams[i].svc.child == c)
			return &streams[i];
	return NULL;
}

struct child *
publish_spawn(struct service *s)
{
	struct pubstream *ps = (struct pubstream *)(void *)((char *)s -
	    offsetof(struct pubstream, svc));
	static const char *const words[] = { "ringcast-publish",
	    "--parent-fd", "3", "--ring-fd", "4", "--rtp-fd", "5", "--sap-fd",
	    "6", NULL };
	int fds[3] = { sv.ring_fd, ps->rtp_fd, ps->sap_fd };
	struct child *c;

	c = child_spawn(CHILD_PUBLISH, words, fds, 3);
	/* A fresh channel has room: the first message always fits. */
	if (c != NULL && child_send(c, MSG_PUBLISH_START, &ps->st,
	    sizeof(ps->st), ps->sdp, ps->sdp_len) == -1)
		log_warn("%s: MSG_PUBLISH_START", ps->svc_name);
	return c;
}

void
publish_start_all(void)
{
	struct pubstream *ps;
	struct child *c;
	char g[16], name[sizeof(streams[0].svc_name)];
	int i;

	for (i = 0; i < nstreams; i++) {
		ps = &streams[i];
		/* Through name: at -O0 gcc takes the two members to overlap. */
		snprintf(name, sizeof(name), "publish %s", ps->def.name);
		memcpy(ps->svc_name, name, sizeof(name));
		service_init(&ps->svc, ps->svc_name, CHILD_PUBLISH);
		inet_ntop(AF_INET, &ps->def.group, g, sizeof(g));
		log_info("publishing %s: %u channels %s to %s:%u, announced to "
		    "%s every %u s", ps->def.name, ps->def.nch,
		    rtp_format_name(ps->def.format), g, ps->def.port,
		    sv.cfg.sap, sv.cfg.sap_interval);
		if ((c = adopt_publisher(ps->def.name, fits, ps)) != NULL)
			service_adopt(&ps->svc, c);
		else
			service_start(&ps->svc);
	}
	adopt_publishers_done();
}

void
publish_stop_all(void)
{
	int i;

	for (i = 0; i < nstreams; i++)
		service_stop(&streams[i].svc);
}

void
publish_ready(struct child *c)
{
	struct pubstream *ps = stream_of(c);

	if (ps != NULL)
		service_ready(&ps->svc);
}

void
publish_exited(struct child *c, int status)
{
	struct pubstream *ps = stream_of(c);

	if (ps != NULL)
		service_exited(&ps->svc, c, status);
}

void
publish_state(struct child *c, const struct msg_publish_state *m)
{
	struct pubstream *ps = stream_of(c);

	if (ps != NULL)
		ps->last = *m;
}

struct child *
publish_child(const char *name)
{
	int i;

	for (i = 0; i < nstreams; i++)
		if (strcmp(streams[i].def.name, name) == 0)
			return streams[i].svc.child;
	return NULL;
}

/* ---- what the API shows ---- */

static json_t *
stream_json(const struct pubstream *ps)
{
	const struct child *c = ps->svc.child;
	json_t *ch = json_array(), *o;
	char g[16];
	uint32_t i;

	inet_ntop(AF_INET, &ps->def.group, g, sizeof(g));
	for (i = 0; ch != NULL && i < ps->def.nch; i++)
		json_array_append_new(ch, json_integer(ps->def.channels[i]));
	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:o, s:s, s:i, s:i, s:I, "
	    "s:I, s:s, s:o, s:s, s:I, s:s}",
	    "name", ps->def.name, "url", ps->def.entry, "group", g,
	    "port", ps->def.port, "ttl", ps->def.ttl, "channels", ch,
	    "format", rtp_format_name(ps->def.format),
	    "frames", (int)ps->def.frames, "ptime_us", (int)ps->def.ptime_us,
	    "ssrc", (json_int_t)ps->st.ssrc,
	    "ts_offset", (json_int_t)ps->st.ts_offset, "sdp", ps->sdp,
	    "pid", c != NULL ? json_integer(c->pid) : json_null(),
	    "state", c == NULL ? "down" : c->ready ? "running" : "starting",
	    "restarts", (json_int_t)ps->svc.restarts,
	    "last_exit", ps->svc.last_exit);
	if (o != NULL)
		json_object_set_new(o, "counters", json_pack("{s:I, s:I, s:I, "
		    "s:I, s:I, s:I, s:I}",
		    "packets", (json_int_t)ps->last.packets,
		    "bytes", (json_int_t)ps->last.bytes,
		    "dropped", (json_int_t)ps->last.dropped,
		    "late", (json_int_t)ps->last.late,
		    "skipped", (json_int_t)ps->last.skipped,
		    "lost", (json_int_t)ps->last.lost,
		    "sap", (json_int_t)ps->last.sap));
	return o;
}

/* GET /api/publish */
json_t *
publish_json(void)
{
	json_t *a = json_array();
	int i;

	for (i = 0; a != NULL && i < nstreams; i++)
		json_array_append_new(a, stream_json(&streams[i]));
	return json_pack("{s:o, s:s, s:i, s:s}", "streams", a,
	    "sap", sv.cfg.sap, "sap_interval_s", (int)sv.cfg.sap_interval,
	    "interface", sv.cfg.mcast_if);
}

void
publish_metrics(FILE *f)
{
	static const struct metric_counter m[] = {
		METRIC_COUNTER("publish", struct msg_publish_state, packets,
		    "packets", "RTP packets sent."),
		METRIC_COUNTER("publish", struct msg_publish_state, dropped,
		    "dropped", "RTP packets the socket refused."),
		METRIC_COUNTER("publish", struct msg_publish_state, late,
		    "late", "RTP packets sent over a packet time after they "
		    "were due."),
		METRIC_COUNTER("publish", struct msg_publish_state, skipped,
		    "skipped", "RTP packets not sent: the publisher was too "
		    "far behind."),
	};
	const char *names[PUB_STREAMS_MAX];
	int i;

	for (i = 0; i < nstreams; i++)
		names[i] = streams[i].def.name;
	metric_counters(f, m, sizeof(m) / sizeof(m[0]), "stream", names,
	    &streams[0].last, sizeof(streams[0]), nstreams);
}
