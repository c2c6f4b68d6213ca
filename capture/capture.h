/* capture.h — ringcast-capture internals: the process state and its sources. */
#ifndef RINGCAST_CAPTURE_H
#define RINGCAST_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "shared/adopt.h"
#include "shared/jitter.h"
#include "shared/msg.h"
#include "shared/ring.h"
#include "shared/sdp.h"

#define CAPTURE_RATE		48000u
#define CAPTURE_CHANNELS	8u	/* tone default */
#define CAPTURE_PERIOD		64u
#define CAPTURE_LATE_PERIODS	4u	/* paced sources: behind by more = overrun */
#define CAPTURE_RT_PRIO		70	/* SCHED_FIFO priority of the audio thread */
#define CAPTURE_JITTER_MS	3	/* network sources: the jitter buffer */

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
 * and, for the network sources only (NULL elsewhere), from the main thread:
 *   event   the audio side woke the main thread (capture_wake)
 *   joined  the supervisor passed the socket asked for (MSG_CAPTURE_SOCKET)
 *   report  fill in the state message's state and network counters
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
	void		(*event)(struct capture *);
	void		(*joined)(struct capture *, int fd,
			    const struct msg_capture_join *);
	void		(*report)(struct capture *, struct msg_capture_state *);
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
	int			 net_fd;	/* network sources: from the supervisor */
	uint32_t		 jitter_ms;
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
extern const struct capture_source capture_rtp;
extern const struct capture_source capture_sdp;
extern const struct capture_source capture_sap;

/* ---- the network sources (capture_rtp.c, capture_sap.c) ---- */

enum net_phase {
	NET_WAITING,		/* no packet yet (sap: no announcement yet) */
	NET_RECEIVING,		/* the ring advances as packets arrive */
	NET_QUIET,		/* the sender went quiet: silence on our clock */
};

struct netin {
	int			 rtp_fd;	/* the stream's socket; -1 until joined */
	int			 sap_fd;	/* sap: the announcements, else -1 */
	int			 wake_fd;	/* eventfd: stop, or a socket handed over */
	_Atomic int		 handed_fd;	/* main -> audio side: the joined socket */
	struct sdp_stream	 stream;	/* what the packets carry */
	bool			 have_stream;
	/* sap:NAME (capture_sap.c), the audio side's */
	const char		*name;
	bool			 following;	/* an announcer was chosen */
	uint16_t		 hash;
	uint32_t		 origin;
	bool			 deleted;
	uint32_t		 unfit_hash;	/* an unfit announcer, said once */
	uint64_t		 sap_bad;
	/* audio side -> main thread */
	_Atomic int		 join;		/* 1: join_req is ready to send */
	struct msg_capture_join	 join_req;
	_Atomic int		 notice;	/* 1: notice_text is ready to log */
	char			 notice_text[192];
	/* main thread */
	uint64_t		 join_sent_ms;
	/* the audio side */
	struct jitter		 jb;
	pthread_t		 thr;
	atomic_int		 stop;
	int			 running;
	bool			 ever;		/* a packet was ever taken */
	uint64_t		 last_rx_ns;
	uint64_t		 local_ns, local_acc;	/* our clock while quiet */
	uint64_t		 next_snap_ns;
	/* what the main thread reports: a seqlock written by the audio side */
	_Atomic uint32_t	 snap_seq;
	struct msg_ingest	 snap;
	_Atomic int		 phase;		/* enum net_phase */
};

/* capture_sap.c: one SAP datagram on the audio side. */
void	capture_sap_input(struct capture *, const uint8_t *p, size_t n);
/* capture_rtp.c: the stream is known (sap: once announced): make ready. */
void	capture_net_stream(struct capture *, const struct sdp_stream *s);
/* The audio side says something for the main thread to log. */
void	capture_net_notice(struct capture *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* capture.c: real-time safe (one non-blocking eventfd write, first time only). */
void	capture_published(struct capture *);
void	capture_wake(struct capture *);

/* capture_pace.c: the clock thread of the tone and wav sources. */
int	capture_pace_start(struct capture *, capture_fill_fn);
void	capture_pace_stop(struct capture *);
/* SCHED_FIFO for an audio thread, or one warning. */
void	capture_realtime(pthread_t thr);

/* capture_pa.c: the input devices, at most MSG_DEVICES_MAX (-1: m->error). */
int	capture_pa_devices(int verbose, struct msg_capture_devices *m);
void	capture_pa_print(const struct msg_capture_devices *m);
/* "auto": the input device with the most channels, or NULL if none. */
const char *capture_pa_auto(int verbose, char *name, size_t len);

#endif
