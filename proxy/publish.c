/*
 * Table publication and epoch-based reclamation (see publish.h).
 */
#include "publish.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"

struct handle {
    struct table *t;
};

struct worker_slot {
    _Atomic uint64_t seen_gen;
    struct table *table;   /* worker-private */
    struct handle *handle; /* worker-private */
} __attribute__((aligned(64)));

static _Atomic(struct table *) current;
static _Atomic uint64_t generation;
static struct worker_slot *slots;
static uint32_t n_slots;
static void (*wake_worker)(uint32_t);

static struct table *retired; /* watcher-only list, oldest last */

/* Tables whose last reference was dropped by a worker; freed by the watcher. */
static pthread_mutex_t dead_lock = PTHREAD_MUTEX_INITIALIZER;
static struct table *dead;

void publish_init(uint32_t n_workers, void (*wake)(uint32_t))
{
    n_slots = n_workers;
    slots = aligned_alloc(64, sizeof(*slots) * (n_workers ? n_workers : 1));
    if (slots == NULL)
        abort();
    memset(slots, 0, sizeof(*slots) * (n_workers ? n_workers : 1));
    for (uint32_t i = 0; i < n_workers; i++)
        atomic_init(&slots[i].seen_gen, 0);
    wake_worker = wake;
}

static void drop_ref(struct table *t)
{
    if (atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_lock(&dead_lock);
    t->retire_next = dead;
    dead = t;
    pthread_mutex_unlock(&dead_lock);
}

void publish_swap(struct table *t)
{
    t->gen = atomic_fetch_add(&generation, 1) + 1;
    struct table *old = atomic_exchange_explicit(&current, t, memory_order_acq_rel);
    if (old != NULL) {
        old->retire_gen = t->gen;
        old->retire_next = retired;
        retired = old;
    }
    for (uint32_t i = 0; wake_worker != NULL && i < n_slots; i++)
        wake_worker(i);
}

struct table *publish_current(void)
{
    return atomic_load_explicit(&current, memory_order_acquire);
}

size_t publish_reclaim(void)
{
    uint64_t min_seen = UINT64_MAX;
    for (uint32_t i = 0; i < n_slots; i++) {
        uint64_t g = atomic_load_explicit(&slots[i].seen_gen, memory_order_acquire);
        if (g < min_seen)
            min_seen = g;
    }
    size_t waiting = 0;
    for (struct table **p = &retired; *p != NULL;) {
        struct table *t = *p;
        if (t->retire_gen <= min_seen) {
            *p = t->retire_next;
            drop_ref(t); /* "current"'s reference */
        } else {
            p = &t->retire_next;
            waiting++;
        }
    }
    pthread_mutex_lock(&dead_lock);
    struct table *list = dead;
    dead = NULL;
    pthread_mutex_unlock(&dead_lock);
    while (list != NULL) {
        struct table *next = list->retire_next;
        table_free(list);
        list = next;
    }
    return waiting;
}

static void handle_dispose(void *p)
{
    struct handle *h = p;
    drop_ref(h->t);
}

void publish_worker_refresh(uint32_t w)
{
    struct worker_slot *s = &slots[w];
    struct table *t = atomic_load_explicit(&current, memory_order_acquire);
    if (t == s->table)
        return;
    /* safe: "current" keeps t alive until our seen_gen passes it */
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
    struct handle *h = h2o_mem_alloc_shared(NULL, sizeof(*h), handle_dispose);
    h->t = t;
    if (s->handle != NULL)
        h2o_mem_release_shared(s->handle);
    s->handle = h;
    s->table = t;
    atomic_store_explicit(&s->seen_gen, t->gen, memory_order_release);
}

struct table *publish_worker_table(uint32_t w)
{
    return slots[w].table;
}

void publish_link(uint32_t w, h2o_mem_pool_t *pool)
{
    h2o_mem_link_shared(pool, slots[w].handle);
}

void publish_worker_exit(uint32_t w)
{
    struct worker_slot *s = &slots[w];
    if (s->handle != NULL)
        h2o_mem_release_shared(s->handle);
    s->handle = NULL;
    s->table = NULL;
    atomic_store_explicit(&s->seen_gen, UINT64_MAX, memory_order_release);
}

void publish_shutdown(void)
{
    struct table *t = atomic_exchange(&current, NULL);
    if (t != NULL) {
        t->retire_gen = 0;
        t->retire_next = retired;
        retired = t;
    }
    for (uint32_t i = 0; i < n_slots; i++)
        atomic_store(&slots[i].seen_gen, UINT64_MAX);
    publish_reclaim();
    free(slots);
    slots = NULL;
    n_slots = 0;
}
