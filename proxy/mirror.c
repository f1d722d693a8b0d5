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
#include "pico.h"
#include "publish.h"
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
    char *head, *body;
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
    if (srv->h2c) { /* copies are sent over HTTP/1.1 only: counted as errors, not sent */
        log_debug("mirror %s: h2c server: copies are not sent over HTTP/2", srv->url);
        stats_upstream_error(m->stats, w->id, false);
        return;
    }
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
    h2o_iovec_t head = forwarded_build_head(req, &fp);
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
    c->head = malloc(head.len);
    c->head_len = head.len;
    if (c->head)
        memcpy(c->head, head.base, head.len);
    if (svc->mirror_body && req->entity.len > 0) {
        c->body = malloc(req->entity.len);
        c->body_len = req->entity.len;
        if (c->body)
            memcpy(c->body, req->entity.base, req->entity.len);
    }
    h2o_linklist_insert(&w->mirror_copies, &c->link);
    c->timer.cb = on_timeout;
    if (c->head == NULL || (c->body_len && c->body == NULL)) {
        c->answered = true;
        maybe_free(c);
        return;
    }
    c->start_us = now_us();
    h2o_timeout_link(w->loop, &w->header_timeout, &c->timer);
    c->conn = upstream_pool_take(w, srv);
    if (c->conn != NULL) {
        send_copy(c);
        return;
    }
    c->conn = upstream_pool_connect(w, srv, c, on_ready);
    if (c->conn == NULL)
        fail(c, false, strerror(errno));
}

void mirror_dispatch(struct worker *w, h2o_req_t *req, const struct table_service *svc, const struct upstream_client *client)
{
    if (svc->mirror_max_body >= 0 && req->entity.len > (size_t)svc->mirror_max_body)
        return; /* larger bodies go to the main service only */
    for (uint32_t i = 0; i < svc->n_mirrors; i++) {
        const struct table_mirror *m = &svc->mirrors[i];
        if (m->percent == 0 || !sample(svc, w->id, i))
            continue;
        /* counted in the mirror's stats: they outlive this table */
        uint64_t *in_flight = &m->stats->blocks[w->id].in_flight;
        if (__atomic_load_n(in_flight, __ATOMIC_RELAXED) >= MIRROR_MAX_IN_FLIGHT) {
            stats_dropped(m->stats, w->id);
            continue;
        }
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
