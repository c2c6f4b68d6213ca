/* test_sandbox.c — privilege separation and seccomp, verified from outside through /proc, the API and probes. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <spawn.h>

#include <criterion/criterion.h>

#include "tests/v2client.h"

#define READY_MS	30000	/* generous: a noisy, shared 2-core VM */
#define WAIT_MS		15000
#define NCLIENT		4

extern char **environ;

static struct rcd D;
static struct v2c C[NCLIENT];
static struct v2r R[NCLIENT];
static struct passwd nobody;
static bool privileged;		/* root, and user nobody exists */

static void
setup(void)
{
	struct passwd *pw;
	int i;

	memset(&D, 0, sizeof(D));
	for (i = 0; i < NCLIENT; i++)
		C[i].fd = -1;
	privileged = geteuid() == 0 && (pw = getpwnam("nobody")) != NULL;
	if (privileged)
		nobody = *pw;
}

/* Runs after a failed assertion too: nothing the test started survives. */
static void
teardown(void)
{
	int i;

	for (i = 0; i < NCLIENT; i++) {
		v2r_stop(&R[i]);
		v2_close(&C[i]);
	}
	rcd_cleanup(&D);
}

TestSuite(sandbox, .init = setup, .fini = teardown);

#define check(cond, ...)	rcd_check(&D, cond, __VA_ARGS__)

/* As root: the network children as nobody.  Always: the probes. */
static void
daemon_up(const char *tag, bool probes)
{
	const char *extra[5];
	int n = 0;

	if (privileged) {
		extra[n++] = "--user";
		extra[n++] = "nobody";
	} else
		cr_log_info("not root: privilege drop and chroot are not "
		    "checked, only no_new_privs, seccomp and the probes");
	if (probes)
		extra[n++] = "--test-probes";
	extra[n] = NULL;
	cr_assert_eq(rcd_mkdir(&D, tag), 0, "temp dir");
	check(rcd_start(&D, extra, READY_MS) == 0, "ringcastd not ready");
}

/* Short pause between two looks at a state that has no descriptor to wait on. */
static void
pause_ms(int ms)
{
	poll(NULL, 0, ms);
}

/* ---- clients ---- */

static json_t *
ctl(struct v2c *c, const char *type)
{
	json_t *o = v2_recv_ctl(c, type, WAIT_MS, NULL);

	check(o != NULL, "no %s", type);
	return o;
}

/* Connect with a hello (extra fields merged in), subscribe to 0..7, read. */
static void
listener(int i, const char *id, json_t *extra)
{
	json_t *hello = v2_hello(id, NULL);

	memset(&C[i], 0, sizeof(C[i]));
	C[i].fd = -1;
	check((C[i].buf = malloc(V2_BUF)) != NULL, "malloc");
	check((C[i].fd = v2_connect(D.native_port, WAIT_MS)) >= 0, "connect %s", id);
	if (extra != NULL)
		json_object_update(hello, extra);
	json_decref(extra);
	check(v2_send_ctl(&C[i], hello) == 0, "hello %s", id);
	json_decref(ctl(&C[i], "handshake_response"));
	json_decref(ctl(&C[i], "mix_state"));
	check(v2_send_ctl(&C[i], json_pack("{s:s, s:[iiiiiiii]}", "type",
	    "update_mix", "channels", 0, 1, 2, 3, 4, 5, 6, 7)) == 0, "mix");
	json_decref(ctl(&C[i], "mix_state"));
	cr_assert_eq(v2r_start(&R[i], &C[i]), 0, "reader");
	check(v2r_wait(&R[i], 50, WAIT_MS), "listener %s gets no audio", id);
}

/* ---- the API ---- */

static json_t *
status(void)
{
	json_t *o = http_json(D.http_port, "GET", "/api/status", NULL, NULL);

	check(o != NULL, "GET /api/status");
	return o;
}

static long long
status_int(const char *a, const char *b)
{
	json_t *o = status(), *v = json_object_get(o, a);
	long long r;

	if (b != NULL)
		v = json_object_get(v, b);
	r = json_integer_value(v);
	json_decref(o);
	return r;
}

static pid_t
child_pid(const char *which)
{
	pid_t pid = (pid_t)status_int(which, "pid");

	check(pid > 0, "no %s pid in /api/status", which);
	return pid;
}

static json_t *
client_entry(const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	return http_json(D.http_port, "GET", path, NULL, NULL);
}

static pid_t
session_pid(const char *id)
{
	json_t *o = client_entry(id);
	pid_t pid = o ? json_integer_value(json_object_get(o, "pid")) : 0;

	json_decref(o);
	check(pid > 0, "no session pid for %s", id);
	return pid;
}

/* The recorded last_exit of an identity once it is disconnected, else "". */
static bool
last_exit_is(const char *id, const char *want)
{
	json_t *o = client_entry(id);
	const char *le = json_string_value(json_object_get(o, "last_exit"));
	bool r = le != NULL && strcmp(le, want) == 0 &&
	    !json_is_true(json_object_get(o, "connected"));

	json_decref(o);
	return r;
}

static int
probe(const char *target, const char *syscall)
{
	char body[256], *resp;
	int st;

	snprintf(body, sizeof(body), "{\"target\": \"%s\", \"syscall\": "
	    "\"%s\"}", target, syscall);
	st = http_req(D.http_port, "POST", "/api/test/probe", body, &resp,
	    WAIT_MS);
	free(resp);
	return st;
}

/* ---- /proc and the log ---- */

/* The first number after "Field:" in /proc/PID/status, -1 if none. */
static long
proc_status(pid_t pid, const char *field)
{
	char path[64], line[512];
	size_t n = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

/* All four ids of "Uid:" or "Gid:" equal want. */
static bool
proc_ids_are(pid_t pid, const char *field, unsigned want)
{
	char path[64], line[512];
	size_t len = strlen(field);
	unsigned a, b, c, d;
	bool r = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':' &&
		    sscanf(line + len + 1, "%u %u %u %u", &a, &b, &c, &d) == 4) {
			r = a == want && b == want && c == want && d == want;
			break;
		}
	fclose(f);
	return r;
}

/* Whether one of pid's threads runs SCHED_FIFO (stat field 41, policy). */
static bool
proc_fifo_thread(pid_t pid)
{
	char path[320], line[1024], *p;
	struct dirent *de;
	bool r = false;
	int policy, i;
	DIR *d;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if ((d = opendir(path)) == NULL)
		return false;
	while (!r && (de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid,
		    de->d_name);
		if (de->d_name[0] == '.' || (f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(line, sizeof(line), f) != NULL &&
		    (p = strrchr(line, ')')) != NULL) {
			/* Fields 3.. follow ") "; policy is the 41st. */
			for (i = 2; i < 41 && p != NULL; i++)
				p = strchr(p + 1, ' ');
			r = p != NULL && sscanf(p, " %d", &policy) == 1 &&
			    policy == SCHED_FIFO;
		}
		fclose(f);
	}
	closedir(d);
	return r;
}

static bool
proc_groups_are(pid_t pid, unsigned gid)
{
	char path[64], line[512], want[64];
	bool r = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	snprintf(want, sizeof(want), "Groups:\t%u \n", gid);
	if ((f = fopen(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Groups:", 7) == 0) {
			r = strcmp(line, want) == 0;
			break;
		}
	fclose(f);
	return r;
}

/*
 * Scan /proc/PID/maps: the number of rwx mappings, and the permissions of
 * the mapping of path (if path is not NULL; "" when not mapped).
 */
static int
proc_maps(pid_t pid, const char *path, char perms[5])
{
	char file[64], line[1024], p[8];
	int rwx = 0;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/maps", (int)pid);
	if (perms != NULL)
		perms[0] = '\0';
	if ((f = fopen(file, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%*s %7s", p) != 1)
			continue;
		if (strncmp(p, "rwx", 3) == 0)
			rwx++;
		line[strcspn(line, "\n")] = '\0';
		if (path != NULL && strlen(line) >= strlen(path) &&
		    strcmp(line + strlen(line) - strlen(path), path) == 0)
			snprintf(perms, 5, "%.4s", p);
	}
	fclose(f);
	return rwx;
}

static bool
log_has(const char *text)
{
	static char buf[1 << 20];
	ssize_t n;
	int fd;

	if ((fd = open(D.log, O_RDONLY | O_CLOEXEC)) == -1)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, text) != NULL;
}

/* Wait for a line in the daemon's log (the children log there too). */
static bool
log_wait(const char *text)
{
	uint64_t end = tu_now_ms() + WAIT_MS;

	while (!log_has(text))
		if (tu_now_ms() >= end)
			return false;
		else
			pause_ms(20);
	return true;
}

/* ---- what an operator sees in /proc ---- */

static void
confined(pid_t pid, const char *what, bool filtered)
{
	check(proc_status(pid, "NoNewPrivs") == 1, "%s[%d]: NoNewPrivs",
	    what, (int)pid);
	check(proc_status(pid, "Seccomp") == (filtered ? 2 : 0),
	    "%s[%d]: Seccomp %ld", what, (int)pid, proc_status(pid, "Seccomp"));
	/* Not dumpable: only root may read its maps. */
	if (geteuid() == 0)
		check(proc_maps(pid, NULL, NULL) == 0, "%s[%d]: an rwx mapping",
		    what, (int)pid);
}

/* Broker and sessions as nobody, chrooted to <state>/empty. */
static void
dropped(pid_t pid, const char *what)
{
	char link[64], root[PATH_MAX], want[PATH_MAX];
	ssize_t n;

	check(proc_ids_are(pid, "Uid", nobody.pw_uid), "%s: Uid", what);
	check(proc_ids_are(pid, "Gid", nobody.pw_gid), "%s: Gid", what);
	check(proc_groups_are(pid, nobody.pw_gid), "%s: Groups", what);
	snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
	snprintf(want, sizeof(want), "%s/state/empty", D.dir);
	n = readlink(link, root, sizeof(root) - 1);
	root[n > 0 ? n : 0] = '\0';
	check(strcmp(root, want) == 0, "%s: root is \"%s\", not %s", what,
	    root, want);
}

Test(sandbox, children_confined_from_outside, .timeout = 180)
{
	bool on = RINGCAST_SANDBOX != 0;
	pid_t cap, brk, s[2];
	char shm[128], perms[5];
	int i;

	daemon_up("proc", false);
	listener(0, "plain", NULL);
	listener(1, "mixed", json_pack("{s:b, s:s}", "server_mix", 1,
	    "audio_format", "float32"));
	cap = child_pid("capture");
	brk = child_pid("broker");
	s[0] = session_pid("plain");
	s[1] = session_pid("mixed");
	confined(cap, "capture (tone)", on);
	confined(brk, "broker", on);
	snprintf(shm, sizeof(shm), "/dev/shm%s", D.ring);
	for (i = 0; i < 2 && geteuid() == 0; i++)
		check(proc_maps(s[i], shm, perms) == 0 &&
		    strcmp(perms, "r--s") == 0, "session ring mapped \"%s\"",
		    perms);
	for (i = 0; i < 2; i++)
		confined(s[i], "sessiond", on);
	check(proc_maps(D.pid, NULL, NULL) == 0, "ringcastd: an rwx mapping");
	if (!on)
		cr_log_info("built with SANDBOX=0: no seccomp filter expected");
	if (!privileged) {
		cr_log_info("not root: Uid/Gid/Groups/chroot checks skipped");
		return;
	}
	dropped(brk, "broker");
	dropped(s[0], "plain session");
	dropped(s[1], "server-mix session");
	check(proc_ids_are(cap, "Uid", nobody.pw_uid), "capture: Uid");
	check(proc_ids_are(cap, "Gid", nobody.pw_gid), "capture: Gid");
	check(proc_fifo_thread(cap), "capture: no SCHED_FIFO audio thread");
	for (i = 0; i < 2; i++)
		check(v2r_wait(&R[i], 50, WAIT_MS), "listener %d stalled", i);
}

/* ---- probes ---- */

static void
wait_status(const char *a, const char *b, long long want)
{
	uint64_t end = tu_now_ms() + WAIT_MS;

	while (status_int(a, b) != want) {
		check(tu_now_ms() < end, "%s%s%s never became %lld", a,
		    b ? "." : "", b ? b : "", want);
		pause_ms(20);
	}
}

/* A refused open leaves the session streaming: EPERM, logged. */
static void
probe_open_session(const char *id)
{
	char target[128], line[128];
	pid_t pid = session_pid(id);

	snprintf(target, sizeof(target), "session:%s", id);
	check(probe(target, "open") == 202, "probe open %s", id);
	snprintf(line, sizeof(line), "sessiond[%d]: try_syscall: probe open "
	    "refused: Operation not permitted", (int)pid);
	check(log_wait(line), "no EPERM from the session's open");
	check(session_pid(id) == pid, "the session did not survive open");
}

static void
probe_open_capture(void)
{
	pid_t pid = child_pid("capture");
	char line[128];

	check(probe("capture", "open") == 202, "probe capture open");
	snprintf(line, sizeof(line), "capture[%d]: try_syscall: probe open "
	    "refused: Operation not permitted", (int)pid);
	check(log_wait(line), "no EPERM from capture's open");
	check(child_pid("capture") == pid, "capture did not survive open");
}

/* execve kills the session: SIGSYS, reason "sandbox", counted. */
static void
probe_execve_session(int i, const char *id)
{
	char target[128];

	v2r_stop(&R[i]);
	snprintf(target, sizeof(target), "session:%s", id);
	check(probe(target, "execve") == 202, "probe execve %s", id);
	check(v2_wait_eof(&C[i], WAIT_MS), "the session survived execve");
	v2_close(&C[i]);
	for (uint64_t end = tu_now_ms() + WAIT_MS; !last_exit_is(id,
	    "sandbox"); pause_ms(20))
		check(tu_now_ms() < end, "last_exit of %s is not sandbox", id);
	check(log_has("sandbox violation"), "no violation in the log");
}

Test(sandbox, probes_end_as_designed, .timeout = 240)
{
	pid_t brk;
	char *resp = NULL;
	int st;

	if (RINGCAST_SANDBOX == 0)
		cr_skip_test("built with SANDBOX=0: no filter to probe");
	daemon_up("probe", true);
	listener(0, "steady", NULL);
	listener(1, "victim", json_pack("{s:b}", "server_mix", 1));
	probe_open_session("victim");
	probe_open_capture();
	check(v2r_wait(&R[1], 50, WAIT_MS), "victim stopped after open");
	probe_execve_session(1, "victim");
	check(status_int("sandbox_violations", NULL) == 1, "violations != 1");
	brk = child_pid("broker");
	/* The broker dies before it can pass the reply on: a closed request. */
	st = probe("broker", "socket");
	check(st == 202 || st == -1, "probe broker socket: %d", st);
	/* Requests wait in the listener's backlog for the new broker. */
	wait_status("broker", "restarts", 1);
	check(child_pid("broker") != brk, "broker pid unchanged");
	check(log_has("broker[") && log_has("sandbox violation: killed by "
	    "SIGSYS"), "broker violation not logged");
	check(status_int("sandbox_violations", NULL) == 2, "violations != 2");
	listener(2, "after", NULL);
	check(v2r_wait(&R[0], 200, WAIT_MS), "steady listener stalled");
	check(!atomic_load(&R[0].failed), "steady listener dropped");
	check(atomic_load(&R[0].gaps) == 0 && atomic_load(&R[0].backwards) ==
	    0, "steady listener lost %llu periods",
	    (unsigned long long)atomic_load(&R[0].gaps));
	st = http_req(D.http_port, "GET", "/metrics", NULL, &resp, WAIT_MS);
	check(st == 200 && resp != NULL && strstr(resp,
	    "ringcast_sandbox_violations_total 2\n") != NULL,
	    "metrics: no violation counter of 2");
	free(resp);
	cr_log_info("probes: steady listener %llu packets, 0 lost, worst gap "
	    "%.1f ms", (unsigned long long)atomic_load(&R[0].packets),
	    atomic_load(&R[0].max_gap_ns) / 1e6);
}

Test(sandbox, probes_need_the_test_option, .timeout = 120)
{
	daemon_up("noprobe", false);
	listener(0, "plain", NULL);
	check(probe("broker", "socket") == 404, "probe route without "
	    "--test-probes");
	check(probe("session:plain", "execve") == 404, "probe route without "
	    "--test-probes");
	check(v2r_wait(&R[0], 50, WAIT_MS), "listener stalled");
	check(status_int("sandbox_violations", NULL) == 0, "violations");
}

/* `make SANDBOX=0` (sanitizers): the null implementation compiles clean. */
Test(sandbox, null_sandbox_compiles, .timeout = 120)
{
	char root[PATH_MAX], src[PATH_MAX + 32], out[64], inc[PATH_MAX + 8];
	char *argv[] = { "cc", "-std=gnu11", "-Wall", "-Wextra",
	    "-Wstrict-prototypes", "-Wmissing-prototypes", "-Wshadow",
	    "-Wpointer-arith", "-Wcast-qual", "-Werror",
	    "-DRINGCAST_SANDBOX=0", inc, "-c", "-o", out, src, NULL };
	pid_t pid;
	int st;

	snprintf(root, sizeof(root), "%s", BUILD_DIR);
	snprintf(inc, sizeof(inc), "-I%s", dirname(root));
	snprintf(src, sizeof(src), "%s/shared/sandbox.c", root);
	snprintf(out, sizeof(out), "/tmp/rc-test-%d-null.o", (int)getpid());
	if (access(src, R_OK) == -1)
		cr_skip_test("sources not next to %s", BUILD_DIR);
	cr_assert_eq(posix_spawnp(&pid, "cc", NULL, NULL, argv, environ), 0,
	    "no cc");
	st = tu_wait_exit(pid, 100000);
	unlink(out);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "shared/sandbox.c does not compile with RINGCAST_SANDBOX=0");
}
