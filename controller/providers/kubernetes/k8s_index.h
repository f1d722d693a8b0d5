/*
 * Kubernetes objects sorted by "namespace/name" (or "namespace/<label>",
 * e.g. EndpointSlices by their Service), so that a lookup is a binary
 * search and a rebuild stays O(n log n) with thousands of objects. Keys
 * live in the caller's arena; the index points into the objects.
 */
#ifndef GANTRY_K8S_INDEX_H
#define GANTRY_K8S_INDEX_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"

struct k8s_index_entry {
    const char *key;
    const cJSON *obj;
};

struct k8s_index {
    struct k8s_index_entry *e;
    size_t n;
};

/* Index <items> by "ns/<name>", where <name> is metadata.name, or the
 * label <by_label> when given; objects without either are left out. */
void k8s_index_build(struct arena *a, struct k8s_index *ix, const cJSON **items, size_t n, const char *by_label);

/* The first entry with key "ns/name" and how many share it (<count> may
 * be NULL); NULL when there is none. */
const struct k8s_index_entry *k8s_index_find(const struct k8s_index *ix, const char *ns, const char *name,
                                             size_t *count);

/* The object "ns/name", or NULL. */
const cJSON *k8s_index_get(const struct k8s_index *ix, const char *ns, const char *name);

#endif
