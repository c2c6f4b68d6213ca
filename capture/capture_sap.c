/* capture_sap.c — sap:NAME: find the session called NAME among the SAP announcements, and follow it. */
/*
 * Runs on the network source's audio thread, inside the sandbox: anyone
 * on the LAN may announce anything, so a packet that is not SAP with an
 * SDP ringcast can read is counted and dropped.  The first announcer of
 * NAME whose stream fits the ring (IPv4 multicast, the ring's rate, L24
 * or L16) is followed; others announcing the same name are ignored, as
 * long as it has not deleted its session.  Once its stream is known the
 * main thread asks the supervisor for a socket on that group and port.
 * If the followed announcer later describes another stream (a moved
 * group, another format), capture ends and its restart finds it afresh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string.h>

#include "shared/sdp.h"
#include "capture/capture.h"

/* Can the ring take it?  A reason for people, or NULL. */
static const char *
unfit(const struct capture *c, const struct sdp_stream *s)
{
	if (!IN_MULTICAST(ntohl(s->group)))
		return "not IPv4 multicast";
	if (s->rate != c->rate)
		return "another sample rate than the ring's";
	return NULL;
}

static bool
same_stream(const struct sdp_stream *a, const struct sdp_stream *b)
{
	return a->group == b->group && a->port == b->port && a->pt == b->pt &&
	    a->format == b->format && a->rate == b->rate &&
	    a->channels == b->channels && a->source == b->source;
}

static void
deletion(struct capture *c, struct netin *n, const struct sap_msg *m)
{
	if (!n->following || n->deleted || m->hash != n->hash ||
	    m->origin != n->origin)
		return;
	n->deleted = true;
	capture_net_notice(c, "sap:%s: the announcer deleted the session; "
	    "still listening", n->name);
}

/* The stream is known: ask for its socket (the main thread sends it). */
static void
found(struct capture *c, struct netin *n, const struct sdp_stream *s)
{
	char g[16];

	capture_net_stream(c, s);
	n->join_req = (struct msg_capture_join){ s->group, s->source,
	    s->port, 0 };
	atomic_store_explicit(&n->join, 1, memory_order_release);
	capture_wake(c);
	inet_ntop(AF_INET, &s->group, g, sizeof(g));
	capture_net_notice(c, "sap:%s: %s:%u, %s/%u/%u, payload type %u",
	    n->name, g, s->port, rtp_format_name(s->format), s->rate,
	    s->channels, s->pt);
}

void
capture_sap_input(struct capture *c, const uint8_t *p, size_t len)
{
	struct netin *n = c->priv;
	struct sdp_stream s;
	struct sap_msg m;
	const char *why;
	char err[128];

	if (sap_decode(p, len, &m) != SDP_OK) {
		n->sap_bad++;
		return;
	}
	if (m.deletion) {
		deletion(c, n, &m);
		return;
	}
	if (sdp_parse(m.sdp, m.sdp_len, &s, err, sizeof(err)) != SDP_OK) {
		n->sap_bad++;
		return;
	}
	if (strcmp(s.name, n->name) != 0 || (n->following && !n->deleted &&
	    (m.hash != n->hash || m.origin != n->origin)))
		return;
	if ((why = unfit(c, &s)) != NULL) {
		/* Said once per announcer, not at each announcement. */
		if (n->unfit_hash != m.hash + 1u)
			capture_net_notice(c, "sap:%s: its stream is %s: "
			    "ignored", n->name, why);
		n->unfit_hash = m.hash + 1u;
		return;
	}
	n->following = true;
	n->deleted = false;
	n->hash = m.hash;
	n->origin = m.origin;
	if (!n->have_stream)
		found(c, n, &s);
	else if (!same_stream(&n->stream, &s)) {
		capture_net_notice(c, "sap:%s now announces another stream: "
		    "starting again", n->name);
		atomic_store(&c->failed, 1);
		capture_wake(c);
	}
}
