/* mix.c — a listener's mix: validation, JSON form, coefficients, stereo mixdown. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"
#include "shared/mix.h"

enum field { F_GAIN, F_PAN, F_MUTE };


void
mix_init(struct mix *m, uint32_t nch)
{
	uint32_t c;

	memset(m, 0, sizeof(*m));
	m->nch = nch > MIX_MAX_CHANNELS ? MIX_MAX_CHANNELS : nch;
	for (c = 0; c < MIX_MAX_CHANNELS; c++)
		m->gain[c] = 1.0f;
	m->master = 1.0f;
}

/* A finite JSON number (integers too) within [lo, hi]. */
static int
get_number(const json_t *v, double lo, double hi, double *out)
{
	double d;

	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!isfinite(d) || d < lo || d > hi)
		return -1;
	*out = d;
	return 0;
}

/*
 * A channel key: canonical decimal ("0", "12"; not "01", "+1", " 1"), so two
 * keys can never name the same channel.
 */
static int
parse_key(const char *k, uint32_t nch, uint32_t *ch)
{
	size_t n = strlen(k), i;
	uint32_t v = 0;

	if (n == 0 || n > 3 || (n > 1 && k[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (k[i] < '0' || k[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(k[i] - '0');
	}
	if (v >= nch)
		return -1;
	*ch = v;
	return 0;
}

static int
patch_channels(struct mix_patch *p, const json_t *v, uint32_t nch, char *err,
    size_t errlen)
{
	const json_t *e;
	json_int_t c;
	size_t i;

	if (!json_is_array(v)) {
		errbuf_set(err, errlen, "channels: not an array");
		return -1;
	}
	json_array_foreach(v, i, e) {
		c = json_is_integer(e) ? json_integer_value(e) : -1;
		if (c < 0 || c >= (json_int_t)nch) {
			errbuf_set(err, errlen, "channels[%zu]: not a channel number "
			    "0..%d", i, (int)nch - 1);
			return -1;
		}
		p->sub[c] = 1;
	}
	p->set |= MIX_SET_CHANNELS;
	return 0;
}

static int
patch_value(struct mix_patch *p, enum field f, uint32_t ch, const json_t *v)
{
	double d;

	switch (f) {
	case F_GAIN:
		if (get_number(v, 0.0, MIX_GAIN_MAX, &d) == -1)
			return -1;
		p->gain[ch] = (float)d;
		break;
	case F_PAN:
		if (get_number(v, -1.0, 1.0, &d) == -1)
			return -1;
		p->pan[ch] = (float)d;
		break;
	case F_MUTE:
		if (!json_is_boolean(v))
			return -1;
		p->mute[ch] = json_is_true(v);
		break;
	}
	p->has[ch] |= 1u << f;
	return 0;
}

static const char *const field_name[] = {
	[F_GAIN] = "gains",
	[F_PAN] = "pans",
	[F_MUTE] = "mutes",
};

static const char *const field_range[] = {
	[F_GAIN] = "a number 0..10",
	[F_PAN] = "a number -1..1",
	[F_MUTE] = "a boolean",
};

static int
patch_map(struct mix_patch *p, enum field f, const json_t *v, uint32_t nch,
    char *err, size_t errlen)
{
	const char *k;
	const json_t *e;
	uint32_t ch;

	if (!json_is_object(v)) {
		errbuf_set(err, errlen, "%s: not an object", field_name[f]);
		return -1;
	}
	json_object_foreach((json_t *)(uintptr_t)v, k, e) {
		if (parse_key(k, nch, &ch) == -1) {
			errbuf_set(err, errlen, "%s: key \"%.16s\" is not a channel "
			    "number 0..%d", field_name[f], k, (int)nch - 1);
			return -1;
		}
		if (patch_value(p, f, ch, e) == -1) {
			errbuf_set(err, errlen, "%s[%u]: not %s", field_name[f],
			    ch, field_range[f]);
			return -1;
		}
	}
	return 0;
}

int
mix_patch_from_json(struct mix_patch *p, const json_t *upd, uint32_t nch,
    char *err, size_t errlen)
{
	const json_t *v;
	double d;
	int f;

	memset(p, 0, sizeof(*p));
	if (nch > MIX_MAX_CHANNELS)
		nch = MIX_MAX_CHANNELS;
	if (!json_is_object(upd)) {
		errbuf_set(err, errlen, "mix: not an object");
		return -1;
	}
	if ((v = json_object_get(upd, "channels")) != NULL &&
	    patch_channels(p, v, nch, err, errlen) == -1)
		return -1;
	for (f = F_GAIN; f <= F_MUTE; f++)
		if ((v = json_object_get(upd, field_name[f])) != NULL &&
		    patch_map(p, (enum field)f, v, nch, err, errlen) == -1)
			return -1;
	if ((v = json_object_get(upd, "master_gain")) != NULL) {
		if (get_number(v, 0.0, MIX_MASTER_MAX, &d) == -1) {
			errbuf_set(err, errlen, "master_gain: not a number 0..5");
			return -1;
		}
		p->master = (float)d;
		p->set |= MIX_SET_MASTER;
	}
	return 0;
}

static bool
in_range(float v, float lo, float hi)
{
	return isfinite(v) && v >= lo && v <= hi;
}

bool
mix_patch_valid(const struct mix_patch *p)
{
	uint32_t c;

	if ((p->set & ~(MIX_SET_CHANNELS | MIX_SET_MASTER)) != 0 ||
	    ((p->set & MIX_SET_MASTER) && !in_range(p->master, 0.0f,
	    MIX_MASTER_MAX)))
		return false;
	for (c = 0; c < MIX_MAX_CHANNELS; c++)
		if (p->sub[c] > 1 || p->mute[c] > 1 || p->has[c] > 7 ||
		    ((p->has[c] & 1u << F_GAIN) && !in_range(p->gain[c], 0.0f,
		    MIX_GAIN_MAX)) || ((p->has[c] & 1u << F_PAN) &&
		    !in_range(p->pan[c], -1.0f, 1.0f)))
			return false;
	return true;
}

/* The first field of p that names channel c, for an error message. */
static const char *
naming_field(const struct mix_patch *p, uint32_t c)
{
	int f;

	if (p->sub[c])
		return "channels";
	for (f = F_GAIN; f <= F_MUTE; f++)
		if (p->has[c] & 1u << f)
			return field_name[f];
	return "mix";
}

/* Every channel p names exists, and every one it subscribes can be sent. */
static int
patch_check(const struct mix *m, const struct mix_patch *p,
    uint32_t addressable, char *err, size_t errlen)
{
	uint32_t c;

	for (c = m->nch; c < MIX_MAX_CHANNELS; c++)
		if (p->sub[c] || p->has[c]) {
			errbuf_set(err, errlen, "%s: %u is not a channel number "
			    "0..%d", naming_field(p, c), c, (int)m->nch - 1);
			return -1;
		}
	for (c = addressable; c < m->nch; c++)
		if (p->sub[c]) {
			errbuf_set(err, errlen, "channel %u needs the "
			    "channel_mask_words extension", c);
			return -1;
		}
	return 0;
}

int
mix_patch_apply(struct mix *m, const struct mix_patch *p,
    uint32_t addressable, char *err, size_t errlen)
{
	uint32_t c;

	if (!mix_patch_valid(p)) {
		errbuf_set(err, errlen, "mix: invalid change");
		return -1;
	}
	if (patch_check(m, p, addressable, err, errlen) == -1)
		return -1;
	if (p->set & MIX_SET_CHANNELS)
		memcpy(m->sub, p->sub, sizeof(m->sub));
	if (p->set & MIX_SET_MASTER)
		m->master = p->master;
	for (c = 0; c < m->nch; c++) {
		if (p->has[c] & 1u << F_GAIN)
			m->gain[c] = p->gain[c];
		if (p->has[c] & 1u << F_PAN)
			m->pan[c] = p->pan[c];
		if (p->has[c] & 1u << F_MUTE)
			m->mute[c] = p->mute[c];
	}
	return 0;
}

int
mix_apply_json(struct mix *m, const json_t *upd, char *err, size_t errlen)
{
	struct mix_patch p;

	if (mix_patch_from_json(&p, upd, m->nch, err, errlen) == -1)
		return -1;
	return mix_patch_apply(m, &p, m->nch, err, errlen);
}

bool
mix_valid(const struct mix *m)
{
	uint32_t c;

	if (m->nch > MIX_MAX_CHANNELS || !in_range(m->master, 0.0f,
	    MIX_MASTER_MAX))
		return false;
	for (c = 0; c < MIX_MAX_CHANNELS; c++)
		if (m->sub[c] > 1 || m->mute[c] > 1 || !in_range(m->gain[c],
		    0.0f, MIX_GAIN_MAX) || !in_range(m->pan[c], -1.0f, 1.0f))
			return false;
	return true;
}

uint32_t
mix_limit(struct mix *m, uint32_t addressable)
{
	uint32_t c, dropped = 0;

	for (c = addressable; c < m->nch; c++) {
		dropped += m->sub[c];
		m->sub[c] = 0;
	}
	return dropped;
}

/*
 * The shortest decimal that reads back as the same float, so JSON shows
 * 0.7 rather than 0.699999988079071 and still round-trips exactly.
 */
static double
tidy(float f)
{
	char buf[32];
	int prec;

	for (prec = 6; prec < 9; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f)
			return strtod(buf, NULL);
	}
	return (double)f;
}

static bool
is_default(const struct mix *m, uint32_t c)
{
	return m->gain[c] == 1.0f && m->pan[c] == 0.0f && !m->mute[c];
}

static int
put_channel(json_t *o, const struct mix *m, uint32_t c)
{
	json_t *gains = json_object_get(o, "gains");
	json_t *pans = json_object_get(o, "pans");
	json_t *mutes = json_object_get(o, "mutes");
	char k[12];

	snprintf(k, sizeof(k), "%u", c);
	if (m->sub[c] && json_array_append_new(json_object_get(o, "channels"),
	    json_integer(c)) == -1)
		return -1;
	if (json_object_set_new(gains, k, json_real(tidy(m->gain[c]))) == -1 ||
	    json_object_set_new(pans, k, json_real(tidy(m->pan[c]))) == -1 ||
	    json_object_set_new(mutes, k, json_boolean(m->mute[c])) == -1)
		return -1;
	return 0;
}

json_t *
mix_to_json(const struct mix *m)
{
	json_t *o;
	uint32_t c;

	o = json_pack("{s:[], s:{}, s:{}, s:{}, s:f}", "channels", "gains",
	    "pans", "mutes", "master_gain", tidy(m->master));
	if (o == NULL)
		return NULL;
	for (c = 0; c < m->nch; c++) {
		if (!m->sub[c] && is_default(m, c))
			continue;
		if (put_channel(o, m, c) == -1) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int
mix_from_json(struct mix *m, uint32_t nch, const json_t *obj, char *err,
    size_t errlen)
{
	mix_init(m, nch);
	return mix_apply_json(m, obj, err, errlen);
}

bool
mix_equal(const struct mix *a, const struct mix *b)
{
	uint32_t c;

	if (a->nch != b->nch || a->master != b->master)
		return false;
	for (c = 0; c < a->nch; c++)
		if (a->sub[c] != b->sub[c] || a->gain[c] != b->gain[c] ||
		    a->pan[c] != b->pan[c] || a->mute[c] != b->mute[c])
			return false;
	return true;
}

uint32_t
mix_channels(const struct mix *m, uint32_t *list)
{
	uint32_t c, n = 0;

	for (c = 0; c < m->nch; c++)
		if (m->sub[c])
			list[n++] = c;
	return n;
}

void
mix_mask(const struct mix *m, uint32_t *mask, uint32_t words)
{
	uint32_t c;

	memset(mask, 0, words * sizeof(*mask));
	for (c = 0; c < m->nch && c < 32 * words; c++)
		if (m->sub[c])
			mask[c / 32] |= 1u << (c % 32);
}

/* The ends of the pan law are exact, so a hard-panned channel has no bleed. */
static void
pan_law(float pan, float *l, float *r)
{
	double a = ((double)pan + 1.0) * M_PI / 4.0;

	if (pan <= -1.0f) {
		*l = 1.0f;
		*r = 0.0f;
	} else if (pan >= 1.0f) {
		*l = 0.0f;
		*r = 1.0f;
	} else {
		*l = (float)cos(a);
		*r = (float)sin(a);
	}
}

void
mix_coeffs_build(const struct mix *m, struct mix_coeffs *c)
{
	uint32_t ch;
	float l, r, g;

	c->n = 0;
	for (ch = 0; ch < m->nch; ch++) {
		if (!m->sub[ch] || m->mute[ch])
			continue;
		pan_law(m->pan[ch], &l, &r);
		g = m->gain[ch] * m->master;
		c->ch[c->n] = ch;
		c->left[c->n] = g * l;
		c->right[c->n] = g * r;
		c->n++;
	}
}

void
mix_stereo(const struct mix_coeffs *c, const float *in, uint32_t nch_in,
    uint32_t frames, float *out)
{
	const float *row;
	float l, r;
	uint32_t f, i;

	for (f = 0; f < frames; f++) {
		row = in + (size_t)f * nch_in;
		l = r = 0.0f;
		for (i = 0; i < c->n; i++) {
			if (c->ch[i] >= nch_in)
				continue;
			l += row[c->ch[i]] * c->left[i];
			r += row[c->ch[i]] * c->right[i];
		}
		out[2 * f] = mix_soft_clip(l);
		out[2 * f + 1] = mix_soft_clip(r);
	}
}

void
mix_select(const uint32_t *list, const uint8_t *silent, uint32_t n,
    const float *in, uint32_t nch_in, uint32_t frames, float *out)
{
	const float *row;
	uint32_t f, i;

	for (f = 0; f < frames; f++) {
		row = in + (size_t)f * nch_in;
		for (i = 0; i < n; i++)
			*out++ = list[i] < nch_in && (silent == NULL ||
			    !silent[i]) ? row[list[i]] : 0.0f;
	}
}

/*
 * Below 0.9 the signal passes untouched; above, 0.9 + 0.1 tanh((|x|-0.9)/0.1)
 * meets it with the same slope and flattens towards 1.  NaN becomes silence.
 */
float
mix_soft_clip(float x)
{
	float a = fabsf(x);

	if (a <= 0.9f)
		return x;
	if (isnan(x))
		return 0.0f;
	a = 0.9f + 0.1f * tanhf((a - 0.9f) / 0.1f);
	return x < 0.0f ? -a : a;
}
