/*
 * requestTimeout: the Gateway API's HTTPRoute timeouts.request, as an
 * internal middleware only the kubernetesgateway provider defines: the
 * whole request upstream (connection, retries of the connection, response
 * head) has <timeout> before the client gets 504 (upstream.c); a response
 * already begun is cut. Durations as Traefik's ("500ms", "10s"); "0s"
 * turns it off, as the spec says.
 */
#include "middleware.h"

#include <string.h>

struct request_timeout {
    uint64_t ms;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    if (o->provider != NULL && strcmp(o->provider, "kubernetesgateway") != 0)
        return diag_set(d, "this middleware type is internal to the kubernetesGateway provider");
    struct request_timeout *c = arena_alloc(a, sizeof(*c));
    if (mw_opt_duration_ms(o, "timeout", 0, &c->ms, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct request_timeout *c = cfg;
    if (c->ms && (run->request_timeout_ms == 0 || c->ms < run->request_timeout_ms))
        run->request_timeout_ms = c->ms;
    return MW_NEXT;
}

const struct mw_type mw_request_timeout = {"requestTimeout", build, on_request, NULL};
