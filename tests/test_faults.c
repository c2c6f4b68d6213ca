/* test_faults.c — the channel-fault policy seen from the supervisor: a child that sends what it may not is ended. */
#define _GNU_SOURCE

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "shared/msg.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

TestSuite(faults, .init = e2e_setup, .fini = e2e_teardown, .timeout = 240);

static const char *const probes[] = { "--test-probes", NULL };

/* Have target send the supervisor a message of type t (zeroed contents). */
static void
send_probe(const char *target, uint32_t t)
{
	char body[256];
	json_t *o;
	int st;

	snprintf(body, sizeof(body), "{\"target\":\"%s\",\"send\":\"%s\"}",
	    target, msg_name(t));
	st = e2e_api("POST", "/api/test/probe", body, &o);
	json_decref(o);
	/* A probed broker may be ended before its answer leaves. */
	check(st == 202 || (st == -1 && strcmp(target, "broker") == 0),
	    "probe %s %s: %d", target, msg_name(t), st);
}

/* ringcast_channel_faults_total{child="kind"}. */
static long long
faults(const char *kind)
{
	char *resp = NULL, want[80], *p;
	long long n = -1;

	snprintf(want, sizeof(want), "ringcast_channel_faults_total{child=\"%s\"} ",
	    kind);
	if (http_req(E.d.http_port, "GET", "/metrics", NULL, &resp,
	    WAIT_MS) == 200 && (p = strstr(resp, want)) != NULL)
		n = atoll(p + strlen(want));
	free(resp);
	return n;
}

/* Every type a session may not send ends that session, reason "protocol". */
Test(faults, a_session_that_sends_what_it_may_not_is_ended)
{
	struct v2c c = { .fd = -1 };
	char id[64], target[80];
	json_t *e;
	uint32_t t;
	long long n = 0;

	e2e_up("sessfault", probes);
	e2e_listen("steady-1", NULL, 2);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		/* An adoption's first word is for a rendezvous alone. */
		if (msg_allowed(t, ROLE_SESSION, ROLE_SUPERVISOR) &&
		    t != MSG_ADOPT_SESSION)
			continue;
		snprintf(id, sizeof(id), "fault-%s", msg_name(t));
		check(v2_join(&c, E.d.native_port, id, NULL, WAIT_MS) == 0,
		    "connect %s", id);
		snprintf(target, sizeof(target), "session:%s", id);
		send_probe(target, t);
		check(v2_wait_eof(&c, WAIT_MS) == V2_EOF, "%s: the session "
		    "goes on", msg_name(t));
		v2_close(&c);
		e = e2e_ended(id);
		check(e != NULL && strcmp(v2_str(e, "last_exit"), "protocol") ==
		    0, "%s: last_exit %s", msg_name(t), e ? v2_str(e,
		    "last_exit") : "(not ended)");
		json_decref(e);
		n++;
	}
	check(faults("sessiond") == n, "%lld session faults counted, %lld "
	    "sent", faults("sessiond"), n);
	e2e_steady_clean("while sessions broke the protocol");
}

/* kind runs again, ready, under another pid than before (within 30 s). */
static bool
serving_again(const char *kind, pid_t before)
{
	uint64_t end = clock_mono_ms() + 30000;
	json_t *o, *k;
	bool up = false;

	while (!up && clock_mono_ms() < end) {
		o = e2e_status();
		k = json_object_get(o, kind);
		up = json_integer_value(json_object_get(k, "pid")) != before &&
		    json_is_true(json_object_get(k, "ready"));
		json_decref(o);
		if (!up)
			(void)rcd_log_wait(&E.d, "ready (restart", 500);
	}
	return up;
}

/*
 * The same code reads every child's channel; broker and capture are
 * restarted for it, each with one type of the session's and two of the
 * supervisor's own (one that carries a descriptor: the capture's ring).
 */
Test(faults, broker_and_capture_that_send_what_they_may_not_are_restarted)
{
	static const char *const kinds[] = { "broker", "capture" };
	static const uint32_t types[] = { MSG_SESSION_EXIT, MSG_PROBE,
	    MSG_CAPTURE_RING };
	const size_t ntypes = sizeof(types) / sizeof(types[0]);
	size_t k, i;
	pid_t pid;
	long long n;

	e2e_up("svcfault", probes);
	e2e_listen("steady-1", NULL, 2);
	for (k = 0; k < 2; k++) {
		n = faults(kinds[k]);
		for (i = 0; i < ntypes; i++) {
			pid = e2e_child_pid(kinds[k]);
			send_probe(kinds[k], types[i]);
			check(rcd_log_wait(&E.d, "channel fault", WAIT_MS) == 1,
			    "no channel fault logged");
			/* A new one serves again (restarts back off a little). */
			check(serving_again(kinds[k], pid), "%s was not restarted",
			    kinds[k]);
		}
		check(faults(kinds[k]) == n + (long long)ntypes, "%s: %lld "
		    "faults counted", kinds[k], faults(kinds[k]) - n);
	}
	/* The steady listener saw capture restart: audio again, no reconnect. */
	steady_reset(&E.s);
	check(steady_wait(&E.s, 300, WAIT_MS), "no audio after the restarts");
}
