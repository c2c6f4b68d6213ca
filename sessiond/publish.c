/* publish.c — ringcast-publish: one AES67 stream out of the ring, paced, announced with SAP; start, loop, exit. */
/*
 * Peers: the supervisor on the parent channel (fd 3, shared/msg.h), the
 * ring read-only (fd 4), the stream's UDP socket (fd 5) and the SAP
 * socket (fd 6), both connected to their multicast group by the
 * supervisor: this process never creates a socket.
 *
 * Packet k carries ring frames k * F .. k * F + F - 1 of the chosen
 * channels (F frames per packet: 48 for AES67's 1 ms).  Its timestamp is
 * k * F plus an offset, its sequence number k plus another: both follow
 * the ring's position, so a restarted publisher goes on with the same
 * numbering and a gap in the ring is a gap in both.  Packets are paced on
 * the ring's own clock: packet k leaves when its last frame was captured
 * (the slot timestamps, interpolated within a period) plus a fixed delay
 * D, the most any packet waits for the period that completes it
 * (period - gcd(period, F) frames: 1 ms for 48-frame packets over 64-frame
 * periods).  So they leave one packet time apart, whatever the period.
 * Nothing here waits on the network: a full socket drops the packet, a
 * publisher left more than SKIP_MS behind skips to the present.
 *
 * Started with --adopt RING it outlives its supervisor (shared/adopt.h):
 * the stream goes on, numbered as before, and a new supervisor that proves
 * itself at the rendezvous gets the stream back as it is sent
 * (MSG_ADOPT_PUBLISH) and keeps it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/opt.h"
#include "shared/ring.h"
#include "shared/rtp.h"
#include "shared/sandbox.h"
#include "shared/sdp.h"
#include "shared/spawn.h"
#include "shared/term.h"

#define START_TIMEOUT_MS	10000
#define STATE_MS		1000
#define PARENT_POLL_MS		20
#define WAIT_MS			50	/* ring wait: housekeeping this often */
/*
 * After a stall (the machine, not the network) packets less late than this
 * are sent at once: a relay box uses every one, a device with a fixed
 * playout delay drops the late ones itself.  Later ones are not sent, so
 * a catch-up burst stays bounded.
 */
#define SKIP_MS			100
#define EARLY_NS		20000	/* this close to due is due: no second sleep */
#define FIFO_FRAMES		8192	/* a power of two, > period + 2 F */
#define PUBLISH_RT_PRIO		60	/* SCHED_FIFO, below capture's audio thread */
#define TIMES			64	/* recent periods' timestamps */
#define NSEC			1000000000ull

struct options {
	int			 parent_fd, ring_fd, rtp_fd, sap_fd;
	const char		*adopt;		/* the ring's name: adoptable */
	int			 verbose;
};

struct pub {
	int			 parent_fd, rtp_fd, sap_fd;	/* parent -1: an orphan */
	struct adopt		 adopt;
	struct ring_reader	*ring;
	uint32_t		 rate, rnch, period;	/* the ring's */

	struct msg_publish_start st;
	char			 sdp[MSG_PUBLISH_SDP];	/* as announced */
	uint8_t			 sap[SAP_MAX], sap_bye[SAP_MAX];
	size_t			 sap_len, sap_bye_len;

	float			*period_buf;	/* one ring period, all channels */
	float			*fifo;		/* FIFO_FRAMES x st.nch */
	uint64_t		 have_from, have_to;	/* frames held */
	struct {
		uint64_t	 end, ns;
	}			 times[TIMES];
	uint64_t		 next;		/* first frame of the next packet */
	uint64_t		 delay_ns;	/* D */
	uint64_t		 ptime_ns;
	uint64_t		 expect_ns;	/* when the next packet should be due */
	uint8_t			 pkt[RTP_HDR_LEN + RTP_PAYLOAD_MAX];
	bool			 ready;

	struct msg_publish_state c;
	uint64_t		 next_state_ms, next_sap_ms, next_poll_ms;
	bool			 fault;		/* the parent broke the protocol */
	bool			 gone;		/* the parent channel closed */
};

static struct msg pm;

#define OFF(f)	offsetof(struct options, f)

static const struct opt_spec option_table[] = {
	OPT_DESCRIPTOR(struct options, "ring-fd", ring_fd),
	OPT_DESCRIPTOR(struct options, "rtp-fd", rtp_fd),
	OPT_DESCRIPTOR(struct options, "sap-fd", sap_fd),
	SPAWN_CHILD_OPTIONS(struct options, parent_fd, adopt, verbose),
};

static void
parse_args(int argc, char *argv[], struct options *o)
{
	*o = (struct options){ -1, -1, -1, -1, NULL, 0 };
	opt_parse(argc, argv, option_table, sizeof(option_table) /
	    sizeof(option_table[0]), o, NULL);
	if (o->parent_fd < 0 || o->ring_fd < 0 || o->rtp_fd < 0 ||
	    o->sap_fd < 0)
		opt_usage(2);
}

/* Map the ring read-only, like a session: we cannot write anyone's audio. */
/* ---- the parent channel ---- */

static void
parent_fault(struct pub *p)
{
	log_warnx("parent channel: %s %s", pm.fault, msg_name(pm.hdr.type));
	p->fault = true;
}

/* MSG_PUBLISH_START, the first message: 0, or -1 (logged). */
static int
take_start(struct pub *p)
{
	struct pollfd pfd = { .fd = p->parent_fd, .events = POLLIN };
	size_t tl;
	const char *sdp;
	int rc;

again:
	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1) {
		log_warnx("no MSG_PUBLISH_START within %d ms", START_TIMEOUT_MS);
		return -1;
	}
	rc = msg_recv(p->parent_fd, ROLE_PUBLISH, ROLE_SUPERVISOR, &pm);
	if (rc == 1 && pm.hdr.type == MSG_ADOPT_KEY) {
		adopt_keyed(&p->adopt, MSG_BODY(&pm, struct msg_adopt_key));
		goto again;
	}
	if (rc == -1 && errno == EPROTO)
		parent_fault(p);
	if (rc == 1 && pm.hdr.type != MSG_PUBLISH_START) {
		pm.fault = "not first";
		parent_fault(p);
	}
	if (rc != 1 || p->fault) {
		if (rc != -1 || errno != EPROTO)
			log_warnx("parent channel: %s", rc == 0 ? "closed" :
			    strerror(errno));
		return -1;
	}
	p->st = *MSG_BODY(&pm, struct msg_publish_start);
	sdp = msg_tail(&pm, &tl);
	memcpy(p->sdp, sdp, tl);	/* tl <= SDP_MAX: checked on receipt */
	p->sdp[tl < sizeof(p->sdp) ? tl : sizeof(p->sdp) - 1] = '\0';
	p->sap_len = sap_encode(p->sap, sizeof(p->sap), false,
	    (uint16_t)p->st.sap_hash, p->st.sap_origin, sdp, tl);
	p->sap_bye_len = sap_encode(p->sap_bye, sizeof(p->sap_bye), true,
	    (uint16_t)p->st.sap_hash, p->st.sap_origin, sdp, tl);
	return 0;
}

/*
 * After START, only probes may come; a fault ends us, and so does EOF
 * unless we can be adopted: then the stream goes on without a parent.
 */
static void
parent_input(struct pub *p)
{
	int rc;

	for (;;) {
		rc = msg_recv(p->parent_fd, ROLE_PUBLISH, ROLE_SUPERVISOR, &pm);
		if (rc == 1 && pm.hdr.type == MSG_PROBE) {
			sandbox_probe(p->parent_fd, ROLE_PUBLISH,
			    MSG_BODY(&pm, struct msg_probe));
			continue;
		}
		if (rc == 1) {
			pm.fault = "repeated";
			parent_fault(p);
		} else if (rc == -1 && errno == EPROTO)
			parent_fault(p);
		else if (rc == 0 || (rc == -1 && errno != EAGAIN &&
		    errno != EWOULDBLOCK)) {
			log_debug("parent channel closed");
			if (adopt_orphaned(&p->adopt)) {
				close(p->parent_fd);
				p->parent_fd = -1;
			} else
				p->gone = true;
		}
		return;
	}
}

/* ---- the ring side ---- */

static uint64_t
gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int
stream_setup(struct pub *p)
{
	uint32_t i, f = p->st.frames;

	for (i = 0; i < p->st.nch; i++)
		if (p->st.channels[i] >= p->rnch) {
			log_warnx("channel %u: the ring has %u",
			    p->st.channels[i], p->rnch);
			return -1;
		}
	if ((uint64_t)p->period + 2ull * f > FIFO_FRAMES) {
		log_warnx("%u frames per packet: too many", f);
		return -1;
	}
	p->period_buf = calloc((size_t)p->period * p->rnch, sizeof(float));
	p->fifo = calloc((size_t)FIFO_FRAMES * p->st.nch, sizeof(float));
	if (p->period_buf == NULL || p->fifo == NULL) {
		log_warn("publish");
		return -1;
	}
	p->delay_ns = (p->period - gcd(p->period, f)) * NSEC / p->rate;
	p->ptime_ns = (uint64_t)f * NSEC / p->rate;
	return 0;
}

/* A period at position (its end): its chosen channels into the FIFO. */
static void
keep(struct pub *p, const struct ring_period *info)
{
	uint64_t first = info->position - p->period, fr;
	uint32_t i, c, nch = p->st.nch;
	float *dst;

	if (first != p->have_to) {
		/* A gap (lapped, a new epoch): start at the next packet boundary. */
		p->have_from = p->have_to = first;
		p->next = (first + p->st.frames - 1) / p->st.frames *
		    p->st.frames;
	}
	for (i = 0; i < p->period; i++) {
		fr = first + i;
		dst = p->fifo + (size_t)(fr & (FIFO_FRAMES - 1)) * nch;
		for (c = 0; c < nch; c++)
			dst[c] = p->period_buf[(size_t)i * p->rnch +
			    p->st.channels[c]];
	}
	p->have_to = first + p->period;
	if (p->have_to - p->have_from > FIFO_FRAMES - p->period)
		p->have_from = p->have_to - (FIFO_FRAMES - p->period);
	/* So far behind that the frames are gone: on from what is held. */
	while (p->next < p->have_from) {
		p->c.skipped++;
		p->next += p->st.frames;
	}
	p->times[(info->position / p->period) % TIMES].end = info->position;
	p->times[(info->position / p->period) % TIMES].ns = info->timestamp_ns;
}

static void
drain(struct pub *p)
{
	struct ring_period info;
	uint64_t lost;
	int i;

	for (i = 0; i < 64; i++) {
		switch (ring_read(p->ring, p->period_buf, &info, &lost)) {
		case RING_READ_OK:
			keep(p, &info);
			break;
		case RING_READ_AGAIN:
			return;
		default:
			p->c.lost += lost;
			break;
		}
	}
}

/* When frame e (exclusive end) was captured, from its period's timestamp. */
static uint64_t
captured_ns(const struct pub *p, uint64_t e)
{
	uint64_t end = ((e - 1) / p->period + 1) * p->period;
	unsigned k = (unsigned)((end / p->period) % TIMES);

	if (p->times[k].end != end)
		return clock_mono_ns();
	return p->times[k].ns - (end - e) * NSEC / p->rate;
}

static bool
packet_ready(const struct pub *p)
{
	return p->next >= p->have_from && p->next + p->st.frames <= p->have_to;
}

/* ---- the network side ---- */

static void
send_packet(struct pub *p)
{
	uint32_t f = p->st.frames, nch = p->st.nch;
	uint32_t at = (uint32_t)(p->next & (FIFO_FRAMES - 1));
	uint32_t first = f < FIFO_FRAMES - at ? f : FIFO_FRAMES - at;
	enum rtp_format fmt = (enum rtp_format)p->st.format;
	uint64_t k = p->next / f;
	struct rtp_hdr h = {
		.pt = (uint8_t)p->st.pt,
		.seq = (uint16_t)(p->st.seq + k),
		.ts = (uint32_t)(p->next + p->st.ts_offset),
		.ssrc = p->st.ssrc,
	};
	size_t n = RTP_HDR_LEN;

	/* Straight from the FIFO, in two pieces where it wraps. */
	rtp_encode(p->pkt, &h);
	n += rtp_pack(fmt, p->pkt + n, p->fifo + (size_t)at * nch,
	    (size_t)first * nch);
	n += rtp_pack(fmt, p->pkt + n, p->fifo, (size_t)(f - first) * nch);
	if (send(p->rtp_fd, p->pkt, n, MSG_DONTWAIT) == (ssize_t)n) {
		p->c.packets++;
		p->c.bytes += n;
	} else
		p->c.dropped++;
	p->next += f;
}

static void
send_sap(struct pub *p, bool bye)
{
	if (p->st.sap_interval_ms == 0 || p->sap_len == 0)
		return;
	if (send(p->sap_fd, bye ? p->sap_bye : p->sap, bye ? p->sap_bye_len :
	    p->sap_len, MSG_DONTWAIT) == -1)
		log_warn("SAP");
	else
		p->c.sap += !bye;
}

static void
announce_ready(struct pub *p)
{
	struct msg_ready r = { RINGCAST_VERSION };

	p->ready = true;
	if (msg_send(p->parent_fd, ROLE_PUBLISH, MSG_READY, &r, sizeof(r),
	    NULL, 0, -1) == -1)
		log_warn("MSG_READY");
	log_info("%s: %u channels %s, %u frames per packet, first packet sent",
	    p->st.name, p->st.nch, rtp_format_name(p->st.format),
	    p->st.frames);
}

/* ---- the loop ---- */

static void
sleep_until(uint64_t ns)
{
	struct timespec ts = { .tv_sec = ns / NSEC, .tv_nsec = ns % NSEC };

	/* A signal ends the sleep early: the loop looks at the flag. */
	(void)clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* A new supervisor at the rendezvous: it gets the stream as we send it. */
static void
adopted(struct pub *p)
{
	static struct msg_adopt_publish m;
	int fd;

	if ((fd = adopt_accept(&p->adopt, &m, sizeof(m))) == -1)
		return;
	m.st = p->st;
	m.counters = p->c;
	memcpy(m.sdp, p->sdp, sizeof(m.sdp));
	if (adopt_answer(&p->adopt, fd, ROLE_PUBLISH, MSG_ADOPT_PUBLISH, &m,
	    sizeof(m)) == 0)
		p->parent_fd = fd;
}

/* The parent (or the rendezvous), the state report, the announcements. */
static uint64_t
housekeeping(struct pub *p)
{
	uint64_t now = clock_mono_ms(), next;

	if (now >= p->next_poll_ms) {
		struct pollfd pfd = { .fd = p->parent_fd >= 0 ? p->parent_fd :
		    adopt_watch_fd(&p->adopt), .events = POLLIN };

		if (poll(&pfd, 1, 0) == 1)
			p->parent_fd >= 0 ? parent_input(p) : adopted(p);
		if (p->parent_fd < 0 && adopt_expired(&p->adopt)) {
			log_warnx("no new supervisor within %u s: stopping",
			    p->adopt.key.grace_s);
			p->gone = true;
		}
		p->next_poll_ms = now + PARENT_POLL_MS;
	}
	/* A full channel skips one report: the next has the totals.  An
	 * orphan's report time moves on too, or the loop would spin. */
	if (now >= p->next_state_ms) {
		if (p->parent_fd >= 0)
			(void)msg_send(p->parent_fd, ROLE_PUBLISH,
			    MSG_PUBLISH_STATE, &p->c, sizeof(p->c), NULL, 0, -1);
		p->next_state_ms = now + STATE_MS;
	}
	if (p->st.sap_interval_ms > 0 && now >= p->next_sap_ms) {
		send_sap(p, false);
		p->next_sap_ms = now + p->st.sap_interval_ms;
	}
	next = p->next_poll_ms < p->next_state_ms ? p->next_poll_ms :
	    p->next_state_ms;
	return next * 1000000ull;
}

/* The next packet: sleep until it is due, skip it if long overdue, send it. */
static void
pace(struct pub *p, uint64_t due, uint64_t keep_ns)
{
	uint64_t now = clock_mono_ns();

	if (now + EARLY_NS < due) {
		sleep_until(due < keep_ns ? due : keep_ns);
		return;
	}
	if (now > due && now - due > SKIP_MS * 1000000ull) {
		p->c.skipped++;
		p->next += p->st.frames;
		return;
	}
	if (now > due && now - due > p->ptime_ns)
		p->c.late++;
	send_packet(p);
	p->expect_ns = due + p->ptime_ns;
	if (!p->ready)
		announce_ready(p);
}

/*
 * The next packet is not complete yet.  It should be by the time it is
 * due (D covers the wait for its period): sleep until then rather than
 * wake for the period and sleep again, one wake-up a packet instead of
 * two.  Only when that guess is past, wait on the ring.
 */
static void
wait_next(struct pub *p, uint64_t keep_ns)
{
	uint64_t now = clock_mono_ns(), until = p->expect_ns;
	int rc;

	p->expect_ns = 0;
	if (until > now) {
		sleep_until(until < keep_ns ? until : keep_ns);
		return;
	}
	rc = ring_wait(p->ring, WAIT_MS);
	if (rc < 0 && errno != EINTR)
		fatal("ring wait");
}

static void
loop(struct pub *p)
{
	uint64_t keep_ns, due;

	while (!term_requested && !p->fault && !p->gone) {
		keep_ns = housekeeping(p);
		drain(p);
		if (packet_ready(p)) {
			due = captured_ns(p, p->next + p->st.frames) +
			    p->delay_ns;
			pace(p, due, keep_ns);
		} else
			wait_next(p, keep_ns);
	}
}

/*
 * Pacing is the publisher's whole job: like capture's audio thread it asks
 * for SCHED_FIFO (it keeps RLIMIT_RTPRIO across the drop), and runs at
 * normal priority with one warning if refused.  Before the seccomp list,
 * which has no sched_setscheduler.
 */
static void
realtime(void)
{
	struct sched_param sp = { .sched_priority = PUBLISH_RT_PRIO };
	int rc;

	if ((rc = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp)) != 0)
		log_warnx("SCHED_FIFO %d refused (%s): packets are paced at "
		    "normal priority", PUBLISH_RT_PRIO, strerror(rc));
}

static int
run(struct pub *p)
{
	int fl;

	if (take_start(p) == -1 || stream_setup(p) == -1)
		return p->fault ? MSG_EXIT_FAULT : 1;
	if ((fl = fcntl(p->parent_fd, F_GETFL)) == -1 ||
	    fcntl(p->parent_fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("parent channel: O_NONBLOCK");
	/* Begin at the live edge, on a packet boundary. */
	ring_reader_seek_live(p->ring);
	realtime();
	sandbox_enter(SANDBOX_PUBLISH);
	loop(p);
	send_sap(p, true);
	log_info("%s: stopping%s: sent %llu, dropped %llu, late %llu, "
	    "skipped %llu", p->st.name, term_requested ? " (signal)" : p->gone ?
	    " (parent gone)" : "", (unsigned long long)p->c.packets,
	    (unsigned long long)p->c.dropped, (unsigned long long)p->c.late,
	    (unsigned long long)p->c.skipped);
	return p->fault ? MSG_EXIT_FAULT : 0;
}

int
main(int argc, char *argv[])
{
	static struct pub p;
	struct options o;
	int status, rc;

	parse_args(argc, argv, &o);
	log_init("publish", o.verbose);
	p.parent_fd = o.parent_fd;
	p.rtp_fd = o.rtp_fd;
	p.sap_fd = o.sap_fd;
	term_setup();
	/* Read-only, like a session: we cannot write anyone's audio. */
	if ((rc = ring_reader_child(o.ring_fd, NULL, &p.ring, &p.rate, &p.rnch,
	    &p.period)) != RING_OK)
		fatalx("ring: %s", ring_strerror(rc));
	(void)adopt_listen(&p.adopt, o.adopt, ROLE_PUBLISH);
	sandbox_prepare(SANDBOX_PUBLISH, 0);
	status = run(&p);
	ring_reader_close(p.ring);
	free(p.period_buf);
	free(p.fifo);
	return status;
}
