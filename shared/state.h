/* state.h — each listener's saved mix in LMDB (docs/STATE.md). */
#ifndef RINGCAST_STATE_H
#define RINGCAST_STATE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "shared/mix.h"

/*
 * One environment in the state directory, three named databases:
 *   "clients": key = identity (device_uuid, else client_id), value = compact
 *              JSON {"v": 1, "name": ..., "mix": {...}, ...} (docs/STATE.md)
 *   "aliases": key = an identity a record was known by before (a phone's
 *              earlier app launch), value = the identity it is kept under
 *   "meta":    key "schema_version" = "1" (ASCII), key "created" = unix ms
 * Only the supervisor writes; `ringcast state` reads it while ringcastd runs.
 *
 * No LMDB handle may cross a fork: a process opens its own struct state
 * after its last fork, or its children must not touch the inherited one
 * (they exec at once).  A struct state is used by one thread, and the
 * callback of state_each must not call other state functions (each call
 * ends its own transaction; a nested one is a bug LMDB reports).
 */

#define STATE_SCHEMA_VERSION	1
#define STATE_RECORD_VERSION	1	/* the "v" of each clients value */
#define STATE_ID_MAX		128
#define STATE_MAX_IDS_DEFAULT	1000
#define STATE_MAP_SIZE_DEFAULT	(64u << 20)
#define STATE_RECORD_MAX	(64 * 1024)	/* a larger value is rejected */
#define STATE_ALIASES_MAX	8	/* earlier identities kept, newest last */

enum {
	STATE_OK = 0,
	STATE_NOTFOUND = 1,
	STATE_ESYS = -1,	/* errno says why */
	STATE_ELMDB = -2,	/* an LMDB call failed: state_strerror() */
	STATE_EFULL = -3,	/* map full: the change was not committed */
	STATE_ESCHEMA = -4,	/* environment has another schema version */
	STATE_ERECORD = -5,	/* a stored value does not decode */
	STATE_EINVAL = -6,	/* bad identity or argument */
};

struct state_record {
	char		id[STATE_ID_MAX];
	char		name[128];		/* the engineer's name for it ("" = none) */
	char		device[128];		/* the name its app gave ("" = none) */
	int32_t		order;			/* position in the engineer's list */
	struct mix	mix;
	uint64_t	first_seen_ms;		/* unix ms */
	uint64_t	last_seen_ms;
	uint32_t	reconnects;
	char		last_exit[32];		/* "" until a session ended */
	uint32_t	stalls;			/* sessions ended "stalled" */
	uint32_t	timeouts;		/* ...and "timeout" (peer gone) */
	char		last_addr[64];		/* IP of its last session, "" */
	uint32_t	naliases;
	char		aliases[STATE_ALIASES_MAX][STATE_ID_MAX];
};

struct state;

/*
 * Open (creating dir and environment if missing, unless readonly) and check
 * the schema; clears stale reader slots.  nch is the ring's channel count
 * (records are clamped to it).  max_ids 0 = STATE_MAX_IDS_DEFAULT, map_size 0
 * = STATE_MAP_SIZE_DEFAULT; a readonly open ignores map_size and uses the
 * writer's.  On error, err holds a sentence for the operator.
 */
int	state_open(const char *dir, bool readonly, uint32_t nch, uint32_t max_ids,
	    size_t map_size, struct state **out, char *err, size_t errlen);
void	state_close(struct state *s);
/* The ring has another channel count now (capture reconfigured). */
void	state_set_channels(struct state *s, uint32_t nch);

/*
 * 0 and *rec filled, STATE_NOTFOUND, or an error.  An identity that is an
 * alias finds the record it belongs to (rec->id then says which).
 */
int	state_get(struct state *s, const char *id, struct state_record *rec);
/*
 * In one committed transaction: the record of old is kept under new from
 * now on, old (and its own aliases) become aliases of new.  new must have
 * no record.  STATE_NOTFOUND if old has none.
 */
int	state_rename(struct state *s, const char *old, const char *new);
/*
 * Whether a record is worth keeping: the engineer named it, or its mix
 * subscribes a channel.  (A phone's own device name is no reason.)
 */
bool	state_record_used(const struct state_record *rec);
/*
 * In one committed transaction, forget every record that is not used and
 * was last seen before before_ms, except those keep() says are live;
 * gone(), if not NULL, hears each identity (it may not call state
 * functions).  Returns how many were forgotten, or an error.
 */
int	state_forget_unused(struct state *s, uint64_t before_ms,
	    bool (*keep)(const char *id), void (*gone)(const char *id));
/*
 * Store rec in one committed transaction (the caller acknowledges the change
 * only after 0 is returned).  If this adds an identity beyond max_ids, the
 * longest unseen other identity is evicted in the same transaction.
 */
int	state_put(struct state *s, const struct state_record *rec);
/*
 * In one committed transaction, or not at all: each record replaces the
 * saved one of its identity (its aliases with it), the others stay.
 * STATE_EINVAL (err says which) when an identity or alias appears twice
 * among them, when an identity is an alias of another saved record, or an
 * alias is another record's identity or alias; STATE_EFULL when more than
 * max_ids identities would be saved.
 */
int	state_import(struct state *s, const struct state_record *recs,
	    size_t n);
/* Delete a record (found by its identity or an alias) and its aliases. */
int	state_del(struct state *s, const char *id);
/*
 * Many records changed in one transaction, committed once: for each of
 * ids, fn(i, rec, found, arg) gets its record (a fresh one when !found,
 * first seen 0) and returns true to write it back.  0, or an error (then
 * nothing was written).
 */
typedef bool (*state_update_fn)(size_t i, struct state_record *rec,
    bool found, void *arg);
int	state_update(struct state *s, const char *const *ids, size_t n,
	    state_update_fn fn, void *arg);
/* Call fn for every record in key order; stops early if fn returns non-zero. */
int	state_each(struct state *s, int (*fn)(const struct state_record *, void *),
	    void *arg);
uint32_t state_count(struct state *s);

/* Fresh record for a new identity: defaults, first/last seen = wall_ms. */
void	state_record_init(struct state_record *rec, const char *id, uint32_t nch,
	    uint64_t wall_ms);
/*
 * The record codec (what LMDB stores), also used by tools, the broker
 * (imports) and fuzzing; shared/state_record.c, which needs no LMDB.
 * Decoding is total: any input gives a record or STATE_ERECORD, err
 * saying why; channels at or beyond nch are left at their defaults.
 */
#define STATE_RECORD_JSON_FLAGS	(JSON_COMPACT | JSON_REAL_PRECISION(15))
json_t	*state_record_json(const struct state_record *rec);
int	state_record_decode(const void *data, size_t len, uint32_t nch,
	    struct state_record *rec);
int	state_record_parse(const void *data, size_t len, uint32_t nch,
	    struct state_record *rec, char *err, size_t errlen);
int	state_record_from_json(const json_t *o, uint32_t nch,
	    struct state_record *rec, char *err, size_t errlen);
/* Whether a record that came over a channel is well formed. */
bool	state_record_valid(const struct state_record *rec);

/*
 * The "meta" database's other keys (e.g. "channel_names", a JSON array):
 * get copies the value NUL-terminated into buf (STATE_NOTFOUND if absent),
 * put commits it.
 */
int	state_meta_get(struct state *s, const char *key, char *buf, size_t len);
int	state_meta_put(struct state *s, const char *key, const char *value);

const char *state_strerror(struct state *s, int err);

/* 1..127 bytes of printable ASCII: what an identity (a key) may be. */
bool	state_id_valid(const char *id);
/*
 * Clear reader slots left by dead processes (a killed `ringcast state`),
 * which would otherwise keep old pages from reuse.  state_open and
 * state_put do this too.  Returns the number cleared or an error.
 */
int	state_reader_check(struct state *s);
/*
 * Whether another process has the environment in dir open (ringcastd, or
 * a reader): 1 with *pid set to one of them, 0 if none, -1 (errno) if it
 * cannot be told.  Call it without holding the environment open yourself.
 */
int	state_busy(const char *dir, pid_t *pid);

#endif
