/*
 * Writes the statuses the Gateway API translation computed (GatewayClass,
 * Gateway, routes) through the status subresource, on the leader only.
 * An object whose status already says the same (lastTransitionTime aside)
 * is left alone; a route keeps the parents[] entries of other controllers;
 * writes go one at a time with the object's resourceVersion, and one that
 * fails (409 after a concurrent change) is redone at the next sync.
 * Watcher thread.
 */
#ifndef GANTRY_K8S_GATEWAY_STATUS_H
#define GANTRY_K8S_GATEWAY_STATUS_H

#include "k8s_gateway.h"
#include "k8s_watch.h"

struct k8s_gw_writer;

struct k8s_gw_writer *k8s_gw_writer_new(const struct k8s_conn *conn, const char *controller);
void k8s_gw_writer_free(struct k8s_gw_writer *w);

/* Queues the writes <st> needs (unless writes are still under way: the
 * next sync recomputes from the objects as they are then). */
void k8s_gw_writer_sync(struct k8s_gw_writer *w, const struct k8s_gw_statuses *st);

/* The status <want> merged with <current> (borrowed) as it would be
 * written, or NULL when nothing would change; exposed for tests. */
cJSON *k8s_gw_writer__merge(const char *controller, enum k8s_gw_kind kind, const cJSON *current, const cJSON *want,
                            const char *now);

/* Whether writes are still under way (a sync now would do nothing). */
bool k8s_gw_writer_busy(const struct k8s_gw_writer *w);

#endif
