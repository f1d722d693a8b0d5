/* Tests proxy/middleware/mw_redirect_regex.c: options, the URL Traefik
 * matches (scheme://host:port/path?query), requests that go on (no match,
 * a replacement giving the same URL), and the label form. Redirects
 * answer, so their status and Location are tested in
 * tests/integration/test_mw_paths.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_redirect_regex.c"

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* Traefik's documentation example; defaults: not permanent */
    const char *docs[] = {"regex", "^http://localhost/(.*)", "replacement", "http://mydomain/${1}", NULL};
    struct table_middleware *m = mw_test_build(&t, "redirectRegex", docs);
    CHECK(m != NULL);
    CHECK(!((const struct redirect_regex *)m->cfg)->permanent);
    /* the URL matched is built as Traefik's rawURL() */
    mw_test_request(&t, m, "GET", "localhost:8080", "/a?b=c");
    CHECK_STR(h2o_strdup(&t.req.pool, request_url(&t.run).base, SIZE_MAX).base, "http://localhost:8080/a?b=c");
    t.run.client.tls = true;
    CHECK_STR(h2o_strdup(&t.req.pool, request_url(&t.run).base, SIZE_MAX).base, "https://localhost:8080/a?b=c");
    /* another host: no match, the request goes on */
    CHECK(mw_test_request(&t, m, "GET", "example.com", "/a") == MW_NEXT);
    CHECK(t.req.res.status == 0);
    /* the port is part of the URL: ^http://localhost/ does not match localhost:8080 */
    CHECK(mw_test_request(&t, m, "GET", "localhost:8080", "/a") == MW_NEXT);

    /* a replacement giving the same URL: no redirect loop, the request goes on */
    const char *same[] = {"regex", "^(http://[^/]+)(/.*)$", "replacement", "$1$2", NULL};
    m = mw_test_build(&t, "redirectRegex", same);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/x") == MW_NEXT);

    /* the label form: lowercased keys ("$${1}" in a compose file is "${1}" here) */
    const char *labels[] = {"regex", "^http://localhost/(.*)", "replacement", "http://mydomain/${1}", "permanent", "true", NULL};
    m = mw_test_build(&t, "redirectregex", labels);
    CHECK(m != NULL);
    CHECK(((const struct redirect_regex *)m->cfg)->permanent);

    /* statusCode (internal, the kubernetes provider's): the code whatever the method */
    const char *www[] = {"regex", "^(https?)://[^/:]+(:[0-9]+)?(/.*?)/?$", "replacement", "${1}://a.test${2}${3}",
                         "statusCode", "308", NULL};
    m = mw_test_build(&t, "redirectRegex", www);
    CHECK(m != NULL && ((const struct redirect_regex *)m->cfg)->status == 308);
    /* (its answer: tests/integration/test_k8s_nginx.py, from-to-www-redirect) */
    const char *not_redirect[] = {"regex", "^", "statusCode", "200", NULL};
    CHECK(mw_test_build(&t, "redirectRegex", not_redirect) == NULL);
    CHECK_CONTAINS(t.error, "statusCode: 200 is not a redirect status");

    /* refused, named */
    const char *bad[] = {"regex", "^(.*", "replacement", "$1", NULL};
    CHECK(mw_test_build(&t, "redirectRegex", bad) == NULL);
    CHECK_CONTAINS(t.error, "redirectRegex: regex: '^(.*': missing closing parenthesis");
    const char *bad_bool[] = {"regex", "^", "permanent", "yes", NULL};
    CHECK(mw_test_build(&t, "redirectRegex", bad_bool) == NULL);
    CHECK_CONTAINS(t.error, "redirectRegex: permanent: 'yes' is not a boolean");
    const char *unknown[] = {"regex", "^", "scheme", "https", NULL};
    CHECK(mw_test_build(&t, "redirectRegex", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'scheme'");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_redirect_regex");
}
