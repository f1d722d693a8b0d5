/* Tests proxy/middleware/mw_replace_path_regex.c: options (regex,
 * replacement, trimming, bad regex), rewrites with groups, the query kept,
 * X-Replaced-Path, no-op cases, re-encoding, and the label form. The 500 on
 * a result with a bad escape is in tests/integration/test_mw_paths.py. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_replace_path_regex.c"

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
    const char *docs[] = {"regex", "^/foo/(.*)", "replacement", "/bar/$1", NULL};
    struct table_middleware *m = mw_test_build(&t, "replacePathRegex", docs);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/foo/baz/qux?x=1"), "/bar/baz/qux?x=1");
    CHECK_STR(mw_test_header(&t, "x-replaced-path"), "/foo/baz/qux"); /* the path, not the query */
    CHECK_STR(through(&t, m, "/other"), "/other");
    CHECK(mw_test_header(&t, "x-replaced-path") == NULL);
    /* the encoded path is what matches and what is rewritten */
    CHECK_STR(through(&t, m, "/foo/a%2Fb"), "/bar/a%2Fb");

    /* the label form: lowercased keys, "$$1" in a compose file is "$1" here */
    const char *labels[] = {"regex", " ^/api/(?P<rest>.*) ", "replacement", " /v2/${rest} ", NULL};
    m = mw_test_build(&t, "replacepathregex", labels);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/api/users"), "/v2/users");

    /* every match is replaced (ReplaceAllString) */
    const char *all[] = {"regex", "o", "replacement", "0", NULL};
    m = mw_test_build(&t, "replacePathRegex", all);
    CHECK_STR(through(&t, m, "/foo/boo"), "/f00/b00");
    /* an empty replacement: nothing happens, no header */
    const char *empty[] = {"regex", "^/foo", "replacement", "", NULL};
    m = mw_test_build(&t, "replacePathRegex", empty);
    CHECK_STR(through(&t, m, "/foo/x"), "/foo/x");
    CHECK(mw_test_header(&t, "x-replaced-path") == NULL);
    /* a replacement to nothing but an unknown group: the match is removed */
    const char *gone[] = {"regex", "^/foo", "replacement", "$9", NULL};
    m = mw_test_build(&t, "replacePathRegex", gone);
    CHECK_STR(through(&t, m, "/foo/x"), "/x");
    /* a result that is not validly encoded is sent as Go encodes it */
    const char *space[] = {"regex", "^/a", "replacement", "/a b", NULL};
    m = mw_test_build(&t, "replacePathRegex", space);
    CHECK_STR(through(&t, m, "/a"), "/a%20b");
    /* no leading slash in the result: the upstream still gets one */
    const char *rel[] = {"regex", "^/(.*)", "replacement", "$1", NULL};
    m = mw_test_build(&t, "replacePathRegex", rel);
    CHECK_STR(through(&t, m, "/x/y"), "/x/y");

    /* refused */
    const char *bad[] = {"regex", "^/(foo", "replacement", "/x", NULL};
    CHECK(mw_test_build(&t, "replacePathRegex", bad) == NULL);
    CHECK_CONTAINS(t.error, "replacePathRegex: regex: '^/(foo': missing closing parenthesis");
    const char *unknown[] = {"regex", "^/", "replacement", "/x", "permanent", "true", NULL};
    CHECK(mw_test_build(&t, "replacePathRegex", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'permanent'");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_replace_path_regex");
}
