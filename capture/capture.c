/* capture.c — ringcast-capture: writes one audio source into the ring; start, loop, exit. */
/*
 * Peers: the supervisor on the parent channel (fd 3, shared/msg.h), the
 * ring (the write side: this is the only process that has it), and the
 * source: a PortAudio device, a looped file or the built-in tone.
 * Two sides: the audio side (PortAudio's callback, or our clock thread)
 * fills and publishes periods and never blocks; the main thread reports
 * readiness and state, and watches signals, the parent and the source.
 */
#define _GNU_SOURCE		/* ppoll */
#include <sys/eventfd.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/opt.h"
#include "shared/sandbox.h"
#include "shared/spawn.h"
#include "shared/text.h"
#include "shared/term.h"
#include "capture/capture.h"

#define STATE_MS	1000	/* MSG_CAPTURE_STATE interval */

static const struct capture_source *const sources[] = {
	&capture_tone, &capture_wav, &capture_pa, &capture_rtp, &capture_sdp,
	&capture_sap,
};

/* "kind" or "kind:spec" -> the source; spec stays in c->source_spec. */
static const struct capture_source *
source_find(struct capture *c)
{
	const char *colon = strchr(c->source_arg, ':');
	size_t len = colon ? (size_t)(colon - c->source_arg) :
	    strlen(c->source_arg);
	size_t i;

	c->source_spec = colon ? colon + 1 : NULL;
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++)
		if (strlen(sources[i]->kind) == len &&
		    strncmp(sources[i]->kind, c->source_arg, len) == 0)
			return sources[i];
	errx(2, "--source %s: expected auto, tone, wav:PATH, "
	    "portaudio:NAME|INDEX, rtp://GROUP:PORT, sdp:FILE or sap:NAME",
	    c->source_arg);
}

#define OFF(f)	offsetof(struct capture, f)

static const struct opt_spec options[] = {
	/* Run by hand: the ring by name (else MSG_CAPTURE_RING brings it). */
	{ "ring", OPT_TEXT, OFF(ring_name), 0, 0, NULL, "NAME" },
	OPT_DESCRIPTOR(struct capture, "ring-fd", ring_fd),
	OPT_DESCRIPTOR(struct capture, "notify-fd", notify_fd),
	/* The source and the ring's geometry. */
	{ "source", OPT_TEXT, OFF(source_arg), 0, 0, NULL, "SOURCE" },
	{ "rate", OPT_U32, OFF(rate), 8000, 384000, NULL, NULL },
	{ "channels", OPT_U32_MAX, OFF(channels), 1, RING_MAX_CHANNELS, NULL, NULL },
	{ "period", OPT_U32, OFF(period), 1, RING_MAX_PERIOD, NULL, NULL },
	{ "slots", OPT_U32, OFF(slots), 0, 1u << 20, NULL, NULL },
	/* A network source: its socket from the supervisor, its buffer. */
	OPT_DESCRIPTOR(struct capture, "net-fd", net_fd),
	{ "jitter-ms", OPT_U32, OFF(jitter_ms), 1, 100, NULL, NULL },
	/* Other jobs: list the devices; an upgrade's successor. */
	{ "list-devices", OPT_FLAG, OFF(list_devices), 0, 0, NULL, NULL },
	{ "handover", OPT_FLAG, OFF(handover), 0, 0, NULL, NULL },
	SPAWN_CHILD_OPTIONS(struct capture, parent_fd, adopt_ring, verbose),
};

static void
parse_args(int argc, char *argv[], struct capture *c)
{
	c->source_arg = "tone";
	c->rate = CAPTURE_RATE;
	c->period = CAPTURE_PERIOD;
	c->parent_fd = c->notify_fd = c->event_fd = c->ring_fd = c->net_fd = -1;
	c->jitter_ms = CAPTURE_JITTER_MS;
	opt_parse(argc, argv, options, sizeof(options) / sizeof(options[0]), c,
	    NULL);
	if (c->slots == 1)
		errx(2, "--slots: 0 (default) or at least 2");
	if (strlen(c->source_arg) >= MSG_SOURCE_MAX)
		errx(2, "--source: at most %d bytes", MSG_SOURCE_MAX - 1);
	/* With a parent and no ring named, the parent passes it. */
	if (c->ring_name == NULL && (c->parent_fd < 0 || c->ring_fd >= 0))
		c->ring_name = RING_NAME_DEFAULT;
	/* "auto" asks PortAudio, which is for run() (after the drop). */
	if (strcmp(c->source_arg, "auto") != 0)
		c->src = source_find(c);
}

/*
 * Block SIGTERM and SIGINT everywhere (threads inherit the mask) and take
 * them only inside the main loop's ppoll: no check-then-sleep race, and
 * the audio side is never interrupted.
 */
static void
signals_setup(sigset_t *loopmask)
{
	sigset_t block;

	term_setup();
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, loopmask);
	sigdelset(loopmask, SIGTERM);
	sigdelset(loopmask, SIGINT);
}

void
capture_wake(struct capture *c)
{
	uint64_t one = 1;

	/* Non-blocking eventfd: at worst the counter is already non-zero. */
	(void)!write(c->event_fd, &one, sizeof(one));
}

void
capture_published(struct capture *c)
{
	if (c->first_done)
		return;
	c->first_done = 1;
	atomic_store_explicit(&c->ready, 1, memory_order_release);
	capture_wake(c);
}

/* Say so if we are about to replace a ring its readers still map. */
static void
ring_check_existing(const struct capture *c)
{
	const struct ring_header *h;
	struct ring_reader *r;

	if (ring_reader_open(c->ring_name, &r) != RING_OK)
		return;
	h = ring_reader_header(r);
	if (h->rate != c->cfg.rate || h->channels != c->cfg.channels ||
	    h->period_frames != c->cfg.period_frames ||
	    h->slot_count != c->cfg.slot_count)
		log_warnx("ring %s is %u Hz, %u channels, period %u, %u slots: "
		    "replacing it", c->ring_name, h->rate, h->channels,
		    h->period_frames, h->slot_count);
	ring_reader_close(r);
}

/*
 * Under the supervisor the ring is the descriptor it passed (it created
 * the ring; we never look it up by name, which another instance could
 * have taken).  Run by hand, --ring NAME is opened or created.
 */
static int
ring_attach(struct capture *c)
{
	if (c->ring_fd >= 0 && c->handover)
		return ring_writer_follow_fd(c->ring_fd, &c->cfg, &c->w);
	if (c->ring_fd >= 0)
		return ring_writer_open_fd(c->ring_fd, &c->cfg, &c->w);
	ring_check_existing(c);
	return ring_writer_open(c->ring_name, &c->cfg, 1, &c->w);
}

static int
ring_setup(struct capture *c)
{
	int rc;

	c->cfg = (struct ring_config){ c->rate, c->channels, c->period,
	    c->slots };
	if ((rc = ring_config_check(&c->cfg)) != RING_OK ||
	    (rc = ring_attach(c)) != RING_OK) {
		log_warnx("ring %s: %s%s%s", c->ring_fd >= 0 ? "descriptor" :
		    c->ring_name, ring_strerror(rc), rc == RING_ESYS ? ": " :
		    "", rc == RING_ESYS ? strerror(errno) : "");
		return -1;
	}
	/* The writer continues the sequence of the ring: the tone's phase too. */
	c->seq = atomic_load(&ring_writer_header(c->w)->write_seq);
	return 0;
}

static struct msg_capture_state
state_of(struct capture *c)
{
	const struct ring_header *h = ring_writer_header(c->w);
	struct msg_capture_state m;

	memset(&m, 0, sizeof(m));
	snprintf(m.state, sizeof(m.state), "%s", c->waiting ? "waiting" :
	    "running");
	snprintf(m.source, sizeof(m.source), "%.255s", c->desc);
	m.epoch = atomic_load(&h->epoch);
	m.xruns = atomic_load(&h->xruns);
	m.overruns = atomic_load(&h->overruns);
	if (c->src->report != NULL)
		c->src->report(c, &m);
	return m;
}

static void
send_state(struct capture *c)
{
	struct msg_capture_state m = state_of(c);

	/* A full channel skips one report; the next has the totals. */
	if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_STATE, &m,
	    sizeof(m), NULL, 0, -1) == -1 && errno != EAGAIN)
		log_warn("MSG_CAPTURE_STATE");
}

/* What the source turned out to be, or why it did not open (to the parent). */
static void
report_opened(struct capture *c, int ok)
{
	struct msg_capture_opened m;

	memset(&m, 0, sizeof(m));
	if (ok) {
		snprintf(m.source, sizeof(m.source), "%s", c->source);
		snprintf(m.desc, sizeof(m.desc), "%.255s", c->desc);
		m.channels = c->channels;
	} else
		text_clean(m.error, sizeof(m.error), log_last_warning()[0] ?
		    log_last_warning() : "the source did not open");
	if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_OPENED, &m,
	    sizeof(m), NULL, 0, -1) == -1)
		log_warn("MSG_CAPTURE_OPENED");
}

static void
announce_ready(struct capture *c)
{
	static const char line[] = "ready\n";
	struct msg_ready ready = { RINGCAST_VERSION };

	log_debug("first period published");
	if (c->notify_fd >= 0) {
		if (write(c->notify_fd, line, sizeof(line) - 1) == -1)
			log_warn("notify fd");
		close(c->notify_fd);
		c->notify_fd = -1;
	}
	if (c->parent_fd >= 0) {
		if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_READY, &ready,
		    sizeof(ready), NULL, 0, -1) == -1)
			log_warn("MSG_READY");
		send_state(c);
	}
}

/*
 * The ring the parent passes (MSG_CAPTURE_RING), once the source is open:
 * taken only while none is attached; its geometry must be the one we
 * said.  -1: a fault.
 */
static int
ring_received(struct capture *c, const struct msg *m)
{
	if (c->w != NULL || c->ring_fd >= 0 ||
	    MSG_BODY(m, struct msg_capture_ring)->channels != c->channels) {
		close(m->fd);
		return -1;
	}
	c->ring_fd = m->fd;
	return 0;
}

/*
 * The built-in and network sources need nothing new once started: they get
 * the seccomp list (a network source reads sockets it was given).  Audio
 * libraries (PortAudio with ALSA or JACK) open devices, load plugins and
 * start threads whenever they like: no list.  Nor sap:NAME run by hand:
 * without a supervisor to open the announced stream's socket, it opens it
 * itself, later.
 */
static void
confine(struct capture *c)
{
	if (c->src == &capture_pa || (c->src == &capture_sap &&
	    c->parent_fd < 0))
		log_info("%s source: no seccomp list", c->src->kind);
	else
		sandbox_enter(SANDBOX_CAPTURE);
}

/* The source produces periods from now on: 0, or -1 (said). */
static int
begin(struct capture *c)
{
	if (!c->src->early && c->src->start(c) == -1)
		return -1;
	confine(c);
	return 0;
}

/*
 * An upgrade, the old side: publish nothing more, leave the writer's state
 * to the successor, say where the ring stands.  We end after this.
 */
static void
retire(struct capture *c)
{
	struct msg_capture_handover h;

	c->src->stop(c);
	ring_writer_hand_over(c->w);
	h.seq = c->seq;
	h.due_ns = atomic_load(&c->pace.due_ns);
	if (h.due_ns == 0)
		h.due_ns = clock_mono_ns();
	log_info("handing the ring over at period %" PRIu64, h.seq);
	if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_RETIRED, &h,
	    sizeof(h), NULL, 0, -1) == -1)
		log_warn("MSG_CAPTURE_RETIRED");
}

/*
 * An upgrade, the new side: go on from where our predecessor stopped.  An
 * exclusive device opens only now, once the old capture let it go.
 */
static int
take_over(struct capture *c, const struct msg_capture_handover *h)
{
	if (!c->waiting)
		return 0;
	if (c->src->exclusive && (c->src->open(c) == -1 ||
	    (c->src->early && c->src->start(c) == -1)))
		return -1;
	c->waiting = 0;
	c->seq = h->seq;
	c->pace.first_ns = h->due_ns;
	ring_writer_resume(c->w, h->seq);
	atomic_store_explicit(&c->attached, 1, memory_order_release);
	log_info("taking the ring over at period %" PRIu64, h->seq);
	return begin(c);
}

/* A new supervisor called at the rendezvous: tell it what we are. */
static void
adopted(struct capture *c)
{
	struct msg_adopt_capture m;
	int fd;

	if ((fd = adopt_accept(&c->adopt, &m, sizeof(m))) == -1)
		return;
	m.state = state_of(c);
	snprintf(m.source, sizeof(m.source), "%s", c->source);
	m.rate = c->rate;
	m.channels = c->channels;
	m.period = c->period;
	if (adopt_answer(&c->adopt, fd, ROLE_CAPTURE, MSG_ADOPT_CAPTURE, &m,
	    sizeof(m)) == 0)
		c->parent_fd = fd;
}

/* One message from the supervisor: 1 to end (retired), -1 on a fault. */
static int
parent_dispatch(struct capture *c, struct msg *m)
{
	switch (m->hdr.type) {
	case MSG_ADOPT_KEY:
		adopt_keyed(&c->adopt, MSG_BODY(m, struct msg_adopt_key));
		return 0;
	case MSG_CAPTURE_SOCKET:
		if (c->src->joined != NULL)
			c->src->joined(c, m->fd, MSG_BODY(m,
			    struct msg_capture_join));
		else
			close(m->fd);
		return 0;
	case MSG_CAPTURE_RING:
		if (ring_received(c, m) == 0)
			return 0;
		m->fault = "unexpected ring";
		return -1;
	case MSG_CAPTURE_RETIRE:
		retire(c);
		return 1;
	case MSG_CAPTURE_TAKEOVER:
		if (take_over(c, MSG_BODY(m, struct msg_capture_handover)) == 0)
			return 0;
		m->fault = "takeover failed";
		return -1;
	default:
		/* Test only: the supervisor sends it with --test-probes. */
		sandbox_probe(c->parent_fd, ROLE_CAPTURE, MSG_BODY(m,
		    struct msg_probe));
		return 0;
	}
}

/*
 * -1: stop (the parent broke the protocol, or we are done), 0: go on.  An
 * adoptable capture outlives its parent: it goes on writing, an orphan.
 */
static int
parent_input(struct capture *c, int *status)
{
	static struct msg m;
	int rc = msg_recv(c->parent_fd, ROLE_CAPTURE, ROLE_SUPERVISOR, &m);

	if (rc == -1 && errno == EAGAIN)
		return 0;
	if (rc == 1 && (rc = parent_dispatch(c, &m)) >= 0) {
		*status = 0;
		return rc == 0 ? 0 : -1;
	}
	if (rc == -1 && m.fault != NULL)
		errno = EPROTO;
	/* A dead peer with our unread messages: a reset, not EOF. */
	if (rc == -1 && errno == ECONNRESET)
		rc = 0;
	if (rc == 0 && c->w != NULL && adopt_orphaned(&c->adopt)) {
		close(c->parent_fd);
		c->parent_fd = -1;
		return 0;
	}
	if (rc == 0)
		log_debug("parent channel closed");
	else if (errno == EPROTO)
		log_warnx("parent channel: %s %s", m.fault,
		    msg_name(m.hdr.type));
	else
		log_warn("parent channel");
	*status = rc == 0 ? 0 : errno == EPROTO ? MSG_EXIT_FAULT : 1;
	return -1;
}

/*
 * Under the supervisor: the source is open, the ring comes next.  Probes
 * are answered meanwhile; EOF or a signal ends the wait (and us, 0).
 * 0 once the descriptor is here, else -1 with the exit status.
 */
static int
ring_wait_parent(struct capture *c, const sigset_t *mask, int *status)
{
	struct pollfd pfd;

	*status = 0;
	while (c->ring_fd < 0) {
		pfd = (struct pollfd){ .fd = c->parent_fd, .events = POLLIN };
		if (ppoll(&pfd, 1, NULL, mask) == -1 && errno != EINTR)
			fatal("ppoll");
		if (term_requested)
			return -1;
		if (pfd.revents && parent_input(c, status) == -1)
			return -1;
	}
	return 0;
}

static void
drain_events(struct capture *c)
{
	uint64_t v;

	(void)!read(c->event_fd, &v, sizeof(v));
}

/* Once a second: the source's health and the state report. */
static int
tick(struct capture *c)
{
	if (c->src->check != NULL && !c->waiting && c->src->check(c) == -1)
		return -1;
	if (c->announced && c->parent_fd >= 0)
		send_state(c);
	return 0;
}

static int
loop(struct capture *c, const sigset_t *mask)
{
	struct pollfd pfd[3];
	struct timespec ts;
	uint64_t next = clock_mono_ms() + STATE_MS, now;
	int status = 0;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = c->event_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = c->parent_fd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = adopt_watch_fd(&c->adopt),
		    .events = POLLIN };
		now = clock_mono_ms();
		ts.tv_sec = next > now ? (next - now) / 1000 : 0;
		ts.tv_nsec = next > now ? (long)((next - now) % 1000) * 1000000 : 0;
		if (ppoll(pfd, 3, &ts, mask) == -1 && errno != EINTR)
			fatal("ppoll");
		if (term_requested)
			return 0;
		if (pfd[0].revents & POLLIN) {
			drain_events(c);
			if (c->src->event != NULL)
				c->src->event(c);
		}
		if (!c->announced && atomic_load(&c->ready)) {
			announce_ready(c);
			c->announced = 1;
		}
		if (atomic_load(&c->failed))
			return 1;
		if (pfd[1].revents && parent_input(c, &status) == -1)
			return status;
		if (pfd[2].revents)
			adopted(c);
		if (adopt_expired(&c->adopt)) {
			log_warnx("no supervisor came back: stopping");
			return 0;
		}
		if (clock_mono_ms() >= next) {
			if (tick(c) == -1)
				return 1;
			next += STATE_MS;
		}
	}
}

static int
setup_fds(struct capture *c)
{
	int fl;

	c->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->event_fd == -1) {
		log_warn("eventfd");
		return -1;
	}
	/* The audio side must never wait for the parent. */
	if (c->parent_fd >= 0 && ((fl = fcntl(c->parent_fd, F_GETFL)) == -1 ||
	    fcntl(c->parent_fd, F_SETFL, fl | O_NONBLOCK) == -1)) {
		log_warn("parent channel");
		return -1;
	}
	return 0;
}

static void
source_close(struct capture *c)
{
	if (c->priv != NULL)
		c->src->close(c);
	c->priv = NULL;
}

/*
 * "auto": the input device with the most channels, else the tone.  Then
 * the source opens; its canonical name is the argument unless it says
 * otherwise (a PortAudio device by its full name).
 */
static int
source_open(struct capture *c)
{
	char name[MSG_SOURCE_MAX - 16];

	if (c->src == NULL) {
		if (capture_pa_auto(c->verbose, name, sizeof(name)) != NULL) {
			snprintf(c->auto_arg, sizeof(c->auto_arg),
			    "portaudio:%s", name);
			c->source_arg = c->auto_arg;
		} else
			c->source_arg = "tone";
		log_info("source auto: %s", c->source_arg);
		c->src = source_find(c);
	}
	snprintf(c->source, sizeof(c->source), "%s", c->source_arg);
	return c->src->open(c);
}

/* The source is open: under the supervisor, say so and wait for the ring. */
static int
source_opened(struct capture *c, const sigset_t *mask, int *status)
{
	if (c->ring_name != NULL || c->ring_fd >= 0)
		return 0;
	if (c->source[0] == '\0')	/* an exclusive device, opened later */
		snprintf(c->source, sizeof(c->source), "%s", c->source_arg);
	report_opened(c, 1);
	return ring_wait_parent(c, mask, status);
}

/*
 * With --handover we are an upgrade's new capture: the source opened (an
 * exclusive device only at takeover), the ring mapped, nothing written;
 * ready says so, and MSG_CAPTURE_TAKEOVER starts us where the old one
 * stopped.
 */
static int
run(struct capture *c, const sigset_t *mask)
{
	struct msg_ready ready = { RINGCAST_VERSION };
	int status = 1;

	/* Before privileges go: the rendezvous is our supervisor's user's. */
	if (adopt_listen(&c->adopt, c->adopt_ring, ROLE_CAPTURE) == -1)
		return 1;
	sandbox_prepare(SANDBOX_CAPTURE, 0);
	if (setup_fds(c) == -1)
		return 1;
	c->waiting = c->handover;
	/* A device that opens but does not start has not opened either. */
	if ((!c->waiting || !c->src->exclusive) && (source_open(c) == -1 ||
	    (c->src->early && c->src->start(c) == -1))) {
		if (c->parent_fd >= 0)
			report_opened(c, 0);
		source_close(c);
		return 1;
	}
	if (source_opened(c, mask, &status) == -1 || ring_setup(c) == -1) {
		if (c->src->early)
			c->src->stop(c);
		source_close(c);
		return status;
	}
	log_info("%s: %u Hz, %u channels, period %u frames, ring %s "
	    "(%u slots, epoch %u)%s", c->desc, c->rate, c->channels,
	    c->period, c->ring_name == NULL ? "from the supervisor" :
	    c->ring_name, c->cfg.slot_count,
	    atomic_load(&ring_writer_header(c->w)->epoch),
	    c->waiting ? ", waiting to take over" : "");
	if (c->waiting) {
		c->announced = 1;
		if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_READY, &ready,
		    sizeof(ready), NULL, 0, -1) == -1)
			log_warn("MSG_READY");
		status = loop(c, mask);
	} else {
		/* The writer and its sequence are set: publish from now on. */
		atomic_store_explicit(&c->attached, 1, memory_order_release);
		status = begin(c) == -1 ? 1 : loop(c, mask);
	}
	c->src->stop(c);
	log_info("stopping after %" PRIu64 " periods%s", c->seq,
	    term_requested ? " (signal)" : "");
	ring_writer_close(c->w);
	source_close(c);
	return status;
}

/*
 * --list-devices: a table for people, or, under the supervisor, one
 * MSG_CAPTURE_DEVICES (unprivileged, like the capture itself).
 */
static int
list_devices(struct capture *c)
{
	static struct msg_capture_devices m;
	int rc;

	sandbox_prepare(SANDBOX_CAPTURE, 0);
	rc = capture_pa_devices(c->verbose, &m);
	if (c->parent_fd < 0) {
		if (rc == 0)
			capture_pa_print(&m);
		return rc == 0 ? 0 : 1;
	}
	if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_DEVICES, &m,
	    sizeof(m), NULL, 0, -1) == -1) {
		log_warn("MSG_CAPTURE_DEVICES");
		return 1;
	}
	return rc == 0 ? 0 : 1;
}

int
main(int argc, char *argv[])
{
	static struct capture c;
	sigset_t mask;

	parse_args(argc, argv, &c);
	log_init("capture", c.verbose);
	if (c.list_devices)
		return list_devices(&c);
	signals_setup(&mask);
	return run(&c, &mask);
}
