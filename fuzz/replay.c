/* replay.c — feeds files to a harness without libFuzzer (gcc builds, make test). */
#include <sys/stat.h>

#include <dirent.h>
#include <limits.h>
#include <string.h>

#include "fuzz/fuzz.h"

static int
one_file(const char *path)
{
	static uint8_t buf[1 << 21];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	return 0;
}

/* A file, or every regular file of a directory. */
static int
one_arg(const char *path, unsigned *count)
{
	char p[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int rc = 0;

	if (stat(path, &st) == -1) {
		perror(path);
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return one_file(path);
	}
	if ((d = opendir(path)) == NULL) {
		perror(path);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
			(*count)++;
			rc |= one_file(p);
		}
	}
	closedir(d);
	return rc;
}

int
main(int argc, char *argv[])
{
	unsigned count = 0;
	int i, rc = 0;

	for (i = 1; i < argc; i++)
		rc |= one_arg(argv[i], &count);
	printf("%s: %u inputs replayed\n", argv[0], count);
	/* An empty corpus tests nothing: that is a failure, not a pass. */
	if (count == 0) {
		fprintf(stderr, "%s: no input to replay\n", argv[0]);
		return 1;
	}
	return rc == 0 ? 0 : 1;
}
