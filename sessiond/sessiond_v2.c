/* sessiond_v2.c — the output for a Fichatech v2 client: handshake, packets, control in both directions. */
#include <sys/socket.h>

#include <errno.h>

#include "sessiond/sessiond.h"

static void
v2_start(struct session *s)
{
	sess_send_handshake(s);
	sess_send_mix_state(s);
	sess_send_start_updates(s);
}

static size_t
v2_size(const struct session *s)
{
	return proto_audio_size(s->out_nch, s->pkt_frames, s->hello.float32,
	    s->mask_words);
}

static size_t
v2_encode(struct session *s, uint64_t position)
{
	return proto_audio_encode(s->pkt, position, s->mask, s->mask_words,
	    s->acc_buf, s->out_nch, s->pkt_frames, s->hello.float32,
	    s->hello.rf_mode, proto_now_ms());
}

/*
 * Read what the client sent into the fixed buffer.  It holds one message of
 * the largest size proto_split accepts, so a message either completes here
 * or is refused as too big: input never grows without bound.
 */
static void
v2_input(struct session *s)
{
	ssize_t n;

	/* sess_ctl_parse leaves less than one whole message: cannot happen. */
	if (s->in_len == sizeof(s->in)) {
		sess_protocol_error(s, "input buffer full");
		return;
	}
	n = recv(s->client_fd, s->in + s->in_len, sizeof(s->in) - s->in_len,
	    MSG_DONTWAIT);
	if (n == 0) {
		sess_end(s, "closed");
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			sess_end(s, sess_net_reason(errno));
		return;
	}
	s->in_len += n;
	sess_ctl_parse(s);
}

const struct sess_output sess_output_v2 = {
	.kind = "v2",
	.control = true,
	.always = false,	/* nothing while nothing is subscribed */
	.start = v2_start,
	.size = v2_size,
	.encode = v2_encode,
	.input = v2_input,
};
