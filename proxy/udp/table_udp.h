/*
 * UDP routes of the routing table (Traefik's udp.routers/udp.services).
 * A UDP router has no rule: it takes every datagram of its entry points,
 * so the table keeps at most one router per UDP entry point. Services
 * have the TCP services' shape (servers by address, or weighted children)
 * and reuse their struct and balancer (tcp_balancer.h), in a name space
 * of their own. Lives in the table's arena, immutable once published.
 */
#ifndef GANTRY_TABLE_UDP_H
#define GANTRY_TABLE_UDP_H

#include <stdint.h>

#include "../server.h"
#include "../table.h"
#include "../tcp/table_tcp.h"
#include "udp_stats.h"

struct table_udp_route {
    const char *name; /* name@provider */
    uint64_t name_hash; /* sessions remember their router by it across tables */
    uint64_t entrypoints; /* bit i: UDP entry point i */
    struct table_tcp_service *service;
    struct udp_stats *stats; /* its service's counters (a reference the table holds) */
};

struct table_udp {
    struct ptr_vec services; /* struct table_tcp_service * */
    struct ptr_vec routes;   /* struct table_udp_route *, in the order added */
    const struct table_udp_route *by_ep[GANTRY_MAX_ENTRYPOINTS];
};

struct table_tcp_service *table_udp_add_service(struct table *t, const char *name, uint32_t n_servers);
struct table_tcp_service *table_udp_add_weighted(struct table *t, const char *name, uint32_t n_children);
/* <address> host:port; a name is resolved off the watcher thread. */
int table_udp_set_server(struct table *t, struct table_tcp_service *s, uint32_t i, const char *address, struct diag *d) WARN_UNUSED;
struct table_tcp_service *table_udp_find_service(const struct table *t, const char *name);
/* The router serving entry point <ep> when the caller decided it; the
 * first added for an entry point is its router. */
struct table_udp_route *table_udp_add_route(struct table *t, const char *name, uint64_t entrypoints,
                                            struct table_tcp_service *svc);
/* Drops the table's references on its UDP servers and counters (table_free). */
void table_udp_release(struct table *t);

/* Worker threads: the router of UDP entry point <ep>, or NULL. */
static inline const struct table_udp_route *table_udp_route(const struct table *t, uint32_t ep)
{
    return t != NULL && t->udp != NULL && ep < GANTRY_MAX_ENTRYPOINTS ? t->udp->by_ep[ep] : NULL;
}

uint64_t table_udp_hash(const char *s);

#endif
