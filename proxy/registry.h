/*
 * Upstream servers by URL, shared by every table that names them. A server
 * present in the old and the new table is the same object, so it keeps its
 * keep-alive connections, health state and counters across configuration
 * changes.
 *
 * Ownership: tables hold references (atomic refcount). When the last table
 * lets go, the server leaves the registry and each worker is asked to
 * close its idle connections to it; the last worker to do so frees it.
 * The registry map itself is touched only by the watcher thread.
 */
#ifndef GANTRY_REGISTRY_H
#define GANTRY_REGISTRY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <h2o/linklist.h>

#include "../common/diag.h"

/* Counters with one writer (a worker) and readers elsewhere (the admin
 * thread): a relaxed load and store, a plain add on x86. */
static inline void worker_counter_add(uint64_t *c, int64_t d)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + (uint64_t)d, __ATOMIC_RELAXED);
}

/* Per worker: idle connections and counters, written only by that worker. */
struct server_worker {
    h2o_linklist_t idle;    /* struct upstream_conn, most recently used first */
    h2o_linklist_t orphans; /* being opened or drained for a request that went away */
    uint64_t n_idle;
    uint64_t in_flight;
    uint64_t requests, connect_failures, reused, opened;
    h2o_linklist_t h2_conns; /* struct h2u_conn: HTTP/2 connections (h2_upstream.c) */
    uint32_t n_h2_conns;
} __attribute__((aligned(64)));

struct transport;
struct dns_watch;

/* The longest resolution error server_dns_error() gives. */
#define SERVER_DNS_ERROR_MAX 160

/* One allocation per server: this struct, its per-worker blocks (cache-line
 * aligned) and its strings, so that 100,000 endpoints cost ~100,000
 * mallocs, not 700,000. */
struct server {
    const char *url;      /* canonical "http://10.0.0.1:8080" */
    const char *key;      /* the registry's key: url, plus the transport's digest when it has one */
    struct transport *transport; /* serversTransport (a reference); NULL: the global one */
    const char *hostport; /* Host header when passHostHeader is false */
    const char *host;     /* as written in the URL; TLS server name */
    int port;
    bool tls;
    bool h2c; /* h2c://: HTTP/2 over cleartext with prior knowledge */
    /* https: the last handshake (any worker's) chose h2 by ALPN, so new
     * requests go over HTTP/2. Shared, so that a worker with no connection
     * yet does not open one handshake per request to learn it again. */
    _Atomic bool alpn_h2;
    bool awaiting_first;                /* watched, no answer yet (counted in registry_names_unanswered) */
    /* The address is the first of the name's current answer, kept fresh by
     * common/dns.c off the watcher thread (a literal IP is set once). Read it
     * with server_address(). */
    pthread_mutex_t addr_lock;          /* addr, addrlen, dns_error */
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } addr;                             /* TCP servers are IPv4 or IPv6: not a whole sockaddr_storage */
    socklen_t addrlen;
    _Atomic uint32_t addr_gen;          /* bumped on a change: older pooled connections are closed */
    _Atomic int resolved;               /* an address is known; until then the server takes no request */
    char *dns_error;                    /* the last resolution failure; NULL after a success */
    struct dns_watch *dns;              /* NULL for a literal IP */

    _Atomic int refs;                 /* tables naming this server */
    _Atomic uint32_t passive_failures; /* successive failures ... */
    _Atomic int64_t passive_since_ms;  /* ... since the first of them */
    _Atomic int64_t down_until_ms;    /* passive health: skip until then */
    _Atomic uint64_t ttfb_ewma_us;     /* time to the response head, smoothed (leasttime) */
    _Atomic int healthy;              /* active health: 1 up, 0 down */
    _Atomic int pending_workers;      /* retire handshake */

    uint32_t n_workers;
    struct server_worker workers[]; /* [n_workers], each on cache lines of its own */
};

/* Called once before workers start. */
void registry_init(uint32_t n_workers);
/* Frees every remaining server; only after workers have stopped. */
void registry_shutdown(void);

/* Watcher thread. Finds or creates the server for <url> (http:// or
 * https://, host must resolve) and takes a reference. */
struct server *registry_acquire(const char *url, struct diag *d) WARN_UNUSED;
/* The same through serversTransport <t> (NULL: the global one): a server per
 * (URL, transport), since connections to it differ. */
struct server *registry_acquire_via(const char *url, struct transport *t, struct diag *d) WARN_UNUSED;
/* A TCP router's server "host:port" (port required), resolved the same way. */
struct server *registry_acquire_tcp(const char *address, struct diag *d) WARN_UNUSED;
/* Takes one more reference on a server already held. */
static inline void registry_ref(struct server *s)
{
    atomic_fetch_add(&s->refs, 1);
}
/* Watcher thread. Drops a reference; the last one retires the server. */
void registry_release(struct server *s);

/* Hook set by the proxy: asks worker <i> to drop its idle connections to
 * <s> and then call registry_worker_done(s). NULL before workers run. */
extern void (*registry_retire_hook)(uint32_t worker, struct server *s);
void registry_worker_done(struct server *s);

/* Servers whose host name has had no answer yet, success or failure (any
 * thread): /readyz waits for them before the first time it says ready. */
size_t registry_names_unanswered(void);

/* Number of live servers (tests and metrics). */
size_t registry_count(void);

/* Copies the current address; returns its generation. Any thread. */
uint32_t server_address(struct server *s, struct sockaddr_storage *ss, socklen_t *len);
/* Copies the last resolution error into <buf> ("" when none). Any thread. */
void server_dns_error(struct server *s, char *buf, size_t size);

/* Up for the balancer: its name resolved and its active health check (if
 * any) passes. */
static inline bool server_healthy(const struct server *s)
{
    return atomic_load_explicit(&s->healthy, memory_order_relaxed) &&
           atomic_load_explicit(&s->resolved, memory_order_relaxed);
}

bool server_available(const struct server *s, int64_t now_ms);
/* Passive health (Traefik's passiveHealthcheck): a failed exchange; after
 * <max_failed> successive failures within <window_ms> the server is skipped
 * for <window_ms>. True when this failure took it out. Any thread. */
bool server_passive_failure(struct server *s, int64_t now_ms, uint64_t window_ms, uint32_t max_failed);
/* A response head arrived after <ttfb_us>: the failure count restarts. */
void server_passive_success(struct server *s, uint64_t ttfb_us);

#endif
