/*
 * A bidirectional byte pump between two h2o sockets on one loop: the
 * WebSocket (and later TCP) path after the upgrade. Each direction has at
 * most one write in flight and stops reading its source meanwhile, so a
 * slow reader holds back its peer instead of growing a buffer. End of
 * stream is propagated as a half-close (shutdown(SHUT_WR)) on plain TCP;
 * TLS sockets close both sides. An idle timeout covers both directions.
 */
#ifndef GANTRY_TUNNEL_H
#define GANTRY_TUNNEL_H

#include <h2o.h>

/* Takes ownership of both sockets; bytes already in either socket's input
 * buffer are forwarded first. */
void tunnel_start(h2o_loop_t *loop, h2o_socket_t *a, h2o_socket_t *b, h2o_timeout_t *idle_timeout);

#endif
