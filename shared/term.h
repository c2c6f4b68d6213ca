/* term.h — how a child learns it must stop: SIGTERM or SIGINT raise a flag. */
#ifndef RINGCAST_TERM_H
#define RINGCAST_TERM_H

#include <signal.h>

/* Set by SIGTERM or SIGINT; the loop that sees it ends the process. */
extern volatile sig_atomic_t term_requested;

/*
 * SIGPIPE ignored (a closed peer is an error return, not a death), SIGTERM
 * and SIGINT raise term_requested without SA_RESTART: a wait or a sleep
 * in progress returns early, and the loop looks at the flag.
 */
void	term_setup(void);

#endif
