/* supervisor_book.c — what connects and exits change in a record, group-committed after the fact. */
/*
 * A listener's connect and exit touch its record for bookkeeping only:
 * when it was last seen and from where, how often it reconnected, how it
 * left.  Nothing waits for that: a session starts first, and everything
 * noted in one pass of the event loop is written in one transaction at its
 * end.  A mix change is not bookkeeping: it is committed before it is
 * acknowledged (supervisor_session.c).  A record forgotten meanwhile stays
 * forgotten, but a listener's first connect makes its record.
 */
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "supervisor/supervisor.h"

#define BOOK_MAX	1024	/* notes awaiting one commit */

struct note {
	bool		 exit;		/* else a connect */
	uint64_t	 at_ms;		/* unix ms */
	char		 addr[64];	/* IP */
	char		 device[128];	/* connect: the app's name, "" none */
	char		 reason[32];	/* exit */
	bool		 replaced;	/* exit: a newer session took over */
};

static struct {
	struct event	*ev;
	const char	*ids[BOOK_MAX];
	char		 idbuf[BOOK_MAX][STATE_ID_MAX];
	struct note	 notes[BOOK_MAX];
	size_t		 n;
} bk;

/* What a connect changes in a record. */
static void
connected(struct state_record *rec, bool found, const struct note *n)
{
	if (!found)
		rec->first_seen_ms = n->at_ms;
	rec->last_seen_ms = n->at_ms;
	if (n->addr[0] != '\0')
		snprintf(rec->last_addr, sizeof(rec->last_addr), "%s", n->addr);
	rec->reconnects += found;
	if (n->device[0] != '\0')
		snprintf(rec->device, sizeof(rec->device), "%s", n->device);
}

static bool
note_apply(size_t i, struct state_record *rec, bool found, void *arg)
{
	const struct note *n = &bk.notes[i];

	(void)arg;
	if (!n->exit) {
		connected(rec, found, n);
		return true;
	}
	if (!found)
		return false;	/* forgotten while connected: stays so */
	rec->last_seen_ms = n->at_ms;
	if (n->addr[0] != '\0')
		snprintf(rec->last_addr, sizeof(rec->last_addr), "%s", n->addr);
	snprintf(rec->last_exit, sizeof(rec->last_exit), "%s", n->reason);
	rec->stalls += strcmp(n->reason, "stalled") == 0;
	rec->timeouts += strcmp(n->reason, "timeout") == 0;
	if (!n->replaced && state_record_used(rec))
		session_recent_note(rec->id, rec->last_addr, rec->last_seen_ms);
	return true;
}

void
book_flush(void)
{
	int rc;

	if (bk.n == 0 || sv.state == NULL)
		return;
	if ((rc = state_update(sv.state, bk.ids, bk.n, note_apply, NULL)) !=
	    STATE_OK)
		log_warnx("%zu connects and exits not recorded: %s", bk.n,
		    state_strerror(sv.state, rc));
	sv.book_commits++;
	sv.book_notes += bk.n;
	bk.n = 0;
}

static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	book_flush();
}

/* A note for id, written at the end of this pass of the loop. */
static struct note *
note(const char *id, bool exit)
{
	struct note *n;

	if (bk.n == BOOK_MAX)
		book_flush();
	if (bk.ev == NULL && (bk.ev = event_new(sv.base, -1, 0, flush_cb,
	    NULL)) == NULL)
		fatalx("bookkeeping event");
	if (bk.n == 0)
		event_active(bk.ev, EV_TIMEOUT, 0);
	snprintf(bk.idbuf[bk.n], STATE_ID_MAX, "%s", id);
	bk.ids[bk.n] = bk.idbuf[bk.n];
	n = &bk.notes[bk.n++];
	memset(n, 0, sizeof(*n));
	n->exit = exit;
	n->at_ms = clock_wall_ms();
	return n;
}

void
book_connect(struct state_record *rec, bool found, const char *ip,
    const char *device)
{
	struct note *n = note(rec->id, false);

	snprintf(n->addr, sizeof(n->addr), "%s", ip);
	snprintf(n->device, sizeof(n->device), "%s", device);
	connected(rec, found, n);	/* as it will be, for the event now */
}

void
book_exit(const char *id, const char *ip, const char *reason, bool replaced)
{
	struct note *n = note(id, true);

	snprintf(n->addr, sizeof(n->addr), "%s", ip);
	snprintf(n->reason, sizeof(n->reason), "%s", reason);
	n->replaced = replaced;
}

void
book_stop(void)
{
	book_flush();
	if (bk.ev != NULL)
		event_free(bk.ev);
	bk.ev = NULL;
}
