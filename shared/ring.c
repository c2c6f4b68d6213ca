/* ring.c — lock-free single-writer, many-reader audio ring in POSIX shm. */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/ring.h"

#define SLOT_ALIGN	64u
#define HEADER_ALIGN	4096u

struct ring_writer {
	int			 fd;
	uint8_t			*map;
	size_t			 map_size;
	struct ring_header	*h;
	uint8_t			*slots;
	uint64_t		 next;		/* period being or to be written */
	uint32_t		 epoch;
	size_t			 floats;	/* per period */
	bool			 handing_over;	/* close leaves the state as is */
};

struct ring_reader {
	const uint8_t		*map;
	size_t			 map_size;
	const struct ring_header *h;
	const uint8_t		*slots;
	uint64_t		 next;		/* next period to read */
	uint64_t		 lost;
	uint32_t		 epoch;
	uint32_t		 mask;
	size_t			 bytes;		/* sample bytes per period */
};

void (*ring_test_after_copy)(void *arg);
void *ring_test_after_copy_arg;

const char *
ring_strerror(int err)
{
	switch (err) {
	case RING_OK:		return "success";
	case RING_ESYS:		return strerror(errno);
	case RING_EMAGIC:	return "not a ringcast ring (bad magic)";
	case RING_EVERSION:	return "ring layout version mismatch (restart the "
				    "capture and readers from the same build)";
	case RING_ECONFIG:	return "invalid ring geometry";
	case RING_ESIZE:	return "ring object is truncated";
	case RING_EMISMATCH:	return "ring exists with another rate, channel "
				    "count, period or slot count";
	case RING_EBUSY:	return "in use by another process";
	default:		return "unknown ring error";
	}
}


static size_t
round_up(size_t n, size_t a)
{
	return (n + a - 1) / a * a;
}

int
ring_config_check(struct ring_config *cfg)
{
	uint32_t s;

	if (cfg->rate < 8000 || cfg->rate > 384000 ||
	    cfg->channels == 0 || cfg->channels > RING_MAX_CHANNELS ||
	    cfg->period_frames == 0 || cfg->period_frames > RING_MAX_PERIOD)
		return RING_ECONFIG;
	if (cfg->slot_count == 0)
		cfg->slot_count = RING_DEFAULT_SLOTS;
	if (cfg->slot_count < 2 || cfg->slot_count > (1u << 20))
		return RING_ECONFIG;
	for (s = 1; s < cfg->slot_count; s <<= 1)
		;
	cfg->slot_count = s;
	return RING_OK;
}

static size_t
header_bytes(uint32_t channels)
{
	return round_up(sizeof(struct ring_header) +
	    channels * sizeof(struct ring_meter), HEADER_ALIGN);
}

static size_t
slot_bytes(uint32_t channels, uint32_t frames)
{
	return round_up(sizeof(struct ring_slot) +
	    (size_t)channels * frames * sizeof(float), SLOT_ALIGN);
}

static struct ring_meter *
meters(const struct ring_header *h)
{
	return (struct ring_meter *)(uintptr_t)((const uint8_t *)h +
	    sizeof(*h));
}

/* Check a mapped header against the object size; 0 or RING_E*. */
static int
header_check(const struct ring_header *h, size_t objsize)
{
	if (objsize < sizeof(*h))
		return RING_ESIZE;
	if (h->magic != RING_MAGIC)
		return RING_EMAGIC;
	if (h->version != RING_VERSION)
		return RING_EVERSION;
	if (h->channels == 0 || h->channels > RING_MAX_CHANNELS ||
	    h->period_frames == 0 || h->period_frames > RING_MAX_PERIOD ||
	    h->slot_count < 2 || (h->slot_count & (h->slot_count - 1)) ||
	    h->header_size != header_bytes(h->channels) ||
	    h->slot_size != slot_bytes(h->channels, h->period_frames))
		return RING_ECONFIG;
	if (h->map_size != h->header_size + (uint64_t)h->slot_size *
	    h->slot_count || h->map_size > objsize)
		return RING_ESIZE;
	return RING_OK;
}

static int
same_geometry(const struct ring_header *h, const struct ring_config *cfg)
{
	return h->rate == cfg->rate && h->channels == cfg->channels &&
	    h->period_frames == cfg->period_frames &&
	    h->slot_count == cfg->slot_count;
}

/* Lay out a fresh header in a zero-filled, sized object. */
static void
header_init(struct ring_header *h, const struct ring_config *cfg)
{
	h->version = RING_VERSION;
	h->header_size = header_bytes(cfg->channels);
	h->slot_size = slot_bytes(cfg->channels, cfg->period_frames);
	h->slot_count = cfg->slot_count;
	h->rate = cfg->rate;
	h->channels = cfg->channels;
	h->period_frames = cfg->period_frames;
	h->map_size = h->header_size + (uint64_t)h->slot_size * h->slot_count;
	atomic_store_explicit(&h->writer_state, RING_WRITER_NONE,
	    memory_order_relaxed);
	/* Readers check the magic first: publish it last. */
	atomic_thread_fence(memory_order_release);
	h->magic = RING_MAGIC;
}

static int
create_fd(const char *name, const struct ring_config *cfg)
{
	size_t size;
	void *p;
	int fd;

	size = header_bytes(cfg->channels) +
	    slot_bytes(cfg->channels, cfg->period_frames) * cfg->slot_count;
	for (;;) {
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
		if (shm_unlink(name) == -1 && errno != ENOENT)
			return RING_ESYS;
	}
	if (fd == -1)
		return RING_ESYS;
	if (ftruncate(fd, size) == -1)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		goto fail;
	header_init(p, cfg);
	munmap(p, size);
	return fd;
fail:
	close(fd);
	shm_unlink(name);
	return RING_ESYS;
}

int
ring_create(const char *name, const struct ring_config *cfg)
{
	struct ring_config c = *cfg;
	int fd, rc;

	if ((rc = ring_config_check(&c)) != RING_OK)
		return rc;
	if ((fd = create_fd(name, &c)) < 0)
		return fd;
	close(fd);
	return RING_OK;
}

static void
lock_name(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s.lock", name);
}

/* Everyone may read who holds it: the object is 0644 and the text public. */
int
ring_lock(const char *name, int *fd, char *holder, size_t holderlen)
{
	char path[NAME_MAX + 8];
	ssize_t n;

	lock_name(name, path, sizeof(path));
	if ((*fd = shm_open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1 &&
	    (errno != EACCES || (*fd = shm_open(path, O_RDONLY | O_CLOEXEC,
	    0)) == -1))
		return RING_ESYS;
	if (flock(*fd, LOCK_EX | LOCK_NB) == 0)
		return RING_OK;
	if (errno != EWOULDBLOCK) {
		close(*fd);
		return RING_ESYS;
	}
	n = pread(*fd, holder, holderlen - 1, 0);
	holder[n > 0 ? n : 0] = '\0';
	close(*fd);
	*fd = -1;
	return RING_EBUSY;
}

int
ring_lock_note(int fd, const char *text)
{
	size_t n = strlen(text);

	if (ftruncate(fd, 0) == -1 || pwrite(fd, text, n, 0) != (ssize_t)n)
		return RING_ESYS;
	return RING_OK;
}

void
ring_unlock(const char *name, int fd)
{
	char path[NAME_MAX + 8];

	if (fd < 0)
		return;
	lock_name(name, path, sizeof(path));
	shm_unlink(path);
	close(fd);
}

int
ring_unlink(const char *name)
{
	return shm_unlink(name) == -1 ? RING_ESYS : RING_OK;
}

/*
 * Fault the whole ring in now, so that neither the real-time writer nor a
 * session's send loop takes a page fault (for the writer, a page
 * allocation) on its first lap.  Best effort: without it pages fault lazily.
 */
static void
prefault(const void *p, size_t len, int advice)
{
	(void)madvise((void *)(uintptr_t)p, len, advice);
}

/* Map an object (prot: PROT_READ, or with PROT_WRITE) and validate it;
 * fills in the mapping and its size. */
static int
map_object(int fd, int prot, uint8_t **mapp, size_t *sizep)
{
	struct ring_header *h;
	struct stat st;
	void *p;
	int rc;

	if (fstat(fd, &st) == -1)
		return RING_ESYS;
	if ((size_t)st.st_size < sizeof(*h))
		return st.st_size == 0 ? RING_EMAGIC : RING_ESIZE;
	p = mmap(NULL, st.st_size, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return RING_ESYS;
	if ((rc = header_check(p, st.st_size)) != RING_OK) {
		munmap(p, st.st_size);
		return rc;
	}
	*mapp = p;
	*sizep = st.st_size;
	return RING_OK;
}

/*
 * Map fd as the writer.  A writer that starts continues the sequence in a
 * new epoch; one that takes over from a writer handing over (follow) only
 * maps it, and ring_writer_resume starts it in the same epoch.
 */
static int
writer_attach(int fd, const struct ring_config *cfg, bool follow,
    struct ring_writer **out)
{
	struct ring_config c = *cfg;
	struct ring_writer *w;
	struct ring_header *h;
	int rc;

	if ((rc = ring_config_check(&c)) != RING_OK)
		return rc;
	cfg = &c;
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return RING_ESYS;
	w->fd = fd;
	rc = map_object(fd, PROT_READ | PROT_WRITE, &w->map, &w->map_size);
	if (rc != RING_OK) {
		free(w);
		return rc;
	}
	h = w->h = (struct ring_header *)w->map;
	if (!same_geometry(h, cfg)) {
		munmap(w->map, w->map_size);
		free(w);
		return RING_EMISMATCH;
	}
	w->slots = w->map + h->header_size;
	w->floats = (size_t)h->channels * h->period_frames;
	prefault(w->map, h->map_size, MADV_POPULATE_WRITE);
	*out = w;
	if (follow)
		return RING_OK;
	w->next = atomic_load_explicit(&h->write_seq, memory_order_acquire);
	atomic_store_explicit(&h->epoch_seq, w->next, memory_order_relaxed);
	w->epoch = atomic_fetch_add_explicit(&h->epoch, 1,
	    memory_order_release) + 1;
	ring_writer_resume(w, w->next);
	return RING_OK;
}

void
ring_writer_resume(struct ring_writer *w, uint64_t seq)
{
	w->next = seq;
	w->epoch = atomic_load_explicit(&w->h->epoch, memory_order_acquire);
	atomic_store_explicit(&w->h->writer_pid, (int32_t)getpid(),
	    memory_order_relaxed);
	atomic_store_explicit(&w->h->writer_state, RING_WRITER_RUNNING,
	    memory_order_release);
}

void
ring_writer_hand_over(struct ring_writer *w)
{
	w->handing_over = true;
}

int
ring_writer_open_fd(int fd, const struct ring_config *cfg,
    struct ring_writer **out)
{
	return writer_attach(fd, cfg, false, out);
}

int
ring_writer_follow_fd(int fd, const struct ring_config *cfg,
    struct ring_writer **out)
{
	return writer_attach(fd, cfg, true, out);
}

/* Mark an existing object as replaced so its readers can tell. */
static void
mark_replaced(const char *name)
{
	uint8_t *map;
	size_t size;
	int fd;

	if ((fd = shm_open(name, O_RDWR | O_CLOEXEC, 0)) == -1)
		return;
	if (map_object(fd, PROT_READ | PROT_WRITE, &map, &size) == RING_OK) {
		atomic_store(&((struct ring_header *)map)->writer_state,
		    RING_WRITER_REPLACED);
		munmap(map, size);
	}
	close(fd);
}

int
ring_writer_open(const char *name, const struct ring_config *cfg, int create,
    struct ring_writer **out)
{
	struct ring_config c = *cfg;
	int fd, rc;

	if ((rc = ring_config_check(&c)) != RING_OK)
		return rc;
	fd = shm_open(name, O_RDWR | O_CLOEXEC, 0);
	if (fd == -1 && (errno != ENOENT || !create))
		return RING_ESYS;
	if (fd != -1) {
		rc = writer_attach(fd, &c, false, out);
		if (rc == RING_OK)
			return RING_OK;
		close(fd);
		if (!create || rc == RING_ESYS)
			return rc;
		mark_replaced(name);
	}
	if ((fd = create_fd(name, &c)) < 0)
		return fd;
	if ((rc = writer_attach(fd, &c, false, out)) != RING_OK)
		close(fd);
	return rc;
}

void
ring_writer_close(struct ring_writer *w)
{
	if (w == NULL)
		return;
	if (!w->handing_over)
		atomic_store_explicit(&w->h->writer_state, RING_WRITER_STOPPED,
		    memory_order_release);
	munmap(w->map, w->map_size);
	close(w->fd);
	free(w);
}

const struct ring_header *
ring_writer_header(const struct ring_writer *w)
{
	return w->h;
}

static struct ring_slot *
wslot(struct ring_writer *w, uint64_t n)
{
	return (struct ring_slot *)(w->slots +
	    (size_t)(n & (w->h->slot_count - 1)) * w->h->slot_size);
}

float *
ring_writer_begin(struct ring_writer *w)
{
	struct ring_slot *s = wslot(w, w->next);

	atomic_store_explicit(&s->seq, 2 * w->next + 1, memory_order_relaxed);
	/* Order the odd mark before any sample store (seqlock write side). */
	atomic_thread_fence(memory_order_release);
	return (float *)(s + 1);
}

void
ring_writer_publish(struct ring_writer *w, uint64_t timestamp_ns)
{
	struct ring_header *h = w->h;
	struct ring_slot *s = wslot(w, w->next);
	uint64_t n = w->next;

	if (timestamp_ns == 0)
		timestamp_ns = clock_mono_ns();
	s->position = (n + 1) * h->period_frames;
	s->timestamp_ns = timestamp_ns;
	s->epoch = w->epoch;
	s->frames = h->period_frames;
	atomic_store_explicit(&s->seq, 2 * n + 2, memory_order_release);
	w->next = n + 1;
	atomic_store_explicit(&h->write_seq, n + 1, memory_order_release);
	atomic_store_explicit(&h->last_publish_ns, timestamp_ns,
	    memory_order_relaxed);
	atomic_store_explicit(&h->futex, (uint32_t)(n + 1),
	    memory_order_release);
	/*
	 * One wake for all sleepers, whatever their number: those waiting for
	 * any period (bit 0, or every bit) and those waiting for this count.
	 */
	syscall(SYS_futex, &h->futex, FUTEX_WAKE_BITSET, INT_MAX, NULL, NULL,
	    RING_WAKE_ANY | ring_wake_bit(n + 1));
}

/*
 * The source started a new timeline without a new writer (an RTP sender
 * that changed): the same as a restarted writer for readers, between two
 * periods.
 */
void
ring_writer_new_epoch(struct ring_writer *w)
{
	struct ring_header *h = w->h;

	atomic_store_explicit(&h->epoch_seq, w->next, memory_order_relaxed);
	w->epoch = atomic_fetch_add_explicit(&h->epoch, 1,
	    memory_order_release) + 1;
}

void
ring_writer_update_meters(struct ring_writer *w, const float *x)
{
	struct ring_header *h = w->h;
	struct ring_meter *m = meters(h);
	uint32_t c, f, nch = h->channels, nf = h->period_frames;
	float peak, v;
	double sum;
	uint32_t bits;

	for (c = 0; c < nch; c++) {
		peak = 0.0f;
		sum = 0.0;
		for (f = 0; f < nf; f++) {
			v = x[(size_t)f * nch + c];
			sum += (double)v * v;
			v = fabsf(v);
			if (v > peak)
				peak = v;
		}
		memcpy(&bits, &peak, sizeof(bits));
		atomic_store_explicit(&m[c].peak, bits, memory_order_relaxed);
		v = (float)sqrt(sum / nf);
		memcpy(&bits, &v, sizeof(bits));
		atomic_store_explicit(&m[c].rms, bits, memory_order_relaxed);
	}
}

void
ring_writer_write(struct ring_writer *w, const float *x, uint64_t timestamp_ns)
{
	float *dst = ring_writer_begin(w);

	memcpy(dst, x, w->floats * sizeof(float));
	ring_writer_update_meters(w, x);
	ring_writer_publish(w, timestamp_ns);
}

void
ring_writer_count_xrun(struct ring_writer *w)
{
	atomic_fetch_add_explicit(&w->h->xruns, 1, memory_order_relaxed);
}

void
ring_writer_count_overrun(struct ring_writer *w, uint64_t periods)
{
	atomic_fetch_add_explicit(&w->h->overruns, periods,
	    memory_order_relaxed);
}

int
ring_reader_open_fd(int fd, struct ring_reader **out)
{
	const struct ring_header *h;
	struct ring_reader *r;
	uint8_t *p;
	size_t size;
	int rc;

	if ((rc = map_object(fd, PROT_READ, &p, &size)) != RING_OK)
		return rc;
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		munmap(p, size);
		return RING_ESYS;
	}
	prefault(p, ((const struct ring_header *)p)->map_size,
	    MADV_POPULATE_READ);
	r->map = p;
	r->map_size = size;
	h = r->h = (const struct ring_header *)p;
	r->slots = r->map + h->header_size;
	r->mask = h->slot_count - 1;
	r->bytes = (size_t)h->channels * h->period_frames * sizeof(float);
	r->epoch = atomic_load_explicit(&h->epoch, memory_order_acquire);
	r->next = atomic_load_explicit(&h->write_seq, memory_order_acquire);
	*out = r;
	return RING_OK;
}

int
ring_reader_open(const char *name, struct ring_reader **out)
{
	int fd, rc;

	if ((fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0)) == -1)
		return RING_ESYS;
	rc = ring_reader_open_fd(fd, out);
	close(fd);
	return rc;
}

int
ring_reader_child(int fd, const char *name, struct ring_reader **out,
    uint32_t *rate, uint32_t *channels, uint32_t *period)
{
	const struct ring_header *h;
	int rc;

	if (fd >= 0) {
		rc = ring_reader_open_fd(fd, out);
		close(fd);
	} else
		rc = ring_reader_open(name, out);
	if (rc != RING_OK)
		return rc;
	h = ring_reader_header(*out);
	*rate = h->rate;
	*channels = h->channels;
	*period = h->period_frames;
	return RING_OK;
}

void
ring_reader_close(struct ring_reader *r)
{
	if (r == NULL)
		return;
	munmap((void *)(uintptr_t)r->map, r->map_size);
	free(r);
}

const struct ring_header *
ring_reader_header(const struct ring_reader *r)
{
	return r->h;
}

void
ring_reader_seek_live(struct ring_reader *r)
{
	r->epoch = atomic_load_explicit(&r->h->epoch, memory_order_acquire);
	r->next = atomic_load_explicit(&r->h->write_seq, memory_order_acquire);
}

uint64_t
ring_reader_cursor(const struct ring_reader *r)
{
	return r->next;
}

uint64_t
ring_reader_lost(const struct ring_reader *r)
{
	return r->lost;
}

/* The writer lapped us: resynchronise at the live edge and count the loss. */
static int
lapped(struct ring_reader *r, uint64_t *lost)
{
	uint64_t ws = atomic_load_explicit(&r->h->write_seq,
	    memory_order_acquire);
	uint64_t n = ws > r->next ? ws - r->next : 0;

	r->lost += n;
	r->next += n;
	*lost = n;
	return RING_READ_LAPPED;
}

/* A writer restarted: continue from the first period of its epoch. */
static int
epoch_changed(struct ring_reader *r, uint32_t epoch, uint64_t *lost)
{
	uint64_t es = atomic_load_explicit(&r->h->epoch_seq,
	    memory_order_acquire);
	uint64_t n = es > r->next ? es - r->next : 0;

	r->epoch = epoch;
	r->lost += n;
	r->next += n;
	*lost = n;
	return RING_READ_EPOCH;
}

int
ring_read(struct ring_reader *r, float *dst, struct ring_period *info,
    uint64_t *lost)
{
	const struct ring_header *h = r->h;
	const struct ring_slot *s;
	uint64_t ws, seq, want, n = r->next;
	uint32_t epoch;

	*lost = 0;
	epoch = atomic_load_explicit(&h->epoch, memory_order_acquire);
	if (epoch != r->epoch)
		return epoch_changed(r, epoch, lost);
	ws = atomic_load_explicit(&h->write_seq, memory_order_acquire);
	if (n >= ws)
		return RING_READ_AGAIN;
	if (ws - n > h->slot_count - 1)
		return lapped(r, lost);
	s = (const struct ring_slot *)(r->slots + (size_t)(n & r->mask) *
	    h->slot_size);
	want = 2 * n + 2;
	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	if (seq != want)
		return lapped(r, lost);
	memcpy(dst, s + 1, r->bytes);
	info->seq = n;
	info->position = s->position;
	info->timestamp_ns = s->timestamp_ns;
	info->epoch = s->epoch;
	info->frames = s->frames;
	if (ring_test_after_copy != NULL)
		ring_test_after_copy(ring_test_after_copy_arg);
	/* Seqlock read side: the copy must complete before the re-check. */
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_relaxed) != want)
		return lapped(r, lost);
	r->next = n + 1;
	return RING_READ_OK;
}

int
ring_reader_time_of(const struct ring_reader *r, uint64_t position,
    uint64_t *ts)
{
	const struct ring_header *h = r->h;
	const struct ring_slot *s;
	uint64_t ws, n, seq, pos, t;

	ws = atomic_load_explicit(&h->write_seq, memory_order_acquire);
	if (position == 0 || position % h->period_frames != 0 ||
	    (n = position / h->period_frames - 1) >= ws ||
	    ws - n > h->slot_count - 1)
		return -1;
	s = (const struct ring_slot *)(r->slots + (size_t)(n & r->mask) *
	    h->slot_size);
	seq = atomic_load_explicit(&s->seq, memory_order_acquire);
	pos = s->position;
	t = s->timestamp_ns;
	atomic_thread_fence(memory_order_acquire);
	if (seq != 2 * n + 2 || pos != position ||
	    atomic_load_explicit(&s->seq, memory_order_relaxed) != seq)
		return -1;
	*ts = t;
	return 0;
}

int
ring_wait(struct ring_reader *r, int timeout_ms)
{
	return ring_wait_for(r, 1, timeout_ms);
}

/* Are count periods after the cursor published, or has the writer restarted? */
static int
readable_count(const struct ring_reader *r, uint32_t count, uint64_t *ws)
{
	*ws = atomic_load_explicit(&r->h->write_seq, memory_order_acquire);
	return *ws >= r->next + count || atomic_load_explicit(&r->h->epoch,
	    memory_order_acquire) != r->epoch;
}

int
ring_wait_for(struct ring_reader *r, uint32_t count, int timeout_ms)
{
	const struct ring_header *h = r->h;
	struct timespec deadline, *dl = NULL;
	uint32_t bits;
	uint64_t ws;
	long rc;

	if (count == 0)
		count = 1;
	/* One period: any publish.  More: only the publish that completes them. */
	bits = count == 1 ? FUTEX_BITSET_MATCH_ANY :
	    ring_wake_bit(r->next + count);
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += timeout_ms / 1000;
		deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		dl = &deadline;
	}
	for (;;) {
		if (readable_count(r, count, &ws))
			return 1;
		/* Sleeps only while the futex word still equals ws. */
		rc = syscall(SYS_futex, &h->futex, FUTEX_WAIT_BITSET,
		    (uint32_t)ws, dl, NULL, bits);
		if (rc == -1) {
			/* A publish may race the deadline: 0 means none. */
			if (errno == ETIMEDOUT)
				return readable_count(r, count, &ws);
			if (errno == EINTR)
				return RING_ESYS;
			if (errno != EAGAIN)
				return RING_ESYS;
		}
	}
}

void
ring_meter_get(const struct ring_header *h, uint32_t ch, float *peak,
    float *rms)
{
	const struct ring_meter *m = meters(h);
	uint32_t bits;

	if (ch >= h->channels) {
		*peak = *rms = 0.0f;
		return;
	}
	bits = atomic_load_explicit(&((struct ring_meter *)(uintptr_t)m)[ch].peak,
	    memory_order_relaxed);
	memcpy(peak, &bits, sizeof(*peak));
	bits = atomic_load_explicit(&((struct ring_meter *)(uintptr_t)m)[ch].rms,
	    memory_order_relaxed);
	memcpy(rms, &bits, sizeof(*rms));
}

size_t
ring_period_floats(const struct ring_header *h)
{
	return (size_t)h->channels * h->period_frames;
}
