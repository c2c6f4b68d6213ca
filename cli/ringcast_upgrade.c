/* ringcast_upgrade.c — `ringcast upgrade`: the running ringcastd replaced by the installed one, and how it went. */
#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/ringcast.h"
#include "shared/clock.h"
#include "shared/opt.h"

#define UPGRADE_WAIT_S	30
#define POLL_MS		100

struct upgrade_opts {
	const char	*http;
	int		 wait_s;
};

static const char about[] = "Tells the ringcastd that answers at --http (default " CLI_HTTP_DEFAULT
    ") to re-execute\nthe binary installed at its path (SIGUSR2), waits up "
    "to --wait seconds (default 30)\nfor the new broker and capture, and "
    "says what runs now.  Listeners keep\nstreaming throughout.  Needs the "
    "daemon's user or root.\n";

/* /api/status as JSON; NULL after saying why. */
static json_t *
status(const char *hp)
{
	struct http_reply r;
	json_t *o = NULL;

	if (http_request(hp, "GET", "/api/status", NULL, &r) == -1)
		return NULL;
	if (r.status == 0)
		warnx("nothing answers at %s: is ringcastd running?", hp);
	else if (r.status != 200)
		warnx("%s: /api/status answered %d", hp, r.status);
	else if ((o = json_loads(r.body, 0, NULL)) == NULL)
		warnx("%s: /api/status is not JSON", hp);
	free(r.body);
	return o;
}

static const char *
str(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);
	const char *s;

	if (b != NULL)
		v = json_object_get(v, b);
	s = json_string_value(v);
	return s != NULL ? s : "?";
}

static json_int_t
num(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	return json_integer_value(b != NULL ? json_object_get(v, b) : v);
}

/* Done: broker and capture replaced and the state says so; or it failed. */
static int
verdict(const json_t *before, const json_t *now)
{
	const char *st = str(now, "upgrade", "state");

	if (strcmp(st, "failed") == 0 && strcmp(str(now, "upgrade", "message"),
	    str(before, "upgrade", "message")) != 0)
		return -1;
	return strcmp(st, "done") == 0 &&
	    num(now, "broker", "pid") != num(before, "broker", "pid") &&
	    num(now, "capture", "pid") != num(before, "capture", "pid");
}

int
cmd_upgrade(int argc, char **argv)
{
	static const struct opt_spec specs[] = {
		{ "http", OPT_TEXT, offsetof(struct upgrade_opts, http), 0, 0,
		    NULL, "HOST:PORT" },
		{ "wait", OPT_INT, offsetof(struct upgrade_opts, wait_s), 1,
		    3600, NULL, "S" },
	};
	struct upgrade_opts o = { CLI_HTTP_DEFAULT, UPGRADE_WAIT_S };
	struct pollfd none = { .fd = -1 };
	json_t *before, *now = NULL;
	uint64_t end;
	pid_t pid;
	int v = 0;

	argv[0] = (char *)(uintptr_t)"ringcast upgrade";	/* in the usage */
	opt_parse(argc, argv, specs, sizeof(specs) / sizeof(specs[0]), &o,
	    about);
	if ((before = status(o.http)) == NULL)
		return CLI_ERR;
	pid = (pid_t)num(before, "pid", NULL);
	if (pid <= 1 || kill(pid, SIGUSR2) == -1) {
		warn("ringcastd pid %d: cannot signal it%s", (int)pid,
		    errno == EPERM ? " (run as root or as its user)" : "");
		json_decref(before);
		return CLI_ERR;
	}
	printf("ringcastd %s (pid %d): upgrading\n", str(before, "version",
	    NULL), (int)pid);
	end = clock_mono_ms() + (uint64_t)o.wait_s * 1000;
	while (v == 0 && clock_mono_ms() < end) {
		(void)poll(&none, 0, POLL_MS);	/* the daemon's pace, not ours */
		json_decref(now);
		if ((now = status(o.http)) != NULL)
			v = verdict(before, now);
	}
	if (v == 1)
		printf("ringcastd %s -> %s, broker %s -> %s, capture %s -> %s; "
		    "%lld sessions keep their binary until their listeners "
		    "leave\n", str(before, "version", NULL), str(now, "version",
		    NULL), str(before, "broker", "version"), str(now, "broker",
		    "version"), str(before, "capture", "version"), str(now,
		    "capture", "version"), num(now, "sessions", NULL));
	else if (v == -1)
		warnx("upgrade failed: %s", str(now, "upgrade", "message"));
	else
		warnx("upgrade not done within %d s: %s", o.wait_s,
		    now ? str(now, "upgrade", "message") : "no answer");
	json_decref(before);
	json_decref(now);
	return v == 1 ? CLI_OK : CLI_ERR;
}
