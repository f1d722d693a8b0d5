/*
 * InFlightReq (Traefik): at most <amount> requests of one source
 * (sourceCriterion; default the request's Host, as in Traefik) under way at
 * once; the others are answered 429 with "max connections reached: N"
 * (Traefik's body, from oxy's connlimit). amount 0 refuses every request,
 * as Traefik does.
 *
 * The counters are shared by every worker without a lock (inflight_table.h:
 * 128 KiB per middleware). A request's hold is released when its pool is
 * disposed, i.e. when the request ends however it ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inflight_table.h"
#include "ip_strategy.h"

struct in_flight {
    struct source_criterion src;
    struct source_exempt exempt;
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
    if (mw_opt_int(o, "amount", 0, 0, (int64_t)INFLIGHT_MAX, &amount, d) != 0 ||
        source_criterion_build(a, o, SOURCE_HOST, &c->src, d) != 0 || source_exempt_build(a, o, &c->exempt, d) != 0)
        return -1;
    c->amount = (uint64_t)amount;
    c->body = arena_printf(a, "max connections reached: %lld", (long long)amount);
    c->slots = inflight_table_new();
    arena_on_free(a, free_slots, c->slots);
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ULL;
    *cfg = c;
    return 0;
}

struct if_hold {
    _Atomic uint64_t *slot;
};

static void on_hold_dispose(void *p)
{
    inflight_release(((struct if_hold *)p)->slot);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct in_flight *c = cfg;
    if (source_exempt_has(&c->exempt, run))
        return MW_NEXT;
    char buf[IP_STRATEGY_TEXT];
    h2o_iovec_t key = source_criterion_key(&c->src, run, buf);
    _Atomic uint64_t *slot = inflight_acquire(c->slots, c->amount, source_hash(c->seed, key));
    if (slot == NULL) {
        mw_answer(run, 429, "Too Many Requests", c->body, false);
        return MW_ANSWERED;
    }
    struct if_hold *hold = h2o_mem_alloc_shared(&run->req->pool, sizeof(*hold), on_hold_dispose);
    hold->slot = slot;
    return MW_NEXT;
}

const struct mw_type mw_in_flight_req = {"inFlightReq", build, on_request, NULL};
