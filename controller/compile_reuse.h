/*
 * What the last compile built, by the model object it came from: a model
 * object that is the same object in the next compile (providers hand
 * unchanged pieces over by reference; the aggregator keeps the previous
 * models alive until the next compile ends, so an address cannot be
 * reused meanwhile) has the same content, and its compiled form can be
 * taken from the table still published instead of built again.
 * Watcher thread only.
 */
#ifndef GANTRY_COMPILE_REUSE_H
#define GANTRY_COMPILE_REUSE_H

#include <stddef.h>

/* Open-addressing map from a pointer to a pointer. */
struct compile_reuse {
    const void **keys;
    void **values;
    size_t cap, n; /* cap: 0 or a power of two */
};

/* Room for <n> keys without growing (a map about as large as the last one). */
void compile_reuse_reserve(struct compile_reuse *r, size_t n);
void compile_reuse_put(struct compile_reuse *r, const void *key, void *value);
/* NULL when <key> is not in <r>. */
void *compile_reuse_get(const struct compile_reuse *r, const void *key);
void compile_reuse_free(struct compile_reuse *r);

#endif
