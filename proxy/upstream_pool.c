/*
 * Upstream connections of one worker (see upstream_pool.h).
 */
#include "upstream_pool.h"

#include "transport.h"

#define UPSTREAM_RCVBUF (128 * 1024)

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include "../common/log.h"
#include "h2_upstream.h"
#include "tls.h"

#define DRAIN_MAX (256 * 1024)        /* read at most this much of an unwanted response */
#define DRAIN_HEAD_MAX (64 * 1024)
#define DRAIN_TIMEOUT_MS 5000
#define MAX_RESPONSE_HEADERS 100
#define POOL_OVER_CAP_MS 1000 /* how long a connection over maxIdleConnsPerHost may wait */

static void conn_close(struct upstream_conn *c)
{
    h2o_timeout_unlink(&c->timer);
    h2o_socket_close(c->sock);
    buf_free(&c->head);
    free(c);
}

h2o_socket_t *upstream_pool_detach_socket(struct upstream_conn *c)
{
    h2o_socket_t *sock = c->sock;
    h2o_timeout_unlink(&c->timer);
    sock->data = NULL;
    buf_free(&c->head);
    free(c);
    return sock;
}

void upstream_pool_write(struct upstream_conn *c, h2o_iovec_t head, h2o_iovec_t body, h2o_socket_cb cb)
{
    buf_reset(&c->head);
    if (buf_append(&c->head, head.base, head.len) != 0) /* unbounded: cannot fail */
        abort();
    h2o_iovec_t bufs[2] = {h2o_iovec_init(c->head.data, head.len), body};
    c->writing = true;
    c->writing_body = body.len != 0;
    h2o_socket_write(c->sock, bufs, body.len ? 2 : 1, cb);
}

void upstream_pool_write_body(struct upstream_conn *c, h2o_iovec_t *bufs, size_t n, h2o_socket_cb cb)
{
    c->writing = true;
    c->writing_body = true;
    h2o_socket_write(c->sock, bufs, n, cb);
}

/* ---- the idle pool ---- */

static void idle_unlink(struct upstream_conn *c)
{
    struct server_worker *sw = &c->srv->workers[c->w->id];
    h2o_linklist_unlink(&c->link);
    h2o_linklist_unlink(&c->wlink);
    h2o_timeout_unlink(&c->timer);
    worker_counter_add(&sw->n_idle, -1);
    c->w->n_idle--;
}

static void on_idle_event(h2o_socket_t *sock, const char *err)
{
    /* an idle connection must stay silent: EOF, error or stray bytes end it */
    (void)err;
    struct upstream_conn *c = sock->data;
    idle_unlink(c);
    conn_close(c);
}

static void on_idle_timeout(h2o_timeout_entry_t *entry)
{
    struct upstream_conn *c = H2O_STRUCT_FROM_MEMBER(struct upstream_conn, timer, entry);
    idle_unlink(c);
    conn_close(c);
}

static void pool_put(struct upstream_conn *c)
{
    struct server_worker *sw = &c->srv->workers[c->w->id];
    const struct transport *t = c->srv->transport;
    uint32_t max_idle = t && t->max_idle_conns_per_host ? t->max_idle_conns_per_host : proxy_cfg->max_idle_conns_per_host;
    if (atomic_load_explicit(&c->w->stopping, memory_order_relaxed)) {
        conn_close(c);
        return;
    }
    uint64_t idle_ms = t && t->idle_conn_ms ? t->idle_conn_ms : proxy_cfg->idle_conn_timeout_ms;
    /* Over the cap, the connection still waits a moment: under load more
     * requests are in flight than the cap at every instant, and closing it
     * now meant a new connection (9 system calls, and the server's accept)
     * for one request in eight at 320 streams. The cap holds once the burst
     * is over: at most max_idle connections ever wait the full idle time. */
    bool over_cap = sw->n_idle >= max_idle;
    if (over_cap && idle_ms > POOL_OVER_CAP_MS)
        idle_ms = POOL_OVER_CAP_MS;
    c->state = CONN_IDLE;
    c->owner = NULL;
    c->sock->data = c;
    h2o_timeout_unlink(&c->timer);
    h2o_linklist_insert(sw->idle.next, &c->link); /* most recently used first */
    h2o_linklist_insert(&c->w->all_idle, &c->wlink);
    worker_counter_add(&sw->n_idle, 1);
    c->w->n_idle++;
    c->timer.cb = on_idle_timeout;
    h2o_timeout_link(c->w->loop, over_cap || (t && t->idle_conn_ms) ? worker_timeout_list(c->w, idle_ms) : &c->w->pool_timeout,
                     &c->timer);
    h2o_socket_read_start(c->sock, on_idle_event);
}

struct upstream_conn *upstream_pool_take(struct worker *w, struct server *s)
{
    struct server_worker *sw = &s->workers[w->id];
    struct upstream_conn *c;
    for (;;) {
        if (h2o_linklist_is_empty(&sw->idle))
            return NULL;
        c = H2O_STRUCT_FROM_MEMBER(struct upstream_conn, link, sw->idle.next);
        idle_unlink(c);
        if (c->addr_gen == atomic_load_explicit(&s->addr_gen, memory_order_relaxed))
            break;
        conn_close(c); /* to an address the name no longer has */
    }
    h2o_socket_read_stop(c->sock);
    c->state = CONN_BUSY;
    return c;
}

void upstream_pool_release(struct upstream_conn *c, bool reusable)
{
    if (reusable && c->state == CONN_BUSY && !c->writing)
        pool_put(c);
    else
        conn_close(c);
}

/* ---- orphans: connections whose request went away ---- */

static void orphan_link(struct upstream_conn *c)
{
    c->owner = NULL;
    c->sock->data = c;
    h2o_linklist_insert(&c->srv->workers[c->w->id].orphans, &c->link);
    h2o_linklist_insert(&c->w->all_orphans, &c->wlink);
}

static void orphan_unlink(struct upstream_conn *c)
{
    h2o_linklist_unlink(&c->link);
    h2o_linklist_unlink(&c->wlink);
}

static void orphan_close(struct upstream_conn *c)
{
    orphan_unlink(c);
    conn_close(c);
}

/* An orphan's exchange is over: pool it if the connection is clean. */
static void orphan_finish(struct upstream_conn *c, bool reusable)
{
    orphan_unlink(c);
    c->state = CONN_BUSY;
    upstream_pool_release(c, reusable);
}

/* ---- opening connections ---- */

static void connect_done(struct upstream_conn *c, const char *err, bool timed_out)
{
    h2o_timeout_unlink(&c->timer);
    if (c->owner == NULL) { /* nobody waits: pool it for the next request */
        if (err != NULL) {
            orphan_close(c);
        } else if (c->srv->tls && h2u_alpn_is_h2(c->sock)) { /* an HTTP/2 connection from now on */
            struct worker *w = c->w;
            struct server *s = c->srv;
            orphan_unlink(c);
            h2u_adopt(w, s, upstream_pool_detach_socket(c));
        } else {
            orphan_finish(c, true);
        }
        return;
    }
    if (err == NULL)
        c->state = CONN_BUSY;
    c->ready(c, err, timed_out);
}

static void on_handshake(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    if (err == h2o_socket_error_ssl_cert_name_mismatch &&
        !transport_checks_name(transport_client_ctx(c->srv->transport, c->offer_h2)))
        err = NULL; /* libh2o's own name check after a TLS 1.2 handshake: insecureSkipVerify skips it */
    connect_done(c, err, false);
}

static void on_connect(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    if (err == NULL && c->srv->tls) {
        const struct transport *t = c->srv->transport;
        h2o_socket_ssl_handshake(sock, transport_client_ctx(t, c->offer_h2), t && t->server_name ? t->server_name : c->srv->host,
                                 on_handshake);
        return;
    }
    connect_done(c, err, false);
}

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    struct upstream_conn *c = H2O_STRUCT_FROM_MEMBER(struct upstream_conn, timer, entry);
    connect_done(c, "connect timeout", true);
}

struct upstream_conn *upstream_pool_connect(struct worker *w, struct server *s, void *owner, upstream_ready_cb ready)
{
    return upstream_pool_connect_alpn(w, s, owner, ready, false);
}

struct upstream_conn *upstream_pool_connect_alpn(struct worker *w, struct server *s, void *owner, upstream_ready_cb ready,
                                                 bool offer_h2)
{
    struct server_worker *sw = &s->workers[w->id];
    /* adopt a connection being opened for a request that went away */
    for (h2o_linklist_t *n = sw->orphans.next; n != &sw->orphans; n = n->next) {
        struct upstream_conn *c = H2O_STRUCT_FROM_MEMBER(struct upstream_conn, link, n);
        if (c->state == CONN_CONNECTING && c->offer_h2 == offer_h2) {
            orphan_unlink(c);
            c->owner = owner;
            c->ready = ready;
            return c;
        }
    }
    if (!atomic_load_explicit(&s->resolved, memory_order_relaxed)) {
        errno = EHOSTUNREACH; /* its name has not resolved (yet): no address to try */
        return NULL;
    }
    struct sockaddr_storage ss;
    socklen_t sslen;
    uint32_t gen = server_address(s, &ss, &sslen);
    h2o_socket_t *sock = h2o_socket_connect(w->loop, (struct sockaddr *)&ss, sslen, on_connect);
    if (sock == NULL)
        return NULL;
    /* TCP_NODELAY: h2o_socket_connect sets it */
    /* libh2o reads a socket until the kernel has nothing left: an autotuned
     * receive buffer (up to 6 MB) would all land in a response a slow client
     * is not taking. A fixed one bounds what a stalled stream pins (the
     * kernel doubles it: 256 KiB), at no cost on a LAN or loopback. */
    int rcvbuf = UPSTREAM_RCVBUF;
    setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    worker_counter_add(&sw->opened, 1);
    struct upstream_conn *c = h2o_mem_alloc(sizeof(*c));
    *c = (struct upstream_conn){
        .sock = sock, .srv = s, .w = w, .state = CONN_CONNECTING, .owner = owner, .ready = ready, .offer_h2 = offer_h2,
        .addr_gen = gen, .head = {.max = BUF_UNBOUNDED}};
    sock->data = c;
    c->timer.cb = on_connect_timeout;
    const struct transport *t = s->transport;
    h2o_timeout_link(w->loop, t && t->dial_ms ? worker_timeout_list(w, t->dial_ms) : worker_timeout_live(w->loop, &w->connect_timeout), &c->timer);
    return c;
}

/* ---- draining a response nobody waits for ---- */

static void drain_check_done(struct upstream_conn *c)
{
    if (c->body.done && !c->writing)
        orphan_finish(c, c->body.reusable);
}

static void on_drain_read(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    if (err != NULL) {
        orphan_close(c);
        return;
    }
    while (c->drain_head) {
        h2o_buffer_t *in = sock->input;
        struct phr_header hs[MAX_RESPONSE_HEADERS];
        size_t n = MAX_RESPONSE_HEADERS, msg_len;
        int minor, status;
        const char *msg;
        int r = phr_parse_response(in->bytes, in->size, &minor, &status, &msg, &msg_len, hs, &n, 0);
        if (r == -2 && in->size <= DRAIN_HEAD_MAX)
            return;
        size_t cl;
        if (r < 0 || status == 101 || (status >= 200 && h1_body_init(&c->body, minor, status, c->drain_is_head, hs, n, &cl) != 0)) {
            orphan_close(c);
            return;
        }
        h2o_buffer_consume(&sock->input, (size_t)r);
        if (status < 200) /* 100 Continue, 103 Early Hints */
            continue;
        if (c->body.framing == BODY_EOF) {
            orphan_close(c);
            return;
        }
        c->drain_head = false;
    }
    if (h1_body_feed(&c->body, sock->input) != 0) {
        orphan_close(c);
        return;
    }
    c->drained += sock->input->size;
    h2o_buffer_consume(&sock->input, sock->input->size);
    c->body.seen = 0;
    if (c->drained > DRAIN_MAX) {
        orphan_close(c);
        return;
    }
    if (c->body.done) {
        h2o_socket_read_stop(sock);
        drain_check_done(c);
    }
}

static void on_drain_timeout(h2o_timeout_entry_t *entry)
{
    orphan_close(H2O_STRUCT_FROM_MEMBER(struct upstream_conn, timer, entry));
}

void upstream_pool_abandon(struct upstream_conn *c, const struct h1_body *body, bool is_head)
{
    if (c->state == CONN_CONNECTING) { /* the connect timer keeps running */
        orphan_link(c);
        return;
    }
    /* a response we know how to find the end of: read it, then reuse;
     * not while writing a body that lives in the request's memory */
    if ((c->writing && c->writing_body) || c->body_unfinished ||
        (body != NULL && (body->framing == BODY_EOF || !body->reusable))) {
        conn_close(c);
        return;
    }
    h2o_timeout_unlink(&c->timer);
    c->state = CONN_DRAINING;
    c->drain_head = body == NULL;
    c->drain_is_head = is_head;
    c->drained = 0;
    if (body != NULL)
        c->body = *body;
    orphan_link(c);
    c->timer.cb = on_drain_timeout;
    h2o_timeout_link(c->w->loop, worker_timeout_live(c->w->loop, &c->w->drain_timeout), &c->timer);
    if (body != NULL && body->done) {
        h2o_socket_read_stop(c->sock);
        drain_check_done(c);
        return;
    }
    h2o_socket_read_start(c->sock, on_drain_read);
    if (c->sock->input->size != 0) /* bytes already read */
        on_drain_read(c->sock, NULL);
}

bool upstream_pool_write_done(struct upstream_conn *c, const char *err)
{
    c->writing = c->writing_body = false;
    if (c->owner != NULL)
        return false;
    if (err != NULL)
        orphan_close(c);
    else
        drain_check_done(c);
    return true;
}

/* ---- lifecycle ---- */

void upstream_pool_init(struct worker *w)
{
    h2o_linklist_init_anchor(&w->all_idle);
    h2o_linklist_init_anchor(&w->all_orphans);
    worker_timeout_lazy(&w->drain_timeout, DRAIN_TIMEOUT_MS);
}

void upstream_close_idle(struct worker *w, struct server *s)
{
    h2u_close_idle(w, s);
    h2o_linklist_t *idle = s ? &s->workers[w->id].idle : &w->all_idle;
    while (!h2o_linklist_is_empty(idle)) {
        struct upstream_conn *c = s ? H2O_STRUCT_FROM_MEMBER(struct upstream_conn, link, idle->next)
                                    : H2O_STRUCT_FROM_MEMBER(struct upstream_conn, wlink, idle->next);
        idle_unlink(c);
        conn_close(c);
    }
    h2o_linklist_t *orphans = s ? &s->workers[w->id].orphans : &w->all_orphans;
    while (!h2o_linklist_is_empty(orphans)) {
        struct upstream_conn *c = s ? H2O_STRUCT_FROM_MEMBER(struct upstream_conn, link, orphans->next)
                                    : H2O_STRUCT_FROM_MEMBER(struct upstream_conn, wlink, orphans->next);
        orphan_close(c);
    }
}
