/* Tests proxy/udp/udp_stats.c: counters shared by name across tables,
 * freed with their last reference (parked while sessions are open),
 * summed over workers by name. */
#include "../../../../proxy/udp/udp_stats.c"

#include "test.h"

int main(void)
{
    /* two tables in a row name the same service: one object, still counting */
    struct udp_stats *a = udp_stats_acquire("dns@file", 2);
    struct udp_stats *b = udp_stats_acquire("dns@file", 2);
    struct udp_stats *other = udp_stats_acquire("game@docker", 2);
    CHECK(a == b && a != other && a->refs == 2);
    udp_stats_add(&a->w[0].in, 3);
    udp_stats_add(&a->w[1].in, 4);
    udp_stats_add(&a->w[1].bytes_out, 100);
    udp_stats_add(&other->w[0].sessions, 1);
    udp_stats_release(a); /* the old table goes: the new one keeps the counters */
    struct udp_stats_total *t;
    size_t n = udp_stats_collect(&t);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(t[0].name, "dns@file"); /* by name */
        CHECK(t[0].in == 7 && t[0].bytes_out == 100 && t[0].sessions == 0);
        CHECK_STR(t[1].name, "game@docker");
        CHECK(t[1].sessions == 1 && t[1].in == 0);
    }
    udp_stats_collect_free(t, n);

    /* the last reference frees: a service that comes back starts from zero */
    udp_stats_release(b);
    udp_stats_release(other);
    udp_stats_release(NULL);
    CHECK(udp_stats_collect(&t) == 0);
    udp_stats_collect_free(t, 0);
    struct udp_stats *again = udp_stats_acquire("dns@file", 1);
    CHECK(again->refs == 1 && atomic_load(&again->w[0].in) == 0);
    udp_stats_release(again);

    /* open sessions: a gauge per service, summed over workers; counters
     * whose last table goes with sessions still open stay (parked, not
     * listed) until those end, and come back if the service does */
    struct udp_stats *v = udp_stats_acquire("voice@file", 2);
    udp_stats_open(v, 0, 1);
    udp_stats_open(v, 1, 1);
    udp_stats_open(v, 1, 1);
    udp_stats_open(v, 0, -1); /* worker 0's slot wraps below its start: the sum does not */
    udp_stats_open(v, 0, -1);
    udp_stats_open(v, 0, 1);
    n = udp_stats_collect(&t);
    CHECK(n == 1 && t[0].open == 2);
    udp_stats_collect_free(t, n);
    udp_stats_release(v); /* two sessions still point at it */
    CHECK(parked == v && all == NULL);
    CHECK(udp_stats_collect(&t) == 0);
    udp_stats_collect_free(t, 0);
    struct udp_stats *back = udp_stats_acquire("voice@file", 2);
    CHECK(back == v && parked == NULL && back->refs == 1);
    udp_stats_release(back);
    udp_stats_open(v, 1, -1);
    CHECK(parked == v); /* one still open */
    udp_stats_open(v, 0, -1);
    CHECK(udp_stats_collect(&t) == 0); /* the sweep frees it */
    udp_stats_collect_free(t, 0);
    CHECK(parked == NULL);
    return test_report("proxy/udp/udp_stats");
}
