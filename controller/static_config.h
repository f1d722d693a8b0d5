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
#include "model.h"
#include "ocsp_fetch.h"
#include "providers/docker/provider_docker.h"
#include "providers/file/provider_file.h"
#include "providers/kubernetes/provider_kubernetes.h"
#include "providers/kubernetes/provider_kubernetes_crd.h"
#include "providers/kubernetes/provider_kubernetes_gateway.h"

/* certificatesResolvers.<name>.acme (Traefik's keys) */
struct acme_resolver_config {
    const char *name;
    const char *email, *ca_server, *storage, *key_type, *preferred_chain;
    const char *eab_kid, *eab_hmac;
    int64_t certificates_duration_h; /* 2160 unless set */
    /* the CSR: emailAddresses as email SANs; disableCommonName leaves the
     * subject empty (names only in the SANs) */
    const char **email_addresses;
    size_t n_email_addresses;
    bool disable_common_name;
    bool http_challenge, tls_challenge, dns_challenge;
    const char *http_entrypoint;
    uint64_t http_delay_ms; /* httpChallenge.delay: challenge published -> CA told to validate */
    uint64_t tls_delay_ms;  /* tlsChallenge.delay: the same for TLS-ALPN-01 */
    /* the CA's HTTPS: caCertificates (PEM files) with or without the
     * system store (caSystemCertPool), the name verified and sent as SNI
     * (caServerName); neither set: LEGO_CA_* as in Traefik */
    const char **ca_certificates;
    size_t n_ca_certificates;
    bool ca_system_cert_pool;
    const char *ca_server_name;
    uint64_t client_timeout_ms;                 /* clientTimeout: a whole transaction, 2m */
    uint64_t client_response_header_timeout_ms; /* clientResponseHeaderTimeout: 30s */
    uint64_t certificate_timeout_ms;            /* certificateTimeout: finalize -> certificate ready, 30s (0: 30s, as lego) */
    /* dnsChallenge (Traefik v3.3+ names; also the deprecated delayBeforeCheck
     * and disablePropagationCheck): provider exec or httpreq (configured by
     * lego's environment variables, controller/acme/acme_dns.h) */
    const char *dns_provider;
    const char **dns_resolvers; /* host[:port] asked for the TXT record; none: /etc/resolv.conf */
    size_t n_dns_resolvers;
    uint64_t dns_delay_ms; /* propagation.delayBeforeChecks */
    bool dns_disable_checks, dns_require_all_rns, dns_disable_ans_checks;
};

struct static_config {
    struct arena arena;
    const char *config_file;

    struct entrypoint_config *entrypoints;
    size_t n_entrypoints;
    struct proxy_config proxy; /* workers, serversTransport, entry points */
    /* tcpServersTransport: the transport of the TCP services that name none
     * (Traefik's default@internal); name "tcpServersTransport" */
    struct model_tcp_transport tcp_transport;

    /* providers.*: each provider's own configuration, decoded in place and
     * handed to it as is (a key decoded here cannot be forgotten on the way) */
    struct file_provider_config file;
    struct docker_provider_config docker;
    struct kube_provider_config kube;             /* kubernetesIngress */
    struct kube_nginx_provider_config kube_nginx; /* kubernetesIngressNGINX (Traefik v3.5's names; docs/kubernetes.md) */
    struct kube_crd_provider_config kube_crd;     /* kubernetesCRD */
    struct kube_gateway_provider_config kube_gw;  /* kubernetesGateway (Traefik v3's keys; controllerName is gantry's) */

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
