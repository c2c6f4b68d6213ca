/* adopt.c — a child that outlives its supervisor: the rendezvous, the proof, the grace. */
#define _GNU_SOURCE	/* struct ucred */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/log.h"

int
adopt_name(char *buf, size_t len, const char *ring, enum msg_role role,
    pid_t pid)
{
	int n;

	if (len > ADOPT_NAME_MAX + 1)
		len = ADOPT_NAME_MAX + 1;
	n = snprintf(buf, len, "%s%s/%s/%d", ADOPT_PREFIX, ring,
	    msg_role_name(role), (int)pid);
	return n > 0 && (size_t)n < len ? 0 : -1;
}

int
adopt_name_parse(const char *name, const char *ring, enum msg_role *role,
    pid_t *pid)
{
	size_t pl = strlen(ADOPT_PREFIX), rl = strlen(ring), wl;
	const char *p;
	char *end;
	long v;
	int r;

	if (strncmp(name, ADOPT_PREFIX, pl) != 0 ||
	    strncmp(name + pl, ring, rl) != 0 || name[pl + rl] != '/')
		return -1;
	p = name + pl + rl + 1;
	for (r = ROLE_CAPTURE; r < ROLE_MAX; r++) {
		const char *word = msg_role_name((enum msg_role)r);

		wl = strlen(word);
		if (strncmp(p, word, wl) == 0 && p[wl] == '/')
			break;
	}
	if (r == ROLE_MAX)
		return -1;
	p += wl + 1;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno != 0 || end == p || *end != '\0' || v <= 1 || v > 1 << 22)
		return -1;
	*role = (enum msg_role)r;
	*pid = (pid_t)v;
	return 0;
}

socklen_t
adopt_addr(struct sockaddr_un *sun, const char *name)
{
	size_t n = strlen(name);

	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (n > ADOPT_NAME_MAX)
		n = ADOPT_NAME_MAX;
	memcpy(sun->sun_path + 1, name, n);	/* sun_path[0] = 0: abstract */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

int
adopt_listen(struct adopt *a, const char *ring, enum msg_role role)
{
	struct sockaddr_un sun;
	char name[ADOPT_NAME_MAX + 1];
	socklen_t len;

	memset(a, 0, sizeof(*a));
	a->fd = -1;
	a->uid = geteuid();
	if (ring == NULL)
		return 0;
	if (adopt_name(name, sizeof(name), ring, role, getpid()) == -1) {
		log_warnx("ring %s: name too long to be adopted", ring);
		return -1;
	}
	len = adopt_addr(&sun, name);
	if ((a->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    bind(a->fd, (struct sockaddr *)&sun, len) == -1 ||
	    listen(a->fd, ADOPT_BACKLOG) == -1) {
		log_warn("rendezvous @%s", name);
		if (a->fd != -1)
			close(a->fd);
		a->fd = -1;
		return -1;
	}
	return 0;
}

void
adopt_keyed(struct adopt *a, const struct msg_adopt_key *k)
{
	a->key = *k;
	a->keyed = true;
}

bool
adopt_orphaned(struct adopt *a)
{
	if (a->fd < 0 || !a->keyed)
		return false;
	a->orphan_ms = clock_mono_ms();
	log_warnx("the supervisor is gone: going on, waiting up to %u s for "
	    "a new one", a->key.grace_s);
	return true;
}

bool
adopt_expired(const struct adopt *a)
{
	return a->orphan_ms != 0 &&
	    clock_mono_ms() - a->orphan_ms >= (uint64_t)a->key.grace_s * 1000;
}

int
adopt_watch_fd(const struct adopt *a)
{
	return a->orphan_ms != 0 ? a->fd : -1;
}

/* The part every MSG_ADOPT_* shares. */
static void
adopt_fill(struct adopt *a, struct msg_adopt *m)
{
	memcpy(m->secret, a->key.secret, sizeof(m->secret));
	snprintf(m->version, sizeof(m->version), "%s", RINGCAST_VERSION);
	m->orphan_ms = a->orphan_ms ? clock_mono_ms() - a->orphan_ms : 0;
	a->orphan_ms = 0;
}

int
adopt_accept(struct adopt *a, void *answer, size_t len)
{
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd;

	if (a->orphan_ms == 0 ||
	    (fd = accept4(a->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == -1) {
		log_warn("rendezvous: SO_PEERCRED");
		close(fd);
		return -1;
	}
	if (cr.uid != a->uid) {
		log_warnx("rendezvous: a process of user %d knocked: closed",
		    (int)cr.uid);
		close(fd);
		return -1;
	}
	log_info("adopted by pid %d after %llu ms", (int)cr.pid,
	    (unsigned long long)(clock_mono_ms() - a->orphan_ms));
	memset(answer, 0, len);
	adopt_fill(a, answer);
	return fd;
}

void
adopt_fail(struct adopt *a, int fd, const char *what)
{
	log_warn("%s", what);
	close(fd);
	(void)adopt_orphaned(a);
}

int
adopt_answer(struct adopt *a, int fd, enum msg_role role, uint32_t type,
    const void *body, size_t len)
{
	if (msg_send(fd, role, type, body, len, NULL, 0, -1) == 0)
		return 0;
	adopt_fail(a, fd, msg_name(type));
	return -1;
}
