/* fuzz_auth.c — credentials as a client sends them: the Authorization header, the cookie, the login body, Origin. */
#include <string.h>

#include "fuzz/fuzz.h"
#include "broker/broker_cred.h"
#include "shared/proto.h"
#include "shared/state_token.h"
#include "shared/token.h"

#define FUZZ_AUTH_MAX	(70 * 1024)

/* A token the parsers took must have its form and come from the input. */
static void
taken(const char *tok, const char *input)
{
	char id[TOKEN_ID_LEN + 1];

	FUZZ_CHECK(strlen(tok) == TOKEN_LEN);
	FUZZ_CHECK(token_parse(tok, TOKEN_LEN, id));
	FUZZ_CHECK(strncmp(tok, id, TOKEN_ID_LEN) == 0);
	FUZZ_CHECK(input == NULL || strstr(input, tok) != NULL);
}

static void
header_values(const char *s)
{
	char tok[TOKEN_LEN + 1];
	int rc;

	if (cred_bearer(s, tok) == 0)
		taken(tok, s);
	rc = cred_cookie(s, tok);
	FUZZ_CHECK(rc >= -1 && rc <= 1);
	if (rc == 1) {
		taken(tok, s);
		FUZZ_CHECK(strstr(s, CRED_COOKIE "=") != NULL);
	}
}

/* As the broker reads POST /api/login: its body rules, then the token. */
static void
login_body(const char *p, size_t n)
{
	char tok[TOKEN_LEN + 1], why[256];
	json_t *body;

	if (proto_json_body(p, n, &body, why, sizeof(why)) != PROTO_OK)
		return;
	if (cred_login_body(body, tok) == 0) {
		taken(tok, NULL);
		FUZZ_CHECK(json_is_object(body) && json_object_size(body) == 1);
	}
	json_decref(body);
}

/* "ORIGIN\nHOST": the same origin only when it names that host. */
static void
origin(const char *s)
{
	const char *nl = strchr(s, '\n');
	char o[FUZZ_AUTH_MAX];

	if (nl == NULL)
		return;
	memcpy(o, s, (size_t)(nl - s));
	o[nl - s] = '\0';
	if (cred_origin_same(o, nl + 1, false))
		FUZZ_CHECK(strncmp(o, "http://", 7) == 0 &&
		    strcasecmp(o + 7, nl + 1) == 0);
	if (cred_origin_same(o, nl + 1, true))
		FUZZ_CHECK(strncmp(o, "https://", 8) == 0);
}

/* A stored token record: what decodes encodes and decodes the same. */
static void
record(const char *p, size_t n)
{
	struct token_record r, back;
	json_t *j;
	char *text;

	if (token_record_decode("abcdefgh", p, n, &r) != 0)
		return;
	FUZZ_CHECK(token_entry_valid(&r.e));
	FUZZ_CHECK((j = token_record_json(&r)) != NULL);
	FUZZ_CHECK((text = json_dumps(j, JSON_COMPACT)) != NULL);
	FUZZ_CHECK(token_record_decode("abcdefgh", text, strlen(text),
	    &back) == 0);
	FUZZ_CHECK(memcmp(&r.e, &back.e, sizeof(r.e)) == 0 &&
	    strcmp(r.name, back.name) == 0 && r.created_ms == back.created_ms);
	free(text);
	json_decref(j);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char s[FUZZ_AUTH_MAX + 1];
	size_t n;

	if (size < 1 || size - 1 > FUZZ_AUTH_MAX)
		return 0;
	n = size - 1;
	memcpy(s, data + 1, n);
	s[n] = '\0';	/* a header value as evhttp hands it: NUL-terminated */
	switch (data[0] % 4) {
	case 0:
		header_values(s);
		break;
	case 1:
		login_body(s, n);
		break;
	case 2:
		origin(s);
		break;
	default:
		record(s, n);
		break;
	}
	return 0;
}
