/* broker_tls.c — HTTPS: OpenSSL bufferevents for evhttp, and a relay for the streams it hands on. */
/*
 * With --tls-cert and --tls-key every HTTP connection is TLS 1.2 or
 * later: evhttp reads and writes through an OpenSSL bufferevent.  The key
 * and certificate are read at start, before the drop and the sandbox.
 * The event stream and /stream.wav take their socket away from evhttp
 * (http_take_socket); over TLS the socket must stay with its TLS state,
 * so they get one end of a socketpair instead and this file relays
 * between the other end and the connection's TLS bufferevent, which
 * evhttp keeps (its callbacks are ours until the relay ends, when the
 * connection is freed).  A relay holds at most TLS_RELAY_MAX bytes each
 * way: a slow browser or player fills its socketpair end, and the session
 * or the event stream on it sees a slow client, as on plain HTTP.
 */
#define _GNU_SOURCE
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "shared/log.h"
#include "broker/broker.h"

#define TLS_RELAY_MAX	(256 * 1024)

struct relay {
	struct evhttp_connection *evcon;
	struct bufferevent	*tls;		/* evhttp's, callbacks ours */
	struct bufferevent	*plain;		/* our end of the socketpair */
};

static struct {
	SSL_CTX			*ctx;
	const struct broker_config *cfg;
	struct event_base	*base;
} ts;

static void
tls_fail(const char *what, const char *file)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	fatalx("TLS: %s %s: %s", what, file ? file : "", buf);
}

void
tls_init(struct event_base *base, const struct broker_config *cfg)
{
	ts.base = base;
	ts.cfg = cfg;
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL))
		fatalx("TLS needs both --tls-cert and --tls-key");
	if (cfg->tls_cert == NULL)
		return;
	if ((ts.ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		tls_fail("context", NULL);
	if (SSL_CTX_set_min_proto_version(ts.ctx, TLS1_2_VERSION) != 1)
		tls_fail("TLS 1.2 and later", NULL);
	SSL_CTX_set_options(ts.ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_use_certificate_chain_file(ts.ctx, cfg->tls_cert) != 1)
		tls_fail("certificate", cfg->tls_cert);
	if (SSL_CTX_use_PrivateKey_file(ts.ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1)
		tls_fail("key", cfg->tls_key);
	if (SSL_CTX_check_private_key(ts.ctx) != 1)
		tls_fail("the key does not match the certificate", NULL);
	log_debug("HTTPS with %s", cfg->tls_cert);
}

bool
tls_on(void)
{
	return ts.ctx != NULL;
}

struct bufferevent *
tls_bufferevent(struct event_base *base)
{
	struct bufferevent *bev;
	SSL *ssl;

	if ((ssl = SSL_new(ts.ctx)) == NULL)
		return NULL;
	/* CLOSE_ON_FREE: SSL_free and the socket's close go with it. */
	if ((bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		SSL_free(ssl);
	return bev;
}

/* ---- the relay ---- */

static void
relay_end(struct relay *r)
{
	bufferevent_free(r->plain);
	/* evhttp frees the TLS bufferevent, the socket and the request. */
	evhttp_connection_free(r->evcon);
	free(r);
}

/* What the stream's owner wrote: into TLS, while it keeps up. */
static void
relay_out(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *out = bufferevent_get_output(r->tls);

	(void)bev;
	evbuffer_add_buffer(out, bufferevent_get_input(r->plain));
	if (evbuffer_get_length(out) >= TLS_RELAY_MAX)
		bufferevent_disable(r->plain, EV_READ);
}

/* TLS drained below its mark: read the stream's owner again. */
static void
relay_drained(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;

	(void)bev;
	bufferevent_enable(r->plain, EV_READ);
}

/* What the browser or player sent: passed on, dropped when nobody reads. */
static void
relay_in(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(r->tls);

	(void)bev;
	if (evbuffer_get_length(bufferevent_get_output(r->plain)) >=
	    TLS_RELAY_MAX)
		evbuffer_drain(in, evbuffer_get_length(in));
	else
		evbuffer_add_buffer(bufferevent_get_output(r->plain), in);
}

static void
relay_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;

	log_debug("TLS relay: %s %s", bev == r->tls ? "client" : "stream",
	    what & BEV_EVENT_EOF ? "closed" : what & BEV_EVENT_TIMEOUT ?
	    "timed out" : "failed");
	relay_end(r);
}

int
tls_take(struct evhttp_request *req, char *remote, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct timeval wtv;
	struct relay *r;
	int sv[2];

	if (evcon == NULL || (r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->evcon = evcon;
	r->tls = evhttp_connection_get_bufferevent(evcon);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("HTTPS: socketpair");
		free(r);
		return -1;
	}
	if ((r->plain = bufferevent_socket_new(ts.base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		close(sv[0]);
		close(sv[1]);
		free(r);
		return -1;
	}
	snprintf(remote, len, "?");
	if (getpeername(bufferevent_getfd(r->tls), (struct sockaddr *)&ss,
	    &sl) == 0)
		broker_addr_str((struct sockaddr *)&ss, sl, remote, len);
	/* evhttp waits for our reply, which never comes: the relay answers. */
	bufferevent_setcb(r->tls, relay_in, relay_drained, relay_event, r);
	bufferevent_setwatermark(r->tls, EV_WRITE, TLS_RELAY_MAX / 2, 0);
	broker_tv(&wtv, ts.cfg->request_ms);
	bufferevent_set_timeouts(r->tls, NULL, &wtv);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
	bufferevent_setcb(r->plain, relay_out, NULL, relay_event, r);
	bufferevent_enable(r->plain, EV_READ | EV_WRITE);
	return sv[1];
}
