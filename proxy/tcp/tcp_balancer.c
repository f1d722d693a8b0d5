/*
 * Weighted TCP services (see tcp_balancer.h). Smooth WRR: every pick adds
 * each child's weight to its counter, takes the highest counter and
 * subtracts the total from it, which spreads a child's share evenly over
 * each cycle of sum(weights) connections (5:1 gives a a a b a a, not
 * a a a a a b).
 */
#include "tcp_balancer.h"

#include <stddef.h>

static int pick_child(const struct table_tcp_service *svc, uint32_t w)
{
    int64_t *cur = svc->wrr + (size_t)w * svc->wrr_stride;
    int64_t total = 0;
    int best = -1;
    for (uint32_t i = 0; i < svc->n_children; i++) {
        int32_t weight = svc->child_weights[i];
        if (weight <= 0)
            continue;
        cur[i] += weight;
        total += weight;
        if (best < 0 || cur[i] > cur[best])
            best = (int)i;
    }
    if (best >= 0)
        cur[best] -= total;
    return best;
}

const struct table_tcp_service *tcp_balancer_pick(const struct table_tcp_service *svc, uint32_t w)
{
    for (int depth = 0; svc != NULL && svc->n_children != 0; depth++) {
        if (depth == TCP_BALANCER_MAX_DEPTH)
            return NULL;
        int i = pick_child(svc, w);
        svc = i < 0 ? NULL : svc->children[i];
    }
    return svc;
}
