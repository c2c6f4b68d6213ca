/* ringcast_state.c — `ringcast state`: list, show, export and forget saved mixes. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/ringcast.h"
#include "shared/clock.h"
#include "shared/opt.h"
#include "shared/mix.h"
#include "shared/msg.h"
#include "shared/state.h"

#define STATE_DIR_DEFAULT	"/var/lib/ringcast"
#define HTTP_TIMEOUT_MS		3000
#define HTTP_REPLY_MAX		(1024 * 1024)
#define JSON_OUT_FLAGS		(JSON_INDENT(2) | JSON_REAL_PRECISION(15))
#define CHANNELS_COL		32	/* longer channel lists are cut */

struct state_opts {
	const char	*dir;
	const char	*http;
	bool		 offline;
};

/* The records, for list and export. */
struct recs {
	struct state_record	*v;
	size_t			 n;
	size_t			 cap;
};

static void
state_usage(FILE *f)
{
	fprintf(f, "usage: ringcast state [-d STATEDIR] [--http HOST:PORT] "
	    "[--offline] COMMAND\n"
	    "  list         the saved listeners, one a line\n"
	    "  show ID      one listener's record as JSON\n"
	    "  export       every record as a JSON array (a backup)\n"
	    "  import FILE  bring back the records of an export, all or none:\n"
	    "               through the running ringcastd; with --offline and "
	    "no\n"
	    "               ringcastd answering, into STATEDIR directly\n"
	    "  forget ID    ask the running ringcastd to forget ID; with "
	    "--offline and\n"
	    "               no ringcastd answering, delete it from STATEDIR "
	    "directly\n"
	    "-d STATEDIR defaults to %s; --http to %s.  A ringcastd that asks "
	    "for\ncredentials takes an engineer's token from RINGCAST_TOKEN.\n",
	    STATE_DIR_DEFAULT, CLI_HTTP_DEFAULT);
}

/* ---- a minimal HTTP/1.0 client for the daemon's API ---- */

/* Waits for events on fd until the deadline: 1 ready, 0 timeout, -1. */
static int
wait_fd(int fd, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t now;
	int r;

	for (;;) {
		if ((now = clock_mono_ms()) >= deadline)
			return 0;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r >= 0 || errno != EINTR)
			return r < 0 ? -1 : r > 0;
	}
}

static uint64_t
deadline_in(int ms)
{
	return clock_mono_ms() + (uint64_t)ms;
}

/* A non-blocking connect under the deadline; errno says why on -1. */
static int
http_connect_one(const struct addrinfo *ai, uint64_t deadline)
{
	socklen_t len = sizeof(int);
	int fd, e = 0;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS)
		e = errno;
	else if (wait_fd(fd, POLLOUT, deadline) != 1)
		e = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		e = errno;
	if (e == 0)
		return fd;
	close(fd);
	errno = e;
	return -1;
}

static int
http_connect(const char *hp, uint64_t deadline)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char host[256], port[32], why[256];
	int fd = -1, r;

	if (opt_hostport(hp, NULL, host, sizeof(host), port, sizeof(port), why,
	    sizeof(why)) == -1) {
		warnx("--http: %s", why);
		errno = EINVAL;
		return -1;
	}
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0) {
		warnx("--http %s: %s", hp, gai_strerror(r));
		errno = EINVAL;
		return -1;
	}
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next)
		fd = http_connect_one(ai, deadline);
	freeaddrinfo(res);
	return fd;
}

static int
send_all(int fd, const char *buf, size_t len, uint64_t deadline)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, buf, len, MSG_NOSIGNAL)) > 0) {
			buf += n;
			len -= (size_t)n;
		} else if (n == -1 && errno == EAGAIN) {
			if (wait_fd(fd, POLLOUT, deadline) != 1)
				return -1;
		} else if (n == -1 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Everything until the peer closes, at most HTTP_REPLY_MAX bytes. */
static char *
recv_all(int fd, uint64_t deadline, size_t *len)
{
	char *buf, *p;
	size_t cap = 4096;
	ssize_t n;

	*len = 0;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	for (;;) {
		if (*len + 1 == cap) {
			if (cap >= HTTP_REPLY_MAX || (p = realloc(buf,
			    cap * 2)) == NULL)
				break;
			buf = p;
			cap *= 2;
		}
		n = recv(fd, buf + *len, cap - 1 - *len, 0);
		if (n > 0) {
			*len += (size_t)n;
			continue;
		}
		if (n == 0) {
			buf[*len] = '\0';
			return buf;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || wait_fd(fd, POLLIN, deadline) != 1)
			break;
	}
	free(buf);
	return NULL;
}

static int
http_parse(char *raw, struct http_reply *r)
{
	char *body;
	int minor;

	if (sscanf(raw, "HTTP/1.%d %3d", &minor, &r->status) != 2 ||
	    r->status < 100 || r->status > 599)
		return -1;
	if ((body = strstr(raw, "\r\n\r\n")) == NULL)
		return -1;
	r->body = strdup(body + 4);
	return r->body == NULL ? -1 : 0;
}

int
http_request(const char *hp, const char *method, const char *path,
    const char *body, struct http_reply *r)
{
	uint64_t deadline = deadline_in(HTTP_TIMEOUT_MS);
	const char *tok = getenv("RINGCAST_TOKEN");
	size_t blen = body != NULL ? strlen(body) : 0, len;
	char req[1024], *raw;
	int fd, n;

	memset(r, 0, sizeof(*r));
	if ((fd = http_connect(hp, deadline)) == -1) {
		if (errno == ECONNREFUSED)
			return 0;
		if (errno != EINVAL)
			warn("cannot reach ringcastd at %s", hp);
		return -1;
	}
	/* A daemon that asks for credentials: an engineer's token. */
	if (tok != NULL && strcspn(tok, "\r\n") != strlen(tok))
		tok = NULL;
	n = snprintf(req, sizeof(req), "%s %s HTTP/1.0\r\nHost: %s\r\n"
	    "%s%s%s%sContent-Length: %zu\r\n\r\n", method, path, hp,
	    tok ? "Authorization: Bearer " : "", tok ? tok : "",
	    tok ? "\r\n" : "", body ? "Content-Type: application/json\r\n" :
	    "", blen);
	raw = NULL;
	if (n > 0 && (size_t)n < sizeof(req) &&
	    send_all(fd, req, (size_t)n, deadline) == 0 &&
	    send_all(fd, body, blen, deadline) == 0)
		raw = recv_all(fd, deadline, &len);
	close(fd);
	if (raw == NULL || http_parse(raw, r) == -1) {
		warnx("ringcastd at %s did not answer %s %s with HTTP within "
		    "%d ms", hp, method, path, HTTP_TIMEOUT_MS);
		free(raw);
		return -1;
	}
	free(raw);
	return 0;
}

/* Percent-encodes all but RFC 3986's unreserved characters. */
static void
url_encode(const char *s, char *out, size_t outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0' && o + 4 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
}

/* ---- reading the state ---- */

struct state *
cli_state_open(const char *dir, bool write)
{
	struct state *s;
	char err[512];

	if (state_open(dir, !write, MIX_MAX_CHANNELS, 0, 0, &s, err,
	    sizeof(err)) != STATE_OK) {
		warnx("%s", err);
		return NULL;
	}
	return s;
}

static struct state *
open_ro(const struct state_opts *o)
{
	return cli_state_open(o->dir, false);
}

static int
recs_add(const struct state_record *rec, void *arg)
{
	struct recs *r = arg;
	struct state_record *v;

	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		if ((v = reallocarray(r->v, r->cap, sizeof(*v))) == NULL)
			return STATE_ESYS;
		r->v = v;
	}
	r->v[r->n++] = *rec;
	return 0;
}

static int
recs_load(const struct state_opts *o, struct recs *r)
{
	struct state *s;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((s = open_ro(o)) == NULL)
		return -1;
	if ((rc = state_each(s, recs_add, r)) != STATE_OK)
		warnx("%s: %s", o->dir, rc == STATE_ESYS ? strerror(errno) :
		    state_strerror(s, rc));
	state_close(s);
	if (rc != STATE_OK) {
		free(r->v);
		return -1;
	}
	return 0;
}

static int
do_export(void *ov, int argc, char **args)
{
	const struct state_opts *o = ov;
	struct recs r;
	json_t *a, *j;
	size_t i;
	int rc = CLI_OK;

	(void)argc;	/* cli_run checked the count */
	(void)args;
	if (recs_load(o, &r) == -1)
		return CLI_ERR;
	if ((a = json_array()) == NULL)
		rc = CLI_ERR;
	for (i = 0; a != NULL && i < r.n; i++)
		if ((j = state_record_json(&r.v[i])) == NULL ||
		    json_array_append_new(a, j) == -1)
			rc = CLI_ERR;
	if (rc == CLI_OK && (json_dumpf(a, stdout, JSON_OUT_FLAGS) == -1 ||
	    putchar('\n') == EOF || fflush(stdout) == EOF))
		rc = CLI_ERR;
	if (rc != CLI_OK)
		warnx("export: cannot write the records");
	json_decref(a);
	free(r.v);
	return rc;
}

static int
do_show(void *ov, int argc, char **args)
{
	const struct state_opts *o = ov;
	struct state_record rec;
	struct state *s;
	json_t *j;
	int rc;

	(void)argc;	/* cli_run checked the count */
	if ((s = open_ro(o)) == NULL)
		return CLI_ERR;
	rc = state_get(s, args[0], &rec);
	if (rc != STATE_OK) {
		warnx("%s: %s", args[0], state_strerror(s, rc));
		state_close(s);
		return CLI_ERR;
	}
	state_close(s);
	if (strcmp(rec.id, args[0]) != 0)
		fprintf(stderr, "%s is an alias of %s (an earlier launch of "
		    "the same app): its record follows\n", args[0], rec.id);
	if ((j = state_record_json(&rec)) == NULL ||
	    json_dumpf(j, stdout, JSON_OUT_FLAGS) == -1 ||
	    putchar('\n') == EOF) {
		json_decref(j);
		warnx("show: cannot write the record");
		return CLI_ERR;
	}
	json_decref(j);
	return CLI_OK;
}

/* ---- list ---- */

/* One page of GET /api/clients appended to all; the next offset or -1. */
static json_int_t
connected_page(const struct state_opts *o, json_int_t offset, json_t *all)
{
	struct http_reply r = { 0 };
	char path[64];
	json_t *j, *next;
	json_int_t rc = -1;

	snprintf(path, sizeof(path), "/api/clients?offset=%lld",
	    (long long)offset);
	if (http_request(o->http, "GET", path, NULL, &r) == -1 ||
	    r.status != 200) {
		free(r.body);
		return -2;
	}
	j = json_loads(r.body, 0, NULL);
	free(r.body);
	if (!json_is_array(json_object_get(j, "clients")) ||
	    json_array_extend(all, json_object_get(j, "clients")) == -1) {
		json_decref(j);
		return -2;
	}
	next = json_object_get(j, "next");
	if (json_is_integer(next) && json_integer_value(next) > offset)
		rc = json_integer_value(next);
	json_decref(j);
	return rc;
}

/*
 * Whom the daemon says is connected: the entries of GET /api/clients
 * ({"clients": [{"id", "connected", ...}], "next": offset or null}), or
 * NULL if no daemon answered.
 */
static json_t *
connected_fetch(const struct state_opts *o)
{
	json_int_t off = 0;
	json_t *all;
	int pages;

	if (o->offline || (all = json_array()) == NULL)
		return NULL;
	for (pages = 0; pages < 10000 && off >= 0; pages++)
		off = connected_page(o, off, all);
	if (off == -2) {
		json_decref(all);
		return NULL;
	}
	return all;
}

static const char *
is_connected(const json_t *list, const char *id)
{
	const json_t *e, *v;
	size_t i;

	if (list == NULL)
		return "?";
	json_array_foreach(list, i, e) {
		v = json_object_get(e, "id");
		if (!json_is_string(v) || strcmp(json_string_value(v), id) != 0)
			continue;
		v = json_object_get(e, "connected");
		return v == NULL || json_is_true(v) ? "yes" : "no";
	}
	return "no";
}

/* "0-3,8": the subscribed channels as ranges, cut with '+' if long. */
static void
channels_text(const struct mix *m, char *out, size_t outlen)
{
	uint32_t list[MIX_MAX_CHANNELS], n, i, j;
	size_t o = 0;
	int w;

	n = mix_channels(m, list);
	snprintf(out, outlen, "-");
	for (i = 0; i < n; i = j + 1) {
		for (j = i; j + 1 < n && list[j + 1] == list[j] + 1; j++)
			;
		w = j > i ? snprintf(out + o, outlen - o, "%s%u-%u", o ? "," :
		    "", list[i], list[j]) : snprintf(out + o, outlen - o,
		    "%s%u", o ? "," : "", list[i]);
		if (w < 0 || o + (size_t)w >= outlen - 1) {
			snprintf(out + (o < outlen - 2 ? o : outlen - 2),
			    outlen - (o < outlen - 2 ? o : outlen - 2), "+");
			return;
		}
		o += (size_t)w;
	}
}

static void
time_text(uint64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, outlen, "-");
}

/* Width on a terminal, near enough: UTF-8 continuation bytes take none. */
static int
text_width(const char *s)
{
	int w = 0;

	for (; *s != '\0'; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* "a, b": the identities a record was known by before, "-" if none. */
static void
aliases_text(const struct state_record *r, char *out, size_t outlen)
{
	size_t o = 0;
	uint32_t i;

	snprintf(out, outlen, "-");
	for (i = 0; i < r->naliases && o < outlen; i++)
		o += (size_t)snprintf(out + o, outlen - o, "%s%s", i ? ", " :
		    "", r->aliases[i]);
}

static void
list_row(const struct state_record *r, int idw, const char *conn)
{
	char chans[CHANNELS_COL + 1], seen[32];
	char aliases[STATE_ALIASES_MAX * (STATE_ID_MAX + 2)];
	const char *name = r->name[0] != '\0' ? r->name : r->device[0] !=
	    '\0' ? r->device : "-";

	channels_text(&r->mix, chans, sizeof(chans));
	time_text(r->last_seen_ms, seen, sizeof(seen));
	aliases_text(r, aliases, sizeof(aliases));
	printf("%-*s  %s%*s  %-4s %-19s  %10u  %-*s  %s\n", idw, r->id, name,
	    20 - text_width(name) > 0 ? 20 - text_width(name) : 0, "", conn,
	    seen, r->reconnects, CHANNELS_COL / 2, chans, aliases);
}

static int
do_list(void *ov, int argc, char **args)
{
	const struct state_opts *o = ov;
	struct recs r;
	json_t *conn;
	size_t i;
	int idw = 2;

	(void)argc;	/* cli_run checked the count */
	(void)args;
	if (recs_load(o, &r) == -1)
		return CLI_ERR;
	conn = connected_fetch(o);
	for (i = 0; i < r.n; i++)
		if ((int)strlen(r.v[i].id) > idw)
			idw = (int)strlen(r.v[i].id);
	printf("%-*s  %-20s  %-4s %-19s  %10s  %-*s  %s\n", idw, "ID", "NAME",
	    "CONN", "LAST SEEN", "RECONNECTS", CHANNELS_COL / 2, "CHANNELS",
	    "ALIASES");
	for (i = 0; i < r.n; i++)
		list_row(&r.v[i], idw, is_connected(conn, r.v[i].id));
	if (conn == NULL && !o->offline)
		printf("(no answer from ringcastd at %s: CONN unknown)\n",
		    o->http);
	json_decref(conn);
	free(r.v);
	return fflush(stdout) == EOF ? CLI_ERR : CLI_OK;
}

/* ---- writing with no daemon: forget and import --offline ---- */

/*
 * Only with no daemon answering is the state ours to write, and only if
 * no other process has it open.  create: an import may make a new state
 * directory; forget wants the clear errors of a missing one.  NULL: said.
 */
static struct state *
open_offline(const struct state_opts *o, bool create)
{
	struct state *s;
	pid_t pid;
	int rc;

	if ((rc = state_busy(o->dir, &pid)) == 1) {
		warnx("%s is open in process %d (ringcastd?), which alone may "
		    "write it: let it answer on --http, or stop it first",
		    o->dir, (int)pid);
		return NULL;
	}
	if (rc == -1 && errno != ENOENT && errno != ENOTDIR) {
		warn("cannot tell whether ringcastd has %s open", o->dir);
		return NULL;
	}
	if (!create) {
		if ((s = open_ro(o)) == NULL)
			return NULL;
		state_close(s);
	}
	return cli_state_open(o->dir, true);
}

/* ---- forget ---- */

static int
forget_offline(const struct state_opts *o, const char *id)
{
	struct state *s;
	int rc;

	if ((s = open_offline(o, false)) == NULL)
		return CLI_ERR;
	rc = state_del(s, id);
	if (rc != STATE_OK)
		warnx("%s: %s", id, state_strerror(s, rc));
	else
		printf("forgot %s (offline, in %s)\n", id, o->dir);
	state_close(s);
	return rc == STATE_OK ? CLI_OK : CLI_ERR;
}

static int
forget_reply(const struct state_opts *o, const char *id, struct http_reply *r)
{
	json_t *j;
	const char *why = NULL;

	if (r->status >= 200 && r->status < 300) {
		printf("forgot %s (ringcastd at %s)\n", id, o->http);
		return CLI_OK;
	}
	if (r->status == 404) {
		warnx("%s: ringcastd has no saved state for it", id);
		return CLI_ERR;
	}
	j = json_loads(r->body, 0, NULL);
	if (json_is_string(json_object_get(j, "error")))
		why = json_string_value(json_object_get(j, "error"));
	warnx("%s: ringcastd at %s answered %d%s%s", id, o->http, r->status,
	    why ? ": " : "", why ? why : "");
	json_decref(j);
	return CLI_ERR;
}

static int
do_forget(void *ov, int argc, char **args)
{
	const struct state_opts *o = ov;
	struct http_reply r;
	char path[3 * STATE_ID_MAX + 32], enc[3 * STATE_ID_MAX + 1];
	int rc;

	(void)argc;	/* cli_run checked the count */
	if (!state_id_valid(args[0])) {
		warnx("'%s' is not an identity: 1..%d bytes of printable ASCII",
		    args[0], STATE_ID_MAX - 1);
		return CLI_ERR;
	}
	url_encode(args[0], enc, sizeof(enc));
	snprintf(path, sizeof(path), "/api/clients/%s", enc);
	if (http_request(o->http, "DELETE", path, NULL, &r) == -1)
		return CLI_ERR;
	if (r.status != 0) {
		rc = forget_reply(o, args[0], &r);
		free(r.body);
		return rc;
	}
	if (!o->offline) {
		warnx("no ringcastd answers at %s; if it is not running, "
		    "'ringcast state --offline forget %s' deletes the record "
		    "from %s directly", o->http, args[0], o->dir);
		return CLI_ERR;
	}
	return forget_offline(o, args[0]);
}

/* ---- import ---- */

#define IMPORT_FILE_MAX		(64u << 20)
#define IMPORT_BODY_MAX		(60 * 1024)	/* under the broker's 64 KiB */

/* The records of an export (a JSON array), each checked; -1 said why. */
static int
import_read(const char *path, struct recs *r)
{
	json_error_t je;
	json_t *a, *v;
	struct stat st;
	char err[256];
	size_t i;

	memset(r, 0, sizeof(*r));
	if (stat(path, &st) == -1) {
		warn("%s", path);
		return -1;
	}
	if (st.st_size > (off_t)IMPORT_FILE_MAX) {
		warnx("%s: over %u MiB", path, IMPORT_FILE_MAX >> 20);
		return -1;
	}
	if ((a = json_load_file(path, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		warnx("%s:%d: %s", path, je.line, je.text);
		return -1;
	}
	if (!json_is_array(a) || (r->v = calloc(json_array_size(a) + 1,
	    sizeof(*r->v))) == NULL) {
		warnx("%s: not a JSON array of records (what `ringcast state "
		    "export` writes)", path);
		json_decref(a);
		return -1;
	}
	json_array_foreach(a, i, v)
		if (state_record_from_json(v, MIX_MAX_CHANNELS, &r->v[i], err,
		    sizeof(err)) != STATE_OK) {
			warnx("%s: record %zu (%s): %s", path, i + 1,
			    json_string_value(json_object_get(v, "id")) ?
			    json_string_value(json_object_get(v, "id")) : "?",
			    err);
			json_decref(a);
			free(r->v);
			return -1;
		}
	r->n = json_array_size(a);
	json_decref(a);
	return 0;
}

/*
 * The next batch from *next on: as many records as fit one request (at
 * most API_IMPORT_BATCH, IMPORT_BODY_MAX bytes).  NULL if even one does
 * not fit (said).
 */
static char *
batch_json(const struct recs *r, size_t *next, uint32_t token)
{
	json_t *o, *a;
	char *text = NULL, *try;
	size_t i;

	for (i = *next; i < r->n && i - *next < API_IMPORT_BATCH; i++) {
		a = json_array();
		for (size_t k = *next; k <= i; k++)
			json_array_append_new(a, state_record_json(&r->v[k]));
		o = json_pack("{s:I, s:b, s:o}", "import", (json_int_t)token,
		    "last", i + 1 == r->n, "records", a);
		try = o != NULL ? json_dumps(o, STATE_RECORD_JSON_FLAGS) : NULL;
		json_decref(o);
		if (try == NULL || strlen(try) > IMPORT_BODY_MAX) {
			free(try);
			break;
		}
		free(text);
		text = try;
	}
	if (text == NULL)
		warnx("record %s is too large to send", r->v[*next].id);
	*next = i;
	return text;
}

static void
import_refused(const struct state_opts *o, const struct http_reply *r)
{
	json_t *j = json_loads(r->body ? r->body : "", 0, NULL), *v;
	const char *why = json_string_value(json_object_get(j, "error"));
	size_t i;

	warnx("import refused by ringcastd at %s (%d): %s; nothing was "
	    "imported", o->http, r->status, why ? why : "no reason given");
	json_array_foreach(json_object_get(j, "live"), i, v)
		fprintf(stderr, "  connected now: %s\n", json_string_value(v));
	json_decref(j);
}

/* Batches to the daemon: CLI_OK with *answered false if none is there. */
static int
import_online(const struct state_opts *o, const struct recs *r,
    bool *answered)
{
	struct http_reply rep;
	uint32_t token = 0;
	size_t next = 0;
	char *body;
	json_t *j;
	int rc;

	*answered = false;
	do {
		if ((body = batch_json(r, &next, token)) == NULL)
			return CLI_ERR;
		rc = http_request(o->http, "POST", "/api/state/import", body,
		    &rep);
		free(body);
		if (rc == -1)
			return CLI_ERR;
		if (rep.status == 0 && *answered) {
			warnx("%s stopped answering during the import: its "
			    "last batch was not committed, nothing was "
			    "imported", o->http);
			return CLI_ERR;
		}
		if (rep.status == 0)
			return CLI_OK;	/* nobody there */
		*answered = true;
		if (rep.status != 200) {
			import_refused(o, &rep);
			free(rep.body);
			return CLI_ERR;
		}
		j = json_loads(rep.body, 0, NULL);
		token = (uint32_t)json_integer_value(json_object_get(j,
		    "import"));
		json_decref(j);
		free(rep.body);
		if (token == 0 && next < r->n) {
			warnx("%s: an import answer without its number: "
			    "nothing was imported", o->http);
			return CLI_ERR;
		}
	} while (next < r->n);
	printf("imported %zu records (ringcastd at %s)\n", r->n, o->http);
	return CLI_OK;
}

static int
import_offline(const struct state_opts *o, const struct recs *r)
{
	struct state *s;
	int rc;

	if ((s = open_offline(o, true)) == NULL)
		return CLI_ERR;
	if ((rc = state_import(s, r->v, r->n)) != STATE_OK)
		warnx("nothing imported: %s", state_strerror(s, rc));
	else
		printf("imported %zu records (offline, in %s)\n", r->n, o->dir);
	state_close(s);
	return rc == STATE_OK ? CLI_OK : CLI_ERR;
}

static int
do_import(void *ov, int argc, char **args)
{
	const struct state_opts *o = ov;
	struct recs r;
	bool answered;
	int rc;

	(void)argc;
	if (import_read(args[0], &r) == -1)
		return CLI_ERR;
	if (r.n == 0) {
		printf("%s holds no records: nothing to import\n", args[0]);
		free(r.v);
		return CLI_OK;
	}
	rc = import_online(o, &r, &answered);
	if (rc == CLI_OK && !answered) {
		if (o->offline)
			rc = import_offline(o, &r);
		else {
			warnx("no ringcastd answers at %s; if it is not running, "
			    "'ringcast state --offline import %s' writes to %s "
			    "directly", o->http, args[0], o->dir);
			rc = CLI_ERR;
		}
	}
	free(r.v);
	return rc;
}

/* ---- dispatch ---- */

static const struct cli_verb state_cmds[] = {
	{ "list",	0, 0,	do_list },
	{ "show",	1, 1,	do_show },
	{ "export",	0, 0,	do_export },
	{ "forget",	1, 1,	do_forget },
	{ "import",	1, 1,	do_import },
};

#define SOPT(f)	offsetof(struct state_opts, f)

int
cmd_state(int argc, char **argv)
{
	static const struct cli_opt opts[] = {
		{ "dir", 'd', false, SOPT(dir) },
		{ "http", 0, false, SOPT(http) },
		{ "offline", 0, true, SOPT(offline) },
	};
	static const struct cli_sub sub = { "ringcast state", opts, 3,
	    state_usage, state_cmds, sizeof(state_cmds) /
	    sizeof(state_cmds[0]) };
	struct state_opts o = { STATE_DIR_DEFAULT, CLI_HTTP_DEFAULT, false };

	return cli_run(&sub, &o, argc, argv);
}
