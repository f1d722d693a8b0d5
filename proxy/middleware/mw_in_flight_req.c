/*
 * InFlightReq (Traefik): at most <amount> requests of one source
 * (sourceCriterion; default the request's Host, as in Traefik) under way at
 * once; the others are answered 429 with "max connections reached: N"
 * (Traefik's body, from oxy's connlimit). amount 0 refuses every request,
 * as Traefik does.
 *
 * The counters are shared by every worker without a lock: a fixed table of
 * IF_SLOTS 64-bit words (IF_SLOTS * 8 bytes per middleware: 128 KiB), each
 * a (40-bit source tag, 24-bit count) pair changed by compare-and-swap. A
 * source's slot is found among IF_PROBE neighbours; a slot whose count is
 * 0 may be taken by another source. A request's slot is released when its
 * pool is disposed, i.e. when the request ends however it ends. Two sources
 * whose tags collide share a counter (stricter); when every neighbour is
 * held by other sources the request is refused (fail closed).
 */
#include "ip_strategy.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IF_SLOTS 16384 /* a power of two */
#define IF_PROBE 32
#define COUNT_BITS 24
#define COUNT_MASK ((1ULL << COUNT_BITS) - 1)

struct in_flight {
    struct source_criterion src;
    uint64_t amount;
    uint64_t seed;
    _Atomic uint64_t *slots;
    const char *body; /* "max connections reached: N" */
};

static void free_slots(void *p)
{
    free(p);
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct in_flight *c = arena_alloc(a, sizeof(*c));
    memset(c, 0, sizeof(*c));
    int64_t amount;
    if (mw_opt_int(o, "amount", 0, 0, (int64_t)COUNT_MASK, &amount, d) != 0 ||
        source_criterion_build(a, o, SOURCE_HOST, &c->src, d) != 0)
        return -1;
    c->amount = (uint64_t)amount;
    c->body = arena_printf(a, "max connections reached: %lld", (long long)amount);
    c->slots = calloc(IF_SLOTS, sizeof(*c->slots));
    if (c->slots == NULL)
        abort();
    arena_on_free(a, free_slots, c->slots);
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ULL;
    *cfg = c;
    return 0;
}

enum take { TAKEN, LIMIT, ABSENT };

/* Adds one to <s> if it belongs to <tag> and is below the limit. */
static enum take take_own(const struct in_flight *c, _Atomic uint64_t *s, uint64_t tag)
{
    uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
    while ((w & ~COUNT_MASK) == tag && (w & COUNT_MASK) != 0) {
        if ((w & COUNT_MASK) >= c->amount)
            return LIMIT;
        if (atomic_compare_exchange_weak_explicit(s, &w, w + 1, memory_order_acq_rel, memory_order_relaxed))
            return TAKEN;
    }
    return ABSENT;
}

static bool held_elsewhere(const struct in_flight *c, uint64_t h, uint64_t tag, _Atomic uint64_t *mine)
{
    for (size_t i = 0; i < IF_PROBE; i++) {
        _Atomic uint64_t *s = &c->slots[(h + i) & (IF_SLOTS - 1)];
        uint64_t w = atomic_load_explicit(s, memory_order_acquire);
        if (s != mine && (w & ~COUNT_MASK) == tag && (w & COUNT_MASK) != 0)
            return true;
    }
    return false;
}

/* One more request of source <h>: its slot, or NULL when over the limit
 * (or no slot is free). Any thread. */
static _Atomic uint64_t *if_acquire(const struct in_flight *c, uint64_t h)
{
    if (c->amount == 0)
        return NULL;
    uint64_t tag = h & ~COUNT_MASK;
    if (tag == 0)
        tag = 1ULL << COUNT_BITS;
    for (int attempt = 0; attempt < 4; attempt++) {
        for (size_t i = 0; i < IF_PROBE; i++) {
            enum take t = take_own(c, &c->slots[(h + i) & (IF_SLOTS - 1)], tag);
            if (t != ABSENT)
                return t == TAKEN ? &c->slots[(h + i) & (IF_SLOTS - 1)] : NULL;
        }
        for (size_t i = 0; i < IF_PROBE; i++) {
            _Atomic uint64_t *s = &c->slots[(h + i) & (IF_SLOTS - 1)];
            uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
            if ((w & COUNT_MASK) != 0)
                continue;
            if (!atomic_compare_exchange_strong_explicit(s, &w, tag | 1, memory_order_acq_rel, memory_order_relaxed)) {
                enum take t = take_own(c, s, tag); /* another request of ours took it first */
                if (t == ABSENT)
                    continue;
                return t == TAKEN ? s : NULL;
            }
            /* a concurrent first request of ours may have claimed another
             * slot: keep one counter per source */
            if (!held_elsewhere(c, h, tag, s))
                return s;
            atomic_fetch_sub_explicit(s, 1, memory_order_acq_rel);
            break;
        }
    }
    return NULL;
}

static void if_release(_Atomic uint64_t *s)
{
    atomic_fetch_sub_explicit(s, 1, memory_order_acq_rel);
}

struct if_hold {
    _Atomic uint64_t *slot;
};

static void on_hold_dispose(void *p)
{
    if_release(((struct if_hold *)p)->slot);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct in_flight *c = cfg;
    char buf[IP_STRATEGY_TEXT];
    h2o_iovec_t key = source_criterion_key(&c->src, run, buf);
    _Atomic uint64_t *slot = if_acquire(c, source_hash(c->seed, key));
    if (slot == NULL) {
        mw_answer(run, 429, "Too Many Requests", c->body, false);
        return MW_ANSWERED;
    }
    struct if_hold *hold = h2o_mem_alloc_shared(&run->req->pool, sizeof(*hold), on_hold_dispose);
    hold->slot = slot;
    return MW_NEXT;
}

const struct mw_type mw_in_flight_req = {"inFlightReq", build, on_request, NULL};
