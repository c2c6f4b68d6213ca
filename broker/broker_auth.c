/* broker_auth.c — who may do what over HTTP: tokens checked here, failed attempts counted. */
/*
 * The supervisor owns the tokens (LMDB) and sends us the table whole
 * (MSG_BROKER_TOKENS: public id, role, listener and the hash of each)
 * at our start and at every change, so a credential is checked here,
 * where the untrusted bytes are read, without touching LMDB: the
 * presented token is hashed and compared in constant time
 * (shared/token.c).  Every route says who may use it (broker_api.c's
 * table); this file applies that, and counts failed attempts per
 * address: AUTH_FAILS of them within AUTH_WINDOW_MS and the address gets
 * 429 for AUTH_BLOCK_MS, whatever it sends.  TLS is broker_tls.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "broker/broker.h"
#include "broker/broker_cred.h"

#define AUTH_FAILS		20
#define AUTH_WINDOW_MS		60000
#define AUTH_BLOCK_MS		60000
#define AUTH_ADDRS		1024	/* addresses remembered: bounded memory */
#define AUTH_COOKIE_AGE		(30 * 24 * 3600)

/* Failed attempts from one address. */
struct strike {
	char		ip[64];
	uint64_t	first_ms;	/* start of the counting window */
	uint32_t	n;
	uint64_t	until_ms;	/* blocked until; 0 = not blocked */
	uint64_t	last_ms;
};

static struct {
	const struct broker_config *cfg;
	bool		 auth;
	bool		 have_table;
	struct msg_tokens tokens;
	struct strike	 strikes[AUTH_ADDRS];
	struct msg_auth_stats stats;
} as;

/* ---- failed attempts ---- */

static void
stats_send(void)
{
	/* A full channel loses this one; the next change sends the totals. */
	(void)broker_send(MSG_BROKER_AUTH_STATS, &as.stats, sizeof(as.stats),
	    NULL, 0, -1);
}

static struct strike *
strike_find(const char *ip)
{
	size_t i;

	for (i = 0; i < AUTH_ADDRS; i++)
		if (as.strikes[i].ip[0] != '\0' &&
		    strcmp(as.strikes[i].ip, ip) == 0)
			return &as.strikes[i];
	return NULL;
}

/* A slot for ip: a free one, else the one quiet longest, blocked last. */
static struct strike *
strike_slot(const char *ip, uint64_t now)
{
	struct strike *s, *best = NULL;
	size_t i;

	for (i = 0; i < AUTH_ADDRS; i++) {
		s = &as.strikes[i];
		if (s->ip[0] == '\0' || (s->until_ms <= now &&
		    now - s->first_ms > AUTH_WINDOW_MS)) {
			best = s;
			break;
		}
		if (best == NULL || (best->until_ms > now) > (s->until_ms > now) ||
		    ((best->until_ms > now) == (s->until_ms > now) &&
		    s->last_ms < best->last_ms))
			best = s;
	}
	memset(best, 0, sizeof(*best));
	snprintf(best->ip, sizeof(best->ip), "%s", ip);
	best->first_ms = now;
	return best;
}

static bool
strike_blocked(const char *ip)
{
	struct strike *s = strike_find(ip);

	return s != NULL && s->until_ms > clock_mono_ms();
}

static void
strike_add(const char *ip)
{
	uint64_t now = clock_mono_ms();
	struct strike *s = strike_find(ip);

	if (s == NULL)
		s = strike_slot(ip, now);
	if (now - s->first_ms > AUTH_WINDOW_MS) {
		s->first_ms = now;
		s->n = 0;
	}
	s->last_ms = now;
	as.stats.failed++;
	if (++s->n >= AUTH_FAILS && s->until_ms <= now) {
		s->until_ms = now + AUTH_BLOCK_MS;
		as.stats.blocks++;
		log_warnx("%s: %u failed credentials within %d s: refused for "
		    "%d s", ip, s->n, AUTH_WINDOW_MS / 1000, AUTH_BLOCK_MS / 1000);
	}
	stats_send();
}

/* ---- the table ---- */

void
auth_tokens(const struct msg_tokens *m)
{
	as.tokens = *m;
	as.auth = m->auth != 0;
	as.have_table = true;
	log_debug("credentials %s, %u tokens", as.auth ? "asked for" :
	    "not asked for", m->n);
}

static const struct token_entry *
token_find(const char *tok)
{
	uint32_t i;

	for (i = 0; i < as.tokens.n; i++)
		if (token_matches(&as.tokens.e[i], tok, TOKEN_LEN))
			return &as.tokens.e[i];
	return NULL;
}

/* ---- the request's parts ---- */

static void
peer_ip(struct evhttp_request *req, char *ip, size_t len)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *addr = NULL;
	ev_uint16_t port;

	if (evcon != NULL)
		evhttp_connection_get_peer(evcon, &addr, &port);
	snprintf(ip, len, "%s", addr != NULL ? addr : "?");
}

static const char *
header(struct evhttp_request *req, const char *name)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

/* 1: a token in tok; 0: none presented; -1: one presented, malformed. */
static int
credential(struct evhttp_request *req, char tok[TOKEN_LEN + 1], bool *cookie)
{
	const char *v;

	*cookie = false;
	if ((v = header(req, "Authorization")) != NULL)
		return cred_bearer(v, tok) == 0 ? 1 : -1;
	if ((v = header(req, "Cookie")) == NULL)
		return 0;
	*cookie = true;
	return cred_cookie(v, tok);
}

static void
refuse(struct evhttp_request *req, int status, const char *why)
{
	if (status == 401)
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "WWW-Authenticate", "Bearer realm=\"ringcast\"");
	http_error(req, status, why);
}

/* A browser's write with our cookie must come from our own page. */
static bool
same_origin(struct evhttp_request *req)
{
	const char *origin = header(req, "Origin");
	const char *site = header(req, "Sec-Fetch-Site");

	if (site != NULL && strcmp(site, "same-origin") != 0 &&
	    strcmp(site, "none") != 0)
		return false;
	return origin == NULL || cred_origin_same(origin, header(req, "Host"),
	    tls_on());
}

static bool
is_write(struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	return cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD;
}

/* What the principal may do on this route: 0, or 403. */
static int
allowed(const struct principal *p, enum access access,
    const struct msg_api_request *api)
{
	if (p->role == TOKEN_ENGINEER)
		return 0;
	if (access == ACCESS_ANY || access == ACCESS_LISTENER)
		return 0;
	if (access == ACCESS_OWN && strcmp(api->client, p->listener) == 0)
		return 0;
	return 403;
}

int
auth_gate(struct evhttp_request *req, const struct msg_api_request *api,
    struct principal *p)
{
	enum access access = api_route_access(api->route);
	const struct token_entry *e;
	char ip[64], tok[TOKEN_LEN + 1];
	int rc;

	memset(p, 0, sizeof(*p));
	peer_ip(req, ip, sizeof(ip));
	if (strike_blocked(ip)) {
		as.stats.limited++;
		stats_send();
		http_error(req, 429, "too many failed credentials: try again "
		    "in a minute");
		return 429;
	}
	p->role = TOKEN_ENGINEER;
	if (access == ACCESS_PUBLIC || !as.auth ||
	    (access == ACCESS_METRICS && as.cfg->metrics_public))
		return 0;
	if (!as.have_table) {
		http_error(req, 503, "starting: try again");
		return 503;
	}
	p->role = TOKEN_NONE;
	if ((rc = credential(req, tok, &p->cookie)) == 0) {
		refuse(req, 401, "a credential is required: log in");
		return 401;
	}
	if (rc == -1 || (e = token_find(tok)) == NULL) {
		strike_add(ip);
		refuse(req, 401, "unknown or revoked token");
		return 401;
	}
	p->role = e->role;
	snprintf(p->listener, sizeof(p->listener), "%s", e->listener);
	if (allowed(p, access, api) != 0) {
		http_error(req, 403, "this token may not do that");
		return 403;
	}
	if (p->cookie && is_write(req) && !same_origin(req)) {
		http_error(req, 403, "a cookie write from another site");
		return 403;
	}
	return 0;
}

/* ---- login, logout, who ---- */

static void
set_cookie(struct evhttp_request *req, const char *value, int age)
{
	char c[256];

	snprintf(c, sizeof(c), "%s=%s; Path=/; Max-Age=%d; HttpOnly; "
	    "SameSite=Strict%s", CRED_COOKIE, value, age,
	    tls_on() ? "; Secure" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie",
	    c);
}

static void
session_reply(struct evhttp_request *req, const struct principal *p)
{
	json_t *o = json_pack("{s:b, s:s, s:s}", "auth", as.auth,
	    "role", token_role_name(p->role), "listener", p->listener);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	if (s == NULL)
		http_error(req, 500, "out of memory");
	else
		http_send(req, 200, "application/json", s, strlen(s));
	free(s);
	json_decref(o);
}

void
auth_login(struct evhttp_request *req)
{
	const struct token_entry *e;
	struct principal p;
	char ip[64], why[256], tok[TOKEN_LEN + 1];
	json_t *body = NULL;
	int status;

	memset(&p, 0, sizeof(p));
	peer_ip(req, ip, sizeof(ip));
	if ((status = http_body_json(req, &body, why, sizeof(why))) != 0) {
		http_error(req, status, why);
		return;
	}
	if (cred_login_body(body, tok) == -1) {
		json_decref(body);
		strike_add(ip);
		http_error(req, 400, "expected {\"token\": \"…\"}");
		return;
	}
	json_decref(body);
	if (!as.have_table || !as.auth) {
		p.role = TOKEN_ENGINEER;
		session_reply(req, &p);
		return;
	}
	if ((e = token_find(tok)) == NULL) {
		strike_add(ip);
		refuse(req, 401, "unknown or revoked token");
		return;
	}
	p.role = e->role;
	snprintf(p.listener, sizeof(p.listener), "%s", e->listener);
	set_cookie(req, tok, AUTH_COOKIE_AGE);
	session_reply(req, &p);
}

void
auth_logout(struct evhttp_request *req)
{
	set_cookie(req, "", 0);
	http_send(req, 200, "application/json", "{}", 2);
}

void
auth_session(struct evhttp_request *req, const struct principal *p)
{
	session_reply(req, p);
}

void
auth_init(struct event_base *base, const struct broker_config *cfg)
{
	char tok[TOKEN_LEN + 1];
	struct token_entry e;

	(void)base;
	as.cfg = cfg;
	as.auth = cfg->auth != 0;
	/* Whatever OpenSSL loads on first use is loaded before the sandbox. */
	if (token_new(TOKEN_ENGINEER, NULL, tok, &e) == -1 ||
	    !token_matches(&e, tok, TOKEN_LEN))
		fatalx("tokens: hashing does not work");
}
