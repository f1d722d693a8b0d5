/*
 * Kubernetes Ingress provider (see provider_kubernetes.c). Watcher thread.
 */
#ifndef GANTRY_PROVIDER_KUBERNETES_H
#define GANTRY_PROVIDER_KUBERNETES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/diag.h"
#include "k8s_nginx_annotations.h"

/* providers.kubernetesIngress (Traefik's keys, and gantry's leaderElection) */
struct kube_provider_config {
    bool enabled;                   /* providers.kubernetesIngress is configured */
    const char *endpoint;           /* https://host:port; NULL: KUBECONFIG, then in-cluster */
    const char *token;              /* bearer token (with endpoint) */
    const char *cert_auth_file_path; /* CA bundle (with endpoint) */
    const char *label_selector;     /* Ingresses only */
    const char *ingress_class;      /* the legacy annotation's value */
    const char *const *namespaces;  /* NULL/0: all */
    size_t n_namespaces;
    bool allow_external_name_services;
    bool native_lb_by_default; /* the Services' ClusterIP instead of their endpoints */
    /* ingressEndpoint: what the leader writes into the Ingresses' status */
    const char *status_ip, *status_hostname, *status_published_service;
    const char *lease_namespace; /* NULL: POD_NAMESPACE, else "default" */
    const char *lease_name;
    uint64_t lease_duration_ms;
    /* providers.kubernetesIngressNGINX: NULL when off; <nginx_only> when
     * kubernetesIngress is off (then Gantry's own class is not served) */
    const struct k8s_nginx_options *nginx;
    bool nginx_only;
};

/* providers.kubernetesIngressNGINX (Traefik v3.5's names): served by this
 * provider, alongside kubernetesIngress or alone. */
struct kube_nginx_provider_config {
    bool enabled;
    const char *endpoint, *token, *cert_auth_file_path, *watch_namespace;
    const char *publish_service, *publish_status_address;
    bool disable_external_name; /* ingress-nginx routes to ExternalName Services unless this is set */
    struct k8s_nginx_options options;
};

/* The configuration that serves kubernetesIngressNGINX when kubernetesIngress
 * is off: <nginx>'s own connection, namespace and status address, and
 * <ingress>'s lease. <out> points into <nginx> and <ingress>. */
void provider_kubernetes_nginx_only(const struct kube_nginx_provider_config *nginx, const struct kube_provider_config *ingress,
                                    struct kube_provider_config *out);

/* Resolves the connection (endpoint, kubeconfig or in-cluster; an error
 * names what is missing) and starts listing and watching. */
int provider_kubernetes_start(const struct kube_provider_config *cfg, struct diag *d) WARN_UNUSED;
void provider_kubernetes_stop(void);

#endif
