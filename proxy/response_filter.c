/* Output-filter bridge (see response_filter.h). */
#include "response_filter.h"

static __thread struct {
    h2o_req_t *req;
    response_filter_setup_cb cb;
    void *data;
} pending;

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    if (pending.req == req) {
        response_filter_setup_cb cb = pending.cb;
        void *data = pending.data;
        pending.req = NULL;
        slot = cb(data, req, slot);
    }
    pending.req = NULL; /* one response only: never carried over to another */
    h2o_setup_next_ostream(req, slot);
}

void response_filter_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}

void response_filter_request(h2o_req_t *req, response_filter_setup_cb cb, void *data)
{
    pending.req = req;
    pending.cb = cb;
    pending.data = data;
}

void response_filter_cancel(void)
{
    pending.req = NULL;
}
