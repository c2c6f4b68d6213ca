/* supervisor_import.c — saved records brought back (POST /api/state/import): batches staged, committed at once. */
/*
 * `ringcast state import` sends an export's records in batches, each one
 * request whose tail the broker decoded into struct state_record (the
 * table checked them again).  They are staged here, at most the state's
 * identity limit, and the last batch commits them all in one LMDB
 * transaction (state_import), or nothing: not if any of them belongs to a
 * listener connected now (its session would go on with the old mix), nor
 * when state_import refuses them.  One import at a time; one left without
 * its last batch for IMPORT_IDLE_MS is dropped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "supervisor/supervisor.h"

#define IMPORT_IDLE_MS	30000

static struct {
	uint32_t		 token;		/* 0: none staged */
	uint32_t		 last_token;
	struct state_record	*recs;
	size_t			 n, cap;
	uint64_t		 touched_ms;
} imp;

static void
drop(void)
{
	free(imp.recs);
	imp.recs = NULL;
	imp.n = imp.cap = 0;
	imp.token = 0;
}

/* The batch's records appended to the staged ones; -1 over the limit. */
static int
stage(const char *tail, size_t len)
{
	size_t add = len / sizeof(struct state_record), cap;
	struct state_record *r;

	if (imp.n + add > STATE_MAX_IDS_DEFAULT)
		return -1;
	if (imp.n + add > imp.cap) {
		cap = imp.cap ? imp.cap * 2 : 64;
		while (cap < imp.n + add)
			cap *= 2;
		if ((r = reallocarray(imp.recs, cap, sizeof(*r))) == NULL)
			return -1;
		imp.recs = r;
		imp.cap = cap;
	}
	/* The tail need not be aligned for the struct: copied as bytes. */
	memcpy(imp.recs + imp.n, tail, add * sizeof(struct state_record));
	imp.n += add;
	imp.touched_ms = clock_mono_ms();
	return 0;
}

/* The identities among the staged records a live session holds. */
static json_t *
live_ids(void)
{
	json_t *a = json_array();
	const struct state_record *r;
	size_t i;
	uint32_t k;

	for (i = 0; a != NULL && i < imp.n; i++) {
		r = &imp.recs[i];
		if (session_find(r->id) != NULL) {
			json_array_append_new(a, json_string(r->id));
			continue;
		}
		for (k = 0; k < r->naliases; k++)
			if (session_find(r->aliases[k]) != NULL) {
				json_array_append_new(a, json_string(r->id));
				break;
			}
	}
	return a;
}

static int
commit_staged(json_t **out)
{
	json_t *live = live_ids();
	size_t i;
	int rc;

	if (json_array_size(live) > 0) {
		*out = api_error("%zu of the records belong to listeners "
		    "connected now: disconnect them first", json_array_size(live));
		json_object_set_new(*out, "live", live);
		return 409;
	}
	json_decref(live);
	if ((rc = state_import(sv.state, imp.recs, imp.n)) != STATE_OK) {
		*out = api_error("%s", state_strerror(sv.state, rc));
		return rc == STATE_EINVAL ? 409 : rc == STATE_EFULL ? 413 : 500;
	}
	log_info("import: %zu records saved", imp.n);
	for (i = 0; i < imp.n; i++)
		api_event("client_updated", session_entry(&imp.recs[i], NULL));
	*out = json_pack("{s:I}", "imported", (json_int_t)imp.n);
	return 200;
}

/* A new import, or the next batch of the one staged. */
static int
begin(uint32_t token, json_t **out)
{
	if (imp.token != 0 && clock_mono_ms() - imp.touched_ms >
	    IMPORT_IDLE_MS) {
		log_warnx("import %u: no batch for %d s, dropped", imp.token,
		    IMPORT_IDLE_MS / 1000);
		drop();
	}
	if (token == 0 && imp.token != 0) {
		*out = api_error("another import is under way");
		return 409;
	}
	if (token != 0 && token != imp.token) {
		*out = api_error("no import %u under way (dropped after %d s "
		    "without a batch, or after an error)", token,
		    IMPORT_IDLE_MS / 1000);
		return 409;
	}
	if (token == 0) {
		if (++imp.last_token == 0)	/* 0 asks for a new one */
			imp.last_token = 1;
		imp.token = imp.last_token;
		imp.touched_ms = clock_mono_ms();
	}
	return 0;
}

int
import_batch(const struct api_import *b, const char *tail, size_t len,
    json_t **out)
{
	int status;

	*out = NULL;
	if ((status = begin(b->token, out)) != 0)
		return status;
	if (stage(tail, len) == -1) {
		drop();
		*out = api_error("more than %d records (or out of memory)",
		    STATE_MAX_IDS_DEFAULT);
		return 413;
	}
	if (!b->last) {
		*out = json_pack("{s:I, s:I}", "import", (json_int_t)imp.token,
		    "staged", (json_int_t)imp.n);
		return 200;
	}
	status = commit_staged(out);
	drop();
	return status;
}
