/* fuzz_api.c — HTTP API bodies: the broker's check, the supervisor's use. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "shared/mix.h"
#include "shared/proto.h"

/* POST /api/clients/ID/mix: the whole body is update_mix fields. */
static void
post_mix(const json_t *body, uint32_t nch)
{
	struct mix m, before;
	char err[256];

	mix_init(&m, nch);
	m.sub[0] = 1;
	before = m;
	if (mix_apply_json(&m, body, err, sizeof(err)) == -1)
		FUZZ_CHECK(memcmp(&m, &before, sizeof(m)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	json_t *body;

	why[0] = '\0';
	if (proto_json_body(data, size, &body, why, sizeof(why)) != PROTO_OK) {
		FUZZ_CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
		return 0;
	}
	if (json_is_object(body)) {
		post_mix(body, 8);
		post_mix(body, 64);
	}
	json_decref(body);
	return 0;
}
