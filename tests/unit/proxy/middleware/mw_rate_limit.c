/* Tests proxy/middleware/mw_rate_limit.c: options and Traefik's defaults,
 * the token bucket on a synthetic clock (burst, refill, maxDelay holds and
 * refusals, what a refusal says), the bounded table under many sources, and
 * exactness with several threads on one bucket. Answers (429) are tested in
 * tests/integration/test_mw_limits.py. */
#include "../../../../proxy/middleware/mw_rate_limit.c"
#include "../../../../proxy/middleware/redis_limiter.c"

#include <pthread.h>

#include "mw_test.h"

#include "../../test.h"

#define MS 1000000LL
#define T0 (1000000LL * NS_PER_S)

static struct mw_test t;

static const struct rate_limit *make(const char *const *kv)
{
    struct table_middleware *m = mw_test_build(&t, "rateLimit", kv);
    CHECK(m != NULL);
    return m ? m->cfg : NULL;
}

static void refused(const char *const *kv, const char *why)
{
    CHECK(mw_test_build(&t, "rateLimit", kv) == NULL);
    CHECK_CONTAINS(t.error, why);
}

static const char *dur(int64_t ns)
{
    static char buf[64];
    go_duration(ns, buf, sizeof(buf));
    return buf;
}

struct hammer {
    const struct rate_limit *c;
    int admitted;
};

static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    int64_t delay;
    for (int i = 0; i < 20000; i++)
        h->admitted += rl_reserve(h->c, 42, T0, &delay);
    return NULL;
}

int main(void)
{
    mw_test_init(&t);
    int64_t delay;

    /* Traefik's documented example: average 100, burst 50 */
    const char *doc[] = {"average", "100", "burst", "50", NULL};
    const struct rate_limit *c = make(doc);
    CHECK(c->interval_ns == 10 * MS && c->burst_ns == 500 * MS && c->max_delay_ns == 5 * MS);
    CHECK(c->src.kind == SOURCE_IP);

    /* defaults: period 1s, burst 1 */
    const char *avg[] = {"average", "10", NULL};
    c = make(avg);
    CHECK(c->interval_ns == 100 * MS && c->burst_ns == 100 * MS && c->max_delay_ns == 50 * MS);
    const char *slow[] = {"average", "6", "period", "1m", "burst", "0", NULL};
    c = make(slow);
    CHECK(c->interval_ns == 10000 * MS && c->burst_ns == 10000 * MS && c->max_delay_ns == 500 * MS);
    const char *zero[] = {"average", "0", "burst", "3", NULL};
    c = make(zero);
    CHECK(c->interval_ns == 0); /* no limit */
    for (int i = 0; i < 100; i++)
        CHECK(mw_test_request(&t, t.mws[0] = mw_test_build(&t, "rateLimit", zero), "GET", "a.test", "/") == MW_NEXT);
    const char *none[] = {NULL};
    c = make(none);
    CHECK(c != NULL && c->interval_ns == 0);

    /* exemptSourceRange (internal: ingress-nginx's limit-whitelist): those clients are not limited */
    const char *ex[] = {"average", "1", "exemptSourceRange", "127.0.0.0/8, ::1", NULL};
    c = make(ex);
    CHECK(c != NULL && c->exempt.n == 2);
    struct mw_run er = {.req = &t.req};
    snprintf(er.client.ip_text, sizeof(er.client.ip_text), "127.0.0.9");
    CHECK(source_exempt_has(&c->exempt, &er));
    snprintf(er.client.ip_text, sizeof(er.client.ip_text), "::1");
    CHECK(source_exempt_has(&c->exempt, &er));
    snprintf(er.client.ip_text, sizeof(er.client.ip_text), "10.0.0.1");
    CHECK(!source_exempt_has(&c->exempt, &er));
    er.client.ip_text[0] = '\0';
    CHECK(!source_exempt_has(&c->exempt, &er));
    CHECK(!source_exempt_has(&make(avg)->exempt, &er));
    const char *bad_ex[] = {"average", "1", "exemptSourceRange", "nope", NULL};
    refused(bad_ex, "exemptSourceRange: 'nope' is not an IP address or CIDR");

    /* the bucket: burst 5 at 10/s; maxDelay 50ms */
    const char *b5[] = {"average", "10", "burst", "5", NULL};
    c = make(b5);
    for (int i = 0; i < 5; i++)
        CHECK(rl_reserve(c, 7, T0, &delay) && delay == 0);
    CHECK(!rl_reserve(c, 7, T0, &delay) && delay == 100 * MS); /* would wait 100ms > 50ms: refused, nothing taken */
    CHECK(!rl_reserve(c, 7, T0 + 10 * MS, &delay) && delay == 90 * MS);
    CHECK(rl_reserve(c, 7, T0 + 60 * MS, &delay) && delay == 40 * MS); /* held 40ms, then through */
    CHECK(!rl_reserve(c, 7, T0 + 60 * MS, &delay) && delay == 140 * MS);
    CHECK(rl_reserve(c, 8, T0, &delay) && delay == 0); /* another source has its own bucket */
    /* refilled after burst/average: five again */
    for (int i = 0; i < 5; i++)
        CHECK(rl_reserve(c, 7, T0 + 1100 * MS, &delay) && delay == 0);
    CHECK(!rl_reserve(c, 7, T0 + 1100 * MS, &delay));
    /* sustained: over 3s a greedy client gets average/s (plus the burst) */
    int n = 0;
    for (int64_t now = T0 + 10000 * MS; now < T0 + 13000 * MS; now += MS)
        while (rl_reserve(c, 9, now, &delay))
            n++;
    CHECK(n >= 5 + 30 && n <= 5 + 31);

    /* many sources: the table stays bounded; full buckets are reused
     * without loss */
    for (uint64_t k = 1; k <= 200000; k++)
        rl_reserve(c, k * 0x9e3779b97f4a7c15ULL, T0 + 20000 * MS, &delay);
    for (int i = 0; i < 5; i++)
        CHECK(rl_reserve(c, 123456789, T0 + 30000 * MS, &delay) && delay == 0);
    CHECK(!rl_reserve(c, 123456789, T0 + 30000 * MS, &delay));

    /* several threads on one bucket at one instant: exactly the burst */
    const char *b50[] = {"average", "100", "burst", "50", NULL};
    c = make(b50);
    struct hammer hs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        hs[i] = (struct hammer){c, 0};
        pthread_create(&th[i], NULL, hammer_main, &hs[i]);
    }
    int total = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        total += hs[i].admitted;
    }
    CHECK(total == 50);

    /* Go's Duration.String for X-Retry-In */
    CHECK_STR(dur(100 * MS), "100ms");
    CHECK_STR(dur(333333333), "333.333333ms");
    CHECK_STR(dur(1500 * MS), "1.5s");
    CHECK_STR(dur(2 * NS_PER_S), "2s");
    CHECK_STR(dur(61 * NS_PER_S), "1m1s");
    CHECK_STR(dur(3723 * NS_PER_S), "1h2m3s");
    CHECK_STR(dur(1500), "1.5µs");
    CHECK_STR(dur(999), "999ns");

    /* sourceCriterion options reach the middleware */
    const char *hdr[] = {"average", "1", "sourceCriterion.requestHeaderName", "X-Key", NULL};
    c = make(hdr);
    CHECK(c->src.kind == SOURCE_HEADER);
    const char *label[] = {"average", "1", "sourcecriterion.requesthost", "true", NULL}; /* Docker labels */
    c = make(label);
    CHECK(c->src.kind == SOURCE_HOST);

    const char *neg[] = {"average", "-1", NULL};
    refused(neg, "rateLimit: average: '-1'");
    const char *badp[] = {"average", "1", "period", "soon", NULL};
    refused(badp, "period: 'soon' is not a duration");
    const char *negp[] = {"average", "1", "period", "-1s", NULL};
    refused(negp, "period");
    const char *badb[] = {"average", "1", "burst", "many", NULL};
    refused(badb, "burst");
    /* redis: every option of Traefik's read; what cannot be honoured refused */
    const char *redis[] = {"average", "10", "burst", "5", "redis.endpoints", "127.0.0.1:6390", "redis.username", "u",
                           "redis.password", "p", "redis.db", "2", "redis.dialTimeout", "1s", "redis.readTimeout", "2s",
                           "redis.writeTimeout", "500ms", "redis.poolSize", "10", "redis.minIdleConns", "1",
                           "redis.maxActiveConns", "20", NULL};
    c = make(redis);
    CHECK(c != NULL && c->redis != NULL && c->slots == NULL);
    if (c && c->redis) {
        const struct redis_limiter *r = c->redis;
        CHECK_STR(r->host, "127.0.0.1");
        CHECK(r->port == 6390 && r->db == 2 && r->dial_ms == 1000 && r->io_ms == 2500);
        CHECK_STR(r->key_prefix, "rate:test@file:");
        CHECK_STR(r->username, "u");
        CHECK_STR(r->rate_arg, "1.0000000000000001e-05");
        CHECK_STR(r->ttl_arg, "2");
        CHECK_STR(r->max_delay_arg, "50000");
        CHECK(strlen(r->sha) == 40);
    }
    const char *rdef[] = {"average", "1", "period", "10s", "redis.endpoints", "localhost", NULL};
    c = make(rdef);
    CHECK(c && c->redis && c->redis->port == 6379 && c->redis->dial_ms == 5000 && c->redis->io_ms == 6000);
    CHECK(c && c->redis && strcmp(c->redis->ttl_arg, "11") == 0); /* Traefik: 1 + 1/rate below 1/s */
    /* 0 as go-redis reads what Traefik passes: readTimeout 0 no deadline,
     * writeTimeout 0 readTimeout's; dialTimeout 0 the default 5s */
    CHECK(redis_limiter_io_ms(3000, 3000) == 6000 && redis_limiter_io_ms(2000, 0) == 4000);
    CHECK(redis_limiter_io_ms(0, 0) == 0 && redis_limiter_io_ms(0, 500) == 0);
    const char *rnone[] = {"average", "1", "redis.endpoints", "localhost", "redis.readTimeout", "0s", "redis.dialTimeout", "0",
                           NULL};
    c = make(rnone);
    CHECK(c && c->redis && c->redis->io_ms == 0 && c->redis->dial_ms == 5000);
    const char *rpool[] = {"average", "1", "redis.poolSize", "-1", NULL};
    refused(rpool, "redis.poolSize");
    const char *rtls[] = {"average", "1", "redis.tls.ca", "/x.pem", NULL};
    refused(rtls, "redis.tls: TLS to Redis is not supported");
    const char *rcluster[] = {"average", "1", "redis.endpoints", "10.0.0.1:6379,10.0.0.2:6379", NULL};
    refused(rcluster, "redis.endpoints: one endpoint only");
    const char *rdb[] = {"average", "1", "redis.db", "x", NULL};
    refused(rdb, "redis.db");
    const char *rdial[] = {"average", "1", "redis.dialTimeout", "soon", NULL};
    refused(rdial, "redis.dialTimeout");
    const char *rport[] = {"average", "1", "redis.endpoints", "127.0.0.1:99999", NULL};
    refused(rport, "invalid port");
    const char *runk[] = {"average", "1", "redis.endpoint", "127.0.0.1:6379", NULL};
    refused(runk, "unknown option 'redis.endpoint'");
    const char *rzero[] = {"average", "0", "redis.endpoints", "127.0.0.1:6379", NULL}; /* no limit: Redis unused */
    c = make(rzero);
    CHECK(c && c->interval_ns == 0 && c->redis == NULL);
    const char *excl[] = {"average", "1", "sourceCriterion.requestHost", "true", "sourceCriterion.ipStrategy.depth", "1", NULL};
    refused(excl, "mutually exclusive");
    const char *unknown[] = {"average", "1", "burts", "1", NULL};
    refused(unknown, "unknown option 'burts'");
    mw_test_free(&t);
    return test_report("proxy/middleware/mw_rate_limit");
}
