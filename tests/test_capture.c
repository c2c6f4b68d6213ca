/* test_capture.c — ringcast-capture end to end: tone, pacing, restart, WAV, parent channel, PortAudio via JACK. */
#define _GNU_SOURCE	/* pipe2 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sndfile.h>

#include "shared/clock.h"
#include "shared/msg.h"
#include "shared/ring.h"
#include "shared/tone.h"
#include "shared/clock.h"
#include "tests/lib/jack.h"
#include "tests/lib/tu.h"

#define NOTIFY_FD	5
#define READY_MS	15000	/* generous: a loaded 2-core VM */
#define STOP_MS		5000
#define PERIOD		64u
#define RATE		48000u
#define TOL		1e-6f

/* Everything a test started, so teardown can kill and reap it on failure. */
static struct jack J;
static pid_t kids[8];
static int nkids;
static char rings[4][64];
static int nrings;
static char files[4][128];
static int nfiles;

static void
teardown(void)
{
	int i;

	/* Reverse order: clients before the JACK server they use. */
	for (i = nkids - 1; i >= 0; i--)
		if (kids[i] > 0)
			tu_stop(kids[i], 2000);
	for (i = 0; i < nrings; i++)
		ring_unlink(rings[i]);
	for (i = 0; i < nfiles; i++)
		unlink(files[i]);
	jack_stop(&J);
	nkids = nrings = nfiles = 0;
}

TestSuite(capture, .fini = teardown);

static const char *
ring_name(const char *tag)
{
	const char *n = tu_name(tag);

	cr_assert_lt(nrings, 4, "more than 4 rings in one test");
	snprintf(rings[nrings++], sizeof(rings[0]), "%s", n);
	return n;
}

static const char *
tmp_path(const char *tag)
{
	char *p;

	cr_assert_lt(nfiles, 4, "more than 4 files in one test");
	p = files[nfiles++];
	snprintf(p, sizeof(files[0]), "/tmp/rc-test-%d-%s", (int)getpid(), tag);
	return p;
}

static void
forget(pid_t pid)
{
	int i;

	/* Out of the list, the others kept in order for teardown. */
	for (i = 0; i < nkids; i++)
		if (kids[i] == pid) {
			memmove(&kids[i], &kids[i + 1],
			    (size_t)(nkids - i - 1) * sizeof(kids[0]));
			nkids--;
			return;
		}
}

/*
 * fork + exec argv (searched in PATH), with fds src[i] appearing as dst[i]
 * in the child, stdin /dev/null, stdout and stderr to out (if >= 0).
 */
static pid_t
spawn(char *const argv[], const int *src, const int *dst, int n, int out)
{
	int i, dn, tmp[4];
	pid_t pid;

	cr_assert_lt(nkids, 8, "more than 8 live children in one test");
	pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid > 0) {
		kids[nkids++] = pid;
		return pid;
	}
	/* Move the sources out of the way before placing them. */
	for (i = 0; i < n && i < 4; i++)
		tmp[i] = fcntl(src[i], F_DUPFD, 100);
	for (i = 0; i < n && i < 4; i++)
		dup2(tmp[i], dst[i]);
	if ((dn = open("/dev/null", O_RDWR)) >= 0)
		dup2(dn, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	execvp(argv[0], argv);
	_exit(127);
}

/* ringcast-capture --ring NAME --notify-fd 5 ARGS...; waits for "ready". */
static pid_t
capture_start(const char *ring, const char *const *args)
{
	char *argv[24];
	int p[2], n = 0, dst = NOTIFY_FD;
	pid_t pid;

	argv[n++] = (char *)(uintptr_t)tu_prog("ringcast-capture");
	argv[n++] = "--ring";
	argv[n++] = (char *)(uintptr_t)ring;
	argv[n++] = "--notify-fd";
	argv[n++] = "5";
	while (args != NULL && *args != NULL && n < 23)
		argv[n++] = (char *)(uintptr_t)*args++;
	argv[n] = NULL;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = spawn(argv, &p[1], &dst, 1, -1);
	close(p[1]);
	cr_assert(tu_wait_text(p[0], "ready", READY_MS),
	    "capture on %s not ready within %d ms", ring, READY_MS);
	close(p[0]);
	return pid;
}

static void
capture_stop_ok(pid_t pid)
{
	int st = tu_stop(pid, STOP_MS);

	forget(pid);
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "capture did not exit 0 on SIGTERM within %d ms (status %d)",
	    STOP_MS, st);
}

/* Read fd until EOF or timeout_ms; the text is NUL-terminated. */
static void
read_all(int fd, char *out, size_t outlen, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t have = 0;
	ssize_t r;

	while (have < outlen - 1 && clock_mono_ms() < end) {
		if (poll(&pfd, 1, (int)(end - clock_mono_ms())) <= 0)
			continue;
		if ((r = read(fd, out + have, outlen - 1 - have)) <= 0)
			break;
		have += r;
	}
	out[have] = '\0';
}

/* Run a program to completion, output captured; returns the wait status. */
static int
run_prog(char *const argv[], char *out, size_t outlen, int timeout_ms)
{
	int p[2], st;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = spawn(argv, NULL, NULL, 0, p[1]);
	close(p[1]);
	read_all(p[0], out, outlen, timeout_ms);
	close(p[0]);
	st = tu_wait_exit(pid, timeout_ms);
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	forget(pid);
	return st;
}

/* ringcast-capture ARGS... to completion. */
static int
run_capture(const char *const *args, char *out, size_t outlen)
{
	char *argv[24];
	int n = 0;

	argv[n++] = (char *)(uintptr_t)tu_prog("ringcast-capture");
	while (*args != NULL && n < 23)
		argv[n++] = (char *)(uintptr_t)*args++;
	argv[n] = NULL;
	return run_prog(argv, out, outlen, 15000);
}

static int
exited(int st, int code)
{
	return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == code;
}

struct reader {
	struct ring_reader		*r;
	const struct ring_header	*h;
	float				*buf;
};

static void
reader_open(struct reader *rd, const char *ring)
{
	int rc = ring_reader_open(ring, &rd->r);

	cr_assert_eq(rc, RING_OK, "reader: %s", ring_strerror(rc));
	rd->h = ring_reader_header(rd->r);
	rd->buf = calloc(ring_period_floats(rd->h), sizeof(float));
	cr_assert_not_null(rd->buf);
}

static void
reader_close(struct reader *rd)
{
	ring_reader_close(rd->r);
	free(rd->buf);
}

/* The next ring_read result other than AGAIN, waiting on the futex. */
static int
reader_next(struct reader *rd, struct ring_period *info, uint64_t *lost)
{
	uint64_t end = clock_mono_ms() + 10000;
	int rc;

	while ((rc = ring_read(rd->r, rd->buf, info, lost)) == RING_READ_AGAIN) {
		cr_assert(clock_mono_ms() < end, "no period within 10 s (writer "
		    "%d %s)", (int)atomic_load(&rd->h->writer_pid),
		    kill(atomic_load(&rd->h->writer_pid), 0) == 0 ? "alive" :
		    "gone");
		ring_wait(rd->r, 1000);
	}
	return rc;
}

/* Samples differing from the tone (by more than TOL) in one period. */
static int
tone_errors(const struct reader *rd, const struct ring_period *info)
{
	uint32_t nch = rd->h->channels, c, i;
	uint64_t first = info->position - info->frames;
	int bad = 0;

	for (i = 0; i < info->frames; i++)
		for (c = 0; c < nch; c++) {
			float want = tone_sample(c, first + i, rd->h->rate);

			if (fabsf(rd->buf[(size_t)i * nch + c] - want) > TOL) {
				if (bad++ == 0)
					cr_log_error("frame %llu ch %u: %f, "
					    "want %f", (unsigned long long)
					    (first + i), c,
					    rd->buf[(size_t)i * nch + c], want);
			}
		}
	return bad;
}

/* Read n periods that must all be tone, contiguous, of one epoch. */
static void
read_tone(struct reader *rd, int n, uint32_t epoch)
{
	struct ring_period info;
	uint64_t lost, prev = 0;
	int i, rc;

	for (i = 0; i < n; i++) {
		rc = reader_next(rd, &info, &lost);
		cr_assert_eq(rc, RING_READ_OK, "period %d: read status %d "
		    "(lost %llu)", i, rc, (unsigned long long)lost);
		cr_assert_eq(info.frames, rd->h->period_frames);
		cr_assert_eq(info.position, (info.seq + 1) * info.frames);
		if (i > 0)
			cr_assert_eq(info.position, prev + info.frames,
			    "positions jump: %llu after %llu",
			    (unsigned long long)info.position,
			    (unsigned long long)prev);
		if (epoch != 0)
			cr_assert_eq(info.epoch, epoch);
		cr_assert_eq(tone_errors(rd, &info), 0, "period %d is not "
		    "the tone", i);
		prev = info.position;
	}
}

Test(capture, tone_content_meters_and_clean_stop, .timeout = 60)
{
	const char *ring = ring_name("tone");
	const char *args[] = { "--source", "tone", "--slots", "4096", NULL };
	struct reader rd;
	float peak, rms;
	uint32_t c;
	pid_t pid;

	pid = capture_start(ring, args);
	reader_open(&rd, ring);
	cr_assert_eq(rd.h->rate, RATE);
	cr_assert_eq(rd.h->channels, 8);
	cr_assert_eq(rd.h->period_frames, PERIOD);
	cr_assert_eq(rd.h->slot_count, 4096);
	cr_assert_eq(atomic_load(&rd.h->writer_pid), pid);
	read_tone(&rd, 400, atomic_load(&rd.h->epoch));
	for (c = 0; c < rd.h->channels; c++) {
		ring_meter_get(rd.h, c, &peak, &rms);
		/* A 64-frame window of 250 Hz spans 120 degrees: peak >= 0.43. */
		cr_assert(peak > 0.42f && peak <= 0.5f + TOL,
		    "channel %u peak %f", c, peak);
		cr_assert(rms > 0.2f && rms <= 0.5f, "channel %u rms %f", c,
		    rms);
	}
	capture_stop_ok(pid);
	cr_assert_eq(atomic_load(&rd.h->writer_state), RING_WRITER_STOPPED);
	reader_close(&rd);
}

Test(capture, tone_frequencies_are_distinct_and_documented)
{
	cr_assert_eq(tone_freq(0, 48000), 250);
	cr_assert_eq(tone_freq(7, 48000), 2000);
	cr_assert_eq(tone_freq(94, 48000), 23750);
	cr_assert_eq(tone_freq(95, 48000), 250, "folds below Nyquist");
	cr_assert_eq(tone_freq(15, 8000), 250);
	cr_assert_float_eq(tone_sample(0, 48, 48000), 0.5f, 1e-6,
	    "quarter cycle of 250 Hz at frame 48");
	cr_assert_float_eq(tone_sample(1, 48000 * 1000000ull + 24, 48000),
	    0.5f, 1e-6, "no phase drift at large frame counts");
}

Test(capture, period_rate_follows_the_clock, .timeout = 60)
{
	const char *ring = ring_name("rate");
	const char *args[] = { "--source", "tone", "--channels", "2", NULL };
	struct ring_period info;
	struct reader rd;
	uint64_t t0, t1, s0, s1, lost;
	double rate;
	pid_t pid;

	pid = capture_start(ring, args);
	reader_open(&rd, ring);
	s0 = atomic_load(&rd.h->write_seq);
	t0 = clock_mono_ns();
	do
		reader_next(&rd, &info, &lost);
	while (clock_mono_ns() - t0 < 1200000000ull);
	s1 = atomic_load(&rd.h->write_seq);
	t1 = clock_mono_ns();
	rate = (double)(s1 - s0) * 1e9 / (double)(t1 - t0);
	cr_assert(rate > 0.8 * RATE / PERIOD && rate < 1.2 * RATE / PERIOD,
	    "%.1f periods/s, want %u", rate, RATE / PERIOD);
	capture_stop_ok(pid);
	reader_close(&rd);
}

Test(capture, stall_counts_overruns_and_does_not_burst, .timeout = 60)
{
	const char *ring = ring_name("stall");
	const char *args[] = { "--source", "tone", "--channels", "2", NULL };
	struct timespec stall = { 0, 500 * 1000 * 1000 };
	struct ring_period info;
	struct reader rd;
	uint64_t t0, s0, lost, over;
	double secs, burst_free;
	pid_t pid;

	pid = capture_start(ring, args);
	reader_open(&rd, ring);
	s0 = atomic_load(&rd.h->write_seq);
	t0 = clock_mono_ns();
	/* The stimulus: the whole capture frozen for half a second. */
	cr_assert_eq(kill(pid, SIGSTOP), 0);
	nanosleep(&stall, NULL);
	cr_assert_eq(kill(pid, SIGCONT), 0);
	do
		reader_next(&rd, &info, &lost);
	while (clock_mono_ns() - t0 < 800000000ull);
	secs = (double)(clock_mono_ns() - t0) / 1e9;
	over = atomic_load(&rd.h->overruns);
	/* 0.5 s is 375 periods; a burst would publish all of them now. */
	cr_assert(over >= 200 && over <= 1000, "overruns %llu",
	    (unsigned long long)over);
	burst_free = (secs - 0.5) * RATE / PERIOD;
	cr_assert(atomic_load(&rd.h->write_seq) - s0 < burst_free + 150,
	    "%llu periods in %.2f s with a 0.5 s stall: the backlog was burst",
	    (unsigned long long)(atomic_load(&rd.h->write_seq) - s0), secs);
	capture_stop_ok(pid);
	reader_close(&rd);
}

Test(capture, restart_bumps_the_epoch_and_continues_the_tone, .timeout = 60)
{
	const char *ring = ring_name("restart");
	const char *args[] = { "--source", "tone", "--slots", "4096", NULL };
	struct ring_period info;
	struct reader rd;
	uint32_t epoch;
	uint64_t lost;
	pid_t a, b;
	int rc;

	a = capture_start(ring, args);
	reader_open(&rd, ring);
	epoch = atomic_load(&rd.h->epoch);
	read_tone(&rd, 50, epoch);
	kill(a, SIGKILL);
	cr_assert_neq(tu_wait_exit(a, STOP_MS), -1);
	forget(a);

	b = capture_start(ring, args);
	cr_assert_eq(atomic_load(&rd.h->epoch), epoch + 1);
	cr_assert_eq(atomic_load(&rd.h->writer_pid), b);
	rc = reader_next(&rd, &info, &lost);
	cr_assert_eq(rc, RING_READ_EPOCH, "read status %d, want EPOCH", rc);
	read_tone(&rd, 200, epoch + 1);
	capture_stop_ok(b);
	reader_close(&rd);
}

/* A ramp that names its own frame: ch0 = i/1024 - 0.5, ch1 = 0.25 - i/2048. */
#define RAMP_FRAMES	1000

static float
ramp(uint32_t ch, uint64_t i)
{
	return ch == 0 ? (float)i / 1024.0f - 0.5f : 0.25f - (float)i / 2048.0f;
}

static void
make_wav_file(const char *path, int rate, int frames)
{
	SF_INFO info = { .samplerate = rate, .channels = 2,
	    .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT };
	float buf[2];
	SNDFILE *sf;
	int i;

	sf = sf_open(path, SFM_WRITE, &info);
	cr_assert_not_null(sf, "%s: %s", path, sf_strerror(NULL));
	for (i = 0; i < frames; i++) {
		buf[0] = ramp(0, i);
		buf[1] = ramp(1, i);
		cr_assert_eq(sf_writef_float(sf, buf, 1), 1);
	}
	cr_assert_eq(sf_close(sf), 0);
}

/* Frame f of the epoch that starts at period es is file frame (f - es*P) % N. */
static int
ramp_errors(const struct reader *rd, const struct ring_period *info,
    uint64_t epoch_seq)
{
	uint64_t first = info->position - info->frames, idx;
	uint32_t i, c;
	int bad = 0;

	for (i = 0; i < info->frames; i++) {
		idx = (first + i - epoch_seq * info->frames) % RAMP_FRAMES;
		for (c = 0; c < 2; c++)
			if (fabsf(rd->buf[i * 2 + c] - ramp(c, idx)) > TOL &&
			    bad++ == 0)
				cr_log_error("frame %llu ch %u: %f, want %f",
				    (unsigned long long)(first + i), c,
				    rd->buf[i * 2 + c], ramp(c, idx));
	}
	return bad;
}

Test(capture, wav_file_is_looped_exactly, .timeout = 60)
{
	const char *ring = ring_name("wav");
	const char *path = tmp_path("ramp.wav");
	char src[160];
	const char *args[] = { "--source", src, "--slots", "4096", NULL };
	struct ring_period info;
	struct reader rd;
	uint64_t lost, es;
	pid_t pid;
	int i;

	make_wav_file(path, RATE, RAMP_FRAMES);
	snprintf(src, sizeof(src), "wav:%s", path);
	pid = capture_start(ring, args);
	reader_open(&rd, ring);
	cr_assert_eq(rd.h->channels, 2, "channels default to the file's");
	es = atomic_load(&rd.h->epoch_seq);
	/* 200 periods: 12800 frames, the 1000-frame file a dozen times. */
	for (i = 0; i < 200; i++) {
		cr_assert_eq(reader_next(&rd, &info, &lost), RING_READ_OK);
		cr_assert_eq(ramp_errors(&rd, &info, es), 0,
		    "period %d is not the file", i);
	}
	cr_assert_eq(atomic_load(&rd.h->xruns), 0, "the file reader fell behind");
	capture_stop_ok(pid);
	reader_close(&rd);
}

Test(capture, wav_rate_mismatch_is_a_clear_error, .timeout = 30)
{
	const char *path = tmp_path("r44.wav");
	char src[160], out[8192];
	const char *args[] = { "--ring", ring_name("r44"), "--source", src,
	    NULL };
	int st;

	make_wav_file(path, 44100, 100);
	snprintf(src, sizeof(src), "wav:%s", path);
	st = run_capture(args, out, sizeof(out));
	cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
	    "status %d", st);
	cr_assert(strstr(out, "44100") != NULL && strstr(out, "48000") != NULL,
	    "message names both rates: %s", out);
}

Test(capture, wav_channel_mismatch_and_missing_file, .timeout = 30)
{
	const char *path = tmp_path("ch.wav");
	char src[160], out[8192];
	const char *args[] = { "--ring", ring_name("ch"), "--source", src,
	    "--channels", "4", NULL };
	const char *missing[] = { "--ring", ring_name("nofile"), "--source",
	    "wav:/nonexistent/rc-test.wav", NULL };
	int st;

	make_wav_file(path, RATE, 100);
	snprintf(src, sizeof(src), "wav:%s", path);
	st = run_capture(args, out, sizeof(out));
	cr_assert(exited(st, 1), "status %d: %s", st, out);
	cr_assert(strstr(out, "2 channels") != NULL &&
	    strstr(out, "--channels is 4") != NULL, "%s", out);
	st = run_capture(missing, out, sizeof(out));
	cr_assert(exited(st, 1), "status %d: %s", st, out);
	cr_assert(strstr(out, "/nonexistent/rc-test.wav") != NULL, "%s", out);
}

Test(capture, bad_options_are_refused, .timeout = 30)
{
	static const char *const cases[][5] = {
		{ "--rate", "100", NULL },
		{ "--rate", "48k", NULL },
		{ "--channels", "0", NULL },
		{ "--channels", "257", NULL },
		{ "--period", "8193", NULL },
		{ "--slots", "1", NULL },
		{ "--source", "mp3:x", NULL },
		{ "--source", "tone:x", "--ring", "/rc-test-unused", NULL },
		{ "--notify-fd", "77", NULL },
		{ "extra-argument", NULL },
	};
	char out[8192];
	size_t i;
	int st;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = run_capture(cases[i], out, sizeof(out));
		cr_assert(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) != 0,
		    "case %zu (%s %s) accepted", i, cases[i][0],
		    cases[i][1] ? cases[i][1] : "");
		cr_assert(strlen(out) > 0, "case %zu: no message", i);
	}
	ring_unlink("/rc-test-unused");
}

Test(capture, unknown_device_is_a_clear_error, .timeout = 30)
{
	const char *args[] = { "--ring", ring_name("nodev"), "--source",
	    "portaudio:no-such-device-rc", NULL };
	char out[8192];
	int st;

	st = run_capture(args, out, sizeof(out));
	cr_assert(exited(st, 1), "status %d: %s", st, out);
	cr_assert(strstr(out, "no-such-device-rc") != NULL, "%s", out);
}

Test(capture, list_devices_exits_zero, .timeout = 30)
{
	const char *args[] = { "--list-devices", NULL };
	char out[16384];
	int st;

	st = run_capture(args, out, sizeof(out));
	cr_assert(exited(st, 0), "status %d: %s", st, out);
	cr_assert(strstr(out, "index\tname\thost api\tinputs") != NULL, "%s",
	    out);
}

/* The next message of a type from the parent channel, within timeout_ms. */
static int
parent_recv(int fd, struct msg *m, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return -1;
	return msg_recv(fd, ROLE_SUPERVISOR, ROLE_CAPTURE, m);
}

Test(capture, parent_channel_ready_state_and_eof, .timeout = 60)
{
	static struct msg m;
	const struct msg_capture_state *cs;
	const char *ring = ring_name("parent");
	char *argv[] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--ring", (char *)(uintptr_t)ring, "--parent-fd", "3",
	    "--channels", "2", NULL };
	int sv[2], dst = MSG_PARENT_FD, st;
	pid_t pid;

	cr_assert_eq(msg_channel(sv), 0);
	pid = spawn(argv, &sv[1], &dst, 1, -1);
	close(sv[1]);
	cr_assert_eq(parent_recv(sv[0], &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_READY, "got %s", msg_name(m.hdr.type));
	cr_assert_str_eq(MSG_BODY(&m, struct msg_ready)->version,
	    RINGCAST_VERSION);
	/* One right after READY, then one a second: wait for two. */
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(parent_recv(sv[0], &m, 5000), 1);
		cr_assert_eq(m.hdr.type, MSG_CAPTURE_STATE, "got %s",
		    msg_name(m.hdr.type));
		cs = MSG_BODY(&m, struct msg_capture_state);
		cr_assert_str_eq(cs->state, "running");
		cr_assert_str_eq(cs->source, "tone");
		cr_assert_eq(cs->epoch, 1);
	}
	close(sv[0]);
	st = tu_wait_exit(pid, STOP_MS);
	forget(pid);
	cr_assert(exited(st, 0), "no clean exit on parent EOF (status %d)", st);
}

/* ringcast-capture ARGS... with the parent channel on 3: our end. */
static int
capture_child(char *const *args, pid_t *pid)
{
	char *argv[16] = { (char *)(uintptr_t)tu_prog("ringcast-capture"),
	    "--parent-fd", "3" };
	int sv[2], dst = MSG_PARENT_FD, n = 3;

	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	cr_assert_eq(msg_channel(sv), 0);
	*pid = spawn(argv, &sv[1], &dst, 1, -1);
	close(sv[1]);
	return sv[0];
}

/*
 * Under the supervisor: the source first (MSG_CAPTURE_OPENED, nothing
 * written yet), then the ring it is passed, then READY and periods.
 */
Test(capture, parent_passes_the_ring_once_the_source_opened, .timeout = 60)
{
	static struct msg m;
	const struct msg_capture_opened *op;
	const char *ring = ring_name("passed");
	struct ring_config rc = { RATE, 3, PERIOD, 0 };
	struct msg_capture_ring r = { 3 };
	char *args[] = { "--channels", "3", NULL };
	struct reader rd;
	int chan, fd, st;
	pid_t pid;

	cr_assert_eq(ring_create(ring, &rc), RING_OK);
	cr_assert_geq(fd = shm_open(ring, O_RDWR | O_CLOEXEC, 0), 0);
	reader_open(&rd, ring);
	chan = capture_child(args, &pid);
	cr_assert_eq(parent_recv(chan, &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_CAPTURE_OPENED, "got %s",
	    msg_name(m.hdr.type));
	op = MSG_BODY(&m, struct msg_capture_opened);
	cr_assert(op->error[0] == '\0' && strcmp(op->source, "tone") == 0 &&
	    op->channels == 3, "%s %s %u", op->error, op->source, op->channels);
	cr_assert_eq(atomic_load(&rd.h->write_seq), 0, "written before the "
	    "ring was passed");
	cr_assert_eq(msg_send(chan, ROLE_SUPERVISOR, MSG_CAPTURE_RING, &r,
	    sizeof(r), NULL, 0, fd), 0);
	close(fd);
	cr_assert_eq(parent_recv(chan, &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_READY, "got %s", msg_name(m.hdr.type));
	cr_assert_gt(atomic_load(&rd.h->write_seq), 0);
	cr_assert_eq(atomic_load(&rd.h->epoch), 1);
	/* The state report right after READY: read, so that close is EOF. */
	cr_assert_eq(parent_recv(chan, &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_CAPTURE_STATE);
	close(chan);
	st = tu_wait_exit(pid, STOP_MS);
	forget(pid);
	cr_assert(exited(st, 0), "no clean exit on parent EOF (status %d)", st);
	reader_close(&rd);
}

/* A source that does not open: the parent hears why, then exit 1. */
Test(capture, parent_hears_why_the_source_did_not_open, .timeout = 60)
{
	static struct msg m;
	const struct msg_capture_opened *op;
	char *args[] = { "--source", "portaudio:rc-no-such-device", NULL };
	int chan, st;
	pid_t pid;

	chan = capture_child(args, &pid);
	cr_assert_eq(parent_recv(chan, &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_CAPTURE_OPENED);
	op = MSG_BODY(&m, struct msg_capture_opened);
	cr_assert(strstr(op->error, "rc-no-such-device") != NULL &&
	    op->channels == 0, "%s", op->error);
	st = tu_wait_exit(pid, STOP_MS);
	forget(pid);
	cr_assert(exited(st, 1), "status %d", st);
	close(chan);
}

Test(capture, list_devices_to_the_parent, .timeout = 60)
{
	static struct msg m;
	char *args[] = { "--list-devices", NULL };
	int chan, st;
	pid_t pid;

	chan = capture_child(args, &pid);
	cr_assert_eq(parent_recv(chan, &m, READY_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_CAPTURE_DEVICES, "got %s",
	    msg_name(m.hdr.type));
	cr_assert_str_eq(MSG_BODY(&m, struct msg_capture_devices)->error, "");
	st = tu_wait_exit(pid, STOP_MS);
	forget(pid);
	cr_assert(exited(st, 0), "status %d", st);
	close(chan);
}

/* ---- PortAudio through a private JACK server (dummy driver) ---- */

/* Loudest sample and periods per second over about 1.5 s of the ring. */
static void
measure(struct reader *rd, float *peak, double *rate)
{
	struct ring_period info;
	uint64_t t0 = clock_mono_ns(), s0 = atomic_load(&rd->h->write_seq), lost;
	size_t i, n = ring_period_floats(rd->h);

	*peak = 0.0f;
	do {
		if (reader_next(rd, &info, &lost) != RING_READ_OK)
			continue;
		for (i = 0; i < n; i++)
			if (fabsf(rd->buf[i]) > *peak)
				*peak = fabsf(rd->buf[i]);
	} while (clock_mono_ns() - t0 < 1500000000ull);
	*rate = (double)(atomic_load(&rd->h->write_seq) - s0) * 1e9 /
	    (double)(clock_mono_ns() - t0);
}

Test(capture, portaudio_through_jack_dummy, .timeout = 120)
{
	const char *ring = ring_name("jack");
	const char *args[] = { "--source", "portaudio:system", "--channels",
	    "2", NULL };
	const char *list[] = { "--list-devices", NULL };
	char metro[128], in0[128], in1[128], out[8192], err[4096];
	struct reader rd;
	double rate;
	float peak;
	pid_t pid;

	cr_assert(jack_start(&J, 2, 20000, err, sizeof(err)) == 0, "%s", err);
	cr_assert(exited(run_capture(list, out, sizeof(out)), 0), "%s", out);
	cr_assert(strstr(out, "\tsystem\tJACK") != NULL, "%s", out);
	cr_assert(jack_metro_start(&J) == 0);
	pid = capture_start(ring, args);
	snprintf(metro, sizeof(metro), "%s:", J.metro);
	cr_assert(jack_port_wait(metro, 0, metro, sizeof(metro), 15000) == 0,
	    "ports missing:\n%s", metro);
	cr_assert(jack_port_wait("ringcast-capture:", 0, in0, sizeof(in0),
	    15000) == 0, "ports missing:\n%s", in0);
	cr_assert(jack_port_wait("ringcast-capture:", 1, in1, sizeof(in1),
	    15000) == 0, "ports missing:\n%s", in1);
	cr_assert(jack_connect(metro, in0, err, sizeof(err)) == 0, "%s", err);
	cr_assert(jack_connect(metro, in1, err, sizeof(err)) == 0, "%s", err);
	reader_open(&rd, ring);
	cr_assert_eq(rd.h->channels, 2);
	measure(&rd, &peak, &rate);
	cr_assert(peak > 0.05f, "the metronome is not in the ring (peak %f)",
	    peak);
	cr_assert(rate > 0.8 * RATE / PERIOD && rate < 1.2 * RATE / PERIOD,
	    "%.1f periods/s, want %u", rate, RATE / PERIOD);
	capture_stop_ok(pid);
	jack_stop(&J);
	reader_close(&rd);
}
