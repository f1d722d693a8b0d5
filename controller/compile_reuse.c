/*
 * Pointer map for compile reuse (see compile_reuse.h).
 */
#include "compile_reuse.h"

#include <stdint.h>
#include <stdlib.h>

#include "../common/arena.h"

static size_t slot_of(const struct compile_reuse *r, const void *key)
{
    uint64_t h = (uint64_t)(uintptr_t)key * 0x9e3779b97f4a7c15ULL; /* Fibonacci hashing: addresses share low bits */
    size_t i = (size_t)(h >> 32) & (r->cap - 1);
    while (r->keys[i] != NULL && r->keys[i] != key)
        i = (i + 1) & (r->cap - 1);
    return i;
}

static void resize(struct compile_reuse *r, size_t cap)
{
    struct compile_reuse bigger = {.cap = cap};
    bigger.keys = mem_calloc(bigger.cap, sizeof(*bigger.keys));
    bigger.values = mem_calloc(bigger.cap, sizeof(*bigger.values));
    for (size_t i = 0; i < r->cap; i++)
        if (r->keys[i] != NULL)
            compile_reuse_put(&bigger, r->keys[i], r->values[i]);
    compile_reuse_free(r);
    *r = bigger;
}

void compile_reuse_reserve(struct compile_reuse *r, size_t n)
{
    size_t cap = r->cap ? r->cap : 64;
    while (n * 2 > cap)
        cap *= 2;
    if (cap != r->cap)
        resize(r, cap);
}

void compile_reuse_put(struct compile_reuse *r, const void *key, void *value)
{
    if ((r->n + 1) * 2 > r->cap)
        resize(r, r->cap ? r->cap * 2 : 64);
    size_t i = slot_of(r, key);
    if (r->keys[i] == NULL)
        r->n++;
    r->keys[i] = key;
    r->values[i] = value;
}

void *compile_reuse_get(const struct compile_reuse *r, const void *key)
{
    if (r->n == 0)
        return NULL;
    size_t i = slot_of(r, key);
    return r->keys[i] == key ? r->values[i] : NULL;
}

void compile_reuse_free(struct compile_reuse *r)
{
    free(r->keys);
    free(r->values);
    *r = (struct compile_reuse){0};
}
