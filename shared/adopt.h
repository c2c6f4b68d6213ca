/* adopt.h — a child that outlives its supervisor: the rendezvous, the proof, the grace. */
#ifndef RINGCAST_ADOPT_H
#define RINGCAST_ADOPT_H

#include <sys/socket.h>
#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include "shared/msg.h"

/*
 * Every child started with --adopt RING listens, from its start, on an
 * abstract SOCK_SEQPACKET socket named
 *
 *	@ringcast-adopt<RING>/<role>/<pid>
 *
 * (RING begins with '/').  While its supervisor lives nothing happens
 * there.  When the parent channel ends the child becomes an orphan: it goes
 * on with its job and accepts on the rendezvous; a connection from a
 * process of another user than the one that started it is closed unread.
 * To the first from the right user it sends its MSG_ADOPT_* message, with
 * the secret it got at spawn (MSG_ADOPT_KEY), and that connection is its
 * parent channel from then on.  The new supervisor checks the secret
 * (supervisor/supervisor_adopt.c); an orphan nobody adopts within its grace
 * exits.  A child without a key (its supervisor died before sending it)
 * cannot prove anything and ends on the parent's EOF as before.
 */

#define ADOPT_PREFIX		"ringcast-adopt"
#define ADOPT_NAME_MAX		107	/* sun_path without the leading NUL */
#define ADOPT_GRACE_S		60	/* the default orphan-grace-s */
#define ADOPT_BACKLOG		8

struct adopt {
	int		 fd;		/* the rendezvous, listening; -1: none */
	uid_t		 uid;		/* who may adopt us */
	bool		 keyed;
	struct msg_adopt_key key;
	uint64_t	 orphan_ms;	/* monotonic; 0 while we have a parent */
};

/* The rendezvous name of (ring, role, pid), without the leading '@'; -1 if too long. */
int	adopt_name(char *buf, size_t len, const char *ring, enum msg_role role,
	    pid_t pid);
/* The parts of a rendezvous name of ring: 0, or -1 if name is not one. */
int	adopt_name_parse(const char *name, const char *ring,
	    enum msg_role *role, pid_t *pid);
/* The sockaddr of an abstract name; its length. */
struct sockaddr_un;
socklen_t adopt_addr(struct sockaddr_un *sun, const char *name);

/*
 * At start, before privileges are dropped and the sandbox entered: listen
 * on the rendezvous (ring NULL: not adoptable, fd -1).  The user allowed
 * to adopt us is our effective user now, the supervisor's.  0 or -1.
 */
int	adopt_listen(struct adopt *a, const char *ring, enum msg_role role);
void	adopt_keyed(struct adopt *a, const struct msg_adopt_key *k);
/*
 * The parent channel ended.  true: we can be adopted and wait for it (the
 * caller goes on without a parent); false: the caller ends as before.
 */
bool	adopt_orphaned(struct adopt *a);
/* An orphan past its grace. */
bool	adopt_expired(const struct adopt *a);
/* The descriptor to watch while an orphan, else -1. */
int	adopt_watch_fd(const struct adopt *a);
/*
 * The rendezvous is readable: a connection from our supervisor's user, as
 * the new parent channel (non-blocking, close-on-exec), or -1 (nothing, or
 * a stranger, closed).  On a connection, answer (len bytes, a MSG_ADOPT_*
 * body, which starts with struct msg_adopt) is zeroed and its shared part
 * filled in: we have a parent again.
 */
int	adopt_accept(struct adopt *a, void *answer, size_t len);
/*
 * Our answer on fd, the new supervisor's connection: the MSG_ADOPT_* of
 * our role.  0: fd is our parent channel now.  -1: it did not go (said,
 * fd closed, an orphan again): adopt_fail, which a child that sends more
 * first (the broker's listeners) calls itself.
 */
int	adopt_answer(struct adopt *a, int fd, enum msg_role role, uint32_t type,
	    const void *body, size_t len);
void	adopt_fail(struct adopt *a, int fd, const char *what);

#endif
