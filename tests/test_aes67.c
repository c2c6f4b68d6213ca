/* test_aes67.c — AES67 between boxes in network namespaces: ffmpeg and ringcast as each other's peers, loss, hostile packets. */
/*
 * Each test makes its own pair of namespaces (tests/lib/netns.h): box A
 * and box B joined by a veth pair, multicast routed over it, nothing
 * leaving them.  Box A runs ringcastd on its tone and publishes channels
 * 0-7 as one AES67 stream announced by SAP every second; box B runs
 * ringcastd with a network source, or ffmpeg.  Root is needed for the
 * namespaces: without it every test skips with that message.
 */
#include <sys/socket.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/clock.h"
#include "shared/mcast.h"
#include "shared/rtp.h"
#include "shared/sdp.h"
#include "shared/tone.h"
#include "tests/lib/aes67.h"
#include "tests/lib/http.h"
#include "tests/lib/tu.h"

static struct aes67 X;
static pid_t ffmpeg = -1;
static int ffmpeg_out = -1;

static void
teardown(void)
{
	tu_run_end(&ffmpeg, &ffmpeg_out);
	aes67_down(&X);
}

TestSuite(aes67, .fini = teardown, .timeout = 300);

/* A failed check shows both boxes' logs. */
#define check(cond, ...) do {						\
	bool ok_ = (cond);						\
									\
	if (!ok_) {							\
		rcd_dump_log(&X.a, 4000);				\
		rcd_dump_log(&X.b, 4000);				\
	}								\
	cr_assert(ok_, __VA_ARGS__);					\
} while (0)

static void
up(const char *tag)
{
	char why[512];

	if (aes67_up(&X, tag, why, sizeof(why)) == -1)
		cr_skip_test("%s", why);
}

static json_t *
ingest(void)
{
	json_t *st = aes67_get(&X, NETNS_B, "/api/status");
	json_t *in = json_incref(json_object_get(json_object_get(st,
	    "capture"), "ingest"));

	json_decref(st);
	return in;
}

static long long
ingest_int(const char *key)
{
	json_t *in = ingest();
	long long v = json_integer_value(json_object_get(in, key));

	json_decref(in);
	return v;
}

/* Until B's ingest counter key reaches at least v: 1, or 0. */
static int
ingest_reaches(const char *key, long long v, int timeout_ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)timeout_ms;

	while (clock_mono_ms() < end) {
		if (ingest_int(key) >= v)
			return 1;
		tu_sleep_until(clock_mono_ns() + 100000000ull);
	}
	return 0;
}

/* ---- ffmpeg hears ringcast ---- */

static const json_t *
stream0(json_t *pub)
{
	return json_array_get(json_object_get(pub, "streams"), 0);
}

/* A child under no_new_privs and, unless built with SANDBOX=0, its seccomp list. */
static void
confined(pid_t pid, const char *who)
{
	check(tu_proc_field(pid, "status", "NoNewPrivs") == 1,
	    "%s without no_new_privs", who);
#if RINGCAST_SANDBOX
	check(tu_proc_field(pid, "status", "Seccomp") == 2,
	    "%s without its seccomp list", who);
#endif
}

/* The publisher of A, sandboxed like a session: no_new_privs, seccomp, --user, chroot. */
static void
publisher_confined(json_t *pub)
{
	pid_t pid = (pid_t)json_integer_value(json_object_get(stream0(pub),
	    "pid"));
	char link[64], root[256] = "";
	ssize_t n;

	check(pid > 0, "no publisher pid");
	confined(pid, "publisher");
	check(tu_proc_field(pid, "status", "Uid") == 65534,
	    "publisher not dropped to nobody");
	snprintf(link, sizeof(link), "/proc/%d/root", (int)pid);
	n = readlink(link, root, sizeof(root) - 1);
	root[n > 0 ? n : 0] = '\0';
	check(strstr(root, "/empty") != NULL, "publisher root is %s", root);
}

/* 2 s from ffmpeg's sap:// input, as 24-bit raw: A's tone, consecutive. */
static void
tone_in(const uint8_t *raw, size_t frames)
{
	int64_t n0;
	size_t i, bad = 0;
	uint32_t c;
	int32_t v;

	for (n0 = 0; n0 < 192; n0++) {
		for (i = 0, bad = 0; i < frames && bad == 0; i++)
			for (c = 0; c < AES67_NCH; c++) {
				const uint8_t *p = raw + (i * AES67_NCH + c) * 3;

				v = (int32_t)((uint32_t)p[2] << 24 |
				    (uint32_t)p[1] << 16 | (uint32_t)p[0] << 8) >> 8;
				bad += (float)v / 8388608.0f != X.tone[tone_index(
				    c, (uint64_t)n0 + i, AES67_RATE)];
			}
		if (bad == 0)
			break;
	}
	check(n0 < 192, "ffmpeg's samples are not A's tone at consecutive "
	    "positions");
}

/* A stops: its last word on SAP is the deletion of its session. */
static void
deleted_at_stop(void)
{
	static uint8_t p[SAP_MAX + 256];
	uint64_t end = clock_mono_ms() + AES67_WAIT_MS;
	struct pollfd pfd;
	struct sdp_stream s;
	struct sap_msg m;
	char err[256];
	ssize_t n;
	int fd, st;

	fd = mcast_receiver(inet_addr(SAP_GROUP), SAP_PORT, 0,
	    X.ns.ifname[NETNS_B], err, sizeof(err));
	check(fd >= 0, "SAP socket: %s", err);
	st = rcd_stop(&X.a, 10000);
	check(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "A did not stop cleanly: 0x%x", st);
	pfd = (struct pollfd){ .fd = fd, .events = POLLIN };
	while (clock_mono_ms() < end && poll(&pfd, 1, 1000) >= 0) {
		if ((n = recv(fd, p, sizeof(p), MSG_DONTWAIT)) <= 0 ||
		    sap_decode(p, (size_t)n, &m) != SDP_OK || !m.deletion)
			continue;
		check(sdp_parse(m.sdp, m.sdp_len, &s, err, sizeof(err)) ==
		    SDP_OK && strcmp(s.name, AES67_NAME) == 0,
		    "a deletion of another session");
		close(fd);
		return;
	}
	close(fd);
	check(false, "no SAP deletion when A stopped");
}

Test(aes67, ffmpeg_finds_the_stream_by_sap_and_decodes_it)
{
	const char *user[] = { "--user", "nobody", NULL };
	char path[256], out[16384];
	const char *argv[] = { "timeout", "-k", "5", "60", "ffmpeg", "-nostdin",
	    "-hide_banner", "-y", "-i", "sap://239.255.255.255:9875", "-t",
	    "2", "-f", "s24le", "-c:a", "pcm_s24le", path, NULL };
	static uint8_t raw[96000 * AES67_NCH * 3 + 1];
	json_t *pub;
	size_t n;
	FILE *f;
	int rc;

	up("ff");
	check(aes67_start_a(&X, user) == 0, "A did not start");
	check((pub = aes67_get(&X, NETNS_A, "/api/publish")) != NULL,
	    "GET /api/publish");
	cr_log_info("A announces:\n%s", json_string_value(json_object_get(
	    stream0(pub), "sdp")));
	check(strstr(json_string_value(json_object_get(stream0(pub), "sdp")),
	    "a=rtpmap:96 L24/48000/8") != NULL, "no AES67 rtpmap");
	publisher_confined(pub);
	json_decref(pub);
	snprintf(path, sizeof(path), "%s/ffmpeg.raw", X.b.dir[0] ? X.b.dir :
	    X.a.dir);
	rc = tu_run(argv, out, sizeof(out), 90000);
	check(rc == 0, "ffmpeg: exit %d\n%s", rc, out);
	check(strstr(out, "pcm_s24be, 48000 Hz, 7.1") != NULL,
	    "ffmpeg did not see 8 channels of L24 at 48 kHz:\n%s", out);
	check((f = fopen(path, "rb")) != NULL, "%s", path);
	n = fread(raw, 1, sizeof(raw), f);
	fclose(f);
	check(n == 96000 * AES67_NCH * 3, "ffmpeg wrote %zu bytes", n);
	tone_in(raw, 96000);
	deleted_at_stop();
}

/* ---- the configuration ---- */

/* ringcastd -n with this publish = line (and the default 8 channels). */
static int
config_verdict(const char *line, char *out, size_t len)
{
	char path[64];
	const char *argv[] = { tu_prog("ringcastd"), "-n", "-f", path, NULL };
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "/tmp/rc-test-%d-pub.conf",
	    (int)getpid());
	cr_assert_not_null(f = fopen(path, "w"));
	fprintf(f, "%s\n", line);
	fclose(f);
	rc = tu_run(argv, out, len, 20000);
	unlink(path);
	return rc;
}

Test(aes67, publish_lines_are_checked)
{
	static const struct {
		const char	*line;
		int		 rc;
		const char	*says;
	} t[] = {
		{ "publish = rtp://239.69.1.1:5004?name=A\npublish = "
		    "rtp://239.69.2.1:5004?channels=0,2&format=L16&ptime=0.25&"
		    "ttl=4&pt=97", 0, "configuration OK" },
		{ "channels = 16\npublish = rtp://239.69.1.1:5004?name=A", 0,
		    "configuration OK" },
		{ "publish = rtp://10.0.0.1:5004", 1, "multicast" },
		{ "publish = rtp://239.69.1.1:5004?ptime=4", 1, "1440 bytes" },
		{ "publish = rtp://239.69.1.1:5004?ptime=0.3", 1, "whole number" },
		{ "publish = rtp://239.69.1.1:5004?channels=8", 1, "channels" },
		{ "publish = rtp://239.69.1.1:5004?colour=red", 1, "colour" },
		{ "publish = rtp://239.69.1.1:5004\npublish = "
		    "rtp://239.69.1.1:5004?name=B", 1, "share" },
		{ "channels = 16\npublish = rtp://239.69.1.1:5004\npublish = "
		    "rtp://239.69.1.2:5004", 1, "share" },
		{ "source = rtp://239.69.1.1:5004?channels=2&format=L16", 0,
		    "configuration OK" },
		{ "source = rtp://239.69.1.1:5004?format=opus", 1, "L24" },
		{ "source = sap:Stage A", 0, "configuration OK" },
		{ "sap = 10.0.0.1:9875", 1, "multicast" },
	};
	char out[2048];
	size_t i;
	int rc;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		rc = config_verdict(t[i].line, out, sizeof(out));
		cr_expect(rc == t[i].rc && strstr(out, t[i].says) != NULL,
		    "%s: exit %d: %s", t[i].line, rc, out);
	}
}

/* ---- ringcast hears ringcast ---- */

struct churn {
	pthread_t	 thr;
	atomic_int	 stop;
	int		 port;
	unsigned	 done, failed;
};

/* Listeners come and go on B while the relay's steady listener is judged. */
static void *
churn_thread(void *arg)
{
	struct churn *ch = arg;
	struct proto_audio a;
	struct v2c c;
	char id[32];

	while (!atomic_load(&ch->stop)) {
		snprintf(id, sizeof(id), "churn-%u", ch->done + ch->failed);
		if (v2_join(&c, ch->port, id, v2_channels(2), 10000) == -1 ||
		    v2_recv_audio(&c, &a, 5000) != V2_MSG) {
			ch->failed++;
			v2_close(&c);
			continue;
		}
		if ((ch->done++ & 1) == 0)
			v2_reset(&c);
		else
			v2_close(&c);
	}
	return NULL;
}

/* Read B's listener for ms, judging every packet, at real-time priority. */
static void
hear(struct v2c *c, struct aes67_heard *h, int ms)
{
	uint64_t end = clock_mono_ms() + (uint64_t)ms;
	struct proto_audio a;
	int rc;

	(void)aes67_reader_realtime();
	while (clock_mono_ms() < end) {
		rc = v2_recv_audio(c, &a, 5000);
		check(rc == V2_MSG, "B's listener: %d after %llu packets", rc,
		    (unsigned long long)h->packets);
		aes67_hear(&X, h, &a, clock_mono_ns());
	}
}

/*
 * Periods B's session dropped because its listener (this test) did not
 * read: gaps of the reader's own making, told apart from the relay's.
 */
static long long
dropped_for(const char *id)
{
	char path[128];
	json_t *e;
	long long n;

	snprintf(path, sizeof(path), "/api/clients/%s", id);
	e = aes67_get(&X, NETNS_B, path);
	n = json_integer_value(json_object_get(e, "periods_dropped"));
	json_decref(e);
	return n;
}

/*
 * Frames of zeros that A never sent: packets its publisher skipped after
 * a stall of this busy machine (over 100 ms behind), or its socket
 * refused.  B cannot relay what did not leave A.
 */
static long long
unsent_frames(void)
{
	json_t *pub = aes67_get(&X, NETNS_A, "/api/publish");
	const json_t *k = json_object_get(stream0(pub), "counters");
	long long n = json_integer_value(json_object_get(k, "skipped")) +
	    json_integer_value(json_object_get(k, "dropped"));

	json_decref(pub);
	if (n > 0)
		cr_log_warn("A did not send %lld packets (a stall of the "
		    "machine)", n);
	return n * AES67_FRAMES;
}

/* Every frame is A's tone, or zeros where A sent nothing. */
static void
exact(const struct aes67_heard *h)
{
	check(h->wrong == 0 && (long long)h->zeros <= unsent_frames() &&
	    h->misaligned == 0, "%llu frames wrong, %llu zero (%llu runs "
	    "misaligned)", (unsigned long long)h->wrong,
	    (unsigned long long)h->zeros, (unsigned long long)h->misaligned);
	check(ingest_int("late") == 0, "late packets at B");
}

/* No period went missing but those the reader itself let drop. */
static void
no_gap(const struct aes67_heard *h, const char *id)
{
	long long d = dropped_for(id);

	if (d > 0)
		cr_log_warn("%s: %lld periods dropped: the reader was not "
		    "reading", id, d);
	check((long long)h->gaps == d, "%llu periods missing, %lld of them "
	    "dropped for a reader that did not read",
	    (unsigned long long)h->gaps, d);
}

static void
relay_up(const char *tag)
{
	up(tag);
	check(aes67_start_a(&X, NULL) == 0, "A did not start");
	check(aes67_start_b(&X, "sap:" AES67_NAME, NULL) == 0,
	    "B did not start");
	check(aes67_offset(&X, AES67_WAIT_MS) == 0,
	    "B never anchored on A's stream");
}

/* Both sides' counters in the test's log, to tell a failure's cause. */
static void
counters(const char *when)
{
	json_t *pub = aes67_get(&X, NETNS_A, "/api/publish"), *in = ingest();
	char *a = json_dumps(json_object_get(stream0(pub), "counters"),
	    JSON_COMPACT), *b = json_dumps(in, JSON_COMPACT);

	cr_log_info("%s: A's publisher %s; B's ingest %s", when, a ? a : "?",
	    b ? b : "?");
	free(a);
	free(b);
	json_decref(pub);
	json_decref(in);
}

Test(aes67, relay_box_hears_a_sample_exact_under_churn)
{
	struct aes67_heard h = { 0 };
	struct churn ch = { .port = 0 };
	long long epoch;
	struct v2c c;

	relay_up("relay");
	check(aes67_listen(&X, &c, "relay-listener", AES67_NCH) == 0,
	    "no listener on B");
	epoch = ingest_int("epochs");
	ch.port = X.b.native_port;
	cr_assert_eq(pthread_create(&ch.thr, NULL, churn_thread, &ch), 0);
	hear(&c, &h, 30000);
	atomic_store(&ch.stop, 1);
	pthread_join(ch.thr, NULL);
	no_gap(&h, "relay-listener");
	v2_close(&c);
	cr_log_info("relay: %llu packets, %llu frames exact, %llu zero, "
	    "%llu wrong, %llu periods lost; %u listeners came and went "
	    "(%u failed); A's ring to B's listener: p50 %.2f ms, p99 %.2f ms, "
	    "max %.2f ms (jitter-ms 3)", (unsigned long long)h.packets,
	    (unsigned long long)h.exact, (unsigned long long)h.zeros,
	    (unsigned long long)h.wrong, (unsigned long long)h.gaps, ch.done,
	    ch.failed, aes67_latency_pct(&h, 50), aes67_latency_pct(&h, 99),
	    aes67_latency_pct(&h, 100));
	counters("relay");
	check(h.packets > 20000, "only %llu packets in 30 s",
	    (unsigned long long)h.packets);
	exact(&h);
	check(ch.done > 50, "only %u listeners churned", ch.done);
	check(ingest_int("epochs") == epoch, "a new epoch on B");
	free(h.lat_ms);
}

/* 1 % of A's packets lost on their way: zeros in their place, positions whole. */
Test(aes67, lost_packets_are_zeros_and_positions_go_on)
{
	const char *table[] = { "nft", "add", "table", "inet", "rcloss", NULL };
	const char *chain[] = { "nft", "add", "chain", "inet", "rcloss", "in",
	    "{", "type", "filter", "hook", "input", "priority", "0", ";", "}",
	    NULL };
	const char *rule[] = { "nft", "add", "rule", "inet", "rcloss", "in",
	    "udp", "dport", "5004", "numgen", "random", "mod", "100", "0",
	    "drop", NULL };
	struct aes67_heard h = { 0 };
	struct v2c c;
	double share;

	relay_up("loss");
	/* On B's way in: A sends them all, the network loses 1 %. */
	check(netns_run(&X.ns, NETNS_B, table) == 0 &&
	    netns_run(&X.ns, NETNS_B, chain) == 0 &&
	    netns_run(&X.ns, NETNS_B, rule) == 0, "nft");
	check(aes67_listen(&X, &c, "loss-listener", AES67_NCH) == 0,
	    "no listener on B");
	hear(&c, &h, 10000);
	no_gap(&h, "loss-listener");
	v2_close(&c);
	share = 100.0 * (double)h.zeros / (double)h.frames;
	cr_log_info("loss: %llu frames, %.2f %% zeros in %llu runs, B counted "
	    "%lld packets lost", (unsigned long long)h.frames, share,
	    (unsigned long long)h.zero_runs, ingest_int("lost"));
	counters("loss");
	check(h.wrong == 0, "%llu frames neither tone nor zeros",
	    (unsigned long long)h.wrong);
	check(h.zero_runs > 0 && share > 0.2 && share < 3.0,
	    "%.2f %% zeros in %llu runs for 1 %% loss", share,
	    (unsigned long long)h.zero_runs);
	check(h.misaligned == 0, "%llu zero runs are not A's packets",
	    (unsigned long long)h.misaligned);
	check(ingest_int("lost") > 0, "B counted no lost packet");
	free(h.lat_ms);
}

/* ---- ringcast hears ffmpeg ---- */

/* B's capture as its status shows it: a string or a number. */
static json_t *
capture_b(void)
{
	json_t *st = aes67_get(&X, NETNS_B, "/api/status");
	json_t *cap = json_incref(json_object_get(st, "capture"));

	json_decref(st);
	return cap;
}

/*
 * The sender stops (ffmpeg ends): B's ring goes on on its own clock with
 * silence, its capture says "quiet", and the watchdog never takes that for
 * a stall: the listener hears every period, the capture is the same one.
 */
static void
quiet_sender_is_no_stall(struct v2c *c)
{
	json_t *cap = capture_b();
	long long pid = json_integer_value(json_object_get(cap, "pid"));
	long long restarts = json_integer_value(json_object_get(cap,
	    "restarts"));
	uint64_t frames = 0, zeros = 0, t0, gap, worst = 0, last;
	struct proto_audio a;
	bool said_quiet = false;
	uint32_t i;

	json_decref(cap);
	check(tu_stop(ffmpeg, 3000) != -1, "ffmpeg did not stop");
	ffmpeg = -1;
	/* Twice capture-stall-ms and more: 3 s of audio, none missing. */
	t0 = last = clock_mono_ms();
	while (frames < 3 * AES67_RATE) {
		check(v2_recv_audio(c, &a, 5000) == V2_MSG,
		    "no audio once the sender went quiet");
		gap = clock_mono_ms() - last;
		last = clock_mono_ms();
		worst = gap > worst ? gap : worst;
		for (i = 0; i < a.frames; i++, frames++)
			zeros += frames >= AES67_RATE &&
			    proto_audio_sample(&a, (size_t)i * 2) == 0.0f &&
			    proto_audio_sample(&a, (size_t)i * 2 + 1) == 0.0f;
		if (!said_quiet && frames >= AES67_RATE) {
			cap = capture_b();
			said_quiet = strcmp(v2_str(cap, "state"), "quiet") == 0;
			json_decref(cap);
		}
	}
	cap = capture_b();
	cr_log_info("quiet sender: %llu frames in %llu ms, worst gap %llu ms, "
	    "state %s", (unsigned long long)frames,
	    (unsigned long long)(clock_mono_ms() - t0),
	    (unsigned long long)worst, v2_str(cap, "state"));
	check(said_quiet, "B's capture never said quiet");
	check(json_integer_value(json_object_get(cap, "pid")) == pid &&
	    json_integer_value(json_object_get(cap, "restarts")) == restarts,
	    "the watchdog took a quiet sender for a stall (pid %lld -> "
	    "%lld)", pid, json_integer_value(json_object_get(cap, "pid")));
	check(strcmp(v2_str(cap, "state"), "stalled") != 0, "stalled");
	json_decref(cap);
	check(zeros == 2 * AES67_RATE, "%llu of the last 2 s of frames are "
	    "not silence", (unsigned long long)(2 * AES67_RATE - zeros));
}

Test(aes67, ffmpeg_sine_is_found_by_sap_name_and_heard)
{
	const char *argv[] = { "timeout", "-k", "5", "120", "ffmpeg",
	    "-nostdin", "-hide_banner", "-loglevel", "error", "-re", "-f",
	    "lavfi", "-i", "sine=frequency=1000:sample_rate=48000", "-ac", "2",
	    "-c:a", "pcm_s24be", "-metadata", "title=Sine", "-f", "sap",
	    "sap://239.69.11.2:5006?announce_addr=239.255.255.255&ttl=1&"
	    "same_port=1", NULL };
	struct proto_audio a;
	uint64_t frames = 0, cross[2] = { 0, 0 };
	float last[2] = { 0, 0 }, v;
	struct v2c c;
	uint32_t f, ch;

	up("sine");
	check(aes67_start_b(&X, "sap:Sine", NULL) == 0, "B did not start");
	check(netns_enter(&X.ns, NETNS_A) == 0, "into A");
	ffmpeg = tu_run_start(argv, &ffmpeg_out);
	check(netns_enter(&X.ns, NETNS_B) == 0 && ffmpeg > 0, "ffmpeg");
	check(ingest_reaches("packets", 2000, AES67_WAIT_MS),
	    "B never received ffmpeg's stream");
	check(aes67_listen(&X, &c, "sine-listener", 2) == 0, "no listener");
	/* One second of audio: a 1 kHz sine crosses zero 2000 times. */
	while (frames < AES67_RATE) {
		check(v2_recv_audio(&c, &a, 5000) == V2_MSG, "no audio");
		for (f = 0; f < a.frames; f++, frames++)
			for (ch = 0; ch < 2; ch++) {
				v = proto_audio_sample(&a, (size_t)f * 2 + ch);
				cross[ch] += (v < 0) != (last[ch] < 0);
				last[ch] = v;
			}
	}
	cr_log_info("ffmpeg's sine on B: %llu and %llu zero crossings in 1 s",
	    (unsigned long long)cross[0], (unsigned long long)cross[1]);
	check(cross[0] >= 1960 && cross[0] <= 2040 && cross[1] >= 1960 &&
	    cross[1] <= 2040, "not 1 kHz: %llu, %llu crossings",
	    (unsigned long long)cross[0], (unsigned long long)cross[1]);
	quiet_sender_is_no_stall(&c);
	v2_close(&c);
}

/* ---- a publisher that dies ---- */

static pid_t
publisher_pid(void)
{
	json_t *pub = aes67_get(&X, NETNS_A, "/api/publish");
	const json_t *s = stream0(pub);
	pid_t pid = json_is_string(json_object_get(s, "state")) &&
	    strcmp(json_string_value(json_object_get(s, "state")),
	    "running") == 0 ? (pid_t)json_integer_value(json_object_get(s,
	    "pid")) : -1;

	json_decref(pub);
	return pid;
}

/*
 * SIGKILL the publisher: A restarts it at once (it had been running), the
 * new one goes on with the same SSRC and numbering, and B goes on in the
 * same epoch: zeros for what was not sent, no gap in positions.
 */
Test(aes67, killed_publisher_is_restarted_and_b_goes_on)
{
	struct aes67_heard h = { 0 };
	uint64_t end;
	pid_t old, now = -1;
	struct v2c c;

	relay_up("restart");
	check((old = publisher_pid()) > 0, "no running publisher");
	check(aes67_listen(&X, &c, "restart-listener", AES67_NCH) == 0,
	    "no listener on B");
	hear(&c, &h, 1000);
	cr_assert_eq(kill(old, SIGKILL), 0);
	end = clock_mono_ms() + AES67_WAIT_MS;
	while (clock_mono_ms() < end && ((now = publisher_pid()) <= 0 ||
	    now == old))
		hear(&c, &h, 100);
	check(now > 0 && now != old, "the publisher was not restarted");
	hear(&c, &h, 2000);
	no_gap(&h, "restart-listener");
	v2_close(&c);
	cr_log_info("publisher restarted: %llu frames of zeros at B",
	    (unsigned long long)h.zeros);
	check(h.wrong == 0 && h.misaligned == 0, "%llu wrong frames, %llu "
	    "misaligned zero runs", (unsigned long long)h.wrong,
	    (unsigned long long)h.misaligned);
	check(h.zeros < AES67_RATE / 2, "%llu frames of zeros",
	    (unsigned long long)h.zeros);
	check(ingest_int("epochs") == 0, "B started a new epoch");
	free(h.lat_ms);
}

/* Stream 0 of A as /api/publish shows it: "ssrc" and "sdp" (to free). */
static char *
published_as(long long *ssrc)
{
	json_t *pub = aes67_get(&X, NETNS_A, "/api/publish");
	const char *sdp = json_string_value(json_object_get(stream0(pub),
	    "sdp"));
	char *copy = strdup(sdp != NULL ? sdp : "");

	*ssrc = json_integer_value(json_object_get(stream0(pub), "ssrc"));
	json_decref(pub);
	return copy;
}

/*
 * SIGKILL A's ringcastd and start it again, as systemd would: the
 * publisher never stops, the new ringcastd adopts it (the same process,
 * SSRC and SDP), and B's listener hears A's tone throughout: no period
 * missing, no zeros but for packets A's publisher itself did not send.
 */
Test(aes67, crashed_supervisor_adopts_its_publisher_and_b_hears_it_all)
{
	struct aes67_heard h = { 0 };
	long long ssrc, ssrc2;
	char *sdp, *sdp2, said[64];
	pid_t old;
	struct v2c c;

	relay_up("adopt");
	check((old = publisher_pid()) > 0, "no running publisher");
	sdp = published_as(&ssrc);
	check(aes67_listen(&X, &c, "adopt-listener", AES67_NCH) == 0,
	    "no listener on B");
	hear(&c, &h, 1000);
	rcd_kill(&X.a);
	hear(&c, &h, 1000);
	check(aes67_start_a(&X, NULL) == 0, "A did not start again");
	hear(&c, &h, 2000);
	check(publisher_pid() == old, "the publisher was not adopted");
	snprintf(said, sizeof(said), "publish[%d] adopted", (int)old);
	check(rcd_log_has(&X.a, said), "no \"%s\" in A's log", said);
	sdp2 = published_as(&ssrc2);
	check(ssrc2 == ssrc && strcmp(sdp, sdp2) == 0, "the stream changed: "
	    "SSRC %lld then %lld, SDP\n%s\nthen\n%s", ssrc, ssrc2, sdp, sdp2);
	no_gap(&h, "adopt-listener");
	v2_close(&c);
	counters("adopt");
	exact(&h);
	check(ingest_int("epochs") == 0, "B started a new epoch");
	cr_log_info("publisher adopted: %llu packets heard at B, %llu frames "
	    "of zeros", (unsigned long long)h.packets,
	    (unsigned long long)h.zeros);
	free(sdp);
	free(sdp2);
	free(h.lat_ms);
}

/* ---- hostile packets ---- */

static void
send_to(int fd, const char *group, int port, const void *p, size_t n)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_port = htons((uint16_t)port) };

	inet_pton(AF_INET, group, &sin.sin_addr);
	(void)sendto(fd, p, n, 0, (struct sockaddr *)&sin, sizeof(sin));
}

/* RTP that is not, of another type, of another SSRC, or leaping. */
static void
bad_rtp(int fd, uint32_t ssrc, uint32_t ts)
{
	uint8_t p[RTP_HDR_LEN + 48 * 24] = { 0 };
	struct rtp_hdr h = { .pt = 96, .seq = 1, .ts = ts, .ssrc = ssrc + 1 };
	int i;

	send_to(fd, "239.69.1.1", 5004, p, 7);			/* short */
	p[0] = 0x8f;
	send_to(fd, "239.69.1.1", 5004, p, 20);			/* CSRCs */
	p[0] = 0x40;
	send_to(fd, "239.69.1.1", 5004, p, sizeof(p));		/* version 1 */
	rtp_encode(p, &h);
	send_to(fd, "239.69.1.1", 5004, p, sizeof(p));		/* foreign SSRC */
	h.ssrc = ssrc;
	h.pt = 0;
	rtp_encode(p, &h);
	send_to(fd, "239.69.1.1", 5004, p, sizeof(p));		/* wrong type */
	h.pt = 96;
	h.ts = ts + 10 * AES67_RATE;		/* ten seconds ahead */
	for (i = 0; i < 4; i++) {		/* and leaping, never in a row */
		h.seq = (uint16_t)(12345 + i * 9000);
		rtp_encode(p, &h);
		send_to(fd, "239.69.1.1", 5004, p, sizeof(p));
	}
	send_to(fd, "239.69.1.1", 5004, p, 13);			/* half a frame */
}

/* SAP that is not, and an impostor announcing StageA elsewhere. */
static void
bad_sap(int fd)
{
	static const char sdp[] = "v=0\r\ns=" AES67_NAME "\r\nc=IN IP4 "
	    "239.69.9.9\r\nm=audio 6000 RTP/AVP 96\r\na=rtpmap:96 L16/48000/2"
	    "\r\n";
	uint8_t p[SAP_MAX] = { 0x20, 0, 0, 1 };
	size_t n;

	send_to(fd, SAP_GROUP, SAP_PORT, p, 5);			/* short */
	p[0] = 0x00;
	send_to(fd, SAP_GROUP, SAP_PORT, p, 40);		/* version 0 */
	n = sap_encode(p, sizeof(p), false, 7, htonl(0x0a4d0009), "v=0\r\n"
	    "m=audio", 12);
	send_to(fd, SAP_GROUP, SAP_PORT, p, n);			/* no stream */
	p[0] |= 0x02;
	send_to(fd, SAP_GROUP, SAP_PORT, p, n);			/* encrypted */
	n = sap_encode(p, sizeof(p), false, 9, htonl(0x0a4d0009), sdp,
	    strlen(sdp));
	send_to(fd, SAP_GROUP, SAP_PORT, p, n);			/* an impostor */
}

Test(aes67, hostile_packets_are_counted_and_dropped)
{
	struct aes67_heard h = { 0 };
	uint8_t junk[8] = { 0x80 };
	pid_t cap;
	uint32_t ssrc, ts;
	struct v2c c;
	int fd, i;

	relay_up("hostile");
	cap = http_child_pid(X.b.http_port, "capture");
	ssrc = (uint32_t)ingest_int("ssrc");
	ts = (uint32_t)ingest_int("ts");
	check(aes67_listen(&X, &c, "hostile-listener", AES67_NCH) == 0,
	    "no listener on B");
	check(netns_enter(&X.ns, NETNS_A) == 0, "into A");
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	check(netns_enter(&X.ns, NETNS_B) == 0 && fd >= 0, "a socket in A");
	for (i = 0; i < 20; i++) {
		bad_rtp(fd, ssrc, ts);
		bad_sap(fd);
		/* Same port, another group: B must not even see it. */
		send_to(fd, "239.69.1.2", 5004, junk, sizeof(junk));
	}
	hear(&c, &h, 3000);
	close(fd);
	no_gap(&h, "hostile-listener");
	v2_close(&c);
	/* Per round: 4 malformed, 2 foreign, 4 jumps, 4 bad SAP. */
	check(ingest_reaches("malformed", 80, AES67_WAIT_MS) &&
	    ingest_reaches("foreign", 40, AES67_WAIT_MS) &&
	    ingest_reaches("jumps", 80, AES67_WAIT_MS) &&
	    ingest_reaches("sap_bad", 80, AES67_WAIT_MS),
	    "hostile packets not counted");
	check(ingest_int("malformed") == 80, "%lld malformed: the other "
	    "group's packets reached B", ingest_int("malformed"));
	check(ingest_int("epochs") == 0, "hostile packets moved the timeline");
	exact(&h);
	check(http_child_pid(X.b.http_port, "capture") == cap,
	    "B's capture did not survive");
	confined(cap, "B's capture");
	free(h.lat_ms);
}
