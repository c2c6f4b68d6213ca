/* test_state.c — the LMDB state module: records, bounds, crashes, and `ringcast state`. */
#define _GNU_SOURCE	/* nftw flags */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <limits.h>
#include <math.h>

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <lmdb.h>

#include "shared/clock.h"
#include "shared/msg.h"
#include "shared/state.h"
#include "tests/lib/records.h"
#include "tests/lib/tu.h"

#define NCH		32
#define WAIT_MS		20000	/* generous: a shared, noisy VM */

static char dir[PATH_MAX];

/* fork(), where a child dies with the test even if the test is killed. */
static pid_t
fork_child(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0 && (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
	    getppid() != parent))
		_exit(99);
	return pid;
}

static void
dir_make(void)
{
	snprintf(dir, sizeof(dir), "/tmp/rc-test-%d-state-XXXXXX",
	    (int)getpid());
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
}

static void
dir_remove(void)
{
	tu_rmtree(dir);
}

TestSuite(state, .init = dir_make, .fini = dir_remove, .timeout = 60);

static struct state *
open_rw(uint32_t max_ids, size_t map_size)
{
	struct state *s = NULL;
	char err[512];
	int rc;

	rc = state_open(dir, false, NCH, max_ids, map_size, &s, err,
	    sizeof(err));
	cr_assert_eq(rc, STATE_OK, "state_open: %d %s", rc, err);
	return s;
}

static struct state *
open_ro(void)
{
	struct state *s = NULL;
	char err[512];
	int rc;

	rc = state_open(dir, true, NCH, 0, 0, &s, err, sizeof(err));
	cr_assert_eq(rc, STATE_OK, "state_open ro: %d %s", rc, err);
	return s;
}

/* A record with every field away from its default. */
static void
rec_full(struct state_record *r, const char *id, uint64_t seen)
{
	uint32_t c;

	state_record_init(r, id, NCH, seen > 5000 ? seen - 5000 : 0);
	snprintf(r->name, sizeof(r->name), "Drums \xc3\xa9 %s", id);
	r->order = -3;
	r->last_seen_ms = seen;
	r->reconnects = 4000000000u;
	snprintf(r->last_exit, sizeof(r->last_exit), "stalled");
	for (c = 0; c < NCH; c += 3) {
		r->mix.sub[c] = 1;
		r->mix.gain[c] = 0.7f + (float)c / 10;
		r->mix.pan[c] = c % 2 ? -0.25f : 1.0f;
		r->mix.mute[c] = c % 4 == 0;
	}
	r->mix.gain[31] = 0.5f;		/* a default-off channel that differs */
	r->mix.master = 1.25f;
	snprintf(r->last_addr, sizeof(r->last_addr), "192.168.1.23");
	snprintf(r->device, sizeof(r->device), "Pixel 7");
}

static void
rec_expect(const struct state_record *a, const struct state_record *b)
{
	cr_expect_str_eq(a->id, b->id);
	cr_expect_str_eq(a->name, b->name);
	cr_expect_eq(a->order, b->order);
	cr_expect_eq(a->first_seen_ms, b->first_seen_ms);
	cr_expect_eq(a->last_seen_ms, b->last_seen_ms);
	cr_expect_eq(a->reconnects, b->reconnects);
	cr_expect_str_eq(a->last_exit, b->last_exit);
	cr_expect_str_eq(a->last_addr, b->last_addr);
	cr_expect_str_eq(a->device, b->device);
	cr_expect_eq(a->naliases, b->naliases);
	cr_expect(mix_equal(&a->mix, &b->mix), "mixes differ");
}

static void
put_ok(struct state *s, const struct state_record *r)
{
	int rc = state_put(s, r);

	cr_assert_eq(rc, STATE_OK, "state_put %s: %d %s", r->id, rc,
	    state_strerror(s, rc));
}

Test(state, round_trip_full_record)
{
	struct state_record in, out;
	struct state *s = open_rw(0, 0);

	rec_full(&in, "9a8b7c6d-5e4f-3a2b-1c0d-e9f8a7b6c5d4", 1767671704881ull);
	put_ok(s, &in);
	cr_assert_eq(state_get(s, in.id, &out), STATE_OK);
	rec_expect(&in, &out);
	cr_expect_eq(state_get(s, "nobody", &out), STATE_NOTFOUND);
	cr_expect_eq(state_count(s), 1);
	state_close(s);
}

Test(state, health_counters_are_optional_and_kept)
{
	const char *old = "{\"v\":1,\"id\":\"a\",\"name\":\"\",\"order\":0,"
	    "\"mix\":{\"channels\":[],\"master_gain\":1.0},\"first_seen\":1,"
	    "\"last_seen\":2,\"reconnects\":0,\"last_exit\":\"closed\"}";
	struct state_record r, back;
	json_t *j;
	char *text;

	cr_assert_eq(state_record_decode(old, strlen(old), NCH, &r), STATE_OK,
	    "a record from before stalls/timeouts");
	cr_expect_eq(r.stalls, 0);
	cr_expect_eq(r.timeouts, 0);
	r.stalls = 3;
	r.timeouts = 7;
	cr_assert_not_null(j = state_record_json(&r));
	cr_assert_not_null(text = json_dumps(j, JSON_COMPACT));
	cr_assert_eq(state_record_decode(text, strlen(text), NCH, &back),
	    STATE_OK);
	cr_expect_eq(back.stalls, 3);
	cr_expect_eq(back.timeouts, 7);
	free(text);
	json_decref(j);
}

/* A phone's new launch takes its record over; the old identity still finds it. */
Test(state, rename_keeps_the_record_and_aliases_find_it)
{
	struct state *s = open_rw(0, 0);
	struct state_record r, got, other;
	char id[16];
	int i;

	rec_full(&r, "launch-0", 7000);
	put_ok(s, &r);
	rec_full(&other, "someone-else", 7000);
	put_ok(s, &other);
	for (i = 1; i <= STATE_ALIASES_MAX + 2; i++) {
		snprintf(id, sizeof(id), "launch-%d", i);
		cr_assert_eq(state_rename(s, r.id, id), STATE_OK, "%s", id);
		snprintf(r.id, sizeof(r.id), "%s", id);
	}
	cr_assert_eq(state_get(s, r.id, &got), STATE_OK);
	cr_assert_eq(got.naliases, STATE_ALIASES_MAX, "the oldest dropped");
	cr_assert_str_eq(got.aliases[STATE_ALIASES_MAX - 1], "launch-9");
	cr_assert(mix_equal(&got.mix, &r.mix));
	/* An alias finds the record under its present identity. */
	cr_assert_eq(state_get(s, "launch-3", &got), STATE_OK);
	cr_assert_str_eq(got.id, r.id);
	cr_assert_eq(state_get(s, "launch-0", &got), STATE_NOTFOUND,
	    "the oldest alias, dropped, still leads somewhere");
	cr_assert_eq(state_count(s), 2);
	/* Renaming onto a taken identity, or from a missing one, changes nothing. */
	cr_assert_neq(state_rename(s, r.id, "someone-else"), STATE_OK);
	cr_assert_eq(state_rename(s, "nobody", "new"), STATE_NOTFOUND);
	/* Forgetting it through an alias takes the aliases along. */
	cr_assert_eq(state_del(s, "launch-5"), STATE_OK);
	cr_assert_eq(state_get(s, "launch-7", &got), STATE_NOTFOUND);
	cr_assert_eq(state_get(s, r.id, &got), STATE_NOTFOUND);
	cr_assert_eq(state_get(s, "someone-else", &got), STATE_OK);
	state_close(s);
}

static bool
keep_live(const char *id)
{
	return strcmp(id, "live") == 0;
}

static int nforgotten;

static void
count_gone(const char *id)
{
	(void)id;
	nforgotten++;
}

/* No name and no mix, gone long enough, not live: forgotten in one commit. */
Test(state, unused_records_are_forgotten)
{
	struct state *s = open_rw(0, 0);
	struct state_record r;
	static const struct {
		const char	*id;
		uint64_t	 seen;
		bool		 named, mixed, stays;
	} recs[] = {
		{ "old-unused", 1000, false, false, false },
		{ "old-named", 1000, true, false, true },
		{ "old-mixed", 1000, false, true, true },
		{ "recent-unused", 9000, false, false, true },
		{ "live", 1000, false, false, true },
	};
	size_t i;

	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		state_record_init(&r, recs[i].id, NCH, recs[i].seen);
		snprintf(r.device, sizeof(r.device), "a phone's own name");
		if (recs[i].named)
			snprintf(r.name, sizeof(r.name), "Bass");
		r.mix.sub[2] = recs[i].mixed;
		put_ok(s, &r);
	}
	nforgotten = 0;
	cr_assert_eq(state_forget_unused(s, 5000, keep_live, count_gone), 1);
	cr_assert_eq(nforgotten, 1);
	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++)
		cr_assert_eq(state_get(s, recs[i].id, &r), recs[i].stays ?
		    STATE_OK : STATE_NOTFOUND, "%s", recs[i].id);
	state_close(s);
}

Test(state, meta_values_round_trip)
{
	struct state *s = open_rw(0, 0);
	char buf[64];

	cr_expect_eq(state_meta_get(s, "channel_names", buf, sizeof(buf)),
	    STATE_NOTFOUND);
	cr_assert_eq(state_meta_put(s, "channel_names", "[\"Kick\"]"),
	    STATE_OK);
	cr_assert_eq(state_meta_get(s, "channel_names", buf, sizeof(buf)),
	    STATE_OK);
	cr_expect_str_eq(buf, "[\"Kick\"]");
	cr_expect_eq(state_meta_get(s, "channel_names", buf, 4),
	    STATE_ERECORD, "a value longer than the buffer");
	state_close(s);
}

Test(state, codec_round_trip_and_shape)
{
	struct state_record in, out;
	json_t *j;
	char *text;

	rec_full(&in, "abc", 1000);
	cr_assert_not_null(j = state_record_json(&in));
	cr_expect_eq(json_integer_value(json_object_get(j, "v")), 1);
	cr_expect_str_eq(json_string_value(json_object_get(j, "last_exit")),
	    "stalled");
	cr_expect(json_is_object(json_object_get(j, "mix")));
	text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
	cr_assert_not_null(text);
	cr_expect_eq(strncmp(text, "{\"v\":1,\"id\":\"abc\",", 18), 0, "%s",
	    text);
	cr_assert_eq(state_record_decode(text, strlen(text), NCH, &out),
	    STATE_OK);
	rec_expect(&in, &out);
	free(text);
	json_decref(j);
}

Test(state, all_or_nothing)
{
	struct state_record a, bad, out;
	struct state *s = open_rw(0, 0);

	rec_full(&a, "a", 1000);
	put_ok(s, &a);
	bad = a;
	bad.reconnects = 1;
	snprintf(bad.name, sizeof(bad.name), "tab\there");	/* control char */
	cr_expect_eq(state_put(s, &bad), STATE_EINVAL);
	bad = a;
	bad.last_seen_ms = 1ull << 60;		/* beyond JSON's exact integers */
	cr_expect_eq(state_put(s, &bad), STATE_EINVAL);
	bad = a;
	snprintf(bad.name, sizeof(bad.name), "\xff\xfe");	/* not UTF-8 */
	cr_expect_eq(state_put(s, &bad), STATE_EINVAL);
	bad = a;
	bad.mix.gain[0] = NAN;
	cr_expect_eq(state_put(s, &bad), STATE_EINVAL);
	cr_assert_eq(state_get(s, "a", &out), STATE_OK);
	rec_expect(&a, &out);
	cr_expect_eq(state_count(s), 1);
	cr_expect_eq(state_del(s, "a"), STATE_OK);
	cr_expect_eq(state_del(s, "a"), STATE_NOTFOUND);
	cr_expect_eq(state_count(s), 0);
	state_close(s);
}

Test(state, identities)
{
	static const struct { const char *id; bool ok; } t[] = {
		{ "a", true },
		{ "3f2b9c1e-8a4d-4e6f-9b7a-1c2d3e4f5a6b", true },
		{ "with space and / ? % #", true },
		{ "", false },
		{ "tab\t", false },
		{ "nl\n", false },
		{ "del\x7f", false },
		{ "caf\xc3\xa9", false },
	};
	struct state_record r;
	struct state *s = open_rw(0, 0);
	char long_id[STATE_ID_MAX + 1];
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_expect_eq(state_id_valid(t[i].id), t[i].ok, "%zu", i);
	memset(long_id, 'x', sizeof(long_id));
	long_id[STATE_ID_MAX - 1] = '\0';
	cr_expect(state_id_valid(long_id), "127 bytes");
	long_id[STATE_ID_MAX - 1] = 'x';
	long_id[STATE_ID_MAX] = '\0';
	cr_expect(!state_id_valid(long_id), "128 bytes");
	cr_expect(!state_id_valid(NULL));
	cr_expect_eq(state_get(s, "", &r), STATE_EINVAL);
	cr_expect_eq(state_del(s, "x\n"), STATE_EINVAL);
	state_record_init(&r, "ok", NCH, 1);
	r.id[0] = '\x01';
	cr_expect_eq(state_put(s, &r), STATE_EINVAL);
	state_record_init(&r, "with space and / ? % #", NCH, 1);
	put_ok(s, &r);
	state_close(s);
}

Test(state, reopen_persists)
{
	struct state_record in, out;
	struct state *s = open_rw(0, 0);

	rec_full(&in, "keep", 5000);
	put_ok(s, &in);
	state_close(s);
	s = open_rw(0, 0);
	cr_assert_eq(state_get(s, "keep", &out), STATE_OK);
	rec_expect(&in, &out);
	state_close(s);
	s = open_ro();
	cr_assert_eq(state_get(s, "keep", &out), STATE_OK);
	rec_expect(&in, &out);
	cr_expect_eq(state_put(s, &in), STATE_EINVAL, "read-only put");
	cr_expect_eq(state_del(s, "keep"), STATE_EINVAL, "read-only del");
	state_close(s);
}

/* Channels the ring no longer has are dropped; beyond any ring is an error. */
Test(state, fewer_channels_on_reopen)
{
	struct state_record in, out;
	struct state *s = open_rw(0, 0);
	char err[256];

	rec_full(&in, "wide", 5000);
	put_ok(s, &in);
	state_close(s);
	cr_assert_eq(state_open(dir, false, 8, 0, 0, &s, err, sizeof(err)),
	    STATE_OK, "%s", err);
	cr_assert_eq(state_get(s, "wide", &out), STATE_OK);
	cr_expect_eq(out.mix.nch, 8);
	cr_expect_eq(out.mix.sub[6], 1);
	cr_expect_eq(out.mix.sub[9], 0);
	cr_expect_eq(out.mix.gain[31], 1.0f);
	cr_expect_eq(out.mix.master, 1.25f);
	state_close(s);
}

/* Overwrites meta/schema_version with the raw LMDB API. */
static void
schema_set(const char *value)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 14, (void *)(uintptr_t)"schema_version" };
	MDB_val v = { strlen(value), (void *)(uintptr_t)value };

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_set_maxdbs(env, 2), 0);
	cr_assert_eq(mdb_env_open(env, dir, 0, 0600), 0);
	cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	cr_assert_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	cr_assert_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
}

Test(state, schema_mismatch)
{
	struct state *s = open_rw(0, 0);
	char err[512] = "";
	const char *bad[] = { "2", "0", "1x", "", "99999999999999999999" };
	size_t i;

	state_close(s);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		schema_set(bad[i]);
		cr_expect_eq(state_open(dir, false, NCH, 0, 0, &s, err,
		    sizeof(err)), STATE_ESCHEMA, "\"%s\"", bad[i]);
		cr_expect_null(s);
		cr_expect_not_null(strstr(err, "schema version"), "%s", err);
		cr_expect_eq(state_open(dir, true, NCH, 0, 0, &s, err,
		    sizeof(err)), STATE_ESCHEMA, "ro \"%s\"", bad[i]);
	}
	schema_set("1");
	s = open_rw(0, 0);
	state_close(s);
}

Test(state, readonly_errors)
{
	struct state *s = NULL;
	char sub[PATH_MAX + 16], err[512];

	snprintf(sub, sizeof(sub), "%s/missing", dir);
	cr_expect_eq(state_open(sub, true, NCH, 0, 0, &s, err, sizeof(err)),
	    STATE_ESYS);
	cr_expect_not_null(strstr(err, "does not exist"), "%s", err);
	mkdir(sub, 0700);
	cr_expect_eq(state_open(sub, true, NCH, 0, 0, &s, err, sizeof(err)),
	    STATE_ESYS);
	cr_expect_not_null(strstr(err, "holds no state"), "%s", err);
	cr_expect_null(s);
	/* Read-write creates the directory when missing. */
	snprintf(sub, sizeof(sub), "%s/new", dir);
	cr_assert_eq(state_open(sub, false, NCH, 0, 0, &s, err, sizeof(err)),
	    STATE_OK, "%s", err);
	state_close(s);
}

Test(state, eviction_at_max_ids)
{
	static const struct { const char *id; uint64_t seen; } t[] = {
		{ "a", 100 }, { "b", 50 }, { "c", 200 },
	};
	struct state_record r;
	struct state *s = open_rw(3, 0);
	size_t i;

	for (i = 0; i < 3; i++) {
		rec_full(&r, t[i].id, t[i].seen);
		put_ok(s, &r);
	}
	rec_full(&r, "a", 10);		/* an update never evicts */
	put_ok(s, &r);
	cr_expect_eq(state_count(s), 3);
	rec_full(&r, "d", 1);		/* the newcomer is not the victim */
	put_ok(s, &r);
	cr_expect_eq(state_count(s), 3);
	cr_expect_eq(state_get(s, "a", &r), STATE_NOTFOUND, "oldest evicted");
	cr_expect_eq(state_get(s, "b", &r), STATE_OK);
	cr_expect_eq(state_get(s, "c", &r), STATE_OK);
	cr_expect_eq(state_get(s, "d", &r), STATE_OK);
	state_close(s);
	/* A lower bound on reopen evicts down to it at the next newcomer. */
	s = open_rw(2, 0);
	rec_full(&r, "e", 500);
	put_ok(s, &r);
	cr_expect_eq(state_count(s), 2);
	cr_expect_eq(state_get(s, "c", &r), STATE_OK);
	cr_expect_eq(state_get(s, "e", &r), STATE_OK);
	state_close(s);
}

/* The largest record a ring of 256 channels makes. */
static void
rec_wide(struct state_record *r, const char *id, uint64_t seen)
{
	uint32_t c;

	state_record_init(r, id, MIX_MAX_CHANNELS, seen);
	for (c = 0; c < MIX_MAX_CHANNELS; c++) {
		r->mix.sub[c] = 1;
		r->mix.gain[c] = 0.123456f;
		r->mix.pan[c] = -0.654321f;
	}
}

Test(state, map_full)
{
	struct state_record r, out;
	struct state *s = NULL;
	char id[32], err[512];
	int i, rc = STATE_OK;

	cr_assert_eq(state_open(dir, false, NCH, 0, 64 * 1024, &s, err,
	    sizeof(err)), STATE_OK, "%s", err);
	for (i = 0; i < 200 && rc == STATE_OK; i++) {
		snprintf(id, sizeof(id), "id-%03d", i);
		rec_full(&r, id, 1000 + (uint64_t)i);
		rc = state_put(s, &r);
	}
	cr_assert_eq(rc, STATE_EFULL, "after %d puts: %d %s", i, rc,
	    state_strerror(s, rc));
	cr_expect_not_null(strstr(state_strerror(s, rc), "full"));
	cr_expect_gt(i, 3, "only %d puts", i);
	cr_expect_eq(state_get(s, id, &out), STATE_NOTFOUND, "not committed");
	cr_expect_eq(state_get(s, "id-000", &out), STATE_OK, "still readable");
	cr_expect_eq((int)state_count(s), i - 1);
	cr_expect_eq(state_put(s, &r), STATE_EFULL, "still full, still usable");
	state_close(s);
	/* The way out: a larger map (a full map can refuse deletes too). */
	s = open_rw(0, 1024 * 1024);
	cr_expect_eq(state_count(s), i - 1);
	cr_expect_eq(state_get(s, "id-000", &out), STATE_OK);
	put_ok(s, &r);
	cr_expect_eq(state_del(s, "id-000"), STATE_OK);
	state_close(s);
	s = open_ro();
	cr_expect_eq(state_get(s, id, &out), STATE_OK);
	cr_expect_eq((int)state_count(s), i - 1);
	state_close(s);
}

/* Eviction and the newcomer are one transaction: both or neither. */
Test(state, eviction_rolled_back_when_full)
{
	struct state_record r, out;
	struct state *s = NULL;
	char id[32], err[512];
	int i, rc = STATE_OK;

	cr_assert_eq(state_open(dir, false, MIX_MAX_CHANNELS, 1000, 64 * 1024,
	    &s, err, sizeof(err)), STATE_OK, "%s", err);
	for (i = 0; rc == STATE_OK && i < 200; i++) {
		snprintf(id, sizeof(id), "small-%03d", i);
		state_record_init(&r, id, MIX_MAX_CHANNELS, 1000 + i);
		rc = state_put(s, &r);
	}
	cr_assert_eq(rc, STATE_EFULL);
	state_close(s);
	/* Full of small records; a wide newcomer evicts one, still no room. */
	cr_assert_eq(state_open(dir, false, MIX_MAX_CHANNELS, i - 1, 64 * 1024,
	    &s, err, sizeof(err)), STATE_OK, "%s", err);
	rec_wide(&r, "wide", 99999);
	for (rc = STATE_OK; rc == STATE_OK; r.mix.gain[0] /= 2)
		rc = state_put(s, &r);
	cr_expect_eq(rc, STATE_EFULL);
	cr_expect_eq(state_get(s, "small-000", &out), STATE_OK,
	    "eviction rolled back");
	cr_expect_eq(state_get(s, "wide", &out), STATE_NOTFOUND);
	state_close(s);
}

Test(state, decode_malformed)
{
	static const char *bad[] = {
		"", "not json", "[]", "1", "\"s\"", "null", "{}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{}} trailing",
		"{\"v\":2,\"id\":\"a\",\"mix\":{}}",
		"{\"v\":\"1\",\"id\":\"a\",\"mix\":{}}",
		"{\"v\":1.0,\"id\":\"a\",\"mix\":{}}",
		"{\"v\":1,\"mix\":{}}",
		"{\"v\":1,\"id\":\"\",\"mix\":{}}",
		"{\"v\":1,\"id\":7,\"mix\":{}}",
		"{\"v\":1,\"id\":\"a\\u0001\",\"mix\":{}}",
		"{\"v\":1,\"id\":\"a\\u0000b\",\"mix\":{}}",
		"{\"v\":1,\"id\":\"a\"}",
		"{\"v\":1,\"id\":\"a\",\"mix\":[]}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"name\":5}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"name\":\"x\\ty\"}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"order\":1.5}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"order\":2147483648}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"first_seen\":-1}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"last_seen\":9007199254740992}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"last_seen\":1e400}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"last_seen\":99999999999999999999}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"reconnects\":4294967296}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"reconnects\":true}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"last_exit\":\"x\\ny\"}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{},\"last_exit\":"
		    "\"0123456789012345678901234567890123\"}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"channels\":[256]}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"channels\":[-1]}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"channels\":[1.5]}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"gains\":{\"999\":1}}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"gains\":{\"0\":11}}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"pans\":{\"0\":NaN}}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"master_gain\":1e999}}",
		"{\"v\":1,\"id\":\"a\",\"mix\":{\"master_gain\":-0.1}}",
		"{\"v\":1,\"id\":\"a\",\"id\":\"b\",\"mix\":{}}",
	};
	struct state_record r;
	char deep[4096], *huge;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(state_record_decode(bad[i], strlen(bad[i]), NCH,
		    &r), STATE_ERECORD, "[%zu] %s", i, bad[i]);
	cr_expect_eq(state_record_decode(NULL, 0, NCH, &r), STATE_ERECORD);
	cr_expect_eq(state_record_decode("{\"v\":1,\"id\":\"a\",\"mix\":{}}\0",
	    26, NCH, &r), STATE_ERECORD, "NUL after the value");
	memset(deep, '[', sizeof(deep));
	cr_expect_eq(state_record_decode(deep, sizeof(deep), NCH, &r),
	    STATE_ERECORD, "deep nesting");
	/* A valid value padded beyond the limit is rejected by size. */
	huge = malloc(STATE_RECORD_MAX + 2);
	cr_assert_not_null(huge);
	memset(huge, ' ', STATE_RECORD_MAX + 1);
	memcpy(huge, "{\"v\":1,\"id\":\"a\",\"mix\":{}}", 25);
	cr_expect_eq(state_record_decode(huge, STATE_RECORD_MAX, NCH, &r),
	    STATE_OK, "at the limit");
	cr_expect_eq(state_record_decode(huge, STATE_RECORD_MAX + 1, NCH, &r),
	    STATE_ERECORD, "beyond the limit");
	free(huge);
}

Test(state, decode_minimal_and_clamped)
{
	const char *min = "{\"v\":1,\"id\":\"a\",\"mix\":{},\"future\":[1]}";
	const char *wide = "{\"v\":1,\"id\":\"a\",\"mix\":{\"channels\":[1,10,255],"
	    "\"gains\":{\"10\":2}}}";
	struct state_record r;

	cr_assert_eq(state_record_decode(min, strlen(min), NCH, &r), STATE_OK);
	cr_expect_str_eq(r.id, "a");
	cr_expect_str_eq(r.name, "");
	cr_expect_eq(r.last_seen_ms, 0);
	cr_expect_eq(r.mix.master, 1.0f);
	cr_assert_eq(state_record_decode(wide, strlen(wide), 8, &r), STATE_OK);
	cr_expect_eq(r.mix.nch, 8);
	cr_expect_eq(r.mix.sub[1], 1);
	cr_expect_eq(r.mix.sub[10], 0, "beyond nch: dropped");
	cr_expect_eq(r.mix.gain[10], 1.0f);
	cr_expect_eq(r.mix.sub[255], 0);
}

/* Mutated and random bytes: a record or ERECORD, and a record re-encodes. */
Test(state, decode_is_total)
{
	struct state_record in, r;
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	char *good, buf[8192];
	size_t n, len, i;
	int k, rc;
	json_t *j;

	cr_log_info("seed %u", seed);
	srand(seed);
	rec_full(&in, "fuzz", 1234);
	j = state_record_json(&in);
	good = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	cr_assert_not_null(good);
	len = strlen(good);
	cr_assert_lt(len, sizeof(buf));
	for (n = 0; n < 20000; n++) {
		memcpy(buf, good, len);
		for (k = 0; k < 1 + rand() % 4; k++)
			buf[rand() % len] = n % 3 ? (char)(rand() % 256) :
			    "{}[]\":,0123456789-.eE"[rand() % 22];
		i = n % 5 == 0 ? (size_t)rand() % len : len;
		rc = state_record_decode(buf, i, NCH, &r);
		cr_assert(rc == STATE_OK || rc == STATE_ERECORD);
		if (rc == STATE_OK) {
			cr_assert(state_id_valid(r.id));
			cr_assert_leq(r.mix.nch, NCH);
			j = state_record_json(&r);
			cr_assert_not_null(j, "a decoded record re-encodes");
			json_decref(j);
		}
	}
	for (n = 0; n < 2000; n++) {
		for (i = 0; i < 64; i++)
			buf[i] = (char)(rand() % 256);
		rc = state_record_decode(buf, 1 + rand() % 64, NCH, &r);
		cr_assert(rc == STATE_ERECORD);
	}
	free(good);
}

/* ---- processes ---- */

static void
write_line(int fd, const char *s)
{
	(void)!write(fd, s, strlen(s));
}

/* A reader in another process sees every commit, while the writer writes. */
Test(state, concurrent_reader)
{
	struct state_record r;
	struct state *s = open_rw(0, 0);
	int up[2], down[2], st;
	pid_t pid;
	char c;

	rec_full(&r, "first", 1);
	put_ok(s, &r);
	cr_assert_eq(pipe2(up, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(down, O_CLOEXEC), 0);
	cr_assert_neq(pid = fork_child(), -1);
	if (pid == 0) {
		struct state *ro;
		char err[512];

		/* Its own handle: the parent's is never touched here. */
		if (state_open(dir, true, NCH, 0, 0, &ro, err, sizeof(err)))
			_exit(2);
		if (state_get(ro, "first", &r) != STATE_OK)
			_exit(3);
		write_line(up[1], "have first\n");
		if (read(down[0], &c, 1) != 1)
			_exit(4);
		if (state_get(ro, "second", &r) != STATE_OK ||
		    state_count(ro) != 2)
			_exit(5);
		write_line(up[1], "have second\n");
		state_close(ro);
		_exit(0);
	}
	close(up[1]);
	close(down[0]);
	cr_assert(tu_wait_text(up[0], "have first", WAIT_MS), "child read");
	rec_full(&r, "second", 2);
	put_ok(s, &r);
	write_line(down[1], "g");
	cr_expect(tu_wait_text(up[0], "have second", WAIT_MS), "child saw it");
	st = tu_wait_exit(pid, WAIT_MS);
	if (st == -1)
		tu_stop(pid, 100);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "child status %d", st);
	close(up[0]);
	close(down[1]);
	state_close(s);
}

/* A child that opens the environment raw, begins a read and waits to die. */
static pid_t
stale_reader(void)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_neq(pid = fork_child(), -1);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;

		if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 2) ||
		    mdb_env_open(env, dir, MDB_RDONLY, 0) ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn))
			_exit(2);
		write_line(p[1], "reading\n");
		for (;;)
			pause();
	}
	close(p[1]);
	if (!tu_wait_text(p[0], "reading", WAIT_MS)) {
		tu_stop(pid, 100);
		cr_assert_fail("reader did not start");
	}
	close(p[0]);
	kill(pid, SIGKILL);
	cr_assert_neq(tu_wait_exit(pid, WAIT_MS), -1);
	return pid;
}

static int
count_line(const char *msg, void *ctx)
{
	const pid_t *pid = ctx;
	char want[32];

	snprintf(want, sizeof(want), " %d ", (int)*pid);
	return strstr(msg, want) != NULL;
}

/* Reader slots of pid, through a raw handle (no other handle here). */
static int
slots_of(pid_t pid)
{
	MDB_env *env;
	int n;

	cr_assert_eq(mdb_env_create(&env), 0);
	cr_assert_eq(mdb_env_open(env, dir, MDB_RDONLY, 0), 0);
	n = mdb_reader_list(env, count_line, &pid);
	mdb_env_close(env);
	return n;
}

Test(state, stale_reader_cleared)
{
	struct state_record r;
	struct state *s = open_rw(0, 0);

	rec_full(&r, "x", 1);
	put_ok(s, &r);
	stale_reader();
	cr_expect_geq(state_reader_check(s), 1, "the dead reader's slot");
	cr_expect_eq(state_reader_check(s), 0);
	put_ok(s, &r);
	state_close(s);
}

/*
 * A child holding the environment open (read-only or not) until the parent
 * closes *release: its pid, once it holds it.
 */
static pid_t
holder_start(bool rdonly, int *release)
{
	int p[2], hold[2];
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(hold, O_CLOEXEC), 0);
	cr_assert_neq(pid = fork_child(), -1);
	if (pid == 0) {
		struct state *s;
		char err[512], c;

		close(hold[1]);
		if (state_open(dir, rdonly, NCH, 0, 0, &s, err, sizeof(err)))
			_exit(2);
		write_line(p[1], "holding\n");
		(void)!read(hold[0], &c, 1);	/* until the parent closes */
		_exit(0);
	}
	close(p[1]);
	close(hold[0]);
	cr_assert(tu_wait_text(p[0], "holding", WAIT_MS));
	close(p[0]);
	*release = hold[1];
	return pid;
}

/* Let the holder go and reap it. */
static void
holder_end(pid_t pid, int release)
{
	close(release);
	cr_expect_neq(tu_wait_exit(pid, WAIT_MS), -1);
}

/* With another process holding the environment, state_open clears it. */
Test(state, stale_reader_cleared_at_open)
{
	struct state *s = open_rw(0, 0);
	pid_t holder, dead;
	int release;

	state_close(s);
	holder = holder_start(true, &release);
	dead = stale_reader();
	cr_expect_geq(slots_of(dead), 1, "the slot is there before");
	s = open_ro();
	cr_expect_eq(state_reader_check(s), 0, "state_open cleared it");
	state_close(s);
	cr_expect_eq(slots_of(dead), 0);
	holder_end(holder, release);
}

Test(state, busy)
{
	struct state *s = open_rw(0, 0);
	pid_t holder, who;
	int release;

	state_close(s);
	cr_expect_eq(state_busy(dir, &who), 0);
	holder = holder_start(false, &release);
	cr_expect_eq(state_busy(dir, &who), 1);
	cr_expect_eq(who, holder);
	holder_end(holder, release);
	cr_expect_eq(state_busy(dir, &who), 0);
}

/*
 * Reads acknowledged puts ("n\n" lines) until EOF, SIGKILLing the writer
 * after stop_after of them; returns how many were acknowledged.
 */
static int
read_acks(int fd, bool *acked, int max, int stop_after, pid_t pid)
{
	char buf[4096];
	uint64_t end = clock_mono_ms() + WAIT_MS;
	size_t have = 0, start, i;
	ssize_t n;
	int got = 0, v;

	while (clock_mono_ms() < end) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((n = read(fd, buf + have, sizeof(buf) - have)) <= 0)
			break;
		have += (size_t)n;
		for (start = 0, i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			buf[i] = '\0';
			v = atoi(buf + start);
			start = i + 1;
			if (v < 0 || v >= max || acked[v])
				continue;
			acked[v] = true;
			if (++got == stop_after)
				kill(pid, SIGKILL);
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	return got;
}

/* A writer SIGKILLed at a random point loses no acknowledged put. */
Test(state, crash_durability, .timeout = 180)
{
	enum { N = 100000 };	/* more than it can do before the kill */
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	static bool acked[N];
	int round, p[2], i, got, rc;
	struct state_record r;
	struct state *s;
	char id[32];
	pid_t pid;

	cr_log_info("seed %u", seed);
	srand(seed);
	for (round = 0; round < 3; round++) {
		memset(acked, 0, sizeof(acked));
		cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
		cr_assert_neq(pid = fork_child(), -1);
		if (pid == 0) {
			char err[512], line[32];

			close(p[0]);
			if (state_open(dir, false, NCH, 0, 0, &s, err,
			    sizeof(err)))
				_exit(2);
			for (i = 0; i < N; i++) {
				snprintf(id, sizeof(id), "r%d-%d", round, i);
				rec_full(&r, id, 1000 + (uint64_t)i);
				if (state_put(s, &r) != STATE_OK)
					_exit(3);
				snprintf(line, sizeof(line), "%d\n", i);
				write_line(p[1], line);
			}
			_exit(0);
		}
		close(p[1]);
		got = read_acks(p[0], acked, N, 5 + rand() % 300, pid);
		close(p[0]);
		kill(pid, SIGKILL);
		cr_assert_neq(tu_wait_exit(pid, WAIT_MS), -1);
		cr_assert_gt(got, 0);
		cr_log_info("round %d: %d acknowledged puts", round, got);
		s = open_rw(0, 0);
		for (i = 0; i < N; i++) {
			if (!acked[i])
				continue;
			snprintf(id, sizeof(id), "r%d-%d", round, i);
			rc = state_get(s, id, &r);
			cr_expect_eq(rc, STATE_OK, "round %d: acknowledged %s "
			    "lost (%d)", round, id, rc);
		}
		state_close(s);
	}
}

/* ---- `ringcast state` ---- */

/* Starts `ringcast state ARGS...` with stdout and stderr into *outfd. */
static pid_t
cli_start(const char *const *args, int *outfd)
{
	const char *argv[16] = { tu_prog("ringcast"), "state" };
	int n = 2;
	pid_t pid;

	for (; *args != NULL && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_neq(pid = tu_run_start(argv, outfd), -1);
	return pid;
}

/* Collects the output until EOF and the exit code (-1: killed by us). */
static int
cli_finish(pid_t pid, int fd, char *out, size_t outlen)
{
	return tu_run_finish(pid, fd, out, outlen, WAIT_MS);
}

static int
cli_run(const char *const *args, char *out, size_t outlen)
{
	int fd;
	pid_t pid = cli_start(args, &fd);

	return cli_finish(pid, fd, out, outlen);
}

/* A loopback TCP socket, listening or (refusing) only bound; its port. */
static int
tcp_socket(bool listening, char *hostport, size_t len)
{
	int fd, port;

	cr_assert_neq(fd = tu_tcp_listen(listening ? 4 : 0, &port), -1);
	snprintf(hostport, len, "127.0.0.1:%d", port);
	return fd;
}

/* Accepts one request, keeps its head in req, answers reply, closes. */
static bool
serve_one(int lfd, char *req, size_t reqlen, const char *reply)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	size_t have = 0;
	ssize_t n;
	int fd;

	req[0] = '\0';
	if (poll(&pfd, 1, WAIT_MS) != 1 || (fd = accept(lfd, NULL, NULL)) == -1)
		return false;
	pfd.fd = fd;
	while (strstr(req, "\r\n\r\n") == NULL && have + 1 < reqlen &&
	    poll(&pfd, 1, WAIT_MS) == 1) {
		if ((n = read(fd, req + have, reqlen - 1 - have)) <= 0)
			break;
		have += (size_t)n;
		req[have] = '\0';
	}
	(void)!write(fd, reply, strlen(reply));
	close(fd);
	return strstr(req, "\r\n\r\n") != NULL;
}

static void
cli_fixture(struct state *s)
{
	struct state_record r;

	rec_full(&r, "a", 1767671704881ull);
	put_ok(s, &r);
	rec_full(&r, "b c", 1767671704881ull);
	snprintf(r.name, sizeof(r.name), "Bass");
	put_ok(s, &r);
}

/* Read while this process holds the environment open for writing. */
Test(state, cli_list_show_export)
{
	struct state *s = open_rw(0, 0);
	char out[65536], refused[64];
	int rfd = tcp_socket(false, refused, sizeof(refused));
	json_t *j;

	cli_fixture(s);
	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "--http", refused,
	    "list", NULL }, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "ID"), "%s", out);
	cr_expect_not_null(strstr(out, "b c "), "%s", out);
	cr_expect_not_null(strstr(out, "Bass"), "%s", out);
	cr_expect_not_null(strstr(out, "0,3,6,9,12,15,18,21,24,27,30"), "%s",
	    out);
	cr_expect_not_null(strstr(out, "CONN unknown"), "%s", out);

	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "show", "b c",
	    NULL }, out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(j = json_loads(out, 0, NULL), "%s", out);
	cr_expect_str_eq(json_string_value(json_object_get(j, "id")), "b c");
	cr_expect_eq(json_integer_value(json_object_get(j, "reconnects")),
	    4000000000ll);
	json_decref(j);

	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "export", NULL },
	    out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(j = json_loads(out, 0, NULL), "%s", out);
	cr_expect_eq(json_array_size(j), 2);
	json_decref(j);

	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "show", "zz",
	    NULL }, out, sizeof(out)), 1);
	cr_expect_not_null(strstr(out, "no saved state"), "%s", out);
	cr_expect_eq(cli_run((const char *const[]){ "-d", "/nonexistent/rc",
	    "list", NULL }, out, sizeof(out)), 1);
	cr_expect_not_null(strstr(out, "does not exist"), "%s", out);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "frob", NULL },
	    out, sizeof(out)), 1);
	close(rfd);
	state_close(s);
}

/* CONN comes from the daemon's /api/clients, page by page. */
Test(state, cli_list_connected)
{
	struct state *s = open_rw(0, 0);
	char out[65536], req[4096], http[64];
	int lfd = tcp_socket(true, http, sizeof(http)), fd;
	pid_t pid;

	cli_fixture(s);
	pid = cli_start((const char *const[]){ "-d", dir, "--http", http,
	    "list", NULL }, &fd);
	cr_expect(serve_one(lfd, req, sizeof(req), "HTTP/1.0 200 OK\r\n\r\n"
	    "{\"clients\":[{\"id\":\"a\",\"connected\":true}],\"next\":1}"));
	cr_expect_eq(strncmp(req, "GET /api/clients?offset=0 HTTP/1.0\r\n",
	    36), 0, "%s", req);
	cr_expect(serve_one(lfd, req, sizeof(req), "HTTP/1.0 200 OK\r\n\r\n"
	    "{\"clients\":[{\"id\":\"b c\",\"connected\":false}],\"next\":null}"));
	cr_expect_eq(strncmp(req, "GET /api/clients?offset=1 ", 26), 0, "%s",
	    req);
	cr_assert_eq(cli_finish(pid, fd, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "\na  "), "%s", out);
	cr_expect_not_null(strstr(out, "yes"), "%s", out);
	cr_expect_not_null(strstr(out, "no "), "%s", out);
	cr_expect_null(strstr(out, "unknown"), "%s", out);
	close(lfd);
	state_close(s);
}

/*
 * `ringcast state -d DIR --http HTTP ARGS...` against a scripted daemon on
 * lfd that answers reply: the request starts with req, the CLI exits with
 * code and says out.
 */
static void
cli_against(int lfd, const char *http, const char *const *args,
    const char *reply, const char *req, int code, const char *out)
{
	const char *argv[16] = { "-d", dir, "--http", http };
	char got[4096], head[4096];
	int n = 4, fd;
	pid_t pid;

	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = cli_start(argv, &fd);
	cr_expect(serve_one(lfd, head, sizeof(head), reply), "no request");
	cr_expect_eq(strncmp(head, req, strlen(req)), 0, "%s", head);
	cr_expect_eq(cli_finish(pid, fd, got, sizeof(got)), code, "%s", got);
	cr_expect_not_null(strstr(got, out), "%s", got);
}

/* forget goes through the daemon, which alone writes; the CLI writes nothing. */
Test(state, cli_forget_via_daemon)
{
	struct state *s = open_rw(0, 0);
	struct state_record r;
	char http[64];
	int lfd = tcp_socket(true, http, sizeof(http));

	cli_fixture(s);
	cli_against(lfd, http, (const char *const[]){ "--offline", "forget",
	    "b c", NULL }, "HTTP/1.0 200 OK\r\nContent-Type: application/json"
	    "\r\n\r\n{\"deleted\":true}",
	    "DELETE /api/clients/b%20c HTTP/1.0\r\n", 0, "");
	cr_expect_eq(state_get(s, "b c", &r), STATE_OK, "the CLI wrote");
	cli_against(lfd, http, (const char *const[]){ "forget", "gone", NULL },
	    "HTTP/1.0 404 Not Found\r\n\r\n{\"error\":\"no such client\"}",
	    "DELETE /api/clients/gone ", 1, "no saved state");
	cli_against(lfd, http, (const char *const[]){ "forget", "a", NULL },
	    "HTTP/1.0 500 Internal\r\n\r\n{\"error\":\"state map full\"}",
	    "DELETE /api/clients/a ", 1, "500: state map full");
	close(lfd);
	state_close(s);
}

/* With no daemon answering: refused without --offline, done with it. */
Test(state, cli_forget_offline)
{
	struct state *s = open_rw(0, 0);
	struct state_record r;
	char out[4096], refused[64], want[64];
	int rfd = tcp_socket(false, refused, sizeof(refused));

	cli_fixture(s);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "forget", "a", NULL }, out, sizeof(out)), 1);
	cr_expect_not_null(strstr(out, "--offline"), "%s", out);
	/* This process has it open: the CLI must not write behind it. */
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "--offline", "forget", "a", NULL }, out, sizeof(out)), 1);
	snprintf(want, sizeof(want), "open in process %d", (int)getpid());
	cr_expect_not_null(strstr(out, want), "%s", out);
	cr_expect_eq(state_get(s, "a", &r), STATE_OK);
	state_close(s);

	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "--offline", "forget", "a", NULL }, out, sizeof(out)), 0,
	    "%s", out);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "--offline", "forget", "a", NULL }, out, sizeof(out)), 1);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "forget", "bad\x01id", NULL }, out, sizeof(out)), 1);
	s = open_ro();
	cr_expect_eq(state_get(s, "a", &r), STATE_NOTFOUND);
	cr_expect_eq(state_get(s, "b c", &r), STATE_OK);
	state_close(s);
	close(rfd);
}

/* ---- imports ---- */

/* An export of 30 records (imp-0..29, aliases was-0..29) in dir; its path. */
static const char *
export_file(const char *name)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(records_export_write(path, 30, NCH, 1767671704881ull), 0);
	return path;
}

Test(state, import_replaces_adds_and_keeps)
{
	struct state *s = open_rw(0, 0);
	struct state_record in[2], got, other;

	rec_full(&other, "stays", 5);
	put_ok(s, &other);
	rec_full(&got, "phone", 6);
	snprintf(got.name, sizeof(got.name), "Old name");
	put_ok(s, &got);
	rec_full(&in[0], "phone", 7);
	snprintf(in[0].name, sizeof(in[0].name), "Drums");
	in[0].naliases = 2;
	snprintf(in[0].aliases[0], STATE_ID_MAX, "launch-1");
	snprintf(in[0].aliases[1], STATE_ID_MAX, "launch-2");
	rec_full(&in[1], "new-one", 8);
	cr_assert_eq(state_import(s, in, 2), STATE_OK, "%s",
	    state_strerror(s, -1));
	cr_assert_eq(state_get(s, "launch-2", &got), STATE_OK);
	cr_expect_str_eq(got.id, "phone");
	cr_expect_str_eq(got.name, "Drums");
	cr_expect_eq(got.naliases, 2);
	cr_expect_eq(state_get(s, "new-one", &got), STATE_OK);
	cr_expect_eq(state_get(s, "stays", &got), STATE_OK);
	cr_expect_eq(state_count(s), 3);
	state_close(s);
}

/* Any conflict: nothing of the import is saved, and err says which. */
Test(state, import_is_all_or_nothing)
{
	struct state *s = open_rw(4, 0);
	struct state_record in[5], got;
	int i;

	rec_full(&got, "holder", 1);
	put_ok(s, &got);
	cr_assert_eq(state_rename(s, "holder", "holder-2"), STATE_OK);
	for (i = 0; i < 5; i++) {
		char id[16];

		snprintf(id, sizeof(id), "n%d", i);
		rec_full(&in[i], id, 2);
	}
	snprintf(in[1].id, sizeof(in[1].id), "n0");
	cr_expect_eq(state_import(s, in, 2), STATE_EINVAL);
	cr_expect_not_null(strstr(state_strerror(s, STATE_EINVAL), "\"n0\" "
	    "appears twice"), "%s", state_strerror(s, STATE_EINVAL));
	snprintf(in[1].id, sizeof(in[1].id), "holder");	/* now an alias */
	cr_expect_eq(state_import(s, in, 2), STATE_EINVAL);
	cr_expect_not_null(strstr(state_strerror(s, STATE_EINVAL),
	    "alias of the saved record \"holder-2\""), "%s",
	    state_strerror(s, STATE_EINVAL));
	snprintf(in[1].id, sizeof(in[1].id), "n1");
	in[1].naliases = 1;
	snprintf(in[1].aliases[0], STATE_ID_MAX, "holder-2");
	cr_expect_eq(state_import(s, in, 2), STATE_EINVAL);
	cr_expect_not_null(strstr(state_strerror(s, STATE_EINVAL),
	    "a saved record of its own"), "%s", state_strerror(s,
	    STATE_EINVAL));
	in[1].naliases = 0;
	cr_expect_eq(state_import(s, in, 5), STATE_EFULL, "4 identities at "
	    "most");
	cr_expect_eq(state_count(s), 1, "a refused import saved something");
	cr_expect_eq(state_get(s, "n0", &got), STATE_NOTFOUND);
	cr_expect_eq(state_import(s, in, 3), STATE_OK);
	cr_expect_eq(state_count(s), 4);
	state_close(s);
}

/* list and show say a record's aliases; show finds it by one. */
Test(state, cli_shows_aliases)
{
	struct state *s = open_rw(0, 0);
	struct state_record r;
	char out[65536], refused[64];
	int rfd = tcp_socket(false, refused, sizeof(refused));
	json_t *j;

	rec_full(&r, "first-launch", 1);
	put_ok(s, &r);
	cr_assert_eq(state_rename(s, "first-launch", "second-launch"), STATE_OK);
	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "--http", refused,
	    "list", NULL }, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "ALIASES"), "%s", out);
	cr_expect_not_null(strstr(out, "first-launch\n"), "%s", out);
	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "show",
	    "first-launch", NULL }, out, sizeof(out)), 0, "%s", out);
	cr_expect_not_null(strstr(out, "first-launch is an alias of "
	    "second-launch"), "%s", out);
	cr_assert_not_null(j = json_loads(strchr(out, '{'), 0, NULL), "%s", out);
	cr_expect_str_eq(json_string_value(json_array_get(json_object_get(j,
	    "aliases"), 0)), "first-launch");
	json_decref(j);
	close(rfd);
	state_close(s);
}

/* With no daemon: refused without --offline, all records with it. */
Test(state, cli_import_offline)
{
	struct state *s = open_rw(0, 0);
	struct state_record r;
	const char *file = export_file("export.json");
	char out[8192], refused[64], bad[PATH_MAX + 64];
	int rfd = tcp_socket(false, refused, sizeof(refused));
	FILE *f;

	state_close(s);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "import", file, NULL }, out, sizeof(out)), 1);
	cr_expect_not_null(strstr(out, "--offline"), "%s", out);
	cr_assert_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "--offline", "import", file, NULL }, out, sizeof(out)), 0,
	    "%s", out);
	cr_expect_not_null(strstr(out, "imported 30 records"), "%s", out);
	snprintf(bad, sizeof(bad), "%s/bad.json", dir);
	cr_assert_not_null(f = fopen(bad, "w"));
	fputs("[{\"v\": 1, \"id\": \"ok\", \"mix\": {}}, {\"v\": 1, \"id\": "
	    "\"x\", \"mix\": {\"gains\": {\"0\": 99}}}]", f);
	fclose(f);
	cr_expect_eq(cli_run((const char *const[]){ "-d", dir, "--http",
	    refused, "--offline", "import", bad, NULL }, out, sizeof(out)), 1);
	cr_expect_not_null(strstr(out, "record 2 (x)"), "%s", out);
	s = open_ro();
	cr_expect_eq(state_count(s), 30);
	cr_expect_eq(state_get(s, "was-7", &r), STATE_OK);
	cr_expect_str_eq(r.id, "imp-7");
	cr_expect_eq(state_get(s, "ok", &r), STATE_NOTFOUND, "half imported");
	state_close(s);
	close(rfd);
}

/*
 * Accepts one POST, reads all of it (an unread body would turn the close
 * into a reset that loses the answer), answers reply: its body as JSON.
 */
static json_t *
serve_post(int lfd, const char *reply)
{
	static char req[256 * 1024];
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	const char *body, *cl;
	size_t have = 0, want = 0;
	json_t *j = NULL;
	ssize_t n;
	int fd;

	if (poll(&pfd, 1, WAIT_MS) != 1 || (fd = accept(lfd, NULL, NULL)) == -1)
		return NULL;
	pfd.fd = fd;
	for (;;) {
		req[have] = '\0';
		body = strstr(req, "\r\n\r\n");
		if (body != NULL && (cl = strcasestr(req, "Content-Length:")) !=
		    NULL)
			want = (size_t)(body + 4 - req) + strtoul(cl + 15, NULL,
			    10);
		if ((body != NULL && have >= want) || have + 1 >= sizeof(req) ||
		    poll(&pfd, 1, WAIT_MS) != 1 ||
		    (n = read(fd, req + have, sizeof(req) - 1 - have)) <= 0)
			break;
		have += (size_t)n;
	}
	if (body != NULL && strncmp(req, "POST /api/state/import HTTP/1.0\r\n",
	    33) == 0)
		j = json_loads(body + 4, 0, NULL);
	(void)!write(fd, reply, strlen(reply));
	close(fd);
	return j;
}

/* A batch has the token of the first answer, n records, last or not. */
static void
batch_check(json_t *j, int token, size_t n, bool last)
{
	cr_expect_eq(json_integer_value(json_object_get(j, "import")), token);
	cr_expect_eq(json_array_size(json_object_get(j, "records")), n);
	cr_expect_eq(json_is_true(json_object_get(j, "last")), last);
	json_decref(j);
}

/* Through the daemon: batches of at most API_IMPORT_BATCH, its refusal said. */
Test(state, cli_import_via_daemon)
{
	struct state *s = open_rw(0, 0);
	const char *file = export_file("export.json");
	char http[64], got[4096];
	int lfd = tcp_socket(true, http, sizeof(http)), fd;
	json_t *j;
	pid_t pid;

	state_close(s);
	pid = cli_start((const char *const[]){ "-d", dir, "--http", http,
	    "import", file, NULL }, &fd);
	cr_assert_not_null(j = serve_post(lfd, "HTTP/1.0 200 OK\r\n\r\n"
	    "{\"import\":7,\"staged\":10}"), "no first batch");
	batch_check(j, 0, API_IMPORT_BATCH, false);
	cr_assert_not_null(j = serve_post(lfd, "HTTP/1.0 200 OK\r\n\r\n"
	    "{\"import\":7,\"staged\":20}"), "no second batch");
	batch_check(j, 7, API_IMPORT_BATCH, false);
	cr_assert_not_null(j = serve_post(lfd, "HTTP/1.0 409 Conflict"
	    "\r\n\r\n{\"error\":\"1 of the records belong to listeners "
	    "connected now\",\"live\":[\"imp-29\"]}"), "no last batch");
	batch_check(j, 7, 30 - 2 * API_IMPORT_BATCH, true);
	cr_expect_eq(cli_finish(pid, fd, got, sizeof(got)), 1, "%s", got);
	cr_expect_not_null(strstr(got, "connected now: imp-29"), "%s", got);
	cr_expect_not_null(strstr(got, "nothing was imported"), "%s", got);
	close(lfd);
}
