/* records.c — test library: saved records as `ringcast state export` writes them. */
#include <stdio.h>

#include <jansson.h>

#include "shared/state.h"
#include "tests/lib/records.h"

int
records_export_write(const char *path, int n, unsigned nch,
    unsigned long long seen_ms)
{
	struct state_record r;
	json_t *a = json_array();
	char id[32];
	int i, rc;

	for (i = 0; a != NULL && i < n; i++) {
		snprintf(id, sizeof(id), "imp-%d", i);
		state_record_init(&r, id, nch, seen_ms);
		snprintf(r.name, sizeof(r.name), "Imported %d", i);
		r.mix.sub[(unsigned)i % nch] = 1;
		r.naliases = 1;
		snprintf(r.aliases[0], sizeof(r.aliases[0]), "was-%d", i);
		json_array_append_new(a, state_record_json(&r));
	}
	rc = a != NULL ? json_dump_file(a, path, JSON_INDENT(2)) : -1;
	json_decref(a);
	return rc == 0 ? 0 : -1;
}
