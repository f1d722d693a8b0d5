/* Tests proxy/middleware/mw_replace_path.c: the path option, the query
 * kept, X-Replaced-Path as Traefik writes it, and the label form. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_replace_path.c"

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
    const char *docs[] = {"path", "/foo", NULL};
    struct table_middleware *m = mw_test_build(&t, "replacePath", docs);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/bar/baz"), "/foo");
    CHECK_STR(mw_test_header(&t, "x-replaced-path"), "/bar/baz");
    /* the query is kept; Go's URL.String() puts it in the header too */
    CHECK_STR(through(&t, m, "/bar?x=1"), "/foo?x=1");
    CHECK_STR(mw_test_header(&t, "x-replaced-path"), "/bar?x=1");
    /* a path Go keeps as RawPath: the header is that, without the query */
    CHECK_STR(through(&t, m, "/a%2Fb?x=1"), "/foo?x=1");
    CHECK_STR(mw_test_header(&t, "x-replaced-path"), "/a%2Fb");
    CHECK_STR(through(&t, m, "/a%20b"), "/foo");
    CHECK_STR(mw_test_header(&t, "x-replaced-path"), "/a%20b");

    /* the label form (lowercased keys, as controller/docker_build decodes it) */
    const char *labels[] = {"path", "/foo%2Fbar", NULL};
    m = mw_test_build(&t, "replacepath", labels);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/x"), "/foo%2Fbar"); /* validly encoded: sent as written */
    const char *spaced[] = {"PATH", "/a b", NULL};
    m = mw_test_build(&t, "replacePath", spaced);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/x"), "/a%20b"); /* Go re-encodes it */
    /* an empty path (Traefik's default) sends "/" */
    m = mw_test_build(&t, "replacePath", NULL);
    CHECK(m != NULL);
    CHECK_STR(through(&t, m, "/x?q"), "/?q");

    /* refused: a bad escape (Traefik answers 500 to every request), unknown options */
    const char *bad[] = {"path", "/a%zz", NULL};
    CHECK(mw_test_build(&t, "replacePath", bad) == NULL);
    CHECK_CONTAINS(t.error, "replacePath: path: '/a%zz' has an invalid %-escape");
    const char *unknown[] = {"path", "/a", "regex", "x", NULL};
    CHECK(mw_test_build(&t, "replacePath", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'regex'");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_replace_path");
}
