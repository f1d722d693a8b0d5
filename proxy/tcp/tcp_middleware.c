/*
 * TCP middlewares (see tcp_middleware.h).
 */
#include "tcp_middleware.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/rule.h"
#include "../conntrack.h"
#include "../middleware/inflight_table.h"
#include "../middleware/middleware.h"

enum tcp_mw_kind { TCP_MW_IP_ALLOW, TCP_MW_IN_FLIGHT };

/* inFlightConn's counters: one reference from the table, one per
 * connection holding a count. */
struct tcp_inflight {
    _Atomic uint64_t refs;
    uint64_t amount;
    _Atomic uint64_t *slots;
};

struct tcp_middleware {
    const char *name;
    enum tcp_mw_kind kind;
    struct rule_cidr *ranges; /* ipAllowList */
    size_t n_ranges;
    struct tcp_inflight *inflight; /* inFlightConn */
};

/* What a connection holds, released when it closes. */
struct tcp_hold {
    uint32_t n;
    struct {
        struct tcp_inflight *st;
        _Atomic uint64_t *slot;
    } h[];
};

static atomic_uint_fast64_t n_refused;

uint64_t tcp_middleware_refused(void)
{
    return atomic_load(&n_refused);
}

static bool tcp_middleware_type_known(const char *type)
{
    return strcasecmp(type, "ipAllowList") == 0 || strcasecmp(type, "ipWhiteList") == 0 || strcasecmp(type, "inFlightConn") == 0;
}

static void inflight_unref(void *p)
{
    struct tcp_inflight *st = p;
    if (atomic_fetch_sub_explicit(&st->refs, 1, memory_order_acq_rel) == 1) {
        free(st->slots);
        free(st);
    }
}

static int build_ip_allow(struct arena *a, struct mw_options *o, struct tcp_middleware *m, struct diag *d)
{
    const char **ranges = mw_opt_list(a, o, "sourceRange", &m->n_ranges);
    if (m->n_ranges == 0)
        return diag_set(d, "sourceRange is empty");
    m->ranges = arena_alloc(a, m->n_ranges * sizeof(*m->ranges));
    for (size_t i = 0; i < m->n_ranges; i++)
        if (rule_parse_cidr(ranges[i], strlen(ranges[i]), &m->ranges[i]) != 0)
            return diag_set(d, "sourceRange: '%s' is not an IP address or CIDR", ranges[i]);
    return 0;
}

static int build_in_flight(struct arena *a, struct mw_options *o, struct tcp_middleware *m, struct diag *d)
{
    int64_t amount;
    if (mw_opt_int(o, "amount", 0, 0, (int64_t)INFLIGHT_MAX, &amount, d) != 0)
        return -1;
    struct tcp_inflight *st = mem_alloc(sizeof(*st));
    atomic_init(&st->refs, 1);
    st->amount = (uint64_t)amount;
    st->slots = inflight_table_new();
    arena_on_free(a, inflight_unref, st);
    m->inflight = st;
    return 0;
}

struct tcp_middleware *tcp_middleware_build(struct arena *a, const char *name, const char *type, const char *const *keys,
                                            const char *const *values, size_t n, struct diag *d)
{
    if (!tcp_middleware_type_known(type)) {
        diag_set(d, "TCP middleware type '%s' is not supported by gantry (ipAllowList, inFlightConn)", type);
        return NULL;
    }
    bool used[n ? n : 1];
    memset(used, 0, sizeof(used));
    struct mw_options o = {keys, values, n, used, NULL, NULL};
    struct tcp_middleware *m = arena_alloc(a, sizeof(*m));
    memset(m, 0, sizeof(*m));
    m->name = arena_strdup(a, name);
    m->kind = strcasecmp(type, "inFlightConn") == 0 ? TCP_MW_IN_FLIGHT : TCP_MW_IP_ALLOW;
    struct diag inner;
    diag_clear(&inner);
    int rc = m->kind == TCP_MW_IN_FLIGHT ? build_in_flight(a, &o, m, &inner) : build_ip_allow(a, &o, m, &inner);
    if (rc != 0 || mw_options_check(&o, &inner) != 0) {
        diag_set(d, "%s: %s", type, inner.msg);
        return NULL;
    }
    return m;
}

static void release_holds(void *p)
{
    struct tcp_hold *hold = p;
    for (uint32_t i = 0; i < hold->n; i++) {
        inflight_release(hold->h[i].slot);
        inflight_unref(hold->h[i].st);
    }
    free(hold);
}

static bool in_ranges(const struct tcp_middleware *m, const uint8_t ip16[16])
{
    for (size_t i = 0; i < m->n_ranges; i++)
        if (rule_cidr_contains(&m->ranges[i], ip16))
            return true;
    return false;
}

static uint64_t ip_hash(const uint8_t ip16[16])
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < 16; i++)
        h = (h ^ ip16[i]) * 0x100000001b3ULL;
    h ^= h >> 31;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 29;
    return h;
}

bool tcp_middleware_admit(struct tcp_middleware *const *mws, uint32_t n, struct conntrack_conn *ct, const uint8_t ip16[16],
                          const char **why)
{
    struct tcp_hold *hold = NULL;
    for (uint32_t i = 0; i < n; i++) {
        const struct tcp_middleware *m = mws[i];
        *why = m->name;
        if (m->kind == TCP_MW_IP_ALLOW) {
            if (!in_ranges(m, ip16))
                goto refuse;
            continue;
        }
        if (ct == NULL)
            goto refuse; /* nothing would release the count */
        _Atomic uint64_t *slot = inflight_acquire(m->inflight->slots, m->inflight->amount, ip_hash(ip16));
        if (slot == NULL)
            goto refuse;
        if (hold == NULL) {
            hold = mem_alloc(sizeof(*hold) + n * sizeof(hold->h[0]));
            hold->n = 0;
        }
        atomic_fetch_add_explicit(&m->inflight->refs, 1, memory_order_relaxed);
        hold->h[hold->n].st = m->inflight;
        hold->h[hold->n].slot = slot;
        hold->n++;
    }
    if (hold != NULL)
        conntrack_on_close(ct, release_holds, hold);
    return true;
refuse:
    if (hold != NULL)
        release_holds(hold);
    atomic_fetch_add(&n_refused, 1);
    return false;
}
