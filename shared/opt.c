/* opt.c — bounded numbers, descriptors, HOST:PORT and channel lists from text. */
#include <err.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/log.h"
#include "shared/opt.h"

int
opt_number(const char *arg, long long lo, long long hi, long long *out)
{
	char *end;
	long long v;

	/* strtoll takes leading blanks and a sign; an option value may not. */
	if (arg == NULL || !((*arg >= '0' && *arg <= '9') ||
	    (*arg == '-' && arg[1] >= '0' && arg[1] <= '9')))
		return -1;
	errno = 0;
	v = strtoll(arg, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int
opt_number_or_max(const char *arg, long long lo, long long hi, uint32_t *out)
{
	long long v;

	if (arg != NULL && strcmp(arg, "max") == 0) {
		*out = 0;
		return 0;
	}
	if (opt_number(arg, lo, hi, &v) == -1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int
opt_decimal(const char *arg, double lo, double hi, double *out)
{
	char *end;
	double v;

	if (arg == NULL || !((*arg >= '0' && *arg <= '9') || *arg == '.' ||
	    *arg == '-'))
		return -1;
	errno = 0;
	v = strtod(arg, &end);
	if (errno != 0 || end == arg || *end != '\0' || !isfinite(v) ||
	    v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

long long
opt_number_or_exit(const char *name, const char *arg, long long lo,
    long long hi)
{
	long long v;

	if (opt_number(arg, lo, hi, &v) == -1)
		errx(2, "%s %s: expected a number in %lld..%lld", name, arg, lo,
		    hi);
	return v;
}

int
opt_fd_or_exit(const char *name, const char *arg)
{
	int fd = (int)opt_number_or_exit(name, arg, 0, INT_MAX);

	if (fcntl(fd, F_GETFD) == -1)
		errx(2, "%s %d: not an open descriptor", name, fd);
	return fd;
}

static int
port_check(const char *p, char *err, size_t errlen)
{
	long long v;

	if (strlen(p) > 5 || strspn(p, "0123456789") != strlen(p) ||
	    opt_number(p, 0, 65535, &v) == -1) {
		errbuf_set(err, errlen, "bad port \"%s\" (0..65535)", p);
		return -1;
	}
	return 0;
}

int
opt_hostport(const char *arg, const char *default_port, char *host,
    size_t hostlen, char *port, size_t portlen, char *err, size_t errlen)
{
	const char *h = arg, *p = NULL, *close;
	size_t hl;

	if (*arg == '[') {
		if ((close = strchr(arg, ']')) == NULL || (close[1] != '\0' &&
		    close[1] != ':')) {
			errbuf_set(err, errlen, "\"%s\": expected [IPV6]:PORT",
			    arg);
			return -1;
		}
		h = arg + 1;
		hl = (size_t)(close - h);
		p = close[1] == ':' ? close + 2 : NULL;
	} else {
		p = strchr(arg, ':');
		if (p != NULL && strchr(p + 1, ':') != NULL) {
			errbuf_set(err, errlen, "\"%s\": an IPv6 address needs "
			    "brackets, as in [::1]:5101", arg);
			return -1;
		}
		hl = p != NULL ? (size_t)(p - arg) : strlen(arg);
		if (p != NULL)
			p++;
	}
	if (p == NULL && default_port == NULL) {
		errbuf_set(err, errlen, "\"%s\" is not HOST:PORT", arg);
		return -1;
	}
	if (hl == 0 || hl >= hostlen) {
		errbuf_set(err, errlen, "\"%s\": %s host", arg, hl ? "overlong" :
		    "no");
		return -1;
	}
	if (p == NULL)
		p = default_port;
	if (port_check(p, err, errlen) == -1)
		return -1;
	if (strlen(p) >= portlen) {
		errbuf_set(err, errlen, "\"%s\": port too long", arg);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%s", p);
	return 0;
}

/* One number of a channel list: digits only, below max. */
static int
channel_at(const char **s, uint32_t max, uint32_t *c)
{
	long long v = 0;
	const char *p = *s;

	if (*p < '0' || *p > '9')
		return -1;
	while (*p >= '0' && *p <= '9' && v < (long long)max)
		v = v * 10 + (*p++ - '0');
	if (v >= (long long)max)
		return -1;
	*c = (uint32_t)v;
	*s = p;
	return 0;
}

int
opt_channels(const char *arg, uint32_t max, uint32_t *list, size_t listmax,
    char *err, size_t errlen)
{
	bool seen[OPT_CHANNELS_MAX];
	const char *s = arg;
	uint32_t a, b, c;
	size_t n = 0;

	if (max > sizeof(seen))
		max = sizeof(seen);
	memset(seen, 0, max);
	do {
		if (channel_at(&s, max, &a) == -1)
			goto bad;
		b = a;
		if (*s == '-' && (s++, channel_at(&s, max, &b) == -1 || b < a))
			goto bad;
		for (c = a; c <= b; c++) {
			if (seen[c]) {
				errbuf_set(err, errlen, "channel %u is named "
				    "twice", c);
				return -1;
			}
			seen[c] = true;
			n++;
		}
		if (n > listmax) {
			errbuf_set(err, errlen, "more than %zu channels",
			    listmax);
			return -1;
		}
	} while (*s++ == ',');
	if (s[-1] != '\0')
		goto bad;
	for (n = 0, c = 0; c < max; c++)
		if (seen[c])
			list[n++] = c;
	return (int)n;
bad:
	errbuf_set(err, errlen, "\"%s\" is not a list of channels 0..%u such "
	    "as 0,1,4-7", arg, max - 1);
	return -1;
}

#define OPT_MAX		32

/* What opt_usage says: the last opt_parse's table. */
static struct {
	const char		*prog;
	const struct opt_spec	*specs;
	size_t			 n;
	const char		*about;
} us;

/* An option's argument in the usage: its own, else from kind and name. */
static const char *
usage_arg(const struct opt_spec *o, char *buf, size_t len)
{
	const char *w = strrchr(o->name, '-');
	size_t i;

	if (o->arg != NULL)
		return o->arg;
	switch (o->kind) {
	case OPT_FLAG:
	case OPT_COUNT:
		return NULL;
	case OPT_FD:
	case OPT_INT:
	case OPT_U32:
		return "N";
	case OPT_U32_MAX:
		return "N|max";
	default:
		break;
	}
	/* --web-dir DIR, --source SOURCE */
	snprintf(buf, len, "%s", w != NULL ? w + 1 : o->name);
	for (i = 0; buf[i] != '\0'; i++)
		buf[i] = (char)toupper((unsigned char)buf[i]);
	return buf;
}

void
opt_usage(int status)
{
	FILE *f = status == 0 ? stdout : stderr;
	char word[96], arg[32];
	const char *a;
	size_t i;
	int col, ind;

	col = ind = fprintf(f, "usage: %s", us.prog);
	for (i = 0; i < us.n; i++) {
		a = usage_arg(&us.specs[i], arg, sizeof(arg));
		if (us.specs[i].kind == OPT_COUNT)
			snprintf(word, sizeof(word), " [-%c]", us.specs[i].name[0]);
		else
			snprintf(word, sizeof(word), " [--%s%s%s]",
			    us.specs[i].name, a != NULL ? " " : "",
			    a != NULL ? a : "");
		if (col + (int)strlen(word) > 78)
			col = fprintf(f, "\n%*s", ind, "") - 1;
		col += fprintf(f, "%s", word);
	}
	fprintf(f, "\n%s", us.about != NULL ? us.about : "");
	exit(status);
}

static void
opt_store(const struct opt_spec *o, const char *arg, void *base)
{
	char name[64];
	void *at = (char *)base + o->off;

	snprintf(name, sizeof(name), "--%s", o->name);
	switch (o->kind) {
	case OPT_FD:
		*(int *)at = opt_fd_or_exit(name, arg);
		break;
	case OPT_INT:
		*(int *)at = (int)opt_number_or_exit(name, arg, o->lo, o->hi);
		break;
	case OPT_U32:
		*(uint32_t *)at = (uint32_t)opt_number_or_exit(name, arg, o->lo,
		    o->hi);
		break;
	case OPT_U32_MAX:
		if (opt_number_or_max(arg, o->lo, o->hi, at) == -1)
			errx(2, "%s %s: expected max or a number in %lld..%lld",
			    name, arg, o->lo, o->hi);
		break;
	case OPT_TEXT:
		*(const char **)at = arg;
		break;
	case OPT_FLAG:
		*(int *)at = 1;
		break;
	case OPT_COUNT:
		(*(int *)at)++;
		break;
	case OPT_CALL:
		o->call(arg);
		break;
	}
}

void
opt_parse(int argc, char *argv[], const struct opt_spec *specs, size_t n,
    void *base, const char *about)
{
	struct option longopts[OPT_MAX + 2];
	const char *slash = strrchr(argv[0], '/');
	size_t i;
	int ch, v = -1;

	us.prog = slash != NULL ? slash + 1 : argv[0];
	us.specs = specs;
	us.n = n;
	us.about = about;
	if (n > OPT_MAX)
		errx(2, "too many options");
	for (i = 0; i < n; i++) {
		longopts[i] = (struct option){ specs[i].name, specs[i].kind ==
		    OPT_FLAG || specs[i].kind == OPT_COUNT ? no_argument :
		    required_argument, NULL, 256 + (int)i };
		if (strcmp(specs[i].name, "verbose") == 0)
			v = (int)i;
	}
	longopts[n] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[n + 1] = (struct option){ NULL, 0, NULL, 0 };
	optind = 1;
	while ((ch = getopt_long(argc, argv, v >= 0 ? "hv" : "h", longopts,
	    NULL)) != -1) {
		if (ch == 'h')
			opt_usage(0);
		if (ch == 'v')
			ch = 256 + v;
		if (ch < 256 || ch >= 256 + (int)n)
			opt_usage(2);
		opt_store(&specs[ch - 256], optarg, base);
	}
	if (optind != argc)
		opt_usage(2);
}
