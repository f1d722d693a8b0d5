/*
 * GrpcWeb (Traefik's grpcWeb, which wraps improbable-eng's grpcweb): a
 * gRPC-Web call (POST, content-type application/grpc-web[-text][+proto...],
 * over HTTP/1.1 or HTTP/2) goes upstream as gRPC, and its answer comes back
 * as gRPC-Web (grpc/doc/PROTOCOL-WEB.md):
 *  - request: content-type application/grpc + the same suffix, te:
 *    trailers; a -text body is collected (HTTP/2: req_stream_wait_body)
 *    and base64-decoded; other bodies stream (native gRPC on the same
 *    router keeps its client and bidi streams);
 *  - response: content-type application/grpc-web[-text] + suffix; the
 *    upstream's trailers become the body's last frame (flag 0x80,
 *    "name: value\r\n" lines) instead of HTTP trailers (taken with a
 *    req_stream trailer sink); -text bodies base64-encoded piece by piece,
 *    each piece padded, so streams keep flowing. A trailers-only answer
 *    (grpc-status in the head) stays so: the spec allows it.
 *  - CORS (allowOrigins, "*" for any), as Traefik's wrapper does it (rs/cors,
 *    credentials allowed): a preflight (OPTIONS, Access-Control-Request-
 *    Method, "x-grpc-web" in the requested headers) is answered 204, with
 *    Allow-Origin/-Methods/-Headers/-Credentials/Max-Age when the origin is
 *    allowed; a call from an allowed origin gets Allow-Origin,
 *    Allow-Credentials and Expose-Headers (grpc-status, grpc-message and
 *    the answer's header names, so the browser can read its metadata).
 * Anything else passes untouched.
 */
#include "middleware.h"

#include <string.h>
#include <strings.h>

#include "../req_stream.h"
#include "../response_filter.h"
#include "grpc_web_codec.h"

struct grpc_web {
    const char **origins;
    size_t n_origins;
    bool any_origin;
};

/* One call's state (the request's pool). */
struct call {
    enum grpc_web_kind kind;
    h2o_iovec_t suffix;
    h2o_iovec_t origin; /* the allowed Origin to answer, or empty */
    h2o_headers_t trailers;
    bool has_trailers;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct grpc_web *g = arena_alloc(a, sizeof(*g));
    g->origins = mw_opt_list(a, o, "allowOrigins", &g->n_origins);
    for (size_t i = 0; i < g->n_origins; i++) {
        for (const unsigned char *p = (const unsigned char *)g->origins[i]; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return diag_set(d, "allowOrigins: '%s' has a control character", g->origins[i]);
        g->any_origin = g->any_origin || strcmp(g->origins[i], "*") == 0;
    }
    *cfg = g;
    return 0;
}

/* The request's Origin when allowOrigins lets it in, else empty. */
static h2o_iovec_t allowed_origin(const struct grpc_web *g, const h2o_req_t *req)
{
    const h2o_iovec_t *o = mw_header_get(&req->headers, H2O_STRLIT("origin"));
    if (o == NULL || o->len == 0)
        return h2o_iovec_init(NULL, 0);
    if (g->any_origin)
        return *o;
    for (size_t i = 0; i < g->n_origins; i++)
        if (strlen(g->origins[i]) == o->len && memcmp(g->origins[i], o->base, o->len) == 0)
            return *o;
    return h2o_iovec_init(NULL, 0);
}

static void add_res_header(h2o_req_t *req, const char *name, size_t nlen, const char *v, size_t vlen)
{
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, nlen, 0, NULL, v, vlen);
}

static void add_vary_origin(h2o_req_t *req)
{
    const h2o_iovec_t *v = mw_header_get(&req->res.headers, H2O_STRLIT("vary"));
    if (v == NULL || !h2o_contains_token(v->base, v->len, H2O_STRLIT("origin"), ','))
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL, H2O_STRLIT("Origin"));
}

static bool is_preflight(const h2o_req_t *req)
{
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")) ||
        mw_header_get(&req->headers, H2O_STRLIT("access-control-request-method")) == NULL)
        return false;
    const h2o_iovec_t *h = mw_header_get(&req->headers, H2O_STRLIT("access-control-request-headers"));
    if (h == NULL)
        return false;
    for (size_t i = 0; i + 10 <= h->len; i++) /* a substring, as improbable-eng's wrapper looks for it */
        if (h2o_lcstris(h->base + i, 10, H2O_STRLIT("x-grpc-web")))
            return true;
    return false;
}

/* A gRPC-Web preflight, as improbable-eng's wrapper (rs/cors, credentials
 * allowed, max age 10 minutes) answers it: 204; CORS headers only for an
 * allowed origin asking for GET, POST or HEAD. */
static enum mw_verdict preflight(const struct grpc_web *g, struct mw_run *run)
{
    h2o_req_t *req = run->req;
    h2o_iovec_t origin = allowed_origin(g, req);
    const h2o_iovec_t *method = mw_header_get(&req->headers, H2O_STRLIT("access-control-request-method"));
    bool method_ok = h2o_memis(method->base, method->len, H2O_STRLIT("POST")) ||
                     h2o_memis(method->base, method->len, H2O_STRLIT("GET")) ||
                     h2o_memis(method->base, method->len, H2O_STRLIT("HEAD"));
    if (origin.len != 0 && method_ok) {
        const h2o_iovec_t *asked = mw_header_get(&req->headers, H2O_STRLIT("access-control-request-headers"));
        add_res_header(req, H2O_STRLIT("access-control-allow-origin"), origin.base, origin.len);
        add_res_header(req, H2O_STRLIT("access-control-allow-methods"), method->base, method->len);
        /* the spec: allow whatever the preflight carries */
        add_res_header(req, H2O_STRLIT("access-control-allow-headers"), asked->base, asked->len);
        add_res_header(req, H2O_STRLIT("access-control-allow-credentials"), H2O_STRLIT("true"));
        add_res_header(req, H2O_STRLIT("access-control-max-age"), H2O_STRLIT("600"));
    }
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_VARY, NULL,
                   H2O_STRLIT("Origin, Access-Control-Request-Method, Access-Control-Request-Headers"));
    mw_send(run, 204, "No Content", h2o_iovec_init(NULL, 0));
    return MW_ANSWERED;
}

/* content-type application/grpc + <suffix> on the request. */
static void set_grpc_content_type(h2o_req_t *req, h2o_iovec_t suffix)
{
    char *v = h2o_mem_alloc_pool(&req->pool, 16 + suffix.len);
    memcpy(v, "application/grpc", 16);
    memcpy(v + 16, suffix.base, suffix.len);
    mw_header_set(req, &req->headers, H2O_STRLIT("content-type"), v, 16 + suffix.len);
}

/* The call, its body complete when -text, rewritten as gRPC. */
static enum mw_verdict go_upstream(struct mw_run *run, const struct call *c)
{
    h2o_req_t *req = run->req;
    if (c->kind == GRPC_WEB_TEXT && req->entity.len != 0) {
        unsigned char *raw = h2o_mem_alloc_pool(&req->pool, req->entity.len / 4 * 3 + 3);
        long n = grpc_web_b64_decode(req->entity.base, req->entity.len, raw);
        if (n < 0) {
            mw_answer(run, 400, "Bad Request", "grpc-web-text: the body is not base64\n", false);
            return MW_ANSWERED;
        }
        req->entity = h2o_iovec_init(raw, (size_t)n);
    }
    set_grpc_content_type(req, c->suffix);
    mw_header_set(req, &req->headers, H2O_STRLIT("te"), H2O_STRLIT("trailers"));
    return MW_NEXT;
}

static void on_text_body(h2o_req_t *req, void *_run)
{
    (void)req;
    struct mw_run *run = _run;
    if (go_upstream(run, *mw_slot(run)) == MW_NEXT)
        mw_resume(run);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct grpc_web *g = cfg;
    h2o_req_t *req = run->req;
    if (is_preflight(req))
        return preflight(g, run);
    const h2o_iovec_t *ct = mw_header_get(&req->headers, H2O_STRLIT("content-type"));
    h2o_iovec_t suffix;
    enum grpc_web_kind kind = ct ? grpc_web_kind_of(*ct, &suffix) : GRPC_WEB_NONE;
    if (kind == GRPC_WEB_NONE || !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return MW_NEXT;
    struct call *c = h2o_mem_alloc_pool(&req->pool, sizeof(*c));
    *c = (struct call){.kind = kind, .suffix = h2o_strdup(&req->pool, suffix.base, suffix.len)};
    c->origin = allowed_origin(g, req);
    *mw_slot(run) = c;
    if (kind == GRPC_WEB_TEXT && req_stream_body_pending(req)) { /* still arriving: decoded whole */
        req_stream_wait_body(req, on_text_body, run);
        return MW_PENDING;
    }
    return go_upstream(run, c);
}

/* ---- the response: an output stream that re-frames the body ---- */

struct reframer {
    h2o_ostream_t super;
    struct call *call;
    h2o_iovec_t *vec; /* the bufs handed on, reused after each send */
    size_t vec_cap;
    char *text; /* -text: one base64 buffer, reused after each send */
    size_t text_cap;
};

static void on_trailers(void *ctx, h2o_req_t *req, const h2o_headers_t *trailers)
{
    struct call *c = ctx;
    c->has_trailers = true;
    c->trailers = (h2o_headers_t){NULL};
    for (size_t i = 0; i < trailers->size; i++) {
        const h2o_header_t *h = &trailers->entries[i];
        h2o_iovec_t name = h2o_strdup(&req->pool, h->name->base, h->name->len);
        h2o_add_header_by_str(&req->pool, &c->trailers, name.base, name.len, 0, NULL,
                              h2o_strdup(&req->pool, h->value.base, h->value.len).base, h->value.len);
    }
}

/* The pieces of this send (the trailer frame last) as base64, each piece
 * padded on its own (PROTOCOL-WEB lets padding come at any flush), into
 * one buffer reused from send to send. */
static h2o_iovec_t encode_text(struct reframer *r, h2o_req_t *req, const h2o_iovec_t *bufs, size_t n)
{
    size_t need = 1;
    for (size_t i = 0; i < n; i++)
        need += grpc_web_b64_len(bufs[i].len);
    if (need > r->text_cap) {
        r->text_cap = need < 4096 ? 4096 : need;
        r->text = h2o_mem_alloc_pool(&req->pool, r->text_cap);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += grpc_web_b64_encode(bufs[i].base, bufs[i].len, r->text + k);
    return h2o_iovec_init(r->text, k);
}

static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct reframer *r = (void *)self;
    if (state == H2O_SEND_STATE_ERROR) {
        h2o_ostream_send_next(&r->super, req, bufs, bufcnt, state);
        return;
    }
    size_t n = bufcnt + 1;
    if (n > r->vec_cap) {
        r->vec_cap = n < 8 ? 8 : n;
        r->vec = h2o_mem_alloc_pool(&req->pool, r->vec_cap * sizeof(*r->vec));
    }
    size_t k = 0;
    for (size_t i = 0; i < bufcnt; i++)
        if (bufs[i].len != 0)
            r->vec[k++] = bufs[i];
    if (state == H2O_SEND_STATE_FINAL && r->call->has_trailers)
        r->vec[k++] = grpc_web_trailer_frame(&req->pool, &r->call->trailers);
    if (r->call->kind == GRPC_WEB_TEXT && k != 0) {
        r->vec[0] = encode_text(r, req, r->vec, k);
        k = 1;
    }
    h2o_ostream_send_next(&r->super, req, r->vec, k, state);
}

static h2o_ostream_t **setup(void *data, h2o_req_t *req, h2o_ostream_t **slot)
{
    struct reframer *r = (void *)h2o_add_ostream(req, sizeof(*r), slot);
    r->super.do_send = do_send;
    r->call = data;
    r->vec = NULL, r->vec_cap = 0, r->text = NULL, r->text_cap = 0;
    return &r->super.next;
}

/* An allowed origin's call: the browser may read the status and every
 * header of the answer (initial metadata included). */
static void cors_response(h2o_req_t *req, h2o_iovec_t origin)
{
    size_t len = strlen("grpc-status, grpc-message");
    for (size_t i = 0; i < req->res.headers.size; i++)
        len += 2 + req->res.headers.entries[i].name->len;
    char *v = h2o_mem_alloc_pool(&req->pool, len);
    size_t k = 0;
    memcpy(v, "grpc-status, grpc-message", strlen("grpc-status, grpc-message"));
    k += strlen("grpc-status, grpc-message");
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_iovec_t *n = req->res.headers.entries[i].name;
        if (h2o_lcstris(n->base, n->len, H2O_STRLIT("grpc-status")) || h2o_lcstris(n->base, n->len, H2O_STRLIT("grpc-message")) ||
            (n->len >= 15 && h2o_lcstris(n->base, 15, H2O_STRLIT("access-control-"))))
            continue;
        memcpy(v + k, ", ", 2), k += 2;
        memcpy(v + k, n->base, n->len), k += n->len;
    }
    h2o_strtolower(v, k);
    mw_header_unset(&req->res.headers, H2O_STRLIT("access-control-allow-origin"));
    mw_header_unset(&req->res.headers, H2O_STRLIT("access-control-expose-headers"));
    add_res_header(req, H2O_STRLIT("access-control-allow-origin"), origin.base, origin.len);
    add_res_header(req, H2O_STRLIT("access-control-allow-credentials"), H2O_STRLIT("true"));
    add_res_header(req, H2O_STRLIT("access-control-expose-headers"), v, k);
    add_vary_origin(req);
}

static void on_response(const void *cfg, struct mw_run *run)
{
    (void)cfg;
    struct call *c = *mw_slot(run);
    h2o_req_t *req = run->req;
    if (c == NULL || run->intercepted)
        return;
    if (c->origin.len != 0)
        cors_response(req, c->origin);
    const h2o_iovec_t *ct = mw_header_get(&req->res.headers, H2O_STRLIT("content-type"));
    if (ct == NULL || ct->len < 16 || !h2o_lcstris(ct->base, 16, H2O_STRLIT("application/grpc")) ||
        (ct->len > 16 && ct->base[16] != '+' && ct->base[16] != ';'))
        return; /* not a gRPC answer (an HTML error page): as it is */
    h2o_iovec_t suffix = h2o_iovec_init(ct->base + 16, ct->len - 16);
    const char *base = c->kind == GRPC_WEB_TEXT ? "application/grpc-web-text" : "application/grpc-web";
    size_t blen = strlen(base);
    char *v = h2o_mem_alloc_pool(&req->pool, blen + suffix.len);
    memcpy(v, base, blen);
    memcpy(v + blen, suffix.base, suffix.len);
    mw_header_set(req, &req->res.headers, H2O_STRLIT("content-type"), v, blen + suffix.len);
    /* the body grows (trailer frame, base64): its length is no longer known */
    mw_header_unset(&req->res.headers, H2O_STRLIT("content-length"));
    req->res.content_length = SIZE_MAX;
    req_stream_set_trailer_sink(req, on_trailers, c);
    response_filter_request(req, setup, c);
}

const struct mw_type mw_grpc_web = {"grpcWeb", build, on_request, on_response};
