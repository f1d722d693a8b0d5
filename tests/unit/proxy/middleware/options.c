/* Tests proxy/middleware/options.c and chain.c's registry: option access
 * without case, lists, durations, unknown options refused. */
#include "mw_test.h"

#include "../../test.h"

static int64_t dur(const char *v)
{
    const char *keys[] = {"d"}, *values[] = {v};
    bool used[1] = {false};
    struct mw_options o = {keys, values, 1, used};
    uint64_t ms;
    struct diag d;
    return mw_opt_duration_ms(&o, "d", 0, &ms, &d) == 0 ? (int64_t)ms : -1;
}

int main(void)
{
    CHECK(dur("10s") == 10000 && dur("1m30s") == 90000 && dur("250ms") == 250 && dur("2") == 2000 && dur("1h") == 3600000);
    CHECK(dur("1.5s") == 1500 && dur("abc") == -1 && dur("10x") == -1 && dur("-1s") == -1);

    struct arena a;
    arena_init(&a);
    const char *keys[] = {"Prefixes", "customRequestHeaders.X-One", "customRequestHeaders.x-two", "other"};
    const char *values[] = {" /a , /b,,", "1", "2", "x"};
    bool used[4] = {false};
    struct mw_options o = {keys, values, 4, used};
    size_t n;
    const char **l = mw_opt_list(&a, &o, "prefixes", &n);
    CHECK(n == 2 && strcmp(l[0], "/a") == 0 && strcmp(l[1], "/b") == 0);
    const char **mk, **mv;
    CHECK(mw_opt_map(&a, &o, "customrequestheaders", &mk, &mv) == 2);
    CHECK_STR(mk[0], "X-One");
    CHECK_STR(mv[1], "2");
    CHECK(mw_opt_has(&o, "customRequestHeaders") && !mw_opt_has(&o, "custom"));
    struct diag d;
    CHECK(mw_options_check(&o, &d) == -1);
    CHECK_CONTAINS(d.msg, "unknown option 'other'");
    arena_free(&a);

    CHECK(middleware_type("STRIPPREFIX") != NULL && middleware_type("plugin") == NULL);
    CHECK(middleware_is_known_type("plugin") && !middleware_is_known_type("nosuch"));

    struct mw_test t;
    mw_test_init(&t);
    CHECK(mw_test_build(&t, "plugin", NULL) == NULL);
    CHECK_CONTAINS(t.error, "not supported by gantry");
    const char *typo[] = {"prefixs", "/a", NULL};
    CHECK(mw_test_build(&t, "stripPrefix", typo) == NULL);
    CHECK_CONTAINS(t.error, "stripPrefix: unknown option 'prefixs'");
    const char *strip[] = {"prefixes", "/api,/other", NULL};
    struct table_middleware *m = mw_test_build(&t, "stripprefix", strip);
    CHECK(m != NULL);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/api/x?q=1") == MW_NEXT);
    CHECK_STR(mw_test_path(&t), "/x?q=1");
    CHECK_STR(mw_test_header(&t, "x-forwarded-prefix"), "/api");
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/api") == MW_NEXT);
    CHECK_STR(mw_test_path(&t), "/");
    const char *add[] = {"prefix", "v2", NULL};
    m = mw_test_build(&t, "addPrefix", add);
    CHECK(m != NULL && mw_test_request(&t, m, "GET", "a.test", "/x") == MW_NEXT);
    CHECK_STR(mw_test_path(&t), "/v2/x");
    const char *redir[] = {"scheme", "https", "port", "x", NULL};
    CHECK(mw_test_build(&t, "redirectScheme", redir) == NULL);
    CHECK_CONTAINS(t.error, "port: 'x' is not a whole number");
    mw_test_free(&t);
    return test_report("proxy/middleware/options");
}
