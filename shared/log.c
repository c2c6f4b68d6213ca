/* log.c — stderr logging tagged with the process name and function. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/log.h"

static const char *procname = "ringcast";
static int verbosity;
static char last_warning[256];

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
vlog(const char *func, const char *fmt, va_list ap, const char *suffix,
    int warning)
{
	char line[1024];
	int n, head, saved = errno;

	n = snprintf(line, sizeof(line), "%s[%d]: %s: ", procname,
	    (int)getpid(), func);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	head = n;
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = strlen(line);
	if (suffix != NULL)
		snprintf(line + n, sizeof(line) - n, ": %s", suffix);
	if (warning)
		snprintf(last_warning, sizeof(last_warning), "%s", line + head);
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
	vlog(func, fmt, ap, e, level == LOG_AT_WARN);
	va_end(ap);
}

const char *
log_last_warning(void)
{
	return last_warning;
}

void
fatal_at(int with_errno, const char *func, const char *fmt, ...)
{
	const char *e = with_errno ? strerror(errno) : NULL;
	va_list ap;

	va_start(ap, fmt);
	vlog(func, fmt, ap, e, 1);
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
