/* Tests controller/aggregator_chain.c with the resolver's index kept across
 * compiles (middleware_resolve.c): an unchanged router keeps its resolved
 * chain (the same compiled middlewares, one reference) while nothing it
 * names changed; it is resolved again when a middleware it names (directly
 * or through a chain) is a new object, is gone, or a name it qualifies to
 * now resolves to another object (a provider's new one, or an earlier
 * provider's under the same qualified name); a chain with a per-router
 * middleware is never kept; everything is freed with the last table. */
#include "../../../controller/aggregator_chain.h"

#include <stdlib.h>

#include "../../../controller/compile_reuse.h"
#include "../../../controller/middleware_resolve.h"
#include "../../../proxy/middleware/middleware.h"
#include "../../../proxy/table.h"
#include "model_middleware_fixture.h"
#include "test.h"

static void add(struct model *m, struct model_middleware *x) /* handed over by reference: unchanged */
{
    ptr_vec_push(&m->arena, &m->middlewares, x);
}

/* One compile state: the maps the aggregator keeps from one table to the next. */
struct state {
    struct mw_index *index;
    struct compile_reuse mws, chains;
};

struct result {
    struct table *t;
    bool taken; /* the chain came from the last table */
    int rc;     /* mw_resolve's, when resolved */
    size_t n;
    struct table_middleware *items[8];
    size_t users_rl;
};

/* Compiles router <names> (provider kubernetes) for a new table over
 * <models>; the array stands for the router's model object (the key). */
static struct result compile(struct state *s, struct model **models, size_t n_models, const char *const *names, size_t n,
                             const struct model_middleware *rl)
{
    struct result res = {.t = table_new(1)};
    struct arena scratch;
    arena_init(&scratch);
    struct mw_resolver *r = mw_resolver_new_indexed(&scratch, res.t, models, n_models, s->index);
    struct compile_reuse next_mws = {0}, next_chains = {0};
    mw_resolver_set_reuse(r, &s->mws, &next_mws);
    const struct shared_chain *c = aggregator_chain_take(res.t, r, &s->chains, &next_chains, names, NULL, 1);
    if (c != NULL) {
        res.taken = true;
        res.n = c->lens[0];
        for (size_t i = 0; i < res.n && i < 8; i++)
            res.items[i] = c->chains[0][i];
    } else {
        struct ptr_vec deps = {0}, chain = {0};
        struct diag d;
        mw_resolver_record_begin(r, &deps);
        res.rc = mw_resolve(r, names, n, "kubernetes", &chain, &d);
        bool shareable = mw_resolver_record_end(r);
        res.n = chain.len;
        for (size_t i = 0; i < res.n && i < 8; i++)
            res.items[i] = chain.items[i];
        if (res.rc == 0 && shareable) {
            uint64_t group = 1;
            uint32_t len = (uint32_t)chain.len;
            struct table_middleware **items = (struct table_middleware **)chain.items;
            aggregator_chain_keep(res.t, r, &next_chains, names, NULL, 1, 1, &group, &items, &len, &deps);
        }
    }
    res.users_rl = rl ? mw_resolver_users_of(r, rl) : 0;
    arena_free(&scratch);
    compile_reuse_free(&s->mws);
    compile_reuse_free(&s->chains);
    s->mws = next_mws;
    s->chains = next_chains;
    return res;
}

int main(void)
{
    struct state s = {.index = mw_index_new()};
    static const char *const names[] = {"ch", "hdr@file"};

    struct model *k1 = model_new("kubernetes"), *f1 = model_new("file");
    struct model_middleware *rl = mw(k1, "rl", "rateLimit", "average", "10");
    struct model_middleware *strip = mw(k1, "strip", "stripPrefix", "prefixes", "/a");
    struct model_middleware *ch = mw(k1, "ch", "chain", "middlewares", "rl,strip");
    struct model_middleware *hdr = mw(f1, "hdr", "headers", "customRequestHeaders.X-A", "1");
    struct model *m1[] = {k1, f1};

    /* first compile: resolved, kept */
    struct result a = compile(&s, m1, 2, names, 2, rl);
    CHECK(!a.taken && a.rc == 0 && a.n == 3);
    CHECK(aggregator_chains_live() == 1);
    CHECK(a.users_rl == 1);

    /* nothing changed: the very chain, its middlewares counted as used and carried on */
    struct result b = compile(&s, m1, 2, names, 2, rl);
    CHECK(b.taken && b.n == 3);
    CHECK(b.items[0] == a.items[0] && b.items[1] == a.items[1] && b.items[2] == a.items[2]);
    CHECK(b.users_rl == 1);
    CHECK(compile_reuse_get(&s.mws, rl) == a.items[0]); /* a router resolving rl next time shares it */
    CHECK(aggregator_chains_live() == 1);
    table_free(a.t); /* the chain lives on in b */
    CHECK(middleware_shared_live() == 3);

    /* a middleware named through the chain changed (a new object): resolved again, rl still shared */
    struct model *k2 = model_new("kubernetes");
    add(k2, rl);
    mw(k2, "strip", "stripPrefix", "prefixes", "/b");
    add(k2, ch);
    struct model *m2[] = {k2, f1};
    struct result c = compile(&s, m2, 2, names, 2, rl);
    CHECK(!c.taken && c.rc == 0 && c.n == 3);
    CHECK(c.items[0] == b.items[0] && c.items[1] != b.items[1] && c.items[2] == b.items[2]);
    CHECK(aggregator_chains_live() == 2); /* b's lives while b does */
    table_free(b.t);
    CHECK(aggregator_chains_live() == 1);

    /* unchanged again: taken */
    struct result d = compile(&s, m2, 2, names, 2, rl);
    CHECK(d.taken && d.items[1] == c.items[1]);
    table_free(c.t);

    /* a named middleware is gone: not taken, and the router fails */
    struct model *k3 = model_new("kubernetes");
    add(k3, rl);
    add(k3, ch);
    struct model *m3[] = {k3, f1};
    struct result e = compile(&s, m3, 2, names, 2, rl);
    CHECK(!e.taken && e.rc != 0);
    table_free(d.t);

    /* back (a new object), then hdr@file: the file provider's new model has a new hdr */
    struct model *k4 = model_new("kubernetes"), *f4 = model_new("file");
    add(k4, rl);
    add(k4, strip);
    add(k4, ch);
    struct model_middleware *hdr2 = mw(f4, "hdr", "headers", "customRequestHeaders.X-A", "2");
    struct model *m4[] = {k4, f1};
    struct result f = compile(&s, m4, 2, names, 2, rl);
    CHECK(!f.taken && f.rc == 0);
    struct model *m5[] = {k4, f4};
    struct result g = compile(&s, m5, 2, names, 2, rl);
    CHECK(!g.taken && g.rc == 0 && g.items[2] != f.items[2]);
    CHECK(g.items[0] == f.items[0] && g.items[1] == f.items[1]);
    (void)hdr, (void)hdr2;

    /* a same-named middleware appears in another provider: "strip" (in the
     * chain's provider) still means strip@kubernetes; the chain is kept */
    struct model *d6 = model_new("docker");
    mw(d6, "strip", "stripPrefix", "prefixes", "/docker");
    mw(d6, "rl", "rateLimit", "average", "1");
    struct model *m6[] = {k4, f4, d6};
    struct result h = compile(&s, m6, 3, names, 2, rl);
    CHECK(h.taken && h.items[0] == g.items[0] && h.items[1] == g.items[1]);

    /* a name qualified to a provider that did not have it: refused, then
     * resolved once that provider has it */
    static const char *const other[] = {"rl@docker2"};
    struct result i1 = compile(&s, m6, 3, other, 1, NULL);
    CHECK(!i1.taken && i1.rc != 0);
    struct model *d7 = model_new("docker2");
    struct model_middleware *rl7 = mw(d7, "rl", "rateLimit", "average", "7");
    struct model *m7[] = {k4, f4, d6, d7};
    struct result i2 = compile(&s, m7, 4, other, 1, rl7);
    CHECK(!i2.taken && i2.rc == 0 && i2.n == 1 && strcmp(i2.items[0]->name, "rl@docker2") == 0);
    CHECK(i2.users_rl == 1);
    /* the provider replaces it under the same name: the kept chain is not taken */
    struct model *d8 = model_new("docker2");
    mw(d8, "rl", "rateLimit", "average", "8");
    struct model *m8[] = {k4, f4, d6, d8};
    struct result i3 = compile(&s, m8, 4, other, 1, NULL);
    CHECK(!i3.taken && i3.rc == 0 && i3.items[0] != i2.items[0]);

    /* an earlier provider now defines the same qualified name (first wins):
     * "dup@docker3" resolves to another object, and the chain follows */
    static const char *const dup[] = {"dup@docker3"};
    struct model *e13 = model_new("file"), *d13 = model_new("docker3");
    struct model_middleware *dup_docker = mw(d13, "dup", "stripPrefix", "prefixes", "/d");
    struct model *m13[] = {e13, d13};
    struct result p1 = compile(&s, m13, 2, dup, 1, NULL);
    struct result p2 = compile(&s, m13, 2, dup, 1, NULL);
    CHECK(!p1.taken && p2.taken && p1.rc == 0 && p2.items[0] == p1.items[0]);
    CHECK(p1.items[0]->type == middleware_type("stripPrefix"));
    struct model *e14 = model_new("file");
    mw(e14, "dup@docker3", "headers", "customRequestHeaders.X-A", "1");
    struct model *m14[] = {e14, d13};
    struct result p3 = compile(&s, m14, 2, dup, 1, NULL);
    CHECK(!p3.taken && p3.rc == 0 && p3.items[0] != p1.items[0]);
    CHECK(p3.items[0]->type == middleware_type("headers"));
    (void)dup_docker;

    /* a per-router middleware (circuitBreaker): never kept */
    struct model *k9 = model_new("kubernetes");
    mw(k9, "cb", "circuitBreaker", "expression", "NetworkErrorRatio() > 0.5");
    struct model *m9[] = {k9};
    static const char *const cb[] = {"cb"};
    size_t chains_before = aggregator_chains_live();
    struct result j1 = compile(&s, m9, 1, cb, 1, NULL);
    struct result j2 = compile(&s, m9, 1, cb, 1, NULL);
    CHECK(!j1.taken && !j2.taken && j1.rc == 0 && j2.rc == 0 && j1.items[0] != j2.items[0]);

    /* many names gone at once: the index frees them, and kept chains are not trusted */
    struct model *k10 = model_new("kubernetes");
    add(k10, rl);
    for (int n = 0; n < 1100; n++)
        mw(k10, arena_printf(&k10->arena, "m%d", n), "stripPrefix", "prefixes", "/x");
    struct model *m10[] = {k10};
    static const char *const just_rl[] = {"rl"};
    struct result l1 = compile(&s, m10, 1, just_rl, 1, rl);
    struct result l2 = compile(&s, m10, 1, just_rl, 1, rl);
    CHECK(!l1.taken && l2.taken);
    struct model *k11 = model_new("kubernetes");
    add(k11, rl);
    struct model *m11[] = {k11};
    struct result l3 = compile(&s, m11, 1, just_rl, 1, rl);
    CHECK(!l3.taken && l3.rc == 0 && l3.items[0] == l2.items[0]);
    struct result l4 = compile(&s, m11, 1, just_rl, 1, rl);
    CHECK(l4.taken && l4.users_rl == 1);

    /* the API's "not supported" check, by object */
    struct model *k12 = model_new("kubernetes");
    struct model_middleware *odd = mw(k12, "odd", "noSuchType", "a", "b");
    struct model_middleware *hdr12 = mw(k12, "hdr", "headers", "customRequestHeaders.X-A", "1");
    struct model_middleware *ch12 = mw(k12, "ch", "chain", "middlewares", "hdr");
    {
        struct arena scratch;
        arena_init(&scratch);
        struct table *t = table_new(1);
        struct mw_resolver *r = mw_resolver_new(&scratch, t, &k12, 1);
        CHECK(!mw_resolver_supported_of(r, odd) && !mw_resolver_supported_of(r, odd));
        CHECK(mw_resolver_supported_of(r, hdr12) && mw_resolver_supported_of(r, ch12));
        CHECK_STR(mw_resolver_qualified_of(r, odd), "odd@kubernetes");
        arena_free(&scratch);
        table_free(t);
    }
    model_free(k12);

    struct table *all[] = {e.t, f.t, g.t, h.t, i1.t, i2.t, i3.t, p1.t, p2.t, p3.t, j1.t, j2.t, l1.t, l2.t, l3.t, l4.t};
    for (size_t n = 0; n < sizeof(all) / sizeof(*all); n++)
        table_free(all[n]);
    (void)chains_before;
    CHECK(aggregator_chains_live() == 0);
    CHECK(middleware_shared_live() == 0);
    compile_reuse_free(&s.mws);
    compile_reuse_free(&s.chains);
    mw_index_free(s.index);
    struct model *models[] = {k1, f1, k2, k3, k4, f4, d6, d7, d8, e13, d13, e14, k9, k10, k11};
    for (size_t n = 0; n < sizeof(models) / sizeof(*models); n++)
        model_free(models[n]);
    return test_report("controller/aggregator_chain");
}
