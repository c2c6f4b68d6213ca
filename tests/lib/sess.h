/*
 * sess.h — test library: one ringcast-sessiond with the test as its parent
 * (the supervisor's end of the channel) and its client (a struct v2c).
 */
#ifndef RINGCAST_SESS_H
#define RINGCAST_SESS_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/mix.h"
#include "shared/msg.h"
#include "tests/lib/v2.h"

/* The device of tsess_hello, sent by tsess_start as the persistent id. */
#define TSESS_DEVICE	"a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
/* What tsess_start asks: the stall limit (unless told), the user timeout. */
#define TSESS_STALL_MS		3000
#define TSESS_USER_TIMEOUT_MS	4000

struct tsess {
	pid_t		pid;
	int		parent;		/* our end of the parent channel */
	struct v2c	c;		/* our end of the client connection */
	int		log;		/* read end of the session's stderr, or -1 */
	struct msg	in;		/* the last message from the session */
};

/* Nothing started: what tsess_close leaves, safe to close again. */
void	tsess_init(struct tsess *s);
/*
 * The client connection: a socketpair, or a TCP pair on 127.0.0.1 (with
 * rcvbuf > 0 the client's receive buffer shrunk, a slow phone).  Our end
 * goes in s->c; the session's end is returned for tsess_spawn, or -1.
 */
int	tsess_pair(struct tsess *s, bool tcp, int rcvbuf);
/*
 * Start ringcast-sessiond on the ring (by descriptor if by_fd, else by name)
 * with the client socket cfd (closed here).  Sends nothing.  With
 * capture_log the session's stderr is readable on s->log.  0 or -1.
 */
int	tsess_spawn(struct tsess *s, const char *ring, bool by_fd, int cfd,
	    bool capture_log);
/* The deployed Android app's handshake, of the device TSESS_DEVICE. */
json_t	*tsess_hello(void);
/*
 * As the supervisor: MSG_SESSION_START for hello and mix (both stolen, mix
 * may be NULL).  Our client then reads packets of the mask words it asked.
 */
int	tsess_start(struct tsess *s, json_t *hello, json_t *mix, int stall_ms);
/*
 * Skip other messages (stats) until one of type want: it (valid until the
 * next call), or NULL on timeout, EOF or a fault.
 */
const struct msg *tsess_parent_wait(struct tsess *s, uint32_t want,
	    int timeout_ms);
/* The usual set-up: pair, spawn on ring by descriptor, start, wait for
 * MSG_READY.  0 or -1. */
int	tsess_open(struct tsess *s, const char *ring, json_t *hello, json_t *mix,
	    int stall_ms, bool tcp, int rcvbuf);
/* Stop a session however it stands and reap it: its exit status, or -1. */
int	tsess_close(struct tsess *s);

/* As the supervisor: a committed mix, or with error a refusal. */
int	tsess_mix_set(struct tsess *s, const struct mix *mix,
	    enum msg_origin origin, const char *error);
/* Apply what the client asked to our copy m and commit it; 0 or -1. */
int	tsess_commit(struct tsess *s, struct mix *m, const struct mix_patch *p,
	    enum msg_origin origin);
/* The same for a change written as update_mix fields. */
int	tsess_commit_json(struct tsess *s, struct mix *m, const char *fields,
	    enum msg_origin origin);

#endif
