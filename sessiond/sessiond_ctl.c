/* sessiond_ctl.c — control messages with the client: parse, validate, reply. */
#include <sys/socket.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/clock.h"
#include "shared/log.h"
#include "sessiond/sessiond.h"

static const char *const mix_fields[] = {
	"channels", "gains", "pans", "mutes", "master_gain",
};

/* Queue one control message (steals obj); -1 if it could not be queued. */
int
sess_send_ctl(struct session *s, json_t *obj)
{
	uint8_t *buf = NULL;
	size_t len;
	bool was_empty = s->q.len == 0;
	int rc = -1;

	if (obj == NULL)
		goto done;
	/* A media player gets audio only. */
	if (!s->out->control) {
		json_decref(obj);
		return 0;
	}
	if (proto_control_encode(obj, s->hello.rf_mode, &buf, &len) != PROTO_OK)
		goto done;
	/* Control may use the reserve above the audio budget. */
	if (squeue_put(&s->q, buf, len, s->q.cap) == -1)
		goto done;
	if (was_empty)
		s->progress_ms = clock_mono_ms();
	rc = 0;
done:
	if (rc == -1)
		s->ctl_dropped++;
	free(buf);
	json_decref(obj);
	return rc;
}

void
sess_send_error(struct session *s, const char *message)
{
	sess_send_ctl(s, json_pack("{s:s, s:s}", "type", "error",
	    "message", message));
}

void
sess_send_handshake(struct session *s)
{
	sess_send_ctl(s, json_pack("{s:s, s:s, s:i, s:i, s:i, s:s, s:b, s:b, "
	    "s:b, s:i, s:f, s:b, s:b, s:s, s:b}",
	    "type", "handshake_response",
	    "server_version", RINGCAST_VERSION,
	    "protocol_version", PROTO_VERSION,
	    "sample_rate", (int)s->rate,
	    "max_channels", (int)s->nch,
	    "status", "ready_rf",
	    "rf_mode", s->hello.rf_mode,
	    "persistent", s->hello.persistent,
	    "auto_reconnect_supported", 1,
	    "server_blocksize", (int)s->pkt_frames,
	    "latency_ms", 1000.0 * s->pkt_frames / s->rate,
	    "web_controlled", 1,
	    "state_restored", s->state_restored,
	    "persistent_id", s->persistent_id,
	    "is_reconnection", s->is_reconnection));
}

void
sess_send_mix_state(struct session *s)
{
	json_t *o = mix_to_json(&s->mix);

	if (o != NULL)
		json_object_set_new(o, "type", json_string("mix_state"));
	sess_send_ctl(s, o);
}

static void
send_heartbeat_response(struct session *s)
{
	sess_send_ctl(s, json_pack("{s:s, s:I}", "type", "heartbeat_response",
	    "clients_connected", s->clients_connected));
}

/* Whether an update_mix / subscribe names any mix field at all. */
static bool
has_mix_fields(const json_t *msg)
{
	size_t i;

	for (i = 0; i < sizeof(mix_fields) / sizeof(mix_fields[0]); i++)
		if (json_object_get(msg, mix_fields[i]) != NULL)
			return true;
	return false;
}

/*
 * update_mix / subscribe: decoded here (we read the client's bytes), then
 * the supervisor validates it against the committed mix and commits it.
 * The mix changes only when it answers MSG_SESSION_MIX_SET.
 */
static void
mix_request(struct session *s, const json_t *msg)
{
	struct mix_patch p;
	char err[256];

	if (!has_mix_fields(msg))
		sess_send_mix_state(s);
	else if (mix_patch_from_json(&p, msg, s->nch, err, sizeof(err)) == -1)
		sess_send_error(s, err);
	else if (sess_parent_mix_request(s, &p) == -1) {
		sess_send_error(s, "server busy: mix change not saved, "
		    "try again");
		/* The app applied it already: back to what is committed. */
		sess_send_mix_state(s);
	}
}

void
sess_protocol_error(struct session *s, const char *why)
{
	log_info("client %s: %s", s->hello.client_id, why);
	sess_send_error(s, why);
	s->linger = true;
	sess_end(s, "protocol");
}

static void
handle_control(struct session *s, const uint8_t *payload, size_t len)
{
	enum proto_ctl type;
	json_t *obj;
	int rc;

	if ((rc = proto_control_parse(payload, len, &obj, &type)) != PROTO_OK) {
		sess_protocol_error(s, proto_strerror(rc));
		return;
	}
	switch (type) {
	case PROTO_CTL_SUBSCRIBE:
	case PROTO_CTL_UPDATE_MIX:
		mix_request(s, obj);
		break;
	case PROTO_CTL_HEARTBEAT:
		send_heartbeat_response(s);
		break;
	case PROTO_CTL_GET_CLIENT_STATE:
		sess_send_mix_state(s);
		break;
	default:
		/* Newer clients may send more; a repeated handshake too. */
		s->unknown++;
		break;
	}
	json_decref(obj);
}

void
sess_ctl_parse(struct session *s)
{
	struct proto_hdr hdr;
	const uint8_t *payload;
	size_t off = 0, used;
	int rc;

	while (s->reason == NULL) {
		rc = proto_split(s->in + off, s->in_len - off,
		    PROTO_CONTROL_MAX, &hdr, &payload, &used);
		if (rc == PROTO_EMORE)
			break;
		if (rc != PROTO_OK) {
			sess_protocol_error(s, proto_strerror(rc));
			return;
		}
		if (hdr.type != PROTO_TYPE_CONTROL) {
			sess_protocol_error(s, "clients send only control messages");
			return;
		}
		handle_control(s, payload, hdr.length);
		off += used;
	}
	memmove(s->in, s->in + off, s->in_len - off);
	s->in_len -= off;
}

/*
 * A gain as the deployed app holds it: its linearToDb (0 and below: its
 * floor) within the −60..+12 dB its faders and its mix_state handler keep.
 * The same figure whichever way it reaches the phone.
 */
static double
app_db(float gain)
{
	double db = gain > 0.0f ? 20.0 * log10((double)gain) : APP_DB_MIN;

	return db < APP_DB_MIN ? APP_DB_MIN : db > APP_DB_MAX ? APP_DB_MAX : db;
}

/* The fields the app applies: gainDb, pan, active (mute is ours only). */
static void
send_channel_update(struct session *s, uint32_t c)
{
	sess_send_ctl(s, json_pack("{s:s, s:i, s:f, s:f, s:b, s:b}",
	    "type", "channel_update",
	    "channel", (int)c,
	    "gainDb", app_db(s->mix.gain[c]),
	    "pan", (double)s->mix.pan[c],
	    "active", s->mix.sub[c],
	    "mute", s->mix.mute[c]));
}

static void
send_master_update(struct session *s)
{
	sess_send_ctl(s, json_pack("{s:s, s:f}", "type", "master_gain_update",
	    "gainDb", app_db(s->mix.master)));
}

/* What a phone shows of channel c: only these differences reach it. */
static bool
app_differs(const struct mix *a, const struct mix *b, uint32_t c)
{
	return a->sub[c] != b->sub[c] || app_db(a->gain[c]) !=
	    app_db(b->gain[c]) || a->pan[c] != b->pan[c] ||
	    a->mute[c] != b->mute[c];
}

/*
 * After a mix_state, the updates that leave the phone where the committed
 * mix is: the app applies mix_state to channels 0..7 and the master, and
 * each channel_update / master_gain_update over it, in arrival order.  So
 * every channel the change touched gets its update (for channels 8 and up
 * it is the only way there), and the master its gainDb: the app takes an
 * update without one as 0 dB.
 */
void
sess_send_updates(struct session *s, const struct mix *old)
{
	uint32_t c;

	for (c = 0; c < s->mix.nch; c++)
		if (app_differs(old, &s->mix, c))
			send_channel_update(s, c);
	if (app_db(old->master) != app_db(s->mix.master))
		send_master_update(s);
}

/* At start: channels beyond the app's mix_state, where they are not new. */
void
sess_send_start_updates(struct session *s)
{
	struct mix fresh;

	mix_init(&fresh, s->mix.nch);
	memcpy(fresh.sub, s->mix.sub, APP_STATE_CHANNELS);
	memcpy(fresh.gain, s->mix.gain, APP_STATE_CHANNELS * sizeof(float));
	memcpy(fresh.pan, s->mix.pan, APP_STATE_CHANNELS * sizeof(float));
	memcpy(fresh.mute, s->mix.mute, APP_STATE_CHANNELS);
	fresh.master = s->mix.master;
	sess_send_updates(s, &fresh);
}
