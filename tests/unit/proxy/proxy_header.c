/* Tests proxy/proxy_header.c: PROXY protocol v1 and v2 headers, partial and bad ones. */
#include "../../../proxy/proxy_header.c"

#include <stdio.h>

#include "test.h"

static const char *src_text(const struct proxy_header *h)
{
    static char out[80];
    char ip[64];
    if (h->source.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)&h->source;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(out, sizeof(out), "%s:%u", ip, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const void *)&h->source;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(out, sizeof(out), "[%s]:%u", ip, ntohs(a->sin6_port));
    }
    return out;
}

static enum proxy_header_result parse_str(const char *s, struct proxy_header *h)
{
    return proxy_header_parse((const uint8_t *)s, strlen(s), h);
}

static void test_v1(void)
{
    struct proxy_header h;
    const char *tcp4 = "PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
    CHECK(parse_str(tcp4, &h) == PROXY_HEADER_OK);
    CHECK(h.len == strlen("PROXY TCP4 192.0.2.7 10.0.0.1 56324 443\r\n") && h.has_source);
    CHECK_STR(src_text(&h), "192.0.2.7:56324");
    CHECK(parse_str("PROXY TCP6 2001:db8::1 2001:db8::2 4000 80\r\n", &h) == PROXY_HEADER_OK);
    CHECK_STR(src_text(&h), "[2001:db8::1]:4000");
    CHECK(parse_str("PROXY UNKNOWN\r\n", &h) == PROXY_HEADER_OK && !h.has_source && h.len == 15);
    CHECK(parse_str("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &h) == PROXY_HEADER_OK && !h.has_source);
    /* partial: more bytes decide */
    CHECK(parse_str("PRO", &h) == PROXY_HEADER_NEED_MORE);
    CHECK(parse_str("PROXY TCP4 192.0.2.7 10.0", &h) == PROXY_HEADER_NEED_MORE);
    /* not a header */
    CHECK(parse_str("GET / HTTP/1.1\r\n", &h) == PROXY_HEADER_NONE);
    CHECK(parse_str("\x16\x03\x01", &h) == PROXY_HEADER_NONE);
    /* bad ones */
    CHECK(parse_str("PROXY TCP4 192.0.2.7 10.0.0.1 56324\r\n", &h) == PROXY_HEADER_INVALID);
    CHECK(parse_str("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n", &h) == PROXY_HEADER_INVALID);
    CHECK(parse_str("PROXY TCP4 192.0.2.7 10.0.0.1 65536 2\r\n", &h) == PROXY_HEADER_INVALID);
    CHECK(parse_str("PROXY TCP4 192.0.2.7 10.0.0.1 01 2\r\n", &h) == PROXY_HEADER_INVALID);
    CHECK(parse_str("PROXY UDP4 192.0.2.7 10.0.0.1 1 2\r\n", &h) == PROXY_HEADER_INVALID);
    char longline[200];
    memset(longline, 'a', sizeof(longline));
    memcpy(longline, "PROXY ", 6);
    CHECK(proxy_header_parse((const uint8_t *)longline, sizeof(longline), &h) == PROXY_HEADER_INVALID);
}

static void test_v2(void)
{
    struct proxy_header h;
    uint8_t b[64];
    memcpy(b, V2_SIG, 12);
    b[12] = 0x21; /* v2, PROXY */
    b[13] = 0x11; /* INET, STREAM */
    b[14] = 0, b[15] = 12;
    uint8_t src[4] = {198, 51, 100, 9}, dst[4] = {10, 0, 0, 1};
    memcpy(b + 16, src, 4);
    memcpy(b + 20, dst, 4);
    b[24] = 0x1f, b[25] = 0x90; /* 8080 */
    b[26] = 0x01, b[27] = 0xbb;
    CHECK(proxy_header_parse(b, 28, &h) == PROXY_HEADER_OK && h.len == 28 && h.has_source);
    CHECK_STR(src_text(&h), "198.51.100.9:8080");
    CHECK(proxy_header_parse(b, 20, &h) == PROXY_HEADER_NEED_MORE);
    CHECK(proxy_header_parse(b, 8, &h) == PROXY_HEADER_NEED_MORE);
    /* TLVs after the addresses are skipped with the length */
    b[15] = 20;
    CHECK(proxy_header_parse(b, 36, &h) == PROXY_HEADER_OK && h.len == 36);
    /* LOCAL: a health check of the balancer, the connection's own address */
    b[12] = 0x20;
    CHECK(proxy_header_parse(b, 36, &h) == PROXY_HEADER_OK && !h.has_source);
    /* bad version, bad command, addresses shorter than the family needs */
    b[12] = 0x11;
    CHECK(proxy_header_parse(b, 36, &h) == PROXY_HEADER_INVALID);
    b[12] = 0x22;
    CHECK(proxy_header_parse(b, 36, &h) == PROXY_HEADER_INVALID);
    b[12] = 0x21, b[13] = 0x21, b[15] = 12; /* INET6 needs 36 */
    CHECK(proxy_header_parse(b, 28, &h) == PROXY_HEADER_INVALID);
}

int main(void)
{
    test_v1();
    test_v2();
    return test_report("proxy/proxy_header");
}
