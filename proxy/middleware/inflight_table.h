/*
 * A lock-free table of in-flight counters keyed by a source hash, shared
 * by every worker: HTTP inFlightReq (per request) and TCP inFlightConn (per
 * connection).
 *
 * INFLIGHT_SLOTS 64-bit words (128 KiB), each a (40-bit source tag,
 * 24-bit count) pair changed by compare-and-swap. A source's slot is found
 * among INFLIGHT_PROBE neighbours of its hash; a slot whose count is 0 may
 * be taken by another source. Sources whose tags collide share a counter
 * (stricter); when every neighbour is held by other sources the acquire
 * fails (fail closed).
 */
#ifndef GANTRY_MW_INFLIGHT_TABLE_H
#define GANTRY_MW_INFLIGHT_TABLE_H

#include <stdatomic.h>
#include <stdint.h>

#define INFLIGHT_SLOTS 16384 /* a power of two */
#define INFLIGHT_PROBE 32
#define INFLIGHT_COUNT_BITS 24
#define INFLIGHT_MAX ((1ULL << INFLIGHT_COUNT_BITS) - 1) /* the largest amount */

/* A zeroed table (free with free()). */
_Atomic uint64_t *inflight_table_new(void);
/* One more holder for source <h>: its slot, or NULL when <amount> are
 * already held (or no slot is free). Any thread. */
_Atomic uint64_t *inflight_acquire(_Atomic uint64_t *slots, uint64_t amount, uint64_t h);
/* Drops a holder taken by inflight_acquire. Any thread. */
void inflight_release(_Atomic uint64_t *slot);

#endif
