/* tone.h — the built-in test signal: a known sine per channel, so readers can check every sample. */
#ifndef RINGCAST_TONE_H
#define RINGCAST_TONE_H

#include <stdint.h>

/*
 * Channel c (from 0) at sample rate R carries
 *
 *	f_c = TONE_BASE_HZ * (1 + c mod M),  M = floor((R/2 - 1) / TONE_BASE_HZ)
 *	k   = (f_c * (n mod R)) mod R        (integer arithmetic)
 *	x   = TONE_AMPLITUDE * sin(2 pi k / R)
 *
 * where n is the absolute frame index in the ring: a period whose slot says
 * `position` holds frames position - period_frames .. position - 1.  So f_c
 * is 250, 500, 750 ... Hz, below Nyquist, and channels repeat only after M
 * (95 at 48 kHz).  The phase is exact for any n: no drift, and a restarted
 * capture continues the same waveform because the ring's position does.
 */
#define TONE_BASE_HZ	250u
#define TONE_AMPLITUDE	0.5

uint32_t tone_freq(uint32_t ch, uint32_t rate);
/* The phase index k of the formula above, 0 <= k < rate. */
uint32_t tone_index(uint32_t ch, uint64_t frame, uint32_t rate);
/* The sample for phase index k (what tone_sample returns, bit for bit). */
float	 tone_value(uint32_t k, uint32_t rate);
float	 tone_sample(uint32_t ch, uint64_t frame, uint32_t rate);

#endif
