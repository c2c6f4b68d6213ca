/* tu.h — test library: names, built programs, child processes, waits. */
#ifndef RINGCAST_TU_H
#define RINGCAST_TU_H

#include <sys/types.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A name unique to this process, e.g. for a ring: "/rc-test-<pid>-<tag>". */
const char *tu_name(const char *tag);
/* The build directory the running test or benchmark belongs to. */
const char *tu_build_dir(void);
/* The path of a built program: <build>/<name>, <build> being two levels up
 * from this executable (build/tests/x, build/bench/x). */
const char *tu_prog(const char *name);

/*
 * Start argv[0] (PATH searched when it has no '/') with a pipe on notify_fd
 * (if >= 0): the child sees the write end as that descriptor number, the
 * parent gets the read end in *rfd.  stdin is /dev/null; the rest inherited.
 */
pid_t	tu_spawn(char *const argv[], int notify_fd, int *rfd);
/* Start argv with stdout and stderr into a pipe, its read end in *outfd. */
pid_t	tu_run_start(const char *const argv[], int *outfd);
/*
 * Read fd to EOF (at most len - 1 bytes, NUL-terminated) and reap pid, all
 * within timeout_ms (killed past it).  Its exit code, or -1.
 */
int	tu_run_finish(pid_t pid, int fd, char *out, size_t len, int timeout_ms);
/* Both: run a program to completion.  Its exit code, or -1. */
int	tu_run(const char *const argv[], char *out, size_t len, int timeout_ms);
/* Read fd until EOF, cap bytes, or timeout_ms: the bytes read. */
size_t	tu_read_all(int fd, void *buf, size_t cap, int timeout_ms);

/* Read from fd until the text contains want: 1, or 0 on timeout or EOF. */
int	tu_wait_text(int fd, const char *want, int timeout_ms);
/* Wait for pid (a child) to exit; its wait status, or -1 on timeout. */
int	tu_wait_exit(pid_t pid, int timeout_ms);
/* SIGTERM, then SIGKILL after grace_ms; always reaps.  The status or -1. */
int	tu_stop(pid_t pid, int grace_ms);
/* A child of tu_spawn or tu_run_start stopped (if *pid > 0), its pipe closed; both -1. */
void	tu_run_end(pid_t *pid, int *outfd);
/* A process group: SIGTERM, its leader reaped within grace_ms, then SIGKILL
 * to the whole group in any case, so that nothing outlives it. */
void	tu_kill_group(pid_t pgid, int grace_ms);
/* A descriptor readable once pid (any process) has ended, or -1. */
int	tu_pidfd_open(pid_t pid);
/* 1 once the pidfd's process ended, 0 on timeout. */
int	tu_pidfd_wait(int pidfd, int timeout_ms);

/* A condition variable timed on CLOCK_MONOTONIC (see tu_deadline). */
void	tu_cond_init(pthread_cond_t *cv);
/* The CLOCK_MONOTONIC time timeout_ms from now, for pthread_cond_timedwait. */
struct timespec tu_deadline(int timeout_ms);
/*
 * Wait until *count has grown by n (a thread increments it and broadcasts
 * cv under mu), *failed is set, or timeout_ms passes: 1 or 0.
 */
int	tu_wait_count(pthread_mutex_t *mu, pthread_cond_t *cv,
	    atomic_ullong *count, atomic_int *failed, uint64_t n,
	    int timeout_ms);
/* Sleep until CLOCK_MONOTONIC reaches ns (a schedule, not a wait). */
void	tu_sleep_until(uint64_t ns);
/* The calling thread's CPU time in ns. */
uint64_t tu_thread_cpu_ns(void);

/*
 * A TCP socket on 127.0.0.1 with a kernel-chosen port (in *port), listening
 * with this backlog, or only bound (a port that refuses) if backlog is 0.
 */
int	tu_tcp_listen(int backlog, int *port);

/* Remove a directory tree; safe on "" (does nothing). */
void	tu_rmtree(const char *dir);
/* The text after "key:" in /proc/PID/<file>, blanks and newline cut; 0 or -1. */
int	tu_proc_line(pid_t pid, const char *file, const char *key, char *val,
	    size_t len);
/* The first number after "key:" in /proc/PID/<file>, or -1. */
long	tu_proc_field(pid_t pid, const char *file, const char *key);

#endif
