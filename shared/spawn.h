/* spawn.h — a forked child's last steps before exec: its descriptors in place, nothing else inherited. */
#ifndef RINGCAST_SPAWN_H
#define RINGCAST_SPAWN_H

#define SPAWN_FDS_MAX	8

/*
 * In a forked child, before exec: fds[i] on descriptor 3 + i (the parent
 * channel first: MSG_PARENT_FD), whatever numbers they had; stdin from
 * /dev/null; every other descriptor above them closed; every signal at its
 * default and none blocked.  Async-signal-safe.  0, or -1 (the caller
 * _exits).
 */
int	spawn_prepare(const int *fds, int nfds);
/*
 * In a child, at start: SIGPIPE ignored (a peer's close is an error from
 * write, never a death); SIGTERM and SIGINT call on_stop, without
 * SA_RESTART so that a blocking wait returns early (NULL: left as they are,
 * for a child that takes them in its event loop).
 */
void	spawn_signals(void (*on_stop)(int));

#endif
