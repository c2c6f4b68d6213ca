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

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/opt.h"
#include "shared/sandbox.h"
#include "shared/term.h"
#include "capture/capture.h"

#define STATE_MS	1000	/* MSG_CAPTURE_STATE interval */

static const struct capture_source *const sources[] = {
	&capture_tone, &capture_wav, &capture_pa, &capture_rtp, &capture_sdp,
	&capture_sap,
};

static __attribute__((noreturn)) void
usage(int status)
{
	fprintf(status ? stderr : stdout,
	    "usage: ringcast-capture [--ring NAME | --ring-fd N] "
	    "[--source tone|wav:PATH|portaudio:NAME|INDEX|\n"
	    "                        rtp://GROUP:PORT?...|sdp:FILE|sap:NAME] "
	    "[--rate HZ] [--channels N]\n"
	    "                        [--period FRAMES] [--slots N] "
	    "[--net-fd N] [--jitter-ms MS]\n"
	    "                        [--parent-fd N] [--notify-fd N] "
	    "[--drop UID:GID[,GID...]] [-v]\n"
	    "       ringcast-capture --list-devices\n");
	exit(status);
}

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
	errx(2, "--source %s: expected tone, wav:PATH, portaudio:NAME|INDEX, "
	    "rtp://GROUP:PORT, sdp:FILE or sap:NAME", c->source_arg);
}

static void
parse_opt(struct capture *c, int ch, int *list)
{
	switch (ch) {
	case 'r': c->ring_name = optarg; break;
	case 'f': c->ring_fd = opt_fd_or_exit("--ring-fd", optarg); break;
	case 's': c->source_arg = optarg; break;
	case 'R': c->rate = (uint32_t)opt_number_or_exit("--rate", optarg,
	    8000, 384000); break;
	case 'c': c->channels = (uint32_t)opt_number_or_exit("--channels",
	    optarg, 1, RING_MAX_CHANNELS); break;
	case 'p': c->period = (uint32_t)opt_number_or_exit("--period", optarg,
	    1, RING_MAX_PERIOD); break;
	case 'S': c->slots = (uint32_t)opt_number_or_exit("--slots", optarg, 0,
	    1u << 20);
		if (c->slots == 1)
			errx(2, "--slots: 0 (default) or at least 2");
		break;
	case 'P': c->parent_fd = opt_fd_or_exit("--parent-fd", optarg); break;
	case 'n': c->notify_fd = opt_fd_or_exit("--notify-fd", optarg); break;
	case 'N': c->net_fd = opt_fd_or_exit("--net-fd", optarg); break;
	case 'j': c->jitter_ms = (uint32_t)opt_number_or_exit("--jitter-ms",
	    optarg, 1, 100); break;
	case 'D': sandbox_drop_arg(optarg); break;
	case 'l': *list = 1; break;
	case 'v': c->verbose++; break;
	case 'h': usage(0);
	default: usage(2);
	}
}

static void
parse_args(int argc, char *argv[], struct capture *c, int *list)
{
	static const struct option longopts[] = {
		{ "ring",	  required_argument, NULL, 'r' },
		{ "ring-fd",	  required_argument, NULL, 'f' },
		{ "source",	  required_argument, NULL, 's' },
		{ "rate",	  required_argument, NULL, 'R' },
		{ "channels",	  required_argument, NULL, 'c' },
		{ "period",	  required_argument, NULL, 'p' },
		{ "slots",	  required_argument, NULL, 'S' },
		{ "parent-fd",	  required_argument, NULL, 'P' },
		{ "notify-fd",	  required_argument, NULL, 'n' },
		{ "net-fd",	  required_argument, NULL, 'N' },
		{ "jitter-ms",	  required_argument, NULL, 'j' },
		{ "drop",	  required_argument, NULL, 'D' },
		{ "list-devices", no_argument,	     NULL, 'l' },
		{ "help",	  no_argument,	     NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	c->ring_name = RING_NAME_DEFAULT;
	c->source_arg = "tone";
	c->rate = CAPTURE_RATE;
	c->period = CAPTURE_PERIOD;
	c->parent_fd = c->notify_fd = c->event_fd = c->ring_fd = c->net_fd = -1;
	c->jitter_ms = CAPTURE_JITTER_MS;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1)
		parse_opt(c, ch, list);
	if (optind != argc)
		usage(2);
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

static void
send_state(struct capture *c)
{
	const struct ring_header *h = ring_writer_header(c->w);
	struct msg_capture_state m;

	memset(&m, 0, sizeof(m));
	snprintf(m.state, sizeof(m.state), "running");
	snprintf(m.source, sizeof(m.source), "%.255s", c->desc);
	m.epoch = atomic_load(&h->epoch);
	m.xruns = atomic_load(&h->xruns);
	m.overruns = atomic_load(&h->overruns);
	if (c->src->report != NULL)
		c->src->report(c, &m);
	/* A full channel skips one report; the next has the totals. */
	if (msg_send(c->parent_fd, ROLE_CAPTURE, MSG_CAPTURE_STATE, &m,
	    sizeof(m), NULL, 0, -1) == -1 && errno != EAGAIN)
		log_warn("MSG_CAPTURE_STATE");
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

/* -1: stop (the parent went away or broke the protocol), 0: go on. */
static int
parent_input(struct capture *c, int *status)
{
	static struct msg m;
	int rc = msg_recv(c->parent_fd, ROLE_CAPTURE, ROLE_SUPERVISOR, &m);

	if (rc == -1 && errno == EAGAIN)
		return 0;
	if (rc == 1 && m.hdr.type == MSG_CAPTURE_SOCKET) {
		if (c->src->joined != NULL)
			c->src->joined(c, m.fd, MSG_BODY(&m,
			    struct msg_capture_join));
		else
			close(m.fd);
		return 0;
	}
	if (rc == 1) {
		/* Else MSG_PROBE is all the supervisor may send us. */
		sandbox_probe(c->parent_fd, ROLE_CAPTURE, MSG_BODY(&m,
		    struct msg_probe));
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

static void
drain_events(struct capture *c)
{
	uint64_t v;

	(void)!read(c->event_fd, &v, sizeof(v));
}

/* Once a second: the source's health and the state report. */
static int
tick(struct capture *c, int announced)
{
	if (c->src->check(c) == -1)
		return -1;
	if (announced && c->parent_fd >= 0)
		send_state(c);
	return 0;
}

static int
loop(struct capture *c, const sigset_t *mask)
{
	struct pollfd pfd[2];
	struct timespec ts;
	uint64_t next = clock_mono_ms() + STATE_MS, now;
	int announced = 0, status = 0;

	for (;;) {
		pfd[0] = (struct pollfd){ .fd = c->event_fd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = c->parent_fd, .events = POLLIN };
		now = clock_mono_ms();
		ts.tv_sec = next > now ? (next - now) / 1000 : 0;
		ts.tv_nsec = next > now ? (long)((next - now) % 1000) * 1000000 : 0;
		if (ppoll(pfd, 2, &ts, mask) == -1 && errno != EINTR)
			fatal("ppoll");
		if (term_requested)
			return 0;
		if (pfd[0].revents & POLLIN) {
			drain_events(c);
			if (c->src->event != NULL)
				c->src->event(c);
		}
		if (!announced && atomic_load(&c->ready)) {
			announce_ready(c);
			announced = 1;
		}
		if (atomic_load(&c->failed))
			return 1;
		if (pfd[1].revents && parent_input(c, &status) == -1)
			return status;
		if (clock_mono_ms() >= next) {
			if (tick(c, announced) == -1)
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

static int
run(struct capture *c, const sigset_t *mask)
{
	int status;

	sandbox_prepare(SANDBOX_CAPTURE, 0);
	if (setup_fds(c) == -1 || c->src->open(c) == -1)
		return 1;
	if (ring_setup(c) == -1) {
		c->src->close(c);
		return 1;
	}
	log_info("%s: %u Hz, %u channels, period %u frames, ring %s "
	    "(%u slots, epoch %u)", c->desc, c->rate, c->channels, c->period,
	    c->ring_fd >= 0 ? "from the supervisor" : c->ring_name,
	    c->cfg.slot_count, atomic_load(&ring_writer_header(c->w)->epoch));
	if (c->src->start(c) == -1)
		status = 1;
	else {
		confine(c);
		status = loop(c, mask);
	}
	c->src->stop(c);
	log_info("stopping after %" PRIu64 " periods%s", c->seq,
	    term_requested ? " (signal)" : "");
	ring_writer_close(c->w);
	c->src->close(c);
	return status;
}

int
main(int argc, char *argv[])
{
	static struct capture c;
	sigset_t mask;
	int list = 0;

	parse_args(argc, argv, &c, &list);
	log_init("capture", c.verbose);
	if (list)
		return capture_pa_list(c.verbose);
	signals_setup(&mask);
	return run(&c, &mask);
}
