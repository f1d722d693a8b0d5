/*
 * A router's resolved middleware chains (one per group of entry points,
 * see add_route_per_chain), kept while the router's model object does not
 * change and every middleware name they resolved still resolves to the
 * same object: an unchanged router takes its chains from the published
 * table with one reference, instead of qualifying and looking up each name
 * again and holding each middleware. Watcher thread only.
 */
#ifndef GANTRY_AGGREGATOR_CHAIN_H
#define GANTRY_AGGREGATOR_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"

struct table;
struct table_middleware;
struct compile_reuse;
struct mw_resolver;
struct model_service;

struct shared_chain {
    int refs; /* tables holding it */
    uint64_t epoch;                  /* the resolver's, when the deps were recorded */
    const struct model_service *sm;  /* the router's service then */
    uint64_t mask;                   /* its entry points then */
    size_t n_groups;
    uint64_t *groups;
    struct table_middleware ***chains;
    uint32_t *lens;
    struct mw_dep *deps; /* each holds a reference to its compiled middleware */
    size_t n_deps;
};

/* The chains of router <key> kept in <prev> (the published table's) when
 * its service model is still <sm>, its entry points <mask>, and every name
 * they resolved is unchanged (mw_resolver_take); table <t> holds them and
 * they are recorded in <next>. NULL: resolve them. */
const struct shared_chain *aggregator_chain_take(struct table *t, struct mw_resolver *mw, const struct compile_reuse *prev,
                                                 struct compile_reuse *next, const void *key,
                                                 const struct model_service *sm, uint64_t mask);
/* Keeps the chains just resolved for router <key> for the next compile
 * (recorded in <next>, held by <t>): <deps> as recorded by the resolver. */
void aggregator_chain_keep(struct table *t, struct mw_resolver *mw, struct compile_reuse *next, const void *key,
                           const struct model_service *sm, uint64_t mask, size_t n_groups, const uint64_t *groups,
                           struct table_middleware **const *chains, const uint32_t *lens, const struct ptr_vec *deps);
/* How many kept chains are alive (tests). */
size_t aggregator_chains_live(void);

#endif
