/* test_mix.c — the listener mix: validation tables, JSON form, pan law, clip. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shared/mix.h"

TestSuite(mix, .timeout = 30);

static json_t *
load(const char *text)
{
	json_error_t e;
	json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &e);

	cr_assert_not_null(o, "test JSON %s: %s", text, e.text);
	return o;
}

static char *
dump(const json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15));

	cr_assert_not_null(s);
	return s;
}

Test(mix, init_defaults)
{
	struct mix m;
	uint32_t c, list[MIX_MAX_CHANNELS];

	mix_init(&m, 8);
	cr_assert_eq(m.nch, 8);
	cr_assert_eq(m.master, 1.0f);
	for (c = 0; c < 8; c++) {
		cr_assert_eq(m.gain[c], 1.0f);
		cr_assert_eq(m.pan[c], 0.0f);
		cr_assert_eq(m.mute[c], 0);
		cr_assert_eq(m.sub[c], 0);
	}
	cr_assert_eq(mix_channels(&m, list), 0);
	mix_init(&m, 1000);
	cr_assert_eq(m.nch, MIX_MAX_CHANNELS);
}

/* Applied to a fresh 8-channel mix; want is mix_to_json's compact output. */
static const struct {
	const char	*upd;
	const char	*want;
} apply_ok[] = {
	{ "{}",
	  "{\"channels\":[],\"gains\":{},\"pans\":{},\"mutes\":{},"
	  "\"master_gain\":1.0}" },
	{ "{\"channels\":[3,1,3,1]}",
	  "{\"channels\":[1,3],\"gains\":{\"1\":1.0,\"3\":1.0},"
	  "\"pans\":{\"1\":0.0,\"3\":0.0},\"mutes\":{\"1\":false,\"3\":false},"
	  "\"master_gain\":1.0}" },
	{ "{\"channels\":[0],\"gains\":{\"0\":0.7,\"5\":2},\"pans\":{\"0\":-1},"
	  "\"mutes\":{\"7\":true},\"master_gain\":2.5}",
	  "{\"channels\":[0],\"gains\":{\"0\":0.7,\"5\":2.0,\"7\":1.0},"
	  "\"pans\":{\"0\":-1.0,\"5\":0.0,\"7\":0.0},"
	  "\"mutes\":{\"0\":false,\"5\":false,\"7\":true},\"master_gain\":2.5}" },
	{ "{\"gains\":{\"2\":10},\"pans\":{\"2\":1.0},\"master_gain\":0}",
	  "{\"channels\":[],\"gains\":{\"2\":10.0},\"pans\":{\"2\":1.0},"
	  "\"mutes\":{\"2\":false},\"master_gain\":0.0}" },
	{ "{\"gains\":{\"2\":0},\"master_gain\":5}",
	  "{\"channels\":[],\"gains\":{\"2\":0.0},\"pans\":{\"2\":0.0},"
	  "\"mutes\":{\"2\":false},\"master_gain\":5.0}" },
	/* Fields a client or record carries beside the mix are ignored. */
	{ "{\"type\":\"update_mix\",\"timestamp\":1767671704881,"
	  "\"client_id\":\"c\",\"rf_mode\":true,\"persistent\":true,"
	  "\"channels\":[7],\"name\":\"x\",\"order\":3,\"schema\":1}",
	  "{\"channels\":[7],\"gains\":{\"7\":1.0},\"pans\":{\"7\":0.0},"
	  "\"mutes\":{\"7\":false},\"master_gain\":1.0}" },
	{ "{\"pans\":{\"4\":-0.25},\"mutes\":{\"4\":false}}",
	  "{\"channels\":[],\"gains\":{\"4\":1.0},\"pans\":{\"4\":-0.25},"
	  "\"mutes\":{\"4\":false},\"master_gain\":1.0}" },
	{ "{\"channels\":[],\"gains\":{},\"pans\":{},\"mutes\":{}}",
	  "{\"channels\":[],\"gains\":{},\"pans\":{},\"mutes\":{},"
	  "\"master_gain\":1.0}" },
};

Test(mix, apply_table)
{
	char err[128];
	struct mix m;
	json_t *u, *o;
	size_t i;
	char *s;

	for (i = 0; i < sizeof(apply_ok) / sizeof(apply_ok[0]); i++) {
		mix_init(&m, 8);
		u = load(apply_ok[i].upd);
		err[0] = '\0';
		cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), 0,
		    "%s: %s", apply_ok[i].upd, err);
		o = mix_to_json(&m);
		s = dump(o);
		cr_assert_str_eq(s, apply_ok[i].want, "%s", apply_ok[i].upd);
		free(s);
		json_decref(o);
		json_decref(u);
	}
}

Test(mix, apply_is_incremental)
{
	char err[128];
	struct mix m;
	json_t *u;

	mix_init(&m, 8);
	u = load("{\"channels\":[1,2],\"gains\":{\"1\":0.5}}");
	cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), 0);
	json_decref(u);
	u = load("{\"gains\":{\"2\":3}}");
	cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), 0);
	json_decref(u);
	cr_assert(m.sub[1] && m.sub[2] && !m.sub[0]);
	cr_assert_eq(m.gain[1], 0.5f);
	cr_assert_eq(m.gain[2], 3.0f);
	/* "channels" replaces the whole subscription. */
	u = load("{\"channels\":[0]}");
	cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), 0);
	json_decref(u);
	cr_assert(m.sub[0] && !m.sub[1] && !m.sub[2]);
	cr_assert_eq(m.gain[1], 0.5f);
}

/* Each is applied to a mix with state; it must fail and change nothing. */
static const struct {
	const char	*upd;
	const char	*err;		/* a substring of the message */
} apply_bad[] = {
	{ "[]", "not an object" },
	{ "{\"channels\":3}", "channels" },
	{ "{\"channels\":{\"0\":1}}", "channels" },
	{ "{\"channels\":null}", "channels" },
	{ "{\"channels\":[8]}", "channels[0]" },
	{ "{\"channels\":[0,1,-1]}", "channels[2]" },
	{ "{\"channels\":[\"1\"]}", "channels[0]" },
	{ "{\"channels\":[1.0]}", "channels[0]" },
	{ "{\"channels\":[true]}", "channels[0]" },
	{ "{\"channels\":[99999999999999999]}", "channels[0]" },
	{ "{\"gains\":[1,1]}", "gains" },
	{ "{\"gains\":{\"8\":1}}", "gains" },
	{ "{\"gains\":{\"01\":1}}", "gains" },
	{ "{\"gains\":{\"-1\":1}}", "gains" },
	{ "{\"gains\":{\"+1\":1}}", "gains" },
	{ "{\"gains\":{\" 1\":1}}", "gains" },
	{ "{\"gains\":{\"1 \":1}}", "gains" },
	{ "{\"gains\":{\"\":1}}", "gains" },
	{ "{\"gains\":{\"a\":1}}", "gains" },
	{ "{\"gains\":{\"0x1\":1}}", "gains" },
	{ "{\"gains\":{\"4294967297\":1}}", "gains" },
	{ "{\"gains\":{\"1\":10.5}}", "gains[1]" },
	{ "{\"gains\":{\"1\":-0.001}}", "gains[1]" },
	{ "{\"gains\":{\"1\":\"1\"}}", "gains[1]" },
	{ "{\"gains\":{\"1\":true}}", "gains[1]" },
	{ "{\"gains\":{\"1\":null}}", "gains[1]" },
	{ "{\"gains\":{\"1\":1e300}}", "gains[1]" },
	{ "{\"pans\":{\"1\":1.5}}", "pans[1]" },
	{ "{\"pans\":{\"1\":-1.01}}", "pans[1]" },
	{ "{\"pans\":{\"1\":[0]}}", "pans[1]" },
	{ "{\"pans\":{\"9\":0}}", "pans" },
	{ "{\"mutes\":{\"1\":1}}", "mutes[1]" },
	{ "{\"mutes\":{\"1\":\"true\"}}", "mutes[1]" },
	{ "{\"mutes\":true}", "mutes" },
	{ "{\"master_gain\":5.5}", "master_gain" },
	{ "{\"master_gain\":-1}", "master_gain" },
	{ "{\"master_gain\":\"1\"}", "master_gain" },
	{ "{\"master_gain\":null}", "master_gain" },
	/* Valid fields before an invalid one are not applied either. */
	{ "{\"channels\":[5],\"gains\":{\"5\":2},\"pans\":{\"5\":2}}", "pans[5]" },
	{ "{\"channels\":[5],\"master_gain\":9}", "master_gain" },
	{ "{\"mutes\":{\"0\":true,\"1\":0}}", "mutes[1]" },
};

Test(mix, apply_invalid_is_all_or_nothing)
{
	struct mix m, before;
	char err[128];
	json_t *u;
	size_t i;

	mix_init(&m, 8);
	u = load("{\"channels\":[1,2],\"gains\":{\"1\":0.5},\"pans\":"
	    "{\"2\":0.5},\"mutes\":{\"0\":false},\"master_gain\":1.5}");
	cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), 0);
	json_decref(u);
	before = m;
	for (i = 0; i < sizeof(apply_bad) / sizeof(apply_bad[0]); i++) {
		u = load(apply_bad[i].upd);
		err[0] = '\0';
		cr_assert_eq(mix_apply_json(&m, u, err, sizeof(err)), -1,
		    "%s", apply_bad[i].upd);
		cr_assert(strstr(err, apply_bad[i].err) != NULL,
		    "%s: message \"%s\"", apply_bad[i].upd, err);
		cr_assert(memcmp(&m, &before, sizeof(m)) == 0, "%s",
		    apply_bad[i].upd);
		json_decref(u);
	}
	cr_assert_eq(mix_apply_json(&m, NULL, NULL, 0), -1);
	/* A tiny error buffer is truncated, not overrun. */
	u = load("{\"gains\":{\"1\":99}}");
	memset(err, 'x', sizeof(err));
	cr_assert_eq(mix_apply_json(&m, u, err, 4), -1);
	cr_assert_eq(err[3], '\0');
	cr_assert_eq(err[4], 'x');
	json_decref(u);
}

/* A deterministic pseudo-random mix. */
static void
random_mix(struct mix *m, uint32_t nch, uint32_t seed)
{
	uint32_t c, x = seed * 2654435761u + 1;

	mix_init(m, nch);
	for (c = 0; c < nch; c++) {
		x = x * 1103515245u + 12345;
		m->sub[c] = (x >> 16) & 1;
		if ((x >> 17) & 1)
			m->gain[c] = (float)((x >> 8) % 1001) / 100.0f;
		if ((x >> 18) & 1)
			m->pan[c] = (float)((int)((x >> 4) % 201) - 100) / 100.0f;
		m->mute[c] = ((x >> 19) & 3) == 0;
	}
	m->master = (float)(x % 501) / 100.0f;
}

Test(mix, json_round_trip)
{
	struct mix a, b;
	char err[128];
	uint32_t seed, nch;
	json_t *o, *back;
	char *s;

	for (seed = 0; seed < 200; seed++) {
		nch = 1 + seed % MIX_MAX_CHANNELS;
		random_mix(&a, nch, seed);
		o = mix_to_json(&a);
		cr_assert_not_null(o);
		s = dump(o);
		back = load(s);
		cr_assert_eq(mix_from_json(&b, nch, back, err, sizeof(err)), 0,
		    "%s", err);
		cr_assert(mix_equal(&a, &b), "seed %u: %s", seed, s);
		free(s);
		json_decref(back);
		json_decref(o);
	}
}

Test(mix, to_json_is_tidy_and_ascending)
{
	static const json_int_t want[] = { 2, 9, 15 };
	struct mix m;
	json_t *o, *ch;
	size_t i;
	char *s;

	mix_init(&m, 16);
	m.sub[9] = m.sub[2] = m.sub[15] = 1;
	m.gain[9] = 0.7f;
	m.pan[2] = 0.1f;
	m.master = 1.3f;
	m.mute[4] = 1;
	o = mix_to_json(&m);
	ch = json_object_get(o, "channels");
	cr_assert_eq(json_array_size(ch), 3);
	for (i = 0; i < 3; i++)
		cr_assert_eq(json_integer_value(json_array_get(ch, i)),
		    want[i]);
	s = dump(o);
	cr_assert(strstr(s, "\"9\":0.7,") != NULL, "%s", s);
	cr_assert(strstr(s, "\"2\":0.1,") != NULL, "%s", s);
	cr_assert(strstr(s, "\"master_gain\":1.3}") != NULL, "%s", s);
	cr_assert(strstr(s, "\"4\":true") != NULL, "%s", s);
	cr_assert_null(strstr(s, "\"3\":"), "%s", s);
	free(s);
	json_decref(o);
}

Test(mix, from_json_record_and_errors)
{
	struct mix m;
	char err[128];
	json_t *o;

	o = load("{\"schema\":1,\"name\":\"Bass\",\"first_seen\":1,"
	    "\"channels\":[3],\"gains\":{\"3\":2.0},\"pans\":{\"3\":0.0},"
	    "\"mutes\":{\"3\":false},\"master_gain\":1.0}");
	cr_assert_eq(mix_from_json(&m, 8, o, err, sizeof(err)), 0, "%s", err);
	cr_assert(m.sub[3]);
	cr_assert_eq(m.gain[3], 2.0f);
	/* The same record against a ring with fewer channels is refused. */
	cr_assert_eq(mix_from_json(&m, 3, o, err, sizeof(err)), -1);
	json_decref(o);
}

Test(mix, equal)
{
	struct mix a, b;

	random_mix(&a, 32, 7);
	b = a;
	cr_assert(mix_equal(&a, &b));
	b.gain[31] += 0.01f;
	cr_assert(!mix_equal(&a, &b));
	b = a;
	b.master = 0.0f;
	cr_assert(!mix_equal(&a, &b));
	b = a;
	b.mute[0] ^= 1;
	cr_assert(!mix_equal(&a, &b));
	b = a;
	b.nch = 31;
	cr_assert(!mix_equal(&a, &b));
	/* Channels beyond nch do not count. */
	b = a;
	b.gain[40] = 9.0f;
	cr_assert(mix_equal(&a, &b));
}

Test(mix, channels_and_mask)
{
	static const uint32_t subs[] = { 0, 5, 31, 32, 63, 200, 255 };
	uint32_t list[MIX_MAX_CHANNELS], mask[8];
	struct mix m;
	size_t i;

	mix_init(&m, 256);
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		m.sub[subs[i]] = 1;
	cr_assert_eq(mix_channels(&m, list), 7);
	for (i = 0; i < 7; i++)
		cr_assert_eq(list[i], subs[i]);
	mix_mask(&m, mask, 8);
	cr_assert_eq(mask[0], 0x80000021u);
	cr_assert_eq(mask[1], 0x80000001u);
	cr_assert_eq(mask[2], 0);
	cr_assert_eq(mask[6], 0x100u);
	cr_assert_eq(mask[7], 0x80000000u);
	/* One word (plain v2) holds channels 0-31 only. */
	mask[1] = 0xdeadbeef;
	mix_mask(&m, mask, 1);
	cr_assert_eq(mask[0], 0x80000021u);
	cr_assert_eq(mask[1], 0xdeadbeef);
}

/* Equal-power pan law at gain 2, master 1.5 (so g = 3). */
static const struct {
	float	pan;
	float	l, r;
} pan_vec[] = {
	{ -1.0f, 3.0f, 0.0f },
	{ 0.0f, 3.0f * 0.70710678f, 3.0f * 0.70710678f },
	{ 1.0f, 0.0f, 3.0f },
	{ -0.5f, 3.0f * 0.92387953f, 3.0f * 0.38268343f },
	{ 0.5f, 3.0f * 0.38268343f, 3.0f * 0.92387953f },
};

Test(mix, pan_law)
{
	struct mix_coeffs c;
	struct mix m;
	size_t i;

	for (i = 0; i < sizeof(pan_vec) / sizeof(pan_vec[0]); i++) {
		mix_init(&m, 4);
		m.sub[2] = 1;
		m.gain[2] = 2.0f;
		m.master = 1.5f;
		m.pan[2] = pan_vec[i].pan;
		mix_coeffs_build(&m, &c);
		cr_assert_eq(c.n, 1);
		cr_assert_eq(c.ch[0], 2);
		cr_assert_float_eq(c.left[0], pan_vec[i].l, 1e-5,
		    "pan %g: L %g", (double)pan_vec[i].pan, (double)c.left[0]);
		cr_assert_float_eq(c.right[0], pan_vec[i].r, 1e-5,
		    "pan %g: R %g", (double)pan_vec[i].pan, (double)c.right[0]);
		/* Equal power: L^2 + R^2 = g^2 at every position. */
		cr_assert_float_eq(c.left[0] * c.left[0] + c.right[0] * c.right[0],
		    9.0f, 1e-4);
	}
}

Test(mix, coeffs_mute_and_subscription)
{
	struct mix_coeffs c;
	struct mix m;

	mix_init(&m, 8);
	m.sub[0] = m.sub[3] = m.sub[6] = 1;
	m.mute[3] = 1;
	m.mute[5] = 1;
	m.gain[6] = 0.0f;
	mix_coeffs_build(&m, &c);
	cr_assert_eq(c.n, 2);
	cr_assert_eq(c.ch[0], 0);
	cr_assert_eq(c.ch[1], 6);
	cr_assert_eq(c.left[1], 0.0f);
	m.master = 0.0f;
	mix_coeffs_build(&m, &c);
	cr_assert_eq(c.left[0], 0.0f);
	cr_assert_eq(c.right[0], 0.0f);
}

Test(mix, stereo_sums_and_clips)
{
	/* 3 input channels, 3 frames. */
	static const float in[] = {
		0.1f, 0.2f, 0.4f,
		0.5f, 0.5f, 0.5f,
		-0.9f, -0.9f, 0.0f,
	};
	struct mix_coeffs c;
	struct mix m;
	float out[6], l, r;
	int f;

	mix_init(&m, 3);
	m.sub[0] = m.sub[2] = 1;
	m.pan[0] = -1.0f;
	m.pan[2] = 1.0f;
	m.gain[2] = 0.5f;
	mix_coeffs_build(&m, &c);
	mix_stereo(&c, in, 3, 3, out);
	for (f = 0; f < 3; f++) {
		l = in[3 * f];
		r = 0.5f * in[3 * f + 2];
		cr_assert_float_eq(out[2 * f], mix_soft_clip(l), 1e-6);
		cr_assert_float_eq(out[2 * f + 1], mix_soft_clip(r), 1e-6);
	}
	/* Centred at master 2: frame 1 sums past the knee and is clipped. */
	m.pan[0] = m.pan[2] = 0.0f;
	m.gain[2] = 1.0f;
	m.master = 2.0f;
	mix_coeffs_build(&m, &c);
	mix_stereo(&c, in, 3, 3, out);
	l = 2 * 0.5f * 2 * 0.70710678f;
	cr_assert_float_eq(out[2], mix_soft_clip(l), 1e-5);
	cr_assert_float_eq(out[3], out[2], 1e-6);
	cr_assert(out[2] > 0.9f && out[2] < 1.0f);
	cr_assert_float_eq(out[0], 0.5f * 2 * 0.70710678f, 1e-6);
	cr_assert_float_eq(out[4], mix_soft_clip(-0.9f * 2 * 0.70710678f),
	    1e-6);
	cr_assert(out[4] < -0.9f && out[4] > -1.0f);
}

Test(mix, select_in_list_order)
{
	static const float in[] = { 0, 1, 2, 3, 10, 11, 12, 13 };
	static const uint32_t list[] = { 3, 0, 2 };
	float out[6];

	mix_select(list, NULL, 3, in, 4, 2, out);
	cr_assert_eq(out[0], 3.0f);
	cr_assert_eq(out[1], 0.0f);
	cr_assert_eq(out[2], 2.0f);
	cr_assert_eq(out[3], 13.0f);
	cr_assert_eq(out[4], 10.0f);
	cr_assert_eq(out[5], 12.0f);
}

Test(mix, soft_clip_identity_below_knee)
{
	static const float x[] = { 0.0f, 0.1f, -0.3f, 0.5f, -0.75f, 0.9f,
	    -0.9f, 0.8999f };
	size_t i;

	for (i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		cr_assert_eq(mix_soft_clip(x[i]), x[i], "%g", (double)x[i]);
}

Test(mix, soft_clip_monotonic_bounded_odd)
{
	float x, y, prev = -2.0f;
	int i;

	for (i = -200000; i <= 200000; i++) {
		x = (float)i * 1e-4f;
		y = mix_soft_clip(x);
		cr_assert(y >= prev, "not monotonic at %g", (double)x);
		cr_assert(fabsf(y) <= 1.0f, "unbounded at %g", (double)x);
		cr_assert_eq(mix_soft_clip(-x), -y, "not odd at %g", (double)x);
		if (fabsf(x) > 0.9f)
			cr_assert(fabsf(y) <= fabsf(x), "louder at %g",
			    (double)x);
		prev = y;
	}
	/* Continuous at the knee, and close to 1 far above it. */
	cr_assert_float_eq(mix_soft_clip(0.9001f), 0.9001f, 1e-6);
	cr_assert(mix_soft_clip(1.0f) > 0.97f && mix_soft_clip(1.0f) < 0.98f);
	cr_assert(mix_soft_clip(1.5f) > 0.999f);
	cr_assert_eq(mix_soft_clip(INFINITY), 1.0f);
	cr_assert_eq(mix_soft_clip(-INFINITY), -1.0f);
	cr_assert_eq(mix_soft_clip(1e30f), 1.0f);
	cr_assert_eq(mix_soft_clip(NAN), 0.0f);
}
