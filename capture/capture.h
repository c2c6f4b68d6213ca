/* capture.h — ringcast-capture internals: the process state and its sources. */
#ifndef RINGCAST_CAPTURE_H
#define RINGCAST_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/adopt.h"
#include "shared/msg.h"
#include "shared/ring.h"

#define CAPTURE_RATE		48000u
#define CAPTURE_CHANNELS	8u	/* tone default */
#define CAPTURE_PERIOD		64u
#define CAPTURE_LATE_PERIODS	4u	/* paced sources: behind by more = overrun */
#define CAPTURE_RT_PRIO		70	/* SCHED_FIFO priority of the audio thread */

struct capture;

/*
 * A source, in the order capture.c calls it:
 *   open   validate, settle the geometry (rate, channels), allocate (may log)
 *   start  start producing periods: once the ring is open, or, for a
 *          source whose start is slow (a sound server's), before it is
 *          (early): periods are then dropped until c->attached is set
 *   check  once a second from the main thread: 0, or -1 if the source died
 *          (NULL: nothing to watch)
 *   stop   no period is published after it returns
 *   close  free everything of c->priv, which is not NULL (it may be half
 *          set up, after a failed open); capture.c then sets it to NULL
 */
struct capture_source {
	const char	*kind;
	bool		 exclusive;	/* a device one process at a time: a
					   successor opens it only once we
					   have let go (an upgrade's gap) */
	int		 early;		/* start before the ring is attached */
	int		(*open)(struct capture *);
	int		(*start)(struct capture *);
	int		(*check)(struct capture *);
	void		(*stop)(struct capture *);
	void		(*close)(struct capture *);
};

/* Paced sources fill one period (channels x period, interleaved) at frame. */
typedef void (*capture_fill_fn)(struct capture *, float *dst, uint64_t frame);

struct capture_pace {
	pthread_t		 thr;
	capture_fill_fn		 fill;
	atomic_int		 stop;
	int			 running;
	uint64_t		 first_ns;	/* the first period's due time, 0 now */
	_Atomic uint64_t	 due_ns;	/* the next period's */
};

struct capture {
	/* options */
	const char		*ring_name;	/* NULL: from the parent */
	const char		*source_arg;	/* "auto", "tone", "wav:PATH", "portaudio:DEV" */
	const char		*source_spec;	/* after the "kind:" prefix */
	uint32_t		 rate;
	uint32_t		 channels;	/* 0 ("max"): the source's own */
	uint32_t		 period;
	uint32_t		 slots;
	int			 parent_fd;
	int			 ring_fd;	/* from the supervisor, or -1 */
	int			 notify_fd;
	int			 verbose;
	int			 list_devices;
	const char		*adopt_ring;	/* --adopt RING */
	int			 handover;	/* --handover: wait to take over */
	struct adopt		 adopt;
	int			 waiting;	/* handover: not taken over yet */
	int			 announced;	/* MSG_READY sent */

	const struct capture_source *src;
	char			 source[MSG_SOURCE_MAX];	/* what opened, canonical */
	char			 auto_arg[MSG_SOURCE_MAX];	/* what "auto" chose */
	char			 desc[512];	/* what was opened, for logs and state */
	struct ring_config	 cfg;
	struct ring_writer	*w;

	/* Written by the audio side only. */
	uint64_t		 seq;		/* next period the writer publishes */
	int			 first_done;

	/* Audio side -> main thread: one eventfd write per event. */
	int			 event_fd;
	atomic_int		 ready;		/* the first period is published */
	atomic_int		 attached;	/* w is set: periods may go in */
	atomic_int		 failed;	/* a helper thread gave up */

	struct capture_pace	 pace;
	void			*priv;		/* the source's own state */
};

extern const struct capture_source capture_tone;
extern const struct capture_source capture_wav;
extern const struct capture_source capture_pa;

/* capture.c: real-time safe (one non-blocking eventfd write, first time only). */
void	capture_published(struct capture *);
void	capture_wake(struct capture *);

/* capture_pace.c: the clock thread of the tone and wav sources. */
int	capture_pace_start(struct capture *, capture_fill_fn);
void	capture_pace_stop(struct capture *);

/* capture_pa.c: the input devices, at most MSG_DEVICES_MAX (-1: m->error). */
int	capture_pa_devices(int verbose, struct msg_capture_devices *m);
void	capture_pa_print(const struct msg_capture_devices *m);
/* "auto": the input device with the most channels, or NULL if none. */
const char *capture_pa_auto(int verbose, char *name, size_t len);

#endif
