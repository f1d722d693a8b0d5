/*
 * HTTP middlewares: Traefik's middleware set, compiled once per routing
 * table (or carried over from the last one when unchanged) and run per
 * request.
 *
 * A middleware type (one file each, mw_<name>.c) is a vtable: build() turns
 * the provider-neutral options (flattened key/value pairs, keys compared
 * without case: labels arrive lowercased) into an immutable configuration
 * carved from the table's arena; on_request() runs on a worker for every
 * request of a router whose chain holds it; on_response() (optional) edits
 * the response head before it is sent, for the middlewares the request went
 * through, innermost first.
 *
 * A chain is the router's ordered list of compiled middlewares (entry point
 * middlewares, then the router's, then the service's; chains flattened).
 * Per-request state lives in the request's pool. A router with no
 * middleware never reaches this code.
 */
#ifndef GANTRY_MIDDLEWARE_H
#define GANTRY_MIDDLEWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <h2o.h>

#include "../../common/arena.h"
#include "../../common/diag.h"
#include "../request_view.h"
#include "../upstream.h"
#include "status_ranges.h"

struct table_route;
struct worker;

/* A middleware's options as the provider gave them: "prefixes" -> "/a,/b",
 * "customRequestHeaders.X-Foo" -> "bar", "sourceCriterion.ipStrategy.depth"
 * -> "1"; lists of mappings as "name[0].key". Each accessor marks the keys
 * it reads, so that mw_options_check() can refuse the ones nobody knows. */
struct mw_options {
    const char *const *keys, *const *values;
    size_t n;
    bool *used; /* n flags, scratch */
    /* the table being built and the middleware's provider, for options that
     * name other objects (errors.service); NULL in unit tests */
    struct table *table;
    const char *provider;
    const char *name; /* the middleware's name@provider (rateLimit's redis keys) */
};

/* The value of <key> (case-insensitive), or NULL when absent. */
const char *mw_opt_string(struct mw_options *o, const char *key);
/* Comma-separated (or YAML list) values, trimmed, empty ones dropped. */
const char **mw_opt_list(struct arena *a, struct mw_options *o, const char *key, size_t *n);
int mw_opt_bool(struct mw_options *o, const char *key, bool def, bool *out, struct diag *d) WARN_UNUSED;
int mw_opt_int(struct mw_options *o, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out,
               struct diag *d) WARN_UNUSED;
/* Traefik durations: "10s", "1m30s", "250ms", or a bare number of seconds. */
int mw_opt_duration_ms(struct mw_options *o, const char *key, uint64_t def, uint64_t *out, struct diag *d) WARN_UNUSED;
/* The entries under "<prefix>." as (suffix, value) pairs: a map option such
 * as customRequestHeaders. The suffix keeps its case. */
size_t mw_opt_map(struct arena *a, struct mw_options *o, const char *prefix, const char ***keys, const char ***values);
/* True when any key equals <key> or starts with "<key>." or "<key>[". */
bool mw_opt_has(const struct mw_options *o, const char *key);
/* -1 with "unknown option 'x'" when a key was not read by build(). */
int mw_options_check(const struct mw_options *o, struct diag *d) WARN_UNUSED;

/* The state of one request going through a chain (in req->pool). */
/* Retry's options beyond attempts and backoff, read by the upstream client
 * (upstream.c) after each attempt. */
struct retry_policy {
    const struct status_range *status; /* answers retried, as if they were failures */
    size_t n_status;
    uint64_t timeout_ms;                 /* no attempt starts later than this after the first; 0: none */
    bool no_network_retry;               /* disableRetryOnNetworkError */
    bool retry_non_idempotent;           /* retryNonIdempotentMethod: POST, PATCH and LOCK on a status too */
    int64_t max_body_bytes;              /* a larger request body is not retried on a status; < 0: no limit */
    bool header_timeout;                 /* a response-header timeout passes the request on (ingress-nginx's "timeout") */
};

struct mw_run {
    h2o_req_t *req;
    struct worker *w;
    const struct table_route *route;
    struct upstream_client client; /* client.path is what goes upstream; middlewares may rewrite it */
    uint32_t next;                 /* index of the next middleware to run */
    void (*pass)(struct mw_run *); /* the end of the chain: hand the request on */
    bool handed_on;                /* the upstream client took the request (and its accounting) */
    uint32_t current;              /* index of the middleware whose hook runs */
    bool intercepted;              /* a response hook took the response over (mw_intercept) */
    uint32_t retry_attempts;       /* retry: attempts in all (0: the upstream client's default) */
    uint64_t retry_interval_ms;    /* retry: first backoff (Traefik's series: at most twice it) */
    const struct retry_policy *retry; /* retry: what else the upstream client honours; NULL: none */
    int64_t retry_start_ms;        /* retry: when the middleware ran (its timeout counts from there) */
    bool upstream_error;           /* the answer is Gantry's 502/504: no upstream answered (a network error) */
    const struct retry_expr *retry_expr; /* buffering's retryExpression: asked after each attempt; NULL: none */
    void **slots;                  /* per-middleware request state (mw_slot), allocated on first use */
    uint64_t request_timeout_ms;   /* requestTimeout: the deadline of the whole request upstream; 0: none */
    /* a mirror's copy (mirror.c): the chain runs at once on the request's
     * fields, an answer drops the copy (nothing is sent), no response hook
     * runs and nothing waits (rateLimit lets it through at once) */
    bool shadow;
    /* a route whose failover service's fallback has middlewares (route.c,
     * upstream.c): this run as it was where the failover took over, and
     * the upstream client's state once the request was handed on */
    struct mw_kept *kept;
    void *upstream;
    /* asked before a middleware's answer <status> is sent: true when it is
     * not (a failover's fallback takes the request instead, route.c);
     * NULL: none */
    bool (*divert)(struct mw_run *run, int status);
};

/* The request and its run as they were where a failover took over: its
 * fallback request starts from there. */
struct mw_kept {
    struct request_view view;
    struct mw_run run;
};

enum mw_verdict {
    MW_NEXT,     /* carry on with the next middleware */
    MW_ANSWERED, /* the middleware answered the request (mw_answer, mw_redirect) */
    MW_PENDING,  /* the middleware will call mw_resume() or answer later (async) */
};

struct mw_type {
    const char *name; /* Traefik's type key: "stripPrefix" */
    /* Builds the configuration into <a> (the table's arena; register
     * non-memory resources with arena_on_free). Fills <d> and returns -1 on
     * a bad value, naming the option. Watcher thread. */
    int (*build)(struct arena *a, struct mw_options *o, void **cfg, struct diag *d);
    enum mw_verdict (*on_request)(const void *cfg, struct mw_run *run);
    void (*on_response)(const void *cfg, struct mw_run *run); /* NULL: none */
    bool per_router; /* stateful (circuitBreaker): one instance per router, not one per table */
    /* The middleware reads or replays the whole request body (NULL: it
     * does not): requests through it are collected before they run
     * instead of streamed (req_stream.h). */
    bool (*needs_body)(const void *cfg);
};

struct mw_unit;

/* A compiled middleware, shared by every route of the table naming it. */
struct table_middleware {
    const char *name; /* name@provider */
    const struct mw_type *type;
    void *cfg;
    /* A shared middleware (middleware_build_shared) lives in memory of its
     * own, referenced by every table holding it, so that an unchanged one is
     * carried into the next table as it is (its state too: rateLimit's
     * buckets). NULL: it lives in its table's arena. */
    struct mw_unit *unit;
};

/* The type named <name> (case-insensitive), or NULL when Gantry does not
 * implement it. */
const struct mw_type *middleware_type(const char *name);
/* Whether <name> is one of Traefik's HTTP middleware types (implemented or
 * not): an unimplemented one refuses its routers instead of failing a file. */
bool middleware_is_known_type(const char *name);

/* Compiles one middleware. NULL with <d> filled when a value is refused. */
struct table_middleware *middleware_build(struct arena *a, const char *name, const char *type, const char *const *keys,
                                          const char *const *values, size_t n, struct diag *d);
/* The same, for table <t>: options may name its services (qualified in <provider>). */
struct table_middleware *middleware_build_for(struct table *t, const char *provider, const char *name, const char *type,
                                              const char *const *keys, const char *const *values, size_t n, struct diag *d);

/* Whether middleware <type> with options <keys> may be built once and
 * shared by later tables while its model does not change: not when it is
 * stateful per router, names an object of its table (errors.service) or
 * reads files that may change under it (usersFile, tls). */
bool middleware_shareable(const char *type, const char *const *keys, size_t n);
/* Compiles one middleware into memory of its own, held by table <t>
 * (middleware_hold); NULL with <d> filled when a value is refused. */
struct table_middleware *middleware_build_shared(struct table *t, const char *provider, const char *name, const char *type,
                                                 const char *const *keys, const char *const *values, size_t n,
                                                 struct diag *d);
/* Table <t> holds shared middleware <m> (built for an earlier table): a
 * reference, dropped when <t> is freed. The last reference frees it.
 * Watcher thread only. */
void middleware_hold(struct table *t, struct table_middleware *m);
/* A reference to shared middleware <m> held by something other than a
 * table (a shared router chain), dropped with middleware_unref; the last
 * reference frees it. Watcher thread only. */
void middleware_ref(struct table_middleware *m);
void middleware_unref(struct table_middleware *m);
/* How many shared middlewares are alive (tests). */
size_t middleware_shared_live(void);

/* Worker: runs route->middlewares from run->next on; run->pass() when every
 * middleware let the request through. */
void middleware_run(struct mw_run *run);
/* <run> back to where its failover took over (run->kept: the request's
 * view and the run as they were), on the fallback's route <fallback>, the
 * main's per-middleware state forgotten; the caller sets what differs and
 * runs it (route.c, upstream.c). */
void mw_run_rewind(struct mw_run *run, const struct table_route *fallback);
/* An asynchronous middleware let the request through: continue the chain. */
void mw_resume(struct mw_run *run);
/* Runs the response hooks of the middlewares the request went through (all
 * of them once the chain passed; those before the answering one otherwise).
 * Called right before the response head is sent. NULL <run>: nothing. */
void middleware_on_response(struct mw_run *run);

/* Answers from a middleware: response hooks of the earlier middlewares run
 * first. <body> is copied. */
void mw_answer(struct mw_run *run, int status, const char *reason, const char *body, bool close);
void mw_redirect(struct mw_run *run, int status, const char *location, size_t len);

/* Sends the response whose status and headers the middleware has put in
 * req->res (after the response hooks of the earlier middlewares), with
 * <body> (copied). */
void mw_send(struct mw_run *run, int status, const char *reason, h2o_iovec_t body);

/* From a response hook: this middleware answers instead of the response
 * being started (which is then dropped: its upstream connection drained or
 * closed); it must answer later with mw_send. */
void mw_intercept(struct mw_run *run);

/* The calling middleware's own per-request slot (NULL until set), shared
 * by its on_request and on_response. */
void **mw_slot(struct mw_run *run);

/* Header names equal without case (both sides may be mixed case). */
bool mw_name_is(const char *a, size_t alen, const char *b, size_t blen);

/* Request header helpers (req->headers, values copied into req->pool). */
void mw_header_set(h2o_req_t *req, h2o_headers_t *headers, const char *name, size_t name_len, const char *value,
                   size_t value_len);
void mw_header_unset(h2o_headers_t *headers, const char *name, size_t name_len);
const h2o_iovec_t *mw_header_get(const h2o_headers_t *headers, const char *name, size_t name_len);
/* Appends a header whose name (<token>, or else <lname> in lower case) and
 * spelling <orig> outlive the request (static or the table's arena): the
 * entry points at them, where h2o_add_header(_by_str) copies the spelling
 * and allocates a name per call. <value> must outlive the request too. */
void mw_header_add_fixed(h2o_mem_pool_t *pool, h2o_headers_t *headers, const h2o_token_t *token, const h2o_iovec_t *lname,
                         const char *orig, h2o_iovec_t value);

/* The request's scheme and host as the client sent them. */
bool mw_request_is_tls(const struct mw_run *run);

#endif
