/*
 * ipStrategy and sourceCriterion (see ip_strategy.h): the client address or
 * grouping key of a request, computed the way Traefik's pkg/ip strategies
 * and its source extractor do.
 */
#include "ip_strategy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 1024

int ip_strategy_build(struct arena *a, struct mw_options *o, const char *prefix, struct ip_strategy *out, struct diag *d)
{
    char key[128];
    int64_t depth, subnet;
    memset(out, 0, sizeof(*out));
    snprintf(key, sizeof(key), "%s.depth", prefix);
    if (mw_opt_int(o, key, 0, 0, MAX_DEPTH, &depth, d) != 0)
        return -1;
    out->depth = (uint32_t)depth;
    snprintf(key, sizeof(key), "%s.ipv6Subnet", prefix);
    if (mw_opt_int(o, key, -1, 1, 128, &subnet, d) != 0)
        return -1;
    out->ipv6_subnet = (int)subnet;
    snprintf(key, sizeof(key), "%s.excludedIPs", prefix);
    size_t n;
    const char **ips = mw_opt_list(a, o, key, &n);
    out->excluded = arena_alloc(a, (n ? n : 1) * sizeof(*out->excluded));
    for (size_t i = 0; i < n; i++)
        if (rule_parse_cidr(ips[i], strlen(ips[i]), &out->excluded[i]) != 0)
            return diag_set(d, "%s: '%s' is not an IP address or CIDR", key, ips[i]);
    out->n_excluded = n;
    return 0;
}

bool ip_strategy_parse_addr(const char *s, size_t len, uint8_t out16[16])
{
    char buf[IP_STRATEGY_TEXT];
    if (len == 0 || len >= sizeof(buf))
        return false;
    if (s[0] == '[') { /* [v6]:port (Go's SplitHostPort wants the port) */
        const char *close = memchr(s, ']', len);
        if (close == NULL || close + 1 == s + len || close[1] != ':')
            return false;
        len = (size_t)(close - s - 1);
        memcpy(buf, s + 1, len);
    } else {
        memcpy(buf, s, len);
        const char *colon = memchr(s, ':', len);
        if (colon != NULL && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s)) == NULL)
            len = (size_t)(colon - s); /* a:b:port would have two colons: only v4:port has one */
    }
    buf[len] = '\0';
    struct in_addr v4;
    memset(out16, 0, 16);
    if (inet_pton(AF_INET, buf, &v4) == 1) {
        out16[10] = out16[11] = 0xff;
        memcpy(out16 + 12, &v4, 4);
        return true;
    }
    return inet_pton(AF_INET6, buf, out16) == 1;
}

static bool is_v4_mapped(const uint8_t *a)
{
    static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return memcmp(a, prefix, 12) == 0;
}

/* Traefik's ipv6Subnet: an IPv6 address becomes its prefix's first
 * address; anything else (IPv4, not an address) is returned unchanged. */
static size_t apply_subnet(int bits, char *buf, size_t len)
{
    uint8_t a[16];
    if (bits < 0 || !ip_strategy_parse_addr(buf, len, a) || is_v4_mapped(a) || memchr(buf, ':', len) == NULL)
        return len;
    for (int i = 0; i < 16; i++) {
        int keep = bits - i * 8;
        if (keep <= 0)
            a[i] = 0;
        else if (keep < 8)
            a[i] &= (uint8_t)(0xff << (8 - keep));
    }
    inet_ntop(AF_INET6, a, buf, IP_STRATEGY_TEXT);
    return strlen(buf);
}

static size_t copy_out(char *buf, const char *s, size_t len)
{
    while (len && (*s == ' ' || *s == '\t'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len >= IP_STRATEGY_TEXT)
        len = 0; /* not an address anyone could be allowed by */
    memcpy(buf, s, len);
    buf[len] = '\0';
    return len;
}

/* The entries of X-Forwarded-For (its first field, as Go's Header.Get),
 * right to left: the <index>-th from the right (0-based) or NULL. */
static const char *xff_entry(h2o_iovec_t xff, size_t index, size_t *len)
{
    const char *end = xff.base + xff.len;
    for (size_t i = 0;; i++) {
        const char *start = end;
        while (start > xff.base && start[-1] != ',')
            start--;
        if (i == index) {
            *len = (size_t)(end - start);
            return start;
        }
        if (start == xff.base)
            return NULL;
        end = start - 1;
    }
}

static bool excluded(const struct ip_strategy *s, const char *e, size_t len)
{
    uint8_t a[16];
    char buf[IP_STRATEGY_TEXT];
    len = copy_out(buf, e, len);
    /* Traefik's checker parses the entry as a bare address: "a:port" is
     * not excluded */
    if (len == 0 || memchr(buf, '[', len) != NULL)
        return false;
    if (strchr(buf, ':') != NULL ? inet_pton(AF_INET6, buf, a) != 1 : !ip_strategy_parse_addr(buf, len, a))
        return false;
    for (size_t i = 0; i < s->n_excluded; i++)
        if (rule_cidr_contains(&s->excluded[i], a))
            return true;
    return false;
}

size_t ip_strategy_get(const struct ip_strategy *s, const struct mw_run *run, char *buf)
{
    size_t len;
    if (s->depth == 0 && s->n_excluded == 0) {
        len = copy_out(buf, run->client.ip_text, strlen(run->client.ip_text));
        return apply_subnet(s->ipv6_subnet, buf, len);
    }
    const h2o_iovec_t *h = mw_header_get(&run->req->headers, H2O_STRLIT("x-forwarded-for"));
    h2o_iovec_t xff = h ? *h : h2o_iovec_init("", 0);
    if (s->depth > 0) {
        const char *e = xff_entry(xff, s->depth - 1, &len);
        if (e == NULL)
            return 0;
        return apply_subnet(s->ipv6_subnet, buf, copy_out(buf, e, len));
    }
    /* Traefik's pool strategy: empty entries skipped, no ipv6Subnet */
    for (size_t i = 0;; i++) {
        const char *e = xff_entry(xff, i, &len);
        if (e == NULL)
            return 0;
        size_t n = copy_out(buf, e, len);
        if (n != 0 && !excluded(s, e, len))
            return n;
    }
}

int source_criterion_build(struct arena *a, struct mw_options *o, enum source_kind def, struct source_criterion *out,
                           struct diag *d)
{
    memset(out, 0, sizeof(*out));
    bool ip = mw_opt_has(o, "sourceCriterion.ipStrategy");
    (void)mw_opt_string(o, "sourceCriterion.ipStrategy"); /* "ipStrategy:" with no value: the remote address */
    (void)mw_opt_string(o, "sourceCriterion");
    const char *header = mw_opt_string(o, "sourceCriterion.requestHeaderName");
    bool host;
    if (mw_opt_bool(o, "sourceCriterion.requestHost", false, &host, d) != 0 ||
        ip_strategy_build(a, o, "sourceCriterion.ipStrategy", &out->ip, d) != 0)
        return -1;
    bool has_header = header != NULL && *header != '\0';
    if (ip + has_header + host > 1)
        return diag_set(d, "sourceCriterion: ipStrategy, requestHeaderName and requestHost are mutually exclusive");
    out->kind = ip ? SOURCE_IP : has_header ? SOURCE_HEADER : host ? SOURCE_HOST : def;
    if (has_header) {
        out->header = arena_strdup(a, header);
        out->header_len = strlen(header);
    }
    return 0;
}

h2o_iovec_t source_criterion_key(const struct source_criterion *c, const struct mw_run *run, char *buf)
{
    switch (c->kind) {
    case SOURCE_HEADER: {
        const h2o_iovec_t *v = mw_header_get(&run->req->headers, c->header, c->header_len);
        return v ? *v : h2o_iovec_init("", 0);
    }
    case SOURCE_HOST:
        return run->req->authority;
    case SOURCE_IP:
    default:
        return h2o_iovec_init(buf, ip_strategy_get(&c->ip, run, buf));
    }
}

/* FNV-1a over the key, then a 64-bit finaliser (splitmix64) so that the
 * low bits index the tables well. */
uint64_t source_hash(uint64_t seed, h2o_iovec_t key)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < key.len; i++)
        h = (h ^ (uint8_t)key.base[i]) * 0x100000001b3ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h ? h : 1;
}

int source_exempt_build(struct arena *a, struct mw_options *o, struct source_exempt *out, struct diag *d)
{
    memset(out, 0, sizeof(*out));
    if (o->provider != NULL && strcmp(o->provider, "kubernetes") != 0)
        return 0; /* not read: an unknown option there */
    const char **ranges = mw_opt_list(a, o, "exemptSourceRange", &out->n);
    out->ranges = arena_alloc(a, (out->n ? out->n : 1) * sizeof(*out->ranges));
    for (size_t i = 0; i < out->n; i++)
        if (rule_parse_cidr(ranges[i], strlen(ranges[i]), &out->ranges[i]) != 0)
            return diag_set(d, "exemptSourceRange: '%s' is not an IP address or CIDR", ranges[i]);
    return 0;
}

bool source_exempt_has(const struct source_exempt *e, const struct mw_run *run)
{
    if (e->n == 0)
        return false;
    static const struct ip_strategy remote = {.ipv6_subnet = -1}; /* the connection's address */
    char text[IP_STRATEGY_TEXT];
    uint8_t addr[16];
    size_t len = ip_strategy_get(&remote, run, text);
    if (len == 0 || !ip_strategy_parse_addr(text, len, addr))
        return false;
    for (size_t i = 0; i < e->n; i++)
        if (rule_cidr_contains(&e->ranges[i], addr))
            return true;
    return false;
}
