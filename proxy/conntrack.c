/*
 * Client connection tracking (see conntrack.h).
 *
 * Phases of an HTTP/1 connection without a request in progress are read
 * from its input buffer, which h2o leaves holding the unparsed request:
 * empty = idle between requests, bytes without an end of headers = still
 * receiving headers, a complete head = receiving the body (h2o buffers
 * bodies before a handler runs). HTTP/2 connections are idle when no
 * stream is in progress and bytes trickle in below the minimum rate.
 */
#include "conntrack.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/tcp.h>

#include "../common/log.h"
#include "forwarded.h"
#include "h1_framing.h"
#include "h1_stream.h"
#include "worker.h"

#define IP_BUCKETS 4096
#define IP_STRIPES 64
#define HEAD_SCAN_MAX (512 * 1024) /* h2o rejects longer heads anyway */
#define RESET_WINDOW_MS 10000

struct ip_entry {
    struct ip_entry *next;
    uint8_t ip[16];
    uint32_t count;
};

static struct ip_entry *ip_table[IP_BUCKETS];
static pthread_mutex_t ip_locks[IP_STRIPES];
static pthread_once_t ip_once = PTHREAD_ONCE_INIT;
static uint64_t max_connections;
static uint32_t max_per_ip;
static _Atomic uint64_t open_connections;
static _Atomic uint64_t closed[CT_REASONS];

static const char *const reason_names[CT_REASONS] = {"header_timeout", "body_rate",    "idle",        "write_stall",
                                                     "rapid_reset",    "per_ip_limit", "global_limit",
                                                     "hello_timeout",  "bad_client_hello", "h2_flood"};

static void init_locks(void)
{
    for (int i = 0; i < IP_STRIPES; i++)
        pthread_mutex_init(&ip_locks[i], NULL);
}

void conntrack_set_limits(uint64_t max_conns, uint32_t per_ip)
{
    max_connections = max_conns;
    max_per_ip = per_ip;
    pthread_once(&ip_once, init_locks);
}

uint64_t conntrack_closed(enum conntrack_reason r)
{
    return atomic_load(&closed[r]);
}

const char *conntrack_reason_name(enum conntrack_reason r)
{
    return r < CT_REASONS ? reason_names[r] : "?";
}

uint64_t conntrack_open(void)
{
    return atomic_load(&open_connections);
}

static uint32_t ip_hash(const uint8_t ip[16])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 16; i++)
        h = (h ^ ip[i]) * 16777619u;
    return h;
}

/* Adds <delta> to the count of <ip>; returns the new count. */
static uint32_t ip_add(const uint8_t ip[16], int delta)
{
    uint32_t h = ip_hash(ip), b = h % IP_BUCKETS;
    pthread_mutex_t *lock = &ip_locks[b % IP_STRIPES];
    pthread_mutex_lock(lock);
    struct ip_entry **p = &ip_table[b];
    while (*p && memcmp((*p)->ip, ip, 16) != 0)
        p = &(*p)->next;
    if (*p == NULL) {
        if (delta <= 0) {
            pthread_mutex_unlock(lock);
            return 0;
        }
        *p = calloc(1, sizeof(**p));
        if (*p == NULL)
            abort();
        memcpy((*p)->ip, ip, 16);
    }
    struct ip_entry *e = *p;
    e->count = (uint32_t)((int64_t)e->count + delta);
    uint32_t n = e->count;
    if (n == 0) {
        *p = e->next;
        free(e);
    }
    pthread_mutex_unlock(lock);
    return n;
}

static int64_t now_ms(struct worker *w)
{
    return worker_now_ms(w);
}

static void pause_listeners(struct worker *w, bool pause)
{
    if (w->listeners_paused == pause)
        return;
    w->listeners_paused = pause;
    for (size_t i = 0; i < w->n_eps; i++) {
        if (w->eps[i].listener == NULL)
            continue;
        if (pause)
            h2o_socket_read_stop(w->eps[i].listener);
        else
            h2o_socket_read_start(w->eps[i].listener, w->accept_cb);
    }
    static _Atomic int64_t last_warn_ms;
    int64_t now = now_ms(w), last = atomic_load(&last_warn_ms);
    if (pause && now - last >= 10000 && atomic_compare_exchange_strong(&last_warn_ms, &last, now))
        log_warn("worker %u: %llu connections open, the limit (%llu): not accepting until some close", w->id,
                 (unsigned long long)atomic_load(&open_connections), (unsigned long long)max_connections);
}

static void on_close(void *data)
{
    struct conntrack_conn *c = data;
    struct worker *w = c->we->w;
    h2o_timeout_unlink(&c->sniff_entry);
    h2o_linklist_unlink(&c->link);
    w->n_client_conns--;
    __atomic_store_n(&c->we->open_conns, c->we->open_conns - 1, __ATOMIC_RELAXED);
    uint64_t open = atomic_fetch_sub(&open_connections, 1) - 1;
    if (c->ip_counted)
        ip_add(c->ip16, -1);
    if (c->close_cb != NULL)
        c->close_cb(c->close_data);
    if (c->framing != NULL)
        h1_framing_closed(c->framing);
    /* resume a bit below the limit, so the listener does not flap */
    if (w->listeners_paused && open < max_connections - max_connections / 20 && !atomic_load(&w->stopping))
        pause_listeners(w, false);
    free(c);
}

struct conntrack_conn *conntrack_accept(struct worker_ep *we, h2o_socket_t *sock)
{
    struct worker *w = we->w;
    uint64_t open = atomic_fetch_add(&open_connections, 1) + 1;
    struct sockaddr_storage ss;
    socklen_t sl = h2o_socket_getpeername(sock, (struct sockaddr *)&ss);
    uint8_t ip[16];
    char text[64];
    if (sl == 0)
        ss.ss_family = AF_UNSPEC;
    forwarded_client_ip((struct sockaddr *)&ss, ip, text, sizeof(text));
    enum conntrack_reason refused = CT_REASONS;
    uint32_t per_ip = max_per_ip ? ip_add(ip, 1) : 0;
    if (max_per_ip && per_ip > max_per_ip)
        refused = CT_PER_IP_LIMIT;
    else if (max_connections && open > max_connections)
        refused = CT_GLOBAL_LIMIT;
    if (refused != CT_REASONS) {
        atomic_fetch_sub(&open_connections, 1);
        if (max_per_ip)
            ip_add(ip, -1);
        atomic_fetch_add(&closed[refused], 1);
        if (refused == CT_GLOBAL_LIMIT) /* another worker took the last slot */
            pause_listeners(w, true);
        else
            log_debug("refused a connection from %s: more than %u open from that address", text, max_per_ip);
        return NULL;
    }
    /* at the limit: leave further connections in the listen backlog */
    if (max_connections && open >= max_connections)
        pause_listeners(w, true);
    struct conntrack_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->sock = sock;
    c->we = we;
    memcpy(c->ip16, ip, 16);
    memcpy(c->peer16, ip, 16);
    c->ip_counted = max_per_ip != 0;
    int64_t now = now_ms(w);
    c->last_ack_ms = c->idle_since_ms = c->window_start_ms = now;
    c->head_start_ms = c->body_since_ms = c->write_wait_ms = -1;
    h2o_linklist_insert(&w->client_conns, &c->link);
    w->n_client_conns++;
    __atomic_store_n(&we->open_conns, we->open_conns + 1, __ATOMIC_RELAXED);
    sock->on_close.cb = on_close;
    sock->on_close.data = c;
    return c;
}

void conntrack_on_close(struct conntrack_conn *c, void (*cb)(void *), void *data)
{
    c->close_cb = cb;
    c->close_data = data;
}

struct conntrack_conn *conntrack_of_socket(h2o_socket_t *sock)
{
    return sock != NULL && sock->on_close.cb == on_close ? sock->on_close.data : NULL;
}

struct conntrack_conn *conntrack_of(h2o_req_t *req)
{
    return conntrack_of_socket(req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL);
}

void conntrack_count(enum conntrack_reason reason)
{
    atomic_fetch_add(&closed[reason], 1);
}

bool conntrack_doom(struct conntrack_conn *c, enum conntrack_reason reason)
{
    if (c->doomed)
        return false;
    c->doomed = true;
    atomic_fetch_add(&closed[reason], 1);
    log_debug("closing a connection: %s", reason_names[reason]);
    return true;
}

void conntrack_kill(struct conntrack_conn *c, enum conntrack_reason reason)
{
    if (!conntrack_doom(c, reason))
        return;
    c->shut = true;
    shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
}

bool conntrack_request_start(struct conntrack_conn *c, h2o_req_t *req)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    c->active++;
    if (req->version < 0x200) { /* HTTP/1 requests come one after the other */
        if (c->framing != NULL)
            h1_stream_request(h1_framing_stream(c->framing), req);
        return true;
    }
    c->h2 = true;
    int64_t now = now_ms(c->we->w);
    if (now - c->starts_window_ms >= 1000) {
        c->starts_window_ms = now;
        c->starts = 0;
    }
    return !cfg->max_requests_per_second || ++c->starts <= cfg->max_requests_per_second;
}

static void count_reset(struct conntrack_conn *c, int64_t now);

void conntrack_request_reset(struct conntrack_conn *c)
{
    count_reset(c, now_ms(c->we->w));
}

void conntrack_request_end(struct conntrack_conn *c, bool aborted)
{
    int64_t now = now_ms(c->we->w);
    if (c->active)
        c->active--;
    c->idle_since_ms = now;
    c->head_start_ms = c->body_since_ms = -1;
    if (aborted)
        count_reset(c, now);
}

static void count_reset(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    if (now - c->resets_window_ms >= RESET_WINDOW_MS) {
        c->resets_window_ms = now;
        c->resets = 0;
    }
    if (cfg->max_resets && ++c->resets > cfg->max_resets) {
        log_warn("closing a connection that reset %u requests before their response within %d s (HTTP/2 rapid reset?)",
                 c->resets, RESET_WINDOW_MS / 1000);
        conntrack_kill(c, CT_RAPID_RESET);
    }
}

void conntrack_tunnel(struct conntrack_conn *c)
{
    c->tunnel = true;
}

/* Where an HTTP/1 connection without a request in progress stands. */
enum h1_phase { PH_IDLE, PH_HEAD, PH_BODY };

static enum h1_phase h1_phase(const h2o_socket_t *sock)
{
    const h2o_buffer_t *in = sock->input;
    if (in == NULL || in->size == 0)
        return PH_IDLE;
    size_t n = in->size < HEAD_SCAN_MAX ? in->size : HEAD_SCAN_MAX;
    if (memmem(in->bytes, n, "\r\n\r\n", 4) || memmem(in->bytes, n, "\n\n", 2))
        return PH_BODY;
    return PH_HEAD;
}

static bool looks_h2(const h2o_socket_t *sock)
{
    const h2o_buffer_t *in = sock->input;
    if (in != NULL && in->size >= 14 && memcmp(in->bytes, "PRI * HTTP/2.0", 14) == 0)
        return true;
    if (sock->ssl == NULL)
        return false;
    h2o_iovec_t alpn = h2o_socket_ssl_get_selected_protocol((h2o_socket_t *)sock);
    return alpn.len >= 2 && memcmp(alpn.base, "h2", 2) == 0;
}

void conntrack_sniffed(struct conntrack_conn *c)
{
    c->h2 = c->h2 || looks_h2(c->sock);
}

/* Reads the kernel's byte counters; false when the socket has none. */
static bool tcp_counters(struct conntrack_conn *c, int64_t now)
{
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    memset(&ti, 0, sizeof(ti));
    if (getsockopt(h2o_socket_get_fd(c->sock), IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        return false;
    if (ti.tcpi_bytes_acked != c->acked) {
        c->acked = ti.tcpi_bytes_acked;
        c->last_ack_ms = now;
    }
    c->received = ti.tcpi_bytes_received;
    return true;
}

/* Updates write progress; true when a pending write made none for writeTimeout. */
static bool write_stalled(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    h2o_socket_t *sock = c->sock;
    if (!h2o_socket_is_writing(sock)) {
        c->write_wait_ms = -1;
        return false;
    }
    if (c->write_wait_ms < 0 || sock->bytes_written != c->issued) { /* h2o starts a write when the last one completed */
        c->issued = sock->bytes_written;
        c->write_wait_ms = now;
    }
    tcp_counters(c, now);
    int64_t progress = c->last_ack_ms > c->write_wait_ms ? c->last_ack_ms : c->write_wait_ms;
    return cfg->write_timeout_ms && now - progress > (int64_t)cfg->write_timeout_ms;
}

bool conntrack_write_stalled(struct conntrack_conn *c)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    int64_t now = now_ms(c->we->w);
    if (c->doomed)
        return true;
    tcp_counters(c, now);
    return cfg->write_timeout_ms && now - c->last_ack_ms > (int64_t)cfg->write_timeout_ms;
}

/* HTTP/2 without a request in progress: idle unless bytes arrive at the
 * minimum rate at least (h2o's own timer restarts on every byte). */
static bool check_h2(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    if (now - c->window_start_ms >= (int64_t)cfg->body_rate_window_ms) {
        if (tcp_counters(c, now)) {
            uint64_t got = c->received - c->window_received;
            uint64_t want = cfg->body_min_rate * (uint64_t)(now - c->window_start_ms) / 1000;
            c->moving = got > 0 && got >= want;
            c->window_received = c->received;
        }
        c->window_start_ms = now;
    }
    if (c->moving)
        c->idle_since_ms = now;
    if (cfg->idle_timeout_ms && now - c->idle_since_ms > (int64_t)cfg->idle_timeout_ms) {
        conntrack_kill(c, CT_IDLE);
        return true;
    }
    return false;
}

/* HTTP/1 without a request in progress: h2o keeps the unparsed head and
 * the body in the input buffer until the whole request is there. */
static bool check_h1(struct conntrack_conn *c, int64_t now)
{
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    enum h1_phase phase = h1_phase(c->sock);
    if (phase != PH_HEAD)
        c->head_start_ms = -1;
    if (phase != PH_BODY)
        c->body_since_ms = -1;
    switch (phase) {
    case PH_IDLE:
        if (cfg->idle_timeout_ms && now - c->idle_since_ms > (int64_t)cfg->idle_timeout_ms) {
            conntrack_kill(c, CT_IDLE);
            return true;
        }
        return false;
    case PH_HEAD: /* a deadline, however the bytes trickle in (slowloris) */
        if (c->head_start_ms < 0)
            c->head_start_ms = now;
        if (cfg->read_timeout_ms && now - c->head_start_ms > (int64_t)cfg->read_timeout_ms) {
            conntrack_kill(c, CT_HEADER_TIMEOUT);
            return true;
        }
        return false;
    case PH_BODY: { /* a minimum average rate, and no stall longer than the window */
        size_t size = c->sock->input->size;
        if (c->body_since_ms < 0) {
            c->body_since_ms = c->body_progress_ms = now;
            c->body_start_size = c->body_last_size = size;
        }
        if (size != c->body_last_size) {
            c->body_last_size = size;
            c->body_progress_ms = now;
        }
        int64_t elapsed = now - c->body_since_ms;
        if (!cfg->body_min_rate || elapsed < (int64_t)cfg->body_rate_window_ms)
            return false;
        if (now - c->body_progress_ms > (int64_t)cfg->body_rate_window_ms ||
            (uint64_t)(size - c->body_start_size) * 1000 < cfg->body_min_rate * (uint64_t)elapsed) {
            conntrack_kill(c, CT_BODY_RATE);
            return true;
        }
        return false;
    }
    }
    return false;
}

/* Applies the rules to one connection; true when it was cut. */
static bool check(struct conntrack_conn *c, int64_t now)
{
    if (c->doomed && !c->shut) { /* closing through h2o (a GOAWAY first) had a second */
        c->shut = true;
        shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    }
    if (c->doomed || c->tunnel)
        return false;
    if (write_stalled(c, now)) { /* a response the client does not read */
        conntrack_kill(c, CT_WRITE_STALL);
        return true;
    }
    if (c->guard.conn != NULL && h2_guard_sweep(c, now)) /* stalled HTTP/2 request bodies */
        return true;
    const struct entrypoint_config *cfg = &c->we->ep->cfg;
    if (c->framing != NULL && cfg->body_min_rate && /* an HTTP/1 body streamed while its request runs */
        h1_stream_too_slow(h1_framing_stream(c->framing), now, cfg->body_min_rate, (int64_t)cfg->body_rate_window_ms)) {
        conntrack_kill(c, CT_BODY_RATE);
        return true;
    }
    if (c->active > 0)
        return false;
    if (!c->h2 && looks_h2(c->sock))
        c->h2 = true;
    return c->h2 ? check_h2(c, now) : check_h1(c, now);
}

void conntrack_sweep(struct worker *w)
{
    int64_t now = now_ms(w);
    for (h2o_linklist_t *n = w->client_conns.next; n != &w->client_conns;) {
        struct conntrack_conn *c = H2O_STRUCT_FROM_MEMBER(struct conntrack_conn, link, n);
        n = n->next; /* shutdown does not close synchronously, but be safe */
        check(c, now);
    }
    if (w->listeners_paused && atomic_load(&open_connections) < max_connections - max_connections / 20 &&
        !atomic_load(&w->stopping))
        pause_listeners(w, false);
}
