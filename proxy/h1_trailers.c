/*
 * Chunked framing with a trailer section for HTTP/1.1 clients (see h1_trailers.h).
 */
#include "h1_trailers.h"

#include <alloca.h>
#include <stdio.h>
#include <string.h>

#include "hop_by_hop.h"

struct chunk_writer {
    h2o_ostream_t super;
    char size_line[24];       /* "<hex>\r\n" of the chunk being sent */
    h2o_headers_t trailers;   /* copied into the request's pool */
};

static bool client_accepts_trailers(const h2o_req_t *req)
{
    for (ssize_t i = -1; (i = h2o_find_header(&req->headers, H2O_TOKEN_TE, i)) >= 0;) {
        h2o_iovec_t v = req->headers.entries[i].value;
        if (h2o_contains_token(v.base, v.len, H2O_STRLIT("trailers"), ','))
            return true;
    }
    return false;
}

/* A field that may not go in a trailer section (RFC 9110 §6.5.1: framing
 * and connection control), or one that would break the framing. */
static bool unsendable(const h2o_header_t *h)
{
    if (hbh_trailer_forbidden(h->name))
        return true;
    if (h->name->len == 0)
        return true;
    for (size_t i = 0; i < h->name->len; i++)
        if ((unsigned char)h->name->base[i] <= ' ' || h->name->base[i] == ':' || h->name->base[i] == 0x7f)
            return true;
    for (size_t i = 0; i < h->value.len; i++)
        if (h->value.base[i] == '\r' || h->value.base[i] == '\n' || h->value.base[i] == '\0')
            return true;
    return false;
}

/* "0\r\n", the trailer fields, "\r\n": the end of the message. */
static h2o_iovec_t last_chunk(struct chunk_writer *w, h2o_req_t *req)
{
    size_t len = 5;
    for (size_t i = 0; i < w->trailers.size; i++)
        len += w->trailers.entries[i].name->len + w->trailers.entries[i].value.len + 4;
    char *buf = h2o_mem_alloc_pool(&req->pool, len), *dst = buf;
    memcpy(dst, "0\r\n", 3);
    dst += 3;
    for (size_t i = 0; i < w->trailers.size; i++) {
        const h2o_header_t *h = &w->trailers.entries[i];
        if (unsendable(h))
            continue;
        memcpy(dst, h->name->base, h->name->len);
        dst += h->name->len;
        memcpy(dst, ": ", 2);
        dst += 2;
        memcpy(dst, h->value.base, h->value.len);
        dst += h->value.len;
        memcpy(dst, "\r\n", 2);
        dst += 2;
    }
    memcpy(dst, "\r\n", 2);
    dst += 2;
    return h2o_iovec_init(buf, dst - buf);
}

static void send_chunk(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *inbufs, size_t inbufcnt, h2o_send_state_t state)
{
    struct chunk_writer *w = (void *)_self;
    h2o_iovec_t *out = alloca(sizeof(*out) * (inbufcnt + 3));
    size_t n = 0, size = 0;
    for (size_t i = 0; i < inbufcnt; i++)
        size += inbufs[i].len;
    req->bytes_sent += size; /* the body only, as h2o's encoder counts it */
    if (size != 0) {
        out[n++] = h2o_iovec_init(w->size_line, (size_t)sprintf(w->size_line, "%zx\r\n", size));
        memcpy(out + n, inbufs, sizeof(*out) * inbufcnt);
        n += inbufcnt;
        if (state != H2O_SEND_STATE_ERROR)
            out[n++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    }
    /* an error leaves the message unfinished (no last chunk): h2o closes
     * the connection and the client sees the response was cut */
    if (state == H2O_SEND_STATE_FINAL)
        out[n++] = last_chunk(w, req);
    h2o_ostream_send_next(&w->super, req, out, n, state);
}

static bool has_body(const h2o_req_t *req)
{
    int st = req->res.status;
    return !(st < 200 || st == 204 || st == 304) && !h2o_memis(req->input.method.base, req->input.method.len, H2O_STRLIT("HEAD"));
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    (void)self;
    if (req->version != 0x101 || req->res.content_length != SIZE_MAX || !has_body(req) ||
        h2o_find_header(&req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, -1) >= 0 || !client_accepts_trailers(req)) {
        h2o_setup_next_ostream(req, slot);
        return;
    }
    /* h2o's encoder skips a response that already says chunked */
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_TRANSFER_ENCODING, NULL, H2O_STRLIT("chunked"));
    req->bytes_counted_by_ostream = 1;
    struct chunk_writer *w = (void *)h2o_add_ostream(req, sizeof(*w), slot);
    w->super.do_send = send_chunk;
    w->trailers = (h2o_headers_t){NULL};
    /* h2o's encoder closes the connection after any other status than
     * 200 whose length it does not know; this framing ends the message
     * itself, so the connection stays as it was */
    int persistent = req->http1_is_persistent;
    h2o_setup_next_ostream(req, &w->super.next);
    req->http1_is_persistent = persistent;
}

void h1_trailers_register(h2o_pathconf_t *pathconf)
{
    h2o_filter_t *f = h2o_create_filter(pathconf, sizeof(*f));
    f->on_setup_ostream = on_setup_ostream;
}

static struct chunk_writer *writer_of(h2o_req_t *req)
{
    if (req->version != 0x101)
        return NULL;
    for (h2o_ostream_t *o = req->_ostr_top; o != NULL; o = o->next)
        if (o->do_send == send_chunk)
            return (struct chunk_writer *)o;
    return NULL;
}

bool h1_trailers_active(h2o_req_t *req)
{
    return writer_of(req) != NULL;
}

bool h1_trailers_set(h2o_req_t *req, const h2o_headers_t *trailers)
{
    struct chunk_writer *w = writer_of(req);
    if (w == NULL)
        return false;
    for (size_t i = 0; i < trailers->size; i++) {
        const h2o_header_t *h = &trailers->entries[i];
        h2o_iovec_t name = h2o_strdup(&req->pool, h->name->base, h->name->len);
        h2o_iovec_t value = h2o_strdup(&req->pool, h->value.base, h->value.len);
        h2o_add_header_by_str(&req->pool, &w->trailers, name.base, name.len, 0, NULL, value.base, value.len);
    }
    return true;
}
