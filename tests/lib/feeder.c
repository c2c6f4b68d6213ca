/* feeder.c — test library: a paced ring writer of a known signal, or the real capture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/tone.h"
#include "tests/lib/feeder.h"
#include "tests/lib/tu.h"

float
feeder_tone(uint32_t ch, uint64_t frame, void *arg)
{
	(void)arg;
	return tone_sample(ch, frame, FEEDER_RATE);
}

/* Publish the next period: the frames after those already written. */
static void
feeder_period(struct feeder *f)
{
	uint64_t base = atomic_load(&ring_writer_header(f->w)->write_seq) *
	    f->cfg.period_frames;
	uint32_t i, c, nch = f->cfg.channels;

	for (i = 0; i < f->cfg.period_frames; i++)
		for (c = 0; c < nch; c++)
			f->buf[(size_t)i * nch + c] = f->fn(c, base + i, f->arg);
	ring_writer_write(f->w, f->buf, 0);
}

/* Paces like a sound card; after a long stall it resumes rather than bursts. */
static void *
feeder_thread(void *arg)
{
	struct feeder *f = arg;
	uint64_t step = 1000000000ull * f->cfg.period_frames / f->cfg.rate;
	uint64_t next = clock_mono_ns();

	while (!atomic_load(&f->stop)) {
		feeder_period(f);
		next += step;
		if (clock_mono_ns() > next + 100000000ull)
			next = clock_mono_ns();
		tu_sleep_until(next);
	}
	return NULL;
}

static int
feeder_writer_start(struct feeder *f)
{
	if (ring_writer_open(f->name, &f->cfg, 1, &f->w) != RING_OK)
		return -1;
	atomic_store(&f->stop, 0);
	if (pthread_create(&f->thr, NULL, feeder_thread, f) != 0) {
		ring_writer_close(f->w);
		return -1;
	}
	f->running = true;
	return 0;
}

static void
feeder_writer_stop(struct feeder *f)
{
	if (!f->running)
		return;
	atomic_store(&f->stop, 1);
	pthread_join(f->thr, NULL);
	ring_writer_close(f->w);
	f->running = false;
}

int
feeder_start(struct feeder *f, const char *tag, uint32_t channels,
    uint32_t period, feeder_fn fn, void *arg)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%s", tu_name(tag));
	f->cfg = (struct ring_config){ FEEDER_RATE, channels, period, 0 };
	f->fn = fn ? fn : feeder_tone;
	f->arg = arg;
	if ((f->buf = calloc((size_t)channels * period, sizeof(float))) == NULL)
		return -1;
	if (ring_create(f->name, &f->cfg) != RING_OK)
		return -1;
	return feeder_writer_start(f);
}

int
feeder_restart(struct feeder *f)
{
	feeder_writer_stop(f);
	return feeder_writer_start(f);
}

void
feeder_destroy(struct feeder *f)
{
	feeder_writer_stop(f);
	if (f->name[0] != '\0')
		ring_unlink(f->name);
	free(f->buf);
	f->buf = NULL;
}

pid_t
feeder_capture(const char *ring, uint32_t channels, uint32_t period)
{
	char ch[16], per[16], rate[16];
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--ring", (char *)(uintptr_t)ring, "--source", "tone",
	    "--rate", rate, "--channels", ch, "--period", per,
	    "--notify-fd", "3", NULL };
	pid_t pid;
	int rfd, ok;

	snprintf(ch, sizeof(ch), "%u", channels);
	snprintf(per, sizeof(per), "%u", period);
	snprintf(rate, sizeof(rate), "%u", FEEDER_RATE);
	if ((pid = tu_spawn(argv, 3, &rfd)) == -1)
		return -1;
	ok = tu_wait_text(rfd, "ready", 10000);
	close(rfd);
	if (!ok) {
		tu_stop(pid, 2000);
		return -1;
	}
	return pid;
}
