/* sessiond_parent.c — the supervisor channel: start, committed mixes, stats, exit. */
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/msg.h"
#include "shared/sandbox.h"
#include "sessiond/sessiond.h"

#define START_TIMEOUT_MS	10000
#define EXIT_SEND_MS		1000
#define PARENT_BATCH		16
#define TUNABLE_MAX_MS		600000

/* Large (64 KiB): one static buffer instead of the stack. */
static struct msg pm;

static void	counters(const struct session *, struct msg_session_stats *);

int
sess_parent_send(struct session *s, uint32_t type, const void *body,
    size_t len)
{
	if (s->parent_fd < 0) {
		errno = EPIPE;
		return -1;
	}
	return msg_send(s->parent_fd, ROLE_SESSION, type, body, len, NULL, 0,
	    -1);
}

int
sess_parent_mix_request(struct session *s, const struct mix_patch *p)
{
	if (s->parent_fd >= 0)
		return sess_parent_send(s, MSG_SESSION_MIX_REQ, p, sizeof(*p));
	if (s->nheld == SESS_HELD_MAX)
		return -1;
	s->held[s->nheld++] = *p;
	return 0;
}

static void
take_start(struct session *s, const struct msg_session_start *m)
{
	s->start = *m;
	s->hello = m->hello;
	s->mix = m->mix;
	s->mix.nch = s->nch;
	s->stall_ms = m->stall_ms;
	s->user_timeout_ms = m->user_timeout_ms;
	snprintf(s->persistent_id, sizeof(s->persistent_id), "%s",
	    m->persistent_id);
	s->state_restored = m->state_restored;
	s->is_reconnection = m->is_reconnection;
	s->clients_connected = m->clients_connected;
	s->out = m->kind == CLIENT_WAV ? &sess_output_http : &sess_output_v2;
}

/* A channel fault (shared/msg.h): we end, and say "protocol" as we go. */
static void
parent_fault(struct session *s)
{
	log_warnx("parent channel: %s %s", pm.fault, msg_name(pm.hdr.type));
	sess_end(s, "protocol");
	s->fault = true;
}

/*
 * Wait for MSG_SESSION_START, the parent's first message.  Returns 0, or -1
 * with err set (the session then ends with reason "parent" or "error").
 */
int
sess_parent_start(struct session *s, char *err, size_t errlen)
{
	struct pollfd pfd = { .fd = s->parent_fd, .events = POLLIN };
	int rc;

again:
	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1) {
		snprintf(err, errlen, "no MSG_SESSION_START within %d ms",
		    START_TIMEOUT_MS);
		return -1;
	}
	if ((rc = msg_recv(s->parent_fd, ROLE_SESSION, ROLE_SUPERVISOR,
	    &pm)) == 1 && pm.hdr.type == MSG_ADOPT_KEY) {
		adopt_keyed(&s->adopt, MSG_BODY(&pm, struct msg_adopt_key));
		goto again;
	}
	if (rc != 1) {
		snprintf(err, errlen, "parent channel: %s", rc == 0 ?
		    "closed" : errno == EPROTO ? pm.fault : strerror(errno));
		if (rc == -1 && errno == EPROTO)
			parent_fault(s);
		else
			sess_end(s, "parent");
		return -1;
	}
	if (pm.hdr.type != MSG_SESSION_START) {
		snprintf(err, errlen, "first message is %s",
		    msg_name(pm.hdr.type));
		pm.fault = "not first";
		parent_fault(s);
		return -1;
	}
	take_start(s, MSG_BODY(&pm, struct msg_session_start));
	return 0;
}

/* The parent committed a mix: apply it, then tell the client. */
static void
mix_set(struct session *s, const struct msg_session_mix *m)
{
	struct mix old = s->mix;

	s->mix = m->mix;
	s->mix.nch = s->nch;
	sess_audio_mix_changed(s);
	sess_send_mix_state(s);
	if (m->origin == ORIGIN_WEB)
		sess_send_updates(s, &old);
	/* The parent could not commit the client's change: say so. */
	if (m->error[0] != '\0')
		sess_send_error(s, m->error);
}

static void
dispatch(struct session *s)
{
	switch (pm.hdr.type) {
	case MSG_SESSION_MIX_SET:
		mix_set(s, MSG_BODY(&pm, struct msg_session_mix));
		break;
	case MSG_PROBE:
		/* Test only: the supervisor sends it with --test-probes. */
		sandbox_probe(s->parent_fd, ROLE_SESSION, MSG_BODY(&pm,
		    struct msg_probe));
		break;
	case MSG_ADOPT_KEY:
		adopt_keyed(&s->adopt, MSG_BODY(&pm, struct msg_adopt_key));
		break;
	default:
		/* A second MSG_SESSION_START: the channel is out of step. */
		pm.fault = "repeated";
		parent_fault(s);
		break;
	}
}

void
sess_parent_input(struct session *s)
{
	int i, rc;

	for (i = 0; i < PARENT_BATCH && s->reason == NULL; i++) {
		rc = msg_recv(s->parent_fd, ROLE_SESSION, ROLE_SUPERVISOR, &pm);
		if (rc == 1) {
			dispatch(s);
			continue;
		}
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc == -1 && errno == EPROTO) {
			parent_fault(s);
			return;
		}
		/* A dead peer with our unread messages: a reset, not EOF. */
		if (rc == -1 && errno != ECONNRESET)
			log_warn("parent channel");
		if (!adopt_orphaned(&s->adopt)) {
			sess_end(s, "parent");
			return;
		}
		/* The listener keeps its last committed mix meanwhile. */
		close(s->parent_fd);
		s->parent_fd = -1;
		return;
	}
}

/*
 * A new supervisor: it learns who we serve, with what mix, and our counts;
 * the mix changes the listener asked for meanwhile follow, in order.
 */
void
sess_parent_adopt(struct session *s)
{
	static struct msg_adopt_session m;
	uint32_t i;
	int fd;

	if ((fd = adopt_accept(&s->adopt, &m, sizeof(m))) == -1)
		return;
	m.start = s->start;
	m.start.mix = s->mix;
	counters(s, &m.stats);
	if (adopt_answer(&s->adopt, fd, ROLE_SESSION, MSG_ADOPT_SESSION, &m,
	    sizeof(m)) == -1)
		return;
	s->parent_fd = fd;
	for (i = 0; i < s->nheld; i++)
		(void)sess_parent_send(s, MSG_SESSION_MIX_REQ, &s->held[i],
		    sizeof(s->held[i]));
	s->nheld = 0;
}

static void
counters(const struct session *s, struct msg_session_stats *st)
{
	*st = (struct msg_session_stats){ s->sent, s->dropped, s->lost,
	    s->epochs, s->unknown, s->bytes, s->q.len, s->ctl_dropped };
}

/* Periodic: a full channel just skips one (the next carries the totals). */
void
sess_parent_stats(struct session *s)
{
	struct msg_session_stats st;

	counters(s, &st);
	(void)sess_parent_send(s, MSG_SESSION_STATS, &st, sizeof(st));
}

/* Post-mix levels since the last report; skipped when the channel is full. */
void
sess_parent_meters(struct session *s)
{
	struct msg_session_meters m;
	double n = s->pm_frames ? (double)s->pm_frames : 1;

	if (!s->hello.server_mix || s->pm_frames == 0)
		return;
	m = (struct msg_session_meters){
		{ s->pm_peak[0], s->pm_peak[1] },
		{ (float)sqrt(s->pm_sum[0] / n), (float)sqrt(s->pm_sum[1] / n) },
	};
	(void)sess_parent_send(s, MSG_SESSION_METERS, &m, sizeof(m));
	s->pm_peak[0] = s->pm_peak[1] = 0;
	s->pm_sum[0] = s->pm_sum[1] = 0;
	s->pm_frames = 0;
}

/* The last word: why we end, with the final counters. */
void
sess_parent_exit(struct session *s)
{
	struct pollfd pfd = { .fd = s->parent_fd, .events = POLLOUT };
	struct msg_session_exit m;

	if (s->parent_fd < 0)
		return;		/* orphaned: nobody to tell */
	memset(&m, 0, sizeof(m));
	counters(s, &m.stats);
	snprintf(m.reason, sizeof(m.reason), "%s", s->reason);
	if (poll(&pfd, 1, EXIT_SEND_MS) == 1 && sess_parent_send(s,
	    MSG_SESSION_EXIT, &m, sizeof(m)) == -1 && errno != EPIPE &&
	    errno != ECONNRESET)
		log_warn("MSG_SESSION_EXIT");
}
