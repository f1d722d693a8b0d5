/*
 * Request statistics (see stats.h). Writers use counter_add: a relaxed
 * load and store, which is a plain add on x86 because each counter has a
 * single writer (its worker).
 */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/arena.h"
#include "../common/strmap.h"

const double stats_bucket_bounds[STATS_BUCKETS] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 1e300};

/* a name (in the stats object) -> struct stats map a kind */
static struct strmap registry[STATS_MIRROR + 1] = {[0 ... STATS_MIRROR] = {.borrowed_keys = true}};
static uint32_t n_workers = 1;
/* The registry is the watcher thread's: acquisitions happen while it
 * compiles, releases when it frees a table or a status snapshot (both are
 * freed there). Workers and the admin thread only read counters. */

static inline void counter_add(uint64_t *c, uint64_t v)
{
    __atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}

static inline uint64_t counter_get(const uint64_t *c)
{
    return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void stats_init(uint32_t workers)
{
    n_workers = workers ? workers : 1;
}

static _Atomic size_t blocks_live;

static void stats_free(struct stats *s)
{
    for (uint32_t w = 0; w < s->n_workers; w++) {
        struct stats_block *b = atomic_load_explicit(&s->blocks[w], memory_order_acquire);
        if (b != NULL) {
            free(b);
            atomic_fetch_sub_explicit(&blocks_live, 1, memory_order_relaxed);
        }
    }
    free(s);
}

static void stats_free_any(void *s)
{
    stats_free(s);
}

void stats_shutdown(void)
{
    for (size_t k = 0; k < sizeof(registry) / sizeof(registry[0]); k++)
        strmap_free(&registry[k], stats_free_any);
}

struct stats *stats_acquire(enum stats_kind kind, const char *name)
{
    struct stats *known = strmap_get(&registry[kind], name);
    if (known != NULL) {
        atomic_fetch_add(&known->refs, 1);
        return known;
    }
    /* one allocation: the header, a block pointer per worker, the name */
    size_t head = sizeof(struct stats) + sizeof(struct stats_block *) * n_workers, len = strlen(name) + 1;
    struct stats *s = mem_calloc(1, head + len);
    s->kind = kind;
    s->n_workers = n_workers;
    memcpy((char *)s + head, name, len);
    s->name = (char *)s + head;
    atomic_init(&s->refs, 1);
    *strmap_put(&registry[kind], s->name, NULL) = s; /* the map borrows s->name */
    return s;
}

struct stats_block *stats_block_slow(struct stats *s, uint32_t w)
{
    struct stats_block *b = aligned_alloc(64, sizeof(*b));
    if (b == NULL)
        abort();
    memset(b, 0, sizeof(*b));
    atomic_fetch_add_explicit(&blocks_live, 1, memory_order_relaxed);
    atomic_store_explicit(&s->blocks[w], b, memory_order_release); /* zeroes visible before the pointer */
    return b;
}

size_t stats_blocks_live(void)
{
    return atomic_load_explicit(&blocks_live, memory_order_relaxed);
}

void stats_release(struct stats *s)
{
    if (atomic_fetch_sub(&s->refs, 1) == 1) {
        strmap_del(&registry[s->kind], s->name);
        stats_free(s);
    }
}

enum stats_method stats_method_of(const char *m, size_t len)
{
    switch (len) { /* by length first: one compare for the usual methods */
    case 3:
        return memcmp(m, "GET", 3) == 0 ? M_GET : memcmp(m, "PUT", 3) == 0 ? M_PUT : M_OTHER;
    case 4:
        return memcmp(m, "POST", 4) == 0 ? M_POST : memcmp(m, "HEAD", 4) == 0 ? M_HEAD : M_OTHER;
    case 5:
        return memcmp(m, "PATCH", 5) == 0 ? M_PATCH : M_OTHER;
    case 6:
        return memcmp(m, "DELETE", 6) == 0 ? M_DELETE : M_OTHER;
    case 7:
        return memcmp(m, "OPTIONS", 7) == 0 ? M_OPTIONS : M_OTHER;
    default:
        return M_OTHER;
    }
}

const char *stats_method_name(enum stats_method m)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"};
    return m < M_COUNT ? names[m] : "OTHER";
}

__attribute__((always_inline)) static inline void record(struct stats_block *b, int status, enum stats_method method, uint64_t bytes_in, uint64_t bytes_out,
                          uint64_t duration_us)
{
    counter_add(&b->requests, 1);
    counter_add(&b->bytes_in, bytes_in);
    counter_add(&b->bytes_out, bytes_out);
    int cls = status >= 100 && status < 600 ? status / 100 - 1 : 5;
    counter_add(&b->classes[cls], 1);
    double secs = (double)duration_us / 1e6;
    int k = 0;
    while (k < STATS_BUCKETS - 1 && secs > stats_bucket_bounds[k])
        k++;
    counter_add(&b->hist[k], 1);
    counter_add(&b->duration_us_sum, duration_us);
    uint16_t key = (uint16_t)((status > 0 && status < 1000 ? status : 999) * 8 + (int)method);
    for (int i = 0; i < STATS_CODE_SLOTS; i++) {
        uint16_t k2 = __atomic_load_n(&b->code_keys[i], __ATOMIC_RELAXED);
        if (k2 == key) {
            counter_add(&b->code_n[i], 1);
            return;
        }
        if (k2 == 0) { /* claim the slot: count first, then publish the key */
            counter_add(&b->code_n[i], 1);
            __atomic_store_n(&b->code_keys[i], key, __ATOMIC_RELEASE);
            return;
        }
    }
    counter_add(&b->codes_overflow, 1);
}

/* A worker's first request on this object: its block, then the count (a
 * tail call from stats_record, which so stays free of register saves). */
__attribute__((noinline, cold)) static void record_first(struct stats *s, uint32_t w, int status, enum stats_method method,
                                                        uint64_t bytes_in, uint64_t bytes_out, uint64_t duration_us)
{
    record(stats_block_slow(s, w), status, method, bytes_in, bytes_out, duration_us);
}

void stats_record(struct stats *s, uint32_t w, int status, enum stats_method method, uint64_t bytes_in, uint64_t bytes_out,
                  uint64_t duration_us)
{
    struct stats_block *b = atomic_load_explicit(&s->blocks[w], memory_order_relaxed); /* only worker w stores it */
    if (__builtin_expect(b == NULL, 0)) {
        record_first(s, w, status, method, bytes_in, bytes_out, duration_us);
        return;
    }
    record(b, status, method, bytes_in, bytes_out, duration_us);
}

void stats_upstream_error(struct stats *s, uint32_t w, bool timeout)
{
    struct stats_block *b = stats_block(s, w);
    counter_add(timeout ? &b->upstream_timeouts : &b->upstream_errors, 1);
}

void stats_grpc(struct stats *s, uint32_t w, int code)
{
    counter_add(&stats_block(s, w)->grpc[code >= 0 && code < STATS_GRPC_CODES - 1 ? code : STATS_GRPC_CODES - 1], 1);
}

void stats_dropped(struct stats *s, uint32_t w)
{
    counter_add(&stats_block(s, w)->dropped, 1);
}

void stats_refused(struct stats *s, uint32_t w)
{
    counter_add(&stats_block(s, w)->refused, 1);
}

void stats_sum(const struct stats *s, struct stats_total *t)
{
    memset(t, 0, sizeof(*t));
    for (uint32_t w = 0; w < s->n_workers; w++) {
        const struct stats_block *b = atomic_load_explicit(&s->blocks[w], memory_order_acquire);
        if (b == NULL) /* that worker never counted anything here */
            continue;
        t->requests += counter_get(&b->requests);
        t->bytes_in += counter_get(&b->bytes_in);
        t->bytes_out += counter_get(&b->bytes_out);
        t->upstream_errors += counter_get(&b->upstream_errors);
        t->upstream_timeouts += counter_get(&b->upstream_timeouts);
        for (int k = 0; k < STATS_GRPC_CODES; k++)
            t->grpc[k] += counter_get(&b->grpc[k]);
        t->dropped += counter_get(&b->dropped);
        t->refused += counter_get(&b->refused);
        t->in_flight += counter_get(&b->in_flight);
        for (int i = 0; i < 6; i++)
            t->classes[i] += counter_get(&b->classes[i]);
        for (int i = 0; i < STATS_BUCKETS; i++)
            t->hist[i] += counter_get(&b->hist[i]);
        t->duration_us_sum += counter_get(&b->duration_us_sum);
        t->codes_overflow += counter_get(&b->codes_overflow);
        for (int i = 0; i < STATS_CODE_SLOTS; i++) {
            uint16_t key = __atomic_load_n(&b->code_keys[i], __ATOMIC_ACQUIRE);
            if (key == 0)
                break;
            uint64_t n = counter_get(&b->code_n[i]);
            size_t j = 0;
            while (j < t->n_codes && t->codes[j].key != key)
                j++;
            if (j == t->n_codes) {
                if (t->n_codes == sizeof(t->codes) / sizeof(t->codes[0])) {
                    t->codes_overflow += n;
                    continue;
                }
                t->codes[t->n_codes++] = (struct stats_code_slot){key, 0};
            }
            t->codes[j].n += n;
        }
    }
}

double stats_quantile(const struct stats_total *t, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < STATS_BUCKETS; i++)
        total += t->hist[i];
    if (total == 0)
        return 0;
    double want = q * (double)total, seen = 0, lower = 0;
    for (int i = 0; i < STATS_BUCKETS; i++) {
        double upper = i == STATS_BUCKETS - 1 ? stats_bucket_bounds[STATS_BUCKETS - 2] * 2 : stats_bucket_bounds[i];
        if (seen + (double)t->hist[i] >= want && t->hist[i] > 0) /* interpolate inside the bucket */
            return lower + (upper - lower) * ((want - seen) / (double)t->hist[i]);
        seen += (double)t->hist[i];
        lower = upper;
    }
    return lower;
}
