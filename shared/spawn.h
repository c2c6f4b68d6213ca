/* spawn.h — a forked child's last steps before exec: its descriptors in place, nothing else inherited. */
#ifndef RINGCAST_SPAWN_H
#define RINGCAST_SPAWN_H

#include <stddef.h>

#include "shared/opt.h"
#include "shared/sandbox.h"

#define SPAWN_FDS_MAX	8

/*
 * The options every child takes from the supervisor, as rows of its
 * option table (shared/opt.h): --parent-fd, --adopt, --drop, -v; the
 * fields of its options struct type that hold them.
 */
#define SPAWN_CHILD_OPTIONS(type, parent, adopt, verbose)		\
	OPT_DESCRIPTOR(type, "parent-fd", parent),			\
	{ "adopt", OPT_TEXT, offsetof(type, adopt), 0, 0, NULL, "RING" },	\
	{ "drop", OPT_CALL, 0, 0, 0, sandbox_drop_arg,			\
	    "UID:GID[,GID...][:DIR]" },					\
	{ "verbose", OPT_COUNT, offsetof(type, verbose), 0, 0, NULL, NULL }

/*
 * In a forked child, before exec: fds[i] on descriptor 3 + i (the parent
 * channel first: MSG_PARENT_FD), whatever numbers they had; stdin from
 * /dev/null; every other descriptor above them closed; every signal at its
 * default and none blocked.  Async-signal-safe.  0, or -1 (the caller
 * _exits).
 */
int	spawn_prepare(const int *fds, int nfds);

#endif
