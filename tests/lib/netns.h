/* netns.h — test library: two network namespaces joined by a veth pair, multicast routed over it. */
#ifndef RINGCAST_NETNS_H
#define RINGCAST_NETNS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Box A (10.77.0.1 on NETNS_IF_A) and box B (10.77.0.2 on NETNS_IF_B),
 * each with lo up and 224.0.0.0/4 routed over the pair: no packet leaves
 * them.  Needs root.  A thread moves itself between them with
 * netns_enter; a process it forks (ringcastd, ffmpeg) stays where the
 * thread was, and so does a socket it opens.
 */
enum netns_side {
	NETNS_HOME,
	NETNS_A,
	NETNS_B,
};

struct netns {
	char	 name[3][32];	/* [NETNS_A], [NETNS_B] */
	char	 ifname[3][16];	/* their ends of the veth pair */
	int	 fd[3];		/* [NETNS_HOME]: where we started */
	bool	 made;
};

/* Both namespaces, or -1 with why (not root, no veth, ...) and nothing left. */
int	netns_pair(struct netns *n, const char *tag, char *why, size_t whylen);
/* Move the calling thread; 0 or -1. */
int	netns_enter(const struct netns *n, enum netns_side side);
/* Run argv inside side to completion (ip, nft): its exit code, or -1. */
int	netns_run(const struct netns *n, enum netns_side side,
	    const char *const argv[]);
/* Back home, both namespaces deleted (their processes must be gone). */
void	netns_cleanup(struct netns *n);

#endif
