/* test_adopt.c — ringcastd dies or is replaced mid-show: its children go on and the next one adopts them. */
#define _GNU_SOURCE	/* struct ucred, strcasestr */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/adopt.h"
#include "shared/clock.h"
#include "shared/msg.h"
#include "tests/lib/e2e.h"

TestSuite(adopt, .init = e2e_setup, .fini = e2e_teardown, .timeout = 300);

#define NSTEADY		4
#define ADOPT_LIMIT_MS	5000	/* the target is 500 ms (make bench); headroom */

static const char *const daemon_args[] = { "--stall-ms", "8000",
    "--user-timeout-ms", "8000", NULL };

/* Restart ringcastd as systemd would after a crash: the same arguments. */
static uint64_t
restart(void)
{
	uint64_t t0 = clock_mono_ms();

	e2e_up("adopt", daemon_args);
	return clock_mono_ms() - t0;
}

/* Whether id is listed as connected. */
static bool
connected(const char *id)
{
	json_t *o = http_client(E.d.http_port, id);
	bool yes = o != NULL && json_is_true(json_object_get(o, "connected"));

	json_decref(o);
	return yes;
}

/* Every process whose command line mentions our ring (said when say). */
static int
tree_left_say(bool say)
{
	char path[300], cmd[4096];
	struct dirent *de;
	ssize_t n;
	DIR *d;
	int fd, left = 0;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (atoi(de->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		n = read(fd, cmd, sizeof(cmd) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			if (cmd[i] == '\0')
				cmd[i] = ' ';
		cmd[n > 0 ? n : 0] = '\0';
		if (strstr(cmd, E.d.ring) != NULL &&
		    strstr(cmd, "ringcast") != NULL) {
			if (say)
				cr_log_warn("left running: %s %s", de->d_name,
				    cmd);
			left++;
		}
	}
	closedir(d);
	return left;
}

static int
tree_left(void)
{
	return tree_left_say(false);
}

/* A final SIGTERM stops the whole tree, adopted children included. */
static void
stop_all(void)
{
	int st = rcd_stop(&E.d, 20000);

	e2e_check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "ringcastd did not stop cleanly (status %d)", st);
	for (int i = 0; i < 100 && tree_left() > 0; i++) {
		struct pollfd none = { .fd = -1 };

		poll(&none, 0, 50);	/* children reaped by init, not us */
	}
	cr_assert_eq(tree_left_say(true), 0, "processes of the tree outlived "
	    "the final SIGTERM");
}

Test(adopt, a_crashed_supervisor_is_replaced_and_nobody_notices)
{
	struct v2c *phone = &E.c[0], *late = &E.c[1];
	json_t *hello, *o;
	uint64_t t0, ms;
	char id[32], *body;
	int i, st;

	e2e_up("adopt", daemon_args);
	for (i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		e2e_listen(id, NULL, 8);
	}
	json_decref(e2e_open(phone, "phone", NULL));
	rcd_kill(&E.d);

	/* Nobody supervises: the API says so, a new phone is held. */
	st = http_req(E.d.http_port, "GET", "/api/clients", NULL, &body,
	    E2E_WAIT_MS);
	free(body);
	e2e_check(st == 503, "the API answered %d without a supervisor", st);
	hello = v2_hello("late", NULL);
	e2e_check(v2_open(late, E.d.native_port, hello, E2E_WAIT_MS) == 0,
	    "connect while no supervisor runs");
	e2e_flowing(100);

	t0 = clock_mono_ms();
	ms = restart();
	cr_log_info("restart to ready: %llu ms", (unsigned long long)ms);
	e2e_check(connected("steady-0") && connected("steady-1") &&
	    connected("phone"), "the live sessions are not listed as "
	    "connected");
	/* The late phone, held by the broker, is served now. */
	json_decref(e2e_ctl(late, "handshake_response", NULL));
	json_decref(e2e_ctl(late, "mix_state", NULL));
	/* A web change reaches the phone, committed first. */
	e2e_check(e2e_api("POST", "/api/clients/phone/mix",
	    "{\"channels\":[1,2],\"master_gain\":0.5}", NULL) == 200,
	    "web mix change after the restart");
	o = e2e_ctl(phone, "mix_state", NULL);
	ms = clock_mono_ms() - t0;
	cr_log_info("restart to a web change at the phone: %llu ms",
	    (unsigned long long)ms);
	e2e_check(json_array_size(json_object_get(o, "channels")) == 2,
	    "the phone did not get the web change");
	json_decref(o);
	e2e_check(ms < ADOPT_LIMIT_MS, "adoption took %llu ms",
	    (unsigned long long)ms);
	e2e_steady_clean("after a SIGKILL of ringcastd");
	v2_close(phone);
	v2_close(late);
	steady_stop(&E.s);
	stop_all();
}

/* ---- twenty crashes under churn ---- */

#define KILLS		20
#define CHURN_THREADS	2
#define CHURN_MS	200	/* per thread: a connect (and an older one's end) */
#define CHURN_KEEP	4

static struct {
	atomic_int	stop;
	atomic_int	connects, failures;
	atomic_int	mixes_acked, mixes_refused;
	atomic_int	last_acked;	/* the last gain step committed */
	int		http_port, native_port;
	char		unserved[32];	/* the first app not served */
} C;

/* The daemon's log lines that name text, on stderr (a failed check). */
static void
log_lines(const char *text)
{
	char line[1024];
	FILE *f;

	if ((f = fopen(E.d.log, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, text) != NULL)
			fputs(line, stderr);
	fclose(f);
}

/* Apps coming and going, ten a second in all, through every crash. */
static void *
churn(void *arg)
{
	int t = (int)(intptr_t)arg;
	struct v2c keep[CHURN_KEEP];
	uint64_t next = clock_mono_ns() + t * CHURN_MS * 500000ull;
	char id[32];
	int n = 0;

	for (int i = 0; i < CHURN_KEEP; i++)
		keep[i] = (struct v2c){ .fd = -1 };
	while (!atomic_load(&C.stop)) {
		struct v2c *c = &keep[n % CHURN_KEEP];

		v2_close(c);
		snprintf(id, sizeof(id), "churn-%d-%d", t, n++);
		if (v2_join(c, C.native_port, id, NULL, E2E_WAIT_MS) == 0)
			atomic_fetch_add(&C.connects, 1);
		else if (atomic_fetch_add(&C.failures, 1) == 0)
			snprintf(C.unserved, sizeof(C.unserved), "%s", id);
		/* The pace of arrivals: one every CHURN_MS, on a schedule. */
		next += CHURN_MS * 1000000ull;
		tu_sleep_until(next);
	}
	for (int i = 0; i < CHURN_KEEP; i++)
		v2_close(&keep[i]);
	return NULL;
}

/* Web mix changes in a burst, each a new gain step; an answer 200 is a commit. */
static void *
mixer(void *arg)
{
	char body[96];
	int step = 0, st;

	(void)arg;
	while (!atomic_load(&C.stop)) {
		step++;
		snprintf(body, sizeof(body), "{\"gains\":{\"0\":%.4f}}",
		    step / 10000.0);
		st = http_req(C.http_port, "POST", "/api/clients/steady-0/mix",
		    body, NULL, E2E_WAIT_MS);
		if (st == 200) {
			atomic_fetch_add(&C.mixes_acked, 1);
			atomic_store(&C.last_acked, step);
		} else
			atomic_fetch_add(&C.mixes_refused, 1);
	}
	return NULL;
}

Test(adopt, twenty_crashes_under_churn_lose_nothing, .timeout = 600)
{
	struct v2c *phone = &E.c[0], *late = &E.c[1];
	pthread_t th[CHURN_THREADS + 1];
	uint64_t worst = 0, ms, t0, started;
	json_t *o;
	char id[32], body[96];
	double gain;
	int i, k;

	e2e_up("adopt", daemon_args);
	for (i = 0; i < NSTEADY; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		e2e_listen(id, NULL, 8);
	}
	json_decref(e2e_open(phone, "phone", NULL));
	C.http_port = E.d.http_port;
	C.native_port = E.d.native_port;
	started = clock_mono_ms();
	for (i = 0; i < CHURN_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churn,
		    (void *)(intptr_t)i), 0);
	cr_assert_eq(pthread_create(&th[i], NULL, mixer, NULL), 0);
	srandom((unsigned)getpid());
	for (k = 0; k < KILLS; k++) {
		struct pollfd none = { .fd = -1 };

		/* A random moment: bursts, connects and ends are under way. */
		poll(&none, 0, 50 + (int)(random() % 400));
		rcd_kill(&E.d);
		snprintf(id, sizeof(id), "late-%d", k);
		e2e_check(v2_open(late, E.d.native_port, v2_hello(id, NULL),
		    E2E_WAIT_MS) == 0, "connect while no supervisor runs");
		t0 = clock_mono_ms();
		(void)restart();
		for (i = 0; i < NSTEADY; i++) {
			snprintf(id, sizeof(id), "steady-%d", i);
			e2e_check(connected(id), "crash %d: %s not listed as "
			    "connected", k, id);
		}
		json_decref(e2e_ctl(late, "handshake_response", NULL));
		v2_close(late);
		snprintf(body, sizeof(body), "{\"master_gain\":%.3f}",
		    0.5 + k / 100.0);
		e2e_check(e2e_api("POST", "/api/clients/phone/mix", body,
		    NULL) == 200, "crash %d: web mix change", k);
		o = e2e_ctl(phone, "mix_state", NULL);
		json_decref(o);
		ms = clock_mono_ms() - t0;
		worst = ms > worst ? ms : worst;
	}
	atomic_store(&C.stop, 1);
	for (i = 0; i <= CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	cr_log_info("%d crashes in %.1f s: worst restart to a web change at "
	    "the phone %llu ms; churn %d connects (%d failed); %d web "
	    "changes committed, %d refused", KILLS, (clock_mono_ms() -
	    started) / 1000.0, (unsigned long long)worst,
	    atomic_load(&C.connects), atomic_load(&C.failures),
	    atomic_load(&C.mixes_acked), atomic_load(&C.mixes_refused));
	e2e_check(worst < ADOPT_LIMIT_MS, "a restart took %llu ms to serve "
	    "a web change", (unsigned long long)worst);
	e2e_steady_clean("after 20 crashes");
	/* Every acknowledged change is stored (a later one may be too). */
	o = http_client(E.d.http_port, "steady-0");
	gain = json_real_value(json_object_get(json_object_get(o, "gains"),
	    "0"));
	json_decref(o);
	e2e_check(gain * 10000.0 + 0.5 >= atomic_load(&C.last_acked),
	    "stored gain step %.1f, last acknowledged %d", gain * 10000.0,
	    atomic_load(&C.last_acked));
	if (atomic_load(&C.failures) > 0)
		log_lines(C.unserved);
	e2e_check(atomic_load(&C.failures) == 0, "%d apps were not served, "
	    "the first %s", atomic_load(&C.failures), C.unserved);
	e2e_check(atomic_load(&C.mixes_acked) > 0 &&
	    atomic_load(&C.connects) > KILLS, "too little happened: %d "
	    "connects (%d failed), %d web changes committed",
	    atomic_load(&C.connects), atomic_load(&C.failures),
	    atomic_load(&C.mixes_acked));
	v2_close(phone);
	steady_stop(&E.s);
	stop_all();
}

/* ---- strangers ---- */

/* A rendezvous of our ring for (role, pid) held by this process; its fd. */
static int
fake_rendezvous(enum msg_role role, pid_t pid)
{
	struct sockaddr_un sun;
	char name[ADOPT_NAME_MAX + 1];
	socklen_t len;
	int fd;

	cr_assert_eq(adopt_name(name, sizeof(name), E.d.ring, role, pid), 0);
	len = adopt_addr(&sun, name);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sun, len) == 0 &&
	    listen(fd, 4) == 0, "rendezvous @%s", name);
	return fd;
}

/*
 * In a child of ours (its own pid in the name, as SO_PEERCRED will say):
 * wait for the new ringcastd to call, then say what an impostor says.  Its
 * exit status: 0 when the caller closed on it without adopting it.
 */
static pid_t
impostor(bool wrong_version, int ready)
{
	static struct msg_adopt_session m;
	struct msg_hdr h = { MSG_VERSION + 1, MSG_ADOPT_SESSION, sizeof(m) };
	struct pollfd pfd;
	ssize_t n;
	char c;
	pid_t pid;
	int l, fd;

	if ((pid = fork()) != 0)
		return pid;
	l = fake_rendezvous(ROLE_SESSION, getpid());
	(void)!write(ready, "r", 1);
	pfd = (struct pollfd){ .fd = l, .events = POLLIN };
	if (poll(&pfd, 1, 60000) != 1 || (fd = accept(l, NULL, NULL)) == -1)
		_exit(2);
	memset(&m, 0, sizeof(m));
	memset(m.a.secret, 0x5a, sizeof(m.a.secret));	/* a guess */
	strcpy(m.a.version, "0.1.0");
	m.start.kind = CLIENT_NATIVE;
	m.start.stall_ms = m.start.user_timeout_ms = 1000;
	strcpy(m.start.persistent_id, "impostor");
	strcpy(m.start.hello.client_id, "impostor");
	m.start.hello.mask_words = 1;
	mix_init(&m.start.mix, 8);
	if (wrong_version ? msg_send_raw(fd, &h, &m, sizeof(m), -1) :
	    msg_send(fd, ROLE_SESSION, MSG_ADOPT_SESSION, &m, sizeof(m), NULL,
	    0, -1))
		_exit(3);
	/* Adopted, it would be sent to; refused, the caller closes (a
	 * reset when our words were left unread). */
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	if (poll(&pfd, 1, 30000) != 1)
		_exit(4);
	n = read(fd, &c, 1);
	_exit(n == 0 || (n == -1 && errno == ECONNRESET) ? 0 : 5);
}

/* A rendezvous is no door: a wrong secret or another version is not adopted. */
Test(adopt, an_impostor_at_a_rendezvous_is_not_adopted)
{
	int p[2], st;
	pid_t liar, stranger;
	char c, *text = NULL;

	e2e_up("adopt", daemon_args);
	e2e_listen("steady-0", NULL, 8);
	rcd_kill(&E.d);
	cr_assert_eq(pipe(p), 0);
	liar = impostor(false, p[1]);
	stranger = impostor(true, p[1]);
	cr_assert(read(p[0], &c, 1) == 1 && read(p[0], &c, 1) == 1);
	(void)restart();
	st = tu_wait_exit(liar, 30000);
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the impostor was "
	    "not turned away (status %d)", st);
	st = tu_wait_exit(stranger, 30000);
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child of another "
	    "version was not left alone (status %d)", st);
	e2e_check(rcd_log_has(&E.d, "its secret is wrong"), "the refusal "
	    "was not said");
	e2e_check(rcd_log_has(&E.d, "left to finish"), "the other version "
	    "was not said");
	e2e_check(http_client(E.d.http_port, "impostor") == NULL,
	    "the impostor is listed");
	e2e_check(http_req(E.d.http_port, "GET", "/metrics", NULL, &text,
	    E2E_WAIT_MS) == 200 && strstr(text, "ringcast_adoptions_total"
	    "{result=\"refused\"} 1\n") != NULL && strstr(text,
	    "ringcast_adoptions_total{result=\"incompatible\"} 1\n") != NULL,
	    "/metrics does not count them: %s", text);
	free(text);
	e2e_check(connected("steady-0"), "the real session was not adopted");
	e2e_steady_clean("beside an impostor");
	close(p[0]);
	close(p[1]);
}

/*
 * A process of another user knocking at an orphan's rendezvous is closed
 * unread: it learns no secret.  The orphan is adopted afterwards as usual.
 */
Test(adopt, another_user_learns_nothing_at_a_rendezvous)
{
	struct sockaddr_un sun;
	char name[ADOPT_NAME_MAX + 1], buf[64];
	struct pollfd pfd;
	pid_t sess, pid;
	int fd, st;
	ssize_t n;

	if (geteuid() != 0)
		cr_skip_test("needs root (a process of another user)");
	e2e_up("adopt", daemon_args);
	e2e_listen("steady-0", NULL, 8);
	sess = e2e_session_pid("steady-0");
	rcd_kill(&E.d);
	e2e_check(rcd_log_wait(&E.d, "waiting up to", E2E_WAIT_MS), "no "
	    "orphan");
	if ((pid = fork()) == 0) {
		if (setgid(65534) == -1 || setuid(65534) == -1)
			_exit(2);
		(void)adopt_name(name, sizeof(name), E.d.ring, ROLE_SESSION,
		    sess);
		socklen_t len = adopt_addr(&sun, name);
		if ((fd = socket(AF_UNIX, SOCK_SEQPACKET, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, len) == -1)
			_exit(3);
		pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
		if (poll(&pfd, 1, 20000) != 1)
			_exit(4);
		n = read(fd, buf, sizeof(buf));
		_exit(n == 0 ? 0 : 5);	/* closed, nothing said */
	}
	st = tu_wait_exit(pid, 30000);
	e2e_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "another user's "
	    "knock was not closed unread (status %d)", st);
	(void)restart();
	e2e_check(connected("steady-0"), "the orphan was not adopted");
	e2e_steady_clean("after another user knocked");
}

/* ---- an upgrade ---- */

/* The version a part of /api/status says (b: one level down in a). */
static char *
status_version(const char *a, const char *b)
{
	json_t *o = e2e_status(), *v = json_object_get(o, a);
	char *s;

	if (b != NULL)
		v = json_object_get(v, b);
	s = strdup(json_string_value(v) ? json_string_value(v) : "");
	json_decref(o);
	return s;
}

Test(adopt, an_upgrade_mid_stream_loses_nothing)
{
	static const char next[] = RINGCAST_VERSION "-next";
	struct v2c *phone = &E.c[0];
	char bin[160], from[160], prog[200], id[32], hp[32], out[1024], *v;
	uint64_t t0, ms;
	json_t *o, *e;
	int i, rc;

	snprintf(from, sizeof(from), "%s/next", tu_build_dir());
	snprintf(prog, sizeof(prog), "%s/ringcastd", from);
	cr_assert_eq(access(prog, X_OK), 0, "%s: make test builds it", prog);
	cr_assert_eq(rcd_init(&E.d, "adopt"), 0);
	snprintf(bin, sizeof(bin), "%s/bin", E.d.dir);
	cr_assert_eq(mkdir(bin, 0755), 0);
	cr_assert_eq(rcd_install(tu_build_dir(), bin), 0, "install");
	snprintf(E.d.prog, sizeof(E.d.prog), "%.150s/ringcastd", bin);
	e2e_up("adopt", daemon_args);
	for (i = 0; i < NSTEADY; i++) {
		snprintf(id, sizeof(id), "steady-%d", i);
		e2e_listen(id, NULL, 8);
	}
	json_decref(e2e_open(phone, "phone", NULL));

	/* A newer release is installed; ringcastd is told to take it. */
	cr_assert_eq(rcd_install(from, bin), 0, "install the next");
	snprintf(hp, sizeof(hp), "127.0.0.1:%d", E.d.http_port);
	t0 = clock_mono_ms();
	rc = tu_run((const char *const[]){ tu_prog("ringcast"), "upgrade",
	    "--http", hp, NULL }, out, sizeof(out), E2E_READY_MS);
	ms = clock_mono_ms() - t0;
	cr_log_info("ringcast upgrade: %llu ms: %s", (unsigned long long)ms,
	    out);
	e2e_check(rc == 0 && strstr(out, "-> " RINGCAST_VERSION "-next") !=
	    NULL, "ringcast upgrade failed (%d): %s", rc, out);
	o = e2e_status();
	e2e_check(json_integer_value(json_object_get(o, "pid")) == E.d.pid,
	    "ringcastd's pid changed: systemd would think it died");
	json_decref(o);
	e2e_check(strcmp(v = status_version("version", NULL), next) == 0,
	    "ringcastd is %s", v);
	free(v);
	e2e_check(strcmp(v = status_version("broker", "version"), next) == 0,
	    "the broker is %s", v);
	free(v);
	e2e_check(strcmp(v = status_version("capture", "version"), next) == 0,
	    "capture is %s", v);
	free(v);
	/* Sessions keep their binary; a new listener gets the new one. */
	e = http_client(E.d.http_port, "steady-0");
	e2e_check(strcmp(json_string_value(json_object_get(e, "version")) ?:
	    "", RINGCAST_VERSION) == 0, "an existing session changed binary");
	json_decref(e);
	e2e_listen("after", NULL, 8);
	e = http_client(E.d.http_port, "after");
	e2e_check(strcmp(json_string_value(json_object_get(e, "version")) ?:
	    "", next) == 0, "a new listener's session is not the new one");
	json_decref(e);
	e2e_check(e2e_api("POST", "/api/clients/phone/mix",
	    "{\"channels\":[3]}", NULL) == 200, "a web change after it");
	json_decref(e2e_ctl(phone, "mix_state", NULL));
	e2e_steady_clean("across an upgrade");
	v2_close(phone);
	steady_stop(&E.s);
	stop_all();
}

/* The raw answer to a GET without a supervisor: "Retry-After: 1" in it. */
static bool
retry_after_said(void)
{
	static const char req[] = "GET /api/status HTTP/1.1\r\nHost: t\r\n"
	    "Connection: close\r\n\r\n";
	char buf[2048];
	size_t n;
	int fd;

	if ((fd = v2_connect(E.d.http_port, 0, E2E_WAIT_MS)) == -1)
		return false;
	n = v2_write_all(fd, req, sizeof(req) - 1) == 0 ?
	    tu_read_all(fd, buf, sizeof(buf) - 1, E2E_WAIT_MS) : 0;
	close(fd);
	buf[n] = '\0';
	return strncmp(buf, "HTTP/1.1 503", 12) == 0 &&
	    strcasestr(buf, "\r\nRetry-After: 1\r\n") != NULL;
}

/* Nobody comes back: within its grace every child ends, cleanly. */
Test(adopt, orphans_nobody_adopts_end_after_their_grace)
{
	static const char *const args[] = { "--orphan-grace-s", "1", NULL };
	uint64_t t0;
	int left;

	e2e_up("adopt", args);
	e2e_listen("steady-0", NULL, 8);
	rcd_kill(&E.d);
	e2e_check(retry_after_said(), "the API without a supervisor is not "
	    "503 with Retry-After: 1");
	t0 = clock_mono_ms();
	while ((left = tree_left()) > 0 && clock_mono_ms() - t0 < E2E_WAIT_MS)
		(void)rcd_log_wait(&E.d, "no supervisor came back", 500);
	cr_log_info("orphans gone %llu ms after the SIGKILL (grace 1 s)",
	    (unsigned long long)(clock_mono_ms() - t0));
	e2e_check(left == 0 || tree_left_say(true) == 0, "%d processes "
	    "outlived their grace", left);
	e2e_check(rcd_log_has(&E.d, "no supervisor came back"), "the end "
	    "was not said");
	steady_stop(&E.s);
}
