/* msg.h — typed messages between ringcast processes over SOCK_SEQPACKET. */
#ifndef RINGCAST_MSG_H
#define RINGCAST_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Each message is one datagram on a SOCK_SEQPACKET socketpair: a struct
 * msg_hdr followed by exactly hdr.len payload bytes, optionally carrying one
 * descriptor (SCM_RIGHTS).  Payloads are JSON text unless the type says
 * otherwise.  A receiver treats an unknown type or a wrong length as fatal for
 * that channel.
 */

#define MSG_MAX_PAYLOAD	(64 * 1024)
#define MSG_PARENT_FD	3	/* every child finds its parent channel here */

enum msg_type {
	MSG_NONE = 0,

	/* any child -> supervisor */
	MSG_CHILD_READY,	/* no payload: initialisation done */
	MSG_CHILD_EXIT,		/* JSON {"reason": "...", ...}: about to exit */

	/* sessiond -> supervisor */
	MSG_SESSION_MIX_REQ,	/* JSON: update_mix fields the client sent */
	MSG_SESSION_STATS,	/* JSON {"sent": n, "dropped": n, "lost": n, ...} */
	MSG_SESSION_METERS,	/* JSON {"peak": [..], "rms": [..]}: post-mix levels */

	/* supervisor -> sessiond */
	MSG_SESSION_START,	/* JSON: the client's hello, saved mix, flags (first message) */
	MSG_SESSION_MIX_SET,	/* JSON {"origin": "client"|"web", "mix": {...},
				   "changed": {...}}: committed mix to apply */
	MSG_SESSION_PROBE,	/* test only: attempt a forbidden syscall */
	MSG_CHILD_PROBE,	/* test only, to broker/capture: the same */

	/* broker -> supervisor */
	MSG_BROKER_CLIENT,	/* fd + JSON {"kind", "remote", "hello"} */
	MSG_BROKER_REQUEST,	/* JSON {"id", "method", "path", "body"} */

	/* supervisor -> broker */
	MSG_BROKER_REPLY,	/* JSON {"id", "status", "body"} */
	MSG_BROKER_EVENT,	/* JSON {"event", "data"} for /api/events */

	/* capture -> supervisor */
	MSG_CAPTURE_STATE,	/* JSON {"state", "epoch", "xruns", ...} */

	MSG_TYPE_MAX
};

struct msg_hdr {
	uint32_t	type;
	uint32_t	len;
};

struct msg {
	struct msg_hdr	hdr;
	int		fd;		/* -1 when none was passed */
	char		data[MSG_MAX_PAYLOAD + 1];	/* NUL-terminated */
};

const char *msg_name(uint32_t type);

/*
 * Send one message (fd -1 for none).  Returns 0, or -1 with errno (EAGAIN on
 * a full non-blocking channel: the caller decides whether to drop or retry).
 */
int	msg_send(int sock, uint32_t type, const void *data, size_t len, int fd);
int	msg_send_str(int sock, uint32_t type, const char *s);
/*
 * Receive one message into m.  Returns 1 on a message, 0 on EOF (peer gone),
 * -1 with errno on error (EAGAIN when nothing is waiting on a non-blocking
 * channel; EPROTO for a malformed datagram).  A passed descriptor is
 * close-on-exec.
 */
int	msg_recv(int sock, struct msg *m);

/* A close-on-exec SOCK_SEQPACKET pair. */
int	msg_channel(int sv[2]);

#endif
