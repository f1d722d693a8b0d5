/*
 * The HTTP/2 server's connections (see h2_server.h): an nghttp2 server
 * session fed from an h2o socket, its output written back through it.
 *
 * nghttp2 calls back into us while it parses or serialises; a request is
 * never run, and the connection never freed, from inside such a call:
 * streams ready to run are queued and run after it returns, and a close
 * waits until our outermost callback unwinds.
 */
#include "h2_server.h"

#include <stdlib.h>
#include <string.h>

#include <h2o/http1.h>

#include "../common/log.h"
#include "conntrack.h"
#include "h2_guard.h"
#include "h2_mem.h"
#include "h2_internal.h"
#include "tls.h"
#include "worker.h"

#define OUT_HIGH (64 * 1024)            /* frames serialised per socket write */
#define STREAM_WINDOW (1024 * 1024)     /* request body a stream may send ahead of its consumer */
#define CONN_WINDOW (16 * 1024 * 1024)  /* all streams of a connection together */
#define DEFAULT_MAX_STREAMS 100         /* libh2o's default, kept */

static nghttp2_session_callbacks *callbacks;
static nghttp2_option *options;

int64_t h2s_conn_now_ms(struct h2s_conn *conn)
{
    return worker_now_ms(conn->we->w);
}

/* ---- lifetime ---- */

/* The requests go first (their accounting reaches the connection's
 * tracker, which the socket's close frees), then the socket. */
static void conn_free(struct h2s_conn *conn)
{
    while (!h2o_linklist_is_empty(&conn->streams))
        h2s_stream_destroy(H2O_STRUCT_FROM_MEMBER(struct h2s_stream, link, conn->streams.next));
    if (conn->sock != NULL) {
        h2o_socket_t *sock = conn->sock;
        conn->sock = NULL;
        h2o_socket_close(sock); /* conntrack's on_close */
    }
    h2o_timeout_unlink(&conn->flush_entry);
    nghttp2_session_del(conn->ng);
    h2o_buffer_dispose(&conn->out);
    h2o_linklist_unlink(&conn->link);
    free(conn);
}

/* Stops everything now; the streams and the socket go once no callback
 * of ours is on the stack (a caller up there may still hold a stream). */
static void conn_close(struct h2s_conn *conn)
{
    if (conn->closed)
        return;
    conn->closed = true;
    h2o_socket_read_stop(conn->sock);
    if (conn->busy == 0)
        conn_free(conn);
}

static void enter(struct h2s_conn *conn)
{
    conn->busy++;
}

static void leave(struct h2s_conn *conn)
{
    if (--conn->busy == 0 && conn->closed)
        conn_free(conn);
}

/* ---- output ---- */

static ssize_t on_send(nghttp2_session *ng, const uint8_t *data, size_t len, int flags, void *user)
{
    (void)ng, (void)flags;
    struct h2s_conn *conn = user;
    if (conn->out->size >= OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    h2o_buffer_reserve(&conn->out, len);
    memcpy(conn->out->bytes + conn->out->size, data, len);
    conn->out->size += len;
    return (ssize_t)len;
}

static int on_send_data(nghttp2_session *ng, nghttp2_frame *frame, const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *user)
{
    (void)ng;
    struct h2s_conn *conn = user;
    if (conn->out->size >= OUT_HIGH)
        return NGHTTP2_ERR_WOULDBLOCK;
    size_t pad = frame->data.padlen;
    h2o_buffer_reserve(&conn->out, 9 + length + pad);
    memcpy(conn->out->bytes + conn->out->size, framehd, 9);
    conn->out->size += 9;
    if (pad > 0)
        conn->out->bytes[conn->out->size++] = (char)(pad - 1);
    h2s_stream_copy_data(source->ptr, &conn->out, length);
    if (pad > 1) {
        memset(conn->out->bytes + conn->out->size, 0, pad - 1);
        conn->out->size += pad - 1;
    }
    return 0;
}

static void on_write(h2o_socket_t *sock, const char *err);
static void h2s_conn_flush(struct h2s_conn *conn);

/* Generators whose buffers were all copied may send more now. */
static void run_proceed(struct h2s_conn *conn)
{
    while (!h2o_linklist_is_empty(&conn->proceed) && !conn->closed) {
        struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, proceed_link, conn->proceed.next);
        h2o_linklist_unlink(&s->proceed_link);
        h2s_stream_proceed(s);
    }
}

static void on_flush_entry(h2o_timeout_entry_t *entry)
{
    h2s_conn_flush(H2O_STRUCT_FROM_MEMBER(struct h2s_conn, flush_entry, entry));
}

void h2s_conn_request_flush(struct h2s_conn *conn)
{
    if (!conn->closed && !h2o_timeout_is_linked(&conn->flush_entry))
        h2o_timeout_link(conn->we->ctx.loop, &conn->we->ctx.zero_timeout, &conn->flush_entry);
}

static void h2s_conn_flush(struct h2s_conn *conn)
{
    if (conn->closed)
        return;
    if (conn->writing || conn->in_session) {
        conn->want_flush = true;
        return;
    }
    h2o_timeout_unlink(&conn->flush_entry);
    enter(conn);
    do {
        conn->want_flush = false;
        conn->in_session = true;
        int r = nghttp2_session_send(conn->ng);
        conn->in_session = false;
        if (r != 0) {
            log_debug("HTTP/2: closing a connection: %s", nghttp2_strerror(r));
            conn_close(conn);
            break;
        }
        if (conn->out->size != 0) {
            h2o_iovec_t v = h2o_iovec_init(conn->out->bytes, conn->out->size);
            conn->writing = true;
            h2o_socket_write(conn->sock, &v, 1, on_write);
            run_proceed(conn);
            break;
        }
        run_proceed(conn);
        if (!conn->want_flush && !nghttp2_session_want_read(conn->ng) && !nghttp2_session_want_write(conn->ng)) {
            conn_close(conn); /* after a GOAWAY, or the peer's, with nothing left */
            break;
        }
        if (!conn->want_flush && conn->closing && !nghttp2_session_want_write(conn->ng)) {
            conn_close(conn);
            break;
        }
    } while (conn->want_flush && !conn->closed);
    leave(conn);
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    struct h2s_conn *conn = sock->data;
    conn->writing = false;
    h2o_buffer_consume(&conn->out, conn->out->size);
    if (err != NULL) {
        conn_close(conn);
        return;
    }
    h2s_conn_flush(conn);
}

/* ---- input ---- */

void h2s_conn_queue_dispatch(struct h2s_conn *conn, struct h2s_stream *s)
{
    if (!h2o_linklist_is_linked(&s->dispatch_link))
        h2o_linklist_insert(&conn->dispatch, &s->dispatch_link);
}

static void run_dispatch(struct h2s_conn *conn)
{
    while (!h2o_linklist_is_empty(&conn->dispatch) && !conn->closed) {
        struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, dispatch_link, conn->dispatch.next);
        h2o_linklist_unlink(&s->dispatch_link);
        h2s_stream_dispatch(s);
    }
}

void h2s_conn_consume(struct h2s_conn *conn, struct h2s_stream *s, size_t n)
{
    if (n == 0 || conn->closed)
        return;
    if (s->unconsumed < n)
        n = (size_t)s->unconsumed;
    s->unconsumed -= n;
    if (!s->closed)
        nghttp2_session_consume(conn->ng, s->id, n);
    else
        nghttp2_session_consume_connection(conn->ng, n);
    h2s_conn_request_flush(conn);
}

void h2s_conn_reset(struct h2s_conn *conn, int32_t id, uint32_t error_code)
{
    if (conn->closed)
        return;
    nghttp2_submit_rst_stream(conn->ng, NGHTTP2_FLAG_NONE, id, error_code);
    h2s_conn_request_flush(conn);
}

/* Feeds what arrived to nghttp2; the input is consumed whole. */
static void feed(struct h2s_conn *conn)
{
    h2o_buffer_t *in = conn->sock->input;
    if (in->size == 0)
        return;
    if (conn->ct != NULL) { /* the abuse guard sees every frame, also those nghttp2 skips silently */
        struct h2_frame_counts counts = {0, 0, 0};
        h2_frame_scanner_feed(&conn->scanner, (const uint8_t *)in->bytes, in->size, &counts);
        if ((counts.idle != 0 || counts.small != 0) && !h2_guard_count(conn->ct, &counts))
            conn->flooded = true;
    }
    conn->in_session = true;
    ssize_t r = conn->flooded ? 0 : nghttp2_session_mem_recv(conn->ng, (const uint8_t *)in->bytes, in->size);
    conn->in_session = false;
    if (conn->closed)
        return;
    h2o_buffer_consume(&conn->sock->input, in->size);
    if (conn->flooded) { /* GOAWAY(ENHANCE_YOUR_CALM), then close once written */
        nghttp2_submit_goaway(conn->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(conn->ng),
                              NGHTTP2_ENHANCE_YOUR_CALM, (const uint8_t *)"too many frames without progress", 32);
        conn->closing = true;
        h2o_socket_read_stop(conn->sock);
    } else if (r < 0) { /* nghttp2 queued a GOAWAY where the protocol wants one */
        log_debug("HTTP/2: %s", nghttp2_strerror((int)r));
        if ((r == NGHTTP2_ERR_TOO_MANY_CONTINUATIONS || r == NGHTTP2_ERR_FLOODED) && conn->ct != NULL &&
            conntrack_doom(conn->ct, CT_H2_FLOOD)) /* nghttp2's own defences: the same count as ours */
            log_warn("closing an HTTP/2 connection: %s (flood?)", nghttp2_strerror((int)r));
        conn->closing = true;
        h2o_socket_read_stop(conn->sock);
    }
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct h2s_conn *conn = sock->data;
    if (err != NULL) {
        tls_peer_gone(sock);
        conn_close(conn);
        return;
    }
    enter(conn);
    feed(conn);
    run_dispatch(conn);
    h2s_conn_flush(conn);
    leave(conn);
}

/* ---- nghttp2 callbacks ---- */

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct h2s_conn *conn = user;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct h2s_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    conn->hdr_stream = s;
    if (s != NULL) { /* trailers */
        s->in_trailers = true;
        return 0;
    }
    if (frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    if (conn->goaway_sent) /* nghttp2 refuses streams above the GOAWAY's last id itself */
        return 0;
    s = h2s_stream_open(conn, frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, s);
    conn->hdr_stream = s;
    return 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user)
{
    (void)flags;
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    /* a header block is never interleaved with another stream's (RFC 9113 6.10) */
    struct h2s_stream *s = ((struct h2s_conn *)user)->hdr_stream;
    if (s == NULL || s->id != frame->hd.stream_id)
        s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s == NULL)
        return 0;
    return h2s_stream_on_header(s, name, namelen, value, valuelen);
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)user;
    struct h2s_stream *s = frame->hd.stream_id != 0 ? nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id) : NULL;
    if (s == NULL)
        return 0;
    bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
        if (!s->in_trailers && frame->headers.cat == NGHTTP2_HCAT_REQUEST)
            h2s_stream_on_head(s, end);
        else if (end)
            h2s_stream_on_end(s);
        break;
    case NGHTTP2_DATA:
        if (end)
            h2s_stream_on_end(s);
        break;
    case NGHTTP2_RST_STREAM:
        s->peer_reset = true;
        break;
    default:
        break;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data, size_t len, void *user)
{
    (void)flags;
    struct h2s_conn *conn = user;
    struct h2s_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (s == NULL) { /* a stream we gave up on: its window goes back at once */
        nghttp2_session_consume(ng, stream_id, len);
        return 0;
    }
    (void)conn;
    h2s_stream_on_data(s, data, len);
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *user)
{
    (void)user;
    struct h2s_stream *s = nghttp2_session_get_stream_user_data(ng, stream_id);
    if (s != NULL) {
        nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
        h2s_stream_on_close(s, error_code);
    }
    return 0;
}

/* A response ended while its request body still arrives: the rest is
 * read and dropped, up to H2S_DISCARD_MAX bytes or for H2S_DISCARD_MS,
 * then the client is asked to stop (RST_STREAM NO_ERROR, RFC 9113 8.1).
 * Not at once: some clients (curl 7.88) report an error for a reset that
 * overtakes their last bytes, and others wait for the stream to close. */
static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    (void)user;
    if ((frame->hd.type != NGHTTP2_DATA && frame->hd.type != NGHTTP2_HEADERS) || !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct h2s_stream *s = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
    if (s != NULL && s->body.buf != NULL && !s->body.done)
        h2s_stream_discard_rest(s);
    return 0;
}

/* ---- accepting ---- */

static struct h2s_conn *conn_new(struct worker_ep *we, struct conntrack_conn *ct, h2o_socket_t *sock)
{
    struct h2s_conn *conn = calloc(1, sizeof(*conn));
    if (conn == NULL)
        abort();
    conn->super.ctx = &we->ctx;
    conn->super.hosts = we->ep->globalconf.hosts;
    conn->super.connected_at = *h2o_get_timestamp(&we->ctx, NULL, NULL);
    /* every worker takes ids from this counter, as h2o_conn_init does: atomically */
    conn->super.id = __atomic_add_fetch(&h2o_connection_id, 1, __ATOMIC_RELAXED);
    conn->super.callbacks = &h2s_conn_callbacks;
    conn->sock = sock;
    conn->we = we;
    conn->ct = ct;
    conn->flush_entry.cb = on_flush_entry;
    h2_frame_scanner_init(&conn->scanner);
    h2o_linklist_init_anchor(&conn->streams);
    h2o_linklist_init_anchor(&conn->dispatch);
    h2o_linklist_init_anchor(&conn->proceed);
    h2o_buffer_init(&conn->out, &h2o_socket_buffer_prototype);
    h2o_linklist_insert(&we->h2_conns, &conn->link);
    if (nghttp2_session_server_new3(&conn->ng, callbacks, conn, options, h2_mem()) != 0)
        abort();
    uint32_t max_streams = we->ep->cfg.max_concurrent_streams ? we->ep->cfg.max_concurrent_streams : DEFAULT_MAX_STREAMS;
    nghttp2_settings_entry settings[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max_streams},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
    };
    nghttp2_submit_settings(conn->ng, NGHTTP2_FLAG_NONE, settings, sizeof(settings) / sizeof(settings[0]));
    nghttp2_session_set_local_window_size(conn->ng, NGHTTP2_FLAG_NONE, 0, CONN_WINDOW);
    sock->data = conn;
    return conn;
}

void h2_server_accept(struct worker_ep *we, struct conntrack_conn *ct, h2o_socket_t *sock)
{
    struct h2s_conn *conn = conn_new(we, ct, sock);
    if (ct != NULL)
        h2_guard_attach(ct, conn);
    enter(conn);
    feed(conn);
    if (!conn->closed && !conn->closing)
        h2o_socket_read_start(sock, on_read);
    run_dispatch(conn);
    h2s_conn_flush(conn);
    leave(conn);
}

void h2_server_shutdown(struct worker_ep *we)
{
    for (h2o_linklist_t *n = we->h2_conns.next; n != &we->h2_conns; n = n->next) {
        struct h2s_conn *conn = H2O_STRUCT_FROM_MEMBER(struct h2s_conn, link, n);
        if (conn->closed || conn->goaway_sent)
            continue;
        conn->goaway_sent = true;
        nghttp2_submit_goaway(conn->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(conn->ng), NGHTTP2_NO_ERROR,
                              (const uint8_t *)"shutting down", 13);
        h2s_conn_request_flush(conn);
    }
}

void h2_server_init(void)
{
    if (callbacks != NULL)
        return;
    nghttp2_session_callbacks_new(&callbacks);
    nghttp2_session_callbacks_set_send_callback(callbacks, on_send);
    nghttp2_session_callbacks_set_send_data_callback(callbacks, on_send_data);
    nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(callbacks, on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, on_frame_send);
    nghttp2_option_new(&options);
    /* windows reopen as a stream's consumer takes the bytes, not as they arrive */
    nghttp2_option_set_no_auto_window_update(options, 1);
    h2s_stream_register_ops();
}

/* ---- HTTP/1.1 Upgrade: h2c (RFC 7540 3.2) ---- */

struct upgrade {
    struct worker_ep *we;
    h2o_req_t req; /* a copy: libh2o frees the HTTP/1 request before the upgrade completes */
    h2o_iovec_t settings;
    bool head;
};

static void on_upgraded(void *data, h2o_socket_t *sock, size_t reqsize)
{
    struct upgrade *u = data;
    if (sock != NULL) {
        h2o_buffer_consume(&sock->input, reqsize);
        struct conntrack_conn *ct = conntrack_of_socket(sock);
        struct h2s_conn *conn = conn_new(u->we, ct, sock);
        if (ct != NULL)
            h2_guard_attach(ct, conn);
        enter(conn);
        if (nghttp2_session_upgrade2(conn->ng, (const uint8_t *)u->settings.base, u->settings.len, u->head, NULL) != 0) {
            conn_close(conn);
        } else {
            struct h2s_stream *s = h2s_stream_open_upgraded(conn, &u->req);
            nghttp2_session_set_stream_user_data(conn->ng, 1, s);
            h2s_conn_queue_dispatch(conn, s);
            feed(conn);
            if (!conn->closed && !conn->closing)
                h2o_socket_read_start(sock, on_read);
            run_dispatch(conn);
            h2s_conn_flush(conn);
        }
        leave(conn);
    }
    h2o_mem_clear_pool(&u->req.pool);
    free(u);
}

bool h2_server_upgrade(h2o_req_t *req, struct worker_ep *we)
{
    if (req->version != 0x101 || req->upgrade.base == NULL || !h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("h2c")))
        return false;
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->ssl != NULL) /* h2c is for cleartext only; TLS negotiates h2 by ALPN */
        return false;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_HTTP2_SETTINGS, -1);
    if (i < 0)
        return false;
    h2o_iovec_t settings = h2o_decode_base64url(&req->pool, req->headers.entries[i].value.base, req->headers.entries[i].value.len);
    if (settings.base == NULL)
        return false;
    struct upgrade *u = calloc(1, sizeof(*u));
    if (u == NULL)
        abort();
    u->we = we;
    h2o_init_request(&u->req, NULL, req);
    if (req->entity.base != NULL)
        u->req.entity = h2o_strdup(&u->req.pool, req->entity.base, req->entity.len);
    u->settings = h2o_strdup(&u->req.pool, settings.base, settings.len);
    u->head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    req->res.status = 101;
    req->res.reason = "Switching Protocols";
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("h2c"));
    h2o_http1_upgrade(req, NULL, 0, on_upgraded, u);
    return true;
}
