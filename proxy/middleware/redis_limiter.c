/*
 * rateLimit over Redis (see redis_limiter.h).
 *
 * Ownership: struct redis_limiter is malloc'd and reference counted: one
 * reference for the table that built it (dropped when the table's arena is
 * freed, on the watcher thread) and one per open connection. Connections
 * belong to one worker: r->conns[w] is only touched by worker w, and each
 * worker keeps a thread-local list of its connections so that a drain, or
 * a table that went away, can close them on the right thread.
 *
 * The event-loop adapter: hiredis reads and writes the socket itself, so
 * h2o watches a dup of its descriptor with H2O_SOCKET_FLAG_DONT_READ (h2o
 * then only reports readiness); hiredis' cleanup hook closes the dup, and
 * the connection with it.
 */
#include "redis_limiter.h"

#include <math.h>
#include <netdb.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "../../common/hostport.h"
#include "../../common/log.h"
#include "../worker.h"

#define RETRY_AFTER_FAILURE_MS 100 /* a dead Redis is not redialled on every request */

/* Traefik's bucket (x/time/rate's arithmetic) in Lua: refill by the time
 * elapsed, take one token; when the wait for it exceeds the maximum the
 * token is given back. Returns {"true", wait in microseconds, tokens}. */
static const char bucket_script[] =
    "local rate, burst, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local now, max_delay = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local state = redis.call('HMGET', KEYS[1], 'last', 'tokens')\n"
    "local last, tokens = tonumber(state[1]), tonumber(state[2])\n"
    "if last == nil or tokens == nil then\n"
    "  last, tokens = 0, 0\n"
    "end\n"
    "if now < last then\n"
    "  last = now\n"
    "end\n"
    "tokens = math.min(tokens + (now - last) * rate, burst) - 1\n"
    "local wait = 0\n"
    "if tokens < 0 then\n"
    "  wait = -tokens / rate\n"
    "  if wait > max_delay then\n"
    "    tokens = math.min(tokens + 1, burst)\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], 'last', now, 'tokens', tokens)\n"
    "redis.call('EXPIRE', KEYS[1], ttl)\n"
    "return {'true', tostring(wait), tostring(tokens)}\n";

struct redis_conn;

struct redis_limiter {
    _Atomic uint32_t refs;
    _Atomic bool retired; /* its table is gone: connections close when their worker next looks */
    char host[64];
    int port;
    char *username, *password, *key_prefix; /* "rate:<name>:" */
    int64_t db;
    uint64_t dial_ms, io_ms; /* io: readTimeout + writeTimeout, the longest a command may take; 0: no deadline */
    char rate_arg[40], burst_arg[24], ttl_arg[24], max_delay_arg[24];
    char sha[41];
    uint32_t n_conns;
    struct redis_conn **conns; /* [worker id] */
    int64_t *failed_ms;        /* [worker id]: the last failure */
};

struct redis_conn {
    h2o_linklist_t link; /* the worker's connections */
    struct redis_limiter *r;
    uint32_t worker;
    redisAsyncContext *ac;
    h2o_socket_t *sock;
    bool reading, write_pending;
    int64_t created_ms, connected_ms; /* connected_ms: 0 until connected */
};

/* A command under way; outlives its request if the request goes first. */
struct pending {
    struct mw_run *run; /* NULL: the request went away (or timed out) */
    struct redis_limiter *r;
    struct redis_conn *conn;
    redis_limiter_cb cb;
    struct pending_link *link;
    h2o_timeout_entry_t tick;
    int64_t sent_ms;
    bool tried_eval;
    char *key;
    size_t key_len;
    char now_arg[24];
};

/* In the request's pool: cuts the pending command loose when the request ends. */
struct pending_link {
    struct pending *p;
};

static __thread h2o_linklist_t worker_conns;
static _Atomic uint64_t retired_gen;
static __thread uint64_t seen_retired_gen;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void limiter_unref(struct redis_limiter *r)
{
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    free(r->username);
    free(r->password);
    free(r->key_prefix);
    free(r->conns);
    free(r->failed_ms);
    free(r);
}

static void on_table_free(void *p)
{
    struct redis_limiter *r = p;
    atomic_store(&r->retired, true);
    atomic_fetch_add(&retired_gen, 1);
    limiter_unref(r);
}

/* ---- building ---- */

static int endpoint(struct redis_limiter *r, const char *ep, struct diag *d)
{
    struct hostport hp = {.port = 6379};
    if (hostport_parse(ep, HOSTPORT_PORT_OPTIONAL, &hp, d) != 0)
        return diag_set(d, "redis.endpoints: %s", d->msg);
    const char *host = hp.host;
    char port[12];
    snprintf(port, sizeof(port), "%d", hp.port);
    /* resolved here, on the watcher: hiredis would resolve on the worker */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0)
        return diag_set(d, "redis.endpoints: '%s': %s", ep, gai_strerror(rc));
    rc = getnameinfo(res->ai_addr, res->ai_addrlen, r->host, sizeof(r->host), NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    if (rc != 0)
        return diag_set(d, "redis.endpoints: '%s': %s", ep, gai_strerror(rc));
    r->port = hp.port;
    return 0;
}

/* Options that size go-redis' pool of blocking connections (a request
 * holds one for its command). Gantry's connections are pipelined: one per
 * worker serves any number of requests at once, so there is no pool to
 * size. They are checked, and maxActiveConns below the worker count (more
 * connections than it allows) is said in the log. */
static int pool_options(struct mw_options *o, uint32_t n_workers, struct diag *d)
{
    static const char *const keys[] = {"redis.poolSize", "redis.minIdleConns", "redis.maxActiveConns"};
    int64_t v[3];
    for (size_t i = 0; i < 3; i++)
        if (mw_opt_int(o, keys[i], 0, 0, 1000000, &v[i], d) != 0)
            return -1;
    if (v[2] != 0 && v[2] < (int64_t)n_workers)
        log_warn("rateLimit %s: redis.maxActiveConns %lld is not applied: gantry keeps one connection per worker (%u)",
                 o->name ? o->name : "", (long long)v[2], n_workers);
    return 0;
}

/* go-redis' meaning, as Traefik passes them on: readTimeout 0 is no
 * deadline; writeTimeout 0 is readTimeout's (none when that is 0 too). */
uint64_t redis_limiter_io_ms(uint64_t read_ms, uint64_t write_ms)
{
    return read_ms == 0 ? 0 : read_ms + (write_ms ? write_ms : read_ms);
}

struct redis_limiter *redis_limiter_build(struct arena *a, struct mw_options *o, double rate, int64_t burst, int64_t ttl_s,
                                          int64_t max_delay_ns, struct diag *d)
{
    if (mw_opt_has(o, "redis.tls")) {
        diag_set(d, "redis.tls: TLS to Redis is not supported by gantry yet");
        return NULL;
    }
    size_t n_eps;
    const char **eps = mw_opt_list(a, o, "redis.endpoints", &n_eps);
    (void)mw_opt_string(o, "redis"); /* "redis: {}": every default */
    const char *user = mw_opt_string(o, "redis.username"), *pass = mw_opt_string(o, "redis.password");
    int64_t db;
    uint64_t dial_ms, read_ms, write_ms;
    if (n_eps > 1) {
        diag_set(d, "redis.endpoints: one endpoint only (Redis Cluster and Sentinel are not supported by gantry yet)");
        return NULL;
    }
    struct redis_limiter *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    uint32_t n_workers = o->table && o->table->n_workers ? o->table->n_workers : 1;
    if (mw_opt_int(o, "redis.db", 0, 0, 1000000, &db, d) != 0 || pool_options(o, n_workers, d) != 0 ||
        mw_opt_duration_ms(o, "redis.dialTimeout", 5000, &dial_ms, d) != 0 ||
        mw_opt_duration_ms(o, "redis.readTimeout", 3000, &read_ms, d) != 0 ||
        mw_opt_duration_ms(o, "redis.writeTimeout", 3000, &write_ms, d) != 0 ||
        endpoint(r, n_eps ? eps[0] : "localhost:6379", d) != 0) {
        free(r);
        return NULL;
    }
    atomic_init(&r->refs, 1);
    r->db = db;
    r->dial_ms = dial_ms ? dial_ms : 5000;
    r->io_ms = redis_limiter_io_ms(read_ms, write_ms);
    r->username = user && *user ? strdup(user) : NULL;
    r->password = pass && *pass ? strdup(pass) : NULL;
    char *prefix = NULL;
    if (asprintf(&prefix, "rate:%s:", o->name ? o->name : "") < 0)
        abort();
    r->key_prefix = prefix;
    snprintf(r->rate_arg, sizeof(r->rate_arg), "%.17g", rate / 1e6); /* per microsecond */
    snprintf(r->burst_arg, sizeof(r->burst_arg), "%lld", (long long)burst);
    snprintf(r->ttl_arg, sizeof(r->ttl_arg), "%lld", (long long)ttl_s);
    snprintf(r->max_delay_arg, sizeof(r->max_delay_arg), "%lld", (long long)(max_delay_ns / 1000));
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)bucket_script, strlen(bucket_script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(r->sha + 2 * i, 3, "%02x", md[i]);
    r->n_conns = n_workers;
    r->conns = calloc(r->n_conns, sizeof(*r->conns));
    r->failed_ms = calloc(r->n_conns, sizeof(*r->failed_ms));
    if (r->conns == NULL || r->failed_ms == NULL)
        abort();
    arena_on_free(a, on_table_free, r);
    return r;
}

/* ---- the h2o event-loop adapter for hiredis ---- */

static void on_readable(h2o_socket_t *sock, const char *err)
{
    (void)err; /* hiredis finds the error itself when it reads */
    struct redis_conn *c = sock->data;
    redisAsyncHandleRead(c->ac);
}

static void on_writable(h2o_socket_t *sock, const char *err)
{
    (void)err;
    struct redis_conn *c = sock->data;
    c->write_pending = false;
    redisAsyncHandleWrite(c->ac);
}

static void ev_add_read(void *p)
{
    struct redis_conn *c = p;
    if (!c->reading) {
        c->reading = true;
        h2o_socket_read_start(c->sock, on_readable);
    }
}

static void ev_del_read(void *p)
{
    struct redis_conn *c = p;
    if (c->reading) {
        c->reading = false;
        h2o_socket_read_stop(c->sock);
    }
}

static void ev_add_write(void *p)
{
    struct redis_conn *c = p;
    if (!c->write_pending) { /* h2o takes one write notification at a time */
        c->write_pending = true;
        h2o_socket_notify_write(c->sock, on_writable);
    }
}

static void ev_del_write(void *p)
{
    (void)p; /* h2o cannot take a notification back; a spurious one is harmless */
}

/* Called by hiredis as it frees the context (after the pending commands'
 * callbacks): the connection goes with it. */
static void ev_cleanup(void *p)
{
    struct redis_conn *c = p;
    struct redis_limiter *r = c->r;
    if (c->worker < r->n_conns && r->conns[c->worker] == c)
        r->conns[c->worker] = NULL;
    h2o_linklist_unlink(&c->link);
    h2o_socket_close(c->sock); /* the dup; hiredis closes its own descriptor */
    free(c);
    limiter_unref(r);
}

/* ---- connections ---- */

static void on_setup_reply(redisAsyncContext *ac, void *reply, void *what)
{
    redisReply *rep = reply;
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        log_warn("rateLimit redis %s:%d: %s failed: %s", ((struct redis_conn *)ac->ev.data)->r->host,
                 ((struct redis_conn *)ac->ev.data)->r->port, (const char *)what, rep->str);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    if (status == REDIS_OK)
        ((struct redis_conn *)ac->ev.data)->connected_ms = mono_ms();
}

static void close_retired(void)
{
    uint64_t gen = atomic_load(&retired_gen);
    if (gen == seen_retired_gen)
        return;
    seen_retired_gen = gen;
    for (h2o_linklist_t *n = worker_conns.next; n != &worker_conns;) {
        struct redis_conn *c = H2O_STRUCT_FROM_MEMBER(struct redis_conn, link, n);
        n = n->next;
        if (atomic_load(&c->r->retired))
            redisAsyncFree(c->ac); /* ev_cleanup frees c */
    }
}

static struct redis_conn *conn_get(struct redis_limiter *r, struct worker *w)
{
    if (worker_conns.next == NULL)
        h2o_linklist_init_anchor(&worker_conns);
    close_retired();
    uint32_t id = w->id < r->n_conns ? w->id : 0;
    if (r->conns[id] != NULL)
        return r->conns[id];
    if (r->failed_ms[id] != 0 && mono_ms() - r->failed_ms[id] < RETRY_AFTER_FAILURE_MS)
        return NULL;
    redisAsyncContext *ac = redisAsyncConnect(r->host, r->port);
    int fd = ac && !ac->err ? dup(ac->c.fd) : -1;
    if (fd < 0) {
        log_warn("rateLimit redis %s:%d: %s", r->host, r->port, ac && ac->err ? ac->errstr : "cannot connect");
        if (ac)
            redisAsyncFree(ac);
        r->failed_ms[id] = mono_ms();
        return NULL;
    }
    struct redis_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->r = r;
    c->worker = id;
    c->ac = ac;
    c->sock = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    c->sock->data = c;
    atomic_fetch_add(&r->refs, 1);
    h2o_linklist_insert(&worker_conns, &c->link);
    ac->ev.data = c;
    ac->ev.addRead = ev_add_read;
    ac->ev.delRead = ev_del_read;
    ac->ev.addWrite = ev_add_write;
    ac->ev.delWrite = ev_del_write;
    ac->ev.cleanup = ev_cleanup;
    c->created_ms = mono_ms();
    redisAsyncSetConnectCallback(ac, on_connect);
    if (r->password != NULL) {
        if (r->username != NULL)
            redisAsyncCommand(ac, on_setup_reply, "AUTH", "AUTH %s %s", r->username, r->password);
        else
            redisAsyncCommand(ac, on_setup_reply, "AUTH", "AUTH %s", r->password);
    }
    if (r->db != 0)
        redisAsyncCommand(ac, on_setup_reply, "SELECT", "SELECT %lld", (long long)r->db);
    r->conns[id] = c;
    return c;
}

/* ---- commands ---- */

static void pending_free(struct pending *p)
{
    if (p->link != NULL)
        p->link->p = NULL;
    h2o_timeout_unlink(&p->tick);
    limiter_unref(p->r);
    free(p->key);
    free(p);
}

/* The request is answered (or gone): what is left waits for the reply. */
static void pending_detach(struct pending *p)
{
    h2o_timeout_unlink(&p->tick);
    if (p->link != NULL)
        p->link->p = NULL;
    p->link = NULL;
    p->run = NULL;
}

static void on_link_dispose(void *_link)
{
    struct pending_link *link = _link;
    if (link->p != NULL) {
        link->p->link = NULL;
        pending_detach(link->p);
    }
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata);

static int send_script(struct pending *p, bool eval)
{
    const char *argv[] = {eval ? "EVAL" : "EVALSHA", eval ? bucket_script : p->r->sha, "1", p->key,
                          p->r->rate_arg, p->r->burst_arg, p->r->ttl_arg, p->now_arg, p->r->max_delay_arg};
    size_t lens[9];
    for (int i = 0; i < 9; i++)
        lens[i] = argv[i] == p->key ? p->key_len : strlen(argv[i]);
    return redisAsyncCommandArgv(p->conn->ac, on_reply, p, 9, argv, lens) == REDIS_OK ? 0 : -1;
}

static void finish(struct pending *p, int status, int64_t delay_ns)
{
    struct mw_run *run = p->run;
    redis_limiter_cb cb = p->cb;
    pending_detach(p);
    if (run != NULL)
        cb(run, status, delay_ns);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    (void)ac;
    struct pending *p = privdata;
    redisReply *rep = reply;
    if (p->run != NULL && rep != NULL && rep->type == REDIS_REPLY_ERROR && !p->tried_eval &&
        strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        p->tried_eval = true; /* the server does not have the script yet: EVAL loads it */
        if (send_script(p, true) == 0)
            return;
    }
    if (p->run != NULL) {
        if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2 &&
            rep->element[1]->type == REDIS_REPLY_STRING) {
            double wait_us = strtod(rep->element[1]->str, NULL);
            finish(p, 0, (int64_t)ceil(wait_us * 1000.0));
        } else {
            if (rep == NULL)
                log_debug("rateLimit redis %s:%d: connection lost", p->r->host, p->r->port);
            else
                log_warn("rateLimit redis %s:%d: %s", p->r->host, p->r->port,
                         rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
            if (rep == NULL && p->conn->worker < p->r->n_conns)
                p->r->failed_ms[p->conn->worker] = mono_ms();
            finish(p, -1, 0);
        }
    }
    pending_free(p);
}

/* Polled on the worker's 1 ms list: a connection not made within
 * dialTimeout, or a command not answered within readTimeout + writeTimeout
 * of being sent (or of the connection being made), fails the request, and
 * the connection is dropped (every other command on it fails too). One
 * attempt: go-redis (Traefik) tries a timed-out command up to 3 more times
 * before the 500; Gantry answers it after the first. */
static void on_deadline_tick(h2o_timeout_entry_t *e)
{
    struct pending *p = H2O_STRUCT_FROM_MEMBER(struct pending, tick, e);
    struct worker *w = p->run->w;
    const struct redis_conn *conn = p->conn;
    int64_t now = mono_ms(), since = p->sent_ms > conn->connected_ms ? p->sent_ms : conn->connected_ms;
    bool late = conn->connected_ms == 0 ? now - conn->created_ms >= (int64_t)p->r->dial_ms
                                        : p->r->io_ms != 0 && now - since >= (int64_t)p->r->io_ms;
    if (!late) {
        h2o_timeout_link(w->loop, worker_timeout_live(w->loop, &w->mw_tick), &p->tick);
        return;
    }
    log_warn("rateLimit redis %s:%d: no answer in time", p->r->host, p->r->port);
    struct redis_conn *c = p->conn;
    p->r->failed_ms[c->worker] = mono_ms();
    finish(p, -1, 0);
    redisAsyncFree(c->ac); /* p is freed by its callback, with a NULL reply */
}

int redis_limiter_take(struct redis_limiter *r, struct mw_run *run, h2o_iovec_t source, redis_limiter_cb cb)
{
    struct redis_conn *c = conn_get(r, run->w);
    if (c == NULL)
        return -1;
    struct pending *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    size_t plen = strlen(r->key_prefix);
    p->key = malloc(plen + source.len + 1);
    if (p->key == NULL)
        abort();
    memcpy(p->key, r->key_prefix, plen);
    memcpy(p->key + plen, source.base, source.len);
    p->key_len = plen + source.len;
    p->key[p->key_len] = '\0';
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* Traefik's clock: the wall clock, in microseconds */
    snprintf(p->now_arg, sizeof(p->now_arg), "%lld", (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000);
    p->run = run;
    p->r = r;
    p->conn = c;
    p->cb = cb;
    atomic_fetch_add(&r->refs, 1);
    if (send_script(p, false) != 0) {
        p->run = NULL;
        pending_free(p);
        return -1;
    }
    p->link = h2o_mem_alloc_shared(&run->req->pool, sizeof(*p->link), on_link_dispose);
    p->link->p = p;
    p->sent_ms = mono_ms();
    p->tick.cb = on_deadline_tick;
    h2o_timeout_link(run->w->loop, worker_timeout_live(run->w->loop, &run->w->mw_tick), &p->tick);
    return 0;
}

void redis_limiter_worker_close(void)
{
    if (worker_conns.next == NULL)
        return;
    while (!h2o_linklist_is_empty(&worker_conns)) {
        struct redis_conn *c = H2O_STRUCT_FROM_MEMBER(struct redis_conn, link, worker_conns.next);
        redisAsyncFree(c->ac); /* ev_cleanup unlinks and frees c */
    }
}
