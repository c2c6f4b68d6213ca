/* ringcast.c — the ringcast user command: subcommand dispatch and usage. */
#include <err.h>
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "cli/ringcast.h"
#include "shared/log.h"

struct cli_cmd {
	const char	*name;
	int		(*fn)(int, char **);
	const char	*summary;
};

/* One line per subcommand; ringcast(1) has a section for each. */
static const struct cli_cmd cmds[] = {
	{ "listen",	cmd_listen,	"connect to a server and play or record" },
	{ "state",	cmd_state,	"list, show, export or forget saved mixes" },
	{ "upgrade",	cmd_upgrade,	"replace the running daemon by the installed one" },
	{ "token",	cmd_token,	"create, list or revoke access tokens" },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: ringcast <command> [options] [args]\n"
	    "       ringcast --version\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\n'ringcast <command> --help' describes a command.\n");
}

#define CLI_OPTS_MAX	16

/* One option of the table into opts. */
static void
cli_set(const struct cli_opt *o, void *opts, const char *arg)
{
	char *field = (char *)opts + o->off;

	if (o->flag)
		*(bool *)(void *)field = true;
	else
		*(const char **)(void *)field = arg;
}

/* The table as getopt_long's: index i's val is 256 + i. */
static void
cli_longopts(const struct cli_sub *s, struct option *lo, char *shortopts)
{
	size_t i, n = 0;

	for (i = 0; i < s->nopts && i < CLI_OPTS_MAX; i++) {
		lo[i] = (struct option){ s->opts[i].name, s->opts[i].flag ?
		    no_argument : required_argument, NULL, 256 + (int)i };
		if (s->opts[i].letter != 0) {
			shortopts[n++] = s->opts[i].letter;
			if (!s->opts[i].flag)
				shortopts[n++] = ':';
		}
	}
	lo[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[i] = (struct option){ NULL, 0, NULL, 0 };
	shortopts[n++] = 'h';
	shortopts[n] = '\0';
}

static int
cli_letter(const struct cli_sub *s, int ch)
{
	size_t i;

	for (i = 0; i < s->nopts; i++)
		if (s->opts[i].letter == ch)
			return 256 + (int)i;
	return ch;
}

int
cli_run(const struct cli_sub *s, void *opts, int argc, char **argv)
{
	struct option lo[CLI_OPTS_MAX + 2];
	char shortopts[2 * CLI_OPTS_MAX + 2];
	const struct cli_verb *v;
	int ch, n;
	size_t i;

	cli_longopts(s, lo, shortopts);
	argv[0] = (char *)(uintptr_t)s->prog;
	optind = 1;
	while ((ch = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		if (ch == 'h') {
			s->usage(stdout);
			return CLI_OK;
		}
		if ((ch = cli_letter(s, ch)) < 256 || ch - 256 >= (int)s->nopts) {
			s->usage(stderr);
			return CLI_ERR;
		}
		cli_set(&s->opts[ch - 256], opts, optarg);
	}
	for (i = 0; optind < argc && i < s->nverbs; i++) {
		v = &s->verbs[i];
		if (strcmp(argv[optind], v->name) != 0)
			continue;
		n = argc - optind - 1;
		if (n < v->min || n > v->max) {
			warnx("%s %s takes %d to %d arguments", s->prog, v->name,
			    v->min, v->max);
			return CLI_ERR;
		}
		return v->fn(opts, n, argv + optind + 1);
	}
	if (optind < argc)
		warnx("%s: unknown command '%s'", s->prog, argv[optind]);
	s->usage(stderr);
	return CLI_ERR;
}

static const struct cli_cmd *
cmd_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct cli_cmd *c;

	log_init("ringcast", 0);
	if (argc < 2) {
		usage(stderr);
		return CLI_ERR;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("ringcast %s\n", RINGCAST_VERSION);
		return CLI_OK;
	}
	if ((c = cmd_find(argv[1])) == NULL) {
		fprintf(stderr, "ringcast: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return CLI_ERR;
	}
	return c->fn(argc - 1, argv + 1);
}
