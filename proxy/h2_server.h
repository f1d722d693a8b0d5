/*
 * Gantry's HTTP/2 server, on libnghttp2 (framing, HPACK, flow control) and
 * h2o's sockets and event loop. It replaces libh2o 2.2.5's HTTP/2 server,
 * which drops response trailers, folds request trailers into the headers
 * and buffers every request body before a handler runs.
 *
 * Each stream becomes an h2o_req_t on a connection type of Gantry's own
 * (h2_conn.c), so routing, middlewares, mirroring, the access log and the
 * upstream clients see an HTTP/2 request exactly as an HTTP/1.1 one. What
 * h2o_req_t cannot carry (trailers, a body still arriving) goes through
 * req_stream.h.
 */
#ifndef GANTRY_H2_SERVER_H
#define GANTRY_H2_SERVER_H

#include <stdbool.h>

#include <h2o.h>

#define H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define H2_PREFACE_LEN 24

struct worker_ep;
struct conntrack_conn;

/* At startup, before workers run. */
void h2_server_init(void);

/* Worker thread: <sock> speaks HTTP/2 from now on (ALPN h2 after a TLS
 * handshake, or the client preface in cleartext); the bytes already in
 * sock->input are its first. */
void h2_server_accept(struct worker_ep *we, struct conntrack_conn *ct, h2o_socket_t *sock);

/* Worker thread: an HTTP/1.1 request asking "Upgrade: h2c" (RFC 7540 3.2)
 * with a complete body. Answers 101 and carries on as HTTP/2, the request
 * becoming stream 1. False when it cannot be upgraded (the caller serves
 * it over HTTP/1.1). */
bool h2_server_upgrade(h2o_req_t *req, struct worker_ep *we);

/* Worker thread: graceful shutdown of every HTTP/2 connection on <we>:
 * GOAWAY, running streams finish, idle connections close. */
void h2_server_shutdown(struct worker_ep *we);

#endif
