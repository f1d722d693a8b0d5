/*
 * The one string map: a NUL-terminated key (copied in) to a void * value.
 * Open addressing with linear probing; it doubles past 3/4 full and a
 * delete shifts the run back (no tombstones), so lookups stay short after
 * any mix of puts and deletes. Not locked: each user keeps its own
 * threading contract (see its header).
 */
#ifndef GANTRY_STRMAP_H
#define GANTRY_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot {
    char *key; /* NULL: empty */
    void *val;
    uint64_t hash;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap, n; /* cap: 0 or a power of two */
    /* Keys are the caller's, neither copied nor freed: each must live as
     * long as its entry (a key stored in its value, e.g. 100,000 servers'
     * URLs kept once, not twice). */
    bool borrowed_keys;
};

#define STRMAP_INIT {NULL, 0, 0, false}

void strmap_init(struct strmap *m);
/* Frees the keys and the table; <free_val> (if any) gets every value. */
void strmap_free(struct strmap *m, void (*free_val)(void *));
void *strmap_get(const struct strmap *m, const char *key);
/* The value's place for <key>, added (value NULL, *added true) when absent:
 * "get or create" in one lookup. Valid until the next put or delete. */
void **strmap_put(struct strmap *m, const char *key, bool *added);
/* Removes <key>; returns its value (NULL when absent). */
void *strmap_del(struct strmap *m, const char *key);
/* Iteration: size_t i = 0; while (strmap_next(m, &i, &key, &val)) ...
 * (in no particular order; no put or delete meanwhile). */
bool strmap_next(const struct strmap *m, size_t *i, const char **key, void **val);

#endif
