/*
 * HTTP/1.1 upstream client (see upstream.h).
 *
 * A proxied request is a struct proxy living in the request's pool. Its
 * life: pick a server -> take an idle connection or connect -> write the
 * head and body -> parse the response head -> stream the body to the
 * client, handing h2o one buffer at a time and pausing the upstream read
 * while the client is slow -> give the connection back to the worker's
 * pool. Connections are per worker (no locks, no epoll re-registration):
 * an idle one stays registered with a read callback that notices when the
 * upstream closes it.
 */
#include "upstream.h"

#include "body_buffer.h"
#include "branch.h"
#include "hash_key.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <h2o/http1.h>

#include "../common/ascii.h"
#include "../common/log.h"
#include "balancer.h"
#include "forwarded.h"
#include "conntrack.h"
#include "h1_body.h"
#include "hop_by_hop.h"
#include "deadline.h"
#include "grpc.h"
#include "h2_upstream.h"
#include "stats.h"
#include "registry.h"
#include "req_stream.h"
#include "middleware/middleware.h"
#include "middleware/retry_expr.h"
#include "mirror.h"
#include "sticky.h"
#include "subrequest.h"
#include "transport.h"
#include "tunnel.h"
#include "upstream_pool.h"

#define MAX_RESPONSE_HEAD (64 * 1024)
#define MAX_RESPONSE_HEADERS 100
#define READ_HIGH_WATER (128 * 1024) /* pause the upstream above this while the client is slow */
#define MAX_ATTEMPTS 16
#define MAX_FAILOVERS 4 /* failover services with errors nested on one request's way down */

enum proxy_state { ST_CONNECTING, ST_WAIT_HEAD, ST_BODY, ST_DONE };

struct proxy {
    h2o_generator_t super;
    h2o_req_t *req;
    struct worker *w;
    const struct table_route *route;
    const struct table_service *svc;
    const struct upstream_client *client_info;
    struct upstream_client client;
    struct mw_run *mw; /* the route's middleware chain state; NULL: none */
    /* sticky sessions: cookies to set for the weighted services passed
     * through, and the server the load balancer's cookie named (-1: none) */
    struct {
        const struct table_sticky *st;
        uint32_t index;
    } cookies[4];
    uint32_t n_cookies;
    int sticky_server;
    uint32_t srv_index;
    struct server *srv;
    struct balancer_tried tried;
    unsigned attempts, stale_retries;
    unsigned expr_attempts;      /* attempts buffering's retryExpression was asked about */
    struct server *inflight_srv; /* the server this request is counted in flight on */
    h2o_timeout_entry_t backoff; /* retry middleware: the wait before the next attempt */
    int64_t sent_ms;             /* when the request went to the current server (leasttime) */
    bool last_failure_timeout;
    /* failover services with errors (failover.errors) whose main service
     * this request went to, innermost last, with the sticky cookies counted
     * before it (those picked below it go if the fallback answers) */
    struct {
        const struct table_service *svc;
        uint32_t n_cookies;
    } failovers[MAX_FAILOVERS];
    uint32_t n_failovers;

    struct upstream_conn *conn;
    struct h2u_stream *h2s;      /* the exchange with an HTTP/2 server (h2_upstream.c) */
    struct h2u_request h2r;      /* its request, built once per server */
    size_t h2_sending;           /* bytes handed to h2o_send and not yet reported consumed */
    h2o_iovec_t head;            /* request head for pass-host or current server */
    const struct server *head_for; /* server the head was built for (!pass_host) */
    bool is_websocket, is_head, replayable;
    bool grpc;                   /* a gRPC call: errors as trailers-only gRPC answers */
    struct deadline deadline;    /* grpc-timeout */
    bool conn_reused, got_bytes, write_done;

    enum proxy_state state;
    bool body_complete, read_paused, final_sent, errored;

    h2o_buffer_t *pending; /* body bytes detached from a released connection */
    h2o_buffer_t *sending; /* handed to h2o_send, freed on proceed */
    bool sending_inflight;
    h2o_timeout_entry_t timeout;
    h2o_timeout_entry_t stall; /* a send the client has not taken (writeTimeout) */
    h2o_linklist_t link;       /* worker's proxies */

    /* a request body streamed as it arrives (HTTP/2; req_stream.h), else
     * NULL and the body is req->entity */
    struct req_body_stream *body_in;
    h2o_buffer_t *body_out;       /* bytes being written upstream */
    bool head_written, body_end_written;
    bool flush_head;              /* send the response head before any body byte (a tunnel's 200) */
    char chunk_line[24];          /* the chunk-size line being written */
    struct h1_body body;          /* last: its trailer buffer is not zeroed (see upstream_proxy) */
};

static void pick_next(struct proxy *p);
static void pick_now(struct proxy *p);
static upstream_done_cb done_hook;

void upstream_set_done_hook(upstream_done_cb cb)
{
    if (done_hook != cb) /* entry points opened at run time set it again: no write while workers read it */
        done_hook = cb;
}
static h2o_timeout_t *read_timeout_list(struct proxy *p);
static void on_upstream_read(h2o_socket_t *sock, const char *err);
static void do_send(struct proxy *p);

void upstream_worker_init(struct worker *w)
{
    const struct proxy_config *c = proxy_cfg;
    worker_timeout_lazy(&w->connect_timeout, c->dial_timeout_ms);
    h2o_timeout_init(w->loop, &w->header_timeout, c->response_header_timeout_ms ? c->response_header_timeout_ms : 3600000);
    h2o_timeout_init(w->loop, &w->read_timeout, c->read_timeout_ms ? c->read_timeout_ms : 3600000);
    h2o_timeout_init(w->loop, &w->pool_timeout, c->idle_conn_timeout_ms);
    worker_timeout_lazy(&w->ws_timeout, c->websocket_idle_timeout_ms);
    h2o_linklist_init_anchor(&w->proxies);
    deadline_worker_init(w);
    mirror_worker_init(w);
    upstream_pool_init(w);
    h2u_worker_init(w);
    subrequest_worker_init(w);
}

/* ---- answering the client ---- */

static void end_inflight(struct proxy *p)
{
    if (p->inflight_srv != NULL) {
        worker_counter_add(&p->inflight_srv->workers[p->w->id].in_flight, -1);
        p->inflight_srv = NULL;
    }
}

static void detach_conn(struct proxy *p, bool reusable)
{
    end_inflight(p);
    if (p->h2s != NULL) {
        h2u_cancel(p->h2s); /* RST_STREAM(CANCEL) */
        p->h2s = NULL;
        h2o_timeout_unlink(&p->timeout);
    }
    struct upstream_conn *c = p->conn;
    if (c == NULL)
        return;
    p->conn = NULL;
    h2o_timeout_unlink(&p->timeout);
    if (c->sock->input->size != 0) { /* unsent body bytes stay with the request */
        if (p->pending == NULL) {
            p->pending = c->sock->input;
            h2o_buffer_init(&c->sock->input, &h2o_socket_buffer_prototype);
        } else {
            reusable = false;
        }
    }
    p->body.seen = 0;
    upstream_pool_release(c, reusable);
}

/* Buffering's retryExpression, asked about an attempt that ended with
 * <status> before anything of it reached the client. */
static bool expression_wants_retry(struct proxy *p, int status)
{
    const struct retry_expr *e = p->mw != NULL ? p->mw->retry_expr : NULL;
    if (e == NULL || p->is_websocket || p->expr_attempts >= RETRY_EXPR_MAX_ATTEMPTS)
        return false;
    p->expr_attempts++;
    struct retry_expr_ctx c = {p->req->method.base, p->req->method.len, (int)p->expr_attempts, status};
    return retry_expr_eval(e, &c);
}

/* An attempt's answer that will not reach the client: the response as
 * before it, and the server no longer counted in flight. */
static void forget_answer(struct proxy *p)
{
    p->req->res.status = 0;
    p->req->res.reason = NULL;
    p->req->res.headers = (h2o_headers_t){NULL};
    p->req->res.content_length = SIZE_MAX;
    end_inflight(p);
}

/* The answer of the attempt is dropped (its connection drained or closed
 * by abandon_conn/detach_conn first): the request goes to the balancer
 * again, every server before one twice. */
static void expression_retry(struct proxy *p, int status)
{
    log_debug("%s: upstream %s answered %d; retryExpression holds: attempt %u", p->route->name, p->srv->url, status,
              p->expr_attempts + 1);
    forget_answer(p);
    bool all_tried = true;
    for (uint32_t i = 0; i < p->svc->n_servers && i < 64 && all_tried; i++)
        all_tried = (p->tried.mask >> i & 1) || p->svc->servers[i].weight <= 0;
    if (all_tried)
        p->tried.mask = 0;
    pick_now(p);
}

/* ---- failover.errors ---- */

static const struct table_service *resolve_service(struct proxy *p, const struct table_service *svc);

/* The hrw balancer's key: the request's upstream-hash-by value, else the client address. */
static uint64_t hrw_key(const struct proxy *p, const struct table_service *svc)
{
    return svc->hash_key != NULL ? hash_key_of(svc->hash_key, p->req, p->client.ip16) : balancer_client_key(p->client.ip16);
}
static void send_error(struct proxy *p, int status, const char *reason);

/* The answer <status> of a failover's main service (the server's, or
 * Gantry's when it could not be reached) is one its errors name. */
static bool failover_wants(const struct proxy *p, int status)
{
    if (p->n_failovers == 0 || status == 101)
        return false;
    const struct table_service *f = p->failovers[p->n_failovers - 1].svc;
    return status_in_ranges(f->failover_status, f->n_failover_status, status);
}

static void to_fallback(struct proxy *p, const struct table_service *f);
static void fallback_chain(struct proxy *p);

/* The answer is dropped (the caller drained or closed its connection):
 * the request, its body kept, goes to the innermost failover's fallback,
 * whose own answer the next failover out may drop in turn. */
static void failover_to_fallback(struct proxy *p, int status)
{
    const struct table_service *f = p->failovers[--p->n_failovers].svc;
    p->n_cookies = p->failovers[p->n_failovers].n_cookies;
    log_debug("%s: %s answered %d, one of its failover's errors: to the fallback %s", p->route->name, f->children[0]->name,
              status, f->children[1]->name);
    forget_answer(p);
    if (f == p->route->service && p->route->failover_fallback != NULL && p->mw != NULL && p->mw->kept != NULL)
        fallback_chain(p); /* the fallback's own middlewares first */
    else
        to_fallback(p, f);
}

static void on_fallback_passed(struct mw_run *run)
{
    struct proxy *p = run->upstream;
    p->final_sent = false;
    p->state = ST_CONNECTING;
    p->client.path = run->client.path;
    p->client.forwarded_off = run->client.forwarded_off;
    p->head = h2o_iovec_init(NULL, 0); /* built again, from the fallback's request */
    p->head_for = NULL;
    p->h2r.req = NULL;
    to_fallback(p, p->route->service);
}

/* The route's failover service sends to its fallback, whose middlewares
 * run first on the request as the failover got it (Traefik: a clone taken
 * before the main's chain), after the router's; one that answers answers
 * the client. Meanwhile the request is done as far as this client is
 * concerned (nothing else answers); the chain hands it back once it
 * passes (on_fallback_passed). */
static void fallback_chain(struct proxy *p)
{
    struct mw_run *run = p->mw;
    mw_run_rewind(run, p->route->failover_fallback);
    run->upstream = p;
    run->handed_on = true;
    run->pass = on_fallback_passed;
    p->final_sent = true;
    p->state = ST_DONE;
    middleware_run(run);
}

/* The request goes to failover <f>'s fallback. */
static void to_fallback(struct proxy *p, const struct table_service *f)
{
    const struct table_service *svc = resolve_service(p, f->children[1]);
    if (svc == NULL || svc->n_servers == 0) {
        send_error(p, svc != NULL && svc->empty_status ? svc->empty_status : 503, "the failover's fallback has no server");
        return;
    }
    p->svc = svc;
    p->tried = (struct balancer_tried){0};
    p->sticky_server = svc->sticky ? sticky_find(svc->sticky, svc->n_servers, p->req) : -1;
    if (svc->strategy == STRATEGY_HRW)
        p->tried.key = hrw_key(p, svc);
    pick_now(p);
}

/* ---- the retry middleware's options (retry_policy) ---- */

static const struct retry_policy *retry_policy_of(const struct proxy *p)
{
    return p->mw != NULL ? p->mw->retry : NULL;
}

/* retry's <timeout> has passed since its first attempt: no more attempts. */
static bool retry_out_of_time(const struct proxy *p)
{
    const struct retry_policy *rp = retry_policy_of(p);
    return rp != NULL && rp->timeout_ms != 0 && worker_now_ms(p->w) - p->mw->retry_start_ms >= (int64_t)rp->timeout_ms;
}

/* disableRetryOnNetworkError: a failed exchange is not tried again (the
 * balancer's own move to another server included). */
static bool network_retry_disabled(const struct proxy *p)
{
    const struct retry_policy *rp = retry_policy_of(p);
    return rp != NULL && rp->no_network_retry;
}

/* retry's <status>: an attempt that ended with <status> (the server's, or
 * Gantry's 502/504 when network retries are off) is dropped and tried again
 * while attempts and time remain, unless the method or the body size rule
 * it out. */
static bool status_wants_retry(struct proxy *p, int status)
{
    const struct retry_policy *rp = retry_policy_of(p);
    if (rp == NULL || rp->n_status == 0 || p->is_websocket || status == 101 || p->attempts >= p->mw->retry_attempts ||
        retry_out_of_time(p) || !status_in_ranges(rp->status, rp->n_status, status))
        return false;
    const h2o_iovec_t m = p->req->method;
    if (!rp->retry_non_idempotent && (h2o_memis(m.base, m.len, H2O_STRLIT("POST")) || h2o_memis(m.base, m.len, H2O_STRLIT("PATCH")) ||
                                      h2o_memis(m.base, m.len, H2O_STRLIT("LOCK"))))
        return false;
    if (rp->max_body_bytes >= 0 && (req_stream_body(p->req) != NULL || p->req->entity.len > (uint64_t)rp->max_body_bytes))
        return false;
    return true;
}

/* The attempt's answer is dropped (its connection drained or closed by the
 * caller): the next attempt after the backoff. */
static void status_retry(struct proxy *p, int status)
{
    log_debug("%s: upstream %s answered %d; retry's status holds: attempt %u of %u", p->route->name,
              p->srv ? p->srv->url : "-", status, p->attempts + 1, p->mw->retry_attempts);
    forget_answer(p);
    pick_next(p);
}

/* Gantry's own answer, final: no attempt follows (deadlines). */
static void answer_error(struct proxy *p, int status, const char *reason)
{
    if (status == 502 || status == 504)
        stats_upstream_error(p->svc->stats, p->w->id, status == 504);
    detach_conn(p, false);
    deadline_clear(&p->deadline);
    p->state = ST_DONE;
    p->final_sent = true;
    log_debug("%s %.*s: %d: %s", p->route->name, (int)p->req->path.len, p->req->path.base, status, reason);
    if (p->grpc) { /* what gRPC clients understand: a status, not an HTML error page */
        p->req->res.headers = (h2o_headers_t){NULL};
        stats_grpc(p->svc->stats, p->w->id, grpc_status_of_http(status));
        grpc_error_head(p->req, grpc_status_of_http(status), reason);
        /* the response hooks see it too: grpcWeb re-labels it for its client */
        middleware_on_response(p->mw);
        if (p->mw != NULL && p->mw->intercepted)
            return;
        h2o_start_response(p->req, &p->super);
        h2o_send(p->req, NULL, 0, H2O_SEND_STATE_FINAL);
        return;
    }
    const char *text = status == 502   ? "Bad Gateway"
                       : status == 503 ? "Service Unavailable"
                       : status == 500 ? "Internal Server Error"
                       : status == 413 ? "Request Entity Too Large"
                                       : "Gateway Timeout";
    p->req->res.status = status;
    p->req->res.headers = (h2o_headers_t){NULL};
    if (p->mw != NULL)
        p->mw->upstream_error = status == 502 || status == 504;
    middleware_on_response(p->mw);
    if (p->mw != NULL && p->mw->intercepted)
        return; /* a middleware answers instead (errors) */
    h2o_send_error_generic(p->req, status, text, text, H2O_SEND_ERROR_KEEP_HEADERS);
}

/* The attempt ends with Gantry's answer <status> (no server reachable, a
 * bad response): buffering's retryExpression may still send it again. */
static void send_error(struct proxy *p, int status, const char *reason)
{
    if (!p->final_sent && failover_wants(p, status)) {
        detach_conn(p, false);
        failover_to_fallback(p, status);
        return;
    }
    if (!p->final_sent && expression_wants_retry(p, status)) {
        detach_conn(p, false);
        expression_retry(p, status);
        return;
    }
    answer_error(p, status, reason);
}

/* The response has started: the only way to signal failure is to abort it. */
static void abort_response(struct proxy *p)
{
    detach_conn(p, false);
    p->errored = true;
    p->state = ST_DONE;
    if (!p->sending_inflight && !p->final_sent) {
        p->final_sent = true;
        h2o_send(p->req, NULL, 0, H2O_SEND_STATE_ERROR);
    }
}

/* ---- body streaming ---- */

/* A gRPC call's grpc-status (trailers, else a trailers-only head) into the metrics. */
static void record_grpc(struct proxy *p, const h2o_headers_t *trailers)
{
    if (!p->grpc)
        return;
    const h2o_headers_t *in[2] = {trailers, &p->req->res.headers};
    for (int k = 0; k < 2; k++) {
        ssize_t i = in[k] != NULL ? h2o_find_header_by_str(in[k], H2O_STRLIT("grpc-status"), -1) : -1;
        if (i >= 0) {
            h2o_iovec_t v = in[k]->entries[i].value;
            size_t n = h2o_strtosize(v.base, v.len);
            stats_grpc(p->svc->stats, p->w->id, n == SIZE_MAX || n > 1000 ? -1 : (int)n);
            return;
        }
    }
    stats_grpc(p->svc->stats, p->w->id, -1); /* a gRPC response without a status */
}

static void body_done(struct proxy *p)
{
    h2o_headers_t trailers = {NULL};
    bool has_trailers = h1_body_trailers(&p->body, &p->req->pool, &trailers) != 0;
    record_grpc(p, &trailers);
    if (has_trailers) {
        h2o_headers_t *t = h2o_mem_alloc_pool(&p->req->pool, sizeof(*t));
        *t = trailers;
        req_stream_set_trailers(p->req, t);
    }
    p->body_complete = true;
    p->state = ST_DONE;
    bool reusable = p->body.reusable && p->write_done && !p->is_websocket;
    detach_conn(p, reusable);
}

/* Accounts for new bytes in the connection's input. */
static int consume_body(struct proxy *p)
{
    if (h1_body_feed(&p->body, p->conn->sock->input) != 0)
        return -1;
    if (p->body.done)
        body_done(p);
    return 0;
}

static void do_send(struct proxy *p)
{
    if (p->sending_inflight || p->final_sent)
        return;
    h2o_buffer_t **src = p->pending != NULL ? &p->pending : p->conn != NULL ? &p->conn->sock->input : NULL;
    size_t size = src != NULL ? (*src)->size : 0;
    if (size == 0 && !p->body_complete && !p->flush_head)
        return;
    p->flush_head = false;
    h2o_iovec_t v = {NULL, 0};
    if (size != 0) {
        p->sending = *src;
        if (src == &p->pending)
            p->pending = NULL;
        else
            h2o_buffer_init(src, &h2o_socket_buffer_prototype);
        p->body.seen = 0;
        v = h2o_iovec_init(p->sending->bytes, p->sending->size);
        p->h2_sending = size;
    }
    /* body_complete with pending bytes left in a fresh buffer cannot
     * happen: the last bytes are always in the buffer sent now */
    h2o_send_state_t state = p->body_complete && p->pending == NULL ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS;
    if (state == H2O_SEND_STATE_FINAL)
        p->final_sent = true;
    p->sending_inflight = true;
    if (p->client.ct != NULL && !h2o_timeout_is_linked(&p->stall))
        h2o_timeout_link(p->w->loop, &p->w->eps[p->client.ep->index].stall_timeout, &p->stall);
    h2o_send(p->req, &v, size ? 1 : 0, state); /* may not touch p after a final send */
}

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct proxy *p = (void *)gen;
    p->sending_inflight = false;
    h2o_timeout_unlink(&p->stall);
    if (p->sending != NULL)
        h2o_buffer_dispose(&p->sending);
    if (p->h2_sending != 0 && p->h2s != NULL)
        h2u_consumed(p->h2s, p->h2_sending); /* the client took them: the server may send as many more */
    p->h2_sending = 0;
    if (p->errored) {
        if (!p->final_sent) {
            p->final_sent = true;
            h2o_send(p->req, NULL, 0, H2O_SEND_STATE_ERROR);
        }
        return;
    }
    if (p->read_paused && p->conn != NULL) {
        p->read_paused = false;
        h2o_socket_read_start(p->conn->sock, on_upstream_read);
    }
    do_send(p);
}

/* The client went away: the pool finishes what the connection was doing
 * (a connect, a response) so that it can be reused, or closes it. */
static void abandon_conn(struct proxy *p)
{
    if (p->h2s != NULL) {
        end_inflight(p);
        h2o_timeout_unlink(&p->timeout);
        h2u_cancel(p->h2s);
        p->h2s = NULL;
    }
    struct upstream_conn *c = p->conn;
    if (c == NULL)
        return;
    end_inflight(p);
    h2o_timeout_unlink(&p->timeout);
    p->conn = NULL;
    upstream_pool_abandon(c, p->state == ST_BODY ? &p->body : NULL, p->is_head);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    (void)req;
    struct proxy *p = (void *)gen;
    abandon_conn(p);
    p->state = ST_DONE;
}

/* HTTP/2 flow control can hold a response without the socket writing:
 * cut the connection if the client took no bytes for writeTimeout. */
static void on_send_stall(h2o_timeout_entry_t *entry)
{
    struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, stall, entry);
    if (conntrack_write_stalled(p->client.ct)) {
        conntrack_kill(p->client.ct, CT_WRITE_STALL);
        return;
    }
    h2o_timeout_link(p->w->loop, &p->w->eps[p->client.ep->index].stall_timeout, &p->stall);
}

static void after_body_read(struct proxy *p)
{
    if (p->conn != NULL && p->sending_inflight && p->conn->sock->input->size > READ_HIGH_WATER) {
        h2o_socket_read_stop(p->conn->sock);
        p->read_paused = true;
    }
    do_send(p);
}

static void on_read_timeout(h2o_timeout_entry_t *entry)
{
    struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, timeout, entry);
    log_debug("%s: upstream read timeout", p->route->name);
    abort_response(p);
}

/* ---- response head ---- */

/* Fields h2o writes itself on the response. */
static bool regenerated(const h2o_token_t *t)
{
    return t == H2O_TOKEN_DATE || t == H2O_TOKEN_CONTENT_LENGTH;
}

static void on_ws_upgraded(void *data, h2o_socket_t *client, size_t reqsize)
{
    struct {
        h2o_socket_t *upstream;
        struct worker *w;
    } *info = data;
    if (client != NULL) {
        h2o_buffer_consume(&client->input, reqsize);
        struct conntrack_conn *ct = conntrack_of_socket(client);
        if (ct != NULL) /* idle rules of its own (the WebSocket idle timeout) */
            conntrack_tunnel(ct);
        tunnel_start(info->w->loop, client, info->upstream, worker_timeout_live(info->w->loop, &info->w->ws_timeout));
    } else {
        h2o_socket_close(info->upstream);
    }
    free(info);
}

static void start_websocket(struct proxy *p, size_t head_len)
{
    struct upstream_conn *c = p->conn;
    p->conn = NULL;
    h2o_timeout_unlink(&p->timeout);
    h2o_socket_read_stop(c->sock);
    h2o_buffer_consume(&c->sock->input, head_len);
    struct {
        h2o_socket_t *upstream;
        struct worker *w;
    } *info = h2o_mem_alloc(sizeof(*info));
    info->upstream = upstream_pool_detach_socket(c);
    info->w = p->w;
    p->state = ST_DONE;
    p->final_sent = true;
    h2o_add_header(&p->req->pool, &p->req->res.headers, H2O_TOKEN_UPGRADE, NULL, H2O_STRLIT("websocket"));
    h2o_http1_upgrade(p->req, NULL, 0, on_ws_upgraded, info);
}

/* The upstream accepted the WebSocket handshake of an HTTP/2 client: the
 * answer is a 200 whose body is what the upstream sends until it closes;
 * the client's DATA goes up as is (pump_body). */
static void websocket_over_h2(struct proxy *p)
{
    h2o_req_t *req = p->req;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = SIZE_MAX;
    size_t n = 0;
    for (size_t i = 0; i < req->res.headers.size; i++) {
        const h2o_iovec_t *name = req->res.headers.entries[i].name;
        if (h2o_lcstris(name->base, name->len, H2O_STRLIT("sec-websocket-accept")) || name == &H2O_TOKEN_UPGRADE->buf)
            continue;
        req->res.headers.entries[n++] = req->res.headers.entries[i];
    }
    req->res.headers.size = n;
    p->body.framing = BODY_EOF;
    p->body.reusable = false;
    p->body.done = false;
    p->flush_head = true; /* the client sends nothing before it has the 200 */
    middleware_on_response(p->mw);
}

/* Copies headers into the response; decides framing and keep-alive. -1: a
 * malformed Content-Length, -2: a folded header line. */
static int take_head(struct proxy *p, int minor, int status, const char *msg, size_t msg_len, struct phr_header *hs, size_t n)
{
    h2o_req_t *req = p->req;
    size_t content_length;
    if (h1_body_init(&p->body, minor, status, p->is_head, hs, n, &content_length) != 0)
        return -1;
    req->res.status = status;
    req->res.reason = h2o_strdup(&req->pool, msg, msg_len).base;
    req->res.content_length = content_length;
    h2o_iovec_t connection_value;
    const h2o_iovec_t *connection = NULL;
    for (size_t i = 0; i < n; i++)
        if (hs[i].name_len == 10 && ascii_caseeq(hs[i].name, "connection", 10)) {
            connection_value = h2o_iovec_init(hs[i].value, hs[i].value_len);
            connection = hbh_connection_options(&connection_value);
        }
    /* One copy of the head in the request's pool (the input is consumed
     * after this): names and values point into it, each made a C string by
     * a NUL over the ':' after its name and the CR/LF or blank after its
     * value. The fields are appended directly: h2o_add_header would copy
     * each name once more. */
    for (size_t i = 0; i < n; i++)
        if (hs[i].name == NULL) /* obs-fold: RFC 9112 5.2 lets a proxy answer 502 */
            return -2;
    char *copy = NULL;
    if (n != 0) {
        const char *first = hs[0].name, *last = hs[n - 1].value + hs[n - 1].value_len;
        copy = h2o_mem_alloc_pool(&req->pool, (size_t)(last - first) + 1);
        memcpy(copy, first, (size_t)(last - first));
        copy[last - first] = '\0';
    }
    const char *base = n != 0 ? hs[0].name : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct phr_header *h = &hs[i];
        char lc[64]; /* no token is longer: a longer name is a plain field */
        char *lname = h->name_len <= sizeof(lc) ? lc : h2o_mem_alloc_pool(&req->pool, h->name_len);
        ascii_lower_copy(lname, h->name, h->name_len);
        const h2o_token_t *tok = h->name_len <= sizeof(lc) ? h2o_lookup_token(lname, h->name_len) : NULL;
        if (tok == H2O_TOKEN_CONTENT_LENGTH || tok == H2O_TOKEN_TRANSFER_ENCODING)
            continue; /* framing: h2o writes its own */
        if (tok != NULL ? regenerated(tok) || (hbh_connection_specific_token(tok) && !(tok == H2O_TOKEN_UPGRADE && status == 101))
                        : hbh_connection_specific_str(lname, h->name_len) || h2o_memis(lname, h->name_len, H2O_STRLIT("trailer")))
            continue;
        if (hbh_named_in_connection(connection, lname, h->name_len))
            continue;
        char *orig = copy + (h->name - base), *value = copy + (h->value - base);
        orig[h->name_len] = '\0';
        value[h->value_len] = '\0';
        h2o_iovec_t *name;
        if (tok != NULL) {
            name = (h2o_iovec_t *)&tok->buf;
        } else {
            name = h2o_mem_alloc_pool(&req->pool, sizeof(*name));
            *name = h2o_iovec_init(lname == lc ? h2o_strdup(&req->pool, lc, h->name_len).base : lname, h->name_len);
        }
        h2o_vector_reserve(&req->pool, &req->res.headers, req->res.headers.size + 1);
        req->res.headers.entries[req->res.headers.size++] = (h2o_header_t){.name = name, .orig_name = orig, .value = h2o_iovec_init(value, h->value_len)};
    }
    for (uint32_t i = 0; i < p->n_cookies; i++)
        sticky_set_cookie(req, p->cookies[i].st, p->cookies[i].index);
    if (p->svc->sticky != NULL && (int)p->srv_index != p->sticky_server)
        sticky_set_cookie(req, p->svc->sticky, p->srv_index);
    if (status != 101)
        middleware_on_response(p->mw);
    return 0;
}

static void parse_head(struct proxy *p)
{
    h2o_buffer_t *in = p->conn->sock->input;
    for (;;) {
        struct phr_header hs[MAX_RESPONSE_HEADERS];
        size_t n = MAX_RESPONSE_HEADERS, msg_len;
        int minor, status;
        const char *msg;
        int r = phr_parse_response(in->bytes, in->size, &minor, &status, &msg, &msg_len, hs, &n, 0);
        if (r == -2) {
            if (in->size > MAX_RESPONSE_HEAD)
                send_error(p, 502, "upstream response head too large");
            return;
        }
        if (r < 0) {
            send_error(p, 502, "invalid response from upstream");
            return;
        }
        if (status < 200 && !(status == 101 && p->is_websocket)) {
            h2o_buffer_consume(&p->conn->sock->input, (size_t)r); /* 100 Continue, 103 ... */
            in = p->conn->sock->input;
            if (in->size == 0)
                return;
            continue;
        }
        if (failover_wants(p, status)) {
            abandon_conn(p); /* the pool reads this answer to its end (head included), or closes */
            failover_to_fallback(p, status);
            return;
        }
        if (status != 101 && expression_wants_retry(p, status)) {
            abandon_conn(p); /* the pool reads this answer to its end (head included), or closes */
            expression_retry(p, status);
            return;
        }
        if (status_wants_retry(p, status)) {
            abandon_conn(p);
            status_retry(p, status);
            return;
        }
        int bad = take_head(p, minor, status, msg, msg_len, hs, n);
        if (bad != 0) {
            send_error(p, 502, bad == -2 ? "obs-fold (a folded header line) in the upstream response" : "invalid content-length from upstream");
            return;
        }
        server_passive_success(p->srv, (uint64_t)(worker_now_ms(p->w) - p->sent_ms) * 1000);
        if (status == 101 && p->req->version < 0x200) {
            start_websocket(p, (size_t)r);
            return;
        }
        if (status == 101) /* WebSocket over HTTP/2 (RFC 8441): 200, then the stream is the tunnel */
            websocket_over_h2(p);
        h2o_buffer_consume(&p->conn->sock->input, (size_t)r);
        h2o_timeout_unlink(&p->timeout);
        p->state = ST_BODY;
        if (p->mw != NULL && p->mw->intercepted) { /* a middleware answers instead (errors) */
            abandon_conn(p); /* the pool drains the rest of this response, or closes */
            p->state = ST_DONE;
            p->final_sent = true;
            return;
        }
        if (proxy_cfg->read_timeout_ms || (p->srv->transport && p->srv->transport->read_ms) || p->is_websocket) {
            p->timeout.cb = on_read_timeout;
            h2o_timeout_link(p->w->loop, read_timeout_list(p), &p->timeout);
        }
        h2o_start_response(p->req, &p->super);
        if (consume_body(p) != 0) {
            abort_response(p);
            return;
        }
        after_body_read(p);
        return;
    }
}

/* ---- errors while talking to the upstream ---- */

static bool replayable(const h2o_req_t *req)
{
    const h2o_iovec_t m = req->method;
    if (h2o_memis(m.base, m.len, H2O_STRLIT("GET")) || h2o_memis(m.base, m.len, H2O_STRLIT("HEAD")) ||
        h2o_memis(m.base, m.len, H2O_STRLIT("OPTIONS")) || h2o_memis(m.base, m.len, H2O_STRLIT("TRACE")))
        return true;
    for (size_t i = 0; i < req->headers.size; i++) {
        const h2o_iovec_t *n = req->headers.entries[i].name;
        if (h2o_lcstris(n->base, n->len, H2O_STRLIT("idempotency-key")) ||
            h2o_lcstris(n->base, n->len, H2O_STRLIT("x-idempotency-key")))
            return true;
    }
    return false;
}

static void connect_to(struct proxy *p);

/* A failed exchange with p->srv (passive health: the service's
 * passiveHealthcheck, else one failure skips the server for 10 s). True
 * when it took the server out. */
static bool passive_failure(struct proxy *p)
{
    uint64_t window = p->svc->passive_window_ms ? p->svc->passive_window_ms : proxy_cfg->passive_down_ms;
    return server_passive_failure(p->srv, worker_now_ms(p->w), window, p->svc->passive_max_failed);
}

/* The connection failed before any response byte. */
static void on_exchange_failed(struct proxy *p, const char *err)
{
    /* A pooled connection the upstream had just closed (keep-alive race):
     * the request was not processed, so replay it on a fresh connection. */
    if (p->conn_reused && !p->got_bytes && p->replayable && p->stale_retries < 2) {
        p->stale_retries++;
        detach_conn(p, false);
        upstream_close_idle(p->w, p->srv); /* its siblings are likely stale too */
        connect_to(p);
        return;
    }
    /* A fresh connection dropped without an answer: the server is likely
     * going away. An idempotent request can safely go to another one. */
    if (!p->got_bytes && p->replayable && !network_retry_disabled(p)) {
        log_warn("upstream %s (service %s): %s; retrying the request on another server", p->srv->url, p->svc->name, err);
        detach_conn(p, false);
        passive_failure(p);
        p->last_failure_timeout = false;
        pick_next(p);
        return;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream %s: %s", p->srv->url, err);
    if (!p->got_bytes && status_wants_retry(p, 502)) { /* network retries off, but 502 is a status to retry */
        detach_conn(p, false);
        status_retry(p, 502);
        return;
    }
    send_error(p, 502, msg);
}

static void on_upstream_read(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    struct proxy *p = c->owner;
    if (err != NULL) {
        if (p->state == ST_WAIT_HEAD) {
            on_exchange_failed(p, err == h2o_socket_error_closed ? "connection closed before the response" : err);
        } else if (p->state == ST_BODY && p->body.framing == BODY_EOF && err == h2o_socket_error_closed) {
            p->body.reusable = false;
            body_done(p);
            do_send(p);
        } else {
            log_debug("%s: upstream %s: response truncated (%s)", p->route->name, p->srv->url, err);
            abort_response(p);
        }
        return;
    }
    if (sock->input->size == 0)
        return;
    p->got_bytes = true;
    if (p->state == ST_WAIT_HEAD) {
        parse_head(p);
        return;
    }
    if (p->timeout.cb != NULL && h2o_timeout_is_linked(&p->timeout)) {
        h2o_timeout_unlink(&p->timeout);
        h2o_timeout_link(p->w->loop, read_timeout_list(p), &p->timeout);
    }
    if (consume_body(p) != 0) {
        log_debug("%s: upstream %s: malformed chunked body", p->route->name, p->srv->url);
        abort_response(p);
        return;
    }
    after_body_read(p);
}

static void pump_body(struct proxy *p);
static void link_head_timeout(struct proxy *p);

static void on_upstream_write(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    if (upstream_pool_write_done(c, err)) /* its request went away */
        return;
    struct proxy *p = c->owner;
    if (err != NULL) {
        if (p->state == ST_WAIT_HEAD)
            on_exchange_failed(p, err);
        else
            abort_response(p);
        return;
    }
    if (p->body_in == NULL) {
        p->write_done = true;
        return;
    }
    /* a streamed body: the bytes written go back to the client's window */
    p->head_written = true;
    if (p->body_out != NULL) {
        size_t n = p->body_out->size;
        h2o_buffer_dispose(&p->body_out);
        req_stream_body_consumed(p->req, n);
    }
    if (p->body_end_written) {
        p->write_done = true;
        c->body_unfinished = false;
        if (p->state == ST_WAIT_HEAD)
            link_head_timeout(p); /* responseHeaderTimeout counts from the end of the request */
        return;
    }
    pump_body(p);
}

/* Writes what of a streamed body has arrived (one write at a time):
 * as is with a Content-Length, else as chunks, then the last chunk with
 * the request's trailers. */
static void pump_body(struct proxy *p)
{
    struct req_body_stream *b = p->body_in;
    if (p->conn == NULL || !p->head_written || p->conn->writing || p->body_end_written || b->failed)
        return;
    size_t n = b->buf->size;
    if (n == 0 && !b->done)
        return;
    if (p->is_websocket && n != 0 && h2o_timeout_is_linked(&p->timeout)) { /* traffic either way keeps a tunnel */
        h2o_timeout_unlink(&p->timeout);
        h2o_timeout_link(p->w->loop, read_timeout_list(p), &p->timeout);
    }
    bool chunked = b->content_length < 0 && !p->is_websocket; /* a tunnel's bytes go as they are */
    h2o_iovec_t bufs[4];
    size_t cnt = 0;
    if (n != 0) {
        p->body_out = b->buf; /* the connection appends to a fresh buffer meanwhile */
        h2o_buffer_init(&b->buf, &h2o_socket_buffer_prototype);
        if (chunked) {
            int len = snprintf(p->chunk_line, sizeof(p->chunk_line), "%zx\r\n", n);
            bufs[cnt++] = h2o_iovec_init(p->chunk_line, (size_t)len);
        }
        bufs[cnt++] = h2o_iovec_init(p->body_out->bytes, n);
        if (chunked)
            bufs[cnt++] = h2o_iovec_init(H2O_STRLIT("\r\n"));
    }
    if (b->done && b->buf->size == 0) {
        p->body_end_written = true;
        if (chunked) {
            h2o_iovec_t last = h2o_iovec_init(H2O_STRLIT("0\r\n\r\n"));
            if (b->trailers.size != 0) { /* forwarded as trailers, as they came */
                size_t len = 5;
                for (size_t i = 0; i < b->trailers.size; i++)
                    len += b->trailers.entries[i].name->len + b->trailers.entries[i].value.len + 4;
                char *t = h2o_mem_alloc_pool(&p->req->pool, len), *q = t;
                q += sprintf(q, "0\r\n");
                for (size_t i = 0; i < b->trailers.size; i++) {
                    const h2o_header_t *h = &b->trailers.entries[i];
                    memcpy(q, h->name->base, h->name->len), q += h->name->len;
                    *q++ = ':', *q++ = ' ';
                    memcpy(q, h->value.base, h->value.len), q += h->value.len;
                    *q++ = '\r', *q++ = '\n';
                }
                *q++ = '\r', *q++ = '\n';
                last = h2o_iovec_init(t, (size_t)(q - t));
            }
            bufs[cnt++] = last;
        }
    }
    if (cnt == 0) { /* a Content-Length body that ended with the bytes already written */
        on_upstream_write(p->conn->sock, NULL);
        return;
    }
    upstream_pool_write_body(p->conn, bufs, cnt, on_upstream_write);
}

/* The client connection has more of the body (or it ended, or failed). */
static void on_body_in(void *_p)
{
    struct proxy *p = _p;
    if (p->body_in->failed && (p->state == ST_CONNECTING || p->state == ST_WAIT_HEAD) && !p->final_sent) {
        /* over maxRequestBodyBytes before the upstream answered (a reset
         * client is disposed of right after this, the answer goes nowhere) */
        detach_conn(p, false);
        p->state = ST_DONE;
        p->final_sent = true;
        h2o_send_error_generic(p->req, 413, "Payload Too Large", "request body too large", 0);
        return;
    }
    pump_body(p);
}

/* retryOnResponseHeaderTimeout: the request may go to the next server
 * after a response-header timeout (nothing of an answer has reached the
 * client, and the request can be sent again whole). */
static bool header_timeout_retry(const struct proxy *p)
{
    const struct retry_policy *rp = retry_policy_of(p);
    return rp != NULL && rp->header_timeout && p->state == ST_WAIT_HEAD && !p->final_sent && !p->is_websocket &&
           req_stream_body(p->req) == NULL && (p->replayable || rp->retry_non_idempotent) && !network_retry_disabled(p);
}

static void on_head_timeout(h2o_timeout_entry_t *entry)
{
    struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, timeout, entry);
    if (header_timeout_retry(p)) {
        log_warn("upstream %s (service %s): no response within the response header timeout; passing the request on",
                 p->srv->url, p->svc->name);
        detach_conn(p, false);
        passive_failure(p);
        p->last_failure_timeout = true;
        pick_next(p); /* 504 once the attempts or the retry's time are over */
        return;
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "upstream %s: no response within the response header timeout", p->srv->url);
    send_error(p, 504, msg);
}

static void link_head_timeout(struct proxy *p)
{
    const struct transport *t = p->srv->transport;
    p->timeout.cb = on_head_timeout;
    h2o_timeout_link(p->w->loop, t && t->response_header_ms ? worker_timeout_list(p->w, t->response_header_ms) : &p->w->header_timeout,
                     &p->timeout);
}

/* The request head for p->srv (HTTP/1.1 text; the HTTP/2 request is made from it). */
/* What the forwarded fields of a request to p->srv are made from. */
static struct forwarded_params forwarded_params_of(struct proxy *p)
{
    h2o_req_t *req = p->req;
    const struct table_server *ts = &p->svc->servers[p->srv_index];
    h2o_iovec_t path = p->client.path;
    if (ts->path_prefix != NULL) { /* preservePath: the server URL's path first */
        char *joined = h2o_mem_alloc_pool(&req->pool, ts->path_prefix_len + path.len);
        memcpy(joined, ts->path_prefix, ts->path_prefix_len);
        memcpy(joined + ts->path_prefix_len, path.base, path.len);
        path = h2o_iovec_init(joined, ts->path_prefix_len + path.len);
    }
    return (struct forwarded_params){
        .pass_host = p->svc->pass_host_header,
        .server_hostport = p->srv->hostport,
        .client_ip = p->client.ip_text,
        .trusted = p->client.trusted,
        .tls = p->client.tls,
        .websocket = p->is_websocket,
        .path = path,
        .off = p->client.forwarded_off,
        .streamed = p->body_in != NULL && !p->is_websocket,
        .streamed_length = p->body_in != NULL ? p->body_in->content_length : -1,
    };
}

static void build_request_head(struct proxy *p)
{
    struct forwarded_params fp = forwarded_params_of(p);
    p->head = forwarded_build_head(p->req, &fp);
    p->head_for = p->srv;
}

static void send_request(struct proxy *p)
{
    h2o_req_t *req = p->req;
    if (p->head.base == NULL || p->head_for != p->srv)
        build_request_head(p);
    h2o_socket_t *sock = p->conn->sock;
    p->conn->owner = p;
    p->state = ST_WAIT_HEAD;
    p->got_bytes = false;
    p->write_done = false;
    p->conn->requests++;
    worker_counter_add(&p->srv->workers[p->w->id].requests, 1);
    if (p->inflight_srv == NULL) { /* counted once per server the request is sent to */
        p->inflight_srv = p->srv;
        worker_counter_add(&p->srv->workers[p->w->id].in_flight, 1);
    }
    p->sent_ms = worker_now_ms(p->w);
    if (p->body_in == NULL)
        link_head_timeout(p);
    h2o_socket_read_start(sock, on_upstream_read);
    if (p->body_in != NULL) { /* the head now, the body as it arrives */
        p->conn->body_unfinished = true;
        upstream_pool_write(p->conn, p->head, h2o_iovec_init(NULL, 0), on_upstream_write);
        return;
    }
    upstream_pool_write(p->conn, p->head, req->entity, on_upstream_write);
}

/* ---- connecting ---- */

static void on_connect_failed(struct proxy *p, const char *err, bool timed_out)
{
    struct server *s = p->srv;
    worker_counter_add(&s->workers[p->w->id].connect_failures, 1);
    if (passive_failure(p))
        log_warn("upstream %s (service %s): %s; not used for %llu ms unless no other server is left", s->url, p->svc->name,
                 err, (unsigned long long)(p->svc->passive_window_ms ? p->svc->passive_window_ms : proxy_cfg->passive_down_ms));
    detach_conn(p, false);
    p->last_failure_timeout = timed_out;
    if (network_retry_disabled(p) && !status_wants_retry(p, timed_out ? 504 : 502)) {
        char msg[160];
        snprintf(msg, sizeof(msg), "upstream %s: %s (disableRetryOnNetworkError)", s->url, err);
        send_error(p, timed_out ? 504 : 502, msg);
        return;
    }
    pick_next(p);
}

static void send_h2_request(struct proxy *p);

static void on_conn_ready(struct upstream_conn *c, const char *err, bool timed_out)
{
    struct proxy *p = c->owner;
    if (err != NULL) {
        on_connect_failed(p, err, timed_out);
        return;
    }
    if (p->srv->tls && h2u_alpn_is_h2(c->sock)) { /* the server chose h2: this connection becomes an HTTP/2 one */
        p->conn = NULL;
        h2o_socket_t *sock = upstream_pool_detach_socket(c);
        h2u_adopt(p->w, p->srv, sock);
        send_h2_request(p);
        return;
    }
    send_request(p);
}

/* ---- HTTP/2 servers (h2c://, and https:// that chose h2) ---- */

static bool goes_h2(const struct proxy *p)
{
    return !p->is_websocket && (p->srv->h2c || (p->srv->tls && atomic_load_explicit(&p->srv->alpn_h2, memory_order_relaxed)));
}

static bool wants_trailers(const h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_TE, -1);
    return i >= 0 && h2o_contains_token(req->headers.entries[i].value.base, req->headers.entries[i].value.len,
                                        H2O_STRLIT("trailers"), ',');
}

/* The HTTP/2 request with the same fields an HTTP/1.1 server gets (built
 * as a list, not parsed back from the head text), plus te: trailers when
 * the client sent it. */
static void build_h2_request(struct proxy *p)
{
    h2o_req_t *req = p->req;
    struct forwarded_params fp = forwarded_params_of(p);
    struct req_body_stream *bs = req_stream_body(req);
    h2o_header_t *fields;
    h2o_iovec_t authority;
    size_t k = forwarded_build_fields(req, &fp, &req->pool, 1, &fields, &authority);
    if (wants_trailers(req)) {
        static h2o_iovec_t te = {H2O_STRLIT("te")};
        fields[k++] = (h2o_header_t){.name = &te, .value = h2o_iovec_init(H2O_STRLIT("trailers"))};
    }
    p->h2r = (struct h2u_request){
        .req = req,
        .method = req->method,
        .scheme = p->srv->tls ? h2o_iovec_init(H2O_STRLIT("https")) : h2o_iovec_init(H2O_STRLIT("http")),
        .authority = authority,
        .path = fp.path,
        .headers = fields,
        .n_headers = k,
        .body = bs != NULL ? h2o_iovec_init(NULL, 0) : req->entity,
        .body_stream = bs,
    };
    p->head_for = p->srv;
}

static void h2_on_head(void *ctx, int status, h2o_headers_t *headers)
{
    struct proxy *p = ctx;
    h2o_req_t *req = p->req;
    p->got_bytes = true;
    if (failover_wants(p, status)) {
        detach_conn(p, false); /* RST_STREAM(CANCEL) */
        failover_to_fallback(p, status);
        return;
    }
    if (expression_wants_retry(p, status)) {
        detach_conn(p, false); /* RST_STREAM(CANCEL) */
        expression_retry(p, status);
        return;
    }
    if (status_wants_retry(p, status)) {
        detach_conn(p, false);
        status_retry(p, status);
        return;
    }
    server_passive_success(p->srv, (uint64_t)(worker_now_ms(p->w) - p->sent_ms) * 1000);
    req->res.status = status;
    req->res.reason = "OK";
    req->res.content_length = SIZE_MAX;
    for (size_t i = 0; i != headers->size; i++) {
        const h2o_header_t *h = &headers->entries[i];
        if (h->name == &H2O_TOKEN_CONTENT_LENGTH->buf) { /* framing is h2o's (a HEAD's length included) */
            req->res.content_length = h2o_strtosize(h->value.base, h->value.len);
            continue;
        }
        const h2o_token_t *tok = h2o_lookup_token(h->name->base, h->name->len);
        if (tok != NULL ? regenerated(tok) || hbh_connection_specific_token(tok) : hbh_connection_specific(h->name))
            continue;
        h2o_add_header_by_str(&req->pool, &req->res.headers, h->name->base, h->name->len, tok != NULL, NULL, h->value.base,
                              h->value.len);
    }
    for (uint32_t i = 0; i < p->n_cookies; i++)
        sticky_set_cookie(req, p->cookies[i].st, p->cookies[i].index);
    if (p->svc->sticky != NULL && (int)p->srv_index != p->sticky_server)
        sticky_set_cookie(req, p->svc->sticky, p->srv_index);
    middleware_on_response(p->mw);
    h2o_timeout_unlink(&p->timeout);
    p->state = ST_BODY;
    if (p->mw != NULL && p->mw->intercepted) { /* a middleware answers instead (errors) */
        abandon_conn(p);
        p->state = ST_DONE;
        p->final_sent = true;
        return;
    }
    if (proxy_cfg->read_timeout_ms || (p->srv->transport && p->srv->transport->read_ms)) {
        p->timeout.cb = on_read_timeout;
        h2o_timeout_link(p->w->loop, read_timeout_list(p), &p->timeout);
    }
    h2o_start_response(req, &p->super);
}

static void h2_on_data(void *ctx, const void *bytes, size_t len)
{
    struct proxy *p = ctx;
    if (p->pending == NULL)
        h2o_buffer_init(&p->pending, &body_buffer_prototype);
    h2o_iovec_t dst = h2o_buffer_reserve(&p->pending, len);
    memcpy(dst.base, bytes, len);
    p->pending->size += len;
    if (h2o_timeout_is_linked(&p->timeout)) {
        h2o_timeout_unlink(&p->timeout);
        h2o_timeout_link(p->w->loop, read_timeout_list(p), &p->timeout);
    }
}

static void h2_on_data_frame(void *ctx)
{
    do_send(ctx);
}

static void h2_on_end(void *ctx, h2o_headers_t *trailers)
{
    struct proxy *p = ctx;
    p->h2s = NULL;
    h2o_timeout_unlink(&p->timeout);
    end_inflight(p);
    record_grpc(p, trailers);
    if (trailers->size != 0)
        req_stream_set_trailers(p->req, trailers);
    p->body_complete = true;
    p->state = ST_DONE;
    do_send(p);
}

/* Every server tried: an unprocessed request may go to any again. */
static void retry_unprocessed(struct proxy *p)
{
    end_inflight(p);
    bool all_tried = true;
    for (uint32_t i = 0; i < p->svc->n_servers && i < 64 && all_tried; i++)
        all_tried = (p->tried.mask >> i & 1) || p->svc->servers[i].weight <= 0;
    if (all_tried)
        p->tried.mask = 0;
    pick_now(p);
}

static void h2_on_fail(void *ctx, enum h2u_failure kind, const char *err, bool timed_out)
{
    struct proxy *p = ctx;
    p->h2s = NULL;
    h2o_timeout_unlink(&p->timeout);
    if (p->state == ST_BODY) {
        log_debug("%s: upstream %s: response aborted (%s)", p->route->name, p->srv->url, err);
        abort_response(p);
        return;
    }
    if (p->state == ST_DONE)
        return;
    char msg[200];
    switch (kind) {
    case H2U_CONNECT_FAILED:
        on_connect_failed(p, err, timed_out);
        return;
    case H2U_UNPROCESSED: /* REFUSED_STREAM, GOAWAY: the server did not see it */
        if (p->stale_retries < 4) {
            p->stale_retries++;
            retry_unprocessed(p);
            return;
        }
        break;
    case H2U_LOST: /* the connection died with the request sent */
        if (p->replayable && req_stream_body(p->req) == NULL && !network_retry_disabled(p)) {
            log_warn("upstream %s (service %s): %s; retrying the request on another server", p->srv->url, p->svc->name, err);
            end_inflight(p);
            passive_failure(p);
            p->last_failure_timeout = false;
            pick_next(p);
            return;
        }
        break;
    case H2U_RESET:
        break;
    }
    snprintf(msg, sizeof(msg), "upstream %s: %s", p->srv->url, err);
    send_error(p, 502, msg);
}

static const struct h2u_handler h2_handler = {h2_on_head, h2_on_data, h2_on_data_frame, h2_on_end, h2_on_fail};

static void send_h2_request(struct proxy *p)
{
    if (p->h2r.req == NULL || p->head_for != p->srv) {
        build_h2_request(p);
    }
    p->state = ST_WAIT_HEAD;
    p->got_bytes = false;
    worker_counter_add(&p->srv->workers[p->w->id].requests, 1);
    if (p->inflight_srv == NULL) {
        p->inflight_srv = p->srv;
        worker_counter_add(&p->srv->workers[p->w->id].in_flight, 1);
    }
    p->timeout.cb = on_head_timeout;
    p->sent_ms = worker_now_ms(p->w);
    const struct transport *t = p->srv->transport;
    h2o_timeout_link(p->w->loop, t && t->response_header_ms ? worker_timeout_list(p->w, t->response_header_ms) : &p->w->header_timeout,
                     &p->timeout);
    p->h2s = h2u_start(p->w, p->srv, &p->h2r, &h2_handler, p);
    if (p->h2s == NULL) {
        h2o_timeout_unlink(&p->timeout);
        on_connect_failed(p, strerror(errno), false);
    }
}

/* Uses an idle connection to p->srv, or opens one. */
static void connect_to(struct proxy *p)
{
    if (goes_h2(p)) {
        send_h2_request(p);
        return;
    }
    /* a WebSocket to an h2c:// server is an HTTP/1.1 Upgrade to the same
     * host:port (goes_h2 is false for it): docs/configuration.md */
    /* a streamed body cannot be replayed after a keep-alive race: a fresh connection */
    struct upstream_conn *c = p->is_websocket || p->body_in != NULL ? NULL : upstream_pool_take(p->w, p->srv);
    if (c != NULL) {
        p->conn = c;
        p->conn_reused = true;
        worker_counter_add(&p->srv->workers[p->w->id].reused, 1);
        send_request(p);
        return;
    }
    p->conn_reused = false;
    p->state = ST_CONNECTING;
    p->conn = upstream_pool_connect_alpn(p->w, p->srv, p, on_conn_ready, !p->is_websocket);
    if (p->conn == NULL)
        on_connect_failed(p, strerror(errno), false);
}

/* The server the sticky cookie names, when it can still be used. */
static bool sticky_pick(struct proxy *p, uint32_t *out)
{
    if (p->attempts != 0 || p->sticky_server < 0)
        return false;
    const struct server *s = p->svc->servers[p->sticky_server].srv;
    if (p->svc->servers[p->sticky_server].weight <= 0 || !server_healthy(s) ||
        !server_available(s, worker_now_ms(p->w)))
        return false; /* gone or down: balanced again, and the cookie rewritten */
    *out = (uint32_t)p->sticky_server;
    return true;
}

static void pick_now(struct proxy *p);

/* The upstream read timeout of p's server: its transport's, else the global one. */
static h2o_timeout_t *read_timeout_list(struct proxy *p)
{
    if (p->is_websocket) /* a tunnel (over HTTP/2): the WebSocket idle timeout */
        return worker_timeout_live(p->w->loop, &p->w->ws_timeout);
    const struct transport *t = p->srv->transport;
    return t && t->read_ms ? worker_timeout_list(p->w, t->read_ms) : &p->w->read_timeout;
}

static void on_backoff(h2o_timeout_entry_t *entry)
{
    pick_now(H2O_STRUCT_FROM_MEMBER(struct proxy, backoff, entry));
}

/* After a failed attempt: with a retry middleware, wait its exponential
 * backoff first; the tried servers become eligible again once every server
 * was tried (a single server is retried). */
static void pick_next(struct proxy *p)
{
    const struct mw_run *mw = p->mw;
    if (mw == NULL || mw->retry_attempts == 0 || p->attempts == 0) {
        pick_now(p);
        return;
    }
    if (p->attempts >= mw->retry_attempts || retry_out_of_time(p)) {
        send_error(p, p->last_failure_timeout ? 504 : 502,
                   p->last_failure_timeout ? "no server could be reached in time" : "no server could be reached");
        return;
    }
    bool all_tried = true;
    for (uint32_t i = 0; i < p->svc->n_servers && i < 64 && all_tried; i++)
        all_tried = (p->tried.mask >> i & 1) || p->svc->servers[i].weight <= 0;
    if (all_tried)
        p->tried.mask = 0;
    /* Traefik's series: initialInterval x 2^(k / (attempts - 1)) before the
     * (k+2)-th attempt, so the waits grow to twice initialInterval (Traefik
     * adds +-50 % jitter; Gantry does not) */
    uint64_t ms = mw->retry_interval_ms;
    if (ms != 0 && mw->retry_attempts > 1)
        ms = (uint64_t)((double)ms * exp2((double)(p->attempts - 1) / (double)(mw->retry_attempts - 1)) + 0.5);
    if (ms == 0) {
        pick_now(p);
        return;
    }
    p->backoff.cb = on_backoff;
    h2o_timeout_link(p->w->loop, worker_timeout_list(p->w, ms), &p->backoff);
}

static void pick_now(struct proxy *p)
{
    uint32_t i;
    enum balancer_result r = sticky_pick(p, &i)           ? BALANCER_OK
                             : p->attempts >= MAX_ATTEMPTS ? BALANCER_EXHAUSTED
                                                           : balancer_pick(p->svc, p->w->id, worker_now_ms(p->w), &p->tried, &i);
    if (r != BALANCER_OK) {
        if (r == BALANCER_NONE_HEALTHY || p->attempts == 0)
            send_error(p, 503, "no healthy server");
        else if (p->last_failure_timeout)
            send_error(p, 504, "no server could be reached in time");
        else
            send_error(p, 502, "no server could be reached");
        return;
    }
    p->attempts++;
    if (i < 64)
        p->tried.mask |= 1ull << i;
    p->srv_index = i;
    p->srv = p->svc->servers[i].srv;
    connect_to(p);
}

static void on_dispose(void *_p)
{
    struct proxy *p = _p;
    deadline_clear(&p->deadline);
    abandon_conn(p);
    h2o_timeout_unlink(&p->timeout);
    h2o_timeout_unlink(&p->stall);
    h2o_timeout_unlink(&p->backoff);
    if (p->sending != NULL)
        h2o_buffer_dispose(&p->sending);
    if (p->pending != NULL)
        h2o_buffer_dispose(&p->pending);
    if (p->body_out != NULL)
        h2o_buffer_dispose(&p->body_out);
    if (p->body_in != NULL)
        p->body_in->on_change = NULL;
    end_inflight(p);
    h2o_linklist_unlink(&p->link);
    p->w->in_flight--;
    if (done_hook != NULL)
        done_hook(p->req, p->w, &p->client, p->route, p->srv ? p->srv->url : NULL);
}

/* From the route's service down to the load balancer that answers:
 * mirroring services send their copies and hand on to their main service;
 * weighted ones pick a child (the sticky cookie's, else smooth WRR). NULL
 * when nothing can answer. */
static const struct table_service *resolve_service(struct proxy *p, const struct table_service *svc)
{
    for (int depth = 0; svc != NULL && depth < 16; depth++) {
        /* the route's own mirroring service whose main has middlewares sent
         * its copies in the chain, before them (route.c) */
        bool own = svc == p->route->service;
        if (svc->n_mirrors != 0 && !p->is_websocket && !(own && p->route->cut != NULL))
            mirror_dispatch(p->w, p->req, svc, &p->client, own ? p->route->mirror_chains : NULL); /* non-blocking: connects and writes are queued */
        if (svc->main != NULL) {
            svc = svc->main;
            continue;
        }
        if (svc->n_children == 0)
            return svc;
        bool new_cookie;
        int i = branch_pick(svc, p->req, p->client.ip16, p->w->id, worker_now_ms(p->w), &new_cookie);
        if (svc == p->route->service && p->route->failover_fallback == p->route)
            i = 1; /* the route's failover already chose its fallback, and ran its middlewares (route.c) */
        if (i < 0)
            return NULL;
        if (svc->failover && i == 0 && svc->n_failover_status != 0 && p->n_failovers < MAX_FAILOVERS) {
            p->failovers[p->n_failovers].svc = svc; /* the main's answer may be dropped */
            p->failovers[p->n_failovers++].n_cookies = p->n_cookies;
        }
        if (new_cookie && p->n_cookies < 4) {
            p->cookies[p->n_cookies].st = svc->sticky;
            p->cookies[p->n_cookies++].index = (uint32_t)i;
        }
        svc = svc->children[i];
    }
    return NULL;
}

/* grpc-timeout passed: the call is over, wherever it was (the smaller of
 * it and the configured timeouts wins, since each runs on its own). */
static void on_grpc_deadline(struct deadline *d)
{
    struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, deadline, d);
    h2o_timeout_unlink(&p->backoff);
    if (p->state == ST_DONE)
        return;
    if (p->state == ST_BODY && !p->final_sent && req_stream_can_send_trailers(p->req)) {
        /* the response has begun (initial metadata): it ends as a call
         * does, with DEADLINE_EXCEEDED in its trailers, not with a reset */
        abandon_conn(p); /* the upstream stream is cancelled */
        h2o_headers_t t = {NULL};
        h2o_add_header_by_str(&p->req->pool, &t, H2O_STRLIT("grpc-status"), 0, NULL, H2O_STRLIT("4"));
        h2o_add_header_by_str(&p->req->pool, &t, H2O_STRLIT("grpc-message"), 0, NULL, H2O_STRLIT("deadline exceeded"));
        req_stream_set_trailers(p->req, &t);
        p->body_complete = true;
        p->state = ST_DONE;
        do_send(p); /* what was read, then the end (or after the send in flight) */
        return;
    }
    if (p->state == ST_BODY || p->final_sent)
        abort_response(p);
    else
        answer_error(p, 504, "grpc-timeout deadline exceeded");
}

/* A route's whole-request deadline (the Gateway API's timeouts.request):
 * 504 unless the response has begun, which is then cut. */
static void on_request_deadline(struct deadline *d)
{
    struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, deadline, d);
    h2o_timeout_unlink(&p->backoff);
    if (p->state == ST_DONE)
        return;
    if (p->state == ST_BODY || p->final_sent)
        abort_response(p);
    else
        answer_error(p, 504, "request timeout");
}

void upstream_proxy(h2o_req_t *req, struct worker *w, const struct table_route *route, const struct upstream_client *client,
                    struct mw_run *mw)
{
    struct proxy *p = h2o_mem_alloc_shared(&req->pool, sizeof(*p), on_dispose);
    /* all but the 1 KB of h1_body's trailer buffer, written before it is read */
    memset(p, 0, offsetof(struct proxy, body) + offsetof(struct h1_body, trailer));
    p->super.proceed = on_proceed;
    p->stall.cb = on_send_stall;
    p->super.stop = on_stop;
    p->req = req;
    p->w = w;
    p->route = route;
    p->client = *client;
    p->mw = mw;
    if (mw != NULL)
        mw->upstream = p;
    p->is_head = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"));
    p->is_websocket = req->upgrade.base != NULL &&
                      h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("websocket"));
    p->body_in = req_stream_body(req);
    if (p->body_in != NULL) { /* sent as it arrives: once a byte is written it cannot be sent again */
        p->body_in->on_change = on_body_in; /* HTTP/2 upstreams take it over (h2_upstream.c) */
        p->body_in->ctx = p;
    }
    p->replayable = replayable(req) && p->body_in == NULL;
    p->grpc = grpc_is_request(req);
    int64_t grpc_ms = -1;
    if (p->grpc) {
        ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("grpc-timeout"), -1);
        grpc_ms = i >= 0 ? grpc_timeout_ms(req->headers.entries[i].value.base, req->headers.entries[i].value.len) : -1;
        if (grpc_ms >= 0)
            deadline_set(&p->deadline, w, (uint64_t)grpc_ms, on_grpc_deadline);
    }
    if (mw != NULL && mw->request_timeout_ms && (grpc_ms < 0 || mw->request_timeout_ms < (uint64_t)grpc_ms))
        deadline_set(&p->deadline, w, mw->request_timeout_ms, on_request_deadline);
    h2o_linklist_insert(&w->proxies, &p->link);
    w->in_flight++;
    if (client->branch_sticky != NULL) /* the child picked before the chain, for a new cookie */
        p->cookies[p->n_cookies++] = (typeof(p->cookies[0])){client->branch_sticky, client->branch_index};
    p->svc = resolve_service(p, route->service);
    for (uint32_t i = 0; p->svc != NULL && i < p->n_failovers; i++) {
        const struct table_service *f = p->failovers[i].svc;
        if (f->failover_max_body >= 0 && req->entity.len > (uint64_t)f->failover_max_body) {
            answer_error(p, 413, "the body is larger than failover.errors.maxRequestBodyBytes");
            return;
        }
    }
    if (p->svc == NULL || p->svc->n_servers == 0) {
        uint16_t status = p->svc != NULL && p->svc->empty_status ? p->svc->empty_status : 503;
        p->svc = route->service; /* for the error's accounting */
        send_error(p, status, "service has no server");
        return;
    }
    p->sticky_server = p->svc->sticky ? sticky_find(p->svc->sticky, p->svc->n_servers, req) : -1;
    if (p->svc->strategy == STRATEGY_HRW)
        p->tried.key = hrw_key(p, p->svc);
    pick_next(p);
}

void upstream_abort_all(struct worker *w)
{
    /* Rescan from the head after each abort: answering one request may
     * dispose others (the streams of a failed HTTP/2 connection). */
    for (bool again = true; again;) {
        again = false;
        for (h2o_linklist_t *n = w->proxies.next; n != &w->proxies; n = n->next) {
            struct proxy *p = H2O_STRUCT_FROM_MEMBER(struct proxy, link, n);
            if (p->state == ST_DONE)
                continue;
            h2o_timeout_unlink(&p->timeout);
            h2o_timeout_unlink(&p->backoff);
            if (p->final_sent || p->state == ST_BODY)
                abort_response(p);
            else
                send_error(p, 503, "shutting down: the grace period is over");
            again = true;
            break;
        }
    }
}
