/*
 * String map (see strmap.h).
 */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

#include "arena.h"

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void strmap_init(struct strmap *m)
{
    *m = (struct strmap)STRMAP_INIT;
}

void strmap_free(struct strmap *m, void (*free_val)(void *))
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key != NULL) {
            if (!m->borrowed_keys)
                free(m->slots[i].key);
            if (free_val != NULL)
                free_val(m->slots[i].val);
        }
    free(m->slots);
    bool borrowed = m->borrowed_keys;
    strmap_init(m);
    m->borrowed_keys = borrowed;
}

/* The slot holding <key>, or the empty slot where it would go. */
static size_t probe(const struct strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1, i = h & mask;
    while (m->slots[i].key != NULL && (m->slots[i].hash != h || strcmp(m->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

void *strmap_get(const struct strmap *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    size_t i = probe(m, key, hash(key));
    return m->slots[i].key != NULL ? m->slots[i].val : NULL;
}

static void grow(struct strmap *m)
{
    struct strmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 16;
    m->slots = mem_calloc(m->cap, sizeof(*m->slots));
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key != NULL)
            m->slots[probe(m, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
    free(old.slots);
}

void **strmap_put(struct strmap *m, const char *key, bool *added)
{
    if ((m->n + 1) * 4 > m->cap * 3)
        grow(m);
    uint64_t h = hash(key);
    size_t i = probe(m, key, h);
    struct strmap_slot *s = &m->slots[i];
    bool fresh = s->key == NULL;
    if (fresh) {
        *s = (struct strmap_slot){m->borrowed_keys ? (char *)key : mem_strdup(key), NULL, h};
        m->n++;
    }
    if (added != NULL)
        *added = fresh;
    return &s->val;
}

void *strmap_del(struct strmap *m, const char *key)
{
    if (m->n == 0)
        return NULL;
    size_t mask = m->cap - 1, i = probe(m, key, hash(key));
    if (m->slots[i].key == NULL)
        return NULL;
    void *val = m->slots[i].val;
    if (!m->borrowed_keys)
        free(m->slots[i].key);
    m->n--;
    /* backward shift: move up each later entry of the run that may fill the hole */
    for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        /* j may move to i when its home is not in (i, j] (cyclically) */
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->slots[i] = m->slots[j];
            i = j;
        }
    }
    m->slots[i] = (struct strmap_slot){0};
    return val;
}

bool strmap_next(const struct strmap *m, size_t *i, const char **key, void **val)
{
    for (; *i < m->cap; (*i)++)
        if (m->slots[*i].key != NULL) {
            if (key != NULL)
                *key = m->slots[*i].key;
            if (val != NULL)
                *val = m->slots[*i].val;
            (*i)++;
            return true;
        }
    return false;
}
