/* v2.h — test library: the one v2 (native protocol) client of the tests and benchmarks. */
#ifndef RINGCAST_V2_H
#define RINGCAST_V2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/proto.h"

#define V2_BUF		(256 * 1024)

/* What v2_recv and its callers return. */
enum {
	V2_MSG = 1,		/* a whole message is in c->hdr, c->payload */
	V2_EOF = 0,		/* the server closed (FIN, or RST: ECONNRESET) */
	V2_TIMEOUT = -1,	/* nothing whole before the deadline */
	V2_ERROR = -2,		/* a framing error, garbage, a socket error */
	V2_MORE = -3		/* v2_next: no whole message buffered yet */
};

struct v2c {
	int		 fd;
	uint8_t		*buf;
	size_t		 cap;
	size_t		 len;		/* bytes buffered */
	size_t		 off;		/* start of the unparsed bytes */
	struct proto_hdr hdr;		/* the last message */
	const uint8_t	*payload;
	uint32_t	 mask_words;	/* per audio packet ("channel_mask_words") */
};

/*
 * A TCP connection to 127.0.0.1:port (TCP_NODELAY), blocking once made;
 * rcvbuf > 0 shrinks its receive buffer first (a slow reader).
 */
int	v2_connect(int port, int rcvbuf, int timeout_ms);
/* The same from a local address src (another loopback one), NULL: any. */
int	v2_connect_from(int port, const char *src, int rcvbuf, int timeout_ms);
/* The local port of a connected socket, or -1. */
int	v2_local_port(int fd);
/* Write all of buf, waiting for room on a non-blocking socket; 0 or -1. */
int	v2_write_all(int fd, const void *buf, size_t n);
/* Send a control message (steals obj), RF-framed when it says rf_mode. */
int	v2_send_ctl(int fd, json_t *obj);
/* The deployed app's handshake, with this identity (device_uuid may be NULL). */
json_t	*v2_hello(const char *client_id, const char *device_uuid);
/* update_mix fields subscribing channels 0..n-1. */
json_t	*v2_channels(int n);
/* A string field of a JSON object, "" if there is none. */
const char *v2_str(const json_t *o, const char *key);

/* Take fd over with a receive buffer of cap bytes, one mask word; 0 or -1
 * (fd closed). */
int	v2_init(struct v2c *c, int fd, size_t cap);
/* Connect and send this handshake (stolen); 0 or -1. */
int	v2_open(struct v2c *c, int port, json_t *hello, int timeout_ms);
/* v2_open from the local address src. */
int	v2_open_from(struct v2c *c, int port, const char *src, json_t *hello,
	    int timeout_ms);
/*
 * v2_open, then wait for handshake_response and mix_state; if mix is not
 * NULL (stolen) send it as update_mix and wait for the committed mix_state.
 * 0 or -1 (closed again).
 */
int	v2_join(struct v2c *c, int port, const char *id, json_t *mix,
	    int timeout_ms);
/* The same with this handshake (stolen) instead of the app's. */
int	v2_join_hello(struct v2c *c, int port, json_t *hello, json_t *mix,
	    int timeout_ms);
void	v2_close(struct v2c *c);
/* Close with an RST instead of a FIN. */
void	v2_reset(struct v2c *c);

/* One read of what the socket has: bytes read, V2_EOF, V2_ERROR (or
 * V2_TIMEOUT when a non-blocking socket has nothing). */
int	v2_fill(struct v2c *c);
/* The next buffered message: V2_MSG, V2_MORE or V2_ERROR. */
int	v2_next(struct v2c *c);
/*
 * A non-blocking socket is readable: one read, then fn for every whole
 * message (in c->hdr, c->payload) with the arrival time (CLOCK_MONOTONIC
 * ns, one clock read per read); fn returns 0, or -1 to stop.  Returns 0
 * while the stream goes on, -1 when it ended, broke, or fn stopped it.
 */
typedef int (*v2_msg_fn)(void *arg, struct v2c *c, uint64_t now);
int	v2_drain(struct v2c *c, v2_msg_fn fn, void *arg);
/* The next whole message: V2_MSG, V2_EOF, V2_TIMEOUT or V2_ERROR. */
int	v2_recv(struct v2c *c, int timeout_ms);
/*
 * Skip audio until a control message (of this type, if not NULL); NULL on
 * timeout, EOF or garbage.  *audio_seen (if given) says whether audio came.
 */
json_t	*v2_recv_ctl(struct v2c *c, const char *type, int timeout_ms,
	    bool *audio_seen);
/* The next audio packet (c->mask_words words): V2_MSG, or V2_EOF,
 * V2_TIMEOUT, V2_ERROR (a packet that does not decode included). */
int	v2_recv_audio(struct v2c *c, struct proto_audio *a, int timeout_ms);
/*
 * Read (and drop) whatever comes until the server closes: V2_EOF on a real
 * end of stream, V2_TIMEOUT if it stays open, V2_ERROR on a framing error.
 */
int	v2_wait_eof(struct v2c *c, int timeout_ms);

#endif
