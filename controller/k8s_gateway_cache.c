/*
 * The incremental part of the Gateway API translation (see k8s_gateway.h):
 * each HTTPRoute and GRPCRoute is translated into a fragment of its own
 * (routers, middlewares, serversTransports and the services only it uses,
 * in its own arena), with what it adds to the rest: problems, listener
 * attachments, the shared load balancers it needs, its status. A later
 * translation reuses the fragment while the route (uid, generation) and
 * the context version are unchanged, so a change to one route costs one
 * route's translation plus the assembly of the others' fragments.
 */
#include "k8s_gateway_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_frag {
    char *key;         /* "<kind>|<ns>/<name>" */
    char version[160]; /* "<uid>|<generation>" (resourceVersion without a generation) */
    uint64_t context, run;
    struct arena arena; /* everything below but the status */
    struct tree_node *routers, *services, *middlewares, *transports;
    struct ptr_vec problems; /* char * */
    struct ptr_vec needs;    /* struct gw_need * */
    struct ptr_vec attached; /* (gateway index << 16 | listener index) + 1, as pointers */
    cJSON *status;           /* NULL: no parent of ours */
    char status_rv[64];      /* the object's resourceVersion when its status was last handed over; "" none */
    struct gw_frag *next;
};

struct k8s_gw_cache {
    struct gw_frag **buckets;
    size_t n_buckets, n;
    uint64_t run;
    size_t fresh, fresh_last; /* routes translated afresh by this translation, by the last one */
    bool force_status;
};

struct k8s_gw_cache *k8s_gw_cache_new(void)
{
    struct k8s_gw_cache *cache = mem_calloc(1, sizeof(*cache));
    cache->n_buckets = 1024;
    cache->buckets = mem_calloc(cache->n_buckets, sizeof(*cache->buckets));
    return cache;
}

static void frag_free(struct gw_frag *e)
{
    arena_free(&e->arena);
    cJSON_Delete(e->status);
    free(e->key);
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

static bool route_key(enum k8s_gw_kind kind, const cJSON *obj, char *buf, size_t len)
{
    const char *ns = k8s_gw__meta(obj, "namespace"), *name = k8s_gw__meta(obj, "name");
    int n = snprintf(buf, len, "%d|%s/%s", (int)kind, ns ? ns : "", name ? name : "");
    return ns && name && n > 0 && (size_t)n < len;
}

static void route_version(const cJSON *obj, char *buf, size_t len)
{
    const cJSON *md = k8s_gw__get(obj, "metadata"), *g = k8s_gw__get(md, "generation");
    const char *uid = k8s_gw__str(md, "uid"), *rv = k8s_gw__str(md, "resourceVersion");
    if (cJSON_IsNumber(g))
        snprintf(buf, len, "%s|%.0f", uid ? uid : "", g->valuedouble);
    else
        snprintf(buf, len, "%s|rv %s", uid ? uid : "", rv ? rv : "");
}

static struct gw_frag **find(const struct k8s_gw_cache *cache, const char *key)
{
    struct gw_frag **slot = &cache->buckets[fnv(key) & (cache->n_buckets - 1)];
    while (*slot && strcmp((*slot)->key, key) != 0)
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
            size_t j = fnv(e->key) & (nb - 1);
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
    size_t routes = 0;
    for (int k = 0; k < K8S_GW_KINDS; k++)
        for (size_t i = 0; kind_is_cached((enum k8s_gw_kind)k) && i < objs->n[k]; i++) {
            char key[600], ver[160];
            if (!route_key((enum k8s_gw_kind)k, objs->items[k][i], key, sizeof(key)))
                continue; /* not translated either */
            const struct gw_frag *e = *find(cache, key);
            route_version(objs->items[k][i], ver, sizeof(ver));
            if (e == NULL || e->context != context || strcmp(e->version, ver) != 0)
                return false;
            routes++;
        }
    return routes == cache->n;
}

void k8s_gw__need(struct gw_cx *c, const struct gw_need *n)
{
    struct arena *a = &c->frag->arena;
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
    ptr_vec_push(&c->frag->arena, &c->frag->attached, (void *)v);
}

/* Translates <obj> into fragment <e> (emptied): the context's maps and
 * arena are swapped for the fragment's for the time of the route. */
static void translate_into(struct gw_cx *c, struct gw_frag *e, enum k8s_gw_kind kind, const cJSON *obj,
                           void (*fn)(struct gw_cx *, const cJSON *))
{
    struct arena *pa = c->pa;
    struct ptr_vec *problems = c->problems;
    struct k8s_gw_statuses *st = c->st, mine = {0};
    struct tree_node *routers = c->routers, *services = c->services, *middlewares = c->middlewares, *transports = c->transports;
    c->pa = &e->arena;
    c->problems = &e->problems;
    c->st = &mine; /* kept for the status syncs to come */
    c->frag = e;
    c->routers = e->routers = k8s_gw__map(c, K8S_GW_PROVIDER);
    c->services = e->services = k8s_gw__map(c, K8S_GW_PROVIDER);
    c->middlewares = e->middlewares = k8s_gw__map(c, K8S_GW_PROVIDER);
    c->transports = e->transports = k8s_gw__map(c, K8S_GW_PROVIDER);
    fn(c, obj);
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

static void merge(struct gw_cx *c, struct tree_node *into, const struct tree_node *from)
{
    for (size_t i = 0; i < from->n; i++)
        tree_map_add(c->pa, into, from->keys[i], from->items[i]);
}

/* Adds fragment <e> of route <obj> to this translation. */
static void use(struct gw_cx *c, struct gw_frag *e, enum k8s_gw_kind kind, const cJSON *obj)
{
    merge(c, c->routers, e->routers);
    merge(c, c->services, e->services);
    merge(c, c->middlewares, e->middlewares);
    merge(c, c->transports, e->transports);
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
    const char *rv = k8s_gw__meta(obj, "resourceVersion");
    if (!c->cache->force_status && rv && strcmp(e->status_rv, rv) == 0)
        return;
    k8s_gw__push_status(c, kind, obj, cJSON_Duplicate(e->status, true));
    snprintf(e->status_rv, sizeof(e->status_rv), "%s", rv ? rv : "");
}

void k8s_gw__cached_route(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, void (*fn)(struct gw_cx *, const cJSON *))
{
    char key[600], ver[160];
    if (c->cache == NULL || !route_key(kind, obj, key, sizeof(key))) {
        fn(c, obj);
        return;
    }
    struct k8s_gw_cache *cache = c->cache;
    route_version(obj, ver, sizeof(ver));
    struct gw_frag **slot = find(cache, key), *e = *slot;
    if (e == NULL) {
        e = mem_calloc(1, sizeof(*e));
        e->key = mem_strdup(key);
        *slot = e;
        if (++cache->n > cache->n_buckets)
            grow(cache);
    }
    if (e->run != cache->run + 1 && (e->context != c->context || strcmp(e->version, ver) != 0 || e->routers == NULL)) {
        arena_free(&e->arena);
        cJSON_Delete(e->status);
        struct gw_frag *next = e->next;
        char *k = e->key;
        memset(e, 0, sizeof(*e));
        e->key = k;
        e->next = next;
        arena_init(&e->arena);
        snprintf(e->version, sizeof(e->version), "%s", ver);
        e->context = c->context;
        translate_into(c, e, kind, obj, fn);
        cache->fresh++;
    }
    e->run = cache->run + 1;
    use(c, e, kind, obj);
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
