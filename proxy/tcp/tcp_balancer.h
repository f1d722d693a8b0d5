/*
 * Weighted TCP services (Traefik's tcp.services.<name>.weighted): each new
 * connection goes to one child service, picked by smooth weighted round
 * robin (nginx's algorithm, as the HTTP balancer), following nested
 * weighted services down to a service of servers. Per-worker state in the
 * table: no lock, no shared cache line.
 */
#ifndef GANTRY_TCP_BALANCER_H
#define GANTRY_TCP_BALANCER_H

#include <stdint.h>

#include "table_tcp.h"

/* Nesting followed at most (the builder refuses loops; this bounds a pick). */
#define TCP_BALANCER_MAX_DEPTH 32

/* The service of servers that worker <w>'s next connection to <svc> goes
 * to: <svc> itself when it has no children. NULL when a weighted service on
 * the way has only children of weight 0 (the connection is refused, as
 * Traefik and the Gateway API's weight 0 say). A child without servers is
 * still picked for its share: that share of connections is refused, as the
 * Gateway API asks of invalid backendRefs. */
const struct table_tcp_service *tcp_balancer_pick(const struct table_tcp_service *svc, uint32_t w);

#endif
