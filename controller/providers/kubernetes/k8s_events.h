/*
 * Kubernetes Events (core/v1, type Warning) on Ingresses whose
 * ingress-nginx annotations gantry does not honour, so that
 * `kubectl describe ingress` and `kubectl get events` say it where the
 * migrating user looks. One Event per (object version, reason, message):
 * a rebuild after every watch event does not repeat them. Posted one at a
 * time on the watcher's curl multi; a failure is logged once and the Event
 * dropped (the log and the API still carry the problem). Watcher thread.
 */
#ifndef GANTRY_K8S_EVENTS_H
#define GANTRY_K8S_EVENTS_H

#include <stddef.h>

#include "k8s_nginx_annotations.h"
#include "k8s_watch.h"

struct k8s_events;

struct k8s_events *k8s_events_new(const struct k8s_conn *conn);
void k8s_events_free(struct k8s_events *e);

/* Queues the Events of <ev> not posted before (copies what it keeps). */
void k8s_events_emit(struct k8s_events *e, struct k8s_nginx_event *const *ev, size_t n);


#endif
