/* msg.c — the parent channel's table, framing, descriptor passing and checks. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "shared/msg.h"
#include "shared/state.h"
#include "shared/rtp.h"
#include "shared/sdp.h"
#include "shared/text.h"

_Static_assert(MSG_PUBLISH_SDP == SDP_MAX, "an adopted publisher's SDP");

/* A request and a whole batch of imported records go in one message. */
_Static_assert(sizeof(struct msg_api_request) + API_IMPORT_BATCH *
    sizeof(struct state_record) <= MSG_MAX_PAYLOAD, "import batch too large");

#define SUP	(1u << ROLE_SUPERVISOR)
#define CAP	(1u << ROLE_CAPTURE)
#define BRO	(1u << ROLE_BROKER)
#define SES	(1u << ROLE_SESSION)
#define PUB	(1u << ROLE_PUBLISH)
#define CHILDREN	(CAP | BRO | SES | PUB)

/* Content checks, one per payload (the size is already right), and one
 * per kind of tail. */
typedef bool (*msg_check_fn)(const void *body);
typedef bool (*msg_tail_fn)(const char *tail, size_t len);

struct msg_spec {
	const char	*name;
	uint32_t	 from, to;	/* role bits */
	bool		 fd;		/* carries exactly one descriptor */
	size_t		 size;		/* the fixed payload */
	msg_tail_fn	 tail;		/* NULL: no bytes may follow it */
	msg_check_fn	 check;
};

/* A NUL-terminated field, possibly empty, with no control bytes. */
static bool
field_text(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	return n < max && text_name(s, n);
}

static bool
is_bool(uint32_t v)
{
	return v <= 1;
}

/* A payload whose one field to check is an identifier. */
#define CHECK_IDENT(fn, type, field)					\
	static bool fn(const void *b)					\
	{								\
		return text_ident_field(((const type *)b)->field,	\
		    sizeof(((const type *)b)->field));			\
	}
CHECK_IDENT(check_ready, struct msg_ready, version)
CHECK_IDENT(check_session_exit, struct msg_session_exit, reason)
CHECK_IDENT(check_probe, struct msg_probe, action)

static bool
check_capture_state(const void *b)
{
	const struct msg_capture_state *m = b;

	return text_ident_field(m->state, sizeof(m->state)) &&
	    field_text(m->source, sizeof(m->source)) &&
	    is_bool(m->ingest.anchored) &&
	    field_text(m->ingest.stream, sizeof(m->ingest.stream));
}

static bool
check_capture_join(const void *b)
{
	const struct msg_capture_join *m = b;

	return IN_MULTICAST(ntohl(m->group)) && m->port != 0 && m->pad == 0;
}

/* n channel numbers, ascending, each one a ring can have. */
static bool
channel_list(const uint16_t *v, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (v[i] >= MIX_MAX_CHANNELS || (i > 0 && v[i] <= v[i - 1]))
			return false;
	return true;
}

static bool
check_publish_start(const void *b)
{
	const struct msg_publish_start *m = b;

	if (!text_name_field(m->name, sizeof(m->name)) || m->nch == 0 ||
	    m->nch > MSG_PUBLISH_CHANNELS || (m->format != RTP_L16 &&
	    m->format != RTP_L24) || m->frames == 0 ||
	    (uint64_t)m->frames * m->nch * m->format > RTP_PAYLOAD_MAX || m->pt > 127 ||
	    m->seq > 0xffff || m->sap_hash > 0xffff)
		return false;
	return channel_list(m->channels, m->nch);
}

/* An SDP: text lines, no other control byte, within SDP_MAX. */
static bool
tail_sdp(const char *t, size_t len)
{
	size_t i;

	if (len == 0 || len > SDP_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (((unsigned char)t[i] < 0x20 && t[i] != '\r' &&
		    t[i] != '\n') || t[i] == 0x7f)
			return false;
	return true;
}

static bool
check_capture_opened(const void *b)
{
	const struct msg_capture_opened *m = b;

	if (!field_text(m->error, sizeof(m->error)) ||
	    !field_text(m->desc, sizeof(m->desc)) ||
	    !field_text(m->source, sizeof(m->source)))
		return false;
	if (m->error[0] != '\0')
		return m->channels == 0;
	return m->source[0] != '\0' && m->channels >= 1 &&
	    m->channels <= MIX_MAX_CHANNELS;
}

static bool
check_capture_ring(const void *b)
{
	const struct msg_capture_ring *m = b;

	return m->channels >= 1 && m->channels <= MIX_MAX_CHANNELS;
}

static bool
check_capture_devices(const void *b)
{
	const struct msg_capture_devices *m = b;
	const struct msg_device *d;
	uint32_t i;

	if (!field_text(m->error, sizeof(m->error)) || m->n > MSG_DEVICES_MAX ||
	    !is_bool(m->truncated))
		return false;
	for (i = 0; i < m->n; i++) {
		d = &m->dev[i];
		if (d->index < 0 || d->inputs == 0 ||
		    !text_name_field(d->name, sizeof(d->name)) ||
		    !field_text(d->host_api, sizeof(d->host_api)))
			return false;
	}
	return true;
}

static bool
wav_channels_ok(const struct msg_client *m)
{
	return is_bool(m->wav_mix) && m->wav_nchannels <= MSG_WAV_CHANNELS_MAX &&
	    (m->wav_nchannels > 0 || m->wav_mix) &&
	    channel_list(m->wav_channels, m->wav_nchannels);
}

static bool
check_client(const void *b)
{
	const struct msg_client *m = b;

	if (!text_ident_field(m->remote, sizeof(m->remote)) ||
	    !is_bool(m->again))
		return false;
	if (m->kind == CLIENT_NATIVE)
		return proto_hello_valid(&m->hello) && m->mix_of[0] == '\0';
	return m->kind == CLIENT_WAV && wav_channels_ok(m) &&
	    (m->mix_of[0] == '\0' || (m->wav_mix &&
	    text_ident_field(m->mix_of, sizeof(m->mix_of))));
}

static bool
check_client_done(const void *b)
{
	const struct msg_client_done *m = b;

	return (m->status == 0 || (m->status >= 100 && m->status <= 599)) &&
	    field_text(m->message, sizeof(m->message));
}

static bool
check_client_set(const struct api_client_set *c)
{
	return is_bool(c->has_name) && is_bool(c->has_order) &&
	    (c->has_name || c->has_order) &&
	    (!c->has_name || text_name_field(c->name, sizeof(c->name))) &&
	    (!c->has_order || (c->order >= -1000000 && c->order <= 1000000));
}

static bool
check_channels_set(const struct api_channels_set *c)
{
	uint32_t i;

	if (c->n == 0 || c->first >= MIX_MAX_CHANNELS ||
	    c->n > MIX_MAX_CHANNELS - c->first)
		return false;
	for (i = 0; i < c->n; i++)
		if (!text_name_field(c->names[i], sizeof(c->names[i])))
			return false;
	return true;
}

static bool
check_probe_body(const struct api_probe *p)
{
	return text_ident_field(p->target, sizeof(p->target)) &&
	    text_ident_field(p->action, sizeof(p->action));
}

/* Routes that name a listener carry its identity; the others none. */
static bool
route_has_client(uint32_t route)
{
	return route == API_CLIENT_GET || route == API_CLIENT_SET ||
	    route == API_CLIENT_DELETE || route == API_CLIENT_MIX ||
	    route == API_CLIENT_DISCONNECT || route == API_CLIENT_APPROVE ||
	    route == API_CLIENT_LINK;
}

static bool
check_request(const void *b)
{
	const struct msg_api_request *m = b;

	if (m->route >= API_ROUTE_MAX || (route_has_client(m->route) ?
	    !text_ident_field(m->client, sizeof(m->client)) :
	    m->client[0] != '\0'))
		return false;
	switch (m->route) {
	case API_CLIENT_MIX:
		return mix_patch_valid(&m->body.mix);
	case API_CLIENT_SET:
		return check_client_set(&m->body.client);
	case API_CHANNELS_SET:
		return check_channels_set(&m->body.channels);
	case API_PROBE:
		return check_probe_body(&m->body.probe);
	case API_CLIENT_LINK:
		return text_ident_field(m->body.link.origin,
		    sizeof(m->body.link.origin));
	case API_CAPTURE:
		return text_name_field(m->body.capture.source,
		    sizeof(m->body.capture.source)) &&
		    m->body.capture.channels <= MIX_MAX_CHANNELS;
	case API_STATE_IMPORT:
		return is_bool(m->body.import.last);
	default:
		return true;
	}
}

static bool
check_reply(const void *b)
{
	const struct msg_api_reply *m = b;

	return m->status >= 100 && m->status <= 599 && m->ctype < CTYPE_MAX;
}

static bool
check_event(const void *b)
{
	const struct msg_event *m = b;

	return text_ident_field(m->name, sizeof(m->name)) &&
	    is_bool(m->droppable);
}

static bool
session_start_ok(const struct msg_session_start *m)
{
	return (m->kind == CLIENT_NATIVE || m->kind == CLIENT_WAV) &&
	    field_text(m->remote, sizeof(m->remote)) &&
	    is_bool(m->state_restored) && is_bool(m->is_reconnection) &&
	    m->stall_ms >= 1 && m->stall_ms <= 600000 &&
	    m->user_timeout_ms >= 1 && m->user_timeout_ms <= 600000 &&
	    text_ident_field(m->persistent_id, sizeof(m->persistent_id)) &&
	    proto_hello_valid(&m->hello) && mix_valid(&m->mix);
}

static bool
check_session_start(const void *b)
{
	return session_start_ok(b);
}

static bool
check_adopt_key(const void *b)
{
	const struct msg_adopt_key *m = b;

	return m->grace_s >= 1 && m->grace_s <= 86400;
}

static bool
adopt_ok(const struct msg_adopt *a)
{
	return text_ident_field(a->version, sizeof(a->version));
}

static bool
check_adopt_capture(const void *b)
{
	const struct msg_adopt_capture *m = b;

	return adopt_ok(&m->a) && check_capture_state(&m->state) &&
	    field_text(m->source, sizeof(m->source)) &&
	    m->channels >= 1 && m->channels <= MIX_MAX_CHANNELS &&
	    m->rate > 0 && m->period > 0;
}

static bool
check_adopt_listener(const void *b)
{
	const struct msg_adopt_listener *m = b;

	return m->which == LISTENER_NATIVE || m->which == LISTENER_HTTP;
}

static bool
check_adopt_broker(const void *b)
{
	return adopt_ok(&((const struct msg_adopt_broker *)b)->a);
}

static bool
check_adopt_session(const void *b)
{
	const struct msg_adopt_session *m = b;

	return adopt_ok(&m->a) && session_start_ok(&m->start);
}

static bool
check_adopt_publish(const void *b)
{
	const struct msg_adopt_publish *m = b;
	size_t n = strnlen(m->sdp, sizeof(m->sdp));

	return adopt_ok(&m->a) && check_publish_start(&m->st) &&
	    n < sizeof(m->sdp) && tail_sdp(m->sdp, n);
}

static bool
check_retire(const void *b)
{
	const struct msg_retire *m = b;

	return m->grace_ms <= 600000;
}

static bool
check_session_mix(const void *b)
{
	const struct msg_session_mix *m = b;

	return (m->origin == ORIGIN_CLIENT || m->origin == ORIGIN_WEB) &&
	    field_text(m->error, sizeof(m->error)) && mix_valid(&m->mix);
}

static bool
check_mix_patch(const void *b)
{
	return mix_patch_valid(b);
}

static bool
level_ok(float v)
{
	return isfinite(v) && v >= 0.0f && v <= 1000.0f;
}

static bool
check_meters(const void *b)
{
	const struct msg_session_meters *m = b;

	return level_ok(m->peak[0]) && level_ok(m->peak[1]) &&
	    level_ok(m->rms[0]) && level_ok(m->rms[1]);
}

static bool
check_tokens(const void *b)
{
	const struct msg_tokens *m = b;
	uint32_t i;

	if (!is_bool(m->auth) || m->n > TOKEN_MAX)
		return false;
	for (i = 0; i < m->n; i++)
		if (!token_entry_valid(&m->e[i]))
			return false;
	return true;
}

static bool
check_nothing(const void *b)
{
	(void)b;
	return true;
}

/* A reply's body: any bytes. */
static bool
tail_any(const char *t, size_t len)
{
	(void)t;
	(void)len;
	return true;
}

/*
 * Records to import, after a request (whatever its route: only the
 * import reads them): whole records, at most a batch, each well formed.
 * The tail need not be aligned for the struct: each is copied out.
 */
static bool
tail_records(const char *t, size_t len)
{
	static struct state_record rec;
	size_t i;

	if (len % sizeof(rec) != 0 || len / sizeof(rec) > API_IMPORT_BATCH)
		return false;
	for (i = 0; i < len / sizeof(rec); i++) {
		memcpy(&rec, t + i * sizeof(rec), sizeof(rec));
		if (!state_record_valid(&rec))
			return false;
	}
	return true;
}

/* An event's data goes on one "data:" line of an event stream: not empty,
 * no line break. */
static bool
tail_line(const char *t, size_t len)
{
	return len > 0 && memchr(t, '\n', len) == NULL &&
	    memchr(t, '\r', len) == NULL;
}

#define SPEC(type, name, from, to, fd, body, tail, check) \
	[type] = { name, from, to, fd, sizeof(body), tail, check }

static const struct msg_spec specs[MSG_TYPE_MAX] = {
	SPEC(MSG_READY, "READY", CHILDREN, SUP, false,
	    struct msg_ready, NULL, check_ready),
	SPEC(MSG_CAPTURE_STATE, "CAPTURE_STATE", CAP, SUP, false,
	    struct msg_capture_state, NULL, check_capture_state),
	SPEC(MSG_CAPTURE_OPENED, "CAPTURE_OPENED", CAP, SUP, false,
	    struct msg_capture_opened, NULL, check_capture_opened),
	SPEC(MSG_CAPTURE_DEVICES, "CAPTURE_DEVICES", CAP, SUP, false,
	    struct msg_capture_devices, NULL, check_capture_devices),
	SPEC(MSG_CAPTURE_RING, "CAPTURE_RING", SUP, CAP, true,
	    struct msg_capture_ring, NULL, check_capture_ring),
	SPEC(MSG_CAPTURE_JOIN, "CAPTURE_JOIN", CAP, SUP, false,
	    struct msg_capture_join, NULL, check_capture_join),
	SPEC(MSG_CAPTURE_SOCKET, "CAPTURE_SOCKET", SUP, CAP, true,
	    struct msg_capture_join, NULL, check_capture_join),
	SPEC(MSG_BROKER_CLIENT, "BROKER_CLIENT", BRO, SUP, true,
	    struct msg_client, NULL, check_client),
	SPEC(MSG_BROKER_REQUEST, "BROKER_REQUEST", BRO, SUP, false,
	    struct msg_api_request, tail_records, check_request),
	SPEC(MSG_BROKER_SUBSCRIBERS, "BROKER_SUBSCRIBERS", BRO, SUP, false,
	    struct msg_subscribers, NULL, check_nothing),
	SPEC(MSG_BROKER_AUTH_STATS, "BROKER_AUTH_STATS", BRO, SUP, false,
	    struct msg_auth_stats, NULL, check_nothing),
	SPEC(MSG_BROKER_TOKENS, "BROKER_TOKENS", SUP, BRO, false,
	    struct msg_tokens, NULL, check_tokens),
	SPEC(MSG_BROKER_CLIENT_DONE, "BROKER_CLIENT_DONE", SUP, BRO, false,
	    struct msg_client_done, NULL, check_client_done),
	SPEC(MSG_BROKER_REPLY, "BROKER_REPLY", SUP, BRO, false,
	    struct msg_api_reply, tail_any, check_reply),
	SPEC(MSG_BROKER_EVENT, "BROKER_EVENT", SUP, BRO, false,
	    struct msg_event, tail_line, check_event),
	SPEC(MSG_SESSION_START, "SESSION_START", SUP, SES, false,
	    struct msg_session_start, NULL, check_session_start),
	SPEC(MSG_SESSION_MIX_SET, "SESSION_MIX_SET", SUP, SES, false,
	    struct msg_session_mix, NULL, check_session_mix),
	SPEC(MSG_SESSION_MIX_REQ, "SESSION_MIX_REQ", SES, SUP, false,
	    struct mix_patch, NULL, check_mix_patch),
	SPEC(MSG_SESSION_STATS, "SESSION_STATS", SES, SUP, false,
	    struct msg_session_stats, NULL, check_nothing),
	SPEC(MSG_SESSION_METERS, "SESSION_METERS", SES, SUP, false,
	    struct msg_session_meters, NULL, check_meters),
	SPEC(MSG_SESSION_EXIT, "SESSION_EXIT", SES, SUP, false,
	    struct msg_session_exit, NULL, check_session_exit),
	SPEC(MSG_PROBE, "PROBE", SUP, CHILDREN, false,
	    struct msg_probe, NULL, check_probe),
	SPEC(MSG_ADOPT_KEY, "ADOPT_KEY", SUP, CHILDREN, false,
	    struct msg_adopt_key, NULL, check_adopt_key),
	SPEC(MSG_ADOPT_CAPTURE, "ADOPT_CAPTURE", CAP, SUP, false,
	    struct msg_adopt_capture, NULL, check_adopt_capture),
	SPEC(MSG_ADOPT_LISTENER, "ADOPT_LISTENER", BRO, SUP, true,
	    struct msg_adopt_listener, NULL, check_adopt_listener),
	SPEC(MSG_ADOPT_BROKER, "ADOPT_BROKER", BRO, SUP, false,
	    struct msg_adopt_broker, NULL, check_adopt_broker),
	SPEC(MSG_ADOPT_SESSION, "ADOPT_SESSION", SES, SUP, false,
	    struct msg_adopt_session, NULL, check_adopt_session),
	SPEC(MSG_ADOPT_PUBLISH, "ADOPT_PUBLISH", PUB, SUP, false,
	    struct msg_adopt_publish, NULL, check_adopt_publish),
	SPEC(MSG_BROKER_RETIRE, "BROKER_RETIRE", SUP, BRO, false,
	    struct msg_retire, NULL, check_retire),
	SPEC(MSG_CAPTURE_RETIRE, "CAPTURE_RETIRE", SUP, CAP, false,
	    struct msg_retire, NULL, check_retire),
	SPEC(MSG_CAPTURE_RETIRED, "CAPTURE_RETIRED", CAP, SUP, false,
	    struct msg_capture_handover, NULL, check_nothing),
	SPEC(MSG_CAPTURE_TAKEOVER, "CAPTURE_TAKEOVER", SUP, CAP, false,
	    struct msg_capture_handover, NULL, check_nothing),
	SPEC(MSG_PUBLISH_START, "PUBLISH_START", SUP, PUB, false,
	    struct msg_publish_start, tail_sdp, check_publish_start),
	SPEC(MSG_PUBLISH_STATE, "PUBLISH_STATE", PUB, SUP, false,
	    struct msg_publish_state, NULL, check_nothing),
};

static const char *const roles[ROLE_MAX] = {
	[ROLE_SUPERVISOR] = "supervisor",
	[ROLE_CAPTURE] = "capture",
	[ROLE_BROKER] = "broker",
	[ROLE_SESSION] = "sessiond",
	[ROLE_PUBLISH] = "publish",
};

static const struct msg_spec *
spec_of(uint32_t type)
{
	if (type >= MSG_TYPE_MAX || specs[type].name == NULL)
		return NULL;
	return &specs[type];
}

const char *
msg_name(uint32_t type)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL ? s->name : "UNKNOWN";
}

const char *
msg_role_name(enum msg_role role)
{
	return (unsigned)role < ROLE_MAX ? roles[role] : "unknown";
}

/* FNV-1a over the bytes of v. */
static uint32_t
fnv(uint32_t h, const void *v, size_t n)
{
	const uint8_t *p = v;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

uint32_t
msg_fingerprint(void)
{
	uint32_t h = 2166136261u, t, w[5];

	for (t = 0; t < MSG_TYPE_MAX; t++) {
		if (specs[t].name == NULL)
			continue;
		w[0] = t;
		w[1] = specs[t].from;
		w[2] = specs[t].to;
		w[3] = (uint32_t)specs[t].size;
		w[4] = (uint32_t)specs[t].fd | (specs[t].tail != NULL) << 1;
		h = fnv(h, specs[t].name, strlen(specs[t].name));
		h = fnv(h, w, sizeof(w));
	}
	return h;
}

bool
msg_allowed(uint32_t type, enum msg_role from, enum msg_role to)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL && (unsigned)from < ROLE_MAX &&
	    (unsigned)to < ROLE_MAX && (s->from & 1u << from) &&
	    (s->to & 1u << to) && from != to;
}

bool
msg_carries_fd(uint32_t type)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL && s->fd;
}

size_t
msg_size(uint32_t type)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL ? s->size : 0;
}

bool
msg_has_tail(uint32_t type)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL && s->tail != NULL;
}

bool
msg_valid(uint32_t type, const void *body, size_t len)
{
	const struct msg_spec *s = spec_of(type);

	if (s == NULL || len < s->size || (s->tail == NULL && len != s->size))
		return false;
	if (s->tail != NULL && !s->tail((const char *)body + s->size,
	    len - s->size))
		return false;
	return s->check(body);
}

const char *
msg_tail(const struct msg *m, size_t *len)
{
	size_t fixed = msg_size(m->hdr.type);

	*len = m->hdr.len > fixed ? m->hdr.len - fixed : 0;
	return m->u.data + fixed;
}

static int
send_iov(int sock, struct iovec *iov, int n, int fd, size_t total)
{
	struct msghdr mh;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	ssize_t w;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)n;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		w = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (w == -1 && errno == EINTR);
	if (w == -1)
		return -1;
	if ((size_t)w != total) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
msg_send(int sock, enum msg_role from, uint32_t type, const void *body,
    size_t len, const void *tail, size_t taillen, int fd)
{
	const struct msg_spec *s = spec_of(type);
	struct msg_hdr hdr;
	struct iovec iov[3];

	if (s == NULL || (unsigned)from >= ROLE_MAX || !(s->from & 1u << from) ||
	    len != s->size || (taillen > 0 && s->tail == NULL) ||
	    (fd >= 0) != s->fd) {
		errno = EINVAL;
		return -1;
	}
	if (len + taillen > MSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	hdr = (struct msg_hdr){ MSG_VERSION, (uint16_t)type,
	    (uint32_t)(len + taillen) };
	iov[0] = (struct iovec){ &hdr, sizeof(hdr) };
	iov[1] = (struct iovec){ (void *)(uintptr_t)body, len };
	iov[2] = (struct iovec){ (void *)(uintptr_t)tail, taillen };
	return send_iov(sock, iov, taillen > 0 ? 3 : 2, fd,
	    sizeof(hdr) + len + taillen);
}

int
msg_send_raw(int sock, const struct msg_hdr *hdr, const void *p, size_t n,
    int fd)
{
	struct iovec iov[2] = { { (void *)(uintptr_t)hdr, sizeof(*hdr) },
	    { (void *)(uintptr_t)p, n } };

	return send_iov(sock, iov, 2, fd, sizeof(*hdr) + n);
}

int
msg_send_probe(int sock, uint32_t type)
{
	static const char zero[MSG_MAX_PAYLOAD];
	struct msg_hdr hdr = { MSG_VERSION, (uint16_t)type,
	    (uint32_t)msg_size(type) };

	if (hdr.len > sizeof(zero)) {
		errno = EMSGSIZE;
		return -1;
	}
	return msg_send_raw(sock, &hdr, zero, hdr.len, -1);
}

/* Close every descriptor a refused datagram carried. */
static void
drop_fds(struct msghdr *mh)
{
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

/* One SCM_RIGHTS descriptor, or none: anything else is malformed. */
static const char *
take_fd(struct msghdr *mh, struct msg *m)
{
	struct cmsghdr *c = CMSG_FIRSTHDR(mh);

	if (mh->msg_flags & MSG_CTRUNC)
		return "truncated descriptors";
	if (c == NULL)
		return NULL;
	if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)) || CMSG_NXTHDR(mh, c) != NULL)
		return "malformed descriptor";
	memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
	return NULL;
}

/* The table's verdict on a whole datagram of n bytes: NULL when it is valid. */
static const char *
judge(const struct msg *m, size_t n, enum msg_role self, enum msg_role peer)
{
	const struct msg_spec *s;

	if (n < sizeof(m->hdr) || m->hdr.len != n - sizeof(m->hdr))
		return "bad length";
	if (m->hdr.version != MSG_VERSION)
		return "another version";
	if ((s = spec_of(m->hdr.type)) == NULL)
		return "unknown type";
	if (!msg_allowed(m->hdr.type, peer, self))
		return "wrong direction";
	if (m->hdr.len < s->size || (s->tail == NULL && m->hdr.len != s->size))
		return "wrong size";
	if ((m->fd >= 0) != s->fd)
		return m->fd >= 0 ? "unexpected descriptor" :
		    "missing descriptor";
	if (!msg_valid(m->hdr.type, m->u.data, m->hdr.len))
		return "invalid contents";
	return NULL;
}

int
msg_recv(int sock, enum msg_role self, enum msg_role peer, struct msg *m)
{
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov[0] = (struct iovec){ &m->hdr, sizeof(m->hdr) };
	iov[1] = (struct iovec){ m->u.data, sizeof(m->u.data) };
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	m->fd = -1;
	m->fault = NULL;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		return n == 0 ? 0 : -1;
	if (mh.msg_flags & MSG_TRUNC)
		m->fault = "oversized";
	else if ((m->fault = take_fd(&mh, m)) == NULL)
		m->fault = judge(m, (size_t)n, self, peer);
	if (m->fault == NULL)
		return 1;
	drop_fds(&mh);
	m->fd = -1;
	errno = EPROTO;
	return -1;
}

int
msg_channel(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}
