/*
 * HTTP/1.1 request bodies streamed to the upstream as they arrive
 * (req_stream.h for libh2o's HTTP/1 connections).
 *
 * h1_framing.c finds the body: when a request head announces one that
 * is not complete in the bytes read so far, it shows h2o the head with
 * "Content-Length: 0" (h2o runs the handler at once), keeps the body
 * bytes (de-chunked, trailers kept) from h2o and hands them here. This
 * file binds them to the request when its handler starts, serves the
 * req_stream.h operations, applies back-pressure (the connection stops
 * reading while more than H1_STREAM_BUFFER bytes wait) and makes a
 * response that starts before the body is in close the connection,
 * unless little is left (then the rest is read and dropped).
 */
#ifndef GANTRY_H1_STREAM_H
#define GANTRY_H1_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "req_stream.h"

#define H1_STREAM_BUFFER (256 * 1024)      /* received, not yet written upstream: above it the client waits */
#define H1_STREAM_DRAIN_MAX (64 * 1024)    /* an early response keeps the connection when at most this is left */
#define H1_STREAM_TRAILER_MAX 4096         /* as H1_FRAMING_TRAILER_MAX */

struct h1_framing_conn;

struct h1_stream {
    struct h1_framing_conn *owner;
    bool active;       /* a body streams: from its head until its request is done */
    uint32_t head;     /* the request head it belongs to (h1_framing_parser.heads) */
    uint32_t requests; /* HTTP/1 requests started on the connection */
    h2o_req_t *req;    /* its request, once that started */
    struct req_body_stream body;
    uint64_t max;      /* maxBodySize */
    uint64_t consumed; /* written upstream (req_stream_body_consumed) */
    bool streaming;    /* handed to a consumer (req_stream_body) */
    bool paused;       /* the connection stopped reading for it */
    void (*wait_cb)(h2o_req_t *req, void *ctx); /* req_stream_wait_body */
    void *wait_ctx;
    void (*start_cb)(h2o_req_t *req, void *ctx); /* req_stream_wait_start */
    void *start_ctx;
    size_t start_min;
    bool bad; /* failed: broken framing or the client went away (400, not 413) */
    char *trailer_raw; /* the raw trailer section, allocated when one comes */
    size_t trailer_len;
    int64_t rate_since_ms; /* bodyMinRate window (-1: not measuring) */
    uint64_t rate_start;
};

/* At startup: nothing (the HTTP/1 connection type registers itself with
 * req_stream.h when its first request starts). */

/* A body starts streaming (framing): <content_length> -1 when chunked. */
void h1_stream_begin(struct h1_stream *s, int64_t content_length, uint32_t head, uint64_t max);
/* Bytes of it, its trailer section (raw, byte by byte), its end. */
void h1_stream_data(struct h1_stream *s, const char *bytes, size_t len);
void h1_stream_trailer(struct h1_stream *s, char c);
void h1_stream_end(struct h1_stream *s);
/* The client went away or broke the framing before the end. True when
 * its request waits for the body (it is then answered 400); else the
 * caller cuts the connection. */
bool h1_stream_broken(struct h1_stream *s);
/* After a read added to it: tells the consumer. */
void h1_stream_changed(struct h1_stream *s);
/* True while the connection must not read for it (back-pressure, or it failed). */
bool h1_stream_hold_reading(const struct h1_stream *s);
/* True while a body streams or is still to be read and dropped. */
bool h1_stream_busy(const struct h1_stream *s);
/* An HTTP/1 request on the connection starts (conntrack_request_start). */
void h1_stream_request(struct h1_stream *s, h2o_req_t *req);
/* bodyMinRate for a body being read (not paused): true when too slow. */
bool h1_stream_too_slow(struct h1_stream *s, int64_t now_ms, uint64_t min_rate, int64_t window_ms);
/* The connection closed. */
void h1_stream_dispose(struct h1_stream *s);

#endif
