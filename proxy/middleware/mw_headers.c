/*
 * Headers (Traefik v3, pkg/middlewares/headers on unrolled/secure v1.0.9):
 * custom request and response headers, security response headers, allowed
 * hosts, and CORS (mw_headers_cors.c).
 *
 * Traefik stacks two handlers: "Header" (CORS preflight, custom request
 * headers; on the way back custom response headers then CORS headers) runs
 * first and wraps "secure" (allowed hosts; on the way back the security
 * headers). So, per request:
 *   1. a CORS preflight is answered 200 at once (no security or custom
 *      response headers on it);
 *   2. customRequestHeaders are applied ("" deletes, Host sets the host);
 *   3. allowedHosts, on the host after step 2 (or the first non-empty
 *      hostsProxyHeaders header): another host is answered 500 "Bad Host",
 *      with the custom response and CORS headers but no security headers;
 * and on the response head: security headers, then customResponseHeaders
 * ("" deletes, upstream's too), then CORS headers. Every header value is
 * prepared in build(); a request only allocates a CSP nonce.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "mw_headers.h"

#include <ctype.h>
#include <openssl/rand.h>
#include <string.h>
#include <strings.h>

#include "../../common/log.h"
#include "../forwarded.h"

struct headers_cfg {
    struct mw_hdr *req, *res; /* customRequestHeaders, customResponseHeaders */
    size_t n_req, n_res;
    bool has_custom, has_secure;
    struct mw_headers_cors cors;
    /* the "secure" part */
    bool is_development, force_sts;
    const char **allowed_hosts;
    size_t n_allowed_hosts;
    struct mw_hdr *hosts_proxy, *ssl_proxy; /* ssl_proxy: name and the value meaning https */
    size_t n_hosts_proxy, n_ssl_proxy;
    struct mw_hdr *always; /* frame options, nosniff, XSS, referrer, permissions, CSP without nonce */
    size_t n_always;
    struct mw_hdr sts, hpkp; /* value.len 0: not sent */
    struct mw_hdr csp[2];    /* with $NONCE: Content-Security-Policy(-Report-Only) */
    h2o_iovec_t *csp_parts[2];
    size_t n_csp_parts[2];
};

/* ---- header helpers ---- */

static bool is_tchar(unsigned char c)
{
    return isalnum(c) || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* CR, LF and the other control bytes but HTAB: header injection. */
static bool has_control(const char *v)
{
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return true;
    return false;
}

/* Builds one header from <name> (refused unless an HTTP token) and <value>
 * (refused with CR, LF or other control bytes); <what> names the option. */
static int build_header(struct arena *a, struct mw_hdr *h, const char *name, const char *value, const char *what,
                        struct diag *d)
{
    size_t len = strlen(name);
    if (len == 0)
        return diag_set(d, "%s: empty header name", what);
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)name[i]))
            return diag_set(d, "%s: '%s' is not a valid header name", what, name);
    if (has_control(value))
        return diag_set(d, "%s.%s: the value has a control character (CR, LF...)", what, name);
    /* Go's CanonicalMIMEHeaderKey: what Traefik puts on the wire */
    char *canon = arena_strndup(a, name, len), *lower = arena_strndup(a, name, len);
    bool upper = true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)canon[i];
        canon[i] = (char)(upper ? toupper(c) : tolower(c));
        lower[i] = (char)tolower(c);
        upper = c == '-';
    }
    h->name = canon;
    h->lname = lower;
    h->len = len;
    h->token = h2o_lookup_token(lower, len);
    h->wire = h2o_iovec_init(lower, len);
    h->value = h2o_iovec_init(arena_strdup(a, value), strlen(value));
    return 0;
}

void mw_headers__del(h2o_headers_t *hs, const char *lname, size_t len)
{
    size_t j = 0;
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_iovec_t *n = hs->entries[i].name;
        /* the first byte (either case) rules most names out before the compare */
        bool same = n->len == len && len != 0 && (n->base[0] == lname[0] || (n->base[0] | 0x20) == lname[0]) &&
                    h2o__lcstris_core(n->base, lname, len);
        if (!same)
            hs->entries[j++] = hs->entries[i];
    }
    hs->size = j;
}

/* Header edits on <hs> (req->headers or req->res.headers); <value> must
 * outlive the request (table arena or req->pool). */
static void set_header(h2o_req_t *req, h2o_headers_t *hs, const struct mw_hdr *h, h2o_iovec_t value)
{
    mw_headers__del(hs, h->lname, h->len);
    mw_header_add_fixed(&req->pool, hs, h->token, &h->wire, h->name, value); /* names in the table's arena */
}

h2o_iovec_t mw_headers__get(const h2o_headers_t *hs, const char *lname, size_t len)
{
    for (size_t i = 0; i < hs->size; i++)
        if (h2o_lcstris(hs->entries[i].name->base, hs->entries[i].name->len, lname, len))
            return hs->entries[i].value;
    return h2o_iovec_init(NULL, 0);
}

/* ---- build ---- */

/* A map option (customRequestHeaders.X-Foo = "bar") into headers. */
static int build_map(struct arena *a, struct mw_options *o, const char *key, struct mw_hdr **out, size_t *n,
                     struct diag *d)
{
    const char **keys, **values;
    *n = mw_opt_map(a, o, key, &keys, &values);
    *out = arena_alloc(a, (*n ? *n : 1) * sizeof(**out));
    for (size_t i = 0; i < *n; i++)
        if (build_header(a, &(*out)[i], keys[i], values[i], key, d) != 0)
            return -1;
    return 0;
}

/* A header the middleware must not write on a response: h2o owns framing. */
static bool framing_header(const struct mw_hdr *h)
{
    return h->token == H2O_TOKEN_CONTENT_LENGTH || h->token == H2O_TOKEN_TRANSFER_ENCODING ||
           h->token == H2O_TOKEN_CONNECTION;
}

/* A string option's value, NULL when absent or empty (Go's ""); <bad> is
 * set to the key when the value has a control character. */
static const char *opt_nonempty(struct mw_options *o, const char *key, const char **bad)
{
    const char *v = mw_opt_string(o, key);
    if (v != NULL && has_control(v))
        *bad = key;
    return v != NULL && *v ? v : NULL;
}

static void add_always(struct arena *a, struct headers_cfg *c, const char *name, const char *value)
{
    struct diag ignored;
    if (value != NULL && *value)
        c->n_always += build_header(a, &c->always[c->n_always], name, value, name, &ignored) == 0;
}

/* Splits <policy> on "$NONCE" (unrolled/secure's per-request nonce). */
static void csp_split(struct arena *a, const char *policy, h2o_iovec_t **parts, size_t *n)
{
    size_t cap = 1;
    for (const char *p = policy; (p = strstr(p, "$NONCE")) != NULL; p += 6)
        cap++;
    *parts = arena_alloc(a, cap * sizeof(**parts));
    *n = 0;
    for (const char *p = policy;;) {
        const char *at = strstr(p, "$NONCE");
        size_t len = at ? (size_t)(at - p) : strlen(p);
        (*parts)[(*n)++] = h2o_iovec_init(p, len);
        if (at == NULL)
            break;
        p = at + 6;
    }
}

/* Options Traefik v3 removed but still decodes, then ignores: read (a bad
 * value is refused, as Traefik's decoder would), warned about, and <set>
 * when one would count as "defined". */
static int removed_options(struct mw_options *o, bool *set, struct diag *d)
{
    bool redirect, temporary, force_host;
    const char *bad = NULL;
    if (mw_opt_bool(o, "sslRedirect", false, &redirect, d) || mw_opt_bool(o, "sslTemporaryRedirect", false, &temporary, d) ||
        mw_opt_bool(o, "sslForceHost", false, &force_host, d))
        return -1;
    const char *ssl_host = opt_nonempty(o, "sslHost", &bad), *feature = opt_nonempty(o, "featurePolicy", &bad);
    *set = redirect || temporary || force_host || ssl_host || feature;
    if (*set)
        log_warn("headers: sslRedirect, sslTemporaryRedirect, sslHost, sslForceHost and featurePolicy were removed in "
                 "Traefik v3 and are ignored (use redirectScheme / permissionsPolicy)");
    return 0;
}

static int build_secure(struct arena *a, struct mw_options *o, struct headers_cfg *c, struct diag *d)
{
    bool frame_deny, nosniff, xss, sub, preload;
    int64_t sts;
    if (mw_opt_bool(o, "isDevelopment", false, &c->is_development, d) || mw_opt_bool(o, "forceSTSHeader", false, &c->force_sts, d) ||
        mw_opt_bool(o, "frameDeny", false, &frame_deny, d) || mw_opt_bool(o, "contentTypeNosniff", false, &nosniff, d) ||
        mw_opt_bool(o, "browserXssFilter", false, &xss, d) || mw_opt_bool(o, "stsIncludeSubdomains", false, &sub, d) ||
        mw_opt_bool(o, "stsPreload", false, &preload, d) || mw_opt_int(o, "stsSeconds", 0, 0, INT64_MAX, &sts, d))
        return -1;
    const char *bad = NULL;
    bool sts_given = opt_nonempty(o, "stsSeconds", &bad) != NULL;
    c->allowed_hosts = mw_opt_list(a, o, "allowedHosts", &c->n_allowed_hosts);
    size_t n;
    const char **names = mw_opt_list(a, o, "hostsProxyHeaders", &n);
    c->hosts_proxy = arena_alloc(a, (n ? n : 1) * sizeof(*c->hosts_proxy));
    for (c->n_hosts_proxy = 0; c->n_hosts_proxy < n; c->n_hosts_proxy++)
        if (build_header(a, &c->hosts_proxy[c->n_hosts_proxy], names[c->n_hosts_proxy], "", "hostsProxyHeaders", d) != 0)
            return -1;
    if (build_map(a, o, "sslProxyHeaders", &c->ssl_proxy, &c->n_ssl_proxy, d) != 0)
        return -1;

    const char *frame = opt_nonempty(o, "customFrameOptionsValue", &bad), *xssv = opt_nonempty(o, "customBrowserXSSValue", &bad);
    const char *csp = opt_nonempty(o, "contentSecurityPolicy", &bad);
    const char *cspro = opt_nonempty(o, "contentSecurityPolicyReportOnly", &bad);
    const char *pk = opt_nonempty(o, "publicKey", &bad), *referrer = opt_nonempty(o, "referrerPolicy", &bad);
    const char *permissions = opt_nonempty(o, "permissionsPolicy", &bad);
    if (bad != NULL)
        return diag_set(d, "%s: the value has a control character (CR, LF...)", bad);
    bool nonce = (csp && strstr(csp, "$NONCE")) || (cspro && strstr(cspro, "$NONCE"));

    c->always = arena_alloc(a, 8 * sizeof(*c->always));
    add_always(a, c, "X-Frame-Options", frame ? frame : frame_deny ? "DENY" : NULL);
    add_always(a, c, "X-Content-Type-Options", nosniff ? "nosniff" : NULL);
    add_always(a, c, "X-XSS-Protection", xssv ? xssv : xss ? "1; mode=block" : NULL);
    add_always(a, c, "Referrer-Policy", referrer);
    add_always(a, c, "Permissions-Policy", permissions);
    add_always(a, c, "Content-Security-Policy", nonce ? NULL : csp);
    add_always(a, c, "Content-Security-Policy-Report-Only", nonce ? NULL : cspro);
    if (nonce) {
        const char *policies[2] = {csp, cspro}, *names2[2] = {"Content-Security-Policy", "Content-Security-Policy-Report-Only"};
        for (int i = 0; i < 2; i++)
            if (policies[i] != NULL) {
                if (build_header(a, &c->csp[i], names2[i], policies[i], names2[i], d) != 0)
                    return -1;
                csp_split(a, c->csp[i].value.base, &c->csp_parts[i], &c->n_csp_parts[i]);
            }
    }
    if (sts != 0) {
        const char *v = arena_printf(a, "max-age=%lld%s%s", (long long)sts, sub ? "; includeSubDomains" : "", preload ? "; preload" : "");
        if (build_header(a, &c->sts, "Strict-Transport-Security", v, "stsSeconds", d) != 0)
            return -1;
    }
    if (pk != NULL && build_header(a, &c->hpkp, "Public-Key-Pins", pk, "publicKey", d) != 0)
        return -1;

    bool removed;
    if (removed_options(o, &removed, d) != 0)
        return -1;
    /* Traefik's HasSecureHeadersDefined */
    c->has_secure = c->n_allowed_hosts || c->n_hosts_proxy || c->n_ssl_proxy || sts_given || sub || preload || c->force_sts ||
                    frame_deny || frame || nosniff || xss || xssv || csp || cspro || pk || referrer || permissions ||
                    c->is_development || removed;
    return 0;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct headers_cfg *c = arena_alloc(a, sizeof(*c));
    if (build_map(a, o, "customRequestHeaders", &c->req, &c->n_req, d) != 0 ||
        build_map(a, o, "customResponseHeaders", &c->res, &c->n_res, d) != 0)
        return -1;
    for (size_t i = 0; i < c->n_res; i++)
        if (framing_header(&c->res[i]))
            return diag_set(d, "customResponseHeaders.%s: gantry does not let a middleware change the response framing",
                            c->res[i].name);
    c->has_custom = c->n_req || c->n_res;
    if (build_secure(a, o, c, d) != 0 || mw_headers__cors_build(a, o, &c->cors, d) != 0)
        return -1;
    if (!c->has_custom && !c->has_secure && !c->cors.on) /* a typo reads better than "nothing set" */
        return mw_options_check(o, d) != 0 ? -1 : diag_set(d, "headers configuration not valid: no option set");
    *cfg = c;
    return 0;
}

/* ---- request ---- */

/* The X-Forwarded-* header a middleware deleted: Traefik set them at the
 * entry point, before any middleware, so deleting one sticks. */
static uint8_t forwarded_bit(const struct mw_hdr *h)
{
    static const struct {
        const char *lname;
        uint8_t bit;
    } bits[] = {{"x-forwarded-proto", FORWARDED_NO_XF_PROTO},   {"x-forwarded-host", FORWARDED_NO_XF_HOST},
                {"x-forwarded-port", FORWARDED_NO_XF_PORT},     {"x-forwarded-server", FORWARDED_NO_XF_SERVER},
                {"x-real-ip", FORWARDED_NO_X_REAL_IP}};
    for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
        if (strcmp(h->lname, bits[i].lname) == 0)
            return bits[i].bit;
    /* Traefik leaves X-Forwarded-For out for the exact spelling only (other
     * spellings send the client's address alone); gantry for any, since
     * labels arrive lowercased */
    return strcmp(h->lname, "x-forwarded-for") == 0 ? FORWARDED_NO_XFF : 0;
}

/* customRequestHeaders Host = v: the request's host becomes v. The
 * X-Forwarded-Host and -Port the upstream gets stay the client's, as
 * Traefik's entry point set them before. */
static void set_host(struct mw_run *run, h2o_iovec_t value)
{
    h2o_req_t *req = run->req;
    h2o_iovec_t a = req->authority;
    if (mw_headers__get(&req->headers, H2O_STRLIT("x-forwarded-host")).base == NULL &&
        !(run->client.forwarded_off & FORWARDED_NO_XF_HOST))
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-forwarded-host"), 0, "X-Forwarded-Host", a.base, a.len);
    if (mw_headers__get(&req->headers, H2O_STRLIT("x-forwarded-port")).base == NULL &&
        !(run->client.forwarded_off & FORWARDED_NO_XF_PORT)) {
        const char *rb = a.len && a.base[0] == '[' ? memchr(a.base, ']', a.len) : NULL;
        const char *colon = rb ? (rb + 1 < a.base + a.len && rb[1] == ':' ? rb + 1 : NULL) : memchr(a.base, ':', a.len);
        h2o_iovec_t port = colon != NULL && colon + 1 < a.base + a.len
                               ? h2o_iovec_init(colon + 1, (size_t)(a.base + a.len - colon - 1))
                               : run->client.tls ? h2o_iovec_init(H2O_STRLIT("443")) : h2o_iovec_init(H2O_STRLIT("80"));
        h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("x-forwarded-port"), 0, "X-Forwarded-Port", port.base,
                              port.len);
    }
    req->authority = value;
}

static void request_headers(const struct headers_cfg *c, struct mw_run *run)
{
    h2o_req_t *req = run->req;
    for (size_t i = 0; i < c->n_req; i++) {
        const struct mw_hdr *h = &c->req[i];
        if (h->token == H2O_TOKEN_HOST) {
            if (h->value.len) /* an empty Host deletes nothing: Go keeps the host apart */
                set_host(run, h->value);
        } else if (h->value.len == 0) {
            mw_headers__del(&req->headers, h->lname, h->len);
            run->client.forwarded_off |= forwarded_bit(h);
        } else {
            set_header(req, &req->headers, h, h->value);
        }
    }
}

static bool host_allowed(const struct headers_cfg *c, const h2o_req_t *req)
{
    if (c->n_allowed_hosts == 0 || c->is_development)
        return true;
    h2o_iovec_t host = req->authority;
    for (size_t i = 0; i < c->n_hosts_proxy; i++) {
        h2o_iovec_t v = mw_headers__get(&req->headers, c->hosts_proxy[i].lname, c->hosts_proxy[i].len);
        if (v.len) {
            host = v;
            break;
        }
    }
    for (size_t i = 0; i < c->n_allowed_hosts; i++)
        if (strlen(c->allowed_hosts[i]) == host.len && strncasecmp(c->allowed_hosts[i], host.base, host.len) == 0)
            return true;
    return false;
}

static void custom_response(const struct headers_cfg *c, h2o_req_t *req)
{
    for (size_t i = 0; i < c->n_res; i++) {
        if (c->res[i].value.len == 0)
            mw_headers__del(&req->res.headers, c->res[i].lname, c->res[i].len);
        else
            set_header(req, &req->res.headers, &c->res[i], c->res[i].value);
    }
    if (c->cors.on)
        mw_headers__cors_response(&c->cors, req);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct headers_cfg *c = cfg;
    h2o_req_t *req = run->req;
    if (c->cors.on && mw_headers__cors_preflight(&c->cors, req)) {
        mw_send(run, 200, "OK", h2o_iovec_init("", 0));
        return MW_ANSWERED;
    }
    request_headers(c, run);
    if (c->has_secure && !host_allowed(c, req)) {
        /* unrolled/secure's bad host handler: http.Error(w, "Bad Host", 500) */
        req->res.headers = (h2o_headers_t){NULL};
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, "Content-Type",
                       H2O_STRLIT("text/plain; charset=utf-8"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-content-type-options"), 0, "X-Content-Type-Options",
                              H2O_STRLIT("nosniff"));
        custom_response(c, req);
        mw_send(run, 500, "Internal Server Error", h2o_iovec_init(H2O_STRLIT("Bad Host\n")));
        return MW_ANSWERED;
    }
    return MW_NEXT;
}

/* ---- response ---- */

static bool is_ssl(const struct headers_cfg *c, const struct mw_run *run)
{
    if (mw_request_is_tls(run))
        return true;
    for (size_t i = 0; i < c->n_ssl_proxy; i++) {
        const struct mw_hdr *h = &c->ssl_proxy[i];
        h2o_iovec_t v = mw_headers__get(&run->req->headers, h->lname, h->len);
        if (h2o_memis(v.base, v.len, h->value.base, h->value.len))
            return true;
    }
    return false;
}

static void csp_with_nonce(const struct headers_cfg *c, h2o_req_t *req)
{
    unsigned char raw[16];
    char b64[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        h2o_fatal("RAND_bytes failed");
    size_t blen = h2o_base64_encode(b64, raw, sizeof(raw), 0);
    while (blen && b64[blen - 1] == '=') /* Go's RawStdEncoding: no padding */
        blen--;
    for (int i = 0; i < 2; i++) {
        if (c->n_csp_parts[i] == 0)
            continue;
        size_t len = 0;
        for (size_t j = 0; j < c->n_csp_parts[i]; j++)
            len += c->csp_parts[i][j].len + (j ? blen + 9 : 0);
        char *v = h2o_mem_alloc_pool(&req->pool, len + 1), *p = v;
        for (size_t j = 0; j < c->n_csp_parts[i]; j++) {
            if (j) {
                memcpy(p, "'nonce-", 7), p += 7;
                memcpy(p, b64, blen), p += blen;
                *p++ = '\'';
            }
            memcpy(p, c->csp_parts[i][j].base, c->csp_parts[i][j].len), p += c->csp_parts[i][j].len;
        }
        set_header(req, &req->res.headers, &c->csp[i], h2o_iovec_init(v, (size_t)(p - v)));
    }
}

static void secure_response(const struct headers_cfg *c, struct mw_run *run)
{
    h2o_req_t *req = run->req;
    bool ssl = is_ssl(c, run);
    if (c->sts.value.len && (ssl || c->force_sts) && !c->is_development)
        set_header(req, &req->res.headers, &c->sts, c->sts.value);
    for (size_t i = 0; i < c->n_always; i++)
        set_header(req, &req->res.headers, &c->always[i], c->always[i].value);
    if (c->hpkp.value.len && ssl && !c->is_development)
        set_header(req, &req->res.headers, &c->hpkp, c->hpkp.value);
    if (c->n_csp_parts[0] || c->n_csp_parts[1])
        csp_with_nonce(c, req);
}

static void on_response(const void *cfg, struct mw_run *run)
{
    const struct headers_cfg *c = cfg;
    if (c->has_secure)
        secure_response(c, run);
    if (c->has_custom || c->cors.on)
        custom_response(c, run->req);
}

const struct mw_type mw_headers = {"headers", build, on_request, on_response};
