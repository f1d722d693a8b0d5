/*
 * An HTTP/2 stream as an h2o request (see h2_internal.h): the request is
 * built from the HEADERS nghttp2 decoded and run as soon as its head is
 * complete; its body arrives through req_stream.h (streamed to a consumer,
 * or collected into req->entity for those who wait for all of it); the
 * response leaves through a final output stream that hands the
 * generator's buffers to nghttp2 as flow control allows, then the
 * trailers.
 */
#include <stdlib.h>
#include <string.h>

#include "../common/decimal.h"
#include "../common/log.h"
#include "body_buffer.h"
#include "conntrack.h"
#include "h2_internal.h"
#include "h2_server.h"
#include "hop_by_hop.h"
#include "worker.h"

#define MAX_HEADER_BYTES (64 * 1024) /* per head, as HPACK-decoded (name + value + 32 per field, RFC 9113 6.5.2) */
#define MAX_HEADER_FIELDS 100        /* libh2o's HTTP/1 limit, kept for HTTP/2 too */

static struct h2s_stream *stream_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(struct h2s_stream, req, req);
}

static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state);

struct h2s_stream *h2s_stream_open(struct h2s_conn *conn, int32_t id)
{
    struct h2s_stream *s = malloc(sizeof(*s));
    if (s == NULL)
        abort();
    memset(s, 0, offsetof(struct h2s_stream, req));
    memset((char *)s + offsetof(struct h2s_stream, conn), 0, sizeof(*s) - offsetof(struct h2s_stream, conn));
    h2o_init_request(&s->req, &conn->super, NULL);
    s->req.version = 0x200;
    s->ostr_final.do_send = final_send;
    s->req._ostr_top = &s->ostr_final;
    s->conn = conn;
    s->id = id;
    s->body.content_length = -1;
    s->pinned_since_ms = -1;
    h2o_linklist_insert(&conn->streams, &s->link);
    conn->n_streams++;
    return s;
}

struct h2s_stream *h2s_stream_open_upgraded(struct h2s_conn *conn, h2o_req_t *src)
{
    struct h2s_stream *s = h2s_stream_open(conn, 1);
    h2o_req_t *req = &s->req;
    h2o_mem_clear_pool(&req->pool);
    h2o_init_request(req, &conn->super, src);
    req->_ostr_top = &s->ostr_final;
    req->version = 0x200;
    req->upgrade = h2o_iovec_init(NULL, 0);
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
    if (src->entity.base != NULL)
        req->entity = h2o_strdup(&req->pool, src->entity.base, src->entity.len);
    /* the fields of the HTTP/1.1 hop that asked for the switch, and what
     * an HTTP/2 request may not carry */
    size_t n = 0;
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (h->name == &H2O_TOKEN_HOST->buf || hbh_h2_forbidden(h, true))
            continue;
        req->headers.entries[n++] = req->headers.entries[i];
    }
    req->headers.size = n;
    s->in_trailers = true;
    s->body.done = true;
    return s;
}

/* ---- the request ---- */

static bool is(const uint8_t *name, size_t len, const char *lit, size_t lit_len)
{
    return len == lit_len && memcmp(name, lit, len) == 0;
}
#define IS(name, len, lit) is(name, len, lit, sizeof(lit) - 1)

static void refuse(struct h2s_stream *s, const char *why)
{
    if (!s->bad_request) {
        s->bad_request = true;
        s->why = why;
    }
}

int h2s_stream_on_header(struct h2s_stream *s, const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen)
{
    h2o_req_t *req = &s->req;
    s->header_bytes += namelen + valuelen + 32;
    if (++s->header_count > MAX_HEADER_FIELDS || s->header_bytes > MAX_HEADER_BYTES) {
        refuse(s, "request header fields too large");
        return 0;
    }
    if (s->bad_request)
        return 0;
    h2o_iovec_t v = h2o_strdup(&req->pool, (const char *)value, valuelen);
    if (s->in_trailers) { /* nghttp2 refused pseudo-headers in trailers */
        const h2o_token_t *t = h2o_lookup_token((const char *)name, namelen);
        if (t != NULL)
            h2o_add_header(&req->pool, &s->body.trailers, t, NULL, v.base, v.len);
        else
            h2o_add_header_by_str(&req->pool, &s->body.trailers, h2o_strdup(&req->pool, (const char *)name, namelen).base,
                                  namelen, 0, NULL, v.base, v.len);
        return 0;
    }
    if (namelen != 0 && name[0] == ':') { /* nghttp2 checked their set, order and uniqueness */
        if (IS(name, namelen, ":method"))
            req->input.method = v;
        else if (IS(name, namelen, ":path"))
            req->input.path = v;
        else if (IS(name, namelen, ":authority"))
            req->input.authority = v;
        else if (IS(name, namelen, ":scheme"))
            req->input.scheme = h2o_memis(v.base, v.len, H2O_STRLIT("https")) ? &H2O_URL_SCHEME_HTTPS : &H2O_URL_SCHEME_HTTP;
        else if (IS(name, namelen, ":protocol"))
            s->protocol = v;
        return 0;
    }
    const h2o_token_t *t = h2o_lookup_token((const char *)name, namelen);
    if (t == H2O_TOKEN_HOST) {
        if (s->host.base != NULL)
            refuse(s, "more than one Host header");
        s->host = v;
        return 0;
    }
    if (t == H2O_TOKEN_CONTENT_LENGTH) { /* nghttp2 checks it against the DATA received */
        size_t n = h2o_strtosize(v.base, v.len);
        if (n == SIZE_MAX)
            refuse(s, "invalid content-length");
        s->body.content_length = (int64_t)n;
        return 0;
    }
    if (t != NULL)
        h2o_add_header(&req->pool, &req->headers, t, NULL, v.base, v.len);
    else
        h2o_add_header_by_str(&req->pool, &req->headers, h2o_strdup(&req->pool, (const char *)name, namelen).base, namelen, 0,
                              NULL, v.base, v.len);
    return 0;
}

static size_t max_body(const struct h2s_stream *s)
{
    return s->conn->we->ep->globalconf.max_request_entity_size;
}

void h2s_stream_on_head(struct h2s_stream *s, bool end_stream)
{
    h2o_req_t *req = &s->req;
    s->in_trailers = true; /* any further HEADERS are trailers */
    /* the connection decides the scheme (X-Forwarded-Proto, TLS routers), not the client's :scheme */
    req->input.scheme = s->conn->sock != NULL && s->conn->sock->ssl != NULL ? &H2O_URL_SCHEME_HTTPS : &H2O_URL_SCHEME_HTTP;
    if (req->input.authority.base == NULL) {
        req->input.authority = s->host; /* RFC 9113 8.3.1: Host stands in for a missing :authority */
    } else if (s->host.base != NULL && !h2o_lcstris(s->host.base, s->host.len, req->input.authority.base, req->input.authority.len)) {
        refuse(s, "the Host header and :authority disagree"); /* RFC 9113 8.3.1 */
    }
    if (req->input.authority.base == NULL && !s->bad_request)
        refuse(s, "no :authority and no Host header");
    if (s->protocol.base != NULL && !s->bad_request) { /* extended CONNECT (RFC 8441); nghttp2 checked its form */
        if (!h2o_lcstris(s->protocol.base, s->protocol.len, H2O_STRLIT("websocket"))) {
            refuse(s, "unsupported :protocol");
        } else {
            /* an HTTP/1.1 WebSocket handshake towards the upstream; the
             * stream's DATA is the tunnel, both ways */
            req->input.method = h2o_iovec_init(H2O_STRLIT("GET"));
            req->upgrade = h2o_iovec_init(H2O_STRLIT("websocket"));
            if (h2o_find_header_by_str(&req->headers, H2O_STRLIT("sec-websocket-key"), -1) < 0) {
                /* RFC 8441 has none; an HTTP/1.1 upstream wants one (RFC 6455 4.1) */
                uint8_t nonce[16];
                arc4random_buf(nonce, sizeof(nonce));
                char *key = h2o_mem_alloc_pool(&req->pool, 25);
                size_t len = h2o_base64_encode(key, nonce, sizeof(nonce), 0);
                h2o_add_header_by_str(&req->pool, &req->headers, H2O_STRLIT("sec-websocket-key"), 0, NULL, key, len);
            }
        }
    }
    if (s->body.content_length > 0 && (uint64_t)s->body.content_length > max_body(s) && !s->bad_request)
        refuse(s, "request body too large");
    if (!end_stream) {
        h2o_buffer_init(&s->body.buf, &body_buffer_prototype);
        s->body_since_ms = s->body_progress_ms = h2s_conn_now_ms(s->conn);
    } else {
        s->body.done = true;
    }
    h2s_conn_queue_dispatch(s->conn, s);
}

void h2s_stream_on_data(struct h2s_stream *s, const uint8_t *data, size_t len)
{
    s->unconsumed += len;
    if (s->discarding && !s->closed) {
        h2s_conn_consume(s->conn, s, len);
        if ((s->discarded += len) > H2S_DISCARD_MAX)
            h2s_conn_reset(s->conn, s->id, NGHTTP2_NO_ERROR);
        return;
    }
    if (s->body.buf == NULL || s->body.failed || s->closed) {
        h2s_conn_consume(s->conn, s, len);
        return;
    }
    if (s->body.received + len > max_body(s)) {
        s->body.failed = true;
        h2s_conn_consume(s->conn, s, (size_t)s->unconsumed);
        if (!s->dispatched)
            refuse(s, "request body too large");
        /* collected: 413 (dispatch); streamed: the consumer answers 413 if
         * the upstream has not, else the stream is reset (dispatch) */
        h2s_conn_queue_dispatch(s->conn, s);
        return;
    }
    req_stream_body_append(&s->body, data, len);
    s->body_progress_ms = h2s_conn_now_ms(s->conn);
    if (s->wait_cb != NULL || !s->streaming) /* collected, not streamed: the window reopens at once */
        h2s_conn_consume(s->conn, s, len);
    if (s->dispatched)
        h2s_conn_queue_dispatch(s->conn, s);
}

static void on_discard_timeout(h2o_timeout_entry_t *entry)
{
    struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, discard_entry, entry);
    if (!s->closed)
        h2s_conn_reset(s->conn, s->id, NGHTTP2_NO_ERROR);
}

void h2s_stream_discard_rest(struct h2s_stream *s)
{
    if (s->discarding)
        return;
    s->discarding = true;
    s->discard_entry.cb = on_discard_timeout;
    h2o_timeout_link(s->conn->we->ctx.loop, worker_timeout_list(s->conn->we->w, H2S_DISCARD_MS), &s->discard_entry);
}

void h2s_stream_on_end(struct h2s_stream *s)
{
    s->body.done = true;
    if (s->dispatched)
        h2s_conn_queue_dispatch(s->conn, s);
}

static int status_of(const struct h2s_stream *s)
{
    if (strstr(s->why, "too large") != NULL)
        return strstr(s->why, "header") != NULL ? 431 : 413;
    return 400;
}

void h2s_stream_dispatch(struct h2s_stream *s)
{
    h2o_req_t *req = &s->req;
    if (!s->dispatched) {
        s->dispatched = true;
        s->conn->running++;
        if (s->bad_request) {
            int status = status_of(s);
            log_debug("HTTP/2 stream %d: %d: %s", s->id, status, s->why);
            if (s->body.buf != NULL && !s->body.done) /* its body is not wanted */
                s->wait_cb = NULL, s->body.failed = true;
            h2o_send_error_generic(req, status, status == 400 ? "Bad Request" : status == 413 ? "Payload Too Large"
                                                                                                : "Request Header Fields Too Large",
                                   s->why, 0);
            return;
        }
        req_stream_body_collected(req, &s->body, s->streaming); /* whole already; with trailers it goes up streamed */
        h2o_process_request(req);
        return;
    }
    if (s->closed)
        return;
    if (s->wait_cb != NULL) {
        if (s->body.failed) { /* over maxBodySize while it was collected */
            s->wait_cb = NULL;
            h2o_send_error_generic(req, 413, "Payload Too Large", "request body too large", 0);
            return;
        }
        if (!s->body.done)
            return;
        void (*cb)(h2o_req_t *, void *) = s->wait_cb;
        s->wait_cb = NULL;
        req_stream_body_complete(req, &s->body);
        cb(req, s->wait_ctx);
        return;
    }
    if (s->streaming && s->body.on_change != NULL)
        s->body.on_change(s->body.ctx);
    if (s->body.failed && !s->closed && s->res_submitted && !s->res_final) /* too late for a 413 */
        h2s_conn_reset(s->conn, s->id, NGHTTP2_CANCEL);
}

/* ---- req_stream.h ---- */

static struct req_body_stream *op_body(h2o_req_t *req)
{
    struct h2s_stream *s = stream_of(req);
    if (s->body.buf == NULL || req->entity.base != NULL || s->wait_cb != NULL)
        return NULL;
    if (req_stream_body_collected(req, &s->body, s->streaming))
        return NULL;
    s->streaming = true;
    return &s->body;
}

static bool op_body_pending(h2o_req_t *req)
{
    struct h2s_stream *s = stream_of(req);
    if (s->body.buf == NULL || req->entity.base != NULL)
        return false;
    return !req_stream_body_collected(req, &s->body, s->streaming);
}

static void op_body_consumed(h2o_req_t *req, size_t n)
{
    struct h2s_stream *s = stream_of(req);
    h2s_conn_consume(s->conn, s, n);
}

static void op_wait_body(h2o_req_t *req, void (*cb)(h2o_req_t *req, void *ctx), void *ctx)
{
    struct h2s_stream *s = stream_of(req);
    if (s->body.done || s->body.buf == NULL) {
        req_stream_body_complete(req, &s->body);
        cb(req, ctx);
        return;
    }
    s->wait_cb = cb;
    s->wait_ctx = ctx;
    h2s_conn_consume(s->conn, s, (size_t)s->unconsumed); /* what came before the handler ran */
}

/* Copied into the request's pool: the upstream's stream, which holds
 * them, may be gone before they are sent. */
static bool op_set_trailers(h2o_req_t *req, const h2o_headers_t *trailers)
{
    h2o_headers_t *copy = h2o_mem_alloc_pool(&req->pool, sizeof(*copy));
    *copy = (h2o_headers_t){NULL};
    for (size_t i = 0; i < trailers->size; i++) {
        const h2o_header_t *h = &trailers->entries[i];
        h2o_iovec_t value = h2o_strdup(&req->pool, h->value.base, h->value.len);
        if (h2o_iovec_is_token(h->name))
            h2o_add_header(&req->pool, copy, (const h2o_token_t *)h->name, NULL, value.base, value.len);
        else
            h2o_add_header_by_str(&req->pool, copy, h2o_strdup(&req->pool, h->name->base, h->name->len).base, h->name->len, 0,
                                  NULL, value.base, value.len);
    }
    stream_of(req)->trailers = copy;
    return true;
}

static uint64_t op_bytes_in(h2o_req_t *req)
{
    return stream_of(req)->body.received;
}

static const struct req_stream_ops ops = {
    .body = op_body,
    .body_pending = op_body_pending,
    .body_consumed = op_body_consumed,
    .wait_body = op_wait_body,
    .set_trailers = op_set_trailers,
    .bytes_in = op_bytes_in,
};

/* ---- the response ---- */

static uint8_t *lower_name(h2o_mem_pool_t *pool, const h2o_iovec_t *name)
{
    for (size_t i = 0; i < name->len; i++) {
        if (name->base[i] >= 'A' && name->base[i] <= 'Z') {
            h2o_iovec_t copy = h2o_strdup(pool, name->base, name->len);
            h2o_strtolower(copy.base, copy.len);
            return (uint8_t *)copy.base;
        }
    }
    return (uint8_t *)name->base;
}

static nghttp2_nv nv(uint8_t *name, size_t namelen, uint8_t *value, size_t valuelen)
{
    /* no copies: names and values live in the request's pool (or are
     * static), which outlives the HEADERS frame nghttp2 serialises */
    return (nghttp2_nv){name, value, namelen, valuelen, NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE};
}

/* Fields of <headers> as nghttp2 name/value pairs, into <out> from <n>. */
static size_t add_fields(h2o_mem_pool_t *pool, nghttp2_nv *out, size_t n, const h2o_headers_t *headers)
{
    for (size_t i = 0; i < headers->size; i++) {
        const h2o_header_t *h = &headers->entries[i];
        if (hbh_h2_forbidden(h, false) || (h->name->len != 0 && h->name->base[0] == ':'))
            continue;
        out[n++] = nv(lower_name(pool, h->name), h->name->len, (uint8_t *)h->value.base, h->value.len);
    }
    return n;
}

/* nghttp2's data source for the response body. */
static ssize_t h2s_stream_read_data(struct h2s_stream *s, size_t length, uint32_t *flags);

static ssize_t read_data_cb(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *user)
{
    (void)ng, (void)stream_id, (void)buf, (void)user;
    return h2s_stream_read_data(source->ptr, length, flags);
}

static void submit_response(struct h2s_stream *s)
{
    h2o_req_t *req = &s->req;
    h2o_mem_pool_t *pool = &req->pool;
    nghttp2_nv *nva = h2o_mem_alloc_pool(pool, sizeof(*nva) * (req->res.headers.size + 3));
    size_t n = 0;
    char *status = h2o_mem_alloc_pool(pool, 4);
    int st = req->res.status >= 100 && req->res.status <= 999 ? req->res.status : 502;
    status[0] = (char)('0' + st / 100), status[1] = (char)('0' + st / 10 % 10), status[2] = (char)('0' + st % 10);
    nva[n++] = nv((uint8_t *)":status", 7, (uint8_t *)status, 3);
    n = add_fields(pool, nva, n, &req->res.headers);
    h2o_timestamp_t ts;
    h2o_get_timestamp(req->conn->ctx, pool, &ts);
    nva[n++] = nv((uint8_t *)"date", 4, (uint8_t *)ts.str->rfc1123, H2O_TIMESTR_RFC1123_LEN);
    if (req->res.content_length != SIZE_MAX && st != 204 && st != 304 && h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_LENGTH, -1) < 0) {
        char *cl = h2o_mem_alloc_pool(pool, 24);
        nva[n++] = nv((uint8_t *)"content-length", 14, (uint8_t *)cl, decimal_format(cl, req->res.content_length));
    }
    bool headers_only = s->res_final && s->bufcnt == 0 && s->trailers == NULL;
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = read_data_cb};
    int r = nghttp2_submit_response(s->conn->ng, s->id, nva, n, headers_only ? NULL : &prd);
    if (r != 0)
        log_debug("HTTP/2 stream %d: cannot send the response: %s", s->id, nghttp2_strerror(r));
    s->res_submitted = true;
}

static void final_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt, h2o_send_state_t state)
{
    (void)req;
    struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, ostr_final, self);
    struct h2s_conn *conn = s->conn;
    if (s->closed || conn->closed)
        return;
    if (state == H2O_SEND_STATE_ERROR) {
        s->res_error = true;
        h2s_conn_reset(conn, s->id, NGHTTP2_INTERNAL_ERROR);
        return;
    }
    size_t n = 0;
    for (size_t i = 0; i < bufcnt; i++)
        n += bufs[i].len != 0;
    s->bufs = NULL;
    s->bufcnt = 0;
    if (n != 0) {
        s->bufs = h2o_mem_alloc_pool(&req->pool, sizeof(*s->bufs) * n);
        for (size_t i = 0; i < bufcnt; i++)
            if (bufs[i].len != 0)
                s->bufs[s->bufcnt++] = bufs[i];
    }
    s->res_final = state == H2O_SEND_STATE_FINAL;
    if (!s->res_submitted) {
        submit_response(s);
    } else if (s->data_deferred) {
        s->data_deferred = false;
        nghttp2_session_resume_data(conn->ng, s->id);
    }
    if (s->bufcnt == 0 && !s->res_final && !h2o_linklist_is_linked(&s->proceed_link)) /* nothing to wait for */
        h2o_linklist_insert(&conn->proceed, &s->proceed_link);
    h2s_conn_request_flush(conn); /* not now: the generator's caller still holds the request */
}

static nghttp2_nv *trailer_fields(struct h2s_stream *s, size_t *n)
{
    h2o_mem_pool_t *pool = &s->req.pool;
    nghttp2_nv *nva = h2o_mem_alloc_pool(pool, sizeof(*nva) * (s->trailers->size + 1));
    *n = add_fields(pool, nva, 0, s->trailers);
    return nva;
}

static ssize_t h2s_stream_read_data(struct h2s_stream *s, size_t length, uint32_t *flags)
{
    size_t avail = 0;
    for (size_t i = 0; i < s->bufcnt; i++)
        avail += s->bufs[i].len;
    if (avail == 0 && !s->res_final) {
        s->data_deferred = true;
        if (s->pinned_since_ms >= 0)
            s->pinned_since_ms = -1;
        return NGHTTP2_ERR_DEFERRED;
    }
    size_t n = avail < length ? avail : length;
    if (n != 0)
        *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
    if (n == avail && s->res_final) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        size_t nt = 0;
        nghttp2_nv *nva = s->trailers != NULL ? trailer_fields(s, &nt) : NULL;
        if (nt != 0) {
            *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
            nghttp2_submit_trailer(s->conn->ng, s->id, nva, nt);
        }
    }
    return (ssize_t)n;
}

void h2s_stream_copy_data(struct h2s_stream *s, h2o_buffer_t **out, size_t length)
{
    s->req.bytes_sent += length;
    while (length != 0 && s->bufcnt != 0) {
        h2o_iovec_t *b = &s->bufs[0];
        size_t n = b->len < length ? b->len : length;
        memcpy((*out)->bytes + (*out)->size, b->base, n);
        (*out)->size += n;
        length -= n;
        b->base += n;
        b->len -= n;
        if (b->len == 0) {
            s->bufs++;
            s->bufcnt--;
        }
    }
    if (s->bufcnt == 0 && !s->res_final && !h2o_linklist_is_linked(&s->proceed_link))
        h2o_linklist_insert(&s->conn->proceed, &s->proceed_link);
}

void h2s_stream_proceed(struct h2s_stream *s)
{
    if (!s->closed && !s->res_final && s->bufcnt == 0)
        h2o_proceed_response(&s->req);
}

/* ---- the end ---- */

static void stream_free(struct h2s_stream *s)
{
    struct h2s_conn *conn = s->conn;
    if (conn->hdr_stream == s)
        conn->hdr_stream = NULL;
    h2o_linklist_unlink(&s->link);
    if (h2o_linklist_is_linked(&s->dispatch_link))
        h2o_linklist_unlink(&s->dispatch_link);
    if (h2o_linklist_is_linked(&s->proceed_link))
        h2o_linklist_unlink(&s->proceed_link);
    conn->n_streams--;
    if (s->dispatched)
        conn->running--;
    h2o_timeout_unlink(&s->discard_entry);
    h2o_dispose_request(&s->req); /* stops the generator; the request's destructors account for it */
    if (s->body.buf != NULL)
        h2o_buffer_dispose(&s->body.buf);
    free(s);
}

void h2s_stream_on_close(struct h2s_stream *s, uint32_t error_code)
{
    (void)error_code;
    struct h2s_conn *conn = s->conn;
    s->closed = true;
    /* reset before it ran (Rapid Reset's pattern): the requests that ran
     * are counted when they end (route.c) */
    if (s->peer_reset && !s->dispatched && conn->ct != NULL)
        conntrack_request_reset(conn->ct);
    if (s->unconsumed != 0) { /* the connection's window must not shrink for a stream that is gone */
        nghttp2_session_consume_connection(conn->ng, (size_t)s->unconsumed);
        s->unconsumed = 0;
    }
    if (s->body.buf != NULL && !s->body.done) {
        s->body.failed = true;
        if (s->streaming && s->body.on_change != NULL)
            s->body.on_change(s->body.ctx);
    }
    stream_free(s);
}

void h2s_stream_destroy(struct h2s_stream *s)
{
    s->closed = true;
    if (s->body.buf != NULL && !s->body.done)
        s->body.failed = true;
    stream_free(s);
}

/* ---- the connection type ---- */

static socklen_t get_sockname(h2o_conn_t *conn, struct sockaddr *sa)
{
    h2o_socket_t *sock = ((struct h2s_conn *)conn)->sock;
    return sock != NULL ? h2o_socket_getsockname(sock, sa) : 0;
}

static socklen_t get_peername(h2o_conn_t *conn, struct sockaddr *sa)
{
    h2o_socket_t *sock = ((struct h2s_conn *)conn)->sock;
    return sock != NULL ? h2o_socket_getpeername(sock, sa) : 0;
}

static h2o_socket_t *get_socket(h2o_conn_t *conn)
{
    return ((struct h2s_conn *)conn)->sock;
}

const h2o_conn_callbacks_t h2s_conn_callbacks = {
    .get_sockname = get_sockname,
    .get_peername = get_peername,
    .get_socket = get_socket,
};

void h2s_stream_register_ops(void)
{
    req_stream_register(&h2s_conn_callbacks, &ops);
}
