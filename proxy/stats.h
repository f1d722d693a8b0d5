/*
 * Request statistics for routers, services and entry points, kept per
 * worker and summed when read: the request path does plain loads and
 * stores on its own cache lines (no lock, no locked instruction), readers
 * (the admin thread) do relaxed atomic loads.
 *
 * A stats object is found by (kind, name) in a registry owned by the
 * watcher thread and shared by every table that names it, so counters
 * survive configuration changes, as Prometheus expects. Tables (and status
 * snapshots) hold references; the last one frees it.
 *
 * A worker's block is allocated by that worker the first time it counts
 * something, so a router or service that serves nothing costs a few dozen
 * bytes, not a block per worker (10,000 idle routes: ~0.5 MB, not 15 MB).
 */
#ifndef GANTRY_STATS_H
#define GANTRY_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_BUCKETS 12      /* request duration histogram, see stats_bucket_bounds */
#define STATS_CODE_SLOTS 24   /* distinct (status, method) pairs tracked per worker */
#define STATS_GRPC_CODES 18   /* grpc-status 0..16, then any other value */

enum stats_method { M_GET, M_HEAD, M_POST, M_PUT, M_DELETE, M_PATCH, M_OPTIONS, M_OTHER, M_COUNT };

struct stats_code_slot {
    uint16_t key; /* status * 8 + method; 0: free */
    uint64_t n;
};

/* One worker's counters (written only by that worker). */
struct stats_block {
    uint64_t requests, bytes_in, bytes_out;
    uint64_t upstream_errors, upstream_timeouts;
    uint64_t dropped;   /* mirrors: copies not sent (the shadow's queue was full) */
    uint64_t refused;   /* mirrors: copies the mirror's own middlewares answered (not sent) */
    uint64_t in_flight; /* mirrors: copies under way (a gauge) */
    uint64_t classes[6]; /* 1xx..5xx, then anything else */
    uint64_t hist[STATS_BUCKETS];
    uint64_t duration_us_sum;
    /* (status, method) counts: code_n[i] counts code_keys[i] (status * 8 +
     * method; 0: free); apart, so the keys scanned share a cache line */
    uint16_t code_keys[STATS_CODE_SLOTS];
    uint64_t code_n[STATS_CODE_SLOTS];
    uint64_t codes_overflow;
    uint64_t grpc[STATS_GRPC_CODES]; /* gRPC calls by grpc-status (0..16, then anything else) */
} __attribute__((aligned(64)));

enum stats_kind { STATS_ROUTER, STATS_SERVICE, STATS_ENTRYPOINT, STATS_MIRROR };

struct stats {
    enum stats_kind kind;
    _Atomic int refs;
    uint32_t n_workers;
    const char *name; /* stored after blocks[] */
    /* worker w's counters, written only by w; NULL until w counts something
     * (then published with release: readers load with acquire) */
    struct stats_block *_Atomic blocks[];
};

/* Sum of every worker's block. */
struct stats_total {
    uint64_t requests, bytes_in, bytes_out, upstream_errors, upstream_timeouts, dropped, refused, in_flight;
    uint64_t classes[6];
    uint64_t hist[STATS_BUCKETS];
    uint64_t duration_us_sum;
    struct stats_code_slot codes[STATS_CODE_SLOTS * 4];
    size_t n_codes;
    uint64_t codes_overflow;
    uint64_t grpc[STATS_GRPC_CODES];
};

void stats_init(uint32_t n_workers);
void stats_shutdown(void);

/* Watcher thread: find or create, taking a reference. */
struct stats *stats_acquire(enum stats_kind kind, const char *name);
/* Watcher thread: drop a reference (the last frees; only when no worker
 * can still be writing it, i.e. with the table that held it). */
void stats_release(struct stats *s);
static inline void stats_ref(struct stats *s)
{
    atomic_fetch_add(&s->refs, 1);
}

/* Upper bounds of the histogram buckets, in seconds (the last is +Inf). */
extern const double stats_bucket_bounds[STATS_BUCKETS];

enum stats_method stats_method_of(const char *m, size_t len);
const char *stats_method_name(enum stats_method m);

/* Worker <w>: one finished request. */
void stats_record(struct stats *s, uint32_t w, int status, enum stats_method method, uint64_t bytes_in, uint64_t bytes_out,
                  uint64_t duration_us);
void stats_upstream_error(struct stats *s, uint32_t w, bool timeout);
/* Worker <w>: a gRPC call ended with grpc-status <code>. */
void stats_grpc(struct stats *s, uint32_t w, int code);
/* Worker <w>: a mirror copy that was not sent (queue full). */
void stats_dropped(struct stats *s, uint32_t w);
/* Worker <w>: a mirror copy its middlewares answered (an allow-list, a
 * redirect, a rate limit): not sent. */
void stats_refused(struct stats *s, uint32_t w);
/* Worker <w>: its block, allocated on first use (mirrors keep a pointer to
 * its in_flight gauge). */
struct stats_block *stats_block_slow(struct stats *s, uint32_t w);
static inline struct stats_block *stats_block(struct stats *s, uint32_t w)
{
    /* only worker w stores this slot: a relaxed load sees its own store */
    struct stats_block *b = atomic_load_explicit(&s->blocks[w], memory_order_relaxed);
    return __builtin_expect(b != NULL, 1) ? b : stats_block_slow(s, w);
}
/* Worker blocks allocated so far, all objects (tests and memory checks). */
size_t stats_blocks_live(void);

/* Any thread: a consistent-enough sum (each counter read once). */
void stats_sum(const struct stats *s, struct stats_total *t);
/* Quantile q (0..1) of the duration, from the histogram, in seconds. */
double stats_quantile(const struct stats_total *t, double q);

#endif
