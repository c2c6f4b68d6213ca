/* text.c — identifier and display-name checks shared by every process. */
#include <string.h>

#include "shared/text.h"

bool
text_ident(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool
text_name(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	return true;
}

bool
text_ident_field(const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max) : 0;

	return n > 0 && n < max && text_ident(s, n);
}

bool
text_name_field(const char *s, size_t max)
{
	size_t n = s != NULL ? strnlen(s, max) : 0;

	return n > 0 && n < max && text_name(s, n);
}

/* The length of the UTF-8 sequence at s (at most n bytes), 0 if invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	len = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 :
	    s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : 0;
	if (len == 0 || len > n || (s[0] >= 0xe0 && s[0] < 0xf0 && len != 3))
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

void
text_clean(char *out, size_t size, const char *in)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t n = strlen(in), o = 0, k;

	while (n > 0 && size > 0 && o + 1 < size) {
		k = utf8_len(s, n);
		if (k > 1 && o + k >= size)
			break;		/* never half a character */
		if (k <= 1) {
			out[o++] = k == 0 || *s < 0x20 || *s == 0x7f ? '?' :
			    (char)*s;
			k = 1;
		} else {
			memcpy(out + o, s, k);
			o += k;
		}
		s += k;
		n -= k;
	}
	if (size > 0)
		out[o] = '\0';
}
