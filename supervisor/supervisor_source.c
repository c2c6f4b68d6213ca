/* supervisor_source.c — what capture opens: the saved choice, the ring's shape, device lists, switches. */
/*
 * Every capture opens its source before it touches the ring and says what
 * it got (MSG_CAPTURE_OPENED): the source ("auto" resolved, a device by
 * its full name) and its channel count.  The ring is then passed to it
 * (MSG_CAPTURE_RING), made again first if the count differs from the
 * ring's: every session ends then, with reason "reconfigured".
 *
 * A switch (POST /api/capture) starts a second capture beside the
 * running one.  Only once it has opened its device is the choice saved
 * (meta "capture") and the running one stopped; the new one then
 * continues the same ring (same count: a new epoch, the sequence goes
 * on, sessions keep streaming) or a new one.  A device that does not open
 * costs the running source nothing.  Should the new capture die before it
 * is ready, the previous source comes back, as after any crash.
 *
 * The device list (GET /api/devices) comes from `ringcast-capture
 * --list-devices` run as a child (unprivileged like capture): PortAudio
 * is never opened in this process.  Every wait here is bounded.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "supervisor/supervisor.h"

#define LIST_MS		5000	/* a device list, from spawn to answer */
#define SWITCH_MS	10000	/* a switch, from spawn to ready */
#define LIST_WAITERS	16
#define SAVED_KEY	"capture"	/* meta: {"source", "channels"} */

enum phase {
	SW_NONE,
	SW_OPENING,	/* the new capture opens its source */
	SW_HANDOVER,	/* the old one stops */
	SW_STARTING,	/* the new one has the ring, not ready yet */
};

static struct {
	/* What capture runs, or opens next: "auto" and 0 until one said. */
	char		 source[MSG_SOURCE_MAX];
	uint32_t	 channels;
	char		 desc[256];
	/* A capture a switch stopped, still ending: nobody else writes yet. */
	struct child	*retiring;
	struct child	*ring_waiting;	/* opened meanwhile, gets it after */

	struct {
		enum phase	 phase;
		struct child	*cand;		/* the new capture */
		struct child	*old;		/* the one it replaces */
		struct api_pending reply;
		struct event	*deadline;
		bool		 reconfigure;
		char		 prev_source[MSG_SOURCE_MAX];
		uint32_t	 prev_channels;
		char		 prev_saved[512];	/* "" if none was */
	} sw;

	struct {
		struct child	*c;
		struct event	*deadline;
		struct api_pending wait[LIST_WAITERS];
		int		 n;
	} ls;
} src;

/* ---- the saved choice ---- */

/* The meta value, or "" when there is none (or it cannot be read). */
static void
saved_text(char *buf, size_t len)
{
	if (state_meta_get(sv.state, SAVED_KEY, buf, len) != STATE_OK)
		buf[0] = '\0';
}

/* {"source": "...", "channels": N} from the meta value, or NULL. */
static json_t *
saved_json(void)
{
	char buf[512];
	json_t *o, *ch;
	const char *s;
	char err[256];

	saved_text(buf, sizeof(buf));
	if (buf[0] == '\0' || (o = json_loads(buf, 0, NULL)) == NULL)
		return NULL;
	s = json_string_value(json_object_get(o, "source"));
	ch = json_object_get(o, "channels");
	if (s == NULL || config_source_check(s, err, sizeof(err)) == -1 ||
	    !json_is_integer(ch) || json_integer_value(ch) < 1 ||
	    json_integer_value(ch) > RING_MAX_CHANNELS) {
		log_warnx("meta %s: not a source and a channel count: ignored",
		    SAVED_KEY);
		json_decref(o);
		return NULL;
	}
	return o;
}

static int
saved_put(const char *text)
{
	int rc = text[0] != '\0' ? state_meta_put(sv.state, SAVED_KEY, text) :
	    STATE_OK;

	if (rc != STATE_OK)
		log_warnx("saving the capture source: %s",
		    state_strerror(sv.state, rc));
	return rc;
}

void
source_init(void)
{
	json_t *o;

	/* An adopted capture runs what it said (source_adopted). */
	if (sv.capture.child != NULL && sv.capture.child->adopted)
		return;
	o = saved_json();
	snprintf(src.source, sizeof(src.source), "%s", sv.cfg.source);
	src.channels = sv.cfg.channels;
	if (o == NULL)
		return;
	snprintf(src.source, sizeof(src.source), "%s",
	    json_string_value(json_object_get(o, "source")));
	src.channels = (uint32_t)json_integer_value(json_object_get(o,
	    "channels"));
	log_info("capture: %s, %u channels, as saved from the web UI (over "
	    "the configuration's %s)", src.source, src.channels,
	    sv.cfg.source);
	json_decref(o);
}

const char *
source_next(uint32_t *channels)
{
	*channels = src.channels;
	return src.source;
}

const char *
source_current(void)
{
	return src.source;
}

json_t *
source_current_json(void)
{
	return json_pack("{s:s, s:i}", "source", src.source, "channels",
	    (int)sv.channels);
}

/* ---- the ring ---- */

/* Another channel count: every session ends, the ring is made anew. */
static void
reconfigure(uint32_t channels)
{
	char err[512];

	log_info("ring %s: %u channels now (was %u): every session ends "
	    "(reconfigured)", sv.cfg.ring, channels, sv.channels);
	session_end_all("reconfigured");
	if (super_ring_make(channels, err, sizeof(err)) == -1)
		fatalx("%s", err);
	state_set_channels(sv.state, channels);
	api_channels_load();
}

static void
ring_pass(struct child *c)
{
	struct msg_capture_ring m = { sv.channels };

	if (child_send_fd(c, MSG_CAPTURE_RING, &m, sizeof(m),
	    sv.ring_rw_fd) == -1) {
		log_warn("%s[%d]: MSG_CAPTURE_RING", child_name(c), (int)c->pid);
		child_close(c);
	}
}

/* The ring for c, of the count it opened with. */
static void
ring_give(struct child *c, uint32_t channels)
{
	if (channels != sv.channels)
		reconfigure(channels);
	ring_pass(c);
}

/* An adopted capture runs what it says: it opened and has the ring. */
void
source_adopted(struct child *c, const struct msg_adopt_capture *m)
{
	snprintf(src.source, sizeof(src.source), "%s", m->source);
	src.channels = m->channels;
	snprintf(src.desc, sizeof(src.desc), "%s", m->state.source);
	c->opened = true;
}

/* What a capture opened becomes what runs. */
static void
adopt(const struct msg_capture_opened *m)
{
	snprintf(src.source, sizeof(src.source), "%s", m->source);
	src.channels = m->channels;
	snprintf(src.desc, sizeof(src.desc), "%s", m->desc);
}

/* ---- switching ---- */

static void
sw_reply(int status, json_t *body)
{
	api_pending_reply(&src.sw.reply, status, body);
}

static void
sw_end(void)
{
	if (src.sw.deadline != NULL)
		event_free(src.sw.deadline);
	memset(&src.sw, 0, sizeof(src.sw));
}

static void
sw_deadline(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("capture switch: not done within %d ms", SWITCH_MS);
	switch (src.sw.phase) {
	case SW_OPENING:
		child_kill(src.sw.cand, SIGKILL);
		sw_reply(504, api_error("the new source did not open within "
		    "%d s", SWITCH_MS / 1000));
		sw_end();
		break;
	case SW_HANDOVER:
		child_kill(src.sw.old, SIGKILL);
		break;
	case SW_STARTING:
		child_kill(src.sw.cand, SIGKILL);
		break;
	case SW_NONE:
		break;
	}
}

/* The old capture is gone: the new one gets the ring. */
static void
sw_start(void)
{
	src.sw.phase = SW_STARTING;
	src.sw.old = NULL;
	ring_give(src.sw.cand, src.channels);
}

/* The new capture opened: save the choice, stop the old one. */
static void
sw_opened(const struct msg_capture_opened *m)
{
	const char *why;
	json_t *o;
	char *text;
	int rc;

	if (m->error[0] != '\0') {
		log_warnx("capture switch: %s", m->error);
		sw_reply(409, api_error("%s", m->error));
		sw_end();	/* it exits by itself */
		return;
	}
	saved_text(src.sw.prev_saved, sizeof(src.sw.prev_saved));
	o = json_pack("{s:s, s:i}", "source", m->source, "channels",
	    (int)m->channels);
	text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	/* Acknowledged = committed: saved before anything changes. */
	why = text == NULL ? "out of memory" : (rc = saved_put(text)) !=
	    STATE_OK ? state_strerror(sv.state, rc) : NULL;
	free(text);
	if (why != NULL) {
		child_close(src.sw.cand);
		sw_reply(500, api_error("the choice could not be saved: %s",
		    why));
		sw_end();
		return;
	}
	log_info("capture switch: %s (%s), %u channels, saved", m->source,
	    m->desc, m->channels);
	snprintf(src.sw.prev_source, sizeof(src.sw.prev_source), "%s",
	    src.source);
	src.sw.prev_channels = src.channels;
	src.sw.reconfigure = m->channels != sv.channels;
	adopt(m);
	/* From here the new capture is the service's; restarts open it. */
	src.sw.old = src.retiring = sv.capture.child;
	evtimer_del(sv.capture.restart_ev);
	sv.capture.child = src.sw.cand;
	src.sw.phase = SW_HANDOVER;
	if (src.sw.old == NULL) {
		sw_start();
		return;
	}
	child_close(src.sw.old);
	child_kill(src.sw.old, SIGTERM);
}

/* The new capture died before it was ready: the previous source returns. */
static void
sw_failed(int status)
{
	char how[64];

	child_status_str(status, how, sizeof(how));
	log_warnx("capture switch: the new capture ended (%s) before it was "
	    "ready: back to %s", how, src.sw.prev_source);
	snprintf(src.source, sizeof(src.source), "%s", src.sw.prev_source);
	src.channels = src.sw.prev_channels;
	if (src.sw.prev_saved[0] != '\0')
		(void)saved_put(src.sw.prev_saved);
	else
		(void)state_meta_put(sv.state, SAVED_KEY, "null");
	sw_reply(500, api_error("the new source opened but did not start "
	    "(%s); back to %s", how, src.source));
	sw_end();
}

void
source_switch(const struct child *broker, uint32_t id,
    const struct api_capture_set *set)
{
	struct api_pending p;
	struct timeval tv = { SWITCH_MS / 1000, 0 };
	char err[256];

	api_pending_take(&p, broker, id);
	if (config_source_check(set->source, err, sizeof(err)) == -1) {
		api_pending_reply(&p, 400, api_error("%s", err));
		return;
	}
	if (src.sw.phase != SW_NONE || sv.stopping) {
		api_pending_reply(&p, 409, api_error("%s", sv.stopping ?
		    "stopping" : "a switch is under way"));
		return;
	}
	if ((src.sw.cand = child_spawn_capture(set->source,
	    set->channels)) == NULL) {
		api_pending_reply(&p, 500, api_error("cannot start a capture"));
		return;
	}
	if ((src.sw.deadline = evtimer_new(sv.base, sw_deadline, NULL)) ==
	    NULL || evtimer_add(src.sw.deadline, &tv) == -1)
		fatalx("capture switch: timer");
	src.sw.reply = p;
	src.sw.phase = SW_OPENING;
	log_info("capture switch to %s, channels %s%.0u asked: capture[%d] "
	    "opens it", set->source, set->channels ? "" : "max",
	    set->channels, (int)src.sw.cand->pid);
}

/* ---- what captures say ---- */

void
source_opened(struct child *c, const struct msg_capture_opened *m)
{
	/* Once per capture: a second would get a second ring. */
	if (c->opened) {
		log_warnx("capture[%d]: said again what it opened: ignored",
		    (int)c->pid);
		return;
	}
	c->opened = true;
	evtimer_del(c->open_ev);
	if (src.sw.phase == SW_OPENING && c == src.sw.cand) {
		sw_opened(m);
		return;
	}
	if (c != sv.capture.child)
		return;		/* retired by a switch meanwhile */
	if (m->error[0] != '\0') {
		log_warnx("capture[%d]: %s", (int)c->pid, m->error);
		return;		/* it exits; restarted with backoff */
	}
	adopt(m);
	if (src.retiring != NULL)
		src.ring_waiting = c;	/* one writer at a time */
	else
		ring_give(c, m->channels);
}

void
source_ready(struct child *c)
{
	if (src.sw.phase != SW_STARTING || c != src.sw.cand)
		return;
	log_info("capture switch: capture[%d] runs %s, %u channels%s",
	    (int)c->pid, src.source, sv.channels, src.sw.reconfigure ?
	    " (sessions reconfigured)" : "; sessions kept");
	sw_reply(200, json_pack("{s:s, s:i, s:b}", "source", src.source,
	    "channels", (int)sv.channels, "reconfigured",
	    src.sw.reconfigure));
	sw_end();
}

/*
 * The service's capture ended.  A switch's new one that dies before it is
 * ready brings the previous source back (the service restarts it; if the
 * old one is still ending, its ring waits for that).
 */
void
source_capture_exited(struct child *c, int status)
{
	if (c == src.ring_waiting)
		src.ring_waiting = NULL;
	if (src.sw.phase >= SW_HANDOVER && c == src.sw.cand)
		sw_failed(status);
}

void
source_child_exited(struct child *c, int status)
{
	char how[64];

	if (c->kind == CHILD_LISTER) {
		if (c == src.ls.c)
			source_devices(c, NULL);
		return;
	}
	if (src.sw.phase == SW_OPENING && c == src.sw.cand) {
		child_status_str(status, how, sizeof(how));
		sw_reply(500, api_error("the new capture ended (%s) before it "
		    "said whether its source opened", how));
		sw_end();
	}
	if (c != src.retiring)
		return;
	src.retiring = NULL;
	if (src.sw.phase == SW_HANDOVER && c == src.sw.old)
		sw_start();
	else if (src.ring_waiting != NULL) {
		ring_give(src.ring_waiting, src.channels);
		src.ring_waiting = NULL;
	}
}

/* ---- the device list ---- */

static json_t *
devices_json(const struct msg_capture_devices *m)
{
	json_t *a = json_array(), *o;
	uint32_t i;

	for (i = 0; a != NULL && i < m->n; i++)
		if ((o = json_pack("{s:i, s:s, s:s, s:i}", "index",
		    m->dev[i].index, "name", m->dev[i].name, "host_api",
		    m->dev[i].host_api, "inputs", (int)m->dev[i].inputs)) != NULL)
			json_array_append_new(a, o);
	return a;
}

static void
list_end(void)
{
	if (src.ls.deadline != NULL)
		event_free(src.ls.deadline);
	src.ls.deadline = NULL;
	src.ls.c = NULL;
	src.ls.n = 0;
}

/* m NULL: the lister failed; else its list (or its error). */
void
source_devices(struct child *c, const struct msg_capture_devices *m)
{
	json_t *saved;
	int i, status;

	if (c != src.ls.c)
		return;
	for (i = 0; i < src.ls.n; i++) {
		status = m != NULL && m->error[0] == '\0' ? 200 : 500;
		saved = saved_json();
		api_pending_reply(&src.ls.wait[i], status, status == 200 ?
		    json_pack("{s:o, s:o, s:o}", "devices", devices_json(m),
		    "current", source_current_json(), "saved", saved != NULL ?
		    saved : json_null()) : api_error("the audio devices could "
		    "not be listed: %s", m != NULL ? m->error :
		    "the lister failed (see the log)"));
		if (status != 200)
			json_decref(saved);
	}
	if (m != NULL && m->truncated)
		log_warnx("devices: more than %d input devices, the rest left "
		    "out", MSG_DEVICES_MAX);
	list_end();
}

static void
list_deadline(evutil_socket_t fd, short ev, void *arg)
{
	int i;

	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("devices[%d]: no list within %d ms: killed",
	    (int)src.ls.c->pid, LIST_MS);
	child_kill(src.ls.c, SIGKILL);
	for (i = 0; i < src.ls.n; i++)
		api_pending_reply(&src.ls.wait[i], 504, api_error("listing the "
		    "audio devices took over %d s", LIST_MS / 1000));
	list_end();
}

static struct child *
lister_spawn(void)
{
	static const char *const words[] = { "ringcast-capture",
	    "--list-devices", "--parent-fd", "3", NULL };

	return child_spawn(CHILD_LISTER, words, NULL, 0);
}

void
source_list(const struct child *broker, uint32_t id)
{
	struct timeval tv = { LIST_MS / 1000, 0 };
	struct api_pending p;

	api_pending_take(&p, broker, id);
	if (src.ls.n == LIST_WAITERS) {
		api_pending_reply(&p, 503, api_error("too many device lists "
		    "asked at once"));
		return;
	}
	if (src.ls.c == NULL) {
		if ((src.ls.c = lister_spawn()) == NULL) {
			api_pending_reply(&p, 500, api_error("cannot start the "
			    "device lister"));
			return;
		}
		if ((src.ls.deadline = evtimer_new(sv.base, list_deadline,
		    NULL)) == NULL || evtimer_add(src.ls.deadline, &tv) == -1)
			fatalx("devices: timer");
	}
	src.ls.wait[src.ls.n++] = p;
}

/* At stop: whoever waits hears it; the children go with the others. */
void
source_stop(void)
{
	int i;

	for (i = 0; i < src.ls.n; i++)
		api_pending_reply(&src.ls.wait[i], 503, api_error("stopping"));
	list_end();
	if (src.sw.phase != SW_NONE) {
		sw_reply(503, api_error("stopping"));
		if (src.sw.cand != NULL && src.sw.cand != sv.capture.child) {
			child_close(src.sw.cand);
			child_kill(src.sw.cand, SIGTERM);
		}
		sw_end();
	}
}
