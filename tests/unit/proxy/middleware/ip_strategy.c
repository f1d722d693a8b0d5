/* Tests proxy/middleware/ip_strategy.c: Traefik's ipStrategy (remote
 * address, X-Forwarded-For depth, excludedIPs, ipv6Subnet) and
 * sourceCriterion (one of ipStrategy, requestHeaderName, requestHost). */
#include "../../../../proxy/middleware/ip_strategy.c"

#include "mw_test.h"

#include "../../test.h"

static struct mw_test t;

static struct mw_options opts(const char *const *kv, const char **keys, const char **values, bool *used)
{
    size_t n = 0;
    for (; kv[2 * n]; n++) {
        keys[n] = kv[2 * n];
        values[n] = kv[2 * n + 1];
        used[n] = false;
    }
    return (struct mw_options){keys, values, n, used};
}

/* The address <kv>'s strategy (under "s") picks for a client <ip> sending
 * X-Forwarded-For <xff> (NULL: none); "ERR" when the options are refused. */
static const char *pick(const char *const *kv, const char *ip, const char *xff)
{
    const char *keys[16], *values[16];
    bool used[16];
    struct mw_options o = opts(kv, keys, values, used);
    struct ip_strategy s;
    struct diag d;
    if (ip_strategy_build(&t.arena, &o, "s", &s, &d) != 0)
        return "ERR";
    h2o_mem_clear_pool(&t.req.pool);
    t.req.headers = (h2o_headers_t){NULL};
    if (xff)
        mw_test_add_header(&t, "X-Forwarded-For", xff);
    struct mw_run run = {.req = &t.req};
    snprintf(run.client.ip_text, sizeof(run.client.ip_text), "%s", ip);
    static char buf[IP_STRATEGY_TEXT];
    size_t len = ip_strategy_get(&s, &run, buf);
    buf[len] = '\0';
    return buf;
}

static const char *criterion(const char *const *kv, enum source_kind def, const char *host, const char *hdr)
{
    const char *keys[16], *values[16];
    bool used[16];
    struct mw_options o = opts(kv, keys, values, used);
    struct source_criterion c;
    static char err[1100];
    struct diag d;
    if (source_criterion_build(&t.arena, &o, def, &c, &d) != 0) {
        snprintf(err, sizeof(err), "ERR %s", d.msg);
        return err;
    }
    h2o_mem_clear_pool(&t.req.pool);
    t.req.headers = (h2o_headers_t){NULL};
    t.req.authority = h2o_iovec_init(host, strlen(host));
    if (hdr)
        mw_test_add_header(&t, "X-Tenant", hdr);
    struct mw_run run = {.req = &t.req};
    strcpy(run.client.ip_text, "192.0.2.9");
    static char buf[IP_STRATEGY_TEXT * 2];
    char kb[IP_STRATEGY_TEXT];
    h2o_iovec_t k = source_criterion_key(&c, &run, kb);
    snprintf(buf, sizeof(buf), "%.*s", (int)k.len, k.base);
    return buf;
}

int main(void)
{
    mw_test_init(&t);
    const char *none[] = {NULL};
    CHECK_STR(pick(none, "10.0.0.1", "1.1.1.1"), "10.0.0.1"); /* default: the remote address, XFF ignored */
    const char *d1[] = {"s.depth", "1", NULL}, *d2[] = {"s.depth", "2", NULL}, *d3[] = {"s.depth", "3", NULL};
    CHECK_STR(pick(d1, "10.0.0.1", "1.1.1.1, 2.2.2.2"), "2.2.2.2");
    CHECK_STR(pick(d2, "10.0.0.1", "1.1.1.1, 2.2.2.2"), "1.1.1.1");
    CHECK_STR(pick(d3, "10.0.0.1", "1.1.1.1, 2.2.2.2"), ""); /* too short: no address */
    CHECK_STR(pick(d1, "10.0.0.1", NULL), "");
    CHECK_STR(pick(d2, "10.0.0.1", " a ,, b"), "");
    const char *ex[] = {"s.excludedIPs", "2.2.2.0/24,10.0.0.0/8", NULL};
    CHECK_STR(pick(ex, "10.0.0.1", "1.1.1.1, 3.3.3.3, 10.1.1.1, 2.2.2.7"), "3.3.3.3");
    CHECK_STR(pick(ex, "10.0.0.1", "2.2.2.1"), "");
    CHECK_STR(pick(ex, "10.0.0.1", NULL), "");
    CHECK_STR(pick(ex, "10.0.0.1", "3.3.3.3, , 2.2.2.1,"), "3.3.3.3"); /* empty entries skipped */
    const char *exsub[] = {"s.excludedIPs", "2.2.2.0/24", "s.ipv6Subnet", "64", NULL};
    CHECK_STR(pick(exsub, "10.0.0.1", "2001:db8::1:2, 2.2.2.1"), "2001:db8::1:2"); /* no subnet there */
    const char *both[] = {"s.depth", "1", "s.excludedIPs", "2.2.2.2", NULL}; /* depth wins, as in Traefik */
    CHECK_STR(pick(both, "10.0.0.1", "1.1.1.1, 2.2.2.2"), "2.2.2.2");
    const char *sub[] = {"s.ipv6Subnet", "64", NULL};
    CHECK_STR(pick(sub, "2001:db8:1:2:3:4:5:6", NULL), "2001:db8:1:2::");
    CHECK_STR(pick(sub, "10.0.0.1", NULL), "10.0.0.1");
    const char *subd[] = {"s.depth", "1", "s.ipv6Subnet", "48", NULL};
    CHECK_STR(pick(subd, "10.0.0.1", "2001:db8:1:2::9"), "2001:db8:1::");
    const char *bad0[] = {"s.ipv6Subnet", "0", NULL};
    CHECK_STR(pick(bad0, "10.0.0.1", NULL), "ERR");
    const char *bad1[] = {"s.depth", "-1", NULL}, *bad2[] = {"s.ipv6Subnet", "129", NULL},
               *bad3[] = {"s.excludedIPs", "1.2.3.4/40", NULL};
    CHECK_STR(pick(bad1, "10.0.0.1", NULL), "ERR");
    CHECK_STR(pick(bad2, "10.0.0.1", NULL), "ERR");
    CHECK_STR(pick(bad3, "10.0.0.1", NULL), "ERR");

    uint8_t a[16], want4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    CHECK(ip_strategy_parse_addr(H2O_STRLIT("1.2.3.4"), a) && memcmp(a, want4, 16) == 0);
    CHECK(ip_strategy_parse_addr(H2O_STRLIT("1.2.3.4:8080"), a) && memcmp(a, want4, 16) == 0);
    CHECK(ip_strategy_parse_addr(H2O_STRLIT("[::1]:80"), a) && a[15] == 1 && a[0] == 0);
    CHECK(ip_strategy_parse_addr(H2O_STRLIT("::1"), a) && a[15] == 1);
    CHECK(!ip_strategy_parse_addr(H2O_STRLIT("[::1]"), a)); /* brackets without a port: Go refuses too */
    CHECK(!ip_strategy_parse_addr(H2O_STRLIT("example.com"), a) && !ip_strategy_parse_addr(H2O_STRLIT(""), a));

    /* sourceCriterion: defaults per middleware, each kind, exclusivity */
    CHECK_STR(criterion(none, SOURCE_IP, "a.test", NULL), "192.0.2.9");
    CHECK_STR(criterion(none, SOURCE_HOST, "a.test:8080", NULL), "a.test:8080");
    const char *hdr[] = {"sourceCriterion.requestHeaderName", "x-tenant", NULL};
    CHECK_STR(criterion(hdr, SOURCE_IP, "a.test", "blue"), "blue");
    CHECK_STR(criterion(hdr, SOURCE_IP, "a.test", NULL), ""); /* absent header: one shared key, as in Traefik */
    const char *host[] = {"sourceCriterion.requestHost", "true", NULL};
    CHECK_STR(criterion(host, SOURCE_IP, "b.test", NULL), "b.test");
    const char *ipd[] = {"sourceCriterion.ipStrategy.depth", "1", NULL};
    CHECK_STR(criterion(ipd, SOURCE_HOST, "b.test", NULL), ""); /* no X-Forwarded-For */
    const char *ipe[] = {"sourceCriterion.ipStrategy", "", NULL}; /* "ipStrategy:" with nothing under it */
    CHECK_STR(criterion(ipe, SOURCE_HOST, "b.test", NULL), "192.0.2.9");
    const char *x1[] = {"sourceCriterion.requestHost", "true", "sourceCriterion.requestHeaderName", "x", NULL};
    CHECK_CONTAINS(criterion(x1, SOURCE_IP, "b.test", NULL), "mutually exclusive");
    const char *x2[] = {"sourceCriterion.ipStrategy.depth", "1", "sourceCriterion.requestHost", "true", NULL};
    CHECK_CONTAINS(criterion(x2, SOURCE_IP, "b.test", NULL), "mutually exclusive");
    const char *x3[] = {"sourceCriterion.requestHost", "maybe", NULL};
    CHECK_CONTAINS(criterion(x3, SOURCE_IP, "b.test", NULL), "sourceCriterion.requestHost");

    CHECK(source_hash(1, h2o_iovec_init("", 0)) != 0);
    CHECK(source_hash(1, h2o_iovec_init("a", 1)) != source_hash(1, h2o_iovec_init("b", 1)));
    CHECK(source_hash(1, h2o_iovec_init("a", 1)) != source_hash(2, h2o_iovec_init("a", 1)));
    mw_test_free(&t);
    return test_report("proxy/middleware/ip_strategy");
}
