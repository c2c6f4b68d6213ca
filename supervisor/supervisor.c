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
	"kicked", "other",
};

static const char *const progs[] = {
	"ringcast-capture", "ringcast-broker", "ringcast-sessiond",
};

static struct event *kill_ev;
static int exit_code;

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
	    sv.native_addr, sv.http_addr, sv.cfg.source, sv.cfg.channels,
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

void
super_child_ready(struct child *c)
{
	if (c->kind == CHILD_CAPTURE)
		service_ready(&sv.capture);
	else if (c->kind == CHILD_BROKER)
		service_ready(&sv.broker);
	else if (c->kind == CHILD_PUBLISH)
		publish_ready(c);
	if (!sv.announced && !sv.stopping && sv.capture.child != NULL &&
	    sv.capture.child->ready && sv.broker.child != NULL &&
	    sv.broker.child->ready)
		announce();
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
	session_sweep_stop();
	service_stop(&sv.broker);
	service_stop(&sv.capture);
	publish_stop_all();
	session_stop_all();
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
	default:
		log_info("%s", strsignal(sig));
		stop();
		break;
	}
}

static void
signals_setup(void)
{
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };
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
static int
ring_own(char *err, size_t errlen)
{
	char holder[512];
	int r = ring_lock(sv.cfg.ring, &sv.ring_lock, holder, sizeof(holder));

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

/*
 * The supervisor creates the ring and keeps two descriptors: read-write
 * for capture (which never opens the ring by name) and read-only for
 * sessions and the meters.
 */
static int
ring_setup(char *err, size_t errlen)
{
	struct ring_config rc = { sv.cfg.rate, sv.cfg.channels, sv.cfg.period,
	    0 };
	int r;

	ring_note_owner();
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
		ring_unlink(sv.cfg.ring);
		return -1;
	}
	return 0;
}

static void
check_notify_fd(void)
{
	if (sv.cfg.notify_fd < 0)
		return;
	if (fcntl(sv.cfg.notify_fd, F_SETFD, FD_CLOEXEC) == -1)
		errx(1, "notify-fd %d: %s", sv.cfg.notify_fd, strerror(errno));
}

/* Everything that can fail on the operator's input, before any child runs. */
static void
setup(int argc, char *argv[])
{
	char err[1024];

	if (config_load(&sv.cfg, argc, argv, err, sizeof(err)) == -1 ||
	    config_check(&sv.cfg, err, sizeof(err)) == -1 ||
	    find_libexec(err, sizeof(err)) == -1)
		errx(1, "%s", err);
	if (sv.cfg.check_only) {
		printf("configuration OK\n");
		exit(0);
	}
	check_notify_fd();
	log_init("ringcastd", sv.cfg.verbose);
	if (sv.cfg.user[0] != '\0' && !sv.cfg.drop)
		log_info("not started as root: --user %s has no effect",
		    sv.cfg.user);
	if ((sv.base = event_base_new()) == NULL)
		errx(1, "event_base_new failed");
	if (ring_own(err, sizeof(err)) == -1)
		errx(1, "%s", err);
	if ((sv.native_fd = bind_listener("native", sv.cfg.native,
	    sv.native_addr, sizeof(sv.native_addr), err, sizeof(err))) == -1 ||
	    (sv.http_fd = bind_listener("http", sv.cfg.http, sv.http_addr,
	    sizeof(sv.http_addr), err, sizeof(err))) == -1 ||
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
	service_start(&sv.capture);
	service_start(&sv.broker);
	publish_start_all();
	/* After those forks, so no LMDB handle crosses them. */
	if (state_open(sv.cfg.state_dir, false, sv.cfg.channels, 0, 0,
	    &sv.state, err, sizeof(err)) != STATE_OK) {
		log_warnx("state: %s", err);
		exit_code = 1;
		stop();
		return;
	}
	api_channels_load();
	session_recent_load();
	session_sweep_start();
	events_start();
	watch_start();
	log_info("ringcastd %s: ring %s, state %s, %u clients saved",
	    RINGCAST_VERSION, sv.cfg.ring, sv.cfg.state_dir,
	    state_count(sv.state));
}

int
main(int argc, char *argv[])
{
	setup(argc, argv);
	start();
	if (event_base_dispatch(sv.base) == -1)
		log_warnx("event loop failed");
	if (sv.state != NULL)
		state_close(sv.state);
	ring_reader_close(sv.ring);
	close(sv.ring_fd);
	close(sv.ring_rw_fd);
	if (ring_unlink(sv.cfg.ring) != RING_OK)
		log_warn("unlink ring %s", sv.cfg.ring);
	ring_unlock(sv.cfg.ring, sv.ring_lock);
	close(sv.native_fd);
	close(sv.http_fd);
	log_info("stopped");
	return exit_code;
}
