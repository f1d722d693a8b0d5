/*
 * Errors (Traefik): a response whose status is in <status> (the
 * upstream's, Gantry's own 502/503/504, or a later middleware's answer) is
 * replaced by the page <service> answers for <query> ({status},
 * {originalStatus} and {url} substituted; see errors_page.h), sent with the
 * original status — or the one <statusRewrites> maps it to (the first
 * matching rule) — and every header field of the page's answer. The page
 * request carries the original Host and the original request headers (all
 * of them, or those <errorRequestHeaders> lists) and the X-Forwarded-*
 * fields Traefik's entry point adds to the request (see errors_page.h).
 * If the error service cannot answer, the client gets the status with a
 * short text body.
 *
 * nginxHeaders (internal, as in Traefik: only the kubernetes provider sets
 * it, for ingress-nginx's custom-http-errors): the page request is the one
 * ingress-nginx sends its default backend (X-Code, X-Format, ...; the map's
 * fields X-Namespace, X-Ingress-Name, X-Service-Name, X-Service-Port), and
 * the page's answer goes out with its own status, as nginx's
 * `error_page <code> = @custom_...` does.
 *
 * The response being replaced is dropped before a byte of it is sent (the
 * upstream connection is drained or closed by the pool): see mw_intercept.
 */
#include "middleware.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../balancer.h"
#include "../registry.h"
#include "../subrequest.h"
#include "../table.h"
#include "../worker.h"
#include "errors_page.h"
#include "status_ranges.h"

#define MAX_RANGES 32
#define MAX_PAGE (4 * 1024 * 1024)

struct rewrite {
    struct status_range from;
    int to;
};

struct errors {
    struct status_range ranges[MAX_RANGES];
    size_t n_ranges;
    struct rewrite rewrites[MAX_RANGES];
    size_t n_rewrites;
    const struct table_service *service;
    const char *query;
    struct errors_page_headers request_headers;
    bool nginx;                   /* nginxHeaders given: ingress-nginx's exchange */
    const char **nginx_names, **nginx_values;
    size_t n_nginx;
};

/* Per request: the path as it reached this middleware (what {url} names:
 * later middlewares may rewrite it), and whether a page was asked for. */
struct errors_state {
    h2o_iovec_t path;
    bool fired;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct errors *c = arena_alloc(a, sizeof(*c));
    size_t n;
    const char **ranges = mw_opt_list(a, o, "status", &n);
    if (n == 0)
        return diag_set(d, "status is required (e.g. 500-599)");
    for (size_t i = 0; i < n; i++) {
        if (c->n_ranges == MAX_RANGES || status_range_parse(ranges[i], &c->ranges[c->n_ranges]) != 0)
            return diag_set(d, "status: '%s' is not a status code or range (e.g. 404, 500-599)", ranges[i]);
        c->n_ranges++;
    }
    const char **keys, **values;
    size_t nr = mw_opt_map(a, o, "statusRewrites", &keys, &values);
    for (size_t i = 0; i < nr; i++) {
        char *end;
        long to = strtol(values[i], &end, 10);
        if (c->n_rewrites == MAX_RANGES || status_range_parse(keys[i], &c->rewrites[c->n_rewrites].from) != 0 || *end != '\0' ||
            to < 100 || to > 599)
            return diag_set(d, "statusRewrites: '%s: %s' is not a status range mapped to a status", keys[i], values[i]);
        c->rewrites[c->n_rewrites++].to = (int)to;
    }
    const char *q = mw_opt_string(o, "query");
    c->query = arena_strdup(a, q ? q : "");
    /* errorRequestHeaders: unset forwards every request header; a list
     * (even empty) only those named */
    c->request_headers.all = !mw_opt_has(o, "errorRequestHeaders");
    const char **names = mw_opt_list(a, o, "errorRequestHeaders", &c->request_headers.n);
    c->request_headers.names = names;
    if (o->provider == NULL || strcmp(o->provider, "kubernetes") == 0) { /* elsewhere: an unknown option */
        c->n_nginx = mw_opt_map(a, o, "nginxHeaders", &c->nginx_names, &c->nginx_values);
        c->nginx = c->n_nginx != 0;
    }
    const char *svc = mw_opt_string(o, "service");
    if (svc == NULL || *svc == '\0')
        return diag_set(d, "service is required");
    if (o->table != NULL) {
        const char *qualified = strchr(svc, '@') ? svc : arena_printf(a, "%s@%s", svc, o->provider);
        c->service = table_find_service(o->table, qualified);
        if (c->service == NULL)
            return diag_set(d, "service '%s' does not exist or cannot be served", qualified);
    }
    *cfg = c;
    return 0;
}

struct page_call {
    struct mw_run *run;
    int status;       /* what the client gets */
    bool page_status; /* ... unless the page's own status goes (nginxHeaders) */
};

/* A server of <svc> to ask: down through mirroring and weighted services. */
static struct server *pick_server(const struct table_service *svc, struct worker *w)
{
    for (int depth = 0; svc != NULL && depth < 16; depth++) {
        if (svc->main != NULL) {
            svc = svc->main;
            continue;
        }
        if (svc->n_children != 0) {
            int i = svc->failover ? (balancer_service_up(svc->children[0], worker_now_ms(w)) ? 0 : 1)
                                  : balancer_pick_child(svc, w->id, worker_now_ms(w));
            svc = i < 0 ? NULL : svc->children[i];
            continue;
        }
        struct balancer_tried tried = {0};
        uint32_t i;
        return balancer_pick(svc, w->id, worker_now_ms(w), &tried, &i) == BALANCER_OK ? svc->servers[i].srv : NULL;
    }
    return NULL;
}

static void on_page(void *data, const char *err, const struct subrequest_response *res)
{
    struct page_call *call = data;
    h2o_req_t *req = call->run->req;
    req->res.headers = (h2o_headers_t){NULL};
    call->run->intercepted = false;
    if (err != NULL) {
        char text[64];
        int n = snprintf(text, sizeof(text), "%d\n", call->status);
        mw_send(call->run, call->status, "Error", h2o_iovec_init(text, (size_t)n));
        return;
    }
    const struct phr_header *connection = NULL;
    for (size_t i = 0; i < res->n_headers; i++)
        if (mw_name_is(res->headers[i].name, res->headers[i].name_len, H2O_STRLIT("connection")))
            connection = &res->headers[i];
    for (size_t i = 0; i < res->n_headers; i++) {
        const struct phr_header *h = &res->headers[i];
        if (!errors_page_header_passes(h, connection))
            continue;
        h2o_iovec_t lname = h2o_strdup(&req->pool, h->name, h->name_len);
        h2o_strtolower(lname.base, lname.len);
        h2o_iovec_t value = h2o_strdup(&req->pool, h->value, h->value_len);
        const char *orig = h2o_strdup(&req->pool, h->name, h->name_len).base;
        const h2o_token_t *tok = h2o_lookup_token(lname.base, lname.len);
        if (tok != NULL) /* added, not set: Set-Cookie and other repeated fields all go */
            h2o_add_header(&req->pool, &req->res.headers, tok, orig, value.base, value.len);
        else
            h2o_add_header_by_str(&req->pool, &req->res.headers, lname.base, lname.len, 0, orig, value.base, value.len);
    }
    mw_send(call->run, call->page_status ? res->status : call->status, "Error", res->body);
}

static void on_response(const void *cfg, struct mw_run *run)
{
    const struct errors *c = cfg;
    struct errors_state **slot = (struct errors_state **)mw_slot(run);
    h2o_req_t *req = run->req;
    int original = req->res.status;
    if ((*slot != NULL && (*slot)->fired) || run->intercepted || !status_in_ranges(c->ranges, c->n_ranges, original))
        return; /* not ours, or our own page going out */
    if (*slot == NULL) { /* answered before this middleware's request hook ran */
        *slot = h2o_mem_alloc_pool(&req->pool, sizeof(**slot));
        **slot = (struct errors_state){run->client.path, false};
    }
    (*slot)->fired = true;
    int status = original;
    for (size_t i = 0; i < c->n_rewrites; i++)
        if (original >= c->rewrites[i].from.lo && original <= c->rewrites[i].from.hi) {
            status = c->rewrites[i].to;
            break;
        }
    struct server *srv = c->service ? pick_server(c->service, run->w) : NULL;
    if (srv == NULL)
        return; /* no error page can be had: the original response goes out */
    mw_intercept(run);
    struct page_call *call = h2o_mem_alloc_pool(&req->pool, sizeof(*call));
    *call = (struct page_call){run, status, c->nginx};
    h2o_iovec_t url = errors_original_url(&req->pool, mw_request_is_tls(run), req->authority, (*slot)->path);
    h2o_iovec_t target = errors_page_target(&req->pool, c->query, status, original, url);
    struct errors_page_client client = {run->client.ip_text, req->input.authority, run->client.tls, run->client.forwarded_off};
    struct errors_page_nginx nginx = {c->nginx_names, c->nginx_values, c->n_nginx, original, req->input.path};
    /* nginx's Host is the client's ($best_http_host), whatever a middleware made of it */
    h2o_iovec_t host = c->nginx ? req->input.authority : req->authority;
    h2o_iovec_t head = errors_page_head(&req->pool, target, host, &req->headers, &c->request_headers, &client,
                                        c->nginx ? &nginx : NULL);
    subrequest_start(run->w, &req->pool, srv, head, h2o_iovec_init(NULL, 0), MAX_PAGE, on_page, call);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    (void)cfg;
    struct errors_state **slot = (struct errors_state **)mw_slot(run);
    *slot = h2o_mem_alloc_pool(&run->req->pool, sizeof(**slot));
    **slot = (struct errors_state){run->client.path, false};
    return MW_NEXT;
}

const struct mw_type mw_errors = {"errors", build, on_request, on_response};
