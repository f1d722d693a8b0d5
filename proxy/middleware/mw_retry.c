/*
 * Retry (Traefik): up to <attempts> attempts in all when the upstream cannot
 * be reached, waiting <initialInterval> (default 0: at once, as Traefik), then twice as long
 * each time. Only when it is safe: a connection that could not be made (any
 * method: nothing was sent), or one that broke before a response byte for
 * an idempotent request (GET, HEAD, OPTIONS, TRACE or with an
 * Idempotency-Key); never once the response has started. The attempts run
 * in the upstream client (upstream.c), which reads them from the request's
 * chain state; every server is tried before one is tried again.
 */
#include "middleware.h"

#define MAX_RETRY_ATTEMPTS 16

struct retry {
    uint32_t attempts;
    uint64_t interval_ms;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct retry *c = arena_alloc(a, sizeof(*c));
    int64_t attempts;
    if (mw_opt_int(o, "attempts", 0, 0, MAX_RETRY_ATTEMPTS, &attempts, d) != 0 ||
        mw_opt_duration_ms(o, "initialInterval", 0, &c->interval_ms, d) != 0)
        return -1;
    if (attempts <= 0)
        return diag_set(d, "attempts must be between 1 and %d", MAX_RETRY_ATTEMPTS);
    c->attempts = (uint32_t)attempts;
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct retry *c = cfg;
    run->retry_attempts = c->attempts;
    run->retry_interval_ms = c->interval_ms;
    return MW_NEXT;
}

static bool needs_body(const void *cfg)
{
    (void)cfg;
    return true; /* an attempt after the first sends the body again */
}

const struct mw_type mw_retry = {"retry", build, on_request, NULL, .needs_body = needs_body};
