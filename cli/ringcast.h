/* ringcast.h — the ringcast user command: one function per subcommand. */
#ifndef RINGCAST_CLI_H
#define RINGCAST_CLI_H

/*
 * A subcommand gets the arguments after its name (argv[0] is the name) and
 * returns the process exit status.  To add one, declare it here, add a
 * line to the table in ringcast.c and a section to ringcast(1).
 */
int	cmd_listen(int argc, char **argv);
int	cmd_state(int argc, char **argv);
int	cmd_token(int argc, char **argv);

/* Exit status of a subcommand. */
#define CLI_OK		0
#define CLI_ERR		1

#endif
