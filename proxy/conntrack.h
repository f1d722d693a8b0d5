/*
 * Client connection tracking: the defences libh2o 2.2.5 lacks.
 *
 * Every accepted connection gets a tracker (hung on the socket's on_close,
 * which h2o leaves free for server sockets). A once-a-second sweep per
 * worker looks at each connection's read and write progress and its
 * requests, and cuts the ones that are:
 *   - sending request headers for longer than readTimeout (slowloris);
 *   - uploading a body slower than bodyMinRate over bodyRateWindow (a slow
 *     but steady upload is not an attack: it is not cut however long);
 *   - idle (no request in progress, no traffic) for longer than idleTimeout
 *     (HTTP/2 included: h2o's own timer restarts on every byte read);
 *   - not reading a pending response for longer than writeTimeout.
 * It also counts, per connection, requests reset before their response
 * (HTTP/2 Rapid Reset, CVE-2023-44487) and new HTTP/2 streams per second,
 * and enforces a global and a per-client-IP connection limit.
 *
 * A connection is cut with shutdown(2), never h2o_socket_close: h2o then
 * tears its own objects down through its normal error path.
 */
#ifndef GANTRY_CONNTRACK_H
#define GANTRY_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#include "h2_guard.h"

struct worker;
struct worker_ep;

struct h1_framing_conn;

struct conntrack_conn {
    h2o_linklist_t link;
    h2o_socket_t *sock;
    struct worker_ep *we;
    h2o_timeout_entry_t sniff_entry;
    uint8_t ip16[16];  /* the peer's address: per-address limits count it */
    uint8_t peer16[16]; /* the client's, for policy: the PROXY header's source when trusted, else ip16 */
    bool pp_done;       /* proxyProtocol: the header (or its absence) is read */
    bool ip_counted;
    /* progress: h2o's own counters are per read and per write call, so
     * the kernel's (TCP_INFO) are used */
    uint64_t acked, received;      /* as of the last look */
    uint64_t issued;               /* h2o's bytes_written: grows when h2o starts a write */
    int64_t last_ack_ms;           /* the client last took response bytes (as first noticed) */
    int64_t write_wait_ms;         /* h2o has been writing since (-1: not writing) */
    int64_t idle_since_ms;         /* no request in progress since */
    int64_t head_start_ms;         /* HTTP/1: receiving a request head since (-1: not) */
    int64_t body_since_ms, body_progress_ms; /* HTTP/1: receiving a request body since, last grew */
    size_t body_start_size, body_last_size;
    uint64_t window_received;      /* HTTP/2: bytes received when the rate window started */
    int64_t window_start_ms;
    bool moving; /* HTTP/2: traffic above the minimum rate in the last window */
    uint32_t active; /* requests in progress */
    bool h2, tunnel, doomed;
    bool shut; /* shutdown(2) done (a doomed connection may first flush a GOAWAY) */
    struct h2_guard guard;
    struct h1_framing_conn *framing; /* HTTP/1: strict framing (h1_framing.h), or NULL */
    /* abuse accounting */
    uint32_t resets, starts;
    int64_t resets_window_ms, starts_window_ms;
    /* run when the connection closes (TCP inFlightConn's holds) */
    void (*close_cb)(void *);
    void *close_data;
};

enum conntrack_reason {
    CT_HEADER_TIMEOUT,
    CT_BODY_RATE,
    CT_IDLE,
    CT_WRITE_STALL,
    CT_RAPID_RESET,
    CT_PER_IP_LIMIT,
    CT_GLOBAL_LIMIT,
    CT_HELLO_TIMEOUT, /* no first bytes, or no complete TLS ClientHello, within readTimeout */
    CT_BAD_HELLO,     /* a malformed or oversized ClientHello where TCP routers needed it */
    CT_H2_FLOOD,      /* HTTP/2 frames without progress over the budget (h2_guard.c) */
    CT_REASONS
};

/* Process-wide limits (0: none); call before workers start. */
void conntrack_set_limits(uint64_t max_connections, uint32_t max_per_ip);

/* Worker thread: a new connection on <we>. NULL when it must be refused
 * (the caller closes <sock>); the listener may have been paused. */
struct conntrack_conn *conntrack_accept(struct worker_ep *we, h2o_socket_t *sock);
/* The tracker of the connection a request arrived on. */
struct conntrack_conn *conntrack_of(h2o_req_t *req);

/* A request starts; false when an HTTP/2 connection opens streams faster
 * than maxRequestsPerSecond (the request gets a 429, nothing upstream). */
bool conntrack_request_start(struct conntrack_conn *c, h2o_req_t *req);
/* A request ends; <aborted>: the client gave up before any response. */
void conntrack_request_end(struct conntrack_conn *c, bool aborted);
/* An HTTP/2 stream reset by the client before its request ran. */
void conntrack_request_reset(struct conntrack_conn *c);
/* The connection now carries a WebSocket tunnel: its own timeout rules. */
void conntrack_tunnel(struct conntrack_conn *c);

/* Worker thread: <cb>(<data>) runs when <c>'s connection closes (one
 * callback per connection). */
void conntrack_on_close(struct conntrack_conn *c, void (*cb)(void *), void *data);

/* The tracker of a client socket (also after a WebSocket upgrade). */
struct conntrack_conn *conntrack_of_socket(h2o_socket_t *sock);
/* The first bytes of a connection arrived: notes HTTP/2 prior knowledge. */
void conntrack_sniffed(struct conntrack_conn *c);
/* A response has waited for the client to take it: true when the client
 * took no bytes for writeTimeout (the caller then cuts the connection). */
bool conntrack_write_stalled(struct conntrack_conn *c);

/* Counts a connection the caller closes itself under <reason>. */
void conntrack_count(enum conntrack_reason reason);
/* Cuts a connection (shutdown(2)); counted under <reason>. */
void conntrack_kill(struct conntrack_conn *c, enum conntrack_reason reason);
/* Counts and marks a connection its owner closes through h2o; false when
 * it was already doomed. The sweep shuts it down if it is still open. */
bool conntrack_doom(struct conntrack_conn *c, enum conntrack_reason reason);

/* Worker thread, once a second: apply the timeout rules; resume paused
 * listeners when below the global limit again. */
void conntrack_sweep(struct worker *w);

/* Connections cut for <reason> since start (any thread). */
uint64_t conntrack_closed(enum conntrack_reason reason);
const char *conntrack_reason_name(enum conntrack_reason reason);
/* Connections open now, all entry points (any thread). */
uint64_t conntrack_open(void);

#endif
