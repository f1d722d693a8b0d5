/*
 * Buffering (Traefik), reduced to what Gantry can honour exactly:
 * maxRequestBodyBytes answers 413 to a request whose body is larger. It
 * exists for ingress-nginx's proxy-body-size (a per-location
 * client_max_body_size), which the entry point's global limit cannot say.
 *
 * libh2o 2.2 reads the whole request body (chunked included) before the
 * handler runs, so req->entity is the complete body here: the check is
 * exact, and a body is never partly sent upstream. The other options
 * (memRequestBodyBytes, max/memResponseBodyBytes, retryExpression) are
 * refused by name: accepting them would promise limits that are not applied.
 */
#include <stdint.h>
#include <string.h>

#include "types.h"

struct buffering {
    int64_t max_request;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    static const char *const refused[] = {"memRequestBodyBytes", "maxResponseBodyBytes", "memResponseBodyBytes",
                                          "retryExpression"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
        if (mw_opt_has(o, refused[i]))
            return diag_set(d, "%s is not supported by gantry (only maxRequestBodyBytes)", refused[i]);
    struct buffering *c = arena_alloc(a, sizeof(*c));
    if (mw_opt_int(o, "maxRequestBodyBytes", 0, 0, INT64_MAX, &c->max_request, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct buffering *c = cfg;
    if (c->max_request > 0 && run->req->entity.base != NULL && (uint64_t)run->req->entity.len > (uint64_t)c->max_request) {
        mw_answer(run, 413, "Request Entity Too Large", "Request Entity Too Large", false);
        return MW_ANSWERED;
    }
    return MW_NEXT;
}

const struct mw_type mw_buffering = {"buffering", build, on_request, NULL};
