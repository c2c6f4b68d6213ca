/* sandbox.c — privilege drop, resource limits and seccomp allow-lists per process role. */
#define _GNU_SOURCE	/* setresuid, getresuid */
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <linux/capability.h>
#include <linux/futex.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <time.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#if RINGCAST_SANDBOX
#include <seccomp.h>
#endif
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#include "shared/log.h"
#include "shared/sandbox.h"

#define MIB	(1024ul * 1024)
#define CAPTURE_RTPRIO_LIMIT	90

static struct {
	bool	set;
	uid_t	uid;
	gid_t	groups[SANDBOX_GROUPS_MAX];	/* [0] is the gid */
	int	ngroups;
	char	dir[PATH_MAX];	/* "" = no chroot */
} drop;

static bool active;

static unsigned long
parse_id(const char *s, char **end)
{
	unsigned long v;

	errno = 0;
	v = strtoul(s, end, 10);
	if (errno != 0 || *end == s || *s == '-' || v >= UINT32_MAX)
		errx(2, "--drop: bad id in \"%s\"", s);
	return v;
}

void
sandbox_drop_arg(const char *arg)
{
	char *end;

	drop.uid = (uid_t)parse_id(arg, &end);
	if (*end != ':')
		errx(2, "--drop: UID:GID[,GID...][:DIR] expected, got \"%s\"",
		    arg);
	drop.ngroups = 0;
	do {
		if (drop.ngroups == SANDBOX_GROUPS_MAX)
			errx(2, "--drop: more than %d groups", SANDBOX_GROUPS_MAX);
		drop.groups[drop.ngroups++] = (gid_t)parse_id(end + 1, &end);
	} while (*end == ',');
	drop.dir[0] = '\0';
	if (*end == ':') {
		if (end[1] != '/' || strlen(end + 1) >= sizeof(drop.dir))
			errx(2, "--drop: the directory must be absolute");
		strcpy(drop.dir, end + 1);
	} else if (*end != '\0')
		errx(2, "--drop: UID:GID[,GID...][:DIR] expected, got \"%s\"",
		    arg);
	drop.set = true;
}

/*
 * Capture's one privilege: SCHED_FIFO for the audio thread.  The narrow
 * way is an RLIMIT_RTPRIO only root may raise, raised before the drop; a
 * host that denies even root that (no CAP_SYS_RESOURCE, e.g. a container)
 * gets CAP_SYS_NICE kept across the drop instead, and nothing else.
 */
static bool
keep_realtime(void)
{
	struct rlimit rt = { CAPTURE_RTPRIO_LIMIT, CAPTURE_RTPRIO_LIMIT };

	if (setrlimit(RLIMIT_RTPRIO, &rt) == 0)
		return false;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	return true;
}

static void
keep_only_sys_nice(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	memset(d, 0, sizeof(d));
	d[0].effective = d[0].permitted = 1u << CAP_SYS_NICE;
	if (syscall(SYS_capset, &h, d) == -1)
		fatal("capset CAP_SYS_NICE");
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("PR_SET_KEEPCAPS");
	log_info("RLIMIT_RTPRIO cannot be raised here: keeping CAP_SYS_NICE");
}

/*
 * A sanitizer build and the chroot.  The report file (log_path) is opened
 * at the first report, when inside the chroot its path is gone: asking for
 * the path opens it now, and the sanitizer keeps the descriptor.
 * LeakSanitizer's check at exit reads /proc, which the chroot hides, so
 * there it could only fail: a chrooted process turns it off (the tests
 * that run these programs without --user check their leaks).
 */
#ifdef __SANITIZE_ADDRESS__
static bool chrooted;

int
__lsan_is_turned_off(void)
{
	return chrooted;
}
#endif

static void
sanitizers_before_chroot(void)
{
#ifdef __SANITIZE_ADDRESS__
	(void)__sanitizer_get_report_path();
	chrooted = true;
#endif
}

/* chroot while still root; then groups, gid, uid; then prove it sticks. */
static void
drop_privileges(enum sandbox_role role)
{
	/* The two that pace audio keep real-time scheduling: capture, publish. */
	bool keepcaps = (role == SANDBOX_CAPTURE || role == SANDBOX_PUBLISH) &&
	    keep_realtime();
	uid_t r, e, s;
	gid_t rg, eg, sg, gid = drop.groups[0];

	if (drop.dir[0] != '\0')
		sanitizers_before_chroot();
	if (drop.dir[0] != '\0' && (chroot(drop.dir) == -1 || chdir("/") == -1))
		fatal("chroot %s", drop.dir);
	if (setgroups((size_t)drop.ngroups, drop.groups) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(drop.uid, drop.uid, drop.uid) == -1)
		fatal("cannot drop to %u:%u", (unsigned)drop.uid,
		    (unsigned)gid);
	if (getresuid(&r, &e, &s) == -1 || getresgid(&rg, &eg, &sg) == -1 ||
	    r != drop.uid || e != drop.uid || s != drop.uid ||
	    rg != gid || eg != gid || sg != gid)
		fatalx("ids did not change to %u:%u", (unsigned)drop.uid,
		    (unsigned)gid);
	/* Neither way back may work (unless root was asked for: --user root). */
	if (keepcaps)
		keep_only_sys_nice();
	if (drop.uid != 0 &&
	    (setuid(0) != -1 || seteuid(0) != -1 || setgid(0) != -1))
		fatalx("could regain root after the drop");
}

static void
limit(int res, const char *name, rlim_t v)
{
	struct rlimit rl = { v, v }, cur;

	/* Never raise: an operator's tighter limit wins. */
	if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY &&
	    cur.rlim_max < v)
		rl.rlim_cur = rl.rlim_max = cur.rlim_max;
	if (setrlimit(res, &rl) == -1)
		fatal("setrlimit %s", name);
}

/*
 * Private memory.  Not in the null build (SANDBOX=0): it exists for the
 * sanitizers, whose shadow memory a data limit would refuse.
 */
static void
limit_data(rlim_t v)
{
#if RINGCAST_SANDBOX
	limit(RLIMIT_DATA, "data", v);
#else
	(void)v;
#endif
}

/*
 * No new process.  Not in the null build either: LeakSanitizer checks at
 * exit from a helper it clones, which a limit of 0 refuses once the
 * dropped user has processes.
 */
static void
limit_nproc(void)
{
#if RINGCAST_SANDBOX
	limit(RLIMIT_NPROC, "nproc", 0);
#endif
}

/*
 * Sized to the role.  No RLIMIT_FSIZE: stderr may be a log file, and a
 * write past it would kill the process with SIGXFSZ; the seccomp lists and
 * the chroot keep these processes from opening files anyway.  No
 * RLIMIT_AS: the ring's shared mapping is counted there and its size is
 * the operator's choice; RLIMIT_DATA counts private memory only.
 */
static void
limits(enum sandbox_role role, unsigned nofile)
{
	/*
	 * Audio libraries open devices and start threads: capture keeps NPROC
	 * and MEMLOCK.  Capture and the publisher (they pace audio) get
	 * their real-time priority.
	 */
	static const struct {
		rlim_t	nofile, data;
		bool	rtprio, confined;
	} roles[] = {
		[SANDBOX_CAPTURE] = { 256, 0, true, false },
		[SANDBOX_BROKER] = { 1024, 1024 * MIB, false, true },
		[SANDBOX_SESSIOND] = { 16, 256 * MIB, false, true },
		[SANDBOX_PUBLISH] = { 16, 256 * MIB, true, true },
	};

	limit(RLIMIT_CORE, "core", 0);
	limit(RLIMIT_NOFILE, "nofile", nofile ? nofile : roles[role].nofile);
	if (roles[role].rtprio)
		limit(RLIMIT_RTPRIO, "rtprio", CAPTURE_RTPRIO_LIMIT);
	if (!roles[role].confined)
		return;
	limit_nproc();
	limit(RLIMIT_MEMLOCK, "memlock", 0);
	limit_data(roles[role].data);
}

void
sandbox_prepare(enum sandbox_role role, unsigned nofile)
{
	/*
	 * What libraries would read from the filesystem later, read now,
	 * before the chroot and the filter: jansson's hash seed (untrusted
	 * JSON must not be able to pick colliding keys) and the timezone.
	 */
	json_object_seed(0);
	tzset();
	if (drop.set && geteuid() == 0)
		drop_privileges(role);
	else if (drop.set)
		log_info("not root: --drop ignored");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("PR_SET_NO_NEW_PRIVS");
	/* Processes of the same user (other sessions) may not ptrace us. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("PR_SET_DUMPABLE");
	limits(role, nofile);
}

bool
sandbox_active(void)
{
	return active;
}

#if RINGCAST_SANDBOX

struct rule {
	int	nr;
	const char *why;	/* documentation only */
};

#define R(name, why)	{ SCMP_SYS(name), why }

/*
 * From strace -f of real runs (native clients, server mix, float32, HTTP
 * API, probes), after the filter is loaded.  What every role does:
 * memory, time, signals, stderr, the parent channel.
 */
static const struct rule common[] = {
	R(read, "eventfd, sockets"), R(write, "stderr log lines, eventfd"),
	R(close, "finished descriptors"),
	R(sendmsg, "parent channel (SEQPACKET), client packets"),
	R(recvmsg, "parent channel"),
	R(poll, "event waits"), R(ppoll, "event waits"),
	R(fcntl, "descriptor flags"),
	R(brk, "malloc"), R(munmap, "free"), R(mremap, "realloc"),
	R(madvise, "malloc trimming"),
	R(clock_gettime, "clocks without the vDSO"),
	R(clock_nanosleep, "pacing"), R(nanosleep, "pacing"),
	R(gettimeofday, "clocks without the vDSO"),
	R(getpid, "log lines"), R(gettid, "libraries"),
	R(rt_sigreturn, "signal handlers"), R(rt_sigprocmask, "signals"),
	R(restart_syscall, "after a stop/continue"),
	R(exit, "threads"), R(exit_group, "exit"),
	R(getrandom, "malloc, hash seeds"),
	R(accept4, "an orphan: a new supervisor at the rendezvous"),
	R(getsockopt, "its credentials (SO_PEERCRED); TCP_INFO"),
};

static const struct rule sessiond[] = {
	R(recvfrom, "client control messages"),
	R(sendto, "client packets"),
};

/* Both its sockets are connected: send() is all it does with them. */
static const struct rule publish[] = {
	R(sendto, "RTP packets and SAP announcements"),
};

static const struct rule broker[] = {
	R(epoll_wait, "libevent"), R(epoll_pwait, "libevent"),
	R(epoll_ctl, "libevent"),
	R(readv, "evbuffer reads"), R(writev, "evbuffer writes"),
	R(sendto, "a refused handshake's error message"),
	R(recvfrom, "handshakes"),
	R(shutdown, "closing HTTP clients"),
	R(dup3, "a socket handed over: its number freed for evhttp"),
	R(getpeername, "the address of a handed-over socket"),
	R(setsockopt, "event streams: a bounded send buffer"),
	R(socketpair, "HTTPS: a plain end for an event or WAV stream"),
};

static const struct rule capture[] = {
	R(lseek, "WAV source: loop to the start"),
	R(recvfrom, "network sources: RTP and SAP datagrams"),
	/*
	 * The audio thread is created just before the filter is loaded (with
	 * TSYNC): without real-time priority it may reach glibc's start-up
	 * registrations only afterwards.  Both concern the calling thread only.
	 */
	R(rseq, "a new thread's start (glibc), after the filter"),
	R(set_robust_list, "a new thread's start (glibc), after the filter"),
};

static int
add_list(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	size_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, r[i].nr, 0)) < 0)
			return rc;
	return 0;
}

/*
 * Only wait and wake, with or without the private and realtime flags:
 * requeue and wake-op could move other readers' waits on the shared ring
 * word away, and any reader of the ring can reach that word.
 */
static int
add_futex(scmp_filter_ctx ctx)
{
	static const int ops[] = { FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET,
	    FUTEX_WAKE_BITSET };
	const uint64_t mask = (uint32_t)~(FUTEX_PRIVATE_FLAG |
	    FUTEX_CLOCK_REALTIME);
	size_t i;
	int rc;

	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(futex),
		    1, SCMP_A1(SCMP_CMP_MASKED_EQ, mask, ops[i]))) < 0)
			return rc;
	return 0;
}

/*
 * No executable memory after start-up: an attempt gets EPERM (a library
 * loading a module late fails cleanly), everything else is allowed.
 */
static int
add_memory(scmp_filter_ctx ctx)
{
	static const int calls[] = { SCMP_SYS(mmap), SCMP_SYS(mprotect) };
	size_t i;
	int rc;

	for (i = 0; i < 2; i++) {
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0))) < 0 ||
		    (rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i], 1,
		    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC))) < 0)
			return rc;
	}
	return 0;
}

/*
 * Opening files is answered EPERM rather than killing: a library may
 * legitimately try (a locale, a timezone) and handles the error.  Anything
 * else outside the lists kills the whole process with SIGSYS.
 */
static int
add_denials(scmp_filter_ctx ctx)
{
	static const int calls[] = { SCMP_SYS(open), SCMP_SYS(openat),
	    SCMP_SYS(openat2) };
	size_t i;
	int rc;

	for (i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), calls[i],
		    0)) < 0)
			return rc;
	return 0;
}

#define N(a)	(sizeof(a) / sizeof((a)[0]))

static int
build(scmp_filter_ctx ctx, enum sandbox_role role)
{
	int rc;

	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0 ||
	    (rc = add_list(ctx, common, N(common))) < 0 ||
	    (rc = add_futex(ctx)) < 0 || (rc = add_memory(ctx)) < 0 ||
	    (rc = add_denials(ctx)) < 0)
		return rc;
	switch (role) {
	case SANDBOX_SESSIOND:
		return add_list(ctx, sessiond, N(sessiond));
	case SANDBOX_PUBLISH:
		return add_list(ctx, publish, N(publish));
	case SANDBOX_BROKER:
		/* libevent asks how much an HTTP socket holds; nothing else. */
		if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl),
		    1, SCMP_A1(SCMP_CMP_EQ, FIONREAD))) < 0)
			return rc;
		return add_list(ctx, broker, N(broker));
	case SANDBOX_CAPTURE:
		return add_list(ctx, capture, N(capture));
	}
	return -EINVAL;
}

void
sandbox_enter(enum sandbox_role role)
{
	scmp_filter_ctx ctx;
	int rc;

	/* Only the native architecture: a 32-bit call is killed (BADARCH). */
	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		fatalx("seccomp_init failed");
	if ((rc = build(ctx, role)) < 0 || (rc = seccomp_load(ctx)) < 0) {
		seccomp_release(ctx);
		fatalx("seccomp: %s", strerror(-rc));
	}
	seccomp_release(ctx);
	active = true;
}

#else	/* the null sandbox: sanitizers and debuggers need what it forbids */

void
sandbox_enter(enum sandbox_role role)
{
	(void)role;
	log_debug("built without a seccomp sandbox (SANDBOX=0)");
}

#endif

static void
try_syscall(const char *name)
{
	char *const argv[] = { "sh", "-c", "exit 0", NULL }, *const envp[] = {
	    NULL };
	int fd = -1;

	errno = 0;
	if (strcmp(name, "open") == 0)
		fd = open("/etc/passwd", O_RDONLY | O_CLOEXEC);
	else if (strcmp(name, "socket") == 0)
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	else if (strcmp(name, "execve") == 0)
		(void)execve("/bin/sh", argv, envp);
	else {
		log_warnx("probe: unknown syscall \"%s\"", name);
		return;
	}
	if (fd >= 0) {
		close(fd);
		log_warnx("probe %s: allowed (sandbox hole)", name);
	} else
		log_warn("probe %s refused", name);
}

void
sandbox_probe(int chan, enum msg_role self, const struct msg_probe *p)
{
	if (strcmp(p->action, "send") == 0) {
		log_warnx("probe: sending %s to the supervisor as %s",
		    msg_name(p->type), msg_role_name(self));
		if (msg_send_probe(chan, p->type) == -1)
			log_warn("probe: send");
	} else if (!active)
		log_warnx("probe %s: no sandbox in place, not attempted",
		    p->action);
	else
		try_syscall(p->action);
}
