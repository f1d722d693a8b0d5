/*
 * Resolving a router's middleware names into compiled middlewares for one
 * table: qualification ("auth" in the router's provider, "auth@file"),
 * chains flattened in order, cycles refused, each middleware built once per
 * table and shared by every route naming it. Watcher thread, one compile.
 */
#ifndef GANTRY_MIDDLEWARE_RESOLVE_H
#define GANTRY_MIDDLEWARE_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/diag.h"
#include "model.h"

struct table;
struct mw_resolver;

/* <scratch> outlives the resolver; compiled middlewares go into t->arena. */
struct mw_resolver *mw_resolver_new(struct arena *scratch, struct table *t, struct model *const *models, size_t n_models);

struct compile_reuse;

/* The resolver's index of every middleware name, kept from one compile to
 * the next: a middleware object unchanged since the last compile costs a
 * pointer lookup, not a name to qualify and hash. Watcher thread only. */
struct mw_index;
struct mw_index *mw_index_new(void);
void mw_index_free(struct mw_index *x);
/* mw_resolver_new over <x>, brought up to date with <models>. Resolvers of
 * one index are used one after the other, never two at a time. */
struct mw_resolver *mw_resolver_new_indexed(struct arena *scratch, struct table *t, struct model *const *models,
                                            size_t n_models, struct mw_index *x);

/* Middlewares compiled for the published table, by model object (<prev>,
 * NULL: none): a shareable one whose model is the very object compiled
 * last time is taken from there instead of built again; what this
 * resolver builds or takes is recorded in <next> for the next compile. */
void mw_resolver_set_reuse(struct mw_resolver *r, const struct compile_reuse *prev, struct compile_reuse *next);
/* How many middlewares were taken from <prev> / built (shared or not). */
size_t mw_resolver_reused(const struct mw_resolver *r);
size_t mw_resolver_built(const struct mw_resolver *r);

/* Appends the compiled middlewares for <names> (unqualified ones belong to
 * <provider>) to <out> (struct table_middleware *). -1 with <d> naming the
 * middleware and the reason when one is missing, cannot be built or loops. */
int mw_resolve(struct mw_resolver *r, const char *const *names, size_t n, const char *provider, struct ptr_vec *out,
               struct diag *d) WARN_UNUSED;

/* The build error of middleware <qualified> if it was built and refused,
 * else NULL (for the API's middleware list). */
const char *mw_resolver_error(struct mw_resolver *r, const char *qualified);
/* How many routes use middleware <qualified> (counted by mw_resolve). */
size_t mw_resolver_users(struct mw_resolver *r, const char *qualified);

/* The same by model object (no name to qualify): the API's middleware list. */
const char *mw_resolver_qualified_of(struct mw_resolver *r, const struct model_middleware *mw);
const char *mw_resolver_error_of(struct mw_resolver *r, const struct model_middleware *mw);
size_t mw_resolver_users_of(struct mw_resolver *r, const struct model_middleware *mw);
/* Whether <mw>'s type is one gantry implements (or a chain). */
bool mw_resolver_supported_of(struct mw_resolver *r, const struct model_middleware *mw);

/* What a resolved chain depends on: each name it resolved (chains too) and
 * the object it resolved to then; <built>: the compiled middleware, NULL
 * for a chain. Lets an unchanged router keep its resolved chain. */
struct mw_dep {
    void *entry;
    const struct model_middleware *mw;
    struct table_middleware *built;
};
/* Records every name mw_resolve resolves into <deps> (struct mw_dep *,
 * scratch memory) until mw_resolver_record_end, which says whether all of
 * them are shared middlewares (else the chain must be resolved per table). */
void mw_resolver_record_begin(struct mw_resolver *r, struct ptr_vec *deps);
bool mw_resolver_record_end(struct mw_resolver *r);
/* Changes when deps recorded before are void (the index freed entries). */
uint64_t mw_resolver_epoch(const struct mw_resolver *r);
/* Whether every name of <deps> (recorded at <epoch>) still resolves to the
 * same object, compiled as then; if so, counts them as resolved for this
 * table (users, reuse for the next compile) and returns true. The caller
 * holds the compiled middlewares for the table. */
bool mw_resolver_take(struct mw_resolver *r, const struct mw_dep *deps, size_t n, uint64_t epoch);

#endif
