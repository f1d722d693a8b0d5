/* Go net/url path escaping rules (see go_url.h). */
#include "go_url.h"

#include <string.h>

#include "../path.h"

/* shouldEscape(c, encodePath) */
static bool should_escape(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return false;
    switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '@':
        return false;
    }
    return true;
}

bool go_url_unescape(h2o_mem_pool_t *pool, const char *s, size_t len, h2o_iovec_t *out)
{
    char *buf = h2o_mem_alloc_pool(pool, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            buf[n++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? path_hex_digit(s[i + 1]) : -1, lo = i + 2 < len ? path_hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return false;
        buf[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    buf[n] = '\0';
    *out = h2o_iovec_init(buf, n);
    return true;
}

h2o_iovec_t go_url_escape(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *buf = h2o_mem_alloc_pool(pool, 3 * len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (should_escape(c)) {
            buf[n++] = '%';
            buf[n++] = hex[c >> 4];
            buf[n++] = hex[c & 15];
        } else {
            buf[n++] = (char)c;
        }
    }
    buf[n] = '\0';
    return h2o_iovec_init(buf, n);
}

void go_url_query_escape(struct pool_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                    c == '.' || c == '~';
        if (keep) {
            pool_buf_put(b, (const char *)&s[i], 1);
        } else if (c == ' ') {
            pool_buf_put(b, "+", 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            pool_buf_put(b, e, 3);
        }
    }
}

bool go_url_valid_encoded(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (strchr("!$&'()*+,;=:@[]%", s[i]) != NULL && s[i] != '\0')
            continue;
        if (should_escape((unsigned char)s[i]))
            return false;
    }
    return true;
}

bool go_url_raw_path_set(h2o_mem_pool_t *pool, const char *raw, size_t len)
{
    h2o_iovec_t path;
    if (!go_url_unescape(pool, raw, len, &path))
        return true;
    h2o_iovec_t esc = go_url_escape(pool, path.base, path.len);
    return !h2o_memis(esc.base, esc.len, raw, len);
}

h2o_iovec_t go_url_escaped_path(h2o_mem_pool_t *pool, h2o_iovec_t raw, h2o_iovec_t path)
{
    h2o_iovec_t dec;
    if (raw.len && go_url_valid_encoded(raw.base, raw.len) && go_url_unescape(pool, raw.base, raw.len, &dec) &&
        h2o_memis(dec.base, dec.len, path.base, path.len))
        return raw;
    return go_url_escape(pool, path.base, path.len);
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* getScheme: the scheme's length (0: none), -1 for a leading ':'. */
static ssize_t scheme_len(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (is_alpha(c))
            continue;
        if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                return 0;
            continue;
        }
        if (c == ':')
            return i == 0 ? -1 : (ssize_t)i;
        return 0;
    }
    return 0;
}

static bool valid_port(const char *p, const char *end)
{
    for (p++; p < end; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

/* parseHost's checks (the host of an authority, its port, its escapes). */
static bool valid_host(const char *h, size_t n)
{
    const char *port = NULL;
    size_t hn = n;
    if (n && h[0] == '[') {
        const char *rb = memchr(h, ']', n);
        if (rb == NULL)
            return false;
        hn = (size_t)(rb + 1 - h);
        if (hn < n && h[hn] != ':')
            return false;
        port = hn < n ? h + hn : NULL;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (h[i] == ':')
                colon = h + i;
        if (colon != NULL) {
            port = colon;
            hn = (size_t)(colon - h);
        }
    }
    if (port != NULL && !valid_port(port, h + n))
        return false;
    for (size_t i = 0; i < hn; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c == '%') {
            int hi = i + 2 < hn ? path_hex_digit(h[i + 1]) : -1, lo = i + 2 < hn ? path_hex_digit(h[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (hi < 8 && !(hi == 2 && lo == 5)))
                return false;
            i += 2;
        } else if (c < 0x80 && should_escape(c) && strchr("!$&'()*+,;=:[]<>\"", c) == NULL) {
            return false;
        }
    }
    return true;
}

bool go_url_location(h2o_mem_pool_t *pool, const char *s, size_t len, h2o_iovec_t *out)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    const char *hash = memchr(s, '#', len), *end = hash ? hash : s + len;
    h2o_iovec_t frag = hash ? h2o_iovec_init(hash + 1, (size_t)(s + len - hash - 1)) : h2o_iovec_init("", 0), dec;
    if (!go_url_unescape(pool, frag.base, frag.len, &dec))
        return false;
    ssize_t sl = scheme_len(s, (size_t)(end - s));
    if (sl < 0)
        return false;
    const char *rest = s + (sl ? sl + 1 : 0);
    const char *q = memchr(rest, '?', (size_t)(end - rest)), *pend = q ? q : end;
    h2o_iovec_t authority = {NULL, 0}, path;
    if (sl && (rest == pend || *rest != '/')) { /* opaque: kept as written */
        *out = h2o_iovec_init(s, len);
        return true;
    }
    if (pend - rest >= 2 && rest[0] == '/' && rest[1] == '/' && (sl || !(pend - rest >= 3 && rest[2] == '/'))) {
        const char *a = rest + 2, *slash = memchr(a, '/', (size_t)(pend - a));
        const char *aend = slash ? slash : pend;
        authority = h2o_iovec_init(a, (size_t)(aend - a));
        const char *at = NULL;
        for (const char *p = a; p < aend; p++)
            if (*p == '@')
                at = p;
        const char *host = at ? at + 1 : a;
        if (!valid_host(host, (size_t)(aend - host)))
            return false;
        rest = aend;
    } else if (!sl) {
        const char *seg_end = memchr(rest, '/', (size_t)(pend - rest));
        if (memchr(rest, ':', (size_t)((seg_end ? seg_end : pend) - rest)) != NULL)
            return false;
    }
    if (!go_url_unescape(pool, rest, (size_t)(pend - rest), &dec))
        return false;
    path = go_url_escaped_path(pool, h2o_iovec_init(rest, (size_t)(pend - rest)), dec);
    size_t qlen = q ? (size_t)(end - q) : 0, n = 0;
    char *buf = h2o_mem_alloc_pool(pool, (size_t)(sl + 3) + authority.len + path.len + qlen + frag.len + 2);
    if (sl) {
        memcpy(buf, s, (size_t)sl + 1);
        n = (size_t)sl + 1;
    }
    if (authority.base != NULL) {
        memcpy(buf + n, "//", 2);
        memcpy(buf + n + 2, authority.base, authority.len);
        n += 2 + authority.len;
    }
    memcpy(buf + n, path.base, path.len);
    n += path.len;
    if (qlen) {
        memcpy(buf + n, q, qlen);
        n += qlen;
    }
    if (frag.len) {
        buf[n++] = '#';
        memcpy(buf + n, frag.base, frag.len);
        n += frag.len;
    }
    buf[n] = '\0';
    *out = h2o_iovec_init(buf, n);
    return true;
}
