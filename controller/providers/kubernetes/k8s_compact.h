/*
 * Keeping less of each watched object (issue 13): what the watch caches
 * hold is read by the translators only, so at ingest
 *   - fields nothing reads are dropped (metadata.managedFields always;
 *     kubectl's last-applied-configuration annotation, a second copy of the
 *     object, where the object is never written back; an EndpointSlice
 *     endpoint's all but addresses and conditions), and
 *   - the rest is packed into one allocation: every node and string in a
 *     single block (no per-node malloc header, no rounding), read through
 *     the ordinary cJSON API. A packed object is read-only and is freed
 *     with k8s_object_free, never cJSON_Delete.
 */
#ifndef GANTRY_K8S_COMPACT_H
#define GANTRY_K8S_COMPACT_H

#include <stdbool.h>

#include <cjson/cJSON.h>

enum {
    K8S_SLIM_LAST_APPLIED = 1, /* drop kubectl.kubernetes.io/last-applied-configuration */
    K8S_SLIM_ENDPOINTS = 2,    /* an EndpointSlice: keep each endpoint's addresses and conditions only */
};

/* Removes from <obj> what nothing reads (managedFields, and what <flags> say). */
void k8s_object_slim(cJSON *obj, unsigned flags);
/* A packed, read-only copy of <obj>; NULL when out of memory. */
cJSON *k8s_object_pack(const cJSON *obj);
bool k8s_object_is_packed(const cJSON *obj);
/* Frees a packed object, or cJSON_Delete()s an ordinary one. */
void k8s_object_free(cJSON *obj);

#endif
