/*
 * The Headers middleware's compiled configuration, shared by its two files:
 * mw_headers.c (options, custom request/response headers, the security
 * headers of Traefik's "secure" part) and mw_headers_cors.c (CORS: origin
 * matching, preflight answers, CORS response headers). Visible to those two
 * files and their unit test only.
 */
#ifndef GANTRY_MW_HEADERS_H
#define GANTRY_MW_HEADERS_H

#include "middleware.h"

/* A header name prepared once: the Go-canonical spelling sent on the wire,
 * its lowercase form and h2o token (NULL when h2o has none), and a value. */
struct mw_hdr {
    const char *name;  /* "X-Custom-Header" */
    const char *lname; /* "x-custom-header" */
    size_t len;
    const h2o_token_t *token;
    h2o_iovec_t value;
    h2o_iovec_t wire; /* {lname, len}: the name an added entry points to when there is no token */
};

struct mw_headers_cors {
    bool on; /* any CORS option given (Traefik's HasCorsHeadersDefined) */
    bool credentials;
    h2o_iovec_t allow_headers, allow_methods, expose; /* joined with ",", len 0: none */
    bool allow_headers_star, allow_methods_star, expose_star;
    const char **origins; /* accessControlAllowOriginList, as written */
    size_t *origin_lens, n_origins;
    void **regexes; /* pcre2_code *, JIT-compiled */
    size_t n_regexes;
    bool max_age_set;
    h2o_iovec_t max_age; /* decimal */
    bool add_vary;
};

/* Removes every <lname> (lower case) from <hs> (req->headers or req->res.headers). */
void mw_headers__del(h2o_headers_t *hs, const char *lname, size_t len);
/* The first value of a header, or {NULL, 0} (Go's Header.Get: absent and
 * empty read the same). */
h2o_iovec_t mw_headers__get(const h2o_headers_t *hs, const char *lname, size_t len);

int mw_headers__cors_build(struct arena *a, struct mw_options *o, struct mw_headers_cors *c, struct diag *d) WARN_UNUSED;
/* True when the request is a CORS preflight (OPTIONS with Origin and
 * Access-Control-Request-Method): its answer's headers are then in
 * req->res.headers and the caller sends the 200. */
bool mw_headers__cors_preflight(const struct mw_headers_cors *c, h2o_req_t *req);
/* The CORS headers of a normal response (after the custom response headers). */
void mw_headers__cors_response(const struct mw_headers_cors *c, h2o_req_t *req);

#endif
