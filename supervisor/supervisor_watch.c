/* supervisor_watch.c — the capture watchdog: the ring the sessions read must advance. */
/*
 * "running" must mean the sessions see new periods.  A timer in the
 * supervisor's loop reads the ring's write sequence (the supervisor's own
 * read-only mapping) and notes, on its own clock, when it last moved.
 * While capture is ready and the sequence stands still for longer than
 * WATCH_STALLED_MS (or 4 periods), capture is `stalled`: said in the log,
 * in /api/status and the `capture` event, counted in /metrics.  After
 * capture-stall-ms it is killed and restarted like a crashed one: a hung
 * driver or thread must not silence a show until someone notices.  The
 * clock is ours, not the writer's timestamps, and a late tick of our own
 * loop sees a sequence that moved: a busy supervisor is no stalled capture.
 */
#include <signal.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/ring.h"
#include "supervisor/supervisor.h"

#define WATCH_TICK_MS		50
#define WATCH_STALLED_MS	100

static struct {
	struct event	*tick;
	pid_t		 pid;		/* the capture being watched */
	uint64_t	 seq;		/* its last write sequence seen */
	uint64_t	 moved_ms;	/* when it last moved */
	bool		 killed;
} w;

static uint64_t
stalled_after_ms(void)
{
	uint64_t four = 4000ull * sv.cfg.period / sv.cfg.rate;

	return four > WATCH_STALLED_MS ? four : WATCH_STALLED_MS;
}

static void
stall_begin(uint64_t age)
{
	sv.cap.stalled = true;
	sv.cap.stalls++;
	log_warnx("capture[%d]: stalled: the ring has not advanced for %llu "
	    "ms", (int)w.pid, (unsigned long long)age);
}

static void
stall_end(void)
{
	if (sv.cap.stalled && !w.killed)
		log_info("capture[%d]: the ring advances again", (int)w.pid);
	sv.cap.stalled = false;
}

static void
watch(uint64_t now)
{
	struct child *c = sv.capture.child;
	uint64_t seq, age;

	if (c == NULL || !c->ready || c->pid != w.pid) {
		stall_end();
		w.pid = c != NULL && c->ready ? c->pid : 0;
		w.seq = atomic_load(&ring_reader_header(sv.ring)->write_seq);
		w.moved_ms = now;
		w.killed = false;
		return;
	}
	seq = atomic_load(&ring_reader_header(sv.ring)->write_seq);
	if (seq != w.seq) {
		w.seq = seq;
		w.moved_ms = now;
		stall_end();
		return;
	}
	age = now - w.moved_ms;
	if (!sv.cap.stalled && age > stalled_after_ms())
		stall_begin(age);
	if (sv.cap.stalled && !w.killed && age > sv.cfg.capture_stall_ms) {
		log_warnx("capture[%d]: stalled for %llu ms (capture-stall-ms "
		    "%u): restarting it", (int)w.pid, (unsigned long long)age,
		    sv.cfg.capture_stall_ms);
		w.killed = true;
		child_kill(c, SIGKILL);
	}
}

static void
watch_tick(void)
{
	watch(clock_mono_ms());
}

void
watch_start(void)
{
	w.tick = super_every(WATCH_TICK_MS, watch_tick);
}

void
watch_stop(void)
{
	super_every_stop(&w.tick);
}
