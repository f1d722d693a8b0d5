/*
 * Leader election through a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection does it: every retry period read the Lease; create it when
 * absent; renew it while we hold it; take it over when its holder has not
 * renewed it for its lease duration (measured on our own clock, from when
 * we saw the record change, so clock skew between nodes does not matter);
 * release it on shutdown so a successor need not wait. Writes use the
 * resourceVersion read, so two candidates cannot both win (409 Conflict).
 * Watcher thread.
 */
#ifndef GANTRY_K8S_LEASE_H
#define GANTRY_K8S_LEASE_H

#include <stdbool.h>
#include <stdint.h>

#include "k8s_watch.h"

typedef void (*k8s_lease_cb)(bool leader, void *data);

struct k8s_lease;

/* Starts campaigning at once. <identity>: this instance (pod name). */
struct k8s_lease *k8s_lease_start(const struct k8s_conn *conn, const char *ns, const char *name, const char *identity,
                                  uint64_t duration_ms, k8s_lease_cb changed, void *data);
/* Stops; a held lease is released first (a blocking request, 2 s at most). */
void k8s_lease_stop(struct k8s_lease *l);
bool k8s_lease_is_leader(const struct k8s_lease *l);


#endif
