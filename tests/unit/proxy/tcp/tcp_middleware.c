/* Tests proxy/tcp/tcp_middleware.c: building TCP ipAllowList / ipWhiteList /
 * inFlightConn from options (bad values and unknown options refused, the
 * option named), admitting connections by client address, inFlightConn
 * counts per address released when the connection closes, and the counters
 * outliving the table that made them. */
#include "../../../../proxy/tcp/tcp_middleware.c"

#include "test.h"

static struct tcp_middleware *build(struct arena *a, const char *type, const char *const *kv, char *err)
{
    size_t n = 0;
    while (kv[2 * n])
        n++;
    const char *keys[8], *values[8];
    for (size_t i = 0; i < n; i++) {
        keys[i] = kv[2 * i];
        values[i] = kv[2 * i + 1];
    }
    struct diag d;
    diag_clear(&d);
    struct tcp_middleware *m = tcp_middleware_build(a, "m@file", type, keys, values, n, &d);
    snprintf(err, 1024, "%s", d.msg);
    return m;
}

static const uint8_t *ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    static uint8_t out[16];
    memset(out, 0, 16);
    out[10] = out[11] = 0xff;
    out[12] = a, out[13] = b, out[14] = c, out[15] = d;
    return out;
}

int main(void)
{
    struct arena a;
    arena_init(&a);
    char err[1024];
    const char *why;

    /* Traefik's example: sourceRange 127.0.0.1/32, 192.168.1.7 */
    const char *allow_kv[] = {"sourceRange", "127.0.0.1/32, 192.168.1.7", NULL};
    struct tcp_middleware *allow = build(&a, "ipAllowList", allow_kv, err);
    CHECK(allow != NULL);
    struct conntrack_conn ct;
    memset(&ct, 0, sizeof(ct));
    CHECK(tcp_middleware_admit(&allow, 1, &ct, ip4(127, 0, 0, 1), &why));
    CHECK(tcp_middleware_admit(&allow, 1, &ct, ip4(192, 168, 1, 7), &why));
    CHECK(!tcp_middleware_admit(&allow, 1, &ct, ip4(127, 0, 0, 2), &why));
    CHECK_STR(why, "m@file");
    CHECK(ct.close_cb == NULL); /* an allow list holds nothing */
    CHECK(build(&a, "ipwhitelist", allow_kv, err) != NULL); /* v2 name, lowercased label */

    const char *empty[] = {NULL};
    CHECK(build(&a, "ipAllowList", empty, err) == NULL);
    CHECK_CONTAINS(err, "ipAllowList: sourceRange is empty");
    const char *bad[] = {"sourceRange", "127.0.0.1/33", NULL};
    CHECK(build(&a, "ipAllowList", bad, err) == NULL);
    CHECK_CONTAINS(err, "sourceRange: '127.0.0.1/33'");
    const char *extra[] = {"sourceRange", "127.0.0.1", "ipStrategy.depth", "1", NULL}; /* not a TCP option */
    CHECK(build(&a, "ipAllowList", extra, err) == NULL);
    CHECK_CONTAINS(err, "unknown option 'ipStrategy.depth'");
    CHECK(build(&a, "rateLimit", allow_kv, err) == NULL);
    CHECK_CONTAINS(err, "TCP middleware type 'rateLimit' is not supported");

    /* inFlightConn: Traefik's example, amount 10; per client address */
    const char *two_kv[] = {"amount", "2", NULL};
    struct arena table;
    arena_init(&table);
    struct tcp_middleware *two = build(&table, "inFlightConn", two_kv, err);
    CHECK(two != NULL);
    struct tcp_middleware *chain[] = {allow, two};
    struct conntrack_conn c1, c2, c3, c4;
    memset(&c1, 0, sizeof(c1));
    c2 = c3 = c4 = c1;
    CHECK(tcp_middleware_admit(chain, 2, &c1, ip4(127, 0, 0, 1), &why) && c1.close_cb != NULL);
    CHECK(tcp_middleware_admit(chain, 2, &c2, ip4(127, 0, 0, 1), &why));
    CHECK(!tcp_middleware_admit(chain, 2, &c3, ip4(127, 0, 0, 1), &why) && c3.close_cb == NULL);
    CHECK(tcp_middleware_admit(chain, 2, &c4, ip4(192, 168, 1, 7), &why)); /* another address */
    c1.close_cb(c1.close_data);                                           /* one closes */
    CHECK(tcp_middleware_admit(chain, 2, &c3, ip4(127, 0, 0, 1), &why));
    CHECK(!tcp_middleware_admit(chain, 2, &c1, ip4(127, 0, 0, 1), &why));
    CHECK(!tcp_middleware_admit(&two, 1, NULL, ip4(10, 0, 0, 1), &why)); /* untracked: refused */
    /* the table goes while connections still hold counts */
    arena_free(&table);
    c2.close_cb(c2.close_data);
    c3.close_cb(c3.close_data);
    c4.close_cb(c4.close_data);

    const char *zero[] = {"amount", "0", NULL};
    struct tcp_middleware *none = build(&a, "inFlightConn", zero, err);
    CHECK(none != NULL && !tcp_middleware_admit(&none, 1, &c1, ip4(127, 0, 0, 1), &why));
    const char *neg[] = {"amount", "-3", NULL};
    CHECK(build(&a, "inFlightConn", neg, err) == NULL);
    CHECK_CONTAINS(err, "inFlightConn: amount: '-3'");
    CHECK(tcp_middleware_refused() >= 4);
    arena_free(&a);
    return test_report("proxy/tcp/tcp_middleware");
}
