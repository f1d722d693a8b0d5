/*
 * UDP entry points and their sessions (Traefik's UDP routing): datagrams
 * from one client address form a session with a connected socket to one
 * server of the entry point's router, relayed both ways on the worker's
 * h2o loop, and ended after the entry point's udp.timeout without traffic.
 */
#ifndef GANTRY_UDP_PROXY_H
#define GANTRY_UDP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "../../common/diag.h"
#include "../server.h"

/* Sessions one worker keeps at most; a new client beyond it is dropped
 * (counted), the existing sessions go on. */
#define UDP_MAX_SESSIONS_PER_WORKER 65536
/* Largest datagram relayed (the UDP maximum). */
#define UDP_MAX_DATAGRAM 65535

/* Main thread (server_bind): one socket per worker and entry point. */
int udp_bind(const struct udp_entrypoint_config *eps, size_t n, uint32_t n_workers, struct diag *d) WARN_UNUSED;
size_t udp_entrypoint_count(void);
const char *udp_entrypoint_name(size_t i);
int udp_entrypoint_port(size_t i);
/* Entry point <i>'s configuration (its address without "/udp"), for the API. */
const struct udp_entrypoint_config *udp_entrypoint_config(size_t i);
/* Worker <w>'s thread: starts its sockets on <loop>. */
void udp_worker_setup(h2o_evloop_t *loop, uint32_t w);
/* Worker <w>'s thread: ends every session and closes its sockets. */
void udp_worker_close(uint32_t w);
/* Worker <w>'s thread, once its loop ran after udp_worker_close. */
void udp_worker_free(uint32_t w);
/* Main thread, after the workers stopped. */
void udp_unbind(void);

/* Counters over every worker (any thread; each worker writes its own with
 * relaxed stores, readers sum relaxed loads: no lock, no locked add). */
struct udp_counters {
    uint64_t sessions;        /* open now */
    uint64_t sessions_total;  /* started */
    uint64_t datagrams_in;    /* client -> server, sent */
    uint64_t datagrams_out;   /* server -> client, sent */
    uint64_t bytes_in;        /* payload of datagrams_in */
    uint64_t bytes_out;       /* payload of datagrams_out */
    uint64_t dropped_noroute; /* no router, no available server, or the server unreachable */
    uint64_t dropped_full;    /* from a new client over UDP_MAX_SESSIONS_PER_WORKER */
    uint64_t dropped_send;    /* the kernel refused to send it on (full buffer, ICMP error) */
};
void udp_counters(size_t ep, struct udp_counters *out);

#endif
