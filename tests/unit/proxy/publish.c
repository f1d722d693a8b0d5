/*
 * Tests proxy/publish.c: a watcher thread publishes thousands of tables
 * while worker threads look routes up and keep "requests" (pools linked
 * to their table) alive across loop iterations. Run under TSan and ASan
 * in CI: any use of a freed table or a racy access fails the test. At the
 * end every table ever built must have been freed exactly once.
 */
#include "../../../proxy/publish.c"

#include <pthread.h>
#include <stdlib.h>

#include "../../../proxy/h2o_cache.h"
#include "../../../proxy/match.h"
#include "test.h"

#define WORKERS 3
#define SWAPS 3000
#define INFLIGHT 8

static _Atomic int tables_built, tables_freed;
static _Atomic bool stop;
static _Atomic uint64_t lookups, held;

static void count_free(void *p)
{
    (void)p;
    atomic_fetch_add(&tables_freed, 1);
}

static struct table *build(int gen)
{
    struct table *t = table_new(WORKERS);
    struct table_service *s = table_add_service(t, "s@test", true, 0);
    char name[32], rule[64];
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof(name), "gen%d-r%d", gen, i);
        snprintf(rule, sizeof(rule), "Host(`h%d.test`) && PathPrefix(`/`)", i);
        struct diag d;
        struct rule_node *n = rule_parse(&t->arena, rule, &d);
        table_add_route(t, name, rule, n, 0, 1, false, s);
    }
    table_finish(t);
    arena_on_free(&t->arena, count_free, NULL);
    atomic_fetch_add(&tables_built, 1);
    return t;
}

struct inflight {
    h2o_mem_pool_t pool;
    const struct table_route *route;
    char expect[32];
    int ttl;
    bool used;
};

static void *worker(void *arg)
{
    uint32_t w = (uint32_t)(uintptr_t)arg;
    struct inflight reqs[INFLIGHT];
    memset(reqs, 0, sizeof(reqs));
    unsigned seed = w + 1;
    while (!atomic_load(&stop)) {
        publish_worker_refresh(w);
        struct table *t = publish_worker_table(w);
        for (int i = 0; i < INFLIGHT; i++) {
            struct inflight *f = &reqs[i];
            if (f->used && --f->ttl <= 0) { /* the request ends: its pool releases the table */
                CHECK(strcmp(f->route->name, f->expect) == 0); /* still intact */
                h2o_mem_clear_pool(&f->pool);
                f->used = false;
            }
            if (!f->used && t != NULL) { /* a new request on the current table */
                h2o_mem_init_pool(&f->pool);
                publish_link(w, &f->pool);
                char host[16];
                snprintf(host, sizeof(host), "h%d.test", rand_r(&seed) % 4);
                struct match_req r = {.host = host, .host_len = strlen(host), .path = "/x", .path_len = 2};
                f->route = table_lookup(t, &r, 0, false);
                CHECK(f->route != NULL);
                if (f->route == NULL) {
                    h2o_mem_clear_pool(&f->pool);
                    continue;
                }
                snprintf(f->expect, sizeof(f->expect), "%s", f->route->name);
                f->ttl = 1 + rand_r(&seed) % 50;
                f->used = true;
                atomic_fetch_add(&lookups, 1);
            }
        }
        atomic_fetch_add(&held, 1);
    }
    for (int i = 0; i < INFLIGHT; i++)
        if (reqs[i].used)
            h2o_mem_clear_pool(&reqs[i].pool);
    publish_worker_exit(w);
    match_thread_cleanup();
    h2o_cache_release_thread();
    return NULL;
}

int main(void)
{
    publish_init(WORKERS, NULL);
    publish_swap(build(0));
    pthread_t th[WORKERS];
    for (uintptr_t i = 0; i < WORKERS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    size_t max_waiting = 0;
    for (int gen = 1; gen <= SWAPS; gen++) {
        publish_swap(build(gen));
        size_t waiting = publish_reclaim();
        if (waiting > max_waiting)
            max_waiting = waiting;
        if (gen % 64 == 0) /* let workers make progress so reclamation can happen */
            for (uint64_t h = atomic_load(&held); atomic_load(&held) < h + WORKERS * 4;)
                sched_yield();
    }
    atomic_store(&stop, true);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(th[i], NULL);
    publish_shutdown();
    printf("swaps %d, lookups %llu, tables built %d freed %d, max retired waiting %zu\n", SWAPS,
           (unsigned long long)atomic_load(&lookups), atomic_load(&tables_built), atomic_load(&tables_freed), max_waiting);
    CHECK(atomic_load(&tables_built) == SWAPS + 1);
    CHECK(atomic_load(&tables_freed) == atomic_load(&tables_built));
    CHECK(atomic_load(&lookups) > 1000);
    match_thread_cleanup();
    h2o_cache_release_thread();
    return test_report("proxy/publish");
}
