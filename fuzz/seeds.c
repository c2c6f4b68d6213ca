/* seeds.c — writes the seed corpora from the real encoders (make fuzz-seeds); the same bytes every time. */
#include <sys/stat.h>

#include <string.h>

#include <arpa/inet.h>

#include "shared/mix.h"
#include "shared/proto.h"
#include "shared/rtp.h"
#include "shared/sdp.h"
#include "shared/state.h"
#include "shared/state_token.h"
#include "shared/token.h"

static const char *dir;

static void
put(const char *target, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static const char *const controls[][2] = {
	{ "handshake", "{\"type\":\"handshake\",\"timestamp\":1767671704881,"
	    "\"client_id\":\"3f2b8c1e-6a0d-4a43-9d7e-2f1c5b9e8a10\","
	    "\"client_type\":\"android\",\"protocol_version\":2,"
	    "\"rf_mode\":true,\"persistent\":true,\"auto_reconnect\":true,"
	    "\"optimized\":true,\"device_uuid\":\"a1b2c3d4\","
	    "\"device_name\":\"Pixel 7\",\"num_channels\":32}" },
	{ "handshake-ext", "{\"type\":\"handshake\",\"timestamp\":1,\"client_id\":\"c1\","
	    "\"client_type\":\"ringcast\",\"protocol_version\":2,"
	    "\"rf_mode\":false,\"persistent\":false,\"auto_reconnect\":false,"
	    "\"optimized\":false,\"audio_format\":\"float32\","
	    "\"server_mix\":true,\"packet_frames\":256,"
	    "\"channel_mask_words\":2,\"name\":\"IEM 1\"}" },
	{ "subscribe", "{\"type\":\"subscribe\",\"timestamp\":1,\"client_id\":\"c1\","
	    "\"channels\":[0,1,2,31],\"rf_mode\":true,\"persistent\":true}" },
	{ "update_mix", "{\"type\":\"update_mix\",\"timestamp\":1,"
	    "\"channels\":[1,5],\"gains\":{\"1\":0.5,\"5\":2.0},"
	    "\"pans\":{\"1\":-0.25},\"mutes\":{\"5\":true},"
	    "\"master_gain\":1.5,\"rf_mode\":true}" },
	{ "heartbeat", "{\"type\":\"heartbeat\",\"timestamp\":1767671704881}" },
	{ "get_client_state", "{\"type\":\"get_client_state\",\"timestamp\":1}" },
};

/* fuzz_api's requests: "METHOD PATH\n" then the body. */
static const char *const requests[][2] = {
	{ "mix", "POST /api/clients/phone-a/mix\n{\"channels\":[0,1],"
	    "\"gains\":{\"0\":0.7},\"master_gain\":1}" },
	{ "mix-mute", "POST /api/clients/phone-b/mix\n{\"mutes\":{\"3\":true},"
	    "\"pans\":{\"3\":1}}" },
	{ "name", "POST /api/clients/phone-a\n{\"name\":\"Drummer IEM\","
	    "\"order\":3}" },
	{ "channels", "POST /api/channels\n{\"names\":[\"Kick\",\"Snare\","
	    "\"Vox\"]}" },
	{ "channel", "POST /api/channels\n{\"channel\":2,\"name\":\"Bass DI\"}" },
	{ "probe", "POST /api/test/probe\n{\"target\":\"broker\","
	    "\"syscall\":\"open\"}" },
	{ "array", "POST /api/clients/phone-a/mix\n[1,2,{\"a\":[true,false,"
	    "null]}]" },
	{ "status", "GET /api/status\n" },
	{ "clients", "GET /api/clients?offset=1\n" },
	{ "client", "GET /api/clients/phone%2Da\n" },
	{ "forget", "DELETE /api/clients/nobody\n" },
	{ "kick", "POST /api/clients/phone-a/disconnect\n" },
	{ "metrics", "GET /metrics\n" },
	{ "wrong-method", "PUT /api/status\n" },
};

static void
controls_and_frames(void)
{
	static float s[64 * 8];
	static uint8_t pkt[PROTO_HDR_LEN + 8 + 32 + sizeof(s) * 2];
	uint32_t mask[2] = { 0x8000000fu, 0x1 };
	struct proto_hdr h;
	uint8_t *msg;
	size_t i, n;
	json_t *o;

	for (i = 0; i < sizeof(controls) / sizeof(controls[0]); i++) {
		put("hello", controls[i][0], controls[i][1],
		    strlen(controls[i][1]));
		o = json_loads(controls[i][1], 0, NULL);
		if (o == NULL || proto_control_encode(o, false, &msg, &n) !=
		    PROTO_OK || proto_hdr_decode(msg, &h) != PROTO_OK)
			exit(1);
		h.timestamp_ms = 1;	/* not the clock: the same seeds every time */
		proto_hdr_encode(msg, &h);
		put("proto", controls[i][0], msg, n);
		free(msg);
		json_decref(o);
	}
	for (i = 0; i < sizeof(s) / sizeof(s[0]); i++)
		s[i] = (float)i / (float)(sizeof(s) / sizeof(s[0])) - 0.5f;
	n = proto_audio_encode(pkt, 4096, mask, 1, s, 5, 16, false, true, 7);
	put("proto", "audio-int16", pkt, n);
	n = proto_audio_encode(pkt, 8192, mask, 2, s, 6, 8, true, false, 9);
	put("proto", "audio-float32-2words", pkt, n);
	for (i = 0; i < sizeof(requests) / sizeof(requests[0]); i++)
		put("api", requests[i][0], requests[i][1],
		    strlen(requests[i][1]));
}

static void
put_record(const struct state_record *r, const char *name)
{
	json_t *j = state_record_json(r);
	char *txt = json_dumps(j, JSON_COMPACT);

	put("state", name, txt, strlen(txt));
	free(txt);
	json_decref(j);
}

static void
records(void)
{
	struct state_record r;

	state_record_init(&r, "device-a1b2c3d4", 32, 1767671704881ull);
	put_record(&r, "record-new");
	snprintf(r.name, sizeof(r.name), "Drums IEM");
	r.order = 2;
	r.reconnects = 7;
	r.mix.sub[0] = r.mix.sub[3] = 1;
	r.mix.gain[3] = 0.5f;
	r.mix.pan[0] = -1.0f;
	r.mix.mute[3] = 1;
	r.mix.master = 2.0f;
	snprintf(r.last_exit, sizeof(r.last_exit), "stalled");
	put_record(&r, "record-mix");
}

/* An RTP packet of 48 frames: what the publisher sends and the ingest reads. */
static size_t
rtp_packet(uint8_t *p, uint16_t seq, uint32_t ts, uint32_t nch)
{
	static float s[48 * 8];
	struct rtp_hdr h = { .pt = 96, .seq = seq, .ts = ts, .ssrc = 0x5eed };
	size_t i;

	for (i = 0; i < 48 * nch; i++)
		s[i] = (float)i / (float)(48 * nch) - 0.5f;
	rtp_encode(p, &h);
	return RTP_HDR_LEN + rtp_pack(RTP_L24, p + RTP_HDR_LEN, s, 48 * nch);
}

static const char ffmpeg_sdp[] = "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\n"
    "s=No Name\r\nc=IN IP4 239.69.11.2/1\r\nt=0 0\r\n"
    "a=tool:libavformat LIBAVFORMAT_VERSION\r\nm=audio 5006 RTP/AVP 96\r\n"
    "b=AS:2304\r\na=rtpmap:96 L24/48000/2\r\n";

static void
rtp_and_sap(void)
{
	static uint8_t p[SAP_MAX], seq[4096];
	struct sdp_stream s = { .name = "Stage A", .session_id = 1591125781,
	    .origin = inet_addr("10.0.0.7"), .group = inet_addr("239.69.1.1"),
	    .ttl = 1, .port = 5004, .pt = 96, .format = RTP_L24,
	    .rate = 48000, .channels = 8, .ptime_us = 1000,
	    .source = inet_addr("10.0.0.7"), .has_offset = true,
	    .offset = 123456 };
	static const char url[] = "rtp://239.69.1.1:5004?channels=0-7&"
	    "format=L24&ptime=1&name=Stage%20A&ttl=1";
	char sdp[SDP_MAX];
	size_t n, len, off = 1;
	int i;

	put("rtp", "l24-8ch", p, rtp_packet(p, 1, 1000, 8));
	n = sdp_build(&s, sdp, sizeof(sdp));
	put("rtp", "sap-ringcast", p, sap_encode(p, sizeof(p), false, 0x1234,
	    s.origin, sdp, n));
	put("rtp", "sap-delete", p, sap_encode(p, sizeof(p), true, 0x1234,
	    s.origin, sdp, n));
	put("rtp", "sap-ffmpeg", p, sap_encode(p, sizeof(p), false, 0x9876, 0,
	    ffmpeg_sdp, strlen(ffmpeg_sdp)));
	put("rtp", "url", url, strlen(url));
	/* A jitter run: mono, four packets, the third late, then a pause. */
	seq[0] = 'J';
	seq[1] = 2;		/* L24, 1 + 2 % 3 = 3 channels */
	for (i = 0; i < 4; i++) {
		len = rtp_packet(seq + off + 4, (uint16_t)(i == 2 ? 9 : i),
		    (uint32_t)(i == 2 ? 48 : 48 * i), 3);
		seq[off + 1] = i == 3 ? 20 : 0;
		seq[off + 2] = (uint8_t)(len >> 8);
		seq[off + 3] = (uint8_t)len;
		off += 3 + len;
	}
	put("rtp", "jitter", seq, off + 1);
}

/*
 * fuzz_auth's input: a selector byte (0 a header value, 1 a login body,
 * 2 origin and host, 3 a stored token record), then the text.
 */
static void
put_auth(const char *name, uint8_t which, const char *text)
{
	uint8_t buf[1024];
	size_t n = strlen(text);

	buf[0] = which;
	memcpy(buf + 1, text, n);
	put("auth", name, buf, n + 1);
}

static void
auth(void)
{
	struct token_record r = { .e = { .id = "abcdefgh",
	    .role = TOKEN_LISTENER, .listener = "phone-a" }, .name = "link",
	    .created_ms = 1767671704881ull };
	char tok[TOKEN_LEN + 1], text[512], *rec;
	json_t *j;

	/* A token of the right form: its id, a dot, a base64url secret. */
	memcpy(tok, "abcdefgh.", TOKEN_ID_LEN + 1);
	memset(tok + TOKEN_ID_LEN + 1, 'A', TOKEN_SECRET_LEN);
	memcpy(tok + TOKEN_LEN - 22, "-_", 2);
	memset(tok + TOKEN_LEN - 20, 'z', 20);
	tok[TOKEN_LEN] = '\0';
	snprintf(text, sizeof(text), "Bearer %s", tok);
	put_auth("bearer", 0, text);
	snprintf(text, sizeof(text), "a=b; ringcast_token=%s; c=d", tok);
	put_auth("cookie", 0, text);
	snprintf(text, sizeof(text), "{\"token\":\"%s\"}", tok);
	put_auth("login", 1, text);
	put_auth("origin", 2, "https://127.0.0.1:5100\n127.0.0.1:5100");
	memset(r.e.hash, 0xab, sizeof(r.e.hash));
	if ((j = token_record_json(&r)) == NULL ||
	    (rec = json_dumps(j, JSON_COMPACT)) == NULL) {
		fprintf(stderr, "seeds: token record\n");
		exit(1);
	}
	put_auth("record", 3, rec);
	free(rec);
	json_decref(j);
}

int
main(int argc, char *argv[])
{
	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mkdir(dir, 0755);
	controls_and_frames();
	records();
	rtp_and_sap();
	auth();
	return 0;
}
