/* Tests proxy/forwarded.c: the client address as 16 bytes and as text. */
#include <arpa/inet.h>

#include "../../../proxy/forwarded.c"

#include "test.h"

static void check_v4(const char *addr)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &in.sin_addr);
    uint8_t ip16[16];
    char text[64];
    forwarded_client_ip((const struct sockaddr *)&in, ip16, text, sizeof(text));
    CHECK_STR(text, addr);
    CHECK(ip16[10] == 0xff && ip16[11] == 0xff && memcmp(ip16 + 12, &in.sin_addr, 4) == 0);
}

int main(void)
{
    const char *v4[] = {"0.0.0.0", "255.255.255.255", "10.0.100.9", "127.0.0.1", "192.168.10.200", "1.22.103.4"};
    for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
        check_v4(v4[i]);
    /* every octet value once, against inet_ntop */
    for (unsigned v = 0; v < 256; v++) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        uint8_t *b = (uint8_t *)&in.sin_addr;
        b[0] = (uint8_t)v, b[1] = (uint8_t)(255 - v), b[2] = (uint8_t)(v / 2), b[3] = (uint8_t)(v * 7);
        char want[INET_ADDRSTRLEN], got[64];
        uint8_t ip16[16];
        inet_ntop(AF_INET, &in.sin_addr, want, sizeof(want));
        forwarded_client_ip((const struct sockaddr *)&in, ip16, got, sizeof(got));
        CHECK_STR(got, want);
    }
    /* a v4-mapped IPv6 peer reads as IPv4 */
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    uint8_t ip16[16];
    char text[64];
    forwarded_client_ip((const struct sockaddr *)&in6, ip16, text, sizeof(text));
    CHECK_STR(text, "10.1.2.3");
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    forwarded_client_ip((const struct sockaddr *)&in6, ip16, text, sizeof(text));
    CHECK_STR(text, "2001:db8::1");
    CHECK(memcmp(ip16, &in6.sin6_addr, 16) == 0);
    /* a short buffer is truncated, still terminated */
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.168.100.200", &in.sin_addr);
    char small[8];
    forwarded_client_ip((const struct sockaddr *)&in, ip16, small, sizeof(small));
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    CHECK(strncmp(small, "192.168", 7) == 0);
    return test_report("forwarded");
}
