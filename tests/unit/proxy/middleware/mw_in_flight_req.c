/* Tests proxy/middleware/mw_in_flight_req.c: options and Traefik's defaults
 * (Host as the source), counting up to the amount and releasing when the
 * request's pool goes, per-source counters, and the limit never exceeded
 * by several threads. Answers (429) are tested in
 * tests/integration/test_mw_limits.py. */
#include "../../../../proxy/middleware/mw_in_flight_req.c"

#include <pthread.h>

#include "mw_test.h"

#include "../../test.h"

static struct mw_test t;
#define K1 0x9e3779b97f4a7c15ULL
#define K2 0x1234567890abcdefULL

static void refused(const char *const *kv, const char *why)
{
    CHECK(mw_test_build(&t, "inFlightReq", kv) == NULL);
    CHECK_CONTAINS(t.error, why);
}

struct worker_arg {
    const struct in_flight *c;
    _Atomic int *holders, *max_seen;
    int admitted;
};

static void *worker_main(void *arg)
{
    struct worker_arg *a = arg;
    for (int i = 0; i < 50000; i++) {
        _Atomic uint64_t *s = inflight_acquire(a->c->slots, a->c->amount, K1);
        if (s == NULL)
            continue;
        a->admitted++;
        int now = atomic_fetch_add(a->holders, 1) + 1;
        int seen = atomic_load(a->max_seen);
        while (now > seen && !atomic_compare_exchange_weak(a->max_seen, &seen, now))
            ;
        atomic_fetch_sub(a->holders, 1);
        inflight_release(s);
    }
    return NULL;
}

int main(void)
{
    mw_test_init(&t);
    /* Traefik's documented example: amount 10 */
    const char *doc[] = {"amount", "10", NULL};
    struct table_middleware *m = mw_test_build(&t, "inFlightReq", doc);
    CHECK(m != NULL);
    const struct in_flight *c = m->cfg;
    CHECK(c->amount == 10 && c->src.kind == SOURCE_HOST);
    CHECK_STR(c->body, "max connections reached: 10");

    _Atomic uint64_t *held[10];
    for (int i = 0; i < 10; i++)
        CHECK((held[i] = inflight_acquire(c->slots, c->amount, K1)) != NULL);
    CHECK(inflight_acquire(c->slots, c->amount, K1) == NULL);
    _Atomic uint64_t *other = inflight_acquire(c->slots, c->amount, K2); /* another source counts apart */
    CHECK(other != NULL && other != held[0]);
    inflight_release(held[3]);
    CHECK((held[3] = inflight_acquire(c->slots, c->amount, K1)) != NULL);
    CHECK(inflight_acquire(c->slots, c->amount, K1) == NULL);
    for (int i = 0; i < 10; i++)
        inflight_release(held[i]);
    inflight_release(other);
    CHECK(atomic_load(held[0]) % (1ULL << INFLIGHT_COUNT_BITS) == 0);

    /* through on_request: the hold goes with the request's pool */
    const char *two[] = {"amount", "2", NULL};
    m = mw_test_build(&t, "inFlightReq", two);
    c = m->cfg;
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    h2o_iovec_t host = h2o_iovec_init(H2O_STRLIT("a.test"));
    CHECK(inflight_acquire(c->slots, c->amount, source_hash(c->seed, host)) == NULL); /* both still under way */
    h2o_mem_clear_pool(&t.req.pool);                         /* the requests end */
    _Atomic uint64_t *s = inflight_acquire(c->slots, c->amount, source_hash(c->seed, host));
    CHECK(s != NULL);
    inflight_release(s);

    const char *zero[] = {"amount", "0", NULL};
    m = mw_test_build(&t, "inFlightReq", zero);
    CHECK(m != NULL && inflight_acquire(((const struct in_flight *)m->cfg)->slots, 0, 1) == NULL); /* Traefik (oxy): every request refused */
    const char *none[] = {NULL};
    m = mw_test_build(&t, "inFlightReq", none);
    CHECK(m != NULL && ((const struct in_flight *)m->cfg)->amount == 0);

    /* several threads on one source: never more than amount at once */
    const char *three[] = {"amount", "3", "sourceCriterion.ipStrategy.depth", "1", NULL};
    m = mw_test_build(&t, "inFlightReq", three);
    CHECK(m != NULL && ((const struct in_flight *)m->cfg)->src.kind == SOURCE_IP);
    _Atomic int holders = 0, max_seen = 0;
    struct worker_arg args[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (struct worker_arg){m->cfg, &holders, &max_seen, 0};
        pthread_create(&th[i], NULL, worker_main, &args[i]);
    }
    int admitted = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        admitted += args[i].admitted;
    }
    CHECK(max_seen <= 3 && admitted > 0);
    c = m->cfg;
    for (size_t i = 0; i < INFLIGHT_SLOTS; i++)
        CHECK((atomic_load(&c->slots[i]) & INFLIGHT_MAX) == 0); /* all released */

    const char *neg[] = {"amount", "-1", NULL};
    refused(neg, "inFlightReq: amount: '-1'");
    const char *big[] = {"amount", "99999999", NULL};
    refused(big, "amount");
    const char *excl[] = {"amount", "1", "sourceCriterion.requestHost", "true", "sourceCriterion.requestHeaderName", "x", NULL};
    refused(excl, "mutually exclusive");
    const char *unknown[] = {"amount", "1", "sourceCriterion.requestHosts", "true", NULL};
    refused(unknown, "unknown option 'sourceCriterion.requestHosts'");
    mw_test_free(&t);
    return test_report("proxy/middleware/mw_in_flight_req");
}
