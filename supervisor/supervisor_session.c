/* supervisor_session.c — listeners: one sessiond each, their mixes and their records. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "supervisor/supervisor.h"

static struct client_list clients = TAILQ_HEAD_INITIALIZER(clients);

struct client *
session_find(const char *id)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry)
		if (!cl->replaced && strcmp(cl->id, id) == 0)
			return cl;
	return NULL;
}

uint32_t
session_count(void)
{
	struct client *cl;
	uint32_t n = 0;

	TAILQ_FOREACH(cl, &clients, entry)
		if (!cl->replaced)
			n++;
	return n;
}

/* Best effort, never blocking: a refused client learns why, then is closed. */
static void
refuse(int fd, const struct proto_hello *h, const char *why)
{
	uint8_t *buf;
	size_t len;
	json_t *o;

	log_info("client %s refused: %s", h->client_id, why);
	o = json_pack("{s:s, s:s}", "type", "error", "message", why);
	if (o != NULL && proto_control_encode(o, h->rf_mode, &buf,
	    &len) == PROTO_OK) {
		(void)!send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
		free(buf);
	}
	json_decref(o);
	sv.refused++;
}

/* The saved record of id, or a fresh one; *found says which. */
static void
record_load(const char *id, const struct proto_hello *h,
    struct state_record *rec, bool *found)
{
	int rc = state_get(sv.state, id, rec);

	*found = rc == STATE_OK;
	if (rc != STATE_OK && rc != STATE_NOTFOUND)
		log_warnx("client %s: saved state unusable, starting afresh: "
		    "%s", id, state_strerror(sv.state, rc));
	if (!*found)
		state_record_init(rec, id, sv.cfg.channels, clock_wall_ms());
	else
		rec->reconnects++;
	rec->last_seen_ms = clock_wall_ms();
	if (h->name[0] != '\0')
		snprintf(rec->name, sizeof(rec->name), "%s", h->name);
	if ((rc = state_put(sv.state, rec)) != STATE_OK)
		log_warnx("client %s: record not saved: %s", id,
		    state_strerror(sv.state, rc));
}

static json_t *
start_msg(const struct client *cl, bool found)
{
	return json_pack("{s:s, s:o, s:o, s:s, s:b, s:b, s:s, s:i, s:i, s:i}",
	    "kind", cl->wav ? "wav" : "native",
	    "hello", proto_hello_json(&cl->hello),
	    "mix", mix_to_json(&cl->mix),
	    "persistent_id", cl->id,
	    "state_restored", found,
	    "is_reconnection", found,
	    "remote", cl->remote,
	    "clients_connected", (json_int_t)session_count(),
	    "stall_ms", (json_int_t)sv.cfg.stall_ms,
	    "user_timeout_ms", (json_int_t)sv.cfg.user_timeout_ms);
}

static struct child *
spawn_session(int fd)
{
	char *argv[10];
	int fds[2] = { fd, sv.ring_fd };
	int n = 0;

	argv[n++] = "ringcast-sessiond";
	argv[n++] = "--parent-fd";
	argv[n++] = "3";
	argv[n++] = "--client-fd";
	argv[n++] = "4";
	argv[n++] = "--ring-fd";
	argv[n++] = "5";
	if (sv.cfg.verbose > 0)
		argv[n++] = "-v";
	argv[n] = NULL;
	return child_spawn(CHILD_SESSION, super_prog("ringcast-sessiond"),
	    argv, fds, 2);
}

/* The app reconnected before its old session noticed: the new one takes over. */
static void
replace(struct client *old)
{
	log_info("client %s: new connection from %s replaces session[%d]",
	    old->id, old->remote, (int)old->child->pid);
	old->replaced = true;
	snprintf(old->reason, sizeof(old->reason), "replaced");
	child_close(old->child);
}

/* A session for cl on fd; cl is freed on failure. */
static int
session_spawn(struct client *cl, int fd, bool found)
{
	if ((cl->child = spawn_session(fd)) == NULL) {
		free(cl);
		return -1;
	}
	cl->child->client = cl;
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	if (child_send_json(cl->child, MSG_SESSION_START, start_msg(cl,
	    found)) == -1) {
		log_warn("client %s: MSG_SESSION_START", cl->id);
		child_close(cl->child);
	}
	sv.connects++;
	return 0;
}

static void
client_start(int fd, const struct proto_hello *h, const char *remote)
{
	struct state_record rec;
	struct client *cl, *old;
	bool found;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("client %s", h->client_id);
		return;
	}
	snprintf(cl->id, sizeof(cl->id), "%s", proto_hello_identity(h));
	cl->hello = *h;
	snprintf(cl->remote, sizeof(cl->remote), "%s", remote);
	cl->since_ms = clock_wall_ms();
	record_load(cl->id, h, &rec, &found);
	cl->mix = rec.mix;
	if ((old = session_find(cl->id)) != NULL)
		replace(old);
	if (session_spawn(cl, fd, found) == -1)
		return;
	log_info("client %s (%s, %s) from %s: session[%d]%s", cl->id,
	    h->client_id, h->name[0] ? h->name : "unnamed", remote,
	    (int)cl->child->pid, found ? ", saved mix restored" : "");
	api_event("client_connected", session_entry(&rec, cl));
}

/* Best effort, never blocking: an HTTP error for a refused WAV listener. */
static void
wav_refuse(int fd, int status, const char *why)
{
	char buf[512];
	json_t *o = json_pack("{s:s}", "error", why);
	char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	int n;

	n = snprintf(buf, sizeof(buf), "HTTP/1.0 %d %s\r\nContent-Type: "
	    "application/json\r\nConnection: close\r\n\r\n%s", status,
	    status == 503 ? "Service Unavailable" : "Bad Request",
	    body ? body : "{}");
	if (n > 0)
		(void)!send(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
	free(body);
	json_decref(o);
	log_info("WAV listener refused (%d): %s", status, why);
	sv.refused++;
}

/* channels: ascending, no repeats, each below the ring's count. */
static int
wav_channels(const json_t *arr, bool mix, struct mix *m, char *err,
    size_t errlen)
{
	const json_t *v;
	size_t i;
	json_int_t c, prev = -1;

	mix_init(m, sv.cfg.channels);
	if (json_array_size(arr) == 0 && mix) {
		for (i = 0; i < sv.cfg.channels; i++)
			m->sub[i] = 1;
		return 0;
	}
	if (!json_is_array(arr) || json_array_size(arr) == 0) {
		snprintf(err, errlen, "channels: a list of channel numbers is "
		    "required, e.g. ?channels=0,1");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		c = json_integer_value(v);
		if (!json_is_integer(v) || c < 0 || c >= sv.cfg.channels) {
			snprintf(err, errlen, "channels: %lld is not a channel "
			    "(0..%u)", (long long)c, sv.cfg.channels - 1);
			return -1;
		}
		if (c == prev || m->sub[c]) {
			snprintf(err, errlen, "channels: %lld appears twice",
			    (long long)c);
			return -1;
		}
		m->sub[c] = 1;
		prev = c;
	}
	return 0;
}

/*
 * A /stream.wav listener: its own session like any client, a synthetic
 * hello (4 periods per write, server mix with mix=1), never saved.
 */
static void
wav_start(int fd, const json_t *o, const char *remote)
{
	static unsigned long long seq;
	bool mix = json_is_true(json_object_get(o, "mix"));
	struct client *cl;
	char err[256];

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("WAV listener");
		return;
	}
	if (wav_channels(json_object_get(o, "channels"), mix, &cl->mix, err,
	    sizeof(err)) == -1) {
		wav_refuse(fd, 400, err);
		free(cl);
		return;
	}
	if (session_count() >= sv.cfg.max_clients) {
		wav_refuse(fd, 503, "server full: too many listeners");
		free(cl);
		return;
	}
	cl->wav = true;
	cl->wav_mix = mix;
	snprintf(cl->id, sizeof(cl->id), "wav-%llu", ++seq);
	snprintf(cl->remote, sizeof(cl->remote), "%s", remote);
	snprintf(cl->hello.client_id, sizeof(cl->hello.client_id), "%s", cl->id);
	snprintf(cl->hello.name, sizeof(cl->hello.name), "WAV %s", remote);
	snprintf(cl->hello.client_type, sizeof(cl->hello.client_type), "wav");
	cl->hello.protocol_version = 2;
	cl->hello.server_mix = mix;
	cl->hello.packet_frames = sv.cfg.period * 4;
	cl->since_ms = clock_wall_ms();
	if (session_spawn(cl, fd, false) == -1)
		return;
	log_info("client %s (WAV%s) from %s: session[%d]", cl->id, mix ?
	    ", mixed" : "", remote, (int)cl->child->pid);
	api_event("client_connected", session_entry(NULL, cl));
}


/* MSG_BROKER_CLIENT: a native client whose handshake the broker validated. */
void
session_broker_client(int fd, const char *data)
{
	struct proto_hello h;
	const char *kind, *remote;
	json_t *o;

	if ((o = json_loads(data, 0, NULL)) == NULL ||
	    (kind = json_string_value(json_object_get(o, "kind"))) == NULL) {
		log_warnx("malformed MSG_BROKER_CLIENT");
		goto done;
	}
	if ((remote = json_string_value(json_object_get(o, "remote"))) == NULL)
		remote = "?";
	if (sv.stopping)
		goto done;
	if (strcmp(kind, "wav") == 0) {
		wav_start(fd, o, remote);
		goto done;
	}
	if (strcmp(kind, "native") != 0) {
		log_info("%s client from %s: not served by this version", kind,
		    remote);
		goto done;
	}
	if (!json_is_object(json_object_get(o, "hello")) ||
	    proto_hello_parse(json_object_get(o, "hello"), &h) != PROTO_OK) {
		log_warnx("MSG_BROKER_CLIENT from %s: invalid hello", remote);
		goto done;
	}
	if (session_find(proto_hello_identity(&h)) == NULL &&
	    session_count() >= sv.cfg.max_clients)
		refuse(fd, &h, "server full: too many listeners");
	else
		client_start(fd, &h, remote);
done:
	json_decref(o);
	close(fd);	/* the session has its own copy */
}

/* The committed mix to the session; with error, a change that was not saved. */
static int
tell_session(struct client *cl, const char *origin, const char *error)
{
	json_t *o = json_pack("{s:s, s:o}", "origin", origin, "mix",
	    mix_to_json(&cl->mix));

	if (o != NULL && error != NULL)
		json_object_set_new(o, "error", json_string(error));
	if (cl->child == NULL || child_send_json(cl->child,
	    MSG_SESSION_MIX_SET, o) == 0)
		return 0;
	/* A session that does not read its channel is stuck: end it. */
	log_warn("client %s: MSG_SESSION_MIX_SET", cl->id);
	child_close(cl->child);
	return -1;
}

/*
 * A WAV listener's mix lives only as long as its stream.  Its channel
 * count is in the header already sent: a raw stream's channels are fixed,
 * a mixed one (mix=1) takes every change.
 */
static int
wav_mix_commit(struct client *cl, const json_t *fields, const char *origin,
    struct mix *out, char *err, size_t errlen)
{
	struct mix m = cl->mix;

	if (!cl->wav_mix) {
		snprintf(err, errlen, "a WAV stream without mix=1 sends fixed "
		    "channels unmixed: open /stream.wav?mix=1 to mix");
		return 409;
	}
	if (mix_apply_json(&m, fields, err, errlen) == -1)
		return 400;
	cl->mix = m;
	tell_session(cl, origin, NULL);
	if (out != NULL)
		*out = m;
	api_event("mix_changed", json_pack("{s:s, s:s, s:o}", "id", cl->id,
	    "source", origin, "mix", mix_to_json(&m)));
	return 200;
}

int
session_mix_commit(const char *id, const json_t *fields, const char *origin,
    struct mix *out, char *err, size_t errlen)
{
	struct client *cl = session_find(id);
	struct state_record rec;
	struct mix m;
	int rc;

	if (cl != NULL && cl->wav)
		return wav_mix_commit(cl, fields, origin, out, err, errlen);
	rc = state_get(sv.state, id, &rec);
	if (rc == STATE_NOTFOUND && cl == NULL) {
		snprintf(err, errlen, "no such client");
		return 404;
	}
	if (rc != STATE_OK && rc != STATE_NOTFOUND && cl == NULL) {
		snprintf(err, errlen, "%s", state_strerror(sv.state, rc));
		return 500;
	}
	/* Forgotten, or unreadable, while connected: save it anew. */
	if (rc != STATE_OK) {
		state_record_init(&rec, id, sv.cfg.channels, clock_wall_ms());
		snprintf(rec.name, sizeof(rec.name), "%s", cl->hello.name);
	}
	m = cl != NULL ? cl->mix : rec.mix;
	if (mix_apply_json(&m, fields, err, errlen) == -1)
		return 400;
	rec.mix = m;
	if (cl != NULL)
		rec.last_seen_ms = clock_wall_ms();
	if ((rc = state_put(sv.state, &rec)) != STATE_OK) {
		snprintf(err, errlen, "not saved: %s",
		    state_strerror(sv.state, rc));
		return 500;
	}
	/* Committed: only now may the session apply and confirm it. */
	if (cl != NULL) {
		cl->mix = m;
		tell_session(cl, origin, NULL);
	}
	if (out != NULL)
		*out = m;
	api_event("mix_changed", json_pack("{s:s, s:s, s:o}", "id", id,
	    "source", origin, "mix", mix_to_json(&m)));
	return 200;
}

/*
 * A client's change: committed and confirmed, or refused with the mix
 * unchanged and the reason, which the session passes on to the client.
 */
static int
mix_request(struct client *cl, const char *data)
{
	char err[256], why[300];
	json_t *o;
	int rc;

	if ((o = json_loads(data, 0, NULL)) == NULL || !json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	if ((rc = session_mix_commit(cl->id, o, "client", NULL, err,
	    sizeof(err))) != 200) {
		log_warnx("client %s: mix change refused (%d): %s", cl->id, rc,
		    err);
		snprintf(why, sizeof(why), "mix change not saved: %s", err);
		tell_session(cl, "client", why);
	}
	json_decref(o);
	return 0;
}

static uint64_t
get_u64(const json_t *o, const char *key, uint64_t def)
{
	const json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return def;
	return (uint64_t)json_integer_value(v);
}

/* STATS and EXIT carry the session's counters; EXIT also why it ends. */
static int
counters(struct client *cl, const char *data, bool last)
{
	const char *reason;
	json_t *o;

	if ((o = json_loads(data, 0, NULL)) == NULL || !json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	cl->sent = get_u64(o, "sent", cl->sent);
	cl->dropped = get_u64(o, "dropped", cl->dropped);
	cl->lost = get_u64(o, "lost", cl->lost);
	reason = json_string_value(json_object_get(o, "reason"));
	if (last && reason != NULL && cl->reason[0] == '\0')
		snprintf(cl->reason, sizeof(cl->reason), "%s", reason);
	json_decref(o);
	return 0;
}

/* A server mix's post-mix levels, kept for the next meters event. */
static int
levels(struct client *cl, const char *data)
{
	double p[2], r[2];
	json_t *o;
	int rc;

	if ((o = json_loads(data, 0, NULL)) == NULL)
		return -1;
	rc = json_unpack(o, "{s:[FF], s:[FF]}", "peak", &p[0], &p[1], "rms",
	    &r[0], &r[1]);
	json_decref(o);
	if (rc == -1)
		return -1;
	cl->pm_peak[0] = (float)p[0];
	cl->pm_peak[1] = (float)p[1];
	cl->pm_rms[0] = (float)r[0];
	cl->pm_rms[1] = (float)r[1];
	cl->pm_fresh = true;
	return 0;
}

int
session_dispatch(struct child *c, const struct msg *m)
{
	struct client *cl = c->client;

	switch (m->hdr.type) {
	case MSG_SESSION_MIX_REQ:
		return mix_request(cl, m->data);
	case MSG_SESSION_STATS:
		return counters(cl, m->data, false);
	case MSG_SESSION_METERS:
		return levels(cl, m->data);
	case MSG_CHILD_EXIT:
		return counters(cl, m->data, true);
	default:
		return -1;
	}
}

static void
exit_reason(struct client *cl, int status)
{
	if (cl->reason[0] != '\0')
		return;
	if (sv.stopping)
		snprintf(cl->reason, sizeof(cl->reason), "shutdown");
	else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)
		snprintf(cl->reason, sizeof(cl->reason), "sandbox");
	else if (WIFSIGNALED(status))
		snprintf(cl->reason, sizeof(cl->reason), "killed");
	else
		snprintf(cl->reason, sizeof(cl->reason), "error");
}

/* Record how the listener left; a forgotten identity stays forgotten. */
static void
record_exit(const struct client *cl)
{
	struct state_record rec;
	int rc;

	if (sv.state == NULL || state_get(sv.state, cl->id, &rec) != STATE_OK)
		return;
	rec.last_seen_ms = clock_wall_ms();
	snprintf(rec.last_exit, sizeof(rec.last_exit), "%s", cl->reason);
	if (strcmp(cl->reason, "stalled") == 0)
		rec.stalls++;
	else if (strcmp(cl->reason, "timeout") == 0)
		rec.timeouts++;
	if ((rc = state_put(sv.state, &rec)) != STATE_OK)
		log_warnx("client %s: exit not recorded: %s", cl->id,
		    state_strerror(sv.state, rc));
}

void
session_exited(struct child *c, int status)
{
	struct client *cl = c->client;
	char how[64];

	child_status_str(status, how, sizeof(how));
	exit_reason(cl, status);
	log_info("client %s: session[%d] ended: %s (%s), sent %llu, dropped "
	    "%llu", cl->id, (int)c->pid, cl->reason, how,
	    (unsigned long long)cl->sent, (unsigned long long)cl->dropped);
	sv.done_sent += cl->sent;
	sv.done_dropped += cl->dropped;
	super_count_disconnect(cl->reason);
	record_exit(cl);
	api_event("client_disconnected", json_pack("{s:s, s:s}", "id", cl->id,
	    "reason", cl->reason));
	TAILQ_REMOVE(&clients, cl, entry);
	free(cl);
}

json_t *
session_stats_json(void)
{
	json_t *a = json_array();
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry)
		if (!cl->replaced && a != NULL)
			json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:I}",
			    "id", cl->id, "periods_sent", (json_int_t)cl->sent,
			    "periods_dropped", (json_int_t)cl->dropped,
			    "lost", (json_int_t)cl->lost));
	return json_pack("{s:o}", "clients", a);
}

json_t *
session_meters_json(void)
{
	json_t *o = json_object();
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry)
		if (!cl->replaced && cl->pm_fresh && o != NULL) {
			json_object_set_new(o, cl->id, json_pack("{s:[ff], s:[ff]}",
			    "peak", (double)cl->pm_peak[0], (double)cl->pm_peak[1],
			    "rms", (double)cl->pm_rms[0], (double)cl->pm_rms[1]));
			cl->pm_fresh = false;
		}
	return o;
}

/* Sum of a counter over the sessions still running. */
uint64_t
session_live_dropped(void)
{
	struct client *cl;
	uint64_t n = 0;

	TAILQ_FOREACH(cl, &clients, entry)
		n += cl->dropped;
	return n;
}

static void
entry_times(json_t *o, const struct state_record *rec, const struct client *cl)
{
	json_object_set_new(o, "connected_since", cl ?
	    json_integer((json_int_t)cl->since_ms) : json_null());
	json_object_set_new(o, "last_seen", json_integer((json_int_t)(rec ?
	    rec->last_seen_ms : clock_wall_ms())));
	json_object_set_new(o, "first_seen", rec ?
	    json_integer((json_int_t)rec->first_seen_ms) : json_null());
	json_object_set_new(o, "reconnects", json_integer(rec ?
	    (json_int_t)rec->reconnects : 0));
}

json_t *
session_entry(const struct state_record *rec, const struct client *cl)
{
	const char *name = rec ? rec->name : cl->hello.name;
	json_t *o = mix_to_json(cl ? &cl->mix : &rec->mix);

	if (o == NULL)
		return NULL;
	json_object_set_new(o, "id", json_string(rec ? rec->id : cl->id));
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "order", json_integer(rec ? rec->order : 0));
	json_object_set_new(o, "health", json_pack("{s:I, s:I, s:I, s:I}",
	    "dropped", (json_int_t)(cl ? cl->dropped : 0),
	    "lost", (json_int_t)(cl ? cl->lost : 0),
	    "stalls", (json_int_t)(rec ? rec->stalls : 0),
	    "timeouts", (json_int_t)(rec ? rec->timeouts : 0)));
	json_object_set_new(o, "connected", json_boolean(cl != NULL));
	json_object_set_new(o, "kind", json_string(cl && cl->wav ? "wav" :
	    "native"));
	json_object_set_new(o, "server_mix", json_boolean(cl &&
	    cl->hello.server_mix));
	json_object_set_new(o, "saved", json_boolean(rec != NULL));
	json_object_set_new(o, "pid", cl && cl->child ?
	    json_integer(cl->child->pid) : json_null());
	json_object_set_new(o, "remote", cl ? json_string(cl->remote) :
	    json_null());
	entry_times(o, rec, cl);
	json_object_set_new(o, "periods_sent", json_integer(cl ?
	    (json_int_t)cl->sent : 0));
	json_object_set_new(o, "periods_dropped", json_integer(cl ?
	    (json_int_t)cl->dropped : 0));
	json_object_set_new(o, "last_exit", rec && rec->last_exit[0] ?
	    json_string(rec->last_exit) : json_null());
	return o;
}

/* Entries of connected clients whose identity has no record. */
void
session_unsaved_entries(json_t *arr)
{
	struct state_record rec;
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry)
		if (!cl->replaced && state_get(sv.state, cl->id, &rec) !=
		    STATE_OK)
			json_array_append_new(arr, session_entry(NULL, cl));
}

void
session_stop_all(void)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (cl->reason[0] == '\0')
			snprintf(cl->reason, sizeof(cl->reason), "shutdown");
		if (cl->child != NULL) {
			child_close(cl->child);
			kill(cl->child->pid, SIGTERM);
		}
	}
}
