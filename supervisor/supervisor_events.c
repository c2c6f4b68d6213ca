/* supervisor_events.c — what the web UI watches live: meters, capture state, session counters. */
/*
 * A timer in the supervisor's loop, METERS_HZ times a second: the ring
 * header's per-channel meters as one `meters` event, a `capture` event
 * when capture's state, process or epoch changed, and about once a second
 * the live sessions' counters as `stats`.  Events go to the broker's
 * channel without blocking (dropped when it is full or the broker is down);
 * the broker fans them out to /api/events subscribers.  While nobody
 * subscribes (the broker tells us the count) the timer does nothing.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/ring.h"
#include "supervisor/supervisor.h"

#define METERS_HZ	15

static struct {
	struct event		*tick;
	unsigned		 ticks;
	char			 cap_seen[160];	/* the last capture event sent */
} ev;

static void
send_meters(void)
{
	const struct ring_header *h = ring_reader_header(sv.ring);
	json_t *peak = json_array(), *rms = json_array();
	float p, r;
	uint32_t c;

	for (c = 0; c < h->channels && c < sv.channels; c++) {
		ring_meter_get(h, c, &p, &r);
		json_array_append_new(peak, json_real(p));
		json_array_append_new(rms, json_real(r));
	}
	api_event("meters", json_pack("{s:{s:o, s:o}, s:o}", "input", "peak",
	    peak, "rms", rms, "clients", session_meters_json()));
}

/* A capture event when something an engineer would notice changed. */
static void
send_capture(bool force)
{
	json_t *o = api_capture_json();
	char key[160];

	if (o == NULL)
		return;
	snprintf(key, sizeof(key), "%s %lld %llu %llu",
	    json_string_value(json_object_get(o, "state")),
	    json_integer_value(json_object_get(o, "pid")),
	    (unsigned long long)sv.cap.epoch,
	    (unsigned long long)sv.capture.restarts);
	if (!force && strcmp(key, ev.cap_seen) == 0) {
		json_decref(o);
		return;
	}
	snprintf(ev.cap_seen, sizeof(ev.cap_seen), "%s", key);
	api_event("capture", o);
}

static void
events_tick(void)
{
	if (sv.broker.child == NULL || !sv.broker.child->ready ||
	    sv.subscribers == 0)
		return;
	send_meters();
	send_capture(false);
	if (++ev.ticks % METERS_HZ == 0) {
		api_event("stats", session_stats_json());
		send_capture(true);
	}
}

void
events_start(void)
{
	ev.tick = super_every(1000 / METERS_HZ, events_tick);
}

void
events_stop(void)
{
	if (ev.tick != NULL)
		event_free(ev.tick);
	ev.tick = NULL;
}
