/* fuzz_proto.c — the v2 framing and audio decoder on arbitrary bytes. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "shared/proto.h"

/* Re-encode what decoded: the same header and mask must come back. */
static void
audio_roundtrip(const struct proto_hdr *h, const struct proto_audio *a,
    uint32_t words)
{
	static float s[4096];
	static uint8_t out[PROTO_HDR_LEN + 8 + 4 * PROTO_MASK_WORDS_MAX +
	    4096 * 4];
	struct proto_hdr h2;
	struct proto_audio a2;
	size_t i, n = (size_t)a->nch * a->frames, len;

	if (n > 4096)
		return;
	for (i = 0; i < n; i++) {
		s[i] = proto_audio_sample(a, i);
		/* float32 passes through as sent; int16 is always in range. */
		FUZZ_CHECK(a->float32 || (s[i] >= -1.0f && s[i] < 1.0f));
	}
	len = proto_audio_encode(out, a->position, a->mask, words, s, a->nch,
	    a->frames, a->float32, false, 0);
	FUZZ_CHECK(len == proto_audio_size(a->nch, a->frames, a->float32,
	    words));
	FUZZ_CHECK(proto_hdr_decode(out, &h2) == PROTO_OK);
	FUZZ_CHECK(h2.length == len - PROTO_HDR_LEN);
	FUZZ_CHECK(proto_audio_decode(&h2, out + PROTO_HDR_LEN, words, &a2) ==
	    PROTO_OK);
	FUZZ_CHECK(a2.position == a->position && a2.nch == a->nch &&
	    a2.frames == a->frames);
	FUZZ_CHECK(memcmp(a2.mask, a->mask, words * 4) == 0);
	(void)h;
}

static void
one_message(const struct proto_hdr *h, const uint8_t *payload)
{
	struct proto_audio a;
	enum proto_ctl type;
	json_t *obj;
	uint32_t w;

	if (h->type == PROTO_TYPE_CONTROL) {
		if (proto_control_parse(payload, h->length, &obj, &type) ==
		    PROTO_OK) {
			FUZZ_CHECK(json_is_object(obj));
			json_decref(obj);
		}
		return;
	}
	for (w = 1; w <= PROTO_MASK_WORDS_MAX; w *= 2)
		if (proto_audio_decode(h, payload, w, &a) == PROTO_OK)
			audio_roundtrip(h, &a, w);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload;
	struct proto_hdr h;
	size_t used;

	/* A stream of messages, as a session or the test client reads it. */
	while (size > 0 && proto_split(data, size, PROTO_AUDIO_MAX, &h,
	    &payload, &used) == PROTO_OK) {
		FUZZ_CHECK(used >= PROTO_HDR_LEN && used <= size);
		FUZZ_CHECK(used == PROTO_HDR_LEN + (size_t)h.length);
		one_message(&h, payload);
		data += used;
		size -= used;
	}
	return 0;
}
