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

/* POST /api/clients/ID {"name"} and POST /api/channels {"names"|"name"}. */
static void
names(const json_t *body)
{
	const json_t *v;
	size_t i;

	if (proto_name_valid(json_object_get(body, "name")))
		FUZZ_CHECK(strlen(json_string_value(json_object_get(body,
		    "name"))) <= 63);
	json_array_foreach(json_object_get(body, "names"), i, v)
		if (proto_name_valid(v))
			FUZZ_CHECK(json_string_length(v) >= 1);
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
		names(body);
	}
	json_decref(body);
	return 0;
}
