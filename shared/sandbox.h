/* sandbox.h — privilege drop, resource limits and seccomp allow-lists per process role. */
#ifndef RINGCAST_SANDBOX_H
#define RINGCAST_SANDBOX_H

#include <stdbool.h>

#include "shared/msg.h"

/*
 * Order, in each child (STYLE.md): the supervisor looked the user up and
 * passes "--drop UID:GID[:DIR]"; sandbox_drop_arg() records it while the
 * options are parsed.  sandbox_prepare() then chroots to DIR, drops to
 * UID:GID (checked), sets no_new_privs, clears dumpable and sets the role's
 * rlimits; process-specific initialisation follows; sandbox_enter() loads
 * the role's seccomp allow-list last.  Both abort the process on failure:
 * a child that cannot be confined must not serve.
 *
 * Built with RINGCAST_SANDBOX=0 (sanitizers, debugging) the drop and the
 * rlimits still happen, but no seccomp filter is loaded and no_new_privs is
 * still set; sandbox_probe() then refuses to try anything.
 */
enum sandbox_role {
	SANDBOX_CAPTURE,
	SANDBOX_BROKER,
	SANDBOX_SESSIOND,
	SANDBOX_PUBLISH,
};

#define SANDBOX_GROUPS_MAX	32

/*
 * Parse "--drop UID:GID[,GID...][:DIR]": the first GID is the group, the
 * rest supplementary groups (capture: e.g. "audio" for the sound devices;
 * broker and sessions get none).  Exits 2 with a message if malformed.
 */
void	sandbox_drop_arg(const char *arg);
/*
 * Drop (if --drop was given), no_new_privs, dumpable 0, rlimits.  nofile is
 * RLIMIT_NOFILE for this process, 0 for the role's default.
 */
void	sandbox_prepare(enum sandbox_role role, unsigned nofile);
/* Load the role's seccomp filter (all threads).  The null build: nothing. */
void	sandbox_enter(enum sandbox_role role);
/* True once sandbox_enter() has loaded a filter. */
bool	sandbox_active(void);
/*
 * Test only (MSG_PROBE, sent with --test-probes).  Action "open", "execve"
 * or "socket": attempts that syscall for real if a filter is in place (it
 * is refused with EPERM or the process dies of SIGSYS, as the allow-list
 * says) and logs what happened if the process survives; without a filter
 * it refuses, so a probe can never exec or open anything.  Action "send":
 * sends the supervisor a message of type p->type on chan whatever the
 * table allows, to show the supervisor's channel-fault policy at work.
 */
void	sandbox_probe(int chan, enum msg_role self, const struct msg_probe *p);

#endif
