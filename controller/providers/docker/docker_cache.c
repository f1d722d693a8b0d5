/*
 * Incremental Docker build (see docker_cache.h).
 *
 * A piece is one container's build: its own model (objects, problems),
 * the digest of each router/service definition (to tell replicas from
 * conflicts) and, while it is in the cache, the name group of each of its
 * routers, services, TCP routers and services, UDP routers and services. A group lists the pieces defining
 * that name in container order; its result is what the provider's model
 * gets for the name: the only definition, the first of identical ones, a
 * service merged from replicas (kept in a struct merged), or nothing when
 * the definitions conflict. Only groups a changed piece belongs to are
 * merged again.
 */
#include "docker_cache.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { K_ROUTER, K_SERVICE, K_TCP_ROUTER, K_UDP_ROUTER, K_UDP_SERVICE, K_TCP_SERVICE, N_KINDS };

/* TCP and UDP services are both a struct model_tcp_service */
_Static_assert(N_KINDS == sizeof(((struct docker_cache *)0)->groups) / sizeof(struct strmap), "a name map per kind");

static bool l4_service(int kind)
{
    return kind == K_UDP_SERVICE || kind == K_TCP_SERVICE;
}

struct member {
    struct docker_piece *p;
    size_t idx; /* in the piece's vector of that kind */
};

/* A service merged from replicas; holds the pieces its fields point into. */
struct merged {
    int refs;
    struct arena arena;
    struct docker_piece **pieces;
    size_t n;
};

struct docker_group {
    char *name;
    int kind;
    struct member *members; /* by container name, then position in the container */
    size_t n, cap;
    bool dirty;
    const void *result;      /* NULL: conflicting definitions, none served */
    struct merged *merged;   /* when <result> is a merged service */
    char **problems;         /* the conflicts, reported once per rebuild */
    size_t n_problems;
};

struct docker_piece {
    char *id, *name;
    uint64_t revision;
    bool stopping;
    bool reads_others;  /* network mode container:<x>: built again each time */
    bool in_cache;      /* linked into the groups and by_id */
    struct model *m;    /* its objects; m->problems: its problems */
    uint64_t digest;    /* of m and the container's name */
    uint64_t *digests[N_KINDS];             /* per object: its definition (services: without servers) */
    struct docker_group **groups[N_KINDS];  /* per object, while in_cache */
    uint64_t seen;      /* the last build whose store listed it */
    int refs;
};

static struct ptr_vec *kind_vec(struct model *m, int kind)
{
    switch (kind) {
    case K_ROUTER:
        return &m->routers;
    case K_SERVICE:
        return &m->services;
    case K_TCP_ROUTER:
        return &m->tcp_routers;
    case K_UDP_ROUTER:
        return &m->udp_routers;
    case K_TCP_SERVICE:
        return &m->tcp_services;
    default:
        return &m->udp_services;
    }
}

static const char *obj_name(int kind, const void *o)
{
    return kind == K_SERVICE    ? ((const struct model_service *)o)->name
           : l4_service(kind) ? ((const struct model_tcp_service *)o)->name
                                   : ((const struct model_router *)o)->name;
}

static const char *obj_source(int kind, const void *o)
{
    return kind == K_SERVICE    ? ((const struct model_service *)o)->origin.source
           : l4_service(kind) ? ((const struct model_tcp_service *)o)->origin.source
                                   : ((const struct model_router *)o)->origin.source;
}

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* ---- references ---- */

static void piece_ref(struct docker_piece *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

static void piece_unref(struct docker_piece *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    model_free(p->m);
    free(p->id);
    free(p->name);
    free(p);
}

static void merged_unref(struct merged *g)
{
    if (g == NULL || __atomic_sub_fetch(&g->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < g->n; i++)
        piece_unref(g->pieces[i]);
    free(g->pieces);
    arena_free(&g->arena);
    free(g);
}

struct held {
    struct docker_piece **pieces;
    size_t n;
    struct merged **merges;
    size_t n_merges;
};

static void release_held(void *data)
{
    struct held *h = data;
    for (size_t i = 0; i < h->n; i++)
        piece_unref(h->pieces[i]);
    for (size_t i = 0; i < h->n_merges; i++)
        merged_unref(h->merges[i]);
    free(h->pieces);
    free(h->merges);
    free(h);
}

/* ---- pieces ---- */

static int piece_cmp(const struct docker_piece *a, const struct docker_piece *b)
{
    int c = strcmp(a->name, b->name);
    return c ? c : strcmp(a->id, b->id);
}

static int piece_qsort_cmp(const void *a, const void *b)
{
    return piece_cmp(*(struct docker_piece *const *)a, *(struct docker_piece *const *)b);
}

static struct docker_piece *piece_build(const struct docker_store *s, const struct docker_options *o,
                                        const struct docker_container *c)
{
    struct docker_piece *p = mem_calloc(1, sizeof(*p));
    p->id = mem_strdup(c->id);
    p->name = mem_strdup(c->name);
    p->revision = c->revision;
    p->stopping = c->stopping;
    p->reads_others = strncmp(c->network_mode, "container:", 10) == 0;
    p->refs = 1;
    p->m = model_new("docker");
    docker_build_container(s, o, c, p->m, &p->m->arena, &p->m->problems);
    model_compute_digest(p->m);
    p->digest = p->m->digest ^ mix(hash_str(c->name));
    for (int k = 0; k < N_KINDS; k++) {
        struct ptr_vec *v = kind_vec(p->m, k);
        p->digests[k] = arena_alloc(&p->m->arena, (v->len ? v->len : 1) * sizeof(uint64_t));
        p->groups[k] = arena_alloc(&p->m->arena, (v->len ? v->len : 1) * sizeof(struct docker_group *));
        for (size_t j = 0; j < v->len; j++)
            p->digests[k][j] = k == K_SERVICE    ? model_service_digest(v->items[j], false)
                               : l4_service(k) ? model_tcp_service_digest(v->items[j], false)
                                                    : model_router_digest(v->items[j]);
    }
    return p;
}

/* ---- name groups ---- */

static void mark_dirty(struct ptr_vec *dirty, struct arena *scratch, struct docker_group *g)
{
    if (!g->dirty) {
        g->dirty = true;
        ptr_vec_push(scratch, dirty, g);
    }
}

static int member_cmp(const struct member *a, const struct member *b)
{
    if (a->p == b->p)
        return a->idx < b->idx ? -1 : a->idx > b->idx;
    return piece_cmp(a->p, b->p);
}

static void link_piece(struct docker_cache *k, struct docker_piece *p, struct ptr_vec *dirty, struct arena *scratch)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        struct ptr_vec *v = kind_vec(p->m, kind);
        for (size_t j = 0; j < v->len; j++) {
            const char *name = obj_name(kind, v->items[j]);
            bool added;
            void **slot = strmap_put(&k->groups[kind], name, &added);
            if (added) {
                struct docker_group *g = mem_calloc(1, sizeof(*g));
                g->name = mem_strdup(name);
                g->kind = kind;
                *slot = g;
            }
            struct docker_group *g = *slot;
            if (g->n == g->cap) {
                g->cap = g->cap ? g->cap * 2 : 2;
                g->members = mem_realloc(g->members, g->cap * sizeof(*g->members));
            }
            struct member nm = {p, j};
            size_t lo = 0, hi = g->n; /* after every member that sorts before or equal */
            while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                if (member_cmp(&g->members[mid], &nm) <= 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            memmove(g->members + lo + 1, g->members + lo, (g->n - lo) * sizeof(*g->members));
            g->members[lo] = nm;
            g->n++;
            p->groups[kind][j] = g;
            mark_dirty(dirty, scratch, g);
        }
    }
    p->in_cache = true;
}

static void unlink_piece(struct docker_cache *k, struct docker_piece *p, struct ptr_vec *dirty, struct arena *scratch)
{
    for (int kind = 0; kind < N_KINDS; kind++) {
        struct ptr_vec *v = kind_vec(p->m, kind);
        for (size_t j = 0; j < v->len; j++) {
            struct docker_group *g = p->groups[kind][j];
            size_t w = 0;
            for (size_t i = 0; i < g->n; i++)
                if (g->members[i].p != p)
                    g->members[w++] = g->members[i];
            g->n = w;
            mark_dirty(dirty, scratch, g);
        }
    }
    strmap_del(&k->by_id, p->id);
    p->in_cache = false;
}

static void group_reset(struct docker_group *g)
{
    for (size_t i = 0; i < g->n_problems; i++)
        free(g->problems[i]);
    free(g->problems);
    g->problems = NULL;
    g->n_problems = 0;
    merged_unref(g->merged);
    g->merged = NULL;
    g->result = NULL;
}

static void group_free(void *data)
{
    struct docker_group *g = data;
    group_reset(g);
    free(g->members);
    free(g->name);
    free(g);
}

static void group_problem(struct docker_group *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void group_problem(struct docker_group *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (s == NULL)
        abort(); /* the OOM policy of mem_alloc */
    g->problems = mem_realloc(g->problems, (g->n_problems + 1) * sizeof(*g->problems));
    g->problems[g->n_problems++] = s;
}

static const void *member_obj(const struct docker_group *g, size_t i)
{
    return kind_vec(g->members[i].p->m, g->kind)->items[g->members[i].idx];
}

static uint64_t member_digest(const struct docker_group *g, size_t i)
{
    return g->members[i].p->digests[g->kind][g->members[i].idx];
}

/* Replicas: one service with the servers of all (the same URL once). */
static void merge_replicas(struct docker_group *g)
{
    const struct model_service *first = member_obj(g, 0);
    size_t total = 0;
    for (size_t i = 0; i < g->n; i++)
        total += ((const struct model_service *)member_obj(g, i))->lb->n_servers;
    struct merged *mg = mem_calloc(1, sizeof(*mg));
    mg->refs = 1;
    arena_init(&mg->arena);
    mg->pieces = mem_alloc(g->n * sizeof(*mg->pieces));
    struct model_service *s = arena_alloc(&mg->arena, sizeof(*s));
    *s = *first;
    struct model_lb *lb = arena_alloc(&mg->arena, sizeof(*lb));
    *lb = *first->lb;
    lb->servers = arena_alloc(&mg->arena, (total ? total : 1) * sizeof(*lb->servers));
    lb->n_servers = 0;
    struct strmap urls = STRMAP_INIT;
    for (size_t i = 0; i < g->n; i++) {
        const struct model_service *o = member_obj(g, i);
        for (size_t j = 0; j < o->lb->n_servers; j++) {
            bool added;
            strmap_put(&urls, o->lb->servers[j].url, &added);
            if (added)
                lb->servers[lb->n_servers++] = o->lb->servers[j];
        }
        if (mg->n == 0 || mg->pieces[mg->n - 1] != g->members[i].p) {
            piece_ref(g->members[i].p);
            mg->pieces[mg->n++] = g->members[i].p;
        }
    }
    strmap_free(&urls, NULL);
    s->lb = lb;
    g->merged = mg;
    g->result = s;
}

/* TCP or UDP replicas: one service with the servers of all (the same address once). */
static void merge_l4_replicas(struct docker_group *g)
{
    const struct model_tcp_service *first = member_obj(g, 0);
    size_t total = 0;
    for (size_t i = 0; i < g->n; i++)
        total += ((const struct model_tcp_service *)member_obj(g, i))->n_servers;
    struct merged *mg = mem_calloc(1, sizeof(*mg));
    mg->refs = 1;
    arena_init(&mg->arena);
    mg->pieces = mem_alloc(g->n * sizeof(*mg->pieces));
    struct model_tcp_service *s = arena_alloc(&mg->arena, sizeof(*s));
    *s = *first;
    s->servers = arena_alloc(&mg->arena, (total ? total : 1) * sizeof(*s->servers));
    s->n_servers = 0;
    struct strmap addresses = STRMAP_INIT;
    for (size_t i = 0; i < g->n; i++) {
        const struct model_tcp_service *o = member_obj(g, i);
        for (size_t j = 0; j < o->n_servers; j++) {
            bool added = true;
            if (o->servers[j].address != NULL)
                strmap_put(&addresses, o->servers[j].address, &added);
            if (added)
                s->servers[s->n_servers++] = o->servers[j];
        }
        if (mg->n == 0 || mg->pieces[mg->n - 1] != g->members[i].p) {
            piece_ref(g->members[i].p);
            mg->pieces[mg->n++] = g->members[i].p;
        }
    }
    strmap_free(&addresses, NULL);
    g->merged = mg;
    g->result = s;
}

/* What the model gets for <g>'s name, as docker_build always decided it:
 * the first definition in container order; a later one that differs
 * (services: but for their servers) drops them all, with a problem naming
 * both containers; identical services from replicas are merged. */
static void group_merge(struct docker_group *g)
{
    group_reset(g);
    g->dirty = false;
    if (g->n == 1) {
        g->result = member_obj(g, 0);
        return;
    }
    static const char *const whats[N_KINDS] = {"router", "service", "tcp router", "udp router", "udp service", "tcp service"};
    const char *what = whats[g->kind];
    const char *first_src = obj_source(g->kind, member_obj(g, 0));
    /* a service without servers (weighted, mirroring...) has nothing to merge: two are a conflict */
    bool no_lb = (g->kind == K_SERVICE && ((const struct model_service *)member_obj(g, 0))->lb == NULL) ||
                 (l4_service(g->kind) && ((const struct model_tcp_service *)member_obj(g, 0))->weighted != NULL);
    bool conflict = false;
    uint64_t h = member_digest(g, 0);
    for (size_t i = 1; i < g->n; i++) {
        if (member_digest(g, i) == h && !no_lb)
            continue;
        group_problem(g, "%s %s is defined differently by %s and %s; both definitions skipped", what, g->name, first_src,
                      obj_source(g->kind, member_obj(g, i)));
        conflict = true;
    }
    if (conflict)
        return;
    if (g->kind == K_SERVICE)
        merge_replicas(g);
    else if (l4_service(g->kind))
        merge_l4_replicas(g);
    else
        g->result = member_obj(g, 0);
}

/* ---- the cache ---- */

void docker_cache_init(struct docker_cache *k)
{
    memset(k, 0, sizeof(*k));
    strmap_init(&k->by_id);
    for (int i = 0; i < N_KINDS; i++)
        strmap_init(&k->groups[i]);
}

void docker_cache_clear(struct docker_cache *k)
{
    for (size_t i = 0; i < k->n_order; i++)
        piece_unref(k->order[i]);
    free(k->order);
    strmap_free(&k->by_id, NULL);
    for (int i = 0; i < N_KINDS; i++)
        strmap_free(&k->groups[i], group_free);
    docker_cache_init(k);
}

/* Brings the pieces, their order and the groups up to date with <s>. */
static void update(struct docker_cache *k, const struct docker_store *s, const struct docker_options *o,
                   struct ptr_vec *dirty, struct arena *scratch)
{
    k->gen++;
    k->last_built = k->last_kept = 0;
    struct docker_piece **fresh = mem_alloc((s->n ? s->n : 1) * sizeof(*fresh));
    size_t n_fresh = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct docker_container *c = s->items[i];
        struct docker_piece *p = strmap_get(&k->by_id, c->id);
        if (p != NULL && p->seen == k->gen)
            continue; /* listed twice */
        if (p != NULL && p->revision == c->revision && p->stopping == c->stopping && !p->reads_others) {
            p->seen = k->gen;
            k->last_kept++;
            continue;
        }
        struct docker_piece *np = piece_build(s, o, c);
        k->last_built++;
        if (p != NULL && np->digest == p->digest && strcmp(np->name, p->name) == 0) {
            /* the same objects (a health check still passing, a label
             * outside the prefix): the old ones stay, by the same pointer */
            p->revision = c->revision;
            p->stopping = c->stopping;
            p->seen = k->gen;
            piece_unref(np);
            continue;
        }
        if (p != NULL)
            unlink_piece(k, p, dirty, scratch); /* dropped from the order below */
        *strmap_put(&k->by_id, np->id, &(bool){false}) = np;
        link_piece(k, np, dirty, scratch);
        np->seen = k->gen;
        fresh[n_fresh++] = np;
    }
    /* the order: the kept pieces (already sorted) merged with the new ones */
    size_t w = 0;
    for (size_t i = 0; i < k->n_order; i++) {
        struct docker_piece *p = k->order[i];
        if (p->seen == k->gen && p->in_cache) {
            k->order[w++] = p;
            continue;
        }
        if (p->in_cache)
            unlink_piece(k, p, dirty, scratch); /* its container is gone */
        piece_unref(p);                         /* gone, or built again */
    }
    if (n_fresh > 1)
        qsort(fresh, n_fresh, sizeof(*fresh), piece_qsort_cmp);
    struct docker_piece **order = mem_alloc((w + n_fresh ? w + n_fresh : 1) * sizeof(*order));
    size_t a = 0, b = 0, n = 0;
    while (a < w || b < n_fresh)
        order[n++] = (b == n_fresh || (a < w && piece_cmp(k->order[a], fresh[b]) < 0)) ? k->order[a++] : fresh[b++];
    free(k->order);
    free(fresh);
    k->order = order;
    k->n_order = n;
}

struct model *docker_build_cached(struct docker_cache *k, const struct docker_store *s, const struct docker_options *o,
                                  struct arena *pa, struct ptr_vec *problems)
{
    struct arena scratch;
    arena_init(&scratch);
    struct ptr_vec dirty = {0};
    update(k, s, o, &dirty, &scratch);
    k->last_merged = 0;
    for (size_t i = 0; i < dirty.len; i++) {
        struct docker_group *g = dirty.items[i];
        if (g->n == 0) {
            group_free(strmap_del(&k->groups[g->kind], g->name));
            continue;
        }
        group_merge(g);
        k->last_merged++;
    }
    arena_free(&scratch);

    struct model *m = model_new("docker");
    struct arena *ma = &m->arena;
    struct held *h = mem_calloc(1, sizeof(*h));
    h->pieces = mem_alloc((k->n_order ? k->n_order : 1) * sizeof(*h->pieces));
    size_t cap_merges = 0;
    struct ptr_vec merge_problems[N_KINDS] = {{0}};
    uint64_t parts = mix(k->n_order);
    for (size_t i = 0; i < k->n_order; i++) {
        struct docker_piece *p = k->order[i];
        struct model *pm = p->m;
        for (size_t j = 0; j < pm->problems.len; j++)
            ptr_vec_push(pa, problems, arena_strdup(pa, pm->problems.items[j]));
        parts += mix(p->digest);
        for (int kind = 0; kind < N_KINDS; kind++) {
            struct ptr_vec *v = kind_vec(pm, kind);
            for (size_t j = 0; j < v->len; j++) {
                const struct docker_group *g = p->groups[kind][j];
                if (g->n == 1) {
                    ptr_vec_push(ma, kind_vec(m, kind), v->items[j]);
                    continue;
                }
                if (g->members[0].p != p || g->members[0].idx != j)
                    continue; /* merged into the first definition */
                if (g->result != NULL)
                    ptr_vec_push(ma, kind_vec(m, kind), (void *)g->result);
                for (size_t q = 0; q < g->n_problems; q++)
                    ptr_vec_push(pa, &merge_problems[kind], arena_strdup(pa, g->problems[q]));
                if (g->merged != NULL) {
                    if (h->n_merges == cap_merges) {
                        cap_merges = cap_merges ? cap_merges * 2 : 16;
                        h->merges = mem_realloc(h->merges, cap_merges * sizeof(*h->merges));
                    }
                    __atomic_add_fetch(&g->merged->refs, 1, __ATOMIC_RELAXED);
                    h->merges[h->n_merges++] = g->merged;
                }
            }
        }
        struct ptr_vec *same[][2] = {{&pm->middlewares, &m->middlewares}, {&pm->certs, &m->certs},
                                     {&pm->transports, &m->transports},   {&pm->tls_options, &m->tls_options},
                                     {&pm->tcp_middlewares, &m->tcp_middlewares}};
        for (size_t q = 0; q < sizeof(same) / sizeof(same[0]); q++)
            for (size_t j = 0; j < same[q][0]->len; j++)
                ptr_vec_push(ma, same[q][1], same[q][0]->items[j]);
        if (pm->default_cert != NULL)
            m->default_cert = pm->default_cert;
        if (pm->default_generated != NULL)
            m->default_generated = pm->default_generated;
        piece_ref(p);
        h->pieces[h->n++] = p;
    }
    for (int kind = 0; kind < N_KINDS; kind++)
        for (size_t j = 0; j < merge_problems[kind].len; j++)
            ptr_vec_push(pa, problems, merge_problems[kind].items[j]);
    arena_on_free(ma, release_held, h);
    m->digest = parts; /* the provider completes it with the problems (model_set_digest) */
    return m;
}
