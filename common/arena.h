/*
 * Region allocator: everything that lives exactly as long as one object
 * (a provider's model, a compiled table) is carved from one arena and
 * released at once. Resources that are not plain memory (PCRE2 codes,
 * SSL_CTX references) register a cleanup that runs when the arena is freed.
 *
 * An arena is used by one thread at a time; it is not locked.
 */
#ifndef GANTRY_ARENA_H
#define GANTRY_ARENA_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct arena_chunk;
struct arena_cleanup;

struct arena {
    struct arena_chunk *chunks;
    struct arena_cleanup *cleanups;
    size_t allocated; /* bytes handed out, for tests and metrics */
    size_t first_chunk; /* size of the first chunk; 0: the default (4 KiB) */
};

/* Aborts on OOM: allocation failure is not a recoverable condition here. */
void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *p, size_t size);
char *mem_strdup(const char *s);

void arena_init(struct arena *a);
/* For small objects that each own an arena: a first chunk of <first_chunk>
 * bytes instead of the default 4 KiB. */
void arena_init_sized(struct arena *a, size_t first_chunk);
/* Frees the process-wide cache of spare chunks (at exit). */
void arena_release_cache(void);
/* Frees the cache of spare chunks when none was reused since the last
 * call (changes have stopped; called periodically); returns the bytes freed. */
size_t arena_trim_cache(void);
/* Runs the cleanups in reverse registration order, then frees the memory. */
void arena_free(struct arena *a);

/* Zero-filled, 16-byte aligned. */
void *arena_alloc(struct arena *a, size_t size);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* <parts> joined by <sep> ('\0': nothing between them). */
char *arena_concat(struct arena *a, const char *const *parts, size_t n, char sep);
/* <fn>(<data>) is called by arena_free. */
void arena_on_free(struct arena *a, void (*fn)(void *), void *data);

/* A growable array of pointers whose storage lives in the arena. */
struct ptr_vec {
    void **items;
    size_t len, cap;
};
void ptr_vec_push(struct arena *a, struct ptr_vec *v, void *item);
/* "printf a problem into a list": the message is formatted into <a> and
 * appended to <v> (providers' configuration problems, decode errors). */
void ptr_vec_vprintf(struct arena *a, struct ptr_vec *v, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

#endif
