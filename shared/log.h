/* log.h — one logging module for every ringcast process. */
#ifndef RINGCAST_LOG_H
#define RINGCAST_LOG_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Lines go to stderr as "<proc>[pid]: <func>: message".  log_init() names the
 * process; verbosity 0 prints info and above, 1 adds debug, -1 leaves only
 * warnings (a fuzzing harness, which runs handlers millions of times).  Every function
 * preserves errno.  Never call these from the real-time audio path.
 */
void	log_init(const char *procname, int verbose);
void	log_setproc(const char *procname);
const char *log_procname(void);
/*
 * One line at a level (LOG_AT_WARN, _INFO, _DEBUG: printed when the
 * verbosity is at least the level), with ": strerror(errno)" added when
 * with_errno; the macros below are how the code calls it.  fatal_at also
 * exits 1.
 */
enum { LOG_AT_WARN = -1, LOG_AT_INFO = 0, LOG_AT_DEBUG = 1 };
void	log_at(int level, int with_errno, const char *func, const char *fmt,
	    ...) __attribute__((format(printf, 4, 5)));
void	fatal_at(int with_errno, const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4), noreturn));

/*
 * The text of the last warning this process logged (without the process
 * and function), "" if none: what a child reports to its parent when it
 * gives up.
 */
const char *log_last_warning(void);

/* Format an error sentence into a caller's buffer (NULL or 0: ignored). */
void	errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_warn(...)	log_at(LOG_AT_WARN, 1, __func__, __VA_ARGS__)
#define log_warnx(...)	log_at(LOG_AT_WARN, 0, __func__, __VA_ARGS__)
#define log_info(...)	log_at(LOG_AT_INFO, 0, __func__, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_AT_DEBUG, 0, __func__, __VA_ARGS__)
#define fatal(...)	fatal_at(1, __func__, __VA_ARGS__)
#define fatalx(...)	fatal_at(0, __func__, __VA_ARGS__)

#endif
