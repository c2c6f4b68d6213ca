/* fuzz_hello.c — the handshake and the control messages a client sends. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "shared/mix.h"
#include "shared/proto.h"

/* What a session does with update_mix / subscribe, then the stored form. */
static void
mix_update(const json_t *obj, uint32_t nch)
{
	struct mix m, before, back;
	char err[256];
	json_t *j;

	mix_init(&m, nch);
	before = m;
	if (mix_apply_json(&m, obj, err, sizeof(err)) == -1) {
		/* All or nothing. */
		FUZZ_CHECK(memcmp(&m, &before, sizeof(m)) == 0);
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK((j = mix_to_json(&m)) != NULL);
	FUZZ_CHECK(mix_from_json(&back, nch, j, err, sizeof(err)) == 0);
	FUZZ_CHECK(mix_equal(&m, &back));
	json_decref(j);
}

static void
hello(const json_t *obj)
{
	struct proto_hello h, h2;
	json_t *j;

	if (proto_hello_parse(obj, &h) != PROTO_OK)
		return;
	FUZZ_CHECK(proto_hello_identity(&h)[0] != '\0');
	FUZZ_CHECK((j = proto_hello_json(&h)) != NULL);
	FUZZ_CHECK(proto_hello_parse(j, &h2) == PROTO_OK);
	FUZZ_CHECK(strcmp(proto_hello_identity(&h),
	    proto_hello_identity(&h2)) == 0);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum proto_ctl type;
	json_t *obj;

	if (proto_control_parse(data, size, &obj, &type) != PROTO_OK)
		return 0;
	switch (type) {
	case PROTO_CTL_HANDSHAKE:
		hello(obj);
		break;
	case PROTO_CTL_SUBSCRIBE:
	case PROTO_CTL_UPDATE_MIX:
		mix_update(obj, 32);
		mix_update(obj, 48);
		break;
	default:
		break;
	}
	json_decref(obj);
	return 0;
}
