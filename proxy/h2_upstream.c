/*
 * HTTP/2 upstream client (see h2_upstream.h).
 *
 * A connection's life: CONNECTING (TCP, then TLS) -> WAIT_SETTINGS (our
 * preface sent; streams wait until the server's SETTINGS tell its stream
 * limit) -> READY. It leaves its server's list when it is going away
 * (GOAWAY either way), failed or closing, so no new stream lands there.
 *
 * nghttp2 must not be re-entered: everything that wants bytes written
 * while nghttp2 runs a callback (a stream's owner starting, cancelling or
 * consuming from inside its own callback) marks the connection and the
 * write happens once nghttp2 returns. Tear-down waits for that too.
 */
#include "h2_upstream.h"
#include "h2_mem.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "../common/log.h"
#include "tls.h"
#include "transport.h"

#define STREAM_WINDOW (256 * 1024)       /* per stream: what a slow client can leave buffered in Gantry */
#define CONN_WINDOW (16 * 1024 * 1024)   /* per connection: many streams at full speed */
#define ASSUMED_MAX_STREAMS 100          /* nghttp2's guess before the server's SETTINGS (none is submitted before) */
#define MAX_CONNS_PER_SERVER 64          /* per worker; beyond, streams queue on the least loaded one */
#define WRITE_CHUNK (64 * 1024)          /* gathered from nghttp2 per socket write */
#define DEFAULT_READ_IDLE_MS 30000
#define DEFAULT_PING_MS 15000            /* Traefik's pingTimeout default */
#define UPSTREAM_RCVBUF (128 * 1024)

enum conn_state { C_CONNECTING, C_WAIT_SETTINGS, C_READY };

struct h2u_conn {
    h2o_socket_t *sock;
    nghttp2_session *ng;
    struct server *srv;
    struct worker *w;
    enum conn_state state;
    bool listed;     /* in the server's list: may take new streams */
    bool busy;       /* inside nghttp2 */
    bool want_flush; /* bytes to write once nghttp2 returns */
    bool failed;     /* tear down once nghttp2 returns */
    bool torn;       /* being torn down: owners' callbacks must not start it again */
    bool writing;
    bool ping_sent;
    uint32_t n_streams;        /* submitted and not closed, plus waiting ones */
    h2o_linklist_t streams;    /* every stream of this connection */
    h2o_linklist_t link;       /* server_worker.h2_conns */
    h2o_linklist_t wlink;      /* worker's h2_conns */
    h2o_buffer_t *out, *flight;
    h2o_timeout_entry_t timer;  /* connect deadline, or idle expiry */
    h2o_timeout_entry_t health; /* read idle -> PING, PING -> its deadline */
    h2o_timeout_entry_t soon;   /* a write at the end of this loop turn: requests started together share it */
    const char *fail_err;
    bool fail_timed_out;
    uint32_t addr_gen; /* the server's address generation it was opened to */
};

struct h2u_stream {
    struct h2u_conn *conn;
    int32_t id; /* 0: not submitted yet */
    const struct h2u_handler *h;
    void *ctx;  /* NULL: the owner went away or heard its end */
    h2o_req_t *req;
    h2o_mem_pool_t *pool; /* r.pool, else req's */
    struct h2u_request r;
    size_t body_off;
    bool body_taken;   /* bytes of a streamed body went to nghttp2 */
    bool deferred;     /* the data provider waits for body bytes */
    bool got_head;
    int status;
    h2o_headers_t headers, trailers;
    size_t unconsumed; /* received, not yet reported consumed by the owner */
    h2o_linklist_t link; /* conn's streams */
};

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

static void conn_flush(struct h2u_conn *c);
static void conn_fail(struct h2u_conn *c, const char *err, bool timed_out);
static void place_stream(struct h2u_stream *st);
static bool submit_stream(struct h2u_stream *st);

/* ---- helpers ---- */

static void buffer_append(h2o_buffer_t **buf, const void *p, size_t n)
{
    h2o_iovec_t dst = h2o_buffer_reserve(buf, n);
    memcpy(dst.base, p, n);
    (*buf)->size += n;
}

static uint32_t conn_limit(const struct h2u_conn *c)
{
    if (c->state != C_READY)
        return UINT32_MAX; /* streams wait for the server's limit, then the excess moves on */
    return nghttp2_session_get_remote_settings(c->ng, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

static const struct transport *conn_transport(const struct h2u_conn *c)
{
    return c->srv->transport;
}

/* Ends the owner's interest; the stream stays for nghttp2 until closed. */
static void owner_fail(struct h2u_stream *st, enum h2u_failure kind, const char *err, bool timed_out)
{
    void *ctx = st->ctx;
    if (ctx == NULL)
        return;
    st->ctx = NULL;
    if (st->r.body_stream != NULL)
        st->r.body_stream->on_change = NULL;
    if (kind == H2U_UNPROCESSED && st->body_taken)
        kind = H2U_LOST; /* the body cannot be sent again */
    st->h->on_fail(ctx, kind, err, timed_out);
}

static void stream_free(struct h2u_stream *st)
{
    struct h2u_conn *c = st->conn;
    h2o_linklist_unlink(&st->link);
    c->n_streams--;
    free(st);
}

/* ---- connection list and idle state ---- */

static void conn_unlist(struct h2u_conn *c)
{
    if (!c->listed)
        return;
    c->listed = false;
    h2o_linklist_unlink(&c->link);
    c->srv->workers[c->w->id].n_h2_conns--;
}

static void conn_destroy(struct h2u_conn *c)
{
    conn_unlist(c);
    h2o_linklist_unlink(&c->wlink);
    h2o_timeout_unlink(&c->timer);
    h2o_timeout_unlink(&c->health);
    h2o_timeout_unlink(&c->soon);
    if (c->ng != NULL)
        nghttp2_session_del(c->ng);
    c->ng = NULL;
    while (!h2o_linklist_is_empty(&c->streams))
        stream_free(H2O_STRUCT_FROM_MEMBER(struct h2u_stream, link, c->streams.next));
    if (c->sock != NULL)
        h2o_socket_close(c->sock);
    h2o_buffer_dispose(&c->out);
    h2o_buffer_dispose(&c->flight);
    free(c);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    struct h2u_conn *c = H2O_STRUCT_FROM_MEMBER(struct h2u_conn, timer, entry);
    conn_unlist(c);
    nghttp2_session_terminate_session(c->ng, NGHTTP2_NO_ERROR);
    conn_flush(c); /* closes once GOAWAY is written */
}

/* No stream left: close when going away or stopping, else wait idle. */
static void conn_check_idle(struct h2u_conn *c)
{
    if (c->n_streams != 0 || c->state == C_CONNECTING)
        return;
    if (!c->listed || atomic_load_explicit(&c->w->stopping, memory_order_relaxed)) {
        conn_fail(c, NULL, false);
        return;
    }
    if (h2o_timeout_is_linked(&c->timer))
        return;
    const struct transport *t = conn_transport(c);
    c->timer.cb = on_idle_timeout;
    h2o_timeout_link(c->w->loop, t && t->idle_conn_ms ? worker_timeout_list(c->w, t->idle_conn_ms) : &c->w->pool_timeout,
                     &c->timer);
}

/* ---- health: PING after read silence ---- */

static void on_health(h2o_timeout_entry_t *entry);

static void health_rearm(struct h2u_conn *c)
{
    const struct transport *t = conn_transport(c);
    uint64_t ms = c->ping_sent ? (t && t->ping_ms ? t->ping_ms : DEFAULT_PING_MS)
                               : (t && t->read_idle_ms ? t->read_idle_ms : DEFAULT_READ_IDLE_MS);
    h2o_timeout_unlink(&c->health);
    c->health.cb = on_health;
    h2o_timeout_link(c->w->loop, worker_timeout_list(c->w, ms), &c->health);
}

static void on_health(h2o_timeout_entry_t *entry)
{
    struct h2u_conn *c = H2O_STRUCT_FROM_MEMBER(struct h2u_conn, health, entry);
    if (c->ping_sent) {
        log_warn("upstream %s: no PING acknowledgement in time; connection closed", c->srv->url);
        conn_fail(c, "no PING acknowledgement", true);
        return;
    }
    c->ping_sent = true;
    nghttp2_submit_ping(c->ng, NGHTTP2_FLAG_NONE, NULL);
    health_rearm(c);
    conn_flush(c);
}

/* ---- failure and tear-down ---- */

static void conn_teardown(struct h2u_conn *c)
{
    if (c->torn)
        return;
    c->torn = true;
    log_debug("upstream %s: HTTP/2 connection closed (%s, %u streams)", c->srv->url, c->fail_err, c->n_streams);
    conn_unlist(c);
    /* owners may start new streams from their callbacks: those go elsewhere */
    for (h2o_linklist_t *n = c->streams.next; n != &c->streams; n = n->next) {
        struct h2u_stream *st = H2O_STRUCT_FROM_MEMBER(struct h2u_stream, link, n);
        if (st->ctx == NULL)
            continue;
        if (c->state == C_CONNECTING)
            owner_fail(st, H2U_CONNECT_FAILED, c->fail_err ? c->fail_err : "connection failed", c->fail_timed_out);
        else if (st->id == 0)
            owner_fail(st, H2U_UNPROCESSED, c->fail_err ? c->fail_err : "connection closed", false);
        else
            owner_fail(st, st->got_head ? H2U_RESET : H2U_LOST, c->fail_err ? c->fail_err : "connection closed", false);
        n = &c->streams; /* the list may have changed: rescan */
    }
    conn_destroy(c);
}

/* err NULL: a clean close. Safe from inside nghttp2's callbacks. */
static void conn_fail(struct h2u_conn *c, const char *err, bool timed_out)
{
    if (c->fail_err == NULL) {
        c->fail_err = err ? err : "connection closed";
        c->fail_timed_out = timed_out;
    }
    conn_unlist(c);
    c->failed = true;
    if (!c->busy)
        conn_teardown(c);
}

/* ---- writing ---- */

static void on_write(h2o_socket_t *sock, const char *err)
{
    struct h2u_conn *c = sock->data;
    c->writing = false;
    c->flight->size = 0;
    if (err != NULL) {
        conn_fail(c, err, false);
        return;
    }
    conn_flush(c);
}

static void conn_flush(struct h2u_conn *c)
{
    if (c->busy) {
        c->want_flush = true;
        return;
    }
    if (c->failed) {
        conn_teardown(c);
        return;
    }
    if (c->writing || c->state == C_CONNECTING)
        return;
    c->busy = true;
    while (c->out->size < WRITE_CHUNK) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->ng, &data);
        if (n < 0) {
            c->busy = false;
            conn_fail(c, nghttp2_strerror((int)n), false);
            return;
        }
        if (n == 0)
            break;
        buffer_append(&c->out, data, (size_t)n);
    }
    c->busy = false;
    c->want_flush = false;
    if (c->failed) {
        conn_teardown(c);
        return;
    }
    if (c->out->size == 0) {
        if (!nghttp2_session_want_read(c->ng) && !nghttp2_session_want_write(c->ng)) {
            conn_fail(c, NULL, false); /* GOAWAY exchanged and nothing left */
            return;
        }
        conn_check_idle(c);
        return;
    }
    h2o_buffer_t *t = c->flight;
    c->flight = c->out;
    c->out = t;
    c->writing = true;
    h2o_iovec_t v = h2o_iovec_init(c->flight->bytes, c->flight->size);
    h2o_socket_write(c->sock, &v, 1, on_write);
}

static void on_flush_soon(h2o_timeout_entry_t *entry)
{
    conn_flush(H2O_STRUCT_FROM_MEMBER(struct h2u_conn, soon, entry));
}

/* Writes on the next loop turn (0 ms list): the HEADERS of every request
 * started in this turn, or the WINDOW_UPDATEs of many consumed streams,
 * go out in one socket write. */
static void conn_flush_soon(struct h2u_conn *c)
{
    if (h2o_timeout_is_linked(&c->soon))
        return;
    c->soon.cb = on_flush_soon;
    h2o_timeout_link(c->w->loop, worker_timeout_live(c->w->loop, &c->w->subrequest_defer), &c->soon);
}

/* ---- nghttp2 callbacks ---- */

static struct h2u_stream *find_stream(struct h2u_conn *c, int32_t id)
{
    struct h2u_stream *st = nghttp2_session_get_stream_user_data(c->ng, id);
    if (st != NULL)
        return st;
    for (h2o_linklist_t *n = c->streams.next; n != &c->streams; n = n->next) {
        st = H2O_STRUCT_FROM_MEMBER(struct h2u_stream, link, n);
        if (st->id == id)
            return st;
    }
    return NULL;
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)ng, (void)user, (void)frame;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user)
{
    (void)flags, (void)user;
    struct h2u_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (st == NULL || st->ctx == NULL || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    h2o_mem_pool_t *pool = st->pool;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int status = 0;
        for (size_t i = 0; i < valuelen && i < 3; i++)
            status = status * 10 + (value[i] - '0');
        st->status = status;
        return 0;
    }
    if (namelen != 0 && name[0] == ':')
        return 0;
    if (st->status >= 100 && st->status < 200)
        return 0; /* an interim response's headers: not forwarded */
    h2o_headers_t *dst = st->got_head ? &st->trailers : &st->headers;
    h2o_iovec_t n = h2o_strdup(pool, (const char *)name, namelen);
    h2o_iovec_t v = h2o_strdup(pool, (const char *)value, valuelen);
    const h2o_token_t *tok = h2o_lookup_token(n.base, n.len);
    if (tok != NULL)
        h2o_add_header(pool, dst, tok, NULL, v.base, v.len);
    else
        h2o_add_header_by_str(pool, dst, n.base, n.len, 0, NULL, v.base, v.len);
    return 0;
}

static void stream_end(struct h2u_stream *st)
{
    void *ctx = st->ctx;
    if (ctx == NULL)
        return;
    st->ctx = NULL;
    if (st->r.body_stream != NULL)
        st->r.body_stream->on_change = NULL;
    st->h->on_end(ctx, &st->trailers);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2u_conn *c = user;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (!(frame->hd.flags & NGHTTP2_FLAG_ACK) && c->state == C_WAIT_SETTINGS) {
            c->state = C_READY;
            /* submit waiting streams up to the server's limit; the rest go elsewhere */
            uint32_t limit = conn_limit(c), submitted = 0;
            for (h2o_linklist_t *n = c->streams.next; n != &c->streams;) {
                struct h2u_stream *st = H2O_STRUCT_FROM_MEMBER(struct h2u_stream, link, n);
                n = n->next;
                if (st->id != 0 || st->ctx == NULL)
                    continue;
                if (submitted < limit) {
                    if (submit_stream(st))
                        submitted++;
                    continue;
                }
                h2o_linklist_unlink(&st->link);
                c->n_streams--;
                place_stream(st);
            }
        }
        return 0;
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            c->ping_sent = false;
        return 0;
    case NGHTTP2_GOAWAY:
        conn_unlist(c); /* no new streams; nghttp2 closes those above last_stream_id with REFUSED_STREAM */
        return 0;
    case NGHTTP2_HEADERS: {
        struct h2u_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
        if (st == NULL || st->ctx == NULL)
            return 0;
        if (!st->got_head) {
            if (st->status >= 100 && st->status < 200) {
                st->status = 0; /* 100 Continue, 103: wait for the final one */
                return 0;
            }
            if (st->status < 200) {
                nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_PROTOCOL_ERROR);
                return 0; /* closes with an error: 502 */
            }
            st->got_head = true;
            st->h->on_head(st->ctx, st->status, &st->headers);
        }
        if (st->ctx != NULL && (frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
            stream_end(st);
        return 0;
    }
    case NGHTTP2_DATA: {
        struct h2u_stream *st = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
        if (st == NULL || st->ctx == NULL)
            return 0;
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
            stream_end(st);
        else if (st->got_head)
            st->h->on_data_frame(st->ctx);
        return 0;
    }
    default:
        return 0;
    }
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user)
{
    (void)flags, (void)user;
    struct h2u_stream *st = nghttp2_session_get_stream_user_data(ng, stream_id);
    /* the connection window opens at once: a slow stream holds back only
     * itself (its own window), never its siblings */
    nghttp2_session_consume_connection(ng, len);
    if (st == NULL || st->ctx == NULL || !st->got_head) {
        nghttp2_session_consume_stream(ng, stream_id, len); /* nobody takes it */
        return 0;
    }
    st->unconsumed += len;
    st->h->on_data(st->ctx, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *user)
{
    struct h2u_conn *c = user;
    struct h2u_stream *st = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (st == NULL)
        return 0;
    if (st->ctx != NULL) {
        if (error_code == NGHTTP2_REFUSED_STREAM) {
            owner_fail(st, H2U_UNPROCESSED, "the server refused the stream", false);
        } else {
            char msg[96];
            snprintf(msg, sizeof(msg), "stream reset by the server (%s)", nghttp2_http2_strerror(error_code));
            owner_fail(st, st->got_head || error_code != NGHTTP2_NO_ERROR ? H2U_RESET : H2U_LOST,
                       error_code == NGHTTP2_NO_ERROR ? "stream closed without a response" : msg, false);
        }
    }
    nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
    stream_free(st);
    if (!c->failed)
        conn_check_idle(c);
    return 0;
}

static int on_frame_not_send(nghttp2_session *ng, const nghttp2_frame *frame, int lib_error, void *user)
{
    struct h2u_conn *c = user;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct h2u_stream *st = find_stream(c, frame->hd.stream_id);
    if (st == NULL)
        return 0;
    /* never reached the server (GOAWAY received, or the connection is closing) */
    owner_fail(st, H2U_UNPROCESSED, nghttp2_strerror(lib_error), false);
    /* a stream nghttp2 opened is closed by it (on_stream_close frees ours);
     * one it never opened is ours to free */
    if (nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id) != st)
        stream_free(st);
    return 0;
}

/* Request body: from memory, or from the client as it arrives. */
static ssize_t read_body(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length, uint32_t *flags,
                         nghttp2_data_source *source, void *user)
{
    (void)ng, (void)user;
    struct h2u_stream *st = source->ptr;
    if (st->ctx == NULL)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* the owner went away: its memory with it */
    struct req_body_stream *bs = st->r.body_stream;
    if (bs == NULL) {
        size_t n = st->r.body.len - st->body_off;
        if (n > length)
            n = length;
        memcpy(buf, st->r.body.base + st->body_off, n);
        st->body_off += n;
        if (st->body_off == st->r.body.len)
            *flags |= NGHTTP2_DATA_FLAG_EOF;
        return (ssize_t)n;
    }
    if (bs->failed)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t n = bs->buf->size < length ? bs->buf->size : length;
    if (n == 0 && !bs->done) {
        st->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    if (n != 0) {
        memcpy(buf, bs->buf->bytes, n);
        h2o_buffer_consume(&bs->buf, n);
        st->body_taken = true;
        req_stream_body_consumed(st->req, n);
    }
    if (bs->done && bs->buf->size == 0) {
        *flags |= NGHTTP2_DATA_FLAG_EOF;
        if (bs->trailers.size != 0) {
            nghttp2_nv *nva = h2o_mem_alloc_pool(st->pool, sizeof(*nva) * bs->trailers.size);
            for (size_t i = 0; i < bs->trailers.size; i++) {
                const h2o_header_t *t = &bs->trailers.entries[i];
                nva[i] = (nghttp2_nv){(uint8_t *)t->name->base, (uint8_t *)t->value.base, t->name->len, t->value.len,
                                      NGHTTP2_NV_FLAG_NONE};
            }
            if (nghttp2_submit_trailer(ng, stream_id, nva, bs->trailers.size) == 0)
                *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        }
    }
    return (ssize_t)n;
}

static void on_body_change(void *ctx)
{
    struct h2u_stream *st = ctx;
    if (st->ctx == NULL || st->id == 0 || !st->deferred)
        return;
    st->deferred = false;
    nghttp2_session_resume_data(st->conn->ng, st->id);
    conn_flush_soon(st->conn);
}

/* ---- streams ---- */

static bool submit_stream(struct h2u_stream *st)
{
    struct h2u_conn *c = st->conn;
    const struct h2u_request *r = &st->r;
    size_t n = 4 + r->n_headers;
    nghttp2_nv *nva = h2o_mem_alloc_pool(st->pool, sizeof(*nva) * n);
#define NV(i, nm, v) nva[i] = (nghttp2_nv){(uint8_t *)(nm), (uint8_t *)(v).base, strlen(nm), (v).len, NGHTTP2_NV_FLAG_NONE}
    NV(0, ":method", r->method);
    NV(1, ":scheme", r->scheme);
    NV(2, ":authority", r->authority);
    NV(3, ":path", r->path);
#undef NV
    for (size_t i = 0; i < r->n_headers; i++) {
        const h2o_header_t *h = &r->headers[i];
        nva[4 + i] = (nghttp2_nv){(uint8_t *)h->name->base, (uint8_t *)h->value.base, h->name->len, h->value.len,
                                  NGHTTP2_NV_FLAG_NONE};
    }
    nghttp2_data_provider dp = {.source.ptr = st, .read_callback = read_body};
    bool has_body = r->body_stream != NULL || r->body.len != 0;
    int32_t id = nghttp2_submit_request(c->ng, NULL, nva, n, has_body ? &dp : NULL, st);
    if (id < 0) {
        owner_fail(st, H2U_UNPROCESSED, nghttp2_strerror(id), false);
        stream_free(st);
        return false;
    }
    st->id = id;
    if (r->body_stream != NULL) {
        r->body_stream->ctx = st;
        r->body_stream->on_change = on_body_change;
    }
    return true;
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    struct h2u_conn *c = H2O_STRUCT_FROM_MEMBER(struct h2u_conn, timer, entry);
    conn_fail(c, "connect timeout", true);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct h2u_conn *c = sock->data;
    if (err != NULL) {
        conn_fail(c, err == h2o_socket_error_closed ? "connection closed by the server" : err, false);
        return;
    }
    c->busy = true;
    ssize_t n = nghttp2_session_mem_recv(c->ng, (const uint8_t *)sock->input->bytes, sock->input->size);
    c->busy = false;
    if (n < 0) {
        conn_fail(c, nghttp2_strerror((int)n), false);
        return;
    }
    h2o_buffer_consume(&sock->input, (size_t)n);
    if (c->failed) {
        conn_teardown(c);
        return;
    }
    if (!c->ping_sent)
        health_rearm(c);
    conn_flush(c);
}

/* The socket is connected (and TLS done): HTTP/2 starts. */
static void conn_start(struct h2u_conn *c)
{
    h2o_timeout_unlink(&c->timer);
    c->state = C_WAIT_SETTINGS;
    nghttp2_session_client_new3(&c->ng, callbacks, c, options, h2_mem());
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0}, {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW}};
    nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, sizeof(iv) / sizeof(iv[0]));
    nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    h2o_socket_read_start(c->sock, on_read);
    health_rearm(c);
    conn_flush(c);
    if (c->sock->input->size != 0) /* bytes that came with the handshake */
        on_read(c->sock, NULL);
}

bool h2u_alpn_is_h2(h2o_socket_t *sock)
{
    h2o_iovec_t p = h2o_socket_ssl_get_selected_protocol(sock);
    return p.len == 2 && memcmp(p.base, "h2", 2) == 0;
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    struct h2u_conn *c = sock->data;
    if (err == h2o_socket_error_ssl_cert_name_mismatch && !transport_checks_name(transport_client_ctx(conn_transport(c), true)))
        err = NULL; /* libh2o's own name check after a TLS 1.2 handshake: insecureSkipVerify skips it */
    if (err != NULL) {
        conn_fail(c, err, false);
        return;
    }
    if (!h2u_alpn_is_h2(sock)) {
        /* the server no longer offers h2: requests go over HTTP/1.1 again */
        atomic_store_explicit(&c->srv->alpn_h2, false, memory_order_relaxed);
        c->state = C_WAIT_SETTINGS; /* so that waiting streams count as unprocessed, not as connect failures */
        conn_fail(c, "the server did not choose h2 by ALPN", false);
        return;
    }
    conn_start(c);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    struct h2u_conn *c = sock->data;
    if (err != NULL) {
        conn_fail(c, err, false);
        return;
    }
    if (c->srv->tls) {
        const struct transport *t = conn_transport(c);
        h2o_socket_ssl_handshake(sock, transport_client_ctx(t, true), t && t->server_name ? t->server_name : c->srv->host,
                                 on_handshake);
        return;
    }
    conn_start(c);
}

static struct h2u_conn *conn_new(struct worker *w, struct server *s, h2o_socket_t *sock)
{
    struct h2u_conn *c = h2o_mem_alloc(sizeof(*c));
    *c = (struct h2u_conn){.sock = sock, .srv = s, .w = w, .state = C_CONNECTING, .listed = true};
    h2o_linklist_init_anchor(&c->streams);
    h2o_buffer_init(&c->out, &h2o_socket_buffer_prototype);
    h2o_buffer_init(&c->flight, &h2o_socket_buffer_prototype);
    sock->data = c;
    struct server_worker *sw = &s->workers[w->id];
    h2o_linklist_insert(&sw->h2_conns, &c->link);
    sw->n_h2_conns++;
    h2o_linklist_insert(&w->h2_conns, &c->wlink);
    return c;
}

static struct h2u_conn *conn_open(struct worker *w, struct server *s)
{
    if (!atomic_load_explicit(&s->resolved, memory_order_relaxed)) {
        errno = EHOSTUNREACH; /* its name has not resolved (yet) */
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    uint32_t gen = server_address(s, &ss, &sslen);
    h2o_socket_t *sock = h2o_socket_connect(w->loop, (struct sockaddr *)&ss, sslen, on_connect);
    if (sock == NULL)
        return NULL;
    /* TCP_NODELAY: h2o_socket_connect sets it */
    int rcvbuf = UPSTREAM_RCVBUF; /* what a stalled connection pins in the kernel (see upstream_pool.c) */
    setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct h2u_conn *c = conn_new(w, s, sock);
    c->addr_gen = gen;
    worker_counter_add(&s->workers[w->id].opened, 1);
    log_debug("upstream %s: new HTTP/2 connection (worker %u, %u open)", s->url, w->id, s->workers[w->id].n_h2_conns);
    c->timer.cb = on_connect_timeout;
    const struct transport *t = s->transport;
    h2o_timeout_link(w->loop, t && t->dial_ms ? worker_timeout_list(w, t->dial_ms) : worker_timeout_live(w->loop, &w->connect_timeout), &c->timer);
    return c;
}

void h2u_adopt(struct worker *w, struct server *s, h2o_socket_t *sock)
{
    struct server_worker *sw = &s->workers[w->id];
    atomic_store_explicit(&s->alpn_h2, true, memory_order_relaxed);
    /* handshakes started before the server was known to speak h2 (one per
     * request of a cold start): the first becomes the connection, the
     * others are closed and their requests take streams on it */
    if (sw->n_h2_conns != 0) {
        h2o_socket_close(sock);
        return;
    }
    struct h2u_conn *c = conn_new(w, s, sock);
    c->addr_gen = atomic_load_explicit(&s->addr_gen, memory_order_relaxed);
    conn_start(c);
}

/* A connection with room for one more stream: the first listed one that
 * has it, else a new one, else (at the cap) the least loaded. */
static struct h2u_conn *pick_conn(struct worker *w, struct server *s)
{
    struct server_worker *sw = &s->workers[w->id];
    struct h2u_conn *least = NULL;
    uint32_t gen = atomic_load_explicit(&s->addr_gen, memory_order_relaxed);
    for (h2o_linklist_t *n = sw->h2_conns.next, *next; n != &sw->h2_conns; n = next) {
        next = n->next;
        struct h2u_conn *c = H2O_STRUCT_FROM_MEMBER(struct h2u_conn, link, n);
        if (c->addr_gen != gen) { /* the name moved: no new streams, it closes when its streams end */
            conn_unlist(c);
            conn_check_idle(c);
            continue;
        }
        if (c->n_streams < conn_limit(c))
            return c;
        if (least == NULL || c->n_streams < least->n_streams)
            least = c;
    }
    if (sw->n_h2_conns >= MAX_CONNS_PER_SERVER && least != NULL)
        return least;
    return conn_open(w, s);
}

/* Adds a stream to <c>, submitted at once when c is ready. */
static void attach_stream(struct h2u_conn *c, struct h2u_stream *st)
{
    st->conn = c;
    h2o_linklist_insert(&c->streams, &st->link);
    c->n_streams++;
    if (c->state != C_CONNECTING && h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer); /* the idle expiry (the connect deadline only runs while connecting) */
    if (c->state == C_READY && submit_stream(st))
        conn_flush_soon(c);
}

/* Moves a stream not yet submitted to another connection of its server. */
static void place_stream(struct h2u_stream *st)
{
    struct h2u_conn *c = pick_conn(st->conn->w, st->conn->srv);
    if (c == NULL) {
        void *ctx = st->ctx;
        const struct h2u_handler *h = st->h;
        free(st);
        if (ctx != NULL)
            h->on_fail(ctx, H2U_CONNECT_FAILED, strerror(errno), false);
        return;
    }
    attach_stream(c, st);
}

struct h2u_stream *h2u_start(struct worker *w, struct server *s, const struct h2u_request *r, const struct h2u_handler *h,
                             void *ctx)
{
    struct h2u_conn *c = pick_conn(w, s);
    if (c == NULL)
        return NULL;
    struct h2u_stream *st = h2o_mem_alloc(sizeof(*st));
    *st = (struct h2u_stream){.h = h, .ctx = ctx, .req = r->req, .pool = r->pool != NULL ? r->pool : &r->req->pool, .r = *r};
    attach_stream(c, st);
    return st;
}

void h2u_consumed(struct h2u_stream *st, size_t n)
{
    if (n > st->unconsumed)
        n = st->unconsumed;
    st->unconsumed -= n;
    struct h2u_conn *c = st->conn;
    if (c->ng == NULL || c->failed)
        return;
    nghttp2_session_consume_stream(c->ng, st->id, n);
    conn_flush_soon(c);
}

void h2u_cancel(struct h2u_stream *st)
{
    struct h2u_conn *c = st->conn;
    if (st->ctx == NULL)
        return;
    st->ctx = NULL;
    if (st->r.body_stream != NULL)
        st->r.body_stream->on_change = NULL;
    if (st->id == 0) { /* never sent */
        stream_free(st);
        if (!c->failed)
            conn_check_idle(c);
        return;
    }
    /* the response may still come: its window must not stay taken */
    if (st->unconsumed != 0) {
        nghttp2_session_consume_stream(c->ng, st->id, st->unconsumed);
        st->unconsumed = 0;
    }
    nghttp2_submit_rst_stream(c->ng, NGHTTP2_FLAG_NONE, st->id, NGHTTP2_CANCEL);
    conn_flush_soon(c);
}

/* ---- worker ---- */

static void init_callbacks(void)
{
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_not_send_callback(callbacks, on_frame_not_send);
    nghttp2_option_new(&options);
    nghttp2_option_set_no_auto_window_update(options, 1); /* windows follow what the client took */
    nghttp2_option_set_peer_max_concurrent_streams(options, ASSUMED_MAX_STREAMS);
}

void h2u_worker_init(struct worker *w)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, init_callbacks);
    h2o_linklist_init_anchor(&w->h2_conns);
}

static bool conn_orphaned(const struct h2u_conn *c)
{
    for (h2o_linklist_t *n = c->streams.next; n != &c->streams; n = n->next)
        if (H2O_STRUCT_FROM_MEMBER(struct h2u_stream, link, n)->ctx != NULL)
            return false;
    return true;
}

void h2u_close_idle(struct worker *w, struct server *s)
{
    for (h2o_linklist_t *n = w->h2_conns.next; n != &w->h2_conns;) {
        struct h2u_conn *c = H2O_STRUCT_FROM_MEMBER(struct h2u_conn, wlink, n);
        n = n->next;
        if ((s == NULL || c->srv == s) && !c->busy && !c->failed && conn_orphaned(c))
            conn_fail(c, NULL, false);
    }
}
