/* mcast.h — IPv4 multicast UDP sockets for AES67 streams and SAP, and where an ingest source's stream is. */
#ifndef RINGCAST_MCAST_H
#define RINGCAST_MCAST_H

#include <stddef.h>
#include <stdint.h>

#include "shared/sdp.h"

/*
 * The supervisor makes these sockets and passes them to its sandboxed
 * children, whose seccomp lists hold no socket(), bind() or setsockopt().
 * Addresses are IPv4 in network byte order; ifname "" lets the routing
 * table choose the interface.
 */

/*
 * A socket that sends to group:port: multicast TTL, the interface (and,
 * when it has an IPv4 address, bound to it, so that packets, the SDP's
 * origin and its source-filter all name the same source), loopback on (a
 * receiver on this host hears it), connected.  *src: the source address
 * the packets carry, 0 if the kernel leaves it unset (lo alone).  The
 * descriptor (close-on-exec), or -1 with err.
 */
int	mcast_sender(uint32_t group, uint16_t port, uint32_t ttl,
	    const char *ifname, uint32_t *src, char *err, size_t errlen);
/*
 * A socket that receives group:port only: bound to the group address
 * itself, IP_MULTICAST_ALL off (Linux would otherwise deliver another
 * group's packets on the same port to it), joined on the interface
 * (source-specific when source is not 0), a 1 MiB receive buffer,
 * close-on-exec.  The descriptor, or -1 with err.
 */
int	mcast_receiver(uint32_t group, uint16_t port, uint32_t source,
	    const char *ifname, char *err, size_t errlen);

/* "239.1.2.3" (IPv4 multicast only) and "9875" into network order: 0 or -1. */
int	mcast_addr(const char *host, const char *port, uint32_t *group,
	    uint16_t *port_out, char *err, size_t errlen);

/*
 * The stream an ingest source names: rtp://GROUP:PORT?channels=N&
 * format=L24|L16&pt=N&source=ADDR (channels default nch, L24, payload
 * type 96), or sdp:FILE (read here).  s->rate is 0 for rtp://: the ring's
 * rate is assumed.  0, or -1 with err.  sap:NAME has no stream until an
 * announcement names one.
 */
int	mcast_source_stream(const char *source, uint32_t nch,
	    struct sdp_stream *s, char *err, size_t errlen);

#endif
