/* Tests proxy/tcp/tcp_balancer.c: shares by weight over whole cycles, the
 * smooth interleaving, weight 0, nested weighted services, an empty child
 * keeping its share, and per-worker state. */
#include "../../../../proxy/tcp/tcp_balancer.c"

#include "../../../../proxy/tcp/table_tcp.h"
#include "test.h"

static struct table *t;

static struct table_tcp_service *weighted(const char *name, struct table_tcp_service **children, const int32_t *weights,
                                          uint32_t n)
{
    struct table_tcp_service *s = table_tcp_add_weighted(t, name, n);
    for (uint32_t i = 0; i < n; i++) {
        s->children[i] = children[i];
        s->child_weights[i] = weights[i];
    }
    return s;
}

int main(void)
{
    t = table_new(2);
    struct table_tcp_service *a = table_tcp_add_service(t, "a@file", 1), *b = table_tcp_add_service(t, "b@file", 1),
                             *c = table_tcp_add_service(t, "c@file", 0);

    /* 3:1 -> exactly 3 a and 1 b in every 4 connections, never three a in a row twice */
    struct table_tcp_service *ab[] = {a, b};
    struct table_tcp_service *w31 = weighted("w31@file", ab, (int32_t[]){3, 1}, 2);
    char seq[9] = {0};
    for (int i = 0; i < 8; i++)
        seq[i] = tcp_balancer_pick(w31, 0) == a ? 'a' : 'b';
    CHECK_STR(seq, "aabaaaba");
    int na = 0;
    for (int i = 0; i < 4000; i++)
        na += tcp_balancer_pick(w31, 0) == a;
    CHECK(na == 3000);

    /* worker 1 has its own counters: its first pick is the cycle's first */
    CHECK(tcp_balancer_pick(w31, 1) == a);

    /* weight 0: never; all 0: refused */
    struct table_tcp_service *w0 = weighted("w0@file", ab, (int32_t[]){0, 5}, 2);
    for (int i = 0; i < 10; i++)
        CHECK(tcp_balancer_pick(w0, 0) == b);
    struct table_tcp_service *none = weighted("none@file", ab, (int32_t[]){0, 0}, 2);
    CHECK(tcp_balancer_pick(none, 0) == NULL);

    /* a leaf is itself */
    CHECK(tcp_balancer_pick(a, 0) == a);

    /* nested: outer {w31: 1, c: 1} -> half to c (empty: its share is refused
     * by the proxy), 3/8 a, 1/8 b */
    struct table_tcp_service *wc[] = {w31, c};
    struct table_tcp_service *outer = weighted("outer@file", wc, (int32_t[]){1, 1}, 2);
    int counts[3] = {0};
    for (int i = 0; i < 800; i++) {
        const struct table_tcp_service *leaf = tcp_balancer_pick(outer, 1);
        counts[leaf == a ? 0 : leaf == b ? 1 : 2]++;
    }
    CHECK(counts[2] == 400);
    CHECK(counts[0] >= 299 && counts[0] <= 301 && counts[0] + counts[1] == 400);

    /* a loop (which the builder refuses) still ends */
    struct table_tcp_service *self = weighted("self@file", ab, (int32_t[]){1, 1}, 2);
    self->children[0] = self;
    self->children[1] = self;
    CHECK(tcp_balancer_pick(self, 0) == NULL);

    table_free(t);
    return test_report("proxy/tcp/tcp_balancer");
}
