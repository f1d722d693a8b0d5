/*
 * The h2o handler of every entry point: normalise the request into a
 * struct match_req, look the route up in the worker's current table, and
 * hand the request to the upstream client. One answer lives here: 404
 * when nothing matches (Traefik's body).
 */
#include "route.h"

#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../common/log.h"
#include "accesslog.h"
#include "acme_challenge.h"
#include "balancer.h"
#include "branch.h"
#include "conntrack.h"
#include "forwarded.h"
#include "match.h"
#include "middleware/middleware.h"
#include "middleware/status_ranges.h"
#include "mirror.h"
#include "misdirected.h"
#include "path.h"
#include "publish.h"
#include "h2_server.h"
#include "req_stream.h"
#include "request_check.h"
#include "request_view.h"
#include "response_filter.h"
#include "stats.h"
#include "table.h"
#include "tls_options.h"
#include "tls.h"
#include "upstream.h"

#define MAX_HOST 255
#define STREAM_AFTER (64 * 1024) /* body bytes in hand before an HTTP/1.1 body streams */

struct route_handler {
    h2o_handler_t super;
    struct entrypoint_rt *ep;
};

static uint64_t monotonic_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static const h2o_iovec_t *header_value(const h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

void route_request_done(h2o_req_t *req, struct worker *w, const struct upstream_client *client, const struct table_route *route,
                        const char *upstream)
{
    int status = req->res.status ? req->res.status : 499; /* nginx's "client closed request" */
    if (client->ct != NULL)
        conntrack_request_end(client->ct, req->res.status == 0);
    uint64_t duration = monotonic_us() - client->start_us;
    enum stats_method method = stats_method_of(req->method.base, req->method.len);
    uint64_t in = req_stream_bytes_in(req); /* a streamed body is not in req->entity */
    stats_record(client->ep->stats, w->id, status, method, in, req->bytes_sent, duration);
    if (route != NULL) {
        stats_record(route->stats, w->id, status, method, in, req->bytes_sent, duration);
        if (route->service != NULL) /* NULL: a redirect-only route */
            stats_record(route->service->stats, w->id, status, method, in, req->bytes_sent, duration);
    }
    if (!accesslog_enabled())
        return;
    const h2o_iovec_t *ua = header_value(req, H2O_TOKEN_USER_AGENT), *ref = header_value(req, H2O_TOKEN_REFERER);
    struct accesslog_entry e = {
        .client_ip = client->ip_text,
        .method = req->method.base,
        .method_len = req->method.len,
        .path = req->path.base,
        .path_len = req->path.len,
        .version = req->version,
        .host = req->authority.base,
        .host_len = req->authority.len,
        .user_agent = ua ? ua->base : NULL,
        .user_agent_len = ua ? ua->len : 0,
        .referer = ref ? ref->base : NULL,
        .referer_len = ref ? ref->len : 0,
        .status = status,
        .bytes_in = in,
        .bytes_out = req->bytes_sent,
        .duration_us = duration,
        .start_unix_us = client->start_unix_us,
        .entrypoint = client->ep->cfg.name,
        .router = route ? route->name : NULL,
        .service = route && route->service ? route->service->name : NULL,
        .upstream = upstream,
    };
    accesslog_write(w->id, &e);
}

/* Answers <req> here; <close>: HTTP/1 closes the connection after. */
static int reply(h2o_req_t *req, struct worker *w, const struct upstream_client *client, int status, const char *reason,
                 const char *body, bool close)
{
    h2o_send_error_generic(req, status, reason, body, close ? H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION : 0);
    if (req->bytes_sent == 0)
        req->bytes_sent = strlen(body);
    route_request_done(req, w, client, NULL, NULL);
    return 0;
}

static int bad_request(h2o_req_t *req, struct worker *w, const struct upstream_client *client, const char *why)
{
    log_debug("400 from %s: %s", client->ip_text, why);
    char *body = h2o_mem_alloc_pool(&req->pool, strlen(why) + 2);
    sprintf(body, "%s\n", why);
    return reply(req, w, client, 400, "Bad Request", body, true);
}

/* An absolute-form target ("http://host/path", RFC 9112 3.2.2): its
 * authority replaces the Host header; the rest is the path. */
static bool split_absolute_form(h2o_req_t *req, h2o_iovec_t *path)
{
    const char *s = req->path.base, *end = s + req->path.len;
    size_t skip = h2o_lcstris(s, req->path.len < 7 ? req->path.len : 7, H2O_STRLIT("http://"))    ? 7
                  : h2o_lcstris(s, req->path.len < 8 ? req->path.len : 8, H2O_STRLIT("https://")) ? 8
                                                                                                    : 0;
    if (skip == 0)
        return false;
    const char *host = s + skip, *p = host;
    while (p < end && *p != '/' && *p != '?')
        p++;
    if (p == host)
        return false;
    req->authority = h2o_strdup(&req->pool, host, (size_t)(p - host));
    *path = p < end && *p == '/' ? h2o_iovec_init(p, (size_t)(end - p)) : h2o_iovec_init(NULL, 0);
    return true;
}

/* Sets client->path (sent upstream) and the path rules match on. NULL,
 * or why the path is refused. */
static const char *route_path(h2o_req_t *req, const struct entrypoint_config *cfg, struct upstream_client *client,
                              h2o_iovec_t *match_path)
{
    h2o_iovec_t target = req->path;
    if (target.len == 0 || target.base[0] != '/') {
        if (!split_absolute_form(req, &target))
            return "the request target must be a path";
        if (target.base == NULL) { /* "http://host" or "http://host?q" */
            const char *q = memchr(req->path.base, '?', req->path.len);
            size_t qlen = q ? (size_t)(req->path.base + req->path.len - q) : 0;
            char *t = h2o_mem_alloc_pool(&req->pool, qlen + 1);
            t[0] = '/';
            memcpy(t + 1, q, qlen);
            target = h2o_iovec_init(t, qlen + 1);
        }
    }
    const char *q = memchr(target.base, '?', target.len);
    size_t plen = q ? (size_t)(q - target.base) : target.len;
    if (path_is_plain(target.base, plen)) {
        client->path = target;
        *match_path = h2o_iovec_init(target.base, plen);
        return NULL;
    }
    size_t qlen = target.len - plen;
    char *norm = h2o_mem_alloc_pool(&req->pool, plen + 1 + qlen);
    size_t nlen;
    const char *err = path_normalize(target.base, plen, cfg->path_allow, !cfg->path_keep, norm, &nlen);
    if (err != NULL)
        return err;
    memcpy(norm + nlen, target.base + plen, qlen);
    client->path = h2o_iovec_init(norm, nlen + qlen);
    char *dec = h2o_mem_alloc_pool(&req->pool, nlen + 1);
    *match_path = h2o_iovec_init(dec, path_decode(norm, nlen, dec));
    return NULL;
}

/* The request line and headers as they were on the wire, about. */
static size_t header_bytes(const h2o_req_t *req)
{
    size_t n = req->method.len + req->path.len + req->authority.len + 32;
    for (size_t i = 0; i < req->headers.size; i++)
        n += req->headers.entries[i].name->len + req->headers.entries[i].value.len + 4;
    return n;
}

/* A request whose chain answered it (or that never reached the upstream)
 * is accounted for when its pool goes; the upstream client accounts for
 * the others itself. */
static void on_run_dispose(void *_run)
{
    struct mw_run *run = _run;
    if (!run->handed_on)
        route_request_done(run->req, run->w, &run->client, run->route, NULL);
}

/* The chain let the request through. */
static void on_chain_passed(struct mw_run *run)
{
    if (run->route->service == NULL) { /* a redirect-only route whose redirect did not apply */
        mw_answer(run, 404, "Not Found", "404 page not found\n", false);
        return;
    }
    run->handed_on = true;
    upstream_proxy(run->req, run->w, run->route, &run->client, run);
}

/* A route whose service's children have middlewares (struct
 * table_route's cut): the chain runs to the cut, where the mirroring
 * service takes its copies (Traefik: clones taken before the main
 * handler) and the failover keeps the request for its fallback; then the
 * rest of the chain (the main service's middlewares) runs. */
struct cut_run {
    struct mw_run run; /* first: on_run_dispose gets it */
    const struct table_route *route;
};

/* A middleware of the failover's main service answers <status> before the
 * request was handed on: when that is one of the failover's errors, the
 * request as the failover got it goes through the fallback's chain
 * instead (Traefik's failover sees the main's answer, its middlewares'
 * included). */
static bool main_answer_diverts(struct mw_run *run, int status)
{
    const struct table_route *route = run->route;
    const struct table_service *f = route->service;
    struct mw_kept *kept = run->kept;
    if (kept == NULL || run->handed_on || route->failover_fallback == NULL || route->failover_fallback == route ||
        run->current < route->cut->n_middlewares || !status_in_ranges(f->failover_status, f->n_failover_status, status))
        return false;
    mw_run_rewind(run, route->failover_fallback);
    middleware_run(run);
    return true;
}

static void on_cut(struct mw_run *run)
{
    const struct table_route *route = ((struct cut_run *)run)->route;
    h2o_req_t *req = run->req;
    if (route->service->n_mirrors != 0 &&
        (req->upgrade.base == NULL || !h2o_lcstris(req->upgrade.base, req->upgrade.len, H2O_STRLIT("websocket"))))
        mirror_dispatch(run->w, req, route->service, &run->client, route->mirror_chains);
    run->next = run->route->n_middlewares;
    if (route->failover_fallback != NULL && !balancer_service_up(route->service->children[0], worker_now_ms(run->w)))
        route = route->failover_fallback; /* the main is down: straight to the fallback, through its middlewares */
    run->route = route;
    run->pass = on_chain_passed;
    if (route->failover_fallback != NULL && route->failover_fallback != route) {
        run->kept = h2o_mem_alloc_pool(&req->pool, sizeof(*run->kept));
        request_view_save(&run->kept->view, req, &run->client);
        run->kept->run = *run;
        run->kept->run.kept = NULL; /* once */
        run->divert = main_answer_diverts;
    }
    middleware_run(run);
}

/* Whether a request to <route> may run while its body still arrives
 * (HTTP/2): not when a middleware or a mirror needs all of it first. */
static bool chain_needs_body(const struct table_route *route)
{
    for (uint32_t i = 0; i < route->n_middlewares; i++) {
        const struct table_middleware *m = route->middlewares[i];
        if (m->type->needs_body != NULL && m->type->needs_body(m->cfg))
            return true;
    }
    return false;
}

static bool streams_body(const struct table_route *route)
{
    if (chain_needs_body(route))
        return false;
    for (uint32_t i = 0; i < route->n_branches; i++) /* the branch is picked once the body is in: any may need it */
        if (chain_needs_body(route->branches[i]))
            return false;
    const struct table_service *stack[16];
    size_t n = 0;
    if (route->service != NULL)
        stack[n++] = route->service;
    while (n != 0) {
        const struct table_service *s = stack[--n];
        if ((s->n_mirrors != 0 && s->mirror_body) || s->n_failover_status != 0) /* sent again, or copied */
            return false;
        if (s->main != NULL && n < 16)
            stack[n++] = s->main;
        for (uint32_t i = 0; i < s->n_children && n < 16; i++)
            stack[n++] = s->children[i];
    }
    return true;
}

/* The request, its route found, ready for the chain and the upstream. */
struct routed {
    struct worker *w;
    const struct table_route *route;
    struct upstream_client client;
};

/* The child of the route's service the request goes to, picked before any
 * chain runs (struct table_route's branches): by the main service's health
 * (failover), the client address (highestRandomWeight), the sticky cookie,
 * else smooth WRR (a new cookie then). -1: none can answer. */
static int pick_branch(struct routed *r, const h2o_req_t *req)
{
    const struct table_service *svc = r->route->service;
    bool new_cookie;
    int i = branch_pick(svc, req, r->client.ip16, r->w->id, worker_now_ms(r->w), &new_cookie);
    if (new_cookie) {
        r->client.branch_sticky = svc->sticky;
        r->client.branch_index = (uint32_t)i;
    }
    return i;
}

static void run_routed(h2o_req_t *req, void *_r)
{
    struct routed *r = _r;
    if (r->route->n_branches != 0) { /* a child with middlewares of its own: picked before any chain runs */
        int i = pick_branch(r, req);
        if (i < 0) {
            reply(req, r->w, &r->client, 503, "Service Unavailable", "no available server\n", false);
            return;
        }
        r->route = r->route->branches[i];
    }
    if (r->route->n_middlewares == 0 && r->route->cut == NULL) {
        upstream_proxy(req, r->w, r->route, &r->client, NULL);
        return;
    }
    if (!r->client.trusted) { /* what middlewares add (X-Forwarded-Prefix...) must survive */
        forwarded_strip_untrusted(&req->headers);
        r->client.trusted = true;
    }
    const struct table_route *cut = r->route->cut;
    struct mw_run *run = h2o_mem_alloc_shared(&req->pool, cut ? sizeof(struct cut_run) : sizeof(*run), on_run_dispose);
    *run = (struct mw_run){.req = req, .w = r->w, .route = r->route, .client = r->client, .pass = on_chain_passed};
    if (cut != NULL) { /* the service takes over part-way through the chain */
        ((struct cut_run *)run)->route = r->route;
        run->route = cut;
        run->pass = on_cut;
        uint32_t n = r->route->n_middlewares; /* slots for the longer of the main's and the fallback's chains */
        if (r->route->failover_fallback != NULL && r->route->failover_fallback->n_middlewares > n)
            n = r->route->failover_fallback->n_middlewares;
        run->slots = h2o_mem_alloc_pool(&req->pool, (n ? n : 1) * sizeof(void *));
        memset(run->slots, 0, (n ? n : 1) * sizeof(void *));
    }
    middleware_run(run);
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    struct route_handler *h = (void *)self;

    struct worker *w = worker_self;
    response_filter_cancel(); /* nothing pending can belong to a new request */
    struct table *t = publish_worker_table(w->id);

    struct upstream_client client = {.forwarded_off = 0};
    client.ep = h->ep;
    client.start_us = monotonic_us();
    struct timeval now;
    gettimeofday(&now, NULL);
    client.start_unix_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_usec;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    if (sl == 0)
        ss.ss_family = AF_UNSPEC;
    forwarded_client_ip((struct sockaddr *)&ss, client.ip16, client.ip_text, sizeof(client.ip_text));
    client.tls = req->scheme == &H2O_URL_SCHEME_HTTPS;
    client.trusted = forwarded_is_trusted(&h->ep->cfg, client.ip16);
    client.path = req->path;
    client.ct = conntrack_of(req);
    if (!client.tls && req->upgrade.base != NULL && h2_server_upgrade(req, &w->eps[h->ep->index]))
        return 0; /* HTTP/1.1 "Upgrade: h2c": the request carries on as HTTP/2 stream 1 */

    /* no Host header: h2o substitutes the hostconf's name; treat as empty */
    if (req->authority.base == req->hostconf->authority.hostport.base)
        req->authority = h2o_iovec_init("", 0);
    if (client.ct != NULL && !conntrack_request_start(client.ct, req))
        return reply(req, w, &client, 429, "Too Many Requests", "too many requests on this connection\n", true);
    /* ACME HTTP-01 comes before routers, redirects and middlewares (Traefik's order); one
     * atomic load when no challenge is pending */
    const char *keyauth =
        acme_challenge_answer((int)h->ep->index, req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len);
    if (keyauth != NULL)
        return reply(req, w, &client, 200, "OK", keyauth, false);
    const char *bad = request_check(req);
    h2o_iovec_t path;
    if (bad == NULL)
        bad = route_path(req, &h->ep->cfg, &client, &path);
    if (bad == NULL && req->authority.len > MAX_HOST + 6)
        bad = "invalid host";
    if (bad != NULL)
        return bad_request(req, w, &client, bad);
    if (!request_check_method_allowed(req, h->ep->cfg.allow_trace)) { /* 405 must say Allow: h2o's error path drops headers */
        req->res.status = 405;
        req->res.reason = "Method Not Allowed";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain; charset=utf-8"));
        h2o_send_inline(req, H2O_STRLIT("method not allowed\n"));
        route_request_done(req, w, &client, NULL, NULL);
        return 0;
    }
    if (h->ep->cfg.max_header_bytes && header_bytes(req) > h->ep->cfg.max_header_bytes)
        return reply(req, w, &client, 431, "Request Header Fields Too Large", "request header fields too large\n", true);

    char host[MAX_HOST + 8];
    struct match_req mr = {
        .host = host,
        .host_len = match_normalize_host(req->authority.base, req->authority.len, host),
        .path = path.base,
        .path_len = path.len,
        .method = req->method.base,
        .method_len = req->method.len,
        .headers = &req->headers,
        .has_client_ip = ss.ss_family == AF_INET || ss.ss_family == AF_INET6,
    };
    memcpy(mr.client_ip, client.ip16, 16);
    if (req->query_at != SIZE_MAX) {
        mr.query = req->path.base + req->query_at + 1;
        mr.query_len = req->path.len - req->query_at - 1;
    }

    /* a host with its own certificate, on a connection made with another one (RFC 9110 15.5.20) */
    if (client.tls && req->conn->callbacks->get_socket != NULL &&
        misdirected_check(t, mr.host, mr.host_len, tls_socket_ctx(req->conn->callbacks->get_socket(req->conn))))
        return reply(req, w, &client, 421, "Misdirected Request", "misdirected request\n", false);
    const struct table_route *route = t ? table_lookup(t, &mr, h->ep->index, client.tls) : NULL;
    if (route == NULL)
        return reply(req, w, &client, 404, "Not Found", "404 page not found\n", false);
    /* a router whose TLS option differs from the one its connection was made with (Traefik's 421) */
    if (client.tls && t->has_tls_options && req->conn->callbacks->get_socket != NULL &&
        route->tls_option_id != tls_options_of(tls_socket_ssl(req->conn->callbacks->get_socket(req->conn))))
        return reply(req, w, &client, 421, "Misdirected Request", "misdirected request\n", false);
    publish_link(w->id, &req->pool); /* before the proxy state: disposed after it */
    struct routed *r = h2o_mem_alloc_pool(&req->pool, sizeof(*r));
    *r = (struct routed){.w = w, .route = route, .client = client};
    /* a request runs at its head: its body streams to the upstream unless
     * something needs all of it first (collected up to maxBodySize); an
     * HTTP/1.1 body shorter than STREAM_AFTER goes up whole, with its length */
    if (req_stream_body_pending(req)) {
        if (streams_body(route))
            req_stream_wait_start(req, STREAM_AFTER, run_routed, r);
        else
            req_stream_wait_body(req, run_routed, r);
        return 0;
    }
    run_routed(req, r);
    return 0;
}

void route_register(h2o_pathconf_t *pathconf, struct entrypoint_rt *ep)
{
    struct route_handler *h = (void *)h2o_create_handler(pathconf, sizeof(*h));
    h->super.on_req = on_req;
    h->ep = ep;
    upstream_set_done_hook(route_request_done);
}
