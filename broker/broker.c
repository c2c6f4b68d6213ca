/* broker.c — ringcast-broker: accepts native and HTTP clients; start, loop, exit. */
/*
 * Peers: the supervisor on the parent channel (fd 3, shared/msg.h); native
 * clients on the listener it passed as fd 4 (Fichatech v2, until their
 * handshake is read: then they go to the supervisor); HTTP clients on fd 5,
 * whose /api and /metrics requests the supervisor answers.  One libevent
 * loop; nothing in it waits on a client or on the supervisor.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/msg.h"
#include "shared/opt.h"
#include "shared/sandbox.h"
#include "shared/spawn.h"
#include "broker/broker.h"

#define PARENT_BURST	64	/* messages read per wake-up, for fairness */
#define RETIRE_POLL_MS	50	/* a retiring broker checks whether it is idle */

static int parent_fd = -1;
static struct {
	struct event_base	*base;
	const struct broker_config *cfg;
	struct adopt		 adopt;
	struct event		*parent_ev;
	struct event		*adopt_ev;	/* the rendezvous, while an orphan */
	struct event		*tick_ev;	/* orphan's grace; retiring's end */
	uint64_t		 retire_end_ms;	/* 0: not retiring */
} bk;

int
broker_send(uint32_t type, const void *body, size_t len, const void *tail,
    size_t taillen, int fd)
{
	if (parent_fd < 0) {
		errno = EPIPE;
		return -1;
	}
	return msg_send(parent_fd, ROLE_BROKER, type, body, len, tail, taillen,
	    fd);
}

bool
broker_orphan(void)
{
	return parent_fd < 0;
}

void
broker_addr_str(const struct sockaddr *sa, socklen_t len, char *buf,
    size_t buflen)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET && len >= sizeof(*sin) &&
	    inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)) != NULL)
		snprintf(buf, buflen, "%s:%u", ip, ntohs(sin->sin_port));
	else if (sa->sa_family == AF_INET6 && len >= sizeof(*sin6) &&
	    inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip)) != NULL)
		snprintf(buf, buflen, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	else if (sa->sa_family == AF_UNIX)
		snprintf(buf, buflen, "local");
	else
		snprintf(buf, buflen, "unknown");
}

void
broker_tv(struct timeval *tv, int ms)
{
	tv->tv_sec = ms / 1000;
	tv->tv_usec = (ms % 1000) * 1000;
}

void
rest_init(struct rest *r, struct event_base *base, const char *what,
    event_callback_fn done)
{
	r->what = what;
	r->logged = 0;
	if ((r->timer = evtimer_new(base, done, NULL)) == NULL)
		fatalx("%s: timer", what);
}

void
rest_begin(struct rest *r)
{
	struct timeval tv;
	time_t now = time(NULL);

	if (now != r->logged) {
		log_warn("%s: pausing %d ms", r->what, BROKER_PAUSE_MS);
		r->logged = now;
	}
	broker_tv(&tv, BROKER_PAUSE_MS);
	if (evtimer_add(r->timer, &tv) == -1)
		fatalx("%s: timer", r->what);
}

static void
await_expired(evutil_socket_t fd, short what, void *arg)
{
	struct await *a = arg;

	(void)fd;
	(void)what;
	await_drop(a);
	a->expire(a);
}

int
await_add(struct awaits *set, struct await *a, struct event_base *base,
    int ms, await_fn expire)
{
	struct timeval tv;

	if ((a->deadline = evtimer_new(base, await_expired, a)) == NULL)
		return -1;
	a->ms = ms;
	broker_tv(&tv, ms);
	if (evtimer_add(a->deadline, &tv) == -1) {
		event_free(a->deadline);
		return -1;
	}
	a->id = ++set->next_id;
	a->set = set;
	a->expire = expire;
	TAILQ_INSERT_TAIL(&set->list, a, entry);
	set->n++;
	return 0;
}

struct await *
await_take(struct awaits *set, uint32_t id)
{
	struct await *a;

	TAILQ_FOREACH(a, &set->list, entry)
		if (a->id == id) {
			await_drop(a);
			return a;
		}
	return NULL;
}

void
await_drop(struct await *a)
{
	TAILQ_REMOVE(&a->set->list, a, entry);
	a->set->n--;
	event_free(a->deadline);
	a->deadline = NULL;
}

#define OFF(f)	offsetof(struct broker_config, f)

static const struct opt_spec options[] = {
	/* The listening sockets the supervisor bound. */
	OPT_DESCRIPTOR(struct broker_config, "native-fd", native_fd),
	OPT_DESCRIPTOR(struct broker_config, "http-fd", http_fd),
	/* Limits: absent, the broker's own defaults (broker.h). */
	{ "handshake-ms", OPT_INT, OFF(handshake_ms), 1, BROKER_MS_MAX, NULL, NULL },
	{ "max-pending", OPT_INT, OFF(max_pending), 1, 65536, NULL, NULL },
	{ "max-pending-per-addr", OPT_INT, OFF(max_per_addr), 1, 65536, NULL, NULL },
	{ "request-ms", OPT_INT, OFF(request_ms), 1, BROKER_MS_MAX, NULL, NULL },
	/* The web UI, and who may use the API (broker_auth.c, broker_tls.c). */
	{ "web-dir", OPT_TEXT, OFF(web_dir), 0, 0, NULL, "DIR" },
	{ "auth", OPT_FLAG, OFF(auth), 0, 0, NULL, NULL },
	{ "metrics-public", OPT_FLAG, OFF(metrics_public), 0, 0, NULL, NULL },
	{ "tls-cert", OPT_TEXT, OFF(tls_cert), 0, 0, NULL, "FILE" },
	{ "tls-key", OPT_TEXT, OFF(tls_key), 0, 0, NULL, "FILE" },
	SPAWN_CHILD_OPTIONS(struct broker_config, parent_fd, adopt, verbose),
};

static void
parse_args(int argc, char *argv[], struct broker_config *c)
{
	*c = (struct broker_config){ -1, -1, -1, BROKER_HANDSHAKE_MS,
	    BROKER_MAX_CLIENTS, BROKER_MAX_PER_ADDR, BROKER_REQUEST_MS, 0, NULL,
	    NULL, 0, 0, NULL, NULL };
	opt_parse(argc, argv, options, sizeof(options) / sizeof(options[0]), c,
	    NULL);
	if (c->parent_fd < 0 || c->native_fd < 0 || c->http_fd < 0)
		opt_usage(2);
}

static void	parent_setup(struct event_base *, int);

/*
 * Once a second while an orphan (the grace), every RETIRE_POLL_MS while
 * retiring (done when idle, or at the end of its grace).
 */
static void
tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (adopt_expired(&bk.adopt)) {
		log_warnx("no supervisor came back: exiting");
		event_base_loopbreak(bk.base);
	}
	if (bk.retire_end_ms != 0 && (clock_mono_ms() >= bk.retire_end_ms ||
	    (native_pending() == 0 && handoff_pending() == 0 &&
	    http_pending() == 0))) {
		log_info("retired: %d handshakes, %d handoffs, %d requests "
		    "left", native_pending(), handoff_pending(),
		    http_pending());
		event_base_loopbreak(bk.base);
	}
}

static void
tick_every(int ms)
{
	struct timeval tv;

	broker_tv(&tv, ms);
	event_del(bk.tick_ev);
	if (event_add(bk.tick_ev, &tv) == -1)
		fatalx("tick");
}

/* The supervisor is gone: listeners are held for the next one. */
static void
orphaned(void)
{
	event_del(bk.parent_ev);
	close(parent_fd);
	parent_fd = -1;
	http_orphaned();
	if (event_add(bk.adopt_ev, NULL) == -1)
		fatalx("rendezvous event");
	tick_every(1000);
}

/*
 * A new supervisor called: our listening sockets (it needs them for our
 * successor), what we are, then the listeners we held for it.
 */
static void
adopted(evutil_socket_t lfd, short what, void *arg)
{
	const int fds[2] = { bk.cfg->native_fd, bk.cfg->http_fd };
	struct msg_adopt_listener l;
	struct msg_adopt_broker m;
	int fd, i;

	(void)lfd;
	(void)what;
	(void)arg;
	if ((fd = adopt_accept(&bk.adopt, &m, sizeof(m))) == -1)
		return;
	m.subscribers = (uint32_t)events_subscribers();
	m.held = (uint32_t)handoff_held();
	for (i = 0; i < 2; i++) {
		l.which = i == 0 ? LISTENER_NATIVE : LISTENER_HTTP;
		if (msg_send(fd, ROLE_BROKER, MSG_ADOPT_LISTENER, &l,
		    sizeof(l), NULL, 0, fds[i]) == -1)
			break;
	}
	if (i < 2) {
		adopt_fail(&bk.adopt, fd, "MSG_ADOPT_LISTENER");
		return;
	}
	if (adopt_answer(&bk.adopt, fd, ROLE_BROKER, MSG_ADOPT_BROKER, &m,
	    sizeof(m)) == -1)
		return;
	event_del(bk.adopt_ev);
	event_del(bk.tick_ev);
	parent_setup(bk.base, fd);
	handoff_flush();
}

/*
 * An upgrade: a new broker accepts on the same sockets from now on.  We
 * finish what is under way (handshakes, handoffs, requests), at most
 * grace_ms, then exit; event streams end now (browsers reconnect).
 */
static void
retire(uint32_t grace_ms)
{
	log_info("retiring: a successor accepts now");
	native_stop();
	http_stop();
	events_close_all();
	bk.retire_end_ms = clock_mono_ms() + grace_ms;
	tick_every(RETIRE_POLL_MS);
}

/* A message from the supervisor, whole and meant for us (msg_recv checked). */
static void
parent_dispatch(const struct msg *m)
{
	size_t len;
	const char *tail = msg_tail(m, &len);

	switch (m->hdr.type) {
	case MSG_BROKER_REPLY:
		http_reply(MSG_BODY(m, struct msg_api_reply), tail, len);
		break;
	case MSG_BROKER_EVENT:
		events_publish(MSG_BODY(m, struct msg_event), tail, len);
		break;
	case MSG_BROKER_CLIENT_DONE:
		handoff_done(MSG_BODY(m, struct msg_client_done));
		break;
	case MSG_BROKER_TOKENS:
		auth_tokens(MSG_BODY(m, struct msg_tokens));
		break;
	case MSG_PROBE:
		sandbox_probe(parent_fd, ROLE_BROKER, MSG_BODY(m,
		    struct msg_probe));
		break;
	case MSG_ADOPT_KEY:
		adopt_keyed(&bk.adopt, MSG_BODY(m, struct msg_adopt_key));
		break;
	case MSG_BROKER_RETIRE:
		retire(MSG_BODY(m, struct msg_retire)->grace_ms);
		break;
	}
}

static void
parent_read(evutil_socket_t fd, short what, void *arg)
{
	static struct msg m;
	struct event_base *base = arg;
	int i, rc;

	(void)what;
	for (i = 0; i < PARENT_BURST; i++) {
		if ((rc = msg_recv(fd, ROLE_BROKER, ROLE_SUPERVISOR, &m)) == 1) {
			parent_dispatch(&m);
			continue;
		}
		/* A dead peer with our unread messages: a reset, not EOF. */
		if (rc == -1 && errno == ECONNRESET)
			rc = 0;
		if (rc == 0 && bk.retire_end_ms == 0 &&
		    adopt_orphaned(&bk.adopt))
			orphaned();
		else if (rc == 0) {
			log_debug("parent channel closed");
			event_base_loopbreak(base);
		} else if (errno == EPROTO) {
			/* The channel fault policy (shared/msg.h). */
			log_warnx("parent channel: %s %s: exiting", m.fault,
			    msg_name(m.hdr.type));
			exit(MSG_EXIT_FAULT);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK)
			fatal("parent channel");
		return;
	}
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_debug("signal %d", (int)sig);
	event_base_loopbreak(arg);
}

static void
signals_setup(struct event_base *base)
{
	static struct event *ev[2];

	/* A peer's close is an error from write, never a death. */
	signal(SIGPIPE, SIG_IGN);
	if ((ev[0] = evsignal_new(base, SIGTERM, on_signal, base)) == NULL ||
	    (ev[1] = evsignal_new(base, SIGINT, on_signal, base)) == NULL ||
	    evsignal_add(ev[0], NULL) == -1 || evsignal_add(ev[1], NULL) == -1)
		fatalx("signal events");
}

static void
parent_setup(struct event_base *base, int fd)
{
	struct event *ev;
	int fl;

	/* A busy supervisor must never stall the loop: sends may fail. */
	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("parent channel: O_NONBLOCK");
	parent_fd = fd;
	if (bk.parent_ev != NULL)
		event_free(bk.parent_ev);
	if ((ev = event_new(base, fd, EV_READ | EV_PERSIST, parent_read,
	    base)) == NULL || event_add(ev, NULL) == -1)
		fatalx("parent channel event");
	bk.parent_ev = ev;
}

int
main(int argc, char *argv[])
{
	struct msg_ready ready = { RINGCAST_VERSION };
	struct broker_config cfg;
	struct event_base *base;

	parse_args(argc, argv, &cfg);
	log_init("broker", cfg.verbose);
	if ((base = event_base_new()) == NULL)
		fatalx("event_base_new");
	signals_setup(base);
	bk.base = base;
	bk.cfg = &cfg;
	parent_setup(base, cfg.parent_fd);
	if (adopt_listen(&bk.adopt, cfg.adopt, ROLE_BROKER) == -1 ||
	    (bk.tick_ev = event_new(base, -1, EV_PERSIST, tick, NULL)) == NULL)
		fatalx("rendezvous");
	if (bk.adopt.fd >= 0 && (bk.adopt_ev = event_new(base, bk.adopt.fd,
	    EV_READ | EV_PERSIST, adopted, NULL)) == NULL)
		fatalx("rendezvous event");
	handoff_init(base, cfg.handshake_ms);
	/* The key is read here, before the drop. */
	tls_init(base, &cfg);
	auth_init(base, &cfg);
	native_init(base, &cfg);
	http_init(base, &cfg);
	events_init(base, &cfg);
	static_init(&cfg);
	/* Web assets are loaded: nothing more is needed from the filesystem. */
	sandbox_prepare(SANDBOX_BROKER, (unsigned)cfg.max_pending * 2 + 64);
	sandbox_enter(SANDBOX_BROKER);
	if (broker_send(MSG_READY, &ready, sizeof(ready), NULL, 0, -1) == -1)
		fatal("MSG_READY");
	log_debug("serving: handshake %d ms, %d pending (%d per address), "
	    "request %d ms", cfg.handshake_ms, cfg.max_pending,
	    cfg.max_per_addr, cfg.request_ms);
	if (event_base_dispatch(base) == -1)
		fatalx("event loop");
	log_debug("exiting");
	return 0;
}
