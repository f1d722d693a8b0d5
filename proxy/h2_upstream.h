/*
 * The HTTP/2 upstream client: h2c:// servers, and https:// servers that
 * chose h2 by ALPN. Framing, HPACK and flow control are libnghttp2's; the
 * sockets and timers are the worker's h2o loop.
 *
 * Per worker and server: one connection carrying up to the server's
 * SETTINGS_MAX_CONCURRENT_STREAMS streams, another only when it is
 * saturated. A connection starts taking streams once the server's first
 * SETTINGS arrived (so that its stream limit is known). GOAWAY: no new
 * streams there; those above last_stream_id come back as unprocessed.
 * PING after forwardingTimeouts.readIdleTimeout of silence (default 30 s);
 * no ACK within pingTimeout (default 15 s) closes the connection.
 *
 * Flow control follows the client: nghttp2 opens a stream's window again
 * only for bytes the owner reports consumed (h2u_consumed), i.e. bytes the
 * client connection took, so a slow client holds back its upstream stream
 * (and pins at most one stream window in Gantry). The connection window
 * is opened as data arrives: one slow stream does not stall the others.
 */
#ifndef GANTRY_H2_UPSTREAM_H
#define GANTRY_H2_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <h2o.h>

#include "registry.h"
#include "req_stream.h"
#include "worker.h"

struct h2u_stream;

enum h2u_failure {
    H2U_CONNECT_FAILED, /* no connection could be made (err, timed_out) */
    H2U_UNPROCESSED,    /* the server did not process it (REFUSED_STREAM, above GOAWAY's last stream): safe to
                         * retry (a streamed body whose bytes were taken reports H2U_LOST instead) */
    H2U_LOST,           /* the connection died with the request sent: it may have been processed */
    H2U_RESET,          /* the server reset the stream */
};

/* What a stream's owner hears, on the worker thread. After on_end or
 * on_fail the stream is gone: the owner drops its pointer. */
struct h2u_handler {
    /* the final response head; <headers> (lower-case names, no pseudo
     * headers) and its strings live in the request's pool */
    void (*on_head)(void *ctx, int status, h2o_headers_t *headers);
    /* response bytes; report them consumed once the client took them */
    void (*on_data)(void *ctx, const void *bytes, size_t len);
    /* a DATA frame ended without ending the response: pass on what came
     * (at the response's end, on_end comes instead, so that a small
     * response goes to the client in one piece) */
    void (*on_data_frame)(void *ctx);
    /* the response ended; <trailers> (maybe empty) in the request's pool */
    void (*on_end)(void *ctx, h2o_headers_t *trailers);
    void (*on_fail)(void *ctx, enum h2u_failure kind, const char *err, bool timed_out);
};

struct h2u_request {
    h2o_req_t *req; /* its pool holds the response headers; NULL with <pool> and no body_stream (mirror copies) */
    h2o_mem_pool_t *pool; /* NULL: req's pool */
    h2o_iovec_t method, scheme, authority, path;
    const h2o_header_t *headers; /* regular headers, lower-case names, no hop-by-hop ones */
    size_t n_headers;
    h2o_iovec_t body;                 /* the whole body; or ... */
    struct req_body_stream *body_stream; /* ... a body still arriving (req_stream.h), trailers included */
};

/* Starts a request to <s> (s->h2c, or s->tls with ALPN h2). NULL when no
 * socket could be opened (errno). <r> and what it points to must live as
 * long as the request (its pool). */
struct h2u_stream *h2u_start(struct worker *w, struct server *s, const struct h2u_request *r, const struct h2u_handler *h,
                             void *ctx);
/* The owner passed <n> response bytes on: the server may send as many more. */
void h2u_consumed(struct h2u_stream *st, size_t n);
/* The owner goes away: RST_STREAM(CANCEL) if the stream is open; no more
 * callbacks. */
void h2u_cancel(struct h2u_stream *st);

/* A TLS connection to <s> (https) whose handshake chose h2: becomes the
 * worker's HTTP/2 connection to <s>, or is closed when there is one. */
void h2u_adopt(struct worker *w, struct server *s, h2o_socket_t *sock);
/* True when <sock> (TLS, handshake done) negotiated h2. */
bool h2u_alpn_is_h2(h2o_socket_t *sock);

void h2u_worker_init(struct worker *w);
/* Closes this worker's connections to <s> (all servers: NULL) that carry
 * no stream anybody waits for. */
void h2u_close_idle(struct worker *w, struct server *s);

#endif
