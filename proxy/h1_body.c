/*
 * HTTP/1.1 response framing (see h1_body.h).
 */
#include "h1_body.h"

#include <stddef.h>
#include <string.h>

#include "../common/ascii.h"
#include "hop_by_hop.h"

static int parse_content_length(const char *s, size_t len, size_t *out)
{
    size_t v = 0;
    if (len == 0 || len > 18)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (size_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int h1_body_init(struct h1_body *b, int minor, int status, bool is_head, const struct phr_header *hs, size_t n,
                 size_t *content_length)
{
    memset(b, 0, offsetof(struct h1_body, trailer)); /* the trailer bytes are written before they are read */
    b->reusable = minor >= 1;
    size_t cl = SIZE_MAX;
    bool chunked = false, other_te = false;
    for (size_t i = 0; i < n; i++) {
        const struct phr_header *h = &hs[i];
        if (h->name_len == 10 && ascii_caseeq(h->name, "connection", 10)) {
            if (hbh_just_keep_alive(h->value, h->value_len))
                b->reusable = b->reusable || minor == 0; /* the common value, without tokenizing */
            else if (h2o_contains_token(h->value, h->value_len, H2O_STRLIT("close"), ','))
                b->reusable = false;
            else if (minor == 0 && h2o_contains_token(h->value, h->value_len, H2O_STRLIT("keep-alive"), ','))
                b->reusable = true;
        } else if (h->name_len == 14 && ascii_caseeq(h->name, "content-length", 14)) {
            size_t v;
            if (parse_content_length(h->value, h->value_len, &v) != 0 || (cl != SIZE_MAX && v != cl))
                return -1;
            cl = v;
        } else if (h->name_len == 17 && ascii_caseeq(h->name, "transfer-encoding", 17)) {
            /* chunked must be the final coding; anything else reads to EOF */
            size_t vl = h->value_len;
            while (vl && (h->value[vl - 1] == ' ' || h->value[vl - 1] == '\t'))
                vl--;
            if (vl >= 7 && ascii_caseeq(h->value + vl - 7, "chunked", 7))
                chunked = true;
            else
                other_te = true;
        }
    }
    *content_length = cl;
    if (is_head || status == 204 || status == 304 || status < 200) {
        b->framing = BODY_NONE;
        if (!is_head || chunked)
            *content_length = SIZE_MAX;
    } else if (chunked && !other_te) {
        b->framing = BODY_CHUNKED;
        b->chunked.consume_trailer = 0; /* the trailer section is ours to read (and forward) */
        *content_length = SIZE_MAX;
    } else if (other_te || cl == SIZE_MAX) {
        b->framing = BODY_EOF;
        b->reusable = false;
        *content_length = SIZE_MAX;
    } else {
        b->framing = BODY_LENGTH;
        b->left = cl;
    }
    return 0;
}

/* Trailer section bytes: kept (up to H1_TRAILER_MAX) until the empty line. */
static int trailer_feed(struct h1_body *b, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (b->trailer_len < H1_TRAILER_MAX) {
            b->trailer[b->trailer_len++] = p[i];
        } else { /* too long to forward: keep the last bytes to find the end */
            b->trailer_overflow = true;
            memmove(b->trailer, b->trailer + 1, H1_TRAILER_MAX - 1);
            b->trailer[H1_TRAILER_MAX - 1] = p[i];
        }
        size_t l = b->trailer_len;
        bool end = (l == 2 && !b->trailer_overflow && memcmp(b->trailer, "\r\n", 2) == 0) ||
                   (l >= 4 && memcmp(b->trailer + l - 4, "\r\n\r\n", 4) == 0);
        if (end) {
            if (i + 1 < n) /* bytes after the response */
                b->reusable = false;
            b->done = true;
            return 0;
        }
    }
    return 0;
}

size_t h1_body_trailers(const struct h1_body *b, h2o_mem_pool_t *pool, h2o_headers_t *out)
{
    if (!b->done || !b->in_trailer || b->trailer_overflow || b->trailer_len <= 2)
        return 0;
    struct phr_header hs[32];
    size_t n = 32, added = 0;
    if (phr_parse_headers(b->trailer, b->trailer_len, hs, &n, 0) < 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        h2o_iovec_t name = h2o_strdup(pool, hs[i].name, hs[i].name_len);
        h2o_strtolower(name.base, name.len);
        const h2o_token_t *tok = h2o_lookup_token(name.base, name.len);
        if (tok != NULL ? hbh_trailer_forbidden_token(tok) : hbh_trailer_forbidden_str(name.base, name.len))
            continue;
        h2o_iovec_t value = h2o_strdup(pool, hs[i].value, hs[i].value_len);
        if (tok != NULL)
            h2o_add_header(pool, out, tok, NULL, value.base, value.len);
        else
            h2o_add_header_by_str(pool, out, name.base, name.len, 0, NULL, value.base, value.len);
        added++;
    }
    return added;
}

int h1_body_feed(struct h1_body *b, h2o_buffer_t *in)
{
    switch (b->framing) {
    case BODY_NONE:
        if (in->size != 0) { /* bytes after a body-less response: not ours to forward */
            /* trimmed in place: h2o_buffer_consume of everything would free the
             * buffer the caller's socket still points to (it only resets our copy) */
            in->size = 0;
            b->reusable = false;
        }
        b->done = true;
        return 0;
    case BODY_LENGTH: {
        size_t fresh = in->size - b->seen;
        if (fresh > b->left) { /* bytes beyond the body: the connection is unusable */
            in->size -= fresh - b->left;
            fresh = b->left;
            b->reusable = false;
        }
        b->left -= fresh;
        b->seen = in->size;
        b->done = b->left == 0;
        return 0;
    }
    case BODY_CHUNKED: {
        if (b->in_trailer) {
            size_t fresh = in->size - b->seen;
            in->size = b->seen; /* trailer bytes are not body */
            return trailer_feed(b, in->bytes + b->seen, fresh);
        }
        size_t sz = in->size - b->seen;
        ssize_t rc = phr_decode_chunked(&b->chunked, in->bytes + b->seen, &sz);
        if (rc == -1)
            return -1;
        if (rc >= 0) { /* the last chunk: rc bytes of trailer section (and beyond) follow the data */
            b->in_trailer = true;
            char *rest = in->bytes + b->seen + sz;
            in->size = b->seen + sz;
            b->seen = in->size;
            return trailer_feed(b, rest, (size_t)rc);
        }
        in->size = b->seen + sz;
        b->seen = in->size;
        return 0;
    }
    case BODY_EOF:
        b->seen = in->size;
        return 0;
    }
    return 0;
}
