/* sdp.c — SAP packets and the SDP of one audio stream: decode, parse, build; pure, fuzzed. */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "shared/log.h"
#include "shared/sdp.h"
#include "shared/text.h"

const char *
sdp_strerror(int err)
{
	switch (err) {
	case SDP_OK:		return "ok";
	case SAP_ESHORT:	return "SAP packet too short";
	case SAP_EVERSION:	return "not SAP version 1";
	case SAP_EIPV6:		return "SAP over IPv6 is not supported";
	case SAP_ECRYPT:	return "encrypted or compressed SAP";
	case SAP_ETYPE:		return "SAP payload is not application/sdp";
	case SDP_ESYNTAX:	return "malformed SDP";
	case SDP_EMEDIA:	return "no usable audio stream in the SDP";
	}
	return "unknown error";
}

/* ---- SAP ---- */

#define SAP_V1		0x20
#define SAP_IPV6	0x10
#define SAP_DELETE	0x04
#define SAP_CRYPT	0x02
#define SAP_ZIP		0x01

/*
 * Header: flags, authentication length (32-bit words), hash, origin.
 * Then the authentication data (skipped), then either a NUL-terminated
 * MIME type or, for old announcers, the SDP itself ("v=0" first).
 */
int
sap_decode(const uint8_t *p, size_t n, struct sap_msg *m)
{
	size_t off, rest;
	const uint8_t *nul;

	if (n < 8)
		return SAP_ESHORT;
	if ((p[0] & 0xe0) != SAP_V1)
		return SAP_EVERSION;
	if (p[0] & SAP_IPV6)
		return SAP_EIPV6;
	if (p[0] & (SAP_CRYPT | SAP_ZIP))
		return SAP_ECRYPT;
	m->deletion = (p[0] & SAP_DELETE) != 0;
	m->hash = (uint16_t)(p[2] << 8 | p[3]);
	memcpy(&m->origin, p + 4, 4);
	off = 8 + (size_t)p[1] * 4;
	if (off > n)
		return SAP_ESHORT;
	rest = n - off;
	if (rest >= 3 && memcmp(p + off, "v=0", 3) == 0) {
		m->sdp = (const char *)p + off;
		m->sdp_len = rest;
		return SDP_OK;
	}
	if ((nul = memchr(p + off, '\0', rest)) == NULL)
		return SAP_ESHORT;
	if ((size_t)(nul - (p + off)) != sizeof(SAP_MIME) - 1 ||
	    memcmp(p + off, SAP_MIME, sizeof(SAP_MIME) - 1) != 0)
		return SAP_ETYPE;
	off += sizeof(SAP_MIME);
	m->sdp = (const char *)p + off;
	m->sdp_len = n - off;
	return SDP_OK;
}

size_t
sap_encode(uint8_t *out, size_t cap, bool deletion, uint16_t hash,
    uint32_t origin, const char *sdp, size_t sdp_len)
{
	size_t n = 8 + sizeof(SAP_MIME) + sdp_len;

	if (n > cap)
		return 0;
	out[0] = SAP_V1 | (deletion ? SAP_DELETE : 0);
	out[1] = 0;
	out[2] = (uint8_t)(hash >> 8);
	out[3] = (uint8_t)hash;
	memcpy(out + 4, &origin, 4);
	memcpy(out + 8, SAP_MIME, sizeof(SAP_MIME));
	memcpy(out + 8 + sizeof(SAP_MIME), sdp, sdp_len);
	return n;
}

/* ---- SDP: spans of text, never NUL-terminated ---- */

struct span {
	const char	*p;
	size_t		 n;
};

/* The next blank-separated word of *s, or an empty span. */
static struct span
word(struct span *s)
{
	struct span w;

	while (s->n > 0 && (*s->p == ' ' || *s->p == '\t')) {
		s->p++;
		s->n--;
	}
	w.p = s->p;
	for (w.n = 0; w.n < s->n && s->p[w.n] != ' ' && s->p[w.n] != '\t';
	    w.n++)
		;
	s->p += w.n;
	s->n -= w.n;
	return w;
}

static bool
is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

/* Decimal digits only, at most max. */
static bool
number(struct span s, uint64_t max, uint64_t *v)
{
	size_t i;

	*v = 0;
	if (s.n == 0 || s.n > 20)
		return false;
	for (i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9' ||
		    *v > (max - (uint64_t)(s.p[i] - '0')) / 10)
			return false;
		*v = *v * 10 + (uint64_t)(s.p[i] - '0');
	}
	return true;
}

static bool
ipv4(struct span s, uint32_t *a)
{
	char buf[16];

	if (s.n == 0 || s.n >= sizeof(buf))
		return false;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return inet_pton(AF_INET, buf, a) == 1;
}

/* "a/b[/c]": the span up to the first '/', the rest after it. */
static struct span
cut(struct span *s, char sep)
{
	const char *at = memchr(s->p, sep, s->n);
	struct span head = { s->p, at ? (size_t)(at - s->p) : s->n };

	s->p += head.n + (at ? 1 : 0);
	s->n -= head.n + (at ? 1 : 0);
	return head;
}

/* "IN IP4 ADDR[/TTL[/N]]" (c=). */
static bool
connection(struct span v, uint32_t *addr, uint32_t *ttl)
{
	struct span a;
	uint64_t t = 0;

	if (!is(word(&v), "IN") || !is(word(&v), "IP4"))
		return false;
	a = word(&v);
	if (!ipv4(cut(&a, '/'), addr))
		return false;
	if (a.n > 0 && !number(cut(&a, '/'), 255, &t))
		return false;
	*ttl = (uint32_t)t;
	return true;
}

/* "- SESSID VERSION IN IP4 ADDR" (o=): the id and an IPv4 address. */
static void
origin(struct span v, struct sdp_stream *s)
{
	uint64_t id;

	(void)word(&v);
	if (number(word(&v), UINT64_MAX, &id))
		s->session_id = id;
	(void)word(&v);
	if (is(word(&v), "IN") && is(word(&v), "IP4") &&
	    !ipv4(word(&v), &s->origin))
		s->origin = 0;
}

/* A decimal number of ms ("1", "0.125") in µs. */
static bool
ptime(struct span v, uint32_t *us)
{
	struct span ms = cut(&v, '.');
	uint64_t whole, frac = 0, scale = 1000;
	size_t i;

	if (!number(ms, 1000, &whole))
		return false;
	for (i = 0; i < v.n && i < 3; i++) {
		if (v.p[i] < '0' || v.p[i] > '9')
			return false;
		scale /= 10;
		frac += (uint64_t)(v.p[i] - '0') * scale;
	}
	*us = (uint32_t)(whole * 1000 + frac);
	return *us > 0;
}

/* What parse collects before it decides. */
struct sdp_parse {
	struct sdp_stream	*s;
	int			 media;	/* 0 before m=, 1 in ours, 2 after */
	bool			 have_c, have_rtpmap;
	uint32_t		 session_group, session_ttl;
	char			*err;
	size_t			 errlen;
};

/* "PT ENC/RATE[/CH]" (rtpmap) for our payload type. */
static int
rtpmap(struct sdp_parse *ps, struct span v)
{
	struct span enc;
	uint64_t pt, rate, ch = 1;

	if (!number(word(&v), 127, &pt))
		return -1;
	if (pt != ps->s->pt)
		return 0;
	v = word(&v);
	enc = cut(&v, '/');
	if (!number(cut(&v, '/'), 384000, &rate) || rate == 0 ||
	    (v.n > 0 && (!number(v, 1000000, &ch) || ch == 0)))
		return -1;
	if (rtp_format_parse(enc.p, enc.n, &ps->s->format) == -1) {
		errbuf_set(ps->err, ps->errlen, "encoding %.*s: only L24 and "
		    "L16 are taken", (int)(enc.n > 16 ? 16 : enc.n), enc.p);
		return -2;
	}
	ps->s->rate = (uint32_t)rate;
	ps->s->channels = (uint32_t)(ch > SDP_CHANNELS_MAX ? 0 : ch);
	ps->have_rtpmap = true;
	return 0;
}

/* "incl IN IP4 DEST SRC..." (source-filter): the first source for our group. */
static void
source_filter(struct sdp_parse *ps, struct span v)
{
	struct span dest;
	uint32_t d, src, group = ps->s->group ? ps->s->group :
	    ps->session_group;

	if (!is(word(&v), "incl") || !is(word(&v), "IN") ||
	    !is(word(&v), "IP4"))
		return;
	dest = word(&v);
	if ((is(dest, "*") || (ipv4(dest, &d) && d == group)) &&
	    ipv4(word(&v), &src))
		ps->s->source = src;
}

static int
attribute(struct sdp_parse *ps, struct span v)
{
	struct span name = cut(&v, ':');
	uint64_t off;

	if (ps->media != 1)
		return 0;
	if (is(name, "rtpmap"))
		return rtpmap(ps, v);
	if (is(name, "ptime") && !ptime(v, &ps->s->ptime_us))
		ps->s->ptime_us = 0;
	if (is(name, "source-filter"))
		source_filter(ps, v);
	if (is(name, "mediaclk") && v.n > 7 && memcmp(v.p, "direct=", 7) == 0 &&
	    number((struct span){ v.p + 7, v.n - 7 }, UINT32_MAX, &off)) {
		ps->s->has_offset = true;
		ps->s->offset = (uint32_t)off;
	}
	return 0;
}

/* "audio PORT RTP/AVP PT ...": ours if it is the first such line. */
static int
media(struct sdp_parse *ps, struct span v)
{
	struct span ports;
	uint64_t port, pt;

	if (ps->media == 1) {
		ps->media = 2;
		return 0;
	}
	if (ps->media == 2 || !is(word(&v), "audio"))
		return 0;
	ports = word(&v);
	if (!number(cut(&ports, '/'), 65535, &port) || port == 0 ||
	    !is(word(&v), "RTP/AVP") || !number(word(&v), 127, &pt))
		return -1;
	ps->s->port = (uint16_t)port;
	ps->s->pt = (uint8_t)pt;
	ps->media = 1;
	return 0;
}

static void
span_text(char *dst, size_t cap, struct span v)
{
	size_t n = v.n < cap - 1 ? v.n : cap - 1;

	if (!text_name(v.p, n))
		n = 0;
	memcpy(dst, v.p, n);
	dst[n] = '\0';
}

/* One "x=value" line; -1 malformed, -2 refused (err set). */
static int
line(struct sdp_parse *ps, struct span l)
{
	struct span v = { l.p + 2, l.n - 2 };
	uint32_t addr, ttl;

	if (l.n < 2 || l.p[1] != '=' || l.p[0] < 'a' || l.p[0] > 'z')
		return -1;
	switch (l.p[0]) {
	case 'o':
		origin(v, ps->s);
		return 0;
	case 's':
		span_text(ps->s->name, sizeof(ps->s->name), v);
		return 0;
	case 'c':
		if (ps->media == 2)
			return 0;
		if (!connection(v, &addr, &ttl))
			return -1;
		if (ps->media == 0) {
			ps->session_group = addr;
			ps->session_ttl = ttl;
		} else {
			ps->s->group = addr;
			ps->s->ttl = ttl;
		}
		ps->have_c = true;
		return 0;
	case 'm':
		return media(ps, v);
	case 'a':
		return attribute(ps, v);
	}
	return 0;
}

/* What the lines said, judged as a whole. */
static int
sdp_verdict(struct sdp_parse *ps)
{
	struct sdp_stream *s = ps->s;

	if (ps->media == 0)
		errbuf_set(ps->err, ps->errlen, "no audio RTP/AVP stream");
	else if (!ps->have_c)
		errbuf_set(ps->err, ps->errlen, "no c= address");
	else if (!ps->have_rtpmap)
		errbuf_set(ps->err, ps->errlen, "no rtpmap for payload type "
		    "%u", s->pt);
	else if (s->channels == 0)
		errbuf_set(ps->err, ps->errlen, "more than %d channels",
		    SDP_CHANNELS_MAX);
	else
		return SDP_OK;
	return SDP_EMEDIA;
}

int
sdp_parse(const char *text, size_t len, struct sdp_stream *s, char *err,
    size_t errlen)
{
	struct sdp_parse ps = { .s = s, .err = err, .errlen = errlen };
	struct span all = { text, len }, l;
	int n = 0, rc;

	memset(s, 0, sizeof(*s));
	if (len < 3 || memcmp(text, "v=0", 3) != 0) {
		errbuf_set(err, errlen, "does not start with v=0");
		return SDP_ESYNTAX;
	}
	while (all.n > 0) {
		l = cut(&all, '\n');
		n++;
		if (l.n > 0 && l.p[l.n - 1] == '\r')
			l.n--;
		if (l.n == 0)
			continue;
		if ((rc = line(&ps, l)) == -1) {
			errbuf_set(err, errlen, "line %d is malformed", n);
			return SDP_ESYNTAX;
		}
		if (rc == -2)
			return SDP_EMEDIA;
	}
	if (s->group == 0 && ps.media != 0) {
		s->group = ps.session_group;
		s->ttl = ps.session_ttl;
	}
	return sdp_verdict(&ps);
}

/* ---- building ---- */

void
sdp_ptime_text(uint32_t us, char *out, size_t len)
{
	int n = snprintf(out, len, "%u.%03u", us / 1000, us % 1000);

	/* Trailing zeros off, then a bare point. */
	while (n > 0 && (size_t)n < len && out[n - 1] == '0')
		out[--n] = '\0';
	if (n > 0 && (size_t)n < len && out[n - 1] == '.')
		out[--n] = '\0';
}

static void
addr_text(uint32_t a, char *out, size_t len)
{
	if (inet_ntop(AF_INET, &a, out, (socklen_t)len) == NULL)
		snprintf(out, len, "0.0.0.0");
}

/*
 * ts-refclk:local (RFC 7273): ringcast follows no PTP clock, and says so
 * rather than claim one.  mediaclk:direct= gives the RTP timestamp of the
 * ring's frame 0, so a receiver can line the stream up with the sender's
 * ring positions.
 */
size_t
sdp_build(const struct sdp_stream *s, char *out, size_t cap)
{
	char org[16], grp[16], src[16], pt[16];
	int n;

	addr_text(s->origin, org, sizeof(org));
	addr_text(s->group, grp, sizeof(grp));
	addr_text(s->source, src, sizeof(src));
	sdp_ptime_text(s->ptime_us, pt, sizeof(pt));
	n = snprintf(out, cap,
	    "v=0\r\no=- %llu %llu IN IP4 %s\r\ns=%s\r\nc=IN IP4 %s/%u\r\n"
	    "t=0 0\r\nm=audio %u RTP/AVP %u\r\n%s%s%s"
	    "a=rtpmap:%u %s/%u/%u\r\na=ptime:%s\r\na=ts-refclk:local\r\n"
	    "a=mediaclk:direct=%u\r\n%s%s%s%s%s"
	    "a=recvonly\r\n",
	    (unsigned long long)s->session_id,
	    (unsigned long long)s->session_id, org, s->name, grp, s->ttl,
	    s->port, s->pt, s->info[0] ? "i=" : "", s->info,
	    s->info[0] ? "\r\n" : "", s->pt, rtp_format_name(s->format),
	    s->rate, s->channels, pt, s->offset,
	    s->source ? "a=source-filter: incl IN IP4 " : "",
	    s->source ? grp : "", s->source ? " " : "", s->source ? src : "",
	    s->source ? "\r\n" : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
