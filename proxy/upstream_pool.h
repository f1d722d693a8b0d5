/*
 * Upstream connections of one worker: opening them (TCP, then TLS), the
 * idle pool, and what becomes of a connection whose request went away.
 *
 * A client that gives up (an HTTP/2 stream reset, a closed connection)
 * must not cost an upstream connection, or a flood of HEADERS+RST_STREAM
 * pairs churns through thousands of them (CVE-2023-44487). So a
 * connection being opened is finished and pooled (and handed to the next
 * request that wants one to the same server), and a response nobody
 * waits for is read to its end (within a budget) before the connection
 * goes back to the pool.
 *
 * The socket's data is always the struct upstream_conn; its owner is the
 * request using it, or NULL.
 */
#ifndef GANTRY_UPSTREAM_POOL_H
#define GANTRY_UPSTREAM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#include "../common/buf.h"
#include "h1_body.h"
#include "registry.h"
#include "worker.h"

enum upstream_conn_state { CONN_IDLE, CONN_CONNECTING, CONN_BUSY, CONN_DRAINING };

struct upstream_conn;
/* A connection being opened for <owner> is ready (err NULL) or failed. */
typedef void (*upstream_ready_cb)(struct upstream_conn *c, const char *err, bool timed_out);

struct upstream_conn {
    h2o_socket_t *sock;
    struct server *srv;
    struct worker *w;
    enum upstream_conn_state state;
    void *owner;             /* the request using it; NULL when idle or orphaned */
    upstream_ready_cb ready;
    h2o_linklist_t link;     /* idle: server's idle list; orphaned: server's orphan list */
    h2o_linklist_t wlink;    /* worker's list of all idle, or of all orphaned, connections */
    h2o_timeout_entry_t timer; /* idle expiry, connect deadline or drain deadline */
    uint32_t requests;
    uint32_t addr_gen;       /* the server's address generation it was opened to */
    bool writing;            /* a request write has not completed */
    bool offer_h2;           /* https: ALPN offers h2 (a proxied request's connection, not a WebSocket's) */
    bool writing_body;       /* ... and it points into the request's memory */
    bool body_unfinished;    /* a streamed request body is not all written: never reused */
    struct buf head;         /* the request head being written: ours, so it may outlive the request */
    /* draining a response nobody waits for */
    bool drain_head;         /* the response head has not been read */
    bool drain_is_head;      /* it answers a HEAD request */
    size_t drained;
    struct h1_body body;
};

void upstream_pool_init(struct worker *w);

/* Writes more of a streamed request body (<bufs> live until <cb>). */
void upstream_pool_write_body(struct upstream_conn *c, h2o_iovec_t *bufs, size_t n, h2o_socket_cb cb);

/* An idle connection to <s>, or NULL. */
struct upstream_conn *upstream_pool_take(struct worker *w, struct server *s);
/* A connection to <s> for <owner>: one being opened that nobody owns any
 * more, or a new one. <ready> runs once it is usable or has failed (the
 * owner then releases it). NULL: no socket (errno). */
struct upstream_conn *upstream_pool_connect(struct worker *w, struct server *s, void *owner, upstream_ready_cb ready);
/* The same, offering h2 by ALPN to an https server when <offer_h2> (the
 * owner then checks what the server chose: h2u_alpn_is_h2). */
struct upstream_conn *upstream_pool_connect_alpn(struct worker *w, struct server *s, void *owner, upstream_ready_cb ready,
                                                 bool offer_h2);

/* Writes a request head (copied) and body (referenced) on <c>. */
void upstream_pool_write(struct upstream_conn *c, h2o_iovec_t head, h2o_iovec_t body, h2o_socket_cb cb);
/* Takes the socket out of <c> (a WebSocket tunnel) and frees <c>. */
h2o_socket_t *upstream_pool_detach_socket(struct upstream_conn *c);

/* The owner is done with <c>: back to the pool, or closed. */
void upstream_pool_release(struct upstream_conn *c, bool reusable);
/* The owner went away while using <c>. <body>: the response framing once
 * its head was read (NULL before); <is_head>: the request was a HEAD. The
 * connection is finished, drained or closed, whichever is safe. */
void upstream_pool_abandon(struct upstream_conn *c, const struct h1_body *body, bool is_head);
/* An owner's write on <c> completed; call first in the write callback.
 * True when the owner is gone and the pool took care of it. */
bool upstream_pool_write_done(struct upstream_conn *c, const char *err);

/* Closes this worker's idle and orphaned connections to <s>, or all. */
void upstream_close_idle(struct worker *w, struct server *s);

#endif
