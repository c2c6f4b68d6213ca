/* supervisor_upgrade.c — SIGUSR2: a new ringcastd in our place, then a new broker and a new capture. */
/*
 * We exec the ringcastd at the path we were started from (a newly
 * installed binary), keeping only the ring's lock across the exec
 * (RINGCAST_UPGRADE says which descriptor, and the version we were).  Our
 * children see their channels end, as after a crash, and the new image
 * adopts them (supervisor_adopt.c).  Then, one at a time:
 *   - a new broker on the same listening sockets; once it is ready the old
 *     one retires (accepts no more, finishes what it holds, exits);
 *   - a new capture (--handover) that opens its source and maps the ring
 *     but writes nothing; once it is ready the old one stops publishing
 *     and says which period comes next and when (MSG_CAPTURE_RETIRED),
 *     and the new one goes on from there (MSG_CAPTURE_TAKEOVER): one
 *     sequence, one epoch, no period lost for the tone and WAV sources.
 * Sessions keep their old binary until their listener leaves.  The
 * channel's MSG_VERSION decides what can be adopted at all.
 */
#define _GNU_SOURCE	/* close_range */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "supervisor/supervisor.h"

#define UPGRADE_ENV		"RINGCAST_UPGRADE"
#define UPGRADE_RETIRE_MS	5000	/* an old broker's time to finish */

static char self[PATH_MAX];
static char **args;

static struct {
	const char	*state;		/* "none", "running", "done", "failed" */
	char		 from[32];	/* the version we replaced */
	char		 message[160];
	struct child	*old_broker;	/* to retire once the new one is ready */
	struct child	*old_capture;	/* to hand the ring over */
	bool		 captured;	/* the capture step was started */
} up = { .state = "none" };

static void
say(const char *state, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(const char *state, const char *fmt, ...)
{
	va_list ap;

	up.state = state;
	va_start(ap, fmt);
	vsnprintf(up.message, sizeof(up.message), fmt, ap);
	va_end(ap);
	log_info("upgrade: %s", up.message);
}

int
upgrade_init(int argc, char *argv[], int *lock_fd)
{
	const char *env = getenv(UPGRADE_ENV);
	ssize_t n;
	int fd;

	(void)argc;
	args = argv;
	/* The path, not /proc/self/exe: a new binary may be installed there. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0)
		self[n] = '\0';
	if (n > 10 && strcmp(self + n - 10, " (deleted)") == 0)
		self[n - 10] = '\0';
	*lock_fd = -1;
	if (env == NULL)
		return 0;
	if (sscanf(env, "lock=%d from=%31s", &fd, up.from) != 2 || fd < 3 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		log_warnx("%s=%s: not ours to use", UPGRADE_ENV, env);
		unsetenv(UPGRADE_ENV);
		return 0;
	}
	unsetenv(UPGRADE_ENV);
	*lock_fd = fd;
	up.state = "running";
	snprintf(up.message, sizeof(up.message), "from %s", up.from);
	return 1;
}

void
upgrade_exec(void)
{
	char env[96];

	if (strcmp(up.state, "running") == 0) {
		log_warnx("upgrade: one is under way");
		return;
	}
	if (access(self, X_OK) == -1) {
		say("failed", "%s: %s", self, strerror(errno));
		return;
	}
	log_info("upgrade: ringcastd %s makes way for %s", RINGCAST_VERSION,
	    self);
	snprintf(env, sizeof(env), "lock=%d from=%s", sv.ring_lock,
	    RINGCAST_VERSION);
	/* LMDB is reopened by the new image; nothing else crosses. */
	book_flush();
	state_close(sv.state);
	sv.state = NULL;
	if (setenv(UPGRADE_ENV, env, 1) == -1 ||
	    close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == -1 ||
	    fcntl(sv.ring_lock, F_SETFD, 0) == -1)
		fatal("upgrade");
	execv(self, args);
	/* Still us: all of it goes on. */
	fcntl(sv.ring_lock, F_SETFD, FD_CLOEXEC);
	unsetenv(UPGRADE_ENV);
	say("failed", "exec %s: %s", self, strerror(errno));
	if (super_state_reopen() == -1)
		fatalx("upgrade: the state cannot be reopened");
}

bool
upgrade_handover(void)
{
	return up.old_capture != NULL;
}

/* The new capture is ready to take over: the old one stops first. */
static void
capture_step(void)
{
	struct msg_retire r = { 0 };

	if (up.old_capture == NULL || sv.capture.child == NULL ||
	    !sv.capture.child->ready)
		return;
	if (child_send(up.old_capture, MSG_CAPTURE_RETIRE, &r, sizeof(r),
	    NULL, 0) == -1) {
		log_warn("upgrade: MSG_CAPTURE_RETIRE");
		child_end(up.old_capture);
	}
}

static void
capture_begin(void)
{
	struct child *old = sv.capture.child;

	up.captured = true;
	if (old == NULL) {
		say("done", "from %s: no capture to replace", up.from);
		return;
	}
	old->retiring = true;
	up.old_capture = old;
	sv.capture.child = NULL;
	service_start(&sv.capture);	/* with --handover: upgrade_handover */
}

/* After adoption: the broker first. */
void
upgrade_start(void)
{
	struct child *old = sv.broker.child;

	if (strcmp(up.state, "running") != 0)
		return;
	if (old == NULL) {
		capture_begin();
		return;
	}
	old->retiring = true;
	up.old_broker = old;
	sv.broker.child = NULL;
	service_start(&sv.broker);
}

void
upgrade_child_ready(struct child *c)
{
	struct msg_retire r = { UPGRADE_RETIRE_MS };

	if (c->kind == CHILD_BROKER && up.old_broker != NULL) {
		if (child_send(up.old_broker, MSG_BROKER_RETIRE, &r, sizeof(r),
		    NULL, 0) == -1) {
			log_warn("upgrade: MSG_BROKER_RETIRE");
			child_end(up.old_broker);
		}
		up.old_broker = NULL;
		if (!up.captured)
			capture_begin();
	} else if (c->kind == CHILD_CAPTURE && up.old_capture != NULL)
		capture_step();
}

/* The old capture stopped at h: the new one goes on from there. */
void
upgrade_capture_retired(struct child *c, const struct msg_capture_handover *h)
{
	if (c != up.old_capture || sv.capture.child == NULL)
		return;
	if (child_send(sv.capture.child, MSG_CAPTURE_TAKEOVER, h, sizeof(*h),
	    NULL, 0) == -1) {
		log_warn("upgrade: MSG_CAPTURE_TAKEOVER");
		return;
	}
	up.old_capture = NULL;
	say("done", "from %s to %s: ringcastd, broker and capture replaced; "
	    "sessions keep theirs until their listeners leave", up.from,
	    RINGCAST_VERSION);
}

/*
 * A child of the upgrade ended.  The old capture gone without a handover
 * (it died): the new one takes over from where the ring stands.
 */
void
upgrade_child_gone(struct child *c)
{
	struct msg_capture_handover h;

	if (c == up.old_broker)
		up.old_broker = NULL;
	if (c != up.old_capture)
		return;
	up.old_capture = NULL;
	if (sv.capture.child == NULL)
		return;
	h.seq = atomic_load(&ring_reader_header(sv.ring)->write_seq);
	h.due_ns = clock_mono_ns();
	(void)child_send(sv.capture.child, MSG_CAPTURE_TAKEOVER, &h,
	    sizeof(h), NULL, 0);
	say("done", "from %s: the old capture ended before its handover",
	    up.from);
}

json_t *
upgrade_json(void)
{
	return json_pack("{s:s, s:s, s:s}", "state", up.state, "from",
	    up.from, "message", up.message);
}
