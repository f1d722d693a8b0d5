/*
 * The data plane: entry points (listeners), N worker threads each running
 * an h2o evloop with one h2o context per entry point, and the hooks the
 * watcher thread uses to reach them.
 */
#ifndef GANTRY_SERVER_H
#define GANTRY_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/diag.h"
#include "../common/rule.h"

#define GANTRY_MAX_ENTRYPOINTS 64

struct entrypoint_config {
    const char *name;
    const char *address;         /* ":8080", "127.0.0.1:8080", "[::1]:8443" */
    /* client timeouts, enforced by conntrack.c; 0 disables one */
    uint64_t read_timeout_ms;    /* request headers must arrive within this (slowloris) */
    uint64_t idle_timeout_ms;    /* no request in progress for this long: closed */
    uint64_t write_timeout_ms;   /* a response the client does not read for this long: closed */
    uint64_t body_min_rate;      /* request bodies slower than this (bytes/s, on average) ... */
    uint64_t body_rate_window_ms; /* ... or stalled for this long: closed */
    uint32_t max_resets;          /* requests reset before a response, per connection and 10 s */
    uint32_t max_concurrent_streams; /* HTTP/2 requests run at once per connection (more wait) */
    uint32_t max_requests_per_second; /* per connection */
    size_t max_body_size;        /* 413 above; 0: unlimited (1 GiB) */
    size_t max_header_bytes;     /* http.maxHeaderBytes: 431 above (0: libh2o's 408 KiB limit only) */
    unsigned path_allow;         /* http.encodedCharacters: enum path_allow flags */
    bool path_keep;              /* http.sanitizePath=false: no dot-segment removal */
    bool allow_trace;            /* http.allowTraceMethod: TRACE and TRACK are 405 unless set */
    struct rule_cidr *trusted_ips; /* forwardedHeaders.trustedIPs */
    size_t n_trusted_ips;
    bool forwarded_insecure;       /* forwardedHeaders.insecure: trust everyone */
    const char **middlewares;      /* http.middlewares: ahead of every router's own */
    size_t n_middlewares;
    /* http.redirections.entryPoint: every request is redirected to <to> */
    const char *redirect_to;       /* entry point name, or a port ":443"; NULL: none */
    const char *redirect_scheme;   /* default https */
    bool redirect_permanent;       /* default true */
    int64_t redirect_priority;     /* default MaxInt32-1: ahead of every router */
    /* http.tls: the TLS of this entry point's routers that have none of
     * their own (Traefik's entry point model); the controller's struct
     * model_router_tls, opaque here. NULL: none. */
    const void *http_tls;
    /* proxyProtocol: a PROXY header (v1, v2) is read before anything else;
     * its source replaces the connection's address when the connection
     * comes from pp_trusted (or pp_insecure), else it is read and dropped */
    bool proxy_protocol;
    struct rule_cidr *pp_trusted;
    size_t n_pp_trusted;
    bool pp_insecure;
    uint64_t udp_timeout_ms;       /* udp.timeout: read for "/udp" addresses (struct udp_entrypoint_config) */
};

/* An entry point whose address ends in "/udp" (Traefik's ":53/udp"). */
struct udp_entrypoint_config {
    const char *name;
    const char *address;  /* without the "/udp" suffix */
    uint64_t timeout_ms;  /* udp.timeout: a session idle this long ends (Traefik's default 3s) */
};

struct proxy_config {
    uint32_t n_workers;
    struct entrypoint_config *entrypoints;
    size_t n_entrypoints;
    struct udp_entrypoint_config *udp_entrypoints; /* proxy/udp/udp_proxy.c */
    size_t n_udp_entrypoints;
    /* serversTransport.* */
    uint64_t dial_timeout_ms;
    uint64_t response_header_timeout_ms; /* 0: none */
    uint64_t read_timeout_ms;            /* between upstream reads; 0: none */
    uint64_t idle_conn_timeout_ms;
    uint32_t max_idle_conns_per_host;
    bool insecure_skip_verify;
    uint64_t websocket_idle_timeout_ms;
    uint64_t passive_down_ms; /* how long a server that refused a connection is skipped */
    uint64_t grace_timeout_ms;
    uint64_t max_connections;        /* all entry points; 0: none */
    uint32_t max_connections_per_ip; /* 0: none */
    const char *server_header;       /* serverHeader: a Server header for responses without one; NULL: none */
};

/* Binds every entry point (so errors such as EADDRINUSE surface before
 * anything runs). */
int server_bind(const struct proxy_config *cfg, struct diag *d) WARN_UNUSED;
/* Starts the worker threads. */
int server_start(struct diag *d) WARN_UNUSED;
/* Stops accepting, lets in-flight requests finish (up to the grace
 * timeout), stops the workers and joins them. */
/* First step of a drain (main thread): the entry points stop listening, so
 * new connections are refused while in-flight requests finish. */
void server_close_listeners(void);
void server_stop(void);
/* Makes worker <i>'s loop come round (table published). Any thread. */
void server_wake_worker(uint32_t i);
uint32_t server_worker_count(void);
/* The port an entry point is bound to (useful with ":0"). */
int server_entrypoint_port(size_t i);
/* Open client connections on entry point <i>, summed over workers (any thread). */
uint64_t server_open_connections(size_t i);

#endif
