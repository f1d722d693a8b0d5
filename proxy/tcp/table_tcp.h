/*
 * TCP routes of the routing table (Traefik's tcp.routers/tcp.services):
 * chosen once per connection from the ClientHello's server name, so a
 * priority-ordered list is enough (there is no per-request lookup).
 * Lives in the table's arena and is as immutable as the rest of it.
 */
#ifndef GANTRY_TABLE_TCP_H
#define GANTRY_TABLE_TCP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../table.h"

struct tcp_middleware;
struct transport;

enum table_tcp_mode {
    TCP_PLAIN,       /* no tls section: bytes forwarded as they come (HostSNI(`*`) only) */
    TCP_PASSTHROUGH, /* tls.passthrough: the encrypted stream goes to the backend untouched */
    TCP_TERMINATE,   /* tls without passthrough: TLS ends here, plain TCP to the backend */
};

struct server;

struct table_tcp_server {
    const char *address; /* host:port as configured */
    struct server *srv;  /* a registry reference ("tcp://host:port"); NULL when it could not be built */
    bool tls;            /* tls: true: a client TLS handshake with the service's tls transport before the relay */
};

struct table_tcp_service {
    const char *name; /* name@provider */
    struct table_tcp_server *servers;
    uint32_t n_servers;
    uint32_t *rr; /* worker w's round-robin position at rr[w * 16] (a cache line each) */
    uint64_t dial_ms; /* its transport's dialTimeout; 0: the global one; TCP_DIAL_NO_TIMEOUT: none */
    int64_t keep_alive_ms; /* dialKeepAlive: TCP keep-alive probes this often; <= 0: the socket's default (off) */
    uint8_t proxy_protocol; /* PROXY protocol version sent first to its servers (1, 2); 0: none */
    /* terminationDelay: once one side has ended its stream, how long the
     * other direction may still flow before both are closed; < 0: no limit */
    int64_t termination_delay_ms;
    /* How its tls servers are dialed (CA, client certificate, verification,
     * serverName): a transport_acquire reference the table owns (released
     * with it); NULL when none of its servers has tls */
    struct transport *tls;
    /* A weighted service (n_children > 0, no servers): each connection goes
     * to one child, picked by smooth WRR (tcp_balancer.h); worker w owns the
     * n_children counters at wrr + w * wrr_stride, on cache lines of its own. */
    struct table_tcp_service **children;
    int32_t *child_weights;
    uint32_t n_children;
    int64_t *wrr; /* 64-bit: a sum of up to n_children weights of 10^6 */
    uint32_t wrr_stride;
};

struct table_tcp_route {
    const char *name; /* name@provider */
    const char *rule_text;
    const struct rule_node *rule;
    int64_t priority;
    uint64_t entrypoints;
    enum table_tcp_mode mode;
    struct table_tcp_service *service;
    struct tcp_middleware **middlewares; /* run on each connection before the backend (tcp_middleware.h) */
    uint32_t n_middlewares;
};

struct table_tcp {
    struct ptr_vec build_routes, services;
    struct table_tcp_route **routes; /* priority desc, name asc */
    uint32_t n_routes;
    uint64_t eps;       /* entry points with a TCP route */
    uint64_t eps_hello; /* entry points with a route that needs the ClientHello (tls) */
};

#define TCP_TERMINATION_DELAY_DEFAULT_MS 100 /* Traefik's default */
#define TCP_DIAL_DEFAULT_MS 30000                /* Traefik's tcpServersTransport / serversTransports dialTimeout */
#define TCP_DIAL_NO_TIMEOUT UINT64_MAX           /* dialTimeout: 0 (Go's dialer: no timeout) */
#define TCP_KEEP_ALIVE_DEFAULT_MS 15000          /* dialKeepAlive unset or 0, as Go's dialer */

struct table_tcp_service *table_tcp_add_service(struct table *t, const char *name, uint32_t n_servers);
/* The same, not listed among the table's TCP services (UDP's are shaped alike: table_udp.c). */
struct table_tcp_service *table_tcp_service_new(struct table *t, const char *name, uint32_t n_servers);
/* Makes <s> (no servers) weighted over <n_children> slots. */
void table_tcp_service_weighted(struct table *t, struct table_tcp_service *s, uint32_t n_children);
/* A weighted service over <n_children> (>= 1) slots: fill children[i] and
 * child_weights[i]. */
struct table_tcp_service *table_tcp_add_weighted(struct table *t, const char *name, uint32_t n_children);
/* <address> (host:port, [v6]:port): a registry server, whose name is
 * resolved off the watcher thread (unavailable until it is). */
int table_tcp_set_server(struct table *t, struct table_tcp_service *s, uint32_t i, const char *address, struct diag *d) WARN_UNUSED;
struct table_tcp_service *table_tcp_find_service(const struct table *t, const char *name);
/* Drops the table's references on its TCP servers (table_free). */
void table_tcp_release(struct table *t);
struct table_tcp_route *table_tcp_add_route(struct table *t, const char *name, const char *rule_text,
                                            const struct rule_node *rule, int64_t priority, uint64_t entrypoints,
                                            enum table_tcp_mode mode, struct table_tcp_service *svc);
/* Called by table_finish. */
void table_tcp_finish(struct table *t);

/* Worker threads. The first route on <ep> matching a connection: <tls>
 * whether it began with a TLS ClientHello, <sni> its server name (empty:
 * none or not TLS), <ip16> the client address (::ffff:-mapped for IPv4). */
const struct table_tcp_route *table_tcp_lookup(const struct table *t, uint32_t ep, bool tls, const char *sni,
                                               size_t sni_len, const uint8_t *ip16);

/* Whether a rule can only match with a server name, which a plain
 * connection does not have (it names a host other than `*`). */
bool table_tcp_rule_needs_sni(const struct rule_node *n);

#endif
