/* Tests proxy/balancer.c: smooth WRR order, health and passive marks. */
#include "../../../proxy/balancer.c"

#include "../../../proxy/registry.h"
#include "test.h"

static struct table *t;

static struct table_service *service(const int *weights, size_t n)
{
    struct table_service *s = table_add_service(t, "s", true, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        char url[64];
        snprintf(url, sizeof(url), "http://127.0.0.%zu:80", i + 1);
        struct diag d;
        CHECK(table_service_set_server(t, s, (uint32_t)i, url, weights[i], &d) == 0);
    }
    return s;
}

int main(void)
{
    registry_init(2);
    t = table_new(2);
    int w[] = {5, 1, 1};
    struct table_service *s = service(w, 3);
    struct balancer_tried none = {0};
    char seq[8] = {0};
    for (int i = 0; i < 7; i++) {
        uint32_t k = UINT32_MAX; /* balancer_pick sets it only on BALANCER_OK: a failed pick shows as a wrong letter */
        CHECK(balancer_pick(s, 0, 0, &none, &k) == BALANCER_OK);
        seq[i] = (char)('a' + k);
    }
    CHECK_STR(seq, "aabacaa"); /* nginx's smooth sequence for 5,1,1 */

    /* per-worker state: worker 1 starts its own cycle */
    uint32_t k;
    CHECK(balancer_pick(s, 1, 0, &none, &k) == BALANCER_OK && k == 0);

    /* tried servers are skipped */
    struct balancer_tried tried = {.mask = 1};
    int counts[3] = {0};
    for (int i = 0; i < 10; i++) {
        CHECK(balancer_pick(s, 0, 0, &tried, &k) == BALANCER_OK);
        counts[k]++;
    }
    CHECK(counts[0] == 0 && counts[1] == 5 && counts[2] == 5);
    tried.mask = 7;
    CHECK(balancer_pick(s, 0, 0, &tried, &k) == BALANCER_EXHAUSTED);

    /* a passively marked server is avoided while others are up ... */
    atomic_store(&s->servers[0].srv->down_until_ms, 1000);
    for (int i = 0; i < 10; i++) {
        CHECK(balancer_pick(s, 0, 500, &none, &k) == BALANCER_OK);
        CHECK(k != 0);
    }
    /* ... used again after its window ... */
    int zero = 0;
    for (int i = 0; i < 10; i++) {
        CHECK(balancer_pick(s, 0, 2000, &none, &k) == BALANCER_OK);
        zero += k == 0;
    }
    CHECK(zero > 0);
    /* ... and tried as a last resort when everything else is down too */
    atomic_store(&s->servers[1].srv->down_until_ms, 1000);
    atomic_store(&s->servers[2].srv->down_until_ms, 1000);
    CHECK(balancer_pick(s, 0, 500, &none, &k) == BALANCER_OK);

    /* failing active health checks remove servers; none left = NONE_HEALTHY */
    atomic_store(&s->servers[0].srv->healthy, 0);
    atomic_store(&s->servers[1].srv->healthy, 0);
    for (int i = 0; i < 5; i++) {
        CHECK(balancer_pick(s, 0, 5000, &none, &k) == BALANCER_OK);
        CHECK(k == 2);
    }
    atomic_store(&s->servers[2].srv->healthy, 0);
    CHECK(balancer_pick(s, 0, 5000, &none, &k) == BALANCER_NONE_HEALTHY);

    /* weight 0 servers never receive traffic */
    int w0[] = {0, 1};
    struct table_service *s0 = service(w0, 2);
    atomic_store(&s0->servers[0].srv->healthy, 1);
    atomic_store(&s0->servers[1].srv->healthy, 1);
    for (int i = 0; i < 5; i++)
        CHECK(balancer_pick(s0, 0, 0, &none, &k) == BALANCER_OK && k == 1);

    table_free(t);
    CHECK(registry_count() == 0);
    registry_shutdown();
    return test_report("proxy/balancer");
}
