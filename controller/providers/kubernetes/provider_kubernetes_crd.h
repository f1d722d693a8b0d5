/*
 * Kubernetes CRD provider "kubernetescrd": Traefik's traefik.io/v1alpha1
 * kinds (see provider_kubernetes_crd.c, k8s_crd.h). Watcher thread.
 */
#ifndef GANTRY_PROVIDER_KUBERNETES_CRD_H
#define GANTRY_PROVIDER_KUBERNETES_CRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/diag.h"

/* providers.kubernetesCRD (Traefik's keys) */
struct kube_crd_provider_config {
    bool enabled;                    /* providers.kubernetesCRD is configured */
    const char *endpoint;            /* https://host:port; NULL: KUBECONFIG, then in-cluster */
    const char *token;               /* bearer token (with endpoint) */
    const char *cert_auth_file_path; /* CA bundle (with endpoint) */
    const char *label_selector;      /* the traefik.io objects only */
    const char *ingress_class;       /* kubernetes.io/ingress.class of IngressRoutes; NULL: all */
    const char *const *namespaces;   /* NULL/0: all */
    size_t n_namespaces;
    bool allow_cross_namespace, allow_external_name_services, allow_empty_services;
    bool native_lb_by_default; /* the Services' ClusterIP unless a service sets nativeLB: false */
    uint64_t throttle_ms; /* rebuild delay after a change; 0: a few ms */
};

/* Resolves the connection and starts listing and watching. */
int provider_kubernetes_crd_start(const struct kube_crd_provider_config *cfg, struct diag *d) WARN_UNUSED;
void provider_kubernetes_crd_stop(void);

#endif
