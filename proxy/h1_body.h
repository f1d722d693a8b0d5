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

#include <h2o.h>

#include "pico.h"

enum h1_framing { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_EOF };

struct h1_body {
    enum h1_framing framing;
    size_t left;  /* BODY_LENGTH: bytes still to come */
    size_t seen;  /* bytes at the start of the input already accounted for */
    struct phr_chunked_decoder chunked;
    bool done;
    bool reusable; /* the connection may carry another request afterwards */
};

/* Framing of a response to a request (<is_head>: to a HEAD request).
 * Sets *content_length (SIZE_MAX when unknown). -1: conflicting or
 * malformed Content-Length. */
int h1_body_init(struct h1_body *b, int minor, int status, bool is_head, const struct phr_header *hs, size_t n,
                 size_t *content_length);

/* Accounts for the bytes of (*in) not seen yet: trims bytes past the end
 * of the body, decodes chunked framing in place. -1: malformed chunks. */
int h1_body_feed(struct h1_body *b, h2o_buffer_t *in);

#endif
