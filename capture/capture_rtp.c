/* capture_rtp.c — the network sources rtp://, sdp:FILE and sap:NAME: the ring advances as packets arrive. */
/*
 * One audio thread reads the stream's socket (and, for sap:NAME, the
 * announcements), places each packet by its timestamp in the jitter
 * buffer (shared/jitter.h) and writes a ring period as soon as the period
 * and jitter-ms after it have arrived: the ring moves at the sender's
 * pace, so there is no second clock to drift.  While nothing comes (no
 * sender yet, or it went quiet for JITTER_QUIET_MS), the thread writes
 * silent periods on our own clock instead: the readers and the
 * supervisor's watchdog see a ring that advances, and the state says
 * "waiting" or "quiet".  A new sender timeline (another SSRC, a long
 * silence) starts a new ring epoch, as a restarted capture does.
 *
 * The sockets come from the supervisor (--net-fd, MSG_CAPTURE_SOCKET):
 * the seccomp list has no socket(), bind() or setsockopt().  Run by hand,
 * the source opens them itself before the list is loaded.
 */
#define _GNU_SOURCE	/* ppoll */
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/mcast.h"
#include "capture/capture.h"

#define NSEC		1000000000ull
#define MSEC		1000000ull
#define RX_BATCH	64	/* datagrams per wake-up */
#define SNAP_NS		(100 * MSEC)
#define JOIN_RETRY_MS	5000
#define DGRAM_MAX	65536

static struct netin *
net(struct capture *c)
{
	return c->priv;
}

static struct netin *
net_alloc(struct capture *c)
{
	struct netin *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		log_warn("network source");
		return NULL;
	}
	n->rtp_fd = n->sap_fd = -1;
	atomic_store(&n->handed_fd, -1);
	if ((n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		log_warn("eventfd");
		free(n);
		return NULL;
	}
	c->priv = n;
	if (c->channels == 0)
		c->channels = CAPTURE_CHANNELS;
	return n;
}

/* rtp://... or sdp:FILE: the stream is known now. */
static int
stream_open(struct capture *c)
{
	struct sdp_stream s;
	struct netin *n;
	char err[320];

	if (mcast_source_stream(c->source_arg, c->channels ? c->channels :
	    CAPTURE_CHANNELS, &s, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		return -1;
	}
	if (s.rate != 0 && s.rate != c->rate) {
		log_warnx("%s: the stream is %u Hz, the ring %u Hz",
		    c->source_arg, s.rate, c->rate);
		return -1;
	}
	s.rate = c->rate;
	if (c->channels == 0)
		c->channels = s.channels;
	if ((n = net_alloc(c)) == NULL)
		return -1;
	n->stream = s;
	n->have_stream = true;
	n->rtp_fd = c->net_fd >= 0 ? c->net_fd : mcast_receiver(s.group,
	    s.port, s.source, "", err, sizeof(err));
	if (n->rtp_fd == -1) {
		log_warnx("%s: %s", c->source_arg, err);
		return -1;
	}
	snprintf(c->desc, sizeof(c->desc), "%s", c->source_arg);
	return 0;
}

static int
sap_open(struct capture *c)
{
	struct netin *n;
	char err[256];
	uint32_t group;
	uint16_t port;

	if (c->source_spec == NULL || c->source_spec[0] == '\0') {
		log_warnx("sap:NAME needs the session's name");
		return -1;
	}
	if ((n = net_alloc(c)) == NULL)
		return -1;
	n->name = c->source_spec;
	if (c->net_fd >= 0)
		n->sap_fd = c->net_fd;
	else if (mcast_addr(SAP_GROUP, "9875", &group, &port, err,
	    sizeof(err)) == -1 || (n->sap_fd = mcast_receiver(group, port, 0,
	    "", err, sizeof(err))) == -1) {
		log_warnx("SAP: %s", err);
		return -1;
	}
	snprintf(c->desc, sizeof(c->desc), "sap:%s", n->name);
	return 0;
}

/* ---- the audio side ---- */

void
capture_net_notice(struct capture *c, const char *fmt, ...)
{
	struct netin *n = net(c);
	va_list ap;

	/* One at a time: the main thread logs it, then takes the next. */
	if (atomic_load(&n->notice))
		return;
	va_start(ap, fmt);
	vsnprintf(n->notice_text, sizeof(n->notice_text), fmt, ap);
	va_end(ap);
	atomic_store_explicit(&n->notice, 1, memory_order_release);
	capture_wake(c);
}

void
capture_net_stream(struct capture *c, const struct sdp_stream *s)
{
	struct netin *n = net(c);

	n->stream = *s;
	n->have_stream = true;
	jitter_stream(&n->jb, s->format, s->channels, s->pt);
}

/* The period at the jitter buffer's position into the ring. */
static void
publish(struct capture *c, struct netin *n)
{
	float *dst = ring_writer_begin(c->w);

	jitter_pop(&n->jb, dst);
	ring_writer_update_meters(c->w, dst);
	ring_writer_publish(c->w, 0);
	c->seq++;
	capture_published(c);
}

static uint64_t
quiet_ms(const struct netin *n, uint64_t now)
{
	return n->ever ? (now - n->last_rx_ns) / MSEC : UINT64_MAX;
}

/*
 * Write what is due: periods the packets completed, or silence on our own
 * clock while there are none.  Returns how long until something may be
 * due again.
 */
static uint64_t
due(struct capture *c, struct netin *n, uint64_t now)
{
	uint64_t q = quiet_ms(n, now), step = (uint64_t)c->period * NSEC /
	    c->rate;

	if (n->jb.anchored && q < JITTER_QUIET_MS) {
		atomic_store(&n->phase, NET_RECEIVING);
		while (jitter_ready(&n->jb))
			publish(c, n);
		n->local_ns = 0;
		return (JITTER_QUIET_MS - q) * MSEC;
	}
	atomic_store(&n->phase, n->ever ? NET_QUIET : NET_WAITING);
	if (n->local_ns == 0) {
		n->local_ns = now;
		n->local_acc = 0;
	}
	while (now >= n->local_ns) {
		publish(c, n);
		n->local_acc += (uint64_t)c->period * NSEC;
		n->local_ns += n->local_acc / c->rate;
		n->local_acc %= c->rate;
		if (now > n->local_ns + CAPTURE_LATE_PERIODS * step) {
			ring_writer_count_overrun(c->w, (now - n->local_ns) /
			    step);
			n->local_ns = now;
		}
	}
	return n->local_ns - now;
}

static void
rtp_input(struct capture *c, struct netin *n)
{
	static uint8_t buf[DGRAM_MAX];
	enum jitter_verdict v;
	uint64_t now;
	ssize_t len;
	int i;

	for (i = 0; i < RX_BATCH; i++) {
		if ((len = recv(n->rtp_fd, buf, sizeof(buf), MSG_DONTWAIT)) < 0)
			return;
		if (!n->have_stream)
			continue;
		now = clock_mono_ns();
		v = jitter_put(&n->jb, buf, (size_t)len, quiet_ms(n, now));
		if (v == JITTER_EPOCH)
			ring_writer_new_epoch(c->w);
		if (v == JITTER_TAKEN || v == JITTER_EPOCH) {
			n->last_rx_ns = now;
			n->ever = true;
		}
		while (jitter_ready(&n->jb))
			publish(c, n);
	}
}

static void
sap_input(struct capture *c, struct netin *n)
{
	static uint8_t buf[DGRAM_MAX];
	ssize_t len;
	int i;

	for (i = 0; i < RX_BATCH; i++) {
		if ((len = recv(n->sap_fd, buf, sizeof(buf), MSG_DONTWAIT)) < 0)
			return;
		capture_sap_input(c, buf, (size_t)len);
	}
}

/* The main thread handed over the stream's socket, or wants us to stop. */
static void
wake_input(struct netin *n)
{
	uint64_t v;
	int fd;

	(void)!read(n->wake_fd, &v, sizeof(v));
	if ((fd = atomic_exchange(&n->handed_fd, -1)) < 0)
		return;
	if (n->rtp_fd >= 0)
		close(n->rtp_fd);
	n->rtp_fd = fd;
}

/* What the main thread reports, under a seqlock: we never wait for it. */
static void
snapshot(struct netin *n)
{
	uint32_t seq = atomic_load_explicit(&n->snap_seq, memory_order_relaxed);
	struct jitter_stats st;
	struct msg_ingest *m = &n->snap;
	char g[16];

	atomic_store_explicit(&n->snap_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	jitter_stats(&n->jb, &st);
	m->packets = st.packets;
	m->lost = st.lost;
	m->late = st.late;
	m->malformed = st.malformed;
	m->foreign = st.foreign;
	m->jumps = st.jumps;
	m->epochs = st.epochs;
	m->sap_bad = n->sap_bad;
	m->anchored = n->jb.anchored;
	m->ssrc = n->jb.ssrc;
	m->ts = n->jb.ts_last;
	m->position = n->jb.anchored ? jitter_position(&n->jb,
	    n->jb.ts_last) : 0;
	if (n->have_stream && inet_ntop(AF_INET, &n->stream.group, g,
	    sizeof(g)) != NULL)
		snprintf(m->stream, sizeof(m->stream), "%s:%u %s/%u/%u", g,
		    n->stream.port, rtp_format_name(n->stream.format),
		    n->stream.rate, n->stream.channels);
	atomic_store_explicit(&n->snap_seq, seq + 2, memory_order_release);
}

static void *
net_thread(void *arg)
{
	struct capture *c = arg;
	struct netin *n = net(c);
	struct pollfd pfd[3];
	struct timespec ts;
	uint64_t now, wait;

	while (!atomic_load_explicit(&n->stop, memory_order_relaxed)) {
		now = clock_mono_ns();
		wait = due(c, n, now);
		if (now >= n->next_snap_ns) {
			snapshot(n);
			n->next_snap_ns = now + SNAP_NS;
		}
		pfd[0] = (struct pollfd){ .fd = n->wake_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = n->rtp_fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = n->sap_fd, .events = POLLIN };
		ts = (struct timespec){ (time_t)(wait / NSEC),
		    (long)(wait % NSEC) };
		if (ppoll(pfd, 3, &ts, NULL) <= 0)
			continue;
		if (pfd[0].revents)
			wake_input(n);
		if (pfd[1].revents)
			rtp_input(c, n);
		if (pfd[2].revents)
			sap_input(c, n);
	}
	return NULL;
}

static int
net_start(struct capture *c)
{
	struct netin *n = net(c);
	struct jitter_config jc = { c->rate, c->channels, c->period,
	    (uint32_t)((uint64_t)c->jitter_ms * c->rate / 1000) };
	int rc;

	if (jitter_init(&n->jb, &jc, c->seq * c->period) == -1) {
		log_warnx("jitter buffer: out of memory");
		return -1;
	}
	if (n->have_stream)
		capture_net_stream(c, &n->stream);
	if ((rc = pthread_create(&n->thr, NULL, net_thread, c)) != 0) {
		log_warnx("network thread: %s", strerror(rc));
		return -1;
	}
	n->running = 1;
	capture_realtime(n->thr);
	return 0;
}

static void
net_stop(struct capture *c)
{
	struct netin *n = net(c);
	uint64_t one = 1;

	if (n == NULL || !n->running)
		return;
	atomic_store(&n->stop, 1);
	(void)!write(n->wake_fd, &one, sizeof(one));
	pthread_join(n->thr, NULL);
	n->running = 0;
}

static void
net_close(struct capture *c)
{
	struct netin *n = net(c);
	int fd;

	if (n == NULL)
		return;
	jitter_free(&n->jb);
	if ((fd = atomic_exchange(&n->handed_fd, -1)) >= 0)
		close(fd);
	if (n->rtp_fd >= 0)
		close(n->rtp_fd);
	if (n->sap_fd >= 0)
		close(n->sap_fd);
	close(n->wake_fd);
	free(n);
	c->priv = NULL;
}

/* ---- the main thread ---- */

static void
hand_over(struct capture *c, int fd)
{
	struct netin *n = net(c);
	uint64_t one = 1;
	int old = atomic_exchange(&n->handed_fd, fd);

	if (old >= 0)
		close(old);
	(void)!write(n->wake_fd, &one, sizeof(one));
}

static void
send_join(struct capture *c)
{
	struct netin *n = net(c);
	char err[256];
	int fd;

	n->join_sent_ms = clock_mono_ms();
	if (c->parent_fd >= 0) {
		if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_JOIN,
		    &n->join_req, sizeof(n->join_req), NULL, 0, -1) == -1)
			log_warn("MSG_CAPTURE_JOIN");
		return;
	}
	/* By hand: open it ourselves (this source has no seccomp list then). */
	if ((fd = mcast_receiver(n->join_req.group, n->join_req.port,
	    n->join_req.source, "", err, sizeof(err))) == -1)
		log_warnx("%s", err);
	else
		hand_over(c, fd);
}

static void
net_event(struct capture *c)
{
	struct netin *n = net(c);

	if (atomic_load_explicit(&n->notice, memory_order_acquire)) {
		log_info("%s", n->notice_text);
		atomic_store(&n->notice, 0);
	}
	if (atomic_exchange(&n->join, 0) == 1)
		send_join(c);
}

static void
net_joined(struct capture *c, int fd, const struct msg_capture_join *m)
{
	struct netin *n = net(c);

	if (m->group != n->join_req.group || m->port != n->join_req.port) {
		close(fd);
		return;
	}
	n->join_sent_ms = 0;
	hand_over(c, fd);
}

/* Once a second: a join the supervisor did not answer is asked again. */
static int
net_check(struct capture *c)
{
	struct netin *n = net(c);

	net_event(c);
	if (n->join_sent_ms != 0 && clock_mono_ms() - n->join_sent_ms >
	    JOIN_RETRY_MS) {
		log_warnx("no socket for the stream yet: asking again");
		send_join(c);
	}
	return 0;
}

static void
net_report(struct capture *c, struct msg_capture_state *m)
{
	static const char *const phases[] = { "waiting", "receiving",
	    "quiet" };
	struct netin *n = net(c);
	uint32_t s1, s2;

	do {
		s1 = atomic_load_explicit(&n->snap_seq, memory_order_acquire);
		memcpy(&m->ingest, &n->snap, sizeof(m->ingest));
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&n->snap_seq, memory_order_relaxed);
	} while (s1 != s2 || (s1 & 1));
	snprintf(m->state, sizeof(m->state), "%s",
	    phases[atomic_load(&n->phase)]);
}

/* The three differ in how they learn the stream, not in what follows. */
#define NET_SOURCE(k, o) {						\
	.kind = k, .open = o, .start = net_start, .check = net_check,	\
	.stop = net_stop, .close = net_close, .event = net_event,	\
	.joined = net_joined, .report = net_report,			\
}

const struct capture_source capture_rtp = NET_SOURCE("rtp", stream_open);
const struct capture_source capture_sdp = NET_SOURCE("sdp", stream_open);
const struct capture_source capture_sap = NET_SOURCE("sap", sap_open);
