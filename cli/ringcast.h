/* ringcast.h — the ringcast user command: one function per subcommand. */
#ifndef RINGCAST_CLI_H
#define RINGCAST_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/*
 * A subcommand gets the arguments after its name (argv[0] is the name) and
 * returns the process exit status.  To add one, declare it here, add a
 * line to the table in ringcast.c and a section to ringcast(1).
 */
int	cmd_listen(int argc, char **argv);
int	cmd_state(int argc, char **argv);
int	cmd_upgrade(int argc, char **argv);

#define CLI_HTTP_DEFAULT	"127.0.0.1:5100"

/* A daemon's answer: status 0 means no daemon answered (refused). */
struct http_reply {
	int		 status;
	char		*body;		/* NUL-terminated, or NULL */
};

/*
 * One request to the daemon's API at HOST:PORT (ringcast_state.c), with a
 * JSON body or NULL.  0 with
 * r->status 0 if nothing listens there (connection refused), 0 with the
 * reply, or -1 after saying why.
 */
int	http_request(const char *hp, const char *method, const char *path,
	    const char *body, struct http_reply *r);
/* The state in dir (ringcast_state.c), to read or to write; NULL, said. */
struct state;
struct state *cli_state_open(const char *dir, bool write);
int	cmd_token(int argc, char **argv);

/*
 * A subcommand with options and commands of its own ("ringcast state
 * list", "ringcast token create"): its options from a table (-h/--help:
 * usage on stdout), then the command named by the first operand with the
 * rest, which must number min..max.
 */
struct cli_opt {
	const char	*name;		/* the long option */
	char		 letter;	/* its short form, or 0 */
	bool		 flag;		/* a bool at off, else a const char * */
	size_t		 off;		/* in the subcommand's options struct */
};
struct cli_verb {
	const char	*name;
	int		 min, max;
	int		(*fn)(void *opts, int argc, char **argv);
};
struct cli_sub {
	const char		*prog;		/* "ringcast state" */
	const struct cli_opt	*opts;
	size_t			 nopts;
	void			(*usage)(FILE *f);
	const struct cli_verb	*verbs;
	size_t			 nverbs;
};
int	cli_run(const struct cli_sub *s, void *opts, int argc, char **argv);

/* Exit status of a subcommand. */
#define CLI_OK		0
#define CLI_ERR		1

#endif
