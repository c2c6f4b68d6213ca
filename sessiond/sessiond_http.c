/* sessiond_http.c — the output for a /stream.wav listener: HTTP and WAV headers once, then PCM. */
/*
 * The broker handed over the socket after reading the request: the whole
 * response is ours.  HTTP/1.0 with Connection: close and no length, a WAV
 * header whose RIFF and data sizes are 0xFFFFFFFF (the largest a WAV can
 * say: players read on until the connection ends), then interleaved
 * little-endian int16 frames, several periods per write.  Whatever the
 * player sends afterwards is read and thrown away.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "sessiond/sessiond.h"

#define WAV_HDR_LEN	44

static void
le16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void
le32(uint8_t *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

static void
wav_header(uint8_t h[WAV_HDR_LEN], uint32_t nch, uint32_t rate)
{
	memcpy(h, "RIFF", 4);
	le32(h + 4, 0xffffffffu);
	memcpy(h + 8, "WAVEfmt ", 8);
	le32(h + 16, 16);		/* fmt chunk size */
	le16(h + 20, 1);		/* PCM */
	le16(h + 22, nch);
	le32(h + 24, rate);
	le32(h + 28, rate * nch * 2);	/* bytes per second */
	le16(h + 32, nch * 2);		/* bytes per frame */
	le16(h + 34, 16);
	memcpy(h + 36, "data", 4);
	le32(h + 40, 0xffffffffu);
}

static void
http_start(struct session *s)
{
	static const char http[] = "HTTP/1.0 200 OK\r\n"
	    "Content-Type: audio/wav\r\n"
	    "Cache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\n"
	    "Connection: close\r\n\r\n";
	uint8_t h[WAV_HDR_LEN];

	wav_header(h, s->out_nch, s->rate);
	/* The queue is empty and far larger: these cannot fail. */
	if (squeue_put(&s->q, http, sizeof(http) - 1, s->q.cap) == -1 ||
	    squeue_put(&s->q, h, sizeof(h), s->q.cap) == -1)
		fatalx("WAV headers do not fit the queue");
	s->progress_ms = clock_mono_ms();
	log_debug("client %s: WAV, %u channels, %u Hz, %u frames per write",
	    s->persistent_id, s->out_nch, s->rate, s->pkt_frames);
}

static size_t
http_size(const struct session *s)
{
	return (size_t)s->out_nch * s->pkt_frames * 2;
}

static size_t
http_encode(struct session *s, uint64_t position)
{
	(void)position;
	return proto_pcm16le(s->pkt, s->acc_buf,
	    (size_t)s->out_nch * s->pkt_frames);
}

/* A player may send anything after its request: read it, drop it. */
static void
http_input(struct session *s)
{
	ssize_t n;

	n = recv(s->client_fd, s->in, sizeof(s->in), MSG_DONTWAIT);
	if (n == 0)
		sess_end(s, "closed");
	else if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != EINTR)
		sess_end(s, sess_net_reason(errno));
}

const struct sess_output sess_output_http = {
	.kind = "http",
	.control = false,
	.always = true,		/* the channel count is in the header */
	.start = http_start,
	.size = http_size,
	.encode = http_encode,
	.input = http_input,
};
