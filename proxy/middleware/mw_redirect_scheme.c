/*
 * RedirectScheme (Traefik): answers with a redirect to the same host and
 * path under <scheme> (and <port>; the default port of the scheme is left
 * out). A request already on the target URL goes on (so one router can serve
 * both). 302/307, or 301/308 when <permanent>: the 30x that keeps the method
 * for anything but GET, as Traefik does. X-Forwarded-Proto counts only from
 * a trusted proxy.
 */
#include "middleware.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct redirect_scheme {
    const char *scheme;
    const char *port; /* ":8443", or "" */
    bool permanent;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct redirect_scheme *c = arena_alloc(a, sizeof(*c));
    const char *scheme = mw_opt_string(o, "scheme");
    if (scheme == NULL || *scheme == '\0')
        return diag_set(d, "scheme is required");
    c->scheme = arena_strdup(a, scheme);
    const char *port = mw_opt_string(o, "port");
    int64_t pn;
    if (mw_opt_int(o, "port", 0, 0, 65535, &pn, d) != 0)
        return -1;
    bool default_port = port == NULL || *port == '\0' || (strcasecmp(scheme, "http") == 0 && pn == 80) ||
                        (strcasecmp(scheme, "https") == 0 && pn == 443);
    c->port = default_port ? "" : arena_printf(a, ":%lld", (long long)pn);
    if (mw_opt_bool(o, "permanent", false, &c->permanent, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

/* The request's host without its port. */
static h2o_iovec_t host_only(h2o_iovec_t authority)
{
    const char *s = authority.base, *end = s + authority.len;
    if (authority.len && s[0] == '[') {
        const char *close = memchr(s, ']', authority.len);
        return h2o_iovec_init(s, close ? (size_t)(close - s + 1) : authority.len);
    }
    const char *colon = memchr(s, ':', authority.len);
    return h2o_iovec_init(s, colon ? (size_t)(colon - s) : (size_t)(end - s));
}

static h2o_iovec_t port_of(h2o_iovec_t authority, h2o_iovec_t host)
{
    return host.len < authority.len ? h2o_iovec_init(authority.base + host.len, authority.len - host.len) : h2o_iovec_init("", 0);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct redirect_scheme *c = cfg;
    h2o_req_t *req = run->req;
    const char *scheme = run->client.tls ? "https" : "http";
    const h2o_iovec_t *xfp = run->client.trusted ? mw_header_get(&req->headers, H2O_STRLIT("x-forwarded-proto")) : NULL;
    if (xfp != NULL) {
        if (h2o_lcstris(xfp->base, xfp->len, H2O_STRLIT("https")) || h2o_lcstris(xfp->base, xfp->len, H2O_STRLIT("wss")))
            scheme = "https";
        else if (h2o_lcstris(xfp->base, xfp->len, H2O_STRLIT("http")) || h2o_lcstris(xfp->base, xfp->len, H2O_STRLIT("ws")))
            scheme = "http";
    }
    h2o_iovec_t host = host_only(req->authority), port = port_of(req->authority, host);
    if ((strcmp(scheme, "http") == 0 && h2o_memis(port.base, port.len, H2O_STRLIT(":80"))) ||
        (strcmp(scheme, "https") == 0 && h2o_memis(port.base, port.len, H2O_STRLIT(":443"))))
        port = h2o_iovec_init("", 0);
    h2o_iovec_t uri = run->client.path;
    if (strcasecmp(scheme, c->scheme) == 0 && h2o_memis(port.base, port.len, c->port, strlen(c->port)))
        return MW_NEXT; /* already there */
    /* concatenated, not printf'd: this runs on every request of a web -> websecure redirect */
    h2o_iovec_t url = h2o_concat(&req->pool, h2o_iovec_init(c->scheme, strlen(c->scheme)), h2o_iovec_init(H2O_STRLIT("://")), host,
                                 h2o_iovec_init(c->port, strlen(c->port)), uri);
    bool get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    int status = c->permanent ? (get ? 301 : 308) : (get ? 302 : 307);
    mw_redirect(run, status, url.base, url.len);
    return MW_ANSWERED;
}

const struct mw_type mw_redirect_scheme = {"redirectScheme", build, on_request, NULL};
