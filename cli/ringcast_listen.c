/* ringcast_listen.c — `ringcast listen`: a native v2 client; options, (re)connecting and the stream it hands to its sinks (listen_*.c). */
#define _GNU_SOURCE	/* ppoll */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/listen.h"
#include "cli/ringcast.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/opt.h"
#include "shared/proto.h"
#include "shared/text.h"

#define LISTEN_HOST		"127.0.0.1"
#define LISTEN_PORT		"5101"
#define BACKOFF_FIRST_MS	1000	/* the app's schedule: 1 s, x1.5, cap 8 s */
#define BACKOFF_CAP_MS		8000
#define READ_TIMEOUT_MS		30000	/* the app's read timeout */
#define CONNECT_TIMEOUT_MS	5000
#define SEND_TIMEOUT_MS		5000
#define BAD_MAGIC_LIMIT		3	/* in a row: the stream is broken */
#define CHANNELS_MAX		(PROTO_MASK_WORDS_MAX * 32)
#define RX_SIZE			(PROTO_HDR_LEN + PROTO_AUDIO_MAX)
#define PACKET_FRAMES_MAX	8192
#define SECONDS_MAX		1e7

/* What one connection attempt came to. */
enum conn_result {
	CONN_OK,	/* internal: keep going */
	CONN_DONE,	/* --seconds reached or a signal: stop */
	CONN_CLOSED,	/* the server closed the connection */
	CONN_FAILED,	/* could not connect */
	CONN_BROKEN,	/* protocol error, timeout, reset */
	CONN_FATAL,	/* a local error no reconnect can fix */
};

enum wait_result { WAIT_TIMEOUT, WAIT_READY, WAIT_STOP, WAIT_ERR };

struct listen_opts {
	char		 host[256];
	char		 port[16];
	uint32_t	 chans[CHANNELS_MAX];	/* --channels, ascending */
	uint32_t	 nchans;		/* 0: not given */
	bool		 server_mix;
	bool		 float32;
	bool		 play;
	bool		 once;
	bool		 quiet;
	bool		 rf;
	uint32_t	 packet_frames;
	const char	*out;
	double		 seconds;		/* 0: endless */
	const char	*name;
	const char	*id;
	int		 verbose;
};

struct listen_stats {
	uint64_t	 packets;
	uint64_t	 frames;
	uint64_t	 lost;			/* periods missing from positions */
	uint64_t	 reconnects;
	uint64_t	 jit_n;
	double		 jit_sum_ms;
	double		 jit_max_ms;
};

/* One connection's view of the stream. */
struct conn {
	int		 fd;
	bool		 ready;			/* handshake_response seen */
	bool		 have_pos;
	uint64_t	 pos;			/* last position seen */
	uint64_t	 last_ns;		/* last audio arrival */
	int		 bad_magic;		/* in a row */
};

struct listen {
	struct listen_opts	 o;
	struct listen_stats	 s;
	char			 client_id[37];
	uint32_t		 mask_words;
	uint32_t		 rate;		/* the server's sample rate */
	uint32_t		 mask[PROTO_MASK_WORDS_MAX];	/* last seen */
	uint32_t		 nch;
	double			 audio_s;	/* seconds of audio accepted */
	uint8_t			*rx;
	size_t			 rxlen;
	float			*pcm;
	size_t			 pcm_cap;	/* samples */
	struct wavfile		*wavfile;	/* --out */
	struct play		*play;		/* --play */
};

static volatile sig_atomic_t stop_sig;
static sigset_t wait_mask;	/* the mask during waits: INT, TERM open */

static void
note(const struct listen *l, const char *fmt, ...)
{
	va_list ap;

	if (l->o.quiet)
		return;
	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
}

/* ---- signals and waiting ---- */

static void
on_signal(int sig)
{
	(void)sig;
	stop_sig = 1;
}

/*
 * SIGINT and SIGTERM stay blocked except inside ppoll, so a signal can only
 * arrive while we wait and always cuts the wait short: no lost wake-ups.
 */
static int
signals_init(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGTERM, &sa, NULL) == -1)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, &wait_mask) == -1)
		return -1;
	sigdelset(&wait_mask, SIGINT);
	sigdelset(&wait_mask, SIGTERM);
	return 0;
}

/* Wait up to ms for ev on fd (fd < 0: just wait); a signal ends the wait. */
static enum wait_result
listen_wait(int fd, short ev, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = ev };
	uint64_t end = clock_mono_ns() + (uint64_t)ms * 1000000ull, t;
	struct timespec ts;
	int n;

	while (!stop_sig && (t = clock_mono_ns()) < end) {
		ts.tv_sec = (end - t) / 1000000000ull;
		ts.tv_nsec = (end - t) % 1000000000ull;
		n = ppoll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, &ts,
		    &wait_mask);
		if (n > 0)
			return WAIT_READY;
		if (n == -1 && errno != EINTR)
			return WAIT_ERR;
	}
	return stop_sig ? WAIT_STOP : WAIT_TIMEOUT;
}

bool
listen_sleep(int ms)
{
	return listen_wait(-1, 0, ms) != WAIT_STOP;
}

/* ---- options ---- */

static void
listen_usage(FILE *f)
{
	fprintf(f,
	    "usage: ringcast listen [-pq] [--channels LIST] [--server-mix] "
	    "[--float32]\n"
	    "                       [--packet-frames N] [--out FILE.wav] "
	    "[--play]\n"
	    "                       [--seconds N] [--once] [--name NAME] "
	    "[--id UUID]\n"
	    "                       [--rf] [-v] [HOST[:PORT]]\n"
	    "Connects to a ringcast server (default %s:%s), plays or records "
	    "what it\nsends, and prints a summary on exit.  See ringcast(1).\n",
	    LISTEN_HOST, LISTEN_PORT);
}

/* A hello string field: 1 to 127 bytes the server accepts. */
static int
check_text(const char *what, const char *s, bool ok)
{
	if (!ok)
		warnx("%s '%s': expected 1 to 127 bytes without control "
		    "characters%s", what, s, strcmp(what, "--id") == 0 ?
		    ", printable ASCII" : "");
	return ok ? 0 : -1;
}

static int
parse_number(const char *what, const char *s, double lo, double hi,
    double *v)
{
	if (opt_decimal(s, lo, hi, v) == -1) {
		warnx("%s: expected a number from %g to %g, got '%s'", what,
		    lo, hi, s);
		return -1;
	}
	return 0;
}

enum {
	OPT_SERVER_MIX = 256, OPT_FLOAT32, OPT_PACKET_FRAMES, OPT_ONCE,
	OPT_NAME, OPT_ID, OPT_RF,
};

static const struct option listen_longopts[] = {
	{ "channels",		required_argument,	NULL, 'c' },
	{ "server-mix",		no_argument,		NULL, OPT_SERVER_MIX },
	{ "float32",		no_argument,		NULL, OPT_FLOAT32 },
	{ "packet-frames",	required_argument,	NULL, OPT_PACKET_FRAMES },
	{ "out",		required_argument,	NULL, 'o' },
	{ "play",		no_argument,		NULL, 'p' },
	{ "seconds",		required_argument,	NULL, 's' },
	{ "once",		no_argument,		NULL, OPT_ONCE },
	{ "name",		required_argument,	NULL, OPT_NAME },
	{ "id",			required_argument,	NULL, OPT_ID },
	{ "rf",			no_argument,		NULL, OPT_RF },
	{ "quiet",		no_argument,		NULL, 'q' },
	{ "verbose",		no_argument,		NULL, 'v' },
	{ "help",		no_argument,		NULL, 'h' },
	{ NULL,			0,			NULL, 0 },
};

/* One option; -1 on a bad value (already reported), 1 for --help. */
static int
listen_opt(struct listen_opts *o, int ch, const char *arg)
{
	char why[256];
	double v;
	int n;

	switch (ch) {
	case 'c':
		if ((n = opt_channels(arg, CHANNELS_MAX, o->chans, CHANNELS_MAX,
		    why, sizeof(why))) == -1) {
			warnx("--channels: %s", why);
			return -1;
		}
		o->nchans = (uint32_t)n;
		return 0;
	case OPT_SERVER_MIX:	o->server_mix = true;	return 0;
	case OPT_FLOAT32:	o->float32 = true;	return 0;
	case 'p':		o->play = true;		return 0;
	case OPT_ONCE:		o->once = true;		return 0;
	case OPT_RF:		o->rf = true;		return 0;
	case 'q':		o->quiet = true;	return 0;
	case 'v':		o->verbose++;		return 0;
	case 'o':		o->out = arg;		return 0;
	case 'h':		return 1;
	case OPT_PACKET_FRAMES:
		if (parse_number("--packet-frames", arg, 1, PACKET_FRAMES_MAX,
		    &v) == -1 || v != floor(v))
			return -1;
		o->packet_frames = (uint32_t)v;
		return 0;
	case 's':
		if (parse_number("--seconds", arg, 0.001, SECONDS_MAX, &v) == -1)
			return -1;
		o->seconds = v;
		return 0;
	case OPT_NAME:
		o->name = arg;
		return check_text("--name", arg, text_name_field(arg, 128));
	case OPT_ID:
		o->id = arg;
		return check_text("--id", arg, text_ident_field(arg, 128));
	default:
		return -1;
	}
}

/* Returns 0, -1 on a usage error, 1 when --help was printed. */
static int
listen_opts(struct listen_opts *o, int argc, char **argv)
{
	static char prog[] = "ringcast listen";
	char why[256];
	int ch, rc;

	snprintf(o->host, sizeof(o->host), "%s", LISTEN_HOST);
	snprintf(o->port, sizeof(o->port), "%s", LISTEN_PORT);
	argv[0] = prog;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "c:o:ps:qvh", listen_longopts,
	    NULL)) != -1)
		if ((rc = listen_opt(o, ch, optarg)) != 0) {
			listen_usage(rc == 1 ? stdout : stderr);
			return rc;
		}
	if (argc - optind > 1) {
		warnx("listen: too many arguments");
		listen_usage(stderr);
		return -1;
	}
	if (argc - optind == 1 && opt_hostport(argv[optind], LISTEN_PORT,
	    o->host, sizeof(o->host), o->port, sizeof(o->port), why,
	    sizeof(why)) == -1) {
		warnx("listen: expected HOST[:PORT] or [ADDRESS]:PORT: %s", why);
		return -1;
	}
	return 0;
}

/* ---- connecting and sending ---- */

/* A random UUID version 4, as the app makes one per launch. */
static int
uuid_v4(char out[37])
{
	uint8_t b[16];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		return -1;
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
	    b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
	return 0;
}

/* Finish a non-blocking connect: 0, or -1 with errno set. */
static int
connect_wait(int fd)
{
	enum wait_result w;
	socklen_t len = sizeof(int);
	int err = 0;

	w = listen_wait(fd, POLLOUT, CONNECT_TIMEOUT_MS);
	if (w == WAIT_STOP)
		return -2;
	if (w == WAIT_TIMEOUT) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (w == WAIT_ERR ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* One address: a connected non-blocking socket, -1, or -2 on a signal. */
static int
connect_one(const struct addrinfo *ai)
{
	int fd, on = 1, rc;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		rc = -1;
		goto fail;
	}
	if ((rc = connect_wait(fd)) != 0)
		goto fail;
	/* Like the app: small packets go out at once; dead peers show. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	return fd;
fail:
	close(fd);
	return rc;
}

static enum conn_result
conn_connect(struct listen *l, int *fdp)
{
	struct addrinfo hints, *res, *ai;
	int rc, fd = -1, saved = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(l->o.host, l->o.port, &hints, &res)) != 0) {
		warnx("%s: %s", l->o.host, gai_strerror(rc));
		return CONN_FAILED;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		if ((fd = connect_one(ai)) == -2)
			break;
		saved = errno;
	}
	freeaddrinfo(res);
	if (fd == -2)
		return CONN_DONE;
	if (fd < 0) {
		errno = saved;
		warn("connect to %s port %s", l->o.host, l->o.port);
		return CONN_FAILED;
	}
	*fdp = fd;
	return CONN_OK;
}

static int
listen_send_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= n;
		} else if (n == -1 && errno == EAGAIN) {
			if (listen_wait(fd, POLLOUT, SEND_TIMEOUT_MS) !=
			    WAIT_READY)
				return -1;
		} else if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Encode and send one control message; consumes obj. */
static int
send_control(const struct listen *l, int fd, json_t *obj)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (obj == NULL)
		return -1;
	rc = proto_control_encode(obj, l->o.rf, &buf, &len);
	json_decref(obj);
	if (rc != PROTO_OK) {
		warnx("cannot encode a control message: %s",
		    proto_strerror(rc));
		return -1;
	}
	rc = listen_send_all(fd, buf, len);
	free(buf);
	return rc;
}

/* The handshake, field for field as the app sends it, plus our options. */
static json_t *
hello_json(const struct listen *l)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:b, s:s}",
	    "type", "handshake", "client_id", l->client_id,
	    "client_type", "linux", "protocol_version", PROTO_VERSION,
	    "rf_mode", l->o.rf, "persistent", 1, "auto_reconnect", 1,
	    "optimized", 1, "user_agent", "ringcast-listen/" RINGCAST_VERSION);
	if (o == NULL)
		return NULL;
	if (l->o.id != NULL)
		json_object_set_new(o, "device_uuid", json_string(l->o.id));
	if (l->o.name != NULL)
		json_object_set_new(o, "device_name", json_string(l->o.name));
	if (l->o.float32)
		json_object_set_new(o, "audio_format", json_string("float32"));
	if (l->o.server_mix)
		json_object_set_new(o, "server_mix", json_true());
	if (l->o.packet_frames > 0)
		json_object_set_new(o, "packet_frames",
		    json_integer(l->o.packet_frames));
	if (l->mask_words > 1)
		json_object_set_new(o, "channel_mask_words",
		    json_integer(l->mask_words));
	return o;
}

static json_t *
subscribe_json(const struct listen *l)
{
	json_t *o, *a;
	uint32_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; i < l->o.nchans; i++)
		json_array_append_new(a, json_integer(l->o.chans[i]));
	if ((o = json_pack("{s:s, s:o}", "type", "update_mix", "channels",
	    a)) == NULL)
		return NULL;
	return o;
}

/* The app sends only the handshake; we also subscribe when asked to. */
static int
send_hello(const struct listen *l, int fd)
{
	if (send_control(l, fd, hello_json(l)) == -1)
		return -1;
	if (l->o.nchans > 0 && send_control(l, fd, subscribe_json(l)) == -1)
		return -1;
	return 0;
}

/* ---- the stream ---- */

static bool
listen_done(const struct listen *l)
{
	if (stop_sig)
		return true;
	return l->o.seconds > 0 && l->rate > 0 &&
	    llround((l->o.seconds - l->audio_s) * l->rate) <= 0;
}

/* Frames of this packet still wanted under --seconds. */
static uint32_t
frames_wanted(const struct listen *l, uint32_t frames)
{
	long long left;

	if (l->o.seconds <= 0)
		return frames;
	left = llround((l->o.seconds - l->audio_s) * l->rate);
	if (left <= 0)
		return 0;
	return left < frames ? (uint32_t)left : frames;
}

static void
on_handshake(struct listen *l, struct conn *c, const json_t *obj)
{
	json_int_t rate = json_integer_value(json_object_get(obj,
	    "sample_rate"));

	if (rate <= 0 || rate > 1000000) {
		warnx("handshake_response without a usable sample_rate");
		return;
	}
	l->rate = (uint32_t)rate;
	c->ready = true;
	note(l, "connected to %s port %s: %u Hz, block %lld frames, "
	    "max %lld channels, mix restored: %s", l->o.host, l->o.port,
	    l->rate,
	    (long long)json_integer_value(json_object_get(obj,
	    "server_blocksize")),
	    (long long)json_integer_value(json_object_get(obj,
	    "max_channels")),
	    json_is_true(json_object_get(obj, "state_restored")) ? "yes" :
	    "no");
}

static void
on_mix_state(struct listen *l, const json_t *obj)
{
	const json_t *ch = json_object_get(obj, "channels"), *v;
	char list[512] = "";
	size_t i, n = 0;

	json_array_foreach(ch, i, v)
		if (n < sizeof(list) - 16)
			n += snprintf(list + n, sizeof(list) - n, "%s%lld",
			    i > 0 ? "," : "", (long long)json_integer_value(v));
	note(l, "mix: channels [%s], master gain %.2f", list,
	    json_number_value(json_object_get(obj, "master_gain")));
	if (l->play != NULL)
		play_mix_state(l->play, obj);
}

static enum conn_result
rx_control(struct listen *l, struct conn *c, const uint8_t *payload,
    size_t len)
{
	enum proto_ctl t;
	const char *msg;
	json_t *obj;
	int rc;

	if ((rc = proto_control_parse(payload, len, &obj, &t)) != PROTO_OK) {
		warnx("ignoring a bad control message: %s", proto_strerror(rc));
		return CONN_OK;
	}
	switch (t) {
	case PROTO_CTL_HANDSHAKE_RESPONSE:
		on_handshake(l, c, obj);
		break;
	case PROTO_CTL_MIX_STATE:
		on_mix_state(l, obj);
		break;
	case PROTO_CTL_ERROR:
		msg = json_string_value(json_object_get(obj, "message"));
		warnx("server: %s", msg != NULL ? msg : "error");
		break;
	default:
		/* channel_update etc.: a mix_state follows each change. */
		log_debug("ignoring %s", proto_ctl_name(t));
		break;
	}
	json_decref(obj);
	return c->ready || t != PROTO_CTL_HANDSHAKE_RESPONSE ? CONN_OK :
	    CONN_BROKEN;
}

/* Lost periods from position gaps; jitter from arrival times. */
static void
stats_audio(struct listen *l, struct conn *c, const struct proto_audio *a,
    uint64_t now)
{
	struct listen_stats *s = &l->s;
	double d;

	/* A position going backwards is a restarted server: resynchronise. */
	if (c->have_pos && a->position > c->pos + a->frames)
		s->lost += (a->position - c->pos - a->frames) / a->frames;
	c->pos = a->position;
	c->have_pos = true;
	if (c->last_ns != 0) {
		d = fabs((double)(now - c->last_ns) / 1e6 -
		    a->frames * 1000.0 / l->rate);
		s->jit_sum_ms += d;
		s->jit_n++;
		if (d > s->jit_max_ms)
			s->jit_max_ms = d;
	}
	c->last_ns = now;
	s->packets++;
}

static void
mask_changed(struct listen *l, const struct proto_audio *a)
{
	char list[1024] = "";
	size_t n = 0;
	uint32_t ch;

	memcpy(l->mask, a->mask, sizeof(l->mask));
	if (l->nch != 0 && l->nch != a->nch)
		note(l, "now receiving %u channels instead of %u", a->nch,
		    l->nch);
	l->nch = a->nch;
	for (ch = 0; ch < l->mask_words * 32; ch++)
		if (a->mask[ch / 32] & (1u << (ch % 32)) &&
		    n < sizeof(list) - 8)
			n += snprintf(list + n, sizeof(list) - n, "%s%u",
			    n > 0 ? "," : "", ch);
	log_debug("receiving channels %s", list);
}

static int
pcm_decode(struct listen *l, const struct proto_audio *a, uint32_t frames)
{
	size_t i, n = (size_t)frames * a->nch;
	float *p;

	if (n > l->pcm_cap) {
		if ((p = realloc(l->pcm, n * sizeof(*p))) == NULL) {
			warn("listen");
			return -1;
		}
		l->pcm = p;
		l->pcm_cap = n;
	}
	for (i = 0; i < n; i++)
		l->pcm[i] = proto_audio_sample(a, i);
	return 0;
}

/* Hand one packet to the sinks that are on; -1 on a local error. */
static int
sinks_write(struct listen *l, struct listen_audio *b)
{
	if ((b->a->float32 || l->play != NULL) &&
	    pcm_decode(l, b->a, b->frames) == -1)
		return -1;
	b->pcm = l->pcm;
	if (l->wavfile != NULL && wavfile_write(l->wavfile, b) == -1)
		return -1;
	if (l->play != NULL && play_write(l->play, b) == -1)
		return -1;
	return 0;
}

static enum conn_result
rx_audio(struct listen *l, struct conn *c, const struct proto_hdr *h,
    const uint8_t *payload, uint64_t now)
{
	struct proto_audio a;
	struct listen_audio b = { .a = &a, .rate = l->rate,
	    .mask_words = l->mask_words };
	int rc;

	if (!c->ready) {
		log_debug("audio before handshake_response, ignored");
		return CONN_OK;
	}
	if ((rc = proto_audio_decode(h, payload, l->mask_words, &a)) !=
	    PROTO_OK) {
		warnx("bad audio packet: %s", proto_strerror(rc));
		return CONN_BROKEN;
	}
	if (a.nch == 0 || a.frames == 0)
		return CONN_OK;
	if ((b.frames = frames_wanted(l, a.frames)) == 0)
		return CONN_DONE;
	if ((b.new_mask = memcmp(a.mask, l->mask, l->mask_words *
	    sizeof(uint32_t)) != 0))
		mask_changed(l, &a);
	stats_audio(l, c, &a, now);
	if (sinks_write(l, &b) == -1)
		return CONN_FATAL;
	l->s.frames += b.frames;
	l->audio_s += (double)b.frames / l->rate;
	return listen_done(l) ? CONN_DONE : CONN_OK;
}

static enum conn_result
rx_message(struct listen *l, struct conn *c, const struct proto_hdr *h,
    const uint8_t *payload, uint64_t now)
{
	switch (h->type) {
	case PROTO_TYPE_AUDIO:
		return rx_audio(l, c, h, payload, now);
	case PROTO_TYPE_CONTROL:
		return rx_control(l, c, payload, h->length);
	default:
		log_debug("ignoring message type %u", h->type);
		return CONN_OK;
	}
}

/* Handle every whole message in the receive buffer. */
static enum conn_result
rx_drain(struct listen *l, struct conn *c, uint64_t now)
{
	enum conn_result r = CONN_OK;
	const uint8_t *payload;
	struct proto_hdr h;
	size_t off = 0, used;
	int rc;

	while (r == CONN_OK && off < l->rxlen) {
		rc = proto_split(l->rx + off, l->rxlen - off, PROTO_AUDIO_MAX,
		    &h, &payload, &used);
		if (rc == PROTO_EMORE)
			break;
		if (rc == PROTO_EMAGIC) {
			/* Like the app: skip a header's worth and try again. */
			if (l->rxlen - off < PROTO_HDR_LEN)
				break;
			if (++c->bad_magic >= BAD_MAGIC_LIMIT) {
				warnx("lost framing (%d bad magics in a row)",
				    c->bad_magic);
				return CONN_BROKEN;
			}
			off += PROTO_HDR_LEN;
			continue;
		}
		if (rc != PROTO_OK) {
			warnx("server sent a bad message: %s",
			    proto_strerror(rc));
			return CONN_BROKEN;
		}
		c->bad_magic = 0;
		r = rx_message(l, c, &h, payload, now);
		off += used;
	}
	memmove(l->rx, l->rx + off, l->rxlen - off);
	l->rxlen -= off;
	return r;
}

/* Read until the stream ends, breaks, or we are done. */
static enum conn_result
conn_stream(struct listen *l, struct conn *c)
{
	enum conn_result r;
	enum wait_result w;
	ssize_t n;

	for (;;) {
		if (listen_done(l))
			return CONN_DONE;
		w = listen_wait(c->fd, POLLIN, READ_TIMEOUT_MS);
		if (w == WAIT_STOP)
			return CONN_DONE;
		if (w == WAIT_TIMEOUT) {
			warnx("no data from the server for %d s",
			    READ_TIMEOUT_MS / 1000);
			return CONN_BROKEN;
		}
		n = recv(c->fd, l->rx + l->rxlen, RX_SIZE - l->rxlen, 0);
		if (n == 0)
			return CONN_CLOSED;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n == -1) {
			warn("receive");
			return CONN_BROKEN;
		}
		l->rxlen += n;
		if ((r = rx_drain(l, c, clock_mono_ns())) != CONN_OK)
			return r;
	}
}

/* One connection from connect to close; *ready says it got that far. */
static enum conn_result
conn_run(struct listen *l, bool *ready)
{
	struct conn c;
	enum conn_result r;

	memset(&c, 0, sizeof(c));
	l->rxlen = 0;
	*ready = false;
	if ((r = conn_connect(l, &c.fd)) != CONN_OK)
		return r;
	if (send_hello(l, c.fd) == -1) {
		if (!stop_sig)
			warn("send the handshake");
		r = stop_sig ? CONN_DONE : CONN_BROKEN;
	} else
		r = conn_stream(l, &c);
	if (r == CONN_CLOSED)
		note(l, "the server closed the connection%s",
		    c.ready ? "" : " during the handshake");
	close(c.fd);
	*ready = c.ready;
	return r;
}

/* Connect, stream, and reconnect like the app unless --once. */
static int
listen_loop(struct listen *l)
{
	uint32_t delay = BACKOFF_FIRST_MS;
	enum conn_result r;
	bool ready;

	for (;;) {
		r = conn_run(l, &ready);
		if (r == CONN_DONE)
			return CLI_OK;
		if (r == CONN_FATAL)
			return CLI_ERR;
		if (l->o.once)
			return r == CONN_CLOSED && ready ? CLI_OK : CLI_ERR;
		if (ready)
			delay = BACKOFF_FIRST_MS;
		note(l, "reconnecting in %.1f s", delay / 1000.0);
		if (!listen_sleep(delay))
			return CLI_OK;
		l->s.reconnects++;
		delay = delay * 3 / 2 > BACKOFF_CAP_MS ? BACKOFF_CAP_MS :
		    delay * 3 / 2;
	}
}

static void
print_summary(const struct listen *l)
{
	const struct listen_stats *s = &l->s;

	printf("packets: %llu\n", (unsigned long long)s->packets);
	printf("frames: %llu\n", (unsigned long long)s->frames);
	printf("lost periods: %llu\n", (unsigned long long)s->lost);
	printf("jitter: mean %.3f ms, max %.3f ms\n",
	    s->jit_n > 0 ? s->jit_sum_ms / s->jit_n : 0.0, s->jit_max_ms);
	printf("reconnects: %llu\n", (unsigned long long)s->reconnects);
	if (l->play != NULL)
		play_summary(l->play);
	fflush(stdout);
}

static int
listen_init(struct listen *l)
{
	uint32_t i;

	l->mask_words = 1;
	for (i = 0; i < l->o.nchans; i++)
		if (l->o.chans[i] / 32 + 1 > l->mask_words)
			l->mask_words = l->o.chans[i] / 32 + 1;
	if (uuid_v4(l->client_id) == -1) {
		warn("getrandom");
		return -1;
	}
	if ((l->rx = malloc(RX_SIZE)) == NULL) {
		warn("listen");
		return -1;
	}
	if (signals_init() == -1) {
		warn("signals");
		return -1;
	}
	if (l->o.out != NULL && (l->wavfile = wavfile_new(l->o.out,
	    l->o.quiet)) == NULL)
		return -1;
	if (l->o.play && (l->play = play_new(l->o.server_mix)) == NULL)
		return -1;
	return 0;
}

static void
listen_free(struct listen *l)
{
	play_free(l->play);
	wavfile_free(l->wavfile);
	free(l->pcm);
	free(l->rx);
	free(l);
}

int
cmd_listen(int argc, char **argv)
{
	struct listen *l;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		warn("listen");
		return CLI_ERR;
	}
	if ((rc = listen_opts(&l->o, argc, argv)) != 0) {
		free(l);
		return rc == 1 ? CLI_OK : CLI_ERR;
	}
	log_init("ringcast", l->o.verbose);
	if (listen_init(l) == -1)
		rc = CLI_ERR;
	else {
		rc = listen_loop(l);
		if (l->play != NULL)
			play_drain(l->play);
		print_summary(l);
	}
	listen_free(l);
	return rc;
}
