/* Tests proxy/tcp/table_tcp.c: priority order, SNI exact/wildcard/catch-all,
 * TLS-only modes, entry points, ClientIP, and which rules need an SNI. */
#include "../../../../proxy/tcp/table_tcp.c"

#include "test.h"

static struct table *t;
static struct table_tcp_service *svc;

static void add(const char *name, const char *rule, int64_t prio, uint64_t eps, enum table_tcp_mode mode)
{
    struct diag d;
    struct rule_node *n = rule_parse_tcp(&t->arena, rule, &d);
    CHECK(n != NULL);
    if (n)
        table_tcp_add_route(t, name, rule, n, prio, eps, mode, svc);
}

static const char *lookup(uint32_t ep, bool tls, const char *sni, const char *ip)
{
    uint8_t ip16[16] = {0};
    struct rule_cidr c;
    if (ip && rule_parse_cidr(ip, strlen(ip), &c) == 0)
        memcpy(ip16, c.addr, 16);
    const struct table_tcp_route *r = table_tcp_lookup(t, ep, tls, sni, strlen(sni), ip16);
    return r ? r->name : "none";
}

static bool needs_sni(const char *rule)
{
    struct diag d;
    struct rule_node *n = rule_parse_tcp(&t->arena, rule, &d);
    return n && table_tcp_rule_needs_sni(n);
}

int main(void)
{
    t = table_new(2);
    svc = table_tcp_add_service(t, "s@file", 2);
    struct diag d;
    CHECK(table_tcp_set_server(t, svc, 0, "127.0.0.1:9000", &d) == 0);
    CHECK(table_tcp_set_server(t, svc, 1, "[::1]:9001", &d) == 0);
    CHECK(svc->servers[1].srv != NULL && svc->servers[1].srv->addr.sa.sa_family == AF_INET6);
    CHECK(table_tcp_set_server(t, svc, 1, "127.0.0.1", &d) != 0);
    CHECK_CONTAINS(d.msg, "host:port");
    CHECK(table_tcp_set_server(t, svc, 1, "127.0.0.1:0", &d) != 0);
    CHECK(table_tcp_find_service(t, "s@file") == svc && table_tcp_find_service(t, "x@file") == NULL);

    add("exact", "HostSNI(`a.test`)", 0, 1, TCP_PASSTHROUGH);
    add("wild", "HostSNI(`*.wild.test`)", 0, 1, TCP_TERMINATE);
    add("catchall-tls", "HostSNI(`*`)", 1, 1, TCP_PASSTHROUGH);
    add("plain", "HostSNI(`*`)", 1, 2, TCP_PLAIN);
    add("office", "HostSNI(`*`) && ClientIP(`10.0.0.0/8`)", 100, 2, TCP_PLAIN);
    table_finish(t);

    CHECK(t->tcp->eps == 3 && t->tcp->eps_hello == 1);
    CHECK_STR(lookup(0, true, "a.test", NULL), "exact");
    CHECK_STR(lookup(0, true, "x.wild.test", NULL), "wild");
    CHECK_STR(lookup(0, true, "y.x.wild.test", NULL), "catchall-tls"); /* one label only */
    CHECK_STR(lookup(0, true, "", NULL), "catchall-tls");              /* no SNI */
    CHECK_STR(lookup(0, false, "", NULL), "none");                     /* TLS routes need a hello */
    CHECK_STR(lookup(1, false, "", "192.0.2.1"), "plain");
    CHECK_STR(lookup(1, false, "", "10.1.2.3"), "office"); /* higher priority */
    CHECK_STR(lookup(1, true, "a.test", NULL), "plain");   /* plain catch-all takes TLS bytes too */
    CHECK_STR(lookup(2, true, "a.test", NULL), "none");    /* no route on this entry point */

    CHECK(needs_sni("HostSNI(`a.test`)"));
    CHECK(!needs_sni("HostSNI(`*`)"));
    CHECK(needs_sni("HostSNIRegexp(`.*`)"));
    CHECK(!needs_sni("HostSNI(`a.test`) || HostSNI(`*`)"));
    CHECK(needs_sni("HostSNI(`*`) && HostSNI(`a.test`)"));
    CHECK(!needs_sni("ClientIP(`10.0.0.0/8`)"));
    table_free(t);
    return test_report("proxy/tcp/table_tcp");
}
