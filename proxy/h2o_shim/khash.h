/*
 * Debian's libh2o-dev installs <h2o/http2_internal.h>, which includes
 * "khash.h", but not khash.h itself. h2_guard.c needs that header for the
 * layout of h2o's HTTP/2 connection and streams, so this is the minimum
 * it uses: the hash table's memory layout (klib's, as compiled into
 * libh2o 2.2.5: counters, then a 2-bit-per-bucket flags array, keys,
 * values) to walk the streams, and a lookup by walking too (h2o's own
 * lookups stay in the library; a walk cannot disagree with its hash).
 */
#ifndef GANTRY_H2O_KHASH_SHIM_H
#define GANTRY_H2O_KHASH_SHIM_H

#include <stdint.h>

typedef uint32_t khint32_t;
typedef uint64_t khint64_t;
typedef khint32_t khint_t;
typedef khint_t khiter_t;

#define kh_begin(h) ((khint_t)0)
#define kh_end(h) ((h)->n_buckets)
/* bits 1 (empty) and 0 (deleted) of a bucket's 2-bit flag are both clear */
#define kh_exist(h, x) (!(((h)->flags[(x) >> 4] >> (((x)&0xfU) << 1)) & 3))
#define kh_key(h, x) ((h)->keys[x])
#define kh_val(h, x) ((h)->vals[x])
#define khash_t(name) kh_##name##_t
#define kh_get(name, h, k) kh_get_##name(h, k)

#define KHASH_MAP_INIT_INT64(name, khval_t)                                                                                      \
    typedef struct kh_##name##_s {                                                                                             \
        khint_t n_buckets, size, n_occupied, upper_bound;                                                                      \
        khint32_t *flags;                                                                                                      \
        khint64_t *keys;                                                                                                       \
        khval_t *vals;                                                                                                         \
    } kh_##name##_t;                                                                                                           \
    static inline khint_t kh_get_##name(const kh_##name##_t *h, khint64_t key)                                               \
    {                                                                                                                          \
        for (khint_t i = 0; i < h->n_buckets; i++)                                                                             \
            if (kh_exist(h, i) && h->keys[i] == key)                                                                           \
                return i;                                                                                                      \
        return h->n_buckets;                                                                                                   \
    }

#endif
