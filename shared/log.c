/* log.c — stderr logging tagged with the process name and function. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"

static const char *procname = "ringcast";
static int verbosity;

void
log_init(const char *name, int verbose)
{
	procname = name;
	verbosity = verbose;
}

void
log_setproc(const char *name)
{
	procname = name;
}

const char *
log_procname(void)
{
	return procname;
}

/* One write per line, so lines from several processes do not interleave. */
static void
vlog(const char *func, const char *fmt, va_list ap, const char *suffix)
{
	char line[1024];
	int n, saved = errno;

	n = snprintf(line, sizeof(line), "%s[%d]: %s: ", procname,
	    (int)getpid(), func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = strlen(line);
	if (suffix != NULL)
		snprintf(line + n, sizeof(line) - n, ": %s", suffix);
	n = strlen(line);
	if ((size_t)n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

void
log_at(int level, int with_errno, const char *func, const char *fmt, ...)
{
	const char *e = with_errno ? strerror(errno) : NULL;
	va_list ap;

	if (verbosity < level)
		return;
	va_start(ap, fmt);
	vlog(func, fmt, ap, e);
	va_end(ap);
}

void
fatal_at(int with_errno, const char *func, const char *fmt, ...)
{
	const char *e = with_errno ? strerror(errno) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vlog(func, fmt, ap, e);
	va_end(ap);
	exit(1);
}

void
errbuf_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}
