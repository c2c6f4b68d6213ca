/* tone.c — the built-in test signal (see tone.h for the formula). */
#include <math.h>

#include "shared/tone.h"

uint32_t
tone_freq(uint32_t ch, uint32_t rate)
{
	uint32_t m = (rate / 2 - 1) / TONE_BASE_HZ;

	/* Rates below 2 * TONE_BASE_HZ cannot hold any tone: keep one. */
	if (m == 0)
		m = 1;
	return TONE_BASE_HZ * (1 + ch % m);
}

uint32_t
tone_index(uint32_t ch, uint64_t frame, uint32_t rate)
{
	uint64_t f = tone_freq(ch, rate);

	return (uint32_t)(f * (frame % rate) % rate);
}

float
tone_value(uint32_t k, uint32_t rate)
{
	return (float)(TONE_AMPLITUDE * sin(2.0 * M_PI * (double)k /
	    (double)rate));
}

float
tone_sample(uint32_t ch, uint64_t frame, uint32_t rate)
{
	return tone_value(tone_index(ch, frame, rate), rate);
}
