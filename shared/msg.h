/* msg.h — the parent channel: every message between ringcast processes, defined once. */
#ifndef RINGCAST_MSG_H
#define RINGCAST_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/mix.h"
#include "shared/proto.h"
#include "shared/token.h"

/*
 * Each message is one datagram on a SOCK_SEQPACKET socketpair: a struct
 * msg_hdr, then the payload, optionally with one descriptor (SCM_RIGHTS).
 * A payload is a fixed C struct (below), sometimes followed by a variable
 * tail of bytes (an HTTP body, an event's JSON).  The processes are built
 * together and run on one machine, so the structs travel as they lie in
 * memory; MSG_VERSION names their layout and every header carries it.
 *
 * The table in msg.c says, for every type: which role sends it, which
 * receives it, whether it carries a descriptor, its size and how its
 * contents are checked.  msg_recv() applies all of it: a receiver sees only
 * messages meant for it, whole and valid.  Anything else is a channel
 * fault, with one policy (docs/internals.md, "Channel faults"): the
 * receiver logs it and treats the sender as faulty.  The supervisor counts
 * it in /metrics and ends the child (a session ends with reason
 * "protocol", capture and broker are restarted); a child ends itself with
 * exit status MSG_EXIT_FAULT (a session reports reason "protocol").
 */

/*
 * Bump MSG_VERSION with any change to the table or a payload below: a
 * new ringcastd adopts only children of its version (an upgrade).
 * MSG_FINGERPRINT is msg_fingerprint() of the table as of this version;
 * tests/test_msg.c fails when they part, saying the new value.
 */
#define MSG_VERSION	5
#define MSG_FINGERPRINT	0x51fcc3e2u
#define MSG_MAX_PAYLOAD	(64 * 1024)
#define MSG_PARENT_FD	3	/* every child finds its parent channel here */
#define MSG_EXIT_FAULT	3	/* a child's exit status after a channel fault */

enum msg_role {
	ROLE_SUPERVISOR,
	ROLE_CAPTURE,
	ROLE_BROKER,
	ROLE_SESSION,
	ROLE_PUBLISH,
	ROLE_MAX
};

enum msg_type {
	MSG_NONE = 0,

	/* capture, broker, sessiond, publish -> supervisor */
	MSG_READY,		/* struct msg_ready: initialisation done */

	/* capture -> supervisor */
	MSG_CAPTURE_STATE,	/* struct msg_capture_state, once a second */
	MSG_CAPTURE_OPENED,	/* struct msg_capture_opened: the source, or why not */
	MSG_CAPTURE_DEVICES,	/* struct msg_capture_devices: --list-devices */
	MSG_CAPTURE_JOIN,	/* struct msg_capture_join: a socket, please */

	/* supervisor -> capture */
	MSG_CAPTURE_RING,	/* fd + struct msg_capture_ring: write this ring */
	MSG_CAPTURE_SOCKET,	/* fd + struct msg_capture_join: that socket */

	/* broker -> supervisor */
	MSG_BROKER_CLIENT,	/* fd + struct msg_client: a listener to serve */
	MSG_BROKER_REQUEST,	/* struct msg_api_request: one routed API call */
	MSG_BROKER_SUBSCRIBERS,	/* struct msg_subscribers: event streams open */
	MSG_BROKER_AUTH_STATS,	/* struct msg_auth_stats: refused credentials */

	/* supervisor -> broker */
	MSG_BROKER_CLIENT_DONE,	/* struct msg_client_done: served or refused */
	MSG_BROKER_REPLY,	/* struct msg_api_reply + body */
	MSG_BROKER_EVENT,	/* struct msg_event + JSON data */
	MSG_BROKER_TOKENS,	/* struct msg_tokens: what checks a credential */

	/* supervisor -> sessiond */
	MSG_SESSION_START,	/* struct msg_session_start: the first message */
	MSG_SESSION_MIX_SET,	/* struct msg_session_mix: committed, apply it */

	/* sessiond -> supervisor */
	MSG_SESSION_MIX_REQ,	/* struct mix_patch: the client asks for it */
	MSG_SESSION_STATS,	/* struct msg_session_stats, once a second */
	MSG_SESSION_METERS,	/* struct msg_session_meters: post-mix levels */
	MSG_SESSION_EXIT,	/* struct msg_session_exit: the last word */

	/* supervisor -> capture, broker, sessiond, publish (--test-probes only) */
	MSG_PROBE,		/* struct msg_probe */

	/* supervisor -> capture, broker, sessiond, publish: first, at spawn */
	MSG_ADOPT_KEY,		/* struct msg_adopt_key: the proof, the grace */

	/* a child -> a new supervisor (docs/internals.md) */
	MSG_ADOPT_CAPTURE,	/* struct msg_adopt_capture */
	MSG_ADOPT_LISTENER,	/* fd + struct msg_adopt_listener, twice */
	MSG_ADOPT_BROKER,	/* struct msg_adopt_broker, after the two */
	MSG_ADOPT_SESSION,	/* struct msg_adopt_session */
	MSG_ADOPT_PUBLISH,	/* struct msg_adopt_publish */

	/* an upgrade: old broker and capture make way for new ones */
	MSG_BROKER_RETIRE,	/* sup -> broker: struct msg_retire */
	MSG_CAPTURE_RETIRE,	/* sup -> capture: struct msg_retire */
	MSG_CAPTURE_RETIRED,	/* capture -> sup: struct msg_capture_handover */
	MSG_CAPTURE_TAKEOVER,	/* sup -> capture: struct msg_capture_handover */

	/* supervisor -> publish */
	MSG_PUBLISH_START,	/* struct msg_publish_start + SDP: the first message */

	/* publish -> supervisor */
	MSG_PUBLISH_STATE,	/* struct msg_publish_state, once a second */

	MSG_TYPE_MAX
};

struct msg_hdr {
	uint16_t	version;	/* MSG_VERSION */
	uint16_t	type;		/* enum msg_type */
	uint32_t	len;		/* payload bytes */
};

/* ---- payloads ---- */

struct msg_ready {
	char		version[32];	/* the child's RINGCAST_VERSION */
};

/* What a network source (capture_rtp.c) received; zero for the others. */
struct msg_ingest {
	uint64_t	packets;	/* taken into the jitter buffer */
	uint64_t	lost;		/* never came (sequence numbers) */
	uint64_t	late;		/* came after their frames were written */
	uint64_t	malformed;	/* not RTP, or a payload of no whole frames */
	uint64_t	foreign;	/* another payload type or SSRC */
	uint64_t	jumps;		/* sequence or timestamp jumps dropped */
	uint64_t	epochs;		/* new sender timelines (new ring epochs) */
	uint64_t	sap_bad;	/* SAP or SDP packets that did not parse */
	/* The timeline, for measurements: RTP timestamp ts is ring frame position. */
	uint32_t	anchored;
	uint32_t	ts;
	uint64_t	position;
	uint32_t	ssrc;
	char		stream[128];	/* "239.69.1.1:5004 L24/48000/8", "" before */
};

struct msg_capture_state {
	char		state[16];	/* "running"; network: "receiving", "quiet", "waiting" */
	char		source[256];	/* what capture opened, for people */
	uint64_t	epoch, xruns, overruns;
	struct msg_ingest ingest;
};

/*
 * A network source found its stream by SAP (sap:NAME): the supervisor
 * opens a socket bound to that multicast group and port, joined on the
 * configured interface, and passes it (MSG_CAPTURE_SOCKET, the same
 * struct).  Capture's sandbox holds no socket(), bind() or setsockopt().
 */
struct msg_capture_join {
	uint32_t	group;		/* IPv4 multicast, network order */
	uint32_t	source;		/* source-filter, network order; 0: any */
	uint16_t	port;
	uint16_t	pad;
};

#define MSG_SOURCE_MAX	256	/* "tone", "wav:PATH", "portaudio:NAME", NUL included */

/*
 * Capture under the supervisor opens its source first and says what it
 * got (a device's channel count may decide the ring's geometry, and a
 * device that does not open must not cost the running source anything);
 * the supervisor then passes the ring to write (MSG_CAPTURE_RING).
 */
struct msg_capture_opened {
	char		error[256];	/* "": opened; else why not */
	char		source[MSG_SOURCE_MAX];	/* what "auto" became, canonical */
	char		desc[256];	/* what was opened, for people */
	uint32_t	channels;	/* 1..RING_MAX_CHANNELS; 0 with an error */
};

struct msg_capture_ring {
	uint32_t	channels;	/* the ring's, which capture asked for */
};

#define MSG_DEVICES_MAX	64

struct msg_device {
	int32_t		index;		/* PortAudio's */
	uint32_t	inputs;		/* 1.. */
	uint32_t	default_rate;
	char		name[128];
	char		host_api[32];
};

/* `ringcast-capture --list-devices --parent-fd 3`: the input devices. */
struct msg_capture_devices {
	char		error[256];	/* "": listed */
	uint32_t	n;		/* 0..MSG_DEVICES_MAX */
	uint32_t	truncated;	/* more inputs than MSG_DEVICES_MAX */
	struct msg_device dev[MSG_DEVICES_MAX];
};

enum msg_client_kind {
	CLIENT_NATIVE = 1,	/* a Fichatech v2 listener, after its handshake */
	CLIENT_WAV,		/* GET /stream.wav, after its request */
};

#define MSG_WAV_CHANNELS_MAX	64
#define API_NAME_MAX	64	/* a display name, NUL included */
#define API_ID_MAX	128	/* an identity, NUL included (STATE_ID_MAX) */

struct msg_client {
	uint32_t	id;		/* the broker's, for MSG_BROKER_CLIENT_DONE */
	uint32_t	kind;		/* enum msg_client_kind */
	uint32_t	again;		/* passed to a supervisor that died with
					   no answer: perhaps served already */
	char		remote[64];	/* "ip:port" */
	struct proto_hello hello;	/* CLIENT_NATIVE */
	uint32_t	wav_mix;	/* CLIENT_WAV: 1 = a stereo mix */
	uint32_t	wav_nchannels;	/* CLIENT_WAV: 0 = every channel (mix) */
	uint16_t	wav_channels[MSG_WAV_CHANNELS_MAX];	/* ascending */
	char		mix_of[API_ID_MAX];	/* CLIENT_WAV: a listener's own
						 * mix (its token), "" = none */
};

/* status 0: a session took the client; else an HTTP-like status and why. */
struct msg_client_done {
	uint32_t	id;
	uint32_t	status;
	char		message[192];
};

/* Routes of the JSON API, mapped from method and path by shared/api.c. */
enum api_route {
	API_STATUS,		/* GET /api/status */
	API_CLIENTS,		/* GET /api/clients[?offset=N] */
	API_CLIENT_GET,		/* GET /api/clients/ID */
	API_CLIENT_SET,		/* POST /api/clients/ID {"name", "order"} */
	API_CLIENT_DELETE,	/* DELETE /api/clients/ID */
	API_CLIENT_MIX,		/* POST /api/clients/ID/mix {update_mix fields} */
	API_CHANNELS_GET,	/* GET /api/channels */
	API_CHANNELS_SET,	/* POST /api/channels */
	API_METRICS,		/* GET /metrics */
	API_PROBE,		/* POST /api/test/probe (--test-probes) */
	API_CLIENT_DISCONNECT,	/* POST /api/clients/ID/disconnect */
	API_CLIENT_APPROVE,	/* POST /api/clients/ID/approve (admit approve) */
	API_CLIENT_LINK,	/* POST /api/clients/ID/link {"origin"} */
	API_DEVICES,		/* GET /api/devices */
	API_CAPTURE,		/* POST /api/capture {"source", "channels"} */
	API_STATE_IMPORT,	/* POST /api/state/import + records as the tail */
	API_PUBLISH,		/* GET /api/publish */
	API_ROUTE_MAX
};

struct api_client_set {
	uint32_t	has_name, has_order;
	char		name[API_NAME_MAX];
	int32_t		order;
};

/* names[0 .. n) replace the names of channels first .. first + n. */
struct api_channels_set {
	uint32_t	first, n;
	char		names[MIX_MAX_CHANNELS][API_NAME_MAX];
};

struct api_probe {
	char		target[API_ID_MAX + 16];	/* "broker", "session:ID" */
	char		action[16];	/* a syscall, or "send" */
	uint32_t	type;		/* with "send": the message type */
};

/* The page's origin ("https://host:port"): a listener's login link. */
struct api_link {
	char		origin[256];
};

/* channels 0: all the source has ("max"). */
struct api_capture_set {
	char		source[MSG_SOURCE_MAX];
	uint32_t	channels;	/* 0..RING_MAX_CHANNELS */
};

/*
 * An import of saved records comes in batches, each one request whose
 * tail is API_IMPORT_BATCH struct state_record at most: the first batch
 * has token 0 and is answered with the import's token, the last one
 * commits them all in one transaction (or nothing).
 */
#define API_IMPORT_BATCH	10

struct api_import {
	uint32_t	token;
	uint32_t	last;		/* 1: commit after this batch */
};

/*
 * Routes that start a process (a device list, a capture switch) wait
 * longer for their answer than the others (BROKER_REPLY_MS): the
 * supervisor answers within its own, shorter, bounds.
 */
#define API_SLOW_REPLY_MS	20000

struct msg_api_request {
	uint32_t	id;		/* the broker's, echoed in the reply */
	uint32_t	route;		/* enum api_route */
	char		client[API_ID_MAX];	/* routes with /api/clients/ID */
	uint32_t	offset;		/* API_CLIENTS */
	union {
		struct mix_patch	mix;		/* API_CLIENT_MIX */
		struct api_client_set	client;		/* API_CLIENT_SET */
		struct api_channels_set	channels;	/* API_CHANNELS_SET */
		struct api_probe	probe;		/* API_PROBE */
		struct api_link		link;		/* API_CLIENT_LINK */
		struct api_capture_set	capture;	/* API_CAPTURE */
		struct api_import	import;		/* API_STATE_IMPORT */
	} body;
};

enum api_ctype {
	CTYPE_JSON,
	CTYPE_METRICS,
	CTYPE_MAX
};

/* Followed by the body, 0 .. MSG_MAX_PAYLOAD - sizeof bytes. */
struct msg_api_reply {
	uint32_t	id;
	uint32_t	status;		/* 100..599 */
	uint32_t	ctype;		/* enum api_ctype */
};

/* Followed by the event's data: compact JSON, no newline. */
struct msg_event {
	char		name[24];	/* "client_connected", "meters", ... */
	uint32_t	droppable;	/* a browser that lags may skip it */
};

struct msg_subscribers {
	uint32_t	count;
};

/* The token table, whole, at the broker's start and at every change. */
struct msg_tokens {
	uint32_t	auth;		/* 0: credentials are not asked for */
	uint32_t	n;
	struct token_entry e[TOKEN_MAX];
};

/* The broker's counts of refused credentials, for /metrics. */
struct msg_auth_stats {
	uint64_t	failed;		/* wrong or unknown tokens */
	uint64_t	limited;	/* requests answered 429 */
	uint64_t	blocks;		/* addresses blocked for a while */
};

enum msg_origin {
	ORIGIN_CLIENT = 1,	/* the listener's own update_mix */
	ORIGIN_WEB,		/* the engineer, through the API */
};

struct msg_session_start {
	uint32_t	kind;		/* enum msg_client_kind */
	char		remote[64];	/* "ip:port", as the broker said */
	uint64_t	since_ms;	/* unix ms the listener connected */
	uint32_t	state_restored;
	uint32_t	is_reconnection;
	uint32_t	clients_connected;
	uint32_t	stall_ms, user_timeout_ms;	/* 1 .. 600000 */
	char		persistent_id[API_ID_MAX];
	struct proto_hello hello;
	struct mix	mix;		/* committed: what to send */
};

struct msg_session_mix {
	uint32_t	origin;		/* enum msg_origin */
	char		error[256];	/* "": committed; else why not */
	struct mix	mix;		/* the committed mix */
};

struct msg_session_stats {
	uint64_t	sent, dropped, lost, epochs, unknown;
	uint64_t	bytes, queued_bytes, ctl_dropped;
};

struct msg_session_meters {
	float		peak[2], rms[2];
};

struct msg_session_exit {
	struct msg_session_stats stats;
	char		reason[32];	/* "closed", "stalled", ... */
};

struct msg_probe {
	char		action[16];	/* "open", "execve", "socket", "send" */
	uint32_t	type;		/* "send": this type, contents zero */
};

/*
 * Adoption (shared/adopt.h): the secret is HMAC-SHA256 of the child's
 * role, pid and start time under the installation's key; the child shows
 * it to whoever adopts it, who recomputes it.
 */
#define MSG_ADOPT_SECRET	32

struct msg_adopt_key {
	uint8_t		secret[MSG_ADOPT_SECRET];
	uint32_t	grace_s;	/* orphaned this long: exit (1 .. 86400) */
};

/* What every adopted child says first. */
struct msg_adopt {
	uint8_t		secret[MSG_ADOPT_SECRET];
	char		version[32];	/* the child's RINGCAST_VERSION */
	uint64_t	orphan_ms;	/* how long it ran without a supervisor */
};

struct msg_adopt_capture {
	struct msg_adopt	 a;
	struct msg_capture_state state;
	char			 source[MSG_SOURCE_MAX];	/* canonical */
	uint32_t		 rate, channels, period;
};

enum msg_listener { LISTENER_NATIVE, LISTENER_HTTP };

struct msg_adopt_listener {
	uint32_t	which;		/* enum msg_listener */
};

struct msg_adopt_broker {
	struct msg_adopt a;
	uint32_t	subscribers;	/* its event streams */
	uint32_t	held;		/* listeners waiting: MSG_BROKER_CLIENT next */
};

struct msg_adopt_session {
	struct msg_adopt	 a;
	struct msg_session_start start;	/* as received, with today's mix */
	struct msg_session_stats stats;
};

struct msg_retire {
	uint32_t	grace_ms;	/* finish what is under way, at most this */
};

/* Where the ring stands when one capture hands it to the next. */
struct msg_capture_handover {
	uint64_t	seq;		/* the next period to write */
	uint64_t	due_ns;		/* CLOCK_MONOTONIC: when it is due */
};

#define MSG_PUBLISH_CHANNELS	8	/* AES67: at most 8 per stream */

/*
 * One published stream (sessiond/publish.c), followed by the SDP it
 * announces.  Packet k carries ring frames k * frames .. (k + 1) * frames
 * - 1, with timestamp k * frames + ts_offset and sequence number seq + k
 * (both modulo their width): a restarted publisher continues the same
 * numbering, and a gap in the ring is a gap in both.
 */
struct msg_publish_start {
	char		name[128];
	uint32_t	nch;		/* 1 .. MSG_PUBLISH_CHANNELS */
	uint16_t	channels[MSG_PUBLISH_CHANNELS];	/* ring channels */
	uint32_t	format;		/* enum rtp_format */
	uint32_t	frames;		/* per packet */
	uint32_t	pt;
	uint32_t	ssrc;
	uint32_t	ts_offset;
	uint32_t	seq;		/* of the packet at ring frame 0, 16 bits */
	uint32_t	sap_interval_ms;	/* 0: no announcements */
	uint32_t	sap_hash;	/* 16 bits */
	uint32_t	sap_origin;	/* network order */
};

struct msg_publish_state {
	uint64_t	packets, bytes;	/* sent */
	uint64_t	dropped;	/* the socket refused (full, unreachable) */
	uint64_t	late;		/* sent over a packet time after due */
	uint64_t	skipped;	/* not sent: too far behind to catch up */
	uint64_t	lost;		/* ring periods lapped or skipped */
	uint64_t	sap;		/* announcements sent */
};

#define MSG_PUBLISH_SDP	2048	/* SDP_MAX (shared/sdp.h) */

/* A publisher shows its stream as it sends it: a successor keeps it so. */
struct msg_adopt_publish {
	struct msg_adopt	 a;
	struct msg_publish_start st;
	struct msg_publish_state counters;
	char			 sdp[MSG_PUBLISH_SDP];	/* announced; NUL-ended */
};

/* ---- the channel ---- */

struct msg {
	struct msg_hdr	hdr;
	int		fd;		/* -1 when none was passed */
	const char	*fault;		/* why msg_recv refused one (EPROTO) */
	union {
		max_align_t	align;
		char		data[MSG_MAX_PAYLOAD];
	} u;
};

/* The payload as its struct (valid once msg_recv returned 1). */
#define MSG_BODY(m, type)	((const type *)(const void *)(m)->u.data)
/* The tail after a fixed payload of type t, and its length. */
const char *msg_tail(const struct msg *m, size_t *len);

const char *msg_name(uint32_t type);
const char *msg_role_name(enum msg_role role);

/*
 * Send one message of the table's size (with a tail for the types that
 * take one; NULL/0 otherwise) and a descriptor exactly where the table says
 * (-1 for none).  Returns 0, or -1 with errno: EAGAIN on a full
 * non-blocking channel (the caller decides whether to drop or retry),
 * EINVAL for a message the table does not allow from `from`.
 */
int	msg_send(int sock, enum msg_role from, uint32_t type, const void *body,
	    size_t len, const void *tail, size_t taillen, int fd);
/*
 * Test only (a "send" probe): a message of any type, with a payload of its
 * size but all zero and no descriptor, whatever the table allows: how the
 * tests show that a receiver applies the fault policy.
 */
int	msg_send_probe(int sock, uint32_t type);
/* Test only: a header as given (any version, type or length), then n bytes
 * and a descriptor (-1 for none); how the tests forge malformed datagrams. */
int	msg_send_raw(int sock, const struct msg_hdr *hdr, const void *p,
	    size_t n, int fd);
/*
 * Receive one message sent by `peer` to `self`.  Returns 1 with a message
 * whose version, direction, size, descriptor and contents the table allows;
 * 0 on EOF; -1 with errno (EAGAIN: nothing waiting on a non-blocking
 * channel; EPROTO: a channel fault, m->fault saying which, any descriptor
 * closed).  A passed descriptor is close-on-exec.
 */
int	msg_recv(int sock, enum msg_role self, enum msg_role peer,
	    struct msg *m);

/* A hash of the table: every type's name, roles, descriptor, size, tail. */
uint32_t msg_fingerprint(void);
/* Whether a payload of type (tail included) passes the table's checks. */
bool	msg_valid(uint32_t type, const void *body, size_t len);
/* Whether the table lets `from` send type to `to` (for tests and docs). */
bool	msg_allowed(uint32_t type, enum msg_role from, enum msg_role to);
/* Whether type carries a descriptor; its fixed payload size; a tail. */
bool	msg_carries_fd(uint32_t type);
size_t	msg_size(uint32_t type);
bool	msg_has_tail(uint32_t type);

/* A close-on-exec SOCK_SEQPACKET pair. */
int	msg_channel(int sv[2]);

#endif
