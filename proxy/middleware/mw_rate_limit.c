/*
 * RateLimit (Traefik): a token bucket per source (sourceCriterion, default
 * the client address) refilled at <average> per <period> (default 1s) and
 * holding <burst> (default 1) tokens; average 0 means no limit. As in
 * Traefik, a request that finds the bucket empty but would get a token
 * within maxDelay (1/(2*rate), 500ms below one request a second) is held
 * that long and then let through; later ones are answered 429 with
 * Retry-After (whole seconds, rounded up) and X-Retry-In (Go's duration
 * text).
 *
 * Buckets are shared by every worker without a lock: a fixed table of
 * RL_SLOTS slots (RL_SLOTS * 16 bytes per middleware: 256 KiB), open
 * addressing over RL_PROBE neighbours, each slot a (source hash, Z) pair of
 * atomics where Z is the time at which the bucket was empty: tokens =
 * (now - Z) / interval, at most burst. Taking a token is one
 * compare-and-swap of Z. A full bucket is the same as no bucket, so a slot
 * is reused by evicting, among the neighbours, the bucket closest to full:
 * lossless when it is full, stricter for the newcomer otherwise (it inherits
 * a partly drained bucket; never more than the limit lets through).
 */
#include "ip_strategy.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "../worker.h"
#include "redis_limiter.h"

#define RL_SLOTS 16384 /* a power of two */
#define RL_PROBE 16
#define NS_PER_S 1000000000LL

struct rl_slot {
    _Atomic uint64_t key;
    _Atomic int64_t z;
};

struct rate_limit {
    struct source_criterion src;
    struct source_exempt exempt;
    int64_t interval_ns; /* 0: no limit (average 0) */
    int64_t burst_ns;    /* burst * interval */
    int64_t max_delay_ns;
    uint64_t seed;
    struct rl_slot *slots;
    struct redis_limiter *redis; /* the redis option: buckets shared through Redis */
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* The slot table is mapped, not calloc'ed: its pages cost memory only once
 * a client lands in them, and every compile builds every rateLimit again
 * (10,000 Ingresses with limit-rps: 2.5 GB zeroed per compile with calloc,
 * whose heap memory glibc must clear once its mmap threshold has grown). */
static void free_slots(void *p)
{
    munmap(p, RL_SLOTS * sizeof(struct rl_slot));
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct rate_limit *c = arena_alloc(a, sizeof(*c));
    memset(c, 0, sizeof(*c));
    int64_t average, burst;
    uint64_t period_ms;
    if (mw_opt_int(o, "average", 0, 0, INT64_MAX / NS_PER_S, &average, d) != 0 ||
        mw_opt_int(o, "burst", 1, INT64_MIN, INT64_MAX, &burst, d) != 0 ||
        mw_opt_duration_ms(o, "period", 1000, &period_ms, d) != 0 ||
        source_criterion_build(a, o, SOURCE_IP, &c->src, d) != 0 || source_exempt_build(a, o, &c->exempt, d) != 0)
        return -1;
    if (period_ms == 0)
        period_ms = 1000; /* Traefik: 0 is the default */
    if (burst < 1)
        burst = 1;
    if (average > 0) {
        double rate = (double)average * 1000.0 / (double)period_ms; /* requests per second */
        double interval = (double)NS_PER_S / rate;
        if (interval < 1)
            interval = 1;
        if (interval * (double)burst > 1e18)
            return diag_set(d, "burst: %lld is too large for this rate", (long long)burst);
        c->interval_ns = (int64_t)llround(interval);
        c->burst_ns = c->interval_ns * burst;
        /* Traefik: 1/(2*rate) with the rate truncated to a whole number, 0.5s below 1/s */
        c->max_delay_ns = rate < 1 ? NS_PER_S / 2 : NS_PER_S / ((int64_t)rate * 2);
        if (mw_opt_has(o, "redis")) {
            /* Traefik: a bucket expires 1s after it would be full again, more for slow rates */
            int64_t ttl = 1 + (rate >= 1 ? 1 : (int64_t)(1 / rate));
            if ((c->redis = redis_limiter_build(a, o, rate, burst, ttl, c->max_delay_ns, d)) == NULL)
                return -1;
        } else {
            void *m = mmap(NULL, RL_SLOTS * sizeof(*c->slots), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (m == MAP_FAILED)
                abort();
            c->slots = m;
            arena_on_free(a, free_slots, c->slots);
        }
    } else if (mw_opt_has(o, "redis")) { /* no limit: Redis is never asked, its options are still checked */
        if (redis_limiter_build(a, o, 1, burst, 2, NS_PER_S / 2, d) == NULL)
            return -1;
    }
    c->seed = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ULL;
    *cfg = c;
    return 0;
}

/* The slot of <h>: its own, a free one claimed, or the neighbour closest to
 * full taken over. */
static struct rl_slot *find_slot(const struct rate_limit *c, uint64_t h)
{
    struct rl_slot *victim = NULL;
    int64_t victim_z = INT64_MAX;
    for (size_t i = 0; i < RL_PROBE; i++) {
        struct rl_slot *s = &c->slots[(h + i) & (RL_SLOTS - 1)];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == 0 && atomic_compare_exchange_strong_explicit(&s->key, &k, h, memory_order_acq_rel, memory_order_acquire))
            return s; /* Z is 0 (never used): a full bucket */
        if (k == h)
            return s;
        int64_t z = atomic_load_explicit(&s->z, memory_order_relaxed);
        if (z < victim_z)
            victim = s, victim_z = z;
    }
    uint64_t k = atomic_load_explicit(&victim->key, memory_order_relaxed);
    atomic_compare_exchange_strong_explicit(&victim->key, &k, h, memory_order_acq_rel, memory_order_relaxed);
    return victim; /* lost the race: share the winner's bucket (stricter) */
}

/* Takes a token for <h> at <now>: true with the wait before the request may
 * go (<delay>, at most max_delay); false with the wait it would have needed
 * (nothing taken). Any thread. */
static bool rl_reserve(const struct rate_limit *c, uint64_t h, int64_t now, int64_t *delay)
{
    struct rl_slot *s = find_slot(c, h);
    int64_t z = atomic_load_explicit(&s->z, memory_order_relaxed);
    for (;;) {
        int64_t full = now - c->burst_ns;
        int64_t nz = (z > full ? z : full) + c->interval_ns;
        *delay = nz > now ? nz - now : 0;
        if (*delay > c->max_delay_ns)
            return false;
        if (atomic_compare_exchange_weak_explicit(&s->z, &z, nz, memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}

/* Go's time.Duration.String() for 0 <= ns. */
static void go_duration(int64_t ns, char *buf, size_t size)
{
    if (ns < 1000) {
        snprintf(buf, size, "%lldns", (long long)ns);
        return;
    }
    char num[64];
    const char *unit;
    if (ns < 1000000) {
        snprintf(num, sizeof(num), "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
        unit = "µs";
    } else if (ns < NS_PER_S) {
        snprintf(num, sizeof(num), "%lld.%06lld", (long long)(ns / 1000000), (long long)(ns % 1000000));
        unit = "ms";
    } else {
        int64_t s = ns / NS_PER_S, h = s / 3600, m = (s / 60) % 60;
        char prefix[32] = "";
        if (h > 0)
            snprintf(prefix, sizeof(prefix), "%lldh%lldm", (long long)h, (long long)m);
        else if (m > 0)
            snprintf(prefix, sizeof(prefix), "%lldm", (long long)m);
        snprintf(num, sizeof(num), "%s%lld.%09lld", prefix, (long long)(s % 60), (long long)(ns % NS_PER_S));
        unit = "s";
    }
    size_t len = strlen(num);
    while (num[len - 1] == '0')
        num[--len] = '\0';
    if (num[len - 1] == '.')
        num[--len] = '\0';
    snprintf(buf, size, "%s%s", num, unit);
}

static void reject(struct mw_run *run, int64_t delay)
{
    h2o_req_t *req = run->req;
    char retry_after[32], retry_in[64];
    snprintf(retry_after, sizeof(retry_after), "%lld", (long long)((delay + NS_PER_S - 1) / NS_PER_S));
    go_duration(delay, retry_in, sizeof(retry_in));
    req->res.headers = (h2o_headers_t){NULL};
    mw_header_set(req, &req->res.headers, H2O_STRLIT("Retry-After"), retry_after, strlen(retry_after));
    mw_header_set(req, &req->res.headers, H2O_STRLIT("X-Retry-In"), retry_in, strlen(retry_in));
    mw_header_set(req, &req->res.headers, H2O_STRLIT("Content-Type"), H2O_STRLIT("text/plain; charset=utf-8"));
    mw_send(run, 429, "Too Many Requests", h2o_iovec_init(H2O_STRLIT("Too Many Requests")));
}

/* A request held until its token is due: polled on the worker's 1 ms list. */
struct rl_wait {
    h2o_timeout_entry_t entry;
    struct mw_run *run;
    int64_t due;
};

static void on_wait_dispose(void *p)
{
    struct rl_wait *wt = p;
    h2o_timeout_unlink(&wt->entry); /* the client went away while held */
}

static void on_tick(h2o_timeout_entry_t *e)
{
    struct rl_wait *wt = H2O_STRUCT_FROM_MEMBER(struct rl_wait, entry, e);
    if (now_ns() < wt->due) {
        h2o_timeout_link(wt->run->w->loop, worker_timeout_live(wt->run->w->loop, &wt->run->w->mw_tick), &wt->entry);
        return;
    }
    mw_resume(wt->run);
}

/* Holds the request <delay> from <now>: MW_PENDING, or MW_NEXT when the
 * wait is under a millisecond (the loop's own latency). */
static enum mw_verdict hold(struct mw_run *run, int64_t now, int64_t delay)
{
    if (delay < 1000000 || run->w == NULL || run->shadow) /* a mirror's copy does not wait */
        return MW_NEXT;
    struct rl_wait *wt = h2o_mem_alloc_shared(&run->req->pool, sizeof(*wt), on_wait_dispose);
    *wt = (struct rl_wait){.entry = {.cb = on_tick}, .run = run, .due = now + delay};
    h2o_timeout_link(run->w->loop, worker_timeout_live(run->w->loop, &run->w->mw_tick), &wt->entry);
    return MW_PENDING;
}

static const char redis_failed[] = "Could not insert/update bucket\n"; /* Traefik's http.Error */

/* Redis answered (or could not): the request goes on, waits, or is refused. */
static void on_redis(struct mw_run *run, int status, int64_t delay)
{
    const struct rate_limit *c = run->route->middlewares[run->current]->cfg;
    if (status != 0) {
        mw_answer(run, 500, "Internal Server Error", redis_failed, false);
        return;
    }
    if (delay > c->max_delay_ns) {
        reject(run, delay);
        return;
    }
    if (hold(run, now_ns(), delay) == MW_NEXT)
        mw_resume(run);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct rate_limit *c = cfg;
    if (c->interval_ns == 0 || source_exempt_has(&c->exempt, run))
        return MW_NEXT;
    char buf[IP_STRATEGY_TEXT];
    h2o_iovec_t key = source_criterion_key(&c->src, run, buf);
    if (c->redis != NULL) {
        if (run->w != NULL && !run->shadow && redis_limiter_take(c->redis, run, key, on_redis) == 0)
            return MW_PENDING;
        /* fail closed, as Traefik (a mirror's copy cannot wait for Redis: dropped) */
        mw_answer(run, 500, "Internal Server Error", redis_failed, false);
        return MW_ANSWERED;
    }
    int64_t now = now_ns(), delay;
    if (!rl_reserve(c, source_hash(c->seed, key), now, &delay)) {
        reject(run, delay);
        return MW_ANSWERED;
    }
    return hold(run, now, delay);
}

const struct mw_type mw_rate_limit = {"rateLimit", build, on_request, NULL};
