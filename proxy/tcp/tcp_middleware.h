/*
 * TCP middlewares (Traefik's tcp.middlewares): ipAllowList (ipWhiteList,
 * its v2 name) and inFlightConn, run once per connection before a backend
 * is chosen or connected, so a refused connection is closed before any of
 * its bytes reaches a backend.
 *
 * Compiled per router into the table's arena (Traefik builds a TCP
 * middleware per router, so each router has its own inFlightConn count).
 * inFlightConn's counters (middleware/inflight_table.h, keyed by client
 * address) are reference counted: a connection may outlive its table, and
 * releases its hold when it closes.
 */
#ifndef GANTRY_TCP_MIDDLEWARE_H
#define GANTRY_TCP_MIDDLEWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/arena.h"
#include "../../common/diag.h"

struct conntrack_conn;
struct tcp_middleware;

/* Compiles one TCP middleware from its flattened options. NULL with <d>
 * filled when the type is unknown or a value is refused. Watcher thread. */
struct tcp_middleware *tcp_middleware_build(struct arena *a, const char *name, const char *type, const char *const *keys,
                                            const char *const *values, size_t n, struct diag *d);

/* Worker thread: whether a new connection from <ip16> (::ffff:-mapped for
 * IPv4) may go through <mws>; the holds it takes are released when <ct>
 * closes. <why> says which middleware refused. */
bool tcp_middleware_admit(struct tcp_middleware *const *mws, uint32_t n, struct conntrack_conn *ct, const uint8_t ip16[16],
                          const char **why);

/* Connections refused by TCP middlewares since start (any thread). */
uint64_t tcp_middleware_refused(void);

#endif
