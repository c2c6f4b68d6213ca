/* jitter.c — the ingest's jitter buffer: packets placed by timestamp, periods out when due; pure. */
#include <stdlib.h>
#include <string.h>

#include "shared/jitter.h"

#define MAX_PACKET_FRAMES(j)	((j)->cap / 4)

int
jitter_init(struct jitter *j, const struct jitter_config *c, uint64_t wp)
{
	uint32_t need = 2 * (c->depth + c->period) + 4096, cap = 4096;

	memset(j, 0, sizeof(*j));
	if (c->nch == 0 || c->period == 0 || c->period > 8192 ||
	    c->depth > 1u << 20)
		return -1;
	while (cap < need)
		cap <<= 1;
	if ((j->buf = calloc((size_t)cap * c->nch, sizeof(float))) == NULL ||
	    (j->have = calloc(cap, 1)) == NULL) {
		free(j->buf);
		j->buf = NULL;
		return -1;
	}
	j->cfg = *c;
	j->cap = cap;
	j->wp = j->high = wp;
	j->format = RTP_L24;
	j->src_nch = 1;
	j->pt = RTP_PT_DYNAMIC;
	return 0;
}

void
jitter_free(struct jitter *j)
{
	free(j->buf);
	free(j->have);
	j->buf = NULL;
	j->have = NULL;
}

/* Fold the losses of a numbering into the totals: the next counts afresh. */
static void
fold_lost(struct jitter *j)
{
	struct jitter_stats now;

	jitter_stats(j, &now);
	j->lost_before = now.lost;
	j->received = 0;
}

static void
close_stream(struct jitter *j)
{
	fold_lost(j);
	j->anchored = false;
}

void
jitter_stream(struct jitter *j, enum rtp_format f, uint32_t nch, uint8_t pt)
{
	if (f == j->format && nch == j->src_nch && pt == j->pt)
		return;
	j->format = f;
	j->src_nch = nch;
	j->pt = pt;
	if (j->anchored)
		close_stream(j);
}

static void
seq_init(struct jitter *j, uint16_t seq)
{
	j->base_seq = seq;
	j->max_seq = seq;
	j->bad_seq = 1u << 16 | 1;	/* no sequence number is this */
	j->cycles = 0;
	j->received = 0;
}

/*
 * RFC 3550 A.1: in order, a gap, or a little behind are fine; a large jump
 * is dropped unless the next packet follows it (the sender renumbered).
 */
static bool
seq_update(struct jitter *j, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - j->max_seq);

	if (udelta < JITTER_MAX_DROPOUT) {
		if (seq < j->max_seq)
			j->cycles += 1u << 16;
		j->max_seq = seq;
	} else if (udelta <= (1u << 16) - JITTER_MAX_MISORDER) {
		if (seq != j->bad_seq) {
			j->bad_seq = (uint32_t)(uint16_t)(seq + 1);
			return false;
		}
		fold_lost(j);
		seq_init(j, seq);
	}
	j->received++;
	return true;
}

/* Start a timeline: this packet's first frame is the next frame to publish. */
static void
anchor(struct jitter *j, const struct rtp_hdr *h)
{
	if (j->anchored)
		close_stream(j);
	memset(j->buf, 0, (size_t)j->cap * j->cfg.nch * sizeof(float));
	memset(j->have, 0, j->cap);
	j->anchored = true;
	j->ssrc = h->ssrc;
	j->ts_last = h->ts;
	j->ext_last = h->ts;
	j->to_pos = (int64_t)j->wp - (int64_t)h->ts;
	j->high = j->wp;
	j->misfits = 0;
	seq_init(j, h->seq);
}

static int64_t
position_of(const struct jitter *j, uint32_t ts)
{
	return j->ext_last + (int32_t)(ts - j->ts_last) + j->to_pos;
}

uint64_t
jitter_position(const struct jitter *j, uint32_t ts)
{
	int64_t p = position_of(j, ts);

	return p > 0 ? (uint64_t)p : 0;
}

static void
store(struct jitter *j, const struct rtp_hdr *h, int64_t pos, uint32_t frames)
{
	uint32_t first = 0, copy = j->src_nch < j->cfg.nch ? j->src_nch :
	    j->cfg.nch, f, stride = (uint32_t)j->format * j->src_nch;
	uint64_t p;

	if (pos < (int64_t)j->wp)
		first = (uint32_t)((int64_t)j->wp - pos);
	for (f = first; f < frames; f++) {
		p = (uint64_t)pos + f;
		rtp_unpack(j->format, j->buf + (size_t)(p & (j->cap - 1)) *
		    j->cfg.nch, j->cfg.nch, h->payload + (size_t)f * stride, 1,
		    j->src_nch, copy);
		j->have[p & (j->cap - 1)] = 1;
	}
	if ((uint64_t)pos + frames > j->high)
		j->high = (uint64_t)pos + frames;
	j->ext_last += (int32_t)(h->ts - j->ts_last);
	j->ts_last = h->ts;
	j->misfits = 0;
	j->st.packets++;
}

/* Where the packet lands: 0 in the window, -1 late, 1 beyond the window. */
static int
fit(const struct jitter *j, int64_t pos, uint32_t frames)
{
	if (pos + frames <= (int64_t)j->wp)
		return -1;
	if (pos + frames > (int64_t)(j->wp + j->cap - j->cfg.period))
		return 1;
	return 0;
}

/* The sender is back after a quiet spell: the same timeline, or a new one? */
static bool
resumes(const struct jitter *j, const struct rtp_hdr *h, uint64_t quiet_ms)
{
	int64_t pos = position_of(j, h->ts);

	return h->ssrc == j->ssrc && quiet_ms < JITTER_LONG_MS &&
	    pos >= (int64_t)j->wp &&
	    pos < (int64_t)(j->wp + j->cap / 2);
}

/*
 * Does this packet off the window follow the last one, in sequence and in
 * time?  Only such a run moves the timeline: stray or hostile packets
 * with our SSRC, whatever their numbers, are each dropped alone.
 */
static bool
misfit_follows(const struct jitter *j, const struct rtp_hdr *h)
{
	int32_t dt = (int32_t)(h->ts - j->misfit_ts);

	return j->misfits > 0 && h->seq == (uint16_t)(j->misfit_seq + 1) &&
	    dt > 0 && dt <= (int32_t)MAX_PACKET_FRAMES(j);
}

/*
 * A packet of the current timeline.  Sequence numbers are tracked only
 * for packets whose timestamps fit (or are merely late): a packet whose
 * timestamp is off cannot disturb the numbering.
 */
static enum jitter_verdict
live(struct jitter *j, const struct rtp_hdr *h, uint32_t frames)
{
	int64_t pos = position_of(j, h->ts);
	int where = fit(j, pos, frames);

	if (where == 0) {
		if (!seq_update(j, h->seq)) {
			j->st.jumps++;
			return JITTER_JUMP;
		}
		store(j, h, pos, frames);
		return JITTER_TAKEN;
	}
	j->misfits = misfit_follows(j, h) ? j->misfits + 1 : 1;
	j->misfit_seq = h->seq;
	j->misfit_ts = h->ts;
	if (j->misfits >= JITTER_MISFITS) {
		/* A run of packets off the window: the timeline moved. */
		anchor(j, h);
		j->st.epochs++;
		j->received++;
		store(j, h, (int64_t)j->wp, frames);
		return JITTER_EPOCH;
	}
	if (where < 0) {
		(void)seq_update(j, h->seq);
		j->st.late++;
		return JITTER_LATE;
	}
	j->st.jumps++;
	return JITTER_JUMP;
}

enum jitter_verdict
jitter_put(struct jitter *j, const uint8_t *pkt, size_t n, uint64_t quiet_ms)
{
	enum jitter_verdict verdict;
	struct rtp_hdr h;
	size_t fb = (size_t)j->format * j->src_nch;
	uint32_t frames;
	bool quiet = quiet_ms >= JITTER_QUIET_MS;

	if (rtp_decode(pkt, n, &h) != RTP_OK || h.payload_len == 0 ||
	    h.payload_len % fb != 0 ||
	    h.payload_len / fb > MAX_PACKET_FRAMES(j)) {
		j->st.malformed++;
		return JITTER_MALFORMED;
	}
	frames = (uint32_t)(h.payload_len / fb);
	if (h.pt != j->pt || (j->anchored && h.ssrc != j->ssrc && !quiet)) {
		j->st.foreign++;
		return JITTER_FOREIGN;
	}
	if (j->anchored && (!quiet || resumes(j, &h, quiet_ms)))
		return live(j, &h, frames);
	/* The first packet, or a new timeline after a quiet spell. */
	if (j->anchored)
		j->st.epochs++;
	verdict = j->anchored ? JITTER_EPOCH : JITTER_TAKEN;
	anchor(j, &h);
	j->received++;
	store(j, &h, (int64_t)j->wp, frames);
	return verdict;
}

/*
 * Complete audio is never held back: the period goes out as soon as all
 * its frames are here.  One with a hole waits until depth frames after it
 * have come (the packet may only be late, or reordered), then goes out
 * with zeros in the hole.
 */
bool
jitter_ready(const struct jitter *j)
{
	uint32_t f;

	if (!j->anchored || j->high < j->wp + j->cfg.period)
		return false;
	if (j->high >= j->wp + j->cfg.period + j->cfg.depth)
		return true;
	for (f = 0; f < j->cfg.period; f++)
		if (!j->have[(j->wp + f) & (j->cap - 1)])
			return false;
	return true;
}

bool
jitter_pending(const struct jitter *j)
{
	return j->anchored && j->high > j->wp;
}

void
jitter_pop(struct jitter *j, float *dst)
{
	uint32_t f, per = j->cfg.period, nch = j->cfg.nch;
	float *src;

	for (f = 0; f < per; f++) {
		src = j->buf + (size_t)((j->wp + f) & (j->cap - 1)) * nch;
		memcpy(dst + (size_t)f * nch, src, nch * sizeof(float));
		memset(src, 0, nch * sizeof(float));
		j->have[(j->wp + f) & (j->cap - 1)] = 0;
	}
	j->wp += per;
	if (j->high < j->wp)
		j->high = j->wp;
}

void
jitter_stats(const struct jitter *j, struct jitter_stats *out)
{
	uint64_t expected = (uint64_t)j->cycles + j->max_seq - j->base_seq + 1;

	*out = j->st;
	out->lost = j->lost_before;
	if (j->anchored && expected > j->received)
		out->lost += expected - j->received;
}
