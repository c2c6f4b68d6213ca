/* listen_play.c — `ringcast listen --play`: plays what arrives on the default PortAudio output. */
#include <err.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <portaudio.h>

#include "cli/listen.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/mix.h"

#define PLAY_RING_FRAMES	16384	/* stereo frames, a power of two */
#define PLAY_MAX_MS		100	/* drop rather than let latency grow */
#define PLAY_PREFILL_MS		20	/* buffered before (re)starting output */
#define PLAY_DRAIN_MS		500

/* Single producer (network loop), single consumer (PortAudio callback). */
struct play_ring {
	float		*data;			/* PLAY_RING_FRAMES x 2 */
	_Atomic size_t	 head;			/* frames written */
	_Atomic size_t	 tail;			/* frames read */
	_Atomic uint64_t underruns;
	size_t		 prefill;
	bool		 primed;		/* callback-private */
};

struct play {
	bool		 server_mix;		/* play stereo packets as is */
	bool		 pa_init;
	PaStream	*stream;
	uint32_t	 rate;
	struct play_ring ring;
	uint64_t	 dropped;		/* frames the ring had no room for */
	uint64_t	 played;		/* by streams closed so far */
	struct mix	 mix;			/* the latest mix_state */
	bool		 coeffs_dirty;
	struct mix_coeffs coeffs;		/* .ch: position in a frame */
	float		*stereo;
	size_t		 stereo_cap;		/* frames */
};

/*
 * The real-time callback: copies what the ring holds, pads with silence and
 * counts underruns.  No locks, no allocation, no system calls.
 */
static int
play_cb(const void *in, void *out, unsigned long n,
    const PaStreamCallbackTimeInfo *ti, PaStreamCallbackFlags fl, void *arg)
{
	struct play_ring *r = arg;
	float *o = out;
	size_t head, tail, avail, take = 0, i, at;

	(void)in;
	(void)ti;
	(void)fl;
	head = atomic_load_explicit(&r->head, memory_order_acquire);
	tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	avail = head - tail;
	if (r->primed || avail >= r->prefill) {
		r->primed = true;
		take = avail < n ? avail : n;
		if (take < n) {
			/* Start again only once the prefill is back. */
			r->primed = false;
			atomic_fetch_add_explicit(&r->underruns, 1,
			    memory_order_relaxed);
		}
	}
	for (i = 0; i < take; i++) {
		at = (tail + i) & (PLAY_RING_FRAMES - 1);
		o[2 * i] = r->data[2 * at];
		o[2 * i + 1] = r->data[2 * at + 1];
	}
	memset(o + 2 * take, 0, (n - take) * 2 * sizeof(float));
	atomic_store_explicit(&r->tail, tail + take, memory_order_release);
	return paContinue;
}

/* Copy frames into the ring, or drop them all if latency would grow. */
static void
play_push(struct play *p, const float *st, uint32_t frames)
{
	struct play_ring *r = &p->ring;
	size_t head, tail, max, i, at;

	head = atomic_load_explicit(&r->head, memory_order_relaxed);
	tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	max = (size_t)p->rate * PLAY_MAX_MS / 1000;
	if (max > PLAY_RING_FRAMES)
		max = PLAY_RING_FRAMES;
	if (head - tail + frames > max) {
		p->dropped += frames;
		return;
	}
	for (i = 0; i < frames; i++) {
		at = (head + i) & (PLAY_RING_FRAMES - 1);
		r->data[2 * at] = st[2 * i];
		r->data[2 * at + 1] = st[2 * i + 1];
	}
	atomic_store_explicit(&r->head, head + frames, memory_order_release);
}

/* Before connecting: fail early and clearly when nothing can play. */
struct play *
play_new(bool server_mix)
{
	struct play *p;
	PaError e;

	if ((p = calloc(1, sizeof(*p))) == NULL || (p->ring.data =
	    calloc(PLAY_RING_FRAMES * 2, sizeof(float))) == NULL) {
		warn("play");
		goto fail;
	}
	if ((e = Pa_Initialize()) != paNoError) {
		warnx("play: cannot initialise PortAudio: %s",
		    Pa_GetErrorText(e));
		goto fail;
	}
	p->pa_init = true;
	if (Pa_GetDefaultOutputDevice() == paNoDevice) {
		warnx("play: no audio output device available");
		goto fail;
	}
	p->server_mix = server_mix;
	mix_init(&p->mix, MIX_MAX_CHANNELS);
	p->coeffs_dirty = true;
	return p;
fail:
	play_free(p);
	return NULL;
}

static void
play_stop(struct play *p)
{
	if (p->stream == NULL)
		return;
	Pa_StopStream(p->stream);
	Pa_CloseStream(p->stream);
	p->stream = NULL;
}

/* Always stereo: the local mix (or the server's) goes to the device. */
static int
play_open(struct play *p, uint32_t rate)
{
	PaError e;

	play_stop(p);
	p->played += atomic_load(&p->ring.tail);
	atomic_store(&p->ring.head, 0);
	atomic_store(&p->ring.tail, 0);
	p->ring.primed = false;
	p->ring.prefill = (size_t)rate * PLAY_PREFILL_MS / 1000;
	p->rate = rate;
	e = Pa_OpenDefaultStream(&p->stream, 0, 2, paFloat32, rate,
	    paFramesPerBufferUnspecified, play_cb, &p->ring);
	if (e == paNoError && (e = Pa_StartStream(p->stream)) != paNoError)
		Pa_CloseStream(p->stream);
	if (e != paNoError) {
		p->stream = NULL;
		warnx("play: cannot open the output at %u Hz: %s", rate,
		    Pa_GetErrorText(e));
		return -1;
	}
	return 0;
}

/*
 * Coefficients for the received channels, from the latest mix_state, with
 * the app's equal-power pan law.  Every received channel takes part, even
 * if the mix_state has not caught up with the mask yet.  A frame holds the
 * received channels only, so each is found by its position among them.
 */
static void
play_coeffs(struct play *p, const uint32_t *mask, uint32_t mask_words)
{
	struct mix m = p->mix;
	uint32_t pos[MIX_MAX_CHANNELS], i, n = 0, ch;

	memset(m.sub, 0, sizeof(m.sub));
	for (ch = 0; ch < mask_words * 32 && ch < MIX_MAX_CHANNELS; ch++)
		if (mask[ch / 32] & (1u << (ch % 32))) {
			m.sub[ch] = 1;
			pos[ch] = n++;
		}
	mix_coeffs_build(&m, &p->coeffs);
	for (i = 0; i < p->coeffs.n; i++)
		p->coeffs.ch[i] = pos[p->coeffs.ch[i]];
	p->coeffs_dirty = false;
}

int
play_write(struct play *p, const struct listen_audio *b)
{
	float *st;

	if (b->new_mask)
		p->coeffs_dirty = true;
	if ((p->stream == NULL || p->rate != b->rate) &&
	    play_open(p, b->rate) == -1)
		return -1;
	if (b->frames > p->stereo_cap) {
		if ((st = realloc(p->stereo, b->frames * 2 * sizeof(*st))) ==
		    NULL)
			return -1;
		p->stereo = st;
		p->stereo_cap = b->frames;
	}
	if (p->server_mix && b->a->nch == 2) {
		play_push(p, b->pcm, b->frames);  /* already the server's mix */
		return 0;
	}
	if (p->coeffs_dirty)
		play_coeffs(p, b->a->mask, b->mask_words);
	mix_stereo(&p->coeffs, b->pcm, b->a->nch, b->frames, p->stereo);
	play_push(p, p->stereo, b->frames);
	return 0;
}

/* Let what is buffered play out, briefly, unless interrupted. */
void
play_drain(struct play *p)
{
	uint64_t end = clock_mono_ns() + PLAY_DRAIN_MS * 1000000ull;

	while (p->stream != NULL && clock_mono_ns() < end &&
	    atomic_load(&p->ring.head) != atomic_load(&p->ring.tail))
		if (!listen_sleep(10))
			break;
	play_stop(p);
}

void
play_free(struct play *p)
{
	if (p == NULL)
		return;
	play_stop(p);
	if (p->pa_init)
		Pa_Terminate();
	free(p->ring.data);
	free(p->stereo);
	free(p);
}

/* A mix_state from the server: the local mix for --play. */
void
play_mix_state(struct play *p, const json_t *obj)
{
	struct mix m;
	char err[256];

	if (mix_from_json(&m, MIX_MAX_CHANNELS, obj, err, sizeof(err)) == -1) {
		log_debug("mix_state not applied: %s", err);
		return;
	}
	p->mix = m;
	p->coeffs_dirty = true;
}

/* The closing summary's line about playback. */
void
play_summary(const struct play *p)
{
	printf("playback: %llu frames played, %llu underruns, "
	    "%llu frames dropped\n", (unsigned long long)
	    (p->played + atomic_load(&p->ring.tail)),
	    (unsigned long long)atomic_load(&p->ring.underruns),
	    (unsigned long long)p->dropped);
}
