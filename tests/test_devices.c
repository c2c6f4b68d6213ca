/* test_devices.c — the audio interface from the API: device list, switches, auto, through JACK's dummy backend. */
#define _GNU_SOURCE

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"
#include "tests/lib/jack.h"

#define WAIT_MS		E2E_WAIT_MS
#define JACK_MS		20000

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

static struct jack J;

static void
teardown(void)
{
	e2e_teardown();
	jack_stop(&J);
}

TestSuite(devices, .init = e2e_setup, .fini = teardown, .timeout = 240);

static void
jack_up(int channels)
{
	char err[4096];

	cr_assert(jack_start(&J, channels, JACK_MS, err, sizeof(err)) == 0,
	    "%s", err);
}

/* POST /api/capture: the status, the answer in *out. */
static int
capture_switch(const char *source, const char *channels, json_t **out)
{
	char body[256];

	snprintf(body, sizeof(body), "{\"source\": \"%s\", \"channels\": %s}",
	    source, channels);
	return e2e_api("POST", "/api/capture", body, out);
}

static const char *
status_source(void)
{
	static char buf[256];
	json_t *o = e2e_status();

	snprintf(buf, sizeof(buf), "%s", v2_str(o, "source"));
	json_decref(o);
	return buf;
}

/* The device called name in a GET /api/devices answer, or NULL. */
static const json_t *
device_named(const json_t *list, const char *name)
{
	const json_t *d;
	size_t i;

	json_array_foreach(json_object_get(list, "devices"), i, d)
		if (strcmp(v2_str(d, "name"), name) == 0)
			return d;
	return NULL;
}

static long long
jint(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	return json_integer_value(b != NULL ? json_object_get(v, b) : v);
}

/* ringcast_disconnects_total{reason="why"} in /metrics, or -1. */
static long long
disconnects(const char *why)
{
	char *resp = NULL, want[96], *p;
	long long n = -1;

	snprintf(want, sizeof(want), "ringcast_disconnects_total{reason="
	    "\"%s\"} ", why);
	if (http_req(E.d.http_port, "GET", "/metrics", NULL, &resp,
	    WAIT_MS) == 200 && (p = strstr(resp, want)) != NULL)
		n = atoll(p + strlen(want));
	free(resp);
	return n;
}

/*
 * The same channel count: the steady listener keeps its stream, no period
 * missing from its positions; the gap it heard is measured and shown.
 */
static void
same_count_switch(void)
{
	struct steady_figures f;
	pid_t before = e2e_child_pid("capture");
	long long epoch = e2e_status_int("capture", "epoch");
	double base;
	json_t *o;
	int st;

	/* The longest gap of a window without a switch, to compare. */
	steady_reset(&E.s);
	e2e_flowing(750);
	steady_snapshot(&E.s, &f);
	base = f.max_gap_ns / 1e6;
	steady_reset(&E.s);
	st = capture_switch("portaudio:system", "2", &o);
	check(st == 200, "switch to portaudio:system: %d %s", st,
	    v2_str(o, "error"));
	check(strcmp(v2_str(o, "source"), "portaudio:system") == 0 &&
	    jint(o, "channels", NULL) == 2 && json_is_false(json_object_get(o,
	    "reconfigured")), "answer: %s %lld", v2_str(o, "source"),
	    jint(o, "channels", NULL));
	json_decref(o);
	e2e_flowing(750);	/* a second of JACK's periods */
	steady_snapshot(&E.s, &f);
	cr_log_info("same-count switch tone -> portaudio:system: %llu packets, "
	    "%llu periods lost, longest gap %.1f ms (%.1f ms without a "
	    "switch)", (unsigned long long)f.packets, (unsigned long long)
	    f.lost, f.max_gap_ns / 1e6, base);
	printf("same-count switch: lost %llu periods, gap %.1f ms (%.1f ms "
	    "without a switch)\n", (unsigned long long)f.lost,
	    f.max_gap_ns / 1e6, base);
	e2e_steady_clean("same-count switch");
	check(strcmp(status_source(), "portaudio:system") == 0, "status "
	    "source %s", status_source());
	check(e2e_child_pid("capture") != before, "capture not replaced");
	check(e2e_status_int("capture", "epoch") > epoch, "no new epoch");
}

/* A device that does not open: an error, the running source unchanged. */
static void
failing_switch(void)
{
	pid_t before = e2e_child_pid("capture");
	json_t *o;
	int st;

	steady_reset(&E.s);
	st = capture_switch("portaudio:rc-no-such-device", "2", &o);
	check(st == 409 && strstr(v2_str(o, "error"), "rc-no-such-device") !=
	    NULL, "a missing device: %d %s", st, v2_str(o, "error"));
	json_decref(o);
	st = capture_switch("portaudio:system", "64", &o);
	check(st == 409 && strstr(v2_str(o, "error"), "64") != NULL,
	    "more channels than the device has: %d %s", st, v2_str(o, "error"));
	json_decref(o);
	e2e_steady_clean("failed switches");
	check(e2e_child_pid("capture") == before, "the running capture was "
	    "replaced");
	check(strcmp(status_source(), "portaudio:system") == 0, "source %s",
	    status_source());
}

/*
 * Another count: every session ends, reason reconfigured; a reconnect
 * gets the new count.
 */
static void
other_count_switch(int steady)
{
	long long n = disconnects("reconfigured");
	json_t *o, *hr, *e;
	int st;

	steady_remove(&E.s, steady, &E.c[0]);
	st = capture_switch("tone", "\"max\"", &o);
	check(st == 200 && jint(o, "channels", NULL) == E2E_NCH &&
	    json_is_true(json_object_get(o, "reconfigured")), "switch to the "
	    "tone: %d %s", st, v2_str(o, "error"));
	json_decref(o);
	check(v2_wait_eof(&E.c[0], WAIT_MS) == V2_EOF, "the session goes on");
	e = e2e_ended("steady-1");
	check(e != NULL && strcmp(v2_str(e, "last_exit"), "reconfigured") == 0,
	    "last_exit %s", e != NULL ? v2_str(e, "last_exit") : "(none)");
	json_decref(e);
	check(disconnects("reconfigured") == n + 1, "reconfigured counted %lld",
	    disconnects("reconfigured") - n);
	hr = e2e_open(&E.c[1], "steady-1", NULL);
	check(jint(hr, "max_channels", NULL) == E2E_NCH, "max_channels %lld",
	    jint(hr, "max_channels", NULL));
	json_decref(hr);
	check(e2e_status_int("channels", NULL) == E2E_NCH, "status channels");
}

Test(devices, list_and_switch_through_jack_dummy)
{
	const char *extra[] = { "--source", "tone", "--channels", "2", NULL };
	const json_t *d;
	json_t *o;
	int st, i;

	jack_up(2);
	e2e_up("devjack", extra);
	i = e2e_listen("steady-1", NULL, 2);
	o = http_json(E.d.http_port, "GET", "/api/devices", NULL, &st);
	check(st == 200 && (d = device_named(o, "system")) != NULL, "GET "
	    "/api/devices: %d, no \"system\"", st);
	check(strstr(v2_str(d, "host_api"), "JACK") != NULL &&
	    jint(d, "inputs", NULL) == 2, "system: %s, %lld inputs",
	    v2_str(d, "host_api"), jint(d, "inputs", NULL));
	check(strcmp(v2_str(json_object_get(o, "current"), "source"), "tone") ==
	    0 && jint(o, "current", "channels") == 2 &&
	    json_is_null(json_object_get(o, "saved")), "current, saved");
	json_decref(o);
	same_count_switch();
	failing_switch();
	o = http_get(E.d.http_port, "/api/devices");
	check(o != NULL && strcmp(v2_str(json_object_get(o, "saved"),
	    "source"), "portaudio:system") == 0, "saved");
	json_decref(o);
	other_count_switch(i);
	/* The saved choice wins over the configuration at the next start. */
	check(rcd_stop(&E.d, WAIT_MS) == 0, "ringcastd did not stop cleanly");
	e2e_up("devjack", extra);
	check(strcmp(status_source(), "tone") == 0 &&
	    e2e_status_int("channels", NULL) == E2E_NCH,
	    "after a restart: %s, %lld channels", status_source(),
	    e2e_status_int("channels", NULL));
}

Test(devices, auto_takes_the_interface_then_the_tone)
{
	const char *extra[] = { "--source", "auto", "--channels", "max", NULL };

	jack_up(4);
	e2e_up("devauto", extra);
	check(strcmp(status_source(), "portaudio:system") == 0 &&
	    e2e_status_int("channels", NULL) == 4, "with JACK: %s, %lld "
	    "channels", status_source(), e2e_status_int("channels", NULL));
	e2e_listen("steady-1", NULL, 4);
	check(rcd_stop(&E.d, WAIT_MS) == 0, "ringcastd did not stop cleanly");
	jack_stop(&J);
	jack_env_none();
	e2e_up("devauto", extra);
	check(strcmp(status_source(), "tone") == 0 &&
	    e2e_status_int("channels", NULL) == E2E_NCH, "without: %s, %lld "
	    "channels", status_source(), e2e_status_int("channels", NULL));
}

/* Bodies the broker refuses, and a list where there is no device at all. */
Test(devices, bad_requests_and_no_devices)
{
	static const char *const bad[] = {
		"{\"source\": 5}",
		"{\"source\": \"tone\", \"channels\": 0}",
		"{\"source\": \"tone\", \"channels\": \"all\"}",
		"{\"channels\": 2}",
		"{\"source\": \"mp3:x\"}",
		"{\"source\": \"\"}",
	};
	json_t *o;
	size_t k;
	int st;

	jack_env_none();
	e2e_up("devbad", NULL);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		st = e2e_api("POST", "/api/capture", bad[k], &o);
		check(st == 400 && v2_str(o, "error")[0] != '\0', "%s: %d",
		    bad[k], st);
		json_decref(o);
	}
	o = http_json(E.d.http_port, "GET", "/api/devices", NULL, &st);
	check(st == 200 && json_is_array(json_object_get(o, "devices")) &&
	    strcmp(v2_str(json_object_get(o, "current"), "source"), "tone") ==
	    0, "GET /api/devices: %d", st);
	json_decref(o);
}
