/* capture.h — ringcast-capture internals: the process state and its sources. */
#ifndef RINGCAST_CAPTURE_H
#define RINGCAST_CAPTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

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
 *   start  the ring is open: start producing periods
 *   check  once a second from the main thread: 0, or -1 if the source died
 *   stop   no period is published after it returns
 *   close  free everything
 * and, for the network sources only (NULL elsewhere), from the main thread:
 *   event   the audio side woke the main thread (capture_wake)
 *   joined  the supervisor passed the socket asked for (MSG_CAPTURE_SOCKET)
 *   report  fill in the state message's state and network counters
 */
struct capture_source {
	const char	*kind;
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
};

struct capture {
	/* options */
	const char		*ring_name;
	const char		*source_arg;	/* "tone", "wav:PATH", "portaudio:DEV" */
	const char		*source_spec;	/* after the "kind:" prefix */
	uint32_t		 rate;
	uint32_t		 channels;	/* 0: the source's default */
	uint32_t		 period;
	uint32_t		 slots;
	int			 parent_fd;
	int			 ring_fd;	/* from the supervisor, or -1 */
	int			 notify_fd;
	int			 net_fd;	/* network sources: from the supervisor */
	uint32_t		 jitter_ms;
	int			 verbose;

	const struct capture_source *src;
	char			 desc[512];	/* what was opened, for logs and state */
	struct ring_config	 cfg;
	struct ring_writer	*w;

	/* Written by the audio side only. */
	uint64_t		 seq;		/* next period the writer publishes */
	int			 first_done;

	/* Audio side -> main thread: one eventfd write per event. */
	int			 event_fd;
	atomic_int		 ready;		/* the first period is published */
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

/* capture_pa.c */
int	capture_pa_list(int verbose);

#endif
