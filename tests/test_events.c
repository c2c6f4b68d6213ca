/* test_events.c — /api/events and the web UI's API end to end against the real ringcastd. */
#define _GNU_SOURCE
#include <sys/mman.h>

#include <signal.h>

#include <criterion/criterion.h>

#include "tests/v2client.h"

#define READY_MS	30000	/* generous: a noisy, shared 2-core VM */
#define WAIT_MS		10000
#define REQ_MS		2000	/* --request-ms: a stalled browser's limit */

static struct rcd D;
static struct v2c C = { .fd = -1 };
static struct v2r R;

/* A subscriber: a raw socket and what it has read but not parsed. */
struct sse {
	int	 fd;
	char	 buf[256 * 1024];
	size_t	 len;
};

static struct sse S1 = { .fd = -1 }, S2 = { .fd = -1 };

#define check(cond, ...)	rcd_check(&D, cond, __VA_ARGS__)

static void
setup(void)
{
	memset(&D, 0, sizeof(D));
	C.fd = S1.fd = S2.fd = -1;
}

static void
teardown(void)
{
	v2r_stop(&R);
	v2_close(&C);
	if (S1.fd >= 0)
		close(S1.fd);
	if (S2.fd >= 0)
		close(S2.fd);
	rcd_cleanup(&D);
}

TestSuite(events, .init = setup, .fini = teardown, .timeout = 120);

static void
up(const char *tag, const char *const *extra)
{
	if (D.dir[0] == '\0')
		cr_assert_eq(rcd_mkdir(&D, tag), 0, "temp dir");
	check(rcd_start(&D, extra, READY_MS) == 0, "ringcastd not ready");
}

static void
sse_open(struct sse *s, int rcvbuf)
{
	static const char req[] = "GET /api/events HTTP/1.1\r\nHost: x\r\n"
	    "Accept: text/event-stream\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };

	s->len = 0;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(D.http_port);
	cr_assert((s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >=
	    0);
	if (rcvbuf > 0)
		setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
		    sizeof(rcvbuf));
	cr_assert(connect(s->fd, (struct sockaddr *)&a, sizeof(a)) == 0);
	cr_assert(v2_write_all(s->fd, req, sizeof(req) - 1) == 0);
}

/*
 * The next event called name (others are skipped), its data as JSON; NULL
 * on timeout or close.  *eof tells a close apart.
 */
static json_t *
sse_next(struct sse *s, const char *name, int timeout_ms, bool *eof)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	char *msg, *ev, *data, *sep;
	json_t *o;
	ssize_t r;

	if (eof != NULL)
		*eof = false;
	for (;;) {
		s->buf[s->len] = '\0';
		while ((sep = strstr(s->buf, "\n\n")) != NULL) {
			*sep = '\0';
			msg = s->buf;
			ev = strstr(msg, "event: ");
			data = strstr(msg, "data: ");
			o = NULL;
			if (ev != NULL && data != NULL &&
			    strncmp(ev + 7, name, strlen(name)) == 0 &&
			    ev[7 + strlen(name)] == '\n')
				o = json_loads(data + 6, 0, NULL);
			s->len -= (size_t)(sep + 2 - s->buf);
			memmove(s->buf, sep + 2, s->len + 1);
			if (o != NULL)
				return o;
		}
		if (tu_now_ms() >= end || poll(&pfd, 1, (int)(end -
		    tu_now_ms())) != 1)
			return NULL;
		r = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
		if (r <= 0) {
			if (eof != NULL)
				*eof = true;
			return NULL;
		}
		s->len += (size_t)r;
	}
}

static json_t *
expect_event(struct sse *s, const char *name)
{
	json_t *o = sse_next(s, name, WAIT_MS, NULL);

	check(o != NULL, "no %s event", name);
	return o;
}

static const char *
str(const json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v ? v : "";
}

/* A v2 listener on channels 0..3 that keeps reading. */
static void
listener(const char *id)
{
	json_t *o;

	check(v2_open(&C, D.native_port, id, NULL, WAIT_MS) == 0, "connect");
	json_decref(v2_recv_ctl(&C, "mix_state", WAIT_MS, NULL));
	check(v2_send_ctl(&C, json_pack("{s:s, s:[iiii]}", "type",
	    "update_mix", "channels", 0, 1, 2, 3)) == 0, "subscribe");
	o = v2_recv_ctl(&C, "mix_state", WAIT_MS, NULL);
	check(o != NULL, "mix_state after subscribing");
	json_decref(o);
}

Test(events, a_listener_s_life_in_events)
{
	json_t *o;
	char *r;
	int st;

	up("life", NULL);
	sse_open(&S1, 0);
	/* The stream is live once the first meters arrive. */
	json_decref(expect_event(&S1, "meters"));
	check(v2_open(&C, D.native_port, "phone-1", NULL, WAIT_MS) == 0,
	    "connect");
	o = expect_event(&S1, "client_connected");
	check(strcmp(str(o, "id"), "phone-1") == 0 &&
	    json_is_true(json_object_get(o, "connected")) &&
	    strcmp(str(o, "kind"), "native") == 0, "client_connected: %s",
	    json_dumps(o, 0));
	json_decref(o);
	json_decref(v2_recv_ctl(&C, "mix_state", WAIT_MS, NULL));
	/* From the web... */
	st = http_req(D.http_port, "POST", "/api/clients/phone-1/mix",
	    "{\"channels\":[2],\"gains\":{\"2\":0.5}}", &r, WAIT_MS);
	free(r);
	check(st == 200, "POST mix: %d", st);
	o = expect_event(&S1, "mix_changed");
	check(strcmp(str(o, "source"), "web") == 0 &&
	    strcmp(str(o, "id"), "phone-1") == 0, "mix_changed (web): %s",
	    json_dumps(o, 0));
	json_decref(o);
	o = v2_recv_ctl(&C, "mix_state", WAIT_MS, NULL);
	check(o != NULL && json_array_size(json_object_get(o, "channels")) ==
	    1, "the client did not get the web's mix");
	json_decref(o);
	/* ...and from the client. */
	check(v2_send_ctl(&C, json_pack("{s:s, s:[ii]}", "type", "update_mix",
	    "channels", 0, 1)) == 0, "update_mix");
	o = expect_event(&S1, "mix_changed");
	check(strcmp(str(o, "source"), "client") == 0, "mix_changed (client)"
	    ": %s", json_dumps(o, 0));
	json_decref(o);
	v2_close(&C);
	o = expect_event(&S1, "client_disconnected");
	/* Unread audio in our buffer turns the close into a reset. */
	check(strcmp(str(o, "id"), "phone-1") == 0 &&
	    (strcmp(str(o, "reason"), "closed") == 0 ||
	    strcmp(str(o, "reason"), "reset") == 0), "client_disconnected: %s",
	    json_dumps(o, 0));
	json_decref(o);
}

Test(events, meters_at_10_to_20_hz_with_every_channel)
{
	uint64_t start, ms;
	json_t *o, *peak;
	int n = 0;
	size_t i;

	up("meters", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	start = tu_now_ms();
	while (tu_now_ms() - start < 3000) {
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
	ms = tu_now_ms() - start;
	cr_log_info("meters: %d in %llu ms (%.1f Hz)", n,
	    (unsigned long long)ms, n * 1000.0 / ms);
	/* 15 Hz nominal; a loaded VM may delay the timer, never speed it up. */
	check(n * 1000.0 / ms >= 5 && n * 1000.0 / ms <= 20.5, "meters at "
	    "%.1f Hz", n * 1000.0 / ms);
}

Test(events, post_mix_meters_of_a_server_mix)
{
	json_t *hello, *o, *lv;
	char *text;
	int i;

	up("postmix", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	hello = v2_hello("mixer-1", NULL);
	json_object_set_new(hello, "server_mix", json_true());
	check(v2_open_hello(&C, D.native_port, hello, WAIT_MS) == 0, "connect");
	json_decref(v2_recv_ctl(&C, "mix_state", WAIT_MS, NULL));
	check(v2_send_ctl(&C, json_pack("{s:s, s:[ii]}", "type", "update_mix",
	    "channels", 0, 1)) == 0, "subscribe");
	cr_assert_eq(v2r_start(&R, &C), 0);
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
	json_t *o, *names;
	char *r;
	int st;

	up("names", extra);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	listener("drummer");
	o = http_json(D.http_port, "GET", "/api/status", NULL, NULL);
	names = json_object_get(o, "channel_names");
	check(json_array_size(names) == 8 &&
	    strcmp(json_string_value(json_array_get(names, 1)), "Snare") == 0 &&
	    strcmp(json_string_value(json_array_get(names, 3)), "Ch 4") == 0,
	    "channel names from the config: %s", json_dumps(names, 0));
	json_decref(o);
	st = http_req(D.http_port, "POST", "/api/channels",
	    "{\"channel\":3,\"name\":\"Bass DI\"}", &r, WAIT_MS);
	free(r);
	check(st == 200, "POST /api/channels: %d", st);
	o = expect_event(&S1, "channels");
	check(strcmp(json_string_value(json_array_get(json_object_get(o,
	    "channel_names"), 3)), "Bass DI") == 0, "channels event");
	json_decref(o);
	st = http_req(D.http_port, "POST", "/api/clients/drummer",
	    "{\"name\":\"Drums IEM\",\"order\":2}", &r, WAIT_MS);
	free(r);
	check(st == 200, "POST /api/clients/drummer: %d", st);
	o = expect_event(&S1, "client_updated");
	check(strcmp(str(o, "name"), "Drums IEM") == 0 &&
	    json_integer_value(json_object_get(o, "order")) == 2,
	    "client_updated: %s", json_dumps(o, 0));
	json_decref(o);
	/* Refusals. */
	check(http_req(D.http_port, "POST", "/api/clients/nobody",
	    "{\"name\":\"x\"}", &r, WAIT_MS) == 404, "unknown client");
	free(r);
	check(http_req(D.http_port, "POST", "/api/clients/drummer",
	    "{\"name\":\"\"}", &r, WAIT_MS) == 400, "empty name");
	free(r);
	check(http_req(D.http_port, "POST", "/api/channels",
	    "{\"channel\":99,\"name\":\"x\"}", &r, WAIT_MS) == 400,
	    "channel out of range");
	free(r);
	/* A restart keeps all of it. */
	v2_close(&C);
	close(S1.fd);
	S1.fd = -1;
	check(rcd_stop(&D, 10000) == 0, "ringcastd stop");
	up("names", extra);
	o = http_json(D.http_port, "GET", "/api/clients/drummer", NULL, NULL);
	check(o != NULL && strcmp(str(o, "name"), "Drums IEM") == 0 &&
	    json_integer_value(json_object_get(o, "order")) == 2,
	    "after a restart: %s", o ? json_dumps(o, 0) : "none");
	json_decref(o);
	o = http_json(D.http_port, "GET", "/api/status", NULL, NULL);
	names = json_object_get(o, "channel_names");
	check(strcmp(json_string_value(json_array_get(names, 3)), "Bass DI") ==
	    0 && strcmp(json_string_value(json_array_get(names, 0)), "Kick") ==
	    0, "channel names after a restart: %s", json_dumps(names, 0));
	json_decref(o);
}

Test(events, capture_killed_and_back)
{
	json_t *o, *st;
	pid_t pid;
	bool seen_down = false;
	int i;

	up("capture", NULL);
	sse_open(&S1, 0);
	json_decref(expect_event(&S1, "meters"));
	st = http_json(D.http_port, "GET", "/api/status", NULL, NULL);
	pid = (pid_t)json_integer_value(json_object_get(json_object_get(st,
	    "capture"), "pid"));
	json_decref(st);
	check(pid > 0 && kill(pid, SIGKILL) == 0, "kill capture");
	for (i = 0; i < 200; i++) {
		o = expect_event(&S1, "capture");
		if (strcmp(str(o, "state"), "running") != 0)
			seen_down = true;
		if (seen_down && strcmp(str(o, "state"), "running") == 0 &&
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
	const char *const extra[] = { "--channels", "64", "--request-ms",
	    "2000", NULL };
	uint64_t start;
	json_t *o;
	bool eof;
	int n = 0;

	up("stall", extra);
	listener("steady");
	cr_assert_eq(v2r_start(&R, &C), 0);
	sse_open(&S2, 2048);	/* never reads */
	sse_open(&S1, 0);
	/* The reading browser keeps getting meters throughout. */
	start = tu_now_ms();
	while (tu_now_ms() - start < 12000) {
		o = expect_event(&S1, "meters");
		json_decref(o);
		n++;
	}
	cr_log_info("reading browser: %d meters in 12 s beside a stalled one",
	    n);
	check(n >= 60, "the reading browser got %d meters in 12 s", n);
	/* Drain the stalled one now: it must end, not keep streaming. */
	while ((o = sse_next(&S2, "no-such-event", 5000, &eof)) != NULL)
		json_decref(o);
	check(eof, "the stalled browser was not closed");
	check(v2r_wait(&R, 50, WAIT_MS), "steady listener stalled");
	check(atomic_load(&R.gaps) == 0 && atomic_load(&R.backwards) == 0,
	    "steady listener lost periods");
}
