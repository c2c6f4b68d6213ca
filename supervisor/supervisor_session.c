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

/* The broker's answer about a client it handed over: 0 = served. */
static void
client_done(uint32_t id, uint32_t status, const char *why)
{
	struct msg_client_done d;
	struct child *b = sv.broker.child;

	memset(&d, 0, sizeof(d));
	d.id = id;
	d.status = status;
	snprintf(d.message, sizeof(d.message), "%s", why ? why : "");
	if (status != 0) {
		log_info("client %u refused (%u): %s", id, status, why);
		sv.refused++;
	}
	if (b != NULL && child_send(b, MSG_BROKER_CLIENT_DONE, &d, sizeof(d),
	    NULL, 0) == -1)
		log_warn("MSG_BROKER_CLIENT_DONE");
}

/* The address part of "ip:port" or "[ip6]:port". */
static void
remote_ip(const char *remote, char *ip, size_t len)
{
	const char *colon = strrchr(remote, ':');
	size_t n = colon != NULL ? (size_t)(colon - remote) : strlen(remote);

	if (remote[0] == '[' && n >= 2 && remote[n - 1] == ']') {
		remote++;
		n -= 2;
	}
	snprintf(ip, len, "%.*s", (int)n, remote);
}

/*
 * ---- app restarts ----
 * The deployed app makes a new client_id at every launch.  A new identity
 * from the address where exactly one saved listener left within
 * affinity-minutes, and which nobody else uses now, is that listener again:
 * it takes the record over (state_rename: the old identity becomes an
 * alias).  Who left from where is kept here, not read from LMDB on the
 * listener's path.
 */
#define RECENT_MAX	256

static struct recent {
	char		 id[STATE_ID_MAX];
	char		 ip[64];
	uint64_t	 left_ms;	/* wall clock, as the records */
} recent[RECENT_MAX];

void
session_recent_note(const char *id, const char *ip, uint64_t left_ms)
{
	struct recent *r, *slot = &recent[0];

	for (r = recent; r < recent + RECENT_MAX; r++) {
		if (strcmp(r->id, id) == 0) {
			slot = r;
			break;
		}
		if (r->left_ms < slot->left_ms)
			slot = r;
	}
	snprintf(slot->id, sizeof(slot->id), "%s", id);
	snprintf(slot->ip, sizeof(slot->ip), "%s", ip);
	slot->left_ms = left_ms;
}

static void
recent_forget(const char *id)
{
	struct recent *r;

	for (r = recent; r < recent + RECENT_MAX; r++)
		if (strcmp(r->id, id) == 0)
			memset(r, 0, sizeof(*r));
}

/* The one identity that left from ip lately and is not back: NULL if not one. */
static const char *
takeover_candidate(const char *ip)
{
	uint64_t now = clock_wall_ms(), window;
	const char *found = NULL;
	struct recent *r;

	window = (uint64_t)sv.cfg.affinity_minutes * 60000;
	for (r = recent; window > 0 && r < recent + RECENT_MAX; r++) {
		if (r->id[0] == '\0' || strcmp(r->ip, ip) != 0 ||
		    now - r->left_ms > window || session_find(r->id) != NULL)
			continue;
		if (found != NULL)
			return NULL;	/* phones behind one NAT: never guess */
		found = r->id;
	}
	return found;
}

static int
recent_add(const struct state_record *rec, void *arg)
{
	uint64_t since = *(const uint64_t *)arg;

	if (state_record_used(rec) && rec->last_addr[0] != '\0' &&
	    rec->last_seen_ms >= since)
		session_recent_note(rec->id, rec->last_addr,
		    rec->last_seen_ms);
	return 0;
}

/* At start: those who left within the window before we (re)started. */
void
session_recent_load(void)
{
	uint64_t since = clock_wall_ms() - (uint64_t)sv.cfg.affinity_minutes *
	    60000;

	if (sv.cfg.affinity_minutes > 0 && state_each(sv.state, recent_add,
	    &since) < 0)
		log_warnx("state: %s", state_strerror(sv.state, -1));
}

/* A new identity at ip: the record of the listener it is, if one is. */
static bool
takeover(const char *id, const char *ip)
{
	struct state_record rec;
	const char *old;
	char was[STATE_ID_MAX];
	int rc;

	if ((old = takeover_candidate(ip)) == NULL ||
	    state_get(sv.state, id, &rec) != STATE_NOTFOUND)
		return false;
	snprintf(was, sizeof(was), "%.*s", (int)sizeof(was) - 1, old);
	if ((rc = state_rename(sv.state, was, id)) != STATE_OK) {
		log_warnx("client %s: taking over %s: %s", id, was,
		    state_strerror(sv.state, rc));
		return false;
	}
	recent_forget(was);
	log_info("client %s from %s: takes over the record of %s (the app "
	    "restarted: same address, %s left lately)", id, ip, was, was);
	/* The old entry is gone from the list: say so, as a delete does. */
	api_event("client_updated", json_pack("{s:s, s:b, s:s}", "id", was,
	    "deleted", 1, "taken_over_by", id));
	return true;
}

/*
 * The saved record of id, or a fresh one; *found says which.  What the
 * connect changes in it is written after the session started
 * (supervisor_book.c).
 */
static void
record_load(const char *id, const struct proto_hello *h, const char *ip,
    struct state_record *rec, bool *found)
{
	int rc = state_get(sv.state, id, rec);

	*found = rc == STATE_OK;
	if (rc != STATE_OK && rc != STATE_NOTFOUND)
		log_warnx("client %s: saved state unusable, starting afresh: "
		    "%s", id, state_strerror(sv.state, rc));
	if (!*found)
		state_record_init(rec, id, sv.channels, clock_wall_ms());
	book_connect(rec, *found, ip, h->name);
}

/* The channels this listener's packets can carry (shared/mix.h). */
static uint32_t
addressable(const struct client *cl)
{
	uint32_t n = 32 * (cl->hello.mask_words ? cl->hello.mask_words : 1);

	return cl->hello.server_mix || n > sv.channels ? sv.channels :
	    n;
}

static void
start_msg(const struct client *cl, bool found, struct msg_session_start *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = cl->player ? CLIENT_WAV : CLIENT_NATIVE;
	snprintf(m->remote, sizeof(m->remote), "%s", cl->remote);
	m->since_ms = cl->since_ms;
	m->state_restored = m->is_reconnection = found;
	m->clients_connected = session_count();
	m->stall_ms = sv.cfg.stall_ms;
	m->user_timeout_ms = sv.cfg.user_timeout_ms;
	snprintf(m->persistent_id, sizeof(m->persistent_id), "%s", cl->id);
	m->hello = cl->hello;
	m->mix = cl->mix;
}

static struct child *
session_exec(int fd)
{
	static const char *const words[] = { "ringcast-sessiond", "--parent-fd",
	    "3", "--client-fd", "4", "--ring-fd", "5", NULL };
	int fds[2] = { fd, sv.ring_fd };

	return child_spawn(CHILD_SESSION, words, fds, 2);
}

/* The app reconnected before its old session noticed: the new one takes over. */
static void
replace(struct client *old)
{
	log_info("client %s: new connection from %s replaces session[%d]",
	    old->id, old->remote, (int)old->child->pid);
	old->replaced = true;
	snprintf(old->reason, sizeof(old->reason), "replaced");
	child_end(old->child);
}

/* A session for cl on fd; cl is freed on failure. */
static int
session_start(struct client *cl, int fd, bool found)
{
	static struct msg_session_start m;

	if ((cl->child = session_exec(fd)) == NULL) {
		free(cl);
		return -1;
	}
	cl->child->client = cl;
	cl->stats_ms = clock_mono_ms();
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	start_msg(cl, found, &m);
	if (child_send(cl->child, MSG_SESSION_START, &m, sizeof(m), NULL,
	    0) == -1) {
		log_warn("client %s: MSG_SESSION_START", cl->id);
		child_end(cl->child);
	}
	sv.connects++;
	return 0;
}

/* A saved mix with channels this session cannot carry: said, not hidden. */
static void
mix_fit(struct client *cl)
{
	uint32_t n = mix_limit(&cl->mix, addressable(cl));

	if (n > 0)
		log_warnx("client %s: %u saved channel%s beyond what its "
		    "packets can carry (%u channels): left out of its mix",
		    cl->id, n, n == 1 ? "" : "s", addressable(cl));
}

/*
 * Admission (docs/SECURITY.md): whether a connection may have the
 * identity it claims.  A live, healthy session keeps its identity
 * against another address; the same address takes it over (the app's
 * quick reconnects).  Then the admit mode: known refuses identities
 * without a record, approve lets them wait, silent, for the engineer.
 * 0, or the status that refuses it (err says why).
 */
static int
admission(const char *id, const char *ip, bool known, char *err,
    size_t errlen)
{
	struct client *old = session_find(id);
	char was[64];

	if (old != NULL) {
		remote_ip(old->remote, was, sizeof(was));
		if (strcmp(was, ip) != 0 && auth_session_healthy(old)) {
			log_warnx("client %s from %s: refused, its session from "
			    "%s is live", id, ip, was);
			snprintf(err, errlen, "identity in use");
			return 409;
		}
	}
	if (!known && sv.cfg.admit_mode == ADMIT_KNOWN) {
		snprintf(err, errlen, "not admitted: this listener is not known "
		    "here; ask the sound engineer");
		return 403;
	}
	return 0;
}

static int
client_start(int fd, const struct msg_client *m, char *err, size_t errlen)
{
	const struct proto_hello *h = &m->hello;
	struct state_record rec;
	struct client *cl, *old;
	char ip[64];
	bool found;
	int status;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("client %s", h->client_id);
		return 503;
	}
	snprintf(cl->id, sizeof(cl->id), "%s", proto_hello_identity(h));
	cl->hello = *h;
	snprintf(cl->remote, sizeof(cl->remote), "%s", m->remote);
	cl->since_ms = clock_wall_ms();
	remote_ip(m->remote, ip, sizeof(ip));
	(void)takeover(cl->id, ip);
	found = state_get(sv.state, cl->id, &rec) == STATE_OK;
	if (found)	/* an alias: the listener is the record's identity */
		snprintf(cl->id, sizeof(cl->id), "%s", rec.id);
	if ((status = admission(cl->id, ip, found, err, errlen)) != 0) {
		free(cl);
		return status;
	}
	if (!found && sv.cfg.admit_mode == ADMIT_APPROVE) {
		cl->pending = true;
		state_record_init(&rec, cl->id, sv.cfg.channels,
		    clock_wall_ms());
		mix_init(&cl->held, sv.cfg.channels);
	} else
		record_load(cl->id, h, ip, &rec, &found);
	/* Found through an alias: the listener is the record's identity. */
	snprintf(cl->id, sizeof(cl->id), "%s", rec.id);
	cl->mix = rec.mix;
	mix_fit(cl);
	if ((old = session_find(cl->id)) != NULL)
		replace(old);
	if (session_start(cl, fd, found) == -1)
		return 503;
	log_info("client %s (%s, %s) from %s: session[%d]%s", cl->id,
	    h->client_id, h->name[0] ? h->name : "unnamed", m->remote,
	    (int)cl->child->pid, cl->pending ? ", waiting for approval" :
	    found ? ", saved mix restored" : "");
	api_event("client_connected", session_entry(cl->pending ? NULL : &rec,
	    cl));
	return 0;
}

/* The requested channels, each below the ring's count; none: all, mixed. */
static int
player_mix(const struct msg_client *m, struct mix *mix, char *err, size_t errlen)
{
	uint32_t i, c;

	mix_init(mix, sv.channels);
	for (i = 0; i < m->wav_nchannels; i++) {
		if ((c = m->wav_channels[i]) >= sv.channels) {
			snprintf(err, errlen, "channels: %u is not a channel "
			    "(0..%u)", c, sv.channels - 1);
			return -1;
		}
		mix->sub[c] = 1;
	}
	for (c = 0; m->wav_nchannels == 0 && c < sv.channels; c++)
		mix->sub[c] = 1;
	return 0;
}

/* A listener's own mix, for the stream its token opens. */
static int
follow_mix(const char *id, struct client *pl, char *err, size_t errlen)
{
	struct client *cl = session_find(id);
	struct state_record rec;

	if (cl != NULL && !cl->pending)
		pl->mix = cl->mix;
	else if (cl == NULL && state_get(sv.state, id, &rec) == STATE_OK)
		pl->mix = rec.mix;
	else {
		snprintf(err, errlen, "no mix saved for %s", id);
		return -1;
	}
	snprintf(pl->follows, sizeof(pl->follows), "%s", id);
	return 0;
}

/* A synthetic hello: 4 periods per write, a server mix with mix=1. */
static void
player_hello(struct client *cl)
{
	struct proto_hello *h = &cl->hello;

	snprintf(h->client_id, sizeof(h->client_id), "%s", cl->id);
	snprintf(h->name, sizeof(h->name), "WAV %s", cl->remote);
	snprintf(h->client_type, sizeof(h->client_type), "wav");
	h->protocol_version = 2;
	h->mask_words = 1;
	h->server_mix = cl->player_mix;
	h->packet_frames = sv.cfg.period * 4;
}

/* WAV players are "wav-N": after an adoption N goes on past theirs. */
static unsigned long long player_seq;

static void
player_seq_note(const char *id)
{
	unsigned long long n;

	if (sscanf(id, "wav-%llu", &n) == 1 && n > player_seq)
		player_seq = n;
}

/* A /stream.wav listener: its own session like any client, never saved. */
static int
player_start(int fd, const struct msg_client *m, char *err, size_t errlen)
{
	struct client *cl;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return 503;
	}
	if (m->mix_of[0] != '\0' ? follow_mix(m->mix_of, cl, err,
	    errlen) == -1 : player_mix(m, &cl->mix, err, errlen) == -1) {
		free(cl);
		return m->mix_of[0] != '\0' ? 404 : 400;
	}
	cl->player = true;
	cl->player_mix = m->wav_mix;
	snprintf(cl->id, sizeof(cl->id), "wav-%llu", ++player_seq);
	snprintf(cl->remote, sizeof(cl->remote), "%s", m->remote);
	player_hello(cl);
	cl->since_ms = clock_wall_ms();
	if (session_start(cl, fd, false) == -1) {
		snprintf(err, errlen, "server busy, try again");
		return 503;
	}
	log_info("client %s (WAV%s) from %s: session[%d]", cl->id, cl->player_mix ?
	    ", mixed" : "", m->remote, (int)cl->child->pid);
	api_event("client_connected", session_entry(NULL, cl));
	return 0;
}

/* Whether one more listener fits; a reconnecting identity always does. */
static bool
has_room(const struct msg_client *m)
{
	return (m->kind == CLIENT_NATIVE &&
	    session_find(proto_hello_identity(&m->hello)) != NULL) ||
	    session_count() < sv.cfg.max_clients;
}

/* A session serving the TCP peer remote ("ip:port" is one connection). */
static struct client *
serving(const char *remote)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry)
		if (cl->child != NULL && strcmp(cl->remote, remote) == 0)
			return cl;
	return NULL;
}

/*
 * Clients the broker passed again (our predecessor died before answering)
 * wait here while adoption may still bring the session that serves them.
 */
struct again {
	int			 fd;
	struct msg_client	 m;
	TAILQ_ENTRY(again)	 entry;
};
static TAILQ_HEAD(, again) agains = TAILQ_HEAD_INITIALIZER(agains);

void
session_broker_client(int fd, const struct msg_client *m)
{
	char err[192] = "";
	struct again *a;
	int status;

	if (m->again && adopt_pending() &&
	    (a = calloc(1, sizeof(*a))) != NULL) {
		a->fd = fd;
		a->m = *m;
		TAILQ_INSERT_TAIL(&agains, a, entry);
		return;
	}
	if (m->again && serving(m->remote) != NULL) {
		log_info("%s: already served by an adopted session",
		    m->remote);
		client_done(m->id, 0, "");
		close(fd);
		return;
	}
	if (sv.stopping || sv.state == NULL)
		status = 503, snprintf(err, sizeof(err), "server stopping");
	else if (!has_room(m))
		status = 503, snprintf(err, sizeof(err), "server full: too "
		    "many listeners");
	else if (m->kind == CLIENT_WAV)
		status = player_start(fd, m, err, sizeof(err));
	else
		status = client_start(fd, m, err, sizeof(err));
	client_done(m->id, (uint32_t)status, status == 0 ? "" : err[0] ? err :
	    "server error");
	close(fd);	/* the session has its own copy */
}

void
session_agains_flush(void)
{
	struct again *a;

	while ((a = TAILQ_FIRST(&agains)) != NULL) {
		TAILQ_REMOVE(&agains, a, entry);
		session_broker_client(a->fd, &a->m);
		free(a);
	}
}

/* The committed mix to the session; with error, a change that was not saved. */
static int
tell_session(struct client *cl, enum msg_origin origin, const char *error)
{
	static struct msg_session_mix m;

	memset(&m, 0, sizeof(m));
	m.origin = origin;
	snprintf(m.error, sizeof(m.error), "%s", error ? error : "");
	m.mix = cl->mix;
	if (cl->child == NULL || child_send(cl->child, MSG_SESSION_MIX_SET, &m,
	    sizeof(m), NULL, 0) == 0)
		return 0;
	/* A session that does not read its channel is stuck: end it. */
	log_warn("client %s: MSG_SESSION_MIX_SET", cl->id);
	child_end(cl->child);
	return -1;
}

static const char *
origin_name(enum msg_origin origin)
{
	return origin == ORIGIN_WEB ? "web" : "client";
}

/* Committed (or held only by a live stream): tell the session and the UI. */
static void
mix_changed(struct client *cl, const char *id, const struct mix *m,
    enum msg_origin origin, struct mix *out)
{
	struct client *p;

	if (cl != NULL) {
		cl->mix = *m;
		tell_session(cl, origin, NULL);
	}
	/* A listener's own stream, opened with its token, follows its mix. */
	TAILQ_FOREACH(p, &clients, entry)
		if (p->player && !p->replaced && strcmp(p->follows, id) == 0) {
			p->mix = *m;
			tell_session(p, origin, NULL);
		}
	if (out != NULL)
		*out = *m;
	api_event("mix_changed", json_pack("{s:s, s:s, s:o}", "id", id,
	    "source", origin_name(origin), "mix", mix_to_json(m)));
}

/*
 * A WAV listener's mix lives only as long as its stream.  Its channel
 * count is in the header already sent: a raw stream's channels are fixed,
 * a mixed one (mix=1) takes every change.
 */
static int
player_mix_commit(struct client *cl, const struct mix_patch *p,
    enum msg_origin origin, struct mix *out, char *err, size_t errlen)
{
	struct mix m = cl->mix;

	if (!cl->player_mix) {
		snprintf(err, errlen, "a WAV stream without mix=1 sends fixed "
		    "channels unmixed: open /stream.wav?mix=1 to mix");
		return 409;
	}
	if (mix_patch_apply(&m, p, addressable(cl), err, errlen) == -1)
		return 400;
	mix_changed(cl, cl->id, &m, origin, out);
	return 200;
}

/* id's record, or a new one for a live listener that has none. */
static int
record_for(const char *id, const struct client *cl, struct state_record *rec,
    char *err, size_t errlen)
{
	int rc = state_get(sv.state, id, rec);

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
		state_record_init(rec, id, sv.channels, clock_wall_ms());
		snprintf(rec->device, sizeof(rec->device), "%s",
		    cl->hello.name);
		rec->mix = cl->mix;
	}
	return 200;
}

int
session_mix_commit(const char *id, const struct mix_patch *p,
    enum msg_origin origin, struct mix *out, char *err, size_t errlen)
{
	struct client *cl = session_find(id);
	struct state_record rec;
	struct mix m;
	int rc;

	if (cl != NULL && cl->player)
		return player_mix_commit(cl, p, origin, out, err, errlen);
	if (cl != NULL && cl->pending) {
		snprintf(err, errlen, "waiting for the engineer's approval");
		return 409;
	}
	if ((rc = record_for(id, cl, &rec, err, errlen)) != 200)
		return rc;
	m = cl != NULL ? cl->mix : rec.mix;
	if (mix_patch_apply(&m, p, cl != NULL ? addressable(cl) :
	    sv.channels, err, errlen) == -1)
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
	mix_changed(cl, id, &m, origin, out);
	return 200;
}

/*
 * A client's change: committed and confirmed, or refused with the mix
 * unchanged and the reason, which the session passes on to the client.
 */
static void
mix_request(struct client *cl, const struct mix_patch *p)
{
	char err[200], why[256];
	int rc;

	/* Waiting for approval: kept for then, nothing sent meanwhile. */
	if (cl->pending && mix_patch_apply(&cl->held, p, addressable(cl), err,
	    sizeof(err)) == 0) {
		tell_session(cl, ORIGIN_CLIENT, "waiting for the engineer's "
		    "approval: no audio until then");
		return;
	}
	if ((rc = session_mix_commit(cl->id, p, ORIGIN_CLIENT, NULL, err,
	    sizeof(err))) != 200) {
		log_warnx("client %s: mix change refused (%d): %s", cl->id, rc,
		    err);
		snprintf(why, sizeof(why), "mix change not saved: %s", err);
		tell_session(cl, ORIGIN_CLIENT, why);
	}
}

static void
counters(struct client *cl, const struct msg_session_stats *st)
{
	cl->sent = st->sent;
	cl->stats_ms = clock_mono_ms();
	cl->dropping = st->dropped > cl->dropped;
	if (st->dropped > cl->dropped)	/* a session's counts only grow */
		sv.periods_dropped += st->dropped - cl->dropped;
	cl->dropped = st->dropped;
	cl->lost = st->lost;
}

/* A server mix's post-mix levels, kept for the next meters event. */
static void
levels(struct client *cl, const struct msg_session_meters *m)
{
	memcpy(cl->pm_peak, m->peak, sizeof(cl->pm_peak));
	memcpy(cl->pm_rms, m->rms, sizeof(cl->pm_rms));
	cl->pm_fresh = true;
}

void
session_dispatch(struct child *c, const struct msg *m)
{
	struct client *cl = c->client;
	const struct msg_session_exit *ex;

	switch (m->hdr.type) {
	case MSG_SESSION_MIX_REQ:
		mix_request(cl, MSG_BODY(m, struct mix_patch));
		break;
	case MSG_SESSION_STATS:
		counters(cl, MSG_BODY(m, struct msg_session_stats));
		break;
	case MSG_SESSION_METERS:
		levels(cl, MSG_BODY(m, struct msg_session_meters));
		break;
	case MSG_SESSION_EXIT:
		ex = MSG_BODY(m, struct msg_session_exit);
		counters(cl, &ex->stats);
		if (cl->reason[0] == '\0')
			snprintf(cl->reason, sizeof(cl->reason), "%s",
			    ex->reason);
		break;
	}
}

void
session_fault(struct client *cl)
{
	if (cl->reason[0] == '\0')
		snprintf(cl->reason, sizeof(cl->reason), "protocol");
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

/* How the listener left, written with this pass's others (supervisor_book.c). */
static void
record_exit(const struct client *cl)
{
	char ip[64];

	remote_ip(cl->remote, ip, sizeof(ip));
	book_exit(cl->id, ip, cl->reason, cl->replaced);
}

/* ---- records nobody needs: no name, no mix, gone a while ---- */

static struct event *sweep_ev;

static bool
is_live(const char *id)
{
	return session_find(id) != NULL;
}

static void
forgotten(const char *id)
{
	recent_forget(id);
	api_event("client_updated", json_pack("{s:s, s:b}", "id", id,
	    "deleted", 1));
}

static void
sweep(void)
{
	uint64_t now = clock_wall_ms();
	int n;

	if (sv.state == NULL || now < sv.cfg.forget_unused_ms)
		return;
	n = state_forget_unused(sv.state, now - sv.cfg.forget_unused_ms,
	    is_live, forgotten);
	if (n < 0)
		log_warnx("forgetting unused records: %s", state_strerror(
		    sv.state, n));
	else if (n > 0)
		log_info("forgot %d record%s with no name and no mix, last seen "
		    "over %.4g h ago", n, n == 1 ? "" : "s",
		    (double)sv.cfg.forget_unused_ms / 3600000.0);
}

/* Checked four times per forget-unused period, at least once an hour. */
void
session_sweep_start(void)
{
	uint64_t ms = sv.cfg.forget_unused_ms / 4;

	sweep_ev = super_every(ms < 1000 ? 1000 : ms > 3600000 ? 3600000 : ms,
	    sweep);
	sweep();
}

void
session_sweep_stop(void)
{
	if (sweep_ev != NULL)
		event_free(sweep_ev);
	sweep_ev = NULL;
}

/* POST /api/clients/ID/disconnect: its session ends, reason "kicked". */
int
session_kick(const char *id)
{
	struct client *cl = session_find(id);

	if (cl == NULL || cl->child == NULL)
		return -1;
	log_info("client %s: disconnected by the engineer", id);
	snprintf(cl->reason, sizeof(cl->reason), "kicked");
	child_kill(cl->child, SIGTERM);
	return 0;
}

/*
 * A session of a previous ringcastd: known again with what it says of
 * itself.  Should the saved record hold a later committed mix (we died
 * between its commit and telling the session), the record wins.
 */
void
session_adopt(struct child *c, const struct msg_session_start *m,
    const struct msg_session_stats *st)
{
	struct state_record rec;
	struct client *cl, *old;
	bool found = false;

	if ((cl = calloc(1, sizeof(*cl))) == NULL) {
		log_warn("session[%d]", (int)c->pid);
		child_end(c);
		return;
	}
	snprintf(cl->id, sizeof(cl->id), "%s", m->persistent_id);
	snprintf(cl->remote, sizeof(cl->remote), "%s", m->remote);
	cl->hello = m->hello;
	cl->mix = m->mix;
	cl->since_ms = m->since_ms;
	cl->player = m->kind == CLIENT_WAV;
	cl->player_mix = cl->player && m->hello.server_mix;
	cl->child = c;
	c->client = cl;
	counters(cl, st);
	/* The same identity twice (a replaced session not gone yet). */
	if ((old = session_find(cl->id)) != NULL) {
		if (old->since_ms <= cl->since_ms)
			replace(old);
		else {
			cl->replaced = true;
			snprintf(cl->reason, sizeof(cl->reason), "replaced");
			child_end(c);
		}
	}
	TAILQ_INSERT_TAIL(&clients, cl, entry);
	if (cl->player)
		player_seq_note(cl->id);
	else if (sv.state != NULL && state_get(sv.state, cl->id, &rec) ==
	    STATE_OK) {
		found = true;
		if (!mix_equal(&rec.mix, &cl->mix)) {
			log_info("client %s: its saved mix is newer than its "
			    "session's: sent", cl->id);
			cl->mix = rec.mix;
			mix_fit(cl);
			(void)tell_session(cl, ORIGIN_WEB, NULL);
		}
	}
	api_event("client_connected", session_entry(found ? &rec : NULL, cl));
}

int
session_approve(const char *id, char *err, size_t errlen)
{
	struct client *cl = session_find(id);
	struct state_record rec;
	char ip[64];
	bool found;
	int rc;

	if (cl == NULL || cl->player) {
		snprintf(err, errlen, "no such client connected");
		return 404;
	}
	if (!cl->pending) {
		snprintf(err, errlen, "already admitted");
		return 409;
	}
	remote_ip(cl->remote, ip, sizeof(ip));
	record_load(cl->id, &cl->hello, ip, &rec, &found);
	rec.mix = cl->held;
	if ((rc = state_put(sv.state, &rec)) != STATE_OK) {
		snprintf(err, errlen, "not saved: %s", state_strerror(sv.state,
		    rc));
		return 500;
	}
	cl->pending = false;
	log_info("client %s: approved by the engineer", cl->id);
	api_event("client_updated", session_entry(&rec, cl));
	mix_changed(cl, cl->id, &cl->held, ORIGIN_WEB, NULL);
	return 200;
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

/* The identities a record was known by before (app launches it took over). */
static json_t *
aliases_json(const struct state_record *rec)
{
	json_t *a = json_array();
	uint32_t i;

	for (i = 0; rec != NULL && a != NULL && i < rec->naliases; i++)
		json_array_append_new(a, json_string(rec->aliases[i]));
	return a;
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
	const char *name = rec == NULL ? cl->hello.name : rec->name[0] ?
	    rec->name : rec->device;
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
	json_object_set_new(o, "kind", json_string(cl && cl->player ? "wav" :
	    "native"));
	json_object_set_new(o, "server_mix", json_boolean(cl &&
	    cl->hello.server_mix));
	json_object_set_new(o, "saved", json_boolean(rec != NULL));
	json_object_set_new(o, "pid", cl && cl->child ?
	    json_integer(cl->child->pid) : json_null());
	json_object_set_new(o, "version", cl && cl->child &&
	    cl->child->version[0] ? json_string(cl->child->version) :
	    json_null());
	json_object_set_new(o, "remote", cl ? json_string(cl->remote) :
	    json_null());
	entry_times(o, rec, cl);
	json_object_set_new(o, "periods_sent", json_integer(cl ?
	    (json_int_t)cl->sent : 0));
	json_object_set_new(o, "periods_dropped", json_integer(cl ?
	    (json_int_t)cl->dropped : 0));
	json_object_set_new(o, "last_exit", rec && rec->last_exit[0] ?
	    json_string(rec->last_exit) : json_null());
	json_object_set_new(o, "aliases", aliases_json(rec));
	if (cl != NULL && cl->pending)
		json_object_set_new(o, "pending", json_true());
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
session_end_all(const char *reason)
{
	struct client *cl;

	TAILQ_FOREACH(cl, &clients, entry) {
		if (cl->reason[0] == '\0')
			snprintf(cl->reason, sizeof(cl->reason), "%s", reason);
		if (cl->child != NULL)
			child_end(cl->child);
	}
}
