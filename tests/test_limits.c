/* test_limits.c — hostile input on both ports of the real ringcastd, while a steady listener streams. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS
#define HS_MS		1500	/* --handshake-ms */
#define REQ_MS		2500	/* --request-ms */
#define PENDING		8	/* --max-pending */
#define PER_ADDR	3	/* --max-pending-per-addr */
#define HEADROOM_MS	4000	/* a deadline may be late by this much here */
#define AT_ONCE_MS	1000	/* "at once": well before any deadline */
#define TRICKLE_MS	300	/* one byte per this */

static int abuser[PENDING * 2];

static const char *const limits[] = {
	"--handshake-ms", "1500", "--request-ms", "2500",
	"--max-pending", "8", "--max-pending-per-addr", "3", NULL
};

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

/* The daemon with short limits, and one listener on every channel. */
static void
setup(void)
{
	size_t i;

	e2e_setup();
	for (i = 0; i < sizeof(abuser) / sizeof(abuser[0]); i++)
		abuser[i] = -1;
	e2e_up("limits", limits);
	e2e_listen("steady", NULL, E2E_NCH);
}

static void
teardown(void)
{
	size_t i;

	for (i = 0; i < sizeof(abuser) / sizeof(abuser[0]); i++)
		if (abuser[i] >= 0)
			close(abuser[i]);
	e2e_teardown();
}

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 120);

/* A connection from 127.0.0.<octet>, so the per-address cap spares 127.0.0.1. */
static int
connect_from(int port, int octet)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fd;

	src.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)octet);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	dst.sin_port = htons(port);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1 ||
	    connect(fd, (struct sockaddr *)&dst, sizeof(dst)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Send data one byte per TRICKLE_MS (then nothing) until the server closes.
 * Returns the milliseconds from start to the close, or -1 if still open
 * after limit_ms.  Whatever the server answers first is kept in resp.
 */
static long
trickle_until_closed(int fd, const char *data, size_t len, uint64_t start,
    int limit_ms, char *resp, size_t resplen)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t sent = 0, got = 0;
	char buf[4096];
	ssize_t r;
	int wait;

	if (resp != NULL)
		resp[0] = '\0';
	for (;;) {
		if (clock_mono_ms() - start > (uint64_t)limit_ms)
			return -1;
		wait = sent < len ? TRICKLE_MS : 200;
		if (poll(&pfd, 1, wait) == 1) {
			r = read(fd, buf, sizeof(buf));
			if (r <= 0)
				return (long)(clock_mono_ms() - start);
			if (resp != NULL && got + 1 < resplen) {
				if ((size_t)r > resplen - got - 1)
					r = (ssize_t)(resplen - got - 1);
				memcpy(resp + got, buf, (size_t)r);
				resp[got += (size_t)r] = '\0';
			}
			continue;
		}
		if (sent < len && send(fd, data + sent, 1, MSG_NOSIGNAL) == 1)
			sent++;
		else if (sent < len)
			return (long)(clock_mono_ms() - start);
	}
}

/* Open from octet, then wait for the close; ms from the connect, or -1. */
static long
closed_after(int port, int octet, const char *data, size_t len, int limit_ms,
    char *resp, size_t resplen)
{
	uint64_t start = clock_mono_ms();
	long ms;
	int fd;

	cr_assert((fd = connect_from(port, octet)) != -1, "connect from "
	    "127.0.0.%d", octet);
	ms = trickle_until_closed(fd, data, len, start, limit_ms, resp,
	    resplen);
	close(fd);
	return ms;
}

static void
within_deadline(const char *what, long ms, int deadline)
{
	cr_log_info("%s: closed after %ld ms (deadline %d ms)", what, ms,
	    deadline);
	check(ms >= 0, "%s: still open after %d ms", what,
	    deadline + HEADROOM_MS);
	/* Not before the deadline either: bytes were still flowing. */
	check(ms >= deadline * 8 / 10, "%s: closed after %ld ms, before the "
	    "%d ms deadline", what, ms, deadline);
}

/* ---- native port ---- */

Test(limits, native_handshake_trickled_or_silent_is_cut_at_the_deadline)
{
	json_t *hello = v2_hello("slow", NULL);
	uint8_t *msg;
	size_t len;
	long ms;

	cr_assert(proto_control_encode(hello, false, &msg, &len) == PROTO_OK);
	json_decref(hello);
	ms = closed_after(E.d.native_port, 2, (const char *)msg, len,
	    HS_MS + HEADROOM_MS, NULL, 0);
	free(msg);
	within_deadline("native handshake, 1 byte per 300 ms", ms, HS_MS);
	ms = closed_after(E.d.native_port, 2, NULL, 0, HS_MS + HEADROOM_MS,
	    NULL, 0);
	within_deadline("native connection sending nothing", ms, HS_MS);
	e2e_steady_clean("steady listener");
}

Test(limits, native_oversized_or_garbage_header_is_closed_at_once)
{
	struct proto_hdr h = { PROTO_MAGIC, PROTO_VERSION, PROTO_TYPE_CONTROL,
	    0, 0, 0xFFFFFFF0u };
	uint8_t hdr[PROTO_HDR_LEN];
	uint64_t start;
	long ms;
	int fd;

	proto_hdr_encode(hdr, &h);
	start = clock_mono_ms();
	cr_assert((fd = connect_from(E.d.native_port, 2)) != -1);
	cr_assert(v2_write_all(fd, hdr, sizeof(hdr)) == 0);
	ms = trickle_until_closed(fd, NULL, 0, start, HS_MS + HEADROOM_MS,
	    NULL, 0);
	close(fd);
	cr_log_info("native length 0xFFFFFFF0: closed after %ld ms", ms);
	check(ms >= 0 && ms < AT_ONCE_MS, "oversized length: closed after "
	    "%ld ms", ms);
	start = clock_mono_ms();
	cr_assert((fd = connect_from(E.d.native_port, 2)) != -1);
	cr_assert(v2_write_all(fd, "GET / HTTP/1.1\r\n\r\n", 18) == 0);
	ms = trickle_until_closed(fd, NULL, 0, start, HS_MS + HEADROOM_MS,
	    NULL, 0);
	close(fd);
	cr_log_info("native bad magic: closed after %ld ms", ms);
	check(ms >= 0 && ms < AT_ONCE_MS, "bad magic: closed after %ld ms",
	    ms);
	e2e_steady_clean("steady listener");
}

Test(limits, native_per_address_cap_spares_other_addresses)
{
	uint64_t start;
	long ms;
	int i, fd;

	for (i = 0; i < PER_ADDR; i++)
		cr_assert((abuser[i] = connect_from(E.d.native_port, 3)) != -1);
	/* The broker counts a connection once it accepted it: make sure. */
	start = clock_mono_ms();
	cr_assert((fd = connect_from(E.d.native_port, 3)) != -1);
	ms = trickle_until_closed(fd, NULL, 0, start, HS_MS + HEADROOM_MS,
	    NULL, 0);
	close(fd);
	cr_log_info("native connection %d from one address: closed after "
	    "%ld ms", PER_ADDR + 1, ms);
	check(ms >= 0 && ms < AT_ONCE_MS, "over the per-address cap: closed "
	    "after %ld ms", ms);
	/* Another address completes its handshake meanwhile. */
	json_decref(e2e_open(&E.c[0], "other", NULL));
	v2_close(&E.c[0]);
	e2e_steady_clean("steady listener");
}

/* ---- HTTP port ---- */

static int
status_of(const char *resp)
{
	int st = -1;

	if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
		return -1;
	return st;
}

Test(limits, http_slowloris_is_cut_at_the_request_deadline)
{
	/* Longer than the deadline at one byte per 300 ms: never finishes. */
	const char req[] = "GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	    "X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
	    "\r\n";
	long ms;

	ms = closed_after(E.d.http_port, 4, req, sizeof(req) - 1,
	    REQ_MS + HEADROOM_MS, NULL, 0);
	within_deadline("HTTP headers, 1 byte per 300 ms", ms, REQ_MS);
	e2e_steady_clean("steady listener");
}

Test(limits, http_oversized_headers_body_and_json_are_refused)
{
	static char big[80 * 1024];
	char resp[512], *r;
	uint64_t start;
	int n, st, fd;
	long ms;

	/* Headers over 8 KiB. */
	n = snprintf(big, sizeof(big), "GET /api/status HTTP/1.1\r\nX-Big: ");
	memset(big + n, 'a', 9000);
	memcpy(big + n + 9000, "\r\n\r\n", 5);
	start = clock_mono_ms();
	cr_assert((fd = connect_from(E.d.http_port, 4)) != -1);
	(void)v2_write_all(fd, big, strlen(big));
	ms = trickle_until_closed(fd, NULL, 0, start, REQ_MS + HEADROOM_MS,
	    resp, sizeof(resp));
	close(fd);
	st = status_of(resp);
	cr_log_info("9 KiB of headers: status %d, closed after %ld ms", st,
	    ms);
	check(ms >= 0 && ms < AT_ONCE_MS, "oversized headers: closed after "
	    "%ld ms", ms);
	check(st == -1 || (st >= 400 && st < 500), "oversized headers: %d",
	    st);
	/* A body over 64 KiB. */
	memset(big, '1', 70 * 1024);
	big[0] = '[';
	big[70 * 1024 - 1] = ']';
	big[70 * 1024] = '\0';
	st = http_req(E.d.http_port, "POST", "/api/clients/x/mix", big, &r,
	    WAIT_MS);
	free(r);
	cr_log_info("70 KiB body: status %d", st);
	check(st == 413, "oversized body: status %d, not 413", st);
	/* JSON nested deeper than the limit. */
	n = 0;
	while (n < 40)
		big[n++] = '[';
	while (n < 80)
		big[n++] = ']';
	big[n] = '\0';
	st = http_req(E.d.http_port, "POST", "/api/clients/x/mix", big, &r,
	    WAIT_MS);
	check(st == 400 && r != NULL && strstr(r, "deep") != NULL,
	    "40 levels of JSON: %d %s", st, r ? r : "");
	free(r);
	/* Garbage. */
	st = http_req(E.d.http_port, "POST", "/api/clients/x/mix",
	    "\x01\xff{not json", &r, WAIT_MS);
	check(st == 400 && r != NULL && strstr(r, "invalid JSON") != NULL,
	    "garbage body: %d %s", st, r ? r : "");
	free(r);
	e2e_steady_clean("steady listener");
}

Test(limits, http_connection_cap_queues_then_serves)
{
	uint64_t start = clock_mono_ms();
	char *r;
	int i, st;
	long ms;

	/* Fill every HTTP slot with silent connections... */
	for (i = 0; i < PENDING; i++)
		cr_assert((abuser[i] = connect_from(E.d.http_port, 5 + i)) != -1);
	/* ...then a real request waits in the backlog until they are cut. */
	st = http_req(E.d.http_port, "GET", "/api/status", NULL, &r,
	    REQ_MS + HEADROOM_MS + WAIT_MS);
	free(r);
	cr_log_info("GET /api/status behind %d silent connections: %d after "
	    "%llu ms", PENDING, st, (unsigned long long)(clock_mono_ms() - start));
	check(st == 200, "API did not answer once the slots freed: %d", st);
	/*
	 * Each silent one is cut at its own deadline: the first cut let the
	 * request in, and the others may be a moment behind it.
	 */
	for (i = 0; i < PENDING; i++) {
		ms = trickle_until_closed(abuser[i], NULL, 0, start,
		    REQ_MS + HEADROOM_MS, NULL, 0);
		check(ms >= 0, "silent HTTP connection %d still open after "
		    "%d ms", i, REQ_MS + HEADROOM_MS);
	}
	st = http_req(E.d.http_port, "GET", "/api/status", NULL, &r, WAIT_MS);
	free(r);
	check(st == 200, "API after the flood: %d", st);
	e2e_steady_clean("steady listener");
}
