/*
 * aes67.h — test library: two ringcast boxes on a private network, A
 * publishing its tone as AES67 with SAP and B ingesting it, and the checks
 * of what B's listeners hear: A's tone sample for sample, zeros for lost
 * packets, the time from A's ring to B's listener.
 */
#ifndef RINGCAST_AES67_H
#define RINGCAST_AES67_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/proto.h"
#include "shared/ring.h"
#include "tests/lib/daemon.h"
#include "tests/lib/netns.h"
#include "tests/lib/v2.h"

#define AES67_NCH	8
#define AES67_RATE	48000
#define AES67_PERIOD	64
#define AES67_FRAMES	48	/* A's packets: 1 ms */
#define AES67_NAME	"StageA"
#define AES67_WAIT_MS	30000	/* generous: a noisy, shared 2-core VM */

struct aes67 {
	struct netns		 ns;
	struct rcd		 a, b;
	struct ring_reader	*ring_a;	/* A's ring: when A captured a frame */
	int64_t			 delta;		/* B's position - A's position */
	float			*tone;		/* the L24 tone by phase index */
};

/* What a listener on B heard, packet by packet. */
struct aes67_heard {
	uint64_t		 packets, frames;
	uint64_t		 exact;		/* frames equal to A's tone */
	uint64_t		 zeros;		/* frames of zeros on every channel */
	uint64_t		 wrong;		/* anything else */
	uint64_t		 gaps;		/* periods missing from the positions */
	uint64_t		 zero_runs, misaligned;	/* zero runs not on A's packets */
	uint64_t		 last_end;	/* B position of the last packet's end */
	uint64_t		 run_start;	/* A frame where zeros began, 0: none */
	uint64_t		 run_end;	/* after its last frame of zeros */
	bool			 run_cut;	/* it began before the first frame heard */
	uint64_t		 amb_from;	/* A frame where zero tone frames began */
	double			*lat_ms;	/* A's capture to our read, per packet */
	size_t			 nlat, caplat;
};

/*
 * The namespaces (the calling thread then lives in B); -1 with why, e.g.
 * "needs root", for a test to skip on.
 */
int	aes67_up(struct aes67 *x, const char *tag, char *why, size_t whylen);
/* Start A in its namespace: the tone, published as AES67_NAME; extra may be NULL. */
int	aes67_start_a(struct aes67 *x, const char *const *extra);
/* Start B with this source (sap:NAME ...) in its namespace. */
int	aes67_start_b(struct aes67 *x, const char *source,
	    const char *const *extra);
/* GET path of A or B as JSON (NULL unless 200); the thread stays in B. */
json_t	*aes67_get(struct aes67 *x, enum netns_side side, const char *path);
/* Wait until B is anchored on A's stream and learn delta; 0 or -1. */
int	aes67_offset(struct aes67 *x, int timeout_ms);
/*
 * The calling thread, which reads B's listener, at SCHED_FIFO (root): on a
 * busy 2-core machine a reader left waiting for 100 ms is a slow client,
 * for which B's session rightly drops periods; that says nothing of the
 * relay.  0, or -1 if refused.
 */
int	aes67_reader_realtime(void);
/* A listener on B: float32, channels 0..nch-1; 0 or -1. */
int	aes67_listen(struct aes67 *x, struct v2c *c, const char *id, int nch);
/* Judge one packet B sent, read at recv_ns. */
void	aes67_hear(struct aes67 *x, struct aes67_heard *h,
	    const struct proto_audio *a, uint64_t recv_ns);
/* The p-th percentile of the latencies heard, in ms. */
double	aes67_latency_pct(struct aes67_heard *h, double p);
/* Everything stopped and removed; safe to repeat. */
void	aes67_down(struct aes67 *x);

#endif
