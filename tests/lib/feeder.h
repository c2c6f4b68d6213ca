/*
 * feeder.h — test library: what writes a session's ring.  A thread of the
 * test publishing one period per period time, its samples a function of
 * (channel, absolute frame) so that a client can check every sample it
 * receives; or the real ringcast-capture on its tone.
 */
#ifndef RINGCAST_FEEDER_H
#define RINGCAST_FEEDER_H

#include <sys/types.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/ring.h"

#define FEEDER_RATE	48000

/* A sample of the signal; frame f is in the packet whose position is > f. */
typedef float (*feeder_fn)(uint32_t ch, uint64_t frame, void *arg);

struct feeder {
	char			 name[64];
	struct ring_config	 cfg;
	struct ring_writer	*w;
	feeder_fn		 fn;
	void			*arg;
	float			*buf;
	pthread_t		 thr;
	atomic_int		 stop;
	bool			 running;
};

/* The default signal: the capture's built-in tone (shared/tone.h). */
float	feeder_tone(uint32_t ch, uint64_t frame, void *arg);
/*
 * Create the ring tu_name(tag) and write fn (NULL: the tone) into it,
 * paced like a sound card; 0 or -1.
 */
int	feeder_start(struct feeder *f, const char *tag, uint32_t channels,
	    uint32_t period, feeder_fn fn, void *arg);
/* Close and reopen the writer, as a restarted capture does (new epoch). */
int	feeder_restart(struct feeder *f);
/* Stop writing and remove the ring; safe on a failed start. */
void	feeder_destroy(struct feeder *f);

/*
 * The real ringcast-capture on its tone, writing the ring (created if
 * missing, FEEDER_RATE Hz): its pid once it published a period, or -1.
 */
pid_t	feeder_capture(const char *ring, uint32_t channels, uint32_t period);

#endif
