/*
 * steady.h — test library: the one continuity reader.  Listeners read by one
 * epoll thread that checks each stream's positions advance by exactly the
 * packet size, counts the periods missing, and records arrival gaps.
 */
#ifndef RINGCAST_STEADY_H
#define RINGCAST_STEADY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "tests/lib/poller.h"
#include "tests/lib/v2.h"

#define STEADY_MAX	64
#define STEADY_BINS	20000		/* arrival gaps: 0.1 ms bins up to 2 s */

struct steady_conn {
	struct v2c	 c;
	bool		 watched;	/* in the epoll set, streaming */
	uint64_t	 packets;	/* since it was added */
	uint64_t	 last_pos;	/* 0: none yet */
	uint64_t	 last_ns;
};

/* What the listeners saw in the current window (since start or reset). */
struct steady_figures {
	uint64_t	 packets;
	uint64_t	 lost;		/* periods missing from the positions */
	uint64_t	 backwards;	/* steps shorter than a packet, or back */
	uint64_t	 max_gap_ns;	/* longest time between two packets */
	int		 failed;	/* listeners whose stream ended (ever) */
};

/* The loop thread's; the others read under mu (a few times a run). */
struct steady {
	struct steady_conn	 conn[STEADY_MAX];
	int			 n;
	struct poller		 poller;
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	struct steady_figures	 fig;
	uint64_t		 gaps[STEADY_BINS];
	uint64_t		 ngaps;
};

/* An empty set with its thread running; 0 or -1. */
int	steady_start(struct steady *s);
/* Take a streaming connection over (*c is left closed): its index, or -1. */
int	steady_add(struct steady *s, struct v2c *c);
/* v2_join as id with a copy of mix (update_mix fields), then add: index or -1. */
int	steady_join(struct steady *s, int port, const char *id,
	    const json_t *mix, int timeout_ms);
/* Stop reading listener i and hand its connection back, blocking again. */
void	steady_remove(struct steady *s, int i, struct v2c *out);
/* Wait until every listener got n more packets: 1, or 0 (timeout, one failed). */
int	steady_wait(struct steady *s, uint64_t n, int timeout_ms);
/* The current window's figures. */
void	steady_snapshot(struct steady *s, struct steady_figures *f);
/* Start a new window: figures to zero (positions and failures are kept). */
void	steady_reset(struct steady *s);
/* The p-th percentile of the window's arrival gaps in ms (0.1 ms bins). */
double	steady_gap_pct(struct steady *s, double p);
/* Stop the thread and close every listener; safe on a failed start, twice. */
void	steady_stop(struct steady *s);

#endif
