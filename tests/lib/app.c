/* app.c — test library: the deployed app's mix state, applied message by message as its handlers do. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/app.h"

#define APP_DB_MIN	-60.0
#define APP_DB_MAX	12.0
#define APP_MIX_STATE_CHANNELS	8	/* what its mix_state handler touches */

void
app_init(struct app_state *a)
{
	memset(a, 0, sizeof(*a));
}

double
app_db(double linear)
{
	double db = linear > 0 ? 20.0 * log10(linear) : APP_DB_MIN;

	return db < APP_DB_MIN ? APP_DB_MIN : db > APP_DB_MAX ? APP_DB_MAX : db;
}

/* gains / pans are objects keyed by channel numbers as strings. */
static const json_t *
by_channel(const json_t *o, const char *map, unsigned c)
{
	char k[16];

	snprintf(k, sizeof(k), "%u", c);
	return json_object_get(json_object_get(o, map), k);
}

static bool
listed(const json_t *channels, unsigned c)
{
	const json_t *v;
	size_t i;

	json_array_foreach(channels, i, v)
		if (json_is_integer(v) && json_integer_value(v) == (json_int_t)c)
			return true;
	return false;
}

static void
mix_state(struct app_state *a, const json_t *o)
{
	const json_t *g, *p, *mg = json_object_get(o, "master_gain");
	unsigned c;

	for (c = 0; c < APP_MIX_STATE_CHANNELS; c++) {
		a->active[c] = listed(json_object_get(o, "channels"), c);
		if (!a->active[c])
			continue;
		if ((g = by_channel(o, "gains", c)) != NULL)
			a->gain_db[c] = app_db(json_number_value(g));
		if ((p = by_channel(o, "pans", c)) != NULL)
			a->pan[c] = json_number_value(p);
	}
	if (mg != NULL)
		a->master_db = app_db(json_number_value(mg));
}

static void
channel_update(struct app_state *a, const json_t *o)
{
	const json_t *ch = json_object_get(o, "channel"), *v;
	json_int_t c = json_integer_value(ch);

	if (!json_is_integer(ch) || c < 0 || c >= APP_CHANNELS)
		return;
	/* The app keeps the gain linear: 10^(dB/20), shown again in dB. */
	if ((v = json_object_get(o, "gainDb")) != NULL)
		a->gain_db[c] = 20.0 * log10(pow(10.0, json_number_value(v) /
		    20.0));
	if ((v = json_object_get(o, "pan")) != NULL)
		a->pan[c] = json_number_value(v);
	if ((v = json_object_get(o, "active")) != NULL)
		a->active[c] = json_is_true(v);
}

void
app_apply(struct app_state *a, const json_t *msg)
{
	const char *type = json_string_value(json_object_get(msg, "type"));
	const json_t *db;

	if (type == NULL)
		return;
	if (strcmp(type, "mix_state") == 0)
		mix_state(a, msg);
	else if (strcmp(type, "channel_update") == 0)
		channel_update(a, msg);
	else if (strcmp(type, "master_gain_update") == 0) {
		db = json_object_get(msg, "gainDb");
		a->master_db = db != NULL ? json_number_value(db) : 0.0;
	} else
		return;
	a->applied++;
}

static bool
near(double x, double y)
{
	return fabs(x - y) < 1e-4;
}

bool
app_matches(const struct app_state *a, const struct mix *m, char *why,
    size_t len)
{
	unsigned c;

	for (c = 0; c < m->nch && c < APP_CHANNELS; c++) {
		if (a->active[c] != (m->sub[c] != 0)) {
			snprintf(why, len, "channel %u: %s on the phone, %s in "
			    "the mix", c, a->active[c] ? "active" : "inactive",
			    m->sub[c] ? "subscribed" : "not subscribed");
			return false;
		}
		if (m->sub[c] && (!near(a->gain_db[c], app_db(m->gain[c])) ||
		    !near(a->pan[c], m->pan[c]))) {
			snprintf(why, len, "channel %u: %.3f dB pan %.3f on the "
			    "phone, %.3f dB pan %.3f in the mix", c,
			    a->gain_db[c], a->pan[c], app_db(m->gain[c]),
			    (double)m->pan[c]);
			return false;
		}
	}
	if (!near(a->master_db, app_db(m->master))) {
		snprintf(why, len, "master: %.3f dB on the phone, %.3f dB in the "
		    "mix", a->master_db, app_db(m->master));
		return false;
	}
	return true;
}
