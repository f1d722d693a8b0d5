/*
 * HTTP/2 abuse guard (see h2_guard.h).
 */
#include "h2_guard.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <h2o/http2.h>
#include <h2o/http2_internal.h>

#include "../common/log.h"
#include "conntrack.h"
#include "worker.h"

#define FRAME_HEADER 9
#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define PREFACE_LEN 24

enum { F_DATA, F_HEADERS, F_PRIORITY, F_RST_STREAM, F_SETTINGS, F_PUSH_PROMISE, F_PING, F_GOAWAY, F_WINDOW_UPDATE, F_CONTINUATION };

static uint32_t get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

int h2_guard_frame_is_idle(const uint8_t *f, size_t len)
{
    uint8_t type = f[3], flags = f[4];
    switch (type) {
    case F_DATA: /* padding is counted as payload: it costs the sender bandwidth like data */
        return !(flags & 0x1) && len < H2_GUARD_MIN_DATA;
    case F_HEADERS: /* an empty header block opens nothing */
    case F_CONTINUATION:
        return len == 0 || (type == F_CONTINUATION && len < H2_GUARD_MIN_DATA);
    case F_RST_STREAM:
        /* resets of open streams are counted by the Rapid Reset rule
         * (maxResetStreams); counting them here too would cut such floods
         * under the wrong name first */
        return 0;
    case F_WINDOW_UPDATE:
        return len != 4 || (get24(f + FRAME_HEADER) << 8 | f[FRAME_HEADER + 3]) < H2_GUARD_MIN_WINDOW_UPDATE;
    default: /* PRIORITY, SETTINGS, PING, GOAWAY, PUSH_PROMISE (an error from a client), unknown types */
        return 1;
    }
}

void h2_guard_scan(const uint8_t *buf, size_t size, size_t old_size, struct h2_scan *out)
{
    size_t p = 0;
    out->frames = out->idle = 0;
    if (size >= PREFACE_LEN && memcmp(buf, PREFACE, PREFACE_LEN) == 0)
        p = PREFACE_LEN;
    else if (size < PREFACE_LEN && memcmp(buf, PREFACE, size) == 0)
        return; /* a partial preface */
    /* frames before old_size were classified by an earlier read; walking
     * over them is one header per frame, and normally there is at most one
     * (h2o leaves only a partial frame unparsed while it is reading) */
    while (size - p >= FRAME_HEADER) {
        size_t len = get24(buf + p), end = p + FRAME_HEADER + len;
        if (end > size)
            break;
        if (end > old_size) {
            out->frames++;
            out->idle += (uint32_t)h2_guard_frame_is_idle(buf + p, len);
        }
        p = end;
    }
}

/* ---- interposition ---- */

typedef void (*read_start_fn)(h2o_socket_t *, h2o_socket_cb);
typedef void (*http2_accept_fn)(h2o_accept_ctx_t *, h2o_socket_t *, struct timeval);
static _Atomic(read_start_fn) real_read_start;
static _Atomic uint64_t stream_resets;
static _Atomic(http2_accept_fn) real_http2_accept;

static void *next_symbol(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (f == NULL) { /* libh2o is linked in; without it nothing could run */
        log_error("h2_guard: %s not found: %s", name, dlerror());
        abort();
    }
    return f;
}

static read_start_fn get_read_start(void)
{
    read_start_fn f = atomic_load_explicit(&real_read_start, memory_order_relaxed);
    if (f == NULL) { /* racing threads store the same value */
        f = (read_start_fn)next_symbol("h2o_socket_read_start");
        atomic_store_explicit(&real_read_start, f, memory_order_relaxed);
    }
    return f;
}

bool h2_guard_active(void)
{
    /* libh2o calls its exported functions through the PLT, so the
     * definitions below win when the process resolves these names to them */
    return dlsym(RTLD_DEFAULT, "h2o_socket_read_start") == (void *)h2o_socket_read_start &&
           dlsym(RTLD_DEFAULT, "h2o_http2_accept") == (void *)h2o_http2_accept &&
           dlsym(RTLD_DEFAULT, "h2o_http2_handle_upgrade") == (void *)h2o_http2_handle_upgrade &&
           (void *)get_read_start() != (void *)h2o_socket_read_start;
}

static void send_goaway(struct conntrack_conn *c)
{
    h2o_http2_conn_t *conn = c->guard.h2conn;
    /* queued in h2o's own output, so it lands between frames, on TLS too;
     * h2o closes the connection once it is written */
    h2o_http2_encode_goaway_frame(&conn->_write.buf, conn->pull_stream_ids.max_open, H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM,
                                  h2o_iovec_init(H2O_STRLIT("too many frames without progress")));
    h2o_http2_conn_request_write(conn);
}

/* Counts the frames the last read completed; false when the connection
 * went over its budget and is being closed. */
static bool account(struct conntrack_conn *c, h2o_socket_t *sock, size_t new_bytes)
{
    struct h2_scan s;
    h2o_buffer_t *in = sock->input;
    h2_guard_scan((const uint8_t *)in->bytes, in->size, in->size - new_bytes, &s);
    if (s.idle == 0)
        return true;
    int64_t now = worker_now_ms(c->we->w);
    if (now - c->guard.second_start_ms >= 1000) {
        c->guard.second_start_ms = now;
        c->guard.idle_frames = 0;
    }
    c->guard.idle_frames += s.idle;
    if (c->guard.idle_frames <= H2_GUARD_IDLE_FRAMES_PER_S)
        return true;
    log_warn("closing an HTTP/2 connection: %u frames without progress within a second (flood?)", c->guard.idle_frames);
    conntrack_doom(c, CT_H2_FLOOD);
    return false;
}

/* The read callback of every tracked client socket. */
static void guarded_read(h2o_socket_t *sock, const char *err)
{
    struct conntrack_conn *c = conntrack_of_socket(sock);
    h2o_socket_cb inner = c->guard.inner;
    if (err == NULL && c->guard.h2conn != NULL) {
        if (c->doomed) { /* being closed: what arrives now is not worth parsing */
            h2o_buffer_consume(&sock->input, sock->input->size);
            return;
        }
        if (sock->bytes_read != 0 && !account(c, sock, sock->bytes_read)) {
            h2o_buffer_consume(&sock->input, sock->input->size);
            send_goaway(c);
            /* h2o's own error path: it stops reading and closes the
             * connection when the GOAWAY is written */
            err = "HTTP/2 flood";
        }
    }
    inner(sock, err);
}

void h2o_socket_read_start(h2o_socket_t *sock, h2o_socket_cb cb)
{
    struct conntrack_conn *c = conntrack_of_socket(sock);
    if (c != NULL && cb != guarded_read) {
        /* h2o_http2_accept, or the end of an h2c upgrade, has just set
         * sock->data to h2o's HTTP/2 connection: recognised by its
         * callbacks (an HTTP/1 connection has no debug state) */
        if (c->guard.accepting && ((h2o_conn_t *)sock->data)->callbacks->get_debug_state == h2o_http2_get_debug_state) {
            c->guard.accepting = false;
            c->guard.h2conn = sock->data;
            c->h2 = true;
            if (c->doomed && !c->shut) /* flooded before the switch to HTTP/2 */
                send_goaway(c);
        }
        c->guard.inner = cb;
        cb = guarded_read;
    }
    get_read_start()(sock, cb);
}

int h2o_http2_handle_upgrade(h2o_req_t *req, struct timeval connected_at)
{
    typedef int (*upgrade_fn)(h2o_req_t *, struct timeval);
    static _Atomic(upgrade_fn) real;
    upgrade_fn f = atomic_load_explicit(&real, memory_order_relaxed);
    if (f == NULL) {
        f = (upgrade_fn)next_symbol("h2o_http2_handle_upgrade");
        atomic_store_explicit(&real, f, memory_order_relaxed);
    }
    /* HTTP/1.1 "Upgrade: h2c": h2o answers 101, then hands the socket to
     * its HTTP/2 connection and starts reading (read_start above) */
    struct conntrack_conn *c = conntrack_of(req);
    if (c != NULL)
        c->guard.accepting = true;
    return f(req, connected_at);
}

void h2o_http2_accept(h2o_accept_ctx_t *ctx, h2o_socket_t *sock, struct timeval connected_at)
{
    http2_accept_fn f = atomic_load_explicit(&real_http2_accept, memory_order_relaxed);
    if (f == NULL) {
        f = (http2_accept_fn)next_symbol("h2o_http2_accept");
        atomic_store_explicit(&real_http2_accept, f, memory_order_relaxed);
    }
    struct conntrack_conn *c = conntrack_of_socket(sock);
    if (c != NULL) {
        /* what arrived before the switch to HTTP/2 (the first read, or
         * what TLS decrypted) has not been seen by guarded_read */
        if (sock->input->size != 0 && !account(c, sock, sock->input->size))
            h2o_buffer_consume(&sock->input, sock->input->size); /* GOAWAY below, the sweep closes */
        /* h2o_http2_accept sets sock->data to its connection, then starts
         * reading (see h2o_socket_read_start above), then may parse input
         * and even close: <c> must not be touched after it returns */
        c->guard.accepting = true;
    }
    f(ctx, sock, connected_at);
}

/* ---- stalled request bodies, pinned responses ---- */

enum { REC_BODY, REC_PINNED };

struct h2_guard_stream {
    uint32_t stream_id;
    uint8_t kind;
    bool seen;  /* by this sweep */
    bool reset; /* to be reset after the walk */
    int64_t since_ms, progress_ms;
    uint64_t start, last; /* body bytes buffered, or response bytes sent */
};

static struct h2_guard_stream *record_of(struct h2_guard *g, uint32_t stream_id, uint8_t kind, int64_t now, uint64_t value)
{
    struct h2_guard_stream *r = NULL;
    for (uint32_t i = 0; i < g->n_streams && r == NULL; i++)
        if (g->streams[i].stream_id == stream_id)
            r = &g->streams[i];
    if (r == NULL) {
        if (g->n_streams == g->cap_streams) {
            uint32_t cap = g->cap_streams ? g->cap_streams * 2 : 8;
            struct h2_guard_stream *a = realloc(g->streams, cap * sizeof(*a));
            if (a == NULL)
                abort();
            g->streams = a;
            g->cap_streams = cap;
        }
        r = &g->streams[g->n_streams++];
    } else if (r->kind == kind) {
        return r;
    }
    *r = (struct h2_guard_stream){.stream_id = stream_id, .kind = kind, .since_ms = now, .progress_ms = now, .start = value, .last = value};
    return r;
}

/* A receiving stream: true when its body stalled longer than the window or
 * averages less than the minimum rate (the HTTP/1 rule, per stream). */
static bool body_stalled(const struct entrypoint_config *cfg, struct h2_guard_stream *r, uint64_t size, int64_t now)
{
    if (size != r->last) {
        r->last = size;
        r->progress_ms = now;
    }
    int64_t elapsed = now - r->since_ms;
    if (elapsed < (int64_t)cfg->body_rate_window_ms)
        return false;
    return now - r->progress_ms > (int64_t)cfg->body_rate_window_ms ||
           (r->last - r->start) * 1000 < cfg->body_min_rate * (uint64_t)elapsed;
}

bool h2_guard_sweep(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    struct h2_guard *g = &c->guard;
    h2o_http2_conn_t *conn = g->h2conn;
    bool receiving = cfg->body_min_rate && conn->num_streams.pull.open != conn->num_streams.pull.half_closed;
    /* neither a stream between HEADERS and its handler nor one sending a
     * response: the common case of an idle or a GET-only connection */
    if (!receiving && conn->num_streams.pull.send_body == 0) {
        g->n_streams = 0;
        return false;
    }
    for (uint32_t i = 0; i < g->n_streams; i++)
        g->streams[i].seen = false;
    bool conn_blocked = h2o_http2_window_get_window(&conn->_write.window) <= 0;
    uint32_t stalled = 0, pinned = 0, expired = 0;
    for (khiter_t i = kh_begin(conn->streams); i != kh_end(conn->streams); i++) {
        if (!kh_exist(conn->streams, i))
            continue;
        h2o_http2_stream_t *stream = kh_val(conn->streams, i);
        struct h2_guard_stream *r;
        if (stream->state == H2O_HTTP2_STREAM_STATE_RECV_BODY && receiving) {
            /* h2o buffers the body here and opens the window as it does, so
             * a body that does not grow is the client's doing */
            uint64_t size = stream->_req_body != NULL ? stream->_req_body->size : 0;
            r = record_of(g, stream->stream_id, REC_BODY, now, size);
            if (body_stalled(cfg, r, size, now)) {
                r->reset = true;
                stalled++;
            }
        } else if ((stream->state == H2O_HTTP2_STREAM_STATE_SEND_BODY ||
                    stream->state == H2O_HTTP2_STREAM_STATE_SEND_BODY_IS_FINAL) &&
                   stream->_data.size != 0 && (conn_blocked || h2o_http2_window_get_window(&stream->output_window) <= 0)) {
            /* response data waits for the client's flow-control window: the
             * upstream buffers behind it stay pinned */
            r = record_of(g, stream->stream_id, REC_PINNED, now, stream->req.bytes_sent);
            if (stream->req.bytes_sent != r->last) {
                r->last = stream->req.bytes_sent;
                r->progress_ms = now;
            }
            if (now - r->progress_ms >= H2_GUARD_PIN_MS) {
                pinned++;
                /* one moving stream keeps the connection's writes going,
                 * so writeTimeout is applied per stream too */
                if (cfg->write_timeout_ms && now - r->progress_ms > (int64_t)cfg->write_timeout_ms) {
                    r->reset = true;
                    expired++;
                }
            }
        } else {
            continue;
        }
        r->seen = true;
    }
    uint32_t n = 0; /* forget the streams that moved on or went away */
    for (uint32_t i = 0; i < g->n_streams; i++)
        if (g->streams[i].seen)
            g->streams[n++] = g->streams[i];
    g->n_streams = n;
    if (stalled != 0 && (stalled >= conn->num_streams.pull.open + conn->num_streams.push.open ||
                         conn->state != H2O_HTTP2_CONN_STATE_OPEN)) {
        log_debug("closing an HTTP/2 connection whose %u open streams all stalled their request bodies", stalled);
        conntrack_kill(c, CT_BODY_RATE);
        return true;
    }
    if (expired != 0 && expired >= conn->num_streams.pull.send_body) {
        /* no response moves at all: the client takes nothing, the rule of
         * conntrack.c's write stall (which may not have fired yet) */
        conntrack_kill(c, CT_WRITE_STALL);
        return true;
    }
    /* pinned responses over the per-connection bound: the longest-pinned go */
    for (; pinned > H2_GUARD_MAX_PINNED_STREAMS; pinned--) {
        struct h2_guard_stream *oldest = NULL;
        for (uint32_t i = 0; i < g->n_streams; i++) {
            struct h2_guard_stream *r = &g->streams[i];
            if (r->kind == REC_PINNED && !r->reset && now - r->progress_ms >= H2_GUARD_PIN_MS &&
                (oldest == NULL || r->progress_ms < oldest->progress_ms))
                oldest = r;
        }
        if (oldest == NULL)
            break;
        oldest->reset = true;
    }
    if (conn->state != H2O_HTTP2_CONN_STATE_OPEN)
        return false; /* closing anyway; closing a stream now could free the connection and <c> */
    /* reset out of the hash walk; the connection is open, so closing a
     * stream cannot close it (and free <c>) */
    uint32_t resets = 0;
    n = 0;
    for (uint32_t i = 0; i < g->n_streams; i++) {
        struct h2_guard_stream *r = &g->streams[i];
        if (!r->reset) {
            g->streams[n++] = *r;
            continue;
        }
        h2o_http2_stream_t *stream = h2o_http2_conn_get_stream(conn, r->stream_id);
        if (stream == NULL)
            continue;
        if (r->kind == REC_BODY)
            h2o_http2_encode_rst_stream_frame(&conn->_write.buf, r->stream_id, -H2O_HTTP2_ERROR_CANCEL);
        else
            h2o_http2_encode_rst_stream_frame(&conn->_write.buf, r->stream_id, -H2O_HTTP2_ERROR_ENHANCE_YOUR_CALM);
        /* as if the client had reset it: h2o stops the generator (the
         * upstream request is abandoned) and frees the stream */
        h2o_http2_stream_reset(conn, stream);
        resets++;
    }
    g->n_streams = n;
    if (resets != 0) {
        h2o_http2_conn_request_write(conn);
        atomic_fetch_add(&stream_resets, resets);
        log_debug("reset %u HTTP/2 streams: stalled request bodies or responses pinned by flow control", resets);
    }
    return false;
}

void h2_guard_dispose(struct h2_guard *g)
{
    free(g->streams);
    g->streams = NULL;
    g->n_streams = g->cap_streams = 0;
}

uint64_t h2_guard_stream_resets(void)
{
    return atomic_load(&stream_resets);
}
