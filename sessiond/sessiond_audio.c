/* sessiond_audio.c — the audio path: ring periods to this client's packets, never blocking. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "sessiond/sessiond.h"

#define DRAIN_BATCH	64	/* periods per pass, so control stays serviced */

/* Largest packet this client can ask for: every addressable channel. */
static uint32_t
max_out_channels(const struct session *s)
{
	uint32_t addressable = 32 * s->mask_words;

	if (s->hello.server_mix)
		return 2;
	return s->nch < addressable ? s->nch : addressable;
}

static int
packet_geometry(struct session *s, char *err, size_t errlen)
{
	uint32_t want = s->hello.packet_frames;

	s->pkt_frames = want ? want : s->period;
	if (s->pkt_frames % s->period != 0) {
		snprintf(err, errlen, "packet_frames %u is not a multiple of "
		    "the server period (%u frames)", want, s->period);
		return -1;
	}
	s->pkt_periods = s->pkt_frames / s->period;
	s->pkt_max = proto_audio_size(max_out_channels(s), s->pkt_frames,
	    s->hello.float32, s->mask_words);
	if (s->pkt_max > SESS_PACKET_MAX) {
		snprintf(err, errlen, "packets of %u frames would exceed %u "
		    "bytes", s->pkt_frames, SESS_PACKET_MAX);
		return -1;
	}
	return 0;
}

/*
 * Everything the audio path needs is allocated here, once: the loop itself
 * never allocates.  Returns -1 with err set for a hello we cannot serve.
 */
int
sess_audio_init(struct session *s, char *err, size_t errlen)
{
	size_t qcap;

	s->mask_words = s->hello.mask_words ? s->hello.mask_words : 1;
	if (s->mask_words > PROTO_MASK_WORDS_MAX) {
		snprintf(err, errlen, "channel_mask_words %u is over %u",
		    s->mask_words, PROTO_MASK_WORDS_MAX);
		return -1;
	}
	if (packet_geometry(s, err, errlen) == -1)
		return -1;
	s->period_buf = calloc((size_t)s->period * s->nch, sizeof(float));
	s->acc_buf = calloc((size_t)s->pkt_frames * max_out_channels(s),
	    sizeof(float));
	s->pkt = malloc(s->pkt_max);
	/* Room for two of the largest packets, whatever the default budget. */
	s->audio_limit = SESS_QUEUE_AUDIO > 2 * s->pkt_max ?
	    SESS_QUEUE_AUDIO : 2 * s->pkt_max;
	/* Control replies get a reserve on top, so audio cannot starve them. */
	qcap = s->audio_limit + PROTO_HDR_LEN + PROTO_CONTROL_MAX;
	if (s->period_buf == NULL || s->acc_buf == NULL || s->pkt == NULL ||
	    squeue_init(&s->q, qcap) == -1) {
		snprintf(err, errlen, "out of memory: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Recompute what the audio path sends after the committed mix changed. */
void
sess_audio_mix_changed(struct session *s)
{
	uint32_t i, n, limit = 32 * s->mask_words;

	memset(s->mask, 0, sizeof(s->mask));
	n = mix_channels(&s->mix, s->list);
	if (s->hello.server_mix) {
		mix_coeffs_build(&s->mix, &s->coeffs);
		s->mask[0] = 0x3;
		/* A WAV stream's channel count is in its header: silence. */
		s->out_nch = n > 0 || s->out->always ? 2 : 0;
	} else {
		/*
		 * Channels the mask cannot address are not sent (never a
		 * packet the client cannot parse).  A client that mixes
		 * itself (the app has no mute) gets a muted channel as
		 * zeros in its place; a player of raw channels, as it was.
		 */
		for (i = 0; i < n && s->list[i] < limit; i++)
			s->silent[i] = s->out->control && s->mix.mute[s->list[i]];
		s->nlist = i;
		mix_mask(&s->mix, s->mask, s->mask_words);
		s->out_nch = s->nlist;
	}
	s->acc = 0;
}

static void
queue_packet(struct session *s, uint64_t position)
{
	size_t size, n;
	bool was_empty = s->q.len == 0;

	size = s->out->size(s);
	if (s->q.len + size > s->audio_limit) {
		/* Full: this client loses whole periods, nobody else does. */
		s->dropped += s->pkt_periods;
		return;
	}
	n = s->out->encode(s, position);
	if (squeue_put(&s->q, s->pkt, n, s->audio_limit) == -1) {
		s->dropped += s->pkt_periods;
		return;
	}
	s->sent++;
	if (was_empty)
		s->progress_ms = clock_mono_ms();
}

/* Peak and energy of a stereo period, for the engineer's post-mix meters. */
static void
measure(struct session *s, const float *lr, uint32_t frames)
{
	uint32_t i;
	float l, r;

	for (i = 0; i < frames; i++) {
		l = lr[2 * i] < 0 ? -lr[2 * i] : lr[2 * i];
		r = lr[2 * i + 1] < 0 ? -lr[2 * i + 1] : lr[2 * i + 1];
		if (l > s->pm_peak[0])
			s->pm_peak[0] = l;
		if (r > s->pm_peak[1])
			s->pm_peak[1] = r;
		s->pm_sum[0] += (double)l * l;
		s->pm_sum[1] += (double)r * r;
	}
	s->pm_frames += frames;
}

static void
add_period(struct session *s, const struct ring_period *info)
{
	float *dst;

	if (s->out_nch == 0)
		return;
	dst = s->acc_buf + (size_t)s->acc * s->period * s->out_nch;
	if (s->hello.server_mix) {
		mix_stereo(&s->coeffs, s->period_buf, s->nch, s->period, dst);
		measure(s, dst, s->period);
	} else
		mix_select(s->list, s->silent, s->nlist, s->period_buf, s->nch,
		    s->period, dst);
	if (++s->acc < s->pkt_periods)
		return;
	s->acc = 0;
	/* The position marks the end of the block: that of its last period. */
	queue_packet(s, info->position);
}

/* Turn every period published since the last pass into packets. */
void
sess_audio_drain(struct session *s)
{
	struct ring_period info;
	uint64_t lost;
	int i;

	for (i = 0; i < DRAIN_BATCH; i++) {
		switch (ring_read(s->ring, s->period_buf, &info, &lost)) {
		case RING_READ_OK:
			add_period(s, &info);
			break;
		case RING_READ_AGAIN:
			return;
		case RING_READ_EPOCH:
			s->epochs++;
			/*
			 * A new writer that continues the sequence (a
			 * capture restarted or switched to another source
			 * of the same channels) left no gap: the packet
			 * being built goes on.
			 */
			if (lost == 0)
				break;
			/* FALLTHROUGH */
		case RING_READ_LAPPED:
			/* A packet never spans a gap: restart accumulating. */
			s->lost += lost;
			s->acc = 0;
			break;
		}
	}
}

/* Give the socket what it takes now; a send error ends the session. */
void
sess_flush(struct session *s)
{
	ssize_t n;

	if (s->q.len == 0)
		return;
	if ((n = squeue_send(&s->q, s->client_fd)) == -1) {
		sess_end(s, sess_net_reason(errno));
		return;
	}
	if (n > 0) {
		s->bytes += n;
		s->progress_ms = clock_mono_ms();
	}
}
