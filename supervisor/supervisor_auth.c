/* supervisor_auth.c — the token table for the broker, login links, and who may take a live identity. */
/*
 * Tokens live in LMDB (shared/state_token.h), written by `ringcast token`
 * or by a login link made here.  The broker checks credentials, so it gets
 * the table whole (MSG_BROKER_TOKENS: public id, role, listener, hash; never
 * a secret, which nobody keeps) when it is ready and after every change.
 * A change made by another process shows in the tokens_changed counter,
 * read every AUTH_POLL_MS: a new or revoked token counts within a second.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "shared/opt.h"
#include "shared/qr.h"
#include "shared/state_token.h"
#include "supervisor/supervisor.h"

#define AUTH_POLL_MS		250
#define AUTH_HEALTHY_MS		2500	/* a session reports once a second */
#define AUTH_LINK_NAME		"link"	/* tokens made by the UI's link */

static struct {
	struct msg_tokens	 table;
	uint64_t		 gen;
	bool			 loaded;
	struct event		*poll;
	struct msg_auth_stats	 counts;
} au;

/* ---- configuration ---- */

/* Whether every address host resolves to is a loopback one. */
static bool
loopback_only(const char *hostport)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
	    .ai_flags = AI_PASSIVE }, *res, *ai;
	char host[256], port[32], why[128];
	const struct sockaddr_in *in;
	const struct sockaddr_in6 *in6;
	bool all = true;

	if (opt_hostport(hostport, NULL, host, sizeof(host), port,
	    sizeof(port), why, sizeof(why)) == -1 ||
	    getaddrinfo(host, port, &hints, &res) != 0)
		return false;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		in = (const struct sockaddr_in *)(const void *)ai->ai_addr;
		in6 = (const struct sockaddr_in6 *)(const void *)ai->ai_addr;
		if (ai->ai_family == AF_INET)
			all = all && (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		else if (ai->ai_family == AF_INET6)
			all = all && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		else
			all = false;
	}
	freeaddrinfo(res);
	return all;
}

static int
one_of(const char *what, const char *v, const char *const *allowed, int n,
    char *err, size_t errlen)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(v, allowed[i]) == 0)
			return i;
	snprintf(err, errlen, "%s: \"%s\" is not %s", what, v, n == 2 ?
	    "yes or no" : strcmp(what, "auth") == 0 ? "auto, on or off" :
	    "open, known or approve");
	return -1;
}

int
auth_config_check(struct config *c, char *err, size_t errlen)
{
	static const char *const modes[] = { "auto", "on", "off" };
	static const char *const admits[] = { "open", "known", "approve" };
	static const char *const yesno[] = { "no", "yes" };
	int auth, admit;

	if ((auth = one_of("auth", c->auth, modes, 3, err, errlen)) == -1 ||
	    (admit = one_of("admit", c->admit, admits, 3, err, errlen)) == -1 ||
	    one_of("metrics-public", c->metrics_public, yesno, 2, err,
	    errlen) == -1)
		return -1;
	c->admit_mode = admit;
	c->auth_on = auth == 1 || (auth == 0 && !loopback_only(c->http));
	if ((c->tls_cert[0] == '\0') != (c->tls_key[0] == '\0')) {
		snprintf(err, errlen, "tls-cert and tls-key go together");
		return -1;
	}
	if (c->tls_cert[0] != '\0' && (access(c->tls_cert, R_OK) == -1 ||
	    access(c->tls_key, R_OK) == -1)) {
		snprintf(err, errlen, "tls-cert %s, tls-key %s: %s", c->tls_cert,
		    c->tls_key, strerror(errno));
		return -1;
	}
	return 0;
}

int
auth_broker_words(const char **words, int n)
{
	if (sv.cfg.auth_on)
		words[n++] = "--auth";
	if (strcmp(sv.cfg.metrics_public, "yes") == 0)
		words[n++] = "--metrics-public";
	if (sv.cfg.tls_cert[0] != '\0') {
		words[n++] = "--tls-cert";
		words[n++] = sv.cfg.tls_cert;
		words[n++] = "--tls-key";
		words[n++] = sv.cfg.tls_key;
	}
	return n;
}

/* ---- the table ---- */

static int
table_add(const struct token_record *r, void *arg)
{
	struct msg_tokens *t = arg;

	if (t->n < TOKEN_MAX)
		t->e[t->n++] = r->e;
	return 0;
}

static void
table_send(void)
{
	struct child *b = sv.broker.child;

	au.table.auth = sv.cfg.auth_on;
	if (b != NULL && b->ready && child_send(b, MSG_BROKER_TOKENS,
	    &au.table, sizeof(au.table), NULL, 0) == -1)
		log_warn("MSG_BROKER_TOKENS");	/* the next poll sends it */
	else
		return;
	au.loaded = false;
}

/* Read the table again if it changed (or was never read), and send it. */
static void
table_load(bool force)
{
	static struct msg_tokens next;
	uint64_t gen;
	int rc;

	if (sv.state == NULL)
		return;
	if ((rc = state_token_gen(sv.state, &gen)) != STATE_OK) {
		log_warnx("tokens: %s", state_strerror(sv.state, rc));
		return;
	}
	if (au.loaded && gen == au.gen && !force)
		return;
	memset(&next, 0, sizeof(next));
	if ((rc = state_token_each(sv.state, table_add, &next)) != STATE_OK) {
		log_warnx("tokens: %s", state_strerror(sv.state, rc));
		return;
	}
	if (au.loaded && gen != au.gen)
		log_info("tokens changed: %u now", next.n);
	au.table = next;
	au.gen = gen;
	au.loaded = true;
	table_send();
}

static void
auth_poll(void)
{
	table_load(false);
}

void
auth_start(void)
{
	table_load(true);
	if (sv.cfg.auth_on && au.table.n == 0)
		log_warnx("HTTP asks for credentials and no token exists: make "
		    "one with `ringcast token -d %s create engineer`",
		    sv.cfg.state_dir);
	au.poll = super_every(AUTH_POLL_MS, auth_poll);
}

void
auth_stop(void)
{
	super_every_stop(&au.poll);
}

void
auth_broker_ready(void)
{
	if (au.loaded)
		table_send();
	else
		table_load(true);
	/* Before the state is open: credentials wait (503) until then. */
}

void
auth_stats(const struct msg_auth_stats *m)
{
	au.counts = *m;
}

const struct msg_auth_stats *
auth_counts(void)
{
	return &au.counts;
}

/* ---- login links ---- */

/* The listener's earlier links: one link per listener. */
struct links {
	const char	*listener;
	size_t		 n;
	char		 ids[TOKEN_MAX][TOKEN_ID_LEN + 1];
};

static int
link_old(const struct token_record *r, void *arg)
{
	struct links *l = arg;

	if (r->e.role == TOKEN_LISTENER && strcmp(r->name, AUTH_LINK_NAME) ==
	    0 && strcmp(r->e.listener, l->listener) == 0 && l->n < TOKEN_MAX)
		memcpy(l->ids[l->n++], r->e.id, TOKEN_ID_LEN + 1);
	return 0;
}

static void
links_revoke(const char *id)
{
	static struct links l;
	size_t i;
	int rc;

	memset(&l, 0, sizeof(l));
	l.listener = id;
	if (state_token_each(sv.state, link_old, &l) != STATE_OK)
		return;
	for (i = 0; i < l.n; i++)
		if ((rc = state_token_del(sv.state, l.ids[i])) != STATE_OK &&
		    rc != STATE_NOTFOUND)
			log_warnx("client %s: link %s not revoked: %s", id,
			    l.ids[i], state_strerror(sv.state, rc));
}

json_t *
auth_link(const char *id, const char *origin, int *status)
{
	struct client *cl = session_find(id);
	struct token_record r;
	struct state_record rec;
	char text[TOKEN_LEN + 1], url[512];
	char *svg;
	json_t *o;
	int rc;

	*status = 404;
	if (cl == NULL && state_get(sv.state, id, &rec) != STATE_OK)
		return json_pack("{s:s}", "error", "no such client");
	*status = 409;
	if (cl != NULL && cl->player)
		return json_pack("{s:s}", "error", "a WAV player has no link: "
		    "its listener's token opens /stream.wav");
	memset(&r, 0, sizeof(r));
	*status = 500;
	if (token_new(TOKEN_LISTENER, id, text, &r.e) == -1)
		return json_pack("{s:s}", "error", "no random bytes");
	snprintf(r.name, sizeof(r.name), "%s", AUTH_LINK_NAME);
	r.created_ms = clock_wall_ms();
	links_revoke(id);
	if ((rc = state_token_put(sv.state, &r)) != STATE_OK)
		return json_pack("{s:s}", "error", rc == STATE_EINVAL ?
		    "token table full: revoke some (ringcast token)" :
		    state_strerror(sv.state, rc));
	table_load(true);
	snprintf(url, sizeof(url), "%s/#token=%s", origin, text);
	if ((svg = qr_svg(url)) == NULL)
		return json_pack("{s:s}", "error", "no QR code");
	o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "token_id",
	    r.e.id, "token", text, "url", url, "svg", svg);
	free(svg);
	OPENSSL_cleanse(text, sizeof(text));
	log_info("client %s: login link %s made", id, r.e.id);
	*status = 200;
	return o;
}

/* ---- identities held by a live session ---- */

bool
auth_session_healthy(const struct client *cl)
{
	/* Ready, reporting, and delivering what it is given. */
	return cl->child != NULL && cl->child->ready && !cl->dropping &&
	    clock_mono_ms() - cl->stats_ms <= AUTH_HEALTHY_MS;
}
