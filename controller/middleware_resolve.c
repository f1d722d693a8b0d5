/*
 * Middleware resolution (see middleware_resolve.h). One index entry per
 * qualified name over every provider's model; an entry remembers its
 * compiled form or why it was refused, so a middleware shared by a thousand
 * routers is built once and its error reported once.
 */
#include "middleware_resolve.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../proxy/middleware/middleware.h"
#include "../proxy/table.h"
#include "compile_reuse.h"

#define MAX_CHAIN_DEPTH 32

enum entry_state { UNBUILT, BUILDING, BUILT, REFUSED };

/* One qualified name, kept across compiles by the index. */
struct entry {
    const struct model_middleware *mw; /* what the name resolves to now; NULL: gone */
    char *provider;
    char *qualified;
    uint64_t hash;
    uint64_t seen; /* the last index generation that had it */
    const struct model_middleware *checked; /* the object <supported> is about */
    bool supported;                         /* a type gantry implements, or a chain */
    /* this compile's: valid when stamp is the index's generation */
    uint64_t stamp;
    enum entry_state state;
    struct table_middleware *built; /* BUILT, not a chain */
    const char *error;              /* REFUSED */
    size_t users;
};

struct mw_index {
    struct entry **slots; /* open addressing by qualified name */
    size_t cap;
    struct entry **all; /* every entry, for the sweep */
    size_t n_all, cap_all;
    struct compile_reuse by_model; /* model middleware -> entry, as of the last update */
    uint64_t gen;   /* one per update (compile) */
    uint64_t epoch; /* changes when entries are freed: deps recorded before are void */
};

struct mw_resolver {
    struct arena *scratch;
    struct table *t;
    struct mw_index *x;
    struct model *const *models;
    size_t n_models;
    bool services_indexed;
    struct table_host_map services; /* qualified name -> const struct model_service *, built when first asked */
    const struct compile_reuse *prev; /* model middleware -> shared table_middleware of the published table */
    struct compile_reuse *next;       /* the same, for the table being built */
    size_t reused, built;
    struct ptr_vec *rec; /* struct mw_dep *, while recording */
    bool rec_shareable;
};

static const char *qualify(struct arena *a, const char *name, const char *provider)
{
    return strchr(name, '@') ? arena_strdup(a, name) : arena_printf(a, "%s@%s", name, provider);
}

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static size_t slot_of(const struct mw_index *x, const char *q, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (x->cap - 1);
    while (x->slots[i] != NULL && (x->slots[i]->hash != h || strncmp(x->slots[i]->qualified, q, len) != 0 ||
                                   x->slots[i]->qualified[len] != '\0'))
        i = (i + 1) & (x->cap - 1);
    return i;
}

static void rehash(struct mw_index *x, size_t cap)
{
    free(x->slots);
    x->cap = cap;
    x->slots = mem_calloc(cap, sizeof(*x->slots));
    for (size_t i = 0; i < x->n_all; i++) {
        struct entry *e = x->all[i];
        x->slots[slot_of(x, e->qualified, strlen(e->qualified), e->hash)] = e;
    }
}

static struct entry *index_get(const struct mw_index *x, const char *q)
{
    if (x->cap == 0)
        return NULL;
    size_t len = strlen(q);
    return x->slots[slot_of(x, q, len, hash_name(q, len))];
}

static struct entry *index_get_or_add(struct mw_index *x, const char *q)
{
    size_t len = strlen(q);
    uint64_t h = hash_name(q, len);
    if ((x->n_all + 1) * 2 > x->cap)
        rehash(x, x->cap ? x->cap * 2 : 256);
    size_t i = slot_of(x, q, len, h);
    if (x->slots[i] != NULL)
        return x->slots[i];
    struct entry *e = mem_calloc(1, sizeof(*e));
    e->qualified = mem_strdup(q);
    e->hash = h;
    if (x->n_all == x->cap_all) {
        x->cap_all = x->cap_all ? x->cap_all * 2 : 256;
        x->all = mem_realloc(x->all, x->cap_all * sizeof(*x->all));
    }
    x->all[x->n_all++] = e;
    x->slots[i] = e;
    return e;
}

static void free_entry(struct entry *e)
{
    free(e->provider);
    free(e->qualified);
    free(e);
}

struct mw_index *mw_index_new(void)
{
    return mem_calloc(1, sizeof(struct mw_index));
}

void mw_index_free(struct mw_index *x)
{
    if (x == NULL)
        return;
    for (size_t i = 0; i < x->n_all; i++)
        free_entry(x->all[i]);
    free(x->all);
    free(x->slots);
    compile_reuse_free(&x->by_model);
    free(x);
}

static void index_free_cb(void *p)
{
    mw_index_free(p);
}

/* Names gone for good are dropped once they outnumber the live ones
 * (amortised): their entries are freed, so recorded deps become void. */
static void sweep(struct mw_index *x)
{
    size_t dead = 0;
    for (size_t i = 0; i < x->n_all; i++) {
        struct entry *e = x->all[i];
        if (e->seen != x->gen)
            e->mw = e->checked = NULL;
        dead += e->mw == NULL;
    }
    if (dead < 1024 || dead * 2 < x->n_all)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < x->n_all; i++) {
        if (x->all[i]->mw == NULL)
            free_entry(x->all[i]);
        else
            x->all[kept++] = x->all[i];
    }
    x->n_all = kept;
    rehash(x, x->cap);
    x->epoch++;
}

/* Brings the index to <models>: a middleware object the index already maps
 * (unchanged since the last compile) costs a pointer lookup; only new or
 * changed ones are qualified and hashed by name. */
static void index_update(struct mw_index *x, struct arena *scratch, struct model *const *models, size_t n_models)
{
    x->gen++;
    struct compile_reuse next = {0};
    compile_reuse_reserve(&next, x->by_model.n);
    for (size_t i = 0; i < n_models; i++)
        for (size_t j = 0; j < models[i]->middlewares.len; j++) {
            const struct model_middleware *mw = models[i]->middlewares.items[j];
            struct entry *e = compile_reuse_get(&x->by_model, mw);
            if (e == NULL || e->mw != mw)
                e = index_get_or_add(x, qualify(scratch, mw->name, models[i]->provider));
            if (e->seen == x->gen) /* providers drop duplicates; first wins */
                continue;
            if (e->mw != mw) {
                e->mw = mw;
                e->checked = NULL; /* an address may come back as another object */
                if (e->provider == NULL || strcmp(e->provider, models[i]->provider) != 0) {
                    free(e->provider);
                    e->provider = mem_strdup(models[i]->provider);
                }
            }
            e->seen = x->gen;
            compile_reuse_put(&next, mw, e);
        }
    compile_reuse_free(&x->by_model);
    x->by_model = next;
    sweep(x);
}

struct mw_resolver *mw_resolver_new_indexed(struct arena *scratch, struct table *t, struct model *const *models,
                                            size_t n_models, struct mw_index *x)
{
    struct mw_resolver *r = arena_alloc(scratch, sizeof(*r));
    r->scratch = scratch;
    r->t = t;
    r->x = x;
    r->models = models;
    r->n_models = n_models;
    index_update(x, scratch, models, n_models);
    return r;
}

struct mw_resolver *mw_resolver_new(struct arena *scratch, struct table *t, struct model *const *models, size_t n_models)
{
    struct mw_index *x = mw_index_new();
    arena_on_free(scratch, index_free_cb, x);
    return mw_resolver_new_indexed(scratch, t, models, n_models, x);
}

/* <e> with this compile's state (reset when first touched this compile). */
static struct entry *current(struct mw_resolver *r, struct entry *e)
{
    if (e != NULL && e->stamp != r->x->gen) {
        e->stamp = r->x->gen;
        e->state = UNBUILT;
        e->built = NULL;
        e->error = NULL;
        e->users = 0;
    }
    return e;
}

static const struct model_service *find_service(struct mw_resolver *r, const char *q)
{
    if (!r->services_indexed) { /* only errors middlewares ask: most compiles never do */
        r->services_indexed = true;
        for (size_t i = 0; i < r->n_models; i++)
            for (size_t j = 0; j < r->models[i]->services.len; j++) {
                const struct model_service *s = r->models[i]->services.items[j];
                const char *sq = qualify(r->scratch, s->name, r->models[i]->provider);
                void **slot = table_host_map_slot(r->scratch, &r->services, sq, strlen(sq));
                if (*slot == NULL)
                    *slot = (void *)s;
            }
    }
    return table_host_map_get(&r->services, q, strlen(q));
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
        const struct model_service *s = find_service(r, q);
        if (s != NULL && s->n_middlewares != 0)
            return arena_printf(r->scratch, "service '%s' has middlewares, which gantry does not run for the error page", q);
    }
    return NULL;
}

/* The entry of <qualified> if a middleware has that name now. */
static struct entry *find(struct mw_resolver *r, const char *qualified)
{
    struct entry *e = index_get(r->x, qualified);
    return e != NULL && e->mw != NULL ? current(r, e) : NULL;
}

static void record(struct mw_resolver *r, struct entry *e, struct table_middleware *built)
{
    if (r->rec == NULL)
        return;
    struct mw_dep *dep = arena_alloc(r->scratch, sizeof(*dep));
    *dep = (struct mw_dep){e, e->mw, built};
    ptr_vec_push(r->scratch, r->rec, dep);
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
        record(r, e, NULL);
        enum entry_state before = e->state;
        e->state = BUILDING;
        int rc = expand_chain(r, e, out, depth, d);
        e->state = before == UNBUILT ? BUILT : before;
        return rc;
    }
    if (e->state == BUILT && e->built->type->per_router) { /* its own instance for each router */
        r->rec_shareable = false;
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
    if (e->built->unit == NULL) /* in this table's memory: a chain holding it cannot outlive the table */
        r->rec_shareable = false;
    record(r, e, e->built);
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

static struct entry *entry_of(struct mw_resolver *r, const struct model_middleware *mw)
{
    struct entry *e = compile_reuse_get(&r->x->by_model, mw);
    return e != NULL && e->mw == mw ? current(r, e) : NULL;
}

const char *mw_resolver_qualified_of(struct mw_resolver *r, const struct model_middleware *mw)
{
    struct entry *e = entry_of(r, mw);
    return e ? e->qualified : NULL;
}

bool mw_resolver_supported_of(struct mw_resolver *r, const struct model_middleware *mw)
{
    struct entry *e = entry_of(r, mw);
    if (e == NULL)
        return middleware_type(mw->type) != NULL || strcasecmp(mw->type, "chain") == 0;
    if (e->checked != mw) { /* once per object, not per compile */
        e->checked = mw;
        e->supported = middleware_type(mw->type) != NULL || strcasecmp(mw->type, "chain") == 0;
    }
    return e->supported;
}

const char *mw_resolver_error_of(struct mw_resolver *r, const struct model_middleware *mw)
{
    struct entry *e = entry_of(r, mw);
    return e && e->state == REFUSED ? e->error : NULL;
}

size_t mw_resolver_users_of(struct mw_resolver *r, const struct model_middleware *mw)
{
    struct entry *e = entry_of(r, mw);
    return e ? e->users : 0;
}

void mw_resolver_record_begin(struct mw_resolver *r, struct ptr_vec *deps)
{
    r->rec = deps;
    r->rec_shareable = true;
}

bool mw_resolver_record_end(struct mw_resolver *r)
{
    r->rec = NULL;
    return r->rec_shareable;
}

uint64_t mw_resolver_epoch(const struct mw_resolver *r)
{
    return r->x->epoch;
}

bool mw_resolver_take(struct mw_resolver *r, const struct mw_dep *deps, size_t n, uint64_t epoch)
{
    if (epoch != r->x->epoch) /* entries were freed since the deps were recorded */
        return false;
    for (size_t i = 0; i < n; i++) {
        struct entry *e = deps[i].entry;
        if (e->mw != deps[i].mw) /* the name resolves to another object now, or to none */
            return false;
        current(r, e);
        if (e->state == REFUSED || e->state == BUILDING || (deps[i].built && e->state == BUILT && e->built != deps[i].built))
            return false;
    }
    for (size_t i = 0; i < n; i++) { /* what resolving them would have done */
        struct entry *e = deps[i].entry;
        e->users++;
        if (e->state == UNBUILT) {
            e->state = BUILT;
            e->built = deps[i].built;
            if (deps[i].built != NULL) {
                r->reused++;
                if (r->next != NULL)
                    compile_reuse_put(r->next, e->mw, deps[i].built);
            }
        }
    }
    return true;
}

size_t mw_resolver_reused(const struct mw_resolver *r)
{
    return r->reused;
}

size_t mw_resolver_built(const struct mw_resolver *r)
{
    return r->built;
}
