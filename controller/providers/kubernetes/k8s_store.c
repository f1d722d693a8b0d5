/*
 * Object cache (see k8s_store.h) on the common string map.
 */
#include "k8s_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/arena.h"
#include "k8s_compact.h"

void k8s_store_init(struct k8s_store *s)
{
    strmap_init(&s->objs);
}

static void delete_obj(void *obj)
{
    k8s_object_free(obj); /* packed (k8s_watch.c) or not */
}

void k8s_store_clear(struct k8s_store *s)
{
    strmap_free(&s->objs, delete_obj);
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

void k8s_store_put(struct k8s_store *s, const char *key, cJSON *obj)
{
    void **slot = strmap_put(&s->objs, key, NULL);
    k8s_object_free(*slot); /* the older one, if any */
    *slot = obj;
}

void k8s_store_del(struct k8s_store *s, const char *key)
{
    k8s_object_free(strmap_del(&s->objs, key));
}

const cJSON *k8s_store_get(const struct k8s_store *s, const char *key)
{
    return strmap_get(&s->objs, key);
}

size_t k8s_store_count(const struct k8s_store *s)
{
    return s->objs.n;
}

bool k8s_store_next(const struct k8s_store *s, size_t *i, const char **key, const cJSON **obj)
{
    void *v;
    if (!strmap_next(&s->objs, i, key, &v))
        return false;
    if (obj != NULL)
        *obj = v;
    return true;
}

struct keyed {
    const char *key;
    const cJSON *obj;
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

const cJSON **k8s_store_list(const struct k8s_store *s, size_t *n)
{
    size_t k = 0, i = 0;
    struct keyed *items = mem_alloc((s->objs.n ? s->objs.n : 1) * sizeof(*items));
    while (k8s_store_next(s, &i, &items[k].key, &items[k].obj))
        k++;
    qsort(items, k, sizeof(*items), by_key);
    const cJSON **out = mem_alloc((k ? k : 1) * sizeof(*out));
    for (size_t j = 0; j < k; j++)
        out[j] = items[j].obj;
    free(items);
    *n = k;
    return out;
}

void k8s_store_swap(struct k8s_store *to, struct k8s_store *from)
{
    k8s_store_clear(to);
    *to = *from;
    k8s_store_init(from);
}

/* ---- changes ---- */

void k8s_changes_init(struct k8s_changes *c)
{
    c->all = true;
    strmap_init(&c->keys);
}

void k8s_changes_free(struct k8s_changes *c)
{
    strmap_free(&c->keys, NULL);
}

void k8s_changes_reset(struct k8s_changes *c)
{
    if (c->keys.n == 0 && !c->all)
        return;
    strmap_free(&c->keys, NULL);
    strmap_init(&c->keys);
    c->all = false;
}

/* "namespace/<label>" of <obj>, when it has both. */
static void note_label(struct k8s_changes *c, const cJSON *obj, const char *label)
{
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(meta, "labels"), label);
    if (!cJSON_IsString(ns) || !cJSON_IsString(v))
        return; /* not indexed by the label either (k8s_index_build) */
    char key[600];
    snprintf(key, sizeof(key), "%s/%s", ns->valuestring, v->valuestring);
    strmap_put(&c->keys, key, NULL);
}

void k8s_changes_note(struct k8s_changes *c, const char *key, const cJSON *before, const cJSON *after, const char *label)
{
    if (c->all)
        return; /* everything is taken as changed already */
    if (label == NULL) {
        strmap_put(&c->keys, key, NULL);
        return;
    }
    if (before != NULL)
        note_label(c, before, label);
    if (after != NULL)
        note_label(c, after, label);
}
