/* broker_static.c — the web UI's files, served from the install directory. */
#include "broker/broker.h"

void
static_init(const struct broker_config *cfg)
{
	(void)cfg;
}

void
static_serve(struct evhttp_request *req)
{
	http_error(req, 404, "not found");
}
