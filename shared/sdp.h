/* sdp.h — SAP announcements (RFC 2974) carrying SDP (RFC 4566) of one AES67 audio stream. */
#ifndef RINGCAST_SDP_H
#define RINGCAST_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/rtp.h"

/*
 * Pure and total, like rtp.h: the ingest parses what anyone on the LAN
 * announces with these, inside its sandbox; the supervisor builds what the
 * publisher announces.  Addresses are IPv4 in network byte order (AES67
 * streams are IPv4 multicast; SAP over IPv6 is refused as unsupported).
 */

#define SAP_PORT	9875
#define SAP_GROUP	"239.255.255.255"	/* where AES67 devices and ffmpeg listen */
#define SAP_MIME	"application/sdp"
#define SDP_MAX		2048	/* what sdp_build writes at most; parse takes more */
#define SAP_MAX		(8 + sizeof(SAP_MIME) + SDP_MAX)

enum sdp_err {
	SDP_OK = 0,
	SAP_ESHORT = -1,	/* shorter than its header says */
	SAP_EVERSION = -2,	/* not SAP version 1 */
	SAP_EIPV6 = -3,		/* an IPv6 origin: not supported */
	SAP_ECRYPT = -4,	/* encrypted or compressed: cannot be read */
	SAP_ETYPE = -5,		/* a payload type other than application/sdp */
	SDP_ESYNTAX = -6,	/* not SDP (err says where) */
	SDP_EMEDIA = -7,	/* no audio stream ringcast can take (err says why) */
};

struct sap_msg {
	bool		 deletion;	/* T: the session ends */
	uint16_t	 hash;		/* message id hash */
	uint32_t	 origin;	/* originating source */
	const char	*sdp;		/* into the packet */
	size_t		 sdp_len;
};

/* One audio stream of an SDP: what ringcast announces and can ingest. */
struct sdp_stream {
	char		 name[128];	/* s= */
	char		 info[128];	/* media i=, "" for none */
	uint64_t	 session_id;	/* o= sess-id (and version) */
	uint32_t	 origin;	/* o= address, 0 if not IPv4 */
	uint32_t	 group;		/* c= (session or media level) */
	uint32_t	 ttl;		/* c= /ttl, 0 if none */
	uint16_t	 port;		/* m= */
	uint8_t		 pt;		/* m='s first format */
	enum rtp_format	 format;	/* a=rtpmap of pt */
	uint32_t	 rate;
	uint32_t	 channels;	/* 1 if rtpmap says none (RFC 3551) */
	uint32_t	 ptime_us;	/* a=ptime, 0 if none */
	uint32_t	 source;	/* a=source-filter incl, 0 if none */
	bool		 has_offset;
	uint32_t	 offset;	/* a=mediaclk:direct= */
};

#define SDP_CHANNELS_MAX	64

const char *sdp_strerror(int err);

/* A received SAP packet: SDP_OK with m pointing into p, or a SAP_E* verdict. */
int	sap_decode(const uint8_t *p, size_t n, struct sap_msg *m);
/* Header, payload type and sdp into out: the bytes written, 0 if it does not fit. */
size_t	sap_encode(uint8_t *out, size_t cap, bool deletion, uint16_t hash,
	    uint32_t origin, const char *sdp, size_t sdp_len);

/*
 * The first audio RTP/AVP stream of an SDP with a c= address, an rtpmap
 * for its payload type in L24 or L16 and at most SDP_CHANNELS_MAX
 * channels.  SDP_OK, or SDP_ESYNTAX / SDP_EMEDIA with err saying why.
 */
int	sdp_parse(const char *text, size_t len, struct sdp_stream *s,
	    char *err, size_t errlen);
/*
 * The SDP ringcast announces for s (CRLF lines, the AES67 attributes:
 * rtpmap, ptime, ts-refclk, mediaclk, source-filter when s->source is
 * set).  Its length, or 0 if it does not fit cap (SDP_MAX always does).
 */
size_t	sdp_build(const struct sdp_stream *s, char *out, size_t cap);
/* "1", "0.125", "0.333": a ptime in ms as SDP writes it. */
void	sdp_ptime_text(uint32_t ptime_us, char *out, size_t len);

#endif
