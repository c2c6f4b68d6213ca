/* v2client.h — test helpers for ringcastd: the daemon, minimal v2 clients, HTTP. */
#ifndef RINGCAST_V2CLIENT_H
#define RINGCAST_V2CLIENT_H

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <jansson.h>

#include "shared/mix.h"
#include "shared/proto.h"
#include "tests/testutil.h"

/* ---- the daemon ---- */

struct rcd {
	pid_t	pid;
	int	native_port;
	int	http_port;
	char	dir[128];	/* temp dir: state/, ringcastd.log */
	char	ring[64];
	char	log[160];
};

static inline int
rcd_mkdir(struct rcd *d, const char *tag)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/rc-test-%d-%s-XXXXXX",
	    (int)getpid(), tag);
	snprintf(d->ring, sizeof(d->ring), "%s", tu_name(tag));
	if (mkdtemp(d->dir) == NULL)
		return -1;
	snprintf(d->log, sizeof(d->log), "%s/ringcastd.log", d->dir);
	return 0;
}

static inline int
rcd_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static inline void
rcd_rmdir(struct rcd *d)
{
	if (d->dir[0] != '\0')
		nftw(d->dir, rcd_rm_one, 16, FTW_DEPTH | FTW_PHYS);
	d->dir[0] = '\0';
}

/* Parse "native HOST:PORT\nhttp HOST:PORT\nready\n" from the notify pipe. */
static inline int
rcd_read_notify(struct rcd *d, int fd, int timeout_ms)
{
	char buf[512], *p;
	size_t have = 0;
	uint64_t end = tu_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (strstr(buf, "ready\n") == NULL || have == 0) {
		if (tu_now_ms() >= end || poll(&pfd, 1, (int)(end -
		    tu_now_ms())) <= 0)
			return -1;
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0)
			return -1;
		have += n;
		buf[have] = '\0';
	}
	if ((p = strstr(buf, "native ")) == NULL ||
	    (p = strrchr(strtok(p, "\n"), ':')) == NULL)
		return -1;
	d->native_port = atoi(p + 1);
	if ((p = strstr(p + strlen(p) + 1, "http ")) == NULL ||
	    (p = strrchr(strtok(p, "\n"), ':')) == NULL)
		return -1;
	d->http_port = atoi(p + 1);
	return d->native_port > 0 && d->http_port > 0 ? 0 : -1;
}

/*
 * Start ringcastd on ports chosen by the kernel, state and log in d->dir,
 * extra arguments appended; wait for its readiness.  0 or -1.
 */
static inline int
rcd_start(struct rcd *d, const char *const *extra, int timeout_ms)
{
	char state[192];
	const char *argv[40];
	int n = 0, p[2], lfd, rc;

	snprintf(state, sizeof(state), "%s/state", d->dir);
	argv[n++] = tu_prog("ringcastd");
	argv[n++] = "--native";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--http";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--state";
	argv[n++] = state;
	argv[n++] = "--ring";
	argv[n++] = d->ring;
	argv[n++] = "--notify-fd";
	argv[n++] = "3";
	while (extra != NULL && *extra != NULL && n < 38)
		argv[n++] = *extra++;
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((lfd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	if ((d->pid = fork()) == -1)
		return -1;
	if (d->pid == 0) {
		int dn = open("/dev/null", O_RDONLY);

		dup2(dn, 0);
		dup2(lfd, 1);
		dup2(lfd, 2);
		dup2(p[1], 3);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(p[1]);
	close(lfd);
	rc = rcd_read_notify(d, p[0], timeout_ms);
	close(p[0]);
	return rc;
}

/* SIGTERM and wait; the wait status or -1. */
static inline int
rcd_stop(struct rcd *d, int timeout_ms)
{
	int st;

	if (d->pid <= 0)
		return -1;
	st = tu_stop(d->pid, timeout_ms);
	d->pid = 0;
	return st;
}

static inline void
rcd_kill(struct rcd *d)
{
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGKILL);
	tu_wait_exit(d->pid, 10000);
	d->pid = 0;
}

/* Print the daemon's log (for a failed test). */
static inline void
rcd_dump_log(const struct rcd *d, size_t tail)
{
	char buf[8192];
	ssize_t n;
	off_t size;
	int fd;

	if ((fd = open(d->log, O_RDONLY)) == -1)
		return;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > (off_t)tail ? size - (off_t)tail : 0, SEEK_SET);
	fprintf(stderr, "---- %s (last %zu bytes)\n", d->log, tail);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		(void)!write(2, buf, n);
	close(fd);
}

/*
 * An assertion (Criterion's, in the including test) that shows the daemon's
 * log when it fails; cond is evaluated once.
 */
#define rcd_check(d, cond, ...) do {					\
	bool ok_ = (cond);						\
									\
	if (!ok_)							\
		rcd_dump_log((d), 6000);				\
	cr_assert(ok_, __VA_ARGS__);					\
} while (0)

/* A test's teardown: the daemon stopped (or killed), its ring and directory gone. */
static inline void
rcd_cleanup(struct rcd *d)
{
	if (d->pid > 0 && rcd_stop(d, 10000) == -1)
		rcd_kill(d);
	if (d->ring[0] != '\0')
		shm_unlink(d->ring);
	rcd_rmdir(d);
}


/* ---- TCP ---- */

static inline int
v2_connect(int port, int timeout_ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct pollfd pfd;
	socklen_t el = sizeof(int);
	int fd, e = 0, fl;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
		if (errno != EINPROGRESS || poll(&pfd, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) == -1 ||
		    e != 0) {
			close(fd);
			return -1;
		}
	}
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

static inline int
v2_write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* ---- a minimal v2 client ---- */

#define V2_BUF	(256 * 1024)

struct v2c {
	int		 fd;
	uint8_t		*buf;
	size_t		 len;		/* bytes buffered */
	size_t		 off;		/* start of the unparsed bytes */
	struct proto_hdr hdr;		/* the last message */
	const uint8_t	*payload;
};

static inline void
v2_close(struct v2c *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Close with an RST instead of a FIN. */
static inline void
v2_reset(struct v2c *c)
{
	struct linger l = { 1, 0 };

	if (c->fd >= 0)
		setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	v2_close(c);
}

static inline int
v2_send_ctl(struct v2c *c, json_t *obj)	/* steals obj */
{
	uint8_t *buf;
	size_t len;
	int rc = -1;

	if (obj != NULL && proto_control_encode(obj, true, &buf, &len) ==
	    PROTO_OK) {
		rc = v2_write_all(c->fd, buf, len);
		free(buf);
	}
	json_decref(obj);
	return rc;
}

/* The deployed app's handshake, with this identity. */
static inline json_t *
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

/* Connect and send this handshake (stolen). */
static inline int
v2_open_hello(struct v2c *c, int port, json_t *hello, int timeout_ms)
{
	int one = 1;

	memset(c, 0, sizeof(*c));
	if ((c->buf = malloc(V2_BUF)) == NULL ||
	    (c->fd = v2_connect(port, timeout_ms)) == -1) {
		free(c->buf);
		c->buf = NULL;
		c->fd = -1;
		json_decref(hello);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return v2_send_ctl(c, hello);
}

/* Connect and send the deployed app's handshake. */
static inline int
v2_open(struct v2c *c, int port, const char *client_id,
    const char *device_uuid, int timeout_ms)
{
	return v2_open_hello(c, port, v2_hello(client_id, device_uuid),
	    timeout_ms);
}

/* The next whole message: 1, 0 on EOF, -1 on timeout or garbage. */
static inline int
v2_recv(struct v2c *c, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
	size_t used;
	ssize_t n;
	int rc;

	for (;;) {
		rc = proto_split(c->buf + c->off, c->len - c->off,
		    V2_BUF - PROTO_HDR_LEN, &c->hdr, &c->payload, &used);
		if (rc == PROTO_OK) {
			c->off += used;
			return 1;
		}
		if (rc != PROTO_EMORE)
			return -1;
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
		if (tu_now_ms() >= end ||
		    poll(&pfd, 1, (int)(end - tu_now_ms())) != 1)
			return -1;
		if ((n = read(c->fd, c->buf + c->len, V2_BUF - c->len)) == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return errno == ECONNRESET ? 0 : -1;
		if (n > 0)
			c->len += n;
	}
}

static inline const char *
v2_ctl_type(const json_t *o)
{
	const char *t = json_string_value(json_object_get(o, "type"));

	return t ? t : "";
}

/*
 * Skip audio until a control message (of this type, if not NULL); NULL on
 * timeout or EOF.  *audio_seen (if given) says whether audio came first.
 */
static inline json_t *
v2_recv_ctl(struct v2c *c, const char *type, int timeout_ms, bool *audio_seen)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	enum proto_ctl t;
	json_t *o;

	while (tu_now_ms() < end) {
		if (v2_recv(c, (int)(end - tu_now_ms())) != 1)
			return NULL;
		if (c->hdr.type == PROTO_TYPE_AUDIO) {
			if (audio_seen != NULL)
				*audio_seen = true;
			continue;
		}
		if (proto_control_parse(c->payload, c->hdr.length, &o, &t) !=
		    PROTO_OK)
			return NULL;
		if (type == NULL || strcmp(v2_ctl_type(o), type) == 0)
			return o;
		json_decref(o);
	}
	return NULL;
}

/* The next audio packet: 1, or -1 on timeout / EOF / garbage. */
static inline int
v2_recv_audio(struct v2c *c, struct proto_audio *a, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;

	while (tu_now_ms() < end) {
		if (v2_recv(c, (int)(end - tu_now_ms())) != 1)
			return -1;
		if (c->hdr.type == PROTO_TYPE_AUDIO)
			return proto_audio_decode(&c->hdr, c->payload, 1, a) ==
			    PROTO_OK ? 1 : -1;
	}
	return -1;
}

/* Wait for EOF (the server closed): 1, or 0 on timeout. */
static inline int
v2_wait_eof(struct v2c *c, int timeout_ms)
{
	uint64_t end = tu_now_ms() + timeout_ms;
	int rc;

	while (tu_now_ms() < end) {
		rc = v2_recv(c, (int)(end - tu_now_ms()));
		if (rc == 0)
			return 1;
		if (rc == -1 && tu_now_ms() < end)
			return 1;	/* garbage or an error: closed too */
	}
	return 0;
}

/* A mix from a mix_state or an API entry, for comparisons. */
static inline int
v2_mix(const json_t *o, uint32_t nch, struct mix *m)
{
	char err[128];

	return mix_from_json(m, nch, o, err, sizeof(err));
}

/* ---- a background listener checking that positions follow on ---- */

struct v2r {
	struct v2c	*c;
	pthread_t	 thr;
	atomic_int	 stop;
	atomic_int	 failed;
	atomic_ullong	 packets;
	atomic_ullong	 gaps;		/* positions that did not follow on */
	atomic_ullong	 backwards;	/* positions that went back */
	atomic_ullong	 max_gap_ns;	/* longest time between two packets */
	atomic_ullong	 last_ns;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
};

static inline void *
v2r_thread(void *arg)
{
	struct v2r *r = arg;
	struct proto_audio a;
	uint64_t prev = 0, t, last = 0;

	while (!atomic_load(&r->stop)) {
		if (v2_recv_audio(r->c, &a, 1000) != 1) {
			if (!atomic_load(&r->stop))
				atomic_store(&r->failed, 1);
			break;
		}
		t = tu_now_ns();
		if (last != 0 && t - last > atomic_load(&r->max_gap_ns))
			atomic_store(&r->max_gap_ns, t - last);
		last = t;
		if (prev != 0 && a.position != prev + a.frames)
			atomic_fetch_add(a.position < prev ? &r->backwards :
			    &r->gaps, 1);
		prev = a.position;
		pthread_mutex_lock(&r->mu);
		atomic_store(&r->last_ns, t);
		atomic_fetch_add(&r->packets, 1);
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
	}
	pthread_mutex_lock(&r->mu);
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

static inline int
v2r_start(struct v2r *r, struct v2c *c)
{
	pthread_condattr_t ca;

	memset(r, 0, sizeof(*r));
	r->c = c;
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return pthread_create(&r->thr, NULL, v2r_thread, r) ? -1 : 0;
}

static inline void
v2r_stop(struct v2r *r)
{
	if (r->c == NULL)
		return;
	atomic_store(&r->stop, 1);
	pthread_join(r->thr, NULL);
	r->c = NULL;
}

/* Wait until n more packets than now arrived: 1, or 0 (timeout, failure). */
static inline int
v2r_wait(struct v2r *r, uint64_t n, int timeout_ms)
{
	return tu_wait_count(&r->mu, &r->cv, &r->packets, &r->failed, n,
	    timeout_ms);
}

/* ---- HTTP/1.1 with Connection: close ---- */

/* Decode a chunked body in place; -1 if malformed. */
static inline int
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

/*
 * One request; returns the status and the body (malloc'd, NUL-terminated) in
 * *resp, or -1 on a transport failure.
 */
static inline int
http_req(int port, const char *method, const char *path, const char *body,
    char **resp, int timeout_ms)
{
	char head[1024], *buf = NULL, *b;
	size_t have = 0, cap = 0;
	uint64_t end = tu_now_ms() + timeout_ms;
	struct pollfd pfd;
	int fd, status = -1, n;
	ssize_t r;

	*resp = NULL;
	if ((fd = v2_connect(port, timeout_ms)) == -1)
		return -1;
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: 127.0.0.1"
	    "\r\nConnection: close\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n", method, path, body ? strlen(body) :
	    0);
	if (v2_write_all(fd, head, n) == -1 ||
	    (body && v2_write_all(fd, body, strlen(body)) == -1))
		goto out;
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	for (;;) {
		if (have + 4096 > cap && (buf = realloc(buf, cap += 65536)) ==
		    NULL)
			goto out;
		if (tu_now_ms() >= end || poll(&pfd, 1, (int)(end -
		    tu_now_ms())) != 1)
			goto out;
		if ((r = read(fd, buf + have, cap - have - 1)) < 0)
			goto out;
		if (r == 0)
			break;
		have += r;
	}
	buf[have] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 ||
	    (b = strstr(buf, "\r\n\r\n")) == NULL) {
		status = -1;
		goto out;
	}
	*b = '\0';
	b += 4;
	if (strcasestr(buf, "transfer-encoding: chunked") != NULL &&
	    http_unchunk(b) == -1) {
		status = -1;
		goto out;
	}
	*resp = strdup(b);
out:
	free(buf);
	close(fd);
	return status;
}

/* GET path as JSON; NULL unless 200. */
static inline json_t *
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
	if (st != 200) {
		json_decref(o);
		return NULL;
	}
	return o;
}

#endif
