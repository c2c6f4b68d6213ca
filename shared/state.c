/* state.c — each listener's saved mix in LMDB: open, schema, records, bounds. */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/state.h"
#include "shared/state_lmdb.h"
#include "shared/text.h"

/*
 * Environment flags, and why:
 * - no MDB_NOSYNC / MDB_NOMETASYNC: a change is acknowledged only after its
 *   commit, and the commit must then survive a crash of the machine, not
 *   only of the process (writes are at human speed, fsync cost is moot);
 * - no MDB_NOTLS: every state call begins and ends its transaction in the
 *   one thread that owns the struct state, so thread-bound reader slots are
 *   never shared; LMDB then reports a nested read transaction as the bug
 *   it is (MDB_BAD_RSLOT) instead of letting it pin old pages;
 * - no MDB_NOLOCK, even read-only: ringcastd writes while readers read.
 */
#define STATE_MAXDBS		4	/* meta, clients, aliases, tokens */
#define STATE_FILE_MODE		0660	/* readers need write access to lock.mdb */
#define STATE_DIR_MODE		0750

struct state {
	MDB_env		*env;
	MDB_dbi		 clients;
	MDB_dbi		 aliases;
	bool		 has_aliases;	/* a read-only open of older state: no */
	MDB_dbi		 meta;
	bool		 readonly;
	uint32_t	 nch;
	uint32_t	 max_ids;
	char		 dir[PATH_MAX];
	char		 err[512];		/* the last error, for state_strerror */
};

/* One identity met while choosing whom to evict. */
struct victim {
	uint64_t	 seen;
	MDB_val		 key;			/* a copy, owned */
};


/* An LMDB failure as a state error: map full is its own, errno-class too. */
static int
lmdb_fail(struct state *s, int mrc, const char *what)
{
	if (mrc == MDB_MAP_FULL) {
		errbuf_set(s->err, sizeof(s->err), "state map of %s is full "
		    "(%s): the change was not saved; forget unused listeners "
		    "or raise the map size", s->dir, what);
		return STATE_EFULL;
	}
	errbuf_set(s->err, sizeof(s->err), "%s: %s: %s", s->dir, what,
	    mdb_strerror(mrc));
	if (mrc > 0) {
		errno = mrc;
		return STATE_ESYS;
	}
	return STATE_ELMDB;
}

static MDB_val
key_of(const char *k)
{
	MDB_val v = { .mv_size = strlen(k), .mv_data = (void *)(uintptr_t)k };

	return v;
}

/* What state_put stores: compact JSON that is known to decode again. */
static int
record_encode(struct state *s, const struct state_record *rec, char **text,
    size_t *len)
{
	struct state_record check;
	char why[256];
	json_t *o;

	*text = NULL;
	if (!state_id_valid(rec->id)) {
		errbuf_set(s->err, sizeof(s->err), "identity is not 1..%d bytes "
		    "of printable ASCII", STATE_ID_MAX - 1);
		return STATE_EINVAL;
	}
	o = state_record_json(rec);
	*text = o != NULL ? json_dumps(o, STATE_RECORD_JSON_FLAGS) : NULL;
	json_decref(o);
	if (*text == NULL) {
		errbuf_set(s->err, sizeof(s->err), "record of %s cannot be "
		    "encoded (name not UTF-8?)", rec->id);
		return STATE_EINVAL;
	}
	*len = strlen(*text);
	if (state_record_parse(*text, *len, MIX_MAX_CHANNELS, &check, why,
	    sizeof(why)) != STATE_OK) {
		errbuf_set(s->err, sizeof(s->err), "record of %s is invalid: %s",
		    rec->id, why);
		free(*text);
		*text = NULL;
		return STATE_EINVAL;
	}
	return STATE_OK;
}

/* ---- transactions ---- */

/* A reader whose map is smaller than the writer's grows it and retries. */
static int
txn_begin(struct state *s, unsigned int flags, MDB_txn **txn)
{
	int mrc;

	mrc = mdb_txn_begin(s->env, NULL, flags, txn);
	if (mrc == MDB_MAP_RESIZED) {
		if ((mrc = mdb_env_set_mapsize(s->env, 0)) == 0)
			mrc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	if (mrc != 0)
		return lmdb_fail(s, mrc, "mdb_txn_begin");
	return STATE_OK;
}


/* For the other parts of the state (shared/state_lmdb.h). */
int
state_txn(struct state *s, bool write, MDB_txn **txn)
{
	if (write && s->readonly) {
		errbuf_set(s->err, sizeof(s->err), "%s: opened read-only",
		    s->dir);
		return STATE_EINVAL;
	}
	return txn_begin(s, write ? 0 : MDB_RDONLY, txn);
}

int
state_lmdb_fail(struct state *s, int mrc, const char *what)
{
	return lmdb_fail(s, mrc, what);
}

/* ---- open ---- */

static int
dir_prepare(const char *dir, bool readonly, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT || readonly) {
			errbuf_set(err, errlen, "state directory %s: %s", dir,
			    errno == ENOENT ? "does not exist" : strerror(errno));
			return STATE_ESYS;
		}
		if (mkdir(dir, STATE_DIR_MODE) == -1 && errno != EEXIST) {
			errbuf_set(err, errlen, "cannot create state directory %s: "
			    "%s", dir, strerror(errno));
			return STATE_ESYS;
		}
	} else if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		errbuf_set(err, errlen, "state directory %s is not a directory",
		    dir);
		return STATE_ESYS;
	}
	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	if (readonly && stat(path, &st) == -1) {
		errbuf_set(err, errlen, "%s holds no state (%s: %s); ringcastd "
		    "creates it when it first starts", dir, path,
		    strerror(errno));
		return STATE_ESYS;
	}
	return STATE_OK;
}

/* mdb_env_open's failure, said for an operator. */
static int
open_fail(struct state *s, int mrc, char *err, size_t errlen)
{
	int rc = lmdb_fail(s, mrc, "mdb_env_open");

	if (mrc == EACCES || mrc == EPERM)
		errbuf_set(err, errlen, "cannot open the state in %s: %s. Reading "
		    "needs read access to data.mdb and read-write access to "
		    "lock.mdb (LMDB's reader table, which ringcastd shares "
		    "while it runs): run as ringcastd's user or root",
		    s->dir, strerror(mrc));
	else if (mrc == MDB_INVALID)
		errbuf_set(err, errlen, "%s/data.mdb is not an LMDB environment",
		    s->dir);
	else
		errbuf_set(err, errlen, "cannot open the state in %s: %s", s->dir,
		    mdb_strerror(mrc));
	return rc;
}

static bool
env_exists(const struct state *s)
{
	char path[PATH_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", s->dir);
	return stat(path, &st) == 0;
}

/*
 * map_size is a floor: a new environment gets it, an existing one grows to
 * it but keeps a larger size another run gave it (LMDB cannot shrink a map
 * below its data, and the CLI must not reshape ringcastd's).
 */
static int
map_floor(struct state *s, size_t map_size, bool existed)
{
	MDB_envinfo info;
	int mrc;

	if (!existed)
		return 0;
	if ((mrc = mdb_env_info(s->env, &info)) != 0)
		return mrc;
	if (info.me_mapsize >= map_size)
		return 0;
	return mdb_env_set_mapsize(s->env, map_size);
}

static int
env_open(struct state *s, size_t map_size, char *err, size_t errlen)
{
	bool existed = env_exists(s);
	int mrc;

	if ((mrc = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		goto fail;
	}
	if ((mrc = mdb_env_set_maxdbs(s->env, STATE_MAXDBS)) != 0)
		goto fail;
	if (!s->readonly && !existed &&
	    (mrc = mdb_env_set_mapsize(s->env, map_size)) != 0)
		goto fail;
	if ((mrc = mdb_env_open(s->env, s->dir, s->readonly ? MDB_RDONLY : 0,
	    STATE_FILE_MODE)) != 0)
		return open_fail(s, mrc, err, errlen);
	if (!s->readonly && (mrc = map_floor(s, map_size, existed)) != 0)
		goto fail;
	return STATE_OK;
fail:
	errbuf_set(err, errlen, "%s: setting up LMDB: %s", s->dir,
	    mdb_strerror(mrc));
	return lmdb_fail(s, mrc, "setting up LMDB");
}

static int
meta_put(MDB_txn *txn, MDB_dbi dbi, const char *key, uint64_t value)
{
	char buf[24];
	MDB_val k = key_of(key), v;

	v.mv_size = (size_t)snprintf(buf, sizeof(buf), "%llu",
	    (unsigned long long)value);
	v.mv_data = buf;
	return mdb_put(txn, dbi, &k, &v, 0);
}

static int
schema_write(struct state *s, MDB_txn *txn)
{
	int mrc;

	if ((mrc = meta_put(txn, s->meta, "schema_version",
	    STATE_SCHEMA_VERSION)) != 0 ||
	    (mrc = meta_put(txn, s->meta, "created", clock_wall_ms())) != 0)
		return lmdb_fail(s, mrc, "writing the schema version");
	log_info("new state in %s, schema version %d", s->dir,
	    STATE_SCHEMA_VERSION);
	return STATE_OK;
}

/* The stored schema_version must be ours; a new environment gets it. */
static int
schema_check(struct state *s, MDB_txn *txn)
{
	MDB_val k = key_of("schema_version"), v;
	char buf[16];
	int mrc;

	mrc = mdb_get(txn, s->meta, &k, &v);
	if (mrc == MDB_NOTFOUND && !s->readonly)
		return schema_write(s, txn);
	if (mrc == MDB_NOTFOUND) {
		errbuf_set(s->err, sizeof(s->err), "%s has no schema version: not "
		    "ringcast state", s->dir);
		return STATE_ESCHEMA;
	}
	if (mrc != 0)
		return lmdb_fail(s, mrc, "reading the schema version");
	snprintf(buf, sizeof(buf), "%.*s", v.mv_size < sizeof(buf) ?
	    (int)v.mv_size : (int)sizeof(buf) - 1, (const char *)v.mv_data);
	if (v.mv_size >= sizeof(buf) || strspn(buf, "0123456789") !=
	    v.mv_size || atoi(buf) != STATE_SCHEMA_VERSION) {
		errbuf_set(s->err, sizeof(s->err), "state in %s has schema version "
		    "\"%s\"; this ringcast reads version %d (see STATE.md)",
		    s->dir, buf, STATE_SCHEMA_VERSION);
		return STATE_ESCHEMA;
	}
	return STATE_OK;
}

static int
dbis_open(struct state *s, MDB_txn *txn)
{
	unsigned int flags = s->readonly ? 0 : MDB_CREATE;
	int mrc;

	if ((mrc = mdb_dbi_open(txn, "meta", flags, &s->meta)) != 0 ||
	    (mrc = mdb_dbi_open(txn, "clients", flags, &s->clients)) != 0) {
		if (mrc == MDB_NOTFOUND) {
			errbuf_set(s->err, sizeof(s->err), "%s has no \"meta\" and "
			    "\"clients\" databases: not ringcast state", s->dir);
			return STATE_ESCHEMA;
		}
		return lmdb_fail(s, mrc, "mdb_dbi_open");
	}
	/* Added in schema 1's lifetime: older state, opened read-only, has none. */
	mrc = mdb_dbi_open(txn, "aliases", flags, &s->aliases);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return lmdb_fail(s, mrc, "mdb_dbi_open");
	s->has_aliases = mrc == 0;
	return STATE_OK;
}

/* Committed even when read-only: that keeps the database handles. */
static int
schema_open(struct state *s)
{
	MDB_txn *txn;
	int rc, mrc;

	if ((rc = txn_begin(s, s->readonly ? MDB_RDONLY : 0, &txn)) !=
	    STATE_OK)
		return rc;
	if ((rc = dbis_open(s, txn)) != STATE_OK)
		goto abort;
	if ((rc = schema_check(s, txn)) != STATE_OK)
		goto abort;
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return lmdb_fail(s, mrc, "mdb_txn_commit");
	return STATE_OK;
abort:
	mdb_txn_abort(txn);
	return rc;
}

int
state_reader_check(struct state *s)
{
	int mrc, dead = 0;

	if ((mrc = mdb_reader_check(s->env, &dead)) != 0)
		return lmdb_fail(s, mrc, "mdb_reader_check");
	if (dead > 0)
		log_info("cleared %d stale reader slot%s in %s", dead,
		    dead == 1 ? "" : "s", s->dir);
	return dead;
}

int
state_open(const char *dir, bool readonly, uint32_t nch, uint32_t max_ids,
    size_t map_size, struct state **out, char *err, size_t errlen)
{
	struct state *s;
	int rc;

	*out = NULL;
	if (dir == NULL || dir[0] == '\0' || strlen(dir) >= PATH_MAX - 16) {
		errbuf_set(err, errlen, "state directory: empty or too long");
		return STATE_EINVAL;
	}
	if ((rc = dir_prepare(dir, readonly, err, errlen)) != STATE_OK)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		errbuf_set(err, errlen, "state: %s", strerror(errno));
		return STATE_ESYS;
	}
	snprintf(s->dir, sizeof(s->dir), "%s", dir);
	s->readonly = readonly;
	s->nch = nch > MIX_MAX_CHANNELS ? MIX_MAX_CHANNELS : nch;
	s->max_ids = max_ids != 0 ? max_ids : STATE_MAX_IDS_DEFAULT;
	if ((rc = env_open(s, map_size != 0 ? map_size :
	    STATE_MAP_SIZE_DEFAULT, err, errlen)) != STATE_OK)
		goto fail;
	if ((rc = state_reader_check(s)) < 0 || (rc = schema_open(s)) !=
	    STATE_OK) {
		errbuf_set(err, errlen, "%s", s->err);
		goto fail;
	}
	*out = s;
	return STATE_OK;
fail:
	state_close(s);
	return rc;
}

void
state_set_channels(struct state *s, uint32_t nch)
{
	s->nch = nch > MIX_MAX_CHANNELS ? MIX_MAX_CHANNELS : nch;
}

void
state_close(struct state *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s);
}

/* ---- records ---- */

static int
id_check(struct state *s, const char *id)
{
	s->err[0] = '\0';
	if (state_id_valid(id))
		return STATE_OK;
	errbuf_set(s->err, sizeof(s->err), "identity is not 1..%d bytes of "
	    "printable ASCII", STATE_ID_MAX - 1);
	return STATE_EINVAL;
}

/* A stored value as a record; the key it is stored under must be its id. */
static int
value_decode(struct state *s, const MDB_val *k, const MDB_val *v,
    struct state_record *rec)
{
	char why[256];

	if (state_record_parse(v->mv_data, v->mv_size, s->nch, rec, why,
	    sizeof(why)) != STATE_OK) {
		errbuf_set(s->err, sizeof(s->err), "record \"%.*s\" in %s: %s",
		    (int)(k->mv_size < 128 ? k->mv_size : 128),
		    (const char *)k->mv_data, s->dir, why);
		return STATE_ERECORD;
	}
	if (strlen(rec->id) != k->mv_size ||
	    memcmp(rec->id, k->mv_data, k->mv_size) != 0) {
		errbuf_set(s->err, sizeof(s->err), "record \"%s\" in %s is stored "
		    "under another key", rec->id, s->dir);
		return STATE_ERECORD;
	}
	return STATE_OK;
}

/* The record of id in txn, through an alias if need be; k is its key. */
static int
record_get(struct state *s, MDB_txn *txn, const char *id, MDB_val *k,
    MDB_val *v)
{
	MDB_val a = key_of(id);
	int mrc;

	*k = a;
	mrc = mdb_get(txn, s->clients, k, v);
	if (mrc == MDB_NOTFOUND && s->has_aliases &&
	    (mrc = mdb_get(txn, s->aliases, &a, k)) == 0)
		mrc = mdb_get(txn, s->clients, k, v);
	if (mrc == MDB_NOTFOUND)
		return STATE_NOTFOUND;
	return mrc == 0 ? STATE_OK : lmdb_fail(s, mrc, "mdb_get");
}

int
state_get(struct state *s, const char *id, struct state_record *rec)
{
	MDB_val k, v;
	MDB_txn *txn;
	int rc;

	if ((rc = id_check(s, id)) != STATE_OK)
		return rc;
	if ((rc = txn_begin(s, MDB_RDONLY, &txn)) != STATE_OK)
		return rc;
	rc = record_get(s, txn, id, &k, &v);
	if (rc == STATE_OK)
		rc = value_decode(s, &k, &v, rec);
	mdb_txn_abort(txn);
	return rc;
}

static int	record_drop(struct state *, MDB_txn *, const char *);

static int
victim_cmp(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	if (x->seen != y->seen)
		return x->seen < y->seen ? -1 : 1;
	return 0;
}

/* Every identity with its last_seen; one that does not decode counts as 0. */
static int
victims_collect(struct state *s, MDB_txn *txn, struct victim *vs, size_t max,
    size_t *n)
{
	struct state_record *rec;
	MDB_cursor *cur;
	MDB_val k, v;
	int mrc;

	*n = 0;
	if ((rec = malloc(sizeof(*rec))) == NULL)
		return lmdb_fail(s, ENOMEM, "eviction");
	if ((mrc = mdb_cursor_open(txn, s->clients, &cur)) != 0) {
		free(rec);
		return lmdb_fail(s, mrc, "mdb_cursor_open");
	}
	while (*n < max && (mrc = mdb_cursor_get(cur, &k, &v, *n == 0 ?
	    MDB_FIRST : MDB_NEXT)) == 0) {
		vs[*n].seen = value_decode(s, &k, &v, rec) == STATE_OK ?
		    rec->last_seen_ms : 0;
		vs[*n].key.mv_size = k.mv_size;
		/* NUL-terminated too: eviction names it as an identity. */
		if ((vs[*n].key.mv_data = calloc(1, k.mv_size + 1)) == NULL) {
			mrc = ENOMEM;
			break;
		}
		memcpy(vs[(*n)++].key.mv_data, k.mv_data, k.mv_size);
	}
	mdb_cursor_close(cur);
	free(rec);
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		return lmdb_fail(s, mrc, "collecting identities to evict");
	return STATE_OK;
}

/* Delete the `count` identities seen longest ago, in txn. */
static int
evict(struct state *s, MDB_txn *txn, size_t entries, size_t count)
{
	struct victim *vs;
	size_t n = 0, i;
	int rc;

	if ((vs = calloc(entries, sizeof(*vs))) == NULL)
		return lmdb_fail(s, ENOMEM, "eviction");
	if ((rc = victims_collect(s, txn, vs, entries, &n)) == STATE_OK) {
		qsort(vs, n, sizeof(*vs), victim_cmp);
		for (i = 0; i < count && i < n && rc == STATE_OK; i++) {
			log_info("evicting \"%.*s\" (at most %u identities)",
			    (int)vs[i].key.mv_size, (char *)vs[i].key.mv_data,
			    s->max_ids);
			rc = record_drop(s, txn, (const char *)vs[i].key.mv_data);
		}
	}
	for (i = 0; i < n; i++)
		free(vs[i].key.mv_data);
	free(vs);
	return rc;
}

/* A new identity beyond max_ids makes room by evicting others first. */
static int
make_room(struct state *s, MDB_txn *txn, const char *id)
{
	MDB_val k = key_of(id), v;
	MDB_stat st;
	int mrc;

	if ((mrc = mdb_get(txn, s->clients, &k, &v)) == 0)
		return STATE_OK;
	if (mrc != MDB_NOTFOUND)
		return lmdb_fail(s, mrc, "mdb_get");
	if ((mrc = mdb_stat(txn, s->clients, &st)) != 0)
		return lmdb_fail(s, mrc, "mdb_stat");
	if (st.ms_entries < s->max_ids)
		return STATE_OK;
	return evict(s, txn, st.ms_entries, st.ms_entries - s->max_ids + 1);
}

static int
writable(struct state *s)
{
	s->err[0] = '\0';
	if (!s->readonly)
		return STATE_OK;
	errbuf_set(s->err, sizeof(s->err), "state in %s is open read-only", s->dir);
	return STATE_EINVAL;
}

/* 0 means committed: only then may the caller acknowledge the change. */

/* The aliases that lead to rec: gone with it. */
static int
aliases_drop(struct state *s, MDB_txn *txn, const struct state_record *rec)
{
	MDB_val k;
	uint32_t i;
	int mrc;

	for (i = 0; i < rec->naliases && s->has_aliases; i++) {
		k = key_of(rec->aliases[i]);
		if ((mrc = mdb_del(txn, s->aliases, &k, NULL)) != 0 &&
		    mrc != MDB_NOTFOUND)
			return lmdb_fail(s, mrc, "mdb_del alias");
	}
	return STATE_OK;
}

static int
commit(struct state *s, MDB_txn *txn, int rc)
{
	int mrc;

	if (rc < 0) {
		mdb_txn_abort(txn);
		return rc;
	}
	/* A failed commit has freed the transaction and changed nothing. */
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return lmdb_fail(s, mrc, "mdb_txn_commit");
	return rc;
}

/* In txn: rec under its id (made room for if new). */
static int
record_put(struct state *s, MDB_txn *txn, const struct state_record *rec)
{
	MDB_val k, v;
	char *text;
	int rc, mrc;

	if ((rc = record_encode(s, rec, &text, &v.mv_size)) != STATE_OK)
		return rc;
	if ((rc = make_room(s, txn, rec->id)) == STATE_OK) {
		k = key_of(rec->id);
		v.mv_data = text;
		if ((mrc = mdb_put(txn, s->clients, &k, &v, 0)) != 0)
			rc = lmdb_fail(s, mrc, "mdb_put");
	}
	free(text);
	return rc;
}

int
state_put(struct state *s, const struct state_record *rec)
{
	MDB_txn *txn;
	int rc;

	if ((rc = writable(s)) != STATE_OK)
		return rc;
	(void)state_reader_check(s);
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	return commit(s, txn, record_put(s, txn, rec));
}

int
state_update(struct state *s, const char *const *ids, size_t n,
    state_update_fn fn, void *arg)
{
	struct state_record rec;
	MDB_val k, v;
	MDB_txn *txn;
	size_t i;
	int rc, found;

	if ((rc = writable(s)) != STATE_OK)
		return rc;
	(void)state_reader_check(s);
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	for (i = 0; i < n && rc >= 0; i++) {
		if (id_check(s, ids[i]) != STATE_OK)
			continue;
		found = (rc = record_get(s, txn, ids[i], &k, &v)) == STATE_OK &&
		    value_decode(s, &k, &v, &rec) == STATE_OK;
		if (rc != STATE_OK && rc != STATE_NOTFOUND)
			break;
		rc = STATE_OK;
		if (!found)
			state_record_init(&rec, ids[i], s->nch, 0);
		if (fn(i, &rec, found, arg))
			rc = record_put(s, txn, &rec);
	}
	return commit(s, txn, rc);
}

/* In txn: the record found under id (or its alias) and its aliases, gone. */
static int
record_drop(struct state *s, MDB_txn *txn, const char *id)
{
	struct state_record rec;
	MDB_val k, v;
	int rc, mrc;

	if ((rc = record_get(s, txn, id, &k, &v)) != STATE_OK)
		return rc;
	if (value_decode(s, &k, &v, &rec) == STATE_OK &&
	    (rc = aliases_drop(s, txn, &rec)) != STATE_OK)
		return rc;
	if ((mrc = mdb_del(txn, s->clients, &k, NULL)) != 0)
		return lmdb_fail(s, mrc, "mdb_del");
	return STATE_OK;
}

int
state_del(struct state *s, const char *id)
{
	MDB_txn *txn;
	int rc;

	if ((rc = writable(s)) != STATE_OK || (rc = id_check(s, id)) !=
	    STATE_OK)
		return rc;
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	rc = record_drop(s, txn, id);
	if (rc == STATE_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	return commit(s, txn, rc);
}

/* rec, known by old so far, is kept under new: old joins its aliases. */
static void
alias_add(struct state_record *rec, const char *old, const char *new)
{
	if (rec->naliases == STATE_ALIASES_MAX) {
		memmove(rec->aliases[0], rec->aliases[1], sizeof(rec->aliases[0]) *
		    (STATE_ALIASES_MAX - 1));
		rec->naliases--;
	}
	snprintf(rec->aliases[rec->naliases++], STATE_ID_MAX, "%s", old);
	snprintf(rec->id, sizeof(rec->id), "%s", new);
}

/* In txn: every alias of rec leads to rec->id; the oldest dropped one not. */
static int
aliases_point(struct state *s, MDB_txn *txn, const struct state_record *rec,
    const char *dropped)
{
	MDB_val k, v = key_of(rec->id);
	uint32_t i;
	int mrc;

	if (dropped[0] != '\0') {
		k = key_of(dropped);
		if ((mrc = mdb_del(txn, s->aliases, &k, NULL)) != 0 &&
		    mrc != MDB_NOTFOUND)
			return lmdb_fail(s, mrc, "mdb_del alias");
	}
	for (i = 0; i < rec->naliases; i++) {
		k = key_of(rec->aliases[i]);
		if ((mrc = mdb_put(txn, s->aliases, &k, &v, 0)) != 0)
			return lmdb_fail(s, mrc, "mdb_put alias");
	}
	return STATE_OK;
}

static int
rename_in(struct state *s, MDB_txn *txn, const char *old, const char *new)
{
	struct state_record rec;
	char dropped[STATE_ID_MAX] = "", was[STATE_ID_MAX], *text;
	MDB_val k, v;
	int rc, mrc;

	if ((rc = record_get(s, txn, new, &k, &v)) != STATE_NOTFOUND)
		return rc == STATE_OK ? lmdb_fail(s, EEXIST, "rename") : rc;
	if ((rc = record_get(s, txn, old, &k, &v)) != STATE_OK ||
	    (rc = value_decode(s, &k, &v, &rec)) != STATE_OK)
		return rc;
	if ((mrc = mdb_del(txn, s->clients, &k, NULL)) != 0)
		return lmdb_fail(s, mrc, "mdb_del");
	if (rec.naliases == STATE_ALIASES_MAX)
		snprintf(dropped, sizeof(dropped), "%s", rec.aliases[0]);
	snprintf(was, sizeof(was), "%s", rec.id);
	alias_add(&rec, was, new);
	if ((rc = record_encode(s, &rec, &text, &v.mv_size)) != STATE_OK)
		return rc;
	k = key_of(new);
	v.mv_data = text;
	mrc = mdb_put(txn, s->clients, &k, &v, 0);
	free(text);
	if (mrc != 0)
		return lmdb_fail(s, mrc, "mdb_put");
	return aliases_point(s, txn, &rec, dropped);
}

int
state_rename(struct state *s, const char *old, const char *new)
{
	MDB_txn *txn;
	int rc;

	if ((rc = writable(s)) != STATE_OK || (rc = id_check(s, old)) !=
	    STATE_OK || (rc = id_check(s, new)) != STATE_OK)
		return rc;
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	rc = rename_in(s, txn, old, new);
	if (rc == STATE_NOTFOUND) {
		mdb_txn_abort(txn);
		return rc;
	}
	return commit(s, txn, rc);
}

/* ---- imports ---- */

static int
id_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every identity and alias of recs once only; EINVAL naming one that is not. */
static int
import_unique(struct state *s, const struct state_record *recs, size_t n)
{
	const char **ids;
	size_t i, k = 0;
	uint32_t a;
	int rc = STATE_OK;

	if ((ids = calloc(n * (STATE_ALIASES_MAX + 1) + 1, sizeof(*ids))) ==
	    NULL)
		return lmdb_fail(s, ENOMEM, "import");
	for (i = 0; i < n; i++) {
		ids[k++] = recs[i].id;
		for (a = 0; a < recs[i].naliases && a < STATE_ALIASES_MAX; a++)
			ids[k++] = recs[i].aliases[a];
	}
	qsort(ids, k, sizeof(*ids), id_cmp);
	for (i = 1; i < k && rc == STATE_OK; i++)
		if (strcmp(ids[i - 1], ids[i]) == 0) {
			errbuf_set(s->err, sizeof(s->err), "\"%s\" appears "
			    "twice among the identities and aliases imported",
			    ids[i]);
			rc = STATE_EINVAL;
		}
	free(ids);
	return rc;
}

/* In txn: the identity the alias id leads to, "" if it is none. */
static int
alias_target(struct state *s, MDB_txn *txn, const char *id, char *out,
    size_t len)
{
	MDB_val k = key_of(id), v;
	int mrc = mdb_get(txn, s->aliases, &k, &v);

	out[0] = '\0';
	if (mrc == MDB_NOTFOUND)
		return STATE_OK;
	if (mrc != 0)
		return lmdb_fail(s, mrc, "mdb_get alias");
	snprintf(out, len, "%.*s", (int)(v.mv_size < len ? v.mv_size :
	    len - 1), (const char *)v.mv_data);
	return STATE_OK;
}

/* Whether rec's identity and aliases are free for it: no other record's. */
static int
import_conflict(struct state *s, MDB_txn *txn, const struct state_record *rec)
{
	char to[STATE_ID_MAX];
	MDB_val k, v;
	uint32_t i;
	int rc, mrc;

	if ((rc = alias_target(s, txn, rec->id, to, sizeof(to))) != STATE_OK)
		return rc;
	if (to[0] != '\0') {
		errbuf_set(s->err, sizeof(s->err), "\"%s\" is an alias of the "
		    "saved record \"%s\": forget that one first", rec->id, to);
		return STATE_EINVAL;
	}
	for (i = 0; i < rec->naliases; i++) {
		k = key_of(rec->aliases[i]);
		if ((mrc = mdb_get(txn, s->clients, &k, &v)) == 0) {
			errbuf_set(s->err, sizeof(s->err), "\"%s\", an alias "
			    "of \"%s\", is a saved record of its own: forget "
			    "it first", rec->aliases[i], rec->id);
			return STATE_EINVAL;
		}
		if (mrc != MDB_NOTFOUND)
			return lmdb_fail(s, mrc, "mdb_get");
		if ((rc = alias_target(s, txn, rec->aliases[i], to,
		    sizeof(to))) != STATE_OK)
			return rc;
		if (to[0] != '\0' && strcmp(to, rec->id) != 0) {
			errbuf_set(s->err, sizeof(s->err), "\"%s\", an alias "
			    "of \"%s\", is an alias of the saved record "
			    "\"%s\": forget that one first", rec->aliases[i],
			    rec->id, to);
			return STATE_EINVAL;
		}
	}
	return STATE_OK;
}

/* In txn: rec replaces the record of its identity, with its aliases. */
static int
import_one(struct state *s, MDB_txn *txn, const struct state_record *rec)
{
	char *text;
	MDB_val k, v;
	int rc, mrc;

	if ((rc = import_conflict(s, txn, rec)) != STATE_OK)
		return rc;
	if ((rc = record_drop(s, txn, rec->id)) != STATE_OK &&
	    rc != STATE_NOTFOUND)
		return rc;
	if ((rc = record_encode(s, rec, &text, &v.mv_size)) != STATE_OK)
		return rc;
	k = key_of(rec->id);
	v.mv_data = text;
	mrc = mdb_put(txn, s->clients, &k, &v, 0);
	free(text);
	if (mrc != 0)
		return lmdb_fail(s, mrc, "mdb_put");
	return aliases_point(s, txn, rec, "");
}

/* After the import: no more identities than max_ids. */
static int
import_fits(struct state *s, MDB_txn *txn)
{
	MDB_stat st;
	int mrc;

	if ((mrc = mdb_stat(txn, s->clients, &st)) != 0)
		return lmdb_fail(s, mrc, "mdb_stat");
	if (st.ms_entries <= s->max_ids)
		return STATE_OK;
	errbuf_set(s->err, sizeof(s->err), "the state would hold %zu "
	    "identities, over its %u", (size_t)st.ms_entries, s->max_ids);
	return STATE_EFULL;
}

int
state_import(struct state *s, const struct state_record *recs, size_t n)
{
	MDB_txn *txn;
	size_t i;
	int rc;

	if ((rc = writable(s)) != STATE_OK ||
	    (rc = import_unique(s, recs, n)) != STATE_OK)
		return rc;
	(void)state_reader_check(s);
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	for (i = 0; i < n && rc == STATE_OK; i++)
		rc = import_one(s, txn, &recs[i]);
	if (rc == STATE_OK)
		rc = import_fits(s, txn);
	return commit(s, txn, rc);
}

static bool
forgettable(const struct state_record *rec, uint64_t before_ms,
    bool (*keep)(const char *))
{
	return !state_record_used(rec) && rec->last_seen_ms < before_ms &&
	    (keep == NULL || !keep(rec->id));
}

int
state_forget_unused(struct state *s, uint64_t before_ms,
    bool (*keep)(const char *id), void (*gone)(const char *id))
{
	struct state_record rec;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, mrc, n = 0;

	if ((rc = writable(s)) != STATE_OK ||
	    (rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	if ((mrc = mdb_cursor_open(txn, s->clients, &cur)) != 0)
		return commit(s, txn, lmdb_fail(s, mrc, "mdb_cursor_open"));
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 &&
	    rc == STATE_OK; mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (value_decode(s, &k, &v, &rec) != STATE_OK ||
		    !forgettable(&rec, before_ms, keep))
			continue;
		if ((rc = aliases_drop(s, txn, &rec)) == STATE_OK &&
		    (mrc = mdb_cursor_del(cur, 0)) != 0)
			rc = lmdb_fail(s, mrc, "mdb_cursor_del");
		if (rc == STATE_OK && gone != NULL)
			gone(rec.id);
		n++;
	}
	mdb_cursor_close(cur);
	if (rc == STATE_OK && mrc != 0 && mrc != MDB_NOTFOUND)
		rc = lmdb_fail(s, mrc, "mdb_cursor_get");
	return commit(s, txn, rc == STATE_OK ? n : rc);
}

/* Records that do not decode are skipped with a warning, not fatal. */
int
state_each(struct state *s, int (*fn)(const struct state_record *, void *),
    void *arg)
{
	struct state_record *rec;
	MDB_cursor *cur = NULL;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, mrc;
	MDB_cursor_op op = MDB_FIRST;

	s->err[0] = '\0';
	if ((rec = malloc(sizeof(*rec))) == NULL)
		return lmdb_fail(s, ENOMEM, "state_each");
	if ((rc = txn_begin(s, MDB_RDONLY, &txn)) != STATE_OK)
		goto out;
	if ((mrc = mdb_cursor_open(txn, s->clients, &cur)) != 0) {
		rc = lmdb_fail(s, mrc, "mdb_cursor_open");
		goto abort;
	}
	while (rc == STATE_OK && (mrc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (value_decode(s, &k, &v, rec) != STATE_OK)
			log_warnx("skipped: %s", s->err);
		else
			rc = fn(rec, arg);
	}
	if (mrc != 0 && mrc != MDB_NOTFOUND)
		rc = lmdb_fail(s, mrc, "mdb_cursor_get");
	else if (rc == STATE_OK)
		s->err[0] = '\0';
	mdb_cursor_close(cur);
abort:
	mdb_txn_abort(txn);
out:
	free(rec);
	return rc;
}

uint32_t
state_count(struct state *s)
{
	MDB_txn *txn;
	MDB_stat st;
	int mrc;

	s->err[0] = '\0';
	if (txn_begin(s, MDB_RDONLY, &txn) != STATE_OK)
		return 0;
	if ((mrc = mdb_stat(txn, s->clients, &st)) != 0) {
		(void)lmdb_fail(s, mrc, "mdb_stat");
		st.ms_entries = 0;
	}
	mdb_txn_abort(txn);
	return st.ms_entries > UINT32_MAX ? UINT32_MAX :
	    (uint32_t)st.ms_entries;
}

/* ---- misc ---- */

const char *
state_strerror(struct state *s, int err)
{
	switch (err) {
	case STATE_OK:
		return "no error";
	case STATE_NOTFOUND:
		return "no saved state for that identity";
	}
	if (s != NULL && s->err[0] != '\0')
		return s->err;
	switch (err) {
	case STATE_ESYS:
		return strerror(errno);
	case STATE_EFULL:
		return "state map full: the change was not saved";
	case STATE_ESCHEMA:
		return "state has another schema version";
	case STATE_ERECORD:
		return "a stored record does not decode";
	case STATE_EINVAL:
		return "invalid identity or argument";
	}
	return "LMDB error";
}

/*
 * LMDB holds a shared lock on byte 0 of lock.mdb for as long as a process
 * has the environment open (an exclusive one while it is the only user),
 * so a test for a conflicting write lock tells whether anyone else has it.
 * Our own probe descriptor is closed at once: closing it would drop every
 * fcntl lock this process holds on the file, hence "not open yourself".
 */
int
state_busy(const char *dir, pid_t *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
	    .l_start = 0, .l_len = 1 };
	char path[PATH_MAX];
	int fd, rc;

	*pid = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/lock.mdb", dir) >=
	    sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	rc = fcntl(fd, F_GETLK, &fl);
	close(fd);
	if (rc == -1)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	*pid = fl.l_pid;
	return 1;
}

int
state_meta_get(struct state *s, const char *key, char *buf, size_t len)
{
	MDB_val k = key_of(key), v;
	MDB_txn *txn;
	int rc, mrc;

	if ((rc = txn_begin(s, MDB_RDONLY, &txn)) != STATE_OK)
		return rc;
	mrc = mdb_get(txn, s->meta, &k, &v);
	if (mrc == MDB_NOTFOUND)
		rc = STATE_NOTFOUND;
	else if (mrc != 0)
		rc = lmdb_fail(s, mrc, "mdb_get");
	else if (v.mv_size >= len) {
		errbuf_set(s->err, sizeof(s->err), "meta %s in %s: %zu bytes, "
		    "over %zu", key, s->dir, v.mv_size, len - 1);
		rc = STATE_ERECORD;
	} else {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
	}
	mdb_txn_abort(txn);
	return rc;
}

int
state_meta_put(struct state *s, const char *key, const char *value)
{
	MDB_val k = key_of(key), v = { strlen(value), (void *)(uintptr_t)value };
	MDB_txn *txn;
	int rc, mrc;

	if ((rc = writable(s)) != STATE_OK)
		return rc;
	if (v.mv_size > STATE_RECORD_MAX) {
		errbuf_set(s->err, sizeof(s->err), "meta %s: over %d bytes", key,
		    STATE_RECORD_MAX);
		return STATE_EINVAL;
	}
	if ((rc = txn_begin(s, 0, &txn)) != STATE_OK)
		return rc;
	if ((mrc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(s, mrc, "mdb_put");
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return lmdb_fail(s, mrc, "mdb_txn_commit");
	return STATE_OK;
}
