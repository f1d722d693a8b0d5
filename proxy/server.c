/*
 * Entry points and worker threads (h2o's src/main.c run_loop shape).
 *
 * Each entry point is bound once; every worker dup()s the listening fd
 * into its own loop, so the kernel spreads connections and no queued
 * connection is lost when a worker stops. An accepted connection is
 * sniffed: a first byte of 0x16 is a TLS ClientHello and goes to h2o's TLS
 * accept (SNI picks the certificate), anything else is plain HTTP/1.1 or
 * h2c. Routers with tls match only the former, others only the latter, as
 * in Traefik. Every accepted socket is tracked so shutdown can close it.
 */
#include "deadline.h"
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/arena.h"
#include "../common/hostport.h"
#include "../common/log.h"
#include "accept_fcntl.h"
#include "accesslog.h"
#include "conntrack.h"
#include "forwarded.h"
#include "h1_framing.h"
#include "h2_mem.h"
#include "h2_server.h"
#include "match.h"
#include "mirror.h"
#include "proxy_header.h"
#include "publish.h"
#include "registry.h"
#include "h1_trailers.h"
#include "response_filter.h"
#include "route.h"
#include "stats.h"
#include "tcp/clienthello.h"
#include "tcp/table_tcp.h"
#include "tcp/tcp_proxy.h"
#include "tls.h"
#include "udp/udp_proxy.h"
#include "upstream.h"
#include "worker.h"
#include "middleware/redis_limiter.h"

/* One connection per wake, as nginx without multi_accept: the epoll is
 * level-triggered, so a listener with more waiting wakes the next loop
 * iteration anyway, and accepting on until EAGAIN cost a failed accept4
 * per lone connection (one syscall in ~17 of a resumed TLS handshake). */
#define ACCEPT_PER_WAKE 1
#define SOCKET_BUFFER_SIZE (32 * 1024)
#define SOCKET_BUFFER_CACHE 128
#define LISTEN_BACKLOG 4096

__thread struct worker *worker_self;
const struct proxy_config *proxy_cfg;
struct entrypoint_rt *entrypoints;
size_t n_entrypoints;

static struct worker *workers;
static uint32_t n_workers;

/* ---- binding ---- */

static int bind_entrypoint(struct entrypoint_rt *ep, struct diag *d)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    if (hostport_listen_address(ep->cfg.address, SOCK_STREAM, &ss, &len, d) != 0)
        return diag_set(d, "entry point %s: %s", ep->cfg.name, d->msg);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return diag_set(d, "entry point %s: socket: %s", ep->cfg.name, strerror(errno));
    int one = 1, zero = 0;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
        int e = errno;
        close(fd);
        return diag_set(d, "entry point %s: cannot listen on %s: %s", ep->cfg.name, ep->cfg.address, strerror(e));
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(fd, (struct sockaddr *)&bound, &blen);
    ep->port = ntohs(bound.ss_family == AF_INET ? ((struct sockaddr_in *)&bound)->sin_port
                                                : ((struct sockaddr_in6 *)&bound)->sin6_port);
    ep->fd = fd;
    return 0;
}

static void init_globalconf(struct entrypoint_rt *ep)
{
    h2o_globalconf_t *gc = &ep->globalconf;
    h2o_config_init(gc);
    gc->server_name = h2o_iovec_init(H2O_STRLIT("")); /* pass the upstream's Server through */
    gc->max_request_entity_size = ep->cfg.max_body_size ? ep->cfg.max_body_size : (size_t)1024 * 1024 * 1024;
    /* h2o's HTTP/1 timeout is absolute over headers and body (it would cut
     * slow uploads); conntrack.c enforces the phases, this is a backstop */
    gc->http1.req_timeout = 24 * 3600 * 1000;
    /* HTTP/2 is Gantry's own (h2_conn.c): libh2o's HTTP/1 must not switch
     * to libh2o's HTTP/2 on "PRI *" or "Upgrade: h2c" (route.c upgrades) */
    gc->http1.upgrade_to_http2 = 0;
    gc->http2.idle_timeout = ep->cfg.idle_timeout_ms ? ep->cfg.idle_timeout_ms : 24 * 3600 * 1000;
    gc->http2.graceful_shutdown_timeout = proxy_cfg->grace_timeout_ms;
    if (ep->cfg.max_concurrent_streams) /* further streams wait, costing no upstream request or buffer */
        gc->http2.max_concurrent_requests_per_connection = ep->cfg.max_concurrent_streams;
    ep->hostconf = h2o_config_register_host(gc, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(ep->hostconf, "/", 0);
    pc->error_log.emit_request_errors = 0; /* gantry logs upstream problems itself, once per transition */
    route_register(pc, ep);
    h1_trailers_register(pc);                               /* before: runs after the middlewares' streams */
    response_filter_register(pc, proxy_cfg->server_header); /* compression chosen by a middleware; serverHeader */
}

int server_bind(const struct proxy_config *cfg, struct diag *d)
{
    proxy_cfg = cfg;
    h2_server_init();
    conntrack_set_limits(cfg->max_connections, cfg->max_connections_per_ip);
    n_entrypoints = cfg->n_entrypoints;
    if (n_entrypoints > GANTRY_MAX_ENTRYPOINTS)
        return diag_set(d, "at most %d entry points are supported", GANTRY_MAX_ENTRYPOINTS);
    entrypoints = mem_calloc(n_entrypoints ? n_entrypoints : 1, sizeof(*entrypoints));
    for (size_t i = 0; i < n_entrypoints; i++) {
        struct entrypoint_rt *ep = &entrypoints[i];
        ep->index = (uint32_t)i;
        ep->cfg = cfg->entrypoints[i];
        ep->fd = -1;
        if (bind_entrypoint(ep, d) != 0)
            return -1;
        init_globalconf(ep);
        ep->stats = stats_acquire(STATS_ENTRYPOINT, ep->cfg.name);
    }
    if (udp_bind(cfg->udp_entrypoints, cfg->n_udp_entrypoints, cfg->n_workers ? cfg->n_workers : 1, d) != 0)
        return -1;
    forwarded_init();
    return 0;
}

int server_entrypoint_port(size_t i)
{
    return entrypoints[i].port;
}

uint32_t server_worker_count(void)
{
    /* the first table is compiled before server_start(): answer from the
     * configuration then, so per-worker state is sized right from the start */
    if (n_workers == 0 && proxy_cfg != NULL)
        return proxy_cfg->n_workers ? proxy_cfg->n_workers : 1;
    return n_workers;
}

uint64_t server_open_connections(size_t i)
{
    uint64_t n = 0;
    for (uint32_t w = 0; w < n_workers && workers != NULL; w++)
        if (workers[w].eps != NULL)
            n += __atomic_load_n(&workers[w].eps[i].open_conns, __ATOMIC_RELAXED);
    return n;
}

/* ---- accepting ---- */

static void on_sniff_timeout(h2o_timeout_entry_t *entry)
{
    struct conntrack_conn *c = H2O_STRUCT_FROM_MEMBER(struct conntrack_conn, sniff_entry, entry);
    conntrack_count(CT_HELLO_TIMEOUT);
    h2o_socket_close(c->sock); /* on_close frees c */
}

/* TCP routers on this entry point: a connection that matches one is
 * relayed, anything else is left to HTTP. Returns true when <sock> was
 * taken (routed or closed), false to go on with HTTP; waits (returning
 * true) while a ClientHello is incomplete, under the sniff deadline. */
static bool route_tcp(struct conntrack_conn *c, h2o_socket_t *sock, const struct table *t)
{
    uint32_t ep = c->we->ep->index;
    bool tls = (unsigned char)sock->input->bytes[0] == 0x16;
    struct clienthello hello = {.sni_len = 0};
    if (tls && (t->tcp->eps_hello >> ep & 1)) {
        switch (clienthello_parse((const uint8_t *)sock->input->bytes, sock->input->size, &hello)) {
        case CLIENTHELLO_NEED_MORE:
            if (sock->input->size <= 4 * CLIENTHELLO_MAX)
                return true; /* more bytes, or the sniff deadline */
            hello.error = "a ClientHello spread over too many records";
            /* fallthrough */
        case CLIENTHELLO_INVALID:
            log_debug("entry point %s: closing a connection: %s", c->we->ep->cfg.name, hello.error);
            conntrack_count(CT_BAD_HELLO);
            h2o_timeout_unlink(&c->sniff_entry);
            h2o_socket_close(sock);
            return true;
        case CLIENTHELLO_OK:
        case CLIENTHELLO_NOT_TLS:
            break;
        }
    }
    const struct table_tcp_route *route = table_tcp_lookup(t, ep, tls, hello.sni, hello.sni_len, c->peer16);
    if (route == NULL)
        return false;
    h2o_timeout_unlink(&c->sniff_entry);
    tcp_proxy_start(c->we, sock, route);
    return true;
}

static bool route_tcp_at_accept(struct conntrack_conn *c, h2o_socket_t *sock);

/* proxyProtocol: the PROXY header ahead of the connection's own bytes.
 * Returns true when <sock> was taken (closed on a bad header, or routed
 * to a TCP router once the header left nothing to read) or more bytes are
 * needed; false to go on with what follows the header. */
static bool read_proxy_header(struct conntrack_conn *c, h2o_socket_t *sock)
{
    const struct entrypoint_config *ep = &c->we->ep->cfg;
    struct proxy_header h;
    switch (proxy_header_parse((const uint8_t *)sock->input->bytes, sock->input->size, &h)) {
    case PROXY_HEADER_NEED_MORE:
        return true; /* more bytes, or the sniff deadline */
    case PROXY_HEADER_INVALID:
        log_debug("entry point %s: closing a connection: a PROXY protocol header that cannot be read", ep->name);
        h2o_timeout_unlink(&c->sniff_entry);
        h2o_socket_close(sock);
        return true;
    case PROXY_HEADER_NONE: /* no header: the connection's own address (Traefik reads the header when there is one) */
        break;
    case PROXY_HEADER_OK: {
        bool trusted = ep->pp_insecure;
        for (size_t i = 0; i < ep->n_pp_trusted && !trusted; i++)
            trusted = rule_cidr_contains(&ep->pp_trusted[i], c->ip16);
        if (trusted && h.has_source) {
            h2o_socket_setpeername(sock, (struct sockaddr *)&h.source, h.source_len);
            char text[64];
            forwarded_client_ip((struct sockaddr *)&h.source, c->peer16, text, sizeof(text));
        }
        h2o_buffer_consume(&sock->input, h.len);
        break;
    }
    }
    c->pp_done = true;
    if (sock->input->size != 0)
        return false;
    if (route_tcp_at_accept(c, sock)) /* a server-first protocol behind the balancer */
        h2o_timeout_unlink(&c->sniff_entry);
    return true;
}

static void on_sniff(h2o_socket_t *sock, const char *err)
{
    struct conntrack_conn *c = sock->on_close.data;
    if (err != NULL) {
        h2o_timeout_unlink(&c->sniff_entry);
        h2o_socket_close(sock);
        return;
    }
    if (sock->input->size == 0)
        return;
    if (c->we->ep->cfg.proxy_protocol && !c->pp_done && read_proxy_header(c, sock))
        return;
    const struct table *t = publish_worker_table(c->we->w->id);
    if (t != NULL && t->tcp != NULL && (t->tcp->eps >> c->we->ep->index & 1) && route_tcp(c, sock, t))
        return;
    bool tls = (unsigned char)sock->input->bytes[0] == 0x16;
    /* HTTP/2 with prior knowledge: the client preface, whole or its start */
    size_t pl = sock->input->size < H2_PREFACE_LEN ? sock->input->size : H2_PREFACE_LEN;
    bool h2 = memcmp(sock->input->bytes, H2_PREFACE, pl) == 0;
    if (h2 && pl < H2_PREFACE_LEN)
        return; /* more bytes, or the sniff deadline */
    h2o_timeout_unlink(&c->sniff_entry);
    conntrack_sniffed(c);
    if (h2) {
        h2_server_accept(c->we, c, sock);
        return;
    }
    if (tls) { /* strict HTTP/1 framing needs the bytes h2o_accept would parse in its handshake callback */
        c->framing = h1_framing_accept_tls(&c->we->accept_tls, sock);
        h1_framing_handshake(c->framing);
        return;
    }
    struct h1_framing_conn *f = c->framing = h1_framing_attach(sock); /* c may be gone after h2o_accept */
    h2o_accept(&c->we->accept_plain, sock);
    h1_framing_arm(f);
}

/* An entry point where only plain TCP routers listen (no HTTP router, no
 * TLS router) is routed at once: server-first protocols (SMTP, MySQL...)
 * never send the first byte. */
static bool route_tcp_at_accept(struct conntrack_conn *c, h2o_socket_t *sock)
{
    uint32_t ep = c->we->ep->index;
    const struct table *t = publish_worker_table(c->we->w->id);
    if (t == NULL || t->tcp == NULL || !(t->tcp->eps >> ep & 1) || (t->tcp->eps_hello >> ep & 1) ||
        (t->http_eps >> ep & 1))
        return false;
    const struct table_tcp_route *route = table_tcp_lookup(t, ep, false, "", 0, c->peer16);
    if (route == NULL)
        return false;
    tcp_proxy_start(c->we, sock, route);
    return true;
}

__thread int accept_nonblocking_fd = -1;

/* h2o_evloop_socket_accept, but the peer's address comes with accept4:
 * libh2o's asks getpeername for it on every connection, and every
 * connection needs it (limits, X-Forwarded-For, logs); and the socket is
 * non-blocking from accept4 on (accept_fcntl.c). NULL with errno. */
static h2o_socket_t *accept_with_peer(struct worker_ep *we)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd = accept4(we->listen_fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd == -1)
        return NULL;
    int on = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)); /* as libh2o's accept */
    accept_nonblocking_fd = fd;
    h2o_socket_t *sock = h2o_evloop_socket_create(we->w->loop, fd, H2O_SOCKET_FLAG_IS_ACCEPTED_CONNECTION);
    accept_nonblocking_fd = -1;
    if (sl != 0 && sl <= sizeof(ss))
        h2o_socket_setpeername(sock, (struct sockaddr *)&ss, sl);
    return sock;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    struct worker_ep *we = listener->data;
    if (err != NULL)
        return;
    for (int i = 0; i < ACCEPT_PER_WAKE && !we->w->listeners_paused; i++) {
        h2o_socket_t *sock = accept_with_peer(we);
        if (sock == NULL) {
            /* EINVAL: the listener was shut down (server_close_listeners). It
             * stays readable until the drain closes it, so reading on would
             * spin accept4 at full speed meanwhile. */
            if (errno == EINVAL)
                h2o_socket_read_stop(listener);
            break;
        }
        struct conntrack_conn *c = conntrack_accept(we, sock);
        if (c == NULL) { /* over a connection limit */
            h2o_socket_close(sock);
            continue;
        }
        if (!we->ep->cfg.proxy_protocol && route_tcp_at_accept(c, sock))
            continue; /* with proxyProtocol, once the header is read */
        c->sniff_entry.cb = on_sniff_timeout;
        sock->data = c;
        h2o_timeout_link(we->w->loop, &we->sniff_timeout, &c->sniff_entry);
        h2o_socket_read_start(sock, on_sniff);
    }
}

static void on_sweep(h2o_timeout_entry_t *entry)
{
    struct worker *w = H2O_STRUCT_FROM_MEMBER(struct worker, sweep_entry, entry);
    conntrack_sweep(w);
    if (!atomic_load(&w->stopping))
        h2o_timeout_link(w->loop, &w->sweep_timeout, &w->sweep_entry);
}

/* ---- cross-thread messages ---- */

struct retire_msg {
    h2o_multithread_message_t super;
    struct server *srv;
};

static void on_wake(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    (void)r;
    (void)messages; /* waking is the message: the loop top refreshes the table */
}

static void on_retire(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    struct worker *w = H2O_STRUCT_FROM_MEMBER(struct worker, retire_receiver, r);
    while (!h2o_linklist_is_empty(messages)) {
        struct retire_msg *m = H2O_STRUCT_FROM_MEMBER(struct retire_msg, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        upstream_close_idle(w, m->srv);
        registry_worker_done(m->srv);
        free(m);
    }
}

static void retire_hook(uint32_t i, struct server *s)
{
    struct retire_msg *m = h2o_mem_alloc(sizeof(*m));
    *m = (struct retire_msg){.srv = s};
    h2o_multithread_send_message(&workers[i].retire_receiver, &m->super);
}

static void wake_worker(uint32_t i)
{
    if (workers != NULL && i < n_workers && workers[i].queue != NULL)
        h2o_multithread_send_message(&workers[i].wake_receiver, NULL);
}

/* ---- the worker loop ---- */

static pthread_mutex_t ready_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ready_cond = PTHREAD_COND_INITIALIZER;
static uint32_t n_ready, n_done;
static pthread_cond_t park_cond = PTHREAD_COND_INITIALIZER;

static void worker_setup(struct worker *w)
{
    worker_self = w;
    /* Socket input buffers: h2o starts them at 8 KiB and grows them with
     * malloc+copy, so every response above 8 KiB cost fresh pages. Starting
     * at 32 KiB (freed back to this cache when a buffer empties) keeps most
     * responses in one recycled buffer. Idle connections hold no buffer. */
    h2o_socket_buffer_prototype._initial_buf.capacity = SOCKET_BUFFER_SIZE;
    h2o_socket_buffer_prototype.allocator.max = SOCKET_BUFFER_CACHE;
    h2o_linklist_init_anchor(&w->client_conns);
    w->loop = h2o_evloop_create();
    upstream_worker_init(w);
    worker_timeout_lazy(&w->mw_tick, 1);
    w->n_eps = n_entrypoints;
    w->eps = mem_calloc(n_entrypoints ? n_entrypoints : 1, sizeof(*w->eps));
    for (size_t i = 0; i < n_entrypoints; i++) {
        struct worker_ep *we = &w->eps[i];
        struct entrypoint_rt *ep = &entrypoints[i];
        we->w = w;
        we->ep = ep;
        h2o_context_init(&we->ctx, w->loop, &ep->globalconf);
        we->accept_plain = (h2o_accept_ctx_t){.ctx = &we->ctx, .hosts = ep->globalconf.hosts};
        h2o_linklist_init_anchor(&we->h2_conns);
        we->accept_tls = (h2o_accept_ctx_t){.ctx = &we->ctx, .hosts = ep->globalconf.hosts, .ssl_ctx = tls_default_ctx()};
        h2o_timeout_init(w->loop, &we->sniff_timeout, ep->cfg.read_timeout_ms ? ep->cfg.read_timeout_ms : 60000);
        h2o_timeout_init(w->loop, &we->stall_timeout, ep->cfg.write_timeout_ms ? ep->cfg.write_timeout_ms : 24 * 3600 * 1000);
        int fd = dup(ep->fd);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        we->listener = h2o_evloop_socket_create(w->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
        we->listen_fd = fd;
        we->listener->data = we;
        h2o_socket_read_start(we->listener, on_accept);
    }
    w->accept_cb = on_accept;
    udp_worker_setup(w->loop, w->id);
    h2o_timeout_init(w->loop, &w->sweep_timeout, 1000);
    w->sweep_entry.cb = on_sweep;
    h2o_timeout_link(w->loop, &w->sweep_timeout, &w->sweep_entry);
    w->queue = h2o_multithread_create_queue(w->loop);
    h2o_multithread_register_receiver(w->queue, &w->wake_receiver, on_wake);
    h2o_multithread_register_receiver(w->queue, &w->retire_receiver, on_retire);
}

/* Stops accepting and closes every client connection once its requests
 * are done or the grace period is over. */
static void worker_drain(struct worker *w)
{
    h2o_timeout_unlink(&w->sweep_entry);
    udp_worker_close(w->id); /* UDP has nothing in flight to wait for */
    for (size_t i = 0; i < w->n_eps; i++) {
        if (w->eps[i].listener != NULL) {
            h2o_socket_close(w->eps[i].listener);
            w->eps[i].listener = NULL;
        }
        h2o_context_request_shutdown(&w->eps[i].ctx);
        h2_server_shutdown(&w->eps[i]);
    }
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        publish_worker_refresh(w->id);
        h2o_evloop_run(w->loop, 10);
        h1_framing_rearm(); /* h2o may have re-set a read callback (h1_framing.h) */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        /* signed: the nanosecond difference is negative half of the time */
        int64_t elapsed = (int64_t)(now.tv_sec - start.tv_sec) * 1000 + ((int64_t)now.tv_nsec - start.tv_nsec) / 1000000;
        if (w->in_flight == 0 || elapsed >= (int64_t)proxy_cfg->grace_timeout_ms)
            break;
    }
    upstream_abort_all(w);
    mirror_abort_all(w);
    /* shutdown(2) lets h2o tear its own connection objects down */
    for (h2o_linklist_t *n = w->client_conns.next; n != &w->client_conns; n = n->next) {
        struct conntrack_conn *c = H2O_STRUCT_FROM_MEMBER(struct conntrack_conn, link, n);
        shutdown(h2o_socket_get_fd(c->sock), SHUT_RDWR);
    }
    for (int i = 0; i < 200 && w->n_client_conns != 0; i++) {
        h2o_evloop_run(w->loop, 10);
        h1_framing_rearm();
    }
    upstream_close_idle(w, NULL);
    redis_limiter_worker_close();
    for (int i = 0; i < 5; i++) {
        h2o_evloop_run(w->loop, 0);
        h1_framing_rearm();
    }
    w->clean_exit = w->n_client_conns == 0 && w->in_flight == 0;
    if (!w->clean_exit)
        log_warn("worker %u: %zu connections did not close in time; exiting without freeing them", w->id,
                 w->n_client_conns);
}

/* Worker thread, after draining: frees its h2o state on the thread whose
 * caches it uses. */
static void worker_free(struct worker *w)
{
    h2o_evloop_run(w->loop, 0); /* deliver retire messages still queued */
    h1_framing_rearm();
    if (!w->clean_exit)
        return; /* h2o asserts on live connections; the process is exiting anyway */
    h2o_multithread_unregister_receiver(w->queue, &w->wake_receiver);
    h2o_multithread_unregister_receiver(w->queue, &w->retire_receiver);
    h2o_multithread_destroy_queue(w->queue);
    free(w->queue); /* evloop builds of 2.2.5 do not free it */
    for (size_t i = 0; i < w->n_eps; i++) {
        /* request_shutdown leaves h2o's GOAWAY resend timer linked for a second */
        h2o_timeout_unlink(&w->eps[i].ctx.http2._graceful_shutdown_timeout);
        h2o_multithread_queue_t *q = w->eps[i].ctx.queue;
        h2o_context_dispose(&w->eps[i].ctx);
        free(q);
        h2o_timeout_dispose(w->loop, &w->eps[i].sniff_timeout);
        h2o_timeout_dispose(w->loop, &w->eps[i].stall_timeout);
    }
    h2o_timeout_t *timeouts[] = {&w->connect_timeout, &w->header_timeout, &w->read_timeout,
                                 &w->pool_timeout,    &w->ws_timeout,     &w->sweep_timeout, &w->drain_timeout,
                                 &w->subrequest_timeout, &w->subrequest_defer, &w->mw_tick};
    for (size_t i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++)
        worker_timeout_release(w->loop, timeouts[i]);
    for (uint32_t i = 0; i < w->n_timeouts; i++)
        h2o_timeout_dispose(w->loop, &w->timeouts[i]);
    deadline_worker_dispose(w);
    udp_worker_free(w->id);
    h2o_evloop_destroy(w->loop);
    free(w->eps);
    w->eps = NULL;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    worker_setup(w);
    pthread_mutex_lock(&ready_lock);
    n_ready++;
    pthread_cond_broadcast(&ready_cond);
    pthread_mutex_unlock(&ready_lock);

    while (!atomic_load_explicit(&w->stopping, memory_order_acquire)) {
        publish_worker_refresh(w->id);
        h2o_evloop_run(w->loop, 1000);
        h1_framing_rearm();
        accesslog_flush(w->id);
    }
    worker_drain(w);

    publish_worker_exit(w->id);
    match_thread_cleanup();
    worker_free(w);
    h2_mem_thread_release(); /* after the sessions worker_free closes */
    /* Park until the process exits: libh2o 2.2.5 keeps per-thread buffer
     * caches (some in static __thread variables) with no call to free them;
     * a parked thread keeps them reachable instead of leaking them. */
    pthread_mutex_lock(&ready_lock);
    n_done++;
    pthread_cond_broadcast(&ready_cond);
    for (;;)
        pthread_cond_wait(&park_cond, &ready_lock);
    return NULL;
}

int server_start(struct diag *d)
{
    n_workers = proxy_cfg->n_workers ? proxy_cfg->n_workers : 1;
    workers = mem_calloc(n_workers, sizeof(*workers));
    registry_retire_hook = retire_hook;
    for (uint32_t i = 0; i < n_workers; i++) {
        workers[i].id = i;
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0)
            return diag_set(d, "cannot start worker thread %u: %s", i, strerror(errno));
    }
    pthread_mutex_lock(&ready_lock);
    while (n_ready < n_workers)
        pthread_cond_wait(&ready_cond, &ready_lock);
    pthread_mutex_unlock(&ready_lock);
    for (uint32_t i = 0; i < n_workers; i++)
        wake_worker(i); /* pick up a table published before the queues existed */
    return 0;
}

void server_wake_worker(uint32_t i)
{
    wake_worker(i);
}

void server_close_listeners(void)
{
    /* Stop listening now, not when the last worker has drained: every
     * worker's dup() keeps the socket in LISTEN, and the kernel would go on
     * queueing connections nobody accepts for the whole grace period. With
     * the port closed, new connections are refused at once and a load
     * balancer or client moves on to another instance. */
    for (size_t i = 0; i < n_entrypoints; i++)
        shutdown(entrypoints[i].fd, SHUT_RD);
}

void server_stop(void)
{
    if (workers == NULL)
        return;
    for (uint32_t i = 0; i < n_workers; i++) {
        atomic_store(&workers[i].stopping, true);
        wake_worker(i);
    }
    server_close_listeners();
    pthread_mutex_lock(&ready_lock);
    while (n_done < n_workers)
        pthread_cond_wait(&ready_cond, &ready_lock);
    pthread_mutex_unlock(&ready_lock);
    /* from now on servers are freed directly */
    registry_retire_hook = NULL;
    free(workers);
    workers = NULL;
    for (size_t i = 0; i < n_entrypoints; i++) {
        close(entrypoints[i].fd);
        h2o_config_dispose(&entrypoints[i].globalconf);
        stats_release(entrypoints[i].stats);
    }
    free(entrypoints);
    entrypoints = NULL;
    udp_unbind();
}

h2o_timeout_t *worker_timeout_list(struct worker *w, uint64_t ms)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < w->n_timeouts; i++) {
        if (w->timeouts_ms[i] == ms)
            return &w->timeouts[i];
        uint64_t di = w->timeouts_ms[i] > ms ? w->timeouts_ms[i] - ms : ms - w->timeouts_ms[i];
        uint64_t db = w->timeouts_ms[best] > ms ? w->timeouts_ms[best] - ms : ms - w->timeouts_ms[best];
        if (di < db)
            best = i;
    }
    if (w->n_timeouts == sizeof(w->timeouts) / sizeof(w->timeouts[0]))
        return &w->timeouts[best];
    h2o_timeout_init(w->loop, &w->timeouts[w->n_timeouts], ms);
    w->timeouts_ms[w->n_timeouts] = ms;
    return &w->timeouts[w->n_timeouts++];
}
