/*
 * testutil.h — kept for the tests not yet on tests/lib (test_broker.c,
 * test_capture.c, tests/sessutil.h): the library's tu.h, the clock under its
 * old names, and the headers they relied on.  New code includes
 * tests/lib/tu.h and shared/clock.h instead.
 */
#ifndef RINGCAST_TESTUTIL_H
#define RINGCAST_TESTUTIL_H

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "tests/lib/tu.h"

#define tu_now_ms()	clock_mono_ms()
#define tu_now_ns()	clock_mono_ns()

#endif
