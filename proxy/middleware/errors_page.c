/* The errors middleware's page request and response (see errors_page.h). */
#include "errors_page.h"

#include <stdio.h>
#include <string.h>

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

h2o_iovec_t errors_page_head(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t authority, const h2o_headers_t *headers,
                             const struct errors_page_headers *which)
{
    struct pool_buf b = {.pool = pool};
    pool_buf_puts(&b, "GET ");
    pool_buf_put(&b, target.base, target.len);
    pool_buf_puts(&b, " HTTP/1.1\r\nHost: ");
    pool_buf_put(&b, authority.base, authority.len);
    pool_buf_puts(&b, "\r\n");
    struct pool_buf cookies = {.pool = pool}; /* HTTP/2 splits cookies: one line on HTTP/1.1, written last */
    for (size_t i = 0; i < headers->size; i++) {
        const h2o_header_t *h = &headers->entries[i];
        if (!request_header_kept(h->name) || !listed(which, h->name))
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
