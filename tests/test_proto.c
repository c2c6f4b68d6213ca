/* test_proto.c — Fichatech v2 codec: byte vectors, framing, hostile input. */
#include <sys/mman.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/proto.h"

TestSuite(proto, .timeout = 30);

/*
 * A copy of n bytes that ends exactly at an inaccessible page, so reading
 * one byte past the end faults instead of passing silently.
 */
struct guard {
	uint8_t	*map;
	size_t	 maplen;
	uint8_t	*p;
};

static struct guard
guard_copy(const void *src, size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (n + pg - 1) / pg * pg;
	struct guard g;

	g.maplen = data + pg;
	g.map = mmap(NULL, g.maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(g.map != MAP_FAILED);
	cr_assert(mprotect(g.map + data, pg, PROT_NONE) == 0);
	g.p = g.map + data - n;
	if (n > 0)
		memcpy(g.p, src, n);
	return g;
}

static void
guard_free(struct guard *g)
{
	munmap(g->map, g->maplen);
}

static void
assert_bytes(const uint8_t *got, const uint8_t *want, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		cr_assert_eq(got[i], want[i], "byte %zu: got %02x want %02x",
		    i, got[i], want[i]);
}

/* ---- header ---- */

/* A header and its 16 bytes on the wire (hex, spaces ignored). */
static const struct {
	struct proto_hdr	h;
	const char		*hex;
} hdr_vec[] = {
	{ { PROTO_MAGIC, 2, 0x01, 0x82, 0x000003e8, 0x0000009c },
	  "a1d10a7c 00020182 000003e8 0000009c" },
	{ { PROTO_MAGIC, 2, 0x02, 0x80, 0xfedcba98, 0x00010000 },
	  "a1d10a7c 00020280 fedcba98 00010000" },
	{ { PROTO_MAGIC, 2, 0x01, 0x01, 0, 0 },
	  "a1d10a7c 00020101 00000000 00000000" },
	{ { PROTO_MAGIC, 0xffff, 0xff, 0xff, 0xffffffff, 0xffffffff },
	  "a1d10a7c ffffffff ffffffff ffffffff" },
};

/* n bytes from hex digits, spaces skipped. */
static void
from_hex(const char *hex, uint8_t *out, size_t n)
{
	unsigned v;

	for (size_t i = 0; i < n; i++, hex += 2) {
		while (*hex == ' ')
			hex++;
		cr_assert_eq(sscanf(hex, "%2x", &v), 1, "hex");
		out[i] = (uint8_t)v;
	}
}

Test(proto, header_vectors)
{
	uint8_t out[PROTO_HDR_LEN], b[PROTO_HDR_LEN];
	struct proto_hdr h;
	size_t i;

	for (i = 0; i < sizeof(hdr_vec) / sizeof(hdr_vec[0]); i++) {
		from_hex(hdr_vec[i].hex, b, sizeof(b));
		proto_hdr_encode(out, &hdr_vec[i].h);
		assert_bytes(out, b, PROTO_HDR_LEN);
		cr_assert_eq(proto_hdr_decode(b, &h), PROTO_OK);
		cr_assert_eq(h.magic, hdr_vec[i].h.magic);
		cr_assert_eq(h.version, hdr_vec[i].h.version);
		cr_assert_eq(h.type, hdr_vec[i].h.type);
		cr_assert_eq(h.flags, hdr_vec[i].h.flags);
		cr_assert_eq(h.timestamp_ms, hdr_vec[i].h.timestamp_ms);
		cr_assert_eq(h.length, hdr_vec[i].h.length);
	}
}

Test(proto, header_bad_magic)
{
	static const uint8_t bad[][PROTO_HDR_LEN] = {
		{ 0x7c, 0x0a, 0xd1, 0xa1, 0, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0xa1, 0xd1, 0x0a, 0x7d, 0, 2, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0 },
		{ 0 },
	};
	struct proto_hdr h;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(proto_hdr_decode(bad[i], &h), PROTO_EMAGIC);
}

/* ---- audio ---- */

/* Whole audio messages: header, position, mask, samples. */
static const struct {
	const char	*what;
	float		 s[4];
	uint32_t	 mask, nch, frames;
	bool		 float32, rf;
	uint64_t	 position;
	uint32_t	 ts;
	const char	*hex;
} audio_vec[] = {
	/* Channels 1 and 2, two frames: 16 + 8 + 4 + 2*2*2 bytes. */
	{ "int16, RF", { 0.5f, -0.5f, 1.0f, -1.0f }, 0x6, 2, 2, false, true,
	  128, 1000, "a1d10a7c 00020182 000003e8 00000014 00000000 00000080 "
	  "00000006 4000c000 7fff8001" },
	/* Without RF the flags are plain INT16. */
	{ "int16", { 0.5f, -0.5f, 1.0f, -1.0f }, 0x6, 2, 2, false, false,
	  128, 1000, "a1d10a7c 00020102 000003e8 00000014 00000000 00000080 "
	  "00000006 4000c000 7fff8001" },
	{ "float32", { 1.0f, -0.5f, 0.0f }, 0x1, 1, 3, true, false,
	  0x0102030405060708ull, 7, "a1d10a7c 00020101 00000007 00000018 "
	  "01020304 05060708 00000001 3f800000 bf000000 00000000" },
};

/* Every row of audio_vec in this format encodes to its bytes. */
static void
audio_vectors(bool float32)
{
	uint8_t want[64], out[64];
	size_t i, n, len;

	for (i = 0; i < sizeof(audio_vec) / sizeof(audio_vec[0]); i++) {
		if (audio_vec[i].float32 != float32)
			continue;
		len = proto_audio_size(audio_vec[i].nch, audio_vec[i].frames,
		    float32, 1);
		cr_assert_leq(len, sizeof(want));
		from_hex(audio_vec[i].hex, want, len);
		n = proto_audio_encode(out, audio_vec[i].position,
		    &audio_vec[i].mask, 1, audio_vec[i].s, audio_vec[i].nch,
		    audio_vec[i].frames, float32, audio_vec[i].rf,
		    audio_vec[i].ts);
		cr_assert_eq(n, len, "%s", audio_vec[i].what);
		assert_bytes(out, want, n);
	}
}

Test(proto, audio_int16_vector)
{
	audio_vectors(false);
}

Test(proto, audio_float32_vector)
{
	audio_vectors(true);
}

Test(proto, audio_size_formula)
{
	uint32_t n;

	for (n = 0; n <= 32; n++) {
		cr_assert_eq(proto_audio_size(n, 64, false, 1), 28 + 128 * n);
		cr_assert_eq(proto_audio_size(n, 64, true, 1), 28 + 256 * n);
		cr_assert_eq(proto_audio_size(n, 64, false, 8), 56 + 128 * n);
	}
}

/* clip(x, -1, 1) * 32767, rounded half away from zero; NaN -> 0. */
static const struct {
	float	x;
	int16_t	v;
} int16_vec[] = {
	{ 0.0f, 0 }, { -0.0f, 0 }, { 0.25f, 8192 }, { -0.25f, -8192 },
	{ 0.5f, 16384 }, { -0.5f, -16384 }, { 1.0f, 32767 },
	{ -1.0f, -32767 }, { 1.5f, 32767 }, { -7.0f, -32767 },
	{ 1e-5f, 0 }, { 3e-5f, 1 }, { -3e-5f, -1 },
	{ 0.75f, 24575 },	/* 24575.25 */
	{ 0x1p-16f, 0 },	/* 0.49999 */
	{ 0x1p-15f, 1 },	/* 0.99997 */
	{ INFINITY, 32767 }, { -INFINITY, -32767 }, { NAN, 0 },
};

Test(proto, audio_int16_rounding)
{
	uint8_t out[64];
	uint32_t mask = 1;
	int16_t v;
	size_t i;

	for (i = 0; i < sizeof(int16_vec) / sizeof(int16_vec[0]); i++) {
		proto_audio_encode(out, 0, &mask, 1, &int16_vec[i].x, 1, 1,
		    false, false, 0);
		v = (int16_t)(out[28] << 8 | out[29]);
		cr_assert_eq(v, int16_vec[i].v, "x=%a: got %d want %d",
		    (double)int16_vec[i].x, v, int16_vec[i].v);
	}
}

/* Two mask words: channel 0 in word 0, channel 33 in word 1. */
Test(proto, audio_wide_mask)
{
	static const float s[] = { 0.25f, -0.25f };
	static const uint8_t want[] = {
		0xa1, 0xd1, 0x0a, 0x7c, 0x00, 0x02, 0x01, 0x02,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
		0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02,
		0x20, 0x00, 0xe0, 0x00,
	};
	uint32_t mask[2] = { 0x1, 0x2 };
	struct proto_audio a;
	struct proto_hdr h;
	uint8_t out[64];
	size_t n;

	n = proto_audio_encode(out, 64, mask, 2, s, 2, 1, false, false, 1);
	cr_assert_eq(n, sizeof(want));
	assert_bytes(out, want, n);
	cr_assert_eq(proto_hdr_decode(out, &h), PROTO_OK);
	cr_assert_eq(proto_audio_decode(&h, out + 16, 2, &a), PROTO_OK);
	cr_assert_eq(a.nch, 2);
	cr_assert_eq(a.frames, 1);
	cr_assert_eq(a.mask[0], 1);
	cr_assert_eq(a.mask[1], 2);
	cr_assert_float_eq(proto_audio_sample(&a, 1), -0.25f, 1e-6);
}

Test(proto, audio_round_trip)
{
	float s[64 * 3], f;
	uint32_t mask = 0x80000101u, i;
	struct proto_audio a;
	struct proto_hdr h;
	uint8_t out[2048];
	int fl;

	for (i = 0; i < 64 * 3; i++)
		s[i] = sinf((float)i * 0.1f) * 0.99f;
	for (fl = 0; fl < 2; fl++) {
		proto_audio_encode(out, 999, &mask, 1, s, 3, 64, fl, true, 5);
		cr_assert_eq(proto_hdr_decode(out, &h), PROTO_OK);
		cr_assert_eq(proto_audio_decode(&h, out + 16, 1, &a), PROTO_OK);
		cr_assert_eq(a.position, 999);
		cr_assert_eq(a.nch, 3);
		cr_assert_eq(a.frames, 64);
		cr_assert_eq(a.float32, (bool)fl);
		for (i = 0; i < 64 * 3; i++) {
			f = proto_audio_sample(&a, i);
			cr_assert_float_eq(f, s[i], fl ? 0 : 1.0 / 16384);
		}
	}
}

static const struct {
	const char	*what;
	uint8_t		 flags;
	uint32_t	 words;
	uint8_t		 payload[24];
	uint32_t	 len;
	int		 rc;
} audio_bad[] = {
	{ "no mask", 0x02, 1, { 0 }, 11, PROTO_ESHORT },
	{ "empty", 0x02, 1, { 0 }, 0, PROTO_ESHORT },
	{ "half a sample", 0x02, 1, { [11] = 1 }, 13, PROTO_ESHORT },
	{ "odd frame", 0x02, 1, { [11] = 3 }, 18, PROTO_ESHORT },
	{ "float odd", 0x01, 1, { [11] = 1 }, 14, PROTO_ESHORT },
	{ "no channels, data", 0x02, 1, { 0 }, 14, PROTO_ESHORT },
	{ "zlib", 0x06, 1, { [11] = 1 }, 14, PROTO_EFIELD },
	{ "both formats", 0x03, 1, { [11] = 1 }, 16, PROTO_EFIELD },
	{ "no format", 0x80, 1, { [11] = 1 }, 14, PROTO_EFIELD },
	{ "zero words", 0x02, 0, { 0 }, 8, PROTO_EFIELD },
	{ "nine words", 0x02, 9, { 0 }, 24, PROTO_EFIELD },
	{ "wide, short", 0x02, 2, { [11] = 1 }, 14, PROTO_ESHORT },
	{ "no channels", 0x82, 1, { 0 }, 12, PROTO_OK },
};

Test(proto, audio_decode_errors)
{
	struct proto_audio a;
	struct proto_hdr h;
	struct guard g;
	size_t i;

	for (i = 0; i < sizeof(audio_bad) / sizeof(audio_bad[0]); i++) {
		h = (struct proto_hdr){ PROTO_MAGIC, 2, 1, audio_bad[i].flags,
		    0, audio_bad[i].len };
		g = guard_copy(audio_bad[i].payload, audio_bad[i].len);
		cr_assert_eq(proto_audio_decode(&h, g.p, audio_bad[i].words,
		    &a), audio_bad[i].rc, "%s", audio_bad[i].what);
		guard_free(&g);
	}
}

/* ---- framing ---- */

/* Three messages back to back: control, audio, control. */
static size_t
make_stream(uint8_t *buf, size_t cap)
{
	static const float s[8] = { 0.1f, 0.2f, 0.3f, 0.4f };
	uint32_t mask = 0x3;
	uint8_t *c;
	size_t n = 0, cl;
	json_t *o;
	int i;

	for (i = 0; i < 2; i++) {
		o = json_pack("{s:s, s:i}", "type", "heartbeat", "n", i);
		cr_assert_eq(proto_control_encode(o, i, &c, &cl), PROTO_OK);
		json_decref(o);
		cr_assert(n + cl <= cap);
		memcpy(buf + n, c, cl);
		n += cl;
		free(c);
		if (i == 0)
			n += proto_audio_encode(buf + n, 64, &mask, 1, s, 2, 4,
			    false, false, 0);
	}
	return n;
}

Test(proto, split_every_truncation)
{
	uint8_t stream[1024];
	const uint8_t *pl;
	struct proto_hdr h;
	struct guard g;
	size_t n, len, off, used;
	int rc, msgs;

	n = make_stream(stream, sizeof(stream));
	for (len = 0; len <= n; len++) {
		g = guard_copy(stream, len);
		off = 0;
		msgs = 0;
		while ((rc = proto_split(g.p + off, len - off, PROTO_AUDIO_MAX,
		    &h, &pl, &used)) == PROTO_OK) {
			cr_assert(used >= PROTO_HDR_LEN && used <= len - off);
			cr_assert_eq(pl, g.p + off + PROTO_HDR_LEN);
			off += used;
			msgs++;
		}
		cr_assert_eq(rc, PROTO_EMORE, "len %zu: rc %d", len, rc);
		cr_assert(msgs <= 3);
		if (len == n)
			cr_assert_eq(msgs, 3);
		guard_free(&g);
	}
}

Test(proto, split_bad_magic_and_oversize)
{
	uint8_t b[PROTO_HDR_LEN + 8];
	struct proto_hdr h = { PROTO_MAGIC, 2, 2, 0, 0, 101 };
	const uint8_t *pl;
	size_t used;

	proto_hdr_encode(b, &h);
	cr_assert_eq(proto_split(b, PROTO_HDR_LEN, 100, &h, &pl, &used),
	    PROTO_ETOOBIG);
	cr_assert_eq(proto_split(b, PROTO_HDR_LEN, 101, &h, &pl, &used),
	    PROTO_EMORE);
	h.length = 0xffffffffu;
	proto_hdr_encode(b, &h);
	cr_assert_eq(proto_split(b, PROTO_HDR_LEN, PROTO_AUDIO_MAX, &h, &pl,
	    &used), PROTO_ETOOBIG);
	b[0] = 0x00;
	cr_assert_eq(proto_split(b, PROTO_HDR_LEN, PROTO_AUDIO_MAX, &h, &pl,
	    &used), PROTO_EMAGIC);
	/* Fewer than 16 bytes of garbage are simply incomplete. */
	cr_assert_eq(proto_split(b, 15, PROTO_AUDIO_MAX, &h, &pl, &used),
	    PROTO_EMORE);
	h = (struct proto_hdr){ PROTO_MAGIC, 2, 2, 0, 0, 0 };
	proto_hdr_encode(b, &h);
	cr_assert_eq(proto_split(b, PROTO_HDR_LEN, 0, &h, &pl, &used),
	    PROTO_OK);
	cr_assert_eq(used, PROTO_HDR_LEN);
}

/* ---- control parsing ---- */

static char *
nested(const char *open, const char *inner, const char *close, int depth)
{
	size_t lo = strlen(open), lc = strlen(close), li = strlen(inner);
	char *s = malloc(depth * (lo + lc) + li + 1), *p = s;
	int i;

	cr_assert_not_null(s);
	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

/* {"type":"x"} padded with spaces to exactly n bytes. */
static char *
padded(size_t n)
{
	char *s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, ' ', n);
	memcpy(s, "{\"type\":\"x\"}", 12);
	s[n] = '\0';
	return s;
}

#define S(x)	x, sizeof(x) - 1
static const struct {
	const char	*what;
	const char	*text;
	size_t		 len;
	int		 rc;
} ctl_bad[] = {
	{ "empty", S(""), PROTO_EJSON },
	{ "not JSON", S("hello"), PROTO_EJSON },
	{ "array", S("[1,2,3]"), PROTO_EJSON },
	{ "string", S("\"handshake\""), PROTO_EJSON },
	{ "number", S("42"), PROTO_EJSON },
	{ "null", S("null"), PROTO_EJSON },
	{ "truncated", S("{\"type\":\"heartbeat\""), PROTO_EJSON },
	{ "trailing", S("{\"type\":\"heartbeat\"}x"), PROTO_EJSON },
	{ "two objects", S("{\"type\":\"a\"}{\"type\":\"b\"}"), PROTO_EJSON },
	{ "no type", S("{}"), PROTO_EFIELD },
	{ "type number", S("{\"type\":1}"), PROTO_EFIELD },
	{ "type null", S("{\"type\":null}"), PROTO_EFIELD },
	{ "type array", S("{\"type\":[\"heartbeat\"]}"), PROTO_EFIELD },
	{ "duplicate", S("{\"type\":\"a\",\"type\":\"b\"}"), PROTO_EJSON },
	{ "bad UTF-8", S("{\"type\":\"\xff\xfe\"}"), PROTO_EJSON },
	{ "overlong UTF-8", S("{\"type\":\"\xc0\xaf\"}"), PROTO_EJSON },
	{ "surrogate", S("{\"type\":\"\xed\xa0\x80\"}"), PROTO_EJSON },
	{ "NUL inside", S("{\"type\":\"heart\0beat\"}"), PROTO_EJSON },
	{ "NUL after", S("{\"type\":\"heartbeat\"}\0"), PROTO_EJSON },
	{ "escaped NUL", S("{\"type\":\"a\\u0000b\"}"), PROTO_EJSON },
	{ "raw newline", S("{\"type\":\"a\nb\"}"), PROTO_EJSON },
	{ "17 levels", S("{\"type\":\"x\",\"a\":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}"),
	  PROTO_EDEPTH },
	{ "unbalanced", S("]]]]}}}}{"), PROTO_EJSON },
	{ "NaN", S("{\"type\":\"x\",\"v\":NaN}"), PROTO_EJSON },
	{ "huge number", S("{\"type\":\"x\",\"v\":1e999}"), PROTO_EJSON },
};

Test(proto, control_malformed_corpus)
{
	enum proto_ctl t;
	struct guard g;
	json_t *o;
	size_t i;

	for (i = 0; i < sizeof(ctl_bad) / sizeof(ctl_bad[0]); i++) {
		g = guard_copy(ctl_bad[i].text, ctl_bad[i].len);
		o = (json_t *)1;
		cr_assert_eq(proto_control_parse(g.p, ctl_bad[i].len, &o, &t),
		    ctl_bad[i].rc, "%s", ctl_bad[i].what);
		if (ctl_bad[i].rc != PROTO_OK)
			cr_assert_null(o, "%s", ctl_bad[i].what);
		json_decref(o);
		guard_free(&g);
	}
}

static void
expect_parse(const char *s, size_t len, int rc)
{
	enum proto_ctl t;
	struct guard g = guard_copy(s, len);
	json_t *o = NULL;

	cr_assert_eq(proto_control_parse(g.p, len, &o, &t), rc,
	    "len %zu", len);
	cr_assert_eq(o == NULL, rc != PROTO_OK);
	json_decref(o);
	guard_free(&g);
}

Test(proto, control_depth)
{
	static const struct {
		const char *open, *inner, *close;
		int depth, rc;
	} v[] = {
		/* Deep, within the size cap: the depth check refuses it. */
		{ "[", "", "]", 1000, PROTO_EDEPTH },
		{ "{\"a\":", "1", "}", 1000, PROTO_EDEPTH },
		{ "[", "", "", 1000, PROTO_EDEPTH },
		{ "{\"type\":\"x\",\"a\":", "{}", "}", PROTO_JSON_DEPTH - 1,
		  PROTO_OK },
		{ "{\"type\":\"x\",\"a\":", "{}", "}", PROTO_JSON_DEPTH,
		  PROTO_EDEPTH },
		/* Beyond the size cap: refused by size before any parsing. */
		{ "[", "", "]", 40000, PROTO_ETOOBIG },
		{ "[", "", "", 100000, PROTO_ETOOBIG },
	};
	size_t i;
	char *s;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		s = nested(v[i].open, v[i].inner, v[i].close, v[i].depth);
		cr_assert_eq(strlen(s) > PROTO_CONTROL_MAX, v[i].rc ==
		    PROTO_ETOOBIG, "row %zu: %zu bytes", i, strlen(s));
		expect_parse(s, strlen(s), v[i].rc);
		free(s);
	}
	/* Brackets inside strings, escaped quotes included, do not count. */
	expect_parse(S("{\"type\":\"x\",\"s\":\"[[[[[[[[[[[[[[[[[[[[[[\"}"),
	    PROTO_OK);
	expect_parse(S("{\"type\":\"x\",\"s\":\"\\\"[[[[[[[[[[[[[[[[[[[[[\"}"),
	    PROTO_OK);
	expect_parse(S("{\"type\":\"x\",\"s\":\"\\\\\",\"t\":[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]}"),
	    PROTO_EDEPTH);
}

Test(proto, control_size_cap)
{
	char *s;

	s = padded(PROTO_CONTROL_MAX);
	expect_parse(s, PROTO_CONTROL_MAX, PROTO_OK);
	free(s);
	s = padded(PROTO_CONTROL_MAX + 1);
	expect_parse(s, PROTO_CONTROL_MAX + 1, PROTO_ETOOBIG);
	free(s);
}

static const struct {
	const char	*name;
	enum proto_ctl	 t;
} ctl_types[] = {
	{ "handshake", PROTO_CTL_HANDSHAKE },
	{ "subscribe", PROTO_CTL_SUBSCRIBE },
	{ "heartbeat", PROTO_CTL_HEARTBEAT },
	{ "update_mix", PROTO_CTL_UPDATE_MIX },
	{ "get_client_state", PROTO_CTL_GET_CLIENT_STATE },
	{ "handshake_response", PROTO_CTL_HANDSHAKE_RESPONSE },
	{ "mix_state", PROTO_CTL_MIX_STATE },
	{ "heartbeat_response", PROTO_CTL_HEARTBEAT_RESPONSE },
	{ "channel_update", PROTO_CTL_CHANNEL_UPDATE },
	{ "master_gain_update", PROTO_CTL_MASTER_GAIN_UPDATE },
	{ "error", PROTO_CTL_ERROR },
	{ "Handshake", PROTO_CTL_UNKNOWN },
	{ "", PROTO_CTL_UNKNOWN },
	{ "unknown", PROTO_CTL_UNKNOWN },
	{ "set_volume", PROTO_CTL_UNKNOWN },
};

Test(proto, control_types)
{
	enum proto_ctl t;
	char text[128];
	json_t *o;
	size_t i;
	int n;

	for (i = 0; i < sizeof(ctl_types) / sizeof(ctl_types[0]); i++) {
		n = snprintf(text, sizeof(text), "{\"type\":\"%s\",\"x\":[1]}",
		    ctl_types[i].name);
		t = (enum proto_ctl)-1;
		cr_assert_eq(proto_control_parse((uint8_t *)text, n, &o, &t),
		    PROTO_OK, "%s", ctl_types[i].name);
		cr_assert_eq(t, ctl_types[i].t, "%s", ctl_types[i].name);
		if (t != PROTO_CTL_UNKNOWN)
			cr_assert_str_eq(proto_ctl_name(t), ctl_types[i].name);
		json_decref(o);
	}
	cr_assert_str_eq(proto_ctl_name((enum proto_ctl)999), "unknown");
}

/* ---- control encoding ---- */

Test(proto, control_encode_vector)
{
	static const char want[] =
	    "{\"type\":\"heartbeat_response\",\"timestamp\":5,"
	    "\"clients_connected\":3,\"gain\":0.7}";
	static const uint8_t head[] = { 0xa1, 0xd1, 0x0a, 0x7c, 0x00, 0x02,
	    0x02, 0x00 };
	uint8_t *out;
	size_t len;
	json_t *o;

	o = json_pack("{s:s, s:i, s:i, s:f}", "type", "heartbeat_response",
	    "timestamp", 5, "clients_connected", 3, "gain", 0.7);
	cr_assert_eq(proto_control_encode(o, false, &out, &len), PROTO_OK);
	cr_assert_eq(len, PROTO_HDR_LEN + sizeof(want) - 1);
	assert_bytes(out, head, sizeof(head));
	cr_assert_eq(out[12] << 24 | out[13] << 16 | out[14] << 8 | out[15],
	    (int)sizeof(want) - 1);
	cr_assert(memcmp(out + PROTO_HDR_LEN, want, sizeof(want) - 1) == 0,
	    "%.*s", (int)len - PROTO_HDR_LEN, out + PROTO_HDR_LEN);
	free(out);
	json_decref(o);
}

Test(proto, control_encode_rf_and_timestamp)
{
	const uint8_t *pl;
	struct proto_hdr h;
	enum proto_ctl t;
	json_int_t ts, now;
	uint8_t *out;
	size_t len, used;
	json_t *o, *back;

	o = json_pack("{s:s}", "type", "mix_state");
	cr_assert_eq(proto_control_encode(o, true, &out, &len), PROTO_OK);
	/* The caller's object is left as it was. */
	cr_assert_eq(json_object_size(o), 1);
	cr_assert_eq(proto_split(out, len, PROTO_CONTROL_MAX, &h, &pl, &used),
	    PROTO_OK);
	cr_assert_eq(used, len);
	cr_assert_eq(h.type, PROTO_TYPE_CONTROL);
	cr_assert_eq(h.flags, PROTO_FLAG_RF);
	cr_assert_eq(proto_control_parse(pl, h.length, &back, &t), PROTO_OK);
	cr_assert_eq(t, PROTO_CTL_MIX_STATE);
	cr_assert(json_is_true(json_object_get(back, "rf_mode")));
	cr_assert(json_is_integer(json_object_get(back, "timestamp")));
	ts = json_integer_value(json_object_get(back, "timestamp"));
	now = (json_int_t)time(NULL) * 1000;
	cr_assert(ts > now - 86400000 && ts < now + 86400000);
	json_decref(back);
	json_decref(o);
	free(out);
}

Test(proto, control_encode_errors)
{
	uint8_t *out = (uint8_t *)1;
	size_t len = 1;
	json_t *a = json_array(), *big;
	char *s;

	cr_assert_eq(proto_control_encode(a, false, &out, &len), PROTO_EJSON);
	cr_assert_null(out);
	cr_assert_eq(len, 0);
	cr_assert_eq(proto_control_encode(NULL, false, &out, &len),
	    PROTO_EJSON);
	s = calloc(1, PROTO_CONTROL_MAX + 1);
	memset(s, 'a', PROTO_CONTROL_MAX);
	big = json_pack("{s:s, s:s}", "type", "error", "message", s);
	cr_assert_eq(proto_control_encode(big, false, &out, &len),
	    PROTO_ETOOBIG);
	cr_assert_null(out);
	json_decref(big);
	json_decref(a);
	free(s);
}

/* ---- handshake ---- */

/* What the deployed Android app sends, byte for byte. */
static const char app_hello[] =
    "{\"type\":\"handshake\",\"client_id\":\"3f2b9c1e-8a4d-4e6f-9b7a-1c2d3e4f5a6b\","
    "\"client_type\":\"android\",\"protocol_version\":2,\"rf_mode\":true,"
    "\"persistent\":true,\"auto_reconnect\":true,\"optimized\":true,"
    "\"device_uuid\":\"9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4\","
    "\"device_name\":\"Pixel 7\",\"timestamp\":1767671704881}";

static int
hello_from(const char *text, struct proto_hello *h)
{
	json_t *o = json_loads(text, 0, NULL);
	int rc;

	cr_assert_not_null(o, "test JSON: %s", text);
	rc = proto_hello_parse(o, h);
	json_decref(o);
	return rc;
}

Test(proto, hello_deployed_app)
{
	struct guard g = guard_copy(app_hello, sizeof(app_hello) - 1);
	struct proto_hello h;
	enum proto_ctl t;
	json_t *o;

	cr_assert_eq(proto_control_parse(g.p, sizeof(app_hello) - 1, &o, &t),
	    PROTO_OK);
	guard_free(&g);
	cr_assert_eq(t, PROTO_CTL_HANDSHAKE);
	cr_assert_eq(proto_hello_parse(o, &h), PROTO_OK);
	json_decref(o);
	cr_assert_str_eq(h.client_id, "3f2b9c1e-8a4d-4e6f-9b7a-1c2d3e4f5a6b");
	cr_assert_str_eq(h.device_uuid, "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4");
	cr_assert_str_eq(h.name, "Pixel 7");
	cr_assert_str_eq(h.client_type, "android");
	cr_assert_eq(h.protocol_version, 2);
	cr_assert(h.rf_mode && h.persistent && h.auto_reconnect && h.optimized);
	cr_assert(!h.float32 && !h.server_mix);
	cr_assert_eq(h.packet_frames, 0);
	cr_assert_eq(h.mask_words, 1);
	cr_assert_eq(h.num_channels, 0);
	cr_assert_str_eq(proto_hello_identity(&h), h.device_uuid);
}

Test(proto, hello_defaults_and_names)
{
	struct proto_hello h;

	cr_assert_eq(hello_from("{\"client_id\":\"c1\"}", &h), PROTO_OK);
	cr_assert(!h.rf_mode && !h.persistent && !h.auto_reconnect &&
	    !h.optimized);
	cr_assert_eq(h.protocol_version, 2);
	cr_assert_eq(h.mask_words, 1);
	cr_assert_str_eq(h.name, "");
	cr_assert_str_eq(proto_hello_identity(&h), "c1");
	cr_assert_eq(hello_from("{\"client_id\":\"c1\",\"name\":\"Bass\"}",
	    &h), PROTO_OK);
	cr_assert_str_eq(h.name, "Bass");
	cr_assert_eq(hello_from("{\"client_id\":\"c1\",\"name\":\"Bass\","
	    "\"device_name\":\"Phone\"}", &h), PROTO_OK);
	cr_assert_str_eq(h.name, "Phone");
	cr_assert_eq(hello_from("{\"client_id\":\"c1\",\"device_name\":"
	    "\"Batter\\u00eda\"}", &h), PROTO_OK);
	cr_assert_str_eq(h.name, "Batter\xc3\xad" "a");
	cr_assert_eq(hello_from("{\"client_id\":\"c1\",\"audio_format\":"
	    "\"float32\",\"server_mix\":true,\"packet_frames\":256,"
	    "\"channel_mask_words\":2,\"num_channels\":64}", &h), PROTO_OK);
	cr_assert(h.float32 && h.server_mix);
	cr_assert_eq(h.packet_frames, 256);
	cr_assert_eq(h.mask_words, 2);
	cr_assert_eq(h.num_channels, 64);
	cr_assert_eq(hello_from("{\"client_id\":\"c1\",\"audio_format\":"
	    "\"int16\"}", &h), PROTO_OK);
	cr_assert(!h.float32);
}

#define ID127	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
static const struct {
	const char	*text;
	int		 rc;
} hello_vec[] = {
	{ "{\"client_id\":\"" ID127 "\"}", PROTO_OK },
	{ "{\"client_id\":\"" ID127 "b\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"device_uuid\":\"" ID127 "\"}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"device_uuid\":\"" ID127 "b\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"device_name\":\"" ID127 "b\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"name\":\"" ID127 "b\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"client_type\":\"" ID127 "\"}", PROTO_EFIELD },
	{ "{}", PROTO_EFIELD },
	{ "{\"client_id\":\"\"}", PROTO_EFIELD },
	{ "{\"client_id\":null}", PROTO_EFIELD },
	{ "{\"client_id\":42}", PROTO_EFIELD },
	{ "{\"client_id\":\"a\\nb\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"a\\u0001b\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"caf\\u00e9\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"device_uuid\":\"x\\ty\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"device_uuid\":7}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"device_name\":\"a\\u007fb\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"name\":[]}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"user_agent\":\"x\\ry\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"rf_mode\":\"true\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"rf_mode\":1}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"persistent\":null}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"auto_reconnect\":0}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"optimized\":{}}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"protocol_version\":\"2\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"protocol_version\":2.0}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"protocol_version\":-1}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"protocol_version\":3}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"num_channels\":256}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"num_channels\":257}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"num_channels\":-1}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"num_channels\":8.5}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"audio_format\":\"mp3\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"audio_format\":\"FLOAT32\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"audio_format\":1}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"server_mix\":\"yes\"}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"packet_frames\":0}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"packet_frames\":8192}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"packet_frames\":8193}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"packet_frames\":-64}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"packet_frames\":64.0}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"channel_mask_words\":0}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"channel_mask_words\":8}", PROTO_OK },
	{ "{\"client_id\":\"c\",\"channel_mask_words\":9}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"channel_mask_words\":true}", PROTO_EFIELD },
	{ "{\"client_id\":\"c\",\"future_field\":{\"a\":[1]}}", PROTO_OK },
	{ "[]", PROTO_EJSON },
};

Test(proto, hello_table)
{
	struct proto_hello h;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(hello_vec) / sizeof(hello_vec[0]); i++) {
		rc = hello_from(hello_vec[i].text, &h);
		cr_assert_eq(rc, hello_vec[i].rc, "%s: got %d",
		    hello_vec[i].text, rc);
		if (rc != PROTO_OK)
			cr_assert_str_eq(h.client_id, "");
	}
	cr_assert_eq(proto_hello_parse(NULL, &h), PROTO_EJSON);
}

static void
check_round_trip(const char *text, bool has_ext)
{
	struct proto_hello a, b;
	json_t *o;

	cr_assert_eq(hello_from(text, &a), PROTO_OK, "%s", text);
	o = proto_hello_json(&a);
	cr_assert_not_null(o);
	cr_assert_eq(proto_hello_parse(o, &b), PROTO_OK);
	cr_assert(memcmp(&a, &b, sizeof(a)) == 0, "%s", text);
	cr_assert_eq(json_object_get(o, "audio_format") != NULL, has_ext);
	cr_assert_eq(json_object_get(o, "channel_mask_words") != NULL,
	    has_ext);
	cr_assert_eq(json_object_get(o, "server_mix") != NULL, has_ext);
	cr_assert_eq(json_object_get(o, "packet_frames") != NULL, has_ext);
	json_decref(o);
}

Test(proto, hello_round_trip)
{
	check_round_trip(app_hello, false);
	check_round_trip("{\"client_id\":\"x\"}", false);
	check_round_trip("{\"client_id\":\"x\",\"name\":\"Drums\","
	    "\"user_agent\":\"ringcast/0.1\",\"num_channels\":32,"
	    "\"protocol_version\":2}", false);
	check_round_trip("{\"client_id\":\"x\",\"audio_format\":\"float32\","
	    "\"server_mix\":true,\"packet_frames\":128,"
	    "\"channel_mask_words\":8}", true);
}

Test(proto, strerror_covers_codes)
{
	int e;

	for (e = PROTO_ENOMEM; e <= PROTO_OK; e++)
		cr_assert_str_neq(proto_strerror(e), "unknown error", "%d", e);
	cr_assert_str_eq(proto_strerror(-100), "unknown error");
}
