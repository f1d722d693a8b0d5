/*
 * Admin listener (see admin.h): one thread, its own h2o evloop, context
 * and globalconf, a handler that dispatches on the path. Only GET and HEAD
 * are served; with admin.token set every request must carry
 * "Authorization: Bearer <token>" (compared in constant time).
 */
#include "admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <h2o.h>

#include "../common/arena.h"
#include "../common/hostport.h"
#include "../common/log.h"
#include "admin_api.h"
#include "dashboard.h"
#include "metrics.h"

static struct {
    char *token, *version;
    admin_ready_cb ready;
    int fd, port;
    pthread_t thread;
    _Atomic bool stop;
    bool running;
    h2o_evloop_t *loop;
    h2o_globalconf_t conf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept;
    h2o_socket_t *listener;
    pthread_mutex_t lock;
    pthread_cond_t cond, park;
    bool parked;
} ad = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .park = PTHREAD_COND_INITIALIZER};

static void add_header(h2o_req_t *req, const h2o_token_t *t, const char *v)
{
    h2o_add_header(&req->pool, &req->res.headers, t, NULL, v, strlen(v));
}

static void respond(h2o_req_t *req, int status, const char *reason, const char *type, const char *body, size_t len)
{
    req->res.status = status;
    req->res.reason = reason;
    add_header(req, H2O_TOKEN_CONTENT_TYPE, type);
    add_header(req, H2O_TOKEN_CACHE_CONTROL, "no-store");
    h2o_send_inline(req, body, len);
}

static bool authorized(h2o_req_t *req)
{
    if (ad.token == NULL)
        return true;
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
    if (i < 0)
        return false;
    const h2o_iovec_t *v = &req->headers.entries[i].value;
    size_t tl = strlen(ad.token);
    return v->len == 7 + tl && h2o_lcstris(v->base, 7, H2O_STRLIT("bearer ")) &&
           CRYPTO_memcmp(v->base + 7, ad.token, tl) == 0;
}

static bool path_is(const h2o_req_t *req, const char *p)
{
    const h2o_iovec_t *path = &req->path_normalized;
    return path->len == strlen(p) && memcmp(path->base, p, path->len) == 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        add_header(req, H2O_TOKEN_ALLOW, "GET, HEAD");
        respond(req, 405, "Method Not Allowed", "text/plain", H2O_STRLIT("the admin API is read-only\n"));
        return 0;
    }
    if (!authorized(req)) {
        add_header(req, H2O_TOKEN_WWW_AUTHENTICATE, "Bearer realm=\"gantry\"");
        respond(req, 401, "Unauthorized", "text/plain", H2O_STRLIT("401 unauthorized\n"));
        return 0;
    }
    const h2o_iovec_t *p = &req->path_normalized;
    if (path_is(req, "/healthz")) {
        respond(req, 200, "OK", "text/plain", H2O_STRLIT("ok\n"));
    } else if (path_is(req, "/readyz")) {
        char why[512] = "";
        if (ad.ready(why, sizeof(why)))
            respond(req, 200, "OK", "text/plain", H2O_STRLIT("ready\n"));
        else
            respond(req, 503, "Service Unavailable", "text/plain", why, strlen(why));
    } else if (path_is(req, "/metrics")) {
        size_t len;
        char *text = metrics_render(&len);
        respond(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", text, len);
        free(text);
    } else if (p->len >= 5 && memcmp(p->base, "/api/", 5) == 0) {
        int status;
        char *json = admin_api(p->base, p->len, ad.version, &status);
        respond(req, status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Service Unavailable",
                "application/json", json, strlen(json));
        free(json);
    } else if (path_is(req, "/dashboard/") || path_is(req, "/dashboard/index.html")) {
        respond(req, 200, "OK", "text/html; charset=utf-8", (const char *)dashboard_html, dashboard_html_len);
    } else if (path_is(req, "/") || path_is(req, "/dashboard")) {
        add_header(req, H2O_TOKEN_LOCATION, "/dashboard/");
        respond(req, 302, "Found", "text/plain", H2O_STRLIT("see /dashboard/\n"));
    } else {
        respond(req, 404, "Not Found", "text/plain", H2O_STRLIT("404 page not found\n"));
    }
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    if (err != NULL)
        return;
    for (int i = 0; i < 16; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            break;
        h2o_accept(&ad.accept, sock);
    }
}

static void *admin_main(void *arg)
{
    (void)arg;
    ad.loop = h2o_evloop_create();
    h2o_context_init(&ad.ctx, ad.loop, &ad.conf);
    ad.accept = (h2o_accept_ctx_t){.ctx = &ad.ctx, .hosts = ad.conf.hosts};
    ad.listener = h2o_evloop_socket_create(ad.loop, ad.fd, H2O_SOCKET_FLAG_DONT_READ);
    h2o_socket_read_start(ad.listener, on_accept);
    while (!atomic_load(&ad.stop))
        h2o_evloop_run(ad.loop, 200);
    h2o_socket_read_stop(ad.listener);
    /* Park until the process exits: open admin connections, the loop and
     * h2o's per-thread caches stay reachable (and unused) instead of being
     * torn down under h2o's asserts. */
    pthread_mutex_lock(&ad.lock);
    ad.parked = true;
    pthread_cond_broadcast(&ad.cond);
    for (;;)
        pthread_cond_wait(&ad.park, &ad.lock);
    return NULL;
}

static int bind_address(const char *addr, struct diag *d)
{
    struct hostport hp;
    if (hostport_parse(addr, HOSTPORT_EMPTY_HOST | HOSTPORT_PORT_ZERO, &hp, d) != 0)
        return diag_set(d, "admin.address: %s", d->msg);
    const char *host = hp.host;
    char port[12];
    snprintf(port, sizeof(port), "%d", hp.port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0)
        return diag_set(d, "admin.address '%s': %s", addr, gai_strerror(rc));
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        int e = errno;
        freeaddrinfo(res);
        if (fd >= 0)
            close(fd);
        return diag_set(d, "admin.address %s: cannot listen: %s", addr, strerror(e));
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    ad.port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
    freeaddrinfo(res);
    ad.fd = fd;
    return 0;
}

int admin_start(const struct admin_config *cfg, admin_ready_cb ready, struct diag *d)
{
    if (bind_address(cfg->address, d) != 0)
        return -1;
    ad.token = cfg->token && *cfg->token ? mem_strdup(cfg->token) : NULL;
    ad.version = mem_strdup(cfg->version);
    ad.ready = ready;
    h2o_config_init(&ad.conf);
    ad.conf.server_name = h2o_iovec_init(H2O_STRLIT("gantry"));
    ad.conf.max_request_entity_size = 64 * 1024;
    h2o_hostconf_t *hc = h2o_config_register_host(&ad.conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *pc = h2o_config_register_path(hc, "/", 0);
    pc->error_log.emit_request_errors = 0;
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = on_req;
    if (pthread_create(&ad.thread, NULL, admin_main, NULL) != 0)
        return diag_set(d, "cannot start the admin thread");
    ad.running = true;
    log_info("admin API, metrics and dashboard on http://%s/ (port %d)%s", cfg->address, ad.port,
             ad.token ? ", bearer token required" : "");
    return 0;
}

void admin_stop(void)
{
    if (!ad.running)
        return;
    atomic_store(&ad.stop, true);
    pthread_mutex_lock(&ad.lock);
    while (!ad.parked)
        pthread_cond_wait(&ad.cond, &ad.lock);
    pthread_mutex_unlock(&ad.lock);
    ad.running = false;
}
