/*
 * UDP sessions (see udp_proxy.h).
 *
 * Sockets: each worker has a socket of its own per UDP entry point, all
 * bound to the same address with SO_REUSEPORT. Linux picks the socket of
 * a datagram by a hash of its source and destination, so every datagram of
 * one client reaches the same worker and its one session there (as long as
 * the set of sockets does not change, which it does not while running).
 * One shared socket would either wake every worker for each datagram or
 * split one client's datagrams over several workers' session tables.
 *
 * A session is a connected UDP socket to the server picked for the client
 * (connected: the kernel filters what comes back to the server's address).
 * Its idle timer is re-armed by traffic either way, as Traefik's. When the
 * table changes, a session is checked on its next datagram: its router
 * must still serve the entry point and its server still belong to it,
 * otherwise the session ends and the datagram starts a new one.
 */
#include "udp_proxy.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/arena.h"
#include "../../common/hostport.h"
#include "../../common/log.h"
#include "../publish.h"
#include "../registry.h"
#include "../tcp/tcp_balancer.h"
#include "table_udp.h"

#define BUCKETS 16384 /* per worker; chains stay short up to the session cap */
#define BATCH 64      /* datagrams read per readiness callback, then the loop goes on */

struct udp_worker;

struct udp_listener {
    struct udp_worker *uw;
    uint32_t ep;
    h2o_socket_t *sock;
    h2o_timeout_t idle; /* the entry point's udp.timeout */
    /* counters: written by the worker, read by any thread */
    _Atomic uint64_t sessions, started, in, out, bytes_in, bytes_out, noroute, full, send_failed;
};

struct udp_session {
    struct udp_session *next; /* hash chain */
    struct udp_listener *l;
    struct udp_stats *stats; /* the service it started with: open until it ends; NULL: none */
    h2o_socket_t *up; /* connected to the server */
    h2o_timeout_entry_t idle;
    uint32_t bucket;
    uint64_t route_hash, gen; /* its router, and the table it was last checked against */
    struct sockaddr_storage client, server;
    socklen_t client_len, server_len;
};

struct udp_worker {
    uint32_t id;
    h2o_evloop_t *loop;
    struct udp_listener *ls; /* [n_eps] */
    struct udp_session **buckets;
    size_t n_sessions;
    bool warned_full;
    uint8_t *buf;
};

struct udp_ep {
    struct udp_entrypoint_config cfg;
    int *fds; /* [n_workers]; a worker's socket is closed by its loop */
    int port;
};

static struct udp_ep *eps;
static size_t n_eps;
static struct udp_worker *workers;
static uint32_t n_workers;

/* ---- binding ---- */

static void set_port(struct sockaddr_storage *ss, int port)
{
    if (ss->ss_family == AF_INET)
        ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

static int bind_one(struct udp_ep *ep, struct sockaddr_storage *ss, socklen_t len, struct diag *d)
{
    int fd = socket(ss->ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return diag_set(d, "entry point %s: socket: %s", ep->cfg.name, strerror(errno));
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (ss->ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)ss, len) != 0) {
        int e = errno;
        close(fd);
        return diag_set(d, "entry point %s: cannot bind %s/udp: %s", ep->cfg.name, ep->cfg.address, strerror(e));
    }
    return fd;
}

int udp_bind(const struct udp_entrypoint_config *cfgs, size_t n, uint32_t nw, struct diag *d)
{
    n_eps = n;
    n_workers = nw ? nw : 1;
    eps = calloc(n ? n : 1, sizeof(*eps));
    if (eps == NULL)
        return diag_set(d, "out of memory");
    for (size_t i = 0; i < n; i++) {
        struct udp_ep *ep = &eps[i];
        ep->cfg = cfgs[i];
        ep->fds = malloc(n_workers * sizeof(int));
        if (ep->fds == NULL)
            return diag_set(d, "out of memory");
        for (uint32_t w = 0; w < n_workers; w++)
            ep->fds[w] = -1;
        struct sockaddr_storage ss;
        socklen_t len = 0;
        if (hostport_listen_address(ep->cfg.address, SOCK_DGRAM, &ss, &len, d) != 0)
            return diag_set(d, "entry point %s: %s", ep->cfg.name, d->msg);
        for (uint32_t w = 0; w < n_workers; w++) {
            int fd = bind_one(ep, &ss, len, d);
            if (fd < 0)
                return -1;
            ep->fds[w] = fd;
            if (w == 0) { /* ":0": the others join the port the first one got */
                struct sockaddr_storage bound;
                socklen_t blen = sizeof(bound);
                getsockname(fd, (struct sockaddr *)&bound, &blen);
                ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                            : ((struct sockaddr_in6 *)&bound)->sin6_port);
                set_port(&ss, ep->port);
            }
        }
    }
    /* the listeners (and their counters) exist before any thread runs: the
     * admin thread reads the counters without racing their allocation */
    workers = calloc(n_workers, sizeof(*workers));
    if (workers == NULL)
        return diag_set(d, "out of memory");
    for (uint32_t w = 0; w < n_workers; w++)
        if (n_eps > 0 && (workers[w].ls = calloc(n_eps, sizeof(*workers[w].ls))) == NULL)
            return diag_set(d, "out of memory");
    return 0;
}

size_t udp_entrypoint_count(void)
{
    return n_eps;
}

const char *udp_entrypoint_name(size_t i)
{
    return eps[i].cfg.name;
}

int udp_entrypoint_port(size_t i)
{
    return eps[i].port;
}

const struct udp_entrypoint_config *udp_entrypoint_config(size_t i)
{
    return &eps[i].cfg;
}

void udp_counters(size_t ep, struct udp_counters *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t w = 0; w < n_workers && workers != NULL; w++) {
        const struct udp_listener *l = workers[w].ls ? &workers[w].ls[ep] : NULL;
        if (l == NULL)
            continue;
        out->sessions += atomic_load_explicit(&l->sessions, memory_order_relaxed);
        out->sessions_total += atomic_load_explicit(&l->started, memory_order_relaxed);
        out->datagrams_in += atomic_load_explicit(&l->in, memory_order_relaxed);
        out->datagrams_out += atomic_load_explicit(&l->out, memory_order_relaxed);
        out->bytes_in += atomic_load_explicit(&l->bytes_in, memory_order_relaxed);
        out->bytes_out += atomic_load_explicit(&l->bytes_out, memory_order_relaxed);
        out->dropped_noroute += atomic_load_explicit(&l->noroute, memory_order_relaxed);
        out->dropped_full += atomic_load_explicit(&l->full, memory_order_relaxed);
        out->dropped_send += atomic_load_explicit(&l->send_failed, memory_order_relaxed);
    }
}

static void count(_Atomic uint64_t *c, int64_t d)
{
    /* one writer (this worker): a relaxed load and store, no locked add */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + (uint64_t)d, memory_order_relaxed);
}

/* ---- sessions ---- */

static uint32_t hash_client(uint32_t ep, const struct sockaddr_storage *a, socklen_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ep;
    const uint8_t *p = (const uint8_t *)a;
    for (socklen_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return (uint32_t)(h ^ h >> 32) & (BUCKETS - 1);
}

static struct udp_session *find_session(struct udp_listener *l, const struct sockaddr_storage *a, socklen_t len,
                                        uint32_t bucket)
{
    for (struct udp_session *s = l->uw->buckets[bucket]; s != NULL; s = s->next)
        if (s->l == l && s->client_len == len && memcmp(&s->client, a, len) == 0)
            return s;
    return NULL;
}

static void end_session(struct udp_session *s)
{
    struct udp_worker *uw = s->l->uw;
    struct udp_session **pp = &uw->buckets[s->bucket];
    while (*pp != s)
        pp = &(*pp)->next;
    *pp = s->next;
    uw->n_sessions--;
    count(&s->l->sessions, -1);
    if (s->stats != NULL)
        udp_stats_open(s->stats, uw->id, -1); /* the last touch: parked counters may be freed after it */
    h2o_timeout_unlink(&s->idle);
    h2o_socket_close(s->up);
    free(s);
}

static void on_idle(h2o_timeout_entry_t *entry)
{
    end_session(H2O_STRUCT_FROM_MEMBER(struct udp_session, idle, entry));
}

static void touch(struct udp_session *s)
{
    h2o_timeout_unlink(&s->idle);
    h2o_timeout_link(s->l->uw->loop, &s->l->idle, &s->idle);
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t al, const struct sockaddr_storage *b, socklen_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* Whether <svc> (or a child, down to TCP_BALANCER_MAX_DEPTH) has a server at <a>. */
static bool service_has(const struct table_tcp_service *svc, const struct sockaddr_storage *a, socklen_t len, int depth)
{
    if (svc == NULL || depth > TCP_BALANCER_MAX_DEPTH)
        return false;
    for (uint32_t i = 0; i < svc->n_children; i++)
        if (svc->child_weights[i] > 0 && service_has(svc->children[i], a, len, depth + 1))
            return true;
    for (uint32_t i = 0; i < svc->n_servers; i++) {
        if (svc->servers[i].srv == NULL)
            continue;
        struct sockaddr_storage ss;
        socklen_t sl;
        server_address(svc->servers[i].srv, &ss, &sl);
        if (same_addr(&ss, sl, a, len))
            return true;
    }
    return false;
}

/* Worker <l->uw>'s counters of the service of the router serving <l>'s
 * entry point in <t>, or NULL. */
static struct udp_stats_slot *service_slot(const struct table *t, const struct udp_listener *l)
{
    const struct table_udp_route *r = table_udp_route(t, l->ep);
    return r != NULL && r->stats != NULL && l->uw->id < r->stats->n_workers ? &r->stats->w[l->uw->id] : NULL;
}

/* The session's router and server still serve its entry point in <t>. */
static bool still_routed(struct udp_session *s, const struct table *t)
{
    if (t != NULL && t->gen == s->gen)
        return true;
    const struct table_udp_route *r = table_udp_route(t, s->l->ep);
    if (r == NULL || r->name_hash != s->route_hash || !service_has(r->service, &s->server, s->server_len, 0))
        return false;
    s->gen = t->gen;
    return true;
}

static void on_server_readable(h2o_socket_t *sock, const char *err)
{
    struct udp_session *s = sock->data;
    if (err != NULL) {
        end_session(s);
        return;
    }
    struct udp_listener *l = s->l;
    uint8_t *buf = l->uw->buf;
    int lfd = h2o_socket_get_fd(l->sock), fd = h2o_socket_get_fd(sock);
    const struct table *t = publish_worker_table(l->uw->id);
    if (!still_routed(s, t)) {
        end_session(s);
        return;
    }
    /* still routed: its router serves the entry point in <t>, counting for its service */
    struct udp_stats_slot *ss = service_slot(t, l);
    for (int i = 0; i < BATCH; i++) {
        ssize_t n = recv(fd, buf, UDP_MAX_DATAGRAM, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break; /* EAGAIN; ECONNREFUSED: an ICMP error from the server, its next datagram may come */
        }
        /* a full client socket buffer drops the datagram, as the network would */
        if (sendto(lfd, buf, (size_t)n, 0, (struct sockaddr *)&s->client, s->client_len) >= 0) {
            count(&l->out, 1);
            count(&l->bytes_out, n);
            if (ss != NULL) {
                udp_stats_add(&ss->out, 1);
                udp_stats_add(&ss->bytes_out, (uint64_t)n);
            }
        } else {
            count(&l->send_failed, 1);
        }
        touch(s);
    }
}

/* A server of <svc> for worker <w>: round robin over the available ones. */
static struct server *pick_server(const struct table_tcp_service *svc, uint32_t w)
{
    if (svc == NULL || svc->n_servers == 0)
        return NULL;
    uint32_t *rr = &svc->rr[(size_t)w * 16];
    for (uint32_t k = 0; k < svc->n_servers; k++) {
        const struct table_tcp_server *sv = &svc->servers[(*rr + k) % svc->n_servers];
        if (sv->srv != NULL && server_healthy(sv->srv)) {
            *rr = (*rr + k + 1) % svc->n_servers;
            return sv->srv;
        }
    }
    return NULL;
}

static struct udp_session *new_session(struct udp_listener *l, const struct table *t, const struct sockaddr_storage *a,
                                       socklen_t len, uint32_t bucket)
{
    struct udp_worker *uw = l->uw;
    const struct table_udp_route *r = table_udp_route(t, l->ep);
    struct server *srv = r ? pick_server(tcp_balancer_pick(r->service, uw->id), uw->id) : NULL;
    if (srv == NULL) {
        count(&l->noroute, 1);
        return NULL;
    }
    if (uw->n_sessions >= UDP_MAX_SESSIONS_PER_WORKER) {
        count(&l->full, 1);
        if (!uw->warned_full)
            log_warn("entry point %s: %d UDP sessions on worker %u: new clients are dropped until some end",
                     eps[l->ep].cfg.name, UDP_MAX_SESSIONS_PER_WORKER, uw->id);
        uw->warned_full = true;
        return NULL;
    }
    struct udp_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    server_address(srv, &s->server, &s->server_len);
    int fd = socket(s->server.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&s->server, s->server_len) != 0) {
        log_debug("entry point %s: udp router %s: cannot reach its server: %s", eps[l->ep].cfg.name, r->name,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        free(s);
        count(&l->noroute, 1);
        return NULL;
    }
    s->l = l;
    s->client = *a;
    s->client_len = len;
    s->route_hash = r->name_hash;
    s->gen = t->gen;
    s->bucket = bucket;
    s->idle.cb = on_idle;
    s->up = h2o_evloop_socket_create(uw->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->up->data = s;
    h2o_socket_read_start(s->up, on_server_readable);
    s->next = uw->buckets[bucket];
    uw->buckets[bucket] = s;
    uw->n_sessions++;
    if (uw->n_sessions < UDP_MAX_SESSIONS_PER_WORKER / 2)
        uw->warned_full = false;
    count(&l->sessions, 1);
    count(&l->started, 1);
    if (r->stats != NULL && uw->id < r->stats->n_workers) {
        udp_stats_add(&r->stats->w[uw->id].sessions, 1);
        s->stats = r->stats;
        udp_stats_open(s->stats, uw->id, 1);
    }
    return s;
}

static void on_client_readable(h2o_socket_t *sock, const char *err)
{
    struct udp_listener *l = sock->data;
    if (err != NULL)
        return;
    struct udp_worker *uw = l->uw;
    int fd = h2o_socket_get_fd(sock);
    for (int i = 0; i < BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof(from);
        ssize_t n = recvfrom(fd, uw->buf, UDP_MAX_DATAGRAM, 0, (struct sockaddr *)&from, &flen);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        const struct table *t = publish_worker_table(uw->id);
        uint32_t bucket = hash_client(l->ep, &from, flen);
        struct udp_session *s = find_session(l, &from, flen, bucket);
        if (s != NULL && !still_routed(s, t)) {
            end_session(s);
            s = NULL;
        }
        if (s == NULL && (s = new_session(l, t, &from, flen, bucket)) == NULL)
            continue;
        /* a full send buffer towards the server drops the datagram, as the network would */
        if (send(h2o_socket_get_fd(s->up), uw->buf, (size_t)n, 0) >= 0) {
            count(&l->in, 1);
            count(&l->bytes_in, n);
            struct udp_stats_slot *ss = service_slot(t, l);
            if (ss != NULL) {
                udp_stats_add(&ss->in, 1);
                udp_stats_add(&ss->bytes_in, (uint64_t)n);
            }
        } else {
            count(&l->send_failed, 1);
        }
        touch(s);
    }
}

void udp_worker_setup(h2o_evloop_t *loop, uint32_t w)
{
    if (n_eps == 0 || w >= n_workers)
        return;
    struct udp_worker *uw = &workers[w];
    uw->id = w;
    uw->loop = loop;
    uw->buf = malloc(UDP_MAX_DATAGRAM + 1);
    uw->buckets = calloc(BUCKETS, sizeof(*uw->buckets));
    if (uw->buf == NULL || uw->buckets == NULL || uw->ls == NULL) {
        log_error("worker %u: out of memory: its UDP entry points are not served", w);
        free(uw->buf);
        free(uw->buckets);
        uw->buf = NULL;
        uw->buckets = NULL; /* close and free see a worker that never started */
        return;
    }
    for (size_t i = 0; i < n_eps; i++) {
        struct udp_listener *l = &uw->ls[i];
        l->uw = uw;
        l->ep = (uint32_t)i;
        h2o_timeout_init(loop, &l->idle, eps[i].cfg.timeout_ms ? eps[i].cfg.timeout_ms : 3000);
        l->sock = h2o_evloop_socket_create(loop, eps[i].fds[w], H2O_SOCKET_FLAG_DONT_READ);
        eps[i].fds[w] = -1; /* the loop's now */
        l->sock->data = l;
        h2o_socket_read_start(l->sock, on_client_readable);
    }
}

void udp_worker_close(uint32_t w)
{
    if (n_eps == 0 || w >= n_workers || workers[w].buckets == NULL)
        return;
    struct udp_worker *uw = &workers[w];
    for (uint32_t b = 0; b < BUCKETS; b++)
        while (uw->buckets[b] != NULL)
            end_session(uw->buckets[b]);
    for (size_t i = 0; i < n_eps; i++) {
        if (uw->ls[i].sock != NULL)
            h2o_socket_close(uw->ls[i].sock);
        uw->ls[i].sock = NULL;
    }
}

void udp_worker_free(uint32_t w)
{
    if (n_eps == 0 || w >= n_workers || workers[w].buckets == NULL)
        return;
    struct udp_worker *uw = &workers[w];
    for (size_t i = 0; i < n_eps; i++)
        h2o_timeout_dispose(uw->loop, &uw->ls[i].idle);
    free(uw->buf);
    free(uw->buckets);
    uw->buf = NULL;
    uw->buckets = NULL;
    /* uw->ls stays: the admin thread may still read its counters */
}

void udp_unbind(void)
{
    for (size_t i = 0; i < n_eps; i++) {
        for (uint32_t w = 0; w < n_workers; w++)
            if (eps[i].fds[w] >= 0)
                close(eps[i].fds[w]);
        free(eps[i].fds);
    }
    for (uint32_t w = 0; w < n_workers && workers != NULL; w++)
        free(workers[w].ls);
    free(workers);
    free(eps);
    workers = NULL;
    eps = NULL;
    n_eps = 0;
}
