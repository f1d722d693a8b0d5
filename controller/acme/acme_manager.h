/*
 * ACME certificates for routers with tls.certResolver (Traefik's
 * certificatesResolvers): which domain sets need a certificate, one
 * acme_client per resolver ordering them one at a time, renewal when a
 * third of a certificate's lifetime is left, exponential backoff after a
 * failure (the error is logged and shown as a problem of the "acme"
 * provider in the API), acme.json kept in step, and the certificates
 * handed to the aggregator as the "acme" provider's model of inline PEM
 * certificates, so they swap in with the next table and no connection is
 * dropped. Watcher thread only, except acme_manager_start.
 */
#ifndef GANTRY_ACME_MANAGER_H
#define GANTRY_ACME_MANAGER_H

#include <stddef.h>

#include "../../common/diag.h"
#include "../providers/kubernetes/k8s_conn.h"
#include "../model.h"
#include "../static_config.h"

struct acme_manager_options {
    const struct acme_resolver_config *resolvers;
    size_t n_resolvers;
    const char *const *entrypoints; /* names, index = entry point index */
    size_t n_entrypoints;
    /* for storage "kubernetes://...": the API server (the kubernetesIngress
     * provider's endpoint, else KUBECONFIG or in-cluster) and the issuer
     * Lease's duration */
    struct k8s_conn_config k8s_conn;
    uint64_t k8s_lease_ms;
};

/* Main thread, after watcher_init and aggregator_init, before the watcher
 * starts: reads the storage files and submits the stored certificates.
 * Fails on a bad option or an unreadable storage file. */
int acme_manager_start(const struct acme_manager_options *o, struct diag *d) WARN_UNUSED;
void acme_manager_stop(void);
/* The aggregator's compile hook: the routers of every provider's latest
 * model, from which the wanted domain sets are taken. */
void acme_manager_routers(struct model *const *models, size_t n);

#endif
