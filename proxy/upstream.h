/*
 * The HTTP/1.1 upstream client: per-worker keep-alive pools owned by the
 * registry's servers, retries on connect failure (any method) and on a
 * stale pooled connection (replayable methods), streaming responses with
 * backpressure, WebSocket upgrades, and the error answers 502/503/504.
 */
#ifndef GANTRY_UPSTREAM_H
#define GANTRY_UPSTREAM_H

#include <h2o.h>

#include "table.h"
#include "worker.h"

/* The client side of a request, and what accounting needs at its end. */
struct conntrack_conn;

struct upstream_client {
    char ip_text[64];
    uint8_t ip16[16];
    bool trusted; /* a trusted proxy: keep its X-Forwarded-* */
    bool tls;
    const struct entrypoint_rt *ep;
    uint64_t start_us;      /* monotonic */
    uint64_t start_unix_us; /* wall clock, for the access log */
    struct conntrack_conn *ct; /* the client connection's tracker (NULL: none) */
    h2o_iovec_t path;       /* normalised path and query, as sent upstream */
    uint8_t forwarded_off;  /* FORWARDED_NO_* (forwarded.h): headers a middleware deleted, not added back */
    /* a sticky weighted service whose child (a route branch) was picked
     * anew before the chain: the cookie naming it goes on the response */
    const struct table_sticky *branch_sticky;
    uint32_t branch_index;
};

struct mw_run;
struct table_route;

/* Called once per proxied request when it ends (statistics, access log):
 * set by the request handler (route.c), so that the upstream client does
 * not call back up into it. <upstream>: the last server's URL, or NULL. */
typedef void (*upstream_done_cb)(h2o_req_t *req, struct worker *w, const struct upstream_client *client,
                                 const struct table_route *route, const char *upstream);
void upstream_set_done_hook(upstream_done_cb cb);

/* Worker thread. The request's table must be linked to req->pool. <mw>: the
 * state of the route's middleware chain (its response hooks run on the
 * response head), or NULL. */
void upstream_proxy(h2o_req_t *req, struct worker *w, const struct table_route *route, const struct upstream_client *client,
                    struct mw_run *mw);

void upstream_worker_init(struct worker *w);
/* Closes this worker's idle connections to <s>, or all when <s> is NULL. */
void upstream_close_idle(struct worker *w, struct server *s);
/* End of a drain: answers every request still waiting for its upstream with
 * 503, and aborts the responses under way, so their connections can close. */
void upstream_abort_all(struct worker *w);

#endif
