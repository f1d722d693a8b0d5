/*
 * TCP routing (see tcp_proxy.h).
 */
#include "tcp_proxy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../conntrack.h"
#include "../registry.h"
#include "proxy_protocol.h"
#include "splice_pump.h"
#include "table_tcp.h"
#include "tcp_balancer.h"
#include "tcp_middleware.h"
#include "../tls.h"
#include "../transport.h"
#include "../tunnel.h"
#include "../worker.h"

#define MAX_CANDIDATES 8 /* backends tried per connection */

struct candidate { /* copied: the table may go away while we connect */
    struct sockaddr_storage sa;
    socklen_t sa_len;
    char address[96];
    bool tls;        /* a TLS handshake with the server before the relay */
    char name[256];  /* its SNI and the name verified: serverName, or the server's host */
};

struct tcp_conn {
    struct worker *w;
    h2o_socket_t *client, *backend;
    enum table_tcp_mode mode;
    struct candidate candidates[MAX_CANDIDATES];
    uint32_t n_candidates, next;
    uint64_t dial_ms; /* 0: the worker's connect timeout; TCP_DIAL_NO_TIMEOUT: none */
    int64_t keep_alive_ms; /* dialKeepAlive; <= 0: keep-alive left off */
    int proxy_protocol; /* the PROXY header's version, sent first to the backend; 0: none */
    int64_t termination_delay_ms; /* < 0: no limit once one side has ended its stream */
    char header[PROXY_PROTOCOL_MAX];
    SSL_CTX *ssl_ctx; /* a reference to the service's tls context (the table may go away meanwhile); NULL: no tls server */
    h2o_timeout_entry_t connect_entry; /* dialTimeout: the connect, the PROXY header and the TLS handshake */
    char route[128];
};

static atomic_uint_fast64_t n_connections, n_failures;

uint64_t tcp_proxy_connections(void)
{
    return atomic_load(&n_connections);
}

uint64_t tcp_proxy_failures(void)
{
    return atomic_load(&n_failures);
}

static void conn_free(struct tcp_conn *c)
{
    SSL_CTX_free(c->ssl_ctx); /* NULL-safe; an SSL made from it holds its own reference */
    free(c);
}

static void give_up(struct tcp_conn *c, const char *why)
{
    atomic_fetch_add(&n_failures, 1);
    log_debug("tcp router %s: %s; connection closed", c->route, why);
    h2o_socket_close(c->client);
    conn_free(c);
}

static void try_next(struct tcp_conn *c);

static void on_connect_timeout(h2o_timeout_entry_t *entry)
{
    struct tcp_conn *c = H2O_STRUCT_FROM_MEMBER(struct tcp_conn, connect_entry, entry);
    const struct candidate *k = &c->candidates[c->next - 1];
    log_debug("tcp router %s: connecting to %s%s timed out", c->route, k->address, k->tls ? " (TLS included)" : "");
    h2o_socket_close(c->backend);
    c->backend = NULL;
    try_next(c);
}

/* Hands the two sockets to the relay; <c> is done. */
static void relay(struct tcp_conn *c, h2o_socket_t *backend)
{
    struct worker *w = c->w;
    h2o_socket_t *client = c->client;
    enum table_tcp_mode mode = c->mode;
    bool tls = c->candidates[c->next - 1].tls;
    int64_t delay = c->termination_delay_ms;
    conn_free(c);
    if (mode == TCP_TERMINATE || tls) { /* through OpenSSL; the end of either stream closes both (tunnel.h) */
        tunnel_start(w->loop, client, backend, worker_timeout_live(w->loop, &w->ws_timeout));
        return;
    }
    h2o_timeout_t *termination = delay >= 0 ? worker_timeout_list(w, (uint64_t)delay) : NULL;
    splice_pump_start(w->loop, client, backend, worker_timeout_live(w->loop, &w->ws_timeout), termination);
}

static void on_backend_handshake(h2o_socket_t *backend, const char *err)
{
    struct tcp_conn *c = backend->data;
    h2o_timeout_unlink(&c->connect_entry);
    if (err == h2o_socket_error_ssl_cert_name_mismatch && !transport_checks_name(c->ssl_ctx))
        err = NULL; /* libh2o's own name check after a complete TLS 1.2 handshake: insecureSkipVerify skips it */
    if (err != NULL) { /* a failed dial: the next server, as for a refused connect */
        log_debug("tcp router %s: TLS handshake with server %s (name '%s') failed: %s", c->route,
                  c->candidates[c->next - 1].address, c->candidates[c->next - 1].name, err);
        h2o_socket_close(backend);
        c->backend = NULL;
        try_next(c);
        return;
    }
    relay(c, backend);
}

/* The plain TCP part is done (connected, PROXY header sent): a tls server
 * gets the handshake first, in the dialTimeout still running. */
static void secure_or_relay(struct tcp_conn *c, h2o_socket_t *backend)
{
    const struct candidate *k = &c->candidates[c->next - 1];
    if (k->tls) {
        h2o_socket_ssl_handshake(backend, c->ssl_ctx, k->name, on_backend_handshake);
        return;
    }
    h2o_timeout_unlink(&c->connect_entry);
    relay(c, backend);
}

static void on_header_written(h2o_socket_t *backend, const char *err)
{
    struct tcp_conn *c = backend->data;
    if (err != NULL) { /* the server went away before the relay began */
        h2o_timeout_unlink(&c->connect_entry);
        h2o_socket_close(backend);
        give_up(c, "the PROXY protocol header could not be sent");
        return;
    }
    secure_or_relay(c, backend);
}

/* dialKeepAlive as Go's dialer sets it: probes after <ms> idle, then every
 * <ms> (whole seconds, at least 1); the kernel's probe count (9) ends a
 * dead peer. A failure leaves the connection as it is. */
static void keep_alive(h2o_socket_t *sock, int64_t ms)
{
    int fd = h2o_socket_get_fd(sock), on = 1;
    int secs = ms >= 32767000 ? 32767 : (int)((ms + 999) / 1000);
    if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &secs, sizeof(secs)) != 0 ||
        setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &secs, sizeof(secs)) != 0)
        log_debug("tcp: dialKeepAlive: setsockopt: %s", strerror(errno));
}

static void on_connect(h2o_socket_t *backend, const char *err)
{
    struct tcp_conn *c = backend->data;
    if (err != NULL) {
        h2o_timeout_unlink(&c->connect_entry);
        log_debug("tcp router %s: %s: %s", c->route, c->candidates[c->next - 1].address, err);
        h2o_socket_close(backend);
        c->backend = NULL;
        try_next(c);
        return;
    }
    if (c->keep_alive_ms > 0)
        keep_alive(backend, c->keep_alive_ms);
    if (c->proxy_protocol != 0) { /* in plaintext, before any TLS handshake (Traefik's dialer) */
        struct sockaddr_storage src, dst;
        socklen_t sl = h2o_socket_getpeername(c->client, (struct sockaddr *)&src);
        socklen_t dl = h2o_socket_getsockname(c->client, (struct sockaddr *)&dst);
        if (sl == 0 || dl == 0)
            src.ss_family = dst.ss_family = AF_UNSPEC;
        size_t len = proxy_protocol_header(c->proxy_protocol, (struct sockaddr *)&src, (struct sockaddr *)&dst, c->header);
        h2o_iovec_t buf = h2o_iovec_init(c->header, len);
        h2o_socket_write(backend, &buf, 1, on_header_written);
        return;
    }
    secure_or_relay(c, backend);
}

static void try_next(struct tcp_conn *c)
{
    while (c->next < c->n_candidates) {
        const struct candidate *s = &c->candidates[c->next++];
        c->backend = h2o_socket_connect(c->w->loop, (struct sockaddr *)&s->sa, s->sa_len, on_connect);
        if (c->backend == NULL) {
            log_debug("tcp router %s: cannot connect to %s", c->route, s->address);
            continue;
        }
        c->backend->data = c;
        if (c->dial_ms == TCP_DIAL_NO_TIMEOUT) /* dialTimeout: 0; the kernel's SYN retries still end it */
            return;
        h2o_timeout_t *t = c->dial_ms ? worker_timeout_list(c->w, c->dial_ms) : worker_timeout_live(c->w->loop, &c->w->connect_timeout);
        h2o_timeout_link(c->w->loop, t, &c->connect_entry);
        return;
    }
    give_up(c, "no backend could be reached");
}

static void on_handshake(h2o_socket_t *client, const char *err)
{
    struct tcp_conn *c = client->data;
    if (err != NULL) {
        log_debug("tcp router %s: TLS handshake failed: %s", c->route, err);
        h2o_socket_close(client);
        conn_free(c);
        return;
    }
    try_next(c);
}

void tcp_proxy_start(struct worker_ep *we, h2o_socket_t *client, const struct table_tcp_route *route)
{
    struct conntrack_conn *ct = conntrack_of_socket(client);
    if (route->n_middlewares != 0) { /* before any backend is chosen: nothing of the client's reaches one */
        uint8_t ip16[16] = {0};
        const char *why = "";
        if (ct != NULL)
            memcpy(ip16, ct->peer16, 16);
        if (ct == NULL || !tcp_middleware_admit(route->middlewares, route->n_middlewares, ct, ip16, &why)) {
            log_debug("tcp router %s: connection refused by middleware %s", route->name, why);
            h2o_socket_close(client);
            return;
        }
    }
    atomic_fetch_add(&n_connections, 1);
    if (ct != NULL)
        conntrack_tunnel(ct); /* HTTP's timeout rules do not apply; the relay's idle timeout does */
    h2o_socket_read_stop(client);
    struct tcp_conn *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        h2o_socket_close(client);
        return;
    }
    c->w = we->w;
    c->client = client;
    c->mode = route->mode;
    c->connect_entry.cb = on_connect_timeout;
    snprintf(c->route, sizeof(c->route), "%s", route->name);
    const struct table_tcp_service *svc = tcp_balancer_pick(route->service, we->w->id); /* a weighted one's child */
    if (svc == NULL) {
        client->data = c;
        give_up(c, "every service of its weighted service has weight 0");
        return;
    }
    c->dial_ms = svc->dial_ms;
    c->keep_alive_ms = svc->keep_alive_ms;
    c->proxy_protocol = svc->proxy_protocol;
    c->termination_delay_ms = svc->termination_delay_ms;
    uint32_t n = svc->n_servers < MAX_CANDIDATES ? svc->n_servers : MAX_CANDIDATES;
    uint32_t *rr = &svc->rr[we->w->id * 16];
    uint32_t start = svc->n_servers ? (*rr)++ % svc->n_servers : 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct table_tcp_server *s = &svc->servers[(start + i) % svc->n_servers];
        if (s->srv == NULL || !server_healthy(s->srv))
            continue; /* its name has not resolved (yet) */
        if (s->tls && svc->tls == NULL)
            continue; /* never in plaintext (the builder gives every tls server's service its context) */
        struct candidate *k = &c->candidates[c->n_candidates++];
        server_address(s->srv, &k->sa, &k->sa_len);
        snprintf(k->address, sizeof(k->address), "%s", s->address);
        if (s->tls) {
            k->tls = true;
            snprintf(k->name, sizeof(k->name), "%s", svc->tls->server_name ? svc->tls->server_name : s->srv->host);
        }
    }
    if (svc->tls != NULL && SSL_CTX_up_ref(svc->tls->ssl_ctx) == 1)
        c->ssl_ctx = svc->tls->ssl_ctx;
    if (c->ssl_ctx == NULL) { /* no context: its tls servers cannot be dialed */
        uint32_t kept = 0;
        for (uint32_t i = 0; i < c->n_candidates; i++)
            if (!c->candidates[i].tls)
                c->candidates[kept++] = c->candidates[i];
        c->n_candidates = kept;
    }
    client->data = c;
    if (route->mode == TCP_TERMINATE) {
        h2o_socket_ssl_handshake(client, tls_default_ctx(), NULL, on_handshake);
        return;
    }
    try_next(c);
}
