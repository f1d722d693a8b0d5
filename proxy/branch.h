/*
 * The child a branching service (failover, highestRandomWeight, weighted,
 * sticky weighted) sends one request to: the same choice whether it is made
 * before the router's chain (children with middlewares of their own,
 * route.c) or on the way down to a load balancer (upstream.c).
 */
#ifndef GANTRY_PROXY_BRANCH_H
#define GANTRY_PROXY_BRANCH_H

#include <stdbool.h>
#include <stdint.h>

#include <h2o.h>

#include "table.h"

/* The index of <svc>'s child for <req> from client address <ip16> on worker
 * <w>; -1 when none can answer. A failover's main while it has a server up,
 * else its fallback; hrw by client address; the sticky cookie's child while
 * it can answer, else smooth WRR, and then *<new_cookie> says the response
 * must set the cookie for the child picked. */
int branch_pick(const struct table_service *svc, const h2o_req_t *req, const uint8_t ip16[16], uint32_t w, int64_t now_ms,
                bool *new_cookie);

#endif
