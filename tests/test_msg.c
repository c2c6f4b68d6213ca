/* test_msg.c — the parent channel: the table, its checks, the docs, and the fault policy in every child. */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/msg.h"
#include "shared/ring.h"
#include "shared/rtp.h"
#include "shared/spawn.h"
#include "shared/state.h"
#include "tests/lib/tu.h"

static const enum msg_role roles[] = {
	ROLE_SUPERVISOR, ROLE_CAPTURE, ROLE_BROKER, ROLE_SESSION, ROLE_PUBLISH,
};
#define NROLES	(sizeof(roles) / sizeof(roles[0]))

static int
pair(int sv[2])
{
	cr_assert_eq(msg_channel(sv), 0);
	return 0;
}

/* Receive what was sent on sv[1] at sv[0]; the fault, or NULL if accepted. */
static const char *
verdict(int sv[2], enum msg_role self, enum msg_role peer, struct msg *m)
{
	int rc = msg_recv(sv[0], self, peer, m);

	if (rc == 1)
		return NULL;
	cr_assert_eq(rc, -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert_not_null(m->fault);
	return m->fault;
}

/* Every type, from every role to every other: refused unless the table allows it. */
Test(msg, every_type_in_a_wrong_direction_is_a_fault)
{
	static struct msg m;
	const char *why;
	uint32_t t;
	size_t f, r;
	int sv[2], refused = 0;

	pair(sv);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++)
		for (f = 0; f < NROLES; f++)
			for (r = 0; r < NROLES; r++) {
				if (f == r || msg_carries_fd(t))
					continue;
				cr_assert_eq(msg_send_probe(sv[1], t), 0);
				why = verdict(sv, roles[r], roles[f], &m);
				if (msg_allowed(t, roles[f], roles[r]))
					cr_assert(why == NULL || strcmp(why,
					    "wrong direction") != 0, "%s %s->%s",
					    msg_name(t), msg_role_name(roles[f]),
					    msg_role_name(roles[r]));
				else {
					cr_assert_str_eq(why, "wrong direction",
					    "%s %s->%s", msg_name(t),
					    msg_role_name(roles[f]),
					    msg_role_name(roles[r]));
					refused++;
				}
			}
	cr_assert_gt(refused, 100);
	close(sv[0]);
	close(sv[1]);
}

/* A sender may not send what the table does not give it either. */
Test(msg, send_refuses_a_wrong_direction)
{
	struct msg_ready r = { "1" };
	int sv[2];

	pair(sv);
	errno = 0;
	cr_assert_eq(msg_send(sv[1], ROLE_SUPERVISOR, MSG_READY, &r, sizeof(r),
	    NULL, 0, -1), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(msg_send(sv[1], ROLE_BROKER, MSG_READY, &r, sizeof(r) - 1,
	    NULL, 0, -1), -1, "a short payload");
	cr_assert_eq(msg_send(sv[1], ROLE_BROKER, MSG_READY, &r, sizeof(r),
	    "x", 1, -1), -1, "a tail where none is allowed");
	cr_assert_eq(msg_send(sv[1], ROLE_BROKER, MSG_READY, &r, sizeof(r),
	    NULL, 0, 0), -1, "a descriptor where none is allowed");
	close(sv[0]);
	close(sv[1]);
}

/* A raw datagram: header fields as given, then n bytes of payload. */
static void
raw(int fd, uint16_t version, uint16_t type, uint32_t len, const void *p,
    size_t n, int pass)
{
	struct msg_hdr h = { version, type, len };

	cr_assert_eq(msg_send_raw(fd, &h, p, n, pass), 0);
}

Test(msg, malformed_datagrams_are_faults_and_close_descriptors)
{
	static struct msg m;
	static char big[MSG_MAX_PAYLOAD + 64];
	struct msg_subscribers sub = { 1 };
	int sv[2], p[2];

	pair(sv);
	cr_assert_eq(pipe(p), 0);
	raw(sv[1], MSG_VERSION + 1, MSG_BROKER_SUBSCRIBERS, sizeof(sub), &sub,
	    sizeof(sub), -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "another version");
	raw(sv[1], MSG_VERSION, MSG_TYPE_MAX + 3, sizeof(sub), &sub,
	    sizeof(sub), -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "unknown type");
	raw(sv[1], MSG_VERSION, MSG_BROKER_SUBSCRIBERS, sizeof(sub) + 1, big,
	    sizeof(sub) + 1, -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "wrong size");
	raw(sv[1], MSG_VERSION, MSG_BROKER_SUBSCRIBERS, 99, &sub, sizeof(sub),
	    -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "bad length");
	raw(sv[1], MSG_VERSION, MSG_BROKER_SUBSCRIBERS, sizeof(sub), &sub,
	    sizeof(sub), p[0]);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "unexpected descriptor");
	cr_assert_eq(m.fd, -1);
	raw(sv[1], MSG_VERSION, MSG_BROKER_CLIENT, sizeof(struct msg_client),
	    big, sizeof(struct msg_client), -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "missing descriptor");
	raw(sv[1], MSG_VERSION, MSG_BROKER_SUBSCRIBERS, sizeof(big), big,
	    sizeof(big), -1);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "oversized");
	/* The refused descriptor was closed: our copy is the last writer. */
	close(p[0]);
	close(sv[0]);
	close(sv[1]);
	close(p[1]);
}

/* A well-formed message of every type goes through, contents and all. */
static size_t
example(uint32_t t, void *body, const char **tail)
{
	union {
		struct msg_ready	r;
		struct msg_capture_state cs;
		struct msg_capture_opened co;
		struct msg_capture_ring cr;
		struct msg_capture_devices cd;
		struct msg_client	c;
		struct msg_client_done	d;
		struct msg_api_request	q;
		struct msg_api_reply	a;
		struct msg_event	e;
		struct msg_session_start s;
		struct msg_session_mix	x;
		struct msg_session_exit	ex;
		struct msg_probe	p;
		struct mix_patch	mp;
		struct msg_adopt_key	k;
		struct msg_adopt	ad;	/* what every answer starts with */
		struct msg_adopt_capture ac;
		struct msg_adopt_session as;
		struct msg_capture_join	j;
		struct msg_publish_start ps;
		struct msg_adopt_publish ap;
	} *u = body;

	memset(body, 0, msg_size(t));
	*tail = NULL;
	if (t == MSG_ADOPT_CAPTURE || t == MSG_ADOPT_BROKER ||
	    t == MSG_ADOPT_SESSION || t == MSG_ADOPT_PUBLISH)
		strcpy(u->ad.version, "1.2.3");
	switch (t) {
	case MSG_READY:
		strcpy(u->r.version, "1.2.3");
		break;
	case MSG_CAPTURE_STATE:
		strcpy(u->cs.state, "running");
		strcpy(u->cs.source, "tone");
		break;
	case MSG_CAPTURE_OPENED:
		strcpy(u->co.source, "portaudio:Console USB");
		u->co.channels = 32;
		break;
	case MSG_CAPTURE_RING:
		u->cr.channels = 2;
		break;
	case MSG_CAPTURE_DEVICES:
		u->cd.n = 1;
		u->cd.dev[0].inputs = 2;
		strcpy(u->cd.dev[0].name, "system");
		strcpy(u->cd.dev[0].host_api, "JACK Audio Connection Kit");
		break;
	case MSG_BROKER_CLIENT:
		u->c.kind = CLIENT_WAV;
		strcpy(u->c.remote, "127.0.0.1:1");
		u->c.wav_nchannels = 2;
		u->c.wav_channels[1] = 3;
		break;
	case MSG_BROKER_REQUEST:
		u->q.route = API_CLIENT_MIX;
		strcpy(u->q.client, "phone");
		u->q.body.mix.set = MIX_SET_MASTER;
		u->q.body.mix.master = 0.5f;
		break;
	case MSG_BROKER_REPLY:
		u->a.status = 200;
		*tail = "{}";
		break;
	case MSG_BROKER_EVENT:
		strcpy(u->e.name, "meters");
		*tail = "{\"a\":1}";
		break;
	case MSG_SESSION_START:
		u->s.kind = CLIENT_NATIVE;
		u->s.stall_ms = u->s.user_timeout_ms = 1000;
		strcpy(u->s.persistent_id, "phone");
		strcpy(u->s.hello.client_id, "phone");
		u->s.hello.mask_words = 1;
		mix_init(&u->s.mix, 8);
		break;
	case MSG_SESSION_MIX_SET:
		u->x.origin = ORIGIN_WEB;
		mix_init(&u->x.mix, 8);
		break;
	case MSG_SESSION_EXIT:
		strcpy(u->ex.reason, "closed");
		break;
	case MSG_PROBE:
		strcpy(u->p.action, "open");
		break;
	case MSG_ADOPT_KEY:
		u->k.grace_s = 60;
		break;
	case MSG_ADOPT_CAPTURE:
		strcpy(u->ac.state.state, "running");
		u->ac.rate = 48000;
		u->ac.channels = 8;
		u->ac.period = 64;
		break;
	case MSG_ADOPT_SESSION:
		(void)example(MSG_SESSION_START, &u->as.start, tail);
		break;
	case MSG_CAPTURE_JOIN:
	case MSG_CAPTURE_SOCKET:
		u->j.group = htonl(0xef450101);		/* 239.69.1.1 */
		u->j.port = 5004;
		break;
	case MSG_PUBLISH_START:
		u->ps = (struct msg_publish_start){ .name = "Stage A",
		    .nch = 2, .channels = { 0, 5 }, .format = RTP_L24,
		    .frames = 48, .pt = 96 };
		*tail = "v=0\r\ns=Stage A\r\n";
		break;
	case MSG_ADOPT_PUBLISH:
		(void)example(MSG_PUBLISH_START, &u->ap.st, tail);
		strcpy(u->ap.sdp, *tail);
		*tail = NULL;
		break;
	}
	return msg_size(t);
}

/* The first role the table lets send t, and one it may go to. */
static void
ends(uint32_t t, enum msg_role *from, enum msg_role *to)
{
	size_t f, r;

	for (f = 0; f < NROLES; f++)
		for (r = 0; r < NROLES; r++)
			if (msg_allowed(t, roles[f], roles[r])) {
				*from = roles[f];
				*to = roles[r];
				return;
			}
	cr_assert_fail("%s goes nowhere", msg_name(t));
}

Test(msg, every_type_round_trips)
{
	static struct msg m;
	static char body[MSG_MAX_PAYLOAD];
	enum msg_role from, to;
	const char *tail;
	size_t len, tl;
	uint32_t t;
	int sv[2], p[2], fd;

	pair(sv);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		ends(t, &from, &to);
		len = example(t, body, &tail);
		fd = -1;
		if (msg_carries_fd(t)) {
			cr_assert_eq(pipe(p), 0);
			fd = p[0];
		}
		cr_assert_eq(msg_send(sv[1], from, t, body, len, tail,
		    tail ? strlen(tail) : 0, fd), 0, "%s", msg_name(t));
		cr_assert_eq(msg_recv(sv[0], to, from, &m), 1, "%s: %s",
		    msg_name(t), m.fault);
		cr_assert_eq(m.hdr.type, t);
		cr_assert(memcmp(m.u.data, body, len) == 0, "%s", msg_name(t));
		cr_assert(msg_tail(&m, &tl) == m.u.data + len);
		cr_assert_eq(tl, tail ? strlen(tail) : 0);
		if (fd >= 0) {
			cr_assert_geq(m.fd, 0);
			close(m.fd);
			close(p[0]);
			close(p[1]);
		}
	}
	close(sv[0]);
	close(sv[1]);
}

/* A request with an import's tail: one record, valid or not. */
static const char *
import_verdict(int sv[2], struct msg *m, int valid)
{
	static char body[sizeof(struct msg_api_request) +
	    sizeof(struct state_record)];
	struct msg_api_request *q = (void *)body;
	struct state_record rec;

	memset(body, 0, sizeof(body));
	q->route = API_STATE_IMPORT;
	q->body.import.last = 1;
	state_record_init(&rec, valid ? "phone" : "", 8, 1);
	cr_assert_eq(msg_send(sv[1], ROLE_BROKER, MSG_BROKER_REQUEST, q,
	    sizeof(*q), &rec, sizeof(rec), -1), 0);
	return verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, m);
}

/* Contents the table checks: each of these is refused as invalid. */
Test(msg, invalid_contents_are_faults)
{
	static struct msg m;
	static char body[MSG_MAX_PAYLOAD];
	struct msg_session_start *st = (void *)body;
	struct msg_api_request *q = (void *)body;
	struct msg_event *e = (void *)body;
	const char *tail;
	int sv[2];

	pair(sv);
	example(MSG_SESSION_START, body, &tail);
	*(unsigned char *)&st->hello.rf_mode = 2;	/* not a bool */
	cr_assert_eq(msg_send(sv[1], ROLE_SUPERVISOR, MSG_SESSION_START, body,
	    sizeof(*st), NULL, 0, -1), 0);
	cr_assert_str_eq(verdict(sv, ROLE_SESSION, ROLE_SUPERVISOR, &m),
	    "invalid contents");
	example(MSG_SESSION_START, body, &tail);
	st->mix.gain[3] = 11.0f;
	cr_assert_eq(msg_send(sv[1], ROLE_SUPERVISOR, MSG_SESSION_START, body,
	    sizeof(*st), NULL, 0, -1), 0);
	cr_assert_str_eq(verdict(sv, ROLE_SESSION, ROLE_SUPERVISOR, &m),
	    "invalid contents");
	example(MSG_BROKER_REQUEST, body, &tail);
	memset(q->client, 'x', sizeof(q->client));	/* no NUL */
	cr_assert_eq(msg_send(sv[1], ROLE_BROKER, MSG_BROKER_REQUEST, body,
	    sizeof(*q), NULL, 0, -1), 0);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_BROKER, &m),
	    "invalid contents");
	example(MSG_BROKER_EVENT, body, &tail);
	cr_assert_eq(msg_send(sv[1], ROLE_SUPERVISOR, MSG_BROKER_EVENT, body,
	    sizeof(*e), "{\"a\":\n1}", 8, -1), 0);
	cr_assert_str_eq(verdict(sv, ROLE_BROKER, ROLE_SUPERVISOR, &m),
	    "invalid contents", "a line break would end the event early");
	example(MSG_CAPTURE_DEVICES, body, &tail);
	((struct msg_capture_devices *)(void *)body)->dev[0].name[3] = '\n';
	cr_assert_eq(msg_send(sv[1], ROLE_CAPTURE, MSG_CAPTURE_DEVICES, body,
	    sizeof(struct msg_capture_devices), NULL, 0, -1), 0);
	cr_assert_str_eq(verdict(sv, ROLE_SUPERVISOR, ROLE_CAPTURE, &m),
	    "invalid contents", "a device name with a line break");
	cr_assert_str_eq(import_verdict(sv, &m, 0), "invalid contents",
	    "an imported record without an identity");
	cr_assert_null(import_verdict(sv, &m, 1), "%s", m.fault);
	close(sv[0]);
	close(sv[1]);
}

/* ---- the documentation is the table ---- */

static void
roles_text(uint32_t t, bool sender, char *out, size_t len)
{
	size_t f, r, n = 0;

	out[0] = '\0';
	for (f = 0; f < NROLES; f++) {
		for (r = 0; r < NROLES; r++)
			if (sender ? msg_allowed(t, roles[f], roles[r]) :
			    msg_allowed(t, roles[r], roles[f]))
				break;
		if (r < NROLES)
			n += (size_t)snprintf(out + n, len - n, "%s%s",
			    n ? ", " : "", msg_role_name(roles[f]));
	}
}

Test(msg, internals_md_lists_the_table)
{
	char path[512], line[512], from[64], to[64], want[256];
	uint32_t t = MSG_NONE + 1;
	bool in = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/../docs/internals.md", BUILD_DIR);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strstr(line, "<!-- msg-table begin -->") != NULL) {
			in = true;
			continue;
		}
		if (!in || strncmp(line, "| `MSG_", 7) != 0)
			continue;
		if (strstr(line, "<!-- msg-table end -->") != NULL)
			break;
		cr_assert_lt(t, MSG_TYPE_MAX, "docs list more types: %s", line);
		roles_text(t, true, from, sizeof(from));
		roles_text(t, false, to, sizeof(to));
		snprintf(want, sizeof(want), "| `MSG_%s` | %s | %s | %s |",
		    msg_name(t), from, to, msg_carries_fd(t) ? "yes" : "no");
		cr_assert(strncmp(line, want, strlen(want)) == 0,
		    "docs/internals.md row %u:\n  is:   %s  want: %s ...",
		    t, line, want);
		t++;
	}
	fclose(f);
	cr_assert(in, "no <!-- msg-table begin --> in docs/internals.md");
	cr_assert_eq(t, MSG_TYPE_MAX, "docs/internals.md lists %u of %u types",
	    t - 1, MSG_TYPE_MAX - 1);
}

/* ---- the policy, seen from each child ---- */

struct child {
	pid_t	pid;
	int	chan;
};

/* Start a child with the channel on 3 and fds[i] on 4 + i. */
static void
start(struct child *c, char *const argv[], const int *fds, int nfds)
{
	int sv[2], i;

	pair(sv);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		int all[4] = { sv[1], -1, -1, -1 };

		for (i = 0; i < nfds; i++)
			all[i + 1] = fds[i];
		if (spawn_prepare(all, nfds + 1) == 0)
			execv(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	c->chan = sv[0];
}

/* The child's first message, within 10 s. */
static uint32_t
first_message(struct child *c, enum msg_role role)
{
	static struct msg m;
	struct pollfd pfd = { .fd = c->chan, .events = POLLIN };

	cr_assert_eq(poll(&pfd, 1, 10000), 1, "the child said nothing");
	cr_assert_eq(msg_recv(c->chan, ROLE_SUPERVISOR, role, &m), 1);
	return m.hdr.type;
}

/* Send t the wrong way and wait for the child to end on the fault. */
static void
expect_fault_exit(struct child *c, uint32_t t)
{
	int st;

	cr_assert_eq(msg_send_probe(c->chan, t), 0);
	st = tu_wait_exit(c->pid, 10000);
	cr_assert_neq(st, -1, "%s: the child ignored it", msg_name(t));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == MSG_EXIT_FAULT,
	    "%s: status 0x%x", msg_name(t), st);
	close(c->chan);
}

static int
listener(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(fd, 8) == 0);
	return fd;
}

Test(msg, broker_ends_on_every_wrong_message, .timeout = 120)
{
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-broker"),
	    "--parent-fd", "3", "--native-fd", "4", "--http-fd", "5", NULL };
	int fds[2] = { listener(), listener() };
	struct child c;
	uint32_t t;

	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		if (msg_allowed(t, ROLE_SUPERVISOR, ROLE_BROKER) ||
		    msg_carries_fd(t))
			continue;
		start(&c, argv, fds, 2);
		cr_assert_eq(first_message(&c, ROLE_BROKER), MSG_READY);
		expect_fault_exit(&c, t);
	}
	close(fds[0]);
	close(fds[1]);
}

Test(msg, capture_ends_on_every_wrong_message, .timeout = 120)
{
	struct ring_config rc = { 48000, 2, 64, 0 };
	const char *ring = tu_name("msgcap");
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--parent-fd", "3", "--ring-fd", "4", "--channels", "2", NULL };
	struct child c;
	uint32_t t;
	int fd;

	cr_assert_eq(ring_create(ring, &rc), RING_OK);
	fd = shm_open(ring, O_RDWR | O_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		if (msg_allowed(t, ROLE_SUPERVISOR, ROLE_CAPTURE) ||
		    msg_carries_fd(t))
			continue;
		start(&c, argv, &fd, 1);
		cr_assert_eq(first_message(&c, ROLE_CAPTURE), MSG_READY);
		expect_fault_exit(&c, t);
	}
	close(fd);
	ring_unlink(ring);
}

/*
 * Under the supervisor capture opens its source and waits for its ring:
 * anything but the ring (or a probe) then is a fault too, and so is a
 * ring of another channel count than it said.
 */
Test(msg, capture_awaiting_its_ring_ends_on_every_wrong_message,
    .timeout = 120)
{
	struct ring_config rc = { 48000, 4, 64, 0 };
	const char *ring = tu_name("msgawait");
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--parent-fd", "3", "--channels", "2", NULL };
	struct msg_capture_ring r = { 4 };
	struct child c;
	uint32_t t;
	int fd, st;

	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		if (msg_allowed(t, ROLE_SUPERVISOR, ROLE_CAPTURE) ||
		    msg_carries_fd(t))
			continue;
		start(&c, argv, NULL, 0);
		cr_assert_eq(first_message(&c, ROLE_CAPTURE),
		    MSG_CAPTURE_OPENED);
		expect_fault_exit(&c, t);
	}
	cr_assert_eq(ring_create(ring, &rc), RING_OK);
	fd = shm_open(ring, O_RDWR | O_CLOEXEC, 0);
	cr_assert_geq(fd, 0);
	start(&c, argv, NULL, 0);
	cr_assert_eq(first_message(&c, ROLE_CAPTURE), MSG_CAPTURE_OPENED);
	cr_assert_eq(msg_send(c.chan, ROLE_SUPERVISOR, MSG_CAPTURE_RING, &r,
	    sizeof(r), NULL, 0, fd), 0);
	st = tu_wait_exit(c.pid, 10000);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == MSG_EXIT_FAULT,
	    "a 4-channel ring for 2 channels: status 0x%x", st);
	close(c.chan);
	close(fd);
	ring_unlink(ring);
}

/* Before its START, anything else ends a publisher with the fault status. */
Test(msg, publish_ends_on_every_wrong_message, .timeout = 120)
{
	struct ring_config rc = { 48000, 2, 64, 0 };
	const char *ring = tu_name("msgpub");
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-publish"),
	    "--parent-fd", "3", "--ring-fd", "4", "--rtp-fd", "5",
	    "--sap-fd", "6", NULL };
	struct child c;
	uint32_t t;
	int fds[3];

	cr_assert_eq(ring_create(ring, &rc), RING_OK);
	fds[0] = shm_open(ring, O_RDONLY | O_CLOEXEC, 0);
	fds[1] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	fds[2] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		if (t == MSG_PUBLISH_START || msg_carries_fd(t))
			continue;
		start(&c, argv, fds, 3);
		expect_fault_exit(&c, t);
	}
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
	ring_unlink(ring);
}

/* Before its START, anything else ends a session with reason "protocol". */
Test(msg, session_ends_on_every_wrong_message, .timeout = 120)
{
	struct ring_config rc = { 48000, 2, 64, 0 };
	const char *ring = tu_name("msgses");
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-sessiond"),
	    "--parent-fd", "3", "--client-fd", "4", "--ring-fd", "5", NULL };
	static struct msg m;
	struct pollfd pfd;
	struct child c;
	uint32_t t;
	int fds[2], cl[2];

	cr_assert_eq(ring_create(ring, &rc), RING_OK);
	fds[1] = shm_open(ring, O_RDONLY | O_CLOEXEC, 0);
	for (t = MSG_NONE + 1; t < MSG_TYPE_MAX; t++) {
		if (t == MSG_SESSION_START || msg_carries_fd(t))
			continue;
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
		    cl), 0);
		fds[0] = cl[1];
		start(&c, argv, fds, 2);
		close(cl[1]);
		cr_assert_eq(msg_send_probe(c.chan, t), 0);
		pfd = (struct pollfd){ .fd = c.chan, .events = POLLIN };
		cr_assert_eq(poll(&pfd, 1, 10000), 1, "%s", msg_name(t));
		cr_assert_eq(msg_recv(c.chan, ROLE_SUPERVISOR, ROLE_SESSION,
		    &m), 1, "%s", msg_name(t));
		cr_assert_eq(m.hdr.type, MSG_SESSION_EXIT, "%s", msg_name(t));
		cr_assert_str_eq(MSG_BODY(&m, struct msg_session_exit)->reason,
		    "protocol", "%s", msg_name(t));
		cr_assert_neq(tu_wait_exit(c.pid, 10000), -1);
		close(c.chan);
		close(cl[0]);
	}
	close(fds[1]);
	ring_unlink(ring);
}

/* The table and its version move together: adoption trusts the version. */
Test(msg, the_version_names_the_table)
{
	cr_assert_eq(msg_fingerprint(), MSG_FINGERPRINT, "the channel table "
	    "changed: bump MSG_VERSION (now %d) and set MSG_FINGERPRINT to "
	    "0x%xu in shared/msg.h", MSG_VERSION, msg_fingerprint());
}
