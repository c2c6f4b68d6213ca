/* clock.h — the two clocks ringcast reads: monotonic for intervals, wall for records. */
#ifndef RINGCAST_CLOCK_H
#define RINGCAST_CLOCK_H

#include <stdint.h>

/*
 * Monotonic time (CLOCK_MONOTONIC) measures intervals, deadlines and
 * timeouts: it never jumps.  Wall time (CLOCK_REALTIME, Unix epoch) is only
 * for what people or other machines read: record timestamps, wire headers.
 * All three are vDSO calls, safe on the real-time audio path.
 */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
uint64_t clock_wall_ms(void);

#endif
