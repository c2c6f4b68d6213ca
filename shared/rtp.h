/* rtp.h — RTP (RFC 3550) headers, L24/L16 audio payloads (RFC 3190, 3551) and rtp:// stream URLs. */
#ifndef RINGCAST_RTP_H
#define RINGCAST_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every function here is pure and total: any bytes in, a verdict out, no
 * allocation, no I/O.  The ingest (capture) decodes packets from the
 * network with them inside its sandbox; the publisher encodes with them.
 */

#define RTP_HDR_LEN		12
#define RTP_VERSION		2
#define RTP_PT_DYNAMIC		96	/* what AES67 devices, ffmpeg and GStreamer use */
#define RTP_PAYLOAD_MAX		8952	/* a 9000-byte jumbo frame less IP, UDP, RTP */
#define RTP_STREAM_CHANNELS	8	/* AES67: at most 8 channels per stream */

enum rtp_format {
	RTP_L16 = 2,		/* the value is the bytes per sample */
	RTP_L24 = 3,
};

enum rtp_err {
	RTP_OK = 0,
	RTP_ESHORT = -1,	/* shorter than a header */
	RTP_EVERSION = -2,	/* not version 2 */
	RTP_ECSRC = -3,		/* the CSRC list runs past the end */
	RTP_EEXT = -4,		/* the header extension runs past the end */
	RTP_EPAD = -5,		/* a padding count larger than the payload */
};

struct rtp_hdr {
	bool		 marker;
	uint8_t		 pt;
	uint16_t	 seq;
	uint32_t	 ts;
	uint32_t	 ssrc;
	uint8_t		 csrc_count;
	const uint8_t	*payload;	/* into the packet (decode) */
	size_t		 payload_len;	/* padding removed */
};

const char *rtp_strerror(int err);
/* A received packet: RTP_OK with h filled in, or an RTP_E* verdict. */
int	rtp_decode(const uint8_t *p, size_t n, struct rtp_hdr *h);
/* The 12-byte header of a packet we send (V=2, no CSRC, no extension). */
void	rtp_encode(uint8_t out[RTP_HDR_LEN], const struct rtp_hdr *h);

const char *rtp_format_name(enum rtp_format f);
/* "L24" / "L16", any case: 0 and *f, or -1. */
int	rtp_format_parse(const char *s, size_t n, enum rtp_format *f);

/*
 * Samples, big-endian as the profiles say.  Encode: n floats, clipped to
 * [-1, 1], scaled by 2^23 (L24) or 2^15 (L16), rounded half away from
 * zero, NaN as 0; returns the bytes written.  rtp_quantize is the value a
 * receiver gets back for x: the tests compare against it.
 */
size_t	rtp_pack(enum rtp_format f, uint8_t *out, const float *in, size_t n);
float	rtp_quantize(enum rtp_format f, float x);
/*
 * Decode frames of src_nch channels into dst, whose frames are dst_stride
 * floats apart: channel c < copy_nch of each frame goes to dst[c], the
 * others are left alone.
 */
void	rtp_unpack(enum rtp_format f, float *dst, size_t dst_stride,
	    const uint8_t *src, size_t frames, uint32_t src_nch,
	    uint32_t copy_nch);

/*
 * An RTP stream's URL, as ringcast's configuration spells one:
 * rtp://HOST:PORT?key=value&key=value.  The host and port are split by
 * opt_hostport's rules; each value may be %XX-encoded.  Which keys mean
 * something is the caller's business (the publisher and the ingest take
 * different ones); a key given twice is refused.
 */
#define RTP_URL_PARAMS	12
#define RTP_URL_VALUE	128

struct rtp_url {
	char	host[64];
	char	port[8];
	size_t	nparams;
	struct {
		char	key[16];
		char	value[RTP_URL_VALUE];
	} param[RTP_URL_PARAMS];
};

int	rtp_url_parse(const char *url, struct rtp_url *u, char *err,
	    size_t errlen);
/* The value of key, or NULL. */
const char *rtp_url_get(const struct rtp_url *u, const char *key);
/* The number key says, in lo..hi, or def without it: 0, or -1 with err. */
int	rtp_url_number(const struct rtp_url *u, const char *key, long long lo,
	    long long hi, long long def, long long *out, char *err,
	    size_t errlen);
/* Every key is one of the NULL-terminated list: 0, or -1 naming the first that is not. */
int	rtp_url_only(const struct rtp_url *u, const char *const *keys,
	    char *err, size_t errlen);

#endif
