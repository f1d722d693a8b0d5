/*
 * Object cache (see k8s_store.h): a chained hash table that doubles.
 */
#include "k8s_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/arena.h"

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void k8s_store_init(struct k8s_store *s)
{
    s->n_buckets = 64;
    s->n = 0;
    s->buckets = mem_calloc(s->n_buckets, sizeof(*s->buckets));
}

void k8s_store_clear(struct k8s_store *s)
{
    for (size_t i = 0; i < s->n_buckets; i++)
        for (struct k8s_store_item *it = s->buckets[i], *next; it; it = next) {
            next = it->next;
            cJSON_Delete(it->obj);
            free(it->key);
            free(it);
        }
    free(s->buckets);
    s->buckets = NULL;
    s->n_buckets = s->n = 0;
}

char *k8s_object_key(const cJSON *obj, char *buf, size_t len)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        return NULL;
    if (cJSON_IsString(ns) && ns->valuestring[0] != '\0')
        snprintf(buf, len, "%s/%s", ns->valuestring, name->valuestring);
    else
        snprintf(buf, len, "%s", name->valuestring);
    return buf;
}

static void grow(struct k8s_store *s)
{
    size_t nb = s->n_buckets * 2;
    struct k8s_store_item **b = mem_calloc(nb, sizeof(*b));
    for (size_t i = 0; i < s->n_buckets; i++)
        for (struct k8s_store_item *it = s->buckets[i], *next; it; it = next) {
            next = it->next;
            size_t h = hash(it->key) & (nb - 1);
            it->next = b[h];
            b[h] = it;
        }
    free(s->buckets);
    s->buckets = b;
    s->n_buckets = nb;
}

void k8s_store_put(struct k8s_store *s, const char *key, cJSON *obj)
{
    size_t h = hash(key) & (s->n_buckets - 1);
    for (struct k8s_store_item *it = s->buckets[h]; it; it = it->next)
        if (strcmp(it->key, key) == 0) {
            cJSON_Delete(it->obj);
            it->obj = obj;
            return;
        }
    struct k8s_store_item *it = mem_alloc(sizeof(*it));
    it->key = mem_strdup(key);
    it->obj = obj;
    it->next = s->buckets[h];
    s->buckets[h] = it;
    if (++s->n > s->n_buckets)
        grow(s);
}

void k8s_store_del(struct k8s_store *s, const char *key)
{
    size_t h = hash(key) & (s->n_buckets - 1);
    for (struct k8s_store_item **p = &s->buckets[h]; *p; p = &(*p)->next)
        if (strcmp((*p)->key, key) == 0) {
            struct k8s_store_item *it = *p;
            *p = it->next;
            cJSON_Delete(it->obj);
            free(it->key);
            free(it);
            s->n--;
            return;
        }
}

const cJSON *k8s_store_get(const struct k8s_store *s, const char *key)
{
    if (s->n_buckets == 0)
        return NULL;
    for (const struct k8s_store_item *it = s->buckets[hash(key) & (s->n_buckets - 1)]; it; it = it->next)
        if (strcmp(it->key, key) == 0)
            return it->obj;
    return NULL;
}

static int by_key(const void *a, const void *b)
{
    const struct k8s_store_item *x = *(const struct k8s_store_item *const *)a, *y = *(const struct k8s_store_item *const *)b;
    return strcmp(x->key, y->key);
}

const cJSON **k8s_store_list(const struct k8s_store *s, size_t *n)
{
    const struct k8s_store_item **items = mem_alloc((s->n ? s->n : 1) * sizeof(*items));
    size_t k = 0;
    for (size_t i = 0; i < s->n_buckets; i++)
        for (const struct k8s_store_item *it = s->buckets[i]; it; it = it->next)
            items[k++] = it;
    qsort(items, k, sizeof(*items), by_key);
    const cJSON **out = (const cJSON **)items;
    for (size_t i = 0; i < k; i++)
        out[i] = items[i]->obj;
    *n = k;
    return out;
}

void k8s_store_swap(struct k8s_store *to, struct k8s_store *from)
{
    k8s_store_clear(to);
    *to = *from;
    k8s_store_init(from);
}
