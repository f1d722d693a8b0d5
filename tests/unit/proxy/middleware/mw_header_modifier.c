/* Tests proxy/middleware/mw_header_modifier.c and mw_request_timeout.c (the
 * Gateway API's internal middlewares): set replaces, add appends, remove
 * deletes; timeouts; refused outside the kubernetesgateway provider. */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_header_modifier.c"

static size_t count(struct mw_test *t, const char *name)
{
    size_t n = 0;
    for (size_t i = 0; i < t->req.headers.size; i++)
        n += mw_name_is(t->req.headers.entries[i].name->base, t->req.headers.entries[i].name->len, name, strlen(name));
    return n;
}

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);
    const char *opts[] = {"set.X-Set", "new", "add.X-Add", "added", "add.Accept", "text/plain", "remove[0]", "X-Gone", NULL};
    struct table_middleware *m = mw_test_build(&t, "requestHeaderModifier", opts);
    CHECK(m != NULL);
    mw_test_add_header(&t, "X-Set", "old");
    mw_test_add_header(&t, "X-Add", "first");
    mw_test_add_header(&t, "X-Gone", "bye");
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "x-set"), "new");
    CHECK(count(&t, "x-set") == 1);
    CHECK(count(&t, "x-add") == 2); /* appended: the first value stays */
    CHECK_STR(mw_test_header(&t, "x-add"), "first");
    CHECK(count(&t, "accept") == 1);
    CHECK(mw_test_header(&t, "x-gone") == NULL);

    const char *bad[] = {"set.X-Bad", "a\r\nb: c", NULL};
    CHECK(mw_test_build(&t, "requestHeaderModifier", bad) == NULL);
    CHECK_CONTAINS(t.error, "set.X-Bad");
    const char *unknown[] = {"append.X", "y", NULL};
    CHECK(mw_test_build(&t, "responseHeaderModifier", unknown) == NULL);

    /* internal: another provider's configuration cannot name them */
    const char *k[] = {"set.X"}, *v[] = {"y"};
    bool used[1] = {false};
    struct mw_options o = {k, v, 1, used, NULL, "file", "x@file"};
    void *cfg = NULL;
    struct diag d;
    diag_clear(&d);
    CHECK(mw_request_header_modifier.build(&t.arena, &o, &cfg, &d) != 0);
    CHECK_CONTAINS(d.msg, "internal to the kubernetesGateway provider");
    o.provider = "kubernetesgateway";
    diag_clear(&d);
    CHECK(mw_request_header_modifier.build(&t.arena, &o, &cfg, &d) == 0);

    const char *to[] = {"timeout", "500ms", NULL};
    m = mw_test_build(&t, "requestTimeout", to);
    CHECK(m != NULL);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    CHECK(t.run.request_timeout_ms == 500);
    const char *off[] = {"timeout", "0s", NULL};
    m = mw_test_build(&t, "requestTimeout", off);
    CHECK(m != NULL && mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT && t.run.request_timeout_ms == 0);
    const char *nonsense[] = {"timeout", "soon", NULL};
    CHECK(mw_test_build(&t, "requestTimeout", nonsense) == NULL);

    mw_test_free(&t);
    printf("mw_header_modifier: %d checks, %d failures\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}
