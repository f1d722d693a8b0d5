/*
 * What a client connection offers beyond libh2o 2.2.5's h2o_req_t:
 * response trailers and a request body that is still arriving.
 *
 * Gantry's HTTP/2 server (h2_server.c) provides both. On libh2o's own
 * HTTP/1.1 connection trailers go to a client that sent "TE: trailers" in
 * a response framed by h1_trailers.c; its request bodies stream
 * through h1_stream.c (h1_framing.c keeps them from libh2o, which would
 * collect each body whole before the handler runs). Upstream clients (upstream.c, h2_upstream.c) use these functions
 * and never look at the connection type themselves.
 */
#ifndef GANTRY_REQ_STREAM_H
#define GANTRY_REQ_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <h2o.h>

/* A request body arriving after the handler ran. The connection fills it;
 * its consumer (one, the upstream client) reads and consumes from buf. */
struct req_body_stream {
    h2o_buffer_t *buf;        /* received, not yet consumed */
    uint64_t received;        /* bytes received in all */
    int64_t content_length;   /* from the request head, -1: unknown */
    bool done;                /* the last byte is in buf */
    bool failed;              /* the client reset the stream or went away: drop the upstream exchange */
    h2o_headers_t trailers;   /* request trailers (valid once done), in the request's pool */
    /* set by the consumer: called on the worker thread after bytes were
     * added to buf, and at done or failed; may consume and write from
     * there. NULL: nobody listens yet. */
    void (*on_change)(void *ctx);
    void *ctx;
};

/* The body of <req> still arriving, or NULL when the body (if any) is
 * complete in req->entity. */
struct req_body_stream *req_stream_body(h2o_req_t *req);

/* True while a body is still arriving and not yet in req->entity (no side
 * effect: req_stream_body makes the caller its consumer). */
bool req_stream_body_pending(h2o_req_t *req);

/* The consumer took <n> bytes from the front of the body's buf (it must
 * call h2o_buffer_consume itself first): the connection may let the
 * client send that many more (HTTP/2 flow control). */
void req_stream_body_consumed(h2o_req_t *req, size_t n);

/* Waits until the whole body of <req> is in req->entity (bounded by the
 * entry point's maxBodySize: beyond it the request is answered 413), then
 * calls cb(req, ctx) on the worker thread; at once when it already is.
 * For what needs the whole body first: mirroring, retries, buffering,
 * forwardAuth's forwardBody. */
void req_stream_wait_body(h2o_req_t *req, void (*cb)(h2o_req_t *req, void *ctx), void *ctx);

/* For a body that streams: waits until it is complete (then it is in
 * req->entity, as with req_stream_wait_body: a small body goes up with
 * its length, as if it had been collected) or at least <min> bytes of it
 * arrived (then it streams), and calls cb(req, ctx); at once where the
 * connection does not wait (HTTP/2: its flow control paces the client).
 * A body that is refused while waiting (broken framing, the client gone,
 * over maxBodySize) is answered by the connection (400, 413), cb never
 * called. */
void req_stream_wait_start(h2o_req_t *req, size_t min, void (*cb)(h2o_req_t *req, void *ctx), void *ctx);

/* Request body bytes received from the client (for the access log and
 * the metrics): req->entity's length, or what arrived of a body that
 * streamed to the upstream (not in req->entity). */
uint64_t req_stream_bytes_in(h2o_req_t *req);

/* True when the client connection can carry response trailers. */
bool req_stream_can_send_trailers(h2o_req_t *req);

/* Response trailers of <req>: sent after its last DATA. Call before the
 * final h2o_send. They are copied.
 * Ignored (false) where the connection cannot send trailers. */
bool req_stream_set_trailers(h2o_req_t *req, const h2o_headers_t *trailers);

/* A middleware that turns trailers into something else (gRPC-Web puts
 * them in the body) takes them before the connection sees them: while a
 * sink is set for <req>, req_stream_set_trailers hands them to sink(ctx,
 * trailers) (not copied: copy what must outlive the call) and returns true
 * whatever the connection. The sink lives as long as the request's pool. */
typedef void (*req_trailer_sink_cb)(void *ctx, h2o_req_t *req, const h2o_headers_t *trailers);
void req_stream_set_trailer_sink(h2o_req_t *req, req_trailer_sink_cb sink, void *ctx);

/* ---- for the connection types that fill a req_body_stream (h1_stream.c,
 * h2_stream.c): the body bookkeeping they share ---- */

/* <len> received bytes appended to <b> (its buf exists). */
static inline void req_stream_body_append(struct req_body_stream *b, const void *bytes, size_t len)
{
    h2o_buffer_reserve(&b->buf, len);
    memcpy(b->buf->bytes + b->buf->size, bytes, len);
    b->buf->size += len;
    b->received += len;
}

/* The whole body (all of <b>'s buf) becomes req->entity, unless something
 * is there already. */
static inline void req_stream_body_complete(h2o_req_t *req, struct req_body_stream *b)
{
    if (b->buf != NULL && req->entity.base == NULL)
        req->entity = h2o_iovec_init(b->buf->size ? b->buf->bytes : "", b->buf->size);
}

/* True when the body of <req> all came before any consumer asked for it
 * (<streaming> false) and has no trailers: it is put in req->entity and
 * goes up with its length, as if it had been collected. A body with
 * trailers streams, so that they go up as trailers. */
static inline bool req_stream_body_collected(h2o_req_t *req, struct req_body_stream *b, bool streaming)
{
    if (!b->done || streaming || b->trailers.size != 0)
        return false;
    req_stream_body_complete(req, b);
    return true;
}

/* What a connection type that supports any of the above provides. */
struct req_stream_ops {
    struct req_body_stream *(*body)(h2o_req_t *req);
    bool (*body_pending)(h2o_req_t *req);
    void (*body_consumed)(h2o_req_t *req, size_t n);
    void (*wait_body)(h2o_req_t *req, void (*cb)(h2o_req_t *req, void *ctx), void *ctx);
    void (*wait_start)(h2o_req_t *req, size_t min, void (*cb)(h2o_req_t *req, void *ctx), void *ctx);
    bool (*set_trailers)(h2o_req_t *req, const h2o_headers_t *trailers);
    /* optional: whether this request's response can carry them (NULL:
     * whenever set_trailers is there) */
    bool (*can_trailers)(h2o_req_t *req);
    /* optional: request body bytes received so far, streamed ones included */
    uint64_t (*bytes_in)(h2o_req_t *req);
};

/* Connections whose callbacks are <cb> use <ops>. Any thread (entries are added, never removed). */
void req_stream_register(const h2o_conn_callbacks_t *cb, const struct req_stream_ops *ops);

#endif
