/*
 * Static configuration: what needs a restart to change. Read from the YAML
 * file given by --configFile, then overridden by --dotted.flags, with
 * Traefik v3's key names (entryPoints, providers, serversTransport, log,
 * accessLog) plus a few gantry keys (workers, admin).
 */
#ifndef GANTRY_STATIC_CONFIG_H
#define GANTRY_STATIC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/diag.h"
#include "../proxy/server.h"
#include "ocsp_fetch.h"

/* certificatesResolvers.<name>.acme (Traefik's keys) */
struct acme_resolver_config {
    const char *name;
    const char *email, *ca_server, *storage, *key_type, *preferred_chain;
    const char *eab_kid, *eab_hmac;
    int64_t certificates_duration_h; /* 2160 unless set */
    bool http_challenge, tls_challenge, dns_challenge;
    const char *http_entrypoint;
};

struct static_config {
    struct arena arena;
    const char *config_file;

    struct entrypoint_config *entrypoints;
    size_t n_entrypoints;
    struct proxy_config proxy; /* workers, serversTransport, entry points */

    struct {
        bool enabled;
        const char *filename, *directory;
        bool watch;
    } file;

    struct {
        bool enabled, endpoint_set;
        const char *endpoint, *network, *default_rule, *label_prefix, *constraints;
        bool exposed_by_default, watch;
        const char *host_ip; /* address of host-network containers */
    } docker;

    struct {
        bool enabled;
        const char *endpoint, *token, *cert_auth_file_path, *label_selector, *ingress_class;
        const char **namespaces;
        size_t n_namespaces;
        const char *status_ip, *status_hostname, *status_published_service;
        bool allow_external_name_services;
        /* gantry extension: the Lease electing the one instance that writes status */
        const char *lease_namespace, *lease_name;
        uint64_t lease_duration_ms;
    } kube;

    /* providers.kubernetesIngressNGINX (Traefik v3.5's names; see docs/kubernetes.md) */
    struct {
        bool enabled;
        const char *endpoint, *token, *cert_auth_file_path, *watch_namespace;
        const char *ingress_class, *controller_class, *publish_service, *publish_status_address;
        bool watch_without_class, class_by_name, allow_unsafe_annotations;
        bool disable_external_name; /* ingress-nginx routes to ExternalName Services unless this is set */
    } kube_nginx;
    struct { /* providers.kubernetesCRD */
        bool enabled;
        const char *endpoint, *token, *cert_auth_file_path, *label_selector, *ingress_class;
        const char **namespaces;
        size_t n_namespaces;
        bool allow_cross_namespace, allow_external_name_services, allow_empty_services;
        uint64_t throttle_ms;
    } kube_crd;
    struct { /* providers.kubernetesGateway (Traefik v3's keys; controllerName is gantry's) */
        bool enabled;
        const char *endpoint, *token, *cert_auth_file_path, *label_selector, *controller_name;
        const char **namespaces;
        size_t n_namespaces;
        bool experimental_channel, native_lb_by_default;
        const char *status_ip, *status_hostname;
        const char *status_service_name, *status_service_namespace; /* statusAddress.service */
        uint64_t throttle_ms;
    } kube_gw;

    uint64_t throttle_ms; /* coalescing window for bursts of changes */

    const char *admin_address;
    const char *admin_token;
    const char *log_level;
    struct {
        bool enabled;
        const char *file_path;
        const char *format; /* common | json */
    } access_log;

    struct acme_resolver_config *resolvers;
    size_t n_resolvers;

    struct ocsp_config ocsp; /* Traefik's static `ocsp` section (off unless present) */

    bool show_help, show_version;
    struct ptr_vec warnings; /* char *: unknown keys and the like */
};

/* Parses argv (after argv[0]) and the file it names. On error <d> names
 * the flag or file:line:col. The caller frees with static_config_free. */
int static_config_load(struct static_config *c, int argc, char **argv, struct diag *d) WARN_UNUSED;
void static_config_free(struct static_config *c);
void static_config_usage(const char *argv0);

#endif
