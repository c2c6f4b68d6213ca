/* app.h — test library: the deployed Android app's state, kept as its handlers keep it (fichatech-v2.md). */
#ifndef RINGCAST_APP_H
#define RINGCAST_APP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "shared/mix.h"

#define APP_CHANNELS	64	/* channels the model holds */

/*
 * What a phone shows and mixes with: per channel whether it is active, its
 * gain in dB and its pan; the master in dB.  The app mixes on the phone and
 * has no mute.  A fresh launch: nothing active, 0 dB, centred, master 0 dB.
 */
struct app_state {
	bool	active[APP_CHANNELS];
	double	gain_db[APP_CHANNELS];
	double	pan[APP_CHANNELS];
	double	master_db;
	unsigned applied;		/* messages that changed something */
};

void	app_init(struct app_state *a);
/*
 * Apply one control message exactly as the app's handlers do: mix_state
 * sets channels 0..7 only (active iff listed; an active channel's linear
 * gain through linearToDb, clamped to -60..+12, and its pan) and the
 * master from master_gain; channel_update sets each of gainDb, pan,
 * active that is present; master_gain_update sets the master to gainDb,
 * 0 dB when absent.  Other types change nothing.
 */
void	app_apply(struct app_state *a, const json_t *msg);
/* The app's linearToDb as its faders hold it: x > 0 ? 20 log10 x : -60, clamped. */
double	app_db(double linear);
/*
 * Whether the phone holds the committed mix, as far as the app can show
 * it: every channel of m active iff subscribed, and an active one at m's
 * gain (as app_db) and pan; the master likewise.  why says what differs.
 */
bool	app_matches(const struct app_state *a, const struct mix *m, char *why,
	    size_t len);

#endif
