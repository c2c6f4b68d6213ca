/* capture_wav.c — the "wav:PATH" source: any file libsndfile reads, looped, paced by the clock. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sndfile.h>

#include "shared/log.h"
#include "capture/capture.h"

/*
 * A reader thread keeps up to WAV_AHEAD_MS of the file decoded in a
 * single-producer, single-consumer queue of whole periods; the audio thread
 * only copies a period out of it.  Preloading the whole file would be
 * simpler but caps the length (a multitrack recording of a rehearsal is
 * gigabytes); this way memory is bounded whatever the file, and no file I/O
 * or decoding happens on the clock.  If the reader falls behind anyway (a
 * stalled disk), the audio thread publishes silence and counts an xrun.
 */
#define WAV_AHEAD_MS	1000u
#define WAV_QUEUE_MAX	(64u << 20)	/* bytes of decoded audio at most */
#define WAV_MIN_CHUNKS	4u

struct wav {
	SNDFILE			*sf;
	SF_INFO			 info;
	float			*chunks;	/* nchunks periods */
	size_t			 chunk_floats;
	uint64_t		 nchunks;	/* a power of two */
	_Atomic uint64_t	 head;		/* periods decoded (reader) */
	_Atomic uint64_t	 tail;		/* periods played (audio thread) */
	uint64_t		 refill_ns;	/* reader wakes this often */
	pthread_t		 thr;
	pthread_mutex_t		 mtx;		/* reader's sleep only */
	pthread_cond_t		 cond;
	int			 stop;		/* under mtx */
	int			 reading;
};

static float *
chunk(struct wav *wv, uint64_t n)
{
	return wv->chunks + (size_t)(n & (wv->nchunks - 1)) * wv->chunk_floats;
}

/* Read frames, going back to the start at the end of the file. */
static int
wav_read(struct wav *wv, float *dst, sf_count_t frames)
{
	sf_count_t got = 0, n;
	int rewound = 0;

	while (got < frames) {
		n = sf_readf_float(wv->sf, dst + got * wv->info.channels,
		    frames - got);
		if (n > 0) {
			got += n;
			rewound = 0;
			continue;
		}
		/* Nothing right after a rewind: the file cannot be looped. */
		if (n < 0 || rewound || sf_error(wv->sf) != SF_ERR_NO_ERROR ||
		    sf_seek(wv->sf, 0, SEEK_SET) == -1)
			return -1;
		rewound = 1;
	}
	return 0;
}

/* Decode into every free chunk; -1 on a read error. */
static int
wav_refill(struct capture *c, struct wav *wv)
{
	uint64_t h = atomic_load_explicit(&wv->head, memory_order_relaxed);
	uint64_t t = atomic_load_explicit(&wv->tail, memory_order_acquire);

	for (; h - t < wv->nchunks; h++) {
		if (wav_read(wv, chunk(wv, h), c->period) == -1)
			return -1;
		atomic_store_explicit(&wv->head, h + 1, memory_order_release);
	}
	return 0;
}

static int
reader_sleep(struct wav *wv)
{
	struct timespec ts;
	uint64_t ns;
	int stop;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = (uint64_t)ts.tv_nsec + wv->refill_ns;
	ts.tv_sec += ns / 1000000000ull;
	ts.tv_nsec = ns % 1000000000ull;
	pthread_mutex_lock(&wv->mtx);
	if (!wv->stop)
		pthread_cond_timedwait(&wv->cond, &wv->mtx, &ts);
	stop = wv->stop;
	pthread_mutex_unlock(&wv->mtx);
	return stop;
}

static void *
reader_thread(void *arg)
{
	struct capture *c = arg;
	struct wav *wv = c->priv;

	while (!reader_sleep(wv)) {
		if (wav_refill(c, wv) == -1) {
			log_warnx("%s: read failed: %s", c->source_spec,
			    sf_strerror(wv->sf));
			atomic_store(&c->failed, 1);
			capture_wake(c);
			break;
		}
	}
	return NULL;
}

static int
wav_check_file(struct capture *c, const SF_INFO *in)
{
	const char *path = c->source_spec;

	if (in->samplerate <= 0 || (uint32_t)in->samplerate != c->rate) {
		log_warnx("%s: sample rate %d Hz differs from the configured "
		    "%u Hz (resample the file or pass --rate %d)", path,
		    in->samplerate, c->rate, in->samplerate);
		return -1;
	}
	if (in->channels <= 0 || (uint32_t)in->channels > RING_MAX_CHANNELS) {
		log_warnx("%s: %d channels (1..%u supported)", path,
		    in->channels, RING_MAX_CHANNELS);
		return -1;
	}
	if (c->channels != 0 && c->channels != (uint32_t)in->channels) {
		log_warnx("%s has %d channels but --channels is %u", path,
		    in->channels, c->channels);
		return -1;
	}
	if (in->frames <= 0 || !in->seekable) {
		log_warnx("%s: %s", path, in->frames <= 0 ? "no audio frames" :
		    "not seekable, so it cannot be looped");
		return -1;
	}
	return 0;
}

/* Room for WAV_AHEAD_MS, within WAV_QUEUE_MAX, in a power of two of periods. */
static uint64_t
queue_chunks(const struct capture *c)
{
	size_t bytes = (size_t)c->period * c->channels * sizeof(float);
	uint64_t want = (uint64_t)c->rate * WAV_AHEAD_MS / 1000 / c->period;
	uint64_t n = WAV_MIN_CHUNKS;

	while (n < want && (n * 2) * bytes <= WAV_QUEUE_MAX)
		n *= 2;
	return n;
}

static int
wav_alloc(struct capture *c, struct wav *wv)
{
	pthread_condattr_t ca;

	wv->chunk_floats = (size_t)c->period * c->channels;
	wv->nchunks = queue_chunks(c);
	wv->chunks = calloc(wv->nchunks, wv->chunk_floats * sizeof(float));
	if (wv->chunks == NULL) {
		log_warn("wav queue");
		return -1;
	}
	/* Wake when a quarter of the queue has been played. */
	wv->refill_ns = wv->nchunks * c->period * 1000000000ull / c->rate / 4;
	pthread_mutex_init(&wv->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wv->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (wav_refill(c, wv) == -1) {
		log_warnx("%s: read failed: %s", c->source_spec,
		    sf_strerror(wv->sf));
		return -1;
	}
	return 0;
}

static void
wav_close(struct capture *c)
{
	struct wav *wv = c->priv;

	if (wv->chunks != NULL) {
		pthread_mutex_destroy(&wv->mtx);
		pthread_cond_destroy(&wv->cond);
	}
	free(wv->chunks);
	if (wv->sf != NULL)
		sf_close(wv->sf);
	free(wv);
}

static int
wav_open(struct capture *c)
{
	struct wav *wv;

	if (c->source_spec == NULL || *c->source_spec == '\0') {
		log_warnx("source wav needs a file: wav:PATH");
		return -1;
	}
	if ((wv = calloc(1, sizeof(*wv))) == NULL) {
		log_warn("wav");
		return -1;
	}
	c->priv = wv;
	if ((wv->sf = sf_open(c->source_spec, SFM_READ, &wv->info)) == NULL) {
		log_warnx("%s: %s", c->source_spec, sf_strerror(NULL));
		return -1;
	}
	if (wav_check_file(c, &wv->info) == -1)
		return -1;
	c->channels = wv->info.channels;
	if (wav_alloc(c, wv) == -1)
		return -1;
	snprintf(c->desc, sizeof(c->desc), "wav:%s (%lld frames, looped)",
	    c->source_spec, (long long)wv->info.frames);
	return 0;
}

/* Audio thread: copy one decoded period, or silence if the reader is late. */
static void
wav_fill(struct capture *c, float *dst, uint64_t frame)
{
	struct wav *wv = c->priv;
	uint64_t t = atomic_load_explicit(&wv->tail, memory_order_relaxed);
	size_t bytes = wv->chunk_floats * sizeof(float);

	(void)frame;
	if (t == atomic_load_explicit(&wv->head, memory_order_acquire)) {
		memset(dst, 0, bytes);
		ring_writer_count_xrun(c->w);
		return;
	}
	memcpy(dst, chunk(wv, t), bytes);
	atomic_store_explicit(&wv->tail, t + 1, memory_order_release);
}

static int
wav_start(struct capture *c)
{
	struct wav *wv = c->priv;
	int rc;

	if ((rc = pthread_create(&wv->thr, NULL, reader_thread, c)) != 0) {
		log_warnx("wav reader thread: %s", strerror(rc));
		return -1;
	}
	wv->reading = 1;
	return capture_pace_start(c, wav_fill);
}

static int
wav_check(struct capture *c)
{
	return atomic_load(&c->failed) ? -1 : 0;
}

static void
wav_stop(struct capture *c)
{
	struct wav *wv = c->priv;

	capture_pace_stop(c);
	if (wv == NULL || !wv->reading)
		return;
	pthread_mutex_lock(&wv->mtx);
	wv->stop = 1;
	pthread_cond_signal(&wv->cond);
	pthread_mutex_unlock(&wv->mtx);
	pthread_join(wv->thr, NULL);
	wv->reading = 0;
}

/* In the order capture.c calls them (capture.h). */
const struct capture_source capture_wav = { "wav", false, 0, wav_open,
    wav_start, wav_check, wav_stop, wav_close, NULL, NULL, NULL };
