/* spawn.c — descriptors and signals of a child between fork and exec. */
#define _GNU_SOURCE	/* close_range */
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "shared/spawn.h"

#define SPAWN_PARK	32	/* sources are moved here before the dup2s */

int
spawn_prepare(const int *fds, int nfds)
{
	int park[SPAWN_FDS_MAX], i, dn;
	sigset_t none;

	if (nfds > SPAWN_FDS_MAX)
		return -1;
	/* A source may sit on a target number: park them all above first. */
	for (i = 0; i < nfds; i++)
		if ((park[i] = fcntl(fds[i], F_DUPFD, SPAWN_PARK)) == -1)
			return -1;
	if ((dn = open("/dev/null", O_RDONLY)) == -1 || dup2(dn, 0) == -1)
		return -1;
	for (i = 0; i < nfds; i++)
		if (dup2(park[i], 3 + i) == -1)
			return -1;
	close_range(3 + (unsigned)nfds, ~0U, 0);
	/* The parent's handlers would act in the child: default them, unblock. */
	for (i = 1; i < NSIG; i++)
		signal(i, SIG_DFL);
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}
