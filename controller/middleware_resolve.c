/*
 * Middleware resolution (see middleware_resolve.h). One index entry per
 * qualified name over every provider's model; an entry remembers its
 * compiled form or why it was refused, so a middleware shared by a thousand
 * routers is built once and its error reported once.
 */
#include "middleware_resolve.h"

#include <string.h>
#include <strings.h>

#include "../proxy/middleware/middleware.h"
#include "../proxy/table.h"
#include "compile_reuse.h"

#define MAX_CHAIN_DEPTH 32

enum entry_state { UNBUILT, BUILDING, BUILT, REFUSED };

struct entry {
    const struct model_middleware *mw;
    const char *provider;
    const char *qualified;
    enum entry_state state;
    struct table_middleware *built; /* BUILT, not a chain */
    const char *error;              /* REFUSED */
    size_t users;
};

struct mw_resolver {
    struct arena *scratch;
    struct table *t;
    struct table_host_map index; /* qualified name -> struct entry * */
    struct table_host_map services; /* qualified name -> const struct model_service * */
    const struct compile_reuse *prev; /* model middleware -> shared table_middleware of the published table */
    struct compile_reuse *next;       /* the same, for the table being built */
    size_t reused, built;
};

static const char *qualify(struct arena *a, const char *name, const char *provider)
{
    return strchr(name, '@') ? arena_strdup(a, name) : arena_printf(a, "%s@%s", name, provider);
}

struct mw_resolver *mw_resolver_new(struct arena *scratch, struct table *t, struct model *const *models, size_t n_models)
{
    struct mw_resolver *r = arena_alloc(scratch, sizeof(*r));
    r->scratch = scratch;
    r->t = t;
    for (size_t i = 0; i < n_models; i++)
        for (size_t j = 0; j < models[i]->middlewares.len; j++) {
            const struct model_middleware *mw = models[i]->middlewares.items[j];
            struct entry *e = arena_alloc(scratch, sizeof(*e));
            e->mw = mw;
            e->provider = models[i]->provider;
            e->qualified = qualify(scratch, mw->name, e->provider);
            void **slot = table_host_map_slot(scratch, &r->index, e->qualified, strlen(e->qualified));
            if (*slot == NULL) /* providers drop duplicates; first wins */
                *slot = e;
        }
    for (size_t i = 0; i < n_models; i++)
        for (size_t j = 0; j < models[i]->services.len; j++) {
            const struct model_service *s = models[i]->services.items[j];
            const char *q = qualify(scratch, s->name, models[i]->provider);
            void **slot = table_host_map_slot(scratch, &r->services, q, strlen(q));
            if (*slot == NULL)
                *slot = (void *)s;
        }
    return r;
}

/* The errors middleware's service is asked outside any chain: one with
 * middlewares of its own would answer without them (fail closed). */
static const char *errors_service_refusal(struct mw_resolver *r, const struct entry *e)
{
    if (strcasecmp(e->mw->type, "errors") != 0)
        return NULL;
    for (size_t i = 0; i < e->mw->n_options; i++) {
        if (strcasecmp(e->mw->keys[i], "service") != 0 || e->mw->values[i] == NULL)
            continue;
        const char *q = qualify(r->scratch, e->mw->values[i], e->provider);
        const struct model_service *s = table_host_map_get(&r->services, q, strlen(q));
        if (s != NULL && s->n_middlewares != 0)
            return arena_printf(r->scratch, "service '%s' has middlewares, which gantry does not run for the error page", q);
    }
    return NULL;
}

static struct entry *find(struct mw_resolver *r, const char *qualified)
{
    return table_host_map_get(&r->index, qualified, strlen(qualified));
}

static int resolve_one(struct mw_resolver *r, const char *name, const char *provider, struct ptr_vec *out, int depth,
                       struct diag *d);

/* A chain's "middlewares" list, resolved in the chain's own provider. */
static int expand_chain(struct mw_resolver *r, struct entry *e, struct ptr_vec *out, int depth, struct diag *d)
{
    const struct model_middleware *mw = e->mw;
    bool used[mw->n_options ? mw->n_options : 1];
    memset(used, 0, sizeof(used));
    struct mw_options o = {mw->keys, mw->values, mw->n_options, used, NULL, NULL};
    size_t n;
    const char **names = mw_opt_list(r->scratch, &o, "middlewares", &n);
    struct diag od;
    if (mw_options_check(&o, &od) != 0)
        return diag_set(d, "middleware '%s': chain: %s", e->qualified, od.msg);
    for (size_t i = 0; i < n; i++)
        if (resolve_one(r, names[i], e->provider, out, depth + 1, d) != 0)
            return -1;
    return 0;
}

/* The compiled middleware of <e>: the published table's when its model is
 * the very object compiled then (unchanged), else built for this table. */
static struct table_middleware *build_or_reuse(struct mw_resolver *r, struct entry *e, const char *q, struct diag *bd)
{
    const struct model_middleware *mw = e->mw;
    if (!middleware_shareable(mw->type, mw->keys, mw->n_options)) {
        r->built++;
        return middleware_build_for(r->t, e->provider, q, mw->type, mw->keys, mw->values, mw->n_options, bd);
    }
    struct table_middleware *m = r->prev ? compile_reuse_get(r->prev, mw) : NULL;
    if (m != NULL) {
        middleware_hold(r->t, m);
        r->reused++;
    } else {
        m = middleware_build_shared(r->t, e->provider, q, mw->type, mw->keys, mw->values, mw->n_options, bd);
        r->built++;
    }
    if (m != NULL && r->next != NULL)
        compile_reuse_put(r->next, mw, m);
    return m;
}

static int resolve_one(struct mw_resolver *r, const char *name, const char *provider, struct ptr_vec *out, int depth,
                       struct diag *d)
{
    const char *q = qualify(r->scratch, name, provider);
    struct entry *e = find(r, q);
    if (e == NULL)
        return diag_set(d, "middleware '%s' does not exist", q);
    if (e->state == REFUSED)
        return diag_set(d, "middleware '%s': %s", q, e->error);
    if (e->state == BUILDING || depth > MAX_CHAIN_DEPTH)
        return diag_set(d, "middleware '%s': chain loops back on itself", q);
    e->users++;
    if (strcasecmp(e->mw->type, "chain") == 0) {
        enum entry_state before = e->state;
        e->state = BUILDING;
        int rc = expand_chain(r, e, out, depth, d);
        e->state = before == UNBUILT ? BUILT : before;
        return rc;
    }
    if (e->state == BUILT && e->built->type->per_router) { /* its own instance for each router */
        struct diag bd;
        struct table_middleware *m =
            middleware_build_for(r->t, e->provider, q, e->mw->type, e->mw->keys, e->mw->values, e->mw->n_options, &bd);
        if (m == NULL)
            return diag_set(d, "middleware '%s': %s", q, bd.msg);
        ptr_vec_push(r->scratch, out, m);
        return 0;
    }
    if (e->state == UNBUILT && (e->error = errors_service_refusal(r, e)) != NULL) {
        e->state = REFUSED;
        return diag_set(d, "middleware '%s': %s", q, e->error);
    }
    if (e->state == UNBUILT) {
        struct diag bd;
        e->built = build_or_reuse(r, e, q, &bd);
        if (e->built == NULL) {
            e->state = REFUSED;
            e->error = arena_strdup(r->scratch, bd.msg);
            return diag_set(d, "middleware '%s': %s", q, e->error);
        }
        e->state = BUILT;
    }
    ptr_vec_push(r->scratch, out, e->built);
    return 0;
}

int mw_resolve(struct mw_resolver *r, const char *const *names, size_t n, const char *provider, struct ptr_vec *out,
               struct diag *d)
{
    for (size_t i = 0; i < n; i++)
        if (resolve_one(r, names[i], provider, out, 0, d) != 0)
            return -1;
    return 0;
}

const char *mw_resolver_error(struct mw_resolver *r, const char *qualified)
{
    struct entry *e = find(r, qualified);
    return e && e->state == REFUSED ? e->error : NULL;
}

size_t mw_resolver_users(struct mw_resolver *r, const char *qualified)
{
    struct entry *e = find(r, qualified);
    return e ? e->users : 0;
}

void mw_resolver_set_reuse(struct mw_resolver *r, const struct compile_reuse *prev, struct compile_reuse *next)
{
    r->prev = prev;
    r->next = next;
}

size_t mw_resolver_reused(const struct mw_resolver *r)
{
    return r->reused;
}

size_t mw_resolver_built(const struct mw_resolver *r)
{
    return r->built;
}
