/*
 * Sticky sessions (Traefik's sticky.cookie): which server or child service
 * the request's cookie names, and the Set-Cookie that makes a client stick.
 */
#ifndef GANTRY_STICKY_H
#define GANTRY_STICKY_H

#include <h2o.h>

#include "table.h"

/* The index (< n) the request's sticky cookie names, or -1. */
int sticky_find(const struct table_sticky *st, uint32_t n, const h2o_req_t *req);
/* The child of weighted service <svc> its sticky cookie names, when that
 * child can still answer (weight > 0, something to send to), else -1:
 * balance again and rewrite the cookie. */
int sticky_child(const struct table_service *svc, const h2o_req_t *req);
/* Adds "Set-Cookie: name=values[i]; attrs" to the response. */
void sticky_set_cookie(h2o_req_t *req, const struct table_sticky *st, uint32_t i);

#endif
