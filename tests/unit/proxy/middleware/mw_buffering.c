/* Tests proxy/middleware/mw_buffering.c: maxRequestBodyBytes built and
 * checked against the body, the other buffering options refused by name
 * (the 413 answer itself: tests/integration/test_k8s_nginx.py). */
#include "mw_test.h"

#include "../../test.h"

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    const char *limit[] = {"maxRequestBodyBytes", "10", NULL};
    struct table_middleware *m = mw_test_build(&t, "buffering", limit);
    CHECK(m != NULL);
    t.req.entity = h2o_iovec_init("0123456789", 10); /* at the limit: through */
    CHECK(m && mw_test_request(&t, m, "POST", "a.test", "/up") == MW_NEXT);
    t.req.entity = h2o_iovec_init(NULL, 0); /* no body */
    CHECK(m && mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);

    const char *unlimited[] = {"maxRequestBodyBytes", "0", NULL};
    m = mw_test_build(&t, "buffering", unlimited);
    t.req.entity = h2o_iovec_init("0123456789abc", 13);
    CHECK(m && mw_test_request(&t, m, "POST", "a.test", "/up") == MW_NEXT);

    const char *negative[] = {"maxRequestBodyBytes", "-1", NULL};
    CHECK(mw_test_build(&t, "buffering", negative) == NULL);
    CHECK_CONTAINS(t.error, "maxRequestBodyBytes");
    const char *response[] = {"maxRequestBodyBytes", "10", "maxResponseBodyBytes", "10", NULL};
    CHECK(mw_test_build(&t, "buffering", response) == NULL);
    CHECK_CONTAINS(t.error, "maxResponseBodyBytes is not supported by gantry");
    const char *retry[] = {"retryExpression", "IsNetworkError() && Attempts() < 2", NULL};
    CHECK(mw_test_build(&t, "buffering", retry) == NULL);
    CHECK_CONTAINS(t.error, "retryExpression is not supported by gantry");

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_buffering");
}
