/* mcast.c — multicast UDP sockets for AES67 and SAP, and the stream an ingest source names. */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include <errno.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/mcast.h"
#include "shared/opt.h"

#define RCVBUF		(1 << 20)

/* The interface's index and first IPv4 address (0 if it has none). */
static int
mcast_iface(const char *ifname, unsigned *index, uint32_t *addr, char *err,
    size_t errlen)
{
	struct ifaddrs *all, *ifa;

	*index = 0;
	*addr = 0;
	if (ifname == NULL || ifname[0] == '\0')
		return 0;
	if ((*index = if_nametoindex(ifname)) == 0) {
		errbuf_set(err, errlen, "interface %s: %s", ifname,
		    strerror(errno));
		return -1;
	}
	if (getifaddrs(&all) == -1)
		return 0;
	for (ifa = all; ifa != NULL; ifa = ifa->ifa_next)
		if (ifa->ifa_addr != NULL && ifa->ifa_addr->sa_family ==
		    AF_INET && strcmp(ifa->ifa_name, ifname) == 0) {
			*addr = ((const struct sockaddr_in *)(const void *)
			    ifa->ifa_addr)->sin_addr.s_addr;
			break;
		}
	freeifaddrs(all);
	return 0;
}

static int
sock_fail(int fd, const char *what, char *err, size_t errlen)
{
	int saved = errno;

	errbuf_set(err, errlen, "%s: %s", what, strerror(saved));
	if (fd >= 0)
		close(fd);
	errno = saved;
	return -1;
}

static struct sockaddr_in
mcast_sin(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = addr;
	sin.sin_port = htons(port);
	return sin;
}

/* A UDP socket for the interface (any if none): its index and address too. */
static int
mcast_socket(const char *ifname, unsigned *index, uint32_t *addr, char *err,
    size_t errlen)
{
	int fd;

	if (mcast_iface(ifname, index, addr, err, errlen) == -1)
		return -1;
	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return sock_fail(-1, "socket", err, errlen);
	return fd;
}

int
mcast_sender(uint32_t group, uint16_t port, uint32_t ttl, const char *ifname,
    uint32_t *src, char *err, size_t errlen)
{
	struct sockaddr_in sin, me;
	socklen_t ml = sizeof(me);
	struct ip_mreqn mr;
	unsigned char t = (unsigned char)ttl, loop = 1;
	unsigned index;
	uint32_t addr;
	int fd;

	if ((fd = mcast_socket(ifname, &index, &addr, err, errlen)) == -1)
		return -1;
	memset(&mr, 0, sizeof(mr));
	mr.imr_ifindex = (int)index;
	mr.imr_address.s_addr = addr;
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &t, sizeof(t)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
	    sizeof(loop)) == -1)
		return sock_fail(fd, "multicast options", err, errlen);
	if (index != 0 && setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr,
	    sizeof(mr)) == -1)
		return sock_fail(fd, "IP_MULTICAST_IF", err, errlen);
	sin = mcast_sin(addr, 0);
	if (addr != 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return sock_fail(fd, "bind to the interface's address", err, errlen);
	sin = mcast_sin(group, port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return sock_fail(fd, "connect", err, errlen);
	*src = getsockname(fd, (struct sockaddr *)&me, &ml) == 0 ?
	    me.sin_addr.s_addr : 0;
	return fd;
}

/* Source-specific when there is a source; the interface's, or the route's. */
static int
mcast_join(int fd, uint32_t group, uint32_t source, unsigned index,
    uint32_t addr)
{
	struct ip_mreq_source ms;
	struct ip_mreqn mr;

	if (source != 0) {
		memset(&ms, 0, sizeof(ms));
		ms.imr_multiaddr.s_addr = group;
		ms.imr_interface.s_addr = addr;
		ms.imr_sourceaddr.s_addr = source;
		return setsockopt(fd, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &ms,
		    sizeof(ms));
	}
	memset(&mr, 0, sizeof(mr));
	mr.imr_multiaddr.s_addr = group;
	mr.imr_address.s_addr = addr;
	mr.imr_ifindex = (int)index;
	return setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr));
}

int
mcast_receiver(uint32_t group, uint16_t port, uint32_t source,
    const char *ifname, char *err, size_t errlen)
{
	struct sockaddr_in sin = mcast_sin(group, port);
	int fd, on = 1, off = 0, rcv = RCVBUF;
	unsigned index;
	uint32_t addr;

	if ((fd = mcast_socket(ifname, &index, &addr, err, errlen)) == -1)
		return -1;
	/* Another receiver of the same stream on this host may bind it too. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off,
	    sizeof(off)) == -1)
		return sock_fail(fd, "socket options", err, errlen);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		return sock_fail(fd, "bind", err, errlen);
	if (mcast_join(fd, group, source, index, addr) == -1)
		return sock_fail(fd, "join", err, errlen);
	return fd;
}

int
mcast_addr(const char *host, const char *port, uint32_t *group,
    uint16_t *port_out, char *err, size_t errlen)
{
	long long p;

	if (inet_pton(AF_INET, host, group) != 1 ||
	    !IN_MULTICAST(ntohl(*group))) {
		errbuf_set(err, errlen, "%s is not an IPv4 multicast address",
		    host);
		return -1;
	}
	if (opt_number(port, 1, 65535, &p) == -1) {
		errbuf_set(err, errlen, "port %s: expected 1..65535", port);
		return -1;
	}
	*port_out = (uint16_t)p;
	return 0;
}

static int
from_url(const char *url, uint32_t nch, struct sdp_stream *s, char *err,
    size_t errlen)
{
	static const char *const keys[] = { "channels", "format", "pt",
	    "source", NULL };
	struct rtp_url u;
	const char *v;
	long long ch, pt;

	memset(s, 0, sizeof(*s));
	s->format = RTP_L24;
	if (rtp_url_parse(url, &u, err, errlen) == -1 ||
	    rtp_url_only(&u, keys, err, errlen) == -1 ||
	    mcast_addr(u.host, u.port, &s->group, &s->port, err, errlen) == -1 ||
	    rtp_url_number(&u, "channels", 1, SDP_CHANNELS_MAX, nch, &ch, err,
	    errlen) == -1 || rtp_url_number(&u, "pt", 0, 127, RTP_PT_DYNAMIC,
	    &pt, err, errlen) == -1)
		return -1;
	s->channels = (uint32_t)ch;
	s->pt = (uint8_t)pt;
	if ((v = rtp_url_get(&u, "format")) != NULL &&
	    rtp_format_parse(v, strlen(v), &s->format) == -1) {
		errbuf_set(err, errlen, "format=%s: expected L24 or L16", v);
		return -1;
	}
	if ((v = rtp_url_get(&u, "source")) != NULL &&
	    inet_pton(AF_INET, v, &s->source) != 1) {
		errbuf_set(err, errlen, "source=%s: expected an IPv4 address",
		    v);
		return -1;
	}
	return 0;
}

static int
from_file(const char *path, struct sdp_stream *s, char *err, size_t errlen)
{
	char text[8192], why[256];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(text, 1, sizeof(text), f);
	fclose(f);
	if (sdp_parse(text, n, s, why, sizeof(why)) != SDP_OK) {
		errbuf_set(err, errlen, "%s: %s", path, why);
		return -1;
	}
	if (!IN_MULTICAST(ntohl(s->group))) {
		errbuf_set(err, errlen, "%s: the stream's address is not "
		    "IPv4 multicast", path);
		return -1;
	}
	return 0;
}

int
mcast_source_stream(const char *source, uint32_t nch, struct sdp_stream *s,
    char *err, size_t errlen)
{
	if (strncmp(source, "rtp://", 6) == 0)
		return from_url(source, nch, s, err, errlen);
	if (strncmp(source, "sdp:", 4) == 0 && source[4] != '\0')
		return from_file(source + 4, s, err, errlen);
	errbuf_set(err, errlen, "%s: not rtp:// nor sdp:FILE", source);
	return -1;
}
