/*
 * Resolving a router's middleware names into compiled middlewares for one
 * table: qualification ("auth" in the router's provider, "auth@file"),
 * chains flattened in order, cycles refused, each middleware built once per
 * table and shared by every route naming it. Watcher thread, one compile.
 */
#ifndef GANTRY_MIDDLEWARE_RESOLVE_H
#define GANTRY_MIDDLEWARE_RESOLVE_H

#include <stddef.h>

#include "../common/arena.h"
#include "../common/diag.h"
#include "model.h"

struct table;
struct mw_resolver;

/* <scratch> outlives the resolver; compiled middlewares go into t->arena. */
struct mw_resolver *mw_resolver_new(struct arena *scratch, struct table *t, struct model *const *models, size_t n_models);

struct compile_reuse;

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

#endif
