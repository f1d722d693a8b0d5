/*
 * ForwardAuth (Traefik): every request is first asked of an authentication
 * server (a GET to <address> carrying the request's headers and
 * X-Forwarded-Method/Proto/Host/Uri/For). A 2xx lets the request through,
 * with the auth server's <authResponseHeaders> (and those matching
 * <authResponseHeadersRegex>) copied onto it; anything else is the client's
 * answer: the auth server's status, headers and body, its Location made
 * absolute against <address> unless <preserveLocationHeader>. An auth
 * server that cannot be reached gives 500, as in Traefik. <authSigninURL>
 * turns the auth server's 401 into a 302 to that URL (as given). With
 * <maxResponseBodySize>, an auth answer whose body is longer gives 401 with
 * no body (Traefik's); without it the body may be up to 1 MiB (500 above:
 * Traefik reads any size).
 *
 * Gantry extension for ingress-nginx's auth-signin: with <signinURL>, the
 * auth server's 401 becomes a 302 to that URL, which gets
 * `<signinRedirectParam>=$pass_access_scheme://$http_host$escaped_request_uri`
 * (default param `rd`) unless its query already has that parameter, and
 * whose nginx variables ($escaped_request_uri, $request_uri, $scheme,
 * $pass_access_scheme, $host, $http_host, $best_http_host) are expanded per
 * request as nginx does.
 *
 * The call is asynchronous on the worker's pooled upstream connections
 * (subrequest.c): the worker serves other connections meanwhile.
 */
#include "middleware.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../../common/log.h"
#include "../registry.h"
#include "../subrequest.h"
#include "../transport.h"
#include "../hop_by_hop.h"
#include "../worker.h"
#include "pool_buf.h"

#define MAX_AUTH_BODY (1024 * 1024) /* what the auth server may answer */

struct forward_auth {
    struct server *srv;
    const char *address;  /* as configured */
    const char *target;   /* path and query sent in the request line */
    const char *host;     /* Host header: the address's authority */
    const char *origin;   /* scheme://authority, for relative Locations */
    bool trust_forward_header, forward_body, preserve_location, preserve_method;
    int64_t max_body_size; /* -1: unlimited */
    int64_t max_response_body_size; /* -1: up to MAX_AUTH_BODY */
    const char *auth_signin; /* authSigninURL, NULL: none */
    const char **response_headers, **request_headers, **auth_cookies;
    size_t n_response_headers, n_request_headers, n_auth_cookies;
    pcre2_code *response_headers_regex;
    const char *signin; /* the sign-in URL template, NULL: none */
};

static void release_server(void *srv)
{
    registry_release(srv);
}

static void free_regex(void *re)
{
    pcre2_code_free(re);
}

/* ---- signinURL ---- */

static const char *const signin_vars[] = {"escaped_request_uri", "request_uri",   "pass_access_scheme", "scheme",
                                          "best_http_host",      "http_host",     "host",               NULL};

/* The variable at <p> (after '$'): its index in signin_vars and length, or -1. */
static int signin_var(const char *p, size_t *len)
{
    size_t n = 0;
    while ((p[n] >= 'a' && p[n] <= 'z') || p[n] == '_')
        n++;
    for (int i = 0; signin_vars[i]; i++) {
        if (strlen(signin_vars[i]) == n && strncmp(p, signin_vars[i], n) == 0) {
            *len = n;
            return i;
        }
    }
    return -1;
}

/* Whether the query of <url> has parameter <param> with a value. */
static bool query_has(const char *url, const char *param)
{
    const char *q = strchr(url, '?');
    size_t pl = strlen(param);
    for (const char *p = q; p; p = strchr(p + 1, '&')) {
        const char *k = p + 1;
        if (strncmp(k, param, pl) == 0 && k[pl] == '=' && k[pl + 1] != '\0' && k[pl + 1] != '&' && k[pl + 1] != '#')
            return true;
    }
    return false;
}

static int signin_template(struct arena *a, struct forward_auth *c, const char *url, const char *param, struct diag *d)
{
    if (param == NULL || *param == '\0')
        param = "rd";
    for (const char *p = param; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return diag_set(d, "signinRedirectParam '%s' is not a query parameter name", param);
    for (const char *p = strchr(url, '$'); p; p = strchr(p + 1, '$')) {
        size_t n;
        if (signin_var(p + 1, &n) < 0)
            return diag_set(d, "signinURL '%s': unknown variable at '%.20s'", url, p);
    }
    const char *q = strchr(url, '?');
    if (q == NULL || q[1] == '\0')
        c->signin = arena_printf(a, "%.*s?%s=$pass_access_scheme://$http_host$escaped_request_uri",
                                 (int)(q ? (size_t)(q - url) : strlen(url)), url, param);
    else if (query_has(url, param))
        c->signin = arena_strdup(a, url);
    else
        c->signin = arena_printf(a, "%s&%s=$pass_access_scheme://$http_host$escaped_request_uri", url, param);
    return 0;
}

/* nginx's set_escape_uri: everything but unreserved characters %-encoded */
static void put_escaped(struct pool_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
            ch == '.' || ch == '_' || ch == '~') {
            pool_buf_put(b, (const char *)&ch, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            pool_buf_put(b, e, 3);
        }
    }
}

static h2o_iovec_t signin_location(const struct forward_auth *c, struct mw_run *run)
{
    h2o_req_t *req = run->req;
    struct pool_buf b = {.pool = &req->pool};
    h2o_iovec_t uri = req->input.path.len ? req->input.path : req->path; /* as the client sent it */
    h2o_iovec_t host = req->authority;
    size_t host_only = host.len; /* $host: without the port, lowercase */
    if (host_only && host.base[0] != '[') {
        const char *colon = memchr(host.base, ':', host.len);
        if (colon)
            host_only = (size_t)(colon - host.base);
    } else if (host_only) {
        const char *end = memchr(host.base, ']', host.len);
        if (end)
            host_only = (size_t)(end - host.base) + 1;
    }
    const char *scheme = mw_request_is_tls(run) ? "https" : "http";
    for (const char *p = c->signin; *p;) {
        size_t n;
        int v = *p == '$' ? signin_var(p + 1, &n) : -1;
        if (v < 0) {
            pool_buf_put(&b, p, 1);
            p++;
            continue;
        }
        p += 1 + n;
        switch (v) {
        case 0:
            put_escaped(&b, uri.base, uri.len);
            break;
        case 1:
            pool_buf_put(&b, uri.base, uri.len);
            break;
        case 2:
        case 3:
            pool_buf_put(&b, scheme, strlen(scheme));
            break;
        case 4:
        case 5:
            pool_buf_put(&b, host.base, host.len);
            break;
        default:
            for (size_t i = 0; i < host_only; i++) {
                char ch = (char)tolower((unsigned char)host.base[i]);
                pool_buf_put(&b, &ch, 1);
            }
        }
    }
    return h2o_iovec_init(b.p, b.len);
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct forward_auth *c = arena_alloc(a, sizeof(*c));
    const char *address = mw_opt_string(o, "address");
    if (address == NULL || *address == '\0')
        return diag_set(d, "address is required");
    const char *sep = strstr(address, "://");
    if (sep == NULL)
        return diag_set(d, "address '%s' is not a URL", address);
    const char *auth = sep + 3, *path = auth + strcspn(auth, "/?#");
    c->address = arena_strdup(a, address);
    c->origin = arena_strndup(a, address, (size_t)(path - address));
    c->host = arena_strndup(a, auth, (size_t)(path - auth));
    const char *frag = strchr(path, '#');
    c->target = *path == '/' ? arena_strndup(a, path, frag ? (size_t)(frag - path) : strlen(path))
                             : arena_printf(a, "/%.*s", (int)(frag ? (size_t)(frag - path) : strlen(path)), path);
    if (mw_opt_bool(o, "trustForwardHeader", false, &c->trust_forward_header, d) != 0 ||
        mw_opt_bool(o, "forwardBody", false, &c->forward_body, d) != 0 ||
        mw_opt_bool(o, "preserveLocationHeader", false, &c->preserve_location, d) != 0 ||
        mw_opt_bool(o, "preserveRequestMethod", false, &c->preserve_method, d) != 0 ||
        mw_opt_int(o, "maxBodySize", -1, -1, INT64_MAX, &c->max_body_size, d) != 0 ||
        mw_opt_int(o, "maxResponseBodySize", -1, -1, INT64_MAX, &c->max_response_body_size, d) != 0)
        return -1;
    c->response_headers = mw_opt_list(a, o, "authResponseHeaders", &c->n_response_headers);
    c->request_headers = mw_opt_list(a, o, "authRequestHeaders", &c->n_request_headers);
    c->auth_cookies = mw_opt_list(a, o, "addAuthCookiesToResponse", &c->n_auth_cookies);
    const char *rx = mw_opt_string(o, "authResponseHeadersRegex");
    if (rx != NULL && *rx != '\0') {
        int code;
        PCRE2_SIZE at;
        c->response_headers_regex = pcre2_compile((PCRE2_SPTR)rx, PCRE2_ZERO_TERMINATED, PCRE2_CASELESS, &code, &at, NULL);
        if (c->response_headers_regex == NULL) {
            PCRE2_UCHAR msg[120];
            pcre2_get_error_message(code, msg, sizeof(msg));
            return diag_set(d, "authResponseHeadersRegex: %s at offset %zu", (const char *)msg, (size_t)at);
        }
        arena_on_free(a, free_regex, c->response_headers_regex);
    }
    const char *auth_signin = mw_opt_string(o, "authSigninURL");
    if (auth_signin != NULL && *auth_signin != '\0')
        c->auth_signin = arena_strdup(a, auth_signin);
    const char *signin = mw_opt_string(o, "signinURL");
    if (c->auth_signin != NULL && signin != NULL && *signin != '\0')
        return diag_set(d, "authSigninURL and signinURL cannot both be set");
    if (signin != NULL && *signin != '\0' && signin_template(a, c, signin, mw_opt_string(o, "signinRedirectParam"), d) != 0)
        return -1;
    /* headerField names the auth response header holding the user for the
     * access log: accepted; gantry's log formats have no user field yet */
    (void)mw_opt_string(o, "headerField");
    /* tls: the auth server's CA, a client certificate, insecureSkipVerify
     * (files or inline PEM, as Traefik's ClientTLS); without it the global
     * serversTransport's settings */
    struct transport *t = NULL;
    if (mw_opt_has(o, "tls")) {
        const char *ca = mw_opt_string(o, "tls.ca"), *cert = mw_opt_string(o, "tls.cert"), *key = mw_opt_string(o, "tls.key");
        bool insecure = false, ca_optional = false;
        if (mw_opt_bool(o, "tls.insecureSkipVerify", false, &insecure, d) != 0 ||
            mw_opt_bool(o, "tls.caOptional", false, &ca_optional, d) != 0) /* deprecated in Traefik, no effect */
            return -1;
        if ((cert != NULL && *cert) != (key != NULL && *key))
            return diag_set(d, "tls: cert and key go together");
        if (strncasecmp(address, "https://", 8) != 0)
            return diag_set(d, "tls: the address '%s' is not https", address);
        const char *cas[1] = {ca}, *certs[1] = {cert}, *keys[1] = {key};
        struct transport_spec spec = {
            .insecure_skip_verify = insecure,
            .root_cas = cas,
            .n_root_cas = ca != NULL && *ca ? 1 : 0,
            .cert_files = certs,
            .key_files = keys,
            .n_certs = cert != NULL && *cert ? 1 : 0,
        };
        struct diag td;
        t = transport_acquire(&spec, &td);
        if (t == NULL)
            return diag_set(d, "tls: %s", td.msg);
    }
    struct diag rd;
    c->srv = t != NULL ? registry_acquire_via(address, t, &rd) : registry_acquire(address, &rd);
    if (t != NULL)
        transport_release(t); /* the server holds its own reference */
    if (c->srv == NULL)
        return diag_set(d, "address: %s", rd.msg);
    arena_on_free(a, release_server, c->srv);
    *cfg = c;
    return 0;
}

/* ---- the request to the auth server ---- */

static void put_header(struct pool_buf *b, const char *name, size_t nlen, const char *value, size_t vlen)
{
    pool_buf_put(b, name, nlen);
    pool_buf_put(b, ": ", 2);
    pool_buf_put(b, value, vlen);
    pool_buf_put(b, "\r\n", 2);
}

/* Not copied between the client's exchange and the auth server's: the
 * connection-specific fields, framing, Host, and the proxy's own
 * authentication (RFC 9110 11.7: for the next hop only). */
static bool hop_by_hop(const h2o_iovec_t *n)
{
    static const char *const hop[] = {"proxy-authenticate", "proxy-authorization", "trailer", "host", "content-length", NULL};
    if (hbh_connection_specific(n))
        return true;
    for (const char *const *h = hop; *h; h++)
        if (h2o_lcstris(n->base, n->len, *h, strlen(*h)))
            return true;
    return false;
}

static bool listed(const char *const *names, size_t n, const h2o_iovec_t *name)
{
    for (size_t i = 0; i < n; i++)
        if (mw_name_is(name->base, name->len, names[i], strlen(names[i])))
            return true;
    return false;
}

/* An X-Forwarded-* value: the incoming one when trusted, else ours. */
static void put_forwarded(struct pool_buf *b, const struct forward_auth *c, const h2o_req_t *req, const char *name,
                          const char *ours, size_t ours_len)
{
    const h2o_iovec_t *in = c->trust_forward_header ? mw_header_get(&req->headers, name, strlen(name)) : NULL;
    if (in != NULL)
        put_header(b, name, strlen(name), in->base, in->len);
    else if (ours_len)
        put_header(b, name, strlen(name), ours, ours_len);
}

/* the X-Forwarded-* headers the auth request gets from us */
static const char *const forwarded_set[] = {"x-forwarded-for",  "x-forwarded-method", "x-forwarded-proto",
                                            "x-forwarded-host", "x-forwarded-uri",    "x-forwarded-port"};

static h2o_iovec_t auth_head(const struct forward_auth *c, struct mw_run *run, size_t body_len)
{
    h2o_req_t *req = run->req;
    struct pool_buf b = {.pool = &req->pool};
    h2o_iovec_t method = c->preserve_method ? req->method : h2o_iovec_init(H2O_STRLIT("GET"));
    pool_buf_put(&b, method.base, method.len);
    pool_buf_put(&b, " ", 1);
    pool_buf_put(&b, c->target, strlen(c->target));
    pool_buf_put(&b, " HTTP/1.1\r\n", 11);
    put_header(&b, H2O_STRLIT("Host"), c->host, strlen(c->host));
    struct pool_buf cookies = {.pool = &req->pool}; /* HTTP/2 splits cookies; one line upstream, written last */
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (hop_by_hop(h->name) || (c->n_request_headers && !listed(c->request_headers, c->n_request_headers, h->name)))
            continue;
        if (listed(forwarded_set, sizeof(forwarded_set) / sizeof(*forwarded_set), h->name))
            continue; /* set below */
        if (h->name == &H2O_TOKEN_COOKIE->buf) {
            pool_buf_put(&cookies, cookies.len ? "; " : "Cookie: ", cookies.len ? 2 : 8);
            pool_buf_put(&cookies, h->value.base, h->value.len);
            continue;
        }
        const char *name = h->orig_name ? h->orig_name : h->name->base;
        put_header(&b, name, h->name->len, h->value.base, h->value.len);
    }
    if (cookies.len) {
        pool_buf_put(&b, cookies.p, cookies.len);
        pool_buf_put(&b, "\r\n", 2);
    }
    /* X-Forwarded-For: the client's address, after a trusted list */
    const h2o_iovec_t *xff = c->trust_forward_header ? mw_header_get(&req->headers, H2O_STRLIT("x-forwarded-for")) : NULL;
    pool_buf_put(&b, "X-Forwarded-For: ", 17);
    if (xff != NULL && xff->len) {
        pool_buf_put(&b, xff->base, xff->len);
        pool_buf_put(&b, ", ", 2);
    }
    pool_buf_put(&b, run->client.ip_text, strlen(run->client.ip_text));
    pool_buf_put(&b, "\r\n", 2);
    put_forwarded(&b, c, req, "X-Forwarded-Method", req->method.base, req->method.len);
    const char *proto = run->client.tls ? "https" : "http";
    put_forwarded(&b, c, req, "X-Forwarded-Proto", proto, strlen(proto));
    if (c->trust_forward_header)
        put_forwarded(&b, c, req, "X-Forwarded-Port", "", 0);
    put_forwarded(&b, c, req, "X-Forwarded-Host", req->authority.base, req->authority.len);
    put_forwarded(&b, c, req, "X-Forwarded-Uri", run->client.path.base, run->client.path.len);
    if (body_len || c->preserve_method) {
        char cl[32];
        int n = snprintf(cl, sizeof(cl), "%zu", body_len);
        put_header(&b, H2O_STRLIT("Content-Length"), cl, (size_t)n);
    }
    pool_buf_put(&b, "\r\n", 2);
    return h2o_iovec_init(b.p, b.len);
}

/* ---- the answer ---- */

struct auth_call {
    const struct forward_auth *cfg;
    struct mw_run *run;
    /* Set-Cookie values of the auth server to add to the final response */
    h2o_iovec_t *cookies;
    size_t n_cookies;
};

static bool name_is(const struct phr_header *h, const char *name)
{
    return mw_name_is(h->name, h->name_len, name, strlen(name));
}

static bool regex_matches(const pcre2_code *re, const char *s, size_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static bool copied_to_request(const struct forward_auth *c, const char *name, size_t len)
{
    h2o_iovec_t n = h2o_iovec_init(name, len);
    return listed(c->response_headers, c->n_response_headers, &n) ||
           (c->response_headers_regex != NULL && regex_matches(c->response_headers_regex, name, len));
}

/* The name of the cookie a Set-Cookie value sets. */
static h2o_iovec_t set_cookie_name(const char *v, size_t len)
{
    const char *eq = memchr(v, '=', len);
    size_t n = eq ? (size_t)(eq - v) : len;
    while (n && v[n - 1] == ' ')
        n--;
    return h2o_iovec_init(v, n);
}

static void allow(struct auth_call *call, const struct subrequest_response *res)
{
    const struct forward_auth *c = call->cfg;
    h2o_req_t *req = call->run->req;
    /* what is replaced is removed first, even when the auth server sent none */
    for (size_t i = 0; i < c->n_response_headers; i++)
        mw_header_unset(&req->headers, c->response_headers[i], strlen(c->response_headers[i]));
    if (c->response_headers_regex != NULL) {
        size_t j = 0;
        for (size_t i = 0; i < req->headers.size; i++) {
            const h2o_iovec_t *n = req->headers.entries[i].name;
            if (!regex_matches(c->response_headers_regex, n->base, n->len))
                req->headers.entries[j++] = req->headers.entries[i];
        }
        req->headers.size = j;
    }
    for (size_t i = 0; i < res->n_headers; i++) {
        const struct phr_header *h = &res->headers[i];
        if (copied_to_request(c, h->name, h->name_len)) {
            h2o_iovec_t lname = h2o_strdup(&req->pool, h->name, h->name_len);
            h2o_strtolower(lname.base, lname.len);
            const h2o_token_t *tok = h2o_lookup_token(lname.base, lname.len);
            if (tok != NULL)
                h2o_add_header(&req->pool, &req->headers, tok, h->name, h->value, h->value_len);
            else
                h2o_add_header_by_str(&req->pool, &req->headers, lname.base, lname.len, 0, h->name, h->value, h->value_len);
        }
        if (c->n_auth_cookies && name_is(h, "set-cookie")) {
            h2o_iovec_t cn = set_cookie_name(h->value, h->value_len);
            if (!listed(c->auth_cookies, c->n_auth_cookies, &cn))
                continue;
            if (call->cookies == NULL)
                call->cookies = h2o_mem_alloc_pool(&req->pool, res->n_headers * sizeof(*call->cookies));
            call->cookies[call->n_cookies++] = h2o_iovec_init(h->value, h->value_len);
        }
    }
    *mw_slot(call->run) = call;
    mw_resume(call->run);
}

/* The auth server's refusal becomes the client's answer. */
static void deny(struct auth_call *call, const struct subrequest_response *res)
{
    const struct forward_auth *c = call->cfg;
    h2o_req_t *req = call->run->req;
    if (c->auth_signin && res->status == 401) {
        mw_redirect(call->run, 302, c->auth_signin, strlen(c->auth_signin));
        return;
    }
    if (c->signin && res->status == 401) { /* nginx's error_page 401 = @signin: return 302 */
        h2o_iovec_t loc = signin_location(c, call->run);
        mw_redirect(call->run, 302, loc.base, loc.len);
        return;
    }
    req->res.headers = (h2o_headers_t){NULL};
    for (size_t i = 0; i < res->n_headers; i++) {
        const struct phr_header *h = &res->headers[i];
        h2o_iovec_t n = h2o_iovec_init(h->name, h->name_len);
        if (hop_by_hop(&n))
            continue;
        h2o_iovec_t value = h2o_iovec_init(h->value, h->value_len);
        if (name_is(h, "location") && !c->preserve_location && h->value_len && h->value[0] == '/' &&
            !(h->value_len > 1 && h->value[1] == '/')) {
            /* relative to the auth server, as Go's Response.Location() resolves it */
            size_t olen = strlen(c->origin);
            char *abs = h2o_mem_alloc_pool(&req->pool, olen + h->value_len);
            memcpy(abs, c->origin, olen);
            memcpy(abs + olen, h->value, h->value_len);
            value = h2o_iovec_init(abs, olen + h->value_len);
        }
        h2o_iovec_t lname = h2o_strdup(&req->pool, h->name, h->name_len);
        h2o_strtolower(lname.base, lname.len);
        const h2o_token_t *tok = h2o_lookup_token(lname.base, lname.len);
        if (tok != NULL)
            h2o_add_header(&req->pool, &req->res.headers, tok, h->name, value.base, value.len);
        else
            h2o_add_header_by_str(&req->pool, &req->res.headers, lname.base, lname.len, 0, h->name, value.base, value.len);
    }
    mw_send(call->run, res->status, "Unauthorized", res->body);
}

static void on_answer(void *data, const char *err, const struct subrequest_response *res)
{
    struct auth_call *call = data;
    if (err != NULL) {
        log_debug("forwardAuth %s: %s", call->cfg->address, err); /* per request: debug only */
        call->run->req->res.headers = (h2o_headers_t){NULL};
        if (call->cfg->max_response_body_size >= 0 && call->cfg->max_response_body_size < MAX_AUTH_BODY &&
            strcmp(err, SUBREQUEST_TOO_LARGE) == 0)
            mw_send(call->run, 401, "Unauthorized", h2o_iovec_init(NULL, 0)); /* maxResponseBodySize */
        else
            mw_send(call->run, 500, "Internal Server Error", h2o_iovec_init(NULL, 0));
        return;
    }
    if (res->status >= 200 && res->status < 300)
        allow(call, res);
    else
        deny(call, res);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct forward_auth *c = cfg;
    h2o_req_t *req = run->req;
    h2o_iovec_t body = h2o_iovec_init(NULL, 0);
    if (c->forward_body && req->entity.base != NULL) {
        if (c->max_body_size >= 0 && req->entity.len > (size_t)c->max_body_size) {
            mw_answer(run, 401, "Unauthorized", "", false);
            return MW_ANSWERED;
        }
        body = req->entity;
    }
    struct auth_call *call = h2o_mem_alloc_pool(&req->pool, sizeof(*call));
    *call = (struct auth_call){.cfg = c, .run = run};
    size_t max_answer = c->max_response_body_size >= 0 && c->max_response_body_size < MAX_AUTH_BODY
                            ? (size_t)c->max_response_body_size
                            : MAX_AUTH_BODY;
    subrequest_start(run->w, &req->pool, c->srv, auth_head(c, run, body.len), body, max_answer, on_answer, call);
    return MW_PENDING;
}

/* addAuthCookiesToResponse: the auth server's cookies replace the
 * backend's cookies of the same names. */
static void on_response(const void *cfg, struct mw_run *run)
{
    const struct forward_auth *c = cfg;
    struct auth_call *call = *mw_slot(run);
    if (call == NULL || call->n_cookies == 0)
        return;
    h2o_req_t *req = run->req;
    size_t j = 0;
    for (size_t i = 0; i < req->res.headers.size; i++) {
        h2o_header_t *h = &req->res.headers.entries[i];
        if (h->name == &H2O_TOKEN_SET_COOKIE->buf) {
            h2o_iovec_t cn = set_cookie_name(h->value.base, h->value.len);
            if (listed(c->auth_cookies, c->n_auth_cookies, &cn))
                continue;
        }
        req->res.headers.entries[j++] = *h;
    }
    req->res.headers.size = j;
    for (size_t i = 0; i < call->n_cookies; i++)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_SET_COOKIE, NULL, call->cookies[i].base, call->cookies[i].len);
}

static bool needs_body(const void *cfg)
{
    return ((const struct forward_auth *)cfg)->forward_body;
}

const struct mw_type mw_forward_auth = {"forwardAuth", build, on_request, on_response, .needs_body = needs_body};
