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
 */
#ifndef GANTRY_UDP_STATS_H
#define GANTRY_UDP_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

struct udp_stats_slot {
    _Atomic uint64_t sessions, in, out, bytes_in, bytes_out;
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

/* Admin thread: every service's sums, by name; *out is an array to free
 * with udp_stats_collect_free. Returns how many. */
size_t udp_stats_collect(struct udp_stats_total **out);
void udp_stats_collect_free(struct udp_stats_total *all, size_t n);

#endif
