/* Tests common/arena.c: alignment, zeroing, big allocations, cleanups. */
#include "../../../common/arena.c"

#include <stdint.h>

#include "test.h"

static int cleanup_order[4], n_cleanups;

static void note(void *p)
{
    cleanup_order[n_cleanups++] = (int)(intptr_t)p;
}

int main(void)
{
    struct arena a;
    arena_init(&a);
    for (int i = 1; i < 5000; i += 7) {
        unsigned char *p = arena_alloc(&a, (size_t)i);
        CHECK(((uintptr_t)p & 15) == 0);
        int zero = 1;
        for (int j = 0; j < i; j++)
            zero &= p[j] == 0;
        CHECK(zero);
        memset(p, 0xab, (size_t)i);
    }
    char *big = arena_alloc(&a, 3 * 1024 * 1024); /* larger than a chunk */
    CHECK(big != NULL);
    big[3 * 1024 * 1024 - 1] = 1;
    CHECK_STR(arena_strndup(&a, "hello world", 5), "hello");
    CHECK_STR(arena_printf(&a, "%s-%d", "x", 42), "x-42");
    CHECK(arena_strdup(&a, NULL) == NULL);

    struct ptr_vec v = {0};
    for (intptr_t i = 0; i < 1000; i++)
        ptr_vec_push(&a, &v, (void *)i);
    CHECK(v.len == 1000 && (intptr_t)v.items[999] == 999);

    arena_on_free(&a, note, (void *)1);
    arena_on_free(&a, note, (void *)2);
    arena_free(&a);
    CHECK(n_cleanups == 2 && cleanup_order[0] == 2 && cleanup_order[1] == 1);
    CHECK(a.chunks == NULL && a.allocated == 0);

    /* a small object's arena that outgrows its first chunk gets a second of
     * the same size (then doubling), not one twice as big */
    struct arena small;
    arena_init_sized(&small, 512);
    arena_alloc(&small, 400);
    arena_alloc(&small, 200);
    CHECK(small.chunks->size == 512 && small.chunks->next->size == 512);
    arena_alloc(&small, 400);
    CHECK(small.chunks->size == 1024);
    arena_free(&small);

    /* spare full-size chunks: kept while tables are rebuilt, let go once
     * no rebuild reused one between two trims */
    arena_release_cache();
    struct arena t1;
    arena_init(&t1);
    for (int i = 0; i < 12; i++) /* 4 KiB doubling up to 1 MiB, then 1 MiB chunks */
        arena_alloc(&t1, 256 * 1024);
    arena_free(&t1);
    size_t spare = chunk_cache_len;
    CHECK(spare >= 2);
    CHECK(arena_trim_cache() == spare * ARENA_MAX_CHUNK && chunk_cache_len == 0); /* nothing reused: freed */
    arena_init(&t1); /* a new table, from fresh memory */
    for (int i = 0; i < 12; i++)
        arena_alloc(&t1, 256 * 1024);
    struct arena t2;
    arena_init(&t2); /* the next one, built while t1 is live */
    for (int i = 0; i < 12; i++)
        arena_alloc(&t2, 256 * 1024);
    arena_free(&t1); /* t1 retired: its chunks become spare */
    CHECK(chunk_cache_len == spare);
    arena_init(&t1); /* and the one after reuses them */
    for (int i = 0; i < 12; i++)
        arena_alloc(&t1, 256 * 1024);
    CHECK(chunk_cache_len == 0);
    arena_free(&t2);
    CHECK(arena_trim_cache() == 0 && chunk_cache_len == spare); /* changes under way: kept */
    CHECK(arena_trim_cache() == spare * ARENA_MAX_CHUNK && chunk_cache_len == 0); /* a quiet period: freed */
    arena_free(&t1);
    arena_release_cache();
    CHECK(chunk_cache_len == 0);
    return test_report("common/arena");
}
