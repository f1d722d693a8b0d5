/* See k8s_compact.h. */
#include "k8s_compact.h"

#include <stdlib.h>
#include <string.h>

/* Marks the root of a packed block; cJSON uses the low byte and 256 / 512
 * of type, and compares and prints by the low byte only. */
#define K8S_PACKED (1 << 14)

static const char LAST_APPLIED[] = "kubectl.kubernetes.io/last-applied-configuration";

void k8s_object_slim(cJSON *obj, unsigned flags)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    if (cJSON_IsObject(meta)) {
        /* server-side apply's bookkeeping: often larger than the object */
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "managedFields");
        cJSON *ann = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
        if ((flags & K8S_SLIM_LAST_APPLIED) && cJSON_IsObject(ann))
            cJSON_DeleteItemFromObjectCaseSensitive(ann, LAST_APPLIED);
    }
    if (!(flags & K8S_SLIM_ENDPOINTS))
        return;
    /* the translators read an endpoint's addresses and conditions only
     * (k8s_translate.c, k8s_crd.c, k8s_gateway_backends.c): targetRef,
     * nodeName, zone, hints ... go */
    cJSON *eps = cJSON_GetObjectItemCaseSensitive(obj, "endpoints");
    for (cJSON *ep = cJSON_IsArray(eps) ? eps->child : NULL; ep; ep = ep->next) {
        cJSON *f = cJSON_IsObject(ep) ? ep->child : NULL;
        while (f) {
            cJSON *next = f->next;
            if (f->string == NULL || (strcmp(f->string, "addresses") != 0 && strcmp(f->string, "conditions") != 0))
                cJSON_Delete(cJSON_DetachItemViaPointer(ep, f));
            f = next;
        }
    }
}

static bool has_string(const cJSON *it)
{
    return (it->type & 0xFF) == cJSON_String || (it->type & 0xFF) == cJSON_Raw;
}

static void measure(const cJSON *it, size_t *nodes, size_t *bytes)
{
    for (; it; it = it->next) {
        (*nodes)++;
        if (it->string)
            *bytes += strlen(it->string) + 1;
        if (has_string(it) && it->valuestring)
            *bytes += strlen(it->valuestring) + 1;
        measure(it->child, nodes, bytes);
    }
}

struct packer {
    cJSON *node; /* the next free node */
    char *str;   /* the next free string byte */
};

static char *put_str(struct packer *p, const char *s)
{
    size_t len = strlen(s) + 1;
    char *out = memcpy(p->str, s, len);
    p->str += len;
    return out;
}

/* Copies <src> and its children; returns the copy (prev/next set by the caller). */
static cJSON *copy(struct packer *p, const cJSON *src)
{
    cJSON *n = p->node++;
    memset(n, 0, sizeof(*n));
    n->type = src->type & ~(cJSON_IsReference | cJSON_StringIsConst | K8S_PACKED);
    n->valueint = src->valueint;
    n->valuedouble = src->valuedouble;
    if (src->string)
        n->string = put_str(p, src->string);
    if (has_string(src) && src->valuestring)
        n->valuestring = put_str(p, src->valuestring);
    cJSON *last = NULL;
    for (const cJSON *c = src->child; c; c = c->next) {
        cJSON *k = copy(p, c);
        if (last == NULL) {
            n->child = k;
        } else {
            last->next = k;
            k->prev = last;
        }
        last = k;
    }
    if (n->child)
        n->child->prev = last; /* cJSON's convention: the first child's prev is the last */
    return n;
}

cJSON *k8s_object_pack(const cJSON *obj)
{
    if (obj == NULL)
        return NULL;
    size_t nodes = 1, bytes = 0;
    if (obj->string)
        bytes += strlen(obj->string) + 1;
    if (has_string(obj) && obj->valuestring)
        bytes += strlen(obj->valuestring) + 1;
    measure(obj->child, &nodes, &bytes);
    char *block = malloc(nodes * sizeof(cJSON) + bytes);
    if (block == NULL)
        return NULL;
    struct packer p = {(cJSON *)(void *)block, block + nodes * sizeof(cJSON)};
    cJSON *root = copy(&p, obj);
    root->type |= K8S_PACKED;
    return root;
}

bool k8s_object_is_packed(const cJSON *obj)
{
    return obj != NULL && (obj->type & K8S_PACKED) != 0;
}

void k8s_object_free(cJSON *obj)
{
    if (k8s_object_is_packed(obj))
        free(obj);
    else
        cJSON_Delete(obj);
}
