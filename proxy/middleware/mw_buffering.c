/*
 * Buffering (Traefik): a request body over <maxRequestBodyBytes> is refused
 * with 413 before it reaches the service; a response is held whole before
 * it is sent, and one over <maxResponseBodyBytes> becomes 500 (what
 * Traefik's buffer answers). 0 means no limit. Request bodies are always
 * held whole by the HTTP server before routing, so the request side costs
 * nothing more; the response side is an output stream (response_filter.c)
 * that keeps the body in the request's memory up to the limit and sends it
 * in one piece with its length.
 *
 * retryExpression (retry_expr.h) is asked after every attempt, before
 * anything of the response reaches the client: when it holds, that response
 * is dropped and the request (its body held whole) goes to the service's
 * balancer again, up to 10 times more, as oxy's buffer does.
 *
 * Differs from Traefik: nothing spills to disk (memRequestBodyBytes and
 * memResponseBodyBytes are accepted; the whole body stays in memory up to
 * the max).
 */
#include "middleware.h"

#include <string.h>

#include "../response_filter.h"
#include "pool_buf.h"
#include "retry_expr.h"

struct buffering {
    int64_t max_request, max_response;
    const struct retry_expr *retry; /* NULL: none */
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct buffering *c = arena_alloc(a, sizeof(*c));
    int64_t mem_req, mem_resp;
    if (mw_opt_int(o, "maxRequestBodyBytes", 0, 0, INT64_MAX, &c->max_request, d) != 0 ||
        mw_opt_int(o, "maxResponseBodyBytes", 0, 0, INT64_MAX, &c->max_response, d) != 0 ||
        mw_opt_int(o, "memRequestBodyBytes", 1048576, 0, INT64_MAX, &mem_req, d) != 0 ||
        mw_opt_int(o, "memResponseBodyBytes", 1048576, 0, INT64_MAX, &mem_resp, d) != 0)
        return -1;
    const char *retry = mw_opt_string(o, "retryExpression");
    if (retry != NULL && *retry != '\0' && (c->retry = retry_expr_parse(a, retry, d)) == NULL)
        return -1;
    *cfg = c;
    return 0;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct buffering *c = cfg;
    if (c->retry != NULL)
        run->retry_expr = c->retry;
    if (c->max_request > 0 && run->req->entity.base != NULL && (int64_t)run->req->entity.len > c->max_request) {
        mw_answer(run, 413, "Request Entity Too Large", "Request Entity Too Large", true);
        return MW_ANSWERED;
    }
    return MW_NEXT;
}

/* ---- the response, held whole ---- */

struct holder {
    h2o_ostream_t super;
    int64_t max;
    struct pool_buf body;
    bool too_big;
};

static void hold(struct holder *h, h2o_iovec_t v)
{
    if (h->too_big)
        return;
    if (h->max > 0 && (int64_t)(h->body.len + v.len) > h->max) {
        h->too_big = true; /* nothing more is kept: the answer will be 500 */
        return;
    }
    pool_buf_put(&h->body, v.base, v.len);
}

static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct holder *h = (void *)self;
    for (size_t i = 0; i < bufcnt; i++)
        hold(h, bufs[i]);
    if (state == H2O_SEND_STATE_IN_PROGRESS) {
        h2o_proceed_response(req); /* the bytes are ours now: ask for more */
        return;
    }
    if (state == H2O_SEND_STATE_ERROR) {
        h2o_ostream_send_next(&h->super, req, NULL, 0, state);
        return;
    }
    h2o_iovec_t body = h2o_iovec_init(h->body.p, h->body.len);
    if (h->too_big) { /* the head has not gone out yet: it can still change */
        req->res.status = 500;
        req->res.reason = "Internal Server Error";
        req->res.headers = (h2o_headers_t){NULL};
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
        body = h2o_iovec_init(H2O_STRLIT("Internal Server Error"));
    }
    req->res.content_length = body.len;
    mw_header_unset(&req->res.headers, H2O_STRLIT("content-length"));
    h2o_ostream_send_next(&h->super, req, &body, 1, state);
}

static h2o_ostream_t **setup(void *data, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct holder *h = (void *)h2o_add_ostream(req, sizeof(*h), slot);
    memset((char *)h + sizeof(h->super), 0, sizeof(*h) - sizeof(h->super));
    h->super.do_send = do_send;
    h->max = (int64_t)(intptr_t)data;
    h->body.pool = &req->pool;
    return &h->super.next;
}

static void on_response(const void *cfg, struct mw_run *run)
{
    const struct buffering *c = cfg;
    h2o_req_t *req = run->req;
    if (c->max_response <= 0 || run->intercepted || h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD")))
        return;
    response_filter_request(req, setup, (void *)(intptr_t)c->max_response);
}

static bool needs_body(const void *cfg)
{
    (void)cfg;
    return true;
}

const struct mw_type mw_buffering = {"buffering", build, on_request, on_response, .needs_body = needs_body};
