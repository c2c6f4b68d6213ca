/* sessiond_queue.c — the bounded output queue: whole messages, sent without blocking. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/sessiond.h"

int
squeue_init(struct squeue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	if ((q->buf = malloc(cap)) == NULL)
		return -1;
	q->cap = cap;
	return 0;
}

void
squeue_free(struct squeue *q)
{
	free(q->buf);
	memset(q, 0, sizeof(*q));
}

/*
 * Messages go in whole or not at all, so the stream never carries a torn
 * message; only the head may be half sent, and it stays until finished.
 */
int
squeue_put(struct squeue *q, const void *data, size_t n, size_t limit)
{
	size_t tail, first;

	if (limit > q->cap)
		limit = q->cap;
	if (n > limit || q->len > limit - n)
		return -1;
	tail = (q->head + q->len) % q->cap;
	first = q->cap - tail < n ? q->cap - tail : n;
	memcpy(q->buf + tail, data, first);
	memcpy(q->buf, (const uint8_t *)data + first, n - first);
	q->len += n;
	return 0;
}

ssize_t
squeue_send(struct squeue *q, int fd)
{
	struct iovec iov[2];
	struct msghdr mh;
	size_t first;
	ssize_t n;

	if (q->len == 0)
		return 0;
	first = q->cap - q->head < q->len ? q->cap - q->head : q->len;
	iov[0].iov_base = q->buf + q->head;
	iov[0].iov_len = first;
	iov[1].iov_base = q->buf;
	iov[1].iov_len = q->len - first;
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = iov[1].iov_len ? 2 : 1;
	do
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	q->head = (q->head + n) % q->cap;
	q->len -= n;
	if (q->len == 0)
		q->head = 0;
	return n;
}
