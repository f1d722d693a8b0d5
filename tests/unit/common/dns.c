/* Tests common/dns.c: re-resolution schedule, literals, a watched name. */
#include "../../../common/dns.c"

#include "test.h"

static _Atomic int answers;
static char first_ip[64];
static void on_result(void *ctx, const struct dns_addrs *a, const char *err)
{
    (void)ctx;
    (void)err;
    if (a != NULL && atomic_fetch_add(&answers, 1) == 0) {
        if (a->addr[0].ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&a->addr[0])->sin_addr, first_ip, sizeof(first_ip));
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&a->addr[0])->sin6_addr, first_ip, sizeof(first_ip));
    }
}

int main(void)
{
    /* success: the TTL, clamped to [1 s, 60 s] */
    CHECK(dns_next_delay_ms(true, 0, 0) == 1000);
    CHECK(dns_next_delay_ms(true, -5, 0) == 1000);
    CHECK(dns_next_delay_ms(true, 30, 0) == 30000);
    CHECK(dns_next_delay_ms(true, 86400, 0) == 60000);
    /* failure: 1, 2, 4 ... s, capped at 60 s */
    CHECK(dns_next_delay_ms(false, 0, 1) == 1000);
    CHECK(dns_next_delay_ms(false, 0, 2) == 2000);
    CHECK(dns_next_delay_ms(false, 0, 4) == 8000);
    CHECK(dns_next_delay_ms(false, 0, 7) == 60000);
    CHECK(dns_next_delay_ms(false, 0, 1000) == 60000);

    struct sockaddr_storage ss;
    socklen_t len;
    CHECK(dns_literal("10.1.2.3", 8080, &ss, &len) && ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in));
    CHECK(ntohs(((struct sockaddr_in *)&ss)->sin_port) == 8080);
    CHECK(dns_literal("fe80::1", 443, &ss, &len) && ss.ss_family == AF_INET6);
    CHECK(!dns_literal("localhost", 80, &ss, &len));
    CHECK(!dns_literal("1.2.3", 80, &ss, &len));

    /* localhost comes from /etc/hosts, and is asked again after a second */
    struct dns_watch *w = dns_watch("localhost", 80, on_result, NULL);
    CHECK(w != NULL);
    for (int i = 0; i < 300 && atomic_load(&answers) < 2; i++)
        usleep(10000);
    CHECK(atomic_load(&answers) >= 2);
    CHECK(strcmp(first_ip, "127.0.0.1") == 0 || strcmp(first_ip, "::1") == 0);
    dns_unwatch(w);
    int seen = atomic_load(&answers);
    usleep(1200000);
    CHECK(atomic_load(&answers) == seen); /* none after unwatch */
    dns_shutdown();
    return test_report("common/dns");
}
