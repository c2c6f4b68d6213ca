/* state_token.c — the "tokens" database: one record per token, the hash of its secret only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>

#include "shared/state_lmdb.h"
#include "shared/state_token.h"
#include "shared/text.h"

#define TOKENS_DB	"tokens"
#define TOKENS_GEN_KEY	"tokens_changed"
#define TOKEN_REC_MAX	1024

static MDB_val
tok_key(const char *k)
{
	MDB_val v = { .mv_size = strlen(k), .mv_data = (void *)(uintptr_t)k };

	return v;
}

json_t *
token_record_json(const struct token_record *r)
{
	char hex[65];

	token_hash_hex(r->e.hash, hex);
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:I}", "v", 1,
	    "role", token_role_name(r->e.role), "listener", r->e.listener,
	    "name", r->name, "hash", hex, "created",
	    (json_int_t)r->created_ms);
}

int
token_record_decode(const char *id, const void *data, size_t len,
    struct token_record *r)
{
	const char *role, *listener, *name, *hash;
	json_int_t v, created;
	json_t *o;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (len > TOKEN_REC_MAX || (o = json_loadb(data, len,
	    JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return -1;
	if (json_unpack(o, "{s:I, s:s, s:s, s:s, s:s, s:I}", "v", &v,
	    "role", &role, "listener", &listener, "name", &name, "hash", &hash,
	    "created", &created) == 0 && v == 1 && created >= 0 &&
	    strlen(id) == TOKEN_ID_LEN && strlen(listener) <
	    sizeof(r->e.listener) && strlen(name) < sizeof(r->name) &&
	    text_name(name, strlen(name)) &&
	    token_hash_unhex(hash, r->e.hash) == 0) {
		memcpy(r->e.id, id, TOKEN_ID_LEN + 1);
		r->e.role = (uint8_t)token_role_parse(role);
		snprintf(r->e.listener, sizeof(r->e.listener), "%s", listener);
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->created_ms = (uint64_t)created;
		rc = token_entry_valid(&r->e) ? 0 : -1;
	}
	json_decref(o);
	return rc;
}

static int
tokens_open(struct state *s, MDB_txn *txn, bool write, MDB_dbi *dbi)
{
	int mrc = mdb_dbi_open(txn, TOKENS_DB, write ? MDB_CREATE : 0, dbi);

	if (mrc == MDB_NOTFOUND)
		return STATE_NOTFOUND;	/* read-only, before the first token */
	return mrc == 0 ? STATE_OK : state_lmdb_fail(s, mrc, "mdb_dbi_open");
}

/* meta's tokens_changed + 1, in txn. */
static int
gen_bump(struct state *s, MDB_txn *txn)
{
	MDB_val k = tok_key(TOKENS_GEN_KEY), v;
	unsigned long long gen = 0;
	char buf[24];
	MDB_dbi meta;
	int mrc;

	if ((mrc = mdb_dbi_open(txn, "meta", 0, &meta)) != 0)
		return state_lmdb_fail(s, mrc, "mdb_dbi_open meta");
	mrc = mdb_get(txn, meta, &k, &v);
	if (mrc == 0 && v.mv_size < sizeof(buf)) {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
		gen = strtoull(buf, NULL, 10);
	} else if (mrc != 0 && mrc != MDB_NOTFOUND)
		return state_lmdb_fail(s, mrc, "reading tokens_changed");
	v.mv_size = (size_t)snprintf(buf, sizeof(buf), "%llu", gen + 1);
	v.mv_data = buf;
	if ((mrc = mdb_put(txn, meta, &k, &v, 0)) != 0)
		return state_lmdb_fail(s, mrc, "writing tokens_changed");
	return STATE_OK;
}

static int
tokens_commit(struct state *s, MDB_txn *txn)
{
	int rc, mrc;

	if ((rc = gen_bump(s, txn)) != STATE_OK) {
		mdb_txn_abort(txn);
		return rc;
	}
	if ((mrc = mdb_txn_commit(txn)) != 0)
		return state_lmdb_fail(s, mrc, "mdb_txn_commit");
	return STATE_OK;
}

int
state_token_put(struct state *s, const struct token_record *r)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_stat st;
	MDB_val k, v;
	json_t *o;
	char *text = NULL;
	int rc, mrc;

	if (!token_entry_valid(&r->e))
		return STATE_EINVAL;
	if ((rc = state_txn(s, true, &txn)) != STATE_OK)
		return rc;
	if ((rc = tokens_open(s, txn, true, &dbi)) != STATE_OK)
		goto abort;
	rc = STATE_EINVAL;
	if ((mrc = mdb_stat(txn, dbi, &st)) != 0 || st.ms_entries >= TOKEN_MAX)
		goto abort;
	if ((o = token_record_json(r)) == NULL ||
	    (text = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		goto abort;
	}
	json_decref(o);
	k = tok_key(r->e.id);
	v = (MDB_val){ strlen(text), text };
	if ((mrc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE)) != 0) {
		rc = mrc == MDB_KEYEXIST ? STATE_EINVAL :
		    state_lmdb_fail(s, mrc, "mdb_put token");
		goto abort;
	}
	free(text);
	return tokens_commit(s, txn);
abort:
	free(text);
	mdb_txn_abort(txn);
	return rc;
}

int
state_token_del(struct state *s, const char *id)
{
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = tok_key(id);
	int rc, mrc;

	if (!token_id_valid(id))
		return STATE_EINVAL;
	if ((rc = state_txn(s, true, &txn)) != STATE_OK)
		return rc;
	if ((rc = tokens_open(s, txn, true, &dbi)) != STATE_OK)
		goto abort;
	if ((mrc = mdb_del(txn, dbi, &k, NULL)) != 0) {
		rc = mrc == MDB_NOTFOUND ? STATE_NOTFOUND :
		    state_lmdb_fail(s, mrc, "mdb_del token");
		goto abort;
	}
	return tokens_commit(s, txn);
abort:
	mdb_txn_abort(txn);
	return rc;
}

/* The records of one read transaction, to call fn outside it. */
static int
tokens_read(struct state *s, struct token_record *recs, size_t *n)
{
	char id[TOKEN_ID_LEN + 1];
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k, v;
	int rc, mrc;

	*n = 0;
	if ((rc = state_txn(s, false, &txn)) != STATE_OK)
		return rc;
	if ((rc = tokens_open(s, txn, false, &dbi)) != STATE_OK) {
		mdb_txn_abort(txn);
		return rc == STATE_NOTFOUND ? STATE_OK : rc;
	}
	if ((mrc = mdb_cursor_open(txn, dbi, &cur)) != 0) {
		mdb_txn_abort(txn);
		return state_lmdb_fail(s, mrc, "mdb_cursor_open");
	}
	while (*n < TOKEN_MAX && (mrc = mdb_cursor_get(cur, &k, &v,
	    *n == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
		if (k.mv_size != TOKEN_ID_LEN)
			continue;
		memcpy(id, k.mv_data, TOKEN_ID_LEN);
		id[TOKEN_ID_LEN] = '\0';
		if (token_record_decode(id, v.mv_data, v.mv_size,
		    &recs[*n]) == 0)
			(*n)++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return STATE_OK;
}

int
state_token_each(struct state *s,
    int (*fn)(const struct token_record *, void *), void *arg)
{
	static struct token_record recs[TOKEN_MAX];
	size_t i, n;
	int rc;

	if ((rc = tokens_read(s, recs, &n)) != STATE_OK)
		return rc;
	for (i = 0; i < n; i++)
		if (fn(&recs[i], arg) != 0)
			break;
	return STATE_OK;
}

int
state_token_gen(struct state *s, uint64_t *gen)
{
	MDB_val k = tok_key(TOKENS_GEN_KEY), v;
	char buf[24];
	MDB_txn *txn;
	MDB_dbi meta;
	int rc, mrc;

	*gen = 0;
	if ((rc = state_txn(s, false, &txn)) != STATE_OK)
		return rc;
	if ((mrc = mdb_dbi_open(txn, "meta", 0, &meta)) == 0 &&
	    (mrc = mdb_get(txn, meta, &k, &v)) == 0 &&
	    v.mv_size < sizeof(buf)) {
		memcpy(buf, v.mv_data, v.mv_size);
		buf[v.mv_size] = '\0';
		*gen = strtoull(buf, NULL, 10);
	}
	mdb_txn_abort(txn);
	return mrc == 0 || mrc == MDB_NOTFOUND ? STATE_OK :
	    state_lmdb_fail(s, mrc, "reading tokens_changed");
}
