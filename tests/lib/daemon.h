/* daemon.h — test library: ringcastd started on kernel-chosen ports in a temp dir, stopped, cleaned up. */
#ifndef RINGCAST_DAEMON_H
#define RINGCAST_DAEMON_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RCD_PGIDS	8	/* daemons one struct rcd starts in a test */

struct rcd {
	pid_t		pid;		/* ringcastd, leader of its process group */
	int		native_port;
	int		http_port;
	uint64_t	ready_ms;	/* exec to "ready" of the last start */
	char		dir[128];	/* temp dir: state/, ringcastd.log */
	char		ring[64];
	char		log[160];
	char		prog[192];	/* "": the build's ringcastd */
	pid_t		pgid[RCD_PGIDS];	/* every group started, for cleanup */
	int		npgid;
};

/*
 * The four programs of a build directory installed into dir, each one
 * replaced whole (written aside, then renamed over), as a package manager
 * does: a running binary keeps its old file.  0 or -1.
 */
int	rcd_install(const char *from, const char *dir);
/* A temp dir /tmp/rc-test-PID-TAG-XXXXXX and the ring's name; 0 or -1. */
int	rcd_init(struct rcd *d, const char *tag);
/*
 * Start ringcastd in its own process group on 127.0.0.1:0 (native and
 * HTTP), state and log in d->dir, extra arguments appended, and wait for its
 * readiness ("ready" on the notify descriptor); the ports are then in d.
 * 0 or -1.
 */
int	rcd_start(struct rcd *d, const char *const *extra, int timeout_ms);
/* SIGTERM to ringcastd alone, as an operator does; its wait status or -1. */
int	rcd_stop(struct rcd *d, int timeout_ms);
/* SIGKILL to ringcastd alone (its children are left to their own fate). */
void	rcd_kill(struct rcd *d);
/*
 * The end of a test or a run: ringcastd stopped, every process group it
 * ever had killed, its ring and its directory removed.  Safe to repeat.
 */
void	rcd_cleanup(struct rcd *d);
/* The last tail bytes of the daemon's log on stderr (for a failed check). */
void	rcd_dump_log(const struct rcd *d, size_t tail);
/* Whether the daemon's log (its children log there too) holds text. */
bool	rcd_log_has(const struct rcd *d, const char *text);
/* Wait until it does (inotify on the log): 1, or 0 on timeout. */
int	rcd_log_wait(const struct rcd *d, const char *text, int timeout_ms);

#endif
