/*
 * RedirectRegex (Traefik): the request URL as Traefik builds it,
 * scheme://host[:port]/path?query (the scheme "https" on TLS, otherwise
 * that of an absolute-form target, otherwise "http"; the Host as sent, its
 * port included; the path as it stands after normalisation and earlier
 * middlewares), is matched against <regex>. On a match every match is
 * replaced by <replacement> (Go's Regexp.Expand) and the client is sent to
 * the result: 302 (GET) / 307 (other methods), or 301 / 308 when
 * <permanent>. A result equal to the URL lets the request through; one Go
 * cannot parse is answered 502 as Traefik does.
 *
 * statusCode (internal, as in Traefik: only the kubernetes provider sets it,
 * for ingress-nginx's redirects) answers that code whatever the method.
 */
#include "go_url.h"
#include "middleware.h"
#include "regex_replace.h"

#include <string.h>

struct redirect_regex {
    struct regex_replace re;
    bool permanent;
    int status; /* statusCode; 0: by <permanent> and the method */
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct redirect_regex *c = arena_alloc(a, sizeof(*c));
    const char *rx = mw_opt_string(o, "regex"), *rep = mw_opt_string(o, "replacement");
    /* Traefik compiles both as written (no trimming, unlike replacePathRegex) */
    if (regex_replace_compile(a, "regex", rx ? rx : "", &c->re, d) != 0)
        return -1;
    regex_replace_template(a, &c->re, rep ? rep : "");
    if (mw_opt_bool(o, "permanent", false, &c->permanent, d) != 0)
        return -1;
    if (o->provider == NULL || strcmp(o->provider, "kubernetes") == 0) { /* elsewhere: an unknown option */
        int64_t status;
        if (mw_opt_int(o, "statusCode", 0, 0, 399, &status, d) != 0)
            return -1;
        if (status != 0 && status != 301 && status != 302 && status != 303 && status != 307 && status != 308)
            return diag_set(d, "statusCode: %lld is not a redirect status", (long long)status);
        c->status = (int)status;
    }
    *cfg = c;
    return 0;
}

/* scheme://host + path?query, in the request's pool */
static h2o_iovec_t request_url(const struct mw_run *run)
{
    h2o_req_t *req = run->req;
    const char *scheme = "http";
    if (run->client.tls || (req->path.len >= 8 && memcmp(req->path.base, "https://", 8) == 0))
        scheme = "https";
    h2o_iovec_t host = req->authority, uri = run->client.path;
    size_t sl = strlen(scheme), n = sl + 3 + host.len + uri.len;
    char *buf = h2o_mem_alloc_pool(&req->pool, n + 1);
    memcpy(buf, scheme, sl);
    memcpy(buf + sl, "://", 3);
    memcpy(buf + sl + 3, host.base, host.len);
    memcpy(buf + sl + 3 + host.len, uri.base, uri.len);
    buf[n] = '\0';
    return h2o_iovec_init(buf, n);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct redirect_regex *c = cfg;
    h2o_req_t *req = run->req;
    h2o_iovec_t url = request_url(run);
    bool matched;
    h2o_iovec_t to = regex_replace_all(&c->re, &req->pool, url.base, url.len, &matched);
    if (!matched || h2o_memis(to.base, to.len, url.base, url.len))
        return MW_NEXT;
    h2o_iovec_t location;
    if (!go_url_location(&req->pool, to.base, to.len, &location)) {
        mw_answer(run, 502, "Bad Gateway", "Bad Gateway", false);
        return MW_ANSWERED;
    }
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int status = c->status ? c->status : c->permanent ? (get ? 301 : 308) : (get ? 302 : 307);
    mw_redirect(run, status, location.base, location.len);
    return MW_ANSWERED;
}

const struct mw_type mw_redirect_regex = {"redirectRegex", build, on_request, NULL};
