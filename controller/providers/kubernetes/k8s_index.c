/* Sorted index of Kubernetes objects (see k8s_index.h). */
#include "k8s_index.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *metadata_str(const cJSON *o, const char *group, const char *k)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
    if (group)
        m = cJSON_GetObjectItemCaseSensitive(m, group);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct k8s_index_entry *)a)->key, ((const struct k8s_index_entry *)b)->key);
}

void k8s_index_build(struct arena *a, struct k8s_index *ix, const cJSON **items, size_t n, const char *by_label)
{
    ix->e = arena_alloc(a, (n ? n : 1) * sizeof(*ix->e));
    ix->n = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ns = metadata_str(items[i], NULL, "namespace");
        const char *name = by_label ? metadata_str(items[i], "labels", by_label) : metadata_str(items[i], NULL, "name");
        if (ns && name) { /* "ns/name" without printf: one per object at every change of the kind */
            size_t ln = strlen(ns), lm = strlen(name);
            char *key = arena_alloc(a, ln + lm + 2);
            memcpy(key, ns, ln);
            key[ln] = '/';
            memcpy(key + ln + 1, name, lm + 1);
            ix->e[ix->n++] = (struct k8s_index_entry){key, items[i]};
        }
    }
    qsort(ix->e, ix->n, sizeof(*ix->e), entry_cmp);
}

const struct k8s_index_entry *k8s_index_find(const struct k8s_index *ix, const char *ns, const char *name,
                                             size_t *count)
{
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    size_t lo = 0, hi = ix->n;
    while (lo < hi) { /* lower bound */
        size_t mid = (lo + hi) / 2;
        if (strcmp(ix->e[mid].key, key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t k = 0;
    while (lo + k < ix->n && strcmp(ix->e[lo + k].key, key) == 0)
        k++;
    if (count)
        *count = k;
    return k ? &ix->e[lo] : NULL;
}

const cJSON *k8s_index_get(const struct k8s_index *ix, const char *ns, const char *name)
{
    const struct k8s_index_entry *e = k8s_index_find(ix, ns, name, NULL);
    return e ? e->obj : NULL;
}
