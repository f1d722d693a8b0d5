/*
 * Request streaming and trailers per connection type (see req_stream.h).
 */
#include "req_stream.h"

#include <pthread.h>
#include <stdatomic.h>

#define MAX_TYPES 4

static struct {
    const h2o_conn_callbacks_t *cb;
    const struct req_stream_ops *ops;
} types[MAX_TYPES];
static atomic_size_t n_types;
static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;

/* Also from a worker (libh2o's HTTP/1 callbacks are only known from a
 * connection): an entry is complete before n_types counts it. */
void req_stream_register(const h2o_conn_callbacks_t *cb, const struct req_stream_ops *ops)
{
    pthread_mutex_lock(&register_lock);
    size_t n = atomic_load(&n_types), i;
    for (i = 0; i < n && types[i].cb != cb; i++)
        ;
    if (i == n && n < MAX_TYPES) {
        types[n] = (typeof(types[0])){cb, ops};
        atomic_store(&n_types, n + 1);
    }
    pthread_mutex_unlock(&register_lock);
}

/* Trailer sinks of this worker's requests: few at once (gRPC-Web calls in
 * flight), each node in its request's pool and unlinked when that goes. */
struct trailer_sink {
    h2o_req_t *req;
    req_trailer_sink_cb cb;
    void *ctx;
    struct trailer_sink *next, **prevp;
};
static __thread struct trailer_sink *trailer_sinks;

static void trailer_sink_dispose(void *_s)
{
    struct trailer_sink *s = _s;
    *s->prevp = s->next;
    if (s->next != NULL)
        s->next->prevp = s->prevp;
}

void req_stream_set_trailer_sink(h2o_req_t *req, req_trailer_sink_cb sink, void *ctx)
{
    struct trailer_sink *s = h2o_mem_alloc_shared(&req->pool, sizeof(*s), trailer_sink_dispose);
    *s = (struct trailer_sink){req, sink, ctx, trailer_sinks, &trailer_sinks};
    if (trailer_sinks != NULL)
        trailer_sinks->prevp = &s->next;
    trailer_sinks = s;
}

static bool trailer_sink_take(h2o_req_t *req, const h2o_headers_t *trailers)
{
    for (struct trailer_sink *s = trailer_sinks; s != NULL; s = s->next)
        if (s->req == req) {
            s->cb(s->ctx, req, trailers);
            return true;
        }
    return false;
}

static const struct req_stream_ops *ops_of(h2o_req_t *req)
{
    if (req->conn == NULL)
        return NULL;
    size_t n = atomic_load(&n_types);
    for (size_t i = 0; i < n; i++)
        if (types[i].cb == req->conn->callbacks)
            return types[i].ops;
    return NULL;
}

struct req_body_stream *req_stream_body(h2o_req_t *req)
{
    const struct req_stream_ops *ops = ops_of(req);
    return ops != NULL && ops->body != NULL ? ops->body(req) : NULL;
}

bool req_stream_body_pending(h2o_req_t *req)
{
    const struct req_stream_ops *ops = ops_of(req);
    return ops != NULL && ops->body_pending != NULL && ops->body_pending(req);
}

void req_stream_body_consumed(h2o_req_t *req, size_t n)
{
    const struct req_stream_ops *ops = ops_of(req);
    if (ops != NULL && ops->body_consumed != NULL)
        ops->body_consumed(req, n);
}

void req_stream_wait_body(h2o_req_t *req, void (*cb)(h2o_req_t *req, void *ctx), void *ctx)
{
    const struct req_stream_ops *ops = ops_of(req);
    if (ops != NULL && ops->wait_body != NULL && req_stream_body_pending(req)) {
        ops->wait_body(req, cb, ctx);
        return;
    }
    cb(req, ctx);
}

void req_stream_wait_start(h2o_req_t *req, size_t min, void (*cb)(h2o_req_t *req, void *ctx), void *ctx)
{
    const struct req_stream_ops *ops = ops_of(req);
    if (ops != NULL && ops->wait_start != NULL && req_stream_body_pending(req)) {
        ops->wait_start(req, min, cb, ctx);
        return;
    }
    cb(req, ctx);
}

uint64_t req_stream_bytes_in(h2o_req_t *req)
{
    const struct req_stream_ops *ops = ops_of(req);
    uint64_t n = ops != NULL && ops->bytes_in != NULL ? ops->bytes_in(req) : 0;
    return n > req->entity.len ? n : req->entity.len;
}

bool req_stream_can_send_trailers(h2o_req_t *req)
{
    const struct req_stream_ops *ops = ops_of(req);
    return ops != NULL && ops->set_trailers != NULL && (ops->can_trailers == NULL || ops->can_trailers(req));
}

bool req_stream_set_trailers(h2o_req_t *req, const h2o_headers_t *trailers)
{
    if (trailer_sink_take(req, trailers))
        return true;
    const struct req_stream_ops *ops = ops_of(req);
    return ops != NULL && ops->set_trailers != NULL && ops->set_trailers(req, trailers);
}
