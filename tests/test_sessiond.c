/* test_sessiond.c — ringcast-sessiond end to end: real ring, real sockets, the test as client and parent. */
#define _GNU_SOURCE	/* unshare */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <net/if.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "shared/clock.h"
#include "shared/mix.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "shared/ring.h"
#include "tests/lib/feeder.h"
#include "tests/lib/sess.h"
#include "tests/lib/steady.h"
#include "tests/lib/tu.h"

#define NSESS	4
#define WAIT_MS	5000	/* generous: a noisy shared VM */
#define SILENCE_MS	500	/* a healthy client's longest wait for audio */

static struct feeder R;
static pid_t CAP;		/* a real ringcast-capture, when one runs */
static struct tsess S[NSESS];
static struct steady RD;	/* the healthy client's continuity */
static bool reader_on;

static void
setup(void)
{
	int i;

	for (i = 0; i < NSESS; i++)
		tsess_init(&S[i]);
}

/* Runs even when an assertion failed: nothing the test started survives it. */
static void
teardown(void)
{
	int i;

	if (reader_on)
		steady_stop(&RD);
	reader_on = false;
	for (i = 0; i < NSESS; i++)
		tsess_close(&S[i]);
	if (CAP > 0)
		tu_stop(CAP, 2000);
	CAP = 0;
	feeder_destroy(&R);
}

TestSuite(sessiond, .init = setup, .fini = teardown);

/* ---- helpers ---- */

static void
ring_up(const char *tag, uint32_t channels, feeder_fn fn)
{
	cr_assert_eq(feeder_start(&R, tag, channels, 64, fn, NULL), 0,
	    "ring writer");
}

static json_t *
ctl(struct v2c *c, const char *type)
{
	json_t *o = v2_recv_ctl(c, type, WAIT_MS, NULL);

	cr_assert_not_null(o, "no %s from the session", type);
	return o;
}

/* Send a control message as the app does: each one says rf_mode (steals o). */
static void
send_ctl(struct v2c *c, json_t *o)
{
	cr_assert_not_null(o);
	json_object_set_new(o, "rf_mode", json_true());
	cr_assert_eq(v2_send_ctl(c->fd, o), 0);
}

static const struct msg *
parent_msg(struct tsess *s, uint32_t type, int timeout_ms)
{
	const struct msg *m = tsess_parent_wait(s, type, timeout_ms);

	cr_assert_not_null(m, "no %s from the session", msg_name(type));
	return m;
}

/* The client asked for a change: commit it as the supervisor does. */
static const struct mix_patch *
commit(struct tsess *s, struct mix *m)
{
	static struct mix_patch p;

	p = *MSG_BODY(parent_msg(s, MSG_SESSION_MIX_REQ, WAIT_MS),
	    struct mix_patch);
	cr_assert_eq(tsess_commit(s, m, &p, ORIGIN_CLIENT), 0, "commit");
	return &p;
}

/* The channels a change subscribes, as a bit set (0 when it keeps them). */
static uint32_t
patch_chanset(const struct mix_patch *p)
{
	uint32_t c, set = 0;

	for (c = 0; c < 32; c++)
		set |= (uint32_t)p->sub[c] << c;
	return set;
}

static json_t *
mix_of(const char *json)
{
	json_t *o = json_loads(json, 0, NULL);

	cr_assert_not_null(o);
	return o;
}

static json_t *
hello_with(const char *key, json_t *v)
{
	json_t *h = tsess_hello();

	json_object_set_new(h, key, v);
	return h;
}

static void
open_session(int i, json_t *hello, const char *mix)
{
	cr_assert_eq(tsess_open(&S[i], R.name, hello, mix ? mix_of(mix) : NULL,
	    0, false, 0), 0, "session %d did not become ready", i);
}

/* The session's last word into EX; ends it first with SIGTERM if asked. */
static struct msg_session_exit EX;

static void
exit_report(struct tsess *s, bool terminate, int timeout_ms)
{
	if (terminate)
		kill(s->pid, SIGTERM);
	EX = *MSG_BODY(parent_msg(s, MSG_SESSION_EXIT, timeout_ms),
	    struct msg_session_exit);
	cr_assert_neq(tu_wait_exit(s->pid, WAIT_MS), -1, "session lingers");
	s->pid = 0;
}

static json_int_t
jint(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);

	cr_assert(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

/* Channels listed in a mix_state, as a bit set. */
static uint64_t
chanset(const json_t *ms)
{
	const json_t *e;
	uint64_t bits = 0;
	size_t i;

	json_array_foreach(json_object_get(ms, "channels"), i, e)
		bits |= 1ull << json_integer_value(e);
	return bits;
}

static double
jnum_in(const json_t *o, const char *map, const char *key)
{
	const json_t *v = json_object_get(json_object_get(o, map), key);

	cr_assert(json_is_number(v), "%s[%s] missing", map, key);
	return json_number_value(v);
}

/* Check every sample of a raw packet against the ring's signal. */
static void
check_content(const struct proto_audio *a, const uint32_t *list, uint32_t n)
{
	uint64_t base = a->position - a->frames;
	uint32_t i, k;
	float want, got;

	cr_assert_eq(a->nch, n);
	for (i = 0; i < a->frames; i++) {
		for (k = 0; k < n; k++) {
			want = feeder_tone(list[k], base + i, NULL);
			got = proto_audio_sample(a, (size_t)i * n + k);
			if (a->float32)
				cr_assert_float_eq(got, want, 1e-7, "frame %" PRIu64
				    " ch %u: %f != %f", base + i, list[k], got, want);
			else
				cr_assert_float_eq(got * 32768.0f,
				    want * 32767.0f, 1.0, "frame %" PRIu64 " ch %u",
				    base + i, list[k]);
		}
	}
}

/* Read n packets: positions follow on exactly; content matches the signal. */
static void
check_stream(struct v2c *c, const uint32_t *list, uint32_t nch, bool float32,
    uint32_t frames, int n)
{
	struct proto_audio a;
	uint64_t prev = 0;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(v2_recv_audio(c, &a, WAIT_MS), V2_MSG, "packet %d",
		    i);
		cr_assert_eq(a.float32, float32);
		cr_assert_eq(a.frames, frames);
		if (prev != 0)
			cr_assert_eq(a.position, prev + frames,
			    "gap at packet %d: %" PRIu64 " after %" PRIu64, i,
			    a.position, prev);
		prev = a.position;
		check_content(&a, list, nch);
	}
}

/* ---- 1. the deployed app's exchange ---- */

static void
check_handshake_response(const json_t *r)
{
	cr_assert_str_eq(v2_str(r, "server_version"), RINGCAST_VERSION);
	cr_assert_eq(jint(r, "protocol_version"), 2);
	cr_assert_eq(jint(r, "sample_rate"), 48000);
	cr_assert_eq(jint(r, "max_channels"), 8);
	cr_assert_str_eq(v2_str(r, "status"), "ready_rf");
	cr_assert(json_is_true(json_object_get(r, "rf_mode")));
	cr_assert(json_is_true(json_object_get(r, "persistent")));
	cr_assert(json_is_true(json_object_get(r, "auto_reconnect_supported")));
	cr_assert_eq(jint(r, "server_blocksize"), 64);
	cr_assert_float_eq(json_number_value(json_object_get(r, "latency_ms")),
	    64.0 * 1000 / 48000, 1e-6);
	cr_assert(json_is_boolean(json_object_get(r, "web_controlled")));
	cr_assert(json_is_false(json_object_get(r, "state_restored")));
	cr_assert_str_eq(v2_str(r, "persistent_id"),
	    "a1b2c3d4-e5f6-4711-8899-aabbccddeeff");
	cr_assert(json_is_false(json_object_get(r, "is_reconnection")));
	cr_assert(json_is_integer(json_object_get(r, "timestamp")));
}

/*
 * Act as the broker: read the app's handshake off the session's end of the
 * socket, nothing more, and pass the hello on; the socket stays open.
 */
static json_t *
broker_read_hello(int fd)
{
	struct proto_hello h;
	enum proto_ctl t;
	struct v2c b;
	json_t *o, *hello;

	cr_assert_eq(v2_init(&b, fd, V2_BUF), 0);
	cr_assert_eq(v2_recv(&b, WAIT_MS), V2_MSG, "no handshake");
	cr_assert_eq(b.off, b.len, "read beyond the handshake");
	cr_assert_eq(proto_control_parse(b.payload, b.hdr.length, &o, &t),
	    PROTO_OK);
	cr_assert_eq(t, PROTO_CTL_HANDSHAKE);
	cr_assert_eq(proto_hello_parse(o, &h), PROTO_OK);
	json_decref(o);
	hello = proto_hello_json(&h);
	cr_assert_not_null(hello);
	b.fd = -1;	/* the buffer was ours, the socket is the session's */
	v2_close(&b);
	return hello;
}

Test(sessiond, app_exchange, .timeout = 60)
{
	struct v2c *c = &S[0].c;
	struct proto_audio a;
	struct mix m;
	json_t *o;
	uint64_t prev = 0;
	int cfd, i;

	ring_up("app", 8, NULL);
	mix_init(&m, 8);
	cr_assert_geq(cfd = tsess_pair(&S[0], false, 0), 0);
	/*
	 * What the app writes as soon as it connects: its handshake, which
	 * the broker reads, and its channels, which wait in the socket for
	 * the session (sent after the broker's read, which took only the
	 * handshake: the session cannot tell).
	 */
	send_ctl(c, tsess_hello());
	o = broker_read_hello(cfd);
	send_ctl(c, json_pack("{s:s, s:[i,i]}",
	    "type", "update_mix", "channels", 1, 2));
	cr_assert_eq(tsess_spawn(&S[0], R.name, true, cfd, false), 0);
	cr_assert_eq(tsess_start(&S[0], o, NULL, 0), 0);

	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "handshake_response");
	cr_assert_eq(c->hdr.flags, PROTO_FLAG_RF);
	check_handshake_response(o);
	json_decref(o);
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "mix_state");
	cr_assert_eq(chanset(o), 0);
	json_decref(o);
	(void)parent_msg(&S[0], MSG_READY, WAIT_MS);

	cr_assert_eq(patch_chanset(commit(&S[0], &m)), 0x6, "MIX_REQ carries "
	    "the client's channels");
	/* Nothing was subscribed: the next message is the committed state. */
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "mix_state");
	cr_assert_eq(chanset(o), 0x6);
	json_decref(o);

	for (i = 0; i < 300; i++) {
		cr_assert_eq(v2_recv(c, WAIT_MS), V2_MSG);
		cr_assert_eq(c->hdr.type, PROTO_TYPE_AUDIO, "packet %d", i);
		cr_assert_eq(c->hdr.flags, 0x82);
		cr_assert_eq(c->hdr.version, 2);
		cr_assert_eq(c->hdr.length, 12 + 64 * 2 * 2);
		cr_assert_eq(proto_audio_decode(&c->hdr, c->payload, 1, &a),
		    PROTO_OK);
		cr_assert_eq(a.mask[0], 0x6);
		cr_assert_eq(a.frames, 64);
		cr_assert_eq(a.position % 64, 0);
		if (prev != 0)
			cr_assert_eq(a.position, prev + 64, "gap at %d", i);
		prev = a.position;
	}
}

/* ---- 2. subscriptions and mix_state contents ---- */

static void
expect_no_mix_req(struct tsess *s)
{
	struct pollfd pfd = { .fd = s->parent, .events = POLLIN };

	/* Anything queued before the client's reply is in the channel now. */
	while (poll(&pfd, 1, 0) == 1) {
		cr_assert_eq(msg_recv(s->parent, ROLE_SUPERVISOR, ROLE_SESSION,
		    &s->in), 1);
		cr_assert_neq(s->in.hdr.type, MSG_SESSION_MIX_REQ,
		    "an invalid update reached the parent");
	}
}

static void
heartbeat(struct v2c *c)
{
	json_t *o;

	send_ctl(c, json_pack("{s:s}", "type", "heartbeat"));
	o = ctl(c, "heartbeat_response");
	cr_assert_eq(jint(o, "clients_connected"), 2);
	cr_assert(json_is_integer(json_object_get(o, "timestamp")));
	json_decref(o);
}

static void
subscribe_and_check(struct mix *m)
{
	struct v2c *c = &S[0].c;
	const struct mix_patch *p;
	struct proto_audio a;
	json_t *o;

	send_ctl(c, json_pack("{s:s, s:s, s:[i,i], s:b, s:b}",
	    "type", "subscribe", "client_id", "c1", "channels", 0, 3,
	    "rf_mode", 1, "persistent", 1));
	p = commit(&S[0], m);
	cr_assert_eq(p->set, MIX_SET_CHANNELS, "MIX_REQ: only the mix fields");
	cr_assert_eq(patch_chanset(p), 0x9);
	o = ctl(c, "mix_state");
	cr_assert_eq(chanset(o), 0x9);
	cr_assert_float_eq(jnum_in(o, "gains", "0"), 0.5, 1e-6);
	json_decref(o);
	cr_assert_eq(v2_recv_audio(c, &a, WAIT_MS), V2_MSG);
	cr_assert_eq(a.mask[0], 0x9);
}

static void
update_and_check(struct mix *m)
{
	struct v2c *c = &S[0].c;
	const struct mix_patch *p;
	json_t *o;

	send_ctl(c, mix_of("{\"type\":\"update_mix\","
	    "\"gains\":{\"3\":2.0},\"pans\":{\"3\":-0.5},"
	    "\"mutes\":{\"0\":true},\"master_gain\":1.5}"));
	p = commit(&S[0], m);
	cr_assert_eq(p->set, MIX_SET_MASTER);
	cr_assert_eq(p->has[3], MIX_HAS_GAIN | MIX_HAS_PAN);
	cr_assert_eq(p->has[0], MIX_HAS_MUTE);
	cr_assert_float_eq(p->gain[3], 2.0, 1e-6);
	o = ctl(c, "mix_state");
	cr_assert_eq(chanset(o), 0x9);
	cr_assert_float_eq(jnum_in(o, "gains", "3"), 2.0, 1e-6);
	cr_assert_float_eq(jnum_in(o, "pans", "3"), -0.5, 1e-6);
	cr_assert(json_is_true(json_object_get(json_object_get(o, "mutes"),
	    "0")));
	cr_assert_float_eq(json_number_value(json_object_get(o,
	    "master_gain")), 1.5, 1e-6);
	json_decref(o);

	send_ctl(c, json_pack("{s:s}", "type", "get_client_state"));
	o = ctl(c, "mix_state");
	cr_assert_float_eq(jnum_in(o, "pans", "3"), -0.5, 1e-6);
	json_decref(o);
}

static void
invalid_and_unknown(void)
{
	struct v2c *c = &S[0].c;
	json_t *o;

	send_ctl(c, mix_of("{\"type\":\"update_mix\",\"gains\":{\"3\":11.0}}"));
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "error");
	cr_assert(strlen(v2_str(o, "message")) > 0);
	json_decref(o);
	send_ctl(c, mix_of("{\"type\":\"update_mix\",\"channels\":[9]}"));
	json_decref(ctl(c, "error"));
	send_ctl(c, json_pack("{s:s}", "type", "fancy_new_thing"));
	heartbeat(c);
	expect_no_mix_req(&S[0]);
}

/* The engineer changes this listener's mix from the web UI. */
static void
web_change(struct mix *m)
{
	struct v2c *c = &S[0].c;
	json_t *o;

	cr_assert_eq(tsess_commit_json(&S[0], m, "{\"gains\":{\"3\":0.25},"
	    "\"master_gain\":0.8}", ORIGIN_WEB), 0);
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "mix_state");
	cr_assert_float_eq(jnum_in(o, "gains", "3"), 0.25, 1e-6);
	json_decref(o);
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "channel_update");
	cr_assert_eq(jint(o, "channel"), 3);
	/* As the app reads it: dB, pan, active. */
	cr_assert_float_eq(json_number_value(json_object_get(o, "gainDb")),
	    20 * log10(0.25), 1e-6);
	cr_assert_float_eq(json_number_value(json_object_get(o, "pan")), -0.5,
	    1e-6);
	cr_assert(json_is_true(json_object_get(o, "active")));
	json_decref(o);
	o = ctl(c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "master_gain_update");
	cr_assert_float_eq(json_number_value(json_object_get(o, "gainDb")),
	    20 * log10(0.8), 1e-6);
	json_decref(o);
}

Test(sessiond, subscriptions_and_mix_state, .timeout = 60)
{
	struct mix m;
	json_t *o;
	char err[64], *saved;

	ring_up("sub", 8, NULL);
	o = mix_of("{\"channels\":[0],\"gains\":{\"0\":0.5}}");
	cr_assert_eq(mix_from_json(&m, 8, o, err, sizeof(err)), 0);
	saved = json_dumps(o, 0);
	open_session(0, tsess_hello(), saved);
	free(saved);
	json_decref(o);
	o = ctl(&S[0].c, "mix_state");
	cr_assert_eq(chanset(o), 0x1, "the saved mix is restored");
	json_decref(o);

	subscribe_and_check(&m);
	update_and_check(&m);
	invalid_and_unknown();
	web_change(&m);

	exit_report(&S[0], true, WAIT_MS);
	cr_assert_str_eq(EX.reason, "terminated");
	cr_assert_eq((json_int_t)EX.stats.unknown, 1);
}

Test(sessiond, nothing_sent_while_unsubscribed, .timeout = 30)
{
	struct proto_audio a;
	struct mix m;
	json_t *o;

	ring_up("none", 4, NULL);
	mix_init(&m, 4);
	open_session(0, tsess_hello(), "{\"channels\":[1]}");
	cr_assert_eq(v2_recv_audio(&S[0].c, &a, WAIT_MS), V2_MSG);
	send_ctl(&S[0].c, mix_of("{\"type\":\"subscribe\",\"channels\":[]}"));
	(void)commit(&S[0], &m);
	o = ctl(&S[0].c, "mix_state");
	cr_assert_eq(chanset(o), 0);
	json_decref(o);
	/* 200 periods' time with no packet at all (a deadline, not a sync). */
	cr_assert_eq(v2_recv(&S[0].c, 300), V2_TIMEOUT, "audio while "
	    "unsubscribed");
}

Test(sessiond, failed_commit_is_reported_to_the_client, .timeout = 30)
{
	struct mix m;
	json_t *o;

	ring_up("nocommit", 4, NULL);
	mix_init(&m, 4);
	open_session(0, tsess_hello(), NULL);
	json_decref(ctl(&S[0].c, "mix_state"));
	send_ctl(&S[0].c, mix_of("{\"type\":\"update_mix\",\"channels\":[1]}"));
	(void)parent_msg(&S[0], MSG_SESSION_MIX_REQ, WAIT_MS);
	/* The supervisor could not commit: the unchanged mix and why. */
	cr_assert_eq(tsess_mix_set(&S[0], &m, ORIGIN_CLIENT,
	    "state store unavailable"), 0);
	o = ctl(&S[0].c, "mix_state");
	cr_assert_eq(chanset(o), 0, "the mix changed without a commit");
	json_decref(o);
	o = ctl(&S[0].c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "error");
	cr_assert_str_eq(v2_str(o, "message"), "state store unavailable");
	json_decref(o);
}

/* ---- 3. continuity and content ---- */

Test(sessiond, int16_content_and_continuity, .timeout = 60)
{
	static const uint32_t list[] = { 0, 2, 5 };

	ring_up("i16", 8, NULL);
	open_session(0, tsess_hello(), "{\"channels\":[0,2,5]}");
	check_stream(&S[0].c, list, 3, false, 64, 3000);
}

Test(sessiond, float32_content_and_continuity, .timeout = 60)
{
	static const uint32_t list[] = { 1, 7 };

	ring_up("f32", 8, NULL);
	open_session(0, hello_with("audio_format", json_string("float32")),
	    "{\"channels\":[1,7]}");
	check_stream(&S[0].c, list, 2, true, 64, 3000);
}

/* ---- extensions: packet_frames, channel_mask_words ---- */

Test(sessiond, packet_frames_accumulates_periods, .timeout = 30)
{
	static const uint32_t list[] = { 3 };
	json_t *o;

	ring_up("pf", 4, NULL);
	open_session(0, hello_with("packet_frames", json_integer(256)),
	    "{\"channels\":[3]}");
	o = ctl(&S[0].c, "handshake_response");
	cr_assert_eq(jint(o, "server_blocksize"), 256);
	json_decref(o);
	check_stream(&S[0].c, list, 1, false, 256, 200);
}

Test(sessiond, packet_frames_not_a_multiple_is_refused, .timeout = 30)
{
	json_t *o;
	int cfd;

	ring_up("pfbad", 4, NULL);
	cr_assert_geq(cfd = tsess_pair(&S[0], false, 0), 0);
	cr_assert_eq(tsess_spawn(&S[0], R.name, true, cfd, false), 0);
	cr_assert_eq(tsess_start(&S[0], hello_with("packet_frames",
	    json_integer(96)), NULL, 0), 0);
	o = ctl(&S[0].c, NULL);
	cr_assert_str_eq(v2_str(o, "type"), "error");
	cr_assert_not_null(strstr(v2_str(o, "message"), "packet_frames"));
	json_decref(o);
	cr_assert_eq(v2_recv(&S[0].c, WAIT_MS), V2_EOF,
	    "closed after the error");
	exit_report(&S[0], false, WAIT_MS);
	cr_assert_str_eq(EX.reason, "protocol");
}

Test(sessiond, channel_mask_words_reach_beyond_31, .timeout = 30)
{
	static const uint32_t list[] = { 1, 35 };
	struct proto_audio a;

	ring_up("mw", 40, NULL);
	open_session(0, hello_with("channel_mask_words", json_integer(2)),
	    "{\"channels\":[1,35]}");
	cr_assert_eq(S[0].c.mask_words, 2);
	cr_assert_eq(v2_recv_audio(&S[0].c, &a, WAIT_MS), V2_MSG);
	cr_assert_eq(a.mask[0], 0x2);
	cr_assert_eq(a.mask[1], 0x8);
	check_stream(&S[0].c, list, 2, false, 64, 300);
}

/*
 * The session passes the change on; the supervisor's one validation
 * (mix_patch_apply, knowing what the packets can carry) refuses it, and
 * the session passes the refusal on.
 */
Test(sessiond, channel_beyond_31_without_extension_is_an_error, .timeout = 30)
{
	const struct mix_patch *p;
	struct mix m, before;
	char err[128];
	json_t *o;

	ring_up("mw1", 40, NULL);
	mix_init(&m, 40);
	open_session(0, tsess_hello(), NULL);
	send_ctl(&S[0].c, mix_of("{\"type\":\"update_mix\","
	    "\"channels\":[2,35]}"));
	p = MSG_BODY(parent_msg(&S[0], MSG_SESSION_MIX_REQ, WAIT_MS),
	    struct mix_patch);
	before = m;
	cr_assert_eq(mix_patch_apply(&m, p, 32, err, sizeof(err)), -1);
	cr_assert(mix_equal(&m, &before));
	cr_assert_eq(tsess_mix_set(&S[0], &m, ORIGIN_CLIENT, err), 0);
	json_decref(ctl(&S[0].c, "mix_state"));
	o = ctl(&S[0].c, "error");
	cr_assert_not_null(strstr(v2_str(o, "message"), "35"));
	json_decref(o);
}

/* ---- 4. the server-side stereo mix ---- */

static float
mix_signal(uint32_t ch, uint64_t frame, void *arg)
{
	(void)arg;
	if (ch == 0)
		return 0.5f;
	if (ch == 1)
		return feeder_tone(1, frame, NULL) * 0.6f;	/* +-0.3 */
	return 0.0f;
}

static double
soft_clip(double x)
{
	double a = fabs(x);

	if (a <= 0.9)
		return x;
	a = 0.9 + 0.1 * tanh((a - 0.9) / 0.1);
	return x < 0 ? -a : a;
}

struct mix_case {
	const char	*update;
	double		 gain[2], pan[2];
	bool		 on[2];		/* subscribed and not muted */
	double		 master;
};

static void
check_mix_packet(const struct proto_audio *a, const struct mix_case *mc)
{
	uint64_t base = a->position - a->frames;
	double l, r, x, th;
	uint32_t i, c;

	cr_assert_eq(a->mask[0], 0x3);
	cr_assert_eq(a->nch, 2);
	for (i = 0; i < a->frames; i++) {
		l = r = 0.0;
		for (c = 0; c < 2; c++) {
			if (!mc->on[c])
				continue;
			x = mix_signal(c, base + i, NULL);
			th = (mc->pan[c] + 1.0) * M_PI / 4.0;
			l += x * mc->gain[c] * mc->master * cos(th);
			r += x * mc->gain[c] * mc->master * sin(th);
		}
		cr_assert_float_eq(proto_audio_sample(a, 2 * i), soft_clip(l),
		    2e-5, "%s: left at frame %u", mc->update, i);
		cr_assert_float_eq(proto_audio_sample(a, 2 * i + 1),
		    soft_clip(r), 2e-5, "%s: right at frame %u", mc->update, i);
	}
}

static const struct mix_case mix_cases[] = {
	{ "{\"channels\":[0],\"pans\":{\"0\":-1}}",
	    { 1, 1 }, { -1, 0 }, { true, false }, 1 },
	{ "{\"pans\":{\"0\":1}}", { 1, 1 }, { 1, 0 }, { true, false }, 1 },
	{ "{\"pans\":{\"0\":0}}", { 1, 1 }, { 0, 0 }, { true, false }, 1 },
	{ "{\"pans\":{\"0\":0.5}}", { 1, 1 }, { 0.5, 0 }, { true, false }, 1 },
	{ "{\"channels\":[0,1],\"gains\":{\"0\":0.5,\"1\":2},"
	    "\"pans\":{\"1\":-1},\"master_gain\":0.8}",
	    { 0.5, 2 }, { 0.5, -1 }, { true, true }, 0.8 },
	{ "{\"mutes\":{\"1\":true}}", { 0.5, 2 }, { 0.5, -1 },
	    { true, false }, 0.8 },
	/* Into the soft clip's knee: 0.5 * 1.9 = 0.95 on the left. */
	{ "{\"gains\":{\"0\":1.9},\"pans\":{\"0\":-1},\"master_gain\":1}",
	    { 1.9, 2 }, { -1, -1 }, { true, false }, 1 },
	/* Far over full scale, with the sine riding on top. */
	{ "{\"mutes\":{\"1\":false},\"gains\":{\"0\":4,\"1\":3},"
	    "\"pans\":{\"1\":1},\"master_gain\":2}",
	    { 4, 3 }, { -1, 1 }, { true, true }, 2 },
};

Test(sessiond, server_mix_follows_the_pan_law, .timeout = 60)
{
	struct proto_audio a;
	struct mix m;
	json_t *o;
	size_t i;
	int k;

	ring_up("mix", 4, mix_signal);
	mix_init(&m, 4);
	o = hello_with("server_mix", json_true());
	json_object_set_new(o, "audio_format", json_string("float32"));
	open_session(0, o, NULL);
	for (i = 0; i < sizeof(mix_cases) / sizeof(mix_cases[0]); i++) {
		o = mix_of(mix_cases[i].update);
		json_object_set_new(o, "type", json_string("update_mix"));
		send_ctl(&S[0].c, o);
		(void)commit(&S[0], &m);
		json_decref(ctl(&S[0].c, "mix_state"));
		/* Every packet after the mix_state is built with the new mix. */
		for (k = 0; k < 20; k++) {
			cr_assert_eq(v2_recv_audio(&S[0].c, &a, WAIT_MS),
			    V2_MSG);
			check_mix_packet(&a, &mix_cases[i]);
		}
	}
}

/* ---- 5. a client that stops reading hurts nobody else ---- */

static void
healthy_reader(int i)
{
	open_session(i, tsess_hello(), "{\"channels\":[0,1]}");
	reader_on = true;
	cr_assert_eq(steady_start(&RD), 0);
	cr_assert_geq(steady_add(&RD, &S[i].c), 0);
	cr_assert(steady_wait(&RD, 100, WAIT_MS), "healthy client starved");
}

/* The healthy session's totals: nothing lost, nothing dropped, no gap. */
static void
check_healthy(int i)
{
	struct steady_figures f;

	cr_assert(steady_wait(&RD, 300, WAIT_MS), "healthy client starved");
	steady_snapshot(&RD, &f);
	cr_assert_eq(f.lost + f.backwards, 0, "healthy client saw gaps");
	cr_assert_eq(f.failed, 0);
	cr_assert_lt(f.max_gap_ns, SILENCE_MS * 1000000ull,
	    "healthy client waited %" PRIu64 " ms for audio",
	    f.max_gap_ns / 1000000);
	exit_report(&S[i], true, WAIT_MS);
	cr_assert_str_eq(EX.reason, "terminated");
	cr_assert_eq((json_int_t)EX.stats.lost, 0);
	cr_assert_eq((json_int_t)EX.stats.dropped, 0);
}

Test(sessiond, stalled_client_is_isolated_and_ended, .timeout = 60)
{
	uint64_t t0, took;

	ring_up("stall", 8, NULL);
	healthy_reader(0);
	/* The app's receive buffer, and it never reads. */
	cr_assert_eq(tsess_open(&S[1], R.name, tsess_hello(),
	    mix_of("{\"channels\":[0,1,2,3,4,5,6,7]}"), 1000, true, 4096), 0);
	t0 = clock_mono_ms();
	exit_report(&S[1], false, 1000 + 8000);
	took = clock_mono_ms() - t0;
	cr_assert_str_eq(EX.reason, "stalled");
	cr_assert_gt((json_int_t)EX.stats.dropped, 0, "no periods dropped first");
	cr_assert_geq(took, 1000, "ended before the stall limit");
	check_healthy(0);
}

/* ---- 6. malformed input ends only its own session ---- */

static void
send_raw_header(int fd, uint32_t magic, uint8_t type, uint32_t len)
{
	struct proto_hdr h = { magic, 2, type, PROTO_FLAG_RF, 0, len };
	uint8_t b[PROTO_HDR_LEN];

	proto_hdr_encode(b, &h);
	cr_assert_eq(v2_write_all(fd, b, sizeof(b)), 0);
}

static void
malformed(int i, int kind)
{
	char deep[64];
	uint64_t t0;
	json_t *o;
	int fd;

	open_session(i, tsess_hello(), "{\"channels\":[2]}");
	fd = S[i].c.fd;
	switch (kind) {
	case 0:
		send_raw_header(fd, 0xDEADBEEF, PROTO_TYPE_CONTROL, 2);
		break;
	case 1:
		send_raw_header(fd, PROTO_MAGIC, PROTO_TYPE_CONTROL,
		    PROTO_CONTROL_MAX + 1);
		break;
	case 2:
		send_raw_header(fd, PROTO_MAGIC, PROTO_TYPE_CONTROL, 9);
		cr_assert_eq(v2_write_all(fd, "not json{", 9), 0);
		break;
	case 3:
		memset(deep, '[', sizeof(deep));
		send_raw_header(fd, PROTO_MAGIC, PROTO_TYPE_CONTROL,
		    sizeof(deep));
		cr_assert_eq(v2_write_all(fd, deep, sizeof(deep)), 0);
		break;
	case 4:
		send_raw_header(fd, PROTO_MAGIC, PROTO_TYPE_AUDIO, 0);
		break;
	}
	t0 = clock_mono_ms();
	exit_report(&S[i], false, WAIT_MS);
	cr_assert_str_eq(EX.reason, "protocol", "kind %d", kind);
	cr_assert_lt(clock_mono_ms() - t0, WAIT_MS);
	o = v2_recv_ctl(&S[i].c, "error", WAIT_MS, NULL);
	cr_assert_not_null(o, "kind %d: no error message before the close",
	    kind);
	json_decref(o);
	tsess_close(&S[i]);
}

Test(sessiond, malformed_input_ends_only_that_session, .timeout = 90)
{
	int kind;

	ring_up("bad", 4, NULL);
	healthy_reader(0);
	for (kind = 0; kind < 5; kind++)
		malformed(1, kind);
	check_healthy(0);
}

/* ---- 7. parent gone, client gone ---- */

Test(sessiond, parent_closed_ends_the_session, .timeout = 30)
{
	uint64_t t0;
	int cfd, st;

	ring_up("par", 4, NULL);
	cr_assert_geq(cfd = tsess_pair(&S[0], false, 0), 0);
	cr_assert_eq(tsess_spawn(&S[0], R.name, false, cfd, true), 0);
	cr_assert_eq(tsess_start(&S[0], tsess_hello(), NULL, 0), 0);
	(void)parent_msg(&S[0], MSG_READY, WAIT_MS);
	t0 = clock_mono_ms();
	close(S[0].parent);
	S[0].parent = -1;
	st = tu_wait_exit(S[0].pid, WAIT_MS);
	cr_assert_neq(st, -1, "session outlived its parent");
	S[0].pid = 0;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_lt(clock_mono_ms() - t0, 3000, "not prompt");
	cr_assert(tu_wait_text(S[0].log, "session ends (parent)", WAIT_MS));
}

Test(sessiond, client_fin_ends_the_session, .timeout = 30)
{

	ring_up("fin", 4, NULL);
	open_session(0, tsess_hello(), "{\"channels\":[0]}");
	shutdown(S[0].c.fd, SHUT_WR);
	exit_report(&S[0], false, WAIT_MS);
	cr_assert_str_eq(EX.reason, "closed");
}

Test(sessiond, client_reset_ends_the_session, .timeout = 30)
{
	ring_up("rst", 4, NULL);
	cr_assert_eq(tsess_open(&S[0], R.name, tsess_hello(),
	    mix_of("{\"channels\":[0]}"), 0, true, 0), 0);
	json_decref(ctl(&S[0].c, "mix_state"));
	v2_reset(&S[0].c);
	exit_report(&S[0], false, WAIT_MS);
	cr_assert_str_eq(EX.reason, "reset");
}

/* ---- 8. a restarted capture ---- */

Test(sessiond, epoch_change_keeps_the_client, .timeout = 60)
{
	static const uint32_t list[] = { 0, 3 };

	ring_up("epoch", 4, NULL);
	open_session(0, tsess_hello(), "{\"channels\":[0,3]}");
	check_stream(&S[0].c, list, 2, false, 64, 100);
	cr_assert_eq(feeder_restart(&R), 0);
	check_stream(&S[0].c, list, 2, false, 64, 300);
	cr_assert_eq(feeder_restart(&R), 0);
	check_stream(&S[0].c, list, 2, false, 64, 300);
	exit_report(&S[0], true, WAIT_MS);
	cr_assert_str_eq(EX.reason, "terminated");
	cr_assert_eq((json_int_t)EX.stats.epochs, 2);
}

Test(sessiond, replaced_ring_ends_the_session, .timeout = 30)
{
	struct ring_config other = { 48000, 2, 128, 0 };
	struct ring_writer *w;

	ring_up("repl", 4, NULL);
	open_session(0, tsess_hello(), "{\"channels\":[0]}");
	/* A capture of another geometry replaces the object under the name. */
	cr_assert_eq(ring_writer_open(R.name, &other, 1, &w), RING_OK);
	exit_report(&S[0], false, WAIT_MS);
	ring_writer_close(w);
	cr_assert_str_eq(EX.reason, "error");
}

/* The real capture, killed and started again: the session follows it. */
Test(sessiond, capture_restart_keeps_the_client, .timeout = 60)
{
	static const uint32_t list[] = { 2, 5 };
	int i;

	snprintf(R.name, sizeof(R.name), "%s", tu_name("cap"));
	CAP = feeder_capture(R.name, 8, 64);
	cr_assert_gt(CAP, 0, "ringcast-capture did not start");
	cr_assert_eq(tsess_open(&S[0], R.name, tsess_hello(),
	    mix_of("{\"channels\":[2,5]}"), 0, false, 0), 0);
	check_stream(&S[0].c, list, 2, false, 64, 200);
	for (i = 0; i < 2; i++) {
		kill(CAP, SIGKILL);
		cr_assert_neq(tu_wait_exit(CAP, WAIT_MS), -1);
		CAP = feeder_capture(R.name, 8, 64);
		cr_assert_gt(CAP, 0, "ringcast-capture did not restart");
		/* Same tone, same positions: content checks hold across it. */
		check_stream(&S[0].c, list, 2, false, 64, 300);
	}
	exit_report(&S[0], true, WAIT_MS);
	cr_assert_str_eq(EX.reason, "terminated");
	cr_assert_eq((json_int_t)EX.stats.epochs, 2);
}

/* ---- 9. a peer that vanishes without a FIN ---- */

static void
loopback(bool up)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_neq(s, -1);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	cr_assert_eq(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	if (up)
		ifr.ifr_flags |= IFF_UP;
	else
		ifr.ifr_flags &= ~IFF_UP;
	cr_assert_eq(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

/*
 * In a network namespace of its own, taking loopback down makes every
 * packet vanish, as when a phone leaves the Wi-Fi: no FIN, no RST.
 */
static void
dead_peer(const char *mix)
{
	struct proto_audio a;
	uint64_t t0;

	if (unshare(CLONE_NEWNET) == -1)
		cr_skip_test("no network namespace (%s)", strerror(errno));
	loopback(true);
	ring_up("dead", 4, NULL);
	cr_assert_eq(tsess_open(&S[0], R.name, tsess_hello(), mix ?
	    mix_of(mix) : NULL, 0, true, 0), 0);
	json_decref(ctl(&S[0].c, "mix_state"));
	if (mix != NULL)
		cr_assert_eq(v2_recv_audio(&S[0].c, &a, WAIT_MS), V2_MSG);
	loopback(false);
	t0 = clock_mono_ms();
	exit_report(&S[0], false, TSESS_USER_TIMEOUT_MS + 6000);
	cr_assert_str_eq(EX.reason, "timeout");
	cr_assert_lt(clock_mono_ms() - t0, TSESS_USER_TIMEOUT_MS + 6000);
}

Test(sessiond, vanished_peer_while_streaming, .timeout = 30)
{
	dead_peer("{\"channels\":[0,1]}");
}

Test(sessiond, vanished_peer_while_idle, .timeout = 30)
{
	dead_peer(NULL);
}
