/* Tests proxy/middleware/mw_headers.c and mw_headers_cors.c: every option,
 * defaults and bad values; request headers, security, custom and CORS
 * response headers on synthetic requests. The answers (preflight 200, Bad
 * Host 500) need a server: tests/integration/test_mw_headers.py. */
#include "mw_test.h"

#include "../../../../proxy/forwarded.h"
#include "../../../../proxy/middleware/mw_headers.h"
#include "../../test.h"

/* Builds a headers middleware; NULL with t->error on refusal. */
static struct table_middleware *build(struct mw_test *t, const char *const *kv)
{
    return mw_test_build(t, "headers", kv);
}

/* A fresh request (no headers) through <m>: the request hook's verdict. */
static enum mw_verdict request(struct mw_test *t, struct table_middleware *m, const char *method, const char *host)
{
    t->req.headers = (h2o_headers_t){NULL};
    t->req.res.headers = (h2o_headers_t){NULL};
    return mw_test_request(t, m, method, host, "/");
}

/* The same request again, keeping the headers the test added. */
static enum mw_verdict again(struct mw_test *t, struct table_middleware *m, const char *method, const char *host)
{
    t->req.res.headers = (h2o_headers_t){NULL};
    return mw_test_request(t, m, method, host, "/");
}

static void res_add(struct mw_test *t, const char *name, const char *value)
{
    mw_header_set(&t->req, &t->req.res.headers, name, strlen(name), value, strlen(value));
}

static void respond(struct mw_test *t, struct table_middleware *m)
{
    m->type->on_response(m->cfg, &t->run);
}

static const char *res(struct mw_test *t, const char *name)
{
    const h2o_iovec_t *v = mw_header_get(&t->req.res.headers, name, strlen(name));
    return v ? h2o_strdup(&t->req.pool, v->base, v->len).base : NULL;
}

/* The name as it goes on the wire. */
static const char *res_name(struct mw_test *t, const char *lname)
{
    for (size_t i = 0; i < t->req.res.headers.size; i++) {
        const h2o_header_t *h = &t->req.res.headers.entries[i];
        if (h2o_lcstris(h->name->base, h->name->len, lname, strlen(lname)))
            return h->orig_name ? h->orig_name : h->name->base;
    }
    return NULL;
}

static void test_options(struct mw_test *t)
{
    CHECK(build(t, NULL) == NULL);
    CHECK_CONTAINS(t->error, "headers: headers configuration not valid");
    const char *off[] = {"frameDeny", "false", "isDevelopment", "false", "sslRedirect", "false", NULL};
    CHECK(build(t, off) == NULL); /* false values define nothing (Traefik) */
    const char *zero[] = {"stsSeconds", "0", NULL};
    CHECK(build(t, zero) != NULL); /* TestNew_withSTSSecondsZero */
    const char *bad_bool[] = {"frameDeny", "yes please", NULL};
    CHECK(build(t, bad_bool) == NULL);
    CHECK_CONTAINS(t->error, "frameDeny: 'yes please' is not a boolean");
    const char *bad_sts[] = {"stsSeconds", "-1", NULL};
    CHECK(build(t, bad_sts) == NULL);
    CHECK_CONTAINS(t->error, "stsSeconds");
    const char *bad_sts2[] = {"stsSeconds", "1y", NULL};
    CHECK(build(t, bad_sts2) == NULL);
    CHECK_CONTAINS(t->error, "stsSeconds: '1y'");
    const char *bad_age[] = {"accessControlMaxAge", "ten", NULL};
    CHECK(build(t, bad_age) == NULL);
    CHECK_CONTAINS(t->error, "accessControlMaxAge");
    const char *bad_name[] = {"customRequestHeaders.X Bad", "1", NULL};
    CHECK(build(t, bad_name) == NULL);
    CHECK_CONTAINS(t->error, "customRequestHeaders: 'X Bad' is not a valid header name");
    const char *bad_value[] = {"customResponseHeaders.X-A", "a\r\nSet-Cookie: x=1", NULL};
    CHECK(build(t, bad_value) == NULL);
    CHECK_CONTAINS(t->error, "customResponseHeaders.X-A: the value has a control character");
    const char *bad_csp[] = {"contentSecurityPolicy", "default-src\n'self'", NULL};
    CHECK(build(t, bad_csp) == NULL);
    CHECK_CONTAINS(t->error, "contentSecurityPolicy: the value has a control character");
    const char *framing[] = {"customResponseHeaders.Content-Length", "5", NULL};
    CHECK(build(t, framing) == NULL);
    CHECK_CONTAINS(t->error, "customResponseHeaders.Content-Length");
    const char *bad_re[] = {"accessControlAllowOriginListRegex", "(unclosed", NULL};
    CHECK(build(t, bad_re) == NULL);
    CHECK_CONTAINS(t->error, "accessControlAllowOriginListRegex: '(unclosed'");
    const char *split[] = {"accessControlAllowOriginListRegex", "^https://[a-z]{1,10}\\.example\\.com$", NULL};
    CHECK(build(t, split) == NULL);
    CHECK_CONTAINS(t->error, "a regex with a comma ({m,n}) would be split");
    const char *bad_origin[] = {"accessControlAllowOriginList", "https://a.test\r\nX-Injected: 1", NULL};
    CHECK(build(t, bad_origin) == NULL);
    CHECK_CONTAINS(t->error, "accessControlAllowOriginList: an origin has a control character");
    const char *typo[] = {"frameDenny", "true", NULL};
    CHECK(build(t, typo) == NULL);
    CHECK_CONTAINS(t->error, "unknown option 'frameDenny'");
    /* removed in v3: still decoded (bad values refused), then ignored */
    const char *removed[] = {"sslRedirect", "true", "sslTemporaryRedirect", "true", "sslHost", "a.test", "sslForceHost",
                             "true", "featurePolicy", "camera 'none'", NULL};
    struct table_middleware *m = build(t, removed);
    CHECK(m != NULL);
    if (m != NULL) {
        CHECK(request(t, m, "GET", "b.test") == MW_NEXT && t->req.res.headers.size == 0);
        respond(t, m);
        CHECK(t->req.res.headers.size == 0); /* no redirect, no Feature-Policy */
    }
    const char *bad_removed[] = {"sslRedirect", "sure", NULL};
    CHECK(build(t, bad_removed) == NULL);
    CHECK_CONTAINS(t->error, "sslRedirect");
    /* Traefik's label examples as the Docker provider decodes them
     * (tests/fixtures/docker/middleware_headers.expected.yaml) */
    const char *labels[] = {"customrequestheaders.X-Script-Name", "test", "customrequestheaders.X-Custom-Request-Header", "",
                            "customresponseheaders.X-Custom-Response-Header", "", "framedeny", "true",
                            "browserxssfilter", "true", NULL};
    m = build(t, labels);
    CHECK(m != NULL);
    if (m != NULL) {
        t->req.headers = (h2o_headers_t){NULL};
        mw_test_add_header(t, "X-Custom-Request-Header", "x");
        CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
        CHECK_STR(mw_test_header(t, "x-script-name"), "test");
        CHECK(mw_test_header(t, "x-custom-request-header") == NULL);
        res_add(t, "X-Custom-Response-Header", "up");
        respond(t, m);
        CHECK(res(t, "x-custom-response-header") == NULL);
        CHECK_STR(res(t, "x-frame-options"), "DENY");
        CHECK_STR(res(t, "x-xss-protection"), "1; mode=block");
    }
    const char *cors_labels[] = {"accesscontrolallowmethods", "GET,OPTIONS,PUT", "accesscontrolallowheaders", "*",
                                 "accesscontrolalloworiginlist", "https://foo.bar.org,https://example.org",
                                 "accesscontrolmaxage", "100", "addvaryheader", "true", NULL};
    CHECK(build(t, cors_labels) != NULL);
}

static void test_request_headers(struct mw_test *t)
{
    const char *kv[] = {"customRequestHeaders.X-Script-Name", "test", "customRequestHeaders.x-custom-request-header", "",
                        "customRequestHeaders.X-Forwarded-Proto", "", "customRequestHeaders.X-Forwarded-For", "", NULL};
    struct table_middleware *m = build(t, kv);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    t->req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "X-Script-Name", "old");
    mw_test_add_header(t, "X-Custom-Request-Header", "gone");
    mw_test_add_header(t, "X-Forwarded-Proto", "https");
    CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
    CHECK_STR(mw_test_header(t, "x-script-name"), "test");
    CHECK(mw_test_header(t, "x-custom-request-header") == NULL);
    CHECK(mw_test_header(t, "x-forwarded-proto") == NULL);
    CHECK(t->run.client.forwarded_off == (FORWARDED_NO_XF_PROTO | FORWARDED_NO_XFF));
    size_t n = 0;
    for (size_t i = 0; i < t->req.headers.size; i++)
        n += h2o_lcstris(t->req.headers.entries[i].name->base, t->req.headers.entries[i].name->len, H2O_STRLIT("x-script-name"));
    CHECK(n == 1); /* Set, not Add */

    /* Host: the request's host; the upstream's X-Forwarded-Host/Port stay the client's */
    const char *host[] = {"customRequestHeaders.Host", "internal.test", NULL};
    m = build(t, host);
    CHECK(m != NULL && request(t, m, "GET", "public.test:8080") == MW_NEXT);
    CHECK(h2o_memis(t->req.authority.base, t->req.authority.len, H2O_STRLIT("internal.test")));
    CHECK_STR(mw_test_header(t, "x-forwarded-host"), "public.test:8080");
    CHECK_STR(mw_test_header(t, "x-forwarded-port"), "8080");
    const char *nohost[] = {"customRequestHeaders.Host", "", NULL};
    m = build(t, nohost);
    CHECK(m != NULL && request(t, m, "GET", "public.test") == MW_NEXT);
    CHECK(h2o_memis(t->req.authority.base, t->req.authority.len, H2O_STRLIT("public.test")));
}

static void test_response_headers(struct mw_test *t)
{
    const char *kv[] = {"customResponseHeaders.X-Custom-Response-Header", "value", "customResponseHeaders.server", "",
                        "customResponseHeaders.x-powered-by", "", NULL};
    struct table_middleware *m = build(t, kv);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK(request(t, m, "GET", "a.test") == MW_NEXT);
    res_add(t, "Server", "upstream/1.0");
    res_add(t, "X-Powered-By", "php");
    res_add(t, "X-Custom-Response-Header", "from-upstream");
    res_add(t, "Content-Type", "text/html");
    respond(t, m);
    CHECK(res(t, "server") == NULL && res(t, "x-powered-by") == NULL);
    CHECK_STR(res(t, "x-custom-response-header"), "value");
    CHECK_STR(res_name(t, "x-custom-response-header"), "X-Custom-Response-Header");
    CHECK_STR(res(t, "content-type"), "text/html");
    CHECK(t->req.res.headers.size == 2);
}

static void test_security(struct mw_test *t)
{
    const char *kv[] = {"frameDeny", "true", "contentTypeNosniff", "true", "browserXssFilter", "true", "referrerPolicy",
                        "same-origin", "permissionsPolicy", "camera=(), microphone=()", "contentSecurityPolicy",
                        "default-src 'self'", "contentSecurityPolicyReportOnly", "img-src *", "stsSeconds", "31536000",
                        "stsIncludeSubdomains", "true", "stsPreload", "true", "publicKey", "pin-sha256=\"x\"; max-age=60",
                        NULL};
    struct table_middleware *m = build(t, kv);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK(request(t, m, "GET", "a.test") == MW_NEXT);
    res_add(t, "X-Frame-Options", "ALLOWALL"); /* the upstream's is replaced */
    respond(t, m);
    CHECK_STR(res(t, "x-frame-options"), "DENY");
    CHECK_STR(res(t, "x-content-type-options"), "nosniff");
    CHECK_STR(res(t, "x-xss-protection"), "1; mode=block");
    CHECK_STR(res(t, "referrer-policy"), "same-origin");
    CHECK_STR(res(t, "permissions-policy"), "camera=(), microphone=()");
    CHECK_STR(res(t, "content-security-policy"), "default-src 'self'");
    CHECK_STR(res(t, "content-security-policy-report-only"), "img-src *");
    CHECK(res(t, "strict-transport-security") == NULL); /* plain HTTP, not forced */
    CHECK(res(t, "public-key-pins") == NULL);
    CHECK(t->req.res.headers.size == 7);

    CHECK(request(t, m, "GET", "a.test") == MW_NEXT);
    t->run.client.tls = true;
    respond(t, m);
    CHECK_STR(res(t, "strict-transport-security"), "max-age=31536000; includeSubDomains; preload");
    CHECK_STR(res_name(t, "strict-transport-security"), "Strict-Transport-Security");
    CHECK_STR(res(t, "public-key-pins"), "pin-sha256=\"x\"; max-age=60");

    /* custom values override the booleans; forceSTSHeader; isDevelopment */
    const char *custom[] = {"frameDeny", "true", "customFrameOptionsValue", "SAMEORIGIN", "browserXssFilter", "true",
                            "customBrowserXSSValue", "0", "stsSeconds", "60", "forceSTSHeader", "true", NULL};
    m = build(t, custom);
    CHECK(m != NULL && request(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK_STR(res(t, "x-frame-options"), "SAMEORIGIN");
    CHECK_STR(res(t, "x-xss-protection"), "0");
    CHECK_STR(res(t, "strict-transport-security"), "max-age=60");
    const char *dev[] = {"stsSeconds", "60", "forceSTSHeader", "true", "isDevelopment", "true", "publicKey", "k", NULL};
    m = build(t, dev);
    CHECK(m != NULL && request(t, m, "GET", "a.test") == MW_NEXT);
    t->run.client.tls = true;
    respond(t, m);
    CHECK(res(t, "strict-transport-security") == NULL && res(t, "public-key-pins") == NULL);
    const char *zero[] = {"stsSeconds", "0", "forceSTSHeader", "true", NULL};
    m = build(t, zero);
    CHECK(m != NULL && request(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK(res(t, "strict-transport-security") == NULL);

    /* sslProxyHeaders: a header equal to the value means HTTPS */
    const char *proxy[] = {"stsSeconds", "60", "sslProxyHeaders.X-Forwarded-Proto", "https", NULL};
    m = build(t, proxy);
    CHECK(m != NULL && request(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK(res(t, "strict-transport-security") == NULL);
    mw_test_add_header(t, "X-Forwarded-Proto", "HTTPS"); /* compared exactly, as Go does */
    CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK(res(t, "strict-transport-security") == NULL);
    mw_test_add_header(t, "X-Forwarded-Proto", "https");
    CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK_STR(res(t, "strict-transport-security"), "max-age=60");

    /* $NONCE: a fresh 16-byte nonce per request, base64 without padding */
    const char *nonce[] = {"contentSecurityPolicy", "script-src $NONCE 'self'", "contentSecurityPolicyReportOnly",
                           "style-src $NONCE", NULL};
    m = build(t, nonce);
    CHECK(m != NULL && request(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    const char *v1 = res(t, "content-security-policy"), *ro = res(t, "content-security-policy-report-only");
    CHECK(v1 != NULL && strncmp(v1, "script-src 'nonce-", 18) == 0 && strlen(v1) == 18 + 22 + 8);
    CHECK_CONTAINS(v1, "' 'self'");
    CHECK(ro != NULL && v1 != NULL && strncmp(ro + 10, v1 + 11, 30) == 0); /* the same nonce in both */
    CHECK(request(t, m, "GET", "a.test") == MW_NEXT);
    respond(t, m);
    CHECK(v1 != NULL && res(t, "content-security-policy") != NULL && strcmp(v1, res(t, "content-security-policy")) != 0);
}

static void test_allowed_hosts(struct mw_test *t)
{
    const char *kv[] = {"allowedHosts", "foo.com,bar.com", "hostsProxyHeaders", "X-Forwarded-Host", NULL};
    struct table_middleware *m = build(t, kv);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    CHECK(request(t, m, "GET", "foo.com") == MW_NEXT);
    CHECK(request(t, m, "GET", "BAR.com") == MW_NEXT); /* EqualFold */
    t->req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "X-Forwarded-Host", "bar.com");
    CHECK(again(t, m, "GET", "evil.test") == MW_NEXT); /* the proxy header wins */
    const char *dev[] = {"allowedHosts", "foo.com", "isDevelopment", "true", NULL};
    m = build(t, dev);
    CHECK(m != NULL && request(t, m, "GET", "evil.test") == MW_NEXT);
}

static struct mw_headers_cors cors(struct arena *a, const char *const *kv)
{
    size_t n = 0;
    while (kv[2 * n])
        n++;
    const char *keys[n], *values[n];
    bool used[n];
    for (size_t i = 0; i < n; i++)
        keys[i] = kv[2 * i], values[i] = kv[2 * i + 1], used[i] = false;
    struct mw_options o = {keys, values, n, used};
    struct mw_headers_cors c;
    memset(&c, 0, sizeof(c));
    struct diag d;
    CHECK(mw_headers__cors_build(a, &o, &c, &d) == 0);
    return c;
}

static void test_cors(struct mw_test *t)
{
    const char *kv[] = {"accessControlAllowMethods", "GET,OPTIONS,PUT", "accessControlAllowHeaders", "*",
                        "accessControlAllowOriginList", "https://foo.bar.org,https://example.org", "accessControlMaxAge",
                        "100", "addVaryHeader", "true", NULL};
    struct table_middleware *m = build(t, kv);
    CHECK(m != NULL);
    if (m == NULL)
        return;
    t->req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "Origin", "https://example.org");
    CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
    res_add(t, "Vary", "Accept-Encoding");
    respond(t, m);
    CHECK_STR(res(t, "access-control-allow-origin"), "https://example.org");
    CHECK_STR(res(t, "vary"), "Accept-Encoding,Origin");
    CHECK(res(t, "access-control-allow-methods") == NULL && res(t, "access-control-max-age") == NULL);
    CHECK(res(t, "access-control-allow-credentials") == NULL);
    t->req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "Origin", "https://evil.org");
    CHECK(again(t, m, "GET", "a.test") == MW_NEXT);
    res_add(t, "Vary", "Origin");
    respond(t, m);
    CHECK(res(t, "access-control-allow-origin") == NULL);
    CHECK_STR(res(t, "vary"), "Origin");

    /* the preflight's headers (its 200 answer: integration) */
    struct arena a;
    arena_init(&a);
    struct mw_headers_cors c = cors(&a, kv);
    CHECK(c.on);
    t->req.headers = (h2o_headers_t){NULL};
    t->req.method = h2o_iovec_init(H2O_STRLIT("OPTIONS"));
    mw_test_add_header(t, "Origin", "https://foo.bar.org");
    CHECK(!mw_headers__cors_preflight(&c, &t->req)); /* no Access-Control-Request-Method */
    mw_test_add_header(t, "Access-Control-Request-Method", "PUT");
    mw_test_add_header(t, "Access-Control-Request-Headers", "X-Foo");
    CHECK(mw_headers__cors_preflight(&c, &t->req));
    CHECK_STR(res(t, "access-control-allow-methods"), "GET,OPTIONS,PUT");
    CHECK_STR(res(t, "access-control-allow-headers"), "*"); /* no credentials: "*" as is */
    CHECK_STR(res(t, "access-control-allow-origin"), "https://foo.bar.org");
    CHECK_STR(res(t, "access-control-max-age"), "100");
    CHECK(res(t, "vary") == NULL && t->req.res.headers.size == 4);
    t->req.method = h2o_iovec_init(H2O_STRLIT("GET"));
    CHECK(!mw_headers__cors_preflight(&c, &t->req));

    /* "*" with credentials: the request's origin, headers and method are echoed */
    const char *creds[] = {"accessControlAllowCredentials", "true", "accessControlAllowOriginList", "*",
                           "accessControlAllowHeaders", "*", "accessControlAllowMethods", "*",
                           "accessControlExposeHeaders", "*", NULL};
    c = cors(&a, creds);
    t->req.method = h2o_iovec_init(H2O_STRLIT("OPTIONS"));
    t->req.res.headers = (h2o_headers_t){NULL};
    CHECK(mw_headers__cors_preflight(&c, &t->req));
    CHECK_STR(res(t, "access-control-allow-origin"), "https://foo.bar.org");
    CHECK_STR(res(t, "access-control-allow-headers"), "X-Foo");
    CHECK_STR(res(t, "access-control-allow-methods"), "PUT");
    CHECK_STR(res(t, "access-control-allow-credentials"), "true");
    CHECK(res(t, "access-control-expose-headers") == NULL && res(t, "access-control-max-age") == NULL);
    const char *star[] = {"accessControlAllowOriginList", "*", "accessControlExposeHeaders", "X-A,X-B", NULL};
    c = cors(&a, star);
    t->req.res.headers = (h2o_headers_t){NULL};
    mw_headers__cors_response(&c, &t->req);
    CHECK_STR(res(t, "access-control-allow-origin"), "*");
    CHECK_STR(res(t, "access-control-expose-headers"), "X-A,X-B");

    /* regexes: Go's unanchored match, the origin echoed */
    const char *re[] = {"accessControlAllowOriginListRegex", "^https://[a-z]+\\.example\\.com$", NULL};
    c = cors(&a, re);
    t->req.headers = (h2o_headers_t){NULL};
    t->req.res.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "Origin", "https://api.example.com");
    mw_headers__cors_response(&c, &t->req);
    CHECK_STR(res(t, "access-control-allow-origin"), "https://api.example.com");
    t->req.headers = (h2o_headers_t){NULL};
    t->req.res.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "Origin", "https://api.example.com.evil.org");
    mw_headers__cors_response(&c, &t->req);
    CHECK(res(t, "access-control-allow-origin") == NULL);
    const char *unanchored[] = {"accessControlAllowOriginListRegex", "example\\.com", NULL};
    c = cors(&a, unanchored);
    t->req.res.headers = (h2o_headers_t){NULL};
    mw_headers__cors_response(&c, &t->req);
    CHECK_STR(res(t, "access-control-allow-origin"), "https://api.example.com.evil.org");
    arena_free(&a);
}

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);
    test_options(&t);
    test_request_headers(&t);
    test_response_headers(&t);
    test_security(&t);
    test_allowed_hosts(&t);
    test_cors(&t);
    mw_test_free(&t);
    return test_report("proxy/middleware/mw_headers");
}
