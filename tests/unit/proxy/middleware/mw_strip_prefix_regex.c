/* Tests proxy/middleware/mw_strip_prefix_regex.c: the regex list (commas
 * inside brackets and braces kept), Traefik's semantics (the leftmost
 * match must be where the path starts; first regex that applies wins),
 * X-Forwarded-Prefix, the encoded path, and the label form. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_strip_prefix_regex.c"

static const char *through(struct mw_test *t, struct table_middleware *m, const char *path)
{
    t->req.headers = (h2o_headers_t){NULL};
    CHECK(mw_test_request(t, m, "GET", "a.test", path) == MW_NEXT);
    return mw_test_path(t);
}

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* Traefik's documentation example */
    const char *docs[] = {"regex", "/foo/[a-z0-9]+/[0-9]+/", NULL};
    struct table_middleware *m = mw_test_build(&t, "stripPrefixRegex", docs);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/foo/abc/123/bar?x=1"), "/bar?x=1");
    CHECK_STR(mw_test_header(&t, "x-forwarded-prefix"), "/foo/abc/123/");
    CHECK_STR(through(&t, m, "/foo/abc/123/"), "/"); /* nothing left: "/" */
    CHECK_STR(through(&t, m, "/foo/abc/x/"), "/foo/abc/x/");
    CHECK(mw_test_header(&t, "x-forwarded-prefix") == NULL);
    /* a match that is not at the start does not strip (Traefik's HasPrefix check) */
    CHECK_STR(through(&t, m, "/x/foo/abc/123/bar"), "/x/foo/abc/123/bar");

    /* Traefik's own test cases (strip_prefix_regex_test.go) */
    const char *traefik[] = {"regex", "/a/api/,/b/([a-z0-9]+)/,/c/[a-z0-9]+/[0-9]+/", NULL};
    m = mw_test_build(&t, "stripPrefixRegex", traefik);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/a/test"), "/a/test");
    CHECK_STR(through(&t, m, "/a/api/test"), "/test");
    CHECK_STR(mw_test_header(&t, "x-forwarded-prefix"), "/a/api/");
    CHECK_STR(through(&t, m, "/b/api/"), "/");
    CHECK_STR(through(&t, m, "/b/api/test1"), "/test1");
    CHECK_STR(through(&t, m, "/b/api2/test2"), "/test2");
    CHECK_STR(mw_test_header(&t, "x-forwarded-prefix"), "/b/api2/");
    CHECK_STR(through(&t, m, "/c/api/123/"), "/");
    CHECK_STR(through(&t, m, "/c/api/123/test3"), "/test3");
    CHECK_STR(through(&t, m, "/c/api/abc/test4"), "/c/api/abc/test4");
    /* an encoded slash Go keeps in RawPath: cut by the decoded length, kept
     * when that still decodes to the stripped path */
    CHECK_STR(through(&t, m, "/a/api/a%2Fb"), "/a%2Fb");
    /* an encoded character inside the prefix: the raw cut no longer decodes
     * to the stripped path, so Go's re-encoding of it goes (the %2F decoded) */
    CHECK_STR(through(&t, m, "/b/a%2Fb/x%2Fy"), "/b/x/y");
    CHECK_STR(mw_test_header(&t, "x-forwarded-prefix"), "/b/a/"); /* the decoded text */

    /* a YAML list: one key per item, commas kept */
    const char *yaml[] = {"regex[0]", "/v[0-9]{1,2}/", "regex[1]", " /a,b/ ", NULL};
    m = mw_test_build(&t, "stripPrefixRegex", yaml);
    CHECK(m != NULL && ((const struct strip_prefix_regex *)m->cfg)->n == 2);
    CHECK_STR(through(&t, m, "/v1/x"), "/x");
    CHECK_STR(through(&t, m, "/a,b/y"), "/y");
    const char *yaml_bad[] = {"regex[0]", "/ok/", "regex[1]", "(", NULL};
    CHECK(mw_test_build(&t, "stripPrefixRegex", yaml_bad) == NULL);
    CHECK_CONTAINS(t.error, "stripPrefixRegex: regex: '(': missing closing parenthesis");
    /* one string (labels): commas inside a class or a counted repeat stay in the regex */
    const char *commas[] = {"regex", "/v[0-9]{1,2}/, /[a,b]/", NULL};
    m = mw_test_build(&t, "stripPrefixRegex", commas);
    CHECK(m != NULL);
    CHECK(((const struct strip_prefix_regex *)m->cfg)->n == 2);
    CHECK_STR(through(&t, m, "/v12/x"), "/x");
    CHECK_STR(through(&t, m, "/,/x"), "/x");
    const char *escaped[] = {"regex", "/a\\,b/", NULL};
    m = mw_test_build(&t, "stripPrefixRegex", escaped);
    CHECK(((const struct strip_prefix_regex *)m->cfg)->n == 1);
    CHECK_STR(through(&t, m, "/a,b/x"), "/x");

    /* the label form */
    const char *labels[] = {"regex", "/foo/[a-z0-9]+/[0-9]+/", NULL};
    m = mw_test_build(&t, "stripprefixregex", labels);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/foo/a/1/b"), "/b");
    /* no regex: nothing happens */
    m = mw_test_build(&t, "stripPrefixRegex", NULL);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/foo"), "/foo");

    /* refused */
    const char *bad[] = {"regex", "/ok/,/(bad/", NULL};
    CHECK(mw_test_build(&t, "stripPrefixRegex", bad) == NULL);
    CHECK_CONTAINS(t.error, "stripPrefixRegex: regex: '/(bad/': missing closing parenthesis");
    const char *unknown[] = {"regex", "/a", "prefixes", "/b", NULL};
    CHECK(mw_test_build(&t, "stripPrefixRegex", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'prefixes'");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_strip_prefix_regex");
}
