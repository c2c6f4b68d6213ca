/* proto.c — Fichatech v2 codec: header, framing, control JSON, audio packets. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/bytes.h"
#include "shared/clock.h"
#include "shared/proto.h"
#include "shared/text.h"

static const char *const ctl_names[] = {
	[PROTO_CTL_UNKNOWN] = "unknown",
	[PROTO_CTL_HANDSHAKE] = "handshake",
	[PROTO_CTL_SUBSCRIBE] = "subscribe",
	[PROTO_CTL_HEARTBEAT] = "heartbeat",
	[PROTO_CTL_UPDATE_MIX] = "update_mix",
	[PROTO_CTL_GET_CLIENT_STATE] = "get_client_state",
	[PROTO_CTL_HANDSHAKE_RESPONSE] = "handshake_response",
	[PROTO_CTL_MIX_STATE] = "mix_state",
	[PROTO_CTL_HEARTBEAT_RESPONSE] = "heartbeat_response",
	[PROTO_CTL_CHANNEL_UPDATE] = "channel_update",
	[PROTO_CTL_MASTER_GAIN_UPDATE] = "master_gain_update",
	[PROTO_CTL_ERROR] = "error",
};
#define NCTL	(sizeof(ctl_names) / sizeof(ctl_names[0]))

const char *
proto_strerror(int err)
{
	switch (err) {
	case PROTO_OK:
		return "ok";
	case PROTO_EMORE:
		return "incomplete message";
	case PROTO_EMAGIC:
		return "bad magic";
	case PROTO_ETOOBIG:
		return "payload too large";
	case PROTO_EJSON:
		return "control payload is not a JSON object";
	case PROTO_EFIELD:
		return "invalid field";
	case PROTO_ESHORT:
		return "audio payload size does not match its mask";
	case PROTO_EDEPTH:
		return "JSON nested too deep";
	case PROTO_ENOMEM:
		return "out of memory";
	}
	return "unknown error";
}

const char *
proto_ctl_name(enum proto_ctl t)
{
	if ((unsigned)t >= NCTL || ctl_names[t] == NULL)
		return "unknown";
	return ctl_names[t];
}

/* ---- header and framing ---- */

void
proto_hdr_encode(uint8_t out[PROTO_HDR_LEN], const struct proto_hdr *h)
{
	be_put32(out, h->magic);
	be_put16(out + 4, h->version);
	be_put16(out + 6, (uint16_t)(h->type << 8 | h->flags));
	be_put32(out + 8, h->timestamp_ms);
	be_put32(out + 12, h->length);
}

int
proto_hdr_decode(const uint8_t in[PROTO_HDR_LEN], struct proto_hdr *h)
{
	uint16_t tf;

	h->magic = be_get32(in);
	h->version = be_get16(in + 4);
	tf = be_get16(in + 6);
	h->type = tf >> 8;
	h->flags = tf & 0xff;
	h->timestamp_ms = be_get32(in + 8);
	h->length = be_get32(in + 12);
	return h->magic == PROTO_MAGIC ? PROTO_OK : PROTO_EMAGIC;
}

int
proto_split(const uint8_t *buf, size_t len, size_t max_payload,
    struct proto_hdr *hdr, const uint8_t **payload, size_t *consumed)
{
	int rc;

	if (len < PROTO_HDR_LEN)
		return PROTO_EMORE;
	if ((rc = proto_hdr_decode(buf, hdr)) != PROTO_OK)
		return rc;
	if (hdr->length > max_payload)
		return PROTO_ETOOBIG;
	if (len - PROTO_HDR_LEN < hdr->length)
		return PROTO_EMORE;
	*payload = buf + PROTO_HDR_LEN;
	*consumed = PROTO_HDR_LEN + (size_t)hdr->length;
	return PROTO_OK;
}

uint32_t
proto_now_ms(void)
{
	return (uint32_t)clock_wall_ms();
}

/* ---- control messages ---- */

/*
 * jansson parses recursively with no depth option, so measure the nesting
 * first: one linear pass over brackets outside strings.  Also refuses raw NUL
 * bytes, which no valid JSON text contains.
 */
int
proto_json_depth_check(const void *text, size_t len)
{
	const uint8_t *p = text;
	int depth = 0;
	bool in_str = false, esc = false;
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == '\0')
			return PROTO_EJSON;
		if (in_str) {
			if (esc)
				esc = false;
			else if (p[i] == '\\')
				esc = true;
			else if (p[i] == '"')
				in_str = false;
		} else if (p[i] == '"')
			in_str = true;
		else if (p[i] == '{' || p[i] == '[') {
			if (++depth > PROTO_JSON_DEPTH)
				return PROTO_EDEPTH;
		} else if ((p[i] == '}' || p[i] == ']') && depth > 0)
			depth--;
	}
	return PROTO_OK;
}

bool
proto_name_valid(const json_t *v)
{
	/* An embedded NUL would hide the rest of the name. */
	return json_is_string(v) && json_string_length(v) == strlen(
	    json_string_value(v)) && text_name_field(json_string_value(v), 64);
}

int
proto_json_body(const void *text, size_t len, json_t **out, char *why,
    size_t whylen)
{
	json_error_t jerr;
	int rc;

	if ((rc = proto_json_depth_check(text, len)) != PROTO_OK) {
		snprintf(why, whylen, "invalid JSON: %s", rc == PROTO_EDEPTH ?
		    "nested too deep" : "a NUL byte");
		return rc;
	}
	if ((*out = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		snprintf(why, whylen, "invalid JSON: %s", jerr.text);
		return PROTO_EJSON;
	}
	return PROTO_OK;
}

static enum proto_ctl
ctl_lookup(const char *s)
{
	size_t i;

	for (i = 1; i < NCTL; i++)
		if (strcmp(s, ctl_names[i]) == 0)
			return (enum proto_ctl)i;
	return PROTO_CTL_UNKNOWN;
}

int
proto_control_parse(const uint8_t *payload, size_t len, json_t **obj,
    enum proto_ctl *type)
{
	json_error_t jerr;
	json_t *o, *t;
	int rc;

	*obj = NULL;
	if (len > PROTO_CONTROL_MAX)
		return PROTO_ETOOBIG;
	if ((rc = proto_json_depth_check(payload, len)) != PROTO_OK)
		return rc;
	o = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return PROTO_EJSON;
	if (!json_is_object(o)) {
		json_decref(o);
		return PROTO_EJSON;
	}
	t = json_object_get(o, "type");
	if (!json_is_string(t)) {
		json_decref(o);
		return PROTO_EFIELD;
	}
	*type = ctl_lookup(json_string_value(t));
	*obj = o;
	return PROTO_OK;
}


/*
 * Works on a shallow copy so the caller's object is not changed.  Reals are
 * printed with 15 significant digits: enough for any double a person set,
 * and 0.7 stays "0.7" instead of seventeen digits of binary noise.
 */
int
proto_control_encode(json_t *obj, bool rf, uint8_t **out, size_t *len)
{
	struct proto_hdr h;
	json_t *o;
	char *text;
	size_t n;
	int rc = PROTO_ENOMEM;

	*out = NULL;
	*len = 0;
	if (!json_is_object(obj))
		return PROTO_EJSON;
	if ((o = json_copy(obj)) == NULL)
		return PROTO_ENOMEM;
	if (json_object_get(o, "timestamp") == NULL &&
	    json_object_set_new(o, "timestamp", json_integer((json_int_t)clock_wall_ms())) == -1)
		goto out;
	if (rf && json_object_set_new(o, "rf_mode", json_true()) == -1)
		goto out;
	if ((text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15))) == NULL)
		goto out;
	n = strlen(text);
	if (n > PROTO_CONTROL_MAX) {
		rc = PROTO_ETOOBIG;
		goto text;
	}
	if ((*out = malloc(PROTO_HDR_LEN + n)) == NULL)
		goto text;
	h = (struct proto_hdr){ PROTO_MAGIC, PROTO_VERSION, PROTO_TYPE_CONTROL,
	    rf ? PROTO_FLAG_RF : 0, proto_now_ms(), (uint32_t)n };
	proto_hdr_encode(*out, &h);
	memcpy(*out + PROTO_HDR_LEN, text, n);
	*len = PROTO_HDR_LEN + n;
	rc = PROTO_OK;
text:
	free(text);
out:
	json_decref(o);
	return rc;
}

/* ---- handshake ---- */

/* A bool's representation, read as bytes: only 0 and 1 are bools. */
static bool
bool_ok(const bool *b)
{
	return *(const unsigned char *)b <= 1;
}

bool
proto_hello_valid(const struct proto_hello *h)
{
	return text_ident_field(h->client_id, sizeof(h->client_id)) &&
	    (h->device_uuid[0] == '\0' ||
	    text_ident_field(h->device_uuid, sizeof(h->device_uuid))) &&
	    (h->client_type[0] == '\0' ||
	    text_ident_field(h->client_type, sizeof(h->client_type))) &&
	    (h->name[0] == '\0' || text_name_field(h->name, sizeof(h->name))) &&
	    (h->user_agent[0] == '\0' ||
	    text_name_field(h->user_agent, sizeof(h->user_agent))) &&
	    bool_ok(&h->rf_mode) && bool_ok(&h->persistent) &&
	    bool_ok(&h->auto_reconnect) && bool_ok(&h->optimized) &&
	    bool_ok(&h->float32) && bool_ok(&h->server_mix) &&
	    h->protocol_version >= 0 && h->protocol_version <= 65535 &&
	    h->num_channels >= 0 && h->num_channels <= 256 &&
	    h->packet_frames <= 8192 && h->mask_words >= 1 &&
	    h->mask_words <= PROTO_MASK_WORDS_MAX;
}

/*
 * An optional string field into dst (size dstlen): absent leaves dst alone;
 * a non-string, an embedded NUL, a string that does not fit or that fails
 * the character check is PROTO_EFIELD.
 */
static int
hello_str(const json_t *obj, const char *key, char *dst, size_t dstlen,
    bool ident)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (v == NULL)
		return PROTO_OK;
	if (!json_is_string(v))
		return PROTO_EFIELD;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n != strlen(s) || n >= dstlen)
		return PROTO_EFIELD;
	if (ident ? !text_ident(s, n) : !text_name(s, n))
		return PROTO_EFIELD;
	memcpy(dst, s, n + 1);
	return PROTO_OK;
}

static int
hello_bool(const json_t *obj, const char *key, bool *dst)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return PROTO_OK;
	if (!json_is_boolean(v))
		return PROTO_EFIELD;
	*dst = json_is_true(v);
	return PROTO_OK;
}

static int
hello_int(const json_t *obj, const char *key, json_int_t lo, json_int_t hi,
    json_int_t *dst)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return PROTO_OK;
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi)
		return PROTO_EFIELD;
	*dst = json_integer_value(v);
	return PROTO_OK;
}

static int
hello_strings(const json_t *obj, struct proto_hello *h)
{
	char alt[sizeof(h->name)] = "";

	if (hello_str(obj, "client_id", h->client_id, sizeof(h->client_id),
	    true) != PROTO_OK || hello_str(obj, "device_uuid", h->device_uuid,
	    sizeof(h->device_uuid), true) != PROTO_OK)
		return PROTO_EFIELD;
	/* The old server took device_uuid alone: it names the listener then. */
	if (h->client_id[0] == '\0')
		memcpy(h->client_id, h->device_uuid, sizeof(h->client_id));
	if (h->client_id[0] == '\0')
		return PROTO_EFIELD;
	if (hello_str(obj, "client_type", h->client_type,
	    sizeof(h->client_type), true) != PROTO_OK ||
	    hello_str(obj, "user_agent", h->user_agent, sizeof(h->user_agent),
	    false) != PROTO_OK ||
	    hello_str(obj, "device_name", h->name, sizeof(h->name),
	    false) != PROTO_OK ||
	    hello_str(obj, "name", alt, sizeof(alt), false) != PROTO_OK)
		return PROTO_EFIELD;
	if (h->name[0] == '\0')
		memcpy(h->name, alt, sizeof(alt));
	return PROTO_OK;
}

static int
hello_flags(const json_t *obj, struct proto_hello *h)
{
	if (hello_bool(obj, "rf_mode", &h->rf_mode) != PROTO_OK ||
	    hello_bool(obj, "persistent", &h->persistent) != PROTO_OK ||
	    hello_bool(obj, "auto_reconnect", &h->auto_reconnect) != PROTO_OK ||
	    hello_bool(obj, "optimized", &h->optimized) != PROTO_OK ||
	    hello_bool(obj, "server_mix", &h->server_mix) != PROTO_OK)
		return PROTO_EFIELD;
	return PROTO_OK;
}

static int
hello_numbers(const json_t *obj, struct proto_hello *h)
{
	json_int_t pv = PROTO_VERSION, nch = 0, pf = 0, mw = 1;
	const json_t *fmt;

	if (hello_int(obj, "protocol_version", 0, 65535, &pv) != PROTO_OK ||
	    hello_int(obj, "num_channels", 0, 256, &nch) != PROTO_OK ||
	    hello_int(obj, "packet_frames", 0, 8192, &pf) != PROTO_OK ||
	    hello_int(obj, "channel_mask_words", 1, PROTO_MASK_WORDS_MAX,
	    &mw) != PROTO_OK)
		return PROTO_EFIELD;
	h->protocol_version = (int)pv;
	h->num_channels = (int)nch;
	h->packet_frames = (uint32_t)pf;
	h->mask_words = (uint32_t)mw;
	if ((fmt = json_object_get(obj, "audio_format")) == NULL)
		return PROTO_OK;
	if (!json_is_string(fmt))
		return PROTO_EFIELD;
	if (strcmp(json_string_value(fmt), "float32") == 0)
		h->float32 = true;
	else if (strcmp(json_string_value(fmt), "int16") != 0)
		return PROTO_EFIELD;
	return PROTO_OK;
}

int
proto_hello_parse(const json_t *obj, struct proto_hello *h)
{
	memset(h, 0, sizeof(*h));
	if (!json_is_object(obj))
		return PROTO_EJSON;
	if (hello_strings(obj, h) != PROTO_OK ||
	    hello_flags(obj, h) != PROTO_OK ||
	    hello_numbers(obj, h) != PROTO_OK) {
		memset(h, 0, sizeof(*h));
		return PROTO_EFIELD;
	}
	return PROTO_OK;
}

static int
set_str_if(json_t *o, const char *key, const char *v)
{
	if (v[0] == '\0')
		return 0;
	return json_object_set_new(o, key, json_string(v));
}

static int
hello_json_ext(json_t *o, const struct proto_hello *h)
{
	if (h->float32 &&
	    json_object_set_new(o, "audio_format", json_string("float32")) == -1)
		return -1;
	if (h->server_mix &&
	    json_object_set_new(o, "server_mix", json_true()) == -1)
		return -1;
	if (h->packet_frames != 0 && json_object_set_new(o, "packet_frames",
	    json_integer(h->packet_frames)) == -1)
		return -1;
	if (h->mask_words > 1 && json_object_set_new(o, "channel_mask_words",
	    json_integer(h->mask_words)) == -1)
		return -1;
	return 0;
}

json_t *
proto_hello_json(const struct proto_hello *h)
{
	json_t *o;

	o = json_pack("{s:s, s:s, s:i, s:b, s:b, s:b, s:b}",
	    "type", "handshake", "client_id", h->client_id,
	    "protocol_version", h->protocol_version, "rf_mode", h->rf_mode,
	    "persistent", h->persistent, "auto_reconnect", h->auto_reconnect,
	    "optimized", h->optimized);
	if (o == NULL)
		return NULL;
	if (set_str_if(o, "device_uuid", h->device_uuid) == -1 ||
	    set_str_if(o, "device_name", h->name) == -1 ||
	    set_str_if(o, "client_type", h->client_type) == -1 ||
	    set_str_if(o, "user_agent", h->user_agent) == -1 ||
	    (h->num_channels != 0 && json_object_set_new(o, "num_channels",
	    json_integer(h->num_channels)) == -1) ||
	    hello_json_ext(o, h) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

const char *
proto_hello_identity(const struct proto_hello *h)
{
	return h->device_uuid[0] != '\0' ? h->device_uuid : h->client_id;
}

/* ---- audio messages ---- */

size_t
proto_audio_size(uint32_t nch, uint32_t frames, bool float32,
    uint32_t mask_words)
{
	if (mask_words < 1)
		mask_words = 1;
	return PROTO_HDR_LEN + 8 + 4 * (size_t)mask_words +
	    (size_t)nch * frames * (float32 ? 4 : 2);
}

/* Clip to [-1, 1], scale by 32767, round half away from zero; NaN is 0. */
static int16_t
to_int16(float x)
{
	double y;

	if (x > 1.0f)
		x = 1.0f;
	else if (x < -1.0f)
		x = -1.0f;
	else if (isnan(x))
		return 0;
	/*
	 * lroundf without the libm call (a few per cent of a session's time):
	 * the float product plus 0.5 is exact in double, and truncation then
	 * rounds half away from zero, bit for bit the same.
	 */
	y = (double)(x * 32767.0f);
	return (int16_t)(y >= 0 ? (int)(y + 0.5) : (int)(y - 0.5));
}

size_t
proto_pcm16le(uint8_t *out, const float *samples, size_t n)
{
	uint16_t u;
	size_t i;

	for (i = 0; i < n; i++) {
		u = (uint16_t)to_int16(samples[i]);
		out[2 * i] = (uint8_t)(u & 0xff);
		out[2 * i + 1] = (uint8_t)(u >> 8);
	}
	return 2 * n;
}

static void
put_samples(uint8_t *p, const float *s, size_t n, bool float32)
{
	uint32_t u;
	size_t i;

	if (float32) {
		for (i = 0; i < n; i++, p += 4) {
			memcpy(&u, &s[i], 4);
			be_put32(p, u);
		}
	} else {
		for (i = 0; i < n; i++, p += 2)
			be_put16(p, (uint16_t)to_int16(s[i]));
	}
}

size_t
proto_audio_encode(uint8_t *out, uint64_t position,
    const uint32_t *mask, uint32_t mask_words, const float *samples,
    uint32_t nch, uint32_t frames, bool float32, bool rf,
    uint32_t timestamp_ms)
{
	size_t total = proto_audio_size(nch, frames, float32, mask_words);
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, PROTO_TYPE_AUDIO,
	    (float32 ? PROTO_FLAG_FLOAT32 : PROTO_FLAG_INT16) |
	    (rf ? PROTO_FLAG_RF : 0), timestamp_ms,
	    (uint32_t)(total - PROTO_HDR_LEN) };
	uint8_t *p = out + PROTO_HDR_LEN;
	uint32_t w, words = mask_words ? mask_words : 1;

	proto_hdr_encode(out, &h);
	be_put64(p, position);
	p += 8;
	for (w = 0; w < words; w++, p += 4)
		be_put32(p, w < mask_words ? mask[w] : 0);
	put_samples(p, samples, (size_t)nch * frames, float32);
	return total;
}

int
proto_audio_decode(const struct proto_hdr *h, const uint8_t *payload,
    uint32_t mask_words, struct proto_audio *a)
{
	uint8_t fmt = h->flags & (PROTO_FLAG_FLOAT32 | PROTO_FLAG_INT16 |
	    PROTO_FLAG_ZLIB);
	size_t head = 8 + 4 * (size_t)mask_words, rest, bpf;
	uint32_t w;

	memset(a, 0, sizeof(*a));
	if (mask_words < 1 || mask_words > PROTO_MASK_WORDS_MAX)
		return PROTO_EFIELD;
	if (fmt != PROTO_FLAG_FLOAT32 && fmt != PROTO_FLAG_INT16)
		return PROTO_EFIELD;	/* zlib, none or both formats */
	if (h->length < head)
		return PROTO_ESHORT;
	a->float32 = fmt == PROTO_FLAG_FLOAT32;
	a->position = be_get64(payload);
	for (w = 0; w < mask_words; w++) {
		a->mask[w] = be_get32(payload + 8 + 4 * w);
		a->nch += (uint32_t)__builtin_popcount(a->mask[w]);
	}
	rest = h->length - head;
	bpf = (size_t)a->nch * (a->float32 ? 4 : 2);
	if ((bpf == 0 && rest != 0) || (bpf != 0 && rest % bpf != 0))
		return PROTO_ESHORT;
	a->frames = bpf ? (uint32_t)(rest / bpf) : 0;
	a->samples = payload + head;
	return PROTO_OK;
}

float
proto_audio_sample(const struct proto_audio *a, size_t i)
{
	uint32_t u;
	float f;

	if (a->float32) {
		u = be_get32(a->samples + 4 * i);
		memcpy(&f, &u, 4);
		return f;
	}
	return (int16_t)be_get16(a->samples + 2 * i) / 32768.0f;
}
