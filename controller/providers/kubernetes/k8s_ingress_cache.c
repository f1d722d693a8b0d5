/* Per-Ingress translation cache (see k8s_ingress_cache.h). */
#include "k8s_ingress_cache.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t k8s_hash_str(uint64_t h, const char *s)
{
    for (const char *p = s ? s : "-"; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (h ^ 0xff) * 1099511628211ULL; /* a separator: "ab","c" differs from "a","bc" */
}

static size_t bucket_of(const struct k8s_ingress_cache *c, const char *key)
{
    return (size_t)(k8s_hash_str(K8S_HASH_INIT, key) % c->n_buckets);
}

void k8s_ingress_cache_init(struct k8s_ingress_cache *c)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < 3; i++)
        arena_init(&c->ix_arena[i]);
    c->n_buckets = 1024;
    c->buckets = mem_calloc(c->n_buckets, sizeof(*c->buckets));
}

static void k8s_piece_ref(struct k8s_piece *p)
{
    __atomic_add_fetch(&p->refs, 1, __ATOMIC_RELAXED);
}

static void k8s_piece_unref(struct k8s_piece *p)
{
    if (p == NULL || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    model_free(p->m);
    free(p->key);
    free(p->version);
    free(p->created);
    free(p);
}

void k8s_ingress_cache_clear(struct k8s_ingress_cache *c)
{
    for (size_t b = 0; b < c->n_buckets; b++) {
        for (struct k8s_piece *p = c->buckets[b], *next; p; p = next) {
            next = p->next;
            k8s_piece_unref(p);
        }
    }
    free(c->buckets);
    for (size_t i = 0; i < 3; i++)
        arena_free(&c->ix_arena[i]);
    k8s_ingress_cache_rev_drop(c);
    k8s_ingress_cache_claims_drop(c);
    k8s_ingress_cache_notes_drop(c);
    for (size_t i = 0; i < c->n_order; i++)
        k8s_piece_unref(c->order[i]);
    free(c->order);
    strmap_free(&c->canary_sums, NULL);
    for (size_t i = 0; i < c->n_tls_hosts; i++)
        free(c->tls_hosts[i]);
    free(c->tls_hosts);
    free(c->ours);
    free(c->ours_pieces);
    memset(c, 0, sizeof(*c));
}

struct k8s_piece *k8s_ingress_cache_get(const struct k8s_ingress_cache *c, const char *key)
{
    for (struct k8s_piece *p = c->buckets[bucket_of(c, key)]; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    return NULL;
}

static void unindex(struct k8s_ingress_cache *c, struct k8s_piece *p);

static void grow(struct k8s_ingress_cache *c)
{
    size_t nb = c->n_buckets * 2;
    struct k8s_piece **b = mem_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < c->n_buckets; i++) {
        for (struct k8s_piece *p = c->buckets[i], *next; p; p = next) {
            next = p->next;
            size_t k = (size_t)(k8s_hash_str(K8S_HASH_INIT, p->key) % nb);
            p->next = b[k];
            b[k] = p;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->n_buckets = nb;
}

struct k8s_piece *k8s_ingress_cache_put(struct k8s_ingress_cache *c, const char *key, const char *version,
                                        const char *created)
{
    struct k8s_piece **pp = &c->buckets[bucket_of(c, key)];
    for (; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->key, key) == 0) {
            struct k8s_piece *old = *pp;
            *pp = old->next;
            c->n--;
            unindex(c, old);
            k8s_piece_unref(old);
            break;
        }
    }
    if (c->n >= c->n_buckets)
        grow(c);
    struct k8s_piece *p = mem_calloc(1, sizeof(*p));
    p->key = mem_strdup(key);
    p->version = mem_strdup(version);
    p->created = mem_strdup(created ? created : "");
    p->m = model_new_sized("kubernetes", c->piece_bytes);
    p->refs = 1;
    p->used_gen = c->gen;
    size_t b = bucket_of(c, key);
    p->next = c->buckets[b];
    c->buckets[b] = p;
    c->n++;
    return p;
}

void k8s_ingress_cache_sweep(struct k8s_ingress_cache *c, uint64_t gen)
{
    for (size_t b = 0; b < c->n_buckets; b++) {
        for (struct k8s_piece **pp = &c->buckets[b]; *pp;) {
            struct k8s_piece *p = *pp;
            if (p->used_gen >= gen) {
                pp = &p->next;
                continue;
            }
            *pp = p->next;
            c->n--;
            unindex(c, p);
            k8s_piece_unref(p);
        }
    }
}

void k8s_ingress_cache_del(struct k8s_ingress_cache *c, const char *key)
{
    for (struct k8s_piece **pp = &c->buckets[bucket_of(c, key)]; *pp; pp = &(*pp)->next) {
        struct k8s_piece *p = *pp;
        if (strcmp(p->key, key) == 0) {
            *pp = p->next;
            c->n--;
            unindex(c, p);
            k8s_piece_unref(p);
            return;
        }
    }
}

/* ---- reverse index: dependency -> pieces ---- */

/* The keys <d> is indexed under: "<kind> ns/name"; a host (lowercase, as
 * the TLS hosts are) also under its wildcard form, "H /" then "*.parent":
 * the entry that covers it (host_has_cert in k8s_translate.c). Returns
 * how many (1 or 2). */
static int dep_keys(const struct k8s_dep *d, char keys[2][600])
{
    snprintf(keys[0], sizeof(keys[0]), "%c %s/%s", d->kind, d->ns ? d->ns : "", d->name ? d->name : "");
    if (d->kind != 'H')
        return 1;
    for (char *q = keys[0] + 3; *q; q++)
        *q = (char)tolower((unsigned char)*q);
    const char *host = keys[0] + 3, *dot = strchr(host, '.');
    if (host[0] == '*' || dot == NULL || dot == host)
        return 1;
    snprintf(keys[1], sizeof(keys[1]), "H /*%s", dot);
    return 2;
}

static void rev_add(struct k8s_ingress_cache *c, const char *key, struct k8s_piece *p)
{
    void **slot = strmap_put(&c->rev, key, NULL);
    struct k8s_dependents *s = *slot;
    if (s == NULL)
        s = *slot = mem_calloc(1, sizeof(*s));
    if (s->n && s->p[s->n - 1] == p)
        return; /* the same dependency again (two paths, one Service) */
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->p = mem_realloc(s->p, s->cap * sizeof(*s->p));
    }
    s->p[s->n++] = p;
}

static void rev_remove(struct k8s_ingress_cache *c, const char *key, struct k8s_piece *p)
{
    struct k8s_dependents *s = strmap_get(&c->rev, key);
    for (size_t i = s ? s->n : 0; i > 0; i--) { /* newest last: often the one */
        if (s->p[i - 1] == p) {
            s->p[i - 1] = s->p[--s->n];
            return;
        }
    }
}

void k8s_ingress_cache_index(struct k8s_ingress_cache *c, struct k8s_piece *p)
{
    char keys[2][600];
    for (size_t i = 0; c->rev_valid && i < p->n_deps; i++)
        for (int k = 0, n = dep_keys(&p->deps[i], keys); k < n; k++)
            rev_add(c, keys[k], p);
}

static void unindex(struct k8s_ingress_cache *c, struct k8s_piece *p)
{
    char keys[2][600];
    for (size_t i = 0; c->rev_valid && i < p->n_deps; i++)
        for (int k = 0, n = dep_keys(&p->deps[i], keys); k < n; k++)
            rev_remove(c, keys[k], p);
}

static void free_dependents(void *v)
{
    struct k8s_dependents *s = v;
    free(s->p);
    free(s);
}

void k8s_ingress_cache_rev_drop(struct k8s_ingress_cache *c)
{
    strmap_free(&c->rev, free_dependents);
    strmap_init(&c->rev);
    c->rev_valid = false;
}

void k8s_ingress_cache_rev_build(struct k8s_ingress_cache *c)
{
    k8s_ingress_cache_rev_drop(c);
    c->rev_valid = true;
    for (size_t b = 0; b < c->n_buckets; b++)
        for (struct k8s_piece *p = c->buckets[b]; p; p = p->next)
            k8s_ingress_cache_index(c, p);
}

const struct k8s_dependents *k8s_ingress_cache_dependents(const struct k8s_ingress_cache *c, char kind,
                                                          const char *ns_name)
{
    char key[600];
    snprintf(key, sizeof(key), "%c %s", kind, ns_name);
    return strmap_get(&c->rev, key);
}

static void note_free(void *v)
{
    struct k8s_ingress_note *n = v;
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n_tls_hosts; i++)
        free(n->tls_hosts[i]);
    free(n->tls_hosts);
    free(n);
}

void k8s_ingress_cache_notes_drop(struct k8s_ingress_cache *c)
{
    strmap_free(&c->notes, note_free);
    strmap_init(&c->notes);
}

void k8s_ingress_cache_note_set(struct k8s_ingress_cache *c, const char *key, struct k8s_ingress_note *note)
{
    if (note == NULL) {
        note_free(strmap_del(&c->notes, key));
        return;
    }
    void **slot = strmap_put(&c->notes, key, NULL);
    note_free(*slot);
    *slot = note;
}

void k8s_ingress_cache_claims_drop(struct k8s_ingress_cache *c)
{
    strmap_free(&c->claims, free);
    strmap_init(&c->claims);
    c->claims_valid = false;
}

/* ---- the assembly order ---- */

/* Oldest first (creationTimestamp, then namespace/name): of two Ingresses
 * whose names collide, the one created first keeps serving. */
static int piece_age_cmp(const void *a, const void *b)
{
    const struct k8s_piece *x = *(struct k8s_piece *const *)a, *y = *(struct k8s_piece *const *)b;
    int c = strcmp(x->created, y->created);
    return c ? c : strcmp(x->key, y->key);
}

void k8s_ingress_cache_order_set(struct k8s_ingress_cache *c, struct k8s_piece **pieces, size_t n)
{
    qsort(pieces, n, sizeof(*pieces), piece_age_cmp);
    for (size_t i = 0; i < n; i++)
        k8s_piece_ref(pieces[i]);
    for (size_t i = 0; i < c->n_order; i++) /* after: a piece in both keeps a reference */
        k8s_piece_unref(c->order[i]);
    free(c->order);
    c->order = mem_alloc((n ? n : 1) * sizeof(*c->order));
    memcpy(c->order, pieces, n * sizeof(*pieces));
    c->n_order = n;
}

void k8s_ingress_cache_order_patch(struct k8s_ingress_cache *c, struct k8s_piece *const *gone, size_t n_gone,
                                   struct k8s_piece **added, size_t n_added)
{
    for (size_t j = 0; j < n_gone; j++)
        gone[j]->leaving = true;
    size_t n = 0;
    for (size_t i = 0; i < c->n_order; i++) {
        struct k8s_piece *p = c->order[i];
        if (p->leaving) {
            p->leaving = false;
            k8s_piece_unref(p);
        } else {
            c->order[n++] = p;
        }
    }
    c->order = mem_realloc(c->order, (n + n_added ? n + n_added : 1) * sizeof(*c->order));
    for (size_t j = 0; j < n_added; j++)
        k8s_piece_ref(added[j]);
    if (n_added > 16) { /* many: sorting is cheaper than moving the tail for each */
        memcpy(c->order + n, added, n_added * sizeof(*added));
        c->n_order = n + n_added;
        qsort(c->order, c->n_order, sizeof(*c->order), piece_age_cmp);
        return;
    }
    for (size_t j = 0; j < n_added; j++) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (piece_age_cmp(&c->order[mid], &added[j]) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        memmove(c->order + lo + 1, c->order + lo, (n - lo) * sizeof(*c->order));
        c->order[lo] = added[j];
        n++;
    }
    c->n_order = n;
}

struct held {
    struct k8s_piece **pieces;
    size_t n;
};

static void release_held(void *data)
{
    struct held *h = data;
    for (size_t i = 0; i < h->n; i++)
        k8s_piece_unref(h->pieces[i]);
    free(h->pieces);
    free(h);
}

void k8s_model_hold_pieces(struct model *m, struct k8s_piece *const *pieces, size_t n)
{
    struct held *h = mem_alloc(sizeof(*h));
    h->pieces = mem_alloc((n ? n : 1) * sizeof(*h->pieces));
    h->n = n;
    for (size_t i = 0; i < n; i++) {
        h->pieces[i] = pieces[i];
        k8s_piece_ref(pieces[i]);
    }
    arena_on_free(&m->arena, release_held, h);
}
