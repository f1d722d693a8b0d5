/* Tests proxy/stats.c: sharing by (kind, name), a worker block only once
 * that worker counts, sums over the blocks there are, and a worker counting
 * (and allocating its block) while another thread sums: `make test-tsan`
 * runs this one under ThreadSanitizer. */
#include "../../../proxy/stats.c"

#include <pthread.h>

#include "test.h"

#define WRITES 200000

static void *writer(void *arg)
{
    struct stats *s = arg;
    for (int i = 0; i < WRITES; i++)
        stats_record(s, 1, i % 3 ? 200 : 404, M_GET, 10, 20, 1500);
    return NULL;
}

int main(void)
{
    stats_init(4);
    struct stats *r = stats_acquire(STATS_ROUTER, "web@file");
    struct stats *again = stats_acquire(STATS_ROUTER, "web@file");
    struct stats *svc = stats_acquire(STATS_SERVICE, "web@file"); /* another kind: another object */
    CHECK(r == again && r != svc && atomic_load(&r->refs) == 2);
    CHECK_STR(r->name, "web@file");
    CHECK(r->n_workers == 4);

    /* nothing counted yet: no worker block, and the sum is all zeros */
    CHECK(stats_blocks_live() == 0);
    struct stats_total t;
    stats_sum(r, &t);
    CHECK(t.requests == 0 && t.n_codes == 0 && t.codes_overflow == 0);

    /* worker 2 counts: its block only */
    stats_record(r, 2, 503, M_POST, 100, 7, 2000);
    stats_upstream_error(r, 2, true);
    stats_grpc(r, 2, 14);
    CHECK(stats_blocks_live() == 1);
    CHECK(r->blocks[0] == NULL && r->blocks[2] != NULL);
    stats_record(r, 3, 503, M_POST, 1, 1, 10);
    stats_dropped(svc, 0);
    CHECK(stats_blocks_live() == 3);
    stats_sum(r, &t);
    CHECK(t.requests == 2 && t.bytes_in == 101 && t.bytes_out == 8 && t.classes[4] == 2);
    CHECK(t.upstream_timeouts == 1 && t.upstream_errors == 0 && t.grpc[14] == 1);
    CHECK(t.n_codes == 1 && t.codes[0].key == 503 * 8 + M_POST && t.codes[0].n == 2);
    CHECK(t.hist[0] == 1 && t.hist[1] == 1 && t.duration_us_sum == 2010);
    stats_sum(svc, &t);
    CHECK(t.dropped == 1 && t.requests == 0);

    /* more distinct (status, method) pairs than slots: the rest overflows */
    struct stats *many = stats_acquire(STATS_SERVICE, "many@file");
    for (int code = 200; code < 200 + STATS_CODE_SLOTS + 5; code++)
        stats_record(many, 0, code, M_GET, 0, 0, 0);
    stats_sum(many, &t);
    CHECK(t.n_codes == STATS_CODE_SLOTS && t.codes_overflow == 5 && t.requests == STATS_CODE_SLOTS + 5);
    stats_release(many);
    CHECK(stats_blocks_live() == 3);

    /* a worker counts while another thread sums: every read is a snapshot
     * that only grows */
    pthread_t th;
    pthread_create(&th, NULL, writer, svc);
    uint64_t last = 0;
    bool monotonic = true;
    for (int i = 0; i < 2000; i++) {
        stats_sum(svc, &t);
        monotonic = monotonic && t.requests >= last;
        last = t.requests;
    }
    pthread_join(th, NULL);
    CHECK(monotonic);
    stats_sum(svc, &t);
    CHECK(t.requests == WRITES && t.classes[1] + t.classes[3] == WRITES && t.n_codes == 2);

    /* the last reference frees the object and its blocks */
    stats_release(again);
    CHECK(stats_blocks_live() == 4);
    stats_release(r);
    stats_release(svc);
    CHECK(stats_blocks_live() == 0);
    struct stats *fresh = stats_acquire(STATS_ROUTER, "web@file"); /* counters start again */
    stats_sum(fresh, &t);
    CHECK(t.requests == 0);
    stats_release(fresh);
    stats_shutdown();
    return test_report("proxy/stats");
}
