/* broker_static.c — the web UI's files, read once at start and served from memory. */
/*
 * static_init runs before the broker drops privileges and chroots: every
 * regular file of --web-dir (no subdirectories) is read into memory, each
 * at most STATIC_FILE_MAX bytes and all of them STATIC_TOTAL_MAX, with its
 * Content-Type from the extension and an ETag from its bytes.  static_serve
 * never touches the filesystem.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shared/log.h"
#include "broker/broker.h"

#define STATIC_FILE_MAX		(1024 * 1024)
#define STATIC_TOTAL_MAX	(4 * 1024 * 1024)
#define STATIC_FILES_MAX	64

struct asset {
	char		 path[128];	/* "/index.html" */
	const char	*ctype;
	char		 etag[24];
	char		*data;
	size_t		 len;
};

static struct asset assets[STATIC_FILES_MAX];
static size_t nassets;

static const struct {
	const char	*ext;
	const char	*ctype;
} types[] = {
	{ ".html", "text/html; charset=utf-8" },
	{ ".js", "text/javascript; charset=utf-8" },
	{ ".css", "text/css; charset=utf-8" },
	{ ".svg", "image/svg+xml" },
	{ ".png", "image/png" },
	{ ".ico", "image/x-icon" },
	{ ".json", "application/json" },
	{ ".webmanifest", "application/manifest+json" },
	{ ".txt", "text/plain; charset=utf-8" },
};

static const char *
ctype_of(const char *name)
{
	const char *dot = strrchr(name, '.');
	size_t i;

	for (i = 0; dot != NULL && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(dot, types[i].ext) == 0)
			return types[i].ctype;
	return NULL;
}

/* FNV-1a, 64 bits: enough to tell versions of a file apart. */
static void
etag_of(struct asset *a)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < a->len; i++)
		h = (h ^ (unsigned char)a->data[i]) * 0x100000001b3ull;
	snprintf(a->etag, sizeof(a->etag), "\"%016llx\"", (unsigned long long)h);
}

static int
load(const char *dir, const char *name, size_t *total)
{
	struct asset *a = &assets[nassets];
	char path[4096];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (stat(path, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	if ((a->ctype = ctype_of(name)) == NULL || strlen(name) + 2 >
	    sizeof(a->path))
		return 0;
	if (st.st_size > STATIC_FILE_MAX || *total + (size_t)st.st_size >
	    STATIC_TOTAL_MAX || nassets == STATIC_FILES_MAX) {
		log_warnx("web UI: %s: over the limits (%d KiB a file, %d KiB "
		    "in all, %d files): not served", path, STATIC_FILE_MAX /
		    1024, STATIC_TOTAL_MAX / 1024, STATIC_FILES_MAX);
		return -1;
	}
	if ((f = fopen(path, "rb")) == NULL ||
	    (a->data = malloc((size_t)st.st_size + 1)) == NULL ||
	    fread(a->data, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		log_warn("web UI: %s", path);
		if (f != NULL)
			fclose(f);
		free(a->data);
		a->data = NULL;
		return -1;
	}
	fclose(f);
	a->len = (size_t)st.st_size;
	snprintf(a->path, sizeof(a->path), "/%s", name);
	etag_of(a);
	*total += a->len;
	nassets++;
	return 0;
}

void
static_init(const struct broker_config *cfg)
{
	struct dirent *de;
	size_t total = 0;
	DIR *d;

	if (cfg->web_dir == NULL)
		return;
	if ((d = opendir(cfg->web_dir)) == NULL) {
		log_warn("web UI: %s", cfg->web_dir);
		return;
	}
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && load(cfg->web_dir, de->d_name,
		    &total) == -1)
			break;
	closedir(d);
	log_debug("web UI: %zu files, %zu bytes from %s", nassets, total,
	    cfg->web_dir);
}

static const struct asset *
find(const char *path)
{
	size_t i;

	if (path == NULL || strcmp(path, "/") == 0)
		path = "/index.html";
	for (i = 0; i < nassets; i++)
		if (strcmp(assets[i].path, path) == 0)
			return &assets[i];
	return NULL;
}

void
static_serve(struct evhttp_request *req)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	const struct asset *a;
	const char *inm;

	a = find(evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req)));
	if (a == NULL) {
		http_error(req, 404, nassets ? "not found" :
		    "not found (the web UI is not installed: see --web-dir)");
		return;
	}
	evhttp_add_header(h, "ETag", a->etag);
	evhttp_add_header(h, "Content-Security-Policy", "default-src 'self'; "
	    "connect-src 'self'; media-src 'self'; img-src 'self' data:; "
	    "frame-ancestors 'none'");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	inm = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "If-None-Match");
	if (inm != NULL && strcmp(inm, a->etag) == 0) {
		http_send(req, 304, a->ctype, "", 0);
		return;
	}
	http_send(req, 200, a->ctype, a->data, a->len);
}
