/* broker_wav.c — GET /stream.wav: the socket is handed to a session. */
#include "broker/broker.h"

void
wav_serve(struct evhttp_request *req)
{
	http_error(req, 404, "not found");
}
