/* supervisor.c — ringcastd, the supervisor: start, main loop, orderly stop. */
/*
 * Peers: capture, the broker and one sessiond per listener, each on its own
 * channel; what each may send and receive is the table in shared/msg.c
 * (docs/internals.md lists it, checked by a test).
 * Start: check the configuration, bind both listeners, create the ring, start
 * capture and broker, then open LMDB (no LMDB handle crosses those forks).
 * Loop: libevent, one event per child channel, signals delivered into it.
 * Stop (SIGTERM, SIGINT): close every channel and SIGTERM every child, SIGKILL
 * what is left after a grace period, close LMDB, unlink the ring.
 */
#include <sys/types.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <net/if.h>

#include <ifaddrs.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/opt.h"
#include "shared/ring.h"
#include "supervisor/supervisor.h"

struct super sv;

const char *const super_reasons[SUPER_REASONS] = {
	"closed", "reset", "timeout", "stalled", "protocol", "parent",
	"error", "terminated", "replaced", "killed", "shutdown", "sandbox",
	"kicked", "reconfigured", "other",
};

static const char *const progs[] = {
	"ringcast-capture", "ringcast-broker", "ringcast-sessiond",
};

static struct event *kill_ev;
static int exit_code;

/* Every timer of ours calls its function with no arguments. */
static void
super_tick(evutil_socket_t fd, short what, void *arg)
{
	void (*fn)(void) = (void (*)(void))(uintptr_t)arg;

	(void)fd;
	(void)what;
	fn();
}

struct event *
super_every(uint64_t ms, void (*fn)(void))
{
	struct timeval tv = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000 };
	struct event *ev;

	if ((ev = event_new(sv.base, -1, EV_PERSIST, super_tick,
	    (void *)(uintptr_t)fn)) == NULL || event_add(ev, &tv) == -1)
		fatalx("timer");
	return ev;
}

void
super_every_stop(struct event **ev)
{
	if (*ev != NULL)
		event_free(*ev);
	*ev = NULL;
}

void
super_count_disconnect(const char *reason)
{
	int i;

	for (i = 0; i < SUPER_REASONS - 1; i++)
		if (strcmp(reason, super_reasons[i]) == 0)
			break;
	sv.disconnects[i]++;
}

const char *
super_prog(const char *name)
{
	static char buf[PATH_MAX + 64];

	snprintf(buf, sizeof(buf), "%s/%s", sv.libexec, name);
	return buf;
}

static bool
has_progs(const char *dir)
{
	char path[PATH_MAX + 64];
	size_t i;

	for (i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, progs[i]);
		if (access(path, X_OK) == -1)
			return false;
	}
	return true;
}

/* $RINGCAST_LIBEXEC, else next to ringcastd, else its ../libexec/ringcast. */
static int
find_libexec(char *err, size_t errlen)
{
	const char *env = getenv("RINGCAST_LIBEXEC");
	char exe[PATH_MAX], alt[PATH_MAX];
	ssize_t n;

	if (env != NULL && *env != '\0') {
		snprintf(sv.libexec, sizeof(sv.libexec), "%s", env);
		if (has_progs(sv.libexec))
			return 0;
		snprintf(err, errlen, "RINGCAST_LIBEXEC=%s: ringcast-capture, "
		    "-broker or -sessiond missing or not executable", env);
		return -1;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) == -1) {
		snprintf(err, errlen, "/proc/self/exe: %s", strerror(errno));
		return -1;
	}
	exe[n] = '\0';
	snprintf(sv.libexec, sizeof(sv.libexec), "%s", dirname(exe));
	if (has_progs(sv.libexec))
		return 0;
	if ((size_t)snprintf(alt, sizeof(alt), "%s/../libexec/ringcast",
	    sv.libexec) >= sizeof(alt))
		alt[0] = '\0';
	if (alt[0] != '\0' && has_progs(alt)) {
		snprintf(sv.libexec, sizeof(sv.libexec), "%s", alt);
		return 0;
	}
	snprintf(err, errlen, "ringcast-capture, -broker and -sessiond not "
	    "found next to ringcastd nor in ../libexec/ringcast (set "
	    "RINGCAST_LIBEXEC)");
	return -1;
}

static void
format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), port, sizeof(port),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(out, outlen, "?");
		return;
	}
	snprintf(out, outlen, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, port);
}

static int
listen_one(const struct addrinfo *ai)
{
	int fd, on = 1;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Bound here, not in the broker: errors show at start, the backlog outlives it. */
static int
bind_listener(const char *what, const char *addr, char *bound, size_t blen,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], port[16];
	int fd = -1, rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (opt_hostport(addr, NULL, host, sizeof(host), port, sizeof(port),
	    NULL, 0) == -1 || (rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: cannot resolve %s", what, addr);
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = listen_one(ai);
	freeaddrinfo(res);
	if (fd == -1) {
		snprintf(err, errlen, "%s: cannot listen on %s: %s", what, addr,
		    errno == EADDRINUSE ? "address already in use" :
		    strerror(errno));
		return -1;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr((struct sockaddr *)&ss, sl, bound, blen);
	return fd;
}

/* The address a listening socket is bound to. */
static void
bound_addr(int fd, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr((struct sockaddr *)&ss, sl, out, len);
}

/*
 * The adopted broker's listening sockets, if there is one: no bind race,
 * no connection refused meanwhile.  Else bound here.
 */
static int
listeners(char *err, size_t errlen)
{
	if (adopt_listeners(&sv.native_fd, &sv.http_fd)) {
		bound_addr(sv.native_fd, sv.native_addr, sizeof(sv.native_addr));
		bound_addr(sv.http_fd, sv.http_addr, sizeof(sv.http_addr));
		return 0;
	}
	if ((sv.native_fd = bind_listener("native", sv.cfg.native,
	    sv.native_addr, sizeof(sv.native_addr), err, errlen)) == -1 ||
	    (sv.http_fd = bind_listener("http", sv.cfg.http, sv.http_addr,
	    sizeof(sv.http_addr), err, errlen)) == -1)
		return -1;
	return 0;
}

/* The sd_notify datagram, without libsystemd. */
static void
sd_notify(const char *text)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	size_t n;
	int fd;

	if (path == NULL || *path == '\0')
		return;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET=%s: unusable", path);
		return;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, text, strlen(text), MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&sun, offsetof(struct sockaddr_un, sun_path) +
	    n) == -1)
		log_warn("sd_notify %s", text);
	if (fd != -1)
		close(fd);
}

/* The port of a bound "host:port", and whether the host is a wildcard. */
static int
bound_port(const char *addr, bool *wild)
{
	const char *colon = strrchr(addr, ':');

	*wild = strncmp(addr, "0.0.0.0:", 8) == 0 || strncmp(addr, "[::]:",
	    5) == 0;
	return colon != NULL ? atoi(colon + 1) : 0;
}

static bool
lan_address(const struct ifaddrs *ifa, bool v6, char *out, size_t len)
{
	const struct sockaddr_in6 *s6;

	if (ifa->ifa_addr == NULL || !(ifa->ifa_flags & IFF_UP) ||
	    (ifa->ifa_flags & IFF_LOOPBACK))
		return false;
	if (ifa->ifa_addr->sa_family == AF_INET6) {
		s6 = (const struct sockaddr_in6 *)(const void *)ifa->ifa_addr;
		if (!v6 || IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
			return false;
	} else if (ifa->ifa_addr->sa_family != AF_INET)
		return false;
	return getnameinfo(ifa->ifa_addr, ifa->ifa_addr->sa_family == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6), out,
	    (socklen_t)len, NULL, 0, NI_NUMERICHOST) == 0;
}

/*
 * Where phones must point (the app has no discovery): the machine's LAN
 * addresses, when we listen on every interface.  [{"address", "native",
 * "http"}], empty when bound to one address (which says itself).
 */
json_t *
super_lan_addresses(void)
{
	struct ifaddrs *all, *ifa;
	char host[NI_MAXHOST];
	bool nwild, hwild;
	int nport = bound_port(sv.native_addr, &nwild);
	int hport = bound_port(sv.http_addr, &hwild);
	json_t *a = json_array();

	if (a == NULL || !(nwild || hwild) || getifaddrs(&all) == -1)
		return a;
	for (ifa = all; ifa != NULL; ifa = ifa->ifa_next)
		if (lan_address(ifa, strchr(sv.native_addr, '[') != NULL,
		    host, sizeof(host)))
			json_array_append_new(a, json_pack("{s:s, s:i, s:i}",
			    "address", host, "native", nport, "http", hport));
	freeifaddrs(all);
	return a;
}

static void
announce_lan(void)
{
	json_t *a = super_lan_addresses(), *e;
	size_t i;

	json_array_foreach(a, i, e)
		log_info("phones: %s port %lld; engineer: http://%s:%lld/",
		    json_string_value(json_object_get(e, "address")),
		    json_integer_value(json_object_get(e, "native")),
		    json_string_value(json_object_get(e, "address")),
		    json_integer_value(json_object_get(e, "http")));
	json_decref(a);
}

static void
announce(void)
{
	char line[512];
	int n;

	sv.announced = true;
	log_info("ready: native %s, http %s, %s %uch %u Hz %u frames",
	    sv.native_addr, sv.http_addr, source_current(), sv.channels,
	    sv.cfg.rate, sv.cfg.period);
	announce_lan();
	sd_notify("READY=1");
	if (sv.cfg.notify_fd < 0)
		return;
	/* The bound addresses first: with port 0 this is how a test learns them. */
	n = snprintf(line, sizeof(line), "native %s\nhttp %s\nready\n",
	    sv.native_addr, sv.http_addr);
	if (write(sv.cfg.notify_fd, line, n) != n)
		log_warn("notify fd %d", sv.cfg.notify_fd);
	close(sv.cfg.notify_fd);
	sv.cfg.notify_fd = -1;
}

/* Once capture and broker are both ready (started, or adopted). */
static void
announce_when_ready(void)
{
	if (!sv.announced && !sv.stopping && sv.capture.child != NULL &&
	    sv.capture.child->ready && sv.broker.child != NULL &&
	    sv.broker.child->ready)
		announce();
}

void
super_child_ready(struct child *c)
{
	if (c->kind == CHILD_CAPTURE && c == sv.capture.child) {
		service_ready(&sv.capture);
		source_ready(c);
	} else if (c->kind == CHILD_BROKER && c == sv.broker.child) {
		service_ready(&sv.broker);
		auth_broker_ready();
	} else if (c->kind == CHILD_PUBLISH)
		publish_ready(c);
	upgrade_child_ready(c);
	announce_when_ready();
}

void
super_child_gone(void)
{
	if (sv.stopping && child_count() == 0)
		event_base_loopbreak(sv.base);
}

void
super_capture_state(const struct msg_capture_state *m)
{
	snprintf(sv.cap.state, sizeof(sv.cap.state), "%s", m->state);
	sv.cap.epoch = m->epoch;
	sv.cap.xruns = m->xruns;
	sv.cap.overruns = m->overruns;
	sv.cap.ingest = m->ingest;
}

static void
kill_cb(evutil_socket_t fd, short ev, void *arg)
{
	(void)fd;
	(void)ev;
	(void)arg;
	log_warnx("%d children still running after %d ms: SIGKILL",
	    child_count(), SUPER_STOP_GRACE_MS);
	child_signal_all(SIGKILL);
}

static void
stop(void)
{
	struct timeval tv = { SUPER_STOP_GRACE_MS / 1000,
	    (SUPER_STOP_GRACE_MS % 1000) * 1000 };

	if (sv.stopping)
		return;
	sv.stopping = true;
	log_info("stopping %d children", child_count());
	sd_notify("STOPPING=1");
	events_stop();
	watch_stop();
	auth_stop();
	session_sweep_stop();
	source_stop();
	service_stop(&sv.broker);
	service_stop(&sv.capture);
	publish_stop_all();
	session_end_all("shutdown");
	if ((kill_ev = evtimer_new(sv.base, kill_cb, NULL)) == NULL ||
	    evtimer_add(kill_ev, &tv) == -1)
		child_signal_all(SIGKILL);
	super_child_gone();
}

static void
reload_report(const struct config *o, const struct config *n)
{
	if (strcmp(o->native, n->native) || strcmp(o->http, n->http) ||
	    strcmp(o->state_dir, n->state_dir) || strcmp(o->ring, n->ring) ||
	    strcmp(o->source, n->source) || strcmp(o->user, n->user) ||
	    o->channels != n->channels || o->rate != n->rate ||
	    o->period != n->period ||
	    memcmp(&o->publish, &n->publish, sizeof(o->publish)) != 0 ||
	    strcmp(o->mcast_if, n->mcast_if) || strcmp(o->sap, n->sap) ||
	    o->sap_interval != n->sap_interval || o->jitter_ms != n->jitter_ms)
		log_warnx("reload: listeners, state, ring, source, user, "
		    "AES67 (publish, multicast-interface, sap, sap-interval, "
		    "jitter-ms) and audio format changes take effect after a "
		    "restart");
}

/* SIGHUP: what a running daemon can change; the rest waits for a restart. */
static void
reload(void)
{
	struct config c = sv.cfg;
	char err[512];

	if (config_reload(&c, err, sizeof(err)) == -1 ||
	    config_check(&c, err, sizeof(err)) == -1) {
		log_warnx("reload: %s; configuration unchanged", err);
		return;
	}
	reload_report(&sv.cfg, &c);
	log_init("ringcastd", c.verbose);
	sv.cfg.verbose = c.verbose;
	sv.cfg.max_clients = c.max_clients;
	sv.cfg.stall_ms = c.stall_ms;
	sv.cfg.user_timeout_ms = c.user_timeout_ms;
	log_info("reload: verbose %d, max-clients %u, stall-ms %u, "
	    "user-timeout-ms %u", c.verbose, c.max_clients, c.stall_ms,
	    c.user_timeout_ms);
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	(void)ev;
	(void)arg;
	switch (sig) {
	case SIGCHLD:
		child_reap();
		break;
	case SIGHUP:
		if (!sv.stopping)
			reload();
		break;
	case SIGUSR2:
		if (!sv.stopping)
			upgrade_exec();
		break;
	default:
		log_info("%s", strsignal(sig));
		stop();
		break;
	}
}

static void
signals_setup(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP,
	    SIGUSR2 };
	struct event *ev;
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if ((ev = evsignal_new(sv.base, sigs[i], signal_cb, NULL)) ==
		    NULL || evsignal_add(ev, NULL) == -1)
			fatalx("cannot watch signal %d", sigs[i]);
}

/*
 * One ring, one owner: the ring's name is locked before anything is bound
 * or touched, and the lock says who holds it, so a second ringcastd on the
 * same name stops at once and names the first instead of silencing it.
 */
#define RING_OWN_WAIT_MS	2000	/* a dead owner's lock, still held */

/*
 * Whether the holder's text names a ringcastd that is gone.  Its lock can
 * outlive it by a moment: a child it was forking when it died holds a copy
 * until that child execs.
 */
static bool
holder_gone(const char *holder)
{
	const char *p = strstr(holder, "pid ");
	long pid = p != NULL ? strtol(p + 4, NULL, 10) : 0;

	return pid > 1 && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static int
ring_own(char *err, size_t errlen)
{
	uint64_t end = clock_mono_ms() + RING_OWN_WAIT_MS;
	struct pollfd none = { .fd = -1 };
	char holder[512];
	int r;

	while ((r = ring_lock(sv.cfg.ring, &sv.ring_lock, holder,
	    sizeof(holder))) == RING_EBUSY && holder_gone(holder) &&
	    clock_mono_ms() < end)
		(void)poll(&none, 0, 10);

	if (r == RING_EBUSY)
		snprintf(err, errlen, "ring %s is in use by %s; choose another "
		    "ring with --ring NAME (ring = NAME in the configuration "
		    "file)", sv.cfg.ring, holder[0] ? holder :
		    "another process");
	else if (r != RING_OK)
		snprintf(err, errlen, "ring %s: cannot lock it: %s",
		    sv.cfg.ring, strerror(errno));
	return r == RING_OK ? 0 : -1;
}

/* What a second instance will be told about us. */
static void
ring_note_owner(void)
{
	char text[PATH_MAX + 400];

	snprintf(text, sizeof(text), "ringcastd pid %d (state %s, native %s, "
	    "http %s)", (int)getpid(), sv.cfg.state_dir, sv.native_addr,
	    sv.http_addr);
	if (ring_lock_note(sv.ring_lock, text) != RING_OK)
		log_warn("ring %s: lock note", sv.cfg.ring);
}

static void
ring_close(void)
{
	ring_reader_close(sv.ring);
	sv.ring = NULL;
	if (sv.ring_fd >= 0)
		close(sv.ring_fd);
	if (sv.ring_rw_fd >= 0)
		close(sv.ring_rw_fd);
	sv.ring_fd = sv.ring_rw_fd = -1;
}

/*
 * The ring a previous instance's capture still writes and its sessions
 * read: kept, never recreated under them, if it has the configured
 * geometry.  -1: there is none we can keep.
 */
static int
ring_reuse(void)
{
	struct ring_config rc = { sv.cfg.rate, sv.cfg.channels ?
	    sv.cfg.channels : 1, sv.cfg.period, 0 };
	const struct ring_header *h;

	if (ring_config_check(&rc) != RING_OK ||
	    (sv.ring_fd = shm_open(sv.cfg.ring, O_RDONLY | O_CLOEXEC, 0)) == -1)
		return -1;
	if ((sv.ring_rw_fd = shm_open(sv.cfg.ring, O_RDWR | O_CLOEXEC, 0)) ==
	    -1 || ring_reader_open_fd(sv.ring_fd, &sv.ring) != RING_OK) {
		ring_close();
		return -1;
	}
	/* With channels "max" (0) the capture's source said how many. */
	h = ring_reader_header(sv.ring);
	if (h->rate == rc.rate && (sv.cfg.channels == 0 ||
	    h->channels == rc.channels) &&
	    h->period_frames == rc.period_frames &&
	    h->slot_count == rc.slot_count) {
		sv.channels = h->channels;
		return 0;
	}
	ring_close();
	return -1;
}

/*
 * The supervisor creates the ring and keeps two descriptors: read-write
 * for capture (which never opens the ring by name) and read-only for
 * sessions and the meters.  Made again for another channel count: who
 * still maps the old object keeps it until they let go.
 */
int
super_ring_make(uint32_t channels, char *err, size_t errlen)
{
	struct ring_config rc = { sv.cfg.rate, channels, sv.cfg.period, 0 };
	int r;

	ring_close();
	if ((r = ring_create(sv.cfg.ring, &rc)) != RING_OK) {
		snprintf(err, errlen, "ring %s: %s%s%s", sv.cfg.ring,
		    ring_strerror(r), r == RING_ESYS ? ": " : "",
		    r == RING_ESYS ? strerror(errno) : "");
		return -1;
	}
	if ((sv.ring_fd = shm_open(sv.cfg.ring, O_RDONLY | O_CLOEXEC, 0)) ==
	    -1 || (sv.ring_rw_fd = shm_open(sv.cfg.ring, O_RDWR | O_CLOEXEC,
	    0)) == -1 || (r = ring_reader_open_fd(sv.ring_fd, &sv.ring)) !=
	    RING_OK) {
		snprintf(err, errlen, "ring %s: %s", sv.cfg.ring, sv.ring_fd ==
		    -1 || sv.ring_rw_fd == -1 ? strerror(errno) :
		    ring_strerror(r));
		ring_close();
		ring_unlink(sv.cfg.ring);
		return -1;
	}
	sv.channels = channels;
	return 0;
}

/* The configured count; with "max" the default until a source says. */
static int
ring_setup(char *err, size_t errlen)
{
	ring_note_owner();
	sv.ring_fd = sv.ring_rw_fd = -1;
	if (adopt_audio()) {
		if (ring_reuse() == 0) {
			log_info("ring %s kept: adopted children use it (%u "
			    "channels)", sv.cfg.ring, sv.channels);
			return 0;
		}
		adopt_abandon("the ring is not the configured one any more");
	}
	return super_ring_make(sv.cfg.channels ? sv.cfg.channels :
	    SUPER_CHANNELS_DEFAULT, err, errlen);
}

static void
check_notify_fd(void)
{
	if (sv.cfg.notify_fd < 0)
		return;
	if (fcntl(sv.cfg.notify_fd, F_SETFD, FD_CLOEXEC) == -1)
		errx(1, "notify-fd %d: %s", sv.cfg.notify_fd, strerror(errno));
}

int
super_state_reopen(void)
{
	char err[1024];

	if (state_open(sv.cfg.state_dir, false, sv.channels, 0, 0,
	    &sv.state, err, sizeof(err)) == STATE_OK)
		return 0;
	log_warnx("state: %s", err);
	return -1;
}

/* Everything that can fail on the operator's input, before any child runs. */
static void
setup(int argc, char *argv[])
{
	char err[1024];
	int upgrading;

	if (config_load(&sv.cfg, argc, argv, err, sizeof(err)) == -1 ||
	    config_check(&sv.cfg, err, sizeof(err)) == -1 ||
	    find_libexec(err, sizeof(err)) == -1)
		errx(1, "%s", err);
	if (sv.cfg.check_only) {
		printf("configuration OK\n");
		exit(0);
	}
	/* An upgrade's new image: the lock inherited, readiness said before. */
	if ((upgrading = upgrade_init(argc, argv, &sv.ring_lock)) == 1)
		sv.cfg.notify_fd = -1;
	check_notify_fd();
	log_init("ringcastd", sv.cfg.verbose);
	if (sv.cfg.user[0] != '\0' && !sv.cfg.drop)
		log_info("not started as root: --user %s has no effect",
		    sv.cfg.user);
	if ((sv.base = event_base_new()) == NULL)
		errx(1, "event_base_new failed");
	if (!upgrading && ring_own(err, sizeof(err)) == -1)
		errx(1, "%s", err);
	if (adopt_key_load(err, sizeof(err)) == -1) {
		ring_unlock(sv.cfg.ring, sv.ring_lock);
		errx(1, "%s", err);
	}
	/* Owning the ring, we may take over what a previous owner left. */
	adopt_gather();
	if (listeners(err, sizeof(err)) == -1 ||
	    ingest_setup(err, sizeof(err)) == -1 ||
	    publish_setup(err, sizeof(err)) == -1 ||
	    ring_setup(err, sizeof(err)) == -1) {
		ring_unlock(sv.cfg.ring, sv.ring_lock);
		errx(1, "%s", err);
	}
}

static void
start(void)
{
	char err[1024];

	sv.start_ms = clock_mono_ms();
	signals_setup();
	service_init(&sv.capture, "capture", CHILD_CAPTURE);
	service_init(&sv.broker, "broker", CHILD_BROKER);
	adopt_services();
	if (sv.broker.child == NULL)
		service_start(&sv.broker);
	publish_start_all();
	/*
	 * Later children are forked with the environment open; they only
	 * move descriptors and exec.  Capture waits for it: a source saved
	 * from the UI wins over the configuration's.
	 */
	if (state_open(sv.cfg.state_dir, false, sv.channels, 0, 0,
	    &sv.state, err, sizeof(err)) != STATE_OK) {
		log_warnx("state: %s", err);
		exit_code = 1;
		stop();
		return;
	}
	source_init();
	if (sv.capture.child == NULL)
		service_start(&sv.capture);
	adopt_sessions();
	announce_when_ready();
	upgrade_start();
	api_channels_load();
	session_recent_load();
	session_sweep_start();
	events_start();
	watch_start();
	auth_start();
	/* An adopted broker had the tokens; it has them again, as they are. */
	if (sv.broker.child != NULL && sv.broker.child->adopted)
		auth_broker_ready();
	log_info("ringcastd %s: ring %s, state %s, %u clients saved",
	    RINGCAST_VERSION, sv.cfg.ring, sv.cfg.state_dir,
	    state_count(sv.state));
	/* Children of ours that ended while we were exec'ing (an upgrade). */
	child_reap();
}

int
main(int argc, char *argv[])
{
	setup(argc, argv);
	start();
	if (event_base_dispatch(sv.base) == -1)
		log_warnx("event loop failed");
	adopt_done();
	book_stop();
	if (sv.state != NULL)
		state_close(sv.state);
	ring_close();
	if (ring_unlink(sv.cfg.ring) != RING_OK)
		log_warn("unlink ring %s", sv.cfg.ring);
	ring_unlock(sv.cfg.ring, sv.ring_lock);
	close(sv.native_fd);
	close(sv.http_fd);
	log_info("stopped");
	return exit_code;
}
