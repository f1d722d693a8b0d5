/*
 * Writes status.loadBalancer.ingress of the Ingresses Gantry manages, from
 * providers.kubernetesIngress.ingressEndpoint (an IP, a hostname, or the
 * addresses of a published Service), on the leader only. An Ingress whose
 * status already says so is left alone; writes go one at a time, carry the
 * object's resourceVersion, and a failed one is retried at the next sync.
 * Watcher thread.
 */
#ifndef GANTRY_K8S_STATUS_H
#define GANTRY_K8S_STATUS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "k8s_watch.h"

struct k8s_status;

struct k8s_status *k8s_status_new(const struct k8s_conn *conn);
void k8s_status_free(struct k8s_status *s);

/* The addresses to publish (an array of {ip}/{hostname} objects), from the
 * static configuration and, for a published Service "ns/name", from
 * <services>. NULL when nothing is configured or known yet. */
cJSON *k8s_status_target(const char *ip, const char *hostname, const char *published_service, const cJSON **services,
                         size_t n_services);

/* Brings the managed <ingresses> to <target> (takes ownership of it). */
void k8s_status_sync(struct k8s_status *s, const cJSON **ingresses, size_t n, cJSON *target);


#endif
