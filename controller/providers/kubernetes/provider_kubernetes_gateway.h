/*
 * Kubernetes Gateway API provider "kubernetesgateway" (Traefik's
 * providers.kubernetesGateway): see provider_kubernetes_gateway.c,
 * k8s_gateway.h. Watcher thread.
 */
#ifndef GANTRY_PROVIDER_KUBERNETES_GATEWAY_H
#define GANTRY_PROVIDER_KUBERNETES_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/diag.h"
#include "k8s_gateway.h"

/* providers.kubernetesGateway (Traefik v3's keys; controllerName is gantry's).
 * The lease and the entry points are not keys of this section: the caller
 * sets them from kubernetesIngress.leaderElection and entryPoints. */
struct kube_gateway_provider_config {
    bool enabled; /* providers.kubernetesGateway is configured */
    const char *endpoint, *token, *cert_auth_file_path; /* as providers.kubernetesCRD */
    const char *label_selector;    /* the Gateway API objects only */
    const char *const *namespaces; /* NULL/0: all */
    size_t n_namespaces;
    uint64_t throttle_ms;        /* rebuild delay after a change; 0: a few ms */
    bool experimental_channel;   /* TLSRoute, TCPRoute */
    bool native_lb_by_default;
    const char *controller_name; /* NULL: gantry.io/gateway-controller */
    const char *status_ip, *status_hostname; /* statusAddress */
    const char *status_service_name, *status_service_namespace; /* statusAddress.service (namespace: POD_NAMESPACE) */
    const char *lease_namespace, *lease_name;
    uint64_t lease_duration_ms;
    const struct k8s_gw_entrypoint *entrypoints;
    size_t n_entrypoints;
};

/* Resolves the connection and starts listing and watching. */
int provider_kubernetes_gateway_start(const struct kube_gateway_provider_config *cfg, struct diag *d) WARN_UNUSED;
void provider_kubernetes_gateway_stop(void);

#endif
