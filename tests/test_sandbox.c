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

#include "shared/clock.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS

extern char **environ;

static struct passwd nobody;
static bool privileged;		/* root, and user nobody exists */

static void
setup(void)
{
	struct passwd *pw;

	e2e_setup();
	privileged = geteuid() == 0 && (pw = getpwnam("nobody")) != NULL;
	if (privileged)
		nobody = *pw;
}

TestSuite(sandbox, .init = setup, .fini = e2e_teardown);

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

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
	e2e_up(tag, extra);
}

/* ---- clients ---- */

/* A listener on channels 0..7 (hello extra fields merged in), read by E.s. */
static int
listener(const char *id, json_t *extra)
{
	return e2e_listen(id, extra, E2E_NCH);
}

/* ---- the API ---- */

/* The recorded last_exit of an identity once it is disconnected, else "". */
static bool
last_exit_is(const char *id, const char *want)
{
	json_t *o = http_client(E.d.http_port, id);
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
	st = http_req(E.d.http_port, "POST", "/api/test/probe", body, &resp,
	    WAIT_MS);
	free(resp);
	return st;
}

/* ---- /proc and the log ---- */

/* The first number after "Field:" in /proc/PID/status, -1 if none. */
static long
proc_status(pid_t pid, const char *field)
{
	return tu_proc_field(pid, "status", field);
}

/* All four ids of "Uid:" or "Gid:" equal want. */
static bool
proc_ids_are(pid_t pid, const char *field, unsigned want)
{
	unsigned a, b, c, d;
	char v[256];

	return tu_proc_line(pid, "status", field, v, sizeof(v)) == 0 &&
	    sscanf(v, "%u %u %u %u", &a, &b, &c, &d) == 4 && a == want &&
	    b == want && c == want && d == want;
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

/* The supplementary groups are exactly gid. */
static bool
proc_groups_are(pid_t pid, unsigned gid)
{
	char v[256], want[32];

	snprintf(want, sizeof(want), "%u", gid);
	return tu_proc_line(pid, "status", "Groups", v, sizeof(v)) == 0 &&
	    strcmp(v, want) == 0;
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
	snprintf(want, sizeof(want), "%s/state/empty", E.d.dir);
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
	listener("plain", NULL);
	listener("mixed", json_pack("{s:b, s:s}", "server_mix", 1,
	    "audio_format", "float32"));
	cap = e2e_child_pid("capture");
	brk = e2e_child_pid("broker");
	s[0] = e2e_session_pid("plain");
	s[1] = e2e_session_pid("mixed");
	confined(cap, "capture (tone)", on);
	confined(brk, "broker", on);
	snprintf(shm, sizeof(shm), "/dev/shm%s", E.d.ring);
	for (i = 0; i < 2 && geteuid() == 0; i++)
		check(proc_maps(s[i], shm, perms) == 0 &&
		    strcmp(perms, "r--s") == 0, "session ring mapped \"%s\"",
		    perms);
	for (i = 0; i < 2; i++)
		confined(s[i], "sessiond", on);
	check(proc_maps(E.d.pid, NULL, NULL) == 0, "ringcastd: an rwx mapping");
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
	e2e_steady_clean("confined");
}

/* ---- probes ---- */

/* A refused open leaves the session streaming: EPERM, logged. */
static void
probe_open_session(const char *id)
{
	char target[128], line[128];
	pid_t pid = e2e_session_pid(id);

	snprintf(target, sizeof(target), "session:%s", id);
	check(probe(target, "open") == 202, "probe open %s", id);
	snprintf(line, sizeof(line), "sessiond[%d]: try_syscall: probe open "
	    "refused: Operation not permitted", (int)pid);
	check(rcd_log_wait(&E.d, line, WAIT_MS), "no EPERM from the session's "
	    "open");
	check(e2e_session_pid(id) == pid, "the session did not survive open");
}

static void
probe_open_capture(void)
{
	pid_t pid = e2e_child_pid("capture");
	char line[128];

	check(probe("capture", "open") == 202, "probe capture open");
	snprintf(line, sizeof(line), "capture[%d]: try_syscall: probe open "
	    "refused: Operation not permitted", (int)pid);
	check(rcd_log_wait(&E.d, line, WAIT_MS), "no EPERM from capture's "
	    "open");
	check(e2e_child_pid("capture") == pid, "capture did not survive open");
}

/* execve kills the session (listener i of E.s): SIGSYS, reason "sandbox". */
static void
probe_execve_session(int i, const char *id)
{
	static struct http_sse ev;
	char target[128];
	struct v2c c;
	json_t *o;

	steady_remove(&E.s, i, &c);
	cr_assert_eq(http_sse_open(&ev, E.d.http_port, 0), 0, "events");
	json_decref(http_sse_next(&ev, "meters", WAIT_MS, NULL));
	snprintf(target, sizeof(target), "session:%s", id);
	check(probe(target, "execve") == 202, "probe execve %s", id);
	check(v2_wait_eof(&c, WAIT_MS) == V2_EOF, "the session survived "
	    "execve, or its stream broke");
	v2_close(&c);
	/* The exit is recorded before the event announces it. */
	while ((o = http_sse_next(&ev, "client_disconnected", WAIT_MS, NULL)) !=
	    NULL && strcmp(json_string_value(json_object_get(o, "id")), id))
		json_decref(o);
	http_sse_close(&ev);
	check(o != NULL, "no client_disconnected for %s", id);
	json_decref(o);
	check(last_exit_is(id, "sandbox"), "last_exit of %s is not sandbox",
	    id);
	check(rcd_log_has(&E.d, "sandbox violation"), "no violation in the "
	    "log");
}

Test(sandbox, probes_end_as_designed, .timeout = 240)
{
	char *resp = NULL;
	pid_t brk;
	int st, victim;
	uint64_t end;

	if (RINGCAST_SANDBOX == 0)
		cr_skip_test("built with SANDBOX=0: no filter to probe");
	daemon_up("probe", true);
	listener("steady", NULL);
	victim = listener("victim", json_pack("{s:b}", "server_mix", 1));
	probe_open_session("victim");
	probe_open_capture();
	e2e_flowing(50);
	probe_execve_session(victim, "victim");
	check(e2e_status_int("sandbox_violations", NULL) == 1,
	    "violations != 1");
	brk = e2e_child_pid("broker");
	/* The broker dies before it can pass the reply on: a closed request. */
	st = probe("broker", "socket");
	check(st == 202 || st == -1, "probe broker socket: %d", st);
	/* Requests wait in the listener's backlog for the new broker. */
	end = clock_mono_ms() + WAIT_MS;
	while (e2e_status_int("broker", "restarts") != 1)
		check(clock_mono_ms() < end, "broker restarts never became 1");
	check(e2e_child_pid("broker") != brk, "broker pid unchanged");
	check(rcd_log_has(&E.d, "broker[") && rcd_log_has(&E.d, "sandbox "
	    "violation: killed by SIGSYS"), "broker violation not logged");
	check(e2e_status_int("sandbox_violations", NULL) == 2,
	    "violations != 2");
	listener("after", NULL);
	e2e_flowing(200);
	e2e_steady_clean("probes");
	st = http_req(E.d.http_port, "GET", "/metrics", NULL, &resp, WAIT_MS);
	check(st == 200 && resp != NULL && strstr(resp,
	    "ringcast_sandbox_violations_total 2\n") != NULL,
	    "metrics: no violation counter of 2");
	free(resp);
}

Test(sandbox, probes_need_the_test_option, .timeout = 120)
{
	daemon_up("noprobe", false);
	listener("plain", NULL);
	check(probe("broker", "socket") == 404, "probe route without "
	    "--test-probes");
	check(probe("session:plain", "execve") == 404, "probe route without "
	    "--test-probes");
	e2e_flowing(50);
	check(e2e_status_int("sandbox_violations", NULL) == 0, "violations");
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
