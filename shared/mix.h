/* mix.h — one listener's mix: subscription, gains, pans, mutes, master. */
#ifndef RINGCAST_MIX_H
#define RINGCAST_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define MIX_MAX_CHANNELS	256
#define MIX_GAIN_MAX		10.0f	/* linear, per channel */
#define MIX_MASTER_MAX		5.0f	/* linear */

struct mix {
	uint32_t	nch;			/* channels that exist (the ring's) */
	uint8_t		sub[MIX_MAX_CHANNELS];	/* 1 = subscribed */
	float		gain[MIX_MAX_CHANNELS];	/* linear 0..10, default 1 */
	float		pan[MIX_MAX_CHANNELS];	/* -1..+1, default 0 */
	uint8_t		mute[MIX_MAX_CHANNELS];
	float		master;			/* linear 0..5, default 1 */
};

/* Defaults: nothing subscribed, unity gains, centred, unmuted. */
void	mix_init(struct mix *m, uint32_t nch);

/* Whether every field is in range (a mix that came over a channel). */
bool	mix_valid(const struct mix *m);

/*
 * A change to a mix: what an update_mix / subscribe message, or the web
 * API's mix body, asks for.  Every path that changes a mix builds one
 * (mix_patch_from_json, in the process that reads the untrusted text) and
 * applies it with mix_patch_apply (in the supervisor, against the committed
 * mix and what the listener's session can send): one validation for all.
 */
#define MIX_SET_CHANNELS	0x1	/* sub replaces the subscription */
#define MIX_SET_MASTER		0x2
#define MIX_HAS_GAIN		0x1	/* bits of has[c] */
#define MIX_HAS_PAN		0x2
#define MIX_HAS_MUTE		0x4

struct mix_patch {
	uint32_t	set;			/* MIX_SET_* */
	float		master;
	uint8_t		sub[MIX_MAX_CHANNELS];
	uint8_t		has[MIX_MAX_CHANNELS];	/* MIX_HAS_* per channel */
	float		gain[MIX_MAX_CHANNELS];
	float		pan[MIX_MAX_CHANNELS];
	uint8_t		mute[MIX_MAX_CHANNELS];
};

/*
 * The fields of an update_mix object (any of "channels", "gains", "pans",
 * "mutes", "master_gain"; keys of the maps are channel numbers as decimal
 * strings) naming channels below nch.  -1 with err saying why on the first
 * invalid field (wrong type, channel out of range, value out of range or
 * not finite).
 */
int	mix_patch_from_json(struct mix_patch *p, const json_t *upd, uint32_t nch,
	    char *err, size_t errlen);
/* Whether a patch that came over a channel is well formed. */
bool	mix_patch_valid(const struct mix_patch *p);
/*
 * Apply p to m, all or nothing: every channel it names must be below
 * m->nch, and every channel it subscribes below addressable (what the
 * listener's packets can carry: 32 per mask word, or m->nch for a server
 * mix).  Returns 0, or -1 with m unchanged and err saying why.
 */
int	mix_patch_apply(struct mix *m, const struct mix_patch *p,
	    uint32_t addressable, char *err, size_t errlen);
/* mix_patch_from_json then mix_patch_apply with m's own channel count. */
int	mix_apply_json(struct mix *m, const json_t *upd, char *err, size_t errlen);
/* Unsubscribe channels at or beyond addressable; returns how many. */
uint32_t mix_limit(struct mix *m, uint32_t addressable);

/*
 * The mix as mix_state fields: "channels" (ascending), and "gains", "pans",
 * "mutes" for every subscribed channel and every channel whose values differ
 * from the defaults; "master_gain".  A new reference.
 */
json_t	*mix_to_json(const struct mix *m);
/* Build a mix from such an object (a record or a mix_state); -1 on error. */
int	mix_from_json(struct mix *m, uint32_t nch, const json_t *obj, char *err,
	    size_t errlen);
bool	mix_equal(const struct mix *a, const struct mix *b);

/* Subscribed channels in ascending order into list; returns the count. */
uint32_t mix_channels(const struct mix *m, uint32_t *list);
/*
 * The 32-bit mask words of the subscription (words = 1 for plain v2).
 * Channels at or beyond 32 * words are left out: a sender must send only
 * the channels its mask holds.
 */
void	mix_mask(const struct mix *m, uint32_t *mask, uint32_t words);

/* Precomputed per-channel coefficients of the server-side stereo mix. */
struct mix_coeffs {
	uint32_t	n;			/* channels taking part */
	uint32_t	ch[MIX_MAX_CHANNELS];
	float		left[MIX_MAX_CHANNELS];	/* gain * master * cos(...) */
	float		right[MIX_MAX_CHANNELS];
};

/* Equal-power pan law: left = cos((pan+1)pi/4), right = sin((pan+1)pi/4). */
void	mix_coeffs_build(const struct mix *m, struct mix_coeffs *c);
/*
 * Mix one period of the ring (frames x nch_in, frame-interleaved) into
 * frames x 2 floats, soft-clipped (mix_soft_clip).  No allocation.
 */
void	mix_stereo(const struct mix_coeffs *c, const float *in, uint32_t nch_in,
	    uint32_t frames, float *out);
/*
 * Select the subscribed channels of one period into frames x n floats;
 * where silent[i] is set (silent may be NULL), list[i] carries zeros.
 */
void	mix_select(const uint32_t *list, const uint8_t *silent, uint32_t n,
	    const float *in, uint32_t nch_in, uint32_t frames, float *out);
/*
 * Identity for |x| <= 0.9; above, sign(x) * (0.9 + 0.1 tanh((|x| - 0.9) / 0.1)):
 * same slope at the knee, monotonic, never beyond +-1.  NaN gives 0.
 */
float	mix_soft_clip(float x);

#endif
