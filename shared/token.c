/* token.c — access tokens: their form, checked without OpenSSL (the parent channel checks entries). */
#include <stdio.h>
#include <string.h>

#include "shared/text.h"
#include "shared/token.h"

const char token_id_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static bool
in_id_alphabet(int c)
{
	return c != '\0' && strchr(token_id_alphabet, c) != NULL;
}

bool
token_secret_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool
token_id_valid(const char *s)
{
	size_t i;

	for (i = 0; i < TOKEN_ID_LEN; i++)
		if (!in_id_alphabet((unsigned char)s[i]))
			return false;
	return s[TOKEN_ID_LEN] == '\0';
}

bool
token_parse(const char *s, size_t n, char id[TOKEN_ID_LEN + 1])
{
	size_t i;

	if (n != TOKEN_LEN || s[TOKEN_ID_LEN] != '.')
		return false;
	for (i = 0; i < TOKEN_ID_LEN; i++)
		if (!in_id_alphabet((unsigned char)s[i]))
			return false;
	for (i = TOKEN_ID_LEN + 1; i < TOKEN_LEN; i++)
		if (!token_secret_char((unsigned char)s[i]))
			return false;
	memcpy(id, s, TOKEN_ID_LEN);
	id[TOKEN_ID_LEN] = '\0';
	return true;
}

bool
token_entry_valid(const struct token_entry *e)
{
	if (!token_id_valid(e->id))
		return false;
	if (e->role == TOKEN_ENGINEER)
		return e->listener[0] == '\0';
	return e->role == TOKEN_LISTENER &&
	    text_ident_field(e->listener, sizeof(e->listener));
}

const char *
token_role_name(enum token_role role)
{
	return role == TOKEN_ENGINEER ? "engineer" :
	    role == TOKEN_LISTENER ? "listener" : "none";
}

enum token_role
token_role_parse(const char *s)
{
	return strcmp(s, "engineer") == 0 ? TOKEN_ENGINEER :
	    strcmp(s, "listener") == 0 ? TOKEN_LISTENER : TOKEN_NONE;
}
