/*
 * e2e.h — test library: the fixture the end-to-end tests share: one real
 * ringcastd, its v2 clients, its steady listeners, and checks that show the
 * daemon's log when they fail.  Criterion tests only.
 */
#ifndef RINGCAST_E2E_H
#define RINGCAST_E2E_H

#include <stdbool.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "shared/mix.h"
#include "tests/lib/daemon.h"
#include "tests/lib/http.h"
#include "tests/lib/steady.h"
#include "tests/lib/tu.h"
#include "tests/lib/v2.h"

#define E2E_READY_MS	30000	/* generous: a noisy, shared 2-core VM */
#define E2E_WAIT_MS	15000	/* one step: an answer, an event, audio */
#define E2E_NCLIENT	8
#define E2E_NCH		8	/* ringcastd's default channels */

struct e2e {
	struct rcd	d;
	struct v2c	c[E2E_NCLIENT];
	struct steady	s;		/* the steady listeners */
};

extern struct e2e E;

/* A suite's .init and .fini: nothing the test started survives it. */
void	e2e_setup(void);
void	e2e_teardown(void);

/* A Criterion assertion that shows the daemon's log when it fails. */
#define e2e_check(cond, ...) do {					\
	bool ok_ = (cond);						\
									\
	if (!ok_)							\
		rcd_dump_log(&E.d, 6000);				\
	cr_assert(ok_, __VA_ARGS__);					\
} while (0)

/* Start ringcastd (temp dir made on the first start), checked. */
void	e2e_up(const char *tag, const char *const *extra);
/* The next control message of this type on c, checked. */
json_t	*e2e_ctl(struct v2c *c, const char *type, bool *audio_seen);
/*
 * Connect c as id with the app's hello (extra fields merged in, stolen,
 * may be NULL): the handshake_response; the mix_state after it is read.
 */
json_t	*e2e_open(struct v2c *c, const char *id, json_t *extra);
/* Ask for a mix change (fields stolen): the committed mix_state. */
json_t	*e2e_change(struct v2c *c, json_t *fields);
/* A mix_state or API entry as a mix of E2E_NCH channels, checked. */
void	e2e_mix(const json_t *o, struct mix *m);
/*
 * A steady listener: connected as id (hello extra fields stolen, may be
 * NULL), subscribed to channels 0..nch-1, read by E.s; checked that it
 * streams.  Its index in E.s.
 */
int	e2e_listen(const char *id, json_t *extra, int nch);
/* Every steady listener gets n more packets, checked. */
void	e2e_flowing(uint64_t n);
/* The steady listeners still stream and never missed a period, checked. */
void	e2e_steady_clean(const char *when);

/* GET /api/status, checked. */
json_t	*e2e_status(void);
/* An integer of /api/status (b: one level down in a). */
long long e2e_status_int(const char *a, const char *b);
/*
 * The /api/clients entry of id once its session has ended and been
 * recorded (connected false), within E2E_WAIT_MS; NULL if it never is.
 */
json_t	*e2e_ended(const char *id);
/* The pid of capture or broker, checked. */
pid_t	e2e_child_pid(const char *which);
/* The session pid of a connected identity, checked. */
pid_t	e2e_session_pid(const char *id);
/* A POST or DELETE to the API: the status, the answer as JSON in *out
 * (out NULL: not wanted). */
int	e2e_api(const char *method, const char *path, const char *body,
	    json_t **out);

#endif
