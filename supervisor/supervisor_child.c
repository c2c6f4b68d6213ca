/* supervisor_child.c — the process table: spawn, channels, reap, restart with backoff. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <sys/pidfd.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/spawn.h"
#include "supervisor/supervisor.h"

#define CHAN_BATCH	64	/* messages per wake-up, so no child hogs the loop */

static LIST_HEAD(, child) children = LIST_HEAD_INITIALIZER(children);
/* 64 KiB: one static buffer; the loop handles one message at a time. */
static struct msg cm;



const char *
child_name(const struct child *c)
{
	switch (c->kind) {
	case CHILD_CAPTURE:
		return "capture";
	case CHILD_BROKER:
		return "broker";
	case CHILD_SESSION:
		return "sessiond";
	case CHILD_LISTER:
		return "devices";
	case CHILD_PUBLISH:
		return "publish";
	case CHILD_KINDS:
		break;
	}
	return "child";
}

void
child_status_str(int status, char *buf, size_t len)
{
	if (status == CHILD_STATUS_UNKNOWN)
		snprintf(buf, len, "gone (not our child: no status)");
	else if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
		    strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status 0x%x", status);
}

/* "" when broker and sessions are not chrooted. */
static const char *
chroot_path(void)
{
	static char dir[PATH_MAX + 8];

	if (strcmp(sv.cfg.chroot_dir, "none") == 0)
		return "";
	if (sv.cfg.chroot_dir[0] != '\0')
		return sv.cfg.chroot_dir;
	snprintf(dir, sizeof(dir), "%s/empty", sv.cfg.state_dir);
	return dir;
}

/*
 * The chroot of broker and sessions: created root-owned 0755 if missing;
 * what exists must be a root-owned directory nobody else can write, and
 * empty.  Checked once; -1 (logged) if it is not fit.
 */
static int
chroot_check(void)
{
	static int checked;
	const char *dir = chroot_path();
	struct stat st;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (checked || dir[0] == '\0')
		return 0;
	/* The default lives in the state directory, not created yet at start. */
	if (sv.cfg.chroot_dir[0] == '\0' && mkdir(sv.cfg.state_dir, 0750) == -1 &&
	    errno != EEXIST) {
		log_warn("state directory %s", sv.cfg.state_dir);
		return -1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("chroot %s", dir);
		return -1;
	}
	if (lstat(dir, &st) == -1 || (d = opendir(dir)) == NULL) {
		log_warn("chroot %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	if (!S_ISDIR(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022) ||
	    n > 0) {
		log_warnx("chroot %s: must be an empty directory owned by root "
		    "and writable by no one else", dir);
		return -1;
	}
	checked = 1;
	return 0;
}

/*
 * A child's argv: its words, "-v" when we are verbose, and, when we run as
 * root with --user, "--drop UID:GID[,GID...][:DIR]": every child drops
 * itself after exec (as root it can still chroot then).  Broker and
 * sessions parse network input: the group alone and the empty chroot.
 * Capture (and its device lister) keeps the user's groups (the sound
 * devices' group) and the filesystem (devices, plugins).  In the forked
 * child.
 */
static char *const *
child_argv(enum child_kind kind, const char *const *words)
{
	static char spec[PATH_MAX + 80 + SANDBOX_GROUPS_MAX * 12];
	static char *av[64];
	size_t len;
	int n = 0, i;

	while (words[n] != NULL && n < 60) {
		av[n] = (char *)(uintptr_t)words[n];
		n++;
	}
	if (sv.cfg.verbose > 0)
		av[n++] = "-v";
	/* Every child may outlive us, to be adopted by our successor (not a
	 * device lister: it lives for one answer). */
	if (kind != CHILD_LISTER) {
		av[n++] = "--adopt";
		av[n++] = sv.cfg.ring;
	}
	av[n] = NULL;
	if (!sv.cfg.drop)
		return av;
	len = (size_t)snprintf(spec, sizeof(spec), "%u:%u", (unsigned)sv.cfg.uid,
	    (unsigned)sv.cfg.gid);
	if (kind == CHILD_CAPTURE || kind == CHILD_LISTER) {
		/* groups[0] is gid itself. */
		for (i = 1; i < sv.cfg.ngroups; i++)
			len += (size_t)snprintf(spec + len, sizeof(spec) - len,
			    ",%u", (unsigned)sv.cfg.groups[i]);
	} else if (chroot_path()[0])
		snprintf(spec + len, sizeof(spec) - len, ":%s", chroot_path());
	av[n++] = "--drop";
	av[n++] = spec;
	av[n] = NULL;
	return av;
}

/* In the forked child: lay out the descriptors, drop privileges, exec. */
static void __attribute__((noreturn))
child_exec(enum child_kind kind, const char *const *words, int chan,
    const int *fds, int nfds)
{
	const char *path = super_prog(words[0]);
	int all[SPAWN_FDS_MAX], i;

	all[0] = chan;
	for (i = 0; i < nfds; i++)
		all[i + 1] = fds[i];
	if (spawn_prepare(all, nfds + 1) == -1)
		_exit(127);
	execv(path, child_argv(kind, words));
	log_warn("exec %s", path);
	_exit(127);
}

static void	chan_cb(evutil_socket_t fd, short ev, void *arg);

struct child *
child_spawn(enum child_kind kind, const char *const *words, const int *fds,
    int nfds)
{
	const char *path = words[0];
	struct child *c;
	sigset_t all, old;
	int pair[2];

	if ((kind == CHILD_BROKER || kind == CHILD_SESSION) && sv.cfg.drop &&
	    chroot_check() == -1)
		return NULL;
	if (nfds >= SPAWN_FDS_MAX || (c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("spawn %s", path);
		return NULL;
	}
	c->kind = kind;
	c->pidfd = -1;
	if (msg_channel(pair) == -1) {
		log_warn("spawn %s: channel", path);
		free(c);
		return NULL;
	}
	/*
	 * The LMDB environment may be open here.  The child never touches it:
	 * it only rearranges descriptors and execs (the environment's
	 * descriptor is close-on-exec and closed by spawn_prepare anyway).
	 */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if ((c->pid = fork()) == 0)
		child_exec(kind, words, pair[1], fds, nfds);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(pair[1]);
	if (c->pid == -1) {
		log_warn("spawn %s: fork", path);
		close(pair[0]);
		free(c);
		return NULL;
	}
	c->chan = pair[0];
	c->spawned_ms = clock_mono_ms();
	if (evutil_make_socket_nonblocking(c->chan) == -1 ||
	    (c->ev = event_new(sv.base, c->chan, EV_READ | EV_PERSIST, chan_cb,
	    c)) == NULL || event_add(c->ev, NULL) == -1)
		fatalx("%s: cannot watch the channel", path);
	LIST_INSERT_HEAD(&children, c, entry);
	log_debug("%s[%d] started", child_name(c), (int)c->pid);
	if (kind != CHILD_LISTER)
		adopt_key_send(c);
	return c;
}

static void	pidfd_cb(evutil_socket_t, short, void *);

struct child *
child_adopt(enum child_kind kind, pid_t pid, int pidfd, int chan,
    const char *version)
{
	struct child *c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		log_warn("adopting %d", (int)pid);
		close(pidfd);
		close(chan);
		return NULL;
	}
	c->kind = kind;
	c->pid = pid;
	c->pidfd = pidfd;
	c->chan = chan;
	c->adopted = true;
	c->ready = true;
	c->spawned_ms = c->ready_ms = clock_mono_ms();
	snprintf(c->version, sizeof(c->version), "%s", version);
	if ((c->ev = event_new(sv.base, chan, EV_READ | EV_PERSIST, chan_cb,
	    c)) == NULL || event_add(c->ev, NULL) == -1 ||
	    (c->pidfd_ev = event_new(sv.base, pidfd, EV_READ, pidfd_cb, c)) ==
	    NULL || event_add(c->pidfd_ev, NULL) == -1)
		fatalx("%s[%d]: cannot watch it", child_name(c), (int)pid);
	LIST_INSERT_HEAD(&children, c, entry);
	return c;
}

void
child_close(struct child *c)
{
	if (c->chan == -1)
		return;
	event_free(c->ev);
	c->ev = NULL;
	close(c->chan);
	c->chan = -1;
}

void
child_kill(struct child *c, int sig)
{
	if (c->pidfd >= 0)
		(void)pidfd_send_signal(c->pidfd, sig, NULL, 0);
	else
		(void)kill(c->pid, sig);
}

void
child_end(struct child *c)
{
	child_close(c);
	child_kill(c, SIGTERM);
}

int
child_send(struct child *c, uint32_t type, const void *body, size_t len,
    const void *tail, size_t taillen)
{
	if (c->chan == -1) {
		errno = EPIPE;
		return -1;
	}
	return msg_send(c->chan, ROLE_SUPERVISOR, type, body, len, tail,
	    taillen, -1);
}

int
child_send_fd(struct child *c, uint32_t type, const void *body, size_t len,
    int fd)
{
	if (c->chan == -1) {
		errno = EPIPE;
		return -1;
	}
	return msg_send(c->chan, ROLE_SUPERVISOR, type, body, len, NULL, 0,
	    fd);
}

void
child_signal_all(int sig)
{
	struct child *c;

	LIST_FOREACH(c, &children, entry)
		child_kill(c, sig);
}

int
child_count(void)
{
	struct child *c;
	int n = 0;

	LIST_FOREACH(c, &children, entry)
		n++;
	return n;
}

enum msg_role
child_role(const struct child *c)
{
	switch (c->kind) {
	case CHILD_CAPTURE:
	case CHILD_LISTER:
		return ROLE_CAPTURE;
	case CHILD_BROKER:
		return ROLE_BROKER;
	case CHILD_PUBLISH:
		return ROLE_PUBLISH;
	case CHILD_SESSION:
	case CHILD_KINDS:
		break;
	}
	return ROLE_SESSION;
}

/*
 * The channel fault policy (shared/msg.h): a child that sent what the
 * table does not allow is faulty.  Logged, counted, and ended: a session
 * with reason "protocol", capture and broker to be restarted.
 */
static void
fault(struct child *c, const char *why)
{
	log_warnx("%s[%d]: channel fault: %s %s: ending it", child_name(c),
	    (int)c->pid, why, msg_name(cm.hdr.type));
	sv.faults[c->kind]++;
	if (c->client != NULL)
		session_fault(c->client);
	child_close(c);
	child_kill(c, SIGKILL);
}

static void
ready(struct child *c, const struct msg_ready *r)
{
	c->ready = true;
	c->ready_ms = clock_mono_ms();
	snprintf(c->version, sizeof(c->version), "%s", r->version);
	super_child_ready(c);
}

/* One message the table allows this child to send us (msg_recv checked). */
static void
dispatch(struct child *c)
{
	const char *tail;
	size_t taillen;

	switch (cm.hdr.type) {
	case MSG_READY:
		ready(c, MSG_BODY(&cm, struct msg_ready));
		break;
	case MSG_CAPTURE_STATE:
		/* An upgrade's waiting capture, or one a switch retires. */
		if (c == sv.capture.child)
			super_capture_state(MSG_BODY(&cm,
			    struct msg_capture_state));
		break;
	case MSG_CAPTURE_RETIRED:
		upgrade_capture_retired(c, MSG_BODY(&cm,
		    struct msg_capture_handover));
		break;
	case MSG_CAPTURE_OPENED:
		source_opened(c, MSG_BODY(&cm, struct msg_capture_opened));
		break;
	case MSG_CAPTURE_DEVICES:
		source_devices(c, MSG_BODY(&cm, struct msg_capture_devices));
		break;
	case MSG_BROKER_CLIENT:
		session_broker_client(cm.fd, MSG_BODY(&cm, struct msg_client));
		break;
	case MSG_BROKER_REQUEST:
		tail = msg_tail(&cm, &taillen);
		api_request(c, MSG_BODY(&cm, struct msg_api_request), tail,
		    taillen);
		break;
	case MSG_BROKER_SUBSCRIBERS:
		sv.subscribers = MSG_BODY(&cm, struct msg_subscribers)->count;
		break;
	case MSG_BROKER_AUTH_STATS:
		auth_stats(MSG_BODY(&cm, struct msg_auth_stats));
		break;
	case MSG_ADOPT_CAPTURE:
	case MSG_ADOPT_LISTENER:
	case MSG_ADOPT_BROKER:
	case MSG_ADOPT_SESSION:
	case MSG_ADOPT_PUBLISH:
		/* Said at a rendezvous only (supervisor_adopt.c). */
		if (cm.fd >= 0)
			close(cm.fd);
		fault(c, "out of place:");
		break;
	case MSG_CAPTURE_JOIN:
		ingest_join(c, MSG_BODY(&cm, struct msg_capture_join));
		break;
	case MSG_PUBLISH_STATE:
		publish_state(c, MSG_BODY(&cm, struct msg_publish_state));
		break;
	default:
		session_dispatch(c, &cm);
		break;
	}
}

/*
 * Read what is waiting; EOF closes our end (the reap finishes the child).
 * Returns 1 if a full batch was read and more may be waiting.
 */
static int
chan_read(struct child *c)
{
	int i, rc;

	for (i = 0; i < CHAN_BATCH; i++) {
		if (c->chan == -1)
			return 0;
		rc = msg_recv(c->chan, ROLE_SUPERVISOR, child_role(c), &cm);
		if (rc == 1) {
			dispatch(c);
			continue;
		}
		if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (rc == -1 && errno == EPROTO) {
			fault(c, cm.fault);
			return 0;
		}
		if (rc == -1)
			log_warn("%s[%d] channel", child_name(c), (int)c->pid);
		child_close(c);
		return 0;
	}
	return 1;
}

static void
chan_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)chan_read(arg);
}

/*
 * SIGSYS is how a seccomp list kills: the child tried a system call its
 * role may not make.  Said loudly and counted; it is restarted (broker,
 * capture) or recorded (a session's reason is "sandbox") as any death.
 */
static void
sandbox_violation(const struct child *c, int status)
{
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSYS)
		return;
	sv.sandbox_violations++;
	log_warnx("%s[%d]: sandbox violation: killed by SIGSYS", child_name(c),
	    (int)c->pid);
}

/* A child that found a fault in what we sent it ends with this status. */
static void
child_saw_fault(const struct child *c, int status)
{
	if (!WIFEXITED(status) || WEXITSTATUS(status) != MSG_EXIT_FAULT)
		return;
	sv.faults[c->kind]++;
	log_warnx("%s[%d]: ended on a channel fault in a message from us",
	    child_name(c), (int)c->pid);
}

static void
exited(struct child *c, int status)
{
	/* Its last words (MSG_CHILD_EXIT) may still be queued. */
	while (chan_read(c) == 1)
		;
	sandbox_violation(c, status);
	child_saw_fault(c, status);
	child_close(c);
	if (c->pidfd_ev != NULL)
		event_free(c->pidfd_ev);
	if (c->pidfd >= 0)
		close(c->pidfd);
	LIST_REMOVE(c, entry);
	upgrade_child_gone(c);
	if (c->open_ev != NULL)
		event_free(c->open_ev);
	switch (c->kind) {
	case CHILD_CAPTURE:
		if (c != sv.capture.child) {
			source_child_exited(c, status);
			service_exited(&sv.capture, c, status);
			break;
		}
		source_capture_exited(c, status);
		service_exited(&sv.capture, c, status);
		break;
	case CHILD_BROKER:
		if (c == sv.broker.child)
			sv.subscribers = 0;	/* its event streams went too */
		service_exited(&sv.broker, c, status);
		break;
	case CHILD_SESSION:
		session_exited(c, status);
		break;
	case CHILD_LISTER:
		source_child_exited(c, status);
		break;
	case CHILD_PUBLISH:
		publish_exited(c, status);
		break;
	case CHILD_KINDS:
		break;
	}
	free(c);
	super_child_gone();
}

void
child_reap(void)
{
	struct child *c;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		LIST_FOREACH(c, &children, entry)
			if (c->pid == pid)
				break;
		if (c == NULL) {
			log_debug("reaped unknown pid %d", (int)pid);
			continue;
		}
		exited(c, status);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

/*
 * An adopted child ended.  After an upgrade it is still our child (we are
 * the same process): its status is there to wait for.  After a crash it
 * is not.
 */
static void
pidfd_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct child *c = arg;
	int status = CHILD_STATUS_UNKNOWN;

	(void)fd;
	(void)ev;
	if (waitpid(c->pid, &status, WNOHANG) != c->pid)
		status = CHILD_STATUS_UNKNOWN;
	exited(c, status);
}

/*
 * Test only (--test-probes): have a sandboxed child attempt a forbidden
 * system call.  target: "broker", "capture" or "session:ID".  Returns an
 * HTTP-like status, err saying why when it is not 202.
 */
int
child_probe(const struct api_probe *p, char *err, size_t errlen)
{
	struct child *c = NULL;
	struct client *cl;
	struct msg_probe m;

	if (!sv.cfg.test_probes) {
		errbuf_set(err, errlen, "probes need --test-probes");
		return 403;
	}
	if (strcmp(p->target, "broker") == 0)
		c = sv.broker.child;
	else if (strcmp(p->target, "capture") == 0)
		c = sv.capture.child;
	else if (strncmp(p->target, "session:", 8) == 0 &&
	    (cl = session_find(p->target + 8)) != NULL)
		c = cl->child;
	else if (strncmp(p->target, "publish:", 8) == 0)
		c = publish_child(p->target + 8);
	if (c == NULL || c->chan == -1) {
		errbuf_set(err, errlen, "no such process: %s", p->target);
		return 404;
	}
	memset(&m, 0, sizeof(m));
	snprintf(m.action, sizeof(m.action), "%s", p->action);
	m.type = p->type;
	if (child_send(c, MSG_PROBE, &m, sizeof(m), NULL, 0) == -1) {
		errbuf_set(err, errlen, "%s: %s", p->target, strerror(errno));
		return 503;
	}
	log_info("probe %s sent to %s[%d]", p->action, child_name(c),
	    (int)c->pid);
	return 202;
}

/* ---- restartable services ---- */

/* A device that hangs while it opens (a wedged sound server) is killed. */
static void
open_expired(evutil_socket_t fd, short ev, void *arg)
{
	struct child *c = arg;

	(void)fd;
	(void)ev;
	log_warnx("capture[%d]: its source did not open within %d ms: "
	    "killed", (int)c->pid, SUPER_OPEN_MS);
	child_kill(c, SIGKILL);
}

/*
 * Capture opens its source first and says what it got (MSG_CAPTURE_OPENED,
 * within SUPER_OPEN_MS); the ring follows on the channel
 * (supervisor_source.c).
 */
struct child *
child_spawn_capture(const char *source, uint32_t channels)
{
	struct timeval tv = { SUPER_OPEN_MS / 1000, 0 };
	char rate[16], ch[16], period[16];
	const char *words[24] = { "ringcast-capture", "--parent-fd", "3",
	    "--source", source, "--rate", rate, "--channels", ch, "--period",
	    period };
	int fds[2], nfds = 0, n = 11;
	struct child *c;

	snprintf(rate, sizeof(rate), "%u", sv.cfg.rate);
	if (channels == 0)
		snprintf(ch, sizeof(ch), "max");
	else
		snprintf(ch, sizeof(ch), "%u", channels);
	snprintf(period, sizeof(period), "%u", sv.cfg.period);
	/* An upgrade's new capture waits to take the ring over. */
	if (upgrade_handover())
		words[n++] = "--handover";
	/* A network source: its socket (supervisor_ingest.c). */
	if (ingest_source(source))
		n = ingest_args(words, n, fds, &nfds);
	words[n] = NULL;
	if ((c = child_spawn(CHILD_CAPTURE, words, fds, nfds)) == NULL)
		return NULL;
	if ((c->open_ev = evtimer_new(sv.base, open_expired, c)) == NULL ||
	    evtimer_add(c->open_ev, &tv) == -1)
		fatalx("capture: timer");
	return c;
}

static struct child *
spawn_capture(void)
{
	uint32_t channels;
	const char *source = source_next(&channels);

	return child_spawn_capture(source, channels);
}

/*
 * The web UI's files: web-dir if set, else the installed copy
 * (<prefix>/share/ringcast/web next to <prefix>/libexec/ringcast), else the
 * source tree's web/ next to a build directory.  NULL: none found.
 */
static const char *
web_dir(void)
{
	static char found[PATH_MAX + 32];
	static const char *const rel[] = { "../../share/ringcast/web",
	    "../web" };
	char probe[PATH_MAX + 64];
	size_t i;

	if (sv.cfg.web_dir[0] != '\0')
		return sv.cfg.web_dir;
	for (i = 0; i < sizeof(rel) / sizeof(rel[0]); i++) {
		snprintf(found, sizeof(found), "%s/%s", sv.libexec, rel[i]);
		snprintf(probe, sizeof(probe), "%s/index.html", found);
		if (access(probe, R_OK) == 0)
			return found;
	}
	return NULL;
}

static struct child *
spawn_broker(void)
{
	static const struct {
		const char	*opt;
		size_t		 off;
	} limits[] = {
		{ "--handshake-ms", offsetof(struct config, handshake_ms) },
		{ "--request-ms", offsetof(struct config, request_ms) },
		{ "--max-pending", offsetof(struct config, max_pending) },
		{ "--max-pending-per-addr",
		    offsetof(struct config, max_pending_per_addr) },
	};
	static char val[4][16];
	const char *words[32] = { "ringcast-broker", "--parent-fd", "3",
	    "--native-fd", "4", "--http-fd", "5" }, *web;
	int fds[2] = { sv.native_fd, sv.http_fd }, n = 7;
	uint32_t v;
	size_t i;

	/* Only what the operator set: the broker knows its defaults. */
	for (i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		v = *(const uint32_t *)(const void *)((const char *)&sv.cfg +
		    limits[i].off);
		if (v == 0)
			continue;
		snprintf(val[i], sizeof(val[i]), "%u", v);
		words[n++] = limits[i].opt;
		words[n++] = val[i];
	}
	if ((web = web_dir()) != NULL) {
		words[n++] = "--web-dir";
		words[n++] = web;
	}
	n = auth_broker_words(words, n);
	words[n] = NULL;
	return child_spawn(CHILD_BROKER, words, fds, 2);
}

/* Time from the last spawn to the next: the floor doubled per failure, capped. */
static uint64_t
backoff_ms(const struct service *s)
{
	uint64_t want = SUPER_BACKOFF_CAP_MS, since;

	if (s->fails == 0)
		return 0;
	if (s->fails <= 6)
		want = (uint64_t)SUPER_FLOOR_MS << (s->fails - 1);
	if (want > SUPER_BACKOFF_CAP_MS)
		want = SUPER_BACKOFF_CAP_MS;
	since = clock_mono_ms() - s->last_spawn_ms;
	return want > since ? want - since : 0;
}

static void
schedule(struct service *s)
{
	uint64_t ms = backoff_ms(s);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	if (ms > 0)
		log_info("%s: next start in %llu ms", s->name,
		    (unsigned long long)ms);
	evtimer_add(s->restart_ev, &tv);
}

static void
spawn(struct service *s)
{
	if (s->last_spawn_ms != 0)
		s->restarts++;
	s->last_spawn_ms = clock_mono_ms();
	s->child = s->kind == CHILD_CAPTURE ? spawn_capture() :
	    s->kind == CHILD_PUBLISH ? publish_spawn(s) : spawn_broker();
	if (s->child != NULL)
		return;
	s->fails++;
	schedule(s);
}

static void
restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	if (!sv.stopping)
		spawn(arg);
}

void
service_init(struct service *s, const char *name, enum child_kind kind)
{
	memset(s, 0, sizeof(*s));
	s->name = name;
	s->kind = kind;
	if ((s->restart_ev = evtimer_new(sv.base, restart_cb, s)) == NULL)
		fatalx("%s: evtimer_new", name);
}

void
service_start(struct service *s)
{
	spawn(s);
}

void
service_stop(struct service *s)
{
	evtimer_del(s->restart_ev);
	if (s->child == NULL)
		return;
	child_end(s->child);
}

void
service_ready(struct service *s)
{
	s->ever_ready = true;
	if (s->restarts > 0)
		log_info("%s[%d] ready (restart %llu)", s->name,
		    (int)s->child->pid, (unsigned long long)s->restarts);
}

/*
 * The crash-loop verdict: five failed starts in a row, or five deaths of any
 * kind within the window.  Said once, until a child stays up longer than
 * the window.  It changes no delay: failed starts already back off to the
 * cap, and a child that had been running fine is restarted at once, since
 * listeners are waiting for it.
 */
static void
tally(struct service *s, uint64_t now)
{
	uint64_t oldest;
	bool burst;

	s->deaths[s->ndeaths++ % SUPER_LOOP_DEATHS] = now;
	oldest = s->deaths[s->ndeaths % SUPER_LOOP_DEATHS];
	burst = s->ndeaths >= SUPER_LOOP_DEATHS &&
	    now - oldest <= SUPER_LOOP_WINDOW_MS;
	if (s->looping || (!burst && s->fails < SUPER_LOOP_DEATHS))
		return;
	s->looping = true;
	if (burst)
		log_warnx("%s: permanent failure: 5 deaths within 10 s; still "
		    "restarted each time, at once after a steady run", s->name);
	else
		log_warnx("%s: permanent failure: 5 failed starts in a row; "
		    "still retried, the delay doubling up to %d s", s->name,
		    SUPER_BACKOFF_CAP_MS / 1000);
}

void
service_adopt(struct service *s, struct child *c)
{
	s->child = c;
	s->ever_ready = true;
	s->last_spawn_ms = clock_mono_ms();
}

void
service_exited(struct service *s, struct child *c, int status)
{
	uint64_t now = clock_mono_ms(), up = c->ready ? now - c->ready_ms : 0;
	bool steady = c->ready && up > SUPER_STEADY_MS;
	char how[64];

	/* An upgrade's predecessor, or a second one found at adoption. */
	if (c != s->child) {
		child_status_str(status, how, sizeof(how));
		log_info("%s[%d] %s (%s)", s->name, (int)c->pid, c->retiring ?
		    "retired" : "ended", how);
		return;
	}
	child_status_str(status, s->last_exit, sizeof(s->last_exit));
	s->child = NULL;
	if (sv.stopping) {
		log_info("%s[%d] stopped (%s)", s->name, (int)c->pid,
		    s->last_exit);
		return;
	}
	log_warnx("%s[%d] ended (%s) after %llu ms%s", s->name, (int)c->pid,
	    s->last_exit, (unsigned long long)(now - c->spawned_ms),
	    steady ? "" : ", not steady");
	s->fails = steady ? 0 : s->fails + 1;
	if (c->ready && up > SUPER_LOOP_WINDOW_MS && s->looping) {
		log_info("%s: had been up %llu s: back to normal restarts",
		    s->name, (unsigned long long)up / 1000);
		s->looping = false;
	}
	tally(s, now);
	schedule(s);
}
