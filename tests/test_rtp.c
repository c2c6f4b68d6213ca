/* test_rtp.c — RTP headers and payloads, SAP and SDP, the ingest's jitter buffer: tables and edge cases. */
#include <arpa/inet.h>

#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "shared/jitter.h"
#include "shared/rtp.h"
#include "shared/sdp.h"

TestSuite(rtp, .timeout = 30);
TestSuite(sdp, .timeout = 30);
TestSuite(jitter, .timeout = 30);

/* ---- RTP ---- */

Test(rtp, header_round_trips)
{
	struct rtp_hdr h = { .marker = true, .pt = 97, .seq = 0xfffe,
	    .ts = 0x89abcdef, .ssrc = 0x01020304 }, d;
	uint8_t p[RTP_HDR_LEN + 6] = { 0 };

	rtp_encode(p, &h);
	cr_assert_eq(p[0], 0x80);
	cr_assert_eq(p[1], 0x80 | 97);
	cr_assert_eq(rtp_decode(p, sizeof(p), &d), RTP_OK);
	cr_assert(d.marker);
	cr_assert_eq(d.pt, 97);
	cr_assert_eq(d.seq, 0xfffe);
	cr_assert_eq(d.ts, 0x89abcdef);
	cr_assert_eq(d.ssrc, 0x01020304);
	cr_assert_eq(d.payload, p + RTP_HDR_LEN);
	cr_assert_eq(d.payload_len, 6);
}

/* Hostile headers: every length is checked before it is used. */
Test(rtp, malformed_headers_are_refused)
{
	static const struct {
		uint8_t	 b[20];
		size_t	 n;
		int	 want;
		size_t	 payload;
	} t[] = {
		{ { 0x80, 96 }, 11, RTP_ESHORT, 0 },
		{ { 0x40, 96 }, 12, RTP_EVERSION, 0 },
		{ { 0x8f, 96 }, 12, RTP_ECSRC, 0 },		/* 15 CSRCs, none there */
		{ { 0x81, 96 }, 15, RTP_ECSRC, 0 },
		{ { 0x81, 96 }, 16, RTP_OK, 0 },
		{ { 0x90, 96 }, 14, RTP_EEXT, 0 },
		{ { 0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 2 },
		    20, RTP_EEXT, 0 },				/* 8 more bytes promised */
		{ { 0x90, 96, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 1 },
		    20, RTP_OK, 0 },
		{ { 0xa0, 96, [13] = 9 }, 14, RTP_EPAD, 0 },	/* 9 > 2 */
		{ { 0xa0, 96, [13] = 0 }, 14, RTP_EPAD, 0 },
		{ { 0xa0, 96, [13] = 2 }, 14, RTP_OK, 0 },
		{ { 0xa0, 96, [15] = 1 }, 16, RTP_OK, 3 },
	};
	struct rtp_hdr h;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(rtp_decode(t[i].b, t[i].n, &h), t[i].want,
		    "row %zu", i);
		if (t[i].want == RTP_OK)
			cr_assert_eq(h.payload_len, t[i].payload, "row %zu", i);
	}
}

Test(rtp, samples_pack_and_unpack)
{
	static const float in[] = { 0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 2.0f,
	    -2.0f, 1.0f / 8388608.0f, NAN, -0.25f };
	uint8_t b[3 * 10];
	float out[10];
	size_t i;

	cr_assert_eq(rtp_pack(RTP_L24, b, in, 10), 30);
	cr_assert_eq(b[3], 0x40);			/* 0.5 = 0x400000 */
	cr_assert_eq(b[9], 0x7f);			/* 1.0 clips to 0x7fffff */
	cr_assert_eq(b[12], 0x80);			/* -1.0 = 0x800000 */
	rtp_unpack(RTP_L24, out, 1, b, 10, 1, 1);
	for (i = 0; i < 10; i++)
		cr_assert_eq(out[i], rtp_quantize(RTP_L24, in[i]), "%zu", i);
	cr_assert_eq(out[1], 0.5f);
	cr_assert_eq(out[7], 1.0f / 8388608.0f);
	cr_assert_eq(out[8], 0.0f);
	cr_assert_eq(rtp_pack(RTP_L16, b, in, 10), 20);
	rtp_unpack(RTP_L16, out, 1, b, 10, 1, 1);
	for (i = 0; i < 10; i++)
		cr_assert_eq(out[i], rtp_quantize(RTP_L16, in[i]), "%zu", i);
	cr_assert_eq(out[3], 32767.0f / 32768.0f);
}

/* Three source channels into frames of four, the first two copied. */
Test(rtp, unpack_places_channels)
{
	static const float in[6] = { 0.125f, 0.25f, 0.375f, -0.125f, -0.25f,
	    -0.375f };
	float out[8];
	uint8_t b[18];

	for (size_t i = 0; i < 8; i++)
		out[i] = 9.0f;
	rtp_pack(RTP_L24, b, in, 6);
	rtp_unpack(RTP_L24, out, 4, b, 2, 3, 2);
	cr_assert_eq(out[0], 0.125f);
	cr_assert_eq(out[1], 0.25f);
	cr_assert_eq(out[2], 9.0f);
	cr_assert_eq(out[4], -0.125f);
	cr_assert_eq(out[5], -0.25f);
	cr_assert_eq(out[6], 9.0f);
}

Test(rtp, urls)
{
	struct rtp_url u;
	char err[200];

	cr_assert_eq(rtp_url_parse("rtp://239.69.1.1:5004?channels=0-7&"
	    "name=Stage%20A&ttl=4", &u, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(u.host, "239.69.1.1");
	cr_assert_str_eq(u.port, "5004");
	cr_assert_str_eq(rtp_url_get(&u, "name"), "Stage A");
	cr_assert_str_eq(rtp_url_get(&u, "channels"), "0-7");
	cr_assert_null(rtp_url_get(&u, "format"));
	cr_assert_eq(rtp_url_only(&u, (const char *const[]){ "channels",
	    "name", NULL }, err, sizeof(err)), -1);
	cr_assert(strstr(err, "ttl") != NULL, "%s", err);
	cr_assert_eq(rtp_url_parse("rtp://239.1.1.1:5004", &u, err,
	    sizeof(err)), 0);
	cr_assert_eq(u.nparams, 0);
	cr_assert_eq(rtp_url_parse("udp://239.1.1.1:5004", &u, err,
	    sizeof(err)), -1);
	cr_assert_eq(rtp_url_parse("rtp://239.1.1.1", &u, err, sizeof(err)),
	    -1);
	cr_assert_eq(rtp_url_parse("rtp://239.1.1.1:5004?a=1&a=2", &u, err,
	    sizeof(err)), -1);
	cr_assert_eq(rtp_url_parse("rtp://239.1.1.1:5004?name=%0a", &u, err,
	    sizeof(err)), -1, "a control byte");
	cr_assert_eq(rtp_url_parse("rtp://239.1.1.1:5004?novalue", &u, err,
	    sizeof(err)), -1);
}

/* ---- SAP and SDP ---- */

static const char ffmpeg_sdp[] =
    "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\n"
    "c=IN IP4 239.69.11.2/1\r\nt=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\n"
    "m=audio 5006 RTP/AVP 96\r\nb=AS:2304\r\na=rtpmap:96 L24/48000/2\r\n";

Test(sdp, parses_what_ffmpeg_announces)
{
	struct sdp_stream s;
	char err[200];

	cr_assert_eq(sdp_parse(ffmpeg_sdp, strlen(ffmpeg_sdp), &s, err,
	    sizeof(err)), SDP_OK, "%s", err);
	cr_assert_str_eq(s.name, "No Name");
	cr_assert_eq(s.group, inet_addr("239.69.11.2"));
	cr_assert_eq(s.ttl, 1);
	cr_assert_eq(s.port, 5006);
	cr_assert_eq(s.pt, 96);
	cr_assert_eq(s.format, RTP_L24);
	cr_assert_eq(s.rate, 48000);
	cr_assert_eq(s.channels, 2);
	cr_assert_eq(s.ptime_us, 0);
	cr_assert_eq(s.source, 0);
	cr_assert_eq(s.origin, inet_addr("127.0.0.1"));
}

Test(sdp, builds_and_parses_back)
{
	struct sdp_stream s = { .name = "Stage A", .info = "8 channels",
	    .session_id = 1591125781, .group = inet_addr("239.69.1.1"),
	    .ttl = 1, .port = 5004, .pt = 96, .format = RTP_L24,
	    .rate = 48000, .channels = 8, .ptime_us = 1000,
	    .origin = inet_addr("10.0.0.7"), .source = inet_addr("10.0.0.7"),
	    .has_offset = true, .offset = 4000000000u }, b;
	char text[SDP_MAX], err[200];
	size_t n = sdp_build(&s, text, sizeof(text));

	cr_assert_gt(n, 0);
	cr_assert(strstr(text, "a=rtpmap:96 L24/48000/8\r\n") != NULL, "%s",
	    text);
	cr_assert(strstr(text, "a=ptime:1\r\n") != NULL);
	cr_assert(strstr(text, "a=ts-refclk:local\r\n") != NULL);
	cr_assert(strstr(text, "a=mediaclk:direct=4000000000\r\n") != NULL);
	cr_assert(strstr(text, "a=source-filter: incl IN IP4 239.69.1.1 "
	    "10.0.0.7\r\n") != NULL, "%s", text);
	cr_assert(strstr(text, "c=IN IP4 239.69.1.1/1\r\n") != NULL);
	cr_assert_eq(sdp_parse(text, n, &b, err, sizeof(err)), SDP_OK, "%s",
	    err);
	cr_assert_str_eq(b.name, s.name);
	cr_assert_eq(b.session_id, s.session_id);
	cr_assert_eq(b.group, s.group);
	cr_assert_eq(b.port, s.port);
	cr_assert_eq(b.channels, 8);
	cr_assert_eq(b.ptime_us, 1000);
	cr_assert_eq(b.source, s.source);
	cr_assert(b.has_offset);
	cr_assert_eq(b.offset, s.offset);
	cr_assert_eq(sdp_build(&s, text, 100), 0, "a short buffer");
}

Test(sdp, ptime_text)
{
	static const struct {
		uint32_t	 us;
		const char	*text;
	} t[] = { { 1000, "1" }, { 125, "0.125" }, { 333, "0.333" },
	    { 4000, "4" }, { 250, "0.25" }, { 1500, "1.5" } };
	char buf[16];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		sdp_ptime_text(t[i].us, buf, sizeof(buf));
		cr_assert_str_eq(buf, t[i].text);
	}
}

/* What ffmpeg taught us about SDP, and what we cannot take. */
Test(sdp, refusals)
{
	static const struct {
		const char	*sdp;
		int		 want;
	} t[] = {
		{ "v=0\nc=IN IP4 239.1.1.1\nm=audio 5004 RTP/AVP 96\n"
		    "a=rtpmap:96 L24/48000/8\n", SDP_OK },	/* LF endings */
		{ "v=0\nm=audio 5004 RTP/AVP 96\nc=IN IP4 239.1.1.1/4\n"
		    "a=rtpmap:96 l16/48000/2\n", SDP_OK },	/* media c= */
		{ "v=0\nm=audio 5004 RTP/AVP 96\na=rtpmap:96 L24/48000/8\n",
		    SDP_EMEDIA },				/* no c= */
		{ "v=0\nc=IN IP4 239.1.1.1\na=rtpmap:96 L24/48000/8\n"
		    "m=audio 5004 RTP/AVP 96\n", SDP_EMEDIA },	/* rtpmap before m= */
		{ "v=0\nc=IN IP4 239.1.1.1\nm=audio 5004 RTP/AVP 96\n"
		    "a=rtpmap:96 opus/48000/2\n", SDP_EMEDIA },
		{ "v=0\nc=IN IP4 239.1.1.1\nm=audio 5004 RTP/AVP 96\n"
		    "a=rtpmap:96 L24/48000/65\n", SDP_EMEDIA },
		{ "v=0\nc=IN IP4 239.1.1.1\nm=video 5004 RTP/AVP 96\n"
		    "a=rtpmap:96 L24/48000/2\n", SDP_EMEDIA },
		{ "v=0\nc=IN IP4 239.1.1.999\nm=audio 5004 RTP/AVP 96\n",
		    SDP_ESYNTAX },
		{ "v=0\nc=IN IP4 239.1.1.1\nm=audio 0 RTP/AVP 96\n",
		    SDP_ESYNTAX },
		{ "v=0\nc=IN IP4 239.1.1.1\nm=audio 5004 RTP/AVP 96\nxyz\n",
		    SDP_ESYNTAX },
		{ "v=1\n", SDP_ESYNTAX },
		{ "", SDP_ESYNTAX },
	};
	struct sdp_stream s;
	char err[200];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(sdp_parse(t[i].sdp, strlen(t[i].sdp), &s, err,
		    sizeof(err)), t[i].want, "row %zu: %s", i, err);
	/* L24/48000 with no count is mono (RFC 3551). */
	cr_assert_eq(sdp_parse("v=0\nc=IN IP4 239.1.1.1\nm=audio 5004 RTP/AVP "
	    "96\na=rtpmap:96 L24/48000\n", 64, &s, err, sizeof(err)), SDP_OK);
	cr_assert_eq(s.channels, 1);
}

Test(sdp, sap_round_trips)
{
	static uint8_t p[SAP_MAX];
	struct sap_msg m;
	size_t n;

	n = sap_encode(p, sizeof(p), false, 0xbeef, inet_addr("10.0.0.7"),
	    ffmpeg_sdp, strlen(ffmpeg_sdp));
	cr_assert_eq(n, 8 + 16 + strlen(ffmpeg_sdp));
	cr_assert_eq(p[0], 0x20);
	cr_assert_eq(sap_decode(p, n, &m), SDP_OK);
	cr_assert_not(m.deletion);
	cr_assert_eq(m.hash, 0xbeef);
	cr_assert_eq(m.origin, inet_addr("10.0.0.7"));
	cr_assert_eq(m.sdp_len, strlen(ffmpeg_sdp));
	cr_assert(memcmp(m.sdp, ffmpeg_sdp, m.sdp_len) == 0);
	n = sap_encode(p, sizeof(p), true, 1, 0, ffmpeg_sdp, 10);
	cr_assert_eq(p[0], 0x24);
	cr_assert_eq(sap_decode(p, n, &m), SDP_OK);
	cr_assert(m.deletion);
	cr_assert_eq(sap_encode(p, 20, false, 1, 0, ffmpeg_sdp, 10), 0);
}

Test(sdp, sap_refusals)
{
	static const struct {
		uint8_t		 b[40];
		size_t		 n;
		int		 want;
	} t[] = {
		{ { 0x20, 0, 1, 2, 1, 2, 3, 4 }, 7, SAP_ESHORT },
		{ { 0x00, 0, 1, 2, 1, 2, 3, 4, 'v', '=', '0' }, 11, SAP_EVERSION },
		{ { 0x30, 0, 1, 2, 1, 2, 3, 4 }, 24, SAP_EIPV6 },
		{ { 0x22, 0, 1, 2, 1, 2, 3, 4, 'v', '=', '0' }, 11, SAP_ECRYPT },
		{ { 0x21, 0, 1, 2, 1, 2, 3, 4, 'v', '=', '0' }, 11, SAP_ECRYPT },
		{ { 0x20, 9, 1, 2, 1, 2, 3, 4, 'v', '=', '0' }, 11, SAP_ESHORT },
		{ { 0x20, 1, 1, 2, 1, 2, 3, 4, 0, 0, 0, 0, 'v', '=', '0' }, 15,
		    SDP_OK },				/* auth data skipped */
		{ { 0x20, 0, 1, 2, 1, 2, 3, 4, 'a', 'p', 'p' }, 11, SAP_ESHORT },
		{ { 0x20, 0, 1, 2, 1, 2, 3, 4, 'a', 'p', 'p', 'l', 'i', 'c',
		    'a', 't', 'i', 'o', 'n', '/', 'S', 'D', 'P', 0, 'v' }, 25,
		    SAP_ETYPE },
	};
	struct sap_msg m;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(sap_decode(t[i].b, t[i].n, &m), t[i].want,
		    "row %zu", i);
}

/* ---- the jitter buffer ---- */

#define NCH	2
#define PER	64
#define FRAMES	48

static struct jitter J;
static uint16_t seq;

static void
jb_up(uint32_t depth)
{
	struct jitter_config c = { 48000, NCH, PER, depth };

	cr_assert_eq(jitter_init(&J, &c, 6400), 0);
	jitter_stream(&J, RTP_L24, NCH, 96);
	seq = 1000;
}

/* A packet of FRAMES frames at timestamp ts, every sample equal to v. */
static enum jitter_verdict
put(uint32_t ts, uint32_t ssrc, float v, uint64_t quiet_ms)
{
	uint8_t p[RTP_HDR_LEN + FRAMES * NCH * 3];
	float s[FRAMES * NCH];
	struct rtp_hdr h = { .pt = 96, .seq = seq++, .ts = ts, .ssrc = ssrc };

	for (size_t i = 0; i < FRAMES * NCH; i++)
		s[i] = v;
	rtp_encode(p, &h);
	rtp_pack(RTP_L24, p + RTP_HDR_LEN, s, FRAMES * NCH);
	return jitter_put(&J, p, sizeof(p), quiet_ms);
}

/* The next period; its first and last frames' first channel. */
static void
pop(float *first, float *last)
{
	float d[PER * NCH];

	jitter_pop(&J, d);
	*first = d[0];
	*last = d[(PER - 1) * NCH];
}

/* Complete periods go out at once; one with a hole waits for the depth. */
Test(jitter, complete_periods_at_once_holes_after_the_depth)
{
	float a, b;
	uint32_t ts = 7777;

	jb_up(2 * FRAMES);
	cr_assert_eq(put(ts, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	cr_assert_not(jitter_ready(&J), "48 frames of 64");
	cr_assert_eq(put(ts + FRAMES, 1, 0.25f, 0), JITTER_TAKEN);
	cr_assert(jitter_ready(&J), "complete: no wait");
	cr_assert_eq(jitter_position(&J, ts), 6400);
	pop(&a, &b);
	cr_assert_eq(a, 0.5f);
	cr_assert_eq(b, 0.25f);
	cr_assert_eq(J.wp, 6464);
	cr_assert_not(jitter_ready(&J), "frames 6496.. are missing");
	seq++;				/* ts + 2 F is lost */
	cr_assert_eq(put(ts + 3 * FRAMES, 1, 0.125f, 0), JITTER_TAKEN);
	cr_assert_not(jitter_ready(&J), "a hole, and 6592 < 6464 + 64 + 96");
	cr_assert_eq(put(ts + 4 * FRAMES, 1, 0.125f, 0), JITTER_TAKEN);
	cr_assert(jitter_ready(&J), "the depth has come");
	pop(&a, &b);
	cr_assert_eq(a, 0.25f);
	cr_assert_eq(b, 0.0f);
	jitter_free(&J);
}

/* A lost packet is zeros; a reordered one within the depth is placed. */
Test(jitter, loss_is_zeros_and_reordering_is_fixed)
{
	struct jitter_stats st;
	float a, b;
	uint32_t ts = 1u << 31;

	jb_up(3 * FRAMES);
	cr_assert_eq(put(ts, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	seq = 1003;			/* 1001 is lost, 1002 comes after 1003 */
	cr_assert_eq(put(ts + 3 * FRAMES, 1, 0.25f, 0), JITTER_TAKEN);
	seq = 1002;
	cr_assert_eq(put(ts + 2 * FRAMES, 1, 0.125f, 0), JITTER_TAKEN);
	seq = 1004;
	cr_assert_eq(put(ts + 4 * FRAMES, 1, 0.0625f, 0), JITTER_TAKEN);
	cr_assert_eq(put(ts + 5 * FRAMES, 1, 0.0625f, 0), JITTER_TAKEN);
	pop(&a, &b);
	cr_assert_eq(a, 0.5f);
	cr_assert_eq(b, 0.0f, "frame 63 was in the lost packet");
	pop(&a, &b);
	cr_assert_eq(a, 0.0f);
	cr_assert_eq(b, 0.125f);
	jitter_stats(&J, &st);
	cr_assert_eq(st.packets, 5);
	cr_assert_eq(st.lost, 1);
	cr_assert_eq(st.late, 0);
	jitter_free(&J);
}

Test(jitter, late_packets_are_counted_and_dropped)
{
	struct jitter_stats st;
	float a, b;
	uint32_t ts = 100;

	jb_up(FRAMES);
	cr_assert_eq(put(ts, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	seq++;
	cr_assert_eq(put(ts + 2 * FRAMES, 1, 0.5f, 0), JITTER_TAKEN);
	cr_assert_eq(put(ts + 3 * FRAMES, 1, 0.5f, 0), JITTER_TAKEN);
	pop(&a, &b);
	pop(&a, &b);
	seq -= 3;
	cr_assert_eq(put(ts + FRAMES, 1, 0.5f, 0), JITTER_LATE);
	jitter_stats(&J, &st);
	cr_assert_eq(st.late, 1);
	jitter_free(&J);
}

/* Another SSRC is foreign while ours is live, a new epoch once it is quiet. */
Test(jitter, ssrc_change_is_a_new_epoch_only_when_quiet)
{
	struct jitter_stats st;
	float d[PER * NCH];

	jb_up(FRAMES);
	cr_assert_eq(put(0, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	cr_assert_eq(put(FRAMES, 2, 0.5f, 0), JITTER_FOREIGN);
	cr_assert_eq(put(FRAMES, 1, 0.5f, 0), JITTER_TAKEN);
	while (jitter_pending(&J))
		jitter_pop(&J, d);
	cr_assert_eq(put(555, 2, 0.5f, JITTER_QUIET_MS), JITTER_EPOCH);
	cr_assert_eq(jitter_position(&J, 555), J.wp);
	jitter_stats(&J, &st);
	cr_assert_eq(st.epochs, 1);
	cr_assert_eq(st.foreign, 1);
	jitter_free(&J);
}

/*
 * Back after a short quiet spell on the same timeline: the same epoch, the
 * gap in zeros.  Behind where we are (a sender whose timestamps did not
 * move while it was away) or after a long silence: a new epoch.
 */
Test(jitter, a_quiet_sender_returns)
{
	float d[PER * NCH];
	int i;

	jb_up(FRAMES);
	cr_assert_eq(put(0, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	jitter_pop(&J, d);		/* flushed, then silence */
	for (i = 0; i < 10; i++)
		jitter_pop(&J, d);
	cr_assert_eq(put(64 * 20, 1, 0.5f, 60), JITTER_TAKEN);
	cr_assert_eq(J.st.epochs, 0);
	for (i = 0; i < 40; i++)
		jitter_pop(&J, d);
	cr_assert_eq(put(64 * 21, 1, 0.5f, 60), JITTER_EPOCH, "behind");
	cr_assert_eq(put(64 * 21 + FRAMES, 1, 0.5f, 0), JITTER_TAKEN);
	cr_assert_eq(put(64 * 100, 1, 0.5f, JITTER_LONG_MS), JITTER_EPOCH);
	cr_assert_eq(J.st.epochs, 2);
	jitter_free(&J);
}

/* Hostile sequences and timestamps: dropped, then a new timeline if they persist. */
Test(jitter, jumps_are_dropped_until_confirmed)
{
	uint8_t junk[RTP_HDR_LEN + 5] = { 0x80, 96 };
	struct jitter_stats st;

	jb_up(FRAMES);
	cr_assert_eq(put(0, 1, 0.5f, UINT64_MAX), JITTER_TAKEN);
	seq += 20000;
	cr_assert_eq(put(FRAMES, 1, 0.5f, 0), JITTER_JUMP);
	cr_assert_eq(put(2 * FRAMES, 1, 0.5f, 0), JITTER_TAKEN, "confirmed");
	cr_assert_eq(put(1u << 30, 1, 0.5f, 0), JITTER_JUMP);
	cr_assert_eq(put((1u << 30) + FRAMES, 1, 0.5f, 0), JITTER_JUMP);
	cr_assert_eq(put((1u << 30) + 2 * FRAMES, 1, 0.5f, 0), JITTER_JUMP);
	cr_assert_eq(put((1u << 30) + 3 * FRAMES, 1, 0.5f, 0), JITTER_EPOCH);
	cr_assert_eq(jitter_put(&J, junk, sizeof(junk), 0), JITTER_MALFORMED,
	    "5 bytes are no whole frame");
	cr_assert_eq(jitter_put(&J, junk, 3, 0), JITTER_MALFORMED);
	junk[0] = 0x40;			/* version 1 */
	cr_assert_eq(jitter_put(&J, junk, sizeof(junk), 0), JITTER_MALFORMED);
	jitter_stats(&J, &st);
	cr_assert_eq(st.jumps, 4);
	cr_assert_eq(st.epochs, 1);
	cr_assert_eq(st.malformed, 3);
	jitter_free(&J);
}
