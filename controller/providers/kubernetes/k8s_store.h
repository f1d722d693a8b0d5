/*
 * A cache of Kubernetes objects of one kind, keyed by "namespace/name"
 * (or "name" for cluster-scoped kinds): what list and watch have said so
 * far. Owns the cJSON objects (packed or not, k8s_compact.h). Watcher
 * thread only.
 */
#ifndef GANTRY_K8S_STORE_H
#define GANTRY_K8S_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../../../common/strmap.h"

struct k8s_store {
    struct strmap objs; /* key -> cJSON * */
};

void k8s_store_init(struct k8s_store *s);
void k8s_store_clear(struct k8s_store *s);
/* "namespace/name" or "name" of <obj>; NULL when metadata.name is missing. */
char *k8s_object_key(const cJSON *obj, char *buf, size_t len);
/* Takes ownership of <obj>, replacing (and freeing) an older one. */
void k8s_store_put(struct k8s_store *s, const char *key, cJSON *obj);
void k8s_store_del(struct k8s_store *s, const char *key);
const cJSON *k8s_store_get(const struct k8s_store *s, const char *key);
/* Every object, sorted by key (deterministic configurations); free() it. */
const cJSON **k8s_store_list(const struct k8s_store *s, size_t *n);
size_t k8s_store_count(const struct k8s_store *s);
/* Iteration in no particular order: size_t i = 0; while (k8s_store_next(s, &i, &key, &obj)) ... */
bool k8s_store_next(const struct k8s_store *s, size_t *i, const char **key, const cJSON **obj);
/* Moves everything of <from> into <to> (emptied first); <from> ends empty. */
void k8s_store_swap(struct k8s_store *to, struct k8s_store *from);

/* What changed in a store since its owner last looked: the keys of the
 * objects added, modified or deleted, or <all> when that is not known (a
 * list replaced everything). Keys are "namespace/name", or, with a label
 * given to k8s_changes_note, "namespace/<the label's value>" of the object
 * before and after (EndpointSlices by their Service). */
struct k8s_changes {
    bool all;
    struct strmap keys; /* key -> NULL */
};

void k8s_changes_init(struct k8s_changes *c); /* starts as <all>: nothing seen yet */
void k8s_changes_free(struct k8s_changes *c);
/* Forgets what was noted: nothing changed since. */
void k8s_changes_reset(struct k8s_changes *c);
/* Notes that <key> goes from <before> to <after> (either NULL: absent),
 * by <label> when not NULL. */
void k8s_changes_note(struct k8s_changes *c, const char *key, const cJSON *before, const cJSON *after, const char *label);

#endif
