/* text.h — what identifiers and display names may contain, one rule each. */
#ifndef RINGCAST_TEXT_H
#define RINGCAST_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * An identifier (a listener's identity, an LMDB key, a client_id): printable
 * ASCII only, so it is safe in logs, keys and URLs once escaped.
 */
bool	text_ident(const char *s, size_t n);
/* A display name: any UTF-8 (checked by whoever decoded it), no control bytes. */
bool	text_name(const char *s, size_t n);
/*
 * A NUL-terminated string of 1 .. max - 1 bytes that passes the check:
 * the form a fixed-size field must have.
 */
bool	text_ident_field(const char *s, size_t max);
bool	text_name_field(const char *s, size_t max);
/*
 * A display name made from text nobody checked (a device's name): copied
 * into out (size bytes, NUL included), control bytes and invalid UTF-8 as
 * '?', cut between characters.
 */
void	text_clean(char *out, size_t size, const char *in);

#endif
