/* fuzz_state.c — the LMDB record decoder on arbitrary stored values. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "shared/state.h"

/* What decodes must encode and decode to the same record. */
static void
roundtrip(const struct state_record *r, uint32_t nch)
{
	struct state_record back;
	json_t *j;
	char *s;

	FUZZ_CHECK((j = state_record_json(r)) != NULL);
	FUZZ_CHECK((s = json_dumps(j, JSON_COMPACT)) != NULL);
	FUZZ_CHECK(state_record_decode(s, strlen(s), nch, &back) == STATE_OK);
	FUZZ_CHECK(strcmp(back.id, r->id) == 0);
	FUZZ_CHECK(strcmp(back.name, r->name) == 0);
	FUZZ_CHECK(back.order == r->order);
	FUZZ_CHECK(mix_equal(&back.mix, &r->mix));
	FUZZ_CHECK(back.reconnects == r->reconnects);
	free(s);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t nchs[] = { 2, 32, 64, 256 };
	struct state_record r;
	size_t i;

	for (i = 0; i < sizeof(nchs) / sizeof(nchs[0]); i++)
		if (state_record_decode(data, size, nchs[i], &r) == STATE_OK)
			roundtrip(&r, nchs[i]);
	return 0;
}
