/* test_ring_wake.c — ring_wait_for: a reader of k-period packets wakes once per packet, not once per period. */
#define _GNU_SOURCE	/* RUSAGE_THREAD */
#include <sys/mman.h>
#include <sys/resource.h>

#include <pthread.h>
#include <stdatomic.h>

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/ring.h"
#include "tests/lib/tu.h"

#define T_FRAMES	64
#define T_CH		2
#define T_PACKETS	8
#define T_K		4

static char name[64];
static struct ring_writer *w;
static struct ring_reader *r;

static void
setup(void)
{
	struct ring_config cfg = { 48000, T_CH, T_FRAMES, 64 };

	snprintf(name, sizeof(name), "%s", tu_name("wake"));
	cr_assert_eq(ring_writer_open(name, &cfg, 1, &w), RING_OK);
	cr_assert_eq(ring_reader_open(name, &r), RING_OK);
}

static void
teardown(void)
{
	if (r != NULL)
		ring_reader_close(r);
	if (w != NULL)
		ring_writer_close(w);
	r = NULL;
	w = NULL;
	shm_unlink(name);
}

TestSuite(ring_wake, .init = setup, .fini = teardown, .timeout = 30);

static void
publish(int n)
{
	float buf[T_FRAMES * T_CH] = { 0 };

	for (int i = 0; i < n; i++)
		ring_writer_write(w, buf, 0);
}

/* Read everything published; the number of periods read. */
static int
drain(void)
{
	float buf[T_FRAMES * T_CH];
	struct ring_period info;
	uint64_t lost;
	int n = 0;

	while (ring_read(r, buf, &info, &lost) == RING_READ_OK)
		n++;
	return n;
}

Test(ring_wake, counts_periods_not_wakes)
{
	cr_assert_eq(ring_wait_for(r, T_K, 0), 0, "nothing published");
	publish(T_K - 1);
	cr_assert_eq(ring_wait_for(r, T_K, 0), 0, "one period short");
	cr_assert_eq(ring_wait(r, 0), 1, "ring_wait still sees one period");
	cr_assert_eq(ring_wait_for(r, 1, 0), 1);
	cr_assert_eq(ring_wait_for(r, 0, 0), 1, "count 0 is count 1");
	publish(1);
	cr_assert_eq(ring_wait_for(r, T_K, 0), 1, "the packet is complete");
	cr_assert_eq(drain(), T_K);
	cr_assert_eq(ring_wait_for(r, T_K, 20), 0, "times out when idle");
}

struct waiter {
	int		 k;
	atomic_int	 packets;	/* packets completed */
	long		 nvcsw;		/* sleeps over the whole run */
	int		 bad;		/* woke with the packet incomplete */
	pthread_t	 thr;
};

static void *
waiter_main(void *arg)
{
	struct waiter *t = arg;
	struct rusage ru0, ru1;
	uint64_t next = ring_reader_cursor(r);

	getrusage(RUSAGE_THREAD, &ru0);
	while (atomic_load(&t->packets) < T_PACKETS) {
		if (ring_wait_for(r, (uint32_t)t->k, 5000) != 1)
			break;
		if (ring_reader_header(r)->write_seq < next + t->k)
			t->bad++;
		/* Skip to the live edge without copying: the test needs no audio. */
		ring_reader_seek_live(r);
		next = ring_reader_cursor(r);
		atomic_fetch_add(&t->packets, 1);
	}
	getrusage(RUSAGE_THREAD, &ru1);
	t->nvcsw = ru1.ru_nvcsw - ru0.ru_nvcsw;
	return NULL;
}

/*
 * The writer publishes a period every 2 ms, as capture does; the reader
 * wants T_K periods per packet.  Woken every period it would sleep about
 * T_K * T_PACKETS times; woken per packet about T_PACKETS times.
 */
Test(ring_wake, sleeps_once_per_packet)
{
	struct timespec ts = { 0, 2000000 };
	struct waiter t = { .k = T_K };
	int periods = 0;

	cr_assert_eq(pthread_create(&t.thr, NULL, waiter_main, &t), 0);
	while (atomic_load(&t.packets) < T_PACKETS && periods < 4000) {
		nanosleep(&ts, NULL);	/* the period clock, not a wait */
		publish(1);
		periods++;
	}
	pthread_join(t.thr, NULL);
	cr_log_info("%d periods, %d packets, %ld sleeps", periods,
	    atomic_load(&t.packets), t.nvcsw);
	cr_assert_eq(atomic_load(&t.packets), T_PACKETS);
	cr_assert_eq(t.bad, 0, "woke before the packet was complete");
	/* Half the per-period count: headroom for a wake lost to preemption. */
	cr_assert_leq(t.nvcsw, (long)(T_K * T_PACKETS / 2),
	    "%ld sleeps for %d packets: woken per period", t.nvcsw,
	    T_PACKETS);
}
