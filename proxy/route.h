/*
 * The request handler: match, then proxy (see route.c).
 */
#ifndef GANTRY_ROUTE_H
#define GANTRY_ROUTE_H

#include <h2o.h>

#include "worker.h"

void route_register(h2o_pathconf_t *pathconf, struct entrypoint_rt *ep);

struct upstream_client;
struct table_route;

/* Worker thread, once per request when it ends: statistics and the access
 * log line. <route> and <upstream> are NULL when nothing matched. */
void route_request_done(h2o_req_t *req, struct worker *w, const struct upstream_client *client, const struct table_route *route,
                        const char *upstream);

#endif
