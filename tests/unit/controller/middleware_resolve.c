/* Tests controller/middleware_resolve.c's reuse of compiled middlewares
 * across tables: a shareable middleware whose model is the very object
 * compiled for the last table is the same compiled middleware (and state)
 * in the next one; a new model object (a change) is compiled again; a
 * per-router one (circuitBreaker) is never shared; a shared middleware is
 * freed when the last table holding it is freed, not before. */
#include "../../../controller/middleware_resolve.h"

#include <stdlib.h>

#include "../../../controller/compile_reuse.h"
#include "../../../proxy/middleware/middleware.h"
#include "../../../proxy/table.h"
#include "model_middleware_fixture.h"
#include "test.h"

/* Compiles the chain rl, strip, regex, cb for a new table. */
static struct table *compile(struct model *m, const struct compile_reuse *prev, struct compile_reuse *next,
                             struct table_middleware *out[4], size_t *reused, size_t *built)
{
    struct arena scratch;
    arena_init(&scratch);
    struct table *t = table_new(1);
    struct mw_resolver *r = mw_resolver_new(&scratch, t, &m, 1);
    mw_resolver_set_reuse(r, prev, next);
    static const char *const names[] = {"rl", "strip", "regex", "cb"};
    struct ptr_vec chain = {0};
    struct diag d;
    CHECK(mw_resolve(r, names, 4, "kubernetes", &chain, &d) == 0);
    CHECK(chain.len == 4);
    for (size_t i = 0; i < 4 && i < chain.len; i++)
        out[i] = chain.items[i];
    *reused = mw_resolver_reused(r);
    *built = mw_resolver_built(r);
    arena_free(&scratch);
    return t;
}

int main(void)
{
    struct model *m1 = model_new("kubernetes");
    struct model_middleware *rl = mw(m1, "rl", "rateLimit", "average", "10");
    mw(m1, "strip", "stripPrefix", "prefixes", "/a");
    struct model_middleware *regex = mw(m1, "regex", "replacePathRegex", "regex", "^/old/(.*)");
    mw(m1, "cb", "circuitBreaker", "expression", "NetworkErrorRatio() > 0.5");
    regex->n_options = 2; /* replacement too */
    const char **k = arena_alloc(&m1->arena, 2 * sizeof(char *)), **v = arena_alloc(&m1->arena, 2 * sizeof(char *));
    k[0] = "regex", v[0] = "^/old/(.*)", k[1] = "replacement", v[1] = "/new/$1";
    regex->keys = k, regex->values = v;

    struct compile_reuse first = {0}, second = {0}, third = {0};
    struct table_middleware *a[4], *b[4], *c[4];
    size_t reused, built;
    struct table *t1 = compile(m1, NULL, &first, a, &reused, &built);
    CHECK(reused == 0 && built == 4);
    CHECK(a[0]->unit != NULL && a[1]->unit != NULL && a[2]->unit != NULL);
    CHECK(a[3]->unit == NULL); /* circuitBreaker: one per router, in the table */
    CHECK(middleware_shared_live() == 3);
    CHECK(compile_reuse_get(&first, rl) == a[0]);

    /* unchanged: the same compiled middlewares (rateLimit's buckets, the JIT-compiled regex) */
    struct table *t2 = compile(m1, &first, &second, b, &reused, &built);
    CHECK(reused == 3 && built == 1);
    CHECK(b[0] == a[0] && b[1] == a[1] && b[2] == a[2] && b[0]->cfg == a[0]->cfg);
    CHECK(b[3] != a[3]);
    CHECK(middleware_shared_live() == 3);

    /* the first table goes: the second still holds them (ASan: no use after free) */
    table_free(t1);
    CHECK(middleware_shared_live() == 3);
    CHECK(strcmp(b[2]->name, "regex@kubernetes") == 0 && b[0]->type == middleware_type("rateLimit"));

    /* a change: a new model whose strip is a new object, rl handed over by reference */
    struct model *m2 = model_new("kubernetes");
    ptr_vec_push(&m2->arena, &m2->middlewares, rl);
    mw(m2, "strip", "stripPrefix", "prefixes", "/b");
    ptr_vec_push(&m2->arena, &m2->middlewares, regex);
    mw(m2, "cb", "circuitBreaker", "expression", "NetworkErrorRatio() > 0.5");
    struct table *t3 = compile(m2, &second, &third, c, &reused, &built);
    CHECK(reused == 2 && built == 2);
    CHECK(c[0] == b[0] && c[2] == b[2] && c[1] != b[1] && c[1]->unit != NULL);
    CHECK(middleware_shared_live() == 4); /* the old strip lives while t2 does */
    table_free(t2);
    CHECK(middleware_shared_live() == 3);
    table_free(t3);
    CHECK(middleware_shared_live() == 0);

    /* what is never shared */
    static const char *const file_keys[] = {"usersFile"}, *const tls_keys[] = {"address", "tls.ca"};
    static const char *const plain_keys[] = {"users"};
    CHECK(!middleware_shareable("basicAuth", file_keys, 1));
    CHECK(middleware_shareable("basicAuth", plain_keys, 1));
    CHECK(!middleware_shareable("forwardAuth", tls_keys, 2));
    CHECK(!middleware_shareable("errors", NULL, 0));
    CHECK(!middleware_shareable("circuitBreaker", NULL, 0));
    CHECK(!middleware_shareable("noSuchType", NULL, 0));

    compile_reuse_free(&first);
    compile_reuse_free(&second);
    compile_reuse_free(&third);
    model_free(m1);
    model_free(m2);
    return test_report("controller/middleware_resolve");
}
