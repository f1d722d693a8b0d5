/*
 * What the admin API shows: an immutable snapshot of the configuration as
 * the last compile saw it (every router and service, served or not and
 * why), built by the watcher thread, read by the admin thread. Live values
 * (counters, health, connections) are read from the objects the snapshot
 * references, which it keeps alive.
 *
 * Also the few process-wide facts the API reports that change without a
 * compile: provider connectivity and readiness.
 */
#ifndef GANTRY_STATUS_H
#define GANTRY_STATUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"

struct server;
struct table_service;
struct stats;

struct status_server {
    const char *url;
    int weight;
    struct server *srv; /* NULL when the URL did not resolve; else a reference */
};

struct status_mirror {
    const char *name; /* the shadow service */
    uint32_t percent;
    struct stats *stats; /* a reference; NULL when not served */
};

struct status_service {
    const char *name; /* name@provider */
    const char *provider;
    const char *type; /* loadBalancer, mirroring, weighted */
    const char *error; /* NULL: served */
    struct status_server *servers;
    size_t n_servers;
    bool pass_host_header;
    const char *healthcheck_path;
    uint64_t healthcheck_interval_ms;
    struct stats *stats; /* NULL when not served; else a reference */
    /* A shared service (proxy/table.h) whose memory holds <servers>: one
     * reference on it instead of one per server. NULL otherwise. */
    struct table_service *shared;
    const char **used_by;
    size_t n_used_by;
    /* mirroring services */
    const char *mirror_main;
    struct status_mirror *mirrors;
    size_t n_mirrors;
    bool mirror_body;
    int64_t mirror_max_body;
};

struct status_router {
    const char *name, *provider, *rule, *service;
    const char *error; /* NULL: served */
    const char **entrypoints;
    size_t n_entrypoints;
    const char **middlewares;
    size_t n_middlewares;
    int64_t priority;
    bool tls;
    struct stats *stats; /* NULL when not served; else a reference */
};

struct status_middleware {
    const char *name, *provider, *type;
    const char *error; /* NULL: built (or unused) */
    const char **keys, **values;
    size_t n_options;
    size_t n_used_by; /* routes whose chain holds it */
};

struct status_snapshot {
    _Atomic int refs;
    struct arena arena;
    uint64_t generation;
    uint64_t compiled_unix_ms, compile_us;
    struct status_router *routers;
    size_t n_routers;
    struct status_service *services;
    size_t n_services;
    struct status_middleware *middlewares;
    size_t n_middlewares;
    const char **problems; /* every problem of the current configuration */
    size_t n_problems;
    const char *tcp_routers_json, *tcp_services_json; /* JSON arrays (controller/tcp_status.h); NULL: none */
    const char *udp_routers_json, *udp_services_json; /* JSON arrays (controller/udp_status.h); NULL: none */
    struct status_snapshot *dead_next; /* status.c */
};

struct status_snapshot *status_new(void);
/* Watcher thread: the snapshot becomes current (ownership passes). */
void status_publish(struct status_snapshot *s);
/* Any thread: the current snapshot with a reference, or NULL. */
struct status_snapshot *status_acquire(void);
void status_release(struct status_snapshot *s);
/* Watcher thread: frees snapshots whose last reference was dropped. */
void status_reclaim(void);
void status_shutdown(void);
/* Counts configuration compiles (for gantry_config_reloads_total). */
uint64_t status_reloads(void);

/* Providers: connectivity and first sync (any thread). */
void status_provider_set(const char *name, bool connected, bool synced);
bool status_provider_get(size_t i, const char **name, bool *connected, bool *synced);
/* The aggregator: a submitted configuration waits to be compiled (any thread reads). */
void status_set_config_pending(bool pending);
bool status_config_pending(void);

#endif
