/* ringcast_token.c — `ringcast token`: create, list and revoke access tokens in the state. */
/*
 * Tokens are written straight into the state's LMDB environment, whether
 * ringcastd runs or not: LMDB serialises writers across processes, the
 * state directory's permissions say who may, and no credential is needed
 * to make the first one.  A running ringcastd sees the change counter
 * move (it looks every 250 ms) and hands the new table to its broker, so
 * a new token works, and a revoked one stops working, within a second.
 */
#include <err.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "cli/ringcast.h"
#include "shared/clock.h"
#include "shared/mix.h"
#include "shared/qr.h"
#include "shared/state.h"
#include "shared/state_token.h"
#include "shared/text.h"

#define TOKEN_DIR_DEFAULT	"/var/lib/ringcast"
#define TOKEN_BASE_DEFAULT	"http://127.0.0.1:5100"

struct token_opts {
	const char	*dir;
	const char	*name;
	const char	*base;		/* the page's address, for --url, --qr */
	bool		 url, qr;
};

static void
token_usage(FILE *f)
{
	fprintf(f, "usage: ringcast token [-d STATEDIR] COMMAND\n"
	    "  create engineer [--name N]      a token for the sound engineer\n"
	    "  create listener ID [--name N]   a token for one listener's mix\n"
	    "      --url: print a login link; --qr: and its QR code "
	    "(--base URL: the\n"
	    "      page's address, default %s)\n"
	    "  list                            the tokens: id, role, "
	    "listener, name\n"
	    "  revoke TOKEN-ID                 the token stops working within "
	    "a second\n"
	    "create prints the token alone on stdout; only its hash is "
	    "stored.\n-d STATEDIR defaults to %s.\n", TOKEN_BASE_DEFAULT,
	    TOKEN_DIR_DEFAULT);
}

static struct state *
token_state(const struct token_opts *o, bool write)
{
	return cli_state_open(o->dir, write);
}

/* The login link: the token in the fragment, which no request carries. */
static int
print_link(const struct token_opts *o, const char *token)
{
	char url[1024];

	snprintf(url, sizeof(url), "%s/#token=%s", o->base, token);
	printf("%s\n", url);
	if (o->qr && qr_terminal(stdout, url) == -1) {
		warnx("the link is too long for a QR code");
		return CLI_ERR;
	}
	return CLI_OK;
}

static int
tok_create(void *ov, int argc, char **argv)
{
	const struct token_opts *o = ov;

	struct token_record r;
	enum token_role role;
	char text[TOKEN_LEN + 1];
	struct state *s;
	int rc;

	role = argc >= 1 ? token_role_parse(argv[0]) : TOKEN_NONE;
	if (role == TOKEN_NONE || argc != (role == TOKEN_LISTENER ? 2 : 1)) {
		warnx("token create engineer | token create listener ID");
		return CLI_ERR;
	}
	if (role == TOKEN_LISTENER && !state_id_valid(argv[1])) {
		warnx("%s: not an identity (1..127 printable ASCII)", argv[1]);
		return CLI_ERR;
	}
	if (o->name != NULL && (strlen(o->name) >= sizeof(r.name) ||
	    !text_name(o->name, strlen(o->name)))) {
		warnx("--name: at most %zu bytes, no control characters",
		    sizeof(r.name) - 1);
		return CLI_ERR;
	}
	memset(&r, 0, sizeof(r));
	if (token_new(role, role == TOKEN_LISTENER ? argv[1] : NULL, text,
	    &r.e) == -1) {
		warnx("no random bytes for a token");
		return CLI_ERR;
	}
	snprintf(r.name, sizeof(r.name), "%s", o->name ? o->name : "");
	r.created_ms = clock_wall_ms();
	if ((s = token_state(o, true)) == NULL)
		return CLI_ERR;
	rc = state_token_put(s, &r);
	if (rc != STATE_OK)
		warnx("%s: %s", o->dir, rc == STATE_EINVAL ? "token table full "
		    "(revoke some)" : state_strerror(s, rc));
	state_close(s);
	if (rc != STATE_OK)
		return CLI_ERR;
	rc = o->url || o->qr ? print_link(o, text) : (printf("%s\n", text),
	    CLI_OK);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

static int
tok_row(const struct token_record *r, void *arg)
{
	char when[32];
	time_t t = (time_t)(r->created_ms / 1000);
	struct tm tm;

	(void)arg;
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm) == 0)
		snprintf(when, sizeof(when), "?");
	printf("%-8s  %-8s  %-24s  %-16s  %s\n", r->e.id,
	    token_role_name(r->e.role), r->e.role == TOKEN_LISTENER ?
	    r->e.listener : "-", when, r->name);
	return 0;
}

static int
tok_list(void *ov, int argc, char **argv)
{
	const struct token_opts *o = ov;

	struct state *s;
	int rc;

	(void)argv;
	if (argc != 0) {
		warnx("token list takes no argument");
		return CLI_ERR;
	}
	if ((s = token_state(o, false)) == NULL)
		return CLI_ERR;
	printf("%-8s  %-8s  %-24s  %-16s  %s\n", "ID", "ROLE", "LISTENER",
	    "CREATED", "NAME");
	if ((rc = state_token_each(s, tok_row, NULL)) != STATE_OK)
		warnx("%s: %s", o->dir, state_strerror(s, rc));
	state_close(s);
	return rc == STATE_OK ? CLI_OK : CLI_ERR;
}

static int
tok_revoke(void *ov, int argc, char **argv)
{
	const struct token_opts *o = ov;

	char id[TOKEN_ID_LEN + 1];
	struct state *s;
	int rc;

	if (argc != 1) {
		warnx("token revoke TOKEN-ID");
		return CLI_ERR;
	}
	/* The public id, or a whole token (its first 8 characters). */
	if (!token_parse(argv[0], strlen(argv[0]), id)) {
		snprintf(id, sizeof(id), "%.8s", argv[0]);
		if (!token_id_valid(id) || strlen(argv[0]) != TOKEN_ID_LEN) {
			warnx("%s: not a token id (8 characters, see token "
			    "list)", argv[0]);
			return CLI_ERR;
		}
	}
	if ((s = token_state(o, true)) == NULL)
		return CLI_ERR;
	rc = state_token_del(s, id);
	if (rc == STATE_NOTFOUND)
		warnx("%s: no such token", id);
	else if (rc != STATE_OK)
		warnx("%s: %s", o->dir, state_strerror(s, rc));
	state_close(s);
	return rc == STATE_OK ? CLI_OK : CLI_ERR;
}

static const struct cli_verb token_cmds[] = {
	{ "create",	1, 2,	tok_create },
	{ "list",	0, 0,	tok_list },
	{ "revoke",	1, 1,	tok_revoke },
};

#define TOPT(f)	offsetof(struct token_opts, f)

static const struct cli_opt token_flags[] = {
	{ "dir", 'd', false, TOPT(dir) },
	{ "name", 0, false, TOPT(name) },
	{ "base", 0, false, TOPT(base) },
	{ "url", 0, true, TOPT(url) },
	{ "qr", 0, true, TOPT(qr) },
};

static const struct cli_sub token_sub = { "ringcast token", token_flags,
    sizeof(token_flags) / sizeof(token_flags[0]), token_usage, token_cmds,
    sizeof(token_cmds) / sizeof(token_cmds[0]) };

int
cmd_token(int argc, char **argv)
{
	struct token_opts o = { .dir = TOKEN_DIR_DEFAULT,
	    .base = TOKEN_BASE_DEFAULT };

	return cli_run(&token_sub, &o, argc, argv);
}
