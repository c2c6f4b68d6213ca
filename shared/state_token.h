/* state_token.h — access tokens in LMDB: hashes only, never a secret (docs/STATE.md). */
#ifndef RINGCAST_STATE_TOKEN_H
#define RINGCAST_STATE_TOKEN_H

#include <stdint.h>

#include "shared/state.h"
#include "shared/token.h"

/*
 * The named database "tokens": key = the public id, value = compact JSON
 * {"v": 1, "role": "engineer" | "listener", "listener": ID, "name": ...,
 *  "hash": 64 hex digits, "created": unix ms}.  Every change also bumps
 * the meta key "tokens_changed", in the same transaction: that is how a
 * running ringcastd learns (within a second) that `ringcast token` made
 * or revoked one.
 */

struct token_record {
	struct token_entry e;
	char		name[TOKEN_NAME_MAX];	/* for people, "" = none */
	uint64_t	created_ms;		/* unix ms */
};

/* Store a new token (STATE_EINVAL if TOKEN_MAX are stored already). */
int	state_token_put(struct state *s, const struct token_record *r);
/* Revoke: STATE_OK, STATE_NOTFOUND or an error. */
int	state_token_del(struct state *s, const char *id);
/* Every stored token, in id order; fn returns non-zero to stop. */
int	state_token_each(struct state *s,
	    int (*fn)(const struct token_record *, void *), void *arg);
/* The change counter (0 before the first token). */
int	state_token_gen(struct state *s, uint64_t *gen);

/* The record codec, also for tests and fuzzing. */
json_t	*token_record_json(const struct token_record *r);
int	token_record_decode(const char *id, const void *data, size_t len,
	    struct token_record *r);

#endif
