/* msg.c — the parent channel's table, framing, descriptor passing and checks. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "shared/msg.h"
#include "shared/rtp.h"
#include "shared/sdp.h"
#include "shared/text.h"

#define SUP	(1u << ROLE_SUPERVISOR)
#define CAP	(1u << ROLE_CAPTURE)
#define BRO	(1u << ROLE_BROKER)
#define SES	(1u << ROLE_SESSION)
#define PUB	(1u << ROLE_PUBLISH)
#define CHILDREN	(CAP | BRO | SES | PUB)

/* Content checks, one per payload: the size is already right. */
typedef bool (*msg_check_fn)(const void *body, const char *tail,
    size_t taillen);

struct msg_spec {
	const char	*name;
	uint32_t	 from, to;	/* role bits */
	bool		 fd;		/* carries exactly one descriptor */
	size_t		 size;		/* the fixed payload */
	bool		 tail;		/* variable bytes may follow it */
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

static bool
check_ready(const void *b, const char *t, size_t tl)
{
	const struct msg_ready *m = b;

	(void)t;
	(void)tl;
	return text_ident_field(m->version, sizeof(m->version));
}

static bool
check_capture_state(const void *b, const char *t, size_t tl)
{
	const struct msg_capture_state *m = b;

	(void)t;
	(void)tl;
	return text_ident_field(m->state, sizeof(m->state)) &&
	    field_text(m->source, sizeof(m->source)) &&
	    is_bool(m->ingest.anchored) &&
	    field_text(m->ingest.stream, sizeof(m->ingest.stream));
}

static bool
check_capture_join(const void *b, const char *t, size_t tl)
{
	const struct msg_capture_join *m = b;

	(void)t;
	(void)tl;
	return IN_MULTICAST(ntohl(m->group)) && m->port != 0 && m->pad == 0;
}

static bool
check_publish_start(const void *b, const char *t, size_t tl)
{
	const struct msg_publish_start *m = b;
	uint32_t i;

	if (!text_name_field(m->name, sizeof(m->name)) || m->nch == 0 ||
	    m->nch > MSG_PUBLISH_CHANNELS || (m->format != RTP_L16 &&
	    m->format != RTP_L24) || m->frames == 0 ||
	    m->frames * m->nch * m->format > RTP_PAYLOAD_MAX || m->pt > 127 ||
	    m->seq > 0xffff || m->sap_hash > 0xffff || tl == 0 ||
	    tl > SDP_MAX)
		return false;
	for (i = 1; i < m->nch; i++)
		if (m->channels[i] <= m->channels[i - 1])
			return false;
	/* The SDP: text lines, no other control byte. */
	for (i = 0; i < tl; i++)
		if (((unsigned char)t[i] < 0x20 && t[i] != '\r' &&
		    t[i] != '\n') || t[i] == 0x7f)
			return false;
	return true;
}

static bool
wav_channels_ok(const struct msg_client *m)
{
	uint32_t i;

	if (!is_bool(m->wav_mix) || m->wav_nchannels > MSG_WAV_CHANNELS_MAX ||
	    (m->wav_nchannels == 0 && !m->wav_mix))
		return false;
	for (i = 0; i < m->wav_nchannels; i++)
		if (m->wav_channels[i] >= MIX_MAX_CHANNELS ||
		    (i > 0 && m->wav_channels[i] <= m->wav_channels[i - 1]))
			return false;
	return true;
}

static bool
check_client(const void *b, const char *t, size_t tl)
{
	const struct msg_client *m = b;

	(void)t;
	(void)tl;
	if (!text_ident_field(m->remote, sizeof(m->remote)))
		return false;
	if (m->kind == CLIENT_NATIVE)
		return proto_hello_valid(&m->hello);
	return m->kind == CLIENT_WAV && wav_channels_ok(m);
}

static bool
check_client_done(const void *b, const char *t, size_t tl)
{
	const struct msg_client_done *m = b;

	(void)t;
	(void)tl;
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
	    route == API_CLIENT_DISCONNECT;
}

static bool
check_request(const void *b, const char *t, size_t tl)
{
	const struct msg_api_request *m = b;

	(void)t;
	(void)tl;
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
	default:
		return true;
	}
}

static bool
check_reply(const void *b, const char *t, size_t tl)
{
	const struct msg_api_reply *m = b;

	(void)t;
	(void)tl;
	return m->status >= 100 && m->status <= 599 && m->ctype < CTYPE_MAX;
}

/* The data goes on one "data:" line of an event stream: no line break. */
static bool
check_event(const void *b, const char *t, size_t tl)
{
	const struct msg_event *m = b;

	return text_ident_field(m->name, sizeof(m->name)) &&
	    is_bool(m->droppable) && tl > 0 && memchr(t, '\n', tl) == NULL &&
	    memchr(t, '\r', tl) == NULL;
}

static bool
check_session_start(const void *b, const char *t, size_t tl)
{
	const struct msg_session_start *m = b;

	(void)t;
	(void)tl;
	return (m->kind == CLIENT_NATIVE || m->kind == CLIENT_WAV) &&
	    is_bool(m->state_restored) && is_bool(m->is_reconnection) &&
	    m->stall_ms >= 1 && m->stall_ms <= 600000 &&
	    m->user_timeout_ms >= 1 && m->user_timeout_ms <= 600000 &&
	    text_ident_field(m->persistent_id, sizeof(m->persistent_id)) &&
	    proto_hello_valid(&m->hello) && mix_valid(&m->mix);
}

static bool
check_session_mix(const void *b, const char *t, size_t tl)
{
	const struct msg_session_mix *m = b;

	(void)t;
	(void)tl;
	return (m->origin == ORIGIN_CLIENT || m->origin == ORIGIN_WEB) &&
	    field_text(m->error, sizeof(m->error)) && mix_valid(&m->mix);
}

static bool
check_mix_patch(const void *b, const char *t, size_t tl)
{
	(void)t;
	(void)tl;
	return mix_patch_valid(b);
}

static bool
level_ok(float v)
{
	return isfinite(v) && v >= 0.0f && v <= 1000.0f;
}

static bool
check_meters(const void *b, const char *t, size_t tl)
{
	const struct msg_session_meters *m = b;

	(void)t;
	(void)tl;
	return level_ok(m->peak[0]) && level_ok(m->peak[1]) &&
	    level_ok(m->rms[0]) && level_ok(m->rms[1]);
}

static bool
check_session_exit(const void *b, const char *t, size_t tl)
{
	const struct msg_session_exit *m = b;

	(void)t;
	(void)tl;
	return text_ident_field(m->reason, sizeof(m->reason));
}

static bool
check_probe(const void *b, const char *t, size_t tl)
{
	const struct msg_probe *m = b;

	(void)t;
	(void)tl;
	return text_ident_field(m->action, sizeof(m->action));
}

static bool
check_nothing(const void *b, const char *t, size_t tl)
{
	(void)b;
	(void)t;
	(void)tl;
	return true;
}

#define SPEC(type, name, from, to, fd, body, tail, check) \
	[type] = { name, from, to, fd, sizeof(body), tail, check }

static const struct msg_spec specs[MSG_TYPE_MAX] = {
	SPEC(MSG_READY, "READY", CHILDREN, SUP, false,
	    struct msg_ready, false, check_ready),
	SPEC(MSG_CAPTURE_STATE, "CAPTURE_STATE", CAP, SUP, false,
	    struct msg_capture_state, false, check_capture_state),
	SPEC(MSG_CAPTURE_JOIN, "CAPTURE_JOIN", CAP, SUP, false,
	    struct msg_capture_join, false, check_capture_join),
	SPEC(MSG_CAPTURE_SOCKET, "CAPTURE_SOCKET", SUP, CAP, true,
	    struct msg_capture_join, false, check_capture_join),
	SPEC(MSG_BROKER_CLIENT, "BROKER_CLIENT", BRO, SUP, true,
	    struct msg_client, false, check_client),
	SPEC(MSG_BROKER_REQUEST, "BROKER_REQUEST", BRO, SUP, false,
	    struct msg_api_request, false, check_request),
	SPEC(MSG_BROKER_SUBSCRIBERS, "BROKER_SUBSCRIBERS", BRO, SUP, false,
	    struct msg_subscribers, false, check_nothing),
	SPEC(MSG_BROKER_CLIENT_DONE, "BROKER_CLIENT_DONE", SUP, BRO, false,
	    struct msg_client_done, false, check_client_done),
	SPEC(MSG_BROKER_REPLY, "BROKER_REPLY", SUP, BRO, false,
	    struct msg_api_reply, true, check_reply),
	SPEC(MSG_BROKER_EVENT, "BROKER_EVENT", SUP, BRO, false,
	    struct msg_event, true, check_event),
	SPEC(MSG_SESSION_START, "SESSION_START", SUP, SES, false,
	    struct msg_session_start, false, check_session_start),
	SPEC(MSG_SESSION_MIX_SET, "SESSION_MIX_SET", SUP, SES, false,
	    struct msg_session_mix, false, check_session_mix),
	SPEC(MSG_SESSION_MIX_REQ, "SESSION_MIX_REQ", SES, SUP, false,
	    struct mix_patch, false, check_mix_patch),
	SPEC(MSG_SESSION_STATS, "SESSION_STATS", SES, SUP, false,
	    struct msg_session_stats, false, check_nothing),
	SPEC(MSG_SESSION_METERS, "SESSION_METERS", SES, SUP, false,
	    struct msg_session_meters, false, check_meters),
	SPEC(MSG_SESSION_EXIT, "SESSION_EXIT", SES, SUP, false,
	    struct msg_session_exit, false, check_session_exit),
	SPEC(MSG_PROBE, "PROBE", SUP, CHILDREN, false,
	    struct msg_probe, false, check_probe),
	SPEC(MSG_PUBLISH_START, "PUBLISH_START", SUP, PUB, false,
	    struct msg_publish_start, true, check_publish_start),
	SPEC(MSG_PUBLISH_STATE, "PUBLISH_STATE", PUB, SUP, false,
	    struct msg_publish_state, false, check_nothing),
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

	return s != NULL && s->tail;
}

bool
msg_valid(uint32_t type, const void *body, size_t len)
{
	const struct msg_spec *s = spec_of(type);

	return s != NULL && len >= s->size && (s->tail || len == s->size) &&
	    s->check(body, (const char *)body + s->size, len - s->size);
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
	    len != s->size || (taillen > 0 && !s->tail) ||
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
msg_send_probe(int sock, uint32_t type)
{
	static const char zero[MSG_MAX_PAYLOAD / 2];
	struct msg_hdr hdr = { MSG_VERSION, (uint16_t)type,
	    (uint32_t)msg_size(type) };
	struct iovec iov[2] = { { &hdr, sizeof(hdr) },
	    { (void *)(uintptr_t)zero, hdr.len } };

	if (hdr.len > sizeof(zero)) {
		errno = EMSGSIZE;
		return -1;
	}
	return send_iov(sock, iov, 2, -1, sizeof(hdr) + hdr.len);
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
	if (m->hdr.len < s->size || (!s->tail && m->hdr.len != s->size))
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
