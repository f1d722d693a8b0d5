/*
 * Builds the HTTP/1.1 request head sent upstream: the client's headers
 * minus hop-by-hop ones, plus X-Forwarded-* and X-Real-Ip as Traefik sets
 * them. Incoming X-Forwarded-* headers are kept (and X-Forwarded-For
 * appended to) only when the client is a trusted proxy
 * (entryPoints.<ep>.forwardedHeaders.trustedIPs / insecure); otherwise
 * they are replaced, so a client cannot forge its address.
 */
#include "forwarded.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/ascii.h"
#include "../common/decimal.h"
#include "hop_by_hop.h"

static char server_hostname[256];

void forwarded_init(void)
{
    if (gethostname(server_hostname, sizeof(server_hostname) - 1) != 0)
        strcpy(server_hostname, "gantry");
}

/* inet_ntop formats IPv4 with sprintf: ~1,700 instructions, on every
 * request. Dotted decimal by hand is a few dozen. */
static void ipv4_text(const uint8_t a[4], char *text, size_t text_len)
{
    char buf[16];
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned v = a[i];
        if (v >= 100)
            buf[n++] = (char)('0' + v / 100);
        if (v >= 10)
            buf[n++] = (char)('0' + v / 10 % 10);
        buf[n++] = (char)('0' + v % 10);
        buf[n++] = i < 3 ? '.' : '\0';
    }
    if (text_len == 0)
        return;
    if (n > text_len) {
        n = text_len;
        buf[n - 1] = '\0';
    }
    memcpy(text, buf, n);
}

void forwarded_client_ip(const struct sockaddr *sa, uint8_t out16[16], char *text, size_t text_len)
{
    memset(out16, 0, 16);
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const void *)sa;
        out16[10] = out16[11] = 0xff;
        memcpy(out16 + 12, &in->sin_addr, 4);
        ipv4_text((const uint8_t *)&in->sin_addr, text, text_len);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const void *)sa;
        memcpy(out16, &in6->sin6_addr, 16);
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out16, v4mapped, 12) == 0)
            ipv4_text(out16 + 12, text, text_len);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)text_len);
    } else {
        snprintf(text, text_len, "unknown");
    }
}

bool forwarded_is_trusted(const struct entrypoint_config *ep, const uint8_t ip16[16])
{
    if (ep->forwarded_insecure)
        return true;
    for (size_t i = 0; i < ep->n_trusted_ips; i++)
        if (rule_cidr_contains(&ep->trusted_ips[i], ip16))
            return true;
    return false;
}

static bool is_token(const h2o_header_t *h, const h2o_token_t *t)
{
    return h->name == &t->buf;
}

/* Headers never forwarded: hop-by-hop ones, what we regenerate, and what
 * h2o has already acted on. */
static bool drop_request_header(const h2o_header_t *h, bool trusted)
{
    if (is_token(h, H2O_TOKEN_HOST) || is_token(h, H2O_TOKEN_CONTENT_LENGTH) || is_token(h, H2O_TOKEN_EXPECT) ||
        is_token(h, H2O_TOKEN_COOKIE) || hbh_connection_specific(h->name))
        return true;
    const h2o_iovec_t *n = h->name;
    if (!trusted) {
        if (is_token(h, H2O_TOKEN_X_FORWARDED_FOR))
            return true;
        if (n->len >= 12 && h2o_lcstris(n->base, 12, H2O_STRLIT("x-forwarded-")))
            return true;
        if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-real-ip")))
            return true;
    }
    return false;
}

void forwarded_strip_untrusted(h2o_headers_t *headers)
{
    size_t j = 0;
    for (size_t i = 0; i < headers->size; i++) {
        const h2o_iovec_t *n = headers->entries[i].name;
        bool forwarded = (n->len >= 12 && h2o_lcstris(n->base, 12, H2O_STRLIT("x-forwarded-"))) ||
                         h2o_lcstris(n->base, n->len, H2O_STRLIT("x-real-ip"));
        if (!forwarded)
            headers->entries[j++] = headers->entries[i];
    }
    headers->size = j;
}

/* Value of the first header named <name> (lowercase), or NULL. */
static const h2o_iovec_t *find_header(const h2o_headers_t *hs, const char *name, size_t len)
{
    for (size_t i = 0; i < hs->size; i++)
        if (h2o_lcstris(hs->entries[i].name->base, hs->entries[i].name->len, name, len))
            return &hs->entries[i].value;
    return NULL;
}

/* Where the forwarded fields go: HTTP/1.1 head text, or (fields != NULL)
 * an HTTP/2 field list with the Host value as the authority. */
struct writer {
    char *p, *end;
    h2o_mem_pool_t *pool;
    h2o_header_t *fields;
    size_t n_fields;
    h2o_iovec_t authority;
    bool own; /* fields: copy what they point to into <pool> (it outlives the request) */
};

/* <s> as a field may point at it: itself, or its copy in an owning writer's pool. */
static h2o_iovec_t keep(struct writer *w, const char *s, size_t len)
{
    return w->own ? h2o_strdup(w->pool, s, len) : h2o_iovec_init(s, len);
}

static void put(struct writer *w, const char *s, size_t len)
{
    if ((size_t)(w->end - w->p) < len) /* sized ahead; never happens */
        len = (size_t)(w->end - w->p);
    memcpy(w->p, s, len);
    w->p += len;
}

#define PUT_LIT(w, s) put(w, s, sizeof(s) - 1)

/* <name> lowercase for HTTP/2 (h2o's header names are), as sent for
 * HTTP/1.1. <name_iov>: for HTTP/2, a lowercase name the field may point at
 * as it is (a token's, or one in the writer's pool); NULL: made here. */
static void put_field(struct writer *w, const h2o_iovec_t *name_iov, const char *name, const char *lc_name, size_t nlen,
                      const char *value, size_t vlen)
{
    if (w->fields != NULL) {
        h2o_iovec_t *n = (h2o_iovec_t *)name_iov;
        if (n == NULL) {
            n = h2o_mem_alloc_pool(w->pool, sizeof(*n));
            *n = h2o_iovec_init(lc_name, nlen);
            if (ascii_has_upper(lc_name, nlen)) { /* a middleware's own spelling */
                *n = h2o_strdup(w->pool, lc_name, nlen);
                ascii_lower_copy(n->base, n->base, n->len);
            }
        }
        w->fields[w->n_fields++] = (h2o_header_t){.name = n, .value = keep(w, value, vlen)};
        return;
    }
    if ((size_t)(w->end - w->p) < nlen + vlen + 4) { /* sized ahead; never happens */
        put(w, name, nlen);
        PUT_LIT(w, ": ");
        put(w, value, vlen);
        PUT_LIT(w, "\r\n");
        return;
    }
    char *o = w->p; /* one bounds check per field: this runs per field of every request */
    memcpy(o, name, nlen);
    o[nlen] = ':';
    o[nlen + 1] = ' ';
    memcpy(o + nlen + 2, value, vlen);
    o[nlen + 2 + vlen] = '\r';
    o[nlen + 3 + vlen] = '\n';
    w->p = o + nlen + vlen + 4;
}

static void put_header(struct writer *w, const char *name, const char *lc_name, size_t nlen, const char *value, size_t vlen)
{
    put_field(w, NULL, name, lc_name, nlen, value, vlen);
}

#define PUT_FIELD(w, lit, value, vlen) put_header(w, lit, lit, sizeof(lit) - 1, value, vlen)

/* The fields after the request line, for either form of the writer. */
static void write_fields(h2o_req_t *req, const struct forwarded_params *fp, struct writer *w)
{
    const h2o_headers_t *hs = &req->headers;
    const h2o_iovec_t *connection = hbh_connection_options(find_header(hs, H2O_STRLIT("connection")));
    bool trusted = fp->trusted;
    bool h2 = w->fields != NULL;

    h2o_iovec_t host = fp->pass_host ? req->authority : h2o_iovec_init(fp->server_hostport, strlen(fp->server_hostport));
    if (h2)
        w->authority = keep(w, host.base, host.len);
    else
        PUT_FIELD(w, "host", host.base, host.len);

    const h2o_iovec_t *xff = NULL, *xfproto = NULL, *xfhost = NULL, *xfport = NULL, *xfserver = NULL, *xrealip = NULL;
    size_t cookie_len = 0, n_cookies = 0;
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (is_token(h, H2O_TOKEN_COOKIE)) { /* below, on one line */
            cookie_len += h->value.len + 2;
            n_cookies++;
            continue;
        }
        if (drop_request_header(h, trusted) || hbh_named_in_connection(connection, h->name->base, h->name->len))
            continue;
        if (trusted) { /* remember what a trusted proxy sent; we extend or keep it */
            const h2o_iovec_t *n = h->name;
            if (is_token(h, H2O_TOKEN_X_FORWARDED_FOR)) {
                xff = &h->value;
                continue;
            }
            if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-forwarded-proto")))
                xfproto = &h->value;
            else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-forwarded-host")))
                xfhost = &h->value;
            else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-forwarded-port")))
                xfport = &h->value;
            else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-forwarded-server")))
                xfserver = &h->value;
            else if (h2o_lcstris(n->base, n->len, H2O_STRLIT("x-real-ip")))
                xrealip = &h->value;
        }
        const char *lc_name = h->name->base; /* a token's is static; any other is the request's */
        bool token = h2o_iovec_is_token(h->name);
        if (w->own && !token)
            lc_name = h2o_strdup(w->pool, lc_name, h->name->len).base;
        /* HTTP/2 fields point at the request's own name where it lives long enough */
        const h2o_iovec_t *iov = h2 && (token || (!w->own && !ascii_has_upper(h->name->base, h->name->len))) ? h->name : NULL;
        put_field(w, iov, h->orig_name ? h->orig_name : h->name->base, lc_name, h->name->len, h->value.base, h->value.len);
    }
    /* HTTP/2 splits cookies into several fields; HTTP/1.1 wants one line */
    if (n_cookies != 0) {
        char *joined = h2o_mem_alloc_pool(w->pool, cookie_len);
        size_t len = 0;
        for (size_t i = 0; i < hs->size; i++) {
            const h2o_header_t *h = &hs->entries[i];
            if (!is_token(h, H2O_TOKEN_COOKIE))
                continue;
            if (len != 0) {
                memcpy(joined + len, "; ", 2);
                len += 2;
            }
            memcpy(joined + len, h->value.base, h->value.len);
            len += h->value.len;
        }
        PUT_FIELD(w, "cookie", joined, len);
    }

    /* X-Forwarded-For: appended to a trusted proxy's list */
    if (!(fp->off & FORWARDED_NO_XFF)) {
        size_t ip_len = strlen(fp->client_ip);
        if (xff != NULL && xff->len) {
            char *v = h2o_mem_alloc_pool(w->pool, xff->len + 2 + ip_len);
            memcpy(v, xff->base, xff->len);
            memcpy(v + xff->len, ", ", 2);
            memcpy(v + xff->len + 2, fp->client_ip, ip_len);
            PUT_FIELD(w, "x-forwarded-for", v, xff->len + 2 + ip_len);
        } else {
            PUT_FIELD(w, "x-forwarded-for", fp->client_ip, ip_len);
        }
    }
    if (xfproto == NULL && !(fp->off & FORWARDED_NO_XF_PROTO)) {
        const char *proto = fp->websocket ? (fp->tls ? "wss" : "ws") : (fp->tls ? "https" : "http");
        PUT_FIELD(w, "x-forwarded-proto", proto, strlen(proto));
    }
    if (xfhost == NULL && !(fp->off & FORWARDED_NO_XF_HOST))
        PUT_FIELD(w, "x-forwarded-host", req->authority.base, req->authority.len);
    if (xfport == NULL && !(fp->off & FORWARDED_NO_XF_PORT)) {
        /* Traefik: the port of the Host header, else the scheme's default */
        const char *port = fp->tls ? "443" : "80";
        size_t plen = strlen(port);
        const char *a = req->authority.base;
        size_t alen = req->authority.len;
        const char *rb = alen && a[0] == '[' ? memchr(a, ']', alen) : NULL;
        const char *colon = rb ? (rb + 1 < a + alen && rb[1] == ':' ? rb + 1 : NULL) : memchr(a, ':', alen);
        if (colon != NULL && colon + 1 < a + alen) {
            port = colon + 1;
            plen = (size_t)(a + alen - port);
        }
        PUT_FIELD(w, "x-forwarded-port", port, plen);
    }
    if (xfserver == NULL && !(fp->off & FORWARDED_NO_XF_SERVER))
        PUT_FIELD(w, "x-forwarded-server", server_hostname, strlen(server_hostname));
    if (xrealip == NULL && !(fp->off & FORWARDED_NO_X_REAL_IP))
        PUT_FIELD(w, "x-real-ip", fp->client_ip, strlen(fp->client_ip));

    if (fp->streamed && fp->streamed_length < 0) {
        if (!h2) /* HTTP/2 frames the body itself */
            PUT_LIT(w, "transfer-encoding: chunked\r\n");
    } else if (fp->streamed || req->entity.base != NULL) {
        uint64_t len = fp->streamed ? (uint64_t)fp->streamed_length : fp->drop_body ? 0 : req->entity.len;
        char *cl = h2o_mem_alloc_pool(w->pool, 24);
        PUT_FIELD(w, "content-length", cl, decimal_format(cl, len));
    }
    if (fp->websocket && !h2)
        PUT_LIT(w, "connection: upgrade\r\nupgrade: websocket\r\n");
}

h2o_iovec_t forwarded_build_head(h2o_req_t *req, const struct forwarded_params *fp)
{
    const h2o_headers_t *hs = &req->headers;
    /* size: request line + every header + our additions */
    size_t size = req->method.len + fp->path.len + 64;
    size += (fp->pass_host ? req->authority.len : strlen(fp->server_hostport)) + 16;
    for (size_t i = 0; i < hs->size; i++)
        size += hs->entries[i].name->len + hs->entries[i].value.len + 4;
    size += 400 + strlen(fp->client_ip) * 3 + req->authority.len + strlen(server_hostname);

    char *buf = h2o_mem_alloc_pool(&req->pool, size);
    struct writer w = {.p = buf, .end = buf + size, .pool = &req->pool};
    put(&w, req->method.base, req->method.len);
    PUT_LIT(&w, " ");
    put(&w, fp->path.base, fp->path.len);
    PUT_LIT(&w, " HTTP/1.1\r\n");
    write_fields(req, fp, &w);
    PUT_LIT(&w, "\r\n");
    return h2o_iovec_init(buf, (size_t)(w.p - buf));
}

size_t forwarded_build_fields(h2o_req_t *req, const struct forwarded_params *fp, h2o_mem_pool_t *pool, size_t spare,
                              h2o_header_t **fields, h2o_iovec_t *authority)
{
    /* every request field at most once, plus ours (at most 9) */
    h2o_header_t *out = h2o_mem_alloc_pool(pool, sizeof(*out) * (req->headers.size + 9 + spare));
    struct writer w = {.pool = pool, .fields = out, .own = pool != &req->pool};
    write_fields(req, fp, &w);
    *fields = out;
    *authority = w.authority;
    return w.n_fields;
}
