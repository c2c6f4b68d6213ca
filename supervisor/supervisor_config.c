/* supervisor_config.c — ringcastd's command line and configuration file. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/mcast.h"
#include "shared/opt.h"
#include "shared/ring.h"
#include "shared/adopt.h"
#include "shared/sdp.h"
#include "supervisor/supervisor.h"

#define LINE_MAX_LEN	4096
#define CLI_MAX		64

enum ktype { K_STR, K_U32, K_INT, K_HOURS, K_U32_MAX, K_LIST };

struct key {
	const char	*name;
	enum ktype	 type;
	size_t		 off;
	size_t		 size;		/* K_STR: buffer size */
	long		 min, max;	/* K_U32, K_INT; K_HOURS: in hours */
	const char	*arg;		/* for the usage text */
};

#define STR(f)	K_STR, offsetof(struct config, f), \
		sizeof(((struct config *)0)->f), 0, 0
#define U32(f, lo, hi)	K_U32, offsetof(struct config, f), 0, lo, hi
#define INT(f, lo, hi)	K_INT, offsetof(struct config, f), 0, lo, hi
/* A number, or "max" (kept as 0). */
#define U32_MAX(f, lo, hi) K_U32_MAX, offsetof(struct config, f), 0, lo, hi
/* A decimal number of hours (0.001 is 3.6 s), kept in milliseconds. */
#define HOURS(f, lo, hi) K_HOURS, offsetof(struct config, f), 0, lo, hi
/* Repeatable: each occurrence adds an entry (struct config_list). */
#define LIST(f)	K_LIST, offsetof(struct config, f), CONFIG_LIST_LEN, 0, \
		CONFIG_LIST_MAX

/* The long options and the file's keys are the same table. */
static const struct key keys[] = {
	{ "native",		STR(native),		"HOST:PORT" },
	{ "http",		STR(http),		"HOST:PORT" },
	{ "state",		STR(state_dir),		"DIR" },
	{ "source",		STR(source),
	    "auto|tone|wav:PATH|portaudio:DEV" },
	{ "channels",		U32_MAX(channels, 1, RING_MAX_CHANNELS), "N|max" },
	{ "rate",		U32(rate, 8000, 384000),	"HZ" },
	{ "period",		U32(period, 16, RING_MAX_PERIOD), "FRAMES" },
	{ "user",		STR(user),		"NAME" },
	{ "max-clients",	U32(max_clients, 1, 65536), "N" },
	{ "ring",		STR(ring),		"NAME" },
	{ "stall-ms",		U32(stall_ms, 100, 600000), "MS" },
	{ "user-timeout-ms",	U32(user_timeout_ms, 100, 600000), "MS" },
	{ "capture-stall-ms",	U32(capture_stall_ms, 100, 60000), "MS" },
	{ "affinity-minutes",	U32(affinity_minutes, 0, 1440), "MIN" },
	{ "orphan-grace-s",	U32(orphan_grace_s, 1, 86400), "S" },
	{ "forget-unused-hours", HOURS(forget_unused_ms, 0, 87600), "H" },
	{ "handshake-ms",	U32(handshake_ms, 100, 600000), "MS" },
	{ "request-ms",		U32(request_ms, 100, 600000), "MS" },
	{ "max-pending",	U32(max_pending, 1, 65536), "N" },
	{ "max-pending-per-addr", U32(max_pending_per_addr, 1, 65536), "N" },
	{ "chroot",		STR(chroot_dir),	"DIR|none" },
	{ "channel-names",	STR(channel_names),	"NAME,..." },
	{ "web-dir",		STR(web_dir),		"DIR" },
	{ "auth",		STR(auth),		"auto|on|off" },
	{ "admit",		STR(admit),		"open|known|approve" },
	{ "metrics-public",	STR(metrics_public),	"yes|no" },
	{ "tls-cert",		STR(tls_cert),		"FILE" },
	{ "tls-key",		STR(tls_key),		"FILE" },
	{ "publish",		LIST(publish),		"rtp://GROUP:PORT?..." },
	{ "multicast-interface", STR(mcast_if),		"IFNAME" },
	{ "sap",		STR(sap),		"GROUP:PORT" },
	{ "sap-interval",	U32(sap_interval, 1, 300), "S" },
	{ "jitter-ms",		U32(jitter_ms, 1, 100),	"MS" },
	{ "notify-fd",		INT(notify_fd, 0, 1 << 20), "N" },
	{ "verbose",		INT(verbose, 0, 2),	NULL },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))
#define KEY_VERBOSE	(NKEYS - 1)

/* The command line, kept so that a reload applies it over the file again. */
static struct {
	size_t		 key;
	const char	*val;
} cli[CLI_MAX];
static size_t ncli;
static int cli_verbose;
static bool cli_test_probes;	/* test only: never from the file */

static void
defaults(struct config *c)
{
	const char *file = c->file;
	char saved[PATH_MAX];
	bool check = c->check_only;

	snprintf(saved, sizeof(saved), "%s", file);
	memset(c, 0, sizeof(*c));
	snprintf(c->file, sizeof(c->file), "%s", saved);
	c->check_only = check;
	snprintf(c->native, sizeof(c->native), "%s", SUPER_NATIVE_DEFAULT);
	snprintf(c->http, sizeof(c->http), "%s", SUPER_HTTP_DEFAULT);
	snprintf(c->state_dir, sizeof(c->state_dir), "%s", SUPER_STATE_DEFAULT);
	snprintf(c->source, sizeof(c->source), "tone");
	snprintf(c->ring, sizeof(c->ring), "%s", RING_NAME_DEFAULT);
	c->channels = 8;
	c->rate = 48000;
	c->period = 64;
	c->max_clients = SUPER_MAX_CLIENTS;
	c->stall_ms = 3000;
	c->user_timeout_ms = 4000;
	c->capture_stall_ms = 500;
	c->affinity_minutes = 30;
	c->orphan_grace_s = ADOPT_GRACE_S;
	c->forget_unused_ms = 24 * 3600 * 1000;
	c->notify_fd = -1;
	snprintf(c->auth, sizeof(c->auth), "auto");
	snprintf(c->admit, sizeof(c->admit), "open");
	snprintf(c->metrics_public, sizeof(c->metrics_public), "no");
	snprintf(c->sap, sizeof(c->sap), "%s:%d", SAP_GROUP, SAP_PORT);
	c->sap_interval = 30;
	c->jitter_ms = 3;
}

static int
set_hours(struct config *c, const struct key *k, const char *val, char *err,
    size_t errlen)
{
	double h;

	if (opt_decimal(val, 0.0001, (double)k->max, &h) == -1) {
		snprintf(err, errlen, "%s: \"%s\" is not a number of hours "
		    "0.0001..%ld", k->name, val, k->max);
		return -1;
	}
	*(uint64_t *)(void *)((char *)c + k->off) = (uint64_t)(h * 3600000.0);
	return 0;
}

static int
set_number(struct config *c, const struct key *k, const char *val, char *err,
    size_t errlen)
{
	long long v;
	uint32_t u;

	if (k->type == K_U32_MAX) {
		if (opt_number_or_max(val, k->min, k->max, &u) == -1) {
			snprintf(err, errlen, "%s: \"%s\" is not max nor a "
			    "number %ld..%ld", k->name, val, k->min, k->max);
			return -1;
		}
		*(uint32_t *)(void *)((char *)c + k->off) = u;
		return 0;
	}
	if (k - keys == (long)KEY_VERBOSE && (strcmp(val, "yes") == 0 ||
	    strcmp(val, "no") == 0))
		v = val[0] == 'y';
	else if (opt_number(val, k->min, k->max, &v) == -1) {
		snprintf(err, errlen, "%s: \"%s\" is not a number %ld..%ld",
		    k->name, val, k->min, k->max);
		return -1;
	}
	if (k->type == K_U32)
		*(uint32_t *)(void *)((char *)c + k->off) = (uint32_t)v;
	else
		*(int *)(void *)((char *)c + k->off) = (int)v;
	return 0;
}

static int
add_item(struct config *c, const struct key *k, const char *val, char *err,
    size_t errlen)
{
	struct config_list *l = (struct config_list *)(void *)((char *)c +
	    k->off);

	if (l->n == (uint32_t)k->max) {
		snprintf(err, errlen, "%s: more than %ld", k->name, k->max);
		return -1;
	}
	if (*val == '\0' || strlen(val) >= k->size) {
		snprintf(err, errlen, "%s: value %s", k->name, *val == '\0' ?
		    "is empty" : "is too long");
		return -1;
	}
	snprintf(l->item[l->n++], k->size, "%s", val);
	return 0;
}

static int
set_key(struct config *c, const struct key *k, const char *val, char *err,
    size_t errlen)
{
	if (k->type == K_HOURS)
		return set_hours(c, k, val, err, errlen);
	if (k->type == K_LIST)
		return add_item(c, k, val, err, errlen);
	if (k->type != K_STR)
		return set_number(c, k, val, err, errlen);
	if (*val == '\0' || strlen(val) >= k->size) {
		snprintf(err, errlen, "%s: value %s", k->name, *val == '\0' ?
		    "is empty" : "is too long");
		return -1;
	}
	memcpy((char *)c + k->off, val, strlen(val) + 1);
	return 0;
}

static const struct key *
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* "key = value", a comment from a '#' that starts the line or follows a blank. */
static int
parse_line(struct config *c, char *line, char *err, size_t errlen)
{
	const struct key *k;
	char *p, *eq, *key, *val;

	for (p = line; *p != '\0'; p++)
		if (*p == '#' && (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
	if (*trim(line) == '\0')
		return 0;
	if ((eq = strchr(line, '=')) == NULL) {
		snprintf(err, errlen, "expected \"key = value\"");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = trim(eq + 1);
	if ((k = key_find(key)) == NULL) {
		snprintf(err, errlen, "unknown key \"%s\"", key);
		return -1;
	}
	return set_key(c, k, val, err, errlen);
}

static int
read_file(struct config *c, char *err, size_t errlen)
{
	char line[LINE_MAX_LEN], why[256];
	FILE *f;
	int n = 0, rc = 0;

	if ((f = fopen(c->file, "re")) == NULL) {
		snprintf(err, errlen, "%s: %s", c->file, strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		n++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			snprintf(why, sizeof(why), "line too long");
			rc = -1;
		} else
			rc = parse_line(c, line, why, sizeof(why));
	}
	if (rc == 0 && ferror(f)) {
		snprintf(why, sizeof(why), "%s", strerror(errno));
		rc = -1;
	}
	if (rc == -1)
		snprintf(err, errlen, "%s:%d: %s", c->file, n, why);
	fclose(f);
	return rc;
}

/*
 * Defaults, then the file, then the command line.  A repeatable key given
 * on the command line replaces the file's entries (the command line wins,
 * as for any key) rather than adding to them.
 */
static int
apply(struct config *c, char *err, size_t errlen)
{
	bool cleared[NKEYS] = { false };
	const struct key *k;
	size_t i;

	defaults(c);
	if (c->file[0] != '\0' && read_file(c, err, errlen) == -1)
		return -1;
	for (i = 0; i < ncli; i++) {
		k = &keys[cli[i].key];
		if (k->type == K_LIST && !cleared[cli[i].key]) {
			((struct config_list *)(void *)((char *)c +
			    k->off))->n = 0;
			cleared[cli[i].key] = true;
		}
		if (set_key(c, k, cli[i].val, err, errlen) == -1)
			return -1;
	}
	if (cli_verbose > 0)
		c->verbose = cli_verbose;
	c->test_probes = cli_test_probes;
	return 0;
}

void
config_usage(void)
{
	size_t i;

	fprintf(stderr, "usage: ringcastd [-hnv] [-f file]");
	for (i = 0; i < NKEYS; i++)
		if (keys[i].arg != NULL)
			fprintf(stderr, "%s[--%s %s]", i % 3 == 0 ?
			    "\n\t" : " ", keys[i].name, keys[i].arg);
	fprintf(stderr, "\n");
}

static int
parse_argv(struct config *c, int argc, char *argv[], char *err, size_t errlen)
{
	static struct option longopts[NKEYS + 6];
	size_t i;
	int ch;

	for (i = 0; i < NKEYS; i++)
		longopts[i] = (struct option){ keys[i].name,
		    i == KEY_VERBOSE ? no_argument : required_argument, NULL,
		    256 + (int)i };
	longopts[i++] = (struct option){ "config", required_argument, NULL, 'f' };
	longopts[i++] = (struct option){ "check", no_argument, NULL, 'n' };
	longopts[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[i++] = (struct option){ "test-probes", no_argument, NULL, 'T' };
	longopts[i] = (struct option){ NULL, 0, NULL, 0 };
	while ((ch = getopt_long(argc, argv, "f:hnv", longopts, NULL)) != -1) {
		if (ch == 'f') {
			if (strlen(optarg) >= sizeof(c->file)) {
				snprintf(err, errlen, "-f: path too long");
				return -1;
			}
			snprintf(c->file, sizeof(c->file), "%s", optarg);
		} else if (ch == 'n')
			c->check_only = true;
		else if (ch == 'T')
			cli_test_probes = true;
		else if (ch == 'v' || ch == 256 + (int)KEY_VERBOSE)
			cli_verbose++;
		else if (ch >= 256 && ncli < CLI_MAX)
			cli[ncli++] = (typeof(cli[0])){ ch - 256, optarg };
		else if (ch == 'h') {
			config_usage();
			exit(0);
		} else {
			config_usage();
			exit(1);
		}
	}
	if (optind != argc) {
		snprintf(err, errlen, "unexpected argument \"%s\"",
		    argv[optind]);
		return -1;
	}
	return 0;
}

int
config_load(struct config *c, int argc, char *argv[], char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	ncli = 0;
	cli_verbose = 0;
	cli_test_probes = false;
	if (parse_argv(c, argc, argv, err, errlen) == -1)
		return -1;
	return apply(c, err, errlen);
}

int
config_reload(struct config *c, char *err, size_t errlen)
{
	return apply(c, err, errlen);
}

static int
check_addr(const char *what, const char *addr, char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	char host[256], port[16], why[256];
	int rc;

	if (opt_hostport(addr, NULL, host, sizeof(host), port, sizeof(port),
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: %s", what, why);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s: %s", what, host,
		    gai_strerror(rc));
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

int
config_source_check(const char *src, char *err, size_t errlen)
{
	if (strlen(src) >= MSG_SOURCE_MAX) {
		snprintf(err, errlen, "source: at most %d bytes",
		    MSG_SOURCE_MAX - 1);
		return -1;
	}
	if (strcmp(src, "tone") == 0 || strcmp(src, "auto") == 0)
		return 0;
	if (strncmp(src, "portaudio:", 10) == 0 && src[10] != '\0')
		return 0;
	if (strncmp(src, "wav:", 4) == 0 && src[4] != '\0') {
		if (access(src + 4, R_OK) == 0)
			return 0;
		snprintf(err, errlen, "source: %s: %s", src + 4,
		    strerror(errno));
		return -1;
	}
	snprintf(err, errlen, "source: \"%s\" is not auto, tone, wav:PATH or "
	    "portaudio:DEVICE (a network source, rtp://, sdp: or sap:, is set "
	    "in the configuration)", src);
	return -1;
}

/* The configured source: one of this machine's, or a network stream. */
static int
check_source(const struct config *c, char *err, size_t errlen)
{
	const char *src = c->source;
	struct sdp_stream s;

	if (strncmp(src, "sap:", 4) == 0 && src[4] != '\0')
		return 0;
	if (strncmp(src, "rtp://", 6) != 0 && strncmp(src, "sdp:", 4) != 0)
		return config_source_check(src, err, errlen);
	if (mcast_source_stream(src, c->channels, &s, err, errlen) == -1)
		return -1;
	if (s.rate != 0 && s.rate != c->rate) {
		snprintf(err, errlen, "source: the stream is %u Hz, the ring "
		    "%u Hz", s.rate, c->rate);
		return -1;
	}
	return 0;
}

static int
check_user(struct config *c, char *err, size_t errlen)
{
	struct passwd *pw;

	c->drop = false;
	if (c->user[0] == '\0')
		return 0;
	errno = 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		snprintf(err, errlen, "user: unknown user \"%s\"%s%s", c->user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	c->uid = pw->pw_uid;
	c->gid = pw->pw_gid;
	/* Capture keeps the user's groups (e.g. audio); getgrouplist puts gid first. */
	c->ngroups = SANDBOX_GROUPS_MAX;
	if (getgrouplist(c->user, c->gid, c->groups, &c->ngroups) == -1) {
		snprintf(err, errlen, "user: \"%s\" is in more than %d groups",
		    c->user, SANDBOX_GROUPS_MAX);
		return -1;
	}
	c->drop = geteuid() == 0;
	return 0;
}

static int
check_ring(const struct config *c, char *err, size_t errlen)
{
	struct ring_config rc = { c->rate, c->channels ? c->channels :
	    SUPER_CHANNELS_DEFAULT, c->period, 0 };

	if (c->ring[0] != '/' || strchr(c->ring + 1, '/') != NULL ||
	    c->ring[1] == '\0') {
		snprintf(err, errlen, "ring: \"%s\" must be /NAME", c->ring);
		return -1;
	}
	if (c->channels > MIX_MAX_CHANNELS || ring_config_check(&rc) != RING_OK) {
		snprintf(err, errlen, "rate %u, %u channels, period %u: %s",
		    c->rate, c->channels, c->period,
		    ring_strerror(RING_ECONFIG));
		return -1;
	}
	return 0;
}

/* Created if missing (by state_open); what exists must be a directory. */
static int
check_state(const struct config *c, char *err, size_t errlen)
{
	struct stat st;

	if (stat(c->state_dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "state: %s: %s", c->state_dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "state: %s is not a directory",
		    c->state_dir);
		return -1;
	}
	return 0;
}

int
channel_names_parse(const char *list, uint32_t max, char names[][64],
    uint32_t *n, char *err, size_t errlen)
{
	const char *p = list, *end;
	size_t len;

	*n = 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		end = p + strcspn(p, ",");
		len = (size_t)(end - p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0 || len > 63) {
			snprintf(err, errlen, "channel-names: name %u is %s", *n + 1,
			    len == 0 ? "empty" : "over 63 bytes");
			return -1;
		}
		if (*n == max) {
			snprintf(err, errlen, "channel-names: more names than the "
			    "%u channels", max);
			return -1;
		}
		memcpy(names[*n], p, len);
		names[(*n)++][len] = '\0';
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

static int
check_channel_names(const struct config *c, char *err, size_t errlen)
{
	static char names[RING_MAX_CHANNELS][64];
	uint32_t n;

	return channel_names_parse(c->channel_names, c->channels ?
	    c->channels : RING_MAX_CHANNELS, names, &n, err, errlen);
}

static int
check_multicast(const struct config *c, char *err, size_t errlen)
{
	char host[64], port[8], why[160];
	uint32_t g;
	uint16_t p;

	if (c->mcast_if[0] != '\0' && if_nametoindex(c->mcast_if) == 0) {
		snprintf(err, errlen, "multicast-interface: no interface %s",
		    c->mcast_if);
		return -1;
	}
	if (opt_hostport(c->sap, NULL, host, sizeof(host), port, sizeof(port),
	    why, sizeof(why)) == -1 || mcast_addr(host, port, &g, &p, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "sap: %s", why);
		return -1;
	}
	return 0;
}

int
config_check(struct config *c, char *err, size_t errlen)
{
	if (check_addr("native", c->native, err, errlen) == -1 ||
	    check_state(c, err, errlen) == -1 ||
	    check_addr("http", c->http, err, errlen) == -1 ||
	    check_source(c, err, errlen) == -1 ||
	    check_ring(c, err, errlen) == -1 ||
	    check_user(c, err, errlen) == -1 ||
	    check_channel_names(c, err, errlen) == -1 ||
	    auth_config_check(c, err, errlen) == -1 ||
	    check_multicast(c, err, errlen) == -1 ||
	    publish_check(c, err, errlen) == -1)
		return -1;
	return 0;
}
