/*
 * Resolving the API server connection of a Kubernetes provider (see
 * k8s_conn.c). Watcher thread, at provider start.
 */
#ifndef GANTRY_K8S_CONN_H
#define GANTRY_K8S_CONN_H

#include "../../../common/diag.h"
#include "k8s_watch.h"

struct k8s_conn_config {
    const char *endpoint, *token, *cert_auth_file_path; /* the provider's options; endpoint NULL: not set */
    const char *provider_key;                           /* "providers.kubernetesCRD", for errors */
    const char *endpoint_key;                           /* "providers.kubernetesCRD.endpoint" */
};

/* Fills <conn> (its strings are malloc'ed: k8s_conn_free) from <cfg>,
 * KUBECONFIG or the pod's service account; <how> says which. Fails with
 * what is missing. */
int k8s_conn_resolve(struct k8s_conn *conn, const struct k8s_conn_config *cfg, struct diag *d, const char **how) WARN_UNUSED;
void k8s_conn_free(struct k8s_conn *conn);

#endif
