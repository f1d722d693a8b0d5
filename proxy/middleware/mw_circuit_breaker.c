/*
 * CircuitBreaker (Traefik): the requests that pass it are measured (status,
 * network errors — Gantry's own 502/504 when no upstream answered — and
 * time to the response head) over a rolling 10 s window of 1 s buckets.
 * Every <checkPeriod> the <expression> (NetworkErrorRatio(),
 * ResponseCodeRatio(from, to, dividedByFrom, dividedByTo),
 * LatencyAtQuantileMS(q) compared with numbers, joined by && and ||) is
 * evaluated; when true the circuit opens: requests get <responseCode>
 * without reaching the service for <fallbackDuration>, then a linearly
 * growing share goes through during <recoveryDuration> (opening again if
 * the expression holds), then it closes.
 *
 * Each router has its own breaker (mw_type.per_router), as in Traefik.
 * State and counters are shared by the workers through atomics: no lock.
 */
#include "middleware.h"

#include <ctype.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WINDOW_BUCKETS 10 /* one per second */
#define LATENCY_BINS 64

enum cb_state { CB_CLOSED, CB_OPEN, CB_RECOVERING };

enum node_kind { N_OR, N_AND, N_CMP };
enum metric { M_NETWORK_ERROR_RATIO, M_RESPONSE_CODE_RATIO, M_LATENCY_AT_QUANTILE };
enum cmp_op { OP_GT, OP_GE, OP_LT, OP_LE, OP_EQ, OP_NE };

struct node {
    enum node_kind kind;
    struct node *left, *right; /* N_OR, N_AND */
    enum metric metric;        /* N_CMP */
    double args[4];
    enum cmp_op op;
    double value;
};

struct bucket {
    _Atomic int64_t second;
    _Atomic uint64_t total, network_errors;
    _Atomic uint32_t codes[600];
    _Atomic uint32_t latency[LATENCY_BINS];
};

struct circuit_breaker {
    struct node *expr;
    uint64_t check_ms, fallback_ms, recovery_ms;
    int response_code;
    /* shared mutable state */
    _Atomic int state;
    _Atomic int64_t state_since_ms, last_check_ms;
    struct bucket buckets[WINDOW_BUCKETS];
};

/* ---- the expression ---- */

struct parser {
    const char *p;
    struct arena *a;
    const char *err;
};

static void skip(struct parser *ps)
{
    while (isspace((unsigned char)*ps->p))
        ps->p++;
}

static bool eat(struct parser *ps, const char *tok)
{
    skip(ps);
    size_t n = strlen(tok);
    if (strncmp(ps->p, tok, n) != 0)
        return false;
    ps->p += n;
    return true;
}

static bool number(struct parser *ps, double *out)
{
    skip(ps);
    char *end;
    *out = strtod(ps->p, &end);
    if (end == ps->p)
        return false;
    ps->p = end;
    return true;
}

static struct node *parse_or(struct parser *ps);

static struct node *parse_cmp(struct parser *ps)
{
    if (eat(ps, "(")) {
        struct node *n = parse_or(ps);
        if (n == NULL || !eat(ps, ")"))
            return ps->err = ps->err ? ps->err : "expected ')'", NULL;
        return n;
    }
    struct node *n = arena_alloc(ps->a, sizeof(*n));
    n->kind = N_CMP;
    size_t nargs;
    if (eat(ps, "NetworkErrorRatio"))
        n->metric = M_NETWORK_ERROR_RATIO, nargs = 0;
    else if (eat(ps, "ResponseCodeRatio"))
        n->metric = M_RESPONSE_CODE_RATIO, nargs = 4;
    else if (eat(ps, "LatencyAtQuantileMS"))
        n->metric = M_LATENCY_AT_QUANTILE, nargs = 1;
    else
        return ps->err = "expected NetworkErrorRatio(), ResponseCodeRatio(a,b,c,d) or LatencyAtQuantileMS(q)", NULL;
    if (!eat(ps, "("))
        return ps->err = "expected '('", NULL;
    for (size_t i = 0; i < nargs; i++)
        if ((i > 0 && !eat(ps, ",")) || !number(ps, &n->args[i]))
            return ps->err = "bad metric arguments", NULL;
    if (!eat(ps, ")"))
        return ps->err = "expected ')'", NULL;
    if (eat(ps, ">="))
        n->op = OP_GE;
    else if (eat(ps, "<="))
        n->op = OP_LE;
    else if (eat(ps, "=="))
        n->op = OP_EQ;
    else if (eat(ps, "!="))
        n->op = OP_NE;
    else if (eat(ps, ">"))
        n->op = OP_GT;
    else if (eat(ps, "<"))
        n->op = OP_LT;
    else
        return ps->err = "expected a comparison (>, >=, <, <=, ==, !=)", NULL;
    if (!number(ps, &n->value))
        return ps->err = "expected a number after the comparison", NULL;
    if (n->metric == M_LATENCY_AT_QUANTILE && (n->args[0] <= 0 || n->args[0] > 100))
        return ps->err = "LatencyAtQuantileMS takes a quantile between 0 and 100", NULL;
    return n;
}

static struct node *parse_and(struct parser *ps)
{
    struct node *l = parse_cmp(ps);
    while (l != NULL && eat(ps, "&&")) {
        struct node *n = arena_alloc(ps->a, sizeof(*n));
        n->kind = N_AND, n->left = l, n->right = parse_cmp(ps);
        l = n->right ? n : NULL;
    }
    return l;
}

static struct node *parse_or(struct parser *ps)
{
    struct node *l = parse_and(ps);
    while (l != NULL && eat(ps, "||")) {
        struct node *n = arena_alloc(ps->a, sizeof(*n));
        n->kind = N_OR, n->left = l, n->right = parse_and(ps);
        l = n->right ? n : NULL;
    }
    return l;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct circuit_breaker *c = arena_alloc(a, sizeof(*c));
    const char *expr = mw_opt_string(o, "expression");
    if (expr == NULL || *expr == '\0')
        return diag_set(d, "expression is required");
    struct parser ps = {expr, a, NULL};
    c->expr = parse_or(&ps);
    skip(&ps);
    if (c->expr == NULL || *ps.p != '\0')
        return diag_set(d, "expression '%s': %s at column %d", expr, ps.err ? ps.err : "unexpected text",
                        (int)(ps.p - expr) + 1);
    int64_t code;
    if (mw_opt_duration_ms(o, "checkPeriod", 100, &c->check_ms, d) != 0 ||
        mw_opt_duration_ms(o, "fallbackDuration", 10000, &c->fallback_ms, d) != 0 ||
        mw_opt_duration_ms(o, "recoveryDuration", 10000, &c->recovery_ms, d) != 0 ||
        mw_opt_int(o, "responseCode", 503, 100, 599, &code, d) != 0)
        return -1;
    c->response_code = (int)code;
    *cfg = c;
    return 0;
}

/* ---- metrics ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* log2 bins with four steps per octave: 0 ms .. ~65 s */
static unsigned latency_bin(uint64_t ms)
{
    unsigned b = (unsigned)(4.0 * log2((double)ms + 1.0));
    return b < LATENCY_BINS ? b : LATENCY_BINS - 1;
}

static double bin_upper_ms(unsigned b)
{
    return exp2((double)(b + 1) / 4.0) - 1.0;
}

static struct bucket *current_bucket(struct circuit_breaker *c, int64_t now)
{
    int64_t sec = now / 1000;
    struct bucket *b = &c->buckets[sec % WINDOW_BUCKETS];
    int64_t seen = atomic_load_explicit(&b->second, memory_order_acquire);
    if (seen != sec && atomic_compare_exchange_strong(&b->second, &seen, sec)) {
        /* the winner recycles the bucket; a concurrent add may land in the old counts: negligible */
        atomic_store_explicit(&b->total, 0, memory_order_relaxed);
        atomic_store_explicit(&b->network_errors, 0, memory_order_relaxed);
        for (size_t i = 0; i < 600; i++)
            atomic_store_explicit(&b->codes[i], 0, memory_order_relaxed);
        for (size_t i = 0; i < LATENCY_BINS; i++)
            atomic_store_explicit(&b->latency[i], 0, memory_order_relaxed);
    }
    return b;
}

struct window {
    uint64_t total, network_errors;
    uint64_t codes[600];
    uint64_t latency[LATENCY_BINS];
};

static void sum_window(struct circuit_breaker *c, int64_t now, struct window *w)
{
    memset(w, 0, sizeof(*w));
    int64_t sec = now / 1000;
    for (size_t i = 0; i < WINDOW_BUCKETS; i++) {
        struct bucket *b = &c->buckets[i];
        int64_t s = atomic_load_explicit(&b->second, memory_order_acquire);
        if (s <= sec - WINDOW_BUCKETS || s > sec)
            continue;
        w->total += atomic_load_explicit(&b->total, memory_order_relaxed);
        w->network_errors += atomic_load_explicit(&b->network_errors, memory_order_relaxed);
        for (size_t k = 0; k < 600; k++)
            w->codes[k] += atomic_load_explicit(&b->codes[k], memory_order_relaxed);
        for (size_t k = 0; k < LATENCY_BINS; k++)
            w->latency[k] += atomic_load_explicit(&b->latency[k], memory_order_relaxed);
    }
}

static double metric_value(const struct node *n, const struct window *w)
{
    switch (n->metric) {
    case M_NETWORK_ERROR_RATIO:
        return w->total ? (double)w->network_errors / (double)w->total : 0;
    case M_RESPONSE_CODE_RATIO: {
        uint64_t num = 0, den = 0;
        for (int code = 0; code < 600; code++) {
            if (code >= n->args[0] && code < n->args[1])
                num += w->codes[code];
            if (code >= n->args[2] && code < n->args[3])
                den += w->codes[code];
        }
        return den ? (double)num / (double)den : 0;
    }
    case M_LATENCY_AT_QUANTILE: {
        uint64_t total = 0, acc = 0;
        for (size_t k = 0; k < LATENCY_BINS; k++)
            total += w->latency[k];
        if (total == 0)
            return 0;
        double want = n->args[0] / 100.0 * (double)total;
        for (unsigned k = 0; k < LATENCY_BINS; k++) {
            acc += w->latency[k];
            if ((double)acc >= want)
                return bin_upper_ms(k);
        }
        return bin_upper_ms(LATENCY_BINS - 1);
    }
    }
    return 0;
}

static bool eval(const struct node *n, const struct window *w)
{
    switch (n->kind) {
    case N_OR:
        return eval(n->left, w) || eval(n->right, w);
    case N_AND:
        return eval(n->left, w) && eval(n->right, w);
    case N_CMP: {
        double v = metric_value(n, w);
        switch (n->op) {
        case OP_GT: return v > n->value;
        case OP_GE: return v >= n->value;
        case OP_LT: return v < n->value;
        case OP_LE: return v <= n->value;
        case OP_EQ: return v == n->value;
        case OP_NE: return v != n->value;
        }
    }
    }
    return false;
}

static void set_state(struct circuit_breaker *c, int state, int64_t now)
{
    atomic_store(&c->state_since_ms, now);
    atomic_store(&c->state, state);
}

/* One worker at a time evaluates, once per check period (a CAS on the time). */
static void maybe_check(struct circuit_breaker *c, int64_t now)
{
    int64_t last = atomic_load_explicit(&c->last_check_ms, memory_order_relaxed);
    if (now - last < (int64_t)c->check_ms || !atomic_compare_exchange_strong(&c->last_check_ms, &last, now))
        return;
    int state = atomic_load(&c->state);
    int64_t since = atomic_load(&c->state_since_ms);
    if (state == CB_OPEN) {
        if (now - since >= (int64_t)c->fallback_ms)
            set_state(c, CB_RECOVERING, now);
        return;
    }
    struct window *w = malloc(sizeof(*w)); /* ~5 KiB: not on a worker's stack */
    if (w == NULL)
        return;
    sum_window(c, now, w);
    bool trip = eval(c->expr, w);
    free(w);
    if (trip) {
        set_state(c, CB_OPEN, now);
        for (size_t i = 0; i < WINDOW_BUCKETS; i++) /* a fresh window once it recovers */
            atomic_store(&c->buckets[i].second, -1);
    } else if (state == CB_RECOVERING && now - since >= (int64_t)c->recovery_ms) {
        set_state(c, CB_CLOSED, now);
    }
}

struct measure {
    int64_t start_ms;
    uint64_t start_us;
};

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    struct circuit_breaker *c = (struct circuit_breaker *)cfg; /* the shared state is mutable by design */
    int64_t now = now_ms();
    maybe_check(c, now);
    int state = atomic_load_explicit(&c->state, memory_order_relaxed);
    bool through = state == CB_CLOSED;
    if (state == CB_RECOVERING) { /* a share that grows linearly with the time spent recovering */
        double share = (double)(now - atomic_load(&c->state_since_ms)) / (double)(c->recovery_ms ? c->recovery_ms : 1);
        static __thread unsigned seed;
        if (seed == 0)
            seed = (unsigned)(uintptr_t)&seed;
        through = (double)(rand_r(&seed) % 10000) / 10000.0 < share;
    }
    if (!through) {
        mw_answer(run, c->response_code, "Service Unavailable", "", false);
        return MW_ANSWERED;
    }
    struct measure *m = h2o_mem_alloc_pool(&run->req->pool, sizeof(*m));
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    m->start_us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
    m->start_ms = now;
    *mw_slot(run) = m;
    return MW_NEXT;
}

static void on_response(const void *cfg, struct mw_run *run)
{
    struct circuit_breaker *c = (struct circuit_breaker *)cfg;
    struct measure *m = *mw_slot(run);
    if (m == NULL)
        return; /* our own fallback answer, or counted already */
    *mw_slot(run) = NULL;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t us = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000 - m->start_us;
    struct bucket *b = current_bucket(c, now_ms());
    int status = run->req->res.status;
    atomic_fetch_add_explicit(&b->total, 1, memory_order_relaxed);
    if (run->upstream_error)
        atomic_fetch_add_explicit(&b->network_errors, 1, memory_order_relaxed);
    if (status >= 0 && status < 600)
        atomic_fetch_add_explicit(&b->codes[status], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->latency[latency_bin(us / 1000)], 1, memory_order_relaxed);
}

const struct mw_type mw_circuit_breaker = {"circuitBreaker", build, on_request, on_response, .per_router = true};
