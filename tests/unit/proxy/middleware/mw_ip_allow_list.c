/* Tests proxy/middleware/mw_ip_allow_list.c: options (sourceRange,
 * rejectStatusCode, ipStrategy; the v2 name ipWhiteList) and which clients
 * are let through. The refusal itself (an answer) is tested in
 * tests/integration/test_mw_limits.py. */
#include "../../../../proxy/middleware/mw_ip_allow_list.c"

#include "mw_test.h"

#include "../../test.h"

static struct mw_test t;

static bool lets(struct table_middleware *m, const char *ip, const char *xff)
{
    h2o_mem_clear_pool(&t.req.pool);
    t.req.headers = (h2o_headers_t){NULL};
    if (xff)
        mw_test_add_header(&t, "X-Forwarded-For", xff);
    struct mw_run run = {.req = &t.req};
    snprintf(run.client.ip_text, sizeof(run.client.ip_text), "%s", ip);
    return allowed(m->cfg, &run);
}

static void refused(const char *type, const char *const *kv, const char *why)
{
    CHECK(mw_test_build(&t, type, kv) == NULL);
    CHECK_CONTAINS(t.error, why);
}

int main(void)
{
    mw_test_init(&t);
    const char *empty_deny[] = {"rejectStatusCode", "403", NULL};
    const char *kv[] = {"sourceRange", "127.0.0.1/32, 192.168.1.7, 10.0.0.0/8, fd00::/8", NULL};
    struct table_middleware *m = mw_test_build(&t, "ipAllowList", kv);
    CHECK(m != NULL);
    const struct ip_allow_list *c = m->cfg;
    CHECK(c->status == 403 && strcmp(c->reason, "Forbidden") == 0 && c->n == 4);
    CHECK(lets(m, "127.0.0.1", NULL) && lets(m, "192.168.1.7", NULL) && lets(m, "10.200.3.4", NULL));
    CHECK(lets(m, "fd12::1", NULL));
    CHECK(!lets(m, "127.0.0.2", NULL) && !lets(m, "192.168.1.8", NULL) && !lets(m, "::1", NULL));
    CHECK(!lets(m, "", NULL));
    CHECK(lets(m, "127.0.0.1", "8.8.8.8")); /* default strategy: X-Forwarded-For is not looked at */

    const char *depth[] = {"sourceRange", "10.0.0.0/8", "ipStrategy.depth", "2", NULL};
    m = mw_test_build(&t, "ipallowlist", depth); /* labels arrive lowercased */
    CHECK(m != NULL);
    CHECK(lets(m, "8.8.8.8", "1.1.1.1, 10.0.0.5, 2.2.2.2"));
    CHECK(!lets(m, "10.0.0.1", "10.0.0.5, 2.2.2.2, 10.0.0.6"));
    CHECK(!lets(m, "10.0.0.1", "10.0.0.5")); /* too short: no address: refused */
    CHECK(!lets(m, "10.0.0.1", NULL));
    CHECK(lets(m, "8.8.8.8", "10.0.0.5:4711, 2.2.2.2")); /* host:port entries */
    CHECK(!lets(m, "8.8.8.8", "garbage, 2.2.2.2"));

    const char *excl[] = {"sourceRange", "1.1.1.1", "ipStrategy.excludedIPs", "2.2.2.0/24, 10.0.0.0/8", NULL};
    m = mw_test_build(&t, "ipAllowList", excl);
    CHECK(m != NULL);
    CHECK(lets(m, "8.8.8.8", "1.1.1.1, 10.0.0.5, 2.2.2.2"));
    CHECK(!lets(m, "8.8.8.8", "1.1.1.1, 3.3.3.3, 2.2.2.2"));

    const char *v6[] = {"sourceRange", "2001:db8:1:2::/64", "ipStrategy.ipv6Subnet", "64", NULL};
    m = mw_test_build(&t, "ipAllowList", v6);
    CHECK(m != NULL && lets(m, "2001:db8:1:2:aaaa::1", NULL) && !lets(m, "2001:db8:1:3::1", NULL));

    const char *status[] = {"sourceRange", "10.0.0.0/8", "rejectStatusCode", "404", NULL};
    m = mw_test_build(&t, "ipWhiteList", status);
    CHECK(m != NULL && ((const struct ip_allow_list *)m->cfg)->status == 404);
    CHECK_STR(((const struct ip_allow_list *)m->cfg)->reason, "Not Found");
    CHECK_STR(m->type->name, "ipWhiteList");

    /* ipDenyList (internal): the listed clients are refused, and one without an address */
    const char *deny[] = {"sourceRange", "192.0.2.0/24, fd00::/8", NULL};
    m = mw_test_build(&t, "ipDenyList", deny);
    CHECK(m != NULL && ((const struct ip_allow_list *)m->cfg)->status == 403);
    CHECK(!lets(m, "192.0.2.7", NULL) && !lets(m, "fd00::1", NULL) && !lets(m, "", NULL));
    CHECK(lets(m, "127.0.0.1", NULL) && lets(m, "192.0.3.1", NULL) && lets(m, "::1", NULL));
    refused("ipDenyList", empty_deny, "ipDenyList: sourceRange is empty");

    const char *empty[] = {"ipStrategy.depth", "1", NULL};
    refused("ipAllowList", empty, "ipAllowList: sourceRange is empty");
    const char *bad[] = {"sourceRange", "10.0.0.0/8, 300.1.1.1", NULL};
    refused("ipAllowList", bad, "sourceRange: '300.1.1.1' is not an IP address or CIDR");
    const char *badmask[] = {"sourceRange", "10.0.0.0/33", NULL};
    refused("ipWhiteList", badmask, "sourceRange: '10.0.0.0/33'");
    const char *badstatus[] = {"sourceRange", "10.0.0.0/8", "rejectStatusCode", "299", NULL};
    refused("ipAllowList", badstatus, "rejectStatusCode: invalid HTTP status code 299");
    const char *badstatus2[] = {"sourceRange", "10.0.0.0/8", "rejectStatusCode", "forbidden", NULL};
    refused("ipAllowList", badstatus2, "rejectStatusCode");
    const char *baddepth[] = {"sourceRange", "10.0.0.0/8", "ipStrategy.depth", "x", NULL};
    refused("ipAllowList", baddepth, "ipStrategy.depth");
    const char *badexcl[] = {"sourceRange", "10.0.0.0/8", "ipStrategy.excludedIPs", "nope", NULL};
    refused("ipAllowList", badexcl, "ipStrategy.excludedIPs: 'nope'");
    const char *unknown[] = {"sourceRange", "10.0.0.0/8", "sourceRanges", "1.1.1.1", NULL};
    refused("ipAllowList", unknown, "unknown option 'sourceRanges'");
    const char *unknown2[] = {"sourceRange", "10.0.0.0/8", "ipStrategy.dept", "1", NULL};
    refused("ipAllowList", unknown2, "unknown option 'ipStrategy.dept'");
    mw_test_free(&t);
    return test_report("proxy/middleware/mw_ip_allow_list");
}
