/* test_ring.c — the shared-memory ring: layout, seqlock, lapping, epochs, waits, meters. */
#define _GNU_SOURCE	/* pipe2, gettid */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include <sys/wait.h>

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "shared/ring.h"
#include "tests/lib/tu.h"

#define T_RATE		48000
#define T_FRAMES	64

static char names[8][64];
static int nnames;
static pid_t child = -1;

static void
teardown(void)
{
	int i;

	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	child = -1;
	for (i = 0; i < nnames; i++)
		shm_unlink(names[i]);
	nnames = 0;
	ring_test_after_copy = NULL;
}

TestSuite(ring, .fini = teardown, .timeout = 30);

/* A test-unique ring name, unlinked by teardown. */
static const char *
rname(const char *tag)
{
	cr_assert(nnames < 8);
	snprintf(names[nnames], sizeof(names[0]), "%s", tu_name(tag));
	return names[nnames++];
}

/* Sample i of period seq: exact in a float, different for every period. */
static float
val(uint64_t seq, size_t i)
{
	return (float)((seq * 4099u + i) & 0xffffffu);
}

static void
fill(float *x, size_t n, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = val(seq, i);
}

static int
matches(const float *x, size_t n, uint64_t seq)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] != val(seq, i))
			return 0;
	return 1;
}

/* A writer and a reader on a fresh ring of the given geometry. */
struct pair {
	struct ring_config	 cfg;
	struct ring_writer	*w;
	struct ring_reader	*r;
	const char		*name;
	size_t			 n;	/* floats per period */
	float			*in, *out;
};

static void
pair_open(struct pair *p, const char *tag, uint32_t ch, uint32_t slots)
{
	p->cfg = (struct ring_config){ T_RATE, ch, T_FRAMES, slots };
	p->name = rname(tag);
	cr_assert_eq(ring_writer_open(p->name, &p->cfg, 1, &p->w), RING_OK);
	cr_assert_eq(ring_reader_open(p->name, &p->r), RING_OK);
	p->n = (size_t)ch * T_FRAMES;
	/* In and out, one allocation. */
	cr_assert((p->in = calloc(2 * p->n, sizeof(float))) != NULL);
	p->out = p->in + p->n;
}

static void
pair_close(struct pair *p)
{
	ring_reader_close(p->r);
	ring_writer_close(p->w);
	free(p->in);
}

/* Publish period `next` of the writer with known content. */
static void
put(struct pair *p)
{
	uint64_t seq = atomic_load(&ring_writer_header(p->w)->write_seq);

	fill(p->in, p->n, seq);
	ring_writer_write(p->w, p->in, 1000 + seq);
}

/* Read one period that must be `seq` and carry its content. */
static void
get_ok(struct pair *p, uint64_t seq)
{
	struct ring_period info;
	uint64_t lost = 99;

	cr_assert_eq(ring_read(p->r, p->out, &info, &lost), RING_READ_OK,
	    "period %llu not readable", (unsigned long long)seq);
	cr_assert_eq(lost, 0);
	cr_assert_eq(info.seq, seq);
	cr_assert_eq(info.position, (seq + 1) * T_FRAMES);
	cr_assert_eq(info.timestamp_ns, 1000 + seq);
	cr_assert_eq(info.frames, T_FRAMES);
	cr_assert(matches(p->out, p->n, seq), "content of period %llu",
	    (unsigned long long)seq);
}

static void
get_again(struct pair *p)
{
	struct ring_period info;
	uint64_t lost;

	cr_assert_eq(ring_read(p->r, p->out, &info, &lost), RING_READ_AGAIN);
	cr_assert_eq(lost, 0);
}

Test(ring, config_check)
{
	static const struct { struct ring_config c; int rc; uint32_t slots; }
	    t[] = {
		{ { 48000, 2, 64, 0 }, RING_OK, RING_DEFAULT_SLOTS },
		{ { 48000, 2, 64, 3 }, RING_OK, 4 },
		{ { 48000, 2, 64, 2 }, RING_OK, 2 },
		{ { 48000, 2, 64, 1 }, RING_ECONFIG, 0 },
		{ { 48000, 0, 64, 8 }, RING_ECONFIG, 0 },
		{ { 48000, RING_MAX_CHANNELS + 1, 64, 8 }, RING_ECONFIG, 0 },
		{ { 48000, 2, 0, 8 }, RING_ECONFIG, 0 },
		{ { 48000, 2, RING_MAX_PERIOD + 1, 8 }, RING_ECONFIG, 0 },
		{ { 7999, 2, 64, 8 }, RING_ECONFIG, 0 },
		{ { 384001, 2, 64, 8 }, RING_ECONFIG, 0 },
		{ { 48000, 2, 64, (1u << 20) + 1 }, RING_ECONFIG, 0 },
	};
	struct ring_config c;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		c = t[i].c;
		cr_assert_eq(ring_config_check(&c), t[i].rc, "row %zu", i);
		if (t[i].rc == RING_OK)
			cr_assert_eq(c.slot_count, t[i].slots, "row %zu", i);
	}
	c = t[4].c;
	cr_assert_eq(ring_create(rname("bad"), &c), RING_ECONFIG);
}

/* The object: mode 0600, the documented header, sizes and alignment. */
Test(ring, create_layout_and_mode)
{
	struct ring_config c = { T_RATE, 3, 100, 5 };
	const char *name = rname("lay");
	const struct ring_header *h;
	struct ring_reader *r;
	struct stat st;
	int fd;

	cr_assert_eq(ring_create(name, &c), RING_OK);
	fd = shm_open(name, O_RDONLY, 0);
	cr_assert(fd >= 0);
	cr_assert(fstat(fd, &st) == 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert_eq(ring_reader_open_fd(fd, &r), RING_OK);
	close(fd);
	h = ring_reader_header(r);
	cr_assert_eq(h->magic, RING_MAGIC);
	cr_assert_eq(h->version, RING_VERSION);
	cr_assert_eq(h->slot_count, 8);
	cr_assert_eq(h->rate, T_RATE);
	cr_assert_eq(h->channels, 3);
	cr_assert_eq(h->period_frames, 100);
	cr_assert_eq(h->header_size, 4096);
	cr_assert_eq(h->slot_size, 64 + 1216);	/* 64 + 3*100*4, to 64 bytes */
	cr_assert_eq(h->map_size, (uint64_t)st.st_size);
	cr_assert_eq(h->map_size, 4096 + 8 * 1280);
	cr_assert_eq(atomic_load(&h->writer_state), RING_WRITER_NONE);
	cr_assert_eq(atomic_load(&h->write_seq), 0);
	cr_assert_eq(ring_period_floats(h), 300);
	ring_reader_close(r);
}

Test(ring, wraparound)
{
	struct pair p;
	uint64_t seq = 0;
	int lap, k, burst;

	pair_open(&p, "wrap", 2, 4);
	get_again(&p);
	/* 200 laps of a 4-slot ring, read in bursts of 1..3 periods. */
	for (lap = 0; lap < 200; lap++) {
		burst = 1 + lap % 3;
		for (k = 0; k < burst; k++)
			put(&p);
		for (k = 0; k < burst; k++)
			get_ok(&p, seq++);
		get_again(&p);
	}
	cr_assert_eq(ring_reader_cursor(p.r), seq);
	cr_assert_eq(ring_reader_lost(p.r), 0);
	cr_assert_eq(atomic_load(&ring_reader_header(p.r)->write_seq), seq);
	pair_close(&p);
}

/* A reader may trail the writer by slot_count - 1 periods, no more. */
Test(ring, lapped_reader_counts_exactly)
{
	struct ring_period info;
	struct pair p;
	uint64_t lost, i;

	pair_open(&p, "lap", 2, 8);
	for (i = 0; i < 3; i++)
		put(&p);
	for (i = 0; i < 3; i++)
		get_ok(&p, i);
	for (i = 0; i < 7; i++)
		put(&p);
	for (i = 3; i < 10; i++)
		get_ok(&p, i);
	/* Reader stops at 10; the writer goes 3 laps and 5 periods on. */
	for (i = 0; i < 8 * 3 + 5; i++)
		put(&p);
	cr_assert_eq(ring_read(p.r, p.out, &info, &lost), RING_READ_LAPPED);
	cr_assert_eq(lost, 29);
	cr_assert_eq(ring_reader_cursor(p.r), 39);
	cr_assert_eq(ring_reader_lost(p.r), 29);
	get_again(&p);
	put(&p);
	get_ok(&p, 39);
	/* Exactly one lap behind is already too far. */
	for (i = 0; i < 8; i++)
		put(&p);
	cr_assert_eq(ring_read(p.r, p.out, &info, &lost), RING_READ_LAPPED);
	cr_assert_eq(lost, 8);
	cr_assert_eq(ring_reader_lost(p.r), 37);
	put(&p);
	get_ok(&p, 48);
	pair_close(&p);
}

/* What the after-copy hook does to the writer while ring_read copies. */
struct torn {
	struct pair	*p;
	int		 periods;	/* complete periods to write */
	int		 begin;		/* then start one more and leave it odd */
	int		 calls;
	float		*open;		/* the slot left half-written */
};

static void
torn_hook(void *arg)
{
	struct torn *t = arg;
	int i;

	t->calls++;
	for (i = 0; i < t->periods; i++)
		put(t->p);
	if (t->begin)
		t->open = ring_writer_begin(t->p->w);
}

static int
read_with_hook(struct pair *p, struct torn *t, uint64_t *lost)
{
	struct ring_period info;
	int rc;

	t->p = p;
	ring_test_after_copy_arg = t;
	ring_test_after_copy = torn_hook;
	rc = ring_read(p->r, p->out, &info, lost);
	ring_test_after_copy = NULL;
	return rc;
}

Test(ring, torn_read_is_detected)
{
	struct torn t;
	struct pair p;
	uint64_t lost, ws;

	pair_open(&p, "torn", 2, 4);
	/* Control: the writer moves on but does not touch our slot. */
	put(&p);
	t = (struct torn){ .periods = 2 };
	cr_assert_eq(read_with_hook(&p, &t, &lost), RING_READ_OK);
	cr_assert_eq(t.calls, 1);
	get_ok(&p, 1);
	get_ok(&p, 2);
	/* The writer is mid-way through overwriting the slot we copied. */
	put(&p);
	t = (struct torn){ .periods = 3, .begin = 1 };
	cr_assert_eq(read_with_hook(&p, &t, &lost), RING_READ_LAPPED);
	cr_assert_eq(t.calls, 1);
	ws = atomic_load(&ring_reader_header(p.r)->write_seq);
	cr_assert_eq(ws, 7);
	cr_assert_eq(lost, 4, "lost %llu", (unsigned long long)lost);
	fill(t.open, p.n, 7);
	ring_writer_publish(p.w, 1007);
	get_ok(&p, 7);
	/* The writer has completely rewritten our slot with a later period. */
	put(&p);
	t = (struct torn){ .periods = 4 };
	cr_assert_eq(read_with_hook(&p, &t, &lost), RING_READ_LAPPED);
	cr_assert_eq(lost, 5);
	put(&p);
	get_ok(&p, 13);
	cr_assert_eq(ring_reader_lost(p.r), 9);
	pair_close(&p);
}

/*
 * A 2-slot ring hammered by a writer thread.  Both outcomes must occur
 * whether or not the two threads ever run at once: on a loaded machine they
 * may share one core for seconds.  So each side gives the core up where the
 * other can make progress: the writer after bursts of one period (a reader
 * then gets an OK read) or two (a reader then is lapped), the reader when
 * nothing new is published.  When they do run in parallel, copies are torn
 * for real and must still never come back as OK.
 */
struct hammer {
	struct pair	*p;
	atomic_int	 stop;
	uint64_t	 written;
	uint64_t	 ok, lapped, again, torn_ok, torn_copies;
	float		*copy;		/* the reader's buffer, seen by the hook */
};

/* Every sample of period seq is seq: a torn copy mixes values. */
static void *
hammer_writer(void *arg)
{
	struct hammer *hm = arg;
	uint64_t seq = 0;
	float *x, v;
	size_t i;

	while (!atomic_load_explicit(&hm->stop, memory_order_relaxed)) {
		x = ring_writer_begin(hm->p->w);
		v = (float)(seq & 0xffffff);
		for (i = 0; i < hm->p->n; i++)
			x[i] = v;
		ring_writer_publish(hm->p->w, 0);
		if (seq++ % 3 != 1)
			sched_yield();	/* bursts of 1, 2, 1, 2... periods */
	}
	hm->written = seq;
	return NULL;
}

static int
uniform(const float *x, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (x[i] != x[0])
			return 0;
	return 1;
}

/* Counts copies that really were torn before the re-check threw them away. */
static void
hammer_hook(void *arg)
{
	struct hammer *hm = arg;

	if (!uniform(hm->copy, hm->p->n))
		hm->torn_copies++;
}

static void
hammer_read(struct hammer *hm)
{
	struct ring_period info;
	uint64_t lost;

	switch (ring_read(hm->p->r, hm->copy, &info, &lost)) {
	case RING_READ_OK:
		hm->ok++;
		if (!uniform(hm->copy, hm->p->n) ||
		    hm->copy[0] != (float)(info.seq & 0xffffff))
			hm->torn_ok++;
		break;
	case RING_READ_LAPPED:
		hm->lapped++;
		break;
	default:
		hm->again++;
		sched_yield();	/* nothing new: let the writer run */
		break;
	}
}

Test(ring, torn_period_never_returned)
{
	struct hammer hm = { 0 };
	struct pair p;
	pthread_t thr;
	uint64_t end;

	pair_open(&p, "hammer", 8, 2);
	hm.p = &p;
	hm.copy = p.out;
	ring_test_after_copy_arg = &hm;
	ring_test_after_copy = hammer_hook;
	cr_assert_eq(pthread_create(&thr, NULL, hammer_writer, &hm), 0);
	/* At least 2 s, and on until both outcomes were seen. */
	end = clock_mono_ms() + 2000;
	while (clock_mono_ms() < end || ((hm.ok <= 1000 || hm.lapped == 0) &&
	    clock_mono_ms() < end + 18000))
		hammer_read(&hm);
	atomic_store(&hm.stop, 1);
	pthread_join(thr, NULL);
	ring_test_after_copy = NULL;
	cr_log_info("hammer: %llu written, %llu ok, %llu lapped, %llu again, "
	    "%llu torn copies rejected", (unsigned long long)hm.written,
	    (unsigned long long)hm.ok, (unsigned long long)hm.lapped,
	    (unsigned long long)hm.again, (unsigned long long)hm.torn_copies);
	cr_assert_eq(hm.torn_ok, 0, "%llu torn periods returned as OK",
	    (unsigned long long)hm.torn_ok);
	cr_assert(hm.ok > 1000, "only %llu reads succeeded",
	    (unsigned long long)hm.ok);
	cr_assert(hm.lapped > 0, "the writer never lapped the reader");
	pair_close(&p);
}

static struct ring_writer *
writer_reopen(const char *name, const struct ring_config *c)
{
	struct ring_writer *w;

	cr_assert_eq(ring_writer_open(name, c, 0, &w), RING_OK);
	return w;
}

Test(ring, epoch_change)
{
	struct ring_period info;
	const struct ring_header *h;
	struct pair p;
	uint64_t lost;

	pair_open(&p, "epoch", 2, 8);
	h = ring_reader_header(p.r);
	cr_assert_eq(atomic_load(&h->epoch), 1);
	cr_assert_eq(atomic_load(&h->writer_state), RING_WRITER_RUNNING);
	cr_assert_eq(atomic_load(&h->writer_pid), getpid());
	put(&p);
	put(&p);
	get_ok(&p, 0);
	get_ok(&p, 1);
	/* A caught-up reader loses nothing across a restart. */
	ring_writer_close(p.w);
	cr_assert_eq(atomic_load(&h->writer_state), RING_WRITER_STOPPED);
	get_again(&p);
	p.w = writer_reopen(p.name, &p.cfg);
	cr_assert_eq(atomic_load(&h->epoch), 2);
	cr_assert_eq(atomic_load(&h->epoch_seq), 2);
	cr_assert_eq(ring_wait(p.r, 0), 1, "an epoch change is readable");
	cr_assert_eq(ring_read(p.r, p.out, &info, &lost), RING_READ_EPOCH);
	cr_assert_eq(lost, 0);
	get_again(&p);
	put(&p);
	get_ok(&p, 2);
	get_again(&p);
	/* A reader behind the old writer skips its unread periods. */
	put(&p);
	put(&p);
	put(&p);
	get_ok(&p, 3);
	ring_writer_close(p.w);
	p.w = writer_reopen(p.name, &p.cfg);
	cr_assert_eq(ring_read(p.r, p.out, &info, &lost), RING_READ_EPOCH);
	cr_assert_eq(lost, 2);
	cr_assert_eq(ring_reader_cursor(p.r), 6);
	put(&p);
	cr_assert_eq(ring_read(p.r, p.out, &info, &lost), RING_READ_OK);
	cr_assert_eq(info.seq, 6);
	cr_assert_eq(info.epoch, 3);
	cr_assert_eq(info.position, 7 * T_FRAMES);
	cr_assert(matches(p.out, p.n, 6));
	cr_assert_eq(ring_reader_lost(p.r), 2);
	pair_close(&p);
}

/* Another geometry: refused without create, replaced (and marked) with it. */
Test(ring, geometry_mismatch)
{
	struct ring_config a = { T_RATE, 2, T_FRAMES, 8 };
	struct ring_config b = { T_RATE, 4, T_FRAMES, 8 };
	const char *name = rname("geo");
	struct ring_writer *w;
	struct ring_reader *r;
	const struct ring_header *h;
	int fd;

	cr_assert_eq(ring_create(name, &a), RING_OK);
	cr_assert_eq(ring_writer_open(name, &b, 0, &w), RING_EMISMATCH);
	b = (struct ring_config){ 44100, 2, T_FRAMES, 8 };
	cr_assert_eq(ring_writer_open(name, &b, 0, &w), RING_EMISMATCH);
	b = (struct ring_config){ T_RATE, 2, 128, 8 };
	cr_assert_eq(ring_writer_open(name, &b, 0, &w), RING_EMISMATCH);
	b = (struct ring_config){ T_RATE, 2, T_FRAMES, 16 };
	fd = shm_open(name, O_RDWR, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(ring_writer_open_fd(fd, &b, &w), RING_EMISMATCH);
	close(fd);
	cr_assert(strstr(ring_strerror(RING_EMISMATCH), "another") != NULL);
	cr_assert_eq(ring_reader_open(name, &r), RING_OK);
	h = ring_reader_header(r);
	cr_assert_eq(ring_writer_open(name, &b, 1, &w), RING_OK);
	cr_assert_eq(atomic_load(&h->writer_state), RING_WRITER_REPLACED);
	cr_assert_eq(ring_writer_header(w)->slot_count, 16);
	ring_writer_close(w);
	ring_reader_close(r);
}

/* Build an object by hand, field by field, as docs/ring.md describes it. */
struct handmade {
	uint32_t	magic, version, channels, frames, slots;
	size_t		truncate;	/* bytes to cut from the end */
	int		size;		/* if >= 0: the object's final size */
};

static void
make_object(const char *name, const struct handmade *m)
{
	size_t hsize = 4096, ssize, total;
	struct ring_header *h;
	int fd;

	ssize = (sizeof(struct ring_slot) + (size_t)m->channels * m->frames *
	    4 + 63) / 64 * 64;
	total = hsize + ssize * m->slots;
	fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert(fd >= 0);
	cr_assert(ftruncate(fd, total) == 0);
	h = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	cr_assert(h != MAP_FAILED);
	h->magic = m->magic;
	h->version = m->version;
	h->header_size = hsize;
	h->slot_size = ssize;
	h->slot_count = m->slots;
	h->rate = T_RATE;
	h->channels = m->channels;
	h->period_frames = m->frames;
	h->map_size = total;
	munmap(h, total);
	if (m->size >= 0)
		total = m->size + m->truncate;
	cr_assert(ftruncate(fd, total - m->truncate) == 0);
	close(fd);
}

/* Both sides refuse the object with `want`, and say why in words. */
static void
refused(const char *name, int want, const char *words)
{
	struct ring_config c = { T_RATE, 2, T_FRAMES, 8 };
	struct ring_writer *w;
	struct ring_reader *r;

	cr_assert_eq(ring_reader_open(name, &r), want);
	cr_assert_eq(ring_writer_open(name, &c, 0, &w), want);
	cr_assert(strstr(ring_strerror(want), words) != NULL, "\"%s\"",
	    ring_strerror(want));
}

Test(ring, bad_objects_are_refused)
{
	const char *name = rname("hand");
	struct ring_config c = { T_RATE, 2, T_FRAMES, 8 };
	struct handmade ok = { RING_MAGIC, RING_VERSION, 2, T_FRAMES, 8, 0,
	    -1 };
	struct handmade m;
	struct ring_writer *w;
	struct ring_reader *r;

	make_object(name, &ok);
	cr_assert_eq(ring_reader_open(name, &r), RING_OK);
	ring_reader_close(r);
	m = ok, m.magic = 0x46464952;	/* "RIFF" */
	make_object(name, &m);
	refused(name, RING_EMAGIC, "magic");
	m = ok, m.version = RING_VERSION + 1;
	make_object(name, &m);
	refused(name, RING_EVERSION, "version");
	m = ok, m.truncate = 1;
	make_object(name, &m);
	refused(name, RING_ESIZE, "truncated");
	m = ok, m.size = 16;		/* not even a header */
	make_object(name, &m);
	refused(name, RING_ESIZE, "truncated");
	m = ok, m.size = 0;		/* created, never sized */
	make_object(name, &m);
	refused(name, RING_EMAGIC, "not a ringcast ring");
	m = ok, m.slots = 6;
	make_object(name, &m);
	refused(name, RING_ECONFIG, "geometry");
	cr_assert(strlen(ring_strerror(-99)) > 0);
	/* A writer allowed to create replaces garbage with a ring. */
	cr_assert_eq(ring_writer_open(name, &c, 1, &w), RING_OK);
	cr_assert_eq(ring_reader_open(name, &r), RING_OK);
	ring_reader_close(r);
	ring_writer_close(w);
}

/* The maps line of the mapping that contains addr, or "" */
static void
maps_line(const void *addr, char *out, size_t len)
{
	unsigned long lo, hi, a = (unsigned long)addr;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");

	out[0] = '\0';
	cr_assert(f != NULL);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo &&
		    a < hi) {
			snprintf(out, len, "%s", line);
			break;
		}
	fclose(f);
}

Test(ring, reader_maps_read_only)
{
	struct ring_config c = { T_RATE, 2, T_FRAMES, 8 };
	const char *name = rname("ro");
	struct ring_writer *w;
	struct ring_reader *r;
	struct ring_period info;
	char line[512];
	float x[2 * T_FRAMES], y[2 * T_FRAMES];
	uint64_t lost;
	int fd, st;

	cr_assert_eq(ring_writer_open(name, &c, 1, &w), RING_OK);
	fd = shm_open(name, O_RDONLY, 0);
	cr_assert(fd >= 0);
	cr_assert_eq(ring_reader_open_fd(fd, &r), RING_OK);
	close(fd);
	maps_line(ring_reader_header(r), line, sizeof(line));
	cr_assert(strstr(line, " r--s ") != NULL, "maps: %s", line);
	cr_assert(strstr(line, name + 1) != NULL, "maps: %s", line);
	maps_line(ring_writer_header(w), line, sizeof(line));
	cr_assert(strstr(line, " rw-s ") != NULL, "maps: %s", line);
	fill(x, 2 * T_FRAMES, 0);
	ring_writer_write(w, x, 0);
	cr_assert_eq(ring_read(r, y, &info, &lost), RING_READ_OK);
	cr_assert(matches(y, 2 * T_FRAMES, 0));
	/* A store through the reader's mapping faults. */
	if ((child = fork()) == 0) {
		struct ring_header *h = (struct ring_header *)(uintptr_t)
		    ring_reader_header(r);

		/* The kernel's verdict, not a sanitizer's report of it. */
		signal(SIGSEGV, SIG_DFL);
		atomic_store(&h->write_seq, 1234);
		_exit(0);
	}
	cr_assert(child > 0);
	st = tu_wait_exit(child, 10000);
	child = -1;
	cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV, "status %#x", st);
	cr_assert_eq(atomic_load(&ring_reader_header(r)->write_seq), 1);
	ring_reader_close(r);
	ring_writer_close(w);
}

/* Is thread/process `path` (a /proc .../syscall file) asleep in a futex on addr? */
static int
in_futex(const char *path, const void *addr)
{
	char buf[256];
	unsigned long a = 0;
	long nr = -1;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) == NULL ||
	    sscanf(buf, "%ld %lx", &nr, &a) != 2)
		nr = -1;
	fclose(f);
	return nr == SYS_futex && a == (unsigned long)addr;
}

/* Wait (bounded) until the sleeper is blocked on the ring's futex word. */
static int
wait_asleep(const char *path, const struct ring_header *h)
{
	uint64_t end = clock_mono_ms() + 10000;

	while (!in_futex(path, &h->futex)) {
		if (clock_mono_ms() >= end)
			return 0;
		sched_yield();
	}
	return 1;
}

Test(ring, wait_timeout_and_ready)
{
	struct pair p;
	uint64_t t0, dt;

	pair_open(&p, "wait", 2, 8);
	t0 = clock_mono_ms();
	cr_assert_eq(ring_wait(p.r, 30), 0);
	dt = clock_mono_ms() - t0;
	cr_assert(dt >= 29 && dt < 5000, "waited %llu ms",
	    (unsigned long long)dt);
	cr_assert_eq(ring_wait(p.r, 0), 0);
	put(&p);
	t0 = clock_mono_ms();
	cr_assert_eq(ring_wait(p.r, 5000), 1);
	cr_assert_eq(ring_wait(p.r, -1), 1);
	cr_assert(clock_mono_ms() - t0 < 1000);
	get_ok(&p, 0);
	cr_assert_eq(ring_wait(p.r, 0), 0);
	pair_close(&p);
}

struct waker {
	struct pair	*p;
	char		 path[64];
	int		 slept;
};

/* No assertions here: they belong to the test's own thread. */
static void *
waker_thread(void *arg)
{
	struct waker *wk = arg;

	wk->slept = wait_asleep(wk->path, ring_reader_header(wk->p->r));
	put(wk->p);
	return NULL;
}

Test(ring, wait_woken_by_thread)
{
	struct waker wk;
	struct pair p;
	pthread_t thr;
	uint64_t t0;

	pair_open(&p, "wakethr", 2, 8);
	wk.p = &p;
	snprintf(wk.path, sizeof(wk.path), "/proc/self/task/%d/syscall",
	    (int)gettid());
	cr_assert_eq(pthread_create(&thr, NULL, waker_thread, &wk), 0);
	t0 = clock_mono_ms();
	cr_assert_eq(ring_wait(p.r, 20000), 1);
	cr_assert(clock_mono_ms() - t0 < 15000);
	pthread_join(thr, NULL);
	cr_assert(wk.slept, "the reader was never seen asleep");
	get_ok(&p, 0);
	pair_close(&p);
}

/* In a child: report ring_wait's result and errno on fd. */
static void
child_wait(struct ring_reader *r, int fd, int timeout_ms)
{
	int res[2];

	res[0] = ring_wait(r, timeout_ms);
	res[1] = errno;
	if (write(fd, res, sizeof(res)) != sizeof(res))
		_exit(2);
	_exit(0);
}

static void
read_result(int fd, int res[2])
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	cr_assert_eq(poll(&pfd, 1, 15000), 1, "no result from the child");
	cr_assert_eq(read(fd, res, 2 * sizeof(int)), 2 * sizeof(int));
}

static void
on_usr1(int sig)
{
	(void)sig;
}

/*
 * A child process asleep in ring_wait on a new pair (its result on fds);
 * interruptible: SIGUSR1 interrupts its wait.
 */
static void
child_asleep(struct pair *p, const char *tag, int fds[2], int timeout_ms,
    bool interruptible)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	char path[64];

	pair_open(p, tag, 2, 8);
	cr_assert(pipe2(fds, O_CLOEXEC) == 0);
	if ((child = fork()) == 0) {
		if (interruptible)
			sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
		child_wait(p->r, fds[1], timeout_ms);
	}
	cr_assert(child > 0);
	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)child);
	cr_assert(wait_asleep(path, ring_reader_header(p->r)));
}

/* The child's result, its clean exit; everything closed. */
static void
child_done(struct pair *p, int fds[2], int res[2])
{
	read_result(fds[0], res);
	cr_assert_eq(tu_wait_exit(child, 10000), 0);
	child = -1;
	close(fds[0]);
	close(fds[1]);
	pair_close(p);
}

Test(ring, wait_woken_by_process)
{
	struct pair p;
	int fds[2], res[2];

	child_asleep(&p, "wakeproc", fds, 20000, false);
	put(&p);
	child_done(&p, fds, res);
	cr_assert_eq(res[0], 1);
}

Test(ring, wait_interrupted_by_signal)
{
	struct pair p;
	int fds[2], res[2];

	child_asleep(&p, "eintr", fds, -1, true);
	kill(child, SIGUSR1);
	child_done(&p, fds, res);
	cr_assert_eq(res[0], RING_ESYS);
	cr_assert_eq(res[1], EINTR);
}

/* Channel 0 sine, 1 negative DC, 2 silence, 3 full-scale square. */
static void
meter_signal(float *x, float amp)
{
	int f;

	for (f = 0; f < T_FRAMES; f++) {
		/* Eight samples per cycle: eight whole cycles per period. */
		x[f * 4 + 0] = amp * (float)sin(2 * M_PI * f / 8.0);
		x[f * 4 + 1] = -0.25f;
		x[f * 4 + 2] = 0.0f;
		x[f * 4 + 3] = f % 2 ? 1.0f : -1.0f;
	}
}

static void
meter_is(const struct ring_header *h, uint32_t ch, float peak, float rms)
{
	float p, r;

	ring_meter_get(h, ch, &p, &r);
	cr_assert_float_eq(p, peak, 1e-6, "ch %u peak %f", ch, p);
	cr_assert_float_eq(r, rms, 1e-6, "ch %u rms %f", ch, r);
}

Test(ring, meters)
{
	float x[4 * T_FRAMES];
	const struct ring_header *h;
	struct pair p;

	pair_open(&p, "meter", 4, 8);
	h = ring_reader_header(p.r);
	meter_is(h, 0, 0, 0);
	meter_signal(x, 0.5f);
	ring_writer_write(p.w, x, 0);
	meter_is(h, 0, 0.5f, 0.5f / sqrtf(2.0f));
	meter_is(h, 1, 0.25f, 0.25f);
	meter_is(h, 2, 0, 0);
	meter_is(h, 3, 1, 1);
	meter_is(h, 4, 0, 0);		/* no such channel */
	meter_is(h, 1000, 0, 0);
	/* Meters describe the last period only. */
	meter_signal(x, 0.125f);
	ring_writer_write(p.w, x, 0);
	meter_is(h, 0, 0.125f, 0.125f / sqrtf(2.0f));
	pair_close(&p);
}

Test(ring, counters_and_publish_fields)
{
	const struct ring_header *h;
	struct pair p;
	uint64_t t0, ts;
	float *x;

	pair_open(&p, "count", 2, 8);
	h = ring_reader_header(p.r);
	ring_writer_count_xrun(p.w);
	ring_writer_count_xrun(p.w);
	ring_writer_count_xrun(p.w);
	ring_writer_count_overrun(p.w, 5);
	ring_writer_count_overrun(p.w, 2);
	cr_assert_eq(atomic_load(&h->xruns), 3);
	cr_assert_eq(atomic_load(&h->overruns), 7);
	/* begin/publish by hand, timestamp 0 = now */
	t0 = clock_mono_ns();
	x = ring_writer_begin(p.w);
	fill(x, p.n, 0);
	ring_writer_publish(p.w, 0);
	ts = atomic_load(&h->last_publish_ns);
	cr_assert(ts >= t0 && ts <= clock_mono_ns());
	cr_assert_eq(atomic_load(&h->write_seq), 1);
	cr_assert_eq(atomic_load(&h->futex), 1);
	cr_assert_eq(ring_wait(p.r, 0), 1);
	/* A reopened writer keeps the counters: they describe the ring. */
	ring_writer_close(p.w);
	p.w = writer_reopen(p.name, &p.cfg);
	cr_assert_eq(atomic_load(&h->xruns), 3);
	pair_close(&p);
}

Test(ring, seek_live)
{
	struct pair p;
	int i;

	pair_open(&p, "seek", 2, 8);
	for (i = 0; i < 5; i++)
		put(&p);
	ring_reader_seek_live(p.r);
	cr_assert_eq(ring_reader_cursor(p.r), 5);
	get_again(&p);
	put(&p);
	get_ok(&p, 5);
	cr_assert_eq(ring_reader_lost(p.r), 0);
	pair_close(&p);
}

static long
minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/* Attaching faults the ring in: no page fault on the real-time paths. */
Test(ring, first_lap_takes_no_page_faults)
{
	struct ring_config c = { T_RATE, 8, 256, 64 };	/* 8 KiB slots */
	const char *name = rname("fault");
	static float x[8 * 256], y[8 * 256];
	struct ring_writer *w;
	struct ring_reader *r;
	struct ring_period info;
	uint64_t lost;
	long before, faults;
	int i, bad = 0;

#ifdef __SANITIZE_ADDRESS__
	cr_skip_test("ASan: its shadow memory takes page faults of its own");
#endif
	cr_assert_eq(ring_create(name, &c), RING_OK);
	cr_assert_eq(ring_writer_open(name, &c, 0, &w), RING_OK);
	cr_assert_eq(ring_reader_open(name, &r), RING_OK);
	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	ring_writer_write(w, x, 0);	/* first calls: code, stack */
	cr_assert_eq(ring_read(r, y, &info, &lost), RING_READ_OK);
	/* No assertion inside: reporting one may touch fresh memory. */
	before = minflt();
	for (i = 1; i < 64; i++) {
		ring_writer_write(w, x, 0);
		bad += ring_read(r, y, &info, &lost) != RING_READ_OK;
	}
	faults = minflt() - before;
	cr_assert_eq(bad, 0);
	cr_assert(faults < 4, "%ld page faults in the first lap", faults);
	ring_reader_close(r);
	ring_writer_close(w);
}
