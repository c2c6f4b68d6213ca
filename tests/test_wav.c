/* test_wav.c — GET /stream.wav end to end: ffmpeg decodes it, the API lists it, a stalled player harms nobody. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/socket.h>

#include <math.h>
#include <poll.h>
#include <signal.h>

#include <criterion/criterion.h>

#include "shared/clock.h"
#include "shared/tone.h"
#include "tests/lib/e2e.h"

#define WAIT_MS		E2E_WAIT_MS
#define FF_MS		30000	/* ffmpeg's whole run, 3 s of audio */
#define RATE		48000
#define STALL_MS	1000

static pid_t ff_pid;
static int player = -1;

static const char *const opts[] = { "--stall-ms", "1000", NULL };

#define check(cond, ...)	e2e_check(cond, __VA_ARGS__)

static void
setup(void)
{
	e2e_setup();
	ff_pid = 0;
	e2e_up("wav", opts);
}

static void
teardown(void)
{
	if (ff_pid > 0)
		tu_stop(ff_pid, 0);
	ff_pid = 0;
	if (player >= 0)
		close(player);
	player = -1;
	e2e_teardown();
}

TestSuite(wav, .init = setup, .fini = teardown, .timeout = 120);

/*
 * Run a program, its stdout into buf (at most cap bytes), within
 * timeout_ms; the byte count, or -1 if it failed or overran.
 */
static ssize_t
run_output(const char *const argv[], uint8_t *buf, size_t cap, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms, now;
	size_t have;
	int fd, st;

	if ((ff_pid = tu_spawn((char *const *)(uintptr_t)argv, 1, &fd)) == -1)
		return -1;
	have = tu_read_all(fd, buf, cap, timeout_ms);
	close(fd);
	now = clock_mono_ms();
	st = tu_wait_exit(ff_pid, now < end ? (int)(end - now) : 1);
	if (st == -1)
		return -1;	/* the teardown ends it */
	ff_pid = 0;
	return (ssize_t)have;
}

static void
url(char *buf, size_t len, const char *query)
{
	snprintf(buf, len, "http://127.0.0.1:%d/stream.wav?%s", E.d.http_port,
	    query);
}

/* ffprobe's view of the stream: codec, rate, channel count. */
static void
probe(const char *query, int want_channels)
{
	static uint8_t out[16384];
	const char *argv[] = { "ffprobe", "-v", "error", "-show_streams",
	    "-of", "json", NULL, NULL };
	char u[256];
	json_t *o, *st;
	ssize_t n;

	url(u, sizeof(u), query);
	argv[6] = u;
	n = run_output(argv, out, sizeof(out) - 1, FF_MS);
	check(n > 0, "ffprobe %s failed", u);
	out[n] = '\0';
	o = json_loads((char *)out, 0, NULL);
	st = json_array_get(json_object_get(o, "streams"), 0);
	check(st != NULL, "ffprobe: no stream in %s", out);
	check(strcmp(json_string_value(json_object_get(st, "codec_name")),
	    "pcm_s16le") == 0, "codec %s", out);
	check(strcmp(json_string_value(json_object_get(st, "sample_rate")),
	    "48000") == 0, "rate %s", out);
	check(json_integer_value(json_object_get(st, "channels")) ==
	    want_channels, "channels %s", out);
	json_decref(o);
}

/* seconds of the stream as raw s16le from ffmpeg; the byte count. */
static ssize_t
decode(const char *query, int seconds, uint8_t *buf, size_t cap)
{
	char u[256], t[16];
	const char *argv[] = { "ffmpeg", "-nostdin", "-v", "error", "-t", t,
	    "-i", NULL, "-f", "s16le", "-", NULL };

	url(u, sizeof(u), query);
	snprintf(t, sizeof(t), "%d", seconds);
	argv[7] = u;
	return run_output(argv, buf, cap, FF_MS);
}

static int16_t
expect16(uint32_t ch, uint64_t frame)
{
	return (int16_t)lround(tone_sample(ch, frame, RATE) * 32767.0);
}

static int
sample_at(const uint8_t *pcm, size_t frame, int nch, int i)
{
	const uint8_t *p = pcm + (frame * (size_t)nch + (size_t)i) * 2;

	return (int16_t)(p[0] | p[1] << 8);
}

/*
 * Every frame is the tone of its channel at consecutive frame indexes:
 * find the index of the first frame, then check them all (±1 LSB).
 */
static void
matches_tone(const uint8_t *pcm, size_t frames, const uint32_t *chs, int nch)
{
	uint64_t n0;
	size_t f, bad = 0;
	int i;

	for (n0 = 0; n0 < RATE; n0++) {
		for (f = 0; f < 64; f++)
			for (i = 0; i < nch; i++)
				if (abs(sample_at(pcm, f, nch, i) -
				    expect16(chs[i], n0 + f)) > 1)
					goto next;
		break;
next:		;
	}
	check(n0 < RATE, "the first frames are not the tone");
	for (f = 0; f < frames; f++)
		for (i = 0; i < nch; i++)
			if (abs(sample_at(pcm, f, nch, i) - expect16(chs[i],
			    n0 + f)) > 1)
				bad++;
	check(bad == 0, "%zu of %zu samples differ from the tone (a gap?)",
	    bad, frames * (size_t)nch);
}

Test(wav, ffmpeg_decodes_3s_of_two_channels_as_the_tone)
{
	static uint8_t pcm[3 * RATE * 2 * 2 + 4096];
	const uint32_t chs[] = { 0, 1 };
	ssize_t n;

	probe("channels=0,1", 2);
	n = decode("channels=0,1", 3, pcm, sizeof(pcm));
	check(n == 3 * RATE * 2 * 2, "ffmpeg gave %zd bytes, not %d", n,
	    3 * RATE * 2 * 2);
	matches_tone(pcm, 3 * RATE, chs, 2);
}

Test(wav, four_channels_and_a_server_mix)
{
	static uint8_t pcm[3 * RATE * 4 * 2 + 4096];
	const uint32_t chs[] = { 0, 1, 2, 3 };
	double sum = 0;
	ssize_t n, i;

	probe("channels=0,1,2,3", 4);
	n = decode("channels=0,1,2,3", 1, pcm, sizeof(pcm));
	check(n == RATE * 4 * 2, "4 channels: %zd bytes", n);
	matches_tone(pcm, RATE, chs, 4);
	probe("mix=1", 2);
	n = decode("mix=1&channels=0,2", 1, pcm, sizeof(pcm));
	check(n == RATE * 2 * 2, "mix: %zd bytes", n);
	for (i = 0; i < n / 2; i++)
		sum += pow(sample_at(pcm, (size_t)i, 1, 0) / 32768.0, 2);
	cr_log_info("mix=1: RMS %.3f", sqrt(sum / (double)(n / 2)));
	check(sqrt(sum / (double)(n / 2)) > 0.05, "the mix is silent");
}

Test(wav, bad_queries_are_answered_400)
{
	static const char *const bad[] = {
		"/stream.wav", "/stream.wav?channels=abc",
		"/stream.wav?channels=0,99", "/stream.wav?channels=1,1",
		"/stream.wav?channels=0&mix=2", "/stream.wav?channels=-1",
		"/stream.wav?channels=0,,1",
	};
	size_t i;
	char *r;
	int st;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		st = http_req(E.d.http_port, "GET", bad[i], NULL, &r, WAIT_MS);
		check(st == 400 && r != NULL && strstr(r, "\"error\"") != NULL,
		    "%s: %d %s", bad[i], st, r ? r : "");
		free(r);
	}
}

/* A player that sends its request and reads the headers, then what it likes. */
static int
open_player(const char *query, size_t read_bytes)
{
	char req[256], buf[4096];
	size_t got = 0;
	ssize_t r;
	int fd, n;

	fd = v2_connect(E.d.http_port, 0, WAIT_MS);
	cr_assert(fd >= 0, "connect");
	n = snprintf(req, sizeof(req), "GET /stream.wav?%s HTTP/1.1\r\n"
	    "Host: x\r\n\r\n", query);
	cr_assert(v2_write_all(fd, req, (size_t)n) == 0);
	while (got < read_bytes) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		check(poll(&pfd, 1, WAIT_MS) == 1, "no WAV data");
		r = read(fd, buf, sizeof(buf));
		check(r > 0, "WAV stream closed");
		if (got == 0)
			check(strncmp(buf, "HTTP/1.0 200", 12) == 0,
			    "response %.40s", buf);
		got += (size_t)r;
	}
	return fd;
}

/* The wav entries of /api/clients. */
static int
wav_entries(void)
{
	json_t *o = http_get(E.d.http_port, "/api/clients");
	json_t *e;
	size_t i;
	int n = 0;

	check(o != NULL, "GET /api/clients");
	json_array_foreach(json_object_get(o, "clients"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "kind")),
		    "wav") == 0 && json_is_true(json_object_get(e, "connected")))
			n++;
	json_decref(o);
	return n;
}

/* Poll the API until the number of WAV listeners is want, or time out. */
static bool
wav_count_becomes(int want, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;

	while (clock_mono_ms() < end)
		if (wav_entries() == want)
			return true;
	return false;
}

static unsigned long long
disconnects(const char *reason)
{
	char *r, key[96], *p;
	unsigned long long v = 0;

	check(http_req(E.d.http_port, "GET", "/metrics", NULL, &r, WAIT_MS) ==
	    200, "GET /metrics");
	snprintf(key, sizeof(key), "ringcast_disconnects_total{reason=\"%s\"} ",
	    reason);
	if ((p = strstr(r, key)) != NULL)
		v = strtoull(p + strlen(key), NULL, 10);
	free(r);
	return v;
}

/*
 * Hang up as a player does that stops: a FIN, then what is in flight is read
 * until the server closes.  A close() with unread audio would be an RST, and
 * the server would count a reset, not a close.  1 once closed, 0 if not.
 */
static int
hang_up(int fd)
{
	static uint8_t sink[65536];
	uint64_t end = clock_mono_ms() + WAIT_MS, now;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t r;

	shutdown(fd, SHUT_WR);
	while ((now = clock_mono_ms()) < end &&
	    poll(&pfd, 1, (int)(end - now)) == 1)
		if ((r = read(fd, sink, sizeof(sink))) <= 0)
			return r == 0;
	return 0;
}

Test(wav, listed_while_streaming_then_gone)
{
	player = open_player("channels=0", 16384);
	check(wav_entries() == 1, "the WAV listener is not in /api/clients");
	check(hang_up(player), "the WAV stream did not end after the player "
	    "hung up");
	close(player);
	player = -1;
	check(wav_count_becomes(0, WAIT_MS), "the WAV listener stays listed");
	check(disconnects("closed") >= 1, "not counted as closed");
}

Test(wav, a_player_that_stops_reading_is_dropped_alone)
{
	int small = 4096;

	e2e_listen("steady", NULL, 4);
	player = open_player("channels=0,1,2,3,4,5,6,7", 1);
	setsockopt(player, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	/* It never reads again: dropped at the stall limit, alone. */
	check(wav_count_becomes(0, STALL_MS + WAIT_MS), "stalled WAV "
	    "listener not dropped");
	check(disconnects("stalled") >= 1, "not counted as stalled");
	e2e_steady_clean("beside a stalled player");
}
