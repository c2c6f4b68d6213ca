/* test_fuzz_replay.c — every seed and every kept crashing input, replayed under ASan/UBSan. */
#include <sys/wait.h>

#include <spawn.h>
#include <stdio.h>

#include <criterion/criterion.h>

extern char **environ;

static const char *const harnesses[] = { "proto", "hello", "api", "state" };

/* Run one replayer over its corpus and regression directories. */
static int
replay(const char *name)
{
	char bin[512], corpus[128], regress[128];
	char *argv[] = { bin, corpus, regress, NULL };
	pid_t pid;
	int st;

	snprintf(bin, sizeof(bin), "%s/fuzz-replay/fuzz_%s", BUILD_DIR, name);
	snprintf(corpus, sizeof(corpus), "fuzz/corpus/%s", name);
	snprintf(regress, sizeof(regress), "fuzz/regress/%s", name);
	if (posix_spawn(&pid, bin, NULL, NULL, argv, environ) != 0)
		return -1;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(fuzz, corpora_and_regressions_replay_clean, .timeout = 120)
{
	size_t i;
	int rc;

	for (i = 0; i < sizeof(harnesses) / sizeof(harnesses[0]); i++) {
		rc = replay(harnesses[i]);
		cr_expect(rc == 0, "fuzz_%s replay: exit %d", harnesses[i], rc);
	}
}
