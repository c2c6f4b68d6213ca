/* test_fuzz_replay.c — every seed and every kept crashing input, replayed under ASan/UBSan. */
#include <sys/wait.h>

#include <dirent.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>

#include <criterion/criterion.h>

extern char **environ;

#define MAX_HARNESSES	32

/* The harnesses: the Makefile's FUZZ_NAMES, in BUILD/fuzz-replay/names. */
static int
harness_names(char names[][32], int max)
{
	char path[PATH_MAX];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/fuzz-replay/names", BUILD_DIR);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (n < max && fscanf(f, "%31s", names[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* Inputs in dir, as the replayer counts them (no dot files); -1: no dir. */
static int
inputs(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && de->d_type == DT_REG)
			n++;
	closedir(d);
	return n;
}

/* Run one replayer over its corpus and regression directories. */
static int
replay(const char *name)
{
	char bin[PATH_MAX], corpus[PATH_MAX], regress[PATH_MAX];
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
	char names[MAX_HARNESSES][32], corpus[PATH_MAX];
	int i, n, rc;

	n = harness_names(names, MAX_HARNESSES);
	cr_assert(n > 0, "no harness named in %s/fuzz-replay/names (make test "
	    "writes it from FUZZ_NAMES)", BUILD_DIR);
	for (i = 0; i < n; i++) {
		snprintf(corpus, sizeof(corpus), "fuzz/corpus/%s", names[i]);
		cr_expect(inputs(corpus) > 0, "fuzz_%s: no seed input in %s",
		    names[i], corpus);
		rc = replay(names[i]);
		cr_expect(rc == 0, "fuzz_%s replay: exit %d", names[i], rc);
	}
}
