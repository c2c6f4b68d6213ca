/* ringcast.c — the ringcast user command: subcommand dispatch and usage. */
#include <stdio.h>
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
