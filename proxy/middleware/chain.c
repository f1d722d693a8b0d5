/*
 * The middleware registry and the per-request chain runner (see
 * middleware.h). The registry is one table of the types Gantry implements;
 * Traefik's other type names are known so that a router naming one is
 * refused with a clear reason rather than a whole file failing.
 */
#include "middleware.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../table.h"
#include "../response_filter.h"
#include "types.h"

/* Traefik v3's HTTP middleware type keys (plus the v2 spelling ipWhiteList). */
static const char *const known_types[] = {
    "addPrefix",        "basicAuth",   "buffering",      "chain",         "circuitBreaker",    "compress",
    "contentType",      "digestAuth",  "encodedCharacters", "errors",     "forwardAuth",       "grpcWeb",
    "headers",          "ipAllowList", "ipWhiteList",    "inFlightReq",   "passTLSClientCert", "plugin",
    "rateLimit",        "redirectRegex", "redirectScheme", "replacePath", "replacePathRegex",  "retry",
    "stripPrefix",      "stripPrefixRegex", NULL};

static struct table_middleware *middleware_build_in(struct arena *a, struct table *table, const char *provider, const char *name,
                                                    const char *type, const char *const *keys, const char *const *values,
                                                    size_t n, struct diag *d);

const struct mw_type *middleware_type(const char *name)
{
    for (const struct mw_type *const *t = middleware_types; *t; t++)
        if (strcasecmp((*t)->name, name) == 0)
            return *t;
    return NULL;
}

bool middleware_is_known_type(const char *name)
{
    for (const char *const *t = known_types; *t; t++)
        if (strcasecmp(*t, name) == 0)
            return true;
    return false;
}

struct table_middleware *middleware_build(struct arena *a, const char *name, const char *type, const char *const *keys,
                                          const char *const *values, size_t n, struct diag *d)
{
    return middleware_build_in(a, NULL, NULL, name, type, keys, values, n, d);
}

struct table_middleware *middleware_build_for(struct table *t, const char *provider, const char *name, const char *type,
                                              const char *const *keys, const char *const *values, size_t n, struct diag *d)
{
    return middleware_build_in(&t->arena, t, provider, name, type, keys, values, n, d);
}

static struct table_middleware *middleware_build_in(struct arena *a, struct table *table, const char *provider, const char *name,
                                                    const char *type, const char *const *keys, const char *const *values,
                                                    size_t n, struct diag *d)
{
    const struct mw_type *t = middleware_type(type);
    if (t == NULL) {
        diag_set(d, "middleware type '%s' is not supported by gantry", type);
        return NULL;
    }
    bool used[n ? n : 1];
    memset(used, 0, sizeof(used));
    struct mw_options o = {keys, values, n, used, table, provider, name};
    void *cfg = NULL;
    struct diag inner;
    diag_clear(&inner);
    if (t->build(a, &o, &cfg, &inner) != 0 || mw_options_check(&o, &inner) != 0) {
        diag_set(d, "%s: %s", t->name, inner.msg);
        return NULL;
    }
    struct table_middleware *m = arena_alloc(a, sizeof(*m));
    m->name = arena_strdup(a, name);
    m->type = t;
    m->cfg = cfg;
    m->unit = NULL;
    return m;
}

struct mw_unit {
    int refs; /* tables holding it; watcher thread only */
    struct arena arena;
};

static size_t units_live; /* watcher thread only */

size_t middleware_shared_live(void)
{
    return units_live;
}

bool middleware_shareable(const char *type, const char *const *keys, size_t n)
{
    const struct mw_type *t = middleware_type(type);
    if (t == NULL || t->per_router || strcasecmp(type, "errors") == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(keys[i], "usersFile") == 0 || strncasecmp(keys[i], "tls.", 4) == 0)
            return false;
    return true;
}

static void release_unit(void *p)
{
    struct table_middleware *m = p;
    struct mw_unit *u = m->unit; /* <m> lives in u's arena */
    if (--u->refs > 0)
        return;
    arena_free(&u->arena); /* also runs the middleware's cleanups (regexes, mapped slots) */
    free(u);
    units_live--;
}

void middleware_hold(struct table *t, struct table_middleware *m)
{
    m->unit->refs++;
    arena_on_free(&t->arena, release_unit, m);
}

void middleware_ref(struct table_middleware *m)
{
    m->unit->refs++;
}

void middleware_unref(struct table_middleware *m)
{
    release_unit(m);
}

struct table_middleware *middleware_build_shared(struct table *t, const char *provider, const char *name, const char *type,
                                                 const char *const *keys, const char *const *values, size_t n,
                                                 struct diag *d)
{
    struct mw_unit *u = mem_calloc(1, sizeof(*u));
    arena_init_sized(&u->arena, 512); /* most compiled middlewares are small: 30,000 of them at 4 KiB each would not be */
    struct table_middleware *m = middleware_build_in(&u->arena, t, provider, name, type, keys, values, n, d);
    if (m == NULL) {
        arena_free(&u->arena);
        free(u);
        return NULL;
    }
    m->unit = u;
    units_live++;
    middleware_hold(t, m);
    return m;
}

void middleware_run(struct mw_run *run)
{
    const struct table_route *r = run->route;
    while (run->next < r->n_middlewares) {
        const struct table_middleware *m = r->middlewares[run->next];
        run->current = run->next++;
        if (m->type->on_request(m->cfg, run) != MW_NEXT)
            return; /* answered, or an asynchronous middleware holds the request */
    }
    run->next = r->n_middlewares + 1; /* passed: every response hook applies */
    run->pass(run);
}

void mw_run_rewind(struct mw_run *run, const struct table_route *fallback)
{
    const struct mw_kept *kept = run->kept;
    void **slots = run->slots;
    request_view_restore(&kept->view, run->req, NULL);
    *run = kept->run; /* as at the cut: the main's middlewares never happened */
    run->route = fallback;
    run->slots = slots;
    for (uint32_t i = run->next; i < fallback->n_middlewares; i++)
        slots[i] = NULL;
}

void mw_resume(struct mw_run *run)
{
    middleware_run(run);
}

void middleware_on_response(struct mw_run *run)
{
    if (run == NULL || run->shadow)
        return;
    /* run->next is one past the answering middleware, or n + 1 once passed */
    uint32_t through = run->next > 0 ? run->next - 1 : 0;
    if (through > run->route->n_middlewares)
        through = run->route->n_middlewares;
    for (uint32_t i = through; i-- > 0;) {
        const struct table_middleware *m = run->route->middlewares[i];
        if (m->type->on_response != NULL) {
            run->current = i;
            m->type->on_response(m->cfg, run);
        }
    }
}

/* Whether a middleware's own answer <status> goes nowhere near the client:
 * on a mirror's copy it is dropped; a failover may send the request to its
 * fallback instead. */
static bool answer_taken(struct mw_run *run, int status)
{
    return run->shadow || (run->divert != NULL && run->divert(run, status));
}

void mw_answer(struct mw_run *run, int status, const char *reason, const char *body, bool close)
{
    if (answer_taken(run, status))
        return;
    h2o_req_t *req = run->req;
    req->res.status = status;
    req->res.headers = (h2o_headers_t){NULL};
    middleware_on_response(run);
    if (run->intercepted)
        return;
    h2o_send_error_generic(req, status, reason, h2o_strdup(&req->pool, body, SIZE_MAX).base,
                           H2O_SEND_ERROR_KEEP_HEADERS | (close ? H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION : 0));
}

static h2o_generator_t static_generator = {NULL, NULL};

void mw_redirect(struct mw_run *run, int status, const char *location, size_t len)
{
    if (answer_taken(run, status))
        return;
    h2o_req_t *req = run->req;
    const char *reason = status == 301 ? "Moved Permanently"
                         : status == 302 ? "Found"
                         : status == 307 ? "Temporary Redirect"
                         : status == 308 ? "Permanent Redirect"
                                         : "Redirect";
    req->res.status = status;
    req->res.reason = reason;
    req->res.headers = (h2o_headers_t){NULL};
    middleware_on_response(run);
    if (run->intercepted)
        return;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, location, len);
    /* Traefik's body: the status text */
    h2o_iovec_t body = h2o_iovec_init(reason, strlen(reason));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
    req->res.content_length = body.len;
    h2o_start_response(req, &static_generator);
    h2o_send(req, &body, 1, 1);
}

/* h2o_lcstris wants its second string lowercase already: names from a
 * configuration keep their case, so compare both sides without case. */
bool mw_name_is(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

const h2o_iovec_t *mw_header_get(const h2o_headers_t *headers, const char *name, size_t name_len)
{
    for (size_t i = 0; i < headers->size; i++)
        if (mw_name_is(headers->entries[i].name->base, headers->entries[i].name->len, name, name_len))
            return &headers->entries[i].value;
    return NULL;
}

void mw_header_unset(h2o_headers_t *headers, const char *name, size_t name_len)
{
    size_t j = 0;
    for (size_t i = 0; i < headers->size; i++)
        if (!mw_name_is(headers->entries[i].name->base, headers->entries[i].name->len, name, name_len))
            headers->entries[j++] = headers->entries[i];
    headers->size = j;
}

void mw_header_set(h2o_req_t *req, h2o_headers_t *headers, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
    mw_header_unset(headers, name, name_len);
    h2o_iovec_t lname = h2o_strdup(&req->pool, name, name_len);
    h2o_strtolower(lname.base, lname.len);
    h2o_iovec_t v = h2o_strdup(&req->pool, value, value_len);
    const h2o_token_t *tok = h2o_lookup_token(lname.base, lname.len);
    const char *orig = h2o_strdup(&req->pool, name, name_len).base;
    if (tok != NULL)
        h2o_add_header(&req->pool, headers, tok, orig, v.base, v.len);
    else
        h2o_add_header_by_str(&req->pool, headers, lname.base, lname.len, 0, orig, v.base, v.len);
}

void mw_header_add_fixed(h2o_mem_pool_t *pool, h2o_headers_t *headers, const h2o_token_t *token, const h2o_iovec_t *lname,
                         const char *orig, h2o_iovec_t value)
{
    h2o_vector_reserve(pool, headers, headers->size + 1);
    h2o_header_t *e = &headers->entries[headers->size++];
    /* h2o reads entry names, never writes them */
    e->name = token != NULL ? (h2o_iovec_t *)&token->buf : (h2o_iovec_t *)lname;
    e->orig_name = orig;
    e->value = value;
}

bool mw_request_is_tls(const struct mw_run *run)
{
    return run->client.tls;
}

void mw_send(struct mw_run *run, int status, const char *reason, h2o_iovec_t body)
{
    if (answer_taken(run, status))
        return;
    h2o_req_t *req = run->req;
    req->res.status = status;
    req->res.reason = reason;
    middleware_on_response(run);
    if (run->intercepted)
        return;
    h2o_iovec_t copy = h2o_strdup(&req->pool, body.base ? body.base : "", body.len);
    req->res.content_length = copy.len;
    h2o_start_response(req, &static_generator);
    h2o_send(req, &copy, 1, 1);
}

void **mw_slot(struct mw_run *run)
{
    if (run->slots == NULL) {
        size_t n = run->route->n_middlewares ? run->route->n_middlewares : 1;
        run->slots = h2o_mem_alloc_pool(&run->req->pool, n * sizeof(void *));
        memset(run->slots, 0, n * sizeof(void *));
    }
    return &run->slots[run->current];
}

void mw_intercept(struct mw_run *run)
{
    run->intercepted = true;
    response_filter_cancel(); /* an inner middleware's compression is for a response that will not start */
}
