/* token.h — access tokens: their form, making one, and checking one against its hash. */
#ifndef RINGCAST_TOKEN_H
#define RINGCAST_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A token is "PPPPPPPP.SSSS…": a public id of 8 characters (lower-case
 * base32: shown by `ringcast token list`, used to revoke it) and a secret
 * of 256 random bits (43 characters of base64url).  Both alphabets are
 * safe in a header, a cookie and a URL fragment.  Only the SHA-256 of
 * the id and secret is ever stored; the secret is shown once, at
 * creation.  A token has a role: an engineer may do everything, a
 * listener only what concerns its own identity (docs/SECURITY.md).
 */

#define TOKEN_ID_LEN		8
#define TOKEN_SECRET_LEN	43
#define TOKEN_LEN		(TOKEN_ID_LEN + 1 + TOKEN_SECRET_LEN)
#define TOKEN_HASH_LEN		32
#define TOKEN_LISTENER_MAX	128	/* an identity, NUL included */
#define TOKEN_NAME_MAX		64	/* a name for people, NUL included */
#define TOKEN_MAX		256	/* tokens one state may hold */

enum token_role {
	TOKEN_NONE = 0,
	TOKEN_ENGINEER,
	TOKEN_LISTENER,
};

/* What checking a token needs: no secret, only its hash. */
struct token_entry {
	char		id[TOKEN_ID_LEN + 1];
	uint8_t		role;				/* enum token_role */
	uint8_t		hash[TOKEN_HASH_LEN];
	char		listener[TOKEN_LISTENER_MAX];	/* TOKEN_LISTENER */
};

/*
 * A new random token of role (listener: its identity, else NULL): text
 * gets the token, NUL-terminated, e its entry.  0, or -1 if the random
 * source failed.
 */
int	token_new(enum token_role role, const char *listener,
	    char text[TOKEN_LEN + 1], struct token_entry *e);
/* Whether s[0 .. n) has a token's form; id gets its public part. */
bool	token_parse(const char *s, size_t n, char id[TOKEN_ID_LEN + 1]);
/* Whether s is a public id (8 characters of the id alphabet). */
bool	token_id_valid(const char *s);
/* Whether a token's text matches e: hashed, compared in constant time. */
bool	token_matches(const struct token_entry *e, const char *s, size_t n);
/* Whether an entry that came over a channel or from LMDB is well formed. */
bool	token_entry_valid(const struct token_entry *e);

/* The id's 32 letters; whether c may be in a secret (base64url). */
extern const char token_id_alphabet[];
bool	token_secret_char(int c);

const char *token_role_name(enum token_role role);
/* "engineer" or "listener", else TOKEN_NONE. */
enum token_role token_role_parse(const char *s);

/* The hash as 64 lower-case hex digits and back (for the state record). */
void	token_hash_hex(const uint8_t hash[TOKEN_HASH_LEN], char out[65]);
int	token_hash_unhex(const char *s, uint8_t hash[TOKEN_HASH_LEN]);

#endif
