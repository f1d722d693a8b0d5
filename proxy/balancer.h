/*
 * Smooth weighted round robin (nginx's algorithm) over a service's servers,
 * with per-worker state kept in the table, so picking takes no lock and
 * touches no shared cache line.
 */
#ifndef GANTRY_BALANCER_H
#define GANTRY_BALANCER_H

#include <stdbool.h>
#include <stdint.h>

#include "table.h"

#define BALANCER_MAX_TRIES 64

/* Servers already tried by one request (bit i = server i, first 64). */
struct balancer_tried {
    uint64_t mask;
    uint64_t key; /* the client's hash, for the hrw strategy */
};

enum balancer_result { BALANCER_OK, BALANCER_NONE_HEALTHY, BALANCER_EXHAUSTED };

/*
 * Picks a server of <svc> for worker <w> that is not in <tried>.
 * Prefers servers that are up; when every untried server is passively
 * marked down (it refused a connection recently) one of them is still
 * tried rather than failing outright. Servers failing their active health
 * check are never picked: BALANCER_NONE_HEALTHY when that leaves nothing.
 */
enum balancer_result balancer_pick(const struct table_service *svc, uint32_t w, int64_t now_ms,
                                   const struct balancer_tried *tried, uint32_t *out);

/* The client key for hrw (highest random weight): a hash of its address. */
uint64_t balancer_client_key(const uint8_t ip16[16]);

/* Weighted services: a child of <svc> for worker <w> by smooth WRR over the
 * children that can answer (a load balancer with servers, or a weighted or
 * mirroring service); -1 when none can. */
int balancer_pick_child(const struct table_service *svc, uint32_t w, int64_t now_ms);
/* highestRandomWeight services: the child with the highest weighted score
 * for <key> among those that can answer; -1 when none can. */
int balancer_pick_child_hrw(const struct table_service *svc, uint64_t key);
/* Failover services: whether <svc> has a server that can take a request. */
bool balancer_service_up(const struct table_service *svc, int64_t now_ms);

#endif
