/*
 * Smooth WRR (see balancer.h): every pick adds each candidate's weight to
 * its current value, takes the largest, and subtracts the total from it.
 * Over a cycle each server is picked in proportion to its weight, evenly
 * interleaved (5,1,1 gives a a b a c a a, not a a a a a b c).
 */
#include "balancer.h"

#include <stdatomic.h>

#include "registry.h"

static bool was_tried(const struct balancer_tried *t, uint32_t i)
{
    return i < 64 && (t->mask >> i & 1);
}

static int pick_among(const struct table_service *svc, uint32_t w, int64_t now_ms, const struct balancer_tried *tried,
                      bool require_up)
{
    int32_t single = 0, *cur = svc->wrr ? svc->wrr + (size_t)w * svc->wrr_stride : &single;
    int64_t total = 0;
    int best = -1;
    for (uint32_t i = 0; i < svc->n_servers; i++) {
        const struct table_server *ts = &svc->servers[i];
        if (ts->weight <= 0 || was_tried(tried, i))
            continue;
        if (!atomic_load_explicit(&ts->srv->healthy, memory_order_relaxed))
            continue;
        if (require_up && !server_available(ts->srv, now_ms))
            continue;
        cur[i] += ts->weight;
        total += ts->weight;
        if (best < 0 || cur[i] > cur[best])
            best = (int)i;
    }
    if (best >= 0)
        cur[best] -= (int32_t)total;
    return best;
}

enum balancer_result balancer_pick(const struct table_service *svc, uint32_t w, int64_t now_ms,
                                   const struct balancer_tried *tried, uint32_t *out)
{
    int i = pick_among(svc, w, now_ms, tried, true);
    if (i < 0)
        i = pick_among(svc, w, now_ms, tried, false);
    if (i >= 0) {
        *out = (uint32_t)i;
        return BALANCER_OK;
    }
    for (uint32_t j = 0; j < svc->n_servers; j++)
        if (svc->servers[j].weight > 0 && atomic_load_explicit(&svc->servers[j].srv->healthy, memory_order_relaxed) &&
            !was_tried(tried, j))
            return BALANCER_EXHAUSTED;
    /* nothing untried and healthy: distinguish "all unhealthy" from "all tried" */
    for (uint32_t j = 0; j < svc->n_servers; j++)
        if (svc->servers[j].weight > 0 && atomic_load_explicit(&svc->servers[j].srv->healthy, memory_order_relaxed))
            return BALANCER_EXHAUSTED;
    return BALANCER_NONE_HEALTHY;
}

static bool can_answer(const struct table_service *s)
{
    return s->n_servers > 0 || s->n_children > 0 || s->main != NULL;
}

int balancer_pick_child(const struct table_service *svc, uint32_t w)
{
    int32_t *cur = svc->wrr + (size_t)w * svc->wrr_stride;
    int64_t total = 0;
    int best = -1;
    for (uint32_t i = 0; i < svc->n_children; i++) {
        if (svc->child_weights[i] <= 0 || !can_answer(svc->children[i]))
            continue;
        cur[i] += svc->child_weights[i];
        total += svc->child_weights[i];
        if (best < 0 || cur[i] > cur[best])
            best = (int)i;
    }
    if (best >= 0)
        cur[best] -= (int32_t)total;
    return best;
}
