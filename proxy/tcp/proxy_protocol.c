/*
 * PROXY protocol header (see proxy_protocol.h).
 */
#include "proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The address as a plain IPv4 one when it is IPv4-mapped IPv6. */
static struct sockaddr_storage unmapped(const struct sockaddr *sa)
{
    struct sockaddr_storage out = {0};
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            struct sockaddr_in *s4 = (struct sockaddr_in *)&out;
            s4->sin_family = AF_INET;
            s4->sin_port = s6->sin6_port;
            memcpy(&s4->sin_addr, &s6->sin6_addr.s6_addr[12], 4);
            return out;
        }
        memcpy(&out, sa, sizeof(struct sockaddr_in6));
    } else if (sa->sa_family == AF_INET) {
        memcpy(&out, sa, sizeof(struct sockaddr_in));
    }
    return out;
}

static size_t v1(const struct sockaddr_storage *src, const struct sockaddr_storage *dst, char *out)
{
    char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN];
    if (src->ss_family == AF_INET && dst->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
        inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
        inet_ntop(AF_INET, &d->sin_addr, b, sizeof(b));
        return (size_t)snprintf(out, PROXY_PROTOCOL_MAX, "PROXY TCP4 %s %s %u %u\r\n", a, b, ntohs(s->sin_port),
                                ntohs(d->sin_port));
    }
    if (src->ss_family == AF_INET6 && dst->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
        inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
        inet_ntop(AF_INET6, &d->sin6_addr, b, sizeof(b));
        return (size_t)snprintf(out, PROXY_PROTOCOL_MAX, "PROXY TCP6 %s %s %u %u\r\n", a, b, ntohs(s->sin6_port),
                                ntohs(d->sin6_port));
    }
    return (size_t)snprintf(out, PROXY_PROTOCOL_MAX, "PROXY UNKNOWN\r\n");
}

static size_t v2(const struct sockaddr_storage *src, const struct sockaddr_storage *dst, char *out)
{
    static const char signature[12] = "\r\n\r\n\0\r\nQUIT\n";
    unsigned char *p = (unsigned char *)out;
    memcpy(p, signature, sizeof(signature));
    p[12] = 0x21; /* version 2, PROXY */
    size_t len = 0;
    unsigned char *addr = p + 16;
    if (src->ss_family == AF_INET && dst->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const void *)src, *d = (const void *)dst;
        p[13] = 0x11; /* TCP over IPv4 */
        memcpy(addr, &s->sin_addr, 4);
        memcpy(addr + 4, &d->sin_addr, 4);
        memcpy(addr + 8, &s->sin_port, 2);
        memcpy(addr + 10, &d->sin_port, 2);
        len = 12;
    } else if (src->ss_family == AF_INET6 && dst->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const void *)src, *d = (const void *)dst;
        p[13] = 0x21; /* TCP over IPv6 */
        memcpy(addr, &s->sin6_addr, 16);
        memcpy(addr + 16, &d->sin6_addr, 16);
        memcpy(addr + 32, &s->sin6_port, 2);
        memcpy(addr + 34, &d->sin6_port, 2);
        len = 36;
    } else {
        p[13] = 0x00; /* unspecified: the server uses the connection's own addresses */
    }
    p[14] = (unsigned char)(len >> 8);
    p[15] = (unsigned char)(len & 0xff);
    return 16 + len;
}

size_t proxy_protocol_header(int version, const struct sockaddr *src, const struct sockaddr *dst,
                             char out[PROXY_PROTOCOL_MAX])
{
    struct sockaddr_storage s = unmapped(src), d = unmapped(dst);
    return version == 1 ? v1(&s, &d, out) : v2(&s, &d, out);
}
