/* http.h — test library: HTTP/1.1 requests, the JSON API, server-sent events. */
#ifndef RINGCAST_HTTP_H
#define RINGCAST_HTTP_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * One request on its own connection (Connection: close); the status, with
 * the body (malloc'd, NUL-terminated, chunked encoding undone) in *resp; -1
 * on a transport failure (*resp NULL).  resp NULL: the body is not wanted.
 */
int	http_req(int port, const char *method, const char *path,
	    const char *body, char **resp, int timeout_ms);
/* What a request may add: a source address, a token, header lines. */
struct http_opts {
	const char	*src;		/* a local address, e.g. "127.0.0.2" */
	const char	*token;		/* Authorization: Bearer token */
	const char	*headers;	/* "Name: value\r\n" lines */
};
/* http_req with those. */
int	http_req_with(int port, const struct http_opts *o, const char *method,
	    const char *path, const char *body, char **resp, int timeout_ms);
/* One request; its body as JSON whatever the status (NULL if none). */
json_t	*http_json(int port, const char *method, const char *path,
	    const char *body, int *status);
/* GET path as JSON; NULL unless 200. */
json_t	*http_get(int port, const char *path);
/* An integer field of GET path (sub: one level down in key); -1 if none. */
long long http_get_int(int port, const char *path, const char *key,
	    const char *sub);
/* GET /api/clients/<id>; NULL unless 200. */
json_t	*http_client(int port, const char *id);
/* The session pid of a connected identity, or -1. */
pid_t	http_session_pid(int port, const char *id);
/* The pid of a child in /api/status ("capture", "broker"), or -1. */
pid_t	http_child_pid(int port, const char *which);

/* A subscriber of /api/events: a socket and what it read but not parsed. */
struct http_sse {
	int	 fd;
	size_t	 len;
	char	 buf[256 * 1024];
};

/* Connect and ask for /api/events; rcvbuf > 0 shrinks the socket's buffer. */
int	http_sse_open(struct http_sse *s, int port, int rcvbuf);
/*
 * The next event called name (others are skipped), its data as JSON; NULL
 * on timeout or close; *eof (if given) tells a close apart.
 */
json_t	*http_sse_next(struct http_sse *s, const char *name, int timeout_ms,
	    bool *eof);
void	http_sse_close(struct http_sse *s);

#endif
