/* sessiond_net.c — client socket set-up: non-blocking, dead-peer detection in seconds. */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>

#include "shared/log.h"
#include "sessiond/sessiond.h"

#define KEEPALIVE_IDLE_S	1
#define KEEPALIVE_INTVL_S	1
/*
 * Unsent bytes the kernel may hold.  Without a bound, send-buffer autotuning
 * lets megabytes (seconds of audio) pile up behind a slow client: latency
 * for it, and a stall we would notice only when the kernel is full.  With
 * it, the backlog sits in our queue, where whole periods are dropped.
 */
#define NOTSENT_LOWAT		(32 * 1024)

static void
set_int(int fd, int level, int opt, int val, const char *name)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) == -1)
		log_warn("setsockopt %s", name);
}

static int
is_tcp(int fd)
{
	int domain, type;
	socklen_t len = sizeof(domain);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == -1)
		return 0;
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1)
		return 0;
	return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM;
}

/*
 * The deployed app never sends heartbeats, so a phone that leaves the Wi-Fi
 * is found by TCP itself: TCP_USER_TIMEOUT bounds unacknowledged data while
 * we stream, keepalive probes cover an idle (unsubscribed) connection, and
 * with both set the kernel drops the peer after user_timeout_ms either way.
 */
static void
tcp_setup(struct session *s)
{
	int fd = s->client_fd;
	int cnt = (s->user_timeout_ms + 999) / 1000;

	set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY");
	set_int(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, NOTSENT_LOWAT,
	    "TCP_NOTSENT_LOWAT");
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
	set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, KEEPALIVE_IDLE_S, "TCP_KEEPIDLE");
	set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, KEEPALIVE_INTVL_S,
	    "TCP_KEEPINTVL");
	set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt > 0 ? cnt : 1, "TCP_KEEPCNT");
	set_int(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)s->user_timeout_ms,
	    "TCP_USER_TIMEOUT");
}

void
sess_net_setup(struct session *s)
{
	int fl;

	if ((fl = fcntl(s->client_fd, F_GETFL)) == -1 ||
	    fcntl(s->client_fd, F_SETFL, fl | O_NONBLOCK) == -1)
		fatal("client socket: O_NONBLOCK");
	/* AF_UNIX clients (tests, local tools) have no TCP options. */
	if ((s->is_tcp = is_tcp(s->client_fd)))
		tcp_setup(s);
}

/*
 * Data has waited for the stall limit: is the client alive but not reading
 * (the kernel sees a closed receive window) or gone (our segments are being
 * retransmitted, unacknowledged)?  The second is a dead peer, found before
 * TCP_USER_TIMEOUT expires.
 */
const char *
sess_net_stall_reason(const struct session *s)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (s->is_tcp && getsockopt(s->client_fd, IPPROTO_TCP, TCP_INFO, &ti,
	    &len) == 0 && ti.tcpi_retransmits > 0)
		return "timeout";
	return "stalled";
}

/* The exit reason for a socket error. */
const char *
sess_net_reason(int err)
{
	switch (err) {
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return "timeout";
	case ECONNRESET:
	case EPIPE:
	case ECONNABORTED:
		return "reset";
	default:
		return "error";
	}
}
