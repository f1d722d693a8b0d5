/*
 * PROXY protocol header parser (see proxy_header.h), after the HAProxy
 * specification: v1 is one line of at most 107 bytes ("PROXY TCP4 src dst
 * sport dport\r\n", "PROXY UNKNOWN ...\r\n"); v2 is a 16-byte head (12-byte
 * signature, version/command, family, length) and <length> bytes of
 * addresses and TLVs.
 */
#include "proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define V1_MAX 107
static const uint8_t V2_SIG[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

static int starts_as(const uint8_t *p, size_t n, const void *sig, size_t sig_len)
{
    return memcmp(p, sig, n < sig_len ? n : sig_len) == 0;
}

/* a decimal port, 0 to 65535, without leading zeros beyond "0" */
static int port_of(const char *s, uint16_t *out)
{
    if (*s == '\0' || strlen(s) > 5 || (s[0] == '0' && s[1] != '\0'))
        return -1;
    long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return -1;
        v = v * 10 + (*c - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

static enum proxy_header_result parse_v1(const uint8_t *p, size_t n, struct proxy_header *out)
{
    const uint8_t *end = NULL;
    for (size_t i = 0; i + 1 < n && i + 1 < V1_MAX; i++)
        if (p[i] == '\r' && p[i + 1] == '\n') {
            end = p + i;
            break;
        }
    if (end == NULL)
        return n >= V1_MAX ? PROXY_HEADER_INVALID : PROXY_HEADER_NEED_MORE;
    char line[V1_MAX + 1];
    size_t len = (size_t)(end - p);
    memcpy(line, p, len);
    line[len] = '\0';
    out->len = len + 2;
    char *save = NULL, *word[7];
    int nw = 0;
    for (char *t = strtok_r(line, " ", &save); t && nw < 7; t = strtok_r(NULL, " ", &save))
        word[nw++] = t;
    if (nw < 2 || strcmp(word[0], "PROXY") != 0)
        return PROXY_HEADER_INVALID;
    if (strcmp(word[1], "UNKNOWN") == 0) { /* the rest is ignored, as the specification says */
        out->has_source = 0;
        return PROXY_HEADER_OK;
    }
    int v6 = strcmp(word[1], "TCP6") == 0;
    if ((!v6 && strcmp(word[1], "TCP4") != 0) || nw != 6)
        return PROXY_HEADER_INVALID;
    uint16_t sport, dport;
    if (port_of(word[4], &sport) != 0 || port_of(word[5], &dport) != 0)
        return PROXY_HEADER_INVALID;
    memset(&out->source, 0, sizeof(out->source));
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->source;
        struct in6_addr dst;
        if (inet_pton(AF_INET6, word[2], &a->sin6_addr) != 1 || inet_pton(AF_INET6, word[3], &dst) != 1)
            return PROXY_HEADER_INVALID;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(sport);
        out->source_len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&out->source;
        struct in_addr dst;
        if (inet_pton(AF_INET, word[2], &a->sin_addr) != 1 || inet_pton(AF_INET, word[3], &dst) != 1)
            return PROXY_HEADER_INVALID;
        a->sin_family = AF_INET;
        a->sin_port = htons(sport);
        out->source_len = sizeof(*a);
    }
    out->has_source = 1;
    return PROXY_HEADER_OK;
}

static enum proxy_header_result parse_v2(const uint8_t *p, size_t n, struct proxy_header *out)
{
    if (n < 16)
        return PROXY_HEADER_NEED_MORE;
    uint8_t ver = p[12] >> 4, cmd = p[12] & 0x0f, fam = p[13] >> 4, proto = p[13] & 0x0f;
    size_t body = (size_t)p[14] << 8 | p[15];
    if (ver != 2 || cmd > 1)
        return PROXY_HEADER_INVALID;
    if (n < 16 + body)
        return PROXY_HEADER_NEED_MORE;
    out->len = 16 + body;
    out->has_source = 0;
    if (cmd == 0 || proto != 1) /* LOCAL (health checks), or not over TCP: the connection's own address */
        return PROXY_HEADER_OK;
    memset(&out->source, 0, sizeof(out->source));
    if (fam == 1) { /* INET: src 4, dst 4, sport 2, dport 2 */
        if (body < 12)
            return PROXY_HEADER_INVALID;
        struct sockaddr_in *a = (struct sockaddr_in *)&out->source;
        a->sin_family = AF_INET;
        memcpy(&a->sin_addr, p + 16, 4);
        memcpy(&a->sin_port, p + 24, 2);
        out->source_len = sizeof(*a);
        out->has_source = 1;
    } else if (fam == 2) { /* INET6: src 16, dst 16, sport 2, dport 2 */
        if (body < 36)
            return PROXY_HEADER_INVALID;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->source;
        a->sin6_family = AF_INET6;
        memcpy(&a->sin6_addr, p + 16, 16);
        memcpy(&a->sin6_port, p + 48, 2);
        out->source_len = sizeof(*a);
        out->has_source = 1;
    }
    return PROXY_HEADER_OK;
}

enum proxy_header_result proxy_header_parse(const uint8_t *p, size_t n, struct proxy_header *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return PROXY_HEADER_NEED_MORE;
    if (starts_as(p, n, V2_SIG, sizeof(V2_SIG)))
        return n < sizeof(V2_SIG) ? PROXY_HEADER_NEED_MORE : parse_v2(p, n, out);
    if (starts_as(p, n, "PROXY ", 6))
        return n < 6 ? PROXY_HEADER_NEED_MORE : parse_v1(p, n, out);
    return PROXY_HEADER_NONE;
}
