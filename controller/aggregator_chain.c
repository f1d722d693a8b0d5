/*
 * Shared router chains (see aggregator_chain.h): one malloc'd block each,
 * referenced by every table holding it; the last table freed frees it and
 * drops its middleware references.
 */
#include "aggregator_chain.h"

#include <stdlib.h>
#include <string.h>

#include "../proxy/middleware/middleware.h"
#include "../proxy/table.h"
#include "compile_reuse.h"
#include "middleware_resolve.h"

static size_t live;

size_t aggregator_chains_live(void)
{
    return live;
}

static void release(void *p)
{
    struct shared_chain *c = p;
    if (--c->refs > 0)
        return;
    for (size_t i = 0; i < c->n_deps; i++)
        if (c->deps[i].built != NULL)
            middleware_unref(c->deps[i].built);
    for (size_t g = 0; g < c->n_groups; g++)
        free(c->chains[g]);
    free(c->chains);
    free(c->groups);
    free(c->lens);
    free(c->deps);
    free(c);
    live--;
}

static void hold(struct table *t, struct compile_reuse *next, const void *key, struct shared_chain *c)
{
    c->refs++;
    arena_on_free(&t->arena, release, c);
    if (next != NULL)
        compile_reuse_put(next, key, c);
}

const struct shared_chain *aggregator_chain_take(struct table *t, struct mw_resolver *mw, const struct compile_reuse *prev,
                                                 struct compile_reuse *next, const void *key,
                                                 const struct model_service *sm, uint64_t mask)
{
    struct shared_chain *c = prev ? compile_reuse_get(prev, key) : NULL;
    if (c == NULL || c->sm != sm || c->mask != mask || !mw_resolver_take(mw, c->deps, c->n_deps, c->epoch))
        return NULL;
    hold(t, next, key, c);
    return c;
}

void aggregator_chain_keep(struct table *t, struct mw_resolver *mw, struct compile_reuse *next, const void *key,
                           const struct model_service *sm, uint64_t mask, size_t n_groups, const uint64_t *groups,
                           struct table_middleware **const *chains, const uint32_t *lens, const struct ptr_vec *deps)
{
    struct shared_chain *c = mem_calloc(1, sizeof(*c));
    c->epoch = mw_resolver_epoch(mw);
    c->sm = sm;
    c->mask = mask;
    c->n_groups = n_groups;
    c->groups = mem_calloc(n_groups ? n_groups : 1, sizeof(*c->groups));
    c->lens = mem_calloc(n_groups ? n_groups : 1, sizeof(*c->lens));
    c->chains = mem_calloc(n_groups ? n_groups : 1, sizeof(*c->chains));
    for (size_t g = 0; g < n_groups; g++) {
        c->groups[g] = groups[g];
        c->lens[g] = lens[g];
        c->chains[g] = mem_calloc(lens[g] ? lens[g] : 1, sizeof(*c->chains[g]));
        if (lens[g])
            memcpy(c->chains[g], chains[g], lens[g] * sizeof(*c->chains[g]));
    }
    c->n_deps = deps->len;
    c->deps = mem_calloc(deps->len ? deps->len : 1, sizeof(*c->deps));
    for (size_t i = 0; i < deps->len; i++) {
        c->deps[i] = *(const struct mw_dep *)deps->items[i];
        if (c->deps[i].built != NULL)
            middleware_ref(c->deps[i].built);
    }
    live++;
    hold(t, next, key, c);
}
