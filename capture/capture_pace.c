/* capture_pace.c — the audio thread of the clockless sources: one period per period time. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "capture/capture.h"

#define NSEC	1000000000ull


static void
sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = t / NSEC, .tv_nsec = t % NSEC };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Fill the slot in place: no copy, no allocation. */
static void
pace_one(struct capture *c)
{
	float *dst = ring_writer_begin(c->w);

	c->pace.fill(c, dst, c->seq * c->period);
	ring_writer_update_meters(c->w, dst);
	ring_writer_publish(c->w, 0);
	c->seq++;
	capture_published(c);
}

/*
 * Deadlines advance by exactly period/rate seconds (the remainder is carried,
 * so there is no drift).  A thread that was kept from running for more than
 * a few periods does not burst the backlog into the ring: readers would get
 * a flood then a gap.  It counts what it missed and restarts from now.
 */
static void *
pace_thread(void *arg)
{
	struct capture *c = arg;
	uint64_t step = (uint64_t)c->period * NSEC / c->rate;
	uint64_t deadline = c->pace.first_ns ? c->pace.first_ns :
	    clock_mono_ns(), acc = 0, now;

	/* Taking over: the first period is due when the last one said. */
	if (c->pace.first_ns != 0)
		sleep_until(deadline);
	while (!atomic_load_explicit(&c->pace.stop, memory_order_relaxed)) {
		pace_one(c);
		acc += (uint64_t)c->period * NSEC;
		deadline += acc / c->rate;
		acc %= c->rate;
		now = clock_mono_ns();
		if (now > deadline + CAPTURE_LATE_PERIODS * step) {
			ring_writer_count_overrun(c->w, (now - deadline) / step);
			deadline = now;
			acc = 0;
		}
		atomic_store_explicit(&c->pace.due_ns, deadline,
		    memory_order_relaxed);
		sleep_until(deadline);
	}
	return NULL;
}

void
capture_realtime(pthread_t thr)
{
	struct sched_param sp;
	int max, rc;

	memset(&sp, 0, sizeof(sp));
	max = sched_get_priority_max(SCHED_FIFO);
	sp.sched_priority = CAPTURE_RT_PRIO < max ? CAPTURE_RT_PRIO : max;
	if ((rc = pthread_setschedparam(thr, SCHED_FIFO, &sp)) != 0)
		log_warnx("SCHED_FIFO %d refused (%s): the audio thread runs "
		    "at normal priority", sp.sched_priority, strerror(rc));
	else
		log_debug("audio thread: SCHED_FIFO %d", sp.sched_priority);
}

int
capture_pace_start(struct capture *c, capture_fill_fn fill)
{
	int rc;

	c->pace.fill = fill;
	atomic_store(&c->pace.stop, 0);
	if ((rc = pthread_create(&c->pace.thr, NULL, pace_thread, c)) != 0) {
		log_warnx("audio thread: %s", strerror(rc));
		return -1;
	}
	c->pace.running = 1;
	capture_realtime(c->pace.thr);
	return 0;
}

void
capture_pace_stop(struct capture *c)
{
	if (!c->pace.running)
		return;
	atomic_store(&c->pace.stop, 1);
	pthread_join(c->pace.thr, NULL);
	c->pace.running = 0;
}
