/* test_listen.c — `ringcast listen` against a scripted server on loopback. */
#define _GNU_SOURCE	/* pipe2, accept4 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <math.h>

#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <sndfile.h>

#include "shared/clock.h"
#include "shared/proto.h"
#include "tests/lib/tu.h"

#define T_RATE		48000
#define T_FRAMES	64
#define T_PACKETS	750		/* one second of 64-frame periods */
#define T_GAP_AT	300		/* two periods go missing before this */

static pid_t client = -1;
static int client_out = -1;		/* the client's stdout */
static int lfd = -1;			/* our listening socket */
static char wav[2][128];

/* The program under test, as a mutable string for argv. */
static char *
ringcast(void)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s", tu_prog("ringcast"));
	return path;
}

static void
teardown(void)
{
	tu_run_end(&client, &client_out);
	if (lfd >= 0)
		close(lfd);
	unlink(wav[0]);
	unlink(wav[1]);
}

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int
srv_listen(void)
{
	int port;

	cr_assert((lfd = tu_tcp_listen(8, &port)) >= 0);
	return port;
}

static int
srv_accept(int timeout_ms)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int fd;

	cr_assert(poll(&pfd, 1, timeout_ms) == 1, "the client never connected");
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	cr_assert(fd >= 0);
	return fd;
}

/* Read exactly n bytes before the deadline: 1, or 0 on EOF/timeout. */
static int
recv_exact(int fd, void *buf, size_t n, uint64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t *p = buf;
	ssize_t r;

	while (n > 0) {
		uint64_t now = clock_mono_ms();

		if (now >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now)) != 1)
			return 0;
		if ((r = read(fd, p, n)) <= 0)
			return 0;
		p += r;
		n -= r;
	}
	return 1;
}

/* The next control message from the client, as JSON. */
static json_t *
recv_control(int fd, enum proto_ctl *type)
{
	uint8_t hb[PROTO_HDR_LEN], *pl;
	struct proto_hdr h;
	json_t *obj;

	cr_assert(recv_exact(fd, hb, sizeof(hb), clock_mono_ms() + 10000),
	    "no message from the client");
	cr_assert_eq(proto_hdr_decode(hb, &h), PROTO_OK);
	cr_assert_eq(h.type, PROTO_TYPE_CONTROL);
	cr_assert_eq(h.version, PROTO_VERSION);
	cr_assert(h.length <= PROTO_CONTROL_MAX);
	pl = malloc(h.length);
	cr_assert(recv_exact(fd, pl, h.length, clock_mono_ms() + 10000));
	cr_assert_eq(proto_control_parse(pl, h.length, &obj, type), PROTO_OK);
	free(pl);
	return obj;
}

static void
send_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		cr_assert(n > 0, "send: %s", strerror(errno));
		p += n;
		len -= n;
	}
}

static void
send_control(int fd, json_t *obj)
{
	uint8_t *buf;
	size_t len;

	cr_assert_eq(proto_control_encode(obj, false, &buf, &len), PROTO_OK);
	send_all(fd, buf, len);
	free(buf);
	json_decref(obj);
}

static void
send_greeting(int fd, const char *channels)
{
	send_control(fd, json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:i, "
	    "s:b, s:b}", "type", "handshake_response", "server_version", "test",
	    "protocol_version", 2, "sample_rate", T_RATE, "max_channels", 8,
	    "status", "ready_rf", "server_blocksize", T_FRAMES,
	    "state_restored", 0, "is_reconnection", 0));
	send_control(fd, json_pack("{s:s, s:o, s:f}", "type", "mix_state",
	    "channels", json_loads(channels, 0, NULL), "master_gain", 1.0));
}

/* The known int16 content: frame f of channel slot k. */
static int16_t
t_sample(uint32_t f, uint32_t k)
{
	return (int16_t)(uint16_t)(f * 37 + k * 12345 + 7);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	uint32_t be = htonl(v);

	memcpy(p, &be, sizeof(be));
}

/* One int16 audio packet; frames counts the frames sent so far. */
static void
send_int16(int fd, uint64_t pos, uint32_t mask, uint32_t nch, uint32_t first)
{
	uint8_t buf[PROTO_HDR_LEN + 12 + T_FRAMES * 8 * 2], *p;
	struct proto_hdr h = { .magic = PROTO_MAGIC, .version = PROTO_VERSION,
	    .type = PROTO_TYPE_AUDIO, .flags = PROTO_FLAG_INT16 };
	uint32_t f, k;

	h.length = 12 + T_FRAMES * nch * 2;
	proto_hdr_encode(buf, &h);
	p = buf + PROTO_HDR_LEN;
	put_be32(p, pos >> 32);
	put_be32(p + 4, (uint32_t)pos);
	put_be32(p + 8, mask);
	p += 12;
	for (f = 0; f < T_FRAMES; f++)
		for (k = 0; k < nch; k++, p += 2) {
			uint16_t v = (uint16_t)t_sample(first + f, k);

			p[0] = v >> 8;
			p[1] = v;
		}
	send_all(fd, buf, PROTO_HDR_LEN + h.length);
}

static void
spawn(char **argv)
{
	client = tu_spawn(argv, STDOUT_FILENO, &client_out);
	cr_assert(client > 0);
}

/*
 * Start `ringcast listen 127.0.0.1:PORT ARGS...` against our listening
 * socket and accept its connection: our end of it.
 */
static int
start(const char *const *args)
{
	char port[32], *argv[24];
	int n = 0;

	snprintf(port, sizeof(port), "127.0.0.1:%d", srv_listen());
	argv[n++] = ringcast();
	argv[n++] = "listen";
	argv[n++] = port;
	while (*args != NULL && n < 23)
		argv[n++] = (char *)(uintptr_t)*args++;
	argv[n] = NULL;
	spawn(argv);
	return srv_accept(15000);
}

/* Wait for the client's exit and collect its stdout. */
static int
finish(char *out, size_t len, int timeout_ms)
{
	int st = tu_wait_exit(client, timeout_ms);
	ssize_t n;
	size_t have = 0;

	cr_assert(st != -1, "the client did not exit in time");
	client = -1;
	while (have < len - 1 &&
	    (n = read(client_out, out + have, len - 1 - have)) > 0)
		have += n;
	out[have] = '\0';
	cr_assert(WIFEXITED(st), "the client died: status %d", st);
	return WEXITSTATUS(st);
}

static void
check_hello(json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "client_id"));

	cr_assert_str_eq(json_string_value(json_object_get(o, "client_type")),
	    "linux");
	cr_assert(id != NULL && strlen(id) == 36 && id[14] == '4' &&
	    strchr("89ab", id[19]) != NULL, "client_id %s", id ? id : "-");
	cr_assert_eq(json_integer_value(json_object_get(o,
	    "protocol_version")), 2);
	cr_assert(json_is_false(json_object_get(o, "rf_mode")));
	cr_assert(json_is_true(json_object_get(o, "persistent")));
	cr_assert(json_is_true(json_object_get(o, "auto_reconnect")));
	cr_assert(json_is_true(json_object_get(o, "optimized")));
}

TestSuite(listen, .fini = teardown, .timeout = 60);

Test(listen, records_int16_and_counts_lost_periods)
{
	char out[4096];
	enum proto_ctl t;
	uint32_t i, f, k;
	json_t *o, *want;
	int fd;

	snprintf(wav[0], sizeof(wav[0]), "/tmp%s.wav", tu_name("rec"));
	fd = start((const char *const[]){ "--once", "--channels", "1,2",
	    "--seconds", "1", "--out", wav[0], NULL });

	o = recv_control(fd, &t);
	cr_assert_eq(t, PROTO_CTL_HANDSHAKE);
	check_hello(o);
	cr_assert_null(json_object_get(o, "device_uuid"));
	cr_assert_null(json_object_get(o, "audio_format"));
	json_decref(o);
	o = recv_control(fd, &t);
	cr_assert_eq(t, PROTO_CTL_UPDATE_MIX);
	want = json_pack("[i, i]", 1, 2);
	cr_assert(json_equal(json_object_get(o, "channels"), want));
	json_decref(want);
	json_decref(o);

	send_greeting(fd, "[1, 2]");
	for (i = 0; i < T_PACKETS; i++)
		send_int16(fd, (uint64_t)(i + 1) * T_FRAMES +
		    (i >= T_GAP_AT ? 2 * T_FRAMES : 0), 0x6, 2, i * T_FRAMES);
	close(fd);

	cr_assert_eq(finish(out, sizeof(out), 15000), 0, "output: %s", out);
	cr_assert(strstr(out, "lost periods: 2\n") != NULL, "%s", out);
	cr_assert(strstr(out, "packets: 750\n") != NULL, "%s", out);
	cr_assert(strstr(out, "frames: 48000\n") != NULL, "%s", out);

	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(wav[0], SFM_READ, &info);
	int16_t *pcm = malloc(T_RATE * 2 * sizeof(*pcm));

	cr_assert_not_null(sf, "%s: %s", wav[0], sf_strerror(NULL));
	cr_assert_eq(info.channels, 2);
	cr_assert_eq(info.samplerate, T_RATE);
	cr_assert_eq(info.frames, T_RATE);
	cr_assert_eq(info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	cr_assert_eq(sf_readf_short(sf, pcm, T_RATE), T_RATE);
	for (f = 0; f < T_RATE; f++)
		for (k = 0; k < 2; k++)
			cr_assert_eq(pcm[f * 2 + k], t_sample(f, k),
			    "frame %u channel %u", f, k);
	free(pcm);
	sf_close(sf);
}

Test(listen, float32_hello_and_recording)
{
	char out[4096];
	char uuid[] = "0b7c7f9e-3f0a-4d56-9a51-2f1d3c4b5a69";
	float samples[T_FRAMES], got[10 * T_FRAMES];
	uint8_t pkt[PROTO_HDR_LEN + 12 + T_FRAMES * 4];
	uint32_t mask = 1, i, f;
	enum proto_ctl t;
	size_t len;
	json_t *o;
	int fd;

	snprintf(wav[0], sizeof(wav[0]), "/tmp%s.wav", tu_name("f32"));
	fd = start((const char *const[]){ "--float32", "--server-mix",
	    "--packet-frames", "64", "--id", uuid, "--name", "Stage left",
	    "--once", "-q", "--seconds", "0.01" /* 480 frames */, "-o", wav[0],
	    NULL });

	o = recv_control(fd, &t);
	cr_assert_eq(t, PROTO_CTL_HANDSHAKE);
	check_hello(o);
	cr_assert_str_eq(json_string_value(json_object_get(o, "audio_format")),
	    "float32");
	cr_assert(json_is_true(json_object_get(o, "server_mix")));
	cr_assert_eq(json_integer_value(json_object_get(o, "packet_frames")),
	    64);
	cr_assert_str_eq(json_string_value(json_object_get(o, "device_uuid")),
	    uuid);
	cr_assert_str_eq(json_string_value(json_object_get(o, "device_name")),
	    "Stage left");
	json_decref(o);

	/* No --channels: the handshake is all it sends, like the app. */
	send_greeting(fd, "[0]");
	for (i = 0; i < 10; i++) {
		for (f = 0; f < T_FRAMES; f++)
			samples[f] = sinf((i * T_FRAMES + f) * 0.05f) * 0.5f;
		len = proto_audio_encode(pkt, (i + 1) * T_FRAMES, &mask, 1,
		    samples, 1, T_FRAMES, true, false, 0);
		cr_assert_eq(len, sizeof(pkt));
		send_all(fd, pkt, len);
	}
	cr_assert_eq(finish(out, sizeof(out), 15000), 0, "output: %s", out);
	cr_assert(strstr(out, "frames: 480\n") != NULL, "%s", out);
	cr_assert(strstr(out, "lost periods: 0\n") != NULL, "%s", out);
	close(fd);

	SF_INFO info = { 0 };
	SNDFILE *sf = sf_open(wav[0], SFM_READ, &info);

	cr_assert_not_null(sf);
	cr_assert_eq(info.channels, 1);
	cr_assert_eq(info.frames, 480);
	cr_assert_eq(sf_readf_float(sf, got, 10 * T_FRAMES), 480);
	for (f = 0; f < 480; f++)
		cr_assert_float_eq(got[f], sinf(f * 0.05f) * 0.5f, 1.0 / 16384,
		    "frame %u", f);
	sf_close(sf);
}

/* The app's schedule: 1 s, then 1.5 s; the handshake each time. */
Test(listen, reconnect_backoff)
{
	char port[16], out[4096], id[64] = "";
	char *argv[] = { ringcast(), "listen", port, NULL };
	uint64_t at[3];
	enum proto_ctl t;
	json_t *o;
	int i, fd;

	snprintf(port, sizeof(port), "127.0.0.1:%d", srv_listen());
	spawn(argv);
	for (i = 0; i < 3; i++) {
		fd = srv_accept(15000);
		at[i] = clock_mono_ms();
		o = recv_control(fd, &t);
		cr_assert_eq(t, PROTO_CTL_HANDSHAKE);
		if (i == 0)
			snprintf(id, sizeof(id), "%s", json_string_value(
			    json_object_get(o, "client_id")));
		/* One client_id per run, as the app keeps one per launch. */
		cr_assert_str_eq(json_string_value(json_object_get(o,
		    "client_id")), id);
		json_decref(o);
		close(fd);
	}
	cr_assert(at[1] - at[0] >= 900 && at[1] - at[0] < 5000,
	    "first retry after %llu ms", (unsigned long long)(at[1] - at[0]));
	cr_assert(at[2] - at[1] >= 1350 && at[2] - at[1] < 6000,
	    "second retry after %llu ms", (unsigned long long)(at[2] - at[1]));

	/* The next wait is 2.25 s: a signal must cut it short. */
	uint64_t t0 = clock_mono_ms();

	kill(client, SIGTERM);
	cr_assert_eq(finish(out, sizeof(out), 10000), 0);
	cr_assert(clock_mono_ms() - t0 < 1500, "exit took %llu ms",
	    (unsigned long long)(clock_mono_ms() - t0));
	cr_assert(strstr(out, "reconnects: 2\n") != NULL, "%s", out);
}

Test(listen, refused_with_once_fails)
{
	char port[16], out[4096];
	char *argv[] = { ringcast(), "listen", port,
	    "--once", NULL };

	/* A port that was just free: nothing listens there now. */
	snprintf(port, sizeof(port), "127.0.0.1:%d", srv_listen());
	close(lfd);
	lfd = -1;
	spawn(argv);
	cr_assert_eq(finish(out, sizeof(out), 10000), 1);
}

Test(listen, bad_options_fail)
{
	static char *bad[][3] = {
		{ "--channels", "5-2", NULL }, { "--channels", "1,,2", NULL },
		{ "--channels", "256", NULL }, { "--seconds", "-1", NULL },
		{ "--seconds", "x", NULL }, { "--packet-frames", "0", NULL },
		{ "--bogus", NULL, NULL }, { "host:port", NULL, NULL },
		{ "::1", NULL, NULL }, { "a", "b", NULL },
	};
	char out[4096], *argv[8];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		argv[0] = ringcast();
		argv[1] = "listen";
		argv[2] = bad[i][0];
		argv[3] = bad[i][1];
		argv[4] = bad[i][1] ? "--once" : NULL;
		argv[5] = NULL;
		spawn(argv);
		cr_assert_eq(finish(out, sizeof(out), 10000), 1, "case %zu", i);
		close(client_out);
		client_out = -1;
	}
	argv[2] = "--help";
	argv[3] = NULL;
	spawn(argv);
	cr_assert_eq(finish(out, sizeof(out), 10000), 0);
	cr_assert(strstr(out, "usage: ringcast listen") != NULL);
}

/* Three bad magics in a row: the stream is broken, the client hangs up. */
Test(listen, bad_magic_breaks_the_stream)
{
	char out[4096], junk[3 * PROTO_HDR_LEN], c;
	enum proto_ctl t;
	int fd = start((const char *const[]){ "--once", "-q", NULL });

	json_decref(recv_control(fd, &t));
	send_greeting(fd, "[0]");
	memset(junk, 0x55, sizeof(junk));
	send_all(fd, junk, sizeof(junk));
	cr_assert(!recv_exact(fd, &c, 1, clock_mono_ms() + 10000));
	cr_assert_eq(finish(out, sizeof(out), 10000), 1);
	close(fd);
}

/* A new channel count mid-stream goes on in a second file. */
Test(listen, layout_change_starts_a_new_file)
{
	char out[4096];
	enum proto_ctl t;
	uint32_t i;
	SF_INFO info = { 0 };
	SNDFILE *sf;
	int fd;

	snprintf(wav[0], sizeof(wav[0]), "/tmp%s.wav", tu_name("lay"));
	snprintf(wav[1], sizeof(wav[1]), "/tmp%s-2.wav", tu_name("lay"));
	fd = start((const char *const[]){ "--once", "-q", "--out", wav[0],
	    NULL });
	json_decref(recv_control(fd, &t));
	send_greeting(fd, "[1, 2]");
	for (i = 0; i < 20; i++)
		send_int16(fd, (i + 1) * T_FRAMES, i < 10 ? 0x6 : 0xe,
		    i < 10 ? 2 : 3, i * T_FRAMES);
	close(fd);
	cr_assert_eq(finish(out, sizeof(out), 15000), 0, "%s", out);
	cr_assert(strstr(out, "frames: 1280\n") != NULL, "%s", out);

	cr_assert_not_null(sf = sf_open(wav[0], SFM_READ, &info));
	cr_assert_eq(info.channels, 2);
	cr_assert_eq(info.frames, 10 * T_FRAMES);
	sf_close(sf);
	cr_assert_not_null(sf = sf_open(wav[1], SFM_READ, &info));
	cr_assert_eq(info.channels, 3);
	cr_assert_eq(info.frames, 10 * T_FRAMES);
	sf_close(sf);
}

/*
 * --play through PortAudio into JACK's dummy backend: a real output device
 * without sound hardware.  The stream is sent in one burst, so most of it
 * is dropped by design (the playback buffer holds 100 ms).
 */
Test(listen, plays_through_jack_dummy)
{
	const char *server = tu_name("jack") + 1;
	char out[4096], srv[64];
	char *jack[] = { "/usr/bin/jackd", "--no-realtime", "-n", srv, "-d",
	    "dummy", "-r", "48000", "-p", "64", NULL };
	char *waiter[] = { "/usr/bin/jack_wait", "-w", "-s", srv, "-t", "20",
	    NULL };
	enum proto_ctl t;
	unsigned long long played = 0;
	pid_t jackd, w;
	uint32_t i;
	int fd;

	cr_assert_eq(access(jack[0], X_OK), 0, "jackd is not installed");
	snprintf(srv, sizeof(srv), "%s", server);
	setenv("JACK_DEFAULT_SERVER", srv, 1);
	setenv("JACK_NO_AUDIO_RESERVATION", "1", 1);
	jackd = tu_spawn(jack, -1, NULL);
	cr_assert(jackd > 0);
	/* Readiness: jack_wait returns once the server accepts clients. */
	w = tu_spawn(waiter, -1, NULL);
	int st = tu_wait_exit(w, 25000);

	if (st == -1)
		tu_stop(w, 1000);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		tu_stop(jackd, 3000);
		cr_assert_fail("jackd did not start");
	}
	fd = start((const char *const[]){ "--once", "--play", "--channels",
	    "0,1", "--seconds", "0.5", NULL });
	json_decref(recv_control(fd, &t));
	json_decref(recv_control(fd, &t));
	send_greeting(fd, "[0, 1]");
	for (i = 0; i < 375; i++)
		send_int16(fd, (i + 1) * T_FRAMES, 0x3, 2, i * T_FRAMES);
	int rc = finish(out, sizeof(out), 20000);

	close(fd);
	tu_stop(jackd, 5000);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "frames: 24000\n") != NULL, "%s", out);
	/* The callback ran and took audio from the playback buffer. */
	cr_assert(sscanf(strstr(out, "playback: ") ? strstr(out, "playback: ") :
	    "", "playback: %llu frames played", &played) == 1, "%s", out);
	cr_assert(played > 0, "%s", out);
}

/* Wait until the WAV file being written holds `frames` frames. */
static int
wait_wav_frames(const char *path, sf_count_t frames, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + timeout_ms;
	char ev[4096];
	SF_INFO info;
	SNDFILE *sf;
	int in, ok = 0;

	in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	cr_assert(in >= 0);
	cr_assert(inotify_add_watch(in, "/tmp", IN_MODIFY | IN_CREATE) >= 0);
	while (!ok && clock_mono_ms() < end) {
		memset(&info, 0, sizeof(info));
		if ((sf = sf_open(path, SFM_READ, &info)) != NULL) {
			ok = info.frames == frames;
			sf_close(sf);
		}
		if (!ok) {
			struct pollfd pfd = { .fd = in, .events = POLLIN };

			uint64_t now = clock_mono_ms();

			/* Events queue up from before the check: no race. */
			(void)poll(&pfd, 1, now < end ? (int)(end - now) : 0);
			while (read(in, ev, sizeof(ev)) > 0)
				;
		}
	}
	close(in);
	return ok;
}

/* Start an endless recording and feed it 100 packets. */
static int
start_recording(const char *tag)
{
	enum proto_ctl t;
	uint32_t i;
	int fd;

	snprintf(wav[0], sizeof(wav[0]), "/tmp%s.wav", tu_name(tag));
	fd = start((const char *const[]){ "-q", "--out", wav[0], NULL });
	json_decref(recv_control(fd, &t));
	send_greeting(fd, "[1, 2]");
	for (i = 0; i < 100; i++)
		send_int16(fd, (i + 1) * T_FRAMES, 0x6, 2, i * T_FRAMES);
	cr_assert(wait_wav_frames(wav[0], 100 * T_FRAMES, 10000),
	    "the recording did not reach 100 packets");
	return fd;
}

/* The header is kept current: a killed recorder leaves a valid file. */
Test(listen, killed_recording_is_valid)
{
	SF_INFO info = { 0 };
	int16_t pcm[2 * 100 * T_FRAMES];
	SNDFILE *sf;
	uint32_t f;
	int fd = start_recording("kill");

	kill(client, SIGKILL);
	cr_assert(tu_wait_exit(client, 10000) != -1);
	client = -1;
	close(fd);
	cr_assert_not_null(sf = sf_open(wav[0], SFM_READ, &info));
	cr_assert_eq(info.frames, 100 * T_FRAMES);
	cr_assert_eq(sf_readf_short(sf, pcm, 100 * T_FRAMES), 100 * T_FRAMES);
	for (f = 0; f < 100 * T_FRAMES; f++)
		cr_assert_eq(pcm[2 * f + 1], t_sample(f, 1), "frame %u", f);
	sf_close(sf);
}

/* SIGINT mid-stream: a normal stop, with the summary. */
Test(listen, sigint_stops_with_summary)
{
	char out[4096];
	int fd = start_recording("int");

	kill(client, SIGINT);
	cr_assert_eq(finish(out, sizeof(out), 10000), 0, "%s", out);
	cr_assert(strstr(out, "frames: 6400\n") != NULL, "%s", out);
	cr_assert(strstr(out, "packets: 100\n") != NULL, "%s", out);
	close(fd);
}
