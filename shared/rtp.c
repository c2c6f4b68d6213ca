/* rtp.c — RTP headers, L24/L16 payloads and rtp:// URLs: pure functions, fuzzed. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shared/bytes.h"
#include "shared/log.h"
#include "shared/opt.h"
#include "shared/rtp.h"
#include "shared/text.h"

const char *
rtp_strerror(int err)
{
	switch (err) {
	case RTP_OK:		return "ok";
	case RTP_ESHORT:	return "shorter than an RTP header";
	case RTP_EVERSION:	return "not RTP version 2";
	case RTP_ECSRC:		return "CSRC list past the end";
	case RTP_EEXT:		return "header extension past the end";
	case RTP_EPAD:		return "padding past the start";
	}
	return "unknown error";
}

/*
 * Every length is checked against what is left before it is used: the
 * CSRC list, the extension (RFC 3550 5.3.1: 4 bytes, then length words)
 * and the padding count in the last byte.
 */
int
rtp_decode(const uint8_t *p, size_t n, struct rtp_hdr *h)
{
	size_t off = RTP_HDR_LEN, end = n, ext;

	if (n < RTP_HDR_LEN)
		return RTP_ESHORT;
	if (p[0] >> 6 != RTP_VERSION)
		return RTP_EVERSION;
	h->csrc_count = p[0] & 0x0f;
	h->marker = (p[1] & 0x80) != 0;
	h->pt = p[1] & 0x7f;
	h->seq = be_get16(p + 2);
	h->ts = be_get32(p + 4);
	h->ssrc = be_get32(p + 8);
	if ((size_t)h->csrc_count * 4 > end - off)
		return RTP_ECSRC;
	off += (size_t)h->csrc_count * 4;
	if (p[0] & 0x10) {
		if (end - off < 4)
			return RTP_EEXT;
		ext = 4 + (size_t)be_get16(p + off + 2) * 4;
		if (ext > end - off)
			return RTP_EEXT;
		off += ext;
	}
	if (p[0] & 0x20) {
		if (end == off || p[end - 1] == 0 || p[end - 1] > end - off)
			return RTP_EPAD;
		end -= p[end - 1];
	}
	h->payload = p + off;
	h->payload_len = end - off;
	return RTP_OK;
}

void
rtp_encode(uint8_t out[RTP_HDR_LEN], const struct rtp_hdr *h)
{
	out[0] = RTP_VERSION << 6;
	out[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->pt & 0x7f));
	be_put16(out + 2, h->seq);
	be_put32(out + 4, h->ts);
	be_put32(out + 8, h->ssrc);
}

const char *
rtp_format_name(enum rtp_format f)
{
	return f == RTP_L16 ? "L16" : "L24";
}

int
rtp_format_parse(const char *s, size_t n, enum rtp_format *f)
{
	if (n == 3 && strncasecmp(s, "L24", 3) == 0)
		*f = RTP_L24;
	else if (n == 3 && strncasecmp(s, "L16", 3) == 0)
		*f = RTP_L16;
	else
		return -1;
	return 0;
}

/*
 * Clip, scale, round half away from zero.  The product of a float and a
 * power of two is exact; below 2^23 floats are at most half a unit apart,
 * so adding 0.5 is exact too, and truncation then rounds as lround would,
 * without the libm call or a double.  NaN fails both comparisons: 0.
 */
static inline int32_t
quant(float x, float scale)
{
	float y;

	if (!(x > -1.0f))
		return x <= -1.0f ? -(int32_t)scale : 0;
	if (!(x < 1.0f))
		return (int32_t)scale - 1;
	y = x * scale;
	y = y >= 0 ? y + 0.5f : y - 0.5f;
	return y >= scale ? (int32_t)scale - 1 : (int32_t)y;
}

#define S24	8388608.0f
#define S16	32768.0f

float
rtp_quantize(enum rtp_format f, float x)
{
	float scale = f == RTP_L16 ? S16 : S24;

	return (float)quant(x, scale) / scale;
}

size_t
rtp_pack(enum rtp_format f, uint8_t *out, const float *in, size_t n)
{
	uint32_t u;
	size_t i;

	if (f == RTP_L16) {
		for (i = 0; i < n; i++)
			be_put16(out + 2 * i, (uint16_t)quant(in[i], S16));
		return 2 * n;
	}
	for (i = 0; i < n; i++, out += 3) {
		u = (uint32_t)quant(in[i], S24);
		out[0] = (uint8_t)(u >> 16);
		out[1] = (uint8_t)(u >> 8);
		out[2] = (uint8_t)u;
	}
	return 3 * n;
}

static float
sample24(const uint8_t *p)
{
	/* Sign-extend through the top byte of a 32-bit word. */
	int32_t v = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8) >> 8;

	return (float)v / S24;
}

void
rtp_unpack(enum rtp_format f, float *dst, size_t dst_stride,
    const uint8_t *src, size_t frames, uint32_t src_nch, uint32_t copy_nch)
{
	size_t i, bps = (size_t)f;
	uint32_t c;

	if (copy_nch > src_nch)
		copy_nch = src_nch;
	for (i = 0; i < frames; i++, dst += dst_stride,
	    src += bps * src_nch)
		for (c = 0; c < copy_nch; c++)
			dst[c] = f == RTP_L16 ?
			    (float)(int16_t)be_get16(src + 2 * c) / S16 :
			    sample24(src + 3 * c);
}

/* ---- rtp://HOST:PORT?key=value&... ---- */

static int
hexdigit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* One "key=value" of n bytes, the value %XX-decoded. */
static int
url_param(struct rtp_url *u, const char *s, size_t n, char *err,
    size_t errlen)
{
	const char *eq = memchr(s, '=', n);
	size_t kl, i, o = 0;
	char *v;
	int hi, lo;

	if (eq == NULL || (kl = (size_t)(eq - s)) == 0 ||
	    kl >= sizeof(u->param[0].key)) {
		errbuf_set(err, errlen, "\"%.*s\" is not key=value", (int)n, s);
		return -1;
	}
	if (u->nparams == RTP_URL_PARAMS) {
		errbuf_set(err, errlen, "more than %d parameters",
		    RTP_URL_PARAMS);
		return -1;
	}
	memcpy(u->param[u->nparams].key, s, kl);
	u->param[u->nparams].key[kl] = '\0';
	if (rtp_url_get(u, u->param[u->nparams].key) != NULL) {
		errbuf_set(err, errlen, "%s given twice",
		    u->param[u->nparams].key);
		return -1;
	}
	v = u->param[u->nparams].value;
	for (i = kl + 1; i < n; i++) {
		if (o + 1 >= RTP_URL_VALUE)
			goto bad;
		if (s[i] == '%') {
			if (i + 2 >= n || (hi = hexdigit((unsigned char)s[i + 1])) <
			    0 || (lo = hexdigit((unsigned char)s[i + 2])) < 0)
				goto bad;
			v[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			v[o++] = s[i];
	}
	v[o] = '\0';
	if (!text_name(v, o))
		goto bad;
	u->nparams++;
	return 0;
bad:
	errbuf_set(err, errlen, "%s: bad or overlong value",
	    u->param[u->nparams].key);
	return -1;
}

int
rtp_url_parse(const char *url, struct rtp_url *u, char *err, size_t errlen)
{
	char hp[128], why[160];
	const char *q, *p, *amp;
	size_t hl;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "rtp://", 6) != 0) {
		errbuf_set(err, errlen, "\"%s\" does not start rtp://", url);
		return -1;
	}
	url += 6;
	q = strchr(url, '?');
	hl = q != NULL ? (size_t)(q - url) : strlen(url);
	if (hl >= sizeof(hp)) {
		errbuf_set(err, errlen, "rtp://: address too long");
		return -1;
	}
	memcpy(hp, url, hl);
	hp[hl] = '\0';
	if (opt_hostport(hp, NULL, u->host, sizeof(u->host), u->port,
	    sizeof(u->port), why, sizeof(why)) == -1) {
		errbuf_set(err, errlen, "rtp://%s", why);
		return -1;
	}
	for (p = q != NULL ? q + 1 : NULL; p != NULL && *p != '\0';
	    p = amp != NULL ? amp + 1 : NULL) {
		amp = strchr(p, '&');
		if (url_param(u, p, amp ? (size_t)(amp - p) : strlen(p), err,
		    errlen) == -1)
			return -1;
	}
	return 0;
}

const char *
rtp_url_get(const struct rtp_url *u, const char *key)
{
	size_t i;

	for (i = 0; i < u->nparams; i++)
		if (strcmp(u->param[i].key, key) == 0)
			return u->param[i].value;
	return NULL;
}

int
rtp_url_number(const struct rtp_url *u, const char *key, long long lo,
    long long hi, long long def, long long *out, char *err, size_t errlen)
{
	const char *v = rtp_url_get(u, key);

	*out = def;
	if (v != NULL && opt_number(v, lo, hi, out) == -1) {
		errbuf_set(err, errlen, "%s=%s: expected %lld..%lld", key, v, lo,
		    hi);
		return -1;
	}
	return 0;
}

int
rtp_url_only(const struct rtp_url *u, const char *const *keys, char *err,
    size_t errlen)
{
	const char *const *k;
	size_t i;

	for (i = 0; i < u->nparams; i++) {
		for (k = keys; *k != NULL; k++)
			if (strcmp(*k, u->param[i].key) == 0)
				break;
		if (*k == NULL) {
			errbuf_set(err, errlen, "unknown parameter \"%s\"",
			    u->param[i].key);
			return -1;
		}
	}
	return 0;
}
