/* sessutil.h — test harness for sessions: a paced ring writer, a sessiond with its client and parent. */
#ifndef RINGCAST_SESSUTIL_H
#define RINGCAST_SESSUTIL_H

#include <sys/socket.h>
#include <sys/mman.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "shared/mix.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "shared/ring.h"
#include "shared/tone.h"
#include "tests/testutil.h"

/*
 * The ring: a thread publishes one period per period time, sample values
 * from a function of (channel, absolute frame), so a client can check every
 * sample it receives against what was written.  Frame f of the stream is the
 * one whose packet position (end of block) is > f.
 */
typedef float (*su_signal_fn)(uint32_t ch, uint64_t frame, void *arg);

struct su_ring {
	char			 name[64];
	struct ring_config	 cfg;
	struct ring_writer	*w;
	su_signal_fn		 fn;
	void			*arg;
	float			*buf;
	pthread_t		 thr;
	atomic_int		 stop;
	bool			 running;
};

#define SU_RATE		48000

/* The default signal: the capture's built-in tone (shared/tone.h). */
static inline float
su_tone(uint32_t ch, uint64_t frame, void *arg)
{
	(void)arg;
	return tone_sample(ch, frame, SU_RATE);
}

static inline uint64_t
su_ns(void)
{
	return tu_now_ns();
}

static inline void
su_ring_fill(struct su_ring *r)
{
	uint64_t base = atomic_load(&ring_writer_header(r->w)->write_seq) *
	    r->cfg.period_frames;
	uint32_t f, c, nch = r->cfg.channels;

	for (f = 0; f < r->cfg.period_frames; f++)
		for (c = 0; c < nch; c++)
			r->buf[(size_t)f * nch + c] = r->fn(c, base + f, r->arg);
	ring_writer_write(r->w, r->buf, 0);
}

/* Paces like a sound card; after a long stall it resumes rather than bursts. */
static inline void *
su_ring_thread(void *arg)
{
	struct su_ring *r = arg;
	uint64_t step = 1000000000ull * r->cfg.period_frames / r->cfg.rate;
	uint64_t next = su_ns();
	struct timespec ts;

	while (!atomic_load(&r->stop)) {
		su_ring_fill(r);
		next += step;
		if (su_ns() > next + 100000000ull)
			next = su_ns();
		ts.tv_sec = next / 1000000000ull;
		ts.tv_nsec = next % 1000000000ull;
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return NULL;
}

static inline int
su_ring_writer_start(struct su_ring *r)
{
	if (ring_writer_open(r->name, &r->cfg, 1, &r->w) != RING_OK)
		return -1;
	atomic_store(&r->stop, 0);
	if (pthread_create(&r->thr, NULL, su_ring_thread, r) != 0) {
		ring_writer_close(r->w);
		return -1;
	}
	r->running = true;
	return 0;
}

static inline void
su_ring_writer_stop(struct su_ring *r)
{
	if (!r->running)
		return;
	atomic_store(&r->stop, 1);
	pthread_join(r->thr, NULL);
	ring_writer_close(r->w);
	r->running = false;
}

/* Create the ring /rc-test-<pid>-<tag> and start writing fn into it. */
static inline int
su_ring_start(struct su_ring *r, const char *tag, uint32_t channels,
    uint32_t period, su_signal_fn fn, void *arg)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", tu_name(tag));
	r->cfg = (struct ring_config){ SU_RATE, channels, period, 0 };
	r->fn = fn ? fn : su_tone;
	r->arg = arg;
	if ((r->buf = calloc((size_t)channels * period, sizeof(float))) == NULL)
		return -1;
	if (ring_create(r->name, &r->cfg) != RING_OK)
		return -1;
	return su_ring_writer_start(r);
}

/* Close and reopen the writer, as a restarted capture does (new epoch). */
static inline int
su_ring_restart(struct su_ring *r)
{
	su_ring_writer_stop(r);
	return su_ring_writer_start(r);
}

static inline void
su_ring_destroy(struct su_ring *r)
{
	su_ring_writer_stop(r);
	ring_unlink(r->name);
	free(r->buf);
	r->buf = NULL;
}

/*
 * The real ringcast-capture on its tone, writing the ring NAME (created if
 * missing, SU_RATE Hz): its pid once it published a period, or -1.
 */
static inline pid_t
su_capture_start(const char *ring, uint32_t channels, uint32_t period)
{
	char ch[16], per[16], rate[16];
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--ring", (char *)(uintptr_t)ring, "--source", "tone",
	    "--rate", rate, "--channels", ch, "--period", per,
	    "--notify-fd", "3", NULL };
	pid_t pid;
	int rfd, ok;

	snprintf(ch, sizeof(ch), "%u", channels);
	snprintf(per, sizeof(per), "%u", period);
	snprintf(rate, sizeof(rate), "%u", SU_RATE);
	if ((pid = tu_spawn(argv, 3, &rfd)) == -1)
		return -1;
	ok = tu_wait_text(rfd, "ready", 10000);
	close(rfd);
	if (!ok) {
		tu_stop(pid, 2000);
		return -1;
	}
	return pid;
}

/* ---- a session: the test is its parent and its client ---- */

struct su_sess {
	pid_t	pid;
	int	parent;		/* our end of the parent channel */
	int	client;		/* our end of the client connection */
	int	log;		/* read end of the session's stderr, or -1 */
};

/* A connected TCP pair on 127.0.0.1; rcvbuf > 0 shrinks the client's buffer. */
static inline int
su_tcp_pair(int *client, int *server, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int l, c, s = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if ((c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto out;
	if (rcvbuf > 0)
		setsockopt(c, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(l, 1) == -1 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) == -1 ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    (s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		close(c);
		goto out;
	}
	*client = c;
	*server = s;
out:
	close(l);
	return s == -1 ? -1 : 0;
}

/* In the child: put fd on number want, whatever numbers the others have. */
static inline void
su_child_fds(int parent, int client, int ring)
{
	int p = fcntl(parent, F_DUPFD, 10), c = fcntl(client, F_DUPFD, 10);
	int r = ring >= 0 ? fcntl(ring, F_DUPFD, 10) : -1;

	dup2(p, 3);
	dup2(c, 4);
	if (r >= 0)
		dup2(r, 5);
}

/*
 * Start ringcast-sessiond on the ring (by descriptor if by_fd, else by name)
 * with the client socket cfd.  Does not send MSG_SESSION_START.  With
 * capture_log the session's stderr is readable on s->log.
 */
static inline int
su_spawn(struct su_sess *s, const char *ring, bool by_fd, int cfd,
    bool capture_log)
{
	int pc[2], lg[2] = { -1, -1 }, rfd = -1, dn;
	char *argv[10];
	int n = 0;

	s->log = -1;
	if (msg_channel(pc) == -1)
		return -1;
	if (capture_log && pipe2(lg, O_CLOEXEC) == -1)
		return -1;
	if (by_fd && (rfd = shm_open(ring, O_RDONLY | O_CLOEXEC, 0)) == -1)
		return -1;
	argv[n++] = (char *)(uintptr_t)tu_prog("ringcast-sessiond");
	argv[n++] = "--parent-fd";
	argv[n++] = "3";
	argv[n++] = "--client-fd";
	argv[n++] = "4";
	argv[n++] = by_fd ? "--ring-fd" : "--ring";
	argv[n++] = by_fd ? "5" : (char *)(uintptr_t)ring;
	argv[n] = NULL;
	if ((s->pid = fork()) == -1)
		return -1;
	if (s->pid == 0) {
		su_child_fds(pc[1], cfd, rfd);
		if ((dn = open("/dev/null", O_RDONLY)) >= 0)
			dup2(dn, 0);
		if (lg[1] >= 0)
			dup2(lg[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(pc[1]);
	close(cfd);
	if (rfd >= 0)
		close(rfd);
	if (lg[1] >= 0)
		close(lg[1]);
	s->parent = pc[0];
	s->log = lg[0];
	return 0;
}

/* Receive one parent message within timeout_ms: 1, 0 on EOF, -1 on timeout. */
static inline int
su_parent_recv(struct su_sess *s, struct msg *m, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->parent, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -1;
	return msg_recv(s->parent, ROLE_SUPERVISOR, ROLE_SESSION, m);
}

/*
 * Wait for a message of type want, skipping others (stats): the message
 * (valid until the next call), or NULL on timeout, EOF or a fault.
 */
static inline const struct msg *
su_parent_wait(struct su_sess *s, uint32_t want, int timeout_ms)
{
	static struct msg m;
	uint64_t end = tu_now_ms() + timeout_ms;
	int64_t left;

	while ((left = (int64_t)(end - tu_now_ms())) > 0) {
		if (su_parent_recv(s, &m, (int)left) != 1)
			return NULL;
		if (m.hdr.type == want)
			return &m;
	}
	return NULL;
}

/* As the supervisor: a committed mix (or, with error, a refusal). */
static inline int
su_mix_set(struct su_sess *s, const struct mix *mix, enum msg_origin origin,
    const char *error)
{
	static struct msg_session_mix m;

	memset(&m, 0, sizeof(m));
	m.origin = origin;
	snprintf(m.error, sizeof(m.error), "%s", error ? error : "");
	m.mix = *mix;
	return msg_send(s->parent, ROLE_SUPERVISOR, MSG_SESSION_MIX_SET, &m,
	    sizeof(m), NULL, 0, -1);
}

/* The deployed Android app's handshake fields. */
static inline json_t *
su_app_hello(void)
{
	return json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:b, s:s, s:s}",
	    "type", "handshake",
	    "client_id", "7f3e1c9a-2b4d-4e8f-9a1b-3c5d7e9f1a2b",
	    "client_type", "android", "protocol_version", 2,
	    "rf_mode", 1, "persistent", 1, "auto_reconnect", 1,
	    "optimized", 1,
	    "device_uuid", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
	    "device_name", "Pixel 7");
}

/* Send MSG_SESSION_START for hello (stolen) and mix (stolen, may be NULL). */
static inline int
su_start(struct su_sess *s, json_t *hello, json_t *mix, int stall_ms)
{
	static struct msg_session_start m;
	char err[128];
	int rc = -1;

	memset(&m, 0, sizeof(m));
	m.kind = CLIENT_NATIVE;
	m.clients_connected = 2;
	m.stall_ms = stall_ms > 0 ? (uint32_t)stall_ms : 3000;
	m.user_timeout_ms = 4000;
	snprintf(m.persistent_id, sizeof(m.persistent_id),
	    "a1b2c3d4-e5f6-4711-8899-aabbccddeeff");
	mix_init(&m.mix, MIX_MAX_CHANNELS);
	if (proto_hello_parse(hello, &m.hello) == PROTO_OK && (mix == NULL ||
	    mix_from_json(&m.mix, MIX_MAX_CHANNELS, mix, err,
	    sizeof(err)) == 0))
		rc = msg_send(s->parent, ROLE_SUPERVISOR, MSG_SESSION_START, &m,
		    sizeof(m), NULL, 0, -1);
	json_decref(hello);
	json_decref(mix);
	return rc;
}

/*
 * The usual set-up: spawn on ring r with a socketpair client (or TCP with
 * rcvbuf if tcp), send START, wait for MSG_CHILD_READY.  0 or -1.
 */
static inline int
su_open(struct su_sess *s, const struct su_ring *r, json_t *hello,
    json_t *mix, int stall_ms, bool tcp, int rcvbuf)
{
	int sv[2];

	if (tcp ? su_tcp_pair(&sv[0], &sv[1], rcvbuf) :
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	s->client = sv[0];
	if (su_spawn(s, r->name, true, sv[1], false) == -1 ||
	    su_start(s, hello, mix, stall_ms) == -1)
		return -1;
	return su_parent_wait(s, MSG_READY, 10000) != NULL ? 0 : -1;
}

/* Stop a session however it stands, and reap it; the exit status or -1. */
static inline int
su_close(struct su_sess *s)
{
	int st = -1;

	if (s->pid > 0)
		st = tu_stop(s->pid, 5000);
	s->pid = 0;
	if (s->parent >= 0)
		close(s->parent);
	if (s->client >= 0)
		close(s->client);
	if (s->log >= 0)
		close(s->log);
	s->parent = s->client = s->log = -1;
	return st;
}

/* ---- the client side of the wire ---- */

#define SU_FRAME_MAX	(PROTO_HDR_LEN + 1024 * 1024)

struct su_frame {
	struct proto_hdr	hdr;
	uint8_t			data[SU_FRAME_MAX];	/* header + payload */
	const uint8_t		*payload;
};

/* Read exactly n bytes by end_ms: 1, 0 on EOF, -1 on timeout or error. */
static inline int
su_read_full(int fd, uint8_t *buf, size_t n, uint64_t end_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	int64_t left;
	ssize_t r;

	while (have < n) {
		if ((left = (int64_t)(end_ms - tu_now_ms())) <= 0)
			return -1;
		if (poll(&pfd, 1, (int)left) != 1)
			continue;
		r = read(fd, buf + have, n - have);
		if (r == 0)
			return 0;
		if (r < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		if (r > 0)
			have += r;
	}
	return 1;
}

/* The next whole message from the server: 1, 0 on EOF, -1 on timeout/garbage. */
static inline int
su_recv(int fd, struct su_frame *f, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	int rc;

	if ((rc = su_read_full(fd, f->data, PROTO_HDR_LEN, end)) != 1)
		return rc;
	if (proto_hdr_decode(f->data, &f->hdr) != PROTO_OK ||
	    f->hdr.length > SU_FRAME_MAX - PROTO_HDR_LEN)
		return -1;
	f->payload = f->data + PROTO_HDR_LEN;
	rc = su_read_full(fd, f->data + PROTO_HDR_LEN, f->hdr.length, end);
	return rc;
}

/* Skip audio until a control message of this type (NULL: any); NULL on timeout. */
static inline json_t *
su_recv_ctl(int fd, struct su_frame *f, const char *type, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	enum proto_ctl t;
	json_t *o;
	int64_t left;

	while ((left = (int64_t)(end - tu_now_ms())) > 0) {
		if (su_recv(fd, f, (int)left) != 1)
			return NULL;
		if (f->hdr.type != PROTO_TYPE_CONTROL)
			continue;
		if (proto_control_parse(f->payload, f->hdr.length, &o, &t) !=
		    PROTO_OK)
			return NULL;
		if (type == NULL || strcmp(json_string_value(json_object_get(o,
		    "type")), type) == 0)
			return o;
		json_decref(o);
	}
	return NULL;
}

/* The next audio packet, skipping control: 1 or -1. */
static inline int
su_recv_audio(int fd, struct su_frame *f, uint32_t mask_words,
    struct proto_audio *a, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	int64_t left;

	while ((left = (int64_t)(end - tu_now_ms())) > 0) {
		if (su_recv(fd, f, (int)left) != 1)
			return -1;
		if (f->hdr.type == PROTO_TYPE_AUDIO)
			return proto_audio_decode(&f->hdr, f->payload,
			    mask_words, a) == PROTO_OK ? 1 : -1;
	}
	return -1;
}

static inline int
su_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* Send a control message as the app does (steals obj). */
static inline int
su_send_ctl(int fd, json_t *obj)
{
	uint8_t *buf;
	size_t len;
	int rc = -1;

	if (proto_control_encode(obj, true, &buf, &len) == PROTO_OK) {
		rc = su_write_all(fd, buf, len);
		free(buf);
	}
	json_decref(obj);
	return rc;
}

/* ---- acting as the supervisor: commit what the client asked ---- */

/* Apply a change to our copy and answer MIX_SET as the supervisor would. */
static inline int
su_commit(struct su_sess *s, struct mix *m, const struct mix_patch *p,
    enum msg_origin origin)
{
	char err[128];

	if (mix_patch_apply(m, p, m->nch, err, sizeof(err)) == -1)
		return -1;
	return su_mix_set(s, m, origin, NULL);
}

/* The same for a change written as update_mix fields. */
static inline int
su_commit_json(struct su_sess *s, struct mix *m, const char *fields,
    enum msg_origin origin)
{
	struct mix_patch p;
	char err[128];
	json_t *o = json_loads(fields, 0, NULL);
	int rc = o != NULL && mix_patch_from_json(&p, o, m->nch, err,
	    sizeof(err)) == 0 ? su_commit(s, m, &p, origin) : -1;

	json_decref(o);
	return rc;
}

/* ---- a background reader checking position continuity ---- */

struct su_reader {
	int		 fd;
	uint32_t	 mask_words;
	pthread_t	 thr;
	atomic_int	 stop;
	atomic_ullong	 packets;
	atomic_ullong	 gaps;		/* positions that did not follow on */
	atomic_ullong	 last_pos;
	atomic_int	 failed;	/* EOF, garbage or a bad packet */
	struct su_frame	*f;
	pthread_mutex_t	 mu;		/* with cv: a packet arrived */
	pthread_cond_t	 cv;
};

static inline void *
su_reader_thread(void *arg)
{
	struct su_reader *r = arg;
	struct proto_audio a;
	uint64_t prev = 0;

	while (!atomic_load(&r->stop)) {
		if (su_recv_audio(r->fd, r->f, r->mask_words, &a, 500) != 1) {
			if (!atomic_load(&r->stop))
				atomic_store(&r->failed, 1);
			break;
		}
		if (prev != 0 && a.position != prev + a.frames)
			atomic_fetch_add(&r->gaps, 1);
		prev = a.position;
		atomic_store(&r->last_pos, a.position);
		pthread_mutex_lock(&r->mu);
		atomic_fetch_add(&r->packets, 1);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_lock(&r->mu);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static inline int
su_reader_start(struct su_reader *r, int fd, uint32_t mask_words)
{
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->mask_words = mask_words;
	if ((r->f = malloc(sizeof(*r->f))) == NULL)
		return -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return pthread_create(&r->thr, NULL, su_reader_thread, r) ? -1 : 0;
}

static inline void
su_reader_stop(struct su_reader *r)
{
	atomic_store(&r->stop, 1);
	pthread_join(r->thr, NULL);
	free(r->f);
	r->f = NULL;
}

/* Wait until the reader has seen n more packets than now: 1 or 0. */
static inline int
su_reader_wait(struct su_reader *r, uint64_t n, int timeout_ms)
{
	return tu_wait_count(&r->mu, &r->cv, &r->packets, &r->failed, n,
	    timeout_ms);
}

#endif
