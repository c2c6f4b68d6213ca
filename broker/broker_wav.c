/* broker_wav.c — GET /stream.wav: the query checked, then the socket handed to a session. */
/*
 * ?channels=0,1[&mix=1].  The broker checks the form (at most 64 channel
 * numbers, each 0..255, no repeats; mix 0 or 1) and answers a bad query
 * itself; the supervisor checks the channels against the ring and starts
 * a session, which writes the whole response.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shared/log.h"
#include "shared/msg.h"
#include "broker/broker.h"

#define WAV_CHANNELS_MAX	64

/* "0,1,5" into a JSON array; NULL with why set. */
static json_t *
parse_channels(const char *s, char *why, size_t len)
{
	json_t *arr = json_array();
	unsigned long c;
	char *end;

	while (arr != NULL && *s != '\0') {
		errno = 0;
		c = strtoul(s, &end, 10);
		if (end == s || errno != 0 || c > 255 || *s == '-' ||
		    (*end != ',' && *end != '\0')) {
			snprintf(why, len, "channels: \"%s\" is not a list of "
			    "channel numbers like 0,1", s);
			json_decref(arr);
			return NULL;
		}
		if (json_array_size(arr) == WAV_CHANNELS_MAX) {
			snprintf(why, len, "channels: at most %d",
			    WAV_CHANNELS_MAX);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, json_integer((json_int_t)c));
		s = *end == ',' ? end + 1 : end;
	}
	return arr;
}

/* {"channels": [...], "mix": bool} from the query, or NULL with why. */
static json_t *
parse_query(struct evhttp_request *req, char *why, size_t len)
{
	const char *q = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	struct evkeyvalq kv = TAILQ_HEAD_INITIALIZER(kv);
	const char *ch, *mix;
	json_t *arr, *o = NULL;

	if (q != NULL && evhttp_parse_query_str(q, &kv) == -1) {
		snprintf(why, len, "malformed query");
		return NULL;
	}
	ch = evhttp_find_header(&kv, "channels");
	mix = evhttp_find_header(&kv, "mix");
	if (mix != NULL && strcmp(mix, "0") != 0 && strcmp(mix, "1") != 0)
		snprintf(why, len, "mix: 0 or 1");
	else if (ch == NULL && (mix == NULL || mix[0] == '0'))
		snprintf(why, len, "channels: required, e.g. "
		    "/stream.wav?channels=0,1 (or mix=1 for a stereo mix)");
	else if ((arr = parse_channels(ch ? ch : "", why, len)) != NULL)
		o = json_pack("{s:s, s:o, s:b}", "kind", "wav", "channels", arr,
		    "mix", mix != NULL && mix[0] == '1');
	evhttp_clear_headers(&kv);
	return o;
}

void
wav_serve(struct evhttp_request *req)
{
	static const char busy[] = "HTTP/1.0 503 Service Unavailable\r\n"
	    "Content-Type: application/json\r\nConnection: close\r\n\r\n"
	    "{\"error\":\"server busy, try again\"}";
	char why[256], remote[80];
	json_t *o;
	int fd;

	if ((o = parse_query(req, why, sizeof(why))) == NULL) {
		http_error(req, 400, why);
		return;
	}
	if ((fd = http_take_socket(req, remote, sizeof(remote))) == -1) {
		http_error(req, 503, "server busy");
		json_decref(o);
		return;
	}
	json_object_set_new(o, "remote", json_string(remote));
	if (broker_send(MSG_BROKER_CLIENT, o, fd) == -1) {
		log_warn("%s: WAV listener: MSG_BROKER_CLIENT", remote);
		(void)!send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT |
		    MSG_NOSIGNAL);
	} else
		log_debug("%s: WAV listener passed to the supervisor", remote);
	json_decref(o);
	close(fd);
}
