/*
 * HTTP/2 abuse guard (see h2_guard.h).
 */
#include "h2_guard.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "conntrack.h"
#include "h2_internal.h"
#include "worker.h"

static _Atomic uint64_t stream_resets;

bool h2_guard_frame_is_idle(uint8_t type, uint8_t flags, size_t len, uint32_t window_increment)
{
    switch (type) {
    case H2F_DATA: /* padding is counted as payload: it costs the sender bandwidth like data */
        return !(flags & 0x1) && len < H2_GUARD_MIN_DATA;
    case H2F_HEADERS: /* an empty header block opens nothing */
        return len == 0;
    case H2F_CONTINUATION:
        return len < H2_GUARD_MIN_DATA;
    case H2F_RST_STREAM:
        /* resets of open streams are counted by the Rapid Reset rule
         * (maxResetStreams); counting them here too would cut such floods
         * under the wrong name first */
        return false;
    case H2F_WINDOW_UPDATE:
        return len != 4 || window_increment < H2_GUARD_MIN_WINDOW_UPDATE;
    default: /* PRIORITY, SETTINGS, PING, GOAWAY, PUSH_PROMISE (an error from a client), unknown types */
        return true;
    }
}

#define PREFACE_LEN 24

void h2_frame_scanner_init(struct h2_frame_scanner *s)
{
    *s = (struct h2_frame_scanner){.preface_left = PREFACE_LEN};
}

static uint32_t get24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

void h2_frame_scanner_feed(struct h2_frame_scanner *s, const uint8_t *p, size_t n, struct h2_frame_counts *out)
{
    size_t skip = s->preface_left < n ? s->preface_left : n;
    s->preface_left -= (uint8_t)skip;
    p += skip, n -= skip;
    while (n != 0) {
        if (s->hd_have < 9) { /* the frame header, perhaps over several reads */
            size_t want = 9u - s->hd_have, take = want < n ? want : n;
            memcpy(s->hd + s->hd_have, p, take);
            s->hd_have += (uint8_t)take;
            p += take, n -= take;
            if (s->hd_have < 9)
                break;
            s->payload_left = get24(s->hd);
            s->wu_have = 0;
        }
        size_t take = s->payload_left < n ? s->payload_left : n;
        if (s->hd[3] == H2F_WINDOW_UPDATE) { /* its increment decides */
            for (size_t i = 0; i < take && s->wu_have < 4; i++)
                s->wu[s->wu_have++] = p[i];
        }
        s->payload_left -= (uint32_t)take;
        p += take, n -= take;
        if (s->payload_left != 0)
            break;
        uint32_t len = get24(s->hd), incr = 0;
        if (s->hd[3] == H2F_WINDOW_UPDATE && s->wu_have == 4)
            incr = ((uint32_t)s->wu[0] << 24 | (uint32_t)s->wu[1] << 16 | (uint32_t)s->wu[2] << 8 | s->wu[3]) & 0x7fffffff;
        uint8_t type = s->hd[3], flags = s->hd[4];
        if (type == H2F_DATA && len != 0 && h2_guard_frame_is_idle(type, flags, len, incr))
            out->small++;
        else if (h2_guard_frame_is_idle(type, flags, len, incr))
            out->idle++;
        else if (type == H2F_HEADERS)
            out->requests++;
        s->hd_have = 0;
    }
}

void h2_guard_attach(struct conntrack_conn *c, struct h2s_conn *conn)
{
    c->guard.conn = conn;
    c->h2 = true;
}

bool h2_guard_count(struct conntrack_conn *c, const struct h2_frame_counts *n)
{
    int64_t now = worker_now_ms(c->we->w);
    if (now - c->guard.second_start_ms >= 1000) {
        c->guard.second_start_ms = now;
        c->guard.idle_frames = 0;
        c->guard.requests = 0;
    }
    c->guard.idle_frames += n->idle * H2_GUARD_SMALL_DATA_PER_IDLE + n->small;
    c->guard.requests += n->requests;
    uint64_t budget = ((uint64_t)H2_GUARD_IDLE_FRAMES_PER_S + (uint64_t)c->guard.requests * H2_GUARD_IDLE_FRAMES_PER_REQUEST) *
                      H2_GUARD_SMALL_DATA_PER_IDLE;
    if (c->guard.idle_frames <= budget)
        return true;
    if (conntrack_doom(c, CT_H2_FLOOD))
        log_warn("closing an HTTP/2 connection: %u frames without progress within a second (flood?)",
                 c->guard.idle_frames / H2_GUARD_SMALL_DATA_PER_IDLE);
    return false;
}

/* ---- stalled request bodies, pinned responses ---- */

/* A stream receiving a body that its consumer takes: true when the client
 * stalled longer than the window or averages less than the minimum rate
 * (the HTTP/1 rule, per stream). A body the consumer holds back (its
 * window closed by us) is not the client's doing. */
static bool body_stalled(const struct entrypoint_config *cfg, struct h2s_stream *s, int64_t now)
{
    if (s->unconsumed >= 64 * 1024)
        return false;
    int64_t elapsed = now - s->body_since_ms;
    if (elapsed < (int64_t)cfg->body_rate_window_ms)
        return false;
    return now - s->body_progress_ms > (int64_t)cfg->body_rate_window_ms ||
           (s->body.received - s->body_start) * 1000 < cfg->body_min_rate * (uint64_t)elapsed;
}

/* Response data waits for the client's flow-control window. */
static bool pinned(struct h2s_conn *conn, struct h2s_stream *s)
{
    return s->res_submitted && s->bufcnt != 0 &&
           (nghttp2_session_get_remote_window_size(conn->ng) <= 0 ||
            nghttp2_session_get_stream_remote_window_size(conn->ng, s->id) <= 0);
}

bool h2_guard_sweep(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    struct h2s_conn *conn = c->guard.conn;
    if (conn->closed)
        return false;
    uint32_t stalled = 0, receiving = 0, n_pinned = 0, expired = 0, sending = 0;
    for (h2o_linklist_t *n = conn->streams.next; n != &conn->streams; n = n->next) {
        struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, link, n);
        s->guard_reset = 0;
        if (s->body.buf != NULL && !s->body.done && !s->body.failed) {
            receiving++;
            if (cfg->body_min_rate && body_stalled(cfg, s, now)) {
                s->guard_reset = NGHTTP2_CANCEL;
                stalled++;
            }
        }
        if (s->res_submitted && !s->closed)
            sending++;
        if (!pinned(conn, s)) {
            s->pinned_since_ms = -1;
            continue;
        }
        if (s->pinned_since_ms < 0 || s->req.bytes_sent != s->pinned_bytes) {
            s->pinned_since_ms = now;
            s->pinned_bytes = s->req.bytes_sent;
        }
        if (now - s->pinned_since_ms >= H2_GUARD_PIN_MS) {
            n_pinned++;
            /* one moving stream keeps the connection's writes going, so
             * writeTimeout is applied per stream too */
            if (cfg->write_timeout_ms && now - s->pinned_since_ms > (int64_t)cfg->write_timeout_ms) {
                s->guard_reset = NGHTTP2_ENHANCE_YOUR_CALM;
                expired++;
            }
        }
    }
    if (stalled != 0 && stalled >= conn->n_streams) {
        log_debug("closing an HTTP/2 connection whose %u open streams all stalled their request bodies", stalled);
        conntrack_kill(c, CT_BODY_RATE);
        return true;
    }
    if (expired != 0 && expired >= sending) {
        /* no response moves at all: the client takes nothing, the rule of
         * conntrack.c's write stall (which may not have fired yet) */
        conntrack_kill(c, CT_WRITE_STALL);
        return true;
    }
    /* pinned responses over the per-connection bound: the longest-pinned go */
    for (; n_pinned > H2_GUARD_MAX_PINNED_STREAMS; n_pinned--) {
        struct h2s_stream *oldest = NULL;
        for (h2o_linklist_t *n = conn->streams.next; n != &conn->streams; n = n->next) {
            struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, link, n);
            if (s->pinned_since_ms >= 0 && s->guard_reset == 0 && now - s->pinned_since_ms >= H2_GUARD_PIN_MS &&
                (oldest == NULL || s->pinned_since_ms < oldest->pinned_since_ms))
                oldest = s;
        }
        if (oldest == NULL)
            break;
        oldest->guard_reset = NGHTTP2_ENHANCE_YOUR_CALM;
    }
    uint32_t resets = 0;
    for (h2o_linklist_t *n = conn->streams.next; n != &conn->streams; n = n->next) {
        struct h2s_stream *s = H2O_STRUCT_FROM_MEMBER(struct h2s_stream, link, n);
        if (s->guard_reset == 0)
            continue;
        /* nghttp2 closes the stream when the RST_STREAM is sent: the
         * request is then disposed as if the client had reset it */
        nghttp2_submit_rst_stream(conn->ng, NGHTTP2_FLAG_NONE, s->id, s->guard_reset);
        resets++;
    }
    (void)receiving;
    if (resets != 0) {
        atomic_fetch_add(&stream_resets, resets);
        log_debug("reset %u HTTP/2 streams: stalled request bodies or responses pinned by flow control", resets);
        h2s_conn_request_flush(conn);
    }
    return false;
}
