/* test_app.c — the deployed app, exactly: its state after every kind of web change, its mute, its restarts, no ghosts. */
#define _GNU_SOURCE

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/app.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS
#define NCH		16	/* past the 8 the app's mix_state reaches */

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

TestSuite(app, .init = e2e_setup, .fini = e2e_teardown, .timeout = 180);

/* A phone: its connection and what its handlers made of every message. */
struct phone {
	struct v2c		 c;
	struct app_state	 st;
	char			 id[64];
	bool			 audio;		/* an audio packet came */
	struct proto_audio	 last;		/* the last one, while buffered */
};

static const char *const daemon_args[] = { "--channels", "16", NULL };

/* Apply every control message, note audio; until type (if given) came. */
static bool
pump(struct phone *p, const char *type, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;
	const char *t;
	json_t *o;
	bool done = false;

	while (!done && clock_mono_ms() < end) {
		if (v2_recv(&p->c, (int)(end - clock_mono_ms())) != V2_MSG)
			return false;
		if (p->c.hdr.type == PROTO_TYPE_AUDIO) {
			p->audio = proto_audio_decode(&p->c.hdr, p->c.payload, 1,
			    &p->last) == PROTO_OK;
			continue;
		}
		o = json_loadb((const char *)p->c.payload, p->c.hdr.length, 0,
		    NULL);
		cr_assert_not_null(o, "control message is not JSON");
		t = v2_str(o, "type");
		done = type != NULL && strcmp(t, type) == 0;
		app_apply(&p->st, o);
		json_decref(o);
	}
	return done;
}

/* The app's launch: its handshake (no device_uuid), a fresh state. */
static void
launch(struct phone *p, const char *id)
{
	if (id != p->id)
		snprintf(p->id, sizeof(p->id), "%s", id);
	id = p->id;
	app_init(&p->st);
	p->audio = false;
	check(v2_open(&p->c, E.d.native_port, v2_hello(id, NULL), WAIT_MS) == 0,
	    "connect %s", id);
	check(pump(p, "mix_state", WAIT_MS), "%s: no mix_state", id);
}

/*
 * Everything the server queued for the phone so far has been applied: our
 * heartbeat is answered after it (the session reads its parent's messages
 * before its client's, and a change is sent to it before the API answers).
 */
static void
barrier(struct phone *p)
{
	check(v2_send_ctl(p->c.fd, json_pack("{s:s}", "type", "heartbeat")) ==
	    0, "heartbeat");
	check(pump(p, "heartbeat_response", WAIT_MS), "%s: no heartbeat "
	    "response", p->id);
}

/* The committed mix of an API answer or entry. */
static void
mix_of(const json_t *o, struct mix *m)
{
	char err[256];

	check(mix_from_json(m, NCH, o, err, sizeof(err)) == 0, "mix: %s", err);
}

/* A web change (update_mix fields): the mix the daemon committed. */
static void
web(const struct phone *p, const char *fields, struct mix *m)
{
	char path[160];
	json_t *o;
	int st;

	snprintf(path, sizeof(path), "/api/clients/%s/mix", p->id);
	st = e2e_api("POST", path, fields, &o);
	check(st == 200, "POST %s %s: %d", path, fields, st);
	mix_of(o, m);
	json_decref(o);
}

static void
phone_holds(struct phone *p, const struct mix *m, const char *after)
{
	char why[256];

	barrier(p);
	check(app_matches(&p->st, m, why, sizeof(why)), "after %s: %s", after,
	    why);
}

static const struct {
	const char	*what;
	const char	*fields;
} changes[] = {
	{ "channel on", "{\"channels\":[0,1,3]}" },
	{ "gain", "{\"gains\":{\"1\":0.25}}" },
	{ "pan", "{\"pans\":{\"3\":-0.5}}" },
	{ "mute", "{\"mutes\":{\"3\":true}}" },
	{ "master", "{\"master_gain\":0.5}" },
	{ "gain to zero", "{\"gains\":{\"0\":0}}" },
	{ "channel off", "{\"channels\":[0,3]}" },
	{ "a channel past 7", "{\"channels\":[0,3,10],\"gains\":"
	    "{\"10\":2.0},\"pans\":{\"10\":0.75}}" },
	{ "master back", "{\"master_gain\":1}" },
	{ "unmute", "{\"mutes\":{\"3\":false}}" },
};

Test(app, the_phone_holds_the_committed_mix_after_every_web_change)
{
	struct phone p = { .c = { .fd = -1 } };
	struct mix m;
	size_t i;

	e2e_up("app", daemon_args);
	launch(&p, "a1b2c3d4-0000-4000-8000-000000000001");
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
		web(&p, changes[i].fields, &m);
		phone_holds(&p, &m, changes[i].what);
	}
	/* Several at once: the phone ends where the last commit left it. */
	for (i = 0; i < sizeof(changes) / sizeof(changes[0]); i++)
		web(&p, changes[i].fields, &m);
	phone_holds(&p, &m, "a burst of changes");
	/* A reconnect, and a server restart: a fresh app state each time. */
	v2_close(&p.c);
	launch(&p, p.id);
	phone_holds(&p, &m, "a reconnect");
	v2_close(&p.c);
	check(rcd_stop(&E.d, WAIT_MS) == 0, "ringcastd did not stop");
	e2e_up("app", daemon_args);
	launch(&p, p.id);
	phone_holds(&p, &m, "a server restart");
	v2_close(&p.c);
}

/* The next packet's samples of channel ch (its place in the mask). */
static bool
channel_silent(struct phone *p, uint32_t ch)
{
	uint32_t slot = (uint32_t)__builtin_popcount(p->last.mask[0] &
	    ((1u << ch) - 1)), f;

	for (f = 0; f < p->last.frames; f++)
		if (proto_audio_sample(&p->last, (size_t)f * p->last.nch +
		    slot) != 0.0f)
			return false;
	return true;
}

static void
next_audio(struct phone *p)
{
	p->audio = false;
	while (!p->audio)
		check(pump(p, NULL, 300) || p->audio, "%s: no audio", p->id);
}

/* The app has no mute: a muted channel comes as zeros, in its place. */
Test(app, a_muted_channel_is_zeros_on_the_phone_until_unmuted)
{
	struct phone p = { .c = { .fd = -1 } };
	struct mix m;

	e2e_up("mute", daemon_args);
	launch(&p, "a1b2c3d4-0000-4000-8000-000000000002");
	web(&p, "{\"channels\":[1,2]}", &m);
	barrier(&p);
	next_audio(&p);
	check(p.last.mask[0] == 0x6 && !channel_silent(&p, 1), "tone on 1");
	web(&p, "{\"mutes\":{\"1\":true}}", &m);
	barrier(&p);
	next_audio(&p);
	check(p.last.mask[0] == 0x6, "the muted channel left the mask");
	check(channel_silent(&p, 1), "channel 1 not silent one round trip "
	    "after its mute");
	check(!channel_silent(&p, 2), "channel 2 silenced too");
	web(&p, "{\"mutes\":{\"1\":false}}", &m);
	barrier(&p);
	next_audio(&p);
	check(!channel_silent(&p, 1), "the tone did not come back");
	v2_close(&p.c);
}

/* /api/clients as JSON, checked. */
static json_t *
clients(void)
{
	json_t *o = http_json(E.d.http_port, "GET", "/api/clients", NULL, NULL);

	check(o != NULL, "GET /api/clients");
	return o;
}

/* The entry of id in /api/clients, NULL if there is none. */
static json_t *
entry(json_t *list, const char *id)
{
	json_t *e;
	size_t i;

	json_array_foreach(json_object_get(list, "clients"), i, e)
		if (strcmp(v2_str(e, "id"), id) == 0)
			return e;
	return NULL;
}

/* id's entry says it is no longer connected. */
static bool
gone(const char *id)
{
	json_t *e = e2e_ended(id);

	json_decref(e);
	return e != NULL;
}

/* Launches that got a mix from the web, all connected at once, then gone. */
static void
mixed_and_gone(const char *const *ids, const char *const *fields, int n)
{
	struct phone p[2] = { { .c = { .fd = -1 } }, { .c = { .fd = -1 } } };
	struct mix m;
	int i;

	for (i = 0; i < n; i++) {
		launch(&p[i], ids[i]);
		web(&p[i], fields[i], &m);
		barrier(&p[i]);
	}
	for (i = 0; i < n; i++) {
		v2_close(&p[i].c);
		check(gone(ids[i]), "%s still listed as connected", ids[i]);
	}
}

Test(app, a_new_launch_from_the_same_address_takes_its_mix_back)
{
	struct phone p = { .c = { .fd = -1 } };
	struct http_sse ev = { .fd = -1 };
	json_t *l, *e, *o;
	struct mix m, want;

	e2e_up("restart", daemon_args);
	mixed_and_gone((const char *const[]){ "launch-1" }, (const char *const[])
	    { "{\"channels\":[2,5],\"gains\":{\"5\":0.5}}" }, 1);
	mix_init(&want, NCH);
	want.sub[2] = want.sub[5] = 1;
	want.gain[5] = 0.5f;
	cr_assert_eq(http_sse_open(&ev, E.d.http_port, 0), 0, "events");
	/* Launch 2: its mix_state, before any audio, is launch 1's. */
	launch(&p, "launch-2");
	check(!p.audio, "audio before the mix_state");
	phone_holds(&p, &want, "an app restart");
	/* A page showing launch-1 is told that entry is gone, and to whom. */
	while ((o = http_sse_next(&ev, "client_updated", WAIT_MS, NULL)) !=
	    NULL && !json_is_true(json_object_get(o, "deleted")))
		json_decref(o);
	check(o != NULL && json_is_true(json_object_get(o, "deleted")) &&
	    strcmp(json_string_value(json_object_get(o, "id")), "launch-1") ==
	    0 && strcmp(json_string_value(json_object_get(o,
	    "taken_over_by")), "launch-2") == 0,
	    "no client_updated deleting launch-1 for launch-2");
	json_decref(o);
	http_sse_close(&ev);
	l = clients();
	check(json_integer_value(json_object_get(l, "total")) == 1, "%lld "
	    "listeners, not one", json_integer_value(json_object_get(l,
	    "total")));
	e = entry(l, "launch-2");
	check(e != NULL && strcmp(json_string_value(json_array_get(
	    json_object_get(e, "aliases"), 0)), "launch-1") == 0,
	    "launch-2 does not carry launch-1 as an alias");
	mix_of(e, &m);
	check(mix_equal(&m, &want), "the record's mix changed");
	json_decref(l);
	v2_close(&p.c);
}

/* Phones behind one NAT: two recent candidates, so nobody's mix is taken. */
Test(app, two_candidates_from_one_address_are_no_takeover)
{
	struct phone p = { .c = { .fd = -1 } };
	struct mix none;
	json_t *l;

	e2e_up("nat", daemon_args);
	mixed_and_gone((const char *const[]){ "phone-x", "phone-y" },
	    (const char *const[]){ "{\"channels\":[1]}", "{\"channels\":[4]}" },
	    2);
	launch(&p, "phone-z");
	mix_init(&none, NCH);
	phone_holds(&p, &none, "a launch with two candidates");
	l = clients();
	check(json_integer_value(json_object_get(l, "total")) == 3 &&
	    entry(l, "phone-x") && entry(l, "phone-y") && entry(l, "phone-z"),
	    "the records were not left alone");
	json_decref(l);
	v2_close(&p.c);
}

/* 200 launches that never get a name or a mix leave nothing behind. */
Test(app, unused_launches_are_forgotten, .timeout = 240)
{
	const char *const args[] = { "--forget-unused-hours", "0.0005", NULL };
	struct http_sse ev = { .fd = -1 };
	struct v2c c = { .fd = -1 };
	char id[64];
	json_t *l, *o;
	int i, forgotten = 0;

	e2e_up("ghosts", args);
	cr_assert_eq(http_sse_open(&ev, E.d.http_port, 0), 0, "events");
	for (i = 0; i < 200; i++) {
		snprintf(id, sizeof(id), "ghost-%03d", i);
		check(v2_join(&c, E.d.native_port, id, NULL, WAIT_MS) == 0,
		    "launch %d", i);
		v2_close(&c);
	}
	/* 1.8 s after each left, swept within about a quarter of that. */
	while (forgotten < 200 && (o = http_sse_next(&ev, "client_updated",
	    30000, NULL)) != NULL) {
		forgotten += json_is_true(json_object_get(o, "deleted"));
		json_decref(o);
	}
	http_sse_close(&ev);
	l = clients();
	check(json_integer_value(json_object_get(l, "total")) == 0, "%lld "
	    "records of unused launches remain (%d forgotten)",
	    json_integer_value(json_object_get(l, "total")), forgotten);
	json_decref(l);
}

/* The old server took a handshake with device_uuid alone. */
Test(app, a_handshake_with_device_uuid_alone_is_served)
{
	struct v2c c = { .fd = -1 };
	json_t *hello, *hr;

	e2e_up("uuid", NULL);
	hello = v2_hello("unused", "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4");
	json_object_del(hello, "client_id");
	check(v2_open(&c, E.d.native_port, hello, WAIT_MS) == 0, "connect");
	hr = v2_recv_ctl(&c, "handshake_response", WAIT_MS, NULL);
	check(hr != NULL && strcmp(v2_str(hr, "persistent_id"),
	    "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4") == 0, "not served under "
	    "its device_uuid");
	json_decref(hr);
	v2_close(&c);
}

Test(app, the_engineer_disconnects_a_listener)
{
	struct phone p = { .c = { .fd = -1 } };
	json_t *o, *l, *e;
	int st;

	e2e_up("kick", NULL);
	launch(&p, "kicked-phone");
	st = e2e_api("POST", "/api/clients/kicked-phone/disconnect", NULL, &o);
	json_decref(o);
	check(st == 200, "disconnect: %d", st);
	check(v2_wait_eof(&p.c, WAIT_MS) == V2_EOF, "the connection stays");
	check(gone("kicked-phone"), "still listed as connected");
	l = clients();
	e = entry(l, "kicked-phone");
	check(e == NULL || strcmp(v2_str(e, "last_exit"), "kicked") == 0,
	    "last_exit is not kicked");
	json_decref(l);
	st = e2e_api("POST", "/api/clients/kicked-phone/disconnect", NULL, &o);
	json_decref(o);
	check(st == 404, "a second disconnect: %d", st);
	v2_close(&p.c);
}
