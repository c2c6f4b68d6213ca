/* test_build.c — what the build promises: hardened programs, and an install that needs no test dependency. */
#define _GNU_SOURCE	/* strchrnul */
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/tu.h"

static const char *const programs[] = { "ringcastd", "ringcast",
    "ringcast-capture", "ringcast-broker", "ringcast-sessiond",
    "ringcast-publish" };

#define NPROGRAMS	(sizeof(programs) / sizeof(programs[0]))

/*
 * This test is compiled with the programs' flags, so it knows what to
 * expect of them: checked (__*_chk) calls when _FORTIFY_SOURCE is on (the
 * Makefile sets it only for an optimised build without sanitizers), ASan
 * and UBSan in a SAN=1 build.
 */
#if defined(_FORTIFY_SOURCE) && _FORTIFY_SOURCE > 0
#define FORTIFIED	true
#else
#define FORTIFIED	false
#endif
#ifdef __SANITIZE_ADDRESS__
#define SANITIZED	true
#else
#define SANITIZED	false
#endif

/* The output of `readelf -W -h -l -d --dyn-syms path`, or NULL. */
static char *
readelf(const char *path)
{
	char cmd[PATH_MAX + 64], chunk[4096], *buf = NULL;
	size_t len = 0, n;
	FILE *p, *m;
	int st;

	snprintf(cmd, sizeof(cmd), "readelf -W -h -l -d --dyn-syms '%s'", path);
	if ((m = open_memstream(&buf, &len)) == NULL)
		return NULL;
	if ((p = popen(cmd, "r")) == NULL) {
		fclose(m);
		free(buf);
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		fwrite(chunk, 1, n, m);
	st = pclose(p);
	fclose(m);
	if (st != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The line of text that contains key holds want too. */
static bool
line_has(const char *text, const char *key, const char *want)
{
	const char *k = strstr(text, key), *w, *eol;

	if (k == NULL)
		return false;
	eol = strchrnul(k, '\n');
	w = strstr(k, want);
	return w != NULL && w < eol;
}

/* A fortified libc call (__memcpy_chk, ...) in text; its name in name. */
static bool
fortified_call(const char *text, char *name, size_t size)
{
	const char *p = text, *start, *end;

	while ((p = strstr(p, "_chk")) != NULL) {
		start = p;
		while (start > text && start[-1] != ' ' && start[-1] != '\n')
			start--;
		end = p + 4;
		p = end;
		if (strncmp(start, "__", 2) != 0 ||
		    strncmp(start, "__stack_chk_fail", 16) == 0)
			continue;
		snprintf(name, size, "%.*s", (int)(end - start), start);
		return true;
	}
	return false;
}

static void
check_program(const char *prog)
{
	const char *path = tu_prog(prog);
	char *elf, call[64];

	cr_assert_eq(access(path, X_OK), 0, "%s: not built", path);
	elf = readelf(path);
	cr_assert_not_null(elf, "readelf %s failed", path);
	cr_expect(line_has(elf, "Type:", "DYN"), "%s: not PIE (ELF type is "
	    "not DYN)", prog);
	cr_expect(strstr(elf, "BIND_NOW") != NULL ||
	    line_has(elf, "(FLAGS_1)", " NOW"), "%s: no BIND_NOW", prog);
	cr_expect(strstr(elf, "GNU_RELRO") != NULL, "%s: no GNU_RELRO segment",
	    prog);
	cr_expect(strstr(elf, "__stack_chk_fail") != NULL, "%s: no stack "
	    "protector (__stack_chk_fail not referenced)", prog);
	if (FORTIFIED)
		cr_expect(fortified_call(elf, call, sizeof(call)), "%s: no "
		    "fortified call (__*_chk) with _FORTIFY_SOURCE on", prog);
	cr_expect(SANITIZED == (strstr(elf, "__asan_init") != NULL),
	    "%s: ASan %s", prog, SANITIZED ? "missing from a SAN=1 build" :
	    "in a build without SAN=1");
	cr_expect(SANITIZED == (strstr(elf, "__ubsan_handle_") != NULL),
	    "%s: UBSan %s", prog, SANITIZED ? "missing from a SAN=1 build" :
	    "in a build without SAN=1");
	free(elf);
}

Test(build, programs_are_hardened, .timeout = 60)
{
	size_t i;

	for (i = 0; i < NPROGRAMS; i++)
		check_program(programs[i]);
	if (!FORTIFIED)
		cr_log_info("no _FORTIFY_SOURCE in this build (%s): no __*_chk "
		    "calls expected", SANITIZED ? "sanitizers" :
		    "not optimised, or the user's flags");
}

/* Run argv with stdout and stderr appended to log; its wait status or -1. */
static int
run(char *const argv[], const char *log, int timeout_ms)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd == -1 || dup2(fd, 1) == -1 || dup2(fd, 2) == -1)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	return tu_wait_exit(pid, timeout_ms);
}

static void
log_tail(const char *log)
{
	char buf[3000];
	size_t n = 0;
	FILE *f;

	if ((f = fopen(log, "r")) == NULL)
		return;
	if (fseek(f, -(long)(sizeof(buf) - 1), SEEK_END) == -1)
		rewind(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_log_error("%s", buf);
}

/*
 * In a private mount namespace, a tmpfs over Criterion's headers (proved
 * unusable), then `make install` from a fresh build directory: nothing of
 * the tests may be needed, nor built.  The environment's make and SAN
 * settings are dropped: this is a plain `make install`.
 */
static char install_script[] =
    "set -e\n"
    "mount -t tmpfs -o size=1m none /usr/include/criterion\n"
    "if echo '#include <criterion/criterion.h>' | "
    "cc -E -x c - >/dev/null 2>&1; then\n"
    "	echo 'Criterion headers still visible'; exit 99\n"
    "fi\n"
    "unset MAKEFLAGS MFLAGS MAKELEVEL SAN\n"
    "make -C \"$1\" -j2 BUILD=\"$2/build\" DESTDIR=\"$2/dest\" install\n";

static bool
installed(const char *dir, const char *rel)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/dest/usr/local/%s", dir, rel);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 0111) != 0;
}

Test(build, install_without_criterion, .timeout = 600)
{
	char dir[] = "/tmp/rc-test-install-XXXXXX";
	char tmp[PATH_MAX], src[PATH_MAX], log[PATH_MAX + 16];
	char tests[PATH_MAX + 16];
	char *sh[] = { "unshare", "-m", "sh", "-c", install_script,
	    "sh", src, dir, NULL };
	char *rm[] = { "rm", "-rf", dir, NULL };
	int st;

	if (geteuid() != 0)
		cr_skip_test("needs root (a private mount namespace)");
	snprintf(tmp, sizeof(tmp), "%s", BUILD_DIR);
	snprintf(src, sizeof(src), "%s", dirname(tmp));
	snprintf(log, sizeof(log), "%s/Makefile", src);
	if (access(log, R_OK) == -1)
		cr_skip_test("sources not next to %s", BUILD_DIR);
	if (access("/usr/include/criterion", F_OK) == -1)
		cr_skip_test("no /usr/include/criterion to hide");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp");
	snprintf(log, sizeof(log), "%s/log", dir);
	st = run(sh, log, 540000);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		log_tail(log);
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 99,
	    "Criterion's headers could not be hidden");
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "make install without Criterion's headers failed (status %d)", st);
	cr_expect(installed(dir, "bin/ringcastd") && installed(dir,
	    "bin/ringcast") && installed(dir, "libexec/ringcast/ringcast-capture")
	    && installed(dir, "libexec/ringcast/ringcast-broker") &&
	    installed(dir, "libexec/ringcast/ringcast-sessiond") &&
	    installed(dir, "libexec/ringcast/ringcast-publish"),
	    "programs missing from DESTDIR");
	snprintf(tests, sizeof(tests), "%s/build/tests", dir);
	cr_expect(access(tests, F_OK) == -1, "make install built tests");
	run(rm, "/dev/null", 60000);
}

/* The source tree beside BUILD_DIR into src (PATH_MAX); false if absent. */
static bool
source_dir(char *src)
{
	char tmp[PATH_MAX], mk[PATH_MAX + 16];

	snprintf(tmp, sizeof(tmp), "%s", BUILD_DIR);
	snprintf(src, PATH_MAX, "%s", dirname(tmp));
	snprintf(mk, sizeof(mk), "%s/tools/names.sh", src);
	return access(mk, R_OK) == 0;
}

/* tools/names.sh on build: its wait status; its output in log. */
static int
names_check(const char *src, const char *build, const char *log)
{
	char script[PATH_MAX + 32], dir[PATH_MAX];
	char *sh[] = { "sh", script, dir, NULL };

	snprintf(script, sizeof(script), "%s/tools/names.sh", src);
	snprintf(dir, sizeof(dir), "%s", build);
	unlink(log);
	return run(sh, log, 120000);
}

/* No program defines a function name twice; no namesakes in word order. */
Test(build, function_names_are_unique, .timeout = 180)
{
	char src[PATH_MAX], log[] = "/tmp/rc-test-names.log";
	int st;

	if (!source_dir(src))
		cr_skip_test("sources not next to %s", BUILD_DIR);
	st = names_check(src, BUILD_DIR, log);
	if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 2) {
		unlink(log);
		cr_skip_test("the programs were built without -g");
	}
	if (st != 0)
		log_tail(log);
	cr_expect_eq(st, 0, "tools/names.sh found problems (status %d)", st);
	unlink(log);
}

/* The check can fail: a program with a static function in two files,
 * and two functions whose words are the same in another order. */
Test(build, the_names_check_finds_what_it_forbids, .timeout = 120)
{
	/*
	 * A header's static inline, which -O0 keeps out of line in both
	 * units: one definition, not two.
	 */
	static const char h[] = "static inline int shared(int x) "
	    "{ return x + 1; }\n";
	static const char a[] = "#include \"h.h\"\n"
	    "static int twice(void) { return 1; }\n"
	    "int spawn_session(void);\n"
	    "int spawn_session(void) { return shared(twice()); }\n";
	static const char b[] = "#include \"h.h\"\n"
	    "int spawn_session(void);\n"
	    "static int twice(void) { return 2; }\n"
	    "int session_spawn(void);\n"
	    "int session_spawn(void) { return 0; }\n"
	    "int main(void) { return spawn_session() + shared(twice()); }\n";
	char dir[] = "/tmp/rc-test-names-XXXXXX", src[PATH_MAX];
	char pa[64], pb[64], ph[64], prog[64], log[64], out[4096];
	char *cc[] = { "gcc", "-g", "-O0", "-o", prog, pa, pb, NULL };
	char *rm[] = { "rm", "-rf", dir, NULL };
	FILE *f;
	size_t n = 0;
	int fd, st;

	if (!source_dir(src))
		cr_skip_test("sources not next to %s", BUILD_DIR);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(pa, sizeof(pa), "%s/a.c", dir);
	snprintf(pb, sizeof(pb), "%s/b.c", dir);
	snprintf(ph, sizeof(ph), "%s/h.h", dir);
	snprintf(prog, sizeof(prog), "%s/ringcastd", dir);
	snprintf(log, sizeof(log), "%s/log", dir);
	cr_assert((f = fopen(pa, "w")) != NULL && fputs(a, f) >= 0 &&
	    fclose(f) == 0);
	cr_assert((f = fopen(pb, "w")) != NULL && fputs(b, f) >= 0 &&
	    fclose(f) == 0);
	cr_assert((f = fopen(ph, "w")) != NULL && fputs(h, f) >= 0 &&
	    fclose(f) == 0);
	cr_assert_eq(run(cc, log, 60000), 0, "gcc failed");
	st = names_check(src, dir, log);
	if ((fd = open(log, O_RDONLY)) >= 0) {
		n = tu_read_all(fd, out, sizeof(out) - 1, 5000);
		close(fd);
	}
	out[n] = '\0';
	cr_expect(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "status %d", st);
	cr_expect(strstr(out, "defined twice: twice") != NULL,
	    "not found: a static function in two files\n%s", out);
	cr_expect(strstr(out, "session_spawn spawn_session") != NULL,
	    "not found: namesakes in another order\n%s", out);
	cr_expect(strstr(out, "shared") == NULL,
	    "a header's inline function taken for two\n%s", out);
	run(rm, "/dev/null", 60000);
}
