/* http.c — test library: HTTP/1.1 requests, the JSON API, server-sent events. */
#define _GNU_SOURCE	/* strcasestr */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/http.h"
#include "tests/lib/v2.h"

/* Decode a chunked body in place; -1 if malformed. */
static int
http_unchunk(char *body)
{
	char *in = body, *out = body, *end;
	unsigned long n;

	for (;;) {
		n = strtoul(in, &end, 16);
		if (end == in || (end = strstr(end, "\r\n")) == NULL)
			return -1;
		if (n == 0)
			break;
		in = end + 2;
		if (strlen(in) < n)
			return -1;
		memmove(out, in, n);
		out += n;
		in += n + 2;
	}
	*out = '\0';
	return 0;
}

/* Read the whole answer until the server closes; malloc'd, or NULL. */
static char *
http_read_answer(int fd, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0, cap = 0;
	char *buf = NULL, *nb;
	ssize_t r;

	for (;;) {
		if (have + 4096 > cap) {
			if ((nb = realloc(buf, cap += 65536)) == NULL)
				break;
			buf = nb;
		}
		if ((now = clock_mono_ms()) >= end ||
		    poll(&pfd, 1, (int)(end - now)) != 1 ||
		    (r = read(fd, buf + have, cap - have - 1)) < 0)
			break;
		if (r == 0) {
			buf[have] = '\0';
			return buf;
		}
		have += (size_t)r;
	}
	free(buf);
	return NULL;
}

/* The status of a whole answer, its body (unchunked) in *resp; or -1. */
static int
http_parse_answer(char *buf, char **resp)
{
	int status;
	char *b;

	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 ||
	    (b = strstr(buf, "\r\n\r\n")) == NULL)
		return -1;
	*b = '\0';
	b += 4;
	if (strcasestr(buf, "transfer-encoding: chunked") != NULL &&
	    http_unchunk(b) == -1)
		return -1;
	if (resp != NULL)
		*resp = strdup(b);
	return status;
}

int
http_req(int port, const char *method, const char *path, const char *body,
    char **resp, int timeout_ms)
{
	const struct http_opts o = { NULL, NULL, NULL };

	return http_req_with(port, &o, method, path, body, resp, timeout_ms);
}

int
http_req_with(int port, const struct http_opts *o, const char *method,
    const char *path, const char *body, char **resp, int timeout_ms)
{
	char *head = NULL, *buf = NULL;
	int fd, status = -1, n;

	if (resp != NULL)
		*resp = NULL;
	if ((fd = v2_connect_from(port, o->src, 0, timeout_ms)) == -1)
		return -1;
	n = asprintf(&head, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
	    "Connection: close\r\nContent-Type: application/json\r\n"
	    "%s%s%s%sContent-Length: %zu\r\n\r\n", method, path, port,
	    o->token ? "Authorization: Bearer " : "", o->token ? o->token : "",
	    o->token ? "\r\n" : "", o->headers ? o->headers : "",
	    body ? strlen(body) : 0);
	if (n > 0 && v2_write_all(fd, head, (size_t)n) == 0 &&
	    (body == NULL || v2_write_all(fd, body, strlen(body)) == 0) &&
	    (buf = http_read_answer(fd, timeout_ms)) != NULL)
		status = http_parse_answer(buf, resp);
	free(buf);
	free(head);
	close(fd);
	return status;
}

json_t *
http_json(int port, const char *method, const char *path, const char *body,
    int *status)
{
	char *resp;
	json_t *o = NULL;
	int st = http_req(port, method, path, body, &resp, 10000);

	if (status != NULL)
		*status = st;
	if (resp != NULL)
		o = json_loads(resp, 0, NULL);
	free(resp);
	return o;
}

json_t *
http_get(int port, const char *path)
{
	int st;
	json_t *o = http_json(port, "GET", path, NULL, &st);

	if (st != 200) {
		json_decref(o);
		return NULL;
	}
	return o;
}

long long
http_get_int(int port, const char *path, const char *key, const char *sub)
{
	json_t *o = http_get(port, path), *v = json_object_get(o, key);
	long long x = -1;

	if (sub != NULL)
		v = json_object_get(v, sub);
	if (json_is_integer(v))
		x = (long long)json_integer_value(v);
	json_decref(o);
	return x;
}

json_t *
http_client(int port, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	return http_get(port, path);
}

pid_t
http_session_pid(int port, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	return (pid_t)http_get_int(port, path, "pid", NULL);
}

pid_t
http_child_pid(int port, const char *which)
{
	return (pid_t)http_get_int(port, "/api/status", which, "pid");
}

int
http_sse_open(struct http_sse *s, int port, int rcvbuf)
{
	static const char req[] = "GET /api/events HTTP/1.1\r\nHost: x\r\n"
	    "Accept: text/event-stream\r\n\r\n";

	s->len = 0;
	if ((s->fd = v2_connect(port, rcvbuf, 10000)) == -1)
		return -1;
	return v2_write_all(s->fd, req, sizeof(req) - 1);
}

/* The first whole event in the buffer if it is called name; consumed. */
static json_t *
http_sse_take(struct http_sse *s, const char *name, bool *had)
{
	char *sep, *ev, *data;
	size_t nl = strlen(name);
	json_t *o = NULL;

	s->buf[s->len] = '\0';
	if ((sep = strstr(s->buf, "\n\n")) == NULL) {
		*had = false;
		return NULL;
	}
	*had = true;
	*sep = '\0';
	ev = strstr(s->buf, "event: ");
	data = strstr(s->buf, "data: ");
	if (ev != NULL && data != NULL && strncmp(ev + 7, name, nl) == 0 &&
	    ev[7 + nl] == '\n')
		o = json_loads(data + 6, 0, NULL);
	s->len -= (size_t)(sep + 2 - s->buf);
	memmove(s->buf, sep + 2, s->len + 1);
	return o;
}

json_t *
http_sse_next(struct http_sse *s, const char *name, int timeout_ms, bool *eof)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	bool had;
	json_t *o;
	ssize_t r;

	if (eof != NULL)
		*eof = false;
	for (;;) {
		do
			if ((o = http_sse_take(s, name, &had)) != NULL)
				return o;
		while (had);
		if ((now = clock_mono_ms()) >= end ||
		    poll(&pfd, 1, (int)(end - now)) != 1)
			return NULL;
		r = read(s->fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
		if (r <= 0) {
			if (eof != NULL)
				*eof = true;
			return NULL;
		}
		s->len += (size_t)r;
	}
}

void
http_sse_close(struct http_sse *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
