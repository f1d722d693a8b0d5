/*
 * HTTP/2 abuse guard for libh2o 2.2.5's HTTP/2 server (to be replaced with
 * the server itself): frames that carry no progress, and request bodies
 * that stall.
 *
 * libh2o parses HTTP/2 frames inside its own read callback and has no hook
 * per frame, and it buffers a request body before any handler sees the
 * request. So the guard:
 *   - wraps the read callback of every tracked client socket (it interposes
 *     h2o_socket_read_start, which libh2o calls through its PLT), and looks
 *     at the frame headers that a read completed, before h2o parses them;
 *   - learns which sockets carry h2o's HTTP/2 connection by interposing
 *     h2o_http2_accept, so the sweep can look at that connection's streams
 *     and their buffered bodies (struct in <h2o/http2_internal.h>).
 *
 * The frame scan needs no state of its own: h2o consumes input whole frames
 * at a time, so at every read callback the input buffer starts at a frame
 * boundary (or with the client preface), and the bytes the read appended
 * are the last sock->bytes_read of it. A frame is classified in the read
 * that brings its last byte, hence exactly once, with its payload at hand.
 */
#ifndef GANTRY_H2_GUARD_H
#define GANTRY_H2_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

/* Frames that make no progress (see h2_guard_frame_is_idle) a connection
 * may send per second before it is sent GOAWAY(ENHANCE_YOUR_CALM) and cut.
 * Browsers send a handful at the start of a connection and a few
 * WINDOW_UPDATEs and PINGs after; 1,000 h2o frames cost well under 1 ms. */
#define H2_GUARD_IDLE_FRAMES_PER_S 1000
/* DATA frames shorter than this (padding included) without END_STREAM, and
 * WINDOW_UPDATEs smaller than H2_GUARD_MIN_WINDOW_UPDATE, count as idle. */
#define H2_GUARD_MIN_DATA 128
#define H2_GUARD_MIN_WINDOW_UPDATE 1024

/* Responses waiting for the client's flow-control window, with no byte
 * sent for H2_GUARD_PIN_MS, that one connection may hold; the
 * longest-waiting of the others are reset (ENHANCE_YOUR_CALM). Each holds
 * its upstream buffers (see docs/security.md for what that costs). */
#define H2_GUARD_MAX_PINNED_STREAMS 8
#define H2_GUARD_PIN_MS 2000

struct h2_guard_stream; /* a stream receiving a body or pinned by flow control, as of the last sweep */

struct h2_guard {
    h2o_socket_cb inner;     /* the read callback h2o (or Gantry) asked for */
    void *h2conn;            /* h2o_http2_conn_t once h2o_http2_accept took the socket */
    bool accepting;          /* inside h2o_http2_accept, before it starts reading */
    uint32_t idle_frames;    /* in the current second */
    int64_t second_start_ms;
    struct h2_guard_stream *streams;
    uint32_t n_streams, cap_streams;
};

/* What a scan of the input found. */
struct h2_scan {
    uint32_t frames; /* completed by the new bytes */
    uint32_t idle;   /* of which carry no progress */
};

/* Classifies the frames of <buf> (<size> bytes, starting at a frame
 * boundary or with the client connection preface) whose last byte lies at
 * or after <old_size>. Pure, for tests. */
void h2_guard_scan(const uint8_t *buf, size_t size, size_t old_size, struct h2_scan *out);
/* A complete frame (9-byte header + payload) that carries no progress. */
int h2_guard_frame_is_idle(const uint8_t *frame, size_t len);

struct conntrack_conn;
/* Sweep (once a second) of an HTTP/2 connection:
 *   - streams whose request body stalls longer than bodyRateWindow or
 *     averages less than bodyMinRate are reset (CANCEL); a connection with
 *     only such streams is cut;
 *   - responses held by a flow-control window that the client does not
 *     open: above H2_GUARD_MAX_PINNED_STREAMS, and any held for
 *     writeTimeout, are reset (ENHANCE_YOUR_CALM).
 * True when the connection was cut. */
bool h2_guard_sweep(struct conntrack_conn *c, int64_t now_ms);
/* Streams reset by the sweep since start (any thread). */
uint64_t h2_guard_stream_resets(void);
/* The connection's tracker goes away. */
void h2_guard_dispose(struct h2_guard *g);
/* True when h2o's functions are interposed (checked at startup and in tests). */
bool h2_guard_active(void);

#endif
