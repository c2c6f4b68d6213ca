/* proto.h — the Fichatech v2 wire protocol (docs/PROTOCOL.md) and extensions. */
#ifndef RINGCAST_PROTO_H
#define RINGCAST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define PROTO_MAGIC		0xA1D10A7Cu
#define PROTO_VERSION		2
#define PROTO_HDR_LEN		16
#define PROTO_TYPE_AUDIO	0x01
#define PROTO_TYPE_CONTROL	0x02
#define PROTO_FLAG_FLOAT32	0x01
#define PROTO_FLAG_INT16	0x02
#define PROTO_FLAG_ZLIB		0x04
#define PROTO_FLAG_RF		0x80
#define PROTO_CONTROL_MAX	(64 * 1024)	/* our cap on control payloads */
#define PROTO_AUDIO_MAX		2000000		/* the deployed client's cap */
#define PROTO_JSON_DEPTH	16		/* deepest JSON nesting accepted */
#define PROTO_MASK_WORDS_MAX	8		/* 256 channels with the extension */

/* Error codes: 0 or a negative PROTO_E* value. */
enum {
	PROTO_OK = 0,
	PROTO_EMORE = -1,	/* incomplete: need more bytes */
	PROTO_EMAGIC = -2,	/* bad magic: framing is lost, close */
	PROTO_ETOOBIG = -3,	/* payload length over the cap */
	PROTO_EJSON = -4,	/* control payload is not a JSON object */
	PROTO_EFIELD = -5,	/* a field has the wrong type or range */
	PROTO_ESHORT = -6,	/* audio payload shorter than its mask says */
	PROTO_EDEPTH = -7,	/* JSON nested too deep */
	PROTO_ENOMEM = -8,	/* out of memory while encoding */
};
const char *proto_strerror(int err);

struct proto_hdr {
	uint32_t	magic;
	uint16_t	version;
	uint8_t		type;		/* PROTO_TYPE_* (any value decodes) */
	uint8_t		flags;
	uint32_t	timestamp_ms;
	uint32_t	length;		/* payload bytes */
};

void	proto_hdr_encode(uint8_t out[PROTO_HDR_LEN], const struct proto_hdr *h);
/* Decodes any 16 bytes; PROTO_EMAGIC if the magic is wrong. */
int	proto_hdr_decode(const uint8_t in[PROTO_HDR_LEN], struct proto_hdr *h);

/*
 * Split one whole message off the front of a byte buffer.  Returns PROTO_OK
 * with *hdr, *payload (pointing into buf) and *consumed set; PROTO_EMORE when
 * buf holds no whole message yet; PROTO_EMAGIC; or PROTO_ETOOBIG when the
 * length exceeds max_payload (the caller closes: it will not buffer it).
 */
int	proto_split(const uint8_t *buf, size_t len, size_t max_payload,
	    struct proto_hdr *hdr, const uint8_t **payload, size_t *consumed);

/* Milliseconds of the wall clock, truncated to 32 bits, for headers. */
uint32_t proto_now_ms(void);

/* ---- control messages ---- */

enum proto_ctl {
	PROTO_CTL_UNKNOWN = 0,
	PROTO_CTL_HANDSHAKE,
	PROTO_CTL_SUBSCRIBE,
	PROTO_CTL_HEARTBEAT,
	PROTO_CTL_UPDATE_MIX,
	PROTO_CTL_GET_CLIENT_STATE,
	/* server -> client, recognised for the client side */
	PROTO_CTL_HANDSHAKE_RESPONSE,
	PROTO_CTL_MIX_STATE,
	PROTO_CTL_HEARTBEAT_RESPONSE,
	PROTO_CTL_CHANNEL_UPDATE,
	PROTO_CTL_MASTER_GAIN_UPDATE,
	PROTO_CTL_ERROR,
};
const char *proto_ctl_name(enum proto_ctl t);

/*
 * Parse a control payload: a UTF-8 JSON object of at most PROTO_CONTROL_MAX
 * bytes and PROTO_JSON_DEPTH levels with a string "type".  On success *obj
 * holds a new reference and *type the kind (PROTO_CTL_UNKNOWN for a type we
 * do not know: the caller ignores and counts it).
 */
int	proto_control_parse(const uint8_t *payload, size_t len, json_t **obj,
	    enum proto_ctl *type);

/*
 * Check that JSON text nests at most PROTO_JSON_DEPTH levels and holds no NUL
 * byte, in one linear pass, before a recursive parser sees it: PROTO_OK,
 * PROTO_EDEPTH or PROTO_EJSON.
 */
int	proto_json_depth_check(const void *text, size_t len);

/*
 * An HTTP API body: the depth check, then one JSON value with no duplicate
 * keys.  PROTO_OK with *out a new reference, or an error with why filled
 * ("invalid JSON: ...").
 */
int	proto_json_body(const void *text, size_t len, json_t **out, char *why,
	    size_t whylen);

/*
 * Encode a control message (header + compact JSON) into a new malloc'd
 * buffer.  Adds "timestamp" if missing; rf sets flag 0x80 and "rf_mode".
 */
int	proto_control_encode(json_t *obj, bool rf, uint8_t **out, size_t *len);

/* A display name from the API (a listener's, a channel's): a JSON string of
 * 1..63 bytes without control characters (jansson checked the UTF-8). */
bool	proto_name_valid(const json_t *v);

/* The client's handshake, as the deployed app and our extensions send it. */
struct proto_hello {
	char		client_id[128];
	char		device_uuid[128];
	char		name[128];		/* device_name, else name */
	char		client_type[32];
	char		user_agent[256];
	int		protocol_version;
	bool		rf_mode;
	bool		persistent;
	bool		auto_reconnect;
	bool		optimized;
	int		num_channels;		/* 0 when absent */
	/* extensions (absent = exactly v2) */
	bool		float32;		/* "audio_format": "float32" */
	bool		server_mix;		/* "server_mix": true */
	uint32_t	packet_frames;		/* 0 = one period per packet */
	uint32_t	mask_words;		/* "channel_mask_words", 1 = v2 */
};

/* Fill *h from a handshake object; PROTO_EFIELD for missing/invalid fields. */
int	proto_hello_parse(const json_t *obj, struct proto_hello *h);
/* Whether a hello that came over a channel has the form parse gives one. */
bool	proto_hello_valid(const struct proto_hello *h);
/* The hello as a JSON object (round-trips through proto_hello_parse). */
json_t	*proto_hello_json(const struct proto_hello *h);
/* Identity across reconnects: device_uuid if sent, else client_id. */
const char *proto_hello_identity(const struct proto_hello *h);

/* ---- audio messages ---- */

/* Bytes of a whole audio message (header included). */
size_t	proto_audio_size(uint32_t nch, uint32_t frames, bool float32,
	    uint32_t mask_words);
/*
 * Encode a whole audio message into out (proto_audio_size bytes):
 * position, mask words, then frames x nch samples (frame-interleaved, already
 * in ascending channel order) as int16 BE (clipped to +-1, scaled by 32767,
 * rounded half away from zero, NaN as 0) or float32 BE.  Returns bytes
 * written.
 */
size_t	proto_audio_encode(uint8_t *out, uint64_t position,
	    const uint32_t *mask, uint32_t mask_words, const float *samples,
	    uint32_t nch, uint32_t frames, bool float32, bool rf,
	    uint32_t timestamp_ms);

/*
 * n samples as little-endian int16 (WAV's PCM), rounded and clipped exactly
 * as proto_audio_encode's int16.  Returns the bytes written, 2 n.
 */
size_t	proto_pcm16le(uint8_t *out, const float *samples, size_t n);

struct proto_audio {
	uint64_t	position;
	uint32_t	mask[PROTO_MASK_WORDS_MAX];
	uint32_t	nch;		/* bits set in the mask */
	uint32_t	frames;
	bool		float32;
	const uint8_t	*samples;	/* into the payload */
};
/* Decode an audio payload; PROTO_ESHORT if sizes do not add up. */
int	proto_audio_decode(const struct proto_hdr *h, const uint8_t *payload,
	    uint32_t mask_words, struct proto_audio *a);
/* Sample i (frame-major) of a decoded payload as a float in [-1, 1). */
float	proto_audio_sample(const struct proto_audio *a, size_t i);

#endif
