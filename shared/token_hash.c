/* token_hash.c — making and checking tokens: random bytes, SHA-256 and constant-time comparison (OpenSSL). */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "shared/token.h"

/* Domain separation: this hash is of a ringcast token, version 1. */
static const char hash_label[] = "ringcast-token-1:";

/* SHA-256 of the label and the whole token text (id and secret). */
static bool
token_digest(const char *s, uint8_t out[TOKEN_HASH_LEN])
{
	char buf[sizeof(hash_label) + TOKEN_LEN];
	unsigned int len = 0;
	bool ok;

	memcpy(buf, hash_label, sizeof(hash_label) - 1);
	memcpy(buf + sizeof(hash_label) - 1, s, TOKEN_LEN);
	ok = EVP_Digest(buf, sizeof(hash_label) - 1 + TOKEN_LEN, out, &len,
	    EVP_sha256(), NULL) == 1 && len == TOKEN_HASH_LEN;
	OPENSSL_cleanse(buf, sizeof(buf));
	return ok;
}

/* 32 random bytes as base64url without padding: 43 characters. */
static void
secret_text(const uint8_t raw[32], char out[TOKEN_SECRET_LEN])
{
	unsigned char b64[48];
	int i;

	EVP_EncodeBlock(b64, raw, 32);
	for (i = 0; i < TOKEN_SECRET_LEN; i++)
		out[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' :
		    (char)b64[i];
	OPENSSL_cleanse(b64, sizeof(b64));
}

int
token_new(enum token_role role, const char *listener,
    char text[TOKEN_LEN + 1], struct token_entry *e)
{
	uint8_t raw[TOKEN_ID_LEN + 32];
	int i;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memset(e, 0, sizeof(*e));
	/* 8 of the 32 letters: 40 bits of the id, which is not secret. */
	for (i = 0; i < TOKEN_ID_LEN; i++)
		text[i] = token_id_alphabet[raw[i] & 31];
	text[TOKEN_ID_LEN] = '.';
	secret_text(raw + TOKEN_ID_LEN, text + TOKEN_ID_LEN + 1);
	text[TOKEN_LEN] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	memcpy(e->id, text, TOKEN_ID_LEN);
	e->role = (uint8_t)role;
	if (role == TOKEN_LISTENER)
		snprintf(e->listener, sizeof(e->listener), "%s", listener);
	return token_digest(text, e->hash) ? 0 : -1;
}

bool
token_matches(const struct token_entry *e, const char *s, size_t n)
{
	uint8_t h[TOKEN_HASH_LEN];
	char id[TOKEN_ID_LEN + 1];
	bool ok;

	if (!token_parse(s, n, id) || strcmp(id, e->id) != 0 ||
	    !token_digest(s, h))
		return false;
	ok = CRYPTO_memcmp(h, e->hash, TOKEN_HASH_LEN) == 0;
	OPENSSL_cleanse(h, sizeof(h));
	return ok;
}

void
token_hash_hex(const uint8_t hash[TOKEN_HASH_LEN], char out[65])
{
	int i;

	for (i = 0; i < TOKEN_HASH_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", hash[i]);
}

int
token_hash_unhex(const char *s, uint8_t hash[TOKEN_HASH_LEN])
{
	long len;
	unsigned char *b;

	if (strlen(s) != 2 * TOKEN_HASH_LEN ||
	    (b = OPENSSL_hexstr2buf(s, &len)) == NULL)
		return -1;
	if (len != TOKEN_HASH_LEN) {
		OPENSSL_free(b);
		return -1;
	}
	memcpy(hash, b, TOKEN_HASH_LEN);
	OPENSSL_free(b);
	return 0;
}
