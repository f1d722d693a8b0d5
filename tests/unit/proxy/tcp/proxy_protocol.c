/* Tests proxy/tcp/proxy_protocol.c against HAProxy's spec: v1 text lines
 * for IPv4 and IPv6, IPv4-mapped addresses sent as IPv4, UNKNOWN for mixed
 * families, and v2's signature, command, family, length and address block. */
#include "../../../../proxy/tcp/proxy_protocol.c"

#include "test.h"

static struct sockaddr_storage v4(const char *ip, unsigned port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    s->sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, ip, &s->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *ip, unsigned port)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    s->sin6_port = htons((uint16_t)port);
    inet_pton(AF_INET6, ip, &s->sin6_addr);
    return ss;
}

static size_t header(int version, struct sockaddr_storage src, struct sockaddr_storage dst, char *out)
{
    return proxy_protocol_header(version, (struct sockaddr *)&src, (struct sockaddr *)&dst, out);
}

int main(void)
{
    char out[PROXY_PROTOCOL_MAX + 1];
    size_t n = header(1, v4("192.0.2.10", 51234), v4("127.0.0.1", 443), out);
    out[n] = '\0';
    CHECK_STR(out, "PROXY TCP4 192.0.2.10 127.0.0.1 51234 443\r\n");

    n = header(1, v6("2001:db8::1", 40000), v6("::1", 8443), out);
    out[n] = '\0';
    CHECK_STR(out, "PROXY TCP6 2001:db8::1 ::1 40000 8443\r\n");

    n = header(1, v6("::ffff:10.0.0.7", 1000), v6("::ffff:127.0.0.1", 2000), out);
    out[n] = '\0';
    CHECK_STR(out, "PROXY TCP4 10.0.0.7 127.0.0.1 1000 2000\r\n");

    n = header(1, v4("10.0.0.7", 1000), v6("::1", 2000), out);
    out[n] = '\0';
    CHECK_STR(out, "PROXY UNKNOWN\r\n");

    /* the longest v1 line fits */
    n = header(1, v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535), v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535), out);
    CHECK(n == 104 && n < PROXY_PROTOCOL_MAX);

    static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
    n = header(2, v4("192.0.2.10", 51234), v4("127.0.0.1", 443), out);
    const unsigned char *p = (const unsigned char *)out;
    CHECK(n == 28);
    CHECK(memcmp(p, sig, 12) == 0);
    CHECK(p[12] == 0x21 && p[13] == 0x11 && p[14] == 0 && p[15] == 12);
    CHECK(p[16] == 192 && p[17] == 0 && p[18] == 2 && p[19] == 10);
    CHECK(p[20] == 127 && p[23] == 1);
    CHECK(p[24] == (51234 >> 8) && p[25] == (51234 & 0xff) && p[26] == 1 && p[27] == 0xbb);

    n = header(2, v6("2001:db8::1", 40000), v6("::1", 8443), out);
    CHECK(n == 52 && p[13] == 0x21 && p[15] == 36 && p[16] == 0x20 && p[17] == 0x01 && p[47] == 1);

    n = header(2, v4("10.0.0.7", 1000), v6("::1", 2000), out);
    CHECK(n == 16 && p[13] == 0x00 && p[14] == 0 && p[15] == 0);
    return test_report("proxy/tcp/proxy_protocol");
}
