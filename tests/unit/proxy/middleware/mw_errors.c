/* Tests proxy/middleware/mw_errors.c and errors_page.c: the options
 * (status, statusRewrites, query, errorRequestHeaders set or not), the
 * page's request target as Traefik v3 builds it ("/" + query without its
 * leading '/', {status}, {originalStatus}, {url} as Go's url.QueryEscape
 * of the whole URL), the page request's head, and which fields of the
 * page's answer reach the client. The exchange itself is tested in
 * tests/integration/test_mw_errors.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_errors.c"
#include "../../../../proxy/forwarded.h"

#include <unistd.h>

static const char *target(struct mw_test *t, const char *query, int status, int original, const char *url)
{
    h2o_iovec_t v = errors_page_target(&t->req.pool, query, status, original, h2o_iovec_init(url, strlen(url)));
    return h2o_strdup(&t->req.pool, v.base, v.len).base;
}

static const char *head(struct mw_test *t, const struct errors *c)
{
    h2o_iovec_t v = errors_page_head(&t->req.pool, h2o_iovec_init(H2O_STRLIT("/p")), t->req.authority, &t->req.headers,
                                     &c->request_headers, NULL, NULL);
    return h2o_strdup(&t->req.pool, v.base, v.len).base;
}

/* The head with the client's forwarded fields, or ingress-nginx's. */
static const char *head_for(struct mw_test *t, const struct errors *c, const struct errors_page_client *client, int code)
{
    struct errors_page_nginx nginx = {c->nginx_names, c->nginx_values, c->n_nginx, code, h2o_iovec_init(H2O_STRLIT("/x?y=1"))};
    h2o_iovec_t v = errors_page_head(&t->req.pool, h2o_iovec_init(H2O_STRLIT("/p")), t->req.authority, &t->req.headers,
                                     &c->request_headers, client, c->nginx ? &nginx : NULL);
    return h2o_strdup(&t->req.pool, v.base, v.len).base;
}

static bool passes(const char *name, const char *connection)
{
    struct phr_header h = {name, strlen(name), "v", 1}, conn = {"Connection", 10, connection, connection ? strlen(connection) : 0};
    return errors_page_header_passes(&h, connection ? &conn : NULL);
}

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* options: Traefik's documented example */
    const char *doc[] = {"status[0]", "500", "status[1]", "501", "status[2]", "503", "status[3]", "505-599",
                         "statusRewrites.418", "404", "statusRewrites.502-504", "500",
                         "service", "error-handler-service", "query", "/{status}.html", NULL};
    struct table_middleware *m = mw_test_build(&t, "errors", doc);
    CHECK(m != NULL);
    const struct errors *c = m->cfg;
    CHECK(c->n_ranges == 4 && c->ranges[3].lo == 505 && c->ranges[3].hi == 599);
    CHECK(c->n_rewrites == 2 && c->rewrites[1].from.lo == 502 && c->rewrites[1].from.hi == 504 && c->rewrites[1].to == 500);
    CHECK(c->request_headers.all); /* errorRequestHeaders unset: every request header */
    /* labels: comma-separated, lowercased keys */
    const char *labels[] = {"status", "500,501,503,505-599", "service", "s", "errorrequestheaders", "Accept, X-Request-Id", NULL};
    m = mw_test_build(&t, "errors", labels);
    CHECK(m != NULL && !((const struct errors *)m->cfg)->request_headers.all);
    CHECK(m != NULL && ((const struct errors *)m->cfg)->request_headers.n == 2);
    CHECK_STR(((const struct errors *)m->cfg)->request_headers.names[1], "X-Request-Id");
    /* an empty list (a YAML [] arrives as the key with an empty value): no header */
    const char *none[] = {"status", "404", "service", "s", "errorRequestHeaders", "", NULL};
    m = mw_test_build(&t, "errors", none);
    CHECK(m != NULL && !((const struct errors *)m->cfg)->request_headers.all);
    CHECK(m != NULL && ((const struct errors *)m->cfg)->request_headers.n == 0);
    /* refused */
    const char *no_status[] = {"service", "s", NULL};
    CHECK(mw_test_build(&t, "errors", no_status) == NULL);
    CHECK_CONTAINS(t.error, "errors: status is required");
    const char *bad_status[] = {"status", "600", "service", "s", NULL};
    CHECK(mw_test_build(&t, "errors", bad_status) == NULL);
    CHECK_CONTAINS(t.error, "status: '600' is not a status code or range");
    const char *bad_rewrite[] = {"status", "500", "service", "s", "statusRewrites.500", "abc", NULL};
    CHECK(mw_test_build(&t, "errors", bad_rewrite) == NULL);
    CHECK_CONTAINS(t.error, "statusRewrites: '500: abc'");
    const char *no_service[] = {"status", "500", NULL};
    CHECK(mw_test_build(&t, "errors", no_service) == NULL);
    CHECK_CONTAINS(t.error, "service is required");
    const char *unknown[] = {"status", "500", "service", "s", "errorHeaders", "x", NULL};
    CHECK(mw_test_build(&t, "errors", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'errorHeaders'");

    /* the page's request target */
    CHECK_STR(target(&t, "/{status}.html", 503, 502, ""), "/503.html");
    CHECK_STR(target(&t, "{status}.html", 503, 502, ""), "/503.html"); /* the leading '/' added */
    CHECK_STR(target(&t, "//x", 500, 500, ""), "//x");                 /* only one removed */
    CHECK_STR(target(&t, "", 500, 500, ""), "/");
    CHECK_STR(target(&t, "/e?s={status}&o={originalStatus}", 404, 418, ""), "/e?s=404&o=418");
    CHECK_STR(target(&t, "/e?u={url}", 500, 500, "http://a.test/x y/é?q=1&r=a+b~_.-#"),
              "/e?u=http%3A%2F%2Fa.test%2Fx+y%2F%C3%A9%3Fq%3D1%26r%3Da%2Bb~_.-%23");
    CHECK_STR(target(&t, "/a b#frag", 500, 500, ""), "/a%20b"); /* not a valid request line otherwise; no fragment */
    CHECK_STR(target(&t, "/{status}{status}/{nope}", 500, 500, ""), "/500500/{nope}");

    /* the URL {url} names */
    h2o_iovec_t u = errors_original_url(&t.req.pool, true, h2o_iovec_init(H2O_STRLIT("a.test:8443")),
                                        h2o_iovec_init(H2O_STRLIT("/p?q=1")));
    CHECK(h2o_memis(u.base, u.len, H2O_STRLIT("https://a.test:8443/p?q=1")));

    /* the page request's head: every header but the hop-by-hop ones and framing */
    t.req.authority = h2o_iovec_init(H2O_STRLIT("site.test"));
    mw_test_add_header(&t, "Accept", "text/html");
    mw_test_add_header(&t, "Authorization", "Bearer x");
    mw_test_add_header(&t, "Connection", "keep-alive");
    mw_test_add_header(&t, "Content-Length", "12");
    mw_test_add_header(&t, "X-Request-Id", "42");
    h2o_add_header(&t.req.pool, &t.req.headers, H2O_TOKEN_COOKIE, NULL, H2O_STRLIT("a=1"));
    h2o_add_header(&t.req.pool, &t.req.headers, H2O_TOKEN_COOKIE, NULL, H2O_STRLIT("b=2"));
    mw_test_add_header(&t, "Proxy-Authorization", "Basic y");
    m = mw_test_build(&t, "errors", doc);
    CHECK_STR(head(&t, m->cfg), "GET /p HTTP/1.1\r\nHost: site.test\r\nAccept: text/html\r\nAuthorization: Bearer x\r\n"
                                "X-Request-Id: 42\r\nCookie: a=1; b=2\r\n\r\n");
    m = mw_test_build(&t, "errors", labels);
    CHECK_STR(head(&t, m->cfg), "GET /p HTTP/1.1\r\nHost: site.test\r\nAccept: text/html\r\nX-Request-Id: 42\r\n\r\n");
    m = mw_test_build(&t, "errors", none);
    CHECK_STR(head(&t, m->cfg), "GET /p HTTP/1.1\r\nHost: site.test\r\n\r\n");

    /* Traefik's entry point wrote X-Forwarded-Proto/-Host/-Port/-Server and
     * X-Real-Ip into the request: the page request has them; no
     * X-Forwarded-For of the client's address (Traefik's page request has
     * no remote address to append) */
    char host[256], want[1024];
    CHECK(gethostname(host, sizeof(host) - 1) == 0);
    host[sizeof(host) - 1] = '\0';
    struct errors_page_client client = {"10.1.2.3", t.req.authority, true, 0};
    m = mw_test_build(&t, "errors", doc);
    snprintf(want, sizeof(want),
             "GET /p HTTP/1.1\r\nHost: site.test\r\nAccept: text/html\r\nAuthorization: Bearer x\r\n"
             "X-Request-Id: 42\r\nCookie: a=1; b=2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: site.test\r\n"
             "X-Forwarded-Port: 443\r\nX-Forwarded-Server: %s\r\nX-Real-Ip: 10.1.2.3\r\n\r\n",
             host);
    CHECK_STR(head_for(&t, m->cfg, &client, 0), want);
    /* errorRequestHeaders names them like any request header; one a
     * middleware deleted stays away; a trusted proxy's is kept as it is */
    const char *some_fwd[] = {"status", "404", "service", "s", "errorRequestHeaders", "x-forwarded-port, X-Real-IP, X-Forwarded-Proto", NULL};
    m = mw_test_build(&t, "errors", some_fwd);
    t.req.authority = h2o_iovec_init(H2O_STRLIT("site.test:8080"));
    client = (struct errors_page_client){"10.1.2.3", t.req.authority, false, FORWARDED_NO_X_REAL_IP};
    CHECK_STR(head_for(&t, m->cfg, &client, 0), "GET /p HTTP/1.1\r\nHost: site.test:8080\r\nX-Forwarded-Proto: http\r\n"
                                                "X-Forwarded-Port: 8080\r\n\r\n");
    mw_test_add_header(&t, "X-Forwarded-Proto", "https");
    CHECK_STR(head_for(&t, m->cfg, &client, 0), "GET /p HTTP/1.1\r\nHost: site.test:8080\r\nX-Forwarded-Proto: https\r\n"
                                                "X-Forwarded-Port: 8080\r\n\r\n");

    /* nginxHeaders (the kubernetes provider's): ingress-nginx's fields, a
     * client's field of the same name replaced, every request header */
    const char *nginx[] = {"status", "404", "service", "s", "errorRequestHeaders", "", "nginxHeaders.X-Namespace", "team",
                           "nginxHeaders.X-Ingress-Name", "site", "nginxHeaders.X-Service-Name", "app",
                           "nginxHeaders.X-Service-Port", "80", NULL};
    m = mw_test_build(&t, "errors", nginx);
    CHECK(m != NULL && ((const struct errors *)m->cfg)->nginx && ((const struct errors *)m->cfg)->n_nginx == 4);
    mw_test_add_header(&t, "X-Code", "forged");
    mw_test_add_header(&t, "X-Forwarded-For", "6.6.6.6");
    CHECK_STR(head_for(&t, m->cfg, &client, 503),
              "GET /p HTTP/1.1\r\nHost: site.test:8080\r\nAccept: text/html\r\nAuthorization: Bearer x\r\n"
              "X-Forwarded-Proto: https\r\nCookie: a=1; b=2\r\nX-Code: 503\r\nX-Format: text/html\r\n"
              "X-Original-URI: /x?y=1\r\nX-Namespace: team\r\nX-Ingress-Name: site\r\nX-Service-Name: app\r\n"
              "X-Service-Port: 80\r\nX-Request-ID: 42\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n");

    /* the page's answer: every field but framing, Date and the connection's */
    CHECK(passes("Set-Cookie", NULL) && passes("Cache-Control", NULL) && passes("X-Page", NULL));
    CHECK(passes("Content-Type", NULL) && passes("Content-Language", NULL) && passes("Location", NULL));
    CHECK(!passes("Content-Length", NULL) && !passes("transfer-encoding", NULL) && !passes("Date", NULL));
    CHECK(!passes("Connection", NULL) && !passes("Keep-Alive", NULL) && !passes("Trailer", NULL));
    CHECK(!passes("X-Hop", "close, X-Hop") && passes("X-Other", "close, X-Hop"));

    mw_test_free(&t);
    return test_report("mw_errors");
}
