/* fuzz_rtp.c — what the ingest reads from the LAN: RTP packets into the jitter buffer, SAP and SDP, stream URLs. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "shared/jitter.h"
#include "shared/rtp.h"
#include "shared/sdp.h"

/*
 * An input is either one datagram, given to every parser, or (first byte
 * 'J') a sequence of datagrams for one jitter buffer: records of a quiet
 * time (1 byte, ms x 8), a length (2 bytes, big-endian) and the bytes.
 */

static void
one_rtp(const uint8_t *d, size_t n)
{
	struct rtp_hdr h;

	if (rtp_decode(d, n, &h) != RTP_OK)
		return;
	FUZZ_CHECK(h.payload >= d + RTP_HDR_LEN);
	FUZZ_CHECK(h.payload + h.payload_len <= d + n);
	FUZZ_CHECK(h.pt < 128 && h.csrc_count < 16);
}

/* What parses builds, and what is built parses back the same. */
static void
sdp_round_trip(const char *text, size_t n)
{
	struct sdp_stream s, b;
	char out[SDP_MAX], err[256];
	size_t len;

	if (sdp_parse(text, n, &s, err, sizeof(err)) != SDP_OK) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(s.channels >= 1 && s.channels <= SDP_CHANNELS_MAX);
	FUZZ_CHECK(s.port > 0 && s.pt < 128 && s.rate > 0);
	FUZZ_CHECK(memchr(s.name, '\0', sizeof(s.name)) != NULL);
	s.info[0] = '\0';
	if ((len = sdp_build(&s, out, sizeof(out))) == 0)
		return;
	FUZZ_CHECK(sdp_parse(out, len, &b, err, sizeof(err)) == SDP_OK);
	FUZZ_CHECK(strcmp(b.name, s.name) == 0 && b.group == s.group &&
	    b.port == s.port && b.pt == s.pt && b.format == s.format &&
	    b.rate == s.rate && b.channels == s.channels &&
	    b.ttl == s.ttl && b.session_id == s.session_id &&
	    b.ptime_us == s.ptime_us && b.has_offset &&
	    b.offset == s.offset);
}

static void
one_sap(const uint8_t *d, size_t n)
{
	static uint8_t again[SAP_MAX + 64];
	struct sap_msg m, m2;
	size_t len;

	sdp_round_trip((const char *)d, n);
	if (sap_decode(d, n, &m) != SDP_OK)
		return;
	FUZZ_CHECK(m.sdp >= (const char *)d && m.sdp + m.sdp_len <=
	    (const char *)d + n);
	sdp_round_trip(m.sdp, m.sdp_len);
	if ((len = sap_encode(again, sizeof(again), m.deletion, m.hash,
	    m.origin, m.sdp, m.sdp_len)) == 0)
		return;
	FUZZ_CHECK(sap_decode(again, len, &m2) == SDP_OK);
	FUZZ_CHECK(m2.deletion == m.deletion && m2.hash == m.hash &&
	    m2.origin == m.origin && m2.sdp_len == m.sdp_len);
}

static void
one_url(const uint8_t *d, size_t n)
{
	char s[512];
	struct rtp_url u;
	char err[256];

	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	memcpy(s, d, n);
	s[n] = '\0';
	if (rtp_url_parse(s, &u, err, sizeof(err)) == 0)
		FUZZ_CHECK(u.nparams <= RTP_URL_PARAMS && u.host[0] != '\0');
}

/* Packets into one buffer, periods out: positions only ever advance. */
static void
jitter_run(const uint8_t *d, size_t n)
{
	struct jitter_config c = { 48000, 4, 64, 144 };
	struct jitter_stats st;
	static float out[64 * 4];
	enum jitter_verdict v;
	struct jitter j;
	uint64_t wp, taken = 0;
	size_t len;

	if (n == 0 || jitter_init(&j, &c, 640) == -1)
		return;
	jitter_stream(&j, d[0] & 1 ? RTP_L16 : RTP_L24, 1 + d[0] % 3, 96);
	for (d++, n--; n >= 3; d += len, n -= len) {
		uint64_t quiet = (uint64_t)d[0] * 8;

		len = (size_t)(d[1] << 8 | d[2]);
		d += 3;
		n -= 3;
		if (len > n)
			len = n;
		v = jitter_put(&j, d, len, quiet);
		taken += v == JITTER_TAKEN || v == JITTER_EPOCH;
		wp = j.wp;
		while (jitter_ready(&j) || (quiet >= JITTER_QUIET_MS &&
		    jitter_pending(&j)))
			jitter_pop(&j, out);
		FUZZ_CHECK(j.wp >= wp && j.high >= j.wp);
		for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
			FUZZ_CHECK(out[i] >= -1.0f && out[i] < 1.0f);
	}
	jitter_stats(&j, &st);
	FUZZ_CHECK(st.packets == taken);
	jitter_free(&j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 0 && data[0] == 'J') {
		jitter_run(data + 1, size - 1);
		return 0;
	}
	one_rtp(data, size);
	one_sap(data, size);
	one_url(data, size);
	return 0;
}
