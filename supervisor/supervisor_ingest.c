/* supervisor_ingest.c — a network source's sockets: opened here, passed to the sandboxed capture. */
/*
 * Capture's seccomp list has no socket(), bind() or setsockopt(): the
 * supervisor opens what a network source reads.  rtp:// and sdp:FILE name
 * their group and port in the configuration: that socket is opened at
 * start and passed at every spawn (fd 5).  sap:NAME gets the SAP socket
 * instead; once capture has heard NAME announced it asks
 * (MSG_CAPTURE_JOIN) for a socket on the announced group and port, which
 * must be multicast (the table's check), and gets it (MSG_CAPTURE_SOCKET).
 * Each socket is bound to its group and joined there only.
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/mcast.h"
#include "shared/opt.h"
#include "supervisor/supervisor.h"

static struct {
	int	 fd;		/* passed to every capture as fd 5, or -1 */
	bool	 sap;		/* the source is sap:NAME */
	char	 jitter[16];
} in = { .fd = -1 };

bool
ingest_source(const char *source)
{
	return strncmp(source, "rtp://", 6) == 0 ||
	    strncmp(source, "sdp:", 4) == 0 || strncmp(source, "sap:", 4) == 0;
}

static int
sap_socket(char *err, size_t errlen)
{
	char host[64], port[8];
	uint32_t group;
	uint16_t p;

	if (opt_hostport(sv.cfg.sap, NULL, host, sizeof(host), port,
	    sizeof(port), err, errlen) == -1 || mcast_addr(host, port, &group,
	    &p, err, errlen) == -1)
		return -1;
	return mcast_receiver(group, p, 0, sv.cfg.mcast_if, err, errlen);
}

int
ingest_setup(char *err, size_t errlen)
{
	struct sdp_stream s;
	char why[256];

	if (!ingest_source(sv.cfg.source))
		return 0;
	snprintf(in.jitter, sizeof(in.jitter), "%u", sv.cfg.jitter_ms);
	in.sap = strncmp(sv.cfg.source, "sap:", 4) == 0;
	if (in.sap)
		in.fd = sap_socket(why, sizeof(why));
	else if (mcast_source_stream(sv.cfg.source, sv.cfg.channels, &s, why,
	    sizeof(why)) == 0)
		in.fd = mcast_receiver(s.group, s.port, s.source,
		    sv.cfg.mcast_if, why, sizeof(why));
	if (in.fd == -1) {
		snprintf(err, errlen, "source %s: %s", sv.cfg.source, why);
		return -1;
	}
	return 0;
}

int
ingest_args(const char **argv, int n, int *fds, int *nfds)
{
	static char fdnum[16];

	if (in.fd < 0)
		return n;
	/* child_spawn puts fds[i] on 4 + i. */
	snprintf(fdnum, sizeof(fdnum), "%d", 4 + *nfds);
	fds[(*nfds)++] = in.fd;
	argv[n++] = "--net-fd";
	argv[n++] = fdnum;
	argv[n++] = "--jitter-ms";
	argv[n++] = in.jitter;
	return n;
}

void
ingest_join(struct child *c, const struct msg_capture_join *m)
{
	char g[16], why[256];
	int fd;

	inet_ntop(AF_INET, &m->group, g, sizeof(g));
	if (!in.sap) {
		log_warnx("capture[%d] asked for %s:%u, which its source does "
		    "not need: refused", (int)c->pid, g, m->port);
		return;
	}
	if ((fd = mcast_receiver(m->group, m->port, m->source,
	    sv.cfg.mcast_if, why, sizeof(why))) == -1) {
		log_warnx("capture[%d]: %s:%u: %s", (int)c->pid, g, m->port,
		    why);
		return;
	}
	if (c->chan == -1 || msg_send(c->chan, ROLE_SUPERVISOR,
	    MSG_CAPTURE_SOCKET, m, sizeof(*m), NULL, 0, fd) == -1)
		log_warn("capture[%d]: MSG_CAPTURE_SOCKET", (int)c->pid);
	else
		log_info("capture[%d]: joined %s:%u for %s", (int)c->pid, g,
		    m->port, sv.cfg.source);
	close(fd);
}

/* The capture state's network part, for /api/status and the capture event. */
json_t *
ingest_json(void)
{
	const struct msg_ingest *m = &sv.cap.ingest;

	if (!ingest_source(sv.cfg.source))
		return NULL;
	return json_pack("{s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:b, s:I, s:I, s:I}",
	    "stream", m->stream, "jitter_ms", (int)sv.cfg.jitter_ms,
	    "packets", (json_int_t)m->packets, "lost", (json_int_t)m->lost,
	    "late", (json_int_t)m->late,
	    "malformed", (json_int_t)m->malformed,
	    "foreign", (json_int_t)m->foreign, "jumps", (json_int_t)m->jumps,
	    "epochs", (json_int_t)m->epochs, "sap_bad", (json_int_t)m->sap_bad,
	    "anchored", m->anchored != 0, "ssrc", (json_int_t)m->ssrc,
	    "ts", (json_int_t)m->ts, "position", (json_int_t)m->position);
}

#define INGEST(field, name, help)	\
	METRIC_COUNTER("ingest", struct msg_ingest, field, name, help)

void
ingest_metrics(FILE *f)
{
	static const struct metric_counter m[] = {
		INGEST(packets, "packets", "RTP packets taken."),
		INGEST(lost, "lost",
		    "RTP packets that never came (their audio is zeros)."),
		INGEST(late, "late",
		    "RTP packets that came after their audio was written "
		    "(zeros)."),
		INGEST(malformed, "malformed",
		    "Datagrams that are not RTP of the stream's format."),
		INGEST(foreign, "foreign",
		    "RTP packets of another payload type or SSRC."),
		INGEST(jumps, "jumps",
		    "RTP packets dropped for a sequence or timestamp jump."),
		INGEST(epochs, "epochs",
		    "New sender timelines (each a new ring epoch)."),
		INGEST(sap_bad, "sap_malformed",
		    "SAP or SDP packets that did not parse."),
	};

	if (ingest_source(sv.cfg.source))
		metric_counters(f, m, sizeof(m) / sizeof(m[0]), NULL, NULL,
		    &sv.cap.ingest, 0, 1);
}
