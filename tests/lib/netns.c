/* netns.c — test library: two network namespaces joined by a veth pair, multicast routed over it. */
#define _GNU_SOURCE	/* setns */
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/netns.h"
#include "tests/lib/tu.h"

static int
netns_ip(const char *why_fmt, const char *const argv[], char *why,
    size_t whylen)
{
	char out[512];
	int rc = tu_run(argv, out, sizeof(out), 20000);

	if (rc != 0)
		snprintf(why, whylen, "%s: %s (exit %d): %.200s", why_fmt,
		    argv[0], rc, out);
	return rc == 0 ? 0 : -1;
}

/* The namespaces, the pair, addresses, routes: each step checked. */
static int
netns_build(struct netns *n, char *why, size_t whylen)
{
	const char *a = n->name[NETNS_A], *b = n->name[NETNS_B];
	const char *va = n->ifname[NETNS_A], *vb = n->ifname[NETNS_B];
	const char *const steps[][12] = {
		{ "ip", "netns", "add", a, NULL },
		{ "ip", "netns", "add", b, NULL },
		{ "ip", "link", "add", va, "type", "veth", "peer", "name", vb,
		    NULL },
		{ "ip", "link", "set", va, "netns", a, NULL },
		{ "ip", "link", "set", vb, "netns", b, NULL },
		{ "ip", "-n", a, "addr", "add", "10.77.0.1/24", "dev", va, NULL },
		{ "ip", "-n", b, "addr", "add", "10.77.0.2/24", "dev", vb, NULL },
		{ "ip", "-n", a, "link", "set", va, "up", NULL },
		{ "ip", "-n", b, "link", "set", vb, "up", NULL },
		{ "ip", "-n", a, "link", "set", "lo", "up", NULL },
		{ "ip", "-n", b, "link", "set", "lo", "up", NULL },
		{ "ip", "-n", a, "route", "add", "224.0.0.0/4", "dev", va, NULL },
		{ "ip", "-n", b, "route", "add", "224.0.0.0/4", "dev", vb, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (netns_ip("network namespaces", steps[i], why, whylen) == -1)
			return -1;
		if (i == 0)
			n->made = true;
	}
	return 0;
}

static int
netns_open(const char *path)
{
	return open(path, O_RDONLY | O_CLOEXEC);
}

int
netns_pair(struct netns *n, const char *tag, char *why, size_t whylen)
{
	char path[64];
	int s;

	memset(n, 0, sizeof(*n));
	n->fd[0] = n->fd[1] = n->fd[2] = -1;
	if (geteuid() != 0) {
		snprintf(why, whylen, "needs root (network namespaces)");
		return -1;
	}
	for (s = NETNS_A; s <= NETNS_B; s++) {
		snprintf(n->name[s], sizeof(n->name[s]), "rc%d%s%c",
		    (int)getpid(), tag, s == NETNS_A ? 'a' : 'b');
		snprintf(n->ifname[s], sizeof(n->ifname[s]), "rv%d%c",
		    (int)getpid() % 10000000, s == NETNS_A ? 'a' : 'b');
	}
	n->fd[NETNS_HOME] = netns_open("/proc/self/ns/net");
	if (n->fd[NETNS_HOME] == -1 || netns_build(n, why, whylen) == -1)
		goto fail;
	for (s = NETNS_A; s <= NETNS_B; s++) {
		snprintf(path, sizeof(path), "/run/netns/%s", n->name[s]);
		if ((n->fd[s] = netns_open(path)) == -1) {
			snprintf(why, whylen, "%s: cannot open", path);
			goto fail;
		}
	}
	return 0;
fail:
	netns_cleanup(n);
	return -1;
}

int
netns_enter(const struct netns *n, enum netns_side side)
{
	return n->fd[side] >= 0 ? setns(n->fd[side], CLONE_NEWNET) : -1;
}

int
netns_run(const struct netns *n, enum netns_side side, const char *const argv[])
{
	const char *av[32] = { "ip", "netns", "exec", n->name[side] };
	char out[1024];
	int i;

	for (i = 0; argv[i] != NULL && i < 27; i++)
		av[4 + i] = argv[i];
	av[4 + i] = NULL;
	return tu_run(av, out, sizeof(out), 20000);
}

void
netns_cleanup(struct netns *n)
{
	const char *del[] = { "ip", "netns", "del", NULL, NULL };
	char out[256];
	int s;

	if (n->fd[NETNS_HOME] >= 0)
		(void)netns_enter(n, NETNS_HOME);
	for (s = NETNS_B; s >= NETNS_HOME; s--)
		if (n->fd[s] >= 0) {
			close(n->fd[s]);
			n->fd[s] = -1;
		}
	/* The pair goes with the namespace that holds an end of it. */
	for (s = NETNS_A; n->made && s <= NETNS_B; s++) {
		del[3] = n->name[s];
		(void)tu_run(del, out, sizeof(out), 20000);
	}
	n->made = false;
}
