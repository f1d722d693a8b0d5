/*
 * What a service's middlewares may change of a request, kept aside so the
 * request can be put back as it was: a mirror's chain runs on the request
 * and must leave the main request untouched (mirror.c), a failover's
 * fallback gets the request as the failover service got it, not as its
 * main service's middlewares left it (route.c, upstream.c).
 */
#ifndef GANTRY_REQUEST_VIEW_H
#define GANTRY_REQUEST_VIEW_H

#include <h2o.h>

#include "upstream.h"

struct request_view {
    h2o_headers_t headers; /* its own copy of the entries */
    h2o_iovec_t authority, path, method, entity;
    h2o_res_t res; /* a refusal writes its answer's headers there before it is dropped */
    h2o_iovec_t client_path; /* upstream_client's path and forwarded_off */
    uint8_t forwarded_off;
};

/* Keeps <req>'s and <client>'s fields in <v>; the header entries are
 * copied (in req->pool): a chain edits them in place. */
void request_view_save(struct request_view *v, h2o_req_t *req, const struct upstream_client *client);
/* Puts them back; <req> gets a copy of the kept headers again, so <v> can
 * be restored more than once. <client> may be NULL. */
void request_view_restore(const struct request_view *v, h2o_req_t *req, struct upstream_client *client);

#endif
