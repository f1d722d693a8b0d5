/*
 * Mirror copies (see mirror.h). A copy owns everything it needs (its
 * request head and body, a reference to the table its server and stats
 * live in), so it can outlive the client's request.
 */
#include "mirror.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "balancer.h"
#include "forwarded.h"
#include "h1_body.h"
#include "h2_upstream.h"
#include "middleware/middleware.h"
#include "pico.h"
#include "publish.h"
#include "request_view.h"
#include "stats.h"
#include "upstream_pool.h"

#define MAX_HEAD (64 * 1024)
#define MAX_HEADERS 100

struct copy {
    struct worker *w;
    h2o_mem_pool_t pool; /* holds the table: server and stats stay alive */
    struct server *srv;
    struct stats *stats;
    uint64_t *in_flight; /* this mirror's copies in flight on this worker (in its stats) */
    enum stats_method method;
    bool is_head;
    struct upstream_conn *conn;
    struct h2u_stream *h2s; /* an h2c:// server: the copy is a stream (h2_upstream.c) */
    struct h2u_request h2r;
    bool h2_starting, h2_failed_early; /* an h2u_start that fails the stream before it returns */
    char *head, *body; /* head: HTTP/1.1 servers only */
    size_t head_len, body_len;
    uint64_t start_us;
    bool writing, answered;
    h2o_timeout_entry_t timer;
    h2o_linklist_t link; /* worker's copies */
};

void mirror_worker_init(struct worker *w)
{
    h2o_linklist_init_anchor(&w->mirror_copies);
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void copy_free(struct copy *c)
{
    if (c->h2s != NULL) { /* no more callbacks; the server is told (RST_STREAM) */
        h2u_cancel(c->h2s);
        c->h2s = NULL;
    }
    h2o_timeout_unlink(&c->timer);
    h2o_linklist_unlink(&c->link);
    worker_counter_add(c->in_flight, -1);
    free(c->head);
    free(c->body);
    h2o_mem_clear_pool(&c->pool); /* drops the table reference last */
    free(c);
}

/* The copy is over once it has its answer (or failed) and its write is no
 * longer using its body. */
static void maybe_free(struct copy *c)
{
    if (c->answered && !c->writing)
        copy_free(c);
}

/* Gives the connection back: drained and pooled when the answer's end is
 * known, closed otherwise. */
static void let_go(struct copy *c, const struct h1_body *body)
{
    if (c->conn == NULL)
        return;
    upstream_pool_abandon(c->conn, body, c->is_head);
    c->conn = NULL;
    c->writing = false; /* a write under way is the pool's to finish: it no longer calls us */
}

static void fail(struct copy *c, bool timeout, const char *why)
{
    log_debug("mirror copy to %s: %s", c->srv->url, why);
    stats_upstream_error(c->stats, c->w->id, timeout);
    c->answered = true;
    let_go(c, NULL);
    maybe_free(c);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    struct copy *c = H2O_STRUCT_FROM_MEMBER(struct copy, timer, entry);
    if (c->answered) { /* an HTTP/2 answer's body that does not end: measured already, the stream is cancelled */
        copy_free(c);
        return;
    }
    fail(c, true, "no answer in time");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *conn = sock->data;
    struct copy *c = conn->owner;
    if (err != NULL) {
        fail(c, false, err);
        return;
    }
    h2o_buffer_t *in = sock->input;
    for (;;) {
        struct phr_header hs[MAX_HEADERS];
        size_t n = MAX_HEADERS, msg_len;
        int minor, status;
        const char *msg;
        int r = phr_parse_response(in->bytes, in->size, &minor, &status, &msg, &msg_len, hs, &n, 0);
        if (r == -2) {
            if (in->size > MAX_HEAD)
                fail(c, false, "response head too large");
            return;
        }
        if (r < 0) {
            fail(c, false, "invalid response");
            return;
        }
        if (status < 200) { /* 100 Continue and friends */
            h2o_buffer_consume(&sock->input, (size_t)r);
            in = sock->input;
            if (in->size == 0)
                return;
            continue;
        }
        struct h1_body body;
        size_t cl;
        bool framed = h1_body_init(&body, minor, status, c->is_head, hs, n, &cl) == 0;
        h2o_buffer_consume(&sock->input, (size_t)r);
        stats_record(c->stats, c->w->id, status, c->method, c->body_len, 0, now_us() - c->start_us);
        h2o_timeout_unlink(&c->timer);
        c->answered = true;
        h2o_socket_read_stop(sock);
        if (framed && h1_body_feed(&body, sock->input) == 0) {
            /* what arrived of the body is dropped here; the pool reads the
             * rest and keeps the connection */
            h2o_buffer_consume(&sock->input, sock->input->size);
            body.seen = 0;
            let_go(c, &body);
        } else
            let_go(c, NULL);
        maybe_free(c);
        return;
    }
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *conn = sock->data;
    if (upstream_pool_write_done(conn, err))
        return; /* the copy gave the connection up meanwhile */
    struct copy *c = conn->owner;
    c->writing = false;
    if (err != NULL) {
        fail(c, false, err);
        return;
    }
    maybe_free(c);
}

static void send_copy(struct copy *c)
{
    c->conn->owner = c;
    c->conn->requests++;
    c->writing = true;
    h2o_socket_read_start(c->conn->sock, on_read);
    upstream_pool_write(c->conn, h2o_iovec_init(c->head, c->head_len), h2o_iovec_init(c->body, c->body_len), on_write);
}

static void on_ready(struct upstream_conn *conn, const char *err, bool timed_out)
{
    struct copy *c = conn->owner;
    if (err != NULL) {
        c->conn = NULL;
        upstream_pool_release(conn, false);
        stats_upstream_error(c->stats, c->w->id, timed_out);
        c->answered = true;
        maybe_free(c);
        return;
    }
    send_copy(c);
}

/* ---- h2c:// servers: the copy is a stream on the worker's HTTP/2
 * connection to the server (multiplexed with the client traffic there) ---- */

static void h2_on_head(void *ctx, int status, h2o_headers_t *headers)
{
    struct copy *c = ctx;
    (void)headers;
    stats_record(c->stats, c->w->id, status, c->method, c->body_len, 0, now_us() - c->start_us);
    c->answered = true;
    /* the body is read and dropped until its end, on a timer of its own */
    h2o_timeout_unlink(&c->timer);
    h2o_timeout_link(c->w->loop, &c->w->header_timeout, &c->timer);
}

static void h2_on_data(void *ctx, const void *bytes, size_t len)
{
    struct copy *c = ctx;
    (void)bytes;
    h2u_consumed(c->h2s, len); /* dropped: the server may send more */
}

static void h2_on_data_frame(void *ctx)
{
    (void)ctx;
}

static void h2_on_end(void *ctx, h2o_headers_t *trailers)
{
    struct copy *c = ctx;
    (void)trailers;
    c->h2s = NULL; /* gone with its end */
    c->answered = true;
    maybe_free(c);
}

static void h2_on_fail(void *ctx, enum h2u_failure kind, const char *err, bool timed_out)
{
    struct copy *c = ctx;
    c->h2s = NULL;
    if (c->h2_starting) { /* inside h2u_start: send_h2_copy fails it after */
        c->h2_failed_early = true;
        return;
    }
    if (c->answered) { /* the body was cut after the answer was measured */
        copy_free(c);
        return;
    }
    fail(c, timed_out, kind == H2U_RESET ? "stream reset by the server" : err != NULL ? err : "HTTP/2 connection failed");
}

static const struct h2u_handler h2_handler = {
    .on_head = h2_on_head,
    .on_data = h2_on_data,
    .on_data_frame = h2_on_data_frame,
    .on_end = h2_on_end,
    .on_fail = h2_on_fail,
};

/* The HTTP/2 request: the same forwarded fields an HTTP/1.1 shadow gets
 * (forwarded.c), everything in the copy's pool since the copy outlives
 * the client's request. */
static void build_h2(struct copy *c, h2o_req_t *req, const struct forwarded_params *fp)
{
    h2o_header_t *fields;
    h2o_iovec_t authority;
    size_t n = forwarded_build_fields(req, fp, &c->pool, 0, &fields, &authority);
    c->h2r = (struct h2u_request){
        .pool = &c->pool,
        .method = h2o_strdup(&c->pool, req->method.base, req->method.len),
        .scheme = h2o_iovec_init(H2O_STRLIT("http")),
        .authority = authority,
        .path = h2o_strdup(&c->pool, fp->path.base, fp->path.len),
        .headers = fields,
        .n_headers = n,
        .body = h2o_iovec_init(c->body, c->body_len),
    };
}

static void send_h2_copy(struct copy *c)
{
    c->h2_starting = true;
    struct h2u_stream *st = h2u_start(c->w, c->srv, &c->h2r, &h2_handler, c);
    c->h2_starting = false;
    if (st == NULL || c->h2_failed_early) {
        fail(c, false, st == NULL ? strerror(errno) : "HTTP/2 stream not opened");
        return;
    }
    c->h2s = st;
}

/* Deterministic share: send when sent/seen is below percent/100. */
static bool sample(const struct table_service *svc, uint32_t w, uint32_t i)
{
    uint64_t *pair = &svc->sample[(size_t)w * svc->sample_stride + 2 * i];
    uint64_t percent = svc->mirrors[i].percent;
    pair[0]++;
    if (pair[1] * 100 >= pair[0] * percent)
        return false;
    pair[1]++;
    return true;
}

static void start_copy(struct worker *w, h2o_req_t *req, const struct table_service *svc, const struct table_mirror *m,
                       const struct upstream_client *client, uint64_t *in_flight)
{
    uint32_t i;
    struct balancer_tried tried = {0};
    if (balancer_pick(m->svc, w->id, worker_now_ms(w), &tried, &i) != BALANCER_OK) {
        stats_upstream_error(m->stats, w->id, false);
        return;
    }
    struct server *srv = m->svc->servers[i].srv;
    struct forwarded_params fp = {
        .pass_host = m->svc->pass_host_header,
        .server_hostport = srv->hostport,
        .client_ip = client->ip_text,
        .trusted = client->trusted,
        .tls = client->tls,
        .path = client->path,
        .drop_body = !svc->mirror_body,
        .off = client->forwarded_off,
    };
    struct copy *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->w = w;
    h2o_mem_init_pool(&c->pool);
    publish_link(w->id, &c->pool);
    c->srv = srv;
    c->stats = m->stats;
    c->in_flight = in_flight;
    worker_counter_add(in_flight, 1);
    c->method = stats_method_of(req->method.base, req->method.len);
    c->is_head = c->method == M_HEAD;
    if (svc->mirror_body && req->entity.len > 0) {
        c->body = malloc(req->entity.len);
        c->body_len = req->entity.len;
        if (c->body)
            memcpy(c->body, req->entity.base, req->entity.len);
    }
    if (srv->h2c) {
        build_h2(c, req, &fp);
    } else { /* HTTP/1.1: the head text, built in the request's pool, kept */
        h2o_iovec_t head = forwarded_build_head(req, &fp);
        c->head = malloc(head.len);
        c->head_len = head.len;
        if (c->head)
            memcpy(c->head, head.base, head.len);
    }
    h2o_linklist_insert(&w->mirror_copies, &c->link);
    c->timer.cb = on_timeout;
    if ((!srv->h2c && c->head == NULL) || (c->body_len && c->body == NULL)) {
        c->answered = true;
        maybe_free(c);
        return;
    }
    c->start_us = now_us();
    h2o_timeout_link(w->loop, &w->header_timeout, &c->timer);
    if (srv->h2c) {
        send_h2_copy(c);
        return;
    }
    c->conn = upstream_pool_take(w, srv);
    if (c->conn != NULL) {
        send_copy(c);
        return;
    }
    c->conn = upstream_pool_connect(w, srv, c, on_ready);
    if (c->conn == NULL)
        fail(c, false, strerror(errno));
}

static void shadow_passed(struct mw_run *run)
{
    (void)run; /* the caller sees it passed: run->next is past the chain */
}

/* Runs <chain> on <req> for mirror <m>'s copy and takes the copy when
 * the chain lets it through; the request is put back as it was after. */
static void start_shadowed_copy(struct worker *w, h2o_req_t *req, const struct table_service *svc, const struct table_mirror *m,
                                const struct upstream_client *client, uint64_t *in_flight, const struct table_route *chain)
{
    struct request_view saved;
    request_view_save(&saved, req, client);
    struct mw_run run = {.req = req, .w = w, .route = chain, .client = *client, .pass = shadow_passed, .shadow = true};
    if (!run.client.trusted) { /* as route.c does before a chain: what middlewares add must survive */
        forwarded_strip_untrusted(&req->headers);
        run.client.trusted = true;
    }
    middleware_run(&run); /* synchronous: nothing on a shadow's chain waits (the aggregator refuses those that would) */
    if (run.next == chain->n_middlewares + 1)
        start_copy(w, req, svc, m, &run.client, in_flight);
    else {
        stats_refused(m->stats, w->id);
        log_debug("mirror copy to %s: refused by its middlewares", m->svc->name);
    }
    request_view_restore(&saved, req, NULL);
}

void mirror_dispatch(struct worker *w, h2o_req_t *req, const struct table_service *svc, const struct upstream_client *client,
                     struct table_route *const *chains)
{
    if (svc->mirror_max_body >= 0 && req->entity.len > (size_t)svc->mirror_max_body)
        return; /* larger bodies go to the main service only */
    for (uint32_t i = 0; i < svc->n_mirrors; i++) {
        const struct table_mirror *m = &svc->mirrors[i];
        if (m->percent == 0 || !sample(svc, w->id, i))
            continue;
        /* counted in the mirror's stats: they outlive this table */
        uint64_t *in_flight = &stats_block(m->stats, w->id)->in_flight;
        if (__atomic_load_n(in_flight, __ATOMIC_RELAXED) >= MIRROR_MAX_IN_FLIGHT) {
            stats_dropped(m->stats, w->id);
            continue;
        }
        if (chains != NULL && chains[i] != NULL)
            start_shadowed_copy(w, req, svc, m, client, in_flight, chains[i]);
        else
            start_copy(w, req, svc, m, client, in_flight);
    }
}

void mirror_abort_all(struct worker *w)
{
    while (!h2o_linklist_is_empty(&w->mirror_copies)) {
        struct copy *c = H2O_STRUCT_FROM_MEMBER(struct copy, link, w->mirror_copies.next);
        c->answered = true;
        let_go(c, NULL);
        copy_free(c);
    }
}
