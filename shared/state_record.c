/* state_record.c — the record codec: what LMDB stores for a listener, in JSON, and its checks. */
/*
 * No LMDB here: the broker decodes imported records with it, and the
 * parent channel's table checks them, in programs that never open the
 * state.
 */
#include <stdio.h>
#include <string.h>

#include "shared/log.h"
#include "shared/state.h"
#include "shared/text.h"

#define STATE_RECORD_INT_MAX	9007199254740991LL	/* 2^53 - 1 */

bool
state_id_valid(const char *id)
{
	return text_ident_field(id, STATE_ID_MAX);
}

/* ---- the record codec ---- */

void
state_record_init(struct state_record *rec, const char *id, uint32_t nch,
    uint64_t wall_ms)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->id, sizeof(rec->id), "%s", id);
	mix_init(&rec->mix, nch);
	rec->first_seen_ms = wall_ms;
	rec->last_seen_ms = wall_ms;
}

static bool
terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/* Fields added after version 1 began: present only when they say something. */
static int
record_json_extra(json_t *o, const struct state_record *rec)
{
	json_t *a;
	uint32_t i;

	if (rec->last_addr[0] != '\0' && json_object_set_new(o, "last_addr",
	    json_string(rec->last_addr)) == -1)
		return -1;
	if (rec->device[0] != '\0' && json_object_set_new(o, "device_name",
	    json_string(rec->device)) == -1)
		return -1;
	if (rec->naliases == 0)
		return 0;
	if ((a = json_array()) == NULL || json_object_set_new(o, "aliases",
	    a) == -1)
		return -1;
	for (i = 0; i < rec->naliases; i++)
		if (json_array_append_new(a, json_string(rec->aliases[i])) == -1)
			return -1;
	return 0;
}

json_t *
state_record_json(const struct state_record *rec)
{
	json_t *mix, *o;

	uint32_t i;

	if (rec->mix.nch > MIX_MAX_CHANNELS ||
	    !terminated(rec->id, sizeof(rec->id)) ||
	    !terminated(rec->name, sizeof(rec->name)) ||
	    !terminated(rec->last_exit, sizeof(rec->last_exit)) ||
	    !terminated(rec->last_addr, sizeof(rec->last_addr)) ||
	    !terminated(rec->device, sizeof(rec->device)) ||
	    rec->naliases > STATE_ALIASES_MAX)
		return NULL;
	for (i = 0; i < rec->naliases; i++)
		if (!terminated(rec->aliases[i], sizeof(rec->aliases[i])))
			return NULL;
	if ((mix = mix_to_json(&rec->mix)) == NULL)
		return NULL;
	/* json_pack takes the mix reference ("o"), even when it fails. */
	o = json_pack("{s:i, s:s, s:s, s:i, s:o, s:I, s:I, s:I, s:s, s:I, "
	    "s:I}",
	    "v", STATE_RECORD_VERSION, "id", rec->id, "name", rec->name,
	    "order", (int)rec->order, "mix", mix,
	    "first_seen", (json_int_t)rec->first_seen_ms,
	    "last_seen", (json_int_t)rec->last_seen_ms,
	    "reconnects", (json_int_t)rec->reconnects,
	    "last_exit", rec->last_exit,
	    "stalls", (json_int_t)rec->stalls,
	    "timeouts", (json_int_t)rec->timeouts);
	if (o != NULL && record_json_extra(o, rec) == -1) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* An integer field within [lo, hi]; absent gives dflt. */
static int
rec_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
    json_int_t dflt, json_int_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > hi) {
		errbuf_set(err, errlen, "%s: not an integer %lld..%lld", key,
		    (long long)lo, (long long)hi);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

/* A string field that fits dst; ident: printable ASCII, else no controls. */
static int
rec_text(const json_t *o, const char *key, bool required, bool ident,
    char *dst, size_t dstlen, char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, key);
	size_t n;

	if (v == NULL && !required)
		return 0;
	if (!json_is_string(v)) {
		errbuf_set(err, errlen, "%s: missing or not a string", key);
		return -1;
	}
	n = json_string_length(v);
	if (n >= dstlen || (ident ? !text_ident(json_string_value(v),
	    n) : !text_name(json_string_value(v), n))) {
		errbuf_set(err, errlen, "%s: longer than %zu bytes or has "
		    "characters it may not have", key, dstlen - 1);
		return -1;
	}
	memcpy(dst, json_string_value(v), n);
	dst[n] = '\0';
	return 0;
}

/* Channels at or beyond the ring's count are dropped, back to defaults. */
static void
mix_clamp(struct mix *m, uint32_t nch)
{
	struct mix d;

	if (nch > MIX_MAX_CHANNELS)
		nch = MIX_MAX_CHANNELS;
	mix_init(&d, MIX_MAX_CHANNELS);
	memcpy(m->sub + nch, d.sub + nch, MIX_MAX_CHANNELS - nch);
	memcpy(m->gain + nch, d.gain + nch, (MIX_MAX_CHANNELS - nch) *
	    sizeof(float));
	memcpy(m->pan + nch, d.pan + nch, (MIX_MAX_CHANNELS - nch) *
	    sizeof(float));
	memcpy(m->mute + nch, d.mute + nch, MIX_MAX_CHANNELS - nch);
	m->nch = nch;
}

static int
rec_mix(const json_t *o, uint32_t nch, struct mix *m, char *err,
    size_t errlen)
{
	char why[200];

	/* Decoded at full width so a record outlives a smaller ring. */
	if (mix_from_json(m, MIX_MAX_CHANNELS, json_object_get(o, "mix"), why,
	    sizeof(why)) == -1) {
		errbuf_set(err, errlen, "mix: %s", why);
		return -1;
	}
	mix_clamp(m, nch);
	return 0;
}

static int
rec_numbers(const json_t *o, struct state_record *r, char *err,
    size_t errlen)
{
	json_int_t order, first, last, rec, stalls, timeouts;

	if (rec_int(o, "order", INT32_MIN, INT32_MAX, 0, &order, err,
	    errlen) == -1 ||
	    rec_int(o, "first_seen", 0, STATE_RECORD_INT_MAX, 0, &first, err,
	    errlen) == -1 ||
	    rec_int(o, "last_seen", 0, STATE_RECORD_INT_MAX, 0, &last, err,
	    errlen) == -1 ||
	    rec_int(o, "reconnects", 0, UINT32_MAX, 0, &rec, err,
	    errlen) == -1 ||
	    /* Added later: absent in older records, which still decode. */
	    rec_int(o, "stalls", 0, UINT32_MAX, 0, &stalls, err,
	    errlen) == -1 ||
	    rec_int(o, "timeouts", 0, UINT32_MAX, 0, &timeouts, err,
	    errlen) == -1)
		return -1;
	r->stalls = (uint32_t)stalls;
	r->timeouts = (uint32_t)timeouts;
	r->order = (int32_t)order;
	r->first_seen_ms = (uint64_t)first;
	r->last_seen_ms = (uint64_t)last;
	r->reconnects = (uint32_t)rec;
	return 0;
}

/* Earlier identities: an array of at most STATE_ALIASES_MAX identities. */
static int
rec_aliases(const json_t *o, struct state_record *r, char *err, size_t errlen)
{
	const json_t *a = json_object_get(o, "aliases"), *v;
	size_t i;

	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > STATE_ALIASES_MAX) {
		errbuf_set(err, errlen, "aliases: not an array of at most %d "
		    "identities", STATE_ALIASES_MAX);
		return -1;
	}
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !state_id_valid(json_string_value(v))) {
			errbuf_set(err, errlen, "aliases[%zu]: not an identity",
			    i);
			return -1;
		}
		snprintf(r->aliases[i], sizeof(r->aliases[i]), "%s",
		    json_string_value(v));
	}
	r->naliases = (uint32_t)json_array_size(a);
	return 0;
}

static int
record_fields(const json_t *o, uint32_t nch, struct state_record *r,
    char *err, size_t errlen)
{
	const json_t *v = json_object_get(o, "v");

	if (!json_is_integer(v) || json_integer_value(v) !=
	    STATE_RECORD_VERSION) {
		errbuf_set(err, errlen, "v: not %d", STATE_RECORD_VERSION);
		return -1;
	}
	if (rec_text(o, "id", true, true, r->id, sizeof(r->id), err,
	    errlen) == -1 || r->id[0] == '\0') {
		errbuf_set(err, errlen, "id: not 1..%d bytes of printable ASCII",
		    STATE_ID_MAX - 1);
		return -1;
	}
	if (rec_text(o, "name", false, false, r->name, sizeof(r->name), err,
	    errlen) == -1 ||
	    rec_text(o, "last_exit", false, true, r->last_exit,
	    sizeof(r->last_exit), err, errlen) == -1 ||
	    rec_text(o, "last_addr", false, true, r->last_addr,
	    sizeof(r->last_addr), err, errlen) == -1 ||
	    rec_text(o, "device_name", false, false, r->device,
	    sizeof(r->device), err, errlen) == -1 ||
	    rec_aliases(o, r, err, errlen) == -1 ||
	    rec_numbers(o, r, err, errlen) == -1)
		return -1;
	return rec_mix(o, nch, &r->mix, err, errlen);
}

int
state_record_from_json(const json_t *o, uint32_t nch, struct state_record *rec,
    char *err, size_t errlen)
{
	struct state_record r;

	memset(&r, 0, sizeof(r));
	if (!json_is_object(o)) {
		errbuf_set(err, errlen, "not a JSON object");
		return STATE_ERECORD;
	}
	if (record_fields(o, nch, &r, err, errlen) == -1)
		return STATE_ERECORD;
	*rec = r;
	return STATE_OK;
}

/* Total: any bytes give a record or STATE_ERECORD, and err says why. */
int
state_record_parse(const void *data, size_t len, uint32_t nch,
    struct state_record *rec, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o;
	int rc;

	if (data == NULL || len == 0 || len > STATE_RECORD_MAX) {
		errbuf_set(err, errlen, "value of %zu bytes (1..%d allowed)", len,
		    STATE_RECORD_MAX);
		return STATE_ERECORD;
	}
	if ((o = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		errbuf_set(err, errlen, "not JSON: %s", je.text);
		return STATE_ERECORD;
	}
	rc = state_record_from_json(o, nch, rec, err, errlen);
	json_decref(o);
	return rc;
}

/* A text field: terminated, and an identifier's or a name's characters. */
static bool
field_ok(const char *s, size_t size, bool ident)
{
	size_t n = strnlen(s, size);

	return n < size && (ident ? text_ident(s, n) : text_name(s, n));
}

bool
state_record_valid(const struct state_record *rec)
{
	uint32_t i;

	if (!state_id_valid(rec->id) || !field_ok(rec->name, sizeof(rec->name),
	    false) || !field_ok(rec->device, sizeof(rec->device), false) ||
	    !field_ok(rec->last_exit, sizeof(rec->last_exit), true) ||
	    !field_ok(rec->last_addr, sizeof(rec->last_addr), true) ||
	    rec->naliases > STATE_ALIASES_MAX || !mix_valid(&rec->mix) ||
	    rec->first_seen_ms > STATE_RECORD_INT_MAX ||
	    rec->last_seen_ms > STATE_RECORD_INT_MAX)
		return false;
	for (i = 0; i < rec->naliases; i++)
		if (!state_id_valid(rec->aliases[i]))
			return false;
	return true;
}

int
state_record_decode(const void *data, size_t len, uint32_t nch,
    struct state_record *rec)
{
	return state_record_parse(data, len, nch, rec, NULL, 0);
}

bool
state_record_used(const struct state_record *rec)
{
	uint32_t list[MIX_MAX_CHANNELS];

	return rec->name[0] != '\0' || mix_channels(&rec->mix, list) > 0;
}

