/*
 * Smooth WRR (see balancer.h): every pick adds each candidate's weight to
 * its current value, takes the largest, and subtracts the total from it.
 * Over a cycle each server is picked in proportion to its weight, evenly
 * interleaved (5,1,1 gives a a b a c a a, not a a a a a b c).
 */
#include "balancer.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "registry.h"

static bool was_tried(const struct balancer_tried *t, uint32_t i)
{
    return i < 64 && (t->mask >> i & 1);
}

static __thread uint64_t rng_state;

static uint64_t rng_next(void)
{
    if (rng_state == 0)
        rng_state = (uint64_t)(uintptr_t)&rng_state ^ 0x9e3779b97f4a7c15ULL;
    rng_state ^= rng_state << 13; /* xorshift64: per thread, no lock */
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

uint64_t balancer_client_key(const uint8_t ip16[16])
{
    uint64_t a, b;
    memcpy(&a, ip16, 8);
    memcpy(&b, ip16 + 8, 8);
    return mix64(a ^ mix64(b));
}

/* Weighted rendezvous score of candidate <i> for <key>: weight / -ln(u),
 * u uniform in (0, 1) from the hash (the largest wins). */
static double hrw_score(uint64_t key, uint32_t i, int weight)
{
    double u = ((double)(mix64(key ^ ((uint64_t)i + 1) * 0x9e3779b97f4a7c15ULL) >> 11) + 0.5) / 9007199254740992.0;
    return (double)weight / -log(u);
}

static uint64_t in_flight(const struct server *s)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < s->n_workers; w++)
        n += __atomic_load_n(&s->workers[w].in_flight, __ATOMIC_RELAXED);
    return n;
}

static bool candidate(const struct table_service *svc, uint32_t i, int64_t now_ms, const struct balancer_tried *tried,
                      bool require_up)
{
    const struct table_server *ts = &svc->servers[i];
    return ts->weight > 0 && !was_tried(tried, i) && server_healthy(ts->srv) &&
           (!require_up || server_available(ts->srv, now_ms));
}

/* p2c: two candidates at random, the one with fewer requests in flight. */
static int pick_p2c(const struct table_service *svc, int64_t now_ms, const struct balancer_tried *tried, bool require_up)
{
    uint32_t n = svc->n_servers, ok[BALANCER_MAX_TRIES], m = 0;
    for (uint32_t i = 0; i < n && m < BALANCER_MAX_TRIES; i++)
        if (candidate(svc, i, now_ms, tried, require_up))
            ok[m++] = i;
    if (m == 0)
        return -1;
    uint32_t a = ok[rng_next() % m], b = ok[rng_next() % m];
    return in_flight(svc->servers[b].srv) < in_flight(svc->servers[a].srv) ? (int)b : (int)a;
}

static int pick_hrw(const struct table_service *svc, int64_t now_ms, const struct balancer_tried *tried, bool require_up)
{
    int best = -1;
    double best_score = 0;
    for (uint32_t i = 0; i < svc->n_servers; i++) {
        if (!candidate(svc, i, now_ms, tried, require_up))
            continue;
        double sc = hrw_score(tried->key, i, svc->servers[i].weight);
        if (best < 0 || sc > best_score)
            best = (int)i, best_score = sc;
    }
    return best;
}

/* leasttime: the lowest smoothed time to first byte times (1 + requests in
 * flight), over the weight; ties (and servers not measured yet, which count
 * as fastest) go to the first, so new servers get tried. */
static int pick_leasttime(const struct table_service *svc, int64_t now_ms, const struct balancer_tried *tried, bool require_up)
{
    int best = -1;
    double best_score = 0;
    for (uint32_t i = 0; i < svc->n_servers; i++) {
        if (!candidate(svc, i, now_ms, tried, require_up))
            continue;
        const struct server *s = svc->servers[i].srv;
        double ttfb = (double)atomic_load_explicit(&((struct server *)s)->ttfb_ewma_us, memory_order_relaxed);
        double score = ttfb * (1.0 + (double)in_flight(s)) / (double)svc->servers[i].weight;
        if (best < 0 || score < best_score)
            best = (int)i, best_score = score;
    }
    return best;
}

static int pick_among(const struct table_service *svc, uint32_t w, int64_t now_ms, const struct balancer_tried *tried,
                      bool require_up)
{
    if (svc->strategy == STRATEGY_LEASTTIME && svc->n_servers > 1)
        return pick_leasttime(svc, now_ms, tried, require_up);
    if (svc->strategy == STRATEGY_P2C && svc->n_servers > 1)
        return pick_p2c(svc, now_ms, tried, require_up);
    if (svc->strategy == STRATEGY_HRW && svc->n_servers > 1)
        return pick_hrw(svc, now_ms, tried, require_up);
    int32_t single = 0, *cur = svc->wrr ? svc->wrr + (size_t)w * svc->wrr_stride : &single;
    int64_t total = 0;
    int best = -1;
    for (uint32_t i = 0; i < svc->n_servers; i++) {
        const struct table_server *ts = &svc->servers[i];
        if (ts->weight <= 0 || was_tried(tried, i))
            continue;
        if (!server_healthy(ts->srv))
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
        if (svc->servers[j].weight > 0 && server_healthy(svc->servers[j].srv) &&
            !was_tried(tried, j))
            return BALANCER_EXHAUSTED;
    /* nothing untried and healthy: distinguish "all unhealthy" from "all tried" */
    for (uint32_t j = 0; j < svc->n_servers; j++)
        if (svc->servers[j].weight > 0 && server_healthy(svc->servers[j].srv))
            return BALANCER_EXHAUSTED;
    return BALANCER_NONE_HEALTHY;
}

static bool can_answer(const struct table_service *s)
{
    /* empty_status: a share that answers that status (the Gateway API's 500) */
    return s->n_servers > 0 || s->n_children > 0 || s->main != NULL || s->empty_status != 0;
}

int balancer_pick_child(const struct table_service *svc, uint32_t w, int64_t now_ms)
{
    int32_t *cur = svc->wrr + (size_t)w * svc->wrr_stride;
    int64_t total = 0;
    int best = -1;
    for (uint32_t i = 0; i < svc->n_children; i++) {
        if (svc->child_weights[i] <= 0 || !can_answer(svc->children[i]) ||
            (svc->child_health && !balancer_service_up(svc->children[i], now_ms)))
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

int balancer_pick_child_hrw(const struct table_service *svc, uint64_t key)
{
    int best = -1;
    double best_score = 0;
    for (uint32_t i = 0; i < svc->n_children; i++) {
        if (svc->child_weights[i] <= 0 || !can_answer(svc->children[i]))
            continue;
        double sc = hrw_score(key, i, svc->child_weights[i]);
        if (best < 0 || sc > best_score)
            best = (int)i, best_score = sc;
    }
    return best;
}

bool balancer_service_up(const struct table_service *svc, int64_t now_ms)
{
    for (int depth = 0; svc != NULL && depth < 16; depth++) {
        if (svc->main != NULL) {
            svc = svc->main;
            continue;
        }
        if (svc->n_children != 0) {
            for (uint32_t i = 0; i < svc->n_children; i++)
                if ((svc->failover || svc->child_weights[i] > 0) && balancer_service_up(svc->children[i], now_ms))
                    return true;
            return false;
        }
        for (uint32_t i = 0; i < svc->n_servers; i++)
            if (svc->servers[i].weight > 0 && server_healthy(svc->servers[i].srv) &&
                server_available(svc->servers[i].srv, now_ms))
                return true;
        return false;
    }
    return false;
}
