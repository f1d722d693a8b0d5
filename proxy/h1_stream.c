/*
 * HTTP/1.1 request bodies streamed as they arrive (see h1_stream.h).
 */
#include "h1_stream.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>

#include "../common/log.h"
#include "conntrack.h"
#include "h1_framing.h"
#include "h1_trailers.h"
#include "hop_by_hop.h"

static struct h1_stream *stream_of(h2o_req_t *req)
{
    struct conntrack_conn *c = conntrack_of(req);
    if (c == NULL || c->framing == NULL)
        return NULL;
    struct h1_stream *s = h1_framing_stream(c->framing);
    return s->active && s->req == req ? s : NULL;
}

static uint64_t outstanding(const struct h1_stream *s)
{
    return s->body.received - s->consumed;
}

static void free_trailer(struct h1_stream *s)
{
    free(s->trailer_raw);
    s->trailer_raw = NULL;
    s->trailer_len = 0;
}

void h1_stream_begin(struct h1_stream *s, int64_t content_length, uint32_t head, uint64_t max)
{
    s->active = true;
    s->head = head;
    s->req = NULL;
    s->body = (struct req_body_stream){.content_length = content_length};
    h2o_buffer_init(&s->body.buf, &h2o_socket_buffer_prototype);
    s->max = max;
    s->consumed = 0;
    s->streaming = s->paused = false;
    s->wait_cb = s->start_cb = NULL;
    s->bad = false;
    free_trailer(s);
    s->rate_since_ms = -1;
}

void h1_stream_data(struct h1_stream *s, const char *bytes, size_t len)
{
    if (!s->active || s->body.failed) /* nobody wants it any more: read and dropped */
        return;
    if (s->body.received + len > s->max) { /* chunked (a longer Content-Length is h2o's 413) */
        s->body.failed = true;
        return;
    }
    req_stream_body_append(&s->body, bytes, len);
}

void h1_stream_trailer(struct h1_stream *s, char c)
{
    if (!s->active || s->trailer_len >= H1_STREAM_TRAILER_MAX + 8) /* the framing bounds it first */
        return;
    if (s->trailer_raw == NULL)
        s->trailer_raw = h2o_mem_alloc(H1_STREAM_TRAILER_MAX + 8);
    s->trailer_raw[s->trailer_len++] = c;
}

static bool token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The raw trailer section (framing checked it: CRLF lines, no controls)
 * into body.trailers, in <pool>; lines that are not "name: value" are dropped. */
static void parse_trailers(struct h1_stream *s, h2o_mem_pool_t *pool)
{
    if (s->trailer_raw == NULL)
        return;
    const char *p = s->trailer_raw, *end = s->trailer_raw + s->trailer_len;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (eol == NULL)
            break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL && colon > p) {
            size_t nlen = (size_t)(colon - p);
            char *name = h2o_mem_alloc_pool(pool, nlen);
            bool ok = true;
            for (size_t i = 0; i < nlen; i++) {
                unsigned char c = (unsigned char)p[i];
                name[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
                ok = ok && token_char((unsigned char)name[i]);
            }
            const char *v = colon + 1, *vend = eol;
            while (v < vend && (*v == ' ' || *v == '\t'))
                v++;
            while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
                vend--;
            if (ok && !hbh_trailer_forbidden_str(name, nlen)) {
                h2o_iovec_t value = h2o_strdup(pool, v, (size_t)(vend - v));
                h2o_add_header_by_str(pool, &s->body.trailers, name, nlen, 1, NULL, value.base, value.len);
            }
        }
        p = eol + 2;
    }
    free_trailer(s);
}

void h1_stream_end(struct h1_stream *s)
{
    if (!s->active)
        return;
    if (s->req != NULL)
        parse_trailers(s, &s->req->pool);
    s->body.done = true;
}

bool h1_stream_broken(struct h1_stream *s)
{
    if (!s->active || s->body.done)
        return false;
    s->body.failed = s->bad = true;
    return s->req != NULL && (s->wait_cb != NULL || s->start_cb != NULL);
}

/* A body refused while its request waited for it: answered, the connection closes. */
static void refuse(struct h1_stream *s)
{
    h2o_req_t *req = s->req;
    req->http1_is_persistent = 0;
    if (s->bad)
        h2o_send_error_generic(req, 400, "Bad Request", "invalid or incomplete request body", H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    else
        h2o_send_error_generic(req, 413, "Payload Too Large", "request body too large", H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
}

void h1_stream_changed(struct h1_stream *s)
{
    if (!s->active || s->req == NULL)
        return;
    if (s->wait_cb != NULL || s->start_cb != NULL) {
        bool whole = s->wait_cb != NULL;
        void (*cb)(h2o_req_t *, void *) = whole ? s->wait_cb : s->start_cb;
        void *ctx = whole ? s->wait_ctx : s->start_ctx;
        if (s->body.failed) {
            s->wait_cb = s->start_cb = NULL;
            refuse(s);
        } else if (s->body.done) { /* collected: goes up with its length, unless it has trailers (then it streams, so that they go up as trailers) */
            s->wait_cb = s->start_cb = NULL;
            if (whole || s->body.trailers.size == 0)
                req_stream_body_complete(s->req, &s->body);
            cb(s->req, ctx);
        } else if (!whole && s->body.received >= s->start_min) { /* large: streams from here */
            s->start_cb = NULL;
            cb(s->req, ctx);
        }
        return;
    }
    if (s->streaming && s->body.on_change != NULL)
        s->body.on_change(s->body.ctx);
}

bool h1_stream_hold_reading(const struct h1_stream *s)
{
    if (!s->active)
        return false;
    if (s->body.failed)
        return true;
    return s->wait_cb == NULL && outstanding(s) > H1_STREAM_BUFFER;
}

bool h1_stream_busy(const struct h1_stream *s)
{
    return s->active;
}

/* ---- the request ---- */

/* A response that starts before the whole body came in: the rest must
 * not be read as the next request. Little left: read and dropped (the
 * framing follows it); else the connection closes after the response. */
struct early_ostream {
    h2o_ostream_t super;
    struct h1_stream *s;
};

static void pass_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    h2o_ostream_send_next(self, req, bufs, bufcnt, state);
}

static void first_send(h2o_ostream_t *_self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    struct early_ostream *self = (void *)_self;
    struct h1_stream *s = self->s;
    if (s->active && s->req == req && !s->body.done) {
        int64_t left = s->body.content_length - (int64_t)s->body.received;
        if (s->body.failed || s->body.content_length < 0 || left > H1_STREAM_DRAIN_MAX)
            req->http1_is_persistent = 0;
    }
    self->super.do_send = pass_send;
    pass_send(_self, req, bufs, bufcnt, state);
}

/* The request is done (its pool is cleared): the body leaves with it. */
static void on_request_dispose(void *_s)
{
    struct h1_stream *s = *(struct h1_stream **)_s;
    if (!s->active)
        return;
    s->req = NULL;
    h2o_buffer_dispose(&s->body.buf);
    s->body = (struct req_body_stream){.buf = NULL};
    s->active = false; /* what is still to come is dropped by the framing */
    s->paused = false;
    free_trailer(s);
}

static const struct req_stream_ops ops;

void h1_stream_request(struct h1_stream *s, h2o_req_t *req)
{
    static atomic_bool registered;
    if (!atomic_load_explicit(&registered, memory_order_acquire)) {
        req_stream_register(req->conn->callbacks, &ops);
        atomic_store_explicit(&registered, true, memory_order_release);
    }
    s->requests++;
    if (s->active && s->req == NULL && s->requests > s->head) {
        /* its request went by unbound (cannot happen while h2o answers
         * every head it parses): its body would be lost, so fail closed */
        log_error("HTTP/1.1 request body stream %u not matched by request %u: closing the connection", s->head, s->requests);
        s->body.failed = true;
        shutdown(h2o_socket_get_fd(req->conn->callbacks->get_socket(req->conn)), SHUT_RDWR);
        return;
    }
    if (!s->active || s->requests != s->head || s->req != NULL)
        return;
    s->req = req;
    req->entity = h2o_iovec_init(NULL, 0); /* h2o saw "Content-Length: 0" */
    struct h1_stream **ref = h2o_mem_alloc_shared(&req->pool, sizeof(*ref), on_request_dispose);
    *ref = s;
    struct early_ostream *os = (void *)h2o_add_ostream(req, sizeof(*os), &req->_ostr_top);
    os->super.do_send = first_send;
    os->s = s;
    if (s->body.done)
        parse_trailers(s, &req->pool);
    if (!s->body.done && !h1_stream_hold_reading(s))
        h1_framing_resume(s->owner);
}

bool h1_stream_too_slow(struct h1_stream *s, int64_t now_ms, uint64_t min_rate, int64_t window_ms)
{
    if (!s->active || s->req == NULL || s->body.done || s->body.failed || s->paused || h1_stream_hold_reading(s)) {
        s->rate_since_ms = -1;
        return false;
    }
    if (s->rate_since_ms < 0) {
        s->rate_since_ms = now_ms;
        s->rate_start = s->body.received;
        return false;
    }
    int64_t elapsed = now_ms - s->rate_since_ms;
    if (elapsed < window_ms)
        return false;
    bool slow = (s->body.received - s->rate_start) * 1000 < min_rate * (uint64_t)elapsed;
    s->rate_since_ms = now_ms;
    s->rate_start = s->body.received;
    return slow;
}

void h1_stream_dispose(struct h1_stream *s)
{
    free_trailer(s);
    if (s->body.buf != NULL)
        h2o_buffer_dispose(&s->body.buf);
    s->active = false;
}

/* ---- req_stream.h ---- */

static struct req_body_stream *op_body(h2o_req_t *req)
{
    struct h1_stream *s = stream_of(req);
    if (s == NULL || req->entity.base != NULL || s->wait_cb != NULL)
        return NULL;
    if (req_stream_body_collected(req, &s->body, s->streaming))
        return NULL;
    s->streaming = true;
    return &s->body;
}

static bool op_body_pending(h2o_req_t *req)
{
    struct h1_stream *s = stream_of(req);
    if (s == NULL || req->entity.base != NULL)
        return false;
    return !req_stream_body_collected(req, &s->body, s->streaming);
}

static void op_body_consumed(h2o_req_t *req, size_t n)
{
    struct h1_stream *s = stream_of(req);
    if (s == NULL)
        return;
    s->consumed += n;
    if (s->paused && !h1_stream_hold_reading(s))
        h1_framing_resume(s->owner);
}

static void op_wait_body(h2o_req_t *req, void (*cb)(h2o_req_t *req, void *ctx), void *ctx)
{
    struct h1_stream *s = stream_of(req);
    if (s == NULL || s->body.done) {
        if (s != NULL)
            req_stream_body_complete(req, &s->body);
        cb(req, ctx);
        return;
    }
    s->wait_cb = cb;
    s->wait_ctx = ctx;
    if (s->body.failed) {
        h1_stream_changed(s);
        return;
    }
    if (s->paused)
        h1_framing_resume(s->owner);
}

static void op_wait_start(h2o_req_t *req, size_t min, void (*cb)(h2o_req_t *req, void *ctx), void *ctx)
{
    struct h1_stream *s = stream_of(req);
    if (s == NULL) {
        cb(req, ctx);
        return;
    }
    s->start_cb = cb;
    s->start_ctx = ctx;
    s->start_min = min;
    h1_stream_changed(s);
}

static uint64_t op_bytes_in(h2o_req_t *req)
{
    struct h1_stream *s = stream_of(req);
    return s != NULL ? s->body.received : 0;
}

static const struct req_stream_ops ops = {
    .body = op_body,
    .body_pending = op_body_pending,
    .body_consumed = op_body_consumed,
    .wait_body = op_wait_body,
    .wait_start = op_wait_start,
    .set_trailers = h1_trailers_set, /* responses framed by h1_trailers.c */
    .can_trailers = h1_trailers_active,
    .bytes_in = op_bytes_in,
};
