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
void	log_warn_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_warnx_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_info_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	log_debug_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	fatal_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatalx_(const char *func, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

/* Format an error sentence into a caller's buffer (NULL or 0: ignored). */
void	errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#define log_warn(...)	log_warn_(__func__, __VA_ARGS__)
#define log_warnx(...)	log_warnx_(__func__, __VA_ARGS__)
#define log_info(...)	log_info_(__func__, __VA_ARGS__)
#define log_debug(...)	log_debug_(__func__, __VA_ARGS__)
#define fatal(...)	fatal_(__func__, __VA_ARGS__)
#define fatalx(...)	fatalx_(__func__, __VA_ARGS__)

#endif
