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
    if (is_token(h, H2O_TOKEN_CONNECTION) || is_token(h, H2O_TOKEN_KEEP_ALIVE) || is_token(h, H2O_TOKEN_TE) ||
        is_token(h, H2O_TOKEN_TRANSFER_ENCODING) || is_token(h, H2O_TOKEN_UPGRADE) || is_token(h, H2O_TOKEN_HTTP2_SETTINGS) ||
        is_token(h, H2O_TOKEN_HOST) || is_token(h, H2O_TOKEN_CONTENT_LENGTH) || is_token(h, H2O_TOKEN_EXPECT) ||
        is_token(h, H2O_TOKEN_COOKIE))
        return true;
    const h2o_iovec_t *n = h->name;
    if (h2o_lcstris(n->base, n->len, H2O_STRLIT("proxy-connection")))
        return true;
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

/* Also drops headers the client named in its Connection header. */
static bool named_in_connection(const h2o_iovec_t *connection, const h2o_iovec_t *name)
{
    return connection != NULL && h2o_contains_token(connection->base, connection->len, name->base, name->len, ',');
}

struct writer {
    char *p, *end;
};

static void put(struct writer *w, const char *s, size_t len)
{
    if ((size_t)(w->end - w->p) < len) /* sized ahead; never happens */
        len = (size_t)(w->end - w->p);
    memcpy(w->p, s, len);
    w->p += len;
}

#define PUT_LIT(w, s) put(w, s, sizeof(s) - 1)

static void put_header(struct writer *w, const char *name, size_t nlen, const char *value, size_t vlen)
{
    put(w, name, nlen);
    PUT_LIT(w, ": ");
    put(w, value, vlen);
    PUT_LIT(w, "\r\n");
}

h2o_iovec_t forwarded_build_head(h2o_req_t *req, const struct forwarded_params *fp)
{
    const h2o_headers_t *hs = &req->headers;
    const h2o_iovec_t *connection = find_header(hs, H2O_STRLIT("connection"));
    bool trusted = fp->trusted;

    /* size: request line + every header + our additions */
    size_t size = req->method.len + fp->path.len + 64;
    size += (fp->pass_host ? req->authority.len : strlen(fp->server_hostport)) + 16;
    for (size_t i = 0; i < hs->size; i++)
        size += hs->entries[i].name->len + hs->entries[i].value.len + 4;
    size += 400 + strlen(fp->client_ip) * 3 + req->authority.len + strlen(server_hostname);

    char *buf = h2o_mem_alloc_pool(&req->pool, size);
    struct writer w = {buf, buf + size};

    put(&w, req->method.base, req->method.len);
    PUT_LIT(&w, " ");
    put(&w, fp->path.base, fp->path.len);
    PUT_LIT(&w, " HTTP/1.1\r\nhost: ");
    if (fp->pass_host)
        put(&w, req->authority.base, req->authority.len);
    else
        put(&w, fp->server_hostport, strlen(fp->server_hostport));
    PUT_LIT(&w, "\r\n");

    const h2o_iovec_t *xff = NULL, *xfproto = NULL, *xfhost = NULL, *xfport = NULL, *xfserver = NULL, *xrealip = NULL;
    bool cookie_started = false;
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (is_token(h, H2O_TOKEN_COOKIE))
            continue; /* below, on one line */
        if (drop_request_header(h, trusted) || named_in_connection(connection, h->name))
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
        put_header(&w, h->orig_name ? h->orig_name : h->name->base, h->name->len, h->value.base, h->value.len);
    }
    /* HTTP/2 splits cookies into several fields; HTTP/1.1 wants one line */
    for (size_t i = 0; i < hs->size; i++) {
        const h2o_header_t *h = &hs->entries[i];
        if (!is_token(h, H2O_TOKEN_COOKIE))
            continue;
        if (!cookie_started)
            PUT_LIT(&w, "cookie: ");
        else
            PUT_LIT(&w, "; ");
        put(&w, h->value.base, h->value.len);
        cookie_started = true;
    }
    if (cookie_started)
        PUT_LIT(&w, "\r\n");

    /* X-Forwarded-For: appended to a trusted proxy's list */
    if (!(fp->off & FORWARDED_NO_XFF)) {
        PUT_LIT(&w, "x-forwarded-for: ");
        if (xff != NULL && xff->len) {
            put(&w, xff->base, xff->len);
            PUT_LIT(&w, ", ");
        }
        put(&w, fp->client_ip, strlen(fp->client_ip));
        PUT_LIT(&w, "\r\n");
    }
    if (xfproto == NULL && !(fp->off & FORWARDED_NO_XF_PROTO)) {
        const char *proto = fp->websocket ? (fp->tls ? "wss" : "ws") : (fp->tls ? "https" : "http");
        put_header(&w, H2O_STRLIT("x-forwarded-proto"), proto, strlen(proto));
    }
    if (xfhost == NULL && !(fp->off & FORWARDED_NO_XF_HOST))
        put_header(&w, H2O_STRLIT("x-forwarded-host"), req->authority.base, req->authority.len);
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
        put_header(&w, H2O_STRLIT("x-forwarded-port"), port, plen);
    }
    if (xfserver == NULL && !(fp->off & FORWARDED_NO_XF_SERVER))
        put_header(&w, H2O_STRLIT("x-forwarded-server"), server_hostname, strlen(server_hostname));
    if (xrealip == NULL && !(fp->off & FORWARDED_NO_X_REAL_IP))
        put_header(&w, H2O_STRLIT("x-real-ip"), fp->client_ip, strlen(fp->client_ip));

    if (fp->streamed && fp->streamed_length < 0) {
        PUT_LIT(&w, "transfer-encoding: chunked\r\n");
    } else if (fp->streamed) {
        char cl[32];
        int n = snprintf(cl, sizeof(cl), "%lld", (long long)fp->streamed_length);
        put_header(&w, H2O_STRLIT("content-length"), cl, (size_t)n);
    } else if (req->entity.base != NULL) {
        char cl[32];
        int n = snprintf(cl, sizeof(cl), "%zu", fp->drop_body ? (size_t)0 : req->entity.len);
        put_header(&w, H2O_STRLIT("content-length"), cl, (size_t)n);
    }
    if (fp->websocket)
        PUT_LIT(&w, "connection: upgrade\r\nupgrade: websocket\r\n");
    PUT_LIT(&w, "\r\n");
    return h2o_iovec_init(buf, (size_t)(w.p - buf));
}
