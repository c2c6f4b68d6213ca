/* jitter.h — the ingest's jitter buffer: RTP packets in, whole ring periods out, driven by arrivals. */
#ifndef RINGCAST_JITTER_H
#define RINGCAST_JITTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/rtp.h"

/*
 * The relay box has no clock of its own to drift: its ring advances as the
 * sender's packets arrive.  A packet's RTP timestamp gives its frames a
 * ring position (position = extended timestamp + a fixed offset, set when
 * the stream is anchored), so the ring is the sender's timeline shifted by
 * a constant.  A period is ready as soon as all its frames are here; one
 * with a hole waits until `depth` frames beyond its end have arrived (a
 * reordered packet fills it), then goes out with zeros in the hole.  A
 * packet that comes later than that is late and dropped.  So complete
 * audio costs no latency, and the depth (jitter-ms) is how long a missing
 * packet is waited for.  Nothing here reads a clock: the caller says how
 * long the stream has been quiet, and publishes silence on its own clock
 * while it is (jitter_pop with nothing stored is a silent period).
 *
 * A new timeline (JITTER_EPOCH: another SSRC once ours has gone quiet, the
 * same SSRC back after a long silence or far from where it left off,
 * packets that keep missing the window) re-anchors the stream at the next
 * period to publish; the caller starts a new ring epoch first, as a
 * restarted capture does.
 */

#define JITTER_QUIET_MS		50	/* no packet this long: the sender is quiet */
#define JITTER_LONG_MS		1000	/* quiet this long: any return is a new epoch */
#define JITTER_MISFITS		4	/* a run of packets off the window: new epoch */
#define JITTER_MAX_DROPOUT	3000	/* RFC 3550 A.1 */
#define JITTER_MAX_MISORDER	100

struct jitter_config {
	uint32_t	 rate;		/* the ring's */
	uint32_t	 nch;		/* the ring's channels */
	uint32_t	 period;	/* the ring's period, frames */
	uint32_t	 depth;		/* jitter-ms, in frames */
};

struct jitter_stats {
	uint64_t	 packets;	/* taken */
	uint64_t	 lost;		/* never came (sequence numbers) */
	uint64_t	 late;		/* came after their frames were published */
	uint64_t	 malformed;	/* not RTP, or a payload of no whole frames */
	uint64_t	 foreign;	/* another payload type, or another SSRC */
	uint64_t	 jumps;		/* dropped for a sequence or timestamp jump */
	uint64_t	 epochs;	/* new timelines after the first */
};

enum jitter_verdict {
	JITTER_TAKEN,
	JITTER_LATE,
	JITTER_MALFORMED,
	JITTER_FOREIGN,
	JITTER_JUMP,
	JITTER_EPOCH,		/* taken, on a new timeline: a new ring epoch first */
};

struct jitter {
	struct jitter_config	 cfg;
	float			*buf;		/* cap frames x cfg.nch, zero where empty */
	uint8_t			*have;		/* cap: 1 where a packet brought the frame */
	uint32_t		 cap;		/* a power of two */
	/* the stream's format */
	enum rtp_format		 format;
	uint32_t		 src_nch;
	uint8_t			 pt;
	/* the timeline */
	bool			 anchored;
	uint32_t		 ssrc;
	int64_t			 to_pos;	/* position = extended ts + to_pos */
	int64_t			 ext_last;
	uint32_t		 ts_last;
	uint32_t		 misfits;	/* packets in a row off the window */
	uint16_t		 misfit_seq;
	uint32_t		 misfit_ts;
	/* sequence numbers, RFC 3550 A.1 and A.3 */
	uint16_t		 max_seq;
	uint32_t		 cycles, base_seq, bad_seq;
	uint64_t		 received, lost_before;
	/* the ring side */
	uint64_t		 wp;		/* first frame of the next period */
	uint64_t		 high;		/* one past the last frame stored */
	struct jitter_stats	 st;
};

/* wp: the ring's position (first frame of the period to publish next); 0 or -1. */
int	jitter_init(struct jitter *j, const struct jitter_config *c,
	    uint64_t wp);
void	jitter_free(struct jitter *j);
/* What the packets carry; a change re-anchors at the next packet. */
void	jitter_stream(struct jitter *j, enum rtp_format f, uint32_t nch,
	    uint8_t pt);
/* One datagram, quiet_ms after the last one taken (UINT64_MAX: none yet). */
enum jitter_verdict jitter_put(struct jitter *j, const uint8_t *pkt, size_t n,
	    uint64_t quiet_ms);
/* Whether the period at wp is complete, or depth frames after it have come. */
bool	jitter_ready(const struct jitter *j);
/* Whether frames beyond wp are stored (a quiet sender's last ones). */
bool	jitter_pending(const struct jitter *j);
/* Copy the period at wp into dst (period x nch), zeros where none came; advance. */
void	jitter_pop(struct jitter *j, float *dst);
/* The ring position of RTP timestamp ts on the current timeline (anchored only). */
uint64_t jitter_position(const struct jitter *j, uint32_t ts);
/* Totals so far, lost included. */
void	jitter_stats(const struct jitter *j, struct jitter_stats *out);

#endif
