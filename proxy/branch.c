/* Picking a branching service's child (see branch.h). */
#include "branch.h"

#include "balancer.h"
#include "sticky.h"

int branch_pick(const struct table_service *svc, const h2o_req_t *req, const uint8_t ip16[16], uint32_t w, int64_t now_ms,
                bool *new_cookie)
{
    *new_cookie = false;
    if (svc->failover)
        return balancer_service_up(svc->children[0], now_ms) ? 0 : 1;
    if (svc->strategy == STRATEGY_HRW)
        return balancer_pick_child_hrw(svc, balancer_client_key(ip16));
    int i = svc->sticky != NULL ? sticky_child(svc, req) : -1;
    if (i >= 0)
        return i;
    i = balancer_pick_child(svc, w, now_ms);
    *new_cookie = i >= 0 && svc->sticky != NULL;
    return i;
}
