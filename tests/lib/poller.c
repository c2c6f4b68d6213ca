/* poller.c — test library: the epoll loop of the continuity reader and the load client. */
#include <sys/epoll.h>

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/poller.h"

#define POLLER_EVENTS	256

static void *
poller_loop(void *arg)
{
	struct poller *p = arg;
	struct epoll_event ev[POLLER_EVENTS];
	int i, n;

	/* A short wait: stop is noticed within 50 ms. */
	while (!atomic_load(&p->stop)) {
		n = epoll_wait(p->ep, ev, POLLER_EVENTS, 50);
		for (i = 0; i < n; i++)
			p->ready(p->arg, ev[i].data.ptr);
	}
	return NULL;
}

int
poller_start(struct poller *p, poller_fn ready, void *arg)
{
	memset(p, 0, sizeof(*p));
	p->ready = ready;
	p->arg = arg;
	if ((p->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	if (pthread_create(&p->thr, NULL, poller_loop, p) != 0) {
		close(p->ep);
		p->ep = -1;
		return -1;
	}
	p->running = true;
	return 0;
}

int
poller_watch(struct poller *p, int fd, void *conn)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = conn };

	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return epoll_ctl(p->ep, EPOLL_CTL_ADD, fd, &ev);
}

void
poller_unwatch(struct poller *p, int fd)
{
	epoll_ctl(p->ep, EPOLL_CTL_DEL, fd, NULL);
}

void
poller_stop(struct poller *p)
{
	if (p->running) {
		atomic_store(&p->stop, 1);
		pthread_join(p->thr, NULL);
		p->running = false;
	}
	if (p->ep > 0)		/* 0: a zeroed poller, never started */
		close(p->ep);
	p->ep = -1;
}
