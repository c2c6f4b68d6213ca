/* v2.c — test library: the one v2 (native protocol) client of the tests and benchmarks. */
#define _GNU_SOURCE
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/v2.h"

int
v2_connect(int port, int rcvbuf, int timeout_ms)
{
	return v2_connect_from(port, NULL, rcvbuf, timeout_ms);
}

int
v2_connect_from(int port, const char *src, int rcvbuf, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct pollfd pfd;
	socklen_t el = sizeof(int);
	int fd, e = 0, one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (src != NULL && (inet_pton(AF_INET, src, &me.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&me, sizeof(me)) == -1)) {
		close(fd);
		return -1;
	}
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (errno != EINPROGRESS || poll(&pfd, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 ||
		    e != 0) {
			close(fd);
			return -1;
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int
v2_local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t l = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &l) == -1)
		return -1;
	return ntohs(a.sin_port);
}

int
v2_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && poll(&pfd, 1, 10000) == 1)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
v2_send_ctl(int fd, json_t *obj)
{
	uint8_t *buf;
	size_t len;
	int rc = -1;

	if (obj != NULL && proto_control_encode(obj, json_is_true(
	    json_object_get(obj, "rf_mode")), &buf, &len) == PROTO_OK) {
		rc = v2_write_all(fd, buf, len);
		free(buf);
	}
	json_decref(obj);
	return rc;
}

json_t *
v2_hello(const char *client_id, const char *device_uuid)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:b, s:s}",
	    "type", "handshake", "client_id", client_id,
	    "client_type", "android", "protocol_version", 2,
	    "rf_mode", 1, "persistent", 1, "auto_reconnect", 1,
	    "optimized", 1, "device_name", "test phone");

	if (o != NULL && device_uuid != NULL)
		json_object_set_new(o, "device_uuid", json_string(device_uuid));
	return o;
}

json_t *
v2_channels(int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer(i));
	return json_pack("{s:o}", "channels", a);
}

const char *
v2_str(const json_t *o, const char *key)
{
	const char *t = json_string_value(json_object_get(o, key));

	return t ? t : "";
}

int
v2_init(struct v2c *c, int fd, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->cap = cap;
	c->mask_words = 1;
	if ((c->buf = malloc(cap)) == NULL) {
		v2_close(c);
		return -1;
	}
	return 0;
}

int
v2_open(struct v2c *c, int port, json_t *hello, int timeout_ms)
{
	return v2_open_from(c, port, NULL, hello, timeout_ms);
}

int
v2_open_from(struct v2c *c, int port, const char *src, json_t *hello,
    int timeout_ms)
{
	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (v2_init(c, v2_connect_from(port, src, 0, timeout_ms), V2_BUF) ==
	    -1 ||
	    c->fd == -1) {
		v2_close(c);
		json_decref(hello);
		return -1;
	}
	return v2_send_ctl(c->fd, hello);
}

/* Wait for one control message of this type and drop it; 0 or -1. */
static int
v2_skip_ctl(struct v2c *c, const char *type, int timeout_ms)
{
	json_t *o = v2_recv_ctl(c, type, timeout_ms, NULL);

	json_decref(o);
	return o != NULL ? 0 : -1;
}

int
v2_join(struct v2c *c, int port, const char *id, json_t *mix, int timeout_ms)
{
	return v2_join_hello(c, port, v2_hello(id, NULL), mix, timeout_ms);
}

int
v2_join_hello(struct v2c *c, int port, json_t *hello, json_t *mix,
    int timeout_ms)
{
	if (v2_open(c, port, hello, timeout_ms) == -1) {
		json_decref(mix);
		return -1;
	}
	if (v2_skip_ctl(c, "handshake_response", timeout_ms) == -1 ||
	    v2_skip_ctl(c, "mix_state", timeout_ms) == -1)
		goto fail;
	if (mix == NULL)
		return 0;
	json_object_set_new(mix, "type", json_string("update_mix"));
	if (v2_send_ctl(c->fd, mix) == -1 ||
	    v2_skip_ctl(c, "mix_state", timeout_ms) == -1) {
		mix = NULL;
		goto fail;
	}
	return 0;
fail:
	json_decref(mix);
	v2_close(c);
	return -1;
}

void
v2_close(struct v2c *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->len = c->off = 0;
}

void
v2_reset(struct v2c *c)
{
	struct linger l = { 1, 0 };

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	v2_close(c);
}

int
v2_fill(struct v2c *c)
{
	ssize_t n;

	if (c->off > 0) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == c->cap)
		return V2_ERROR;	/* v2_next would have split it */
	while ((n = read(c->fd, c->buf + c->len, c->cap - c->len)) == -1 &&
	    errno == EINTR)
		;
	if (n == 0 || (n == -1 && errno == ECONNRESET))
		return V2_EOF;
	if (n == -1)
		return errno == EAGAIN ? V2_TIMEOUT : V2_ERROR;
	c->len += (size_t)n;
	return (int)n;
}

int
v2_next(struct v2c *c)
{
	size_t used;
	int rc;

	rc = proto_split(c->buf + c->off, c->len - c->off,
	    c->cap - PROTO_HDR_LEN, &c->hdr, &c->payload, &used);
	if (rc == PROTO_OK) {
		c->off += used;
		return V2_MSG;
	}
	return rc == PROTO_EMORE ? V2_MORE : V2_ERROR;
}

int
v2_drain(struct v2c *c, v2_msg_fn fn, void *arg)
{
	uint64_t now;
	int rc;

	if ((rc = v2_fill(c)) == V2_TIMEOUT)
		return 0;
	if (rc <= 0)
		return -1;
	now = clock_mono_ns();
	while ((rc = v2_next(c)) == V2_MSG)
		if (fn(arg, c, now) == -1)
			return -1;
	return rc == V2_MORE ? 0 : -1;
}

int
v2_recv(struct v2c *c, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	int rc;

	for (;;) {
		if ((rc = v2_next(c)) != V2_MORE)
			return rc;
		if ((now = clock_mono_ms()) >= end)
			return V2_TIMEOUT;
		if ((rc = poll(&pfd, 1, (int)(end - now))) == -1 &&
		    errno != EINTR)
			return V2_ERROR;
		if (rc == 1 && (rc = v2_fill(c)) <= 0 && rc != V2_TIMEOUT)
			return rc;
	}
}

json_t *
v2_recv_ctl(struct v2c *c, const char *type, int timeout_ms, bool *audio_seen)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	enum proto_ctl t;
	json_t *o;

	while ((now = clock_mono_ms()) < end) {
		if (v2_recv(c, (int)(end - now)) != V2_MSG)
			return NULL;
		if (c->hdr.type == PROTO_TYPE_AUDIO) {
			if (audio_seen != NULL)
				*audio_seen = true;
			continue;
		}
		if (proto_control_parse(c->payload, c->hdr.length, &o, &t) !=
		    PROTO_OK)
			return NULL;
		if (type == NULL || strcmp(v2_str(o, "type"), type) == 0)
			return o;
		json_decref(o);
	}
	return NULL;
}

int
v2_recv_audio(struct v2c *c, struct proto_audio *a, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	int rc;

	while ((now = clock_mono_ms()) < end) {
		if ((rc = v2_recv(c, (int)(end - now))) != V2_MSG)
			return rc;
		if (c->hdr.type == PROTO_TYPE_AUDIO)
			return proto_audio_decode(&c->hdr, c->payload,
			    c->mask_words, a) == PROTO_OK ? V2_MSG : V2_ERROR;
	}
	return V2_TIMEOUT;
}

int
v2_wait_eof(struct v2c *c, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	int rc;

	while ((now = clock_mono_ms()) < end)
		if ((rc = v2_recv(c, (int)(end - now))) != V2_MSG)
			return rc;
	return V2_TIMEOUT;
}
