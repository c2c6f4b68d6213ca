/* sessiond.c — ringcast-sessiond: streams the ring to one client; start, loop, exit. */
/*
 * Peers: the supervisor on the parent channel (fd 3, shared/msg.h), the
 * client on its socket (fd 4, Fichatech v2), the ring read-only (fd 5).
 * One thread: wait for a period, turn it into this client's packet, send
 * what the socket takes, service control, check the clocks.  Nothing here
 * waits on the client, so a slow client only loses its own periods.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/opt.h"
#include "shared/sandbox.h"
#include "shared/spawn.h"
#include "shared/term.h"
#include "sessiond/sessiond.h"

#define LINGER_MS	500	/* at most this long to flush a final error */

struct options {
	int		 parent_fd;
	int		 client_fd;
	int		 ring_fd;
	const char	*ring_name;
	int		 verbose;
	const char	*adopt;		/* the ring's name: adoptable */
};


/* The first reason wins: it is the one reported. */
void
sess_end(struct session *s, const char *reason)
{
	if (s->reason == NULL)
		s->reason = reason;
}

#define OFF(f)	offsetof(struct options, f)

static const struct opt_spec option_table[] = {
	OPT_DESCRIPTOR(struct options, "client-fd", client_fd),
	OPT_DESCRIPTOR(struct options, "ring-fd", ring_fd),
	{ "ring", OPT_TEXT, OFF(ring_name), 0, 0, NULL, "NAME" },
	SPAWN_CHILD_OPTIONS(struct options, parent_fd, adopt, verbose),
};

static void
parse_args(int argc, char *argv[], struct options *o)
{
	*o = (struct options){ -1, -1, -1, NULL, 0, NULL };
	opt_parse(argc, argv, option_table, sizeof(option_table) /
	    sizeof(option_table[0]), o, NULL);
	if (o->parent_fd < 0 || o->client_fd < 0 ||
	    (o->ring_fd < 0) == (o->ring_name == NULL))
		opt_usage(2);
}

/* Client, parent, and the rendezvous while orphaned (a -1 is skipped). */
static void
poll_peers(struct session *s)
{
	struct pollfd pfd[3] = {
		{ .fd = s->client_fd, .events = POLLIN },
		{ .fd = s->parent_fd, .events = POLLIN },
		{ .fd = adopt_watch_fd(&s->adopt), .events = POLLIN },
	};

	if (poll(pfd, 3, 0) <= 0)
		return;
	if (pfd[1].revents)
		sess_parent_input(s);
	if (pfd[2].revents)
		sess_parent_adopt(s);
	if (pfd[0].revents && s->reason == NULL)
		s->out->input(s);
}

static void
check_clocks(struct session *s)
{
	uint64_t now = clock_mono_ms();

	if (s->q.len > 0 && now - s->progress_ms >= s->stall_ms)
		sess_end(s, sess_net_stall_reason(s));
	if (adopt_expired(&s->adopt)) {
		log_warnx("no supervisor came back: ending");
		sess_end(s, "parent");
	}
	/*
	 * A writer that opened the ring by name and found another geometry
	 * unlinked it for a new one (capture run by hand): this mapping
	 * will stay silent.  Under the supervisor capture writes through the
	 * descriptor it was given and never does this.
	 */
	if (atomic_load_explicit(&ring_reader_header(s->ring)->writer_state,
	    memory_order_relaxed) == RING_WRITER_REPLACED) {
		log_warnx("ring replaced by one of another geometry");
		sess_end(s, "error");
	}
	if (now >= s->next_stats_ms) {
		sess_parent_stats(s);
		s->next_stats_ms = now + SESS_STATS_MS;
	}
	if (now >= s->next_meters_ms) {
		sess_parent_meters(s);
		s->next_meters_ms = now + SESS_METERS_MS;
	}
}

/*
 * The client and parent sockets are polled at most every SESS_POLL_MS, not on
 * every period: at 64-frame periods a poll per wake-up was a third of a
 * session's system calls.  Control still answers within a few milliseconds.
 */
#define SESS_POLL_MS	4

/* Periods still missing from the packet being built: sleep until then. */
static uint32_t
periods_needed(const struct session *s)
{
	return s->pkt_periods > s->acc ? s->pkt_periods - s->acc : 1;
}

static void
loop(struct session *s)
{
	uint64_t next_poll = 0, now;
	int rc;

	while (s->reason == NULL) {
		sess_audio_drain(s);
		if ((now = clock_mono_ms()) >= next_poll) {
			poll_peers(s);
			next_poll = now + SESS_POLL_MS;
		}
		sess_flush(s);
		check_clocks(s);
		if (s->reason != NULL)
			break;
		rc = ring_wait_for(s->ring, periods_needed(s), SESS_WAIT_MS);
		if (term_requested)
			sess_end(s, "terminated");
		else if (rc < 0 && errno != EINTR) {
			log_warn("ring wait");
			sess_end(s, "error");
		}
	}
}

/* Give a final error message a short, bounded chance to reach the client. */
static void
linger(struct session *s)
{
	struct pollfd pfd = { .fd = s->client_fd, .events = POLLOUT };
	uint64_t end = clock_mono_ms() + LINGER_MS;

	while (s->q.len > 0 && clock_mono_ms() < end) {
		if (poll(&pfd, 1, (int)(end - clock_mono_ms())) <= 0)
			continue;
		if (squeue_send(&s->q, s->client_fd) == -1)
			break;
	}
}

/* Set-up after START: every failure is the client's (a hello we refuse). */
static int
session_setup(struct session *s)
{
	struct msg_ready ready = { RINGCAST_VERSION };
	char err[256];
	int fl;

	sess_net_setup(s);
	if (sess_audio_init(s, err, sizeof(err)) == -1) {
		log_info("client %s refused: %s", s->hello.client_id, err);
		if (s->q.buf == NULL &&
		    squeue_init(&s->q, PROTO_HDR_LEN + PROTO_CONTROL_MAX) == -1)
			fatal("queue");
		sess_send_error(s, err);
		s->linger = true;
		sess_end(s, "protocol");
		return -1;
	}
	sess_audio_mix_changed(s);
	s->out->start(s);
	if (sess_parent_send(s, MSG_READY, &ready, sizeof(ready)) == -1)
		log_warn("MSG_READY");
	/* From now on nothing may block on the parent either. */
	if ((fl = fcntl(s->parent_fd, F_GETFL)) == -1 ||
	    fcntl(s->parent_fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("parent channel: O_NONBLOCK");
	s->next_stats_ms = clock_mono_ms() + SESS_STATS_MS;
	return 0;
}

int
main(int argc, char *argv[])
{
	static struct session s;
	struct options o;
	char err[256];
	int rc;

	parse_args(argc, argv, &o);
	log_init("sessiond", o.verbose);
	term_setup();
	s.parent_fd = o.parent_fd;
	s.client_fd = o.client_fd;
	/* Read-only: a session can never write audio for others. */
	if ((rc = ring_reader_child(o.ring_fd, o.ring_name, &s.ring, &s.rate,
	    &s.nch, &s.period)) != RING_OK)
		fatalx("ring: %s", ring_strerror(rc));
	(void)adopt_listen(&s.adopt, o.adopt, ROLE_SESSION);
	sandbox_prepare(SANDBOX_SESSIOND, 0);
	if (sess_parent_start(&s, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		sess_end(&s, term_requested ? "terminated" : "error");
	} else if (session_setup(&s) == 0) {
		log_debug("client %s (%s) streaming", s.hello.client_id,
		    s.persistent_id);
		sandbox_enter(SANDBOX_SESSIOND);
		loop(&s);
	}
	if (s.linger)
		linger(&s);
	log_info("client %s: session ends (%s): sent %llu, dropped %llu, "
	    "lost %llu", s.hello.client_id, s.reason,
	    (unsigned long long)s.sent, (unsigned long long)s.dropped,
	    (unsigned long long)s.lost);
	sess_parent_exit(&s);
	close(s.client_fd);
	ring_reader_close(s.ring);
	squeue_free(&s.q);
	return s.fault ? MSG_EXIT_FAULT : 0;
}
