/*
 * In-flight counters (see inflight_table.h).
 */
#include "inflight_table.h"

#include <stdbool.h>
#include <stdlib.h>

#define COUNT_MASK INFLIGHT_MAX

enum take { TAKEN, LIMIT, ABSENT };

_Atomic uint64_t *inflight_table_new(void)
{
    _Atomic uint64_t *t = calloc(INFLIGHT_SLOTS, sizeof(*t));
    if (t == NULL)
        abort();
    return t;
}

static _Atomic uint64_t *slot_at(_Atomic uint64_t *slots, uint64_t h, size_t i)
{
    return &slots[(h + i) & (INFLIGHT_SLOTS - 1)];
}

/* Adds one to <s> if it is held by <tag> and below <amount>. */
static enum take take_own(_Atomic uint64_t *s, uint64_t amount, uint64_t tag)
{
    uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
    while ((w & ~COUNT_MASK) == tag && (w & COUNT_MASK) != 0) {
        if ((w & COUNT_MASK) >= amount)
            return LIMIT;
        if (atomic_compare_exchange_weak_explicit(s, &w, w + 1, memory_order_acq_rel, memory_order_relaxed))
            return TAKEN;
    }
    return ABSENT;
}

static bool held_elsewhere(_Atomic uint64_t *slots, uint64_t h, uint64_t tag, _Atomic uint64_t *mine)
{
    for (size_t i = 0; i < INFLIGHT_PROBE; i++) {
        _Atomic uint64_t *s = slot_at(slots, h, i);
        uint64_t w = atomic_load_explicit(s, memory_order_acquire);
        if (s != mine && (w & ~COUNT_MASK) == tag && (w & COUNT_MASK) != 0)
            return true;
    }
    return false;
}

_Atomic uint64_t *inflight_acquire(_Atomic uint64_t *slots, uint64_t amount, uint64_t h)
{
    if (amount == 0)
        return NULL;
    uint64_t tag = h & ~COUNT_MASK;
    if (tag == 0)
        tag = 1ULL << INFLIGHT_COUNT_BITS;
    for (int attempt = 0; attempt < 4; attempt++) {
        /* the source's own slot, wherever it is among the neighbours */
        for (size_t i = 0; i < INFLIGHT_PROBE; i++) {
            enum take t = take_own(slot_at(slots, h, i), amount, tag);
            if (t != ABSENT)
                return t == TAKEN ? slot_at(slots, h, i) : NULL;
        }
        /* none: the first free one */
        for (size_t i = 0; i < INFLIGHT_PROBE; i++) {
            _Atomic uint64_t *s = slot_at(slots, h, i);
            uint64_t w = atomic_load_explicit(s, memory_order_relaxed);
            if ((w & COUNT_MASK) != 0)
                continue;
            if (!atomic_compare_exchange_strong_explicit(s, &w, tag | 1, memory_order_acq_rel, memory_order_relaxed)) {
                enum take t = take_own(s, amount, tag); /* another holder of ours took it first */
                if (t == ABSENT)
                    continue;
                return t == TAKEN ? s : NULL;
            }
            /* a concurrent first holder of ours may have claimed another
             * slot: keep one counter per source, or start again */
            if (!held_elsewhere(slots, h, tag, s))
                return s;
            atomic_fetch_sub_explicit(s, 1, memory_order_acq_rel);
            break;
        }
    }
    return NULL;
}

void inflight_release(_Atomic uint64_t *slot)
{
    atomic_fetch_sub_explicit(slot, 1, memory_order_acq_rel);
}
