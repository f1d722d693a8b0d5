/*
 * A small HTTP/1.1 exchange of a worker with one upstream server on the
 * worker's pooled connections (forwardAuth's call to the auth server): one
 * request out, the whole response (head and a bounded body) back, then a
 * callback. The state lives in the client request's pool: if the client
 * goes away first, the connection is handed back to the pool to finish or
 * close, and the callback never runs.
 */
#ifndef GANTRY_SUBREQUEST_H
#define GANTRY_SUBREQUEST_H

#include <h2o.h>

#include "pico.h"
#include "registry.h"
#include "worker.h"

#define SUBREQUEST_MAX_HEADERS 100

struct subrequest_response {
    int status;
    struct phr_header headers[SUBREQUEST_MAX_HEADERS];
    size_t n_headers;
    h2o_iovec_t body;
};

/* <err> NULL: <res> holds the answer (in the request's pool); else why not.
 * SUBREQUEST_TOO_LARGE when the body went over <max_body> (callers that
 * answer it differently, as forwardAuth's maxResponseBodySize, compare). */
#define SUBREQUEST_TOO_LARGE "response body too large"
typedef void (*subrequest_cb)(void *data, const char *err, const struct subrequest_response *res);

/* Worker thread. <head> is the complete request head (copied); <body> is
 * referenced until the callback. Bodies above <max_body> fail the exchange.
 * The callback never runs from inside this call. */
void subrequest_start(struct worker *w, h2o_mem_pool_t *pool, struct server *srv, h2o_iovec_t head, h2o_iovec_t body,
                      size_t max_body, subrequest_cb cb, void *data);

void subrequest_worker_init(struct worker *w);

#endif
