/* proc.h — what /proc says of a process. */
#ifndef RINGCAST_PROC_H
#define RINGCAST_PROC_H

#include <sys/types.h>

/*
 * n numeric fields of /proc/PID/stat from field first on, numbered as
 * proc(5) numbers them (first at least 4: 14 utime, 15 stime, 22 the start
 * time), into v.  0, or -1 (no such process, or not that many fields).
 */
int	proc_stat_fields(pid_t pid, int first, unsigned long long *v, int n);

#endif
