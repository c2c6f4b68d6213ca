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
apply_channels(struct mix *m, const json_t *v, char *err, size_t errlen)
{
	uint8_t sub[MIX_MAX_CHANNELS] = { 0 };
	const json_t *e;
	json_int_t c;
	size_t i;

	if (!json_is_array(v)) {
		errbuf_set(err, errlen, "channels: not an array");
		return -1;
	}
	json_array_foreach(v, i, e) {
		c = json_is_integer(e) ? json_integer_value(e) : -1;
		if (c < 0 || c >= (json_int_t)m->nch) {
			errbuf_set(err, errlen, "channels[%zu]: not a channel number "
			    "0..%d", i, (int)m->nch - 1);
			return -1;
		}
		sub[c] = 1;
	}
	memcpy(m->sub, sub, sizeof(sub));
	return 0;
}

static int
apply_value(struct mix *m, enum field f, uint32_t ch, const json_t *v)
{
	double d;

	switch (f) {
	case F_GAIN:
		if (get_number(v, 0.0, MIX_GAIN_MAX, &d) == -1)
			return -1;
		m->gain[ch] = (float)d;
		return 0;
	case F_PAN:
		if (get_number(v, -1.0, 1.0, &d) == -1)
			return -1;
		m->pan[ch] = (float)d;
		return 0;
	case F_MUTE:
		if (!json_is_boolean(v))
			return -1;
		m->mute[ch] = json_is_true(v);
		return 0;
	}
	return -1;
}

static const char *const field_range[] = {
	[F_GAIN] = "a number 0..10",
	[F_PAN] = "a number -1..1",
	[F_MUTE] = "a boolean",
};

static int
apply_map(struct mix *m, const char *name, enum field f, const json_t *v,
    char *err, size_t errlen)
{
	const char *k;
	const json_t *e;
	uint32_t ch;

	if (!json_is_object(v)) {
		errbuf_set(err, errlen, "%s: not an object", name);
		return -1;
	}
	json_object_foreach((json_t *)(uintptr_t)v, k, e) {
		if (parse_key(k, m->nch, &ch) == -1) {
			errbuf_set(err, errlen, "%s: key \"%.16s\" is not a channel "
			    "number 0..%d", name, k, (int)m->nch - 1);
			return -1;
		}
		if (apply_value(m, f, ch, e) == -1) {
			errbuf_set(err, errlen, "%s[%u]: not %s", name, ch,
			    field_range[f]);
			return -1;
		}
	}
	return 0;
}

/* Applies to a copy and commits only when every field is valid. */
int
mix_apply_json(struct mix *m, const json_t *upd, char *err, size_t errlen)
{
	static const struct { const char *name; enum field f; } maps[] = {
		{ "gains", F_GAIN }, { "pans", F_PAN }, { "mutes", F_MUTE },
	};
	struct mix t = *m;
	const json_t *v;
	double d;
	size_t i;

	if (!json_is_object(upd)) {
		errbuf_set(err, errlen, "mix: not an object");
		return -1;
	}
	if ((v = json_object_get(upd, "channels")) != NULL &&
	    apply_channels(&t, v, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(maps) / sizeof(maps[0]); i++)
		if ((v = json_object_get(upd, maps[i].name)) != NULL &&
		    apply_map(&t, maps[i].name, maps[i].f, v, err, errlen) == -1)
			return -1;
	if ((v = json_object_get(upd, "master_gain")) != NULL) {
		if (get_number(v, 0.0, MIX_MASTER_MAX, &d) == -1) {
			errbuf_set(err, errlen, "master_gain: not a number 0..5");
			return -1;
		}
		t.master = (float)d;
	}
	*m = t;
	return 0;
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
mix_select(const uint32_t *list, uint32_t n, const float *in,
    uint32_t nch_in, uint32_t frames, float *out)
{
	const float *row;
	uint32_t f, i;

	for (f = 0; f < frames; f++) {
		row = in + (size_t)f * nch_in;
		for (i = 0; i < n; i++)
			*out++ = list[i] < nch_in ? row[list[i]] : 0.0f;
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
