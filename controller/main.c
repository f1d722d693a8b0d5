/*
 * gantry: composition root. Reads the static configuration, binds the
 * entry points, starts the providers (initial configuration), the workers
 * and the watcher thread, then waits for a signal. SIGTERM/SIGINT drain:
 * stop accepting, finish in-flight requests up to the grace timeout, exit 0.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <h2o/version.h>

#include "../common/log.h"
#include "../common/version.h"
#include "../proxy/accesslog.h"
#include "../admin/admin.h"
#include "../proxy/publish.h"
#include "../proxy/registry.h"
#include "../proxy/transport.h"
#include "../proxy/server.h"
#include "../proxy/stats.h"
#include "../admin/status.h"
#include "../proxy/tls.h"
#include "../proxy/udp/udp_proxy.h"
#include "acme/acme_manager.h"
#include "ocsp_fetch.h"
#include "aggregator.h"
#include "cli_healthcheck.h"
#include "cli_migrate.h"
#include "curl_dl.h"
#include "providers/docker/provider_docker.h"
#include "providers/file/provider_file.h"
#include "providers/kubernetes/provider_kubernetes.h"
#include "providers/kubernetes/provider_kubernetes_crd.h"
#include "providers/kubernetes/provider_kubernetes_gateway.h"
#include "static_config.h"
#include "watcher.h"

static void reclaim_hook(void)
{
    publish_reclaim();
    status_reclaim();
}

/* /readyz (admin thread): listeners are open (the admin API starts after
 * them) and every enabled provider has completed its first sync. */
static bool ready(char *why, size_t len)
{
    const char *name;
    bool connected, synced;
    for (size_t i = 0; status_provider_get(i, &name, &connected, &synced); i++) {
        if (!synced) {
            snprintf(why, len, "%s provider: first synchronisation not complete%s\n", name,
                     connected ? "" : " (not connected)");
            return false;
        }
    }
    if (status_config_pending()) { /* a provider's configuration is submitted, not yet live */
        snprintf(why, len, "configuration not applied yet\n");
        return false;
    }
    /* The first time only: a new replica waits for its servers' names (an
     * answer, or a failure to resolve); a later configuration change with a
     * slow name must not take a serving replica out. */
    static _Atomic bool was_ready;
    size_t names = registry_names_unanswered();
    if (!atomic_load(&was_ready) && names > 0) {
        snprintf(why, len, "%zu server host name%s not resolved yet\n", names, names == 1 ? "" : "s");
        return false;
    }
    atomic_store(&was_ready, true);
    return true;
}

/* The Gateway API provider binds listeners to entry points by port: the
 * port of each entry point's address. */
static int start_gateway_provider(const struct static_config *c, struct diag *d)
{
    struct k8s_gw_entrypoint eps[64];
    size_t n = 0;
    for (size_t i = 0; i < c->n_entrypoints && n < 64; i++) {
        const char *colon = strrchr(c->entrypoints[i].address ? c->entrypoints[i].address : "", ':');
        eps[n++] = (struct k8s_gw_entrypoint){c->entrypoints[i].name, colon ? atoi(colon + 1) : 0};
    }
    /* the section's own keys as decoded; the rest comes from other sections */
    struct kube_gateway_provider_config gc = c->kube_gw;
    gc.lease_namespace = c->kube.lease_namespace;
    gc.lease_name = c->kube.lease_name;
    gc.lease_duration_ms = c->kube.lease_duration_ms;
    gc.entrypoints = eps;
    gc.n_entrypoints = n;
    return provider_kubernetes_gateway_start(&gc, d);
}

/* libcurl is opened on first use (curl_dl.c). What needs it opens it at
 * start, so that a missing libcurl stops the start as a missing library did,
 * instead of failing later. */
static const char *needs_libcurl(const struct static_config *c)
{
    if (c->docker.enabled)
        return "providers.docker";
    if (c->kube.enabled)
        return "providers.kubernetesIngress";
    if (c->kube_nginx.enabled)
        return "providers.kubernetesIngressNGINX";
    if (c->kube_crd.enabled)
        return "providers.kubernetesCRD";
    if (c->kube_gw.enabled)
        return "providers.kubernetesGateway";
    if (c->n_resolvers > 0)
        return "certificatesResolvers";
    if (c->ocsp.enabled)
        return "ocsp";
    return NULL;
}

static int run(struct static_config *c)
{
    struct diag d;
    for (size_t i = 0; i < c->warnings.len; i++)
        log_warn("%s", (const char *)c->warnings.items[i]);
    const char *user = needs_libcurl(c);
    if (user != NULL && !curl_dl_load()) {
        log_error("%s needs libcurl, which cannot be loaded (above): not started", user);
        return 1;
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this; main waits */
    signal(SIGPIPE, SIG_IGN);

    uint32_t n_workers = c->proxy.n_workers;
    registry_init(n_workers);
    stats_init(n_workers);
    if (c->access_log.enabled &&
        accesslog_open(c->access_log.file_path, strcasecmp(c->access_log.format, "json") == 0, n_workers, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    if (tls_init(c->proxy.insecure_skip_verify, &d) != 0 || server_bind(&c->proxy, &d) != 0 || watcher_init(&d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    publish_init(n_workers, server_wake_worker);
    const char **names = arena_alloc(&c->arena, (c->n_entrypoints + 1) * sizeof(char *));
    for (size_t i = 0; i < c->n_entrypoints; i++)
        names[i] = c->entrypoints[i].name;
    const char **udp_names = arena_alloc(&c->arena, (c->proxy.n_udp_entrypoints + 1) * sizeof(char *));
    for (size_t i = 0; i < c->proxy.n_udp_entrypoints; i++)
        udp_names[i] = c->proxy.udp_entrypoints[i].name;
    struct aggregator_options ao = {
        .window_ms = c->throttle_ms,
        .n_workers = n_workers,
        .entrypoints = names,
        .entrypoint_configs = c->entrypoints,
        .n_entrypoints = c->n_entrypoints,
        .udp_entrypoints = udp_names,
        .n_udp_entrypoints = c->proxy.n_udp_entrypoints,
        .tcp_transport = &c->tcp_transport};
    aggregator_init(&ao);
    watcher_set_idle_hook(reclaim_hook);
    /* before the providers: their first compile already tells it the routers */
    struct acme_manager_options mo = {.resolvers = c->resolvers,
                                      .n_resolvers = c->n_resolvers,
                                      .entrypoints = names,
                                      .n_entrypoints = c->n_entrypoints,
                                      .k8s_conn = {c->kube.endpoint, c->kube.token, c->kube.cert_auth_file_path,
                                                   "certificatesResolvers (kubernetes storage)",
                                                   "providers.kubernetesIngress.endpoint"},
                                      .k8s_lease_ms = c->kube.lease_duration_ms};
    if (acme_manager_start(&mo, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    ocsp_fetch_start(&c->ocsp); /* before the providers: it follows the certificates they load */

    if (c->file.enabled && provider_file_start(&c->file, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    if (c->docker.enabled && provider_docker_start(&c->docker, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    /* kubernetesIngressNGINX shares kubernetesIngress's connection and
     * watches when both are on; alone, it brings its own */
    struct kube_provider_config kc = c->kube;
    if (c->kube_nginx.enabled) {
        if (c->kube.enabled)
            kc.nginx = &c->kube_nginx.options;
        else
            provider_kubernetes_nginx_only(&c->kube_nginx, &c->kube, &kc);
    }
    if (kc.enabled && provider_kubernetes_start(&kc, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    if (c->kube_crd.enabled && provider_kubernetes_crd_start(&c->kube_crd, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    if (c->kube_gw.enabled && start_gateway_provider(c, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }

    if (server_start(&d) != 0 || watcher_start(&d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    struct admin_config ac = {.address = c->admin_address, .token = c->admin_token, .version = GANTRY_VERSION};
    if (c->admin_address && *c->admin_address && admin_start(&ac, ready, &d) != 0) {
        log_error("%s", d.msg);
        return 1;
    }
    for (size_t i = 0; i < c->n_entrypoints; i++)
        log_info("entry point %s listening on %s (port %d)", c->entrypoints[i].name, c->entrypoints[i].address,
                 server_entrypoint_port(i));
    for (size_t i = 0; i < c->proxy.n_udp_entrypoints; i++)
        log_info("entry point %s listening on %s/udp (port %d, udp.timeout %llu ms)", c->proxy.udp_entrypoints[i].name,
                 c->proxy.udp_entrypoints[i].address, udp_entrypoint_port(i),
                 (unsigned long long)c->proxy.udp_entrypoints[i].timeout_ms);
    log_info("gantry %s started with %u workers", GANTRY_VERSION, n_workers);

    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGHUP) {
            accesslog_reopen();
            log_info("SIGHUP received: the access log is reopened");
            continue;
        }
        server_close_listeners();
        log_info("%s received: listeners closed, draining in-flight requests (grace period %llu ms)",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT", (unsigned long long)c->proxy.grace_timeout_ms);
        break;
    }
    admin_stop();
    watcher_stop();
    server_stop();
    provider_file_stop();
    provider_docker_stop();
    provider_kubernetes_stop();
    provider_kubernetes_crd_stop();
    provider_kubernetes_gateway_stop();
    acme_manager_stop();
    aggregator_shutdown();
    ocsp_fetch_stop(); /* before watcher_free: its timers are the watcher's */
    accesslog_close();
    status_shutdown();
    publish_shutdown();
    registry_shutdown();
    transport_shutdown(); /* after the servers that held them */
    stats_shutdown();
    watcher_free();
    tls_shutdown();
    arena_release_cache();
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    struct static_config c;
    struct diag d;
    if (argc > 1 && strcmp(argv[1], "migrate") == 0) /* its own options: not a configuration */
        return cli_migrate(argc - 2, argv + 2);
    bool healthcheck = argc > 1 && strcmp(argv[1], "healthcheck") == 0;
    int skip = healthcheck ? 2 : 1;
    if (static_config_load(&c, argc - skip, argv + skip, &d) != 0) {
        fprintf(stderr, "gantry: %s\n", d.msg);
        static_config_free(&c);
        return 2;
    }
    int rc = 0;
    if (c.show_help)
        static_config_usage(argv[0]);
    else if (healthcheck)
        rc = cli_healthcheck(&c);
    else if (c.show_version)
        printf("gantry %s (libh2o %s, %s)\n", GANTRY_VERSION, H2O_VERSION, __DATE__);
    else
        rc = run(&c);
    static_config_free(&c);
    return rc;
}
