/* supervisor.h — internal interface of ringcastd, the supervisor. */
#ifndef RINGCAST_SUPERVISOR_H
#define RINGCAST_SUPERVISOR_H

#include <sys/queue.h>
#include <sys/types.h>

#include <net/if.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <event2/event.h>
#include <jansson.h>

#include "shared/mix.h"
#include "shared/msg.h"
#include "shared/proto.h"
#include "shared/ring.h"
#include "shared/sandbox.h"
#include "shared/state.h"

#define SUPER_NATIVE_DEFAULT	"0.0.0.0:5101"
#define SUPER_HTTP_DEFAULT	"0.0.0.0:5100"
#define SUPER_STATE_DEFAULT	"/var/lib/ringcast"
#define SUPER_MAX_CLIENTS	256
#define SUPER_CHANNELS_DEFAULT	8	/* the ring's until a source says ("max") */
#define SUPER_OPEN_MS		8000	/* a capture opens its source within */
#define SUPER_STOP_GRACE_MS	3000	/* SIGTERM to SIGKILL at stop */
#define SUPER_FLOOR_MS		1000	/* least time between two spawns */
#define SUPER_STEADY_MS		1000	/* ready this long: a crash is no failure */
#define SUPER_BACKOFF_CAP_MS	30000
#define SUPER_LOOP_DEATHS	5	/* this many failures ... */
#define SUPER_LOOP_WINDOW_MS	10000	/* ... within this: crash loop */

/* ---- configuration (supervisor_config.c) ---- */

#define CONFIG_LIST_MAX		8	/* entries of a repeatable key */
#define CONFIG_LIST_LEN		512

/* A key that may be given more than once (publish). */
struct config_list {
	uint32_t	 n;
	char		 item[CONFIG_LIST_MAX][CONFIG_LIST_LEN];
};

struct config {
	char		 file[PATH_MAX];	/* -f, "" for none */
	char		 native[256];		/* HOST:PORT */
	char		 http[256];
	char		 state_dir[PATH_MAX];
	char		 source[MSG_SOURCE_MAX];	/* "auto", "tone", ... */
	char		 ring[64];
	char		 user[64];		/* "" = children keep our uid */
	char		 chroot_dir[PATH_MAX];	/* "" = <state>/empty, "none" */
	char		 channel_names[4096];	/* "Kick, Snare, ..." */
	char		 web_dir[PATH_MAX];	/* "" = found next to the programs */
	char		 auth[8];		/* auto | on | off */
	char		 admit[16];		/* open | known | approve */
	char		 metrics_public[8];	/* yes | no */
	char		 tls_cert[PATH_MAX];	/* "": plain HTTP */
	char		 tls_key[PATH_MAX];
	struct config_list publish;		/* rtp://GROUP:PORT?... */
	char		 mcast_if[IF_NAMESIZE];	/* "" = the routing table's */
	char		 sap[64];		/* HOST:PORT announced to */
	uint32_t	 sap_interval;		/* seconds */
	uint32_t	 jitter_ms;		/* network sources */
	uint32_t	 channels, rate, period;	/* channels 0: "max" */
	uint32_t	 max_clients;
	uint32_t	 stall_ms, user_timeout_ms;
	uint32_t	 capture_stall_ms;	/* the watchdog's limit */
	uint32_t	 affinity_minutes;	/* app restarts: 0 = off */
	uint32_t	 orphan_grace_s;	/* children without us, then exit */
	uint64_t	 forget_unused_ms;	/* records with no name nor mix */
	/* The broker's limits; 0 = its defaults (broker/broker.h). */
	uint32_t	 handshake_ms, request_ms;
	uint32_t	 max_pending, max_pending_per_addr;
	int		 notify_fd;		/* -1 = none */
	int		 verbose;
	bool		 check_only;		/* -n */
	bool		 test_probes;		/* --test-probes (tests only) */
	/* resolved by config_check */
	uid_t		 uid;
	gid_t		 gid;
	gid_t		 groups[SANDBOX_GROUPS_MAX];	/* capture's: the user's */
	int		 ngroups;
	bool		 drop;			/* user set and we are root */
	bool		 auth_on;		/* auth resolved (auto: not loopback) */
	int		 admit_mode;		/* enum admit */
};

/* Native admission (docs/SECURITY.md): the deployed app has no credential. */
enum admit {
	ADMIT_OPEN,		/* every identity */
	ADMIT_KNOWN,		/* identities with a record */
	ADMIT_APPROVE,		/* others wait, silent, for the engineer */
};

/* Command line, then the file it names, command line winning; 0 or -1 + err. */
int	config_load(struct config *c, int argc, char *argv[], char *err,
	    size_t errlen);
/* Re-read the file with the same command line into c (for SIGHUP). */
int	config_reload(struct config *c, char *err, size_t errlen);
/* Everything that can be checked without binding or forking. */
int	config_check(struct config *c, char *err, size_t errlen);
void	config_usage(void);
/*
 * The configuration's channel-names: "Kick, Snare, ...", split at commas,
 * blanks trimmed, each 1..63 bytes; at most max of them.  0, or -1 with err
 * saying which name is wrong.
 */
int	channel_names_parse(const char *list, uint32_t max,
	    char names[][64], uint32_t *n, char *err, size_t errlen);
/* A source as the configuration or the API names it: 0, or -1 with err. */
int	config_source_check(const char *src, char *err, size_t errlen);

/* ---- the process table (supervisor_child.c) ---- */

enum child_kind {
	CHILD_CAPTURE,
	CHILD_BROKER,
	CHILD_SESSION,
	CHILD_LISTER,		/* ringcast-capture --list-devices */
	CHILD_PUBLISH,
	CHILD_KINDS
};

struct client;

struct child {
	enum child_kind	 kind;
	pid_t		 pid;
	int		 chan;		/* our end of the channel, -1 once closed */
	struct event	*ev;
	int		 pidfd;		/* adopted: how we see it end; else -1 */
	struct event	*pidfd_ev;
	bool		 adopted;	/* started by a previous ringcastd */
	bool		 retiring;	/* an upgrade's predecessor: not restarted */
	bool		 ready;
	uint64_t	 spawned_ms;	/* monotonic */
	uint64_t	 ready_ms;
	struct client	*client;	/* sessions: the listener it serves */
	char		 version[32];	/* what it said in MSG_READY */
	bool		 opened;	/* capture: MSG_CAPTURE_OPENED came */
	struct event	*open_ev;	/* capture: the bound on opening */
	LIST_ENTRY(child) entry;
};

/* A restartable child (capture, broker): the s6-supervise state machine. */
struct service {
	const char	*name;
	enum child_kind	 kind;
	struct child	*child;		/* running, or NULL */
	struct event	*restart_ev;
	uint64_t	 last_spawn_ms;
	uint32_t	 fails;		/* consecutive failures */
	uint64_t	 deaths[SUPER_LOOP_DEATHS];	/* ring of failure times */
	uint32_t	 ndeaths;
	bool		 looping;	/* the crash-loop verdict was given */
	uint64_t	 restarts;
	bool		 ever_ready;
	char		 last_exit[64];
};

/* An adopted child's wait status when it was not ours to wait for. */
#define CHILD_STATUS_UNKNOWN	(-1)

const char *child_name(const struct child *c);
enum msg_role child_role(const struct child *c);
/*
 * fork + exec of the program words[0] (found by super_prog) with the rest
 * of words as its arguments: the channel on fd 3, fds[i] on 4 + i, stdin
 * /dev/null, every other descriptor closed.  NULL on failure (logged).
 */
struct child *child_spawn(enum child_kind kind, const char *const *words,
	    const int *fds, int nfds);
/* A message to the child (shared/msg.h); -1 with errno if it did not go. */
int	child_send(struct child *c, uint32_t type, const void *body, size_t len,
	    const void *tail, size_t taillen);
/*
 * A child of a previous ringcastd, whose channel is now chan (its
 * connection at the rendezvous) and whose end pidfd tells.  NULL (both
 * descriptors closed) on failure.
 */
struct child *child_adopt(enum child_kind kind, pid_t pid, int pidfd, int chan,
	    const char *version);
/* The same with a descriptor (the types the table gives one). */
int	child_send_fd(struct child *c, uint32_t type, const void *body,
	    size_t len, int fd);
/* A capture that opens source with channels (0: max), then awaits its ring. */
struct child *child_spawn_capture(const char *source, uint32_t channels);
/* Close our end of the channel (an adoptable child goes on, an orphan). */
void	child_close(struct child *c);
/* A signal to the child, through its pidfd when it has one. */
void	child_kill(struct child *c, int sig);
/* End it: the channel closed, SIGTERM. */
void	child_end(struct child *c);
void	child_signal_all(int sig);
int	child_count(void);
/* Reap every exited child (SIGCHLD). */
void	child_reap(void);
/* Test only (--test-probes): a probe to "broker", "capture", "session:ID". */
int	child_probe(const struct api_probe *p, char *err, size_t errlen);
/* Describe a wait status: "exit 1", "signal 9 (Killed)". */
void	child_status_str(int status, char *buf, size_t len);

void	service_init(struct service *s, const char *name, enum child_kind kind);
/* Run the service with an adopted child instead of starting one. */
void	service_adopt(struct service *s, struct child *c);
void	service_start(struct service *s);
void	service_stop(struct service *s);
/* The service's child became ready / exited. */
void	service_ready(struct service *s);
void	service_exited(struct service *s, struct child *c, int status);

/* ---- listeners (supervisor_session.c) ---- */

struct client {
	char		 id[STATE_ID_MAX];
	struct child	*child;		/* NULL once the session is gone */
	struct proto_hello hello;
	struct mix	 mix;		/* the last committed mix */
	char		 remote[64];
	uint64_t	 since_ms;	/* unix ms */
	uint64_t	 sent, dropped, lost;
	char		 reason[32];	/* why the session ended */
	bool		 replaced;	/* a newer session took this identity */
	bool		 player;	/* a /stream.wav player: never saved */
	float		 pm_peak[2], pm_rms[2];	/* post-mix levels, server mix */
	bool		 pm_fresh;	/* new since the last meters event */
	bool		 player_mix;	/* ...with &mix=1: a stereo mix */
	char		 follows[STATE_ID_MAX];	/* a player of a listener's
					 * own mix (its token): that listener */
	bool		 pending;	/* admit approve: not yet approved */
	struct mix	 held;		/* ...the mix it asked for meanwhile */
	uint64_t	 stats_ms;	/* monotonic: its last stats report */
	bool		 dropping;	/* that report counted new drops */
	TAILQ_ENTRY(client) entry;
};
TAILQ_HEAD(client_list, client);

/* MSG_BROKER_CLIENT: serve the client on fd (closed here) or refuse it. */
void	session_broker_client(int fd, const struct msg_client *m);
/* Adoption is over: clients passed again are served (or found served). */
void	session_agains_flush(void);
/* A session's message (msg_recv checked that a session may send it). */
void	session_dispatch(struct child *c, const struct msg *m);
/* Its session broke the channel protocol: it ends with reason "protocol". */
void	session_fault(struct client *cl);
void	session_exited(struct child *c, int status);
/* A session of a previous ringcastd, with what it said of itself. */
void	session_adopt(struct child *c, const struct msg_session_start *m,
	    const struct msg_session_stats *st);
/* The connected client of identity id, or NULL. */
struct client *session_find(const char *id);
uint32_t session_count(void);
/*
 * Apply a change to id's mix (shared/mix.h: the one validation), commit,
 * and on success tell its session.  For a disconnected identity only the
 * record changes.  Returns an HTTP-like status: 200, 400 (err says why),
 * 404 (unknown id), 409 (a WAV stream's fixed channels), 500 (not
 * committed).
 */
int	session_mix_commit(const char *id, const struct mix_patch *p,
	    enum msg_origin origin, struct mix *out, char *err, size_t errlen);
/* The /api/clients entry of a record and/or a connected client. */
json_t	*session_entry(const struct state_record *rec, const struct client *cl);
/* Append the entries of connected identities that have no record. */
void	session_unsaved_entries(json_t *arr);
/* {"clients": [{"id", "periods_sent", "periods_dropped", "lost"}...]} */
json_t	*session_stats_json(void);
/* {"ID": {"peak": [l, r], "rms": [l, r]}} of server mixes with new levels. */
json_t	*session_meters_json(void);
/* End every session with this reason (shutdown, reconfigured). */
void	session_end_all(const char *reason);
/* Who left from where, for app restarts (at start, from the records). */
void	session_recent_load(void);
/* One who left, and from where (a listener whose record is used). */
void	session_recent_note(const char *id, const char *ip, uint64_t left_ms);
/* Forgetting unused records, every so often. */
void	session_sweep_start(void);
void	session_sweep_stop(void);
/* End id's session with reason "kicked"; -1 if it has none. */
int	session_kick(const char *id);
/* Admit approve: id may stream (its record is saved).  200, 404 or 409. */
int	session_approve(const char *id, char *err, size_t errlen);

/* ---- credentials and admission (supervisor_auth.c) ---- */

/* The config's auth, admit, metrics-public and TLS keys, resolved. */
int	auth_config_check(struct config *c, char *err, size_t errlen);
/* The broker's words for them; returns the new word count. */
int	auth_broker_words(const char **words, int n);
/* Watch the token table (after state_open); stop at the end. */
void	auth_start(void);
void	auth_stop(void);
/* The broker is ready: it gets the table. */
void	auth_broker_ready(void);
void	auth_stats(const struct msg_auth_stats *m);
/* The broker's last counts of refused credentials, for /metrics. */
const struct msg_auth_stats *auth_counts(void);
/* POST /api/clients/ID/link: a listener token, its link and QR code. */
json_t	*auth_link(const char *id, const char *origin, int *status);
/*
 * Whether cl's session is healthy: ready, reporting, not dropping.  A
 * connection from another address may not take a healthy one over.
 */
bool	auth_session_healthy(const struct client *cl);

/* ---- bookkeeping of connects and exits (supervisor_book.c) ---- */

/* A connect: applied to rec now, written to the state with the pass's. */
void	book_connect(struct state_record *rec, bool found, const char *ip,
	    const char *device);
void	book_exit(const char *id, const char *ip, const char *reason,
	    bool replaced);
/* Written now (at a stop, or when the notes are many). */
void	book_flush(void);
void	book_stop(void);

/* ---- the broker's requests (supervisor_api.c) ---- */

/*
 * A routed request from the broker (and its tail: an import's records):
 * answered with one MSG_BROKER_REPLY, now or later.
 */
void	api_request(struct child *broker, const struct msg_api_request *r,
	    const char *tail, size_t taillen);
/* An event for /api/events subscribers, if there are any.  Steals data. */
void	api_event(const char *event, json_t *data);
/* Channel names: defaults, the config file, then what the UI saved. */
void	api_channels_load(void);
json_t	*api_channel_names(void);
json_t	*api_capture_json(void);

/* A uint64_t counter of a record, for /metrics: its name, help, offset. */
struct metric_counter {
	const char	*name, *help;
	size_t		 off;
};
/* The counter field of a struct type, as ringcast_<what>_<name>_total. */
#define METRIC_COUNTER(what, type, field, name, help)			\
	{ "ringcast_" what "_" name "_total", help, offsetof(type, field) }
/*
 * Each counter of m, one sample for each of n records (rec, then every
 * stride bytes), labelled label="keys[i]"; label NULL: one record, no label.
 */
void	metric_counters(FILE *f, const struct metric_counter *m, size_t nm,
	    const char *label, const char *const *keys, const void *rec,
	    size_t stride, int n);

/* ---- adoption (supervisor_adopt.c) ---- */

/* The installation's key, made once in the state directory. */
int	adopt_key_load(char *err, size_t errlen);
/* A new child's first message: its secret, and how long to outlive us. */
void	adopt_key_send(struct child *c);
/* At start: find the previous instance's children and hear their proofs. */
void	adopt_gather(void);
/* The adopted broker's listening sockets (ours now); false if none. */
bool	adopt_listeners(int *native, int *http);
/* Whether an adopted capture, session or publisher uses the ring (kept). */
bool	adopt_audio(void);
/*
 * Capture and broker to their services; then, with the state open, the
 * sessions (a slow one from the loop, when it speaks).
 */
void	adopt_services(void);
void	adopt_sessions(void);
/*
 * The proven publisher of stream name, if fits(arg, what it sends) (one
 * that does not fit is dismissed); NULL if none.  Then, once every stream
 * had its turn, the publishers no stream claimed are dismissed.
 */
struct child *adopt_publisher(const char *name, bool (*fits)(void *,
	    const struct msg_adopt_publish *), void *arg);
void	adopt_publishers_done(void);
/* Whether sessions of a previous instance may still be adopted. */
bool	adopt_pending(void);
/* End what would use a ring we cannot keep. */
void	adopt_abandon(const char *why);
/* At the end: whatever was not adopted is let go. */
void	adopt_done(void);

/* ---- upgrades (supervisor_upgrade.c) ---- */

/*
 * At start: remember how we were started; 1 when we are the new image of
 * an upgrade, with the ring's lock inherited in *lock_fd, else 0.
 */
int	upgrade_init(int argc, char *argv[], int *lock_fd);
/* SIGUSR2: exec the ringcastd at our path (returns only on failure). */
void	upgrade_exec(void);
/* After adoption, in the new image: replace broker, then capture. */
void	upgrade_start(void);
/* Whether a new capture must wait to take the ring over (--handover). */
bool	upgrade_handover(void);
void	upgrade_child_ready(struct child *c);
void	upgrade_child_gone(struct child *c);
void	upgrade_capture_retired(struct child *c,
	    const struct msg_capture_handover *h);
json_t	*upgrade_json(void);
/*
 * A reply that comes later than its request (a device list, a capture
 * switch: they wait for a process): to the broker that asked, if it is
 * still the one running.  Steals body.
 */
struct api_pending {
	uint32_t	 id;
	pid_t		 broker;
};
void	api_pending_take(struct api_pending *p, const struct child *broker,
	    uint32_t id);
void	api_pending_reply(struct api_pending *p, int status, json_t *body);
json_t	*api_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the capture's source (supervisor_source.c) ---- */

/* At start, once the state is open: a saved choice wins over the file. */
void	source_init(void);
/* What the next capture opens: the source, and channels (0: all). */
const char *source_next(uint32_t *channels);
/* {"source", "channels"} of what capture runs now. */
json_t	*source_current_json(void);
const char *source_current(void);
/* A capture of a previous ringcastd: what it runs. */
void	source_adopted(struct child *c, const struct msg_adopt_capture *m);
/* MSG_CAPTURE_OPENED from a capture: ring it, or switch to it. */
void	source_opened(struct child *c, const struct msg_capture_opened *m);
void	source_ready(struct child *c);
/* The service's capture ended (before service_exited). */
void	source_capture_exited(struct child *c, int status);
/* Another capture (a switch's) or a lister ended. */
void	source_child_exited(struct child *c, int status);
void	source_devices(struct child *c, const struct msg_capture_devices *m);
/* GET /api/devices and POST /api/capture: answered later. */
void	source_list(const struct child *broker, uint32_t id);
void	source_switch(const struct child *broker, uint32_t id,
	    const struct api_capture_set *set);
void	source_stop(void);

/* ---- imports of saved records (supervisor_import.c) ---- */

/*
 * One batch of POST /api/state/import (tail: its struct state_record):
 * an HTTP status and the answer in *out.
 */
int	import_batch(const struct api_import *b, const char *tail, size_t len,
	    json_t **out);
/* ---- published AES67 streams (supervisor_publish.c) ---- */

/* The publish entries: 0, or -1 with err naming the entry. */
int	publish_check(const struct config *c, char *err, size_t errlen);
/* Before any child: each stream's sockets, numbers and SDP; 0 or -1. */
int	publish_setup(char *err, size_t errlen);
void	publish_start_all(void);
void	publish_stop_all(void);
/* The service's spawn (supervisor_child.c calls it for CHILD_PUBLISH). */
struct child *publish_spawn(struct service *s);
void	publish_ready(struct child *c);
void	publish_exited(struct child *c, int status);
void	publish_state(struct child *c, const struct msg_publish_state *m);
/* The publisher of the stream called name, or NULL (probes). */
struct child *publish_child(const char *name);
/* GET /api/publish. */
json_t	*publish_json(void);
void	publish_metrics(FILE *f);

/* ---- a network source's sockets (supervisor_ingest.c) ---- */

bool	ingest_source(const char *source);
/* Before any child: the socket capture reads (or the SAP one); 0 or -1. */
int	ingest_setup(char *err, size_t errlen);
/* Capture's extra arguments and descriptor: the new argument count. */
int	ingest_args(const char **argv, int n, int *fds, int *nfds);
/* MSG_CAPTURE_JOIN: a socket on the announced group, if the source is sap:. */
void	ingest_join(struct child *c, const struct msg_capture_join *m);
/* The capture state's network part, NULL for the other sources. */
json_t	*ingest_json(void);
void	ingest_metrics(FILE *f);

/* ---- the capture watchdog (supervisor_watch.c) ---- */

void	watch_start(void);
void	watch_stop(void);

/* ---- live events for the web UI (supervisor_events.c) ---- */

void	events_start(void);
void	events_stop(void);

/* ---- the whole daemon (supervisor.c) ---- */

enum { ADOPT_ADOPTED, ADOPT_REFUSED, ADOPT_INCOMPATIBLE, ADOPT_RESULTS };

#define SUPER_REASONS	15

struct super {
	struct config		 cfg;
	struct event_base	*base;
	struct service		 capture;
	struct service		 broker;
	struct state		*state;		/* NULL until opened */
	int			 native_fd, http_fd;
	uint32_t		 channels;	/* the ring's now */
	int			 ring_fd;	/* O_RDONLY, for sessions */
	int			 ring_rw_fd;	/* O_RDWR, for capture alone */
	struct ring_reader	*ring;		/* our own read-only mapping */
	int			 ring_lock;	/* held for life: we own the ring */
	uint32_t		 subscribers;	/* the broker's event streams */
	char			 native_addr[128];	/* as bound */
	char			 http_addr[128];
	char			 libexec[PATH_MAX];
	uint64_t		 start_ms;
	bool			 announced;	/* the ready line was logged */
	bool			 stopping;

	/* what capture reported last */
	struct {
		char		 state[32];
		uint64_t	 epoch, xruns, overruns;
		bool		 stalled;	/* the watchdog's verdict */
		uint64_t	 stalls;
		struct msg_ingest ingest;	/* network sources */
	} cap;

	/* counters for /metrics */
	uint64_t		 connects;
	uint64_t		 refused;
	uint64_t		 periods_dropped;	/* by every session */
	uint64_t		 disconnects[SUPER_REASONS];
	uint64_t		 sandbox_violations;	/* children killed by SIGSYS */
	uint64_t		 faults[CHILD_KINDS];	/* channel faults, by kind */
	uint64_t		 adoptions[ADOPT_RESULTS];
	uint64_t		 book_commits, book_notes;	/* group commits */
};

extern struct super sv;

extern const char *const super_reasons[SUPER_REASONS];
void	super_count_disconnect(const char *reason);
void	super_child_ready(struct child *c);
void	super_child_gone(void);
void	super_capture_state(const struct msg_capture_state *m);
/* LMDB again, after a failed upgrade closed it: 0 or -1. */
int	super_state_reopen(void);
const char *super_prog(const char *name);
/*
 * (Re)create the ring with this channel count and open it again: the
 * read-write descriptor for capture, the read-only one for sessions, our
 * own mapping.  0, or -1 with err.
 */
int	super_ring_make(uint32_t channels, char *err, size_t errlen);
/* fn every ms milliseconds in our loop: a timer to event_free at the end. */
struct event *super_every(uint64_t ms, void (*fn)(void));
/* Stop and free such a timer (NULL afterwards); nothing if NULL. */
void	super_every_stop(struct event **ev);
/* The machine's LAN addresses with our ports, when bound to a wildcard. */
json_t	*super_lan_addresses(void);

#endif
