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
	char		 source[PATH_MAX];
	char		 ring[64];
	char		 user[64];		/* "" = children keep our uid */
	char		 chroot_dir[PATH_MAX];	/* "" = <state>/empty, "none" */
	char		 channel_names[4096];	/* "Kick, Snare, ..." */
	char		 web_dir[PATH_MAX];	/* "" = found next to the programs */
	struct config_list publish;		/* rtp://GROUP:PORT?... */
	char		 mcast_if[IF_NAMESIZE];	/* "" = the routing table's */
	char		 sap[64];		/* HOST:PORT announced to */
	uint32_t	 sap_interval;		/* seconds */
	uint32_t	 jitter_ms;		/* network sources */
	uint32_t	 channels, rate, period;
	uint32_t	 max_clients;
	uint32_t	 stall_ms, user_timeout_ms;
	uint32_t	 capture_stall_ms;	/* the watchdog's limit */
	uint32_t	 affinity_minutes;	/* app restarts: 0 = off */
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

/* ---- the process table (supervisor_child.c) ---- */

enum child_kind {
	CHILD_CAPTURE,
	CHILD_BROKER,
	CHILD_SESSION,
	CHILD_PUBLISH,
	CHILD_KINDS
};

struct client;

struct child {
	enum child_kind	 kind;
	pid_t		 pid;
	int		 chan;		/* our end of the channel, -1 once closed */
	struct event	*ev;
	bool		 ready;
	uint64_t	 spawned_ms;	/* monotonic */
	uint64_t	 ready_ms;
	struct client	*client;	/* sessions: the listener it serves */
	char		 version[32];	/* what it said in MSG_READY */
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

const char *child_name(const struct child *c);
/*
 * fork + exec path with argv: the channel on fd 3, fds[i] on 4 + i, stdin
 * /dev/null, every other descriptor closed.  NULL on failure (logged).
 */
struct child *child_spawn(enum child_kind kind, const char *path,
	    char *const argv[], const int *fds, int nfds);
/* A message to the child (shared/msg.h); -1 with errno if it did not go. */
int	child_send(struct child *c, uint32_t type, const void *body, size_t len,
	    const void *tail, size_t taillen);
/* Close our end of the channel: the child exits on EOF. */
void	child_close(struct child *c);
void	child_signal_all(int sig);
int	child_count(void);
/* Reap every exited child (SIGCHLD). */
void	child_reap(void);
/* Test only (--test-probes): a probe to "broker", "capture", "session:ID". */
int	child_probe(const struct api_probe *p, char *err, size_t errlen);
/* Describe a wait status: "exit 1", "signal 9 (Killed)". */
void	child_status_str(int status, char *buf, size_t len);

void	service_init(struct service *s, const char *name, enum child_kind kind);
void	service_start(struct service *s);
void	service_stop(struct service *s);
/* The service's child became ready / exited. */
void	service_ready(struct service *s);
void	service_exited(struct service *s, int status);

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
	TAILQ_ENTRY(client) entry;
};
TAILQ_HEAD(client_list, client);

/* MSG_BROKER_CLIENT: serve the client on fd (closed here) or refuse it. */
void	session_broker_client(int fd, const struct msg_client *m);
/* A session's message (msg_recv checked that a session may send it). */
void	session_dispatch(struct child *c, const struct msg *m);
/* Its session broke the channel protocol: it ends with reason "protocol". */
void	session_fault(struct client *cl);
void	session_exited(struct child *c, int status);
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
uint64_t session_live_dropped(void);
/* {"clients": [{"id", "periods_sent", "periods_dropped", "lost"}...]} */
json_t	*session_stats_json(void);
/* {"ID": {"peak": [l, r], "rms": [l, r]}} of server mixes with new levels. */
json_t	*session_meters_json(void);
void	session_stop_all(void);
/* Who left from where, for app restarts (at start, from the records). */
void	session_recent_load(void);
/* Forgetting unused records, every so often. */
void	session_sweep_start(void);
void	session_sweep_stop(void);
/* End id's session with reason "kicked"; -1 if it has none. */
int	session_kick(const char *id);

/* ---- the broker's requests (supervisor_api.c) ---- */

/* A routed request from the broker: answered with one MSG_BROKER_REPLY. */
void	api_request(struct child *broker, const struct msg_api_request *r);
/* An event for /api/events subscribers, if there are any.  Steals data. */
void	api_event(const char *event, json_t *data);
/* Channel names: defaults, the config file, then what the UI saved. */
void	api_channels_load(void);
json_t	*api_channel_names(void);
json_t	*api_capture_json(void);

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
int	ingest_args(char **argv, int n, int *fds, int *nfds);
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

#define SUPER_REASONS	14

struct super {
	struct config		 cfg;
	struct event_base	*base;
	struct service		 capture;
	struct service		 broker;
	struct state		*state;		/* NULL until opened */
	int			 native_fd, http_fd;
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
	uint64_t		 done_sent, done_dropped;	/* ended sessions */
	uint64_t		 disconnects[SUPER_REASONS];
	uint64_t		 sandbox_violations;	/* children killed by SIGSYS */
	uint64_t		 faults[CHILD_KINDS];	/* channel faults, by child_kind */
};

extern struct super sv;

extern const char *const super_reasons[SUPER_REASONS];
void	super_count_disconnect(const char *reason);
void	super_child_ready(struct child *c);
void	super_child_gone(void);
void	super_capture_state(const struct msg_capture_state *m);
const char *super_prog(const char *name);
/* The machine's LAN addresses with our ports, when bound to a wildcard. */
json_t	*super_lan_addresses(void);

#endif
