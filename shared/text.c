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
