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

static int
get_ms(const json_t *o, const char *key, uint32_t def, uint32_t *out,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL || json_is_null(v)) {
		*out = def;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) <= 0 ||
	    json_integer_value(v) > TUNABLE_MAX_MS) {
		snprintf(err, errlen, "%s must be 1..%d", key, TUNABLE_MAX_MS);
		return -1;
	}
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int
parse_mix(struct session *s, const json_t *o, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, "mix");

	if (v == NULL || json_is_null(v)) {
		mix_init(&s->mix, s->nch);
		return 0;
	}
	return mix_from_json(&s->mix, s->nch, v, err, errlen);
}

static int
parse_start(struct session *s, const json_t *o, char *err, size_t errlen)
{
	const json_t *hello = json_object_get(o, "hello");
	const char *pid;

	if (!json_is_object(hello) ||
	    proto_hello_parse(hello, &s->hello) != PROTO_OK) {
		snprintf(err, errlen, "missing or invalid hello");
		return -1;
	}
	if (parse_mix(s, o, err, errlen) == -1 ||
	    get_ms(o, "stall_ms", SESS_STALL_MS, &s->stall_ms, err,
	    errlen) == -1 ||
	    get_ms(o, "user_timeout_ms", SESS_USER_TIMEOUT_MS,
	    &s->user_timeout_ms, err, errlen) == -1)
		return -1;
	pid = json_string_value(json_object_get(o, "persistent_id"));
	if (pid == NULL)
		pid = proto_hello_identity(&s->hello);
	snprintf(s->persistent_id, sizeof(s->persistent_id), "%s", pid);
	s->state_restored = json_is_true(json_object_get(o, "state_restored"));
	s->is_reconnection = json_is_true(json_object_get(o,
	    "is_reconnection"));
	s->clients_connected = json_integer_value(json_object_get(o,
	    "clients_connected"));
	s->wav = json_is_string(json_object_get(o, "kind")) &&
	    strcmp(json_string_value(json_object_get(o, "kind")), "wav") == 0;
	return 0;
}

/*
 * Wait for MSG_SESSION_START, the parent's first message.  Returns 0, or -1
 * with err set (the session then ends with reason "parent" or "error").
 */
int
sess_parent_start(struct session *s, char *err, size_t errlen)
{
	struct pollfd pfd = { .fd = s->parent_fd, .events = POLLIN };
	json_error_t jerr;
	json_t *o;
	int rc;

	if (poll(&pfd, 1, START_TIMEOUT_MS) != 1) {
		snprintf(err, errlen, "no MSG_SESSION_START within %d ms",
		    START_TIMEOUT_MS);
		return -1;
	}
	if ((rc = msg_recv(s->parent_fd, &pm)) != 1) {
		snprintf(err, errlen, "parent channel: %s", rc == 0 ?
		    "closed" : strerror(errno));
		s->reason = "parent";
		return -1;
	}
	if (pm.hdr.type != MSG_SESSION_START) {
		snprintf(err, errlen, "first message is %s",
		    msg_name(pm.hdr.type));
		return -1;
	}
	if ((o = json_loads(pm.data, 0, &jerr)) == NULL) {
		snprintf(err, errlen, "MSG_SESSION_START: %s", jerr.text);
		return -1;
	}
	rc = parse_start(s, o, err, errlen);
	json_decref(o);
	return rc;
}

/* The parent committed a mix: apply it, then tell the client. */
static void
mix_set(struct session *s, const char *data)
{
	struct mix old = s->mix, m;
	const char *origin, *failed;
	char err[256];
	json_t *o;

	if ((o = json_loads(data, 0, NULL)) == NULL ||
	    mix_from_json(&m, s->nch, json_object_get(o, "mix"), err,
	    sizeof(err)) == -1) {
		log_warnx("malformed MSG_SESSION_MIX_SET");
		json_decref(o);
		sess_end(s, "error");
		return;
	}
	origin = json_string_value(json_object_get(o, "origin"));
	failed = json_string_value(json_object_get(o, "error"));
	s->mix = m;
	sess_audio_mix_changed(s);
	sess_send_mix_state(s);
	if (origin != NULL && strcmp(origin, "web") == 0)
		sess_send_updates(s, &old);
	/* The parent could not commit the client's change: say so. */
	if (failed != NULL)
		sess_send_error(s, failed);
	json_decref(o);
}

static void
dispatch(struct session *s)
{
	switch (pm.hdr.type) {
	case MSG_SESSION_MIX_SET:
		mix_set(s, pm.data);
		break;
	case MSG_SESSION_PROBE:
		/* Test only: the supervisor sends it with --test-probes. */
		sandbox_probe(pm.data);
		break;
	default:
		/* An unexpected type means the channel is out of step. */
		log_warnx("unexpected %s from parent", msg_name(pm.hdr.type));
		sess_end(s, "error");
		break;
	}
	if (pm.fd != -1)
		close(pm.fd);
}

void
sess_parent_input(struct session *s)
{
	int i, rc;

	for (i = 0; i < PARENT_BATCH && s->reason == NULL; i++) {
		rc = msg_recv(s->parent_fd, &pm);
		if (rc == 1) {
			dispatch(s);
			continue;
		}
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (rc == -1)
			log_warn("parent channel");
		sess_end(s, "parent");
	}
}

/* Non-blocking: -1 when the parent's channel is full (the caller says so). */
int
sess_parent_mix_req(struct session *s, json_t *fields)
{
	char *txt;
	int rc;

	if ((txt = json_dumps(fields, JSON_COMPACT)) == NULL)
		return -1;
	rc = msg_send_str(s->parent_fd, MSG_SESSION_MIX_REQ, txt);
	free(txt);
	return rc;
}

static int
counters(const struct session *s, char *buf, size_t len)
{
	return snprintf(buf, len, "\"sent\":%" PRIu64 ",\"dropped\":%" PRIu64
	    ",\"lost\":%" PRIu64 ",\"epochs\":%" PRIu64 ",\"unknown\":%" PRIu64
	    ",\"bytes\":%" PRIu64 ",\"queued_bytes\":%zu,\"ctl_dropped\":%"
	    PRIu64, s->sent, s->dropped, s->lost, s->epochs, s->unknown,
	    s->bytes, s->q.len, s->ctl_dropped);
}

/* Periodic: a full channel just skips one (the next carries the totals). */
void
sess_parent_stats(struct session *s)
{
	char buf[512], c[400];

	counters(s, c, sizeof(c));
	snprintf(buf, sizeof(buf), "{%s}", c);
	(void)msg_send_str(s->parent_fd, MSG_SESSION_STATS, buf);
}

/* Post-mix levels since the last report; skipped when the channel is full. */
void
sess_parent_meters(struct session *s)
{
	char buf[160];
	double n = s->pm_frames ? (double)s->pm_frames : 1;

	if (!s->hello.server_mix || s->pm_frames == 0)
		return;
	snprintf(buf, sizeof(buf), "{\"peak\":[%.4f,%.4f],\"rms\":[%.4f,%.4f]}",
	    s->pm_peak[0], s->pm_peak[1], sqrt(s->pm_sum[0] / n),
	    sqrt(s->pm_sum[1] / n));
	(void)msg_send_str(s->parent_fd, MSG_SESSION_METERS, buf);
	s->pm_peak[0] = s->pm_peak[1] = 0;
	s->pm_sum[0] = s->pm_sum[1] = 0;
	s->pm_frames = 0;
}

/* The last word: why we end, with the final counters. */
void
sess_parent_exit(struct session *s)
{
	struct pollfd pfd = { .fd = s->parent_fd, .events = POLLOUT };
	char buf[512], c[400];

	counters(s, c, sizeof(c));
	snprintf(buf, sizeof(buf), "{\"reason\":\"%s\",%s}", s->reason, c);
	if (poll(&pfd, 1, EXIT_SEND_MS) == 1 &&
	    msg_send_str(s->parent_fd, MSG_CHILD_EXIT, buf) == -1 &&
	    errno != EPIPE && errno != ECONNRESET)
		log_warn("MSG_CHILD_EXIT");
}
