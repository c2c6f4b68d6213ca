/* opt.h — option values every program parses alike: bounded numbers, descriptors, HOST:PORT, channel lists. */
#ifndef RINGCAST_OPT_H
#define RINGCAST_OPT_H

#include <stddef.h>
#include <stdint.h>

/* A decimal integer, nothing else around it, in lo..hi: 0, or -1. */
int	opt_number(const char *arg, long long lo, long long hi, long long *out);
/* "max" (stored as 0: all there are) or a decimal integer in lo..hi: 0, or -1. */
int	opt_number_or_max(const char *arg, long long lo, long long hi,
	    uint32_t *out);
/* A finite decimal number ("0.5", "2", "1e-3") in lo..hi: 0, or -1. */
int	opt_decimal(const char *arg, double lo, double hi, double *out);

/*
 * For a program's own options, before it serves: the value, or exit 2
 * with "NAME ARG: expected a number in LO..HI" (NAME as the user typed it,
 * e.g. "--period").
 */
long long opt_number_or_exit(const char *name, const char *arg, long long lo,
	    long long hi);
/* A descriptor number that must be open in this process; exit 2 if not. */
int	opt_fd_or_exit(const char *name, const char *arg);

/*
 * "HOST:PORT" or "[IPV6]:PORT"; when default_port is not NULL, "HOST" and
 * "[IPV6]" alone take it.  A bare IPv6 address (more than one colon) must
 * be bracketed.  The port is 1 to 5 digits, 0..65535.  Returns 0, or -1
 * with err saying why.
 */
int	opt_hostport(const char *arg, const char *default_port, char *host,
	    size_t hostlen, char *port, size_t portlen, char *err,
	    size_t errlen);

#define OPT_CHANNELS_MAX	1024	/* the largest max opt_channels takes */

/*
 * A program's options as a table: each long option, what it holds and
 * where in the caller's struct (offsetof).  "v" is -v / --verbose, counted;
 * "help" is -h / --help: the usage on stdout, exit 0.
 */
enum opt_kind {
	OPT_FD,		/* int: an open descriptor */
	OPT_INT,	/* int in lo..hi */
	OPT_U32,	/* uint32_t in lo..hi */
	OPT_U32_MAX,	/* uint32_t in lo..hi, or "max": 0 */
	OPT_TEXT,	/* const char *: the argument itself */
	OPT_FLAG,	/* int set to 1; no argument */
	OPT_COUNT,	/* int counted up; no argument (-v) */
	OPT_CALL,	/* call(arg), e.g. sandbox_drop_arg */
};

struct opt_spec {
	const char	*name;
	enum opt_kind	 kind;
	size_t		 off;
	long long	 lo, hi;
	void		(*call)(const char *arg);
	const char	*arg;	/* in the usage; NULL: from the kind and name */
};

/* The row of a descriptor the parent passes: --NAME N into type's field. */
#define OPT_DESCRIPTOR(type, name, field)				\
	{ name, OPT_FD, offsetof(type, field), 0, 0, NULL, NULL }

/*
 * Parse argv against the table into base.  An unknown option, a bad value
 * or a positional argument prints usage to stderr and exits 2.  The usage
 * is made from the table ("usage: PROG [--name ARG] ..."), then about
 * (NULL: nothing more): it cannot say other options than the table's.
 */
void	opt_parse(int argc, char *argv[], const struct opt_spec *specs,
	    size_t n, void *base, const char *about);
/* The usage of the last opt_parse on stdout (status 0) or stderr; exit. */
void	opt_usage(int status) __attribute__((noreturn));

/*
 * A channel list such as "0,1,4-7" into ascending channel numbers, each
 * below max, none named twice; at most listmax of them.  Returns the
 * count, or -1 with err saying why.
 */
int	opt_channels(const char *arg, uint32_t max, uint32_t *list,
	    size_t listmax, char *err, size_t errlen);

#endif
