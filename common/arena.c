/*
 * Region allocator (see arena.h). Chunks grow geometrically so that a
 * table with 100k routes costs a few dozen mallocs, not 100k.
 */
#include "arena.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
    struct arena_chunk *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

struct arena_cleanup {
    struct arena_cleanup *next;
    void (*fn)(void *);
    void *data;
};

#define ARENA_MIN_CHUNK 4096
#define ARENA_MAX_CHUNK (1024 * 1024)

static void oom(size_t size)
{
    fprintf(stderr, "gantry: out of memory allocating %zu bytes\n", size);
    abort();
}

void *mem_alloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        oom(size);
    return p;
}

void *mem_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        oom(n * size);
    return p;
}

void *mem_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (q == NULL)
        oom(size);
    return q;
}

char *mem_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = mem_alloc(n);
    memcpy(p, s, n);
    return p;
}

void arena_init(struct arena *a)
{
    a->chunks = NULL;
    a->cleanups = NULL;
    a->allocated = 0;
    a->first_chunk = 0;
}

void arena_init_sized(struct arena *a, size_t first_chunk)
{
    arena_init(a);
    a->first_chunk = (first_chunk + 15) & ~(size_t)15;
}

/*
 * Full-size chunks are kept for reuse (bounded): every configuration
 * change builds a table of the same size as the one it frees, and fresh
 * memory would cost a page fault per 4 KiB. Once changes stop, the cache
 * is one idle table's worth of memory (26 MB with 10,000 ingress-nginx
 * Ingresses): arena_trim_cache() lets it go when no chunk was reused since
 * its last call.
 */
#define CHUNK_CACHE_MAX 64
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct arena_chunk *chunk_cache;
static size_t chunk_cache_len;
static bool chunk_cache_reused; /* a chunk came from the cache since the last arena_trim_cache */

static struct arena_chunk *chunk_get(size_t size)
{
    if (size == ARENA_MAX_CHUNK) {
        pthread_mutex_lock(&cache_lock);
        struct arena_chunk *c = chunk_cache;
        if (c != NULL) {
            chunk_cache = c->next;
            chunk_cache_len--;
            chunk_cache_reused = true;
        }
        pthread_mutex_unlock(&cache_lock);
        if (c != NULL)
            return c;
    }
    struct arena_chunk *c = mem_alloc(sizeof(*c) + size);
    c->size = size;
    return c;
}

static void chunk_put(struct arena_chunk *c)
{
    if (c->size == ARENA_MAX_CHUNK) {
        pthread_mutex_lock(&cache_lock);
        if (chunk_cache_len < CHUNK_CACHE_MAX) {
            c->next = chunk_cache;
            chunk_cache = c;
            chunk_cache_len++;
            c = NULL;
        }
        pthread_mutex_unlock(&cache_lock);
    }
    free(c);
}

size_t arena_trim_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    struct arena_chunk *c = chunk_cache_reused ? NULL : chunk_cache;
    size_t n = chunk_cache_reused ? 0 : chunk_cache_len;
    if (c != NULL) {
        chunk_cache = NULL;
        chunk_cache_len = 0;
    }
    chunk_cache_reused = false;
    pthread_mutex_unlock(&cache_lock);
    while (c != NULL) {
        struct arena_chunk *next = c->next;
        free(c);
        c = next;
    }
    return n * ARENA_MAX_CHUNK;
}

void arena_release_cache(void)
{
    pthread_mutex_lock(&cache_lock);
    while (chunk_cache != NULL) {
        struct arena_chunk *c = chunk_cache;
        chunk_cache = c->next;
        free(c);
    }
    chunk_cache_len = 0;
    pthread_mutex_unlock(&cache_lock);
}

void arena_free(struct arena *a)
{
    while (a->cleanups != NULL) {
        struct arena_cleanup *c = a->cleanups;
        a->cleanups = c->next;
        c->fn(c->data);
    }
    while (a->chunks != NULL) {
        struct arena_chunk *c = a->chunks;
        a->chunks = c->next;
        chunk_put(c);
    }
    a->allocated = 0;
}

/* Carves <size> bytes (16-byte aligned) without clearing them. */
static void *arena_carve(struct arena *a, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct arena_chunk *c = a->chunks;
    if (c == NULL || c->size - c->used < size) {
        /* A sized arena (a small object's) that outgrows its first chunk
         * usually needs a little more: a second chunk of the same size,
         * not twice it; doubling after that. */
        size_t want = c == NULL ? (a->first_chunk ? a->first_chunk : ARENA_MIN_CHUNK)
                      : c->next == NULL && c->size == a->first_chunk ? c->size
                                                                     : c->size * 2;
        if (want > ARENA_MAX_CHUNK)
            want = ARENA_MAX_CHUNK;
        if (want < size)
            want = size;
        struct arena_chunk *n = chunk_get(want);
        n->used = 0;
        /* A big one-off allocation goes behind the current chunk so the
         * current chunk's free space is not wasted. */
        if (c != NULL && size > c->size) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->chunks = n;
        }
        c = n;
    }
    void *p = c->data + c->used;
    c->used += size;
    a->allocated += size;
    return p;
}

void *arena_alloc(struct arena *a, size_t size)
{
    void *p = arena_carve(a, size);
    memset(p, 0, size);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
    char *p = arena_carve(a, len + 1); /* fully written below: no need to clear */
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return s == NULL ? NULL : arena_strndup(a, s, strlen(s));
}

__attribute__((format(printf, 2, 0))) static char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
    char small[256]; /* most strings fit: format once */
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof(small), fmt, again);
    va_end(again);
    if (n < 0)
        n = 0, small[0] = '\0';
    if (n < (int)sizeof(small))
        return arena_strndup(a, small, (size_t)n);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

char *arena_concat(struct arena *a, const char *const *parts, size_t n, char sep)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(parts[i]) + 1;
    char *out = arena_alloc(a, len + 1), *p = out;
    for (size_t i = 0; i < n; i++) {
        if (i && sep)
            *p++ = sep;
        size_t l = strlen(parts[i]);
        memcpy(p, parts[i], l);
        p += l;
    }
    *p = '\0';
    return out;
}

void arena_on_free(struct arena *a, void (*fn)(void *), void *data)
{
    struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}

void ptr_vec_push(struct arena *a, struct ptr_vec *v, void *item)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        void **items = arena_alloc(a, cap * sizeof(*items));
        if (v->len)
            memcpy(items, v->items, v->len * sizeof(*items));
        v->items = items;
        v->cap = cap;
    }
    v->items[v->len++] = item;
}

void ptr_vec_vprintf(struct arena *a, struct ptr_vec *v, const char *fmt, va_list ap)
{
    ptr_vec_push(a, v, arena_vprintf(a, fmt, ap));
}
