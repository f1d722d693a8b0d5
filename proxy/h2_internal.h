/*
 * The HTTP/2 server's connection and stream, shared by h2_conn.c (the
 * session and its socket), h2_stream.c (a stream as an h2o request) and
 * h2_guard.c (abuse sweeps). Worker thread only.
 */
#ifndef GANTRY_H2_INTERNAL_H
#define GANTRY_H2_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>
#include <nghttp2/nghttp2.h>

#include "h2_guard.h"
#include "req_stream.h"

struct worker_ep;
struct conntrack_conn;

#define H2S_DISCARD_MAX (64 * 1024) /* body bytes dropped after the response before the client is asked to stop */
#define H2S_DISCARD_MS 200          /* or the time it has to finish sending them */

struct h2s_conn {
    h2o_conn_t super; /* req->conn of every stream */
    h2o_socket_t *sock;
    struct worker_ep *we;
    struct conntrack_conn *ct;
    nghttp2_session *ng;
    h2o_linklist_t streams;    /* struct h2s_stream, all live ones */
    struct h2s_stream *hdr_stream; /* the stream whose header block is being decoded (saves a lookup a field) */
    h2o_linklist_t link;       /* the worker's HTTP/2 connections */
    h2o_linklist_t dispatch;   /* streams whose request is complete enough to run, in order */
    h2o_linklist_t proceed;    /* streams whose generator may send more */
    h2o_buffer_t *out;         /* frames being written */
    uint32_t n_streams;        /* live stream objects */
    uint32_t running;          /* requests handed to h2o and not finished */
    bool writing;              /* a socket write is in flight */
    bool in_session;           /* inside nghttp2 (mem_recv or mem_send) */
    bool want_flush;           /* flush again once out of it */
    bool closing;              /* close once the output is written */
    bool closed;               /* the socket is closed; freed when <busy> drops to 0 */
    bool goaway_sent;          /* graceful shutdown under way */
    bool flooded;              /* over the abuse guard's frame budget */
    struct h2_frame_scanner scanner;
    h2o_timeout_entry_t flush_entry; /* a flush asked for from outside the connection's own callbacks */
    uint32_t busy;             /* nesting of our own callbacks (a close waits for 0) */
};

struct h2s_stream {
    h2o_req_t req;
    struct h2s_conn *conn;
    int32_t id;
    h2o_ostream_t ostr_final;
    h2o_linklist_t link;          /* conn->streams */
    h2o_linklist_t dispatch_link; /* conn->dispatch */
    h2o_linklist_t proceed_link;  /* conn->proceed */
    /* request */
    size_t header_bytes;
    uint32_t header_count;
    h2o_iovec_t host;             /* a `host` field, checked against :authority */
    h2o_iovec_t protocol;         /* :protocol (RFC 8441) */
    bool bad_request;             /* answer 400: <why> */
    const char *why;
    bool dispatched;              /* handed to h2o_process_request */
    bool in_trailers;             /* the HEADERS being received are trailers */
    bool streaming;               /* the body is read through req_stream (not buffered into entity) */
    struct req_body_stream body;  /* the body as it arrives */
    uint64_t unconsumed;          /* body bytes received but not yet given back to flow control */
    void (*wait_cb)(h2o_req_t *req, void *ctx);
    void *wait_ctx;
    int64_t body_since_ms, body_progress_ms; /* abuse guard: body progress */
    uint64_t body_start;
    /* response */
    bool res_submitted;           /* HEADERS submitted */
    bool res_final;               /* the generator sent its last buffer */
    bool res_error;               /* the generator failed: reset the stream */
    bool data_deferred;           /* nghttp2 waits for data (resume_data) */
    bool proceed_pending;         /* all of the generator's buffers copied: proceed it */
    bool closed;                  /* nghttp2 closed the stream */
    bool peer_reset;              /* by the client's RST_STREAM */
    bool discarding;              /* the response ended first: the rest of the body is dropped */
    uint64_t discarded;
    h2o_timeout_entry_t discard_entry; /* then the client is asked to stop (RST_STREAM NO_ERROR) */
    h2o_iovec_t *bufs;            /* the generator's buffers not yet copied */
    size_t bufcnt;
    const h2o_headers_t *trailers;
    int64_t pinned_since_ms;      /* abuse guard: waiting for the client's window since (-1: not) */
    uint64_t pinned_bytes;
    uint32_t guard_reset;         /* abuse guard: the error code to reset with (0: none) */
};

/* h2_stream.c */
struct h2s_stream *h2s_stream_open(struct h2s_conn *conn, int32_t id);
/* Stream 1 of a connection upgraded from HTTP/1.1: the request that asked (copied). */
struct h2s_stream *h2s_stream_open_upgraded(struct h2s_conn *conn, h2o_req_t *src);
/* A header field of the request (or of its trailers); 0 or an nghttp2 error. */
int h2s_stream_on_header(struct h2s_stream *s, const uint8_t *name, size_t namelen, const uint8_t *value, size_t valuelen);
/* The request head is complete; <end_stream>: there is no body. */
void h2s_stream_on_head(struct h2s_stream *s, bool end_stream);
void h2s_stream_on_data(struct h2s_stream *s, const uint8_t *data, size_t len);
/* The body (and trailers) ended. */
void h2s_stream_on_end(struct h2s_stream *s);
/* Runs the request (outside nghttp2's callbacks). */
void h2s_stream_dispatch(struct h2s_stream *s);
/* The response ended while the request body still arrives. */
void h2s_stream_discard_rest(struct h2s_stream *s);
/* nghttp2 closed the stream (sent or reset); frees it once h2o is done. */
void h2s_stream_on_close(struct h2s_stream *s, uint32_t error_code);
/* The connection goes away: every stream is torn down. */
void h2s_stream_destroy(struct h2s_stream *s);
/* Copies <length> bytes of the response into <out> (after the frame header). */
void h2s_stream_copy_data(struct h2s_stream *s, h2o_buffer_t **out, size_t length);
/* After a flush copied all the generator's buffers. */
void h2s_stream_proceed(struct h2s_stream *s);
extern const h2o_conn_callbacks_t h2s_conn_callbacks;
void h2s_stream_register_ops(void);

/* The same, later in this loop iteration: for everyone else (a
 * generator's send, a consumer's progress, the sweep). */
void h2s_conn_request_flush(struct h2s_conn *conn);
/* Queues <s> to run after the current nghttp2 call. */
void h2s_conn_queue_dispatch(struct h2s_conn *conn, struct h2s_stream *s);
/* Gives <n> received body bytes of <s> back to flow control. */
void h2s_conn_consume(struct h2s_conn *conn, struct h2s_stream *s, size_t n);
/* The stream's response is complete while its body still arrives: stop it (RST_STREAM NO_ERROR). */
void h2s_conn_reset(struct h2s_conn *conn, int32_t id, uint32_t error_code);
int64_t h2s_conn_now_ms(struct h2s_conn *conn);

#endif
