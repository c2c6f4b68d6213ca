/* capture_tone.c — the "tone" source: shared/tone.h's signal, paced by the clock thread. */
#include <stdio.h>
#include <stdlib.h>

#include "shared/log.h"
#include "shared/tone.h"
#include "capture/capture.h"

/*
 * The signal depends only on the phase index k < rate, so one table of rate
 * samples (computed by tone_value, hence bit-identical to tone_sample) turns
 * the audio thread's work into lookups and additions.
 */
struct tone {
	float		*table;		/* [rate] */
	uint32_t	*freq;		/* [channels] */
};

static int
tone_open(struct capture *c)
{
	struct tone *t;
	uint32_t k, ch;

	if (c->source_spec != NULL) {
		log_warnx("source tone takes no argument: %s", c->source_arg);
		return -1;
	}
	if (c->channels == 0)
		c->channels = CAPTURE_CHANNELS;
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->table = calloc(c->rate, sizeof(float))) == NULL ||
	    (t->freq = calloc(c->channels, sizeof(uint32_t))) == NULL) {
		log_warn("tone");
		if (t != NULL)
			free(t->table);
		free(t);
		return -1;
	}
	for (k = 0; k < c->rate; k++)
		t->table[k] = tone_value(k, c->rate);
	for (ch = 0; ch < c->channels; ch++)
		t->freq[ch] = tone_freq(ch, c->rate);
	c->priv = t;
	snprintf(c->desc, sizeof(c->desc), "tone");
	return 0;
}

static void
tone_fill(struct capture *c, float *dst, uint64_t frame)
{
	const struct tone *t = c->priv;
	uint32_t ch, i, k, f, nch = c->channels;

	for (ch = 0; ch < nch; ch++) {
		k = tone_index(ch, frame, c->rate);
		f = t->freq[ch];
		for (i = 0; i < c->period; i++) {
			dst[(size_t)i * nch + ch] = t->table[k];
			k += f;
			if (k >= c->rate)
				k -= c->rate;
		}
	}
}

static int
tone_start(struct capture *c)
{
	return capture_pace_start(c, tone_fill);
}

static void
tone_close(struct capture *c)
{
	struct tone *t = c->priv;

	free(t->table);
	free(t->freq);
	free(t);
}

/* In the order capture.c calls them (capture.h). */
const struct capture_source capture_tone = { "tone", false, 0, tone_open,
    tone_start, NULL, capture_pace_stop, tone_close, NULL, NULL, NULL };
