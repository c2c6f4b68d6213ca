/* sess.c — test library: a sessiond whose parent and client are the test. */
#define _GNU_SOURCE	/* pipe2, accept4 */
#include <sys/mman.h>
#include <sys/socket.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/proto.h"
#include "shared/spawn.h"
#include "tests/lib/sess.h"
#include "tests/lib/tu.h"

void
tsess_init(struct tsess *s)
{
	s->pid = 0;
	s->parent = s->log = -1;
	s->c = (struct v2c){ .fd = -1 };
}

/* A connected TCP pair on 127.0.0.1, the client's end first; 0 or -1. */
static int
tsess_tcp_pair(int sv[2], int rcvbuf)
{
	int l, port;

	if ((l = tu_tcp_listen(1, &port)) == -1)
		return -1;
	sv[1] = -1;
	if ((sv[0] = v2_connect(port, rcvbuf, 5000)) >= 0 &&
	    (sv[1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
		close(sv[0]);
	close(l);
	return sv[1] == -1 ? -1 : 0;
}

int
tsess_pair(struct tsess *s, bool tcp, int rcvbuf)
{
	int sv[2];

	if (tcp ? tsess_tcp_pair(sv, rcvbuf) == -1 :
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if (v2_init(&s->c, sv[0], V2_BUF) == -1) {
		close(sv[1]);
		return -1;
	}
	return sv[1];
}

static void
tsess_close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Fork and exec argv with fds on 3, 4...; stderr on log if >= 0. */
static pid_t
tsess_fork(char *const argv[], const int *fds, int nfds, int log)
{
	pid_t pid = fork();

	if (pid == 0) {
		if ((log >= 0 && dup2(log, 2) == -1) ||
		    spawn_prepare(fds, nfds) == -1)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int
tsess_spawn(struct tsess *s, const char *ring, bool by_fd, int cfd,
    bool capture_log)
{
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-sessiond"),
	    "--parent-fd", "3", "--client-fd", "4",
	    by_fd ? "--ring-fd" : "--ring",
	    by_fd ? "5" : (char *)(uintptr_t)ring, NULL };
	int pc[2] = { -1, -1 }, lg[2] = { -1, -1 }, fds[3] = { -1, cfd, -1 };
	int rc = -1;

	s->log = -1;
	if (msg_channel(pc) == -1 ||
	    (capture_log && pipe2(lg, O_CLOEXEC) == -1) ||
	    (by_fd && (fds[2] = shm_open(ring, O_RDONLY | O_CLOEXEC, 0)) == -1))
		goto out;
	fds[0] = pc[1];
	if ((s->pid = tsess_fork(argv, fds, by_fd ? 3 : 2, lg[1])) == -1)
		goto out;
	s->parent = pc[0];
	s->log = lg[0];
	pc[0] = lg[0] = -1;
	rc = 0;
out:
	/* What we keep was set to -1 above; the child has its own copies. */
	tsess_close_fds((const int []){ pc[0], pc[1], lg[0], lg[1], cfd,
	    fds[2] }, 6);
	return rc;
}

json_t *
tsess_hello(void)
{
	return v2_hello("7f3e1c9a-2b4d-4e8f-9a1b-3c5d7e9f1a2b", TSESS_DEVICE);
}

int
tsess_start(struct tsess *s, json_t *hello, json_t *mix, int stall_ms)
{
	struct msg_session_start m;
	char err[128];
	int rc = -1;

	memset(&m, 0, sizeof(m));
	m.kind = CLIENT_NATIVE;
	m.clients_connected = 2;
	m.stall_ms = stall_ms > 0 ? (uint32_t)stall_ms : TSESS_STALL_MS;
	m.user_timeout_ms = TSESS_USER_TIMEOUT_MS;
	snprintf(m.persistent_id, sizeof(m.persistent_id), "%s", TSESS_DEVICE);
	mix_init(&m.mix, MIX_MAX_CHANNELS);
	if (proto_hello_parse(hello, &m.hello) == PROTO_OK && (mix == NULL ||
	    mix_from_json(&m.mix, MIX_MAX_CHANNELS, mix, err,
	    sizeof(err)) == 0)) {
		s->c.mask_words = m.hello.mask_words;
		rc = msg_send(s->parent, ROLE_SUPERVISOR, MSG_SESSION_START, &m,
		    sizeof(m), NULL, 0, -1);
	}
	json_decref(hello);
	json_decref(mix);
	return rc;
}

const struct msg *
tsess_parent_wait(struct tsess *s, uint32_t want, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	struct pollfd pfd = { .fd = s->parent, .events = POLLIN };

	while ((now = clock_mono_ms()) < end) {
		if (poll(&pfd, 1, (int)(end - now)) != 1 ||
		    msg_recv(s->parent, ROLE_SUPERVISOR, ROLE_SESSION,
		    &s->in) != 1)
			return NULL;
		if (s->in.hdr.type == want)
			return &s->in;
	}
	return NULL;
}

int
tsess_open(struct tsess *s, const char *ring, json_t *hello, json_t *mix,
    int stall_ms, bool tcp, int rcvbuf)
{
	int cfd;

	if ((cfd = tsess_pair(s, tcp, rcvbuf)) == -1 ||
	    tsess_spawn(s, ring, true, cfd, false) == -1) {
		json_decref(hello);
		json_decref(mix);
		return -1;
	}
	if (tsess_start(s, hello, mix, stall_ms) == -1)
		return -1;
	return tsess_parent_wait(s, MSG_READY, 10000) != NULL ? 0 : -1;
}

int
tsess_close(struct tsess *s)
{
	int st = -1;

	if (s->pid > 0)
		st = tu_stop(s->pid, 5000);
	if (s->parent >= 0)
		close(s->parent);
	if (s->log >= 0)
		close(s->log);
	v2_close(&s->c);
	tsess_init(s);
	return st;
}

int
tsess_mix_set(struct tsess *s, const struct mix *mix, enum msg_origin origin,
    const char *error)
{
	struct msg_session_mix m;

	memset(&m, 0, sizeof(m));
	m.origin = origin;
	snprintf(m.error, sizeof(m.error), "%s", error ? error : "");
	m.mix = *mix;
	return msg_send(s->parent, ROLE_SUPERVISOR, MSG_SESSION_MIX_SET, &m,
	    sizeof(m), NULL, 0, -1);
}

int
tsess_commit(struct tsess *s, struct mix *m, const struct mix_patch *p,
    enum msg_origin origin)
{
	char err[128];

	if (mix_patch_apply(m, p, m->nch, err, sizeof(err)) == -1)
		return -1;
	return tsess_mix_set(s, m, origin, NULL);
}

int
tsess_commit_json(struct tsess *s, struct mix *m, const char *fields,
    enum msg_origin origin)
{
	json_t *o = json_loads(fields, 0, NULL);
	char err[128];
	int rc = -1;

	if (o != NULL && mix_apply_json(m, o, err, sizeof(err)) == 0)
		rc = tsess_mix_set(s, m, origin, NULL);
	json_decref(o);
	return rc;
}
