/* sessiond.h — internal interface of the per-client session process. */
#ifndef RINGCAST_SESSIOND_H
#define RINGCAST_SESSIOND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/mix.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "shared/ring.h"

#define SESS_STALL_MS		3000	/* default: no drain for this long ends it */
#define SESS_USER_TIMEOUT_MS	4000	/* default TCP_USER_TIMEOUT */
#define SESS_WAIT_MS		50	/* ring wait: control is serviced this often */
#define SESS_STATS_MS		1000
#define SESS_METERS_MS		66	/* post-mix levels, about 15 a second */
/*
 * Audio the queue may hold beyond what the kernel buffers.  128 KiB is
 * ~150 ms of 8 int16 channels at 48 kHz (~40 ms at 32 channels): enough to
 * ride out a Wi-Fi hiccup, small enough that a slow client's backlog stays
 * short and that dropping starts well before the stall limit.
 */
#define SESS_QUEUE_AUDIO	(128 * 1024)
#define SESS_PACKET_MAX		(1024 * 1024)	/* largest audio packet we build */
#define SESS_HELD_MAX		16	/* mix requests held while orphaned */

/* The deployed app (fichatech-v2.md): its dB range, the channels of its mix_state. */
#define APP_DB_MIN		-60.0
#define APP_DB_MAX		12.0
#define APP_STATE_CHANNELS	8

/* A FIFO of whole messages in a fixed byte ring; the head may be half sent. */
struct squeue {
	uint8_t		*buf;
	size_t		 cap;
	size_t		 head;		/* offset of the first unsent byte */
	size_t		 len;		/* bytes queued */
};

int	squeue_init(struct squeue *q, size_t cap);
void	squeue_free(struct squeue *q);
/* Append n bytes if the queue would then hold at most limit bytes: 0 or -1. */
int	squeue_put(struct squeue *q, const void *data, size_t n, size_t limit);
/* Send what the socket takes: bytes sent, or -1 with errno (not EAGAIN). */
ssize_t	squeue_send(struct squeue *q, int fd);

struct session;

/*
 * What a session sends, chosen at start as capture chooses its source:
 * the v2 protocol (packets and control, sessiond_v2.c) or an HTTP WAV
 * stream (headers once, then PCM; no control; sessiond_http.c).
 */
struct sess_output {
	const char	*kind;
	bool		 control;	/* carries control messages */
	bool		 always;	/* sends (silence) even with no channel */
	void		(*start)(struct session *);
	size_t		(*size)(const struct session *);	/* one packet */
	size_t		(*encode)(struct session *, uint64_t position);
	void		(*input)(struct session *);	/* the client sent */
};

extern const struct sess_output sess_output_v2;
extern const struct sess_output sess_output_http;

struct session {
	int			 parent_fd;	/* -1 while orphaned */
	struct adopt		 adopt;
	int			 client_fd;
	bool			 is_tcp;
	struct ring_reader	*ring;
	uint32_t		 rate, nch, period;	/* from the ring header */

	/* MSG_SESSION_START */
	struct proto_hello	 hello;
	char			 persistent_id[128];
	bool			 state_restored, is_reconnection;
	json_int_t		 clients_connected;
	uint32_t		 stall_ms, user_timeout_ms;

	/* the committed mix and what the audio path derives from it */
	struct mix		 mix;
	struct mix_coeffs	 coeffs;
	uint32_t		 list[MIX_MAX_CHANNELS];
	uint32_t		 nlist;		/* channels sent (raw mode) */
	uint8_t			 silent[MIX_MAX_CHANNELS];	/* list[i] muted */
	uint32_t		 mask[PROTO_MASK_WORDS_MAX];
	uint32_t		 mask_words;
	uint32_t		 out_nch;	/* channels per packet, 0: send nothing */

	/* packet building: k periods per packet */
	uint32_t		 pkt_frames;
	uint32_t		 pkt_periods;
	uint32_t		 acc;		/* periods accumulated so far */
	float			*period_buf;	/* one ring period */
	float			*acc_buf;	/* pkt_frames x out channels */
	uint8_t			*pkt;
	size_t			 pkt_max;

	struct squeue		 q;
	size_t			 audio_limit;	/* queue bytes audio may fill */
	uint64_t		 progress_ms;	/* last time the client drained */

	uint8_t			 in[PROTO_HDR_LEN + PROTO_CONTROL_MAX];
	size_t			 in_len;

	uint64_t		 next_stats_ms;
	uint64_t		 sent, dropped, lost, epochs, unknown;
	uint64_t		 bytes, ctl_dropped;

	const struct sess_output *out;

	/* post-mix levels of a server mix, since the last report */
	float			 pm_peak[2];
	double			 pm_sum[2];
	uint64_t		 pm_frames;
	uint64_t		 next_meters_ms;

	/* the listener's mix requests while no supervisor can commit them */
	struct mix_patch	 held[SESS_HELD_MAX];
	uint32_t		 nheld;

	/* from MSG_SESSION_START, for an adoption */
	struct msg_session_start start;

	const char		*reason;	/* set: the session ends */
	bool			 linger;	/* flush queued output before closing */
	bool			 fault;		/* the parent broke the protocol */
};

/* sessiond.c */
void	sess_end(struct session *s, const char *reason);

/* sessiond_audio.c: ring -> packets -> queue */
int	sess_audio_init(struct session *s, char *err, size_t errlen);
void	sess_audio_mix_changed(struct session *s);
void	sess_audio_drain(struct session *s);
void	sess_flush(struct session *s);

/* sessiond_ctl.c: control messages with a v2 client */
int	sess_send_ctl(struct session *s, json_t *obj);
void	sess_send_error(struct session *s, const char *message);
void	sess_send_handshake(struct session *s);
void	sess_send_mix_state(struct session *s);
/* After mix_state: the updates a phone needs to reach the committed mix. */
void	sess_send_updates(struct session *s, const struct mix *old);
void	sess_send_start_updates(struct session *s);
/* Split and handle every whole message in s->in. */
void	sess_ctl_parse(struct session *s);
/* The framing is fine but the content is not: tell the client, then close. */
void	sess_protocol_error(struct session *s, const char *why);

/* sessiond_parent.c: the supervisor channel */
/* A message to the supervisor, never blocking: -1 when the channel is full. */
int	sess_parent_send(struct session *s, uint32_t type, const void *body,
	    size_t len);
int	sess_parent_start(struct session *s, char *err, size_t errlen);
void	sess_parent_input(struct session *s);
/*
 * A mix change the listener asked for: to the supervisor, or held while
 * there is none (sent when one adopts us); -1 when neither could be.
 */
int	sess_parent_mix_request(struct session *s, const struct mix_patch *p);
/* The rendezvous is readable: a new supervisor, perhaps. */
void	sess_parent_adopt(struct session *s);
void	sess_parent_stats(struct session *s);
void	sess_parent_meters(struct session *s);
void	sess_parent_exit(struct session *s);

/* sessiond_net.c: the client socket */
void	sess_net_setup(struct session *s);
const char *sess_net_reason(int err);
const char *sess_net_stall_reason(const struct session *s);

#endif
