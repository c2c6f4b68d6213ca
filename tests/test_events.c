/* test_events.c — /api/events and the web UI's API end to end against the real ringcastd. */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <signal.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS

static struct http_sse S1 = { .fd = -1 }, S2 = { .fd = -1 };

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

static void
setup(void)
{
	e2e_setup();
	S1.fd = S2.fd = -1;
}

static void
teardown(void)
{
	http_sse_close(&S1);
	http_sse_close(&S2);
	e2e_teardown();
}

TestSuite(events, .init = setup, .fini = teardown, .timeout = 120);

/* Subscribe to /api/events and wait until it is live (the first meters). */
static void
sse_open(struct http_sse *s, int rcvbuf)
{
	cr_assert_eq(http_sse_open(s, E.d.http_port, rcvbuf), 0, "events");
}

static json_t *
expect_event(struct http_sse *s, const char *name)
{
	json_t *o = http_sse_next(s, name, WAIT_MS, NULL);

	check(o != NULL, "no %s event", name);
	return o;
}

/* POST to the API, checked to answer 200. */
static void
post_ok(const char *path, const char *body)
{
	json_t *o;
	int st = e2e_api("POST", path, body, &o);

	json_decref(o);
	check(st == 200, "POST %s: %d", path, st);
}

Test(events, a_listener_s_life_in_events)
{
	json_t *o;

	e2e_up("life", NULL);
	sse_open(&S1, 0);
	/* The stream is live once the first meters arrive. */
	json_decref(expect_event(&S1, "meters"));
	check(v2_open(&E.c[0], E.d.native_port, v2_hello("phone-1", NULL),
	    WAIT_MS) == 0, "connect");
	o = expect_event(&S1, "client_connected");
	check(strcmp(v2_str(o, "id"), "phone-1") == 0 &&
	    json_is_true(json_object_get(o, "connected")) &&
	    strcmp(v2_str(o, "kind"), "native") == 0, "client_connected: %s",
	    json_dumps(o, 0));
	json_decref(o);
	json_decref(v2_recv_ctl(&E.c[0], "mix_state", WAIT_MS, NULL));
	/* From the web... */
	post_ok("/api/clients/phone-1/mix",
	    "{\"channels\":[2],\"gains\":{\"2\":0.5}}");
	o = expect_event(&S1, "mix_changed");
	check(strcmp(v2_str(o, "source"), "web") == 0 &&
	    strcmp(v2_str(o, "id"), "phone-1") == 0, "mix_changed (web): %s",
	    json_dumps(o, 0));
	json_decref(o);
	o = v2_recv_ctl(&E.c[0], "mix_state", WAIT_MS, NULL);
	check(o != NULL && json_array_size(json_object_get(o, "channels")) ==
	    1, "the client did not get the web's mix");
	json_decref(o);
	/* ...and from the client. */
	check(v2_send_ctl(E.c[0].fd, json_pack("{s:s, s:[ii]}", "type",
	    "update_mix", "channels", 0, 1)) == 0, "update_mix");
	o = expect_event(&S1, "mix_changed");
	check(strcmp(v2_str(o, "source"), "client") == 0, "mix_changed (client)"
	    ": %s", json_dumps(o, 0));
	json_decref(o);
	v2_close(&E.c[0]);
	o = expect_event(&S1, "client_disconnected");
	/* Unread audio in our buffer turns the close into a reset. */
	check(strcmp(v2_str(o, "id"), "phone-1") == 0 &&
	    (strcmp(v2_str(o, "reason"), "closed") == 0 ||
	    strcmp(v2_str(o, "reason"), "reset") == 0), "client_disconnected: %s",
	    json_dumps(o, 0));
	json_decref(o);
}

Test(events, meters_at_10_to_20_hz_with_every_channel)
{
	uint64_t start, ms;
	json_t *o, *peak;
	int n = 0;
	size_t i;

	e2e_up("meters", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	start = clock_mono_ms();
	while (clock_mono_ms() - start < 3000) {
		o = expect_event(&S1, "meters");
		peak = json_object_get(json_object_get(o, "input"), "peak");
		check(json_array_size(peak) == 8, "meters for %zu channels",
		    json_array_size(peak));
		for (i = 0; i < 8; i++)
			check(json_real_value(json_array_get(peak, i)) > 0.4,
			    "channel %zu: the tone's peak is %f", i,
			    json_real_value(json_array_get(peak, i)));
		json_decref(o);
		n++;
	}
	ms = clock_mono_ms() - start;
	cr_log_info("meters: %d in %llu ms (%.1f Hz)", n,
	    (unsigned long long)ms, n * 1000.0 / ms);
	/* 15 Hz nominal; a loaded VM may delay the timer, never speed it up. */
	check(n * 1000.0 / ms >= 5 && n * 1000.0 / ms <= 20.5, "meters at "
	    "%.1f Hz", n * 1000.0 / ms);
}

Test(events, post_mix_meters_of_a_server_mix)
{
	json_t *o, *lv;
	char *text;
	int i;

	e2e_up("postmix", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	e2e_listen("mixer-1", json_pack("{s:b}", "server_mix", 1), 2);
	for (i = 0; i < 100; i++) {
		o = expect_event(&S1, "meters");
		lv = json_object_get(json_object_get(o, "clients"), "mixer-1");
		if (lv != NULL && json_real_value(json_array_get(
		    json_object_get(lv, "rms"), 0)) > 0.05) {
			text = json_dumps(lv, JSON_COMPACT);
			cr_log_info("post-mix levels of mixer-1: %s", text);
			free(text);
			json_decref(o);
			return;
		}
		json_decref(o);
	}
	check(false, "no post-mix levels for the server mix");
}

Test(events, names_order_and_channel_names_persist)
{
	const char *const extra[] = { "--channel-names", "Kick, Snare ,Vox",
	    NULL };
	static const struct {
		const char *path, *body;
		int status;
	} refused[] = {
		{ "/api/clients/nobody", "{\"name\":\"x\"}", 404 },
		{ "/api/clients/drummer", "{\"name\":\"\"}", 400 },
		{ "/api/channels", "{\"channel\":99,\"name\":\"x\"}", 400 },
	};
	json_t *o, *names;
	size_t i;
	int st;

	e2e_up("names", extra);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	e2e_listen("drummer", NULL, 4);
	o = e2e_status();
	names = json_object_get(o, "channel_names");
	check(json_array_size(names) == 8 &&
	    strcmp(json_string_value(json_array_get(names, 1)), "Snare") == 0 &&
	    strcmp(json_string_value(json_array_get(names, 3)), "Ch 4") == 0,
	    "channel names from the config: %s", json_dumps(names, 0));
	json_decref(o);
	post_ok("/api/channels", "{\"channel\":3,\"name\":\"Bass DI\"}");
	o = expect_event(&S1, "channels");
	check(strcmp(json_string_value(json_array_get(json_object_get(o,
	    "channel_names"), 3)), "Bass DI") == 0, "channels event");
	json_decref(o);
	post_ok("/api/clients/drummer", "{\"name\":\"Drums IEM\",\"order\":2}");
	o = expect_event(&S1, "client_updated");
	check(strcmp(v2_str(o, "name"), "Drums IEM") == 0 &&
	    json_integer_value(json_object_get(o, "order")) == 2,
	    "client_updated: %s", json_dumps(o, 0));
	json_decref(o);
	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		st = e2e_api("POST", refused[i].path, refused[i].body, &o);
		json_decref(o);
		check(st == refused[i].status, "POST %s %s: %d, not %d",
		    refused[i].path, refused[i].body, st, refused[i].status);
	}
	/* A restart keeps all of it. */
	steady_stop(&E.s);
	http_sse_close(&S1);
	check(rcd_stop(&E.d, 10000) == 0, "ringcastd stop");
	e2e_up("names", extra);
	o = http_client(E.d.http_port, "drummer");
	check(o != NULL && strcmp(v2_str(o, "name"), "Drums IEM") == 0 &&
	    json_integer_value(json_object_get(o, "order")) == 2,
	    "after a restart: %s", o ? json_dumps(o, 0) : "none");
	json_decref(o);
	o = e2e_status();
	names = json_object_get(o, "channel_names");
	check(strcmp(json_string_value(json_array_get(names, 3)), "Bass DI") ==
	    0 && strcmp(json_string_value(json_array_get(names, 0)), "Kick") ==
	    0, "channel names after a restart: %s", json_dumps(names, 0));
	json_decref(o);
}

Test(events, capture_killed_and_back)
{
	json_t *o;
	pid_t pid;
	bool seen_down = false;
	int i;

	e2e_up("capture", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	pid = e2e_child_pid("capture");
	check(kill(pid, SIGKILL) == 0, "kill capture");
	for (i = 0; i < 200; i++) {
		o = expect_event(&S1, "capture");
		if (strcmp(v2_str(o, "state"), "running") != 0)
			seen_down = true;
		if (seen_down && strcmp(v2_str(o, "state"), "running") == 0 &&
		    json_integer_value(json_object_get(o, "pid")) != pid) {
			cr_log_info("capture events: back as pid %lld, %lld "
			    "restarts", json_integer_value(json_object_get(o,
			    "pid")), json_integer_value(json_object_get(o,
			    "restarts")));
			json_decref(o);
			return;
		}
		json_decref(o);
	}
	check(false, "no capture event showed the restart");
}

Test(events, a_stalled_browser_is_closed_and_harms_nobody)
{
	/* -v: the log says which subscriber the broker closed, and why. */
	const char *const extra[] = { "--channels", "64", "--request-ms",
	    "2000", "-v", NULL };
	uint64_t start;
	json_t *o;
	bool eof;
	int n = 0;

	e2e_up("stall", extra);
	e2e_listen("steady", NULL, 4);
	sse_open(&S2, 2048);	/* never reads */
	sse_open(&S1, 0);
	/* The reading browser keeps getting meters throughout. */
	start = clock_mono_ms();
	while (clock_mono_ms() - start < 12000) {
		o = expect_event(&S1, "meters");
		json_decref(o);
		n++;
	}
	cr_log_info("reading browser: %d meters in 12 s beside a stalled one",
	    n);
	check(n >= 60, "the reading browser got %d meters in 12 s", n);
	/* Drain the stalled one now: it must end, not keep streaming. */
	while ((o = http_sse_next(&S2, "no-such-event", 5000, &eof)) != NULL)
		json_decref(o);
	check(eof, "the stalled browser was not closed");
	e2e_steady_clean("beside a stalled browser");
}
