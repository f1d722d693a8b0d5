/*
 * HTTP/1.1 response framing: how long a response body is (RFC 9112
 * section 6.3) and where it ends in the bytes read so far. Shared by the
 * upstream client, which forwards the body, and the pool, which drains
 * the rest of a response nobody waits for any more.
 */
#ifndef GANTRY_H1_BODY_H
#define GANTRY_H1_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "pico.h"

enum h1_framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

#define H1_TRAILER_MAX 1024 /* trailer section kept for forwarding; a longer one is read and dropped */

struct h1_body {
    enum h1_framing framing;
    size_t left;  /* BODY_LENGTH: bytes still to come */
    size_t seen;  /* bytes at the start of the input already accounted for */
    struct phr_chunked_decoder chunked;
    bool done;
    bool reusable; /* the connection may carry another request afterwards */
    /* chunked: the trailer section after the last chunk, up to and with its
     * final CRLF (trailer_len 2: no trailer field) */
    bool in_trailer, trailer_overflow;
    uint16_t trailer_len;
    char trailer[H1_TRAILER_MAX];
};

/* Framing of a response to a request (<is_head>: to a HEAD request).
 * Sets *content_length (SIZE_MAX when unknown). -1: conflicting or
 * malformed Content-Length. */
int h1_body_init(struct h1_body *b, int minor, int status, bool is_head, const struct phr_header *hs, size_t n,
                 size_t *content_length);

/* Accounts for the bytes of (*in) not seen yet: trims bytes past the end
 * of the body, decodes chunked framing in place (the trailer section goes
 * to b->trailer). -1: malformed chunks. */
int h1_body_feed(struct h1_body *b, h2o_buffer_t *in);

/* The trailer fields of a finished chunked body, minus framing and
 * hop-by-hop ones, into <out> (allocated in <pool>). Number added. */
size_t h1_body_trailers(const struct h1_body *b, h2o_mem_pool_t *pool, h2o_headers_t *out);

#endif
