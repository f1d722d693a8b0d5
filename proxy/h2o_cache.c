/*
 * Draining libh2o 2.2.5's per-thread recycle caches (see h2o_cache.h).
 *
 * The socket-buffer cache is reachable (h2o_socket_buffer_prototype is an
 * exported __thread). The memory-pool cache is a static __thread in
 * lib/common/memory.c; it is drained by allocating from a throw-away pool
 * until the cache must be empty, then freeing that pool's chunks directly.
 * This relies on 2.2.5's chunk layout (the first member of a chunk is its
 * next pointer, 4 KiB chunks, at most 16 cached), which is pinned by the
 * Debian package this project builds against.
 */
#include "h2o_cache.h"

#include <stdlib.h>

#include <h2o.h>

#define POOL_CACHE_MAX 16
#define SMALL_ALLOC 1000 /* under a quarter of a chunk: served from chunks */

struct chunk_link {
    struct chunk_link *next;
};

static void drain(h2o_mem_recycle_t *r)
{
    struct chunk_link *c = (struct chunk_link *)r->_link;
    while (c != NULL) {
        struct chunk_link *next = c->next;
        free(c);
        c = next;
    }
    r->_link = NULL;
    r->cnt = 0;
}

void h2o_cache_release_thread(void)
{
    drain(&h2o_socket_buffer_prototype.allocator);

    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    for (int i = 0; i < (POOL_CACHE_MAX + 2) * 4; i++)
        (void)h2o_mem_alloc_pool(&pool, SMALL_ALLOC);
    struct chunk_link *c = (struct chunk_link *)pool.chunks;
    while (c != NULL) {
        struct chunk_link *next = c->next;
        free(c);
        c = next;
    }
}
