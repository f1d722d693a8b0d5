/* The errors middleware's page request and response (see errors_page.h). */
#include "errors_page.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../forwarded.h"
#include "../hop_by_hop.h"
#include "go_url.h"
#include "middleware.h"
#include "pool_buf.h"

/* A byte of <query> (or of a substituted status) as it goes in the request
 * line: what Go's url.Parse + RequestURI() would escape there. */
static void put_target_byte(struct pool_buf *b, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";
    if (c <= 0x20 || c >= 0x7f) {
        char e[3] = {'%', hex[c >> 4], hex[c & 15]};
        pool_buf_put(b, e, 3);
    } else {
        pool_buf_put(b, (const char *)&c, 1);
    }
}

h2o_iovec_t errors_page_target(h2o_mem_pool_t *pool, const char *query, int status, int original, h2o_iovec_t url)
{
    struct pool_buf b = {.pool = pool};
    pool_buf_put(&b, "/", 1);
    const char *p = query[0] == '/' ? query + 1 : query; /* strings.TrimPrefix: one '/' */
    char num[16];
    while (*p != '\0' && *p != '#') {
        if (strncmp(p, "{status}", 8) == 0) {
            pool_buf_put(&b, num, (size_t)snprintf(num, sizeof(num), "%d", status));
            p += 8;
        } else if (strncmp(p, "{originalStatus}", 16) == 0) {
            pool_buf_put(&b, num, (size_t)snprintf(num, sizeof(num), "%d", original));
            p += 16;
        } else if (strncmp(p, "{url}", 5) == 0) {
            go_url_query_escape(&b, url.base, url.len);
            p += 5;
        } else {
            put_target_byte(&b, (unsigned char)*p++);
        }
    }
    return h2o_iovec_init(b.p, b.len);
}

h2o_iovec_t errors_original_url(h2o_mem_pool_t *pool, bool tls, h2o_iovec_t authority, h2o_iovec_t path)
{
    struct pool_buf b = {.pool = pool};
    pool_buf_puts(&b, tls ? "https://" : "http://");
    pool_buf_put(&b, authority.base, authority.len);
    pool_buf_put(&b, path.base, path.len);
    return h2o_iovec_init(b.p, b.len);
}

static bool is(const char *name, size_t len, const char *lower)
{
    return h2o_lcstris(name, len, lower, strlen(lower));
}

/* Not sent to the page service: what belongs to the client's connection
 * (Go's reverse proxy drops the same), framing (the page request has no
 * body) and Host (written first). */
static bool request_header_kept(const h2o_iovec_t *n)
{
    static const char *const dropped[] = {"proxy-authenticate", "proxy-authorization", "trailer", "host",
                                          "content-length",     "expect",              NULL};
    if (hbh_connection_specific(n))
        return false;
    for (const char *const *d = dropped; *d; d++)
        if (is(n->base, n->len, *d))
            return false;
    return true;
}

static bool listed(const struct errors_page_headers *which, const h2o_iovec_t *name)
{
    if (which->all)
        return true;
    for (size_t i = 0; i < which->n; i++)
        if (mw_name_is(name->base, name->len, which->names[i], strlen(which->names[i])))
            return true;
    return false;
}

static bool has_header(const h2o_headers_t *headers, const char *lower)
{
    for (size_t i = 0; i < headers->size; i++)
        if (is(headers->entries[i].name->base, headers->entries[i].name->len, lower))
            return true;
    return false;
}

static h2o_iovec_t first_value(const h2o_headers_t *headers, const char *lower)
{
    for (size_t i = 0; i < headers->size; i++)
        if (is(headers->entries[i].name->base, headers->entries[i].name->len, lower))
            return headers->entries[i].value;
    return h2o_iovec_init(NULL, 0);
}

/* The fields nginx's @custom_ location sets itself (a client's field of
 * the same name is not passed on). */
static bool set_by_nginx(const h2o_iovec_t *n, const struct errors_page_nginx *nginx)
{
    static const char *const fixed[] = {"x-code", "x-format", "x-original-uri", "x-request-id", "x-forwarded-for", NULL};
    for (const char *const *f = fixed; *f; f++)
        if (is(n->base, n->len, *f))
            return true;
    for (size_t i = 0; i < nginx->n; i++)
        if (mw_name_is(n->base, n->len, nginx->names[i], strlen(nginx->names[i])))
            return true;
    return false;
}

static void put_field(struct pool_buf *b, const char *name, const char *value, size_t len)
{
    pool_buf_puts(b, name);
    pool_buf_puts(b, ": ");
    pool_buf_put(b, value, len);
    pool_buf_puts(b, "\r\n");
}

/* Traefik: the port of the Host header, else the scheme's default (as
 * forwarded.c writes X-Forwarded-Port upstream). */
static h2o_iovec_t host_port(h2o_iovec_t authority, bool tls)
{
    const char *a = authority.base;
    size_t alen = authority.len;
    const char *rb = alen && a[0] == '[' ? memchr(a, ']', alen) : NULL;
    const char *colon = rb ? (rb + 1 < a + alen && rb[1] == ':' ? rb + 1 : NULL) : memchr(a, ':', alen);
    if (colon != NULL && colon + 1 < a + alen)
        return h2o_iovec_init(colon + 1, (size_t)(a + alen - colon - 1));
    return tls ? h2o_iovec_init(H2O_STRLIT("443")) : h2o_iovec_init(H2O_STRLIT("80"));
}

/* What Traefik's entry point put in the request (forwardedheaders'
 * rewrite) and the page request therefore carries. */
static void put_traefik_forwarded(struct pool_buf *b, const h2o_headers_t *headers,
                                  const struct errors_page_headers *which, const struct errors_page_client *client)
{
    char host[256];
    if (gethostname(host, sizeof(host) - 1) != 0)
        strcpy(host, "gantry");
    host[sizeof(host) - 1] = '\0';
    h2o_iovec_t port = host_port(client->host, client->tls);
    const struct {
        const char *name, *lower;
        uint8_t off;
        h2o_iovec_t value;
    } fields[] = {
        {"X-Forwarded-Proto", "x-forwarded-proto", FORWARDED_NO_XF_PROTO,
         client->tls ? h2o_iovec_init(H2O_STRLIT("https")) : h2o_iovec_init(H2O_STRLIT("http"))},
        {"X-Forwarded-Host", "x-forwarded-host", FORWARDED_NO_XF_HOST, client->host},
        {"X-Forwarded-Port", "x-forwarded-port", FORWARDED_NO_XF_PORT, port},
        {"X-Forwarded-Server", "x-forwarded-server", FORWARDED_NO_XF_SERVER, h2o_iovec_init(host, strlen(host))},
        {"X-Real-Ip", "x-real-ip", FORWARDED_NO_X_REAL_IP, h2o_iovec_init(client->ip, strlen(client->ip))},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        h2o_iovec_t name = h2o_iovec_init(fields[i].name, strlen(fields[i].name));
        if ((client->off & fields[i].off) || has_header(headers, fields[i].lower) || !listed(which, &name))
            continue;
        if (fields[i].value.len != 0) /* Traefik does not set X-Forwarded-Host for an empty Host */
            put_field(b, fields[i].name, fields[i].value.base, fields[i].value.len);
    }
}

static void put_nginx_fields(struct pool_buf *b, const h2o_headers_t *headers, const struct errors_page_nginx *nginx,
                             const struct errors_page_client *client)
{
    char code[16];
    put_field(b, "X-Code", code, (size_t)snprintf(code, sizeof(code), "%d", nginx->code));
    h2o_iovec_t accept = first_value(headers, "accept"); /* nginx sends no field for an empty value */
    if (accept.len != 0)
        put_field(b, "X-Format", accept.base, accept.len);
    put_field(b, "X-Original-URI", nginx->original_uri.base, nginx->original_uri.len);
    for (size_t i = 0; i < nginx->n; i++)
        if (nginx->values[i][0] != '\0')
            put_field(b, nginx->names[i], nginx->values[i], strlen(nginx->values[i]));
    h2o_iovec_t id = first_value(headers, "x-request-id");
    if (id.len != 0)
        put_field(b, "X-Request-ID", id.base, id.len);
    put_field(b, "X-Forwarded-For", client->ip, strlen(client->ip));
}

h2o_iovec_t errors_page_head(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t authority, const h2o_headers_t *headers,
                             const struct errors_page_headers *which, const struct errors_page_client *client,
                             const struct errors_page_nginx *nginx)
{
    static const struct errors_page_headers every = {.all = true};
    if (nginx != NULL)
        which = &every;
    struct pool_buf b = {.pool = pool};
    pool_buf_puts(&b, "GET ");
    pool_buf_put(&b, target.base, target.len);
    pool_buf_puts(&b, " HTTP/1.1\r\nHost: ");
    pool_buf_put(&b, authority.base, authority.len);
    pool_buf_puts(&b, "\r\n");
    struct pool_buf cookies = {.pool = pool}; /* HTTP/2 splits cookies: one line on HTTP/1.1, written last */
    for (size_t i = 0; i < headers->size; i++) {
        const h2o_header_t *h = &headers->entries[i];
        if (!request_header_kept(h->name) || !listed(which, h->name) || (nginx != NULL && set_by_nginx(h->name, nginx)))
            continue;
        if (h->name == &H2O_TOKEN_COOKIE->buf) {
            pool_buf_puts(&cookies, cookies.len ? "; " : "Cookie: ");
            pool_buf_put(&cookies, h->value.base, h->value.len);
            continue;
        }
        const char *name = h->orig_name ? h->orig_name : h->name->base;
        pool_buf_put(&b, name, h->name->len);
        pool_buf_puts(&b, ": ");
        pool_buf_put(&b, h->value.base, h->value.len);
        pool_buf_puts(&b, "\r\n");
    }
    if (cookies.len) {
        pool_buf_put(&b, cookies.p, cookies.len);
        pool_buf_puts(&b, "\r\n");
    }
    if (nginx != NULL)
        put_nginx_fields(&b, headers, nginx, client);
    else if (client != NULL)
        put_traefik_forwarded(&b, headers, which, client);
    pool_buf_puts(&b, "\r\n");
    return h2o_iovec_init(b.p, b.len);
}

bool errors_page_header_passes(const struct phr_header *h, const struct phr_header *connection)
{
    static const char *const dropped[] = {"content-length", "transfer-encoding", "trailer", "date", NULL};
    for (const char *const *d = dropped; *d; d++)
        if (is(h->name, h->name_len, *d))
            return false;
    if (hbh_connection_specific_str(h->name, h->name_len))
        return false;
    if (connection == NULL || h->name_len > 128)
        return true;
    char lname[128]; /* h2o_contains_token wants the needle lowercase */
    for (size_t i = 0; i < h->name_len; i++)
        lname[i] = (char)h2o_tolower(h->name[i]);
    return !hbh_named_in_connection(&(h2o_iovec_t){(char *)connection->value, connection->value_len}, lname, h->name_len);
}
