/* state_lmdb.h — for the parts of the state kept in files of their own (state_token.c). */
#ifndef RINGCAST_STATE_LMDB_H
#define RINGCAST_STATE_LMDB_H

#include <stdbool.h>

#include <lmdb.h>

#include "shared/state.h"

/* A transaction of the environment: write or read-only. */
int	state_txn(struct state *s, bool write, MDB_txn **txn);
/* An LMDB failure as a state error, said by state_strerror. */
int	state_lmdb_fail(struct state *s, int mrc, const char *what);

#endif
