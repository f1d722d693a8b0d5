/*
 * Per UDP service counters (what the routers using the service relayed),
 * kept across tables by the service's name: a table holds a reference on
 * the counters of each service its UDP routers use, and a service that
 * stays from one table to the next keeps counting.
 *
 * Threads: the watcher acquires and releases (compile, table_free); each
 * worker writes its own slot with relaxed stores through its current
 * table; the admin thread reads the list under a mutex only the watcher
 * and admin take (never a worker).
 *
 * A session counts as open for the service it started with until it ends
 * (open: +1 and -1 in its worker's slot), even if its table is gone: the
 * last release of counters with sessions still open parks them on a
 * second list, freed by a later acquire, release or collect once every
 * session has ended (no worker ever frees or locks).
 */
#ifndef GANTRY_UDP_STATS_H
#define GANTRY_UDP_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct udp_stats_slot {
    _Atomic uint64_t sessions, in, out, bytes_in, bytes_out;
    _Atomic uint64_t open; /* sessions started less those ended (wraps per slot; the sum does not) */
} __attribute__((aligned(64)));

struct udp_stats {
    struct udp_stats *next; /* the list, under the mutex */
    int refs;               /* tables holding it; changed under the mutex */
    char *name;             /* name@provider */
    uint32_t n_workers;
    struct udp_stats_slot *w; /* [n_workers] */
};

/* Sums over the workers. */
struct udp_stats_total {
    char *name; /* udp_stats_collect: owned by the array */
    uint64_t sessions, in, out, bytes_in, bytes_out;
    uint64_t open; /* sessions open now */
};

/* Watcher thread: the counters of service <name> (found or created), with a reference. */
struct udp_stats *udp_stats_acquire(const char *name, uint32_t n_workers);
/* Watcher thread: drops a reference; the last one frees. NULL is ignored. */
void udp_stats_release(struct udp_stats *s);

/* Worker <w>'s thread: adds <d> to one of its counters (single writer, no locked add). */
static inline void udp_stats_add(_Atomic uint64_t *c, uint64_t d)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + d, memory_order_relaxed);
}

/* Worker <w>'s thread: a session of <s> started (+1) or ended (-1). After
 * its last -1 the worker must not touch <s> again (it may be freed). */
static inline void udp_stats_open(struct udp_stats *s, uint32_t w, int d)
{
    _Atomic uint64_t *c = &s->w[w].open;
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)(int64_t)d, memory_order_release);
}

/* Admin thread: every service's sums, by name; *out is an array to free
 * with udp_stats_collect_free. Returns how many. */
size_t udp_stats_collect(struct udp_stats_total **out);
void udp_stats_collect_free(struct udp_stats_total *all, size_t n);

#endif
