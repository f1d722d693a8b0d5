/* Output-filter bridge (see response_filter.h). */
#include "response_filter.h"

#include <stdlib.h>

#define RESPONSE_FILTER_MAX 4 /* output streams one response may ask for (compress, contentType...) */

static __thread struct {
    h2o_req_t *req;
    size_t n;
    struct {
        response_filter_setup_cb cb;
        void *data;
    } filters[RESPONSE_FILTER_MAX];
} pending;

struct filter {
    h2o_filter_t super;
    h2o_iovec_t server; /* serverHeader; empty: none */
};

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    const struct filter *f = (const struct filter *)self;
    if (f->server.len && h2o_find_header(&req->res.headers, H2O_TOKEN_SERVER, -1) == -1)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SERVER, NULL, f->server.base, f->server.len);
    if (pending.req == req) {
        size_t n = pending.n;
        pending.req = NULL;
        /* in the order asked: the innermost middleware's stream sees the body first */
        for (size_t i = 0; i < n; i++)
            slot = pending.filters[i].cb(pending.filters[i].data, req, slot);
    }
    pending.req = NULL; /* one response only: never carried over to another */
    h2o_setup_next_ostream(req, slot);
}

static void on_dispose(h2o_filter_t *self)
{
    struct filter *f = (struct filter *)self;
    free(f->server.base); /* h2o_strdup(NULL, ...) below: malloc'd */
    f->server = h2o_iovec_init(NULL, 0);
}

void response_filter_register(h2o_pathconf_t *pathconf, const char *server_header)
{
    struct filter *f = (struct filter *)h2o_create_filter(pathconf, sizeof(*f));
    f->super.on_setup_ostream = on_setup_ostream;
    f->super.dispose = on_dispose;
    if (server_header && *server_header)
        f->server = h2o_strdup(NULL, server_header, SIZE_MAX);
}

void response_filter_request(h2o_req_t *req, response_filter_setup_cb cb, void *data)
{
    if (pending.req != req) {
        pending.req = req;
        pending.n = 0;
    }
    if (pending.n < RESPONSE_FILTER_MAX) {
        pending.filters[pending.n].cb = cb;
        pending.filters[pending.n].data = data;
        pending.n++;
    }
}

void response_filter_request_first(h2o_req_t *req, response_filter_setup_cb cb, void *data)
{
    response_filter_request(req, cb, data);
    size_t n = pending.n;
    if (pending.req != req || n < 2 || pending.filters[n - 1].cb != cb || pending.filters[n - 1].data != data)
        return; /* not added (full) or alone: nothing to move */
    for (size_t i = n - 1; i > 0; i--) {
        pending.filters[i].cb = pending.filters[i - 1].cb;
        pending.filters[i].data = pending.filters[i - 1].data;
    }
    pending.filters[0].cb = cb;
    pending.filters[0].data = data;
}

void response_filter_cancel(void)
{
    pending.req = NULL;
}
