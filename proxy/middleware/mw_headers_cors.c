/*
 * The CORS part of the Headers middleware (see mw_headers.c), as Traefik
 * v3's pkg/middlewares/headers/header.go does it:
 *  - origin matching: an accessControlAllowOriginList entry equal to the
 *    Origin gives that entry; "*" gives "*", or the request's Origin when
 *    credentials are allowed (a wildcard cannot go with credentials); then
 *    accessControlAllowOriginListRegex (Go regexp semantics: unanchored,
 *    here PCRE2) gives the Origin;
 *  - a preflight (OPTIONS with non-empty Origin and
 *    Access-Control-Request-Method) is answered 200, empty, with
 *    Allow-Credentials, Allow-Headers, Allow-Methods, Allow-Origin (when
 *    matched), Max-Age (when set), Expose-Headers;
 *  - other responses get Allow-Origin (when matched), Allow-Credentials,
 *    Expose-Headers, and "Origin" added to Vary (addVaryHeader).
 * "*" in allow headers/methods with credentials echoes the request's
 * Access-Control-Request-Headers/-Method; "*" in expose headers with
 * credentials sends no Expose-Headers.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mw_headers.h"

#include <pcre2.h>
#include <string.h>

/* Bounds regex work per request (ReDoS), as proxy/match.c does. */
#define CORS_MATCH_LIMIT 200000
#define CORS_DEPTH_LIMIT 5000

static void regex_free(void *code)
{
    pcre2_code_free(code);
}

static bool list_has_star(const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(l[i], "*") == 0)
            return true;
    return false;
}

/* A list option joined with "," (Traefik's strings.Join). */
static int joined(struct arena *a, struct mw_options *o, const char *key, h2o_iovec_t *out, bool *star, size_t *n,
                  struct diag *d)
{
    const char **l = mw_opt_list(a, o, key, n);
    *star = list_has_star(l, *n);
    char *v = *n ? arena_concat(a, l, *n, ',') : "";
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return diag_set(d, "%s: a value has a control character", key);
    *out = h2o_iovec_init(v, strlen(v));
    return 0;
}

/* "{m,n}" or "{m,}": a regex quantifier whose comma the list split would
 * cut (fail closed rather than match something else). */
static bool has_counted_repeat(const char *s)
{
    for (const char *p = strchr(s, '{'); p != NULL; p = strchr(p + 1, '{')) {
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q > p + 1 && *q == ',') {
            for (q++; *q >= '0' && *q <= '9'; q++)
                ;
            if (*q == '}')
                return true;
        }
    }
    return false;
}

int mw_headers__cors_build(struct arena *a, struct mw_options *o, struct mw_headers_cors *c, struct diag *d)
{
    size_t n_headers, n_methods, n_expose;
    if (mw_opt_bool(o, "accessControlAllowCredentials", false, &c->credentials, d) ||
        mw_opt_bool(o, "addVaryHeader", false, &c->add_vary, d) ||
        joined(a, o, "accessControlAllowHeaders", &c->allow_headers, &c->allow_headers_star, &n_headers, d) ||
        joined(a, o, "accessControlAllowMethods", &c->allow_methods, &c->allow_methods_star, &n_methods, d) ||
        joined(a, o, "accessControlExposeHeaders", &c->expose, &c->expose_star, &n_expose, d))
        return -1;
    int64_t max_age;
    const char *ma = mw_opt_string(o, "accessControlMaxAge");
    if (mw_opt_int(o, "accessControlMaxAge", 0, INT64_MIN, INT64_MAX, &max_age, d) != 0)
        return -1;
    c->max_age_set = ma != NULL && *ma;
    if (c->max_age_set) {
        char *v = arena_printf(a, "%lld", (long long)max_age);
        c->max_age = h2o_iovec_init(v, strlen(v));
    }
    c->origins = mw_opt_list(a, o, "accessControlAllowOriginList", &c->n_origins);
    c->origin_lens = arena_alloc(a, (c->n_origins ? c->n_origins : 1) * sizeof(*c->origin_lens));
    for (size_t i = 0; i < c->n_origins; i++) {
        c->origin_lens[i] = strlen(c->origins[i]);
        for (const unsigned char *p = (const unsigned char *)c->origins[i]; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                return diag_set(d, "accessControlAllowOriginList: an origin has a control character");
    }
    const char *raw = mw_opt_string(o, "accessControlAllowOriginListRegex");
    if (raw != NULL && has_counted_repeat(raw))
        return diag_set(d, "accessControlAllowOriginListRegex: '%s': a regex with a comma ({m,n}) would be split, gantry's "
                           "lists being comma-separated; write it without the comma", raw);
    const char **res = mw_opt_list(a, o, "accessControlAllowOriginListRegex", &c->n_regexes);
    c->regexes = arena_alloc(a, (c->n_regexes ? c->n_regexes : 1) * sizeof(*c->regexes));
    for (size_t i = 0; i < c->n_regexes; i++) {
        int err;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)res[i], PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        if (re == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return diag_set(d, "accessControlAllowOriginListRegex: '%s': %s at offset %zu", res[i], (const char *)msg,
                            (size_t)off);
        }
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
        arena_on_free(a, regex_free, re);
        c->regexes[i] = re;
    }
    /* Traefik's HasCorsHeadersDefined */
    c->on = c->credentials || n_headers || n_methods || c->n_origins || c->n_regexes || n_expose || c->max_age_set ||
            c->add_vary;
    return 0;
}

static void *pool_malloc(PCRE2_SIZE size, void *pool)
{
    return h2o_mem_alloc_pool(pool, size);
}

static void pool_free(void *p, void *pool)
{
    (void)p, (void)pool; /* the request's pool goes at once */
}

static bool regex_match(const struct mw_headers_cors *c, h2o_req_t *req, h2o_iovec_t s)
{
    pcre2_general_context *g = pcre2_general_context_create(pool_malloc, pool_free, &req->pool);
    pcre2_match_context *mc = pcre2_match_context_create(g);
    pcre2_set_match_limit(mc, CORS_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, CORS_DEPTH_LIMIT);
    pcre2_match_data *md = pcre2_match_data_create(1, g);
    const char *subject = s.base != NULL ? s.base : "";
    for (size_t i = 0; i < c->n_regexes; i++)
        if (pcre2_match(c->regexes[i], (PCRE2_SPTR)subject, s.len, 0, 0, md, mc) >= 0)
            return true; /* errors (limits, bad UTF-8) count as no match */
    return false;
}

/* The Access-Control-Allow-Origin value for <origin>, or {NULL, 0}. */
static h2o_iovec_t match_origin(const struct mw_headers_cors *c, h2o_req_t *req, h2o_iovec_t origin)
{
    for (size_t i = 0; i < c->n_origins; i++) {
        if (h2o_memis(c->origins[i], c->origin_lens[i], origin.base, origin.len))
            return h2o_iovec_init(c->origins[i], c->origin_lens[i]);
        if (c->origin_lens[i] == 1 && c->origins[i][0] == '*')
            return c->credentials ? h2o_iovec_init(origin.base ? origin.base : "", origin.len) : h2o_iovec_init(H2O_STRLIT("*"));
    }
    if (c->n_regexes && regex_match(c, req, origin))
        return h2o_iovec_init(origin.base ? origin.base : "", origin.len);
    return h2o_iovec_init(NULL, 0);
}

/* Go's Header.Set on the response: <lname> lowercase, <name> as sent. */
static void set(h2o_req_t *req, const char *lname, const char *name, h2o_iovec_t value)
{
    size_t len = strlen(lname);
    mw_headers__del(&req->res.headers, lname, len);
    const h2o_token_t *tok = h2o_lookup_token(lname, len);
    if (tok != NULL)
        h2o_add_header(&req->pool, &req->res.headers, tok, name, value.base, value.len);
    else
        h2o_add_header_by_str(&req->pool, &req->res.headers, lname, len, 0, name, value.base, value.len);
}

static void common(const struct mw_headers_cors *c, h2o_req_t *req, h2o_iovec_t allow_origin)
{
    if (allow_origin.base != NULL)
        set(req, "access-control-allow-origin", "Access-Control-Allow-Origin", allow_origin);
    if (c->credentials)
        set(req, "access-control-allow-credentials", "Access-Control-Allow-Credentials", h2o_iovec_init(H2O_STRLIT("true")));
    if (c->expose.len && !(c->expose_star && c->credentials))
        set(req, "access-control-expose-headers", "Access-Control-Expose-Headers", c->expose);
}

bool mw_headers__cors_preflight(const struct mw_headers_cors *c, h2o_req_t *req)
{
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("OPTIONS")))
        return false;
    h2o_iovec_t origin = mw_headers__get(&req->headers, H2O_STRLIT("origin"));
    h2o_iovec_t method = mw_headers__get(&req->headers, H2O_STRLIT("access-control-request-method"));
    if (origin.len == 0 || method.len == 0)
        return false;
    req->res.headers = (h2o_headers_t){NULL};
    if (c->allow_headers_star && c->credentials) {
        h2o_iovec_t rh = mw_headers__get(&req->headers, H2O_STRLIT("access-control-request-headers"));
        if (rh.len)
            set(req, "access-control-allow-headers", "Access-Control-Allow-Headers", rh);
    } else if (c->allow_headers.len) {
        set(req, "access-control-allow-headers", "Access-Control-Allow-Headers", c->allow_headers);
    }
    if (c->allow_methods_star && c->credentials)
        set(req, "access-control-allow-methods", "Access-Control-Allow-Methods", method);
    else if (c->allow_methods.len)
        set(req, "access-control-allow-methods", "Access-Control-Allow-Methods", c->allow_methods);
    if (c->max_age_set)
        set(req, "access-control-max-age", "Access-Control-Max-Age", c->max_age);
    common(c, req, match_origin(c, req, origin));
    return true;
}

void mw_headers__cors_response(const struct mw_headers_cors *c, h2o_req_t *req)
{
    h2o_iovec_t origin = mw_headers__get(&req->headers, H2O_STRLIT("origin"));
    common(c, req, match_origin(c, req, origin));
    if (!c->add_vary)
        return;
    h2o_iovec_t vary = mw_headers__get(&req->res.headers, H2O_STRLIT("vary"));
    if (h2o_memis(vary.base, vary.len, H2O_STRLIT("Origin")))
        return;
    char *v = h2o_mem_alloc_pool(&req->pool, vary.len + 8), *p = v;
    if (vary.len) {
        memcpy(p, vary.base, vary.len), p += vary.len;
        *p++ = ',';
    }
    memcpy(p, "Origin", 6), p += 6;
    set(req, "vary", "Vary", h2o_iovec_init(v, (size_t)(p - v)));
}
