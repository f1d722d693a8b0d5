/* See k8s_compact.h. */
#include "k8s_compact.h"

#include <stddef.h>
#include <stdint.h>
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

/* Packing shares what repeats inside one object: equal strings are stored
 * once, and so are equal tails of sibling lists with their subtrees (every
 * endpoint's "conditions":{"ready":true} is one pair of nodes). cJSON's
 * readers follow child and next only; prev is for its writers, and a packed
 * object is never written, so a shared node's prev names one of its lists'
 * last element (a list's head) or nothing. */
struct packer {
    cJSON *nodes;      /* nodes[0] is the root (free(root) frees the block) */
    size_t n_nodes;    /* used */
    char *str, *str0;  /* the next free string byte, the first */
    cJSON **node_tab;  /* hash set of the nodes made so far */
    const char **str_tab;
    size_t mask;       /* both tables: a power of two minus one */
};

static uint64_t mix(uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h;
}

static const char *intern(struct packer *p, const char *s)
{
    if (s == NULL)
        return NULL;
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)s; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    for (size_t i = h & p->mask;; i = (i + 1) & p->mask) {
        if (p->str_tab[i] == NULL) {
            size_t len = strlen(s) + 1;
            char *out = memcpy(p->str, s, len);
            p->str += len;
            return p->str_tab[i] = out;
        }
        if (strcmp(p->str_tab[i], s) == 0)
            return p->str_tab[i];
    }
}

static bool same_node(const cJSON *a, const cJSON *b)
{
    return a->type == b->type && a->valueint == b->valueint &&
           memcmp(&a->valuedouble, &b->valuedouble, sizeof(a->valuedouble)) == 0 && a->string == b->string &&
           a->valuestring == b->valuestring && a->child == b->child && a->next == b->next;
}

/* The node equal to <n> (its strings interned, its child and next lists
 * already shared), made once. */
static cJSON *share(struct packer *p, const cJSON *n)
{
    uint64_t h = mix(mix(mix((uint64_t)n->type, (uint64_t)(uintptr_t)n->string), (uint64_t)(uintptr_t)n->valuestring),
                     mix((uint64_t)(uintptr_t)n->child, (uint64_t)(uintptr_t)n->next));
    h = mix(h, (uint64_t)(int64_t)n->valueint);
    for (size_t i = h & p->mask;; i = (i + 1) & p->mask) {
        if (p->node_tab[i] == NULL) {
            cJSON *made = &p->nodes[p->n_nodes++];
            *made = *n;
            return p->node_tab[i] = made;
        }
        if (same_node(p->node_tab[i], n))
            return p->node_tab[i];
    }
}

static cJSON *pack_list(struct packer *p, const cJSON *first);

/* <src>'s fields, strings interned and children packed, into <n>. */
static void fill(struct packer *p, cJSON *n, const cJSON *src, cJSON *next)
{
    memset(n, 0, sizeof(*n));
    n->type = src->type & ~(cJSON_IsReference | cJSON_StringIsConst | K8S_PACKED);
    n->valueint = src->valueint;
    n->valuedouble = src->valuedouble;
    n->string = (char *)intern(p, src->string);
    n->valuestring = has_string(src) ? (char *)intern(p, src->valuestring) : NULL;
    n->child = pack_list(p, src->child);
    n->next = next;
}

/* The shared copy of the sibling list from <first>, built from its end. */
static cJSON *pack_list(struct packer *p, const cJSON *first)
{
    size_t n = 0;
    for (const cJSON *c = first; c; c = c->next)
        n++;
    if (n == 0)
        return NULL;
    const cJSON **items = malloc(n * sizeof(*items));
    if (items == NULL)
        abort(); /* as mem_alloc: no recovery from OOM here */
    n = 0;
    for (const cJSON *c = first; c; c = c->next)
        items[n++] = c;
    cJSON *next = NULL, *last = NULL;
    for (size_t i = n; i-- > 0;) {
        cJSON tmp;
        fill(p, &tmp, items[i], next);
        next = share(p, &tmp);
        if (last == NULL)
            last = next;
    }
    free(items);
    next->prev = last; /* cJSON's convention: the head's prev is the last */
    return next;
}

/* Moves every pointer of the <n> nodes that points into [lo, lo + len) by
 * <delta> bytes (addresses as integers: the old block may be gone). */
static void shift(cJSON *nodes, size_t n, uintptr_t lo, size_t len, uintptr_t delta)
{
    for (size_t i = 0; i < n; i++) {
        void **ptrs[] = {(void **)&nodes[i].string, (void **)&nodes[i].valuestring, (void **)&nodes[i].child,
                         (void **)&nodes[i].next, (void **)&nodes[i].prev};
        for (size_t k = 0; k < sizeof(ptrs) / sizeof(ptrs[0]); k++) {
            uintptr_t v = (uintptr_t)*ptrs[k];
            if (v != 0 && v - lo < len)
                *ptrs[k] = (void *)(v + delta);
        }
    }
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
    size_t cap = 16;
    while (cap < 2 * nodes + 2 || cap < 2 * bytes / 8 + 2)
        cap *= 2;
    char *block = malloc(nodes * sizeof(cJSON) + bytes + 1);
    struct packer p = {(cJSON *)(void *)block, 1, NULL, NULL, calloc(cap, sizeof(cJSON *)),
                       calloc(cap, sizeof(char *)), cap - 1};
    if (block == NULL || p.node_tab == NULL || p.str_tab == NULL) {
        free(block);
        free(p.node_tab);
        free(p.str_tab);
        return NULL;
    }
    p.str0 = p.str = block + nodes * sizeof(cJSON);
    fill(&p, &p.nodes[0], obj, NULL); /* the root: never shared */
    p.nodes[0].type |= K8S_PACKED;
    free(p.node_tab);
    free(p.str_tab);
    /* close the gap the shared nodes left: strings right after the nodes
     * used, then give the rest back */
    size_t used_nodes = p.n_nodes * sizeof(cJSON), used_str = (size_t)(p.str - p.str0);
    char *strings = block + used_nodes;
    memmove(strings, p.str0, used_str);
    shift(p.nodes, p.n_nodes, (uintptr_t)p.str0, used_str, (uintptr_t)strings - (uintptr_t)p.str0);
    uintptr_t old = (uintptr_t)block;
    size_t total = used_nodes + used_str;
    char *shrunk = realloc(block, total + 1);
    if (shrunk == NULL)
        return (cJSON *)(void *)block; /* not shrunk: still whole */
    if ((uintptr_t)shrunk != old) /* moved: every internal pointer moves with it */
        shift((cJSON *)(void *)shrunk, p.n_nodes, old, total, (uintptr_t)shrunk - old);
    return (cJSON *)(void *)shrunk;
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
