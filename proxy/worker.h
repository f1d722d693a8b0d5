/*
 * Per-worker and per-entry-point runtime state shared by the proxy's
 * files. A worker's fields are touched only by its own thread, except
 * where marked.
 */
#ifndef GANTRY_WORKER_H
#define GANTRY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include <h2o.h>

#include "server.h"

/* An entry point at run time: configuration plus what h2o needs. */
struct entrypoint_rt {
    uint32_t index;
    struct entrypoint_config cfg;
    int fd;   /* listening socket */
    int port; /* bound port */
    h2o_globalconf_t globalconf;
    h2o_hostconf_t *hostconf;
    struct stats *stats; /* requests on this entry point, matched or not */
};

/* One entry point on one worker. */
struct worker_ep {
    struct worker *w;
    struct entrypoint_rt *ep;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_plain, accept_tls;
    h2o_socket_t *listener;
    int listen_fd; /* the listener's descriptor (owned by <listener>) */
    h2o_timeout_t sniff_timeout; /* first byte of a new connection */
    h2o_timeout_t stall_timeout; /* a response send the client does not take (writeTimeout) */
    uint64_t open_conns;         /* written by the worker, read by the admin thread */
    h2o_linklist_t h2_conns;     /* Gantry's HTTP/2 connections (h2_conn.c) */
};

struct worker {
    uint32_t id;
    pthread_t thread;
    h2o_evloop_t *loop;
    struct worker_ep *eps; /* [n_entrypoints] */
    size_t n_eps;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t wake_receiver;   /* any thread -> this worker */
    h2o_multithread_receiver_t retire_receiver; /* watcher -> this worker */
    /* upstream timeouts, bound to this loop */
    h2o_timeout_t connect_timeout, header_timeout, read_timeout, pool_timeout, sniff_timeout, ws_timeout;
    h2o_timeout_t subrequest_timeout; /* subrequest.c: a whole exchange with an auth server */
    h2o_timeout_t subrequest_defer;   /* 0 ms: a failure reported on the next loop turn, never from inside the caller */
    /* timeout lists for delays only known from the configuration (retry
     * backoffs, serversTransport timeouts): one per delay, made on first use */
    h2o_timeout_t timeouts[32];
    uint64_t timeouts_ms[32];
    uint32_t n_timeouts;
    h2o_linklist_t all_idle;    /* every idle upstream connection of this worker */
    h2o_linklist_t all_orphans; /* upstream connections whose request went away */
    h2o_linklist_t proxies;     /* every request being proxied (struct proxy), for the end of a drain */
    h2o_linklist_t h2_conns;    /* every HTTP/2 upstream connection of this worker (h2_upstream.c) */
    h2o_linklist_t mirror_copies; /* mirror copies under way (mirror.c) */
    h2o_timeout_t drain_timeout;
    uint32_t n_idle;
    h2o_linklist_t client_conns; /* every accepted connection (struct conntrack_conn) */
    size_t n_client_conns;
    bool listeners_paused; /* over the global connection limit */
    h2o_socket_cb accept_cb;
    h2o_timeout_t sweep_timeout;
    h2o_timeout_entry_t sweep_entry;
    _Atomic bool stopping; /* set by the main thread */
    bool clean_exit;       /* every connection closed: safe to free h2o state */
    uint64_t in_flight;    /* proxied requests in progress */
    h2o_timeout_t mw_tick; /* 1 ms: middlewares that hold a request for a while (rateLimit's delay) */
#define DEADLINE_LISTS 22
    h2o_timeout_t deadline_lists[DEADLINE_LISTS]; /* 2^k ms each (deadline.c) */
    uint32_t deadline_lists_live;                 /* bit k: list k joined the loop (on first use) */
};

extern __thread struct worker *worker_self;
extern const struct proxy_config *proxy_cfg;
extern struct entrypoint_rt *entrypoints;
extern size_t n_entrypoints;

/* The worker's timeout list for <ms> (h2o's lists have one fixed delay
 * each), made on first use; the nearest existing one once 32 are made.
 * Worker thread. */
h2o_timeout_t *worker_timeout_list(struct worker *w, uint64_t ms);

/* Lists the worker rarely uses (connects, WebSocket tunnels, draining,
 * subrequests, middleware ticks) join the loop on first use: the loop
 * walks every list it has twice an iteration, used or not, which costs
 * every request. worker_timeout_lazy sets one up unlinked; worker_timeout_live
 * links it (once) and returns it; worker_timeout_release disposes of it if
 * it was ever linked. */
static inline void worker_timeout_lazy(h2o_timeout_t *t, uint64_t ms)
{
    memset(t, 0, sizeof(*t));
    t->timeout = ms;
}

static inline h2o_timeout_t *worker_timeout_live(h2o_loop_t *loop, h2o_timeout_t *t)
{
    if (!h2o_linklist_is_linked(&t->_link))
        h2o_timeout_init(loop, t, t->timeout); /* h2o_timeout_init takes the value before it clears the struct */
    return t;
}

static inline void worker_timeout_release(h2o_loop_t *loop, h2o_timeout_t *t)
{
    if (h2o_linklist_is_linked(&t->_link))
        h2o_timeout_dispose(loop, t);
}

/* Milliseconds from the worker's loop clock (cheap; no syscall). */
static inline int64_t worker_now_ms(struct worker *w)
{
    return (int64_t)h2o_now(w->loop);
}

#endif
