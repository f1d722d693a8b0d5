/* Tests controller/acme/acme_dns_query.c: resolver addresses (IPv4, IPv6,
 * ports, what is refused), and one exchange with a DNS server on a
 * loopback socket (UDP, then TCP when the UDP answer is truncated) whose
 * answer holds a CNAME and TXT records, read back by the readers. */
#include "../../../controller/acme/acme_dns_query.c"

#include <pthread.h>

#include "test.h"

static void test_parse(void)
{
    struct acme_dns_server s;
    char why[256];
    CHECK(acme_dns_server_parse("1.1.1.1", &s, why, sizeof(why)) == 0);
    CHECK(s.addr.ss_family == AF_INET && ntohs(((struct sockaddr_in *)&s.addr)->sin_port) == 53);
    CHECK(acme_dns_server_parse("127.0.0.1:8053", &s, why, sizeof(why)) == 0);
    CHECK(ntohs(((struct sockaddr_in *)&s.addr)->sin_port) == 8053);
    CHECK_STR(s.name, "127.0.0.1:8053");
    CHECK(acme_dns_server_parse("[::1]:5353", &s, why, sizeof(why)) == 0);
    CHECK(s.addr.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 5353);
    CHECK_STR(s.name, "[::1]:5353");
    CHECK(acme_dns_server_parse("[2606:4700:4700::1111]", &s, why, sizeof(why)) == 0);
    CHECK(s.addr.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 53);
    CHECK(acme_dns_server_parse("2001:db8::53", &s, why, sizeof(why)) == 0); /* bare IPv6: port 53 */
    CHECK(s.addr.ss_family == AF_INET6 && ntohs(((struct sockaddr_in6 *)&s.addr)->sin6_port) == 53);
    const char *bad[] = {"ns.example:53", "[::1", "[::1]x", "[::1]:0", "1.1.1.1:", "1.1.1.1:99999", ":53", "[]:53", "", "::1]:53"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        CHECK(acme_dns_server_parse(bad[i], &s, why, sizeof(why)) == -1);
        CHECK(strstr(why, bad[i]) != NULL);
    }
    struct acme_dns_server sys[4];
    CHECK(acme_dns_system_servers(sys, 4) >= 1);
    CHECK(acme_dns_same_name("A.Example.", "a.example") && !acme_dns_same_name("a.example", "b.example"));
}

/* The loopback server: answers one question with a CNAME (to target.test.) and two TXT records at target.test. */
struct srv {
    int udp, tcp;
    bool truncate;
    int questions;
};

static size_t put_name(unsigned char *p, const char *name)
{
    size_t o = 0;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t l = dot ? (size_t)(dot - name) : strlen(name);
        p[o++] = (unsigned char)l;
        memcpy(p + o, name, l);
        o += l;
        name += l + (dot ? 1 : 0);
    }
    p[o++] = 0;
    return o;
}

static size_t put_rr_head(unsigned char *p, int type, size_t rdlen)
{
    unsigned char h[] = {0, (unsigned char)type, 0, 1, 0, 0, 0, 60, (unsigned char)(rdlen >> 8), (unsigned char)rdlen};
    memcpy(p, h, sizeof(h));
    return sizeof(h);
}

static size_t answer(const unsigned char *q, size_t qlen, unsigned char *a, bool truncated)
{
    memcpy(a, q, qlen);
    a[2] = (unsigned char)(0x80 | (q[2] & 0x01) | (truncated ? 0x02 : 0));
    a[3] = 0x80; /* RA, NOERROR */
    a[7] = truncated ? 0 : 3;
    if (truncated)
        return qlen;
    size_t o = qlen;
    a[o++] = 0xc0; /* the question's name */
    a[o++] = 12;
    unsigned char target[64];
    size_t tl = put_name(target, "target.test");
    o += put_rr_head(a + o, ns_t_cname, tl);
    memcpy(a + o, target, tl);
    o += tl;
    const char *txts[] = {"other", "expected-value"};
    for (int i = 0; i < 2; i++) {
        memcpy(a + o, target, tl);
        o += tl;
        size_t l = strlen(txts[i]);
        o += put_rr_head(a + o, ns_t_txt, l + 1);
        a[o++] = (unsigned char)l;
        memcpy(a + o, txts[i], l);
        o += l;
    }
    return o;
}

static void *serve(void *arg)
{
    struct srv *s = arg;
    unsigned char q[512], a[1024];
    struct sockaddr_storage from;
    socklen_t fl = sizeof(from);
    ssize_t n = recvfrom(s->udp, q, sizeof(q), 0, (struct sockaddr *)&from, &fl);
    if (n < 12)
        return NULL;
    s->questions++;
    size_t al = answer(q, (size_t)n, a, s->truncate);
    sendto(s->udp, a, al, 0, (struct sockaddr *)&from, fl);
    if (!s->truncate)
        return NULL;
    int c = accept(s->tcp, NULL, NULL);
    if (c < 0)
        return NULL;
    unsigned char lb[2];
    if (recv(c, lb, 2, MSG_WAITALL) == 2 && recv(c, q, (size_t)(lb[0] << 8 | lb[1]), MSG_WAITALL) == (lb[0] << 8 | lb[1])) {
        al = answer(q, (size_t)(lb[0] << 8 | lb[1]), a + 2, false);
        a[0] = (unsigned char)(al >> 8);
        a[1] = (unsigned char)al;
        send(c, a, al + 2, 0);
    }
    close(c);
    return NULL;
}

static void exchange_with(int family, bool truncate)
{
    struct srv s = {.truncate = truncate};
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_family = (sa_family_t)family;
    socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
    /* TCP and UDP on one port: a port free for TCP may be taken for UDP (or the reverse); tried again */
    bool bound = false;
    for (int attempt = 0; attempt < 50 && !bound; attempt++) {
        if (family == AF_INET)
            ((struct sockaddr_in *)&ss)->sin_port = 0;
        else
            ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
        len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
        s.tcp = socket(family, SOCK_STREAM, 0);
        s.udp = socket(family, SOCK_DGRAM, 0);
        bound = s.tcp >= 0 && s.udp >= 0 && bind(s.tcp, (struct sockaddr *)&ss, len) == 0 &&
                getsockname(s.tcp, (struct sockaddr *)&ss, &len) == 0 && bind(s.udp, (struct sockaddr *)&ss, len) == 0 &&
                listen(s.tcp, 1) == 0;
        if (!bound) {
            close(s.tcp);
            close(s.udp);
        }
    }
    CHECK(bound);
    struct acme_dns_server server = {.len = len};
    memcpy(&server.addr, &ss, len);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, serve, &s) == 0);
    unsigned char *msg = malloc(ACME_DNS_MAX_MSG);
    char why[256] = "", seen[128], target[ACME_DNS_NAME_MAX];
    int n = acme_dns_exchange(&server, "_acme-challenge.a.test.", ns_t_txt, true, 3000, msg, why, sizeof(why));
    pthread_join(t, NULL);
    CHECK(n > 0 && s.questions == 1);
    CHECK(acme_dns_rcode(msg, n) == ns_r_noerror);
    CHECK(acme_dns_answer_cname(msg, n, "_ACME-challenge.a.test.", target, sizeof(target)) == 1);
    CHECK_STR(target, "target.test.");
    CHECK(acme_dns_answer_cname(msg, n, "b.test.", target, sizeof(target)) == 0);
    CHECK(acme_dns_answer_txt(msg, n, "expected-value", seen, sizeof(seen)) == 1);
    CHECK(acme_dns_answer_txt(msg, n, "missing", seen, sizeof(seen)) == 0);
    CHECK_STR(seen, "other; expected-value");
    CHECK(acme_dns_answer_has(msg, n, ns_t_txt, "target.test") && !acme_dns_answer_has(msg, n, ns_t_soa, NULL));
    close(s.udp);
    close(s.tcp);

    /* nobody answering: bounded, and said so */
    why[0] = '\0';
    int quiet = socket(family, SOCK_DGRAM, 0);
    len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = 0;
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = 0;
    CHECK(bind(quiet, (struct sockaddr *)&ss, len) == 0 && getsockname(quiet, (struct sockaddr *)&ss, &len) == 0);
    memcpy(&server.addr, &ss, len);
    CHECK(acme_dns_exchange(&server, "a.test", ns_t_txt, true, 300, msg, why, sizeof(why)) == -1);
    CHECK(strstr(why, "no answer within 300 ms") != NULL);
    close(quiet);
    CHECK(acme_dns_exchange(&server, "bad..name", ns_t_txt, true, 300, msg, why, sizeof(why)) == -1);
    CHECK(strstr(why, "is not a domain name") != NULL);
    free(msg);
}

int main(void)
{
    test_parse();
    exchange_with(AF_INET, false);
    exchange_with(AF_INET, true);
    exchange_with(AF_INET6, false);
    return test_report("controller/acme_dns_query");
}
