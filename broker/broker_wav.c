/* broker_wav.c — GET /stream.wav: the query checked, then the socket handed to the supervisor. */
/*
 * ?channels=0,1[&mix=1].  The broker checks the form (at most 64 channels
 * such as 0,1,4-7, each 0..255, none twice; mix 0 or 1) and answers a bad
 * query itself.  The supervisor checks the channels against the ring and
 * starts a session, which writes the whole 200 response; a refusal comes
 * back to us (broker_handoff.c) and we write it.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shared/log.h"
#include "shared/opt.h"
#include "broker/broker.h"

/* The query into m: 0, or -1 with why set. */
static int
parse_query(struct evhttp_request *req, struct msg_client *m, char *why,
    size_t len)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv = TAILQ_HEAD_INITIALIZER(kv);
	uint32_t list[MSG_WAV_CHANNELS_MAX];
	char err[200];
	const char *ch, *mix;
	int i, n = 0;

	if (q != NULL && evhttp_parse_query_str(q, &kv) == -1) {
		snprintf(why, len, "malformed query");
		return -1;
	}
	ch = evhttp_find_header(&kv, "channels");
	mix = evhttp_find_header(&kv, "mix");
	if (mix != NULL && strcmp(mix, "0") != 0 && strcmp(mix, "1") != 0)
		snprintf(why, len, "mix: 0 or 1");
	else if (ch == NULL && (mix == NULL || mix[0] == '0'))
		snprintf(why, len, "channels: required, e.g. "
		    "/stream.wav?channels=0,1 (or mix=1 for a stereo mix)");
	else if (ch != NULL && (n = opt_channels(ch, MIX_MAX_CHANNELS, list,
	    MSG_WAV_CHANNELS_MAX, err, sizeof(err))) == -1)
		snprintf(why, len, "channels: %s", err);
	else {
		m->wav_mix = mix != NULL && mix[0] == '1';
		m->wav_nchannels = (uint32_t)n;
		for (i = 0; i < n; i++)
			m->wav_channels[i] = (uint16_t)list[i];
		evhttp_clear_headers(&kv);
		return 0;
	}
	evhttp_clear_headers(&kv);
	return -1;
}

void
wav_serve(struct evhttp_request *req, const struct principal *p)
{
	struct msg_client m;
	char why[256];
	int fd;

	memset(&m, 0, sizeof(m));
	m.kind = CLIENT_WAV;
	if (parse_query(req, &m, why, sizeof(why)) == -1 &&
	    p->role != TOKEN_LISTENER) {
		http_error(req, 400, why);
		return;
	}
	/* A listener's token hears its own mix, whatever the query asked. */
	if (p->role == TOKEN_LISTENER) {
		m.wav_mix = 1;
		m.wav_nchannels = 0;
		snprintf(m.mix_of, sizeof(m.mix_of), "%s", p->listener);
	}
	if ((fd = http_take_socket(req, m.remote, sizeof(m.remote))) == -1) {
		http_error(req, 503, "server busy");
		return;
	}
	if (handoff_client(&m, fd) == 0) {
		log_debug("%s: WAV listener passed to the supervisor", m.remote);
		return;
	}
	handoff_http_error(fd, 503, "server busy, try again");
	close(fd);
}
