/* term.c — SIGTERM and SIGINT as a flag, for the children that stream audio. */
#include <string.h>

#include "shared/term.h"

volatile sig_atomic_t term_requested;

static void
on_term(int sig)
{
	(void)sig;
	term_requested = 1;
}

void
term_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}
