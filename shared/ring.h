/* ring.h — the shared-memory audio ring: one writer, many independent readers. */
#ifndef RINGCAST_RING_H
#define RINGCAST_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Layout (docs/ring.md is the reference):
 *
 *   struct ring_header            one page-aligned header
 *   struct ring_meter[channels]   per-channel meters, right after the header
 *   slots[slot_count]             each slot_size bytes, 64-byte aligned:
 *       struct ring_slot          sequence, position, timestamp, epoch
 *       float samples[period_frames * channels], frame-interleaved
 *
 * Period n (n = 0, 1, 2, ...) lives in slot n % slot_count.  The writer marks
 * a slot odd (2n+1) while it fills it and even (2n+2) once it is complete, then
 * publishes write_seq = n+1 and wakes the futex word.  A reader copies a slot,
 * then re-reads its sequence: if it changed, the copy may be torn and is thrown
 * away (seqlock).  Readers never write to the mapping: they may map it
 * PROT_READ from a read-only descriptor.
 */

#define RING_MAGIC		0x52434e47u	/* "RCNG" */
#define RING_VERSION		1u
#define RING_MAX_CHANNELS	256u
#define RING_MAX_PERIOD		8192u
#define RING_DEFAULT_SLOTS	512u
#define RING_NAME_DEFAULT	"/ringcast"

enum ring_writer_state {
	RING_WRITER_NONE = 0,		/* no writer attached yet */
	RING_WRITER_RUNNING = 1,
	RING_WRITER_STOPPED = 2,	/* writer detached cleanly */
	RING_WRITER_REPLACED = 3,	/* object unlinked for one of another geometry */
};

struct ring_meter {
	_Atomic uint32_t	peak;	/* float bits: |x| max over the last period */
	_Atomic uint32_t	rms;	/* float bits: RMS over the last period */
};

struct ring_header {
	uint32_t		magic;
	uint32_t		version;
	uint32_t		header_size;	/* bytes from the start to slot 0 */
	uint32_t		slot_size;	/* bytes per slot, incl. struct ring_slot */
	uint32_t		slot_count;	/* power of two */
	uint32_t		rate;		/* frames per second */
	uint32_t		channels;
	uint32_t		period_frames;
	uint64_t		map_size;	/* total bytes of the object */

	_Atomic uint32_t	epoch;		/* bumped by every writer start */
	_Atomic uint32_t	futex;		/* low 32 bits of write_seq */
	_Atomic uint64_t	write_seq;	/* periods published so far */
	_Atomic uint64_t	xruns;		/* source overflows reported by the device */
	_Atomic uint64_t	overruns;	/* periods the writer lost (late or dropped) */
	_Atomic uint64_t	epoch_seq;	/* first period of the current epoch */
	_Atomic int32_t		writer_pid;
	_Atomic uint32_t	writer_state;	/* enum ring_writer_state */
	_Atomic uint64_t	last_publish_ns;/* CLOCK_MONOTONIC of the last publish */
};

struct ring_slot {
	_Atomic uint64_t	seq;		/* 2n+1 while writing period n, 2n+2 when done */
	uint64_t		position;	/* frame counter at the end of the period */
	uint64_t		timestamp_ns;	/* CLOCK_MONOTONIC when captured */
	uint32_t		epoch;
	uint32_t		frames;		/* = period_frames */
	uint64_t		reserved[4];
	/* float samples[period_frames * channels] follow, 64-byte aligned */
};

struct ring_config {
	uint32_t	rate;
	uint32_t	channels;
	uint32_t	period_frames;
	uint32_t	slot_count;	/* 0: RING_DEFAULT_SLOTS; rounded up to a power of two */
};

/* Error codes: every function returns 0 or a negative RING_E* value. */
enum {
	RING_OK = 0,
	RING_ESYS = -1,		/* a system call failed; errno says why */
	RING_EMAGIC = -2,	/* not a ringcast ring */
	RING_EVERSION = -3,	/* ring layout version differs from ours */
	RING_ECONFIG = -4,	/* bad rate / channels / period / slots */
	RING_ESIZE = -5,	/* object smaller than its header says */
	RING_EMISMATCH = -6,	/* existing ring has another geometry */
	RING_EBUSY = -7,	/* another process owns the ring's name */
};
const char	*ring_strerror(int err);

/*
 * The owner of a ring's name: an exclusive flock on the shared-memory
 * object NAME.lock, held as long as *fd stays open (close-on-exec: a child
 * never holds it, so it is free the moment its owner is gone).  The owner
 * leaves a line of text there saying who it is (ring_lock_note).  Returns
 * RING_OK with *fd; RING_EBUSY with the owner's text in holder; or
 * RING_ESYS.  ring_unlock closes fd and removes the object.
 */
int	ring_lock(const char *name, int *fd, char *holder, size_t holderlen);
int	ring_lock_note(int fd, const char *text);
void	ring_unlock(const char *name, int fd);

/* Writer side (capture; the supervisor creates the object). */
struct ring_writer;

/*
 * Create (or replace) the object NAME with the given geometry, mode 0600.
 * Processes of other users attach from a descriptor the creator passes them.
 */
int	ring_create(const char *name, const struct ring_config *cfg);
int	ring_unlink(const char *name);
/*
 * Attach as the writer.  If the object exists with the same geometry it is
 * reused (the epoch is bumped and write_seq continues); if create is non-zero
 * and it does not exist, it is created.  A different geometry is
 * RING_EMISMATCH unless create is non-zero, in which case it is replaced.
 */
int	ring_writer_open(const char *name, const struct ring_config *cfg,
	    int create, struct ring_writer **out);
/* The same on a descriptor opened O_RDWR (kept open by the writer). */
int	ring_writer_open_fd(int fd, const struct ring_config *cfg,
	    struct ring_writer **out);
/*
 * One capture handing the ring to the next without a gap: the new writer
 * maps it with ring_writer_follow_fd (nothing changes yet); the old one
 * stops publishing, calls ring_writer_hand_over (its close then leaves the
 * writer's state alone) and says which period comes next; the new one
 * calls ring_writer_resume with it and publishes from there, in the same
 * epoch: readers see one sequence.
 */
int	ring_writer_follow_fd(int fd, const struct ring_config *cfg,
	    struct ring_writer **out);
void	ring_writer_resume(struct ring_writer *w, uint64_t seq);
void	ring_writer_hand_over(struct ring_writer *w);
void	ring_writer_close(struct ring_writer *w);	/* marks the writer stopped */
const struct ring_header *ring_writer_header(const struct ring_writer *w);

/*
 * Real-time safe: no locks, no allocation, no logging, one futex wake.
 * ring_writer_begin returns the slot's sample area for the next period; fill
 * period_frames * channels floats, then call ring_writer_publish.
 * ring_writer_write does both from a frame-interleaved buffer and updates the
 * meters.  timestamp_ns 0 means "now".
 */
float	*ring_writer_begin(struct ring_writer *w);
void	 ring_writer_publish(struct ring_writer *w, uint64_t timestamp_ns);
void	 ring_writer_write(struct ring_writer *w, const float *interleaved,
	    uint64_t timestamp_ns);
void	 ring_writer_update_meters(struct ring_writer *w, const float *interleaved);
void	 ring_writer_count_xrun(struct ring_writer *w);
/* Between two periods: a new epoch for readers, as a restarted writer makes. */
void	 ring_writer_new_epoch(struct ring_writer *w);
void	 ring_writer_count_overrun(struct ring_writer *w, uint64_t periods);

/* Reader side. */
struct ring_reader;

int	ring_reader_open(const char *name, struct ring_reader **out);
/* Attach from a descriptor (may be O_RDONLY); the descriptor is not kept. */
int	ring_reader_open_fd(int fd, struct ring_reader **out);
/*
 * A child's reader: of descriptor fd (closed here), or by name when fd is
 * -1; and the ring's geometry.  RING_OK or an error.
 */
int	ring_reader_child(int fd, const char *name, struct ring_reader **out,
	    uint32_t *rate, uint32_t *channels, uint32_t *period);
void	ring_reader_close(struct ring_reader *r);
const struct ring_header *ring_reader_header(const struct ring_reader *r);

enum ring_read_status {
	RING_READ_OK = 0,	/* one period copied */
	RING_READ_AGAIN = 1,	/* the next period is not published yet */
	RING_READ_LAPPED = 2,	/* periods were overwritten before we read them */
	RING_READ_EPOCH = 3,	/* the writer restarted: cursor moved to the live edge */
};

struct ring_period {
	uint64_t	seq;		/* period number */
	uint64_t	position;	/* frame counter at its end */
	uint64_t	timestamp_ns;
	uint32_t	epoch;
	uint32_t	frames;
};

/*
 * Copy the reader's next period into dst (period_frames * channels floats).
 * RING_READ_LAPPED and RING_READ_EPOCH copy nothing; they move the cursor and
 * report in *lost how many periods were skipped (0 for an epoch change that
 * lost nothing).  The next call reads again.  Never blocks, never writes to
 * the ring.
 */
int	ring_read(struct ring_reader *r, float *dst, struct ring_period *info,
	    uint64_t *lost);
/*
 * Sleep until a period after the cursor is published, or timeout_ms passes
 * (negative: forever).  Returns 1 if one is readable, 0 on timeout, or
 * RING_ESYS (errno EINTR on a signal).
 */
int	ring_wait(struct ring_reader *r, int timeout_ms);
/*
 * Sleep until count periods after the cursor are published (or the writer
 * restarted), or timeout_ms passes; the same results as ring_wait, which is
 * ring_wait_for(r, 1, timeout_ms).  A reader that sends k periods at a time
 * wakes once per k periods instead of every period: the writer's wake
 * carries bit RING_WAKE_ANY plus the bit of the new write_seq modulo
 * RING_WAKE_PHASES, and such a reader sleeps on the bit of the count it
 * needs (a count RING_WAKE_PHASES or more apart wakes early and sleeps on).
 */
#define RING_WAKE_ANY		1u
#define RING_WAKE_PHASES	16u
static inline uint32_t
ring_wake_bit(uint64_t write_seq)
{
	return 2u << (write_seq % RING_WAKE_PHASES);
}
int	ring_wait_for(struct ring_reader *r, uint32_t count, int timeout_ms);
/*
 * The timestamp of the period that ends at position, while its slot still
 * holds it (checked by the seqlock): 0, or -1.  For measurements.
 */
int	ring_reader_time_of(const struct ring_reader *r, uint64_t position,
	    uint64_t *ts);
/* Move the cursor to the live edge (the next period to be published). */
void	ring_reader_seek_live(struct ring_reader *r);
uint64_t ring_reader_cursor(const struct ring_reader *r);
/* Total periods this reader lost since open (lapped). */
uint64_t ring_reader_lost(const struct ring_reader *r);

/* Read a channel's meters (peak, rms) from a header. */
void	ring_meter_get(const struct ring_header *h, uint32_t ch, float *peak,
	    float *rms);
size_t	ring_period_floats(const struct ring_header *h);
/* Validate a geometry and fill in defaults (slot_count); RING_ECONFIG if bad. */
int	ring_config_check(struct ring_config *cfg);

/* Test hook: called by ring_read between the copy and the re-check. */
extern void (*ring_test_after_copy)(void *arg);
extern void *ring_test_after_copy_arg;

#endif
