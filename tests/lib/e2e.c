/* e2e.c — test library: the fixture the end-to-end tests share. */
#include <string.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"

struct e2e E;

void
e2e_setup(void)
{
	memset(&E.d, 0, sizeof(E.d));
	for (int i = 0; i < E2E_NCLIENT; i++)
		E.c[i] = (struct v2c){ .fd = -1 };
	memset(&E.s, 0, sizeof(E.s));
}

void
e2e_teardown(void)
{
	steady_stop(&E.s);
	for (int i = 0; i < E2E_NCLIENT; i++)
		v2_close(&E.c[i]);
	rcd_cleanup(&E.d);
}

void
e2e_up(const char *tag, const char *const *extra)
{
	if (E.d.dir[0] == '\0')
		cr_assert_eq(rcd_init(&E.d, tag), 0, "temp dir");
	e2e_check(rcd_start(&E.d, extra, E2E_READY_MS) == 0, "ringcastd not "
	    "ready within %d ms", E2E_READY_MS);
}

json_t *
e2e_ctl(struct v2c *c, const char *type, bool *audio_seen)
{
	json_t *o = v2_recv_ctl(c, type, E2E_WAIT_MS, audio_seen);

	e2e_check(o != NULL, "no %s", type);
	return o;
}

json_t *
e2e_open(struct v2c *c, const char *id, json_t *extra)
{
	json_t *hello = v2_hello(id, NULL), *hr;

	if (extra != NULL)
		json_object_update_new(hello, extra);
	e2e_check(v2_open(c, E.d.native_port, hello, E2E_WAIT_MS) == 0,
	    "connect %s", id);
	hr = e2e_ctl(c, "handshake_response", NULL);
	json_decref(e2e_ctl(c, "mix_state", NULL));
	return hr;
}

json_t *
e2e_change(struct v2c *c, json_t *fields)
{
	json_object_set_new(fields, "type", json_string("update_mix"));
	e2e_check(v2_send_ctl(c->fd, fields) == 0, "update_mix");
	return e2e_ctl(c, "mix_state", NULL);
}

void
e2e_mix(const json_t *o, struct mix *m)
{
	char err[128] = "";

	e2e_check(mix_from_json(m, E2E_NCH, o, err, sizeof(err)) == 0,
	    "not a mix: %s", err);
}

int
e2e_listen(const char *id, json_t *extra, int nch)
{
	struct v2c c = { .fd = -1 };
	int i;

	if (!E.s.poller.running)
		cr_assert_eq(steady_start(&E.s), 0, "steady reader");
	json_decref(e2e_open(&c, id, extra));
	json_decref(e2e_change(&c, v2_channels(nch)));
	cr_assert((i = steady_add(&E.s, &c)) >= 0, "steady listener %s", id);
	e2e_check(steady_wait(&E.s, 50, E2E_WAIT_MS), "listener %s gets no "
	    "audio", id);
	return i;
}

void
e2e_flowing(uint64_t n)
{
	e2e_check(steady_wait(&E.s, n, E2E_WAIT_MS), "a steady listener "
	    "stalled or lost its stream");
}

void
e2e_steady_clean(const char *when)
{
	struct steady_figures f;

	e2e_flowing(50);
	steady_snapshot(&E.s, &f);
	cr_log_info("%s: steady listeners %llu packets, %llu lost, worst gap "
	    "%.1f ms", when, (unsigned long long)f.packets,
	    (unsigned long long)f.lost, f.max_gap_ns / 1e6);
	e2e_check(f.failed == 0, "%s: %d steady listeners lost their stream",
	    when, f.failed);
	e2e_check(f.lost == 0 && f.backwards == 0, "%s: steady listeners lost "
	    "%llu periods, %llu went back", when, (unsigned long long)f.lost,
	    (unsigned long long)f.backwards);
}

json_t *
e2e_status(void)
{
	json_t *o = http_get(E.d.http_port, "/api/status");

	e2e_check(o != NULL, "GET /api/status");
	return o;
}

long long
e2e_status_int(const char *a, const char *b)
{
	json_t *o = e2e_status(), *v = json_object_get(o, a);
	long long r;

	if (b != NULL)
		v = json_object_get(v, b);
	r = json_integer_value(v);
	json_decref(o);
	return r;
}

pid_t
e2e_child_pid(const char *which)
{
	pid_t pid = http_child_pid(E.d.http_port, which);

	e2e_check(pid > 0, "no %s pid in /api/status", which);
	return pid;
}

pid_t
e2e_session_pid(const char *id)
{
	pid_t pid = http_session_pid(E.d.http_port, id);

	e2e_check(pid > 0, "no session pid for %s", id);
	return pid;
}

int
e2e_api(const char *method, const char *path, const char *body, json_t **out)
{
	json_t *o;
	int st;

	o = http_json(E.d.http_port, method, path, body, &st);
	if (out != NULL)
		*out = o;
	else
		json_decref(o);
	return st;
}

json_t *
e2e_ended(const char *id)
{
	uint64_t end = clock_mono_ms() + E2E_WAIT_MS;
	json_t *e;

	while (clock_mono_ms() < end) {
		e = http_client(E.d.http_port, id);
		if (e != NULL && json_is_false(json_object_get(e, "connected")))
			return e;
		json_decref(e);
		/* The supervisor logs each end as it records it. */
		(void)rcd_log_wait(&E.d, "ended:", 200);
	}
	return NULL;
}
