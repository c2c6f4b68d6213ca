/* msg.c — framing, descriptor passing and names for inter-process messages. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shared/msg.h"

static const char *const names[MSG_TYPE_MAX] = {
	[MSG_NONE] = "NONE",
	[MSG_CHILD_READY] = "CHILD_READY",
	[MSG_CHILD_EXIT] = "CHILD_EXIT",
	[MSG_SESSION_MIX_REQ] = "SESSION_MIX_REQ",
	[MSG_SESSION_STATS] = "SESSION_STATS",
	[MSG_SESSION_START] = "SESSION_START",
	[MSG_SESSION_MIX_SET] = "SESSION_MIX_SET",
	[MSG_SESSION_PROBE] = "SESSION_PROBE",
	[MSG_CHILD_PROBE] = "CHILD_PROBE",
	[MSG_SESSION_METERS] = "SESSION_METERS",
	[MSG_BROKER_CLIENT] = "BROKER_CLIENT",
	[MSG_BROKER_REQUEST] = "BROKER_REQUEST",
	[MSG_BROKER_REPLY] = "BROKER_REPLY",
	[MSG_BROKER_EVENT] = "BROKER_EVENT",
	[MSG_CAPTURE_STATE] = "CAPTURE_STATE",
};

const char *
msg_name(uint32_t type)
{
	if (type >= MSG_TYPE_MAX || names[type] == NULL)
		return "UNKNOWN";
	return names[type];
}

int
msg_send(int sock, uint32_t type, const void *data, size_t len, int fd)
{
	struct msg_hdr hdr = { .type = type, .len = (uint32_t)len };
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct cmsghdr *c;
	ssize_t n;

	if (len > MSG_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)(uintptr_t)data;
	iov[1].iov_len = len;
	mh.msg_iov = iov;
	mh.msg_iovlen = len ? 2 : 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if ((size_t)n != sizeof(hdr) + len) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

int
msg_send_str(int sock, uint32_t type, const char *s)
{
	return msg_send(sock, type, s, s ? strlen(s) : 0, -1);
}

/* Close every descriptor a malformed datagram carried. */
static void
drop_fds(struct msghdr *mh)
{
	struct cmsghdr *c;
	size_t i, n;
	int fd;

	for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

int
msg_recv(int sock, struct msg *m)
{
	struct iovec iov[2];
	struct msghdr mh;
	union {
		struct cmsghdr	align;
		char		buf[CMSG_SPACE(sizeof(int) * 4)];
	} cm;
	struct cmsghdr *c;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	iov[0].iov_base = &m->hdr;
	iov[0].iov_len = sizeof(m->hdr);
	iov[1].iov_base = m->data;
	iov[1].iov_len = MSG_MAX_PAYLOAD;
	mh.msg_iov = iov;
	mh.msg_iovlen = 2;
	mh.msg_control = cm.buf;
	mh.msg_controllen = sizeof(cm.buf);
	m->fd = -1;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return -1;
	if (n == 0)
		return 0;
	c = CMSG_FIRSTHDR(&mh);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (size_t)n < sizeof(m->hdr) ||
	    m->hdr.len != (size_t)n - sizeof(m->hdr) ||
	    (c != NULL && (c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)) ||
	    CMSG_NXTHDR(&mh, c) != NULL))) {
		drop_fds(&mh);
		errno = EPROTO;
		return -1;
	}
	if (c != NULL)
		memcpy(&m->fd, CMSG_DATA(c), sizeof(int));
	m->data[m->hdr.len] = '\0';
	return 1;
}

int
msg_channel(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv);
}
