/*
 * The incremental part of the Gateway API translation (see k8s_gateway.h):
 * each HTTPRoute and GRPCRoute is translated and decoded into a model of
 * its own (its routers, middlewares, serversTransports and the services
 * only it uses: a "piece"), with what it adds to the rest: problems,
 * listener attachments, the shared load balancers it needs, its status. A
 * later translation reuses them while the route (uid, generation) and the
 * context version are unchanged, so a change to one route costs one
 * route's translation plus pointers to the others' objects.
 *
 * The model handed to the aggregator points into the pieces: each piece
 * is counted (the cache entry holds one reference, every model using it
 * one, dropped when that model is freed), so that a route changed or
 * removed keeps its objects until the aggregator lets the older model go.
 * Watcher thread only.
 */
#include "k8s_gateway_internal.h"

#include "../../model_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_frag {
    int kind;
    char *ns, *name, *uid, *rv; /* what identifies the route's version (rv: without a generation) */
    double generation;           /* -1: none */
    uint64_t hash, context, run;
    struct gw_piece *piece;  /* the vectors below are in its model's arena: one arena per route */
    struct ptr_vec problems; /* char * */
    struct ptr_vec needs;    /* struct gw_need * */
    struct ptr_vec attached; /* (gateway index << 16 | listener index) + 1, as pointers */
    cJSON *status;           /* NULL: no parent of ours */
    char status_rv[64];      /* the object's resourceVersion when its status was last handed over; "" none */
    struct gw_frag *next;
};

struct gw_piece {
    unsigned refs;
    struct model *m; /* routers, services, middlewares, transports */
};

static void piece_unref(void *data)
{
    struct gw_piece *p = data;
    if (--p->refs == 0) {
        model_free(p->m);
        free(p);
    }
}

struct k8s_gw_cache {
    struct gw_frag **buckets;
    size_t n_buckets, n;
    uint64_t run;
    size_t fresh, fresh_last; /* routes translated afresh by this translation, by the last one */
    bool force_status;
    unsigned slice; /* the routes whose status is compared again anyway this time: hash % STATUS_SLICES */
};

/* A status write that failed for another reason than a change of the
 * object (which would have changed its resourceVersion) is retried when
 * the route's slice comes: each forced sync compares one slice of the
 * routes, so that no sync compares thousands. */
#define STATUS_SLICES 30

struct k8s_gw_cache *k8s_gw_cache_new(void)
{
    struct k8s_gw_cache *cache = mem_calloc(1, sizeof(*cache));
    cache->n_buckets = 1024;
    cache->buckets = mem_calloc(cache->n_buckets, sizeof(*cache->buckets));
    return cache;
}

static void frag_clear(struct gw_frag *e);

static void frag_free(struct gw_frag *e)
{
    frag_clear(e);
    free(e);
}

void k8s_gw_cache_free(struct k8s_gw_cache *cache)
{
    if (cache == NULL)
        return;
    for (size_t b = 0; b < cache->n_buckets; b++)
        for (struct gw_frag *e = cache->buckets[b], *next; e; e = next) {
            next = e->next;
            frag_free(e);
        }
    free(cache->buckets);
    free(cache);
}

void k8s_gw_cache_force_status(struct k8s_gw_cache *cache)
{
    cache->force_status = true;
    cache->slice = (cache->slice + 1) % STATUS_SLICES;
}

size_t k8s_gw_cache_fresh(const struct k8s_gw_cache *cache)
{
    return cache->fresh_last;
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* What of a route identifies it and its version, read without copies:
 * this is looked at for every route at every event. */
struct route_id {
    int kind;
    const char *ns, *name, *uid, *rv;
    const char *status_rv; /* the resourceVersion, always */
    double generation;
    uint64_t hash;
};

static const char *nonempty(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* One walk over metadata's keys (this runs for every route at every event). */
static bool route_id(enum k8s_gw_kind kind, const cJSON *obj, struct route_id *id)
{
    const cJSON *md = k8s_gw__get(obj, "metadata");
    *id = (struct route_id){.kind = (int)kind, .generation = -1};
    for (const cJSON *f = md ? md->child : NULL; f; f = f->next) {
        const char *k = f->string;
        if (k == NULL)
            continue;
        if (strcmp(k, "name") == 0)
            id->name = nonempty(f);
        else if (strcmp(k, "namespace") == 0)
            id->ns = nonempty(f);
        else if (strcmp(k, "uid") == 0)
            id->uid = nonempty(f);
        else if (strcmp(k, "resourceVersion") == 0)
            id->rv = nonempty(f);
        else if (strcmp(k, "generation") == 0 && cJSON_IsNumber(f))
            id->generation = f->valuedouble;
    }
    if (id->ns == NULL || id->name == NULL)
        return false;
    id->status_rv = id->rv;
    if (id->generation >= 0)
        id->rv = NULL; /* the generation tells: status writes do not count */
    id->hash = (fnv(id->ns) * 31 + fnv(id->name)) * 7 + (uint64_t)kind;
    return true;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool same_version(const struct gw_frag *e, const struct route_id *id)
{
    return e->generation == id->generation && same(e->uid, id->uid) && same(e->rv, id->rv);
}

static struct gw_frag **find(const struct k8s_gw_cache *cache, const struct route_id *id)
{
    struct gw_frag **slot = &cache->buckets[id->hash & (cache->n_buckets - 1)];
    while (*slot && !((*slot)->hash == id->hash && (*slot)->kind == id->kind && strcmp((*slot)->name, id->name) == 0 &&
                      strcmp((*slot)->ns, id->ns) == 0))
        slot = &(*slot)->next;
    return slot;
}

static void grow(struct k8s_gw_cache *cache)
{
    size_t nb = cache->n_buckets * 2;
    struct gw_frag **b = mem_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < cache->n_buckets; i++)
        for (struct gw_frag *e = cache->buckets[i], *next; e; e = next) {
            next = e->next;
            size_t j = e->hash & (nb - 1);
            e->next = b[j];
            b[j] = e;
        }
    free(cache->buckets);
    cache->buckets = b;
    cache->n_buckets = nb;
}

static bool kind_is_cached(enum k8s_gw_kind k)
{
    return k == K8S_GW_HTTPROUTES || k == K8S_GW_GRPCROUTES;
}

bool k8s_gw_cache_current(const struct k8s_gw_cache *cache, const struct k8s_gw_objects *objs, uint64_t context)
{
    if (objs->n[K8S_GW_HTTPROUTES] + objs->n[K8S_GW_GRPCROUTES] != cache->n)
        return false; /* a route added or removed (or one without a name, never cached: the translation tells) */
    size_t routes = 0;
    for (int k = 0; k < K8S_GW_KINDS; k++)
        for (size_t i = 0; kind_is_cached((enum k8s_gw_kind)k) && i < objs->n[k]; i++) {
            struct route_id id;
            if (!route_id((enum k8s_gw_kind)k, objs->items[k][i], &id))
                continue; /* not translated either */
            const struct gw_frag *e = *find(cache, &id);
            if (e == NULL || e->context != context || !same_version(e, &id))
                return false;
            routes++;
        }
    return routes == cache->n;
}

void k8s_gw__need(struct gw_cx *c, const struct gw_need *n)
{
    struct arena *a = &c->frag->piece->m->arena;
    struct gw_need *copy = arena_alloc(a, sizeof(*copy));
    *copy = *n;
    copy->key = arena_strdup(a, n->key);
    copy->id = arena_strdup(a, n->id);
    copy->ns = arena_strdup(a, n->ns);
    copy->name = arena_strdup(a, n->name);
    copy->scheme = n->scheme ? arena_strdup(a, n->scheme) : NULL;
    copy->transport = n->transport ? arena_strdup(a, n->transport) : NULL;
    ptr_vec_push(a, &c->frag->needs, copy);
}

void k8s_gw__frag_attached(struct gw_cx *c, const struct gw_gateway *g, const struct gw_listener *l)
{
    uintptr_t v = ((uintptr_t)(g - c->gws) << 16 | (uintptr_t)(l - g->l)) + 1;
    ptr_vec_push(&c->frag->piece->m->arena, &c->frag->attached, (void *)v);
}

/* Translates <obj> into fragment <e> (emptied): the context's maps and
 * arena are swapped for ones of the route's own for the time of the
 * route, then decoded into the route's piece. */
static void translate_into(struct gw_cx *c, struct gw_frag *e, enum k8s_gw_kind kind, const cJSON *obj,
                           void (*fn)(struct gw_cx *, const cJSON *))
{
    struct arena *pa = c->pa, tmp;
    arena_init(&tmp);
    struct ptr_vec *problems = c->problems, mine_problems = {0};
    struct k8s_gw_statuses *st = c->st, mine = {0};
    struct tree_node *routers = c->routers, *services = c->services, *middlewares = c->middlewares, *transports = c->transports;
    c->pa = &tmp;
    c->problems = &mine_problems;
    c->st = &mine; /* kept for the status syncs to come */
    c->frag = e;
    struct tree_node *root = k8s_gw__map(c, K8S_GW_PROVIDER), *http = k8s_gw__map(c, K8S_GW_PROVIDER);
    k8s_gw__add(c, root, "http", http);
    k8s_gw__add(c, http, "routers", c->routers = k8s_gw__map(c, K8S_GW_PROVIDER));
    k8s_gw__add(c, http, "services", c->services = k8s_gw__map(c, K8S_GW_PROVIDER));
    k8s_gw__add(c, http, "middlewares", c->middlewares = k8s_gw__map(c, K8S_GW_PROVIDER));
    k8s_gw__add(c, http, "serversTransports", c->transports = k8s_gw__map(c, K8S_GW_PROVIDER));
    e->piece = mem_calloc(1, sizeof(*e->piece));
    e->piece->refs = 1;
    e->piece->m = model_new(K8S_GW_PROVIDER);
    struct arena *a = &e->piece->m->arena;
    fn(c, obj);
    struct decode_report rep;
    decode_report_init(&rep);
    model_decode(e->piece->m, root, &rep);
    for (size_t i = 0; i < rep.errors.len; i++)
        k8s_gw__problem(c, "%s", (const char *)rep.errors.items[i]);
    for (size_t i = 0; i < rep.warnings.len; i++)
        k8s_gw__problem(c, "warning: %s", (const char *)rep.warnings.items[i]);
    decode_report_free(&rep);
    for (size_t i = 0; i < mine_problems.len; i++)
        ptr_vec_push(a, &e->problems, arena_strdup(a, mine_problems.items[i]));
    arena_free(&tmp);
    c->pa = pa;
    c->problems = problems;
    c->st = st;
    c->frag = NULL;
    c->routers = routers;
    c->services = services;
    c->middlewares = middlewares;
    c->transports = transports;
    for (size_t i = 0; i < mine.n; i++)
        if (mine.v[i].kind == kind && e->status == NULL)
            e->status = mine.v[i].status;
        else
            cJSON_Delete(mine.v[i].status);
    free(mine.v);
}

static void append(struct model *m, struct ptr_vec *into, const struct ptr_vec *from)
{
    for (size_t i = 0; i < from->len; i++)
        ptr_vec_push(&m->arena, into, from->items[i]);
}

/* Adds fragment <e> of route <obj> to this translation. */
static void use(struct gw_cx *c, struct gw_frag *e, enum k8s_gw_kind kind, const cJSON *obj, const char *rv)
{
    const struct model *pm = e->piece->m;
    append(c->m, &c->m->routers, &pm->routers);
    append(c->m, &c->m->services, &pm->services);
    append(c->m, &c->m->middlewares, &pm->middlewares);
    append(c->m, &c->m->transports, &pm->transports);
    e->piece->refs++;
    arena_on_free(&c->m->arena, piece_unref, e->piece);
    for (size_t i = 0; i < e->needs.len; i++)
        k8s_gw__define_need(c, e->needs.items[i]);
    for (size_t i = 0; i < e->problems.len; i++)
        ptr_vec_push(c->pa, c->problems, e->problems.items[i]);
    for (size_t i = 0; i < e->attached.len; i++) {
        uintptr_t v = (uintptr_t)e->attached.items[i] - 1;
        size_t g = v >> 16, l = v & 0xffff;
        if (g < c->n_gws && l < c->gws[g].n) /* always: the Gateways are part of the context */
            c->gws[g].l[l].attached++;
    }
    if (c->st == NULL || e->status == NULL)
        return;
    /* unchanged since its status was last handed over (written, or found
     * as it should be): the writer would find nothing to do */
    bool forced = c->cache->force_status && e->hash % STATUS_SLICES == c->cache->slice;
    if (!forced && rv && strcmp(e->status_rv, rv) == 0)
        return;
    k8s_gw__push_status(c, kind, obj, cJSON_Duplicate(e->status, true));
    snprintf(e->status_rv, sizeof(e->status_rv), "%s", rv ? rv : "");
}

static char *dup_or_null(const char *s)
{
    return s ? mem_strdup(s) : NULL;
}

static void frag_clear(struct gw_frag *e)
{
    if (e->piece)
        piece_unref(e->piece);
    cJSON_Delete(e->status);
    free(e->ns);
    free(e->name);
    free(e->uid);
    free(e->rv);
}

void k8s_gw__cached_route(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, void (*fn)(struct gw_cx *, const cJSON *))
{
    struct route_id id;
    if (c->cache == NULL || !route_id(kind, obj, &id)) {
        fn(c, obj);
        return;
    }
    struct k8s_gw_cache *cache = c->cache;
    struct gw_frag **slot = find(cache, &id), *e = *slot;
    if (e == NULL) {
        e = mem_calloc(1, sizeof(*e));
        *slot = e;
        cache->n++;
    } else if (e->run == cache->run + 1 || (e->context == c->context && same_version(e, &id) && e->piece)) {
        e->run = cache->run + 1;
        use(c, e, kind, obj, id.status_rv);
        return;
    }
    struct gw_frag *next = e->next;
    frag_clear(e);
    memset(e, 0, sizeof(*e));
    e->next = next;
    e->kind = id.kind;
    e->ns = mem_strdup(id.ns);
    e->name = mem_strdup(id.name);
    e->uid = dup_or_null(id.uid);
    e->rv = dup_or_null(id.rv);
    e->generation = id.generation;
    e->hash = id.hash;
    e->context = c->context;
    translate_into(c, e, kind, obj, fn);
    cache->fresh++;
    e->run = cache->run + 1;
    use(c, e, kind, obj, id.status_rv);
    if (cache->n > cache->n_buckets)
        grow(cache); /* now that it has its hash */
}

void k8s_gw__cache_sweep(struct gw_cx *c)
{
    struct k8s_gw_cache *cache = c->cache;
    if (cache == NULL)
        return;
    cache->run++;
    cache->fresh_last = cache->fresh;
    cache->fresh = 0;
    for (size_t b = 0; b < cache->n_buckets; b++)
        for (struct gw_frag **slot = &cache->buckets[b]; *slot;) {
            struct gw_frag *e = *slot;
            if (e->run == cache->run) {
                slot = &e->next;
                continue;
            }
            *slot = e->next;
            frag_free(e);
            cache->n--;
        }
    if (c->st)
        cache->force_status = false;
}
