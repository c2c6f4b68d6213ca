/*
 * poller.h — test library: one thread that reads many sockets.  The
 * continuity reader (steady.c) and the benchmarks' load client
 * (bench/loadclient.h) each keep their own connections and figures; this
 * is the epoll loop they share.
 */
#ifndef RINGCAST_POLLER_H
#define RINGCAST_POLLER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* Called on the poller's thread when conn's socket is readable. */
typedef void (*poller_fn)(void *arg, void *conn);

struct poller {
	int		 ep;
	pthread_t	 thr;
	atomic_int	 stop;
	bool		 running;
	poller_fn	 ready;
	void		*arg;
};

/* An empty set with its thread running; 0, or -1 (nothing to stop). */
int	poller_start(struct poller *p, poller_fn ready, void *arg);
/* Watch fd (made non-blocking) for conn; 0 or -1. */
int	poller_watch(struct poller *p, int fd, void *conn);
/* Stop watching fd: no call for it starts after this returns... unless one
 * is under way on the thread; callers that need more hold their own lock. */
void	poller_unwatch(struct poller *p, int fd);
/* Stop and join the thread; safe after a failed start, and twice. */
void	poller_stop(struct poller *p);

#endif
