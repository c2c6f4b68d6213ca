/* proc.c — what /proc says of a process. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/proc.h"

int
proc_stat_fields(pid_t pid, int first, unsigned long long *v, int n)
{
	char path[64], buf[1024], *p, *end;
	ssize_t len;
	int fd, field, k = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (first < 4 || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return -1;
	buf[len] = '\0';
	/* The command (field 2) may hold spaces and parentheses: field 3,
	 * the state, comes after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL || (p = strchr(p + 2, ' ')) ==
	    NULL)
		return -1;
	for (field = 4; k < n && *p == ' '; field++) {
		v[k] = strtoull(p + 1, &end, 10);
		if (end == p + 1)
			return -1;
		if (field >= first)
			k++;
		p = end;
	}
	return k == n ? 0 : -1;
}
