/* test_broker.c — ringcast-broker: handshakes under a deadline, limits, the HTTP front end. */
#define _GNU_SOURCE	/* close_range */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "shared/clock.h"
#include "shared/msg.h"
#include "shared/spawn.h"
#include "shared/proto.h"
#include "tests/lib/tu.h"

/*
 * The test plays the supervisor: it binds both listeners on 127.0.0.1, keeps
 * one end of the parent channel and runs the real broker on the other.
 * Abusive clients connect from other loopback addresses (127.0.0.2 ...) so
 * the per-address limit does not also apply to the good client.
 */
struct bk {
	pid_t		pid;
	int		chan;
	int		nat_lfd, http_lfd;
	uint16_t	nat_port, http_port;
};

static struct bk B = { .pid = -1, .chan = -1, .nat_lfd = -1, .http_lfd = -1 };
static struct msg M;

static void
teardown(void)
{
	if (B.pid > 0)
		tu_stop(B.pid, 3000);
	B.pid = -1;
	if (B.chan >= 0)
		close(B.chan);
	if (B.nat_lfd >= 0)
		close(B.nat_lfd);
	if (B.http_lfd >= 0)
		close(B.http_lfd);
	B.chan = B.nat_lfd = B.http_lfd = -1;
}

TestSuite(broker, .fini = teardown);

static int
listener(uint16_t *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(fd, 128) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Next message from the broker within timeout_ms: 1, 0 on EOF, -1 on none. */
static int
broker_msg(int timeout_ms)
{
	struct pollfd pfd = { .fd = B.chan, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return msg_recv(B.chan, ROLE_SUPERVISOR, ROLE_BROKER, &M);
}

/* In the child: the channel and listeners at 3, 4, 5, nothing else open. */
static void
child_exec(char *const argv[], int chan, const struct rlimit *nofile)
{
	int fds[3] = { chan, B.nat_lfd, B.http_lfd };

	if (spawn_prepare(fds, 3) == -1 ||
	    (nofile != NULL && setrlimit(RLIMIT_NOFILE, nofile) == -1))
		_exit(127);
	execv(argv[0], argv);
	_exit(127);
}

static void
bk_start_limited(char *const *extra, const struct rlimit *nofile)
{
	static char prog[512];
	char *argv[32];
	int sv[2], n = 0;

	cr_assert(msg_channel(sv) == 0);
	B.nat_lfd = listener(&B.nat_port);
	B.http_lfd = listener(&B.http_port);
	snprintf(prog, sizeof(prog), "%s", tu_prog("ringcast-broker"));
	argv[n++] = prog;
	argv[n++] = "--parent-fd";
	argv[n++] = "3";
	argv[n++] = "--native-fd";
	argv[n++] = "4";
	argv[n++] = "--http-fd";
	argv[n++] = "5";
	while (extra != NULL && *extra != NULL && n < 30)
		argv[n++] = *extra++;
	argv[n] = NULL;
	B.pid = fork();
	cr_assert(B.pid >= 0);
	if (B.pid == 0)
		child_exec(argv, sv[1], nofile);
	close(sv[1]);
	B.chan = sv[0];
	cr_assert_eq(broker_msg(10000), 1, "no MSG_READY");
	cr_assert_eq(M.hdr.type, MSG_READY);
}

static void
bk_start(char *const *extra)
{
	bk_start_limited(extra, NULL);
}

/* A blocking TCP connection to 127.0.0.1:port from address src (or any). */
static int
tcp_connect(const char *src, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sockaddr_in me = { .sin_family = AF_INET };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (src != NULL) {
		cr_assert(inet_pton(AF_INET, src, &me.sin_addr) == 1);
		cr_assert(bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0);
	}
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	cr_assert(connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0,
	    "connect: %s", strerror(errno));
	return fd;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	cr_assert_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len,
	    "send: %s", strerror(errno));
}

static void
send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/*
 * Wait until the peer closes fd, collecting what it sent into got (if not
 * NULL).  Returns the milliseconds from start, or -1 if still open at
 * start + timeout_ms.
 */
static int
closed_after(int fd, uint64_t start, int timeout_ms, char *got, size_t gotlen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t end = start + timeout_ms;
	size_t have = 0;
	char buf[4096];
	ssize_t n;

	for (;;) {
		uint64_t now = clock_mono_ms();

		if (now >= end)
			return -1;
		if (poll(&pfd, 1, (int)(end - now)) <= 0)
			continue;
		n = read(fd, buf, sizeof(buf));
		if (n > 0 && got != NULL && have + 1 < gotlen) {
			size_t k = (size_t)n < gotlen - 1 - have ? (size_t)n :
			    gotlen - 1 - have;

			memcpy(got + have, buf, k);
			have += k;
			got[have] = '\0';
		}
		if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN))
			return (int)(clock_mono_ms() - start);
	}
}

/* Sends buf one byte every 200 ms until the peer closes or has something to
 * say; returns the ms from start to the close, or -1.  poll both paces the
 * trickle and notices the close. */
static int
trickle(int c, const void *buf, size_t len, uint64_t start)
{
	const uint8_t *p = buf;
	struct pollfd pfd;
	size_t i;

	for (i = 0; i < len; i++) {
		pfd = (struct pollfd){ .fd = c, .events = POLLIN };
		if (poll(&pfd, 1, 200) == 1 ||
		    send(c, p + i, 1, MSG_NOSIGNAL) != 1)
			break;
	}
	return closed_after(c, start, 5000, NULL, 0);
}

/* A control message (header + JSON) in a new buffer. */
static uint8_t *
control_msg(json_t *o, size_t *len)
{
	uint8_t *buf;

	cr_assert(o != NULL);
	cr_assert_eq(proto_control_encode(o, true, &buf, len), PROTO_OK);
	json_decref(o);
	return buf;
}

static uint8_t *
hello_msg(const char *client_id, size_t *len)
{
	return control_msg(json_pack("{s:s, s:s, s:s, s:i, s:b, s:b, s:b, s:b}",
	    "type", "handshake", "client_id", client_id, "client_type",
	    "android", "protocol_version", 2, "rf_mode", 1, "persistent", 1,
	    "auto_reconnect", 1, "optimized", 1), len);
}

static void
header(uint8_t out[PROTO_HDR_LEN], uint8_t type, uint32_t length)
{
	struct proto_hdr h = { .magic = PROTO_MAGIC, .version = PROTO_VERSION,
	    .type = type, .flags = PROTO_FLAG_RF, .length = length };

	proto_hdr_encode(out, &h);
}

/* As the supervisor: the client was served (0) or refused (status). */
static void
client_done(uint32_t id, uint32_t status, const char *why)
{
	struct msg_client_done d = { id, status, "" };

	snprintf(d.message, sizeof(d.message), "%s", why);
	cr_assert(msg_send(B.chan, ROLE_SUPERVISOR, MSG_BROKER_CLIENT_DONE, &d,
	    sizeof(d), NULL, 0, -1) == 0);
}

/*
 * Skips other messages; the MSG_BROKER_CLIENT (valid until the next
 * call), its fd in *fd.
 */
static const struct msg_client *
expect_client(int timeout_ms, int *fd)
{
	static struct msg_client got;
	uint64_t end = clock_mono_ms() + timeout_ms;

	for (;;) {
		int left = (int)(end - clock_mono_ms());

		cr_assert(left > 0, "no MSG_BROKER_CLIENT in %d ms", timeout_ms);
		cr_assert_eq(broker_msg(left), 1, "no MSG_BROKER_CLIENT");
		if (M.hdr.type == MSG_BROKER_CLIENT)
			break;
		if (M.fd >= 0)
			close(M.fd);
	}
	cr_assert(M.fd >= 0, "MSG_BROKER_CLIENT without a descriptor");
	got = *MSG_BODY(&M, struct msg_client);
	*fd = M.fd;
	return &got;
}

/* A whole handshake from src passes to the "supervisor" within timeout_ms. */
static void
good_client(const char *src, const char *id, int timeout_ms)
{
	const struct msg_client *m;
	uint8_t *buf;
	size_t len;
	int c, fd;

	c = tcp_connect(src, B.nat_port);
	buf = hello_msg(id, &len);
	send_all(c, buf, len);
	free(buf);
	m = expect_client(timeout_ms, &fd);
	cr_assert_str_eq(m->hello.client_id, id);
	client_done(m->id, 0, "");
	close(fd);
	close(c);
}

/* ---- native listener ---- */

Test(broker, handshake_passes_socket_and_hello, .timeout = 30)
{
	static const char after[] = "bytes-after-the-handshake";
	const struct msg_client *m;
	struct sockaddr_in me;
	socklen_t mlen = sizeof(me);
	uint8_t *hello, *buf;
	char want[64], got[64];
	size_t len;
	int c, fd;

	bk_start(NULL);
	c = tcp_connect(NULL, B.nat_port);
	hello = hello_msg("phone-1", &len);
	buf = malloc(len + sizeof(after));
	memcpy(buf, hello, len);
	memcpy(buf + len, after, sizeof(after));
	send_all(c, buf, len + sizeof(after));	/* one segment, NUL included */
	free(buf);
	free(hello);

	m = expect_client(5000, &fd);
	cr_assert_eq(m->kind, CLIENT_NATIVE);
	cr_assert(getsockname(c, (struct sockaddr *)&me, &mlen) == 0);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(me.sin_port));
	cr_assert_str_eq(m->remote, want);
	cr_assert_str_eq(m->hello.client_id, "phone-1");
	cr_assert(m->hello.rf_mode && m->hello.persistent);

	/* What followed the handshake is still waiting on the passed socket. */
	cr_assert(tu_wait_text(fd, after, 3000), "surplus bytes lost");
	/* It is the client's connection, both ways. */
	cr_assert_eq(write(fd, "pong", 4), 4);
	cr_assert(tu_wait_text(c, "pong", 3000));
	/* Once told a session has it, the broker keeps no copy: closing
	 * ours ends the connection. */
	client_done(m->id, 0, "");
	close(fd);
	cr_assert_geq(closed_after(c, clock_mono_ms(), 3000, got, sizeof(got)),
	    0, "the broker still holds the client socket");
	close(c);
}

Test(broker, handshake_trickled_within_deadline_passes, .timeout = 30)
{
	uint8_t *hello;
	size_t len, i;
	int c, fd;

	bk_start(NULL);
	c = tcp_connect(NULL, B.nat_port);
	hello = hello_msg("slow-but-fine", &len);
	for (i = 0; i < len; i++)	/* one segment per byte (TCP_NODELAY) */
		send_all(c, hello + i, 1);
	free(hello);
	cr_assert_str_eq(expect_client(5000, &fd)->hello.client_id,
	    "slow-but-fine");
	close(fd);
	close(c);
}

/* Half a header, then one byte every 200 ms: cut at the 2 s deadline. */
Test(broker, slowloris_cut_at_deadline, .timeout = 30)
{
	uint8_t msg[PROTO_HDR_LEN + 64];
	uint64_t t0;
	int c, ms;

	bk_start(NULL);
	header(msg, PROTO_TYPE_CONTROL, 1000);
	memset(msg + PROTO_HDR_LEN, '{', sizeof(msg) - PROTO_HDR_LEN);
	c = tcp_connect("127.0.0.2", B.nat_port);
	t0 = clock_mono_ms();
	send_all(c, msg, 8);
	ms = trickle(c, msg + 8, sizeof(msg) - 8, t0);
	cr_assert_geq(ms, 1900, "closed after %d ms, before the deadline", ms);
	cr_assert_leq(ms, 2000 + 2500, "closed after %d ms", ms);
	close(c);
}

Test(broker, silent_client_cut_at_deadline, .timeout = 30)
{
	uint64_t t0;
	int c, ms;

	bk_start(NULL);
	c = tcp_connect("127.0.0.2", B.nat_port);
	t0 = clock_mono_ms();
	ms = closed_after(c, t0, 6000, NULL, 0);
	cr_assert_geq(ms, 1900, "closed after %d ms, before the deadline", ms);
	cr_assert_leq(ms, 2000 + 2500, "closed after %d ms", ms);
	close(c);
}

/* First messages that are refused at once, some with an error message. */
struct bad_first {
	const char	*name;
	int		 kind;
	bool		 error_reply;	/* an error control message first */
};

enum { BAD_MAGIC, BAD_HTTP, BAD_HUGE, BAD_OVERCAP, BAD_EMPTY, BAD_AUDIO,
    BAD_JSON, BAD_DEEP, BAD_HEARTBEAT, BAD_HELLO };

static uint8_t *
bad_bytes(int kind, size_t *len)
{
	uint8_t *b = calloc(1, 256);
	char deep[64];

	cr_assert(b != NULL);
	*len = PROTO_HDR_LEN;
	switch (kind) {
	case BAD_MAGIC:
		memset(b, 0x55, PROTO_HDR_LEN);
		return b;
	case BAD_HTTP:
		memcpy(b, "GET / HTTP/1.1\r\n", PROTO_HDR_LEN);
		return b;
	case BAD_HUGE:
		header(b, PROTO_TYPE_CONTROL, 0x7fffffff);
		return b;
	case BAD_OVERCAP:
		header(b, PROTO_TYPE_CONTROL, PROTO_CONTROL_MAX + 1);
		return b;
	case BAD_EMPTY:
		header(b, PROTO_TYPE_CONTROL, 0);
		return b;
	case BAD_AUDIO:
		header(b, PROTO_TYPE_AUDIO, 28);
		*len += 28;
		return b;
	case BAD_JSON:
		header(b, PROTO_TYPE_CONTROL, 8);
		memcpy(b + PROTO_HDR_LEN, "{\"type\":", 8);
		*len += 8;
		return b;
	case BAD_DEEP:
		memset(deep, '[', 40);
		header(b, PROTO_TYPE_CONTROL, 40);
		memcpy(b + PROTO_HDR_LEN, deep, 40);
		*len += 40;
		return b;
	case BAD_HEARTBEAT:
		free(b);
		return control_msg(json_pack("{s:s}", "type", "heartbeat"), len);
	default:	/* a handshake without its client_id */
		free(b);
		return control_msg(json_pack("{s:s, s:i}", "type", "handshake",
		    "protocol_version", 2), len);
	}
}

Test(broker, bad_first_message_closed_promptly, .timeout = 60)
{
	static const struct bad_first cases[] = {
		{ "bad magic", BAD_MAGIC, false },
		{ "an HTTP request", BAD_HTTP, false },
		{ "a 2 GiB control length", BAD_HUGE, false },
		{ "a control length over the cap", BAD_OVERCAP, false },
		{ "an empty control message", BAD_EMPTY, false },
		{ "an audio message", BAD_AUDIO, false },
		{ "truncated JSON", BAD_JSON, true },
		{ "JSON nested too deep", BAD_DEEP, true },
		{ "a heartbeat", BAD_HEARTBEAT, true },
		{ "a handshake without client_id", BAD_HELLO, true },
	};
	char got[1024];
	uint8_t *buf;
	size_t i, len;
	uint64_t t0;
	int c, ms;

	bk_start(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = bad_bytes(cases[i].kind, &len);
		c = tcp_connect("127.0.0.2", B.nat_port);
		t0 = clock_mono_ms();
		send_all(c, buf, len);
		free(buf);
		memset(got, 0, sizeof(got));
		ms = closed_after(c, t0, 5000, got, sizeof(got));
		cr_assert(ms >= 0 && ms < 1500, "%s: closed after %d ms",
		    cases[i].name, ms);
		if (cases[i].error_reply)
			cr_assert(strstr(got + PROTO_HDR_LEN, "\"error\"") != NULL,
			    "%s: no error message", cases[i].name);
		close(c);
	}
	/* None of them reached the supervisor; a good one still does. */
	cr_assert_eq(broker_msg(0), -1, "a refused client was passed on");
	good_client(NULL, "after-the-bad-ones", 3000);
}

/*
 * n silent handshakes from 127.0.0.2 into held[], then one more from addr:
 * returns the ms until the broker closed that one (-1: it did not), and
 * when it was made in *t0.
 */
static int
one_too_many(int *held, int n, const char *addr, uint64_t *t0)
{
	int c, i, ms;

	for (i = 0; i < n; i++)
		held[i] = tcp_connect("127.0.0.2", B.nat_port);
	c = tcp_connect(addr, B.nat_port);
	*t0 = clock_mono_ms();
	ms = closed_after(c, *t0, 5000, NULL, 0);
	close(c);
	return ms;
}

/* The 5th pending handshake from one address is closed at once. */
Test(broker, pending_per_address_limit, .timeout = 60)
{
	static char *const args[] = { "--handshake-ms", "3000", NULL };
	uint64_t t0;
	int held[4], i, ms;

	bk_start(args);
	/* The accept queue is FIFO: the broker holds the first four. */
	ms = one_too_many(held, 4, "127.0.0.2", &t0);
	cr_assert(ms >= 0 && ms < 1500, "5th closed after %d ms", ms);
	/* Another address is not affected. */
	good_client(NULL, "other-address", 2000);
	/* The four run into their deadline... */
	for (i = 0; i < 4; i++) {
		cr_assert_geq(closed_after(held[i], t0, 3000 + 3000, NULL, 0), 0);
		close(held[i]);
	}
	/* ...after which the address may try again. */
	good_client("127.0.0.2", "second-try", 3000);
}

Test(broker, pending_total_limit, .timeout = 60)
{
	static char *const args[] = { "--handshake-ms", "5000",
	    "--max-pending", "3", "--max-pending-per-addr", "10", NULL };
	uint64_t t0, end;
	uint8_t *hello;
	size_t len;
	int held[3], c, i, ms, fd = -1;

	bk_start(args);
	ms = one_too_many(held, 3, "127.0.0.3", &t0);
	cr_assert(ms >= 0 && ms < 2500, "4th closed after %d ms", ms);
	for (i = 0; i < 3; i++)
		close(held[i]);
	/*
	 * The broker frees the slots when it reads their end of file; until
	 * it has, a new client may still be refused: try again until passed.
	 */
	hello = hello_msg("after-the-limit", &len);
	end = clock_mono_ms() + 5000;
	while (fd < 0 && clock_mono_ms() < end) {
		c = tcp_connect(NULL, B.nat_port);
		send_all(c, hello, len);
		if (broker_msg(1000) == 1 && M.hdr.type == MSG_BROKER_CLIENT)
			fd = M.fd;
		close(c);
	}
	free(hello);
	cr_assert_geq(fd, 0, "no client passed after the pending ones left");
	close(fd);
}

static long
cpu_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	cr_assert((f = fopen(path, "r")) != NULL);
	cr_assert(fgets(buf, sizeof(buf), f) != NULL);
	fclose(f);
	cr_assert((p = strrchr(buf, ')')) != NULL);
	for (i = 0; i < 12 && p != NULL; i++)	/* to field 14, utime */
		p = strchr(p + 1, ' ');
	cr_assert(p != NULL && sscanf(p, "%lu %lu", &ut, &st) == 2);
	return (long)(ut + st);
}

/* Out of descriptors: both listeners rest instead of spinning, then recover. */
Test(broker, out_of_descriptors_does_not_spin, .timeout = 60)
{
	static char *const args[] = { "--handshake-ms", "8000",
	    "--max-pending", "100", "--max-pending-per-addr", "100", NULL };
	struct rlimit lim = { 16, 16 };
	int held[24], i, n = 0;
	char resp[256];
	long t0;
	int c, fd;

	bk_start_limited(args, &lim);
	for (i = 0; i < 12; i++)
		held[n++] = tcp_connect("127.0.0.2", B.nat_port);
	for (i = 0; i < 12; i++)
		held[n++] = tcp_connect("127.0.0.3", B.http_port);
	/* A spinning loop would burn a whole CPU (~100 ticks) in this second. */
	t0 = cpu_ticks(B.pid);
	cr_assert_eq(broker_msg(1000), -1);
	cr_assert_lt(cpu_ticks(B.pid) - t0, 30, "the broker spins");
	for (i = 0; i < n; i++)
		close(held[i]);
	/* With descriptors back, both listeners serve again. */
	c = tcp_connect(NULL, B.nat_port);
	{
		size_t len;
		uint8_t *hello = hello_msg("after-emfile", &len);

		send_all(c, hello, len);
		free(hello);
	}
	(void)expect_client(5000, &fd);
	close(fd);
	close(c);
	c = tcp_connect(NULL, B.http_port);
	send_str(c, "GET /nothing-here HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert_geq(closed_after(c, clock_mono_ms(), 5000, resp,
	    sizeof(resp)), 0);
	cr_assert(strncmp(resp, "HTTP/1.1 404", 12) == 0, "got: %s", resp);
	close(c);
}

/* ---- HTTP ---- */

struct http_resp {
	int	status;
	char	raw[16384];
	char	*body;
};

/* Read a whole response (the broker closes after each); its status. */
static int
http_read(int fd, struct http_resp *r, int timeout_ms)
{
	memset(r, 0, sizeof(*r));
	if (closed_after(fd, clock_mono_ms(), timeout_ms, r->raw,
	    sizeof(r->raw)) < 0)
		return -1;
	if (sscanf(r->raw, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	if ((r->body = strstr(r->raw, "\r\n\r\n")) != NULL)
		r->body += 4;
	return r->status;
}

static int
http_start(const char *request)
{
	int c = tcp_connect(NULL, B.http_port);

	send_str(c, request);
	return c;
}

/* The next MSG_BROKER_REQUEST (valid until the next call). */
static const struct msg_api_request *
expect_request(int timeout_ms)
{
	static struct msg_api_request req;

	cr_assert_eq(broker_msg(timeout_ms), 1, "no MSG_BROKER_REQUEST");
	cr_assert_eq(M.hdr.type, MSG_BROKER_REQUEST, "got %s",
	    msg_name(M.hdr.type));
	req = *MSG_BODY(&M, struct msg_api_request);
	return &req;
}

static void
reply(const struct msg_api_request *req, int status, const char *body,
    enum api_ctype ctype)
{
	struct msg_api_reply h = { req->id, (uint32_t)status, ctype };

	cr_assert(msg_send(B.chan, ROLE_SUPERVISOR, MSG_BROKER_REPLY, &h,
	    sizeof(h), body, strlen(body), -1) == 0);
}

Test(broker, http_api_request_and_reply, .timeout = 30)
{
	static const char prom[] = "# TYPE ringcast_clients gauge\n"
	    "ringcast_clients 2\n";
	const struct msg_api_request *req;
	struct http_resp r;
	json_t *body;
	int c;

	bk_start(NULL);
	c = http_start("GET /api/status HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	cr_assert_eq(req->route, API_STATUS);
	reply(req, 200, "{\"ok\":true,\"clients\":2}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200, "%s", r.raw);
	cr_assert(strcasestr(r.raw, "Content-Type: application/json") != NULL);
	cr_assert((body = json_loads(r.body, 0, NULL)) != NULL, "%s", r.raw);
	cr_assert(json_is_true(json_object_get(body, "ok")));
	cr_assert_eq(json_integer_value(json_object_get(body, "clients")), 2);
	json_decref(body);
	close(c);

	/* Metrics are sent as text, with their type. */
	c = http_start("GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	cr_assert_eq(req->route, API_METRICS);
	reply(req, 200, prom, CTYPE_METRICS);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	cr_assert(strcasestr(r.raw, "Content-Type: text/plain; version=0.0.4"));
	cr_assert_str_eq(r.body, prom);
	close(c);
}

Test(broker, http_post_delete_and_query_forwarded, .timeout = 30)
{
	static const char post[] = "POST /api/clients/ph%201/mix HTTP/1.1\r\n"
	    "Host: t\r\nContent-Type: application/json\r\n"
	    "Content-Length: 20\r\n\r\n{\"master_gain\": 0.5}";
	const struct msg_api_request *req;
	struct http_resp r;
	int c;

	bk_start(NULL);
	c = http_start(post);
	req = expect_request(5000);
	cr_assert_eq(req->route, API_CLIENT_MIX);
	cr_assert_str_eq(req->client, "ph 1");
	cr_assert_eq(req->body.mix.set, MIX_SET_MASTER);
	cr_assert_float_eq(req->body.mix.master, 0.5, 1e-9);
	reply(req, 404, "{\"error\":\"no such client\"}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 404);
	cr_assert(strstr(r.body, "no such client") != NULL);
	close(c);

	c = http_start("DELETE /api/clients/x HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	cr_assert_eq(req->route, API_CLIENT_DELETE);
	cr_assert_str_eq(req->client, "x");
	reply(req, 200, "{\"deleted\":true}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	close(c);

	c = http_start("GET /api/clients?all=1&offset=5 HTTP/1.1\r\n"
	    "Host: t\r\n\r\n");
	req = expect_request(5000);
	cr_assert_eq(req->route, API_CLIENTS);
	cr_assert_eq(req->offset, 5);
	reply(req, 200, "[]", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	cr_assert_str_eq(r.body, "[]");
	close(c);
}

Test(broker, http_no_reply_is_503, .timeout = 30)
{
	struct http_resp r;
	const struct msg_api_request *req;
	uint64_t t0;
	int c, ms;

	bk_start(NULL);
	c = http_start("GET /api/clients HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	t0 = clock_mono_ms();
	cr_assert_eq(http_read(c, &r, 2000 + 3000), 503, "%s", r.raw);
	ms = (int)(clock_mono_ms() - t0);
	cr_assert(ms >= 1500 && ms <= 2000 + 2500, "503 after %d ms", ms);
	cr_assert(strstr(r.body, "supervisor busy") != NULL, "%s", r.body);
	close(c);
	/* The late reply is dropped; the broker goes on serving. */
	reply(req, 200, "{}", CTYPE_JSON);
	c = http_start("GET /api/status HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	reply(req, 200, "{}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	close(c);
}

struct bad_http {
	const char	*request;
	int		 status;
	const char	*error;		/* expected in the JSON body, or NULL */
};

Test(broker, http_refusals, .timeout = 60)
{
	static const struct bad_http cases[] = {
		{ "POST /api/clients/x/mix HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 5\r\n\r\n{nope", 400, "invalid JSON" },
		{ "POST /api/clients/x/mix HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 0\r\n\r\n", 400, "JSON body" },
		{ "POST /api/clients/x/mix HTTP/1.1\r\nHost: t\r\n"
		  "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
		  415, "application/json" },
		{ "POST /api/clients/x/mix HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 100000\r\n\r\n", 413, NULL },
		{ "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n", 404, "not found" },
		{ "GET /api HTTP/1.1\r\nHost: t\r\n\r\n", 404, "not found" },
		{ "POST /api/events HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 0\r\n\r\n", 405, NULL },
		{ "GET /stream.wav HTTP/1.1\r\nHost: t\r\n\r\n", 400,
		  "channels" },
		{ "PUT /api/status HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 0\r\n\r\n", 405, "method not allowed" },
		{ "POST /metrics HTTP/1.1\r\nHost: t\r\n"
		  "Content-Length: 2\r\n\r\n{}", 405, NULL },
		{ "BREW /api/status HTTP/1.1\r\nHost: t\r\n\r\n", 501, NULL },
	};
	char deep[512], big[12000];
	struct http_resp r;
	size_t i;
	const struct msg_api_request *req;
	int c;

	bk_start(NULL);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		c = http_start(cases[i].request);
		cr_assert_eq(http_read(c, &r, 5000), cases[i].status,
		    "case %zu: %s", i, r.raw);
		if (cases[i].error != NULL)
			cr_assert(r.body != NULL &&
			    strstr(r.body, cases[i].error) != NULL,
			    "case %zu: %s", i, r.raw);
		close(c);
	}
	/* JSON nested deeper than PROTO_JSON_DEPTH. */
	snprintf(deep, sizeof(deep), "POST /api/clients/x/mix HTTP/1.1\r\n"
	    "Host: t\r\nContent-Length: 100\r\n\r\n%.50s%.50s",
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
	c = http_start(deep);
	cr_assert_eq(http_read(c, &r, 5000), 400, "%s", r.raw);
	cr_assert(strstr(r.body, "too deep") != NULL);
	close(c);
	/* Headers over the 8 KiB cap. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "GET /api/status HTTP/1.1\r\nX-Big: ", 33);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
	c = http_start(big);
	cr_assert_geq(http_read(c, &r, 5000), 400, "%s", r.raw);
	close(c);
	/* None reached the supervisor: the next request is the first it sees. */
	c = http_start("GET /api/status HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(5000);
	cr_assert_eq(req->route, API_STATUS);
	reply(req, 200, "{}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	close(c);
}

/* A request trickled one byte every 200 ms is cut at the request deadline. */
Test(broker, http_trickle_cut_at_deadline, .timeout = 30)
{
	static char *const args[] = { "--request-ms", "1000", NULL };
	static const char slow[] = "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	uint64_t t0;
	int c, ms;

	bk_start(args);
	c = tcp_connect("127.0.0.2", B.http_port);
	t0 = clock_mono_ms();
	send_str(c, "GET /api/status HTTP/1.1\r\n");
	ms = trickle(c, slow, sizeof(slow) - 1, t0);
	cr_assert_geq(ms, 900, "closed after %d ms, before the deadline", ms);
	cr_assert_leq(ms, 1000 + 2500, "closed after %d ms", ms);
	cr_assert_eq(broker_msg(0), -1, "a cut request was forwarded");
	close(c);
}

/* At the connection cap, new HTTP clients wait in the backlog. */
Test(broker, http_connection_cap, .timeout = 30)
{
	static char *const args[] = { "--max-pending", "2", NULL };
	struct http_resp r;
	int idle[2], c;
	const struct msg_api_request *req;

	bk_start(args);
	idle[0] = tcp_connect("127.0.0.2", B.http_port);
	idle[1] = tcp_connect("127.0.0.2", B.http_port);
	c = http_start("GET /api/status HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert_eq(broker_msg(1000), -1, "served beyond the cap");
	close(idle[0]);
	req = expect_request(5000);
	reply(req, 200, "{}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 5000), 200);
	close(c);
	close(idle[1]);
}

/* ---- the parent channel ---- */

Test(broker, exits_when_parent_channel_closes, .timeout = 30)
{
	int st;

	bk_start(NULL);
	close(B.chan);
	B.chan = -1;
	st = tu_wait_exit(B.pid, 3000);
	cr_assert_neq(st, -1, "the broker outlived its parent channel");
	B.pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
}

Test(broker, unexpected_parent_message_is_fatal, .timeout = 30)
{
	int st;

	bk_start(NULL);
	cr_assert(msg_send_probe(B.chan, MSG_SESSION_START) == 0);
	st = tu_wait_exit(B.pid, 3000);
	cr_assert_neq(st, -1, "the broker ignored a wrong message");
	B.pid = -1;
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == MSG_EXIT_FAULT,
	    "status 0x%x", st);
}

/* ---- everything at once ---- */

Test(broker, good_client_served_during_abuse, .timeout = 60)
{
	uint8_t bad[PROTO_HDR_LEN], part[PROTO_HDR_LEN];
	int held[64], n = 0, i, c, fd;
	struct http_resp r;
	uint64_t t0;
	const struct msg_api_request *req;
	const struct msg_client *m;

	bk_start(NULL);
	memset(bad, 0x42, sizeof(bad));
	header(part, PROTO_TYPE_CONTROL, 5000);
	for (i = 0; i < 6; i++)		/* silent, and beyond the address limit */
		held[n++] = tcp_connect("127.0.0.2", B.nat_port);
	for (i = 0; i < 4; i++) {	/* half a message each */
		held[n++] = c = tcp_connect("127.0.0.3", B.nat_port);
		send_all(c, part, i < 2 ? 8 : sizeof(part));
	}
	for (i = 0; i < 20; i++) {	/* bad magic, huge lengths */
		held[n++] = c = tcp_connect("127.0.0.4", B.nat_port);
		if (i % 2 == 0)
			send_all(c, bad, sizeof(bad));
		else {
			header(part, PROTO_TYPE_CONTROL, 0xfffffff0);
			send_all(c, part, sizeof(part));
		}
	}
	for (i = 0; i < 6; i++) {	/* HTTP: half a request */
		held[n++] = c = tcp_connect("127.0.0.5", B.http_port);
		send_str(c, "GET /api/status HTTP/1.1\r\nX-Half: ");
	}
	/* An API request the "supervisor" leaves unanswered. */
	held[n++] = http_start("GET /api/clients HTTP/1.1\r\nHost: t\r\n\r\n");
	(void)expect_request(5000);

	t0 = clock_mono_ms();
	c = tcp_connect(NULL, B.nat_port);
	{
		size_t len;
		uint8_t *hello = hello_msg("in-the-crowd", &len);

		send_all(c, hello, len);
		free(hello);
	}
	m = expect_client(1500, &fd);
	cr_assert_lt(clock_mono_ms() - t0, 1500);
	cr_assert_str_eq(m->hello.client_id, "in-the-crowd");
	close(fd);
	close(c);
	/* And the API answers too. */
	c = http_start("GET /api/status HTTP/1.1\r\nHost: t\r\n\r\n");
	req = expect_request(1500);
	reply(req, 200, "{}", CTYPE_JSON);
	cr_assert_eq(http_read(c, &r, 3000), 200);
	close(c);
	for (i = 0; i < n; i++)
		close(held[i]);
}
