/* broker_cred.h — reading a credential out of untrusted bytes: header, cookie, login body, origin. */
#ifndef RINGCAST_BROKER_CRED_H
#define RINGCAST_BROKER_CRED_H

#include <stdbool.h>

#include <jansson.h>

#include "shared/token.h"

#define CRED_COOKIE	"ringcast_token"

/*
 * Each takes a header's value (or a decoded body) as the client sent it
 * and, when it holds a token of the right form, copies it NUL-terminated
 * into tok.  None allocates or keeps anything; any length is fine.
 */

/* "Bearer TOKEN": 0, or -1 (another scheme, or not a token's form). */
int	cred_bearer(const char *value, char tok[TOKEN_LEN + 1]);
/* A Cookie header: 1 with our cookie's token, 0 without our cookie, -1
 * when our cookie is there but malformed (or there twice). */
int	cred_cookie(const char *value, char tok[TOKEN_LEN + 1]);
/* POST /api/login's body, {"token": "…"}: 0, or -1. */
int	cred_login_body(const json_t *body, char tok[TOKEN_LEN + 1]);
/* Whether an Origin header names the host of the Host header, by scheme. */
bool	cred_origin_same(const char *origin, const char *host, bool tls);

#endif
