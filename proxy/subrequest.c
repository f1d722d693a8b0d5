/*
 * Subrequests (see subrequest.h): the same connection discipline as the
 * upstream client (upstream.c) — an idle pooled connection first, one stale
 * retry on a fresh connection, the pool finishing what an abandoned
 * connection was doing — without streaming: the response is read whole.
 */
#include "subrequest.h"

#include <errno.h>
#include <string.h>

#include "h1_body.h"
#include "upstream_pool.h"

#define SUBREQUEST_TIMEOUT_MS 30000 /* Traefik's forwardAuth client timeout */
#define MAX_HEAD (64 * 1024)

struct subrequest {
    struct worker *w;
    h2o_mem_pool_t *pool;
    struct server *srv;
    h2o_iovec_t head, body;
    size_t max_body;
    subrequest_cb cb;
    void *data;
    struct upstream_conn *conn;
    bool reused, got_bytes, head_read, done;
    unsigned retries;
    struct h1_body framing;
    size_t head_len;
    struct subrequest_response res;
    h2o_timeout_entry_t timeout;
    const char *deferred_err; /* a failure found while starting: reported from the loop */
};

void subrequest_worker_init(struct worker *w)
{
    worker_timeout_lazy(&w->subrequest_timeout, SUBREQUEST_TIMEOUT_MS);
    worker_timeout_lazy(&w->subrequest_defer, 0);
}

static void start(struct subrequest *s);

static void finish(struct subrequest *s, const char *err, bool reusable)
{
    h2o_timeout_unlink(&s->timeout);
    struct upstream_conn *c = s->conn;
    s->conn = NULL;
    s->done = true;
    if (c != NULL) {
        c->owner = NULL;
        h2o_socket_read_stop(c->sock);
        if (err == NULL)
            h2o_buffer_consume(&c->sock->input, c->sock->input->size);
        upstream_pool_release(c, err == NULL && reusable);
    }
    s->cb(s->data, err, err ? NULL : &s->res);
}

/* A reused connection the server had just closed: replay once. */
static void failed(struct subrequest *s, const char *err)
{
    if (s->reused && !s->got_bytes && s->retries++ < 2) {
        struct upstream_conn *c = s->conn;
        s->conn = NULL;
        h2o_timeout_unlink(&s->timeout);
        c->owner = NULL;
        upstream_pool_release(c, false);
        start(s);
        return;
    }
    finish(s, err, false);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    struct subrequest *s = c->owner;
    if (err != NULL && !(s->head_read && s->framing.framing == BODY_EOF && err == h2o_socket_error_closed)) {
        failed(s, s->head_read ? "connection closed during the response" : "connection closed before the response");
        return;
    }
    h2o_buffer_t *in = sock->input;
    if (in->size != 0)
        s->got_bytes = true;
    if (!s->head_read) {
        s->res.n_headers = SUBREQUEST_MAX_HEADERS;
        int minor;
        const char *msg;
        size_t msg_len;
        int r = phr_parse_response(in->bytes, in->size, &minor, &s->res.status, &msg, &msg_len, s->res.headers,
                                   &s->res.n_headers, 0);
        if (r == -2) {
            if (in->size > MAX_HEAD)
                finish(s, "response head too large", false);
            return;
        }
        if (r < 0) {
            finish(s, "invalid response", false);
            return;
        }
        if (s->res.status < 200) { /* 100 Continue and friends */
            h2o_buffer_consume(&sock->input, (size_t)r);
            on_read(sock, NULL);
            return;
        }
        size_t content_length;
        if (h1_body_init(&s->framing, minor, s->res.status, false, s->res.headers, s->res.n_headers, &content_length) != 0) {
            finish(s, "invalid content-length", false);
            return;
        }
        /* the headers point into the buffer: copy them before consuming it */
        for (size_t i = 0; i < s->res.n_headers; i++) {
            struct phr_header *h = &s->res.headers[i];
            h->name = h2o_strdup(s->pool, h->name, h->name_len).base;
            h->value = h2o_strdup(s->pool, h->value, h->value_len).base;
        }
        h2o_buffer_consume(&sock->input, (size_t)r);
        in = sock->input;
        s->head_read = true;
    }
    if (err != NULL) { /* EOF ends a body without framing */
        s->framing.done = true;
        s->framing.reusable = false;
        s->framing.seen = in->size;
    } else if (h1_body_feed(&s->framing, in) != 0) {
        finish(s, "malformed chunked body", false);
        return;
    }
    if (s->framing.seen > s->max_body) {
        finish(s, SUBREQUEST_TOO_LARGE, false);
        return;
    }
    if (s->framing.done) {
        size_t len = s->framing.seen;
        s->res.body = h2o_strdup(s->pool, in->bytes, len);
        finish(s, NULL, s->framing.reusable);
    }
}

static void on_write(h2o_socket_t *sock, const char *err)
{
    struct upstream_conn *c = sock->data;
    if (upstream_pool_write_done(c, err)) /* the client went away meanwhile */
        return;
    if (err != NULL)
        failed(c->owner, err);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    struct subrequest *s = H2O_STRUCT_FROM_MEMBER(struct subrequest, timeout, entry);
    finish(s, "timed out", false);
}

static void send_it(struct subrequest *s)
{
    struct upstream_conn *c = s->conn;
    c->owner = s;
    c->requests++;
    h2o_socket_read_start(c->sock, on_read);
    upstream_pool_write(c, s->head, s->body, on_write);
}

static void on_ready(struct upstream_conn *c, const char *err, bool timed_out)
{
    struct subrequest *s = c->owner;
    if (err != NULL) {
        s->conn = NULL;
        upstream_pool_release(c, false);
        finish(s, timed_out ? "connect timed out" : err, false);
        return;
    }
    send_it(s);
}

static void on_deferred(h2o_timeout_entry_t *entry)
{
    struct subrequest *s = H2O_STRUCT_FROM_MEMBER(struct subrequest, timeout, entry);
    finish(s, s->deferred_err, false);
}

static void start(struct subrequest *s)
{
    s->got_bytes = s->head_read = false;
    s->res.n_headers = 0;
    h2o_timeout_link(s->w->loop, worker_timeout_live(s->w->loop, &s->w->subrequest_timeout), &s->timeout);
    struct upstream_conn *c = upstream_pool_take(s->w, s->srv);
    if (c != NULL) {
        s->reused = true;
        s->conn = c;
        send_it(s);
        return;
    }
    s->reused = false;
    s->conn = upstream_pool_connect(s->w, s->srv, s, on_ready);
    if (s->conn == NULL) { /* never call back from inside subrequest_start */
        h2o_timeout_unlink(&s->timeout);
        s->deferred_err = strerror(errno);
        s->timeout.cb = on_deferred;
        h2o_timeout_link(s->w->loop, worker_timeout_live(s->w->loop, &s->w->subrequest_defer), &s->timeout);
    }
}

/* The client request is gone: leave the connection to the pool. */
static void on_dispose(void *_s)
{
    struct subrequest *s = _s;
    h2o_timeout_unlink(&s->timeout);
    if (s->conn != NULL && !s->done) {
        struct upstream_conn *c = s->conn;
        s->conn = NULL;
        upstream_pool_abandon(c, s->head_read ? &s->framing : NULL, false);
    }
}

void subrequest_start(struct worker *w, h2o_mem_pool_t *pool, struct server *srv, h2o_iovec_t head, h2o_iovec_t body,
                      size_t max_body, subrequest_cb cb, void *data)
{
    struct subrequest *s = h2o_mem_alloc_shared(pool, sizeof(*s), on_dispose);
    memset(s, 0, sizeof(*s));
    s->w = w;
    s->pool = pool;
    s->srv = srv;
    s->head = head;
    s->body = body;
    s->max_body = max_body;
    s->cb = cb;
    s->data = data;
    s->timeout.cb = on_timeout;
    start(s);
}
