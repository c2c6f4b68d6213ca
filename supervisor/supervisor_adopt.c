/* supervisor_adopt.c — taking over the children of a previous ringcastd, and the proof they show. */
/*
 * Every child we start gets, as its first message, a secret: HMAC-SHA256
 * under the installation's key (<state>/adopt.key, 0600, made once) of its
 * role, pid and start time.  Should we die, the child goes on without us
 * and listens at its rendezvous (shared/adopt.h).  At start we look for the
 * rendezvous of our ring in /proc/net/unix, connect to each, and accept a
 * child only if
 *   - the listener is the process its name says (SO_PEERCRED pid) and runs
 *     as our user (a child lets only our user in, too);
 *   - it speaks our MSG_VERSION (else it is left to finish, and said so);
 *   - the secret it shows is the one we compute for that pid, role and
 *     start time: only a process this installation started has it, and a
 *     reused pid has another start time.
 * An adopted child is watched with a pidfd: it may not be our child, whose
 * exit status we could wait for.
 */
#define _GNU_SOURCE	/* struct ucred */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/log.h"
#include "shared/proc.h"
#include "supervisor/supervisor.h"

#define ADOPT_WAIT_MS	1500	/* for a candidate to speak */
#define ADOPT_QUICK_MS	100	/* sessions slower than this: adopted later */
#define ADOPT_KEY_FILE	"adopt.key"
#define ADOPT_KEY_LEN	32
#define CANDIDATES_MAX	(SUPER_MAX_CLIENTS * 4 + 8)

static uint8_t key[ADOPT_KEY_LEN];

/* One child found at its rendezvous, and what it said. */
struct candidate {
	enum msg_role	 role;
	pid_t		 pid;
	int		 fd;		/* our connection: its next parent channel */
	int		 pidfd;
	int		 lfds[2];	/* a broker's listening sockets */
	bool		 spoke;		/* its MSG_ADOPT_* came */
	bool		 taken;		/* a module took it */
	struct event	*ev;		/* a late session, heard in the loop */
	union {
		struct msg_adopt		a;
		struct msg_adopt_capture	cap;
		struct msg_adopt_broker		bro;
		struct msg_adopt_session	ses;
		struct msg_adopt_publish	pub;
	} u;
};

static struct candidate *cands;
static size_t ncands;

/* ---- the key and the secrets ---- */

static int
key_read(const char *path, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		snprintf(err, errlen, "%s: must be a file of ours that nobody "
		    "else can read (mode 0600)", path);
		close(fd);
		errno = EPERM;
		return -2;
	}
	n = read(fd, key, sizeof(key));
	close(fd);
	if (n != (ssize_t)sizeof(key)) {
		snprintf(err, errlen, "%s: not a key (%d bytes); remove it "
		    "and a new one is made", path, (int)n);
		return -2;
	}
	return 0;
}

static int
key_make(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX + 32];
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.new", path);
	(void)unlink(tmp);
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) ==
	    -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	if (write(fd, key, sizeof(key)) != (ssize_t)sizeof(key) ||
	    fsync(fd) == -1 || close(fd) == -1 || rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		(void)unlink(tmp);
		return -1;
	}
	return 0;
}

int
adopt_key_load(char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int rc;

	if (mkdir(sv.cfg.state_dir, 0750) == -1 && errno != EEXIST) {
		snprintf(err, errlen, "state directory %s: %s",
		    sv.cfg.state_dir, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", sv.cfg.state_dir, ADOPT_KEY_FILE);
	if ((rc = key_read(path, err, errlen)) == 0)
		return 0;
	if (rc == -2)
		return -1;
	if (errno != ENOENT) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return key_make(path, err, errlen);
}

/* The secret of (role, pid): 0, or -1 if the process is gone. */
static int
secret_of(enum msg_role role, pid_t pid, uint8_t out[MSG_ADOPT_SECRET])
{
	unsigned long long st;
	unsigned int len = MSG_ADOPT_SECRET;
	char text[128];
	int n;

	/* Field 22: when the process started, in clock ticks. */
	if (proc_stat_fields(pid, 22, &st, 1) == -1)
		return -1;
	n = snprintf(text, sizeof(text), "ringcast-adopt %s %d %llu",
	    msg_role_name(role), (int)pid, st);
	return HMAC(EVP_sha256(), key, sizeof(key), (const unsigned char *)text,
	    (size_t)n, out, &len) != NULL && len == MSG_ADOPT_SECRET ? 0 : -1;
}

void
adopt_key_send(struct child *c)
{
	struct msg_adopt_key k;

	memset(&k, 0, sizeof(k));
	k.grace_s = sv.cfg.orphan_grace_s;
	if (secret_of(child_role(c), c->pid, k.secret) == -1 ||
	    child_send(c, MSG_ADOPT_KEY, &k, sizeof(k), NULL, 0) == -1)
		log_warn("%s[%d]: MSG_ADOPT_KEY: it will not outlive us",
		    child_name(c), (int)c->pid);
	OPENSSL_cleanse(&k, sizeof(k));
}

/* ---- finding them ---- */

static void
candidate_drop(struct candidate *c, const char *why)
{
	if (why != NULL) {
		log_warnx("%s[%d]: not adopted: %s", msg_role_name(c->role),
		    (int)c->pid, why);
		sv.adoptions[ADOPT_REFUSED]++;
	}
	if (c->ev != NULL)	/* before its descriptor closes */
		event_free(c->ev);
	c->ev = NULL;
	if (c->fd != -1)
		close(c->fd);
	if (c->pidfd != -1)
		close(c->pidfd);
	if (c->lfds[0] != -1)
		close(c->lfds[0]);
	if (c->lfds[1] != -1)
		close(c->lfds[1]);
	c->fd = c->pidfd = c->lfds[0] = c->lfds[1] = -1;
	c->spoke = false;
}

/* Connect to the rendezvous name; it must be the process it says. */
static void
knock(const char *name)
{
	struct candidate *c;
	struct sockaddr_un sun;
	struct ucred cr;
	socklen_t len = sizeof(cr), alen;
	enum msg_role role;
	pid_t pid;
	size_t i;

	if (adopt_name_parse(name, sv.cfg.ring, &role, &pid) == -1 ||
	    ncands == CANDIDATES_MAX)
		return;
	for (i = 0; i < ncands; i++)
		if (cands[i].pid == pid && cands[i].role == role)
			return;
	c = &cands[ncands];
	memset(c, 0, sizeof(*c));
	c->role = role;
	c->pid = pid;
	c->pidfd = c->lfds[0] = c->lfds[1] = -1;
	alen = adopt_addr(&sun, name);
	if ((c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1 ||
	    connect(c->fd, (struct sockaddr *)&sun, alen) == -1) {
		log_warn("rendezvous @%s", name);
		candidate_drop(c, NULL);
		return;
	}
	ncands++;
	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == -1 ||
	    cr.pid != pid || cr.uid != geteuid())
		candidate_drop(c, "its rendezvous is not held by that process "
		    "as our user");
}

/* Every listening rendezvous of our ring, from /proc/net/unix. */
static void
scan(void)
{
	char line[512], path[256];
	unsigned long flags;
	FILE *f;

	if ((f = fopen("/proc/net/unix", "re")) == NULL) {
		log_warn("/proc/net/unix: nothing adopted");
		return;
	}
	while (fgets(line, sizeof(line), f) != NULL)
		/* Num RefCount Protocol Flags Type St Inode Path */
		if (sscanf(line, "%*s %*s %*s %lx %*s %*s %*s %255s", &flags,
		    path) == 2 && (flags & 0x10000) && path[0] == '@')
			knock(path + 1);
	fclose(f);
}

/* One message of c's, as its role sends them: -1 when it failed. */
static int
hear(struct candidate *c)
{
	static struct msg m;
	struct msg_hdr h;
	ssize_t n;

	if ((n = recv(c->fd, &h, sizeof(h), MSG_PEEK)) == -1 &&
	    (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (n != (ssize_t)sizeof(h)) {
		candidate_drop(c, "no word");
		return -1;
	}
	if (h.version != MSG_VERSION) {
		log_warnx("%s[%d]: speaks channel version %u, we %u: left to "
		    "finish on its own", msg_role_name(c->role), (int)c->pid,
		    h.version, MSG_VERSION);
		sv.adoptions[ADOPT_INCOMPATIBLE]++;
		candidate_drop(c, NULL);
		return -1;
	}
	if (msg_recv(c->fd, ROLE_SUPERVISOR, c->role, &m) != 1) {
		candidate_drop(c, errno == EPROTO ? m.fault : "channel");
		return -1;
	}
	switch (m.hdr.type) {
	case MSG_ADOPT_LISTENER:
		if (c->lfds[MSG_BODY(&m, struct msg_adopt_listener)->which] !=
		    -1) {
			close(m.fd);
			candidate_drop(c, "a listener twice");
			return -1;
		}
		c->lfds[MSG_BODY(&m, struct msg_adopt_listener)->which] = m.fd;
		return 0;
	case MSG_ADOPT_CAPTURE:
	case MSG_ADOPT_BROKER:
	case MSG_ADOPT_SESSION:
	case MSG_ADOPT_PUBLISH:
		memcpy(&c->u, m.u.data, msg_size(m.hdr.type));
		c->spoke = true;
		return 0;
	default:
		candidate_drop(c, "not an adoption");
		return -1;
	}
}

/* The proof: the secret of that process, which only we can compute. */
static void
verify(struct candidate *c)
{
	uint8_t want[MSG_ADOPT_SECRET];

	if (c->role == ROLE_BROKER && (c->lfds[0] == -1 || c->lfds[1] == -1)) {
		candidate_drop(c, "a broker without its listening sockets");
		return;
	}
	if ((c->pidfd = pidfd_open(c->pid, 0)) == -1 ||
	    secret_of(c->role, c->pid, want) == -1) {
		candidate_drop(c, "gone");
		return;
	}
	if (CRYPTO_memcmp(want, c->u.a.secret, sizeof(want)) != 0) {
		OPENSSL_cleanse(want, sizeof(want));
		candidate_drop(c, "its secret is wrong: not a child of this "
		    "installation");
		return;
	}
	OPENSSL_cleanse(want, sizeof(want));
}

static bool
listening(const struct candidate *c)
{
	return c->fd != -1 && !c->spoke;
}

/* Candidates still to speak: all of them, and capture and broker alone. */
static void
count_listening(size_t *all, size_t *services)
{
	size_t i;

	*all = *services = 0;
	for (i = 0; i < ncands; i++)
		if (listening(&cands[i])) {
			(*all)++;
			*services += cands[i].role != ROLE_SESSION;
		}
}

/*
 * Capture and broker must have spoken before we bind or touch the ring;
 * sessions that take longer than ADOPT_QUICK_MS are adopted from the loop
 * (adopt_sessions), so that a session busy ending holds nobody up.
 */
void
adopt_gather(void)
{
	struct pollfd *pfd;
	uint64_t t0 = clock_mono_ms(), end = t0 + ADOPT_WAIT_MS, now;
	size_t i, n, services;

	if ((cands = calloc(CANDIDATES_MAX, sizeof(*cands))) == NULL ||
	    (pfd = calloc(CANDIDATES_MAX, sizeof(*pfd))) == NULL)
		fatal("adoption");
	scan();
	while ((now = clock_mono_ms()) < end) {
		count_listening(&n, &services);
		if (n == 0 || (services == 0 && now - t0 >= ADOPT_QUICK_MS))
			break;
		for (i = 0; i < ncands; i++)
			pfd[i] = (struct pollfd){ .fd = listening(&cands[i]) ?
			    cands[i].fd : -1, .events = POLLIN };
		if (poll(pfd, ncands, services > 0 ? (int)(end - now) :
		    (int)(t0 + ADOPT_QUICK_MS - now)) == -1)
			break;
		for (i = 0; i < ncands; i++)
			if (pfd[i].revents != 0)
				(void)hear(&cands[i]);
	}
	free(pfd);
	for (i = 0; i < ncands; i++) {
		if (listening(&cands[i]) && cands[i].role != ROLE_SESSION)
			candidate_drop(&cands[i], "no word in time");
		else if (cands[i].spoke)
			verify(&cands[i]);
	}
	if (ncands > 0)
		log_info("adoption: %zu children of a previous ringcastd found "
		    "in %llu ms", ncands,
		    (unsigned long long)(clock_mono_ms() - t0));
}

/* ---- handing them over ---- */

static struct candidate *
next_of(enum msg_role role)
{
	size_t i;

	for (i = 0; i < ncands; i++)
		if (cands[i].spoke && !cands[i].taken &&
		    cands[i].role == role)
			return &cands[i];
	return NULL;
}

/* c as a child of ours now: its connection is its channel. */
static struct child *
take(struct candidate *c, enum child_kind kind)
{
	struct child *ch;

	ch = child_adopt(kind, c->pid, c->pidfd, c->fd, c->u.a.version);
	c->taken = true;
	c->fd = c->pidfd = -1;
	if (ch != NULL) {
		sv.adoptions[ADOPT_ADOPTED]++;
		log_info("%s[%d] adopted (version %s, %llu ms without us)",
		    child_name(ch), (int)ch->pid, ch->version,
		    (unsigned long long)c->u.a.orphan_ms);
	}
	return ch;
}

bool
adopt_listeners(int *native, int *http)
{
	struct candidate *c = next_of(ROLE_BROKER);

	if (c == NULL)
		return false;
	*native = c->lfds[LISTENER_NATIVE];
	*http = c->lfds[LISTENER_HTTP];
	c->lfds[0] = c->lfds[1] = -1;
	return true;
}

bool
adopt_audio(void)
{
	return next_of(ROLE_CAPTURE) != NULL || next_of(ROLE_SESSION) != NULL ||
	    next_of(ROLE_PUBLISH) != NULL;
}

/* A proven child we do not want: it ends (SIGTERM), said why. */
static void
dismiss(struct candidate *c, const char *why)
{
	pidfd_send_signal(c->pidfd, SIGTERM, NULL, 0);
	candidate_drop(c, why);
	c->taken = true;
}

void
adopt_services(void)
{
	struct candidate *c;
	struct child *ch;

	/* An upgrade's new capture that never took over writes nothing. */
	while ((c = next_of(ROLE_CAPTURE)) != NULL)
		if (strcmp(c->u.cap.state.state, "running") != 0 ||
		    sv.capture.child != NULL)
			dismiss(c, "a second capture, or one not writing");
		else if ((ch = take(c, CHILD_CAPTURE)) != NULL) {
			service_adopt(&sv.capture, ch);
			super_capture_state(&c->u.cap.state);
			source_adopted(ch, &c->u.cap);
		}
	while ((c = next_of(ROLE_BROKER)) != NULL)
		if (sv.broker.child != NULL)
			dismiss(c, "a second broker");
		else if ((ch = take(c, CHILD_BROKER)) != NULL) {
			service_adopt(&sv.broker, ch);
			sv.subscribers = c->u.bro.subscribers;
		}
}

struct child *
adopt_publisher(const char *name, bool (*fits)(void *,
    const struct msg_adopt_publish *), void *arg)
{
	struct candidate *c;
	size_t i;

	for (i = 0; i < ncands; i++) {
		c = &cands[i];
		if (!c->spoke || c->taken || c->role != ROLE_PUBLISH ||
		    strcmp(c->u.pub.st.name, name) != 0)
			continue;
		if (fits(arg, &c->u.pub))
			return take(c, CHILD_PUBLISH);
		dismiss(c, "its stream is configured otherwise now");
	}
	return NULL;
}

/* Whether a publisher of c's stream was adopted already. */
static bool
stream_taken(const struct candidate *c)
{
	size_t i;

	for (i = 0; i < ncands; i++)
		if (cands[i].taken && cands[i].spoke && cands[i].role ==
		    ROLE_PUBLISH && strcmp(cands[i].u.pub.st.name,
		    c->u.pub.st.name) == 0)
			return true;
	return false;
}

void
adopt_publishers_done(void)
{
	struct candidate *c;

	while ((c = next_of(ROLE_PUBLISH)) != NULL)
		dismiss(c, stream_taken(c) ? "a second publisher of its stream" :
		    "no such stream is configured now");
}

static void
late_session(evutil_socket_t fd, short what, void *arg)
{
	struct candidate *c = arg;
	struct child *ch;

	(void)fd;
	if (what & EV_TIMEOUT)
		candidate_drop(c, "no word in time");
	else if (hear(c) == 0 && c->spoke) {
		verify(c);
		if (c->spoke && (ch = take(c, CHILD_SESSION)) != NULL)
			session_adopt(ch, &c->u.ses.start, &c->u.ses.stats);
	}
	if (!listening(c)) {
		if (c->ev != NULL)
			event_free(c->ev);
		c->ev = NULL;
		if (!adopt_pending())
			session_agains_flush();
	}
}

bool
adopt_pending(void)
{
	size_t i;

	for (i = 0; i < ncands; i++)
		if (cands[i].ev != NULL)
			return true;
	return false;
}

void
adopt_sessions(void)
{
	struct timeval tv = { ADOPT_WAIT_MS / 1000, ADOPT_WAIT_MS % 1000 * 1000 };
	struct candidate *c;
	struct child *ch;
	size_t i;

	while ((c = next_of(ROLE_SESSION)) != NULL)
		if ((ch = take(c, CHILD_SESSION)) != NULL)
			session_adopt(ch, &c->u.ses.start, &c->u.ses.stats);
	for (i = 0; i < ncands; i++) {
		c = &cands[i];
		if (!listening(c))
			continue;
		if ((c->ev = event_new(sv.base, c->fd, EV_READ | EV_PERSIST,
		    late_session, c)) == NULL || event_add(c->ev, &tv) == -1)
			candidate_drop(c, "cannot wait for it");
	}
}

void
adopt_abandon(const char *why)
{
	size_t i;

	for (i = 0; i < ncands; i++)
		if (cands[i].spoke && !cands[i].taken &&
		    cands[i].role != ROLE_BROKER)
			dismiss(&cands[i], why);
}

void
adopt_done(void)
{
	size_t i;

	for (i = 0; i < ncands; i++) {
		if (cands[i].ev != NULL)
			event_free(cands[i].ev);
		candidate_drop(&cands[i], NULL);
	}
	free(cands);
	cands = NULL;
	ncands = 0;
}
