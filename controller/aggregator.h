/*
 * The aggregator keeps each provider's latest model, skips ones that did
 * not change, coalesces bursts, then merges, validates and compiles every
 * provider's configuration into one routing table and publishes it.
 * Watcher thread only.
 */
#ifndef GANTRY_AGGREGATOR_H
#define GANTRY_AGGREGATOR_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct entrypoint_config;

struct aggregator_options {
    uint64_t window_ms; /* a change arriving within this of the last compile waits for the window's end */
    uint32_t n_workers;
    const char *const *entrypoints; /* names, index = entry point index */
    const struct entrypoint_config *entrypoint_configs; /* same index; NULL in tests: no entry point policy */
    size_t n_entrypoints;
    const char *const *udp_entrypoints; /* names of the UDP entry points, index = UDP entry point */
    size_t n_udp_entrypoints;
    /* tcpServersTransport: the transport of the TCP services that name
     * none; NULL: Traefik's defaults (30s, 15s keep-alive, system CAs) */
    const struct model_tcp_transport *tcp_transport;
};

void aggregator_init(const struct aggregator_options *o);
void aggregator_shutdown(void);

/* Takes ownership of <m> (m->provider names the provider). */
void aggregator_submit(struct model *m);

/* Called at the end of every compile with each provider's latest model
 * (the ACME manager takes the routers' certResolver domains from it). The
 * hook must not submit a model from inside the call. */
typedef void (*aggregator_compile_hook_cb)(struct model *const *models, size_t n);
void aggregator_set_compile_hook(aggregator_compile_hook_cb cb);

/* What the last compile produced, for logs, tests and the API. */
struct aggregator_stats {
    uint64_t compiles;
    uint64_t last_compile_us;
    uint64_t last_success_unix_ms;
    size_t routers, services, certs, errors;
};
/* Compiles now what is pending instead of on the watcher's timer (for
 * benchmarks driving the aggregator without running the watcher loop). */
void aggregator_flush(void);
const struct aggregator_stats *aggregator_stats(void);

#endif
