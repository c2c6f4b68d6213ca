/* broker_cred.c — a credential out of untrusted bytes: the Authorization header, the cookie, the login body. */
/*
 * Plain string work, no I/O, no allocation: the part of authentication
 * that reads what a client sent, kept apart so that fuzz/fuzz_auth.c can
 * drive it alone.  Nothing here knows a token's secret: it only checks
 * the form (shared/token.h); broker_auth.c compares hashes.
 */
#include <string.h>
#include <strings.h>

#include "broker/broker_cred.h"

static bool
is_blank(int c)
{
	return c == ' ' || c == '\t';
}

/* s[0 .. n) as a token into tok: 0, or -1. */
static int
cred_take(const char *s, size_t n, char tok[TOKEN_LEN + 1])
{
	char id[TOKEN_ID_LEN + 1];

	if (!token_parse(s, n, id))
		return -1;
	memcpy(tok, s, TOKEN_LEN);
	tok[TOKEN_LEN] = '\0';
	return 0;
}

int
cred_bearer(const char *value, char tok[TOKEN_LEN + 1])
{
	const char *p = value;
	size_t n;

	if (strncasecmp(p, "Bearer", 6) != 0 || !is_blank(p[6]))
		return -1;
	for (p += 6; is_blank(*p); p++)
		;
	n = strlen(p);
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	return cred_take(p, n, tok);
}

int
cred_cookie(const char *value, char tok[TOKEN_LEN + 1])
{
	static const char name[] = CRED_COOKIE "=";
	const char *p = value, *end;
	size_t n;
	int found = 0;

	while (*p != '\0') {
		while (is_blank(*p) || *p == ';')
			p++;
		end = p + strcspn(p, ";");
		n = (size_t)(end - p);
		while (n > 0 && is_blank(p[n - 1]))
			n--;
		if (n >= sizeof(name) - 1 &&
		    strncmp(p, name, sizeof(name) - 1) == 0) {
			/* Twice is a conflict we do not try to settle. */
			if (found || cred_take(p + sizeof(name) - 1,
			    n - (sizeof(name) - 1), tok) == -1)
				return -1;
			found = 1;
		}
		p = end;
	}
	return found;
}

int
cred_login_body(const json_t *body, char tok[TOKEN_LEN + 1])
{
	const json_t *t;

	if (!json_is_object(body) || json_object_size(body) != 1 ||
	    !json_is_string(t = json_object_get(body, "token")))
		return -1;
	return cred_take(json_string_value(t), json_string_length(t), tok);
}

bool
cred_origin_same(const char *origin, const char *host, bool tls)
{
	const char *scheme = tls ? "https://" : "http://";
	size_t n = strlen(scheme);

	if (origin == NULL || host == NULL || strncmp(origin, scheme,
	    n) != 0 || *host == '\0')
		return false;
	return strcasecmp(origin + n, host) == 0;
}
