/* Per-Ingress translation cache (see k8s_ingress_cache.h). */
#include "k8s_ingress_cache.h"

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
            k8s_piece_unref(p);
        }
    }
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
