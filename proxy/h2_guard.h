/*
 * HTTP/2 abuse guard of Gantry's HTTP/2 server (h2_conn.c): frames that
 * carry no progress, request bodies that stall, responses pinned by a
 * flow-control window the client never opens.
 *
 * The server shows the guard every byte it reads before nghttp2 parses
 * it; the guard follows frame boundaries itself (a scanner, a few bytes
 * of state), classifies each frame once and counts it against a
 * per-second budget. Stream state is swept once a second by
 * conntrack.c.
 */
#ifndef GANTRY_H2_GUARD_H
#define GANTRY_H2_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Frames that make no progress (see h2_guard_frame_is_idle) a connection
 * may send per second before it is sent GOAWAY(ENHANCE_YOUR_CALM) and cut.
 * Browsers send a handful at the start of a connection and a few
 * WINDOW_UPDATEs and PINGs after; 1,000 frames cost well under 1 ms.
 * Each request the connection opens in that second adds to it (a gRPC
 * client sends a PING and a WINDOW_UPDATE or two per call). */
#define H2_GUARD_IDLE_FRAMES_PER_S 1000
#define H2_GUARD_IDLE_FRAMES_PER_REQUEST 8
/* Short DATA frames with data but without END_STREAM (gRPC streams of
 * small messages, a 1-byte trickle) cost a tenth of an idle frame. */
#define H2_GUARD_SMALL_DATA_PER_IDLE 10
/* DATA frames shorter than this (padding included) without END_STREAM, and
 * WINDOW_UPDATEs smaller than H2_GUARD_MIN_WINDOW_UPDATE, are not progress. */
#define H2_GUARD_MIN_DATA 128
#define H2_GUARD_MIN_WINDOW_UPDATE 1024

/* Responses waiting for the client's flow-control window, with no byte
 * sent for H2_GUARD_PIN_MS, that one connection may hold; the
 * longest-waiting of the others are reset (ENHANCE_YOUR_CALM). Each holds
 * its upstream buffers (see docs/security.md for what that costs). */
#define H2_GUARD_MAX_PINNED_STREAMS 8
#define H2_GUARD_PIN_MS 2000

/* What frames a read completed. */
struct h2_frame_counts {
    uint32_t idle;     /* no progress, short DATA with data excluded */
    uint32_t small;    /* short DATA frames with data, without END_STREAM */
    uint32_t requests; /* HEADERS with a header block (requests, trailers) */
};

/* Follows the frames of a client's byte stream across reads, so that
 * every frame is classified once, including those nghttp2 ignores without
 * a callback (DATA on a stream it already closed, for one). */
struct h2_frame_scanner {
    uint8_t preface_left; /* client preface bytes still to skip */
    uint8_t hd_have;      /* header bytes of the current frame seen */
    uint8_t hd[9];
    uint8_t wu_have;      /* WINDOW_UPDATE: payload bytes kept */
    uint8_t wu[4];
    uint32_t payload_left;
};

/* A scanner at the start of a client's HTTP/2 byte stream (its preface). */
void h2_frame_scanner_init(struct h2_frame_scanner *s);
/* Follows <n> more bytes; adds the frames they complete to <out>. */
void h2_frame_scanner_feed(struct h2_frame_scanner *s, const uint8_t *p, size_t n, struct h2_frame_counts *out);

struct h2s_conn;

struct h2_guard {
    struct h2s_conn *conn;   /* the HTTP/2 connection on this socket, or NULL */
    uint32_t idle_frames;    /* in the current second (short DATA counted in tenths: see count) */
    uint32_t requests;       /* opened in the current second */
    int64_t second_start_ms;
};

enum h2_frame_type { H2F_DATA, H2F_HEADERS, H2F_PRIORITY, H2F_RST_STREAM, H2F_SETTINGS, H2F_PUSH_PROMISE, H2F_PING, H2F_GOAWAY,
                     H2F_WINDOW_UPDATE, H2F_CONTINUATION };

/* A frame that carries no progress, by its header (<len>: payload length)
 * and, for WINDOW_UPDATE, its increment. Pure, for tests. */
bool h2_guard_frame_is_idle(uint8_t type, uint8_t flags, size_t len, uint32_t window_increment);


struct conntrack_conn;
/* <conn> now serves the connection <c> tracks. */
void h2_guard_attach(struct conntrack_conn *c, struct h2s_conn *conn);
/* Counts what a read brought; false when the connection went over its
 * budget (the caller sends GOAWAY(ENHANCE_YOUR_CALM) and closes). */
bool h2_guard_count(struct conntrack_conn *c, const struct h2_frame_counts *n);
/* Sweep (once a second) of an HTTP/2 connection:
 *   - streams whose request body stalls longer than bodyRateWindow or
 *     averages less than bodyMinRate are reset (CANCEL); a connection with
 *     only such streams is cut;
 *   - responses held by a flow-control window that the client does not
 *     open: above H2_GUARD_MAX_PINNED_STREAMS, and any held for
 *     writeTimeout, are reset (ENHANCE_YOUR_CALM).
 * True when the connection was cut. */
bool h2_guard_sweep(struct conntrack_conn *c, int64_t now_ms);

#endif
