/*
 * Retry (Traefik): up to <attempts> attempts in all, waiting
 * <initialInterval> (default 0: at once, as Traefik) before the second and
 * a little more before each next one (Traefik's series: the waits grow to
 * twice initialInterval by the last attempt). An attempt is retried when:
 * - the upstream could not be reached (unless disableRetryOnNetworkError),
 *   and only when safe: a connection that could not be made (any method:
 *   nothing was sent), or one that broke before a response byte for an
 *   idempotent request (GET, HEAD, OPTIONS, TRACE or with an
 *   Idempotency-Key); never once the response has started;
 * - its answer's status is in <status> (the answer is dropped), for a
 *   method other than POST, PATCH and LOCK unless retryNonIdempotentMethod,
 *   and a body of at most maxRequestBodyBytes (default 2 MiB, as Traefik).
 * - retryOnResponseHeaderTimeout (internal, set by the ingress-nginx
 *   translator for proxy-next-upstream "timeout"; not a Traefik option):
 *   no response head within the transport's responseHeaderTimeout, for a
 *   request that may be sent again (idempotent, or retryNonIdempotentMethod,
 *   with its body held), as nginx's proxy_next_upstream timeout does.
 * The last attempt's answer goes to the client whatever it is; so does
 * any answer once <timeout> has passed since the first attempt. The
 * attempts run in the upstream client (upstream.c), which reads them from
 * the request's chain state; every server is tried before one is tried
 * again.
 */
#include "middleware.h"

#include "../worker.h"

#define MAX_RETRY_ATTEMPTS 16
#define MAX_STATUS_RANGES 32
#define DEFAULT_MAX_BODY (2 * 1024 * 1024) /* Traefik's RetryDefaultMaxRequestBodyBytes */

struct retry {
    uint32_t attempts;
    uint64_t interval_ms;
    struct retry_policy policy;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct retry *c = arena_alloc(a, sizeof(*c));
    int64_t attempts, max_body;
    if (mw_opt_int(o, "attempts", 0, 0, MAX_RETRY_ATTEMPTS, &attempts, d) != 0 ||
        mw_opt_duration_ms(o, "initialInterval", 0, &c->interval_ms, d) != 0 ||
        mw_opt_duration_ms(o, "timeout", 0, &c->policy.timeout_ms, d) != 0 ||
        mw_opt_bool(o, "disableRetryOnNetworkError", false, &c->policy.no_network_retry, d) != 0 ||
        mw_opt_bool(o, "retryNonIdempotentMethod", false, &c->policy.retry_non_idempotent, d) != 0 ||
        mw_opt_bool(o, "retryOnResponseHeaderTimeout", false, &c->policy.header_timeout, d) != 0 ||
        mw_opt_int(o, "maxRequestBodyBytes", DEFAULT_MAX_BODY, INT64_MIN, INT64_MAX, &max_body, d) != 0)
        return -1;
    if (attempts <= 0)
        return diag_set(d, "attempts must be between 1 and %d", MAX_RETRY_ATTEMPTS);
    c->attempts = (uint32_t)attempts;
    c->policy.max_body_bytes = max_body;
    size_t n;
    const char **ranges = mw_opt_list(a, o, "status", &n);
    if (n > MAX_STATUS_RANGES)
        return diag_set(d, "status: at most %d ranges", MAX_STATUS_RANGES);
    struct status_range *r = arena_alloc(a, sizeof(*r) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        if (status_range_parse(ranges[i], &r[i]) != 0)
            return diag_set(d, "status: '%s' is not a status code or range (e.g. 503, 500-599)", ranges[i]);
    c->policy.status = r;
    c->policy.n_status = n;
    if (n == 0 && c->policy.no_network_retry) /* Traefik's words */
        return diag_set(d, "retry middleware requires at least HTTP status codes or retry on TCP "
                           "(status is empty and disableRetryOnNetworkError is true)");
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct retry *c = cfg;
    run->retry_attempts = c->attempts;
    run->retry_interval_ms = c->interval_ms;
    run->retry = &c->policy;
    run->retry_start_ms = worker_now_ms(run->w);
    return MW_NEXT;
}

static bool needs_body(const void *cfg)
{
    (void)cfg;
    return true; /* an attempt after the first sends the body again */
}

const struct mw_type mw_retry = {"retry", build, on_request, NULL, .needs_body = needs_body};
