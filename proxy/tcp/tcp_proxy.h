/*
 * A connection routed by a TCP router: for TLS termination the handshake
 * is done here first (certificate by SNI, as for HTTP); then a backend of
 * the router's service is connected (round robin, the next one on a
 * connect failure, dialTimeout each) and the two are relayed: splice(2)
 * for passthrough and plain TCP, a userspace pump through OpenSSL for
 * terminated TLS.
 */
#ifndef GANTRY_TCP_PROXY_H
#define GANTRY_TCP_PROXY_H

#include <h2o.h>

struct worker_ep;
struct table_tcp_route;

/* Worker thread. Takes the client socket (not reading, its peeked bytes
 * still in its input buffer). The route is only read during this call. */
void tcp_proxy_start(struct worker_ep *we, h2o_socket_t *client, const struct table_tcp_route *route);

/* Connections routed by TCP routers since start, and those that found no
 * backend (any thread). */
uint64_t tcp_proxy_connections(void);
uint64_t tcp_proxy_failures(void);

#endif
