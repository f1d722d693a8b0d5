/*
 * Tree -> model decoder. Each struct of the dynamic configuration has a
 * table of fields (tree_decode.h: names matched case-insensitively, as
 * Traefik does) with a function that decodes the value into the object. An error in a field
 * drops the object that contains it; an unknown field is a warning that
 * names the key, never a silent change of meaning.
 */
#include "model_decode.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/config_value.h"
#include "../common/hostport.h"
#include "../proxy/middleware/status_ranges.h"
#include "tree_decode.h"

#define MAX_WEIGHT 1000000

struct dctx {
    struct tree_decoder super; /* context: the object, "router 'api'" */
    struct model *m;
    struct decode_report *rep;
};

static struct dctx *dc(struct tree_decoder *td)
{
    return (struct dctx *)td;
}

void decode_report_init(struct decode_report *r)
{
    memset(r, 0, sizeof(*r));
    arena_init(&r->arena);
}

void decode_report_free(struct decode_report *r)
{
    arena_free(&r->arena);
}

static void report(struct decode_report *r, struct ptr_vec *v, const struct tree_node *at, const char *fmt, va_list ap)
{
    char where[512], msg[1024];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    ptr_vec_push(&r->arena, v, arena_printf(&r->arena, "%s: %s", tree_where(at, where, sizeof(where)), msg));
}

static void decode_report_warn(struct decode_report *r, const struct tree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, &r->warnings, at, fmt, ap);
    va_end(ap);
}

/* Errors drop the object they are about (the caller checks the return);
 * both kinds go to the report. */
static void report_to(struct tree_decoder *td, bool is_error, const char *msg)
{
    struct decode_report *r = dc(td)->rep;
    ptr_vec_push(&r->arena, is_error ? &r->errors : &r->warnings, arena_strdup(&r->arena, msg));
}

static bool valid_name(const char *name)
{
    if (*name == '\0')
        return false;
    for (const char *p = name; *p; p++)
        if (*p == '@' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

static const char *origin_of(struct tree_decoder *c, const struct tree_node *n)
{
    char where[512];
    return arena_strdup(&dc(c)->m->arena, tree_where(n, where, sizeof(where)));
}

/* ---- http.services ---- */

static int server_url(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_server *s = obj;
    struct server_url u;
    struct diag d;
    if (tree_decode_string(c, v, &s->url) != 0)
        return -1;
    if (server_url_parse(s->url ? s->url : "", false, &u, &d) != 0)
        return tree_decode_fail(c, v, "%s", d.msg);
    return 0;
}

static int server_weight(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t w;
    if (tree_decode_int(c, v, 0, MAX_WEIGHT, &w) != 0)
        return -1;
    ((struct model_server *)obj)->weight = (int)w;
    return 0;
}

static int server_preserve_path(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_server *)obj)->preserve_path);
}

static const struct tree_field server_fields[] = {
    {"url", server_url}, {"weight", server_weight}, {"preservePath", server_preserve_path}, {NULL, NULL}};

static int lb_servers(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "servers must be a list");
    lb->servers = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*lb->servers));
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct model_server *s = &lb->servers[lb->n_servers];
        s->weight = 1;
        if (tree_decode_fields(c, s, v->items[i], server_fields, "server") != 0) {
            rc = -1;
            continue;
        }
        if (s->url == NULL) {
            rc = tree_decode_fail(c, v->items[i], "server without url");
            continue;
        }
        lb->n_servers++;
    }
    return rc;
}

static int lb_pass_host(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_lb *)obj)->pass_host_header);
}

static int lb_strategy(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    if (tree_decode_string(c, v, &lb->strategy) != 0)
        return -1;
    if (lb->strategy && strcasecmp(lb->strategy, "wrr") != 0 && strcasecmp(lb->strategy, "RoundRobin") != 0 &&
        strcasecmp(lb->strategy, "p2c") != 0 && strcasecmp(lb->strategy, "hrw") != 0 &&
        strcasecmp(lb->strategy, "leasttime") != 0) {
        decode_report_warn(dc(c)->rep, v, "%s: load-balancing strategy '%s' is not supported yet; using wrr", c->context,
                           lb->strategy);
        lb->strategy = "wrr";
    }
    return 0;
}

TREE_FIELD_STRING(hc_path, struct model_healthcheck, path)
TREE_FIELD_STRING(hc_scheme, struct model_healthcheck, scheme)
TREE_FIELD_STRING(hc_hostname, struct model_healthcheck, hostname)
TREE_FIELD_STRING(hc_method, struct model_healthcheck, method)

static int hc_port(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t p;
    if (tree_decode_int(c, v, 1, 65535, &p) != 0)
        return -1;
    ((struct model_healthcheck *)obj)->port = (int)p;
    return 0;
}

static int hc_status(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t s;
    if (tree_decode_int(c, v, 100, 599, &s) != 0)
        return -1;
    ((struct model_healthcheck *)obj)->status = (int)s;
    return 0;
}

static int hc_interval(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(c, v, &((struct model_healthcheck *)obj)->interval_ms);
}

static int hc_unhealthy_interval(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(c, v, &((struct model_healthcheck *)obj)->unhealthy_interval_ms);
}

static int hc_timeout(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(c, v, &((struct model_healthcheck *)obj)->timeout_ms);
}

static int hc_headers(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_healthcheck *hc = obj;
    if (v->kind != TREE_MAP)
        return tree_decode_fail(c, v, "healthCheck.headers must be a mapping of header names to values");
    return tree_decode_string_map(c, v, &hc->header_names, &hc->header_values, &hc->n_headers);
}

static int hc_mode(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    const char *s = v->kind == TREE_SCALAR ? v->scalar : NULL;
    if (s == NULL || (strcasecmp(s, "http") != 0 && strcasecmp(s, "grpc") != 0))
        return tree_decode_fail(c, v, "healthCheck.mode must be http or grpc");
    ((struct model_healthcheck *)obj)->grpc = strcasecmp(s, "grpc") == 0;
    return 0;
}

static const struct tree_field hc_fields[] = {
    {"path", hc_path},         {"scheme", hc_scheme},   {"hostname", hc_hostname},
    {"method", hc_method},     {"port", hc_port},       {"status", hc_status},
    {"interval", hc_interval}, {"timeout", hc_timeout}, {"unhealthyInterval", hc_unhealthy_interval},
    {"headers", hc_headers},   {"mode", hc_mode},          {"followRedirects", NULL},
    {NULL, NULL}};

static int lb_healthcheck(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    struct model_healthcheck *hc = arena_alloc(&dc(c)->m->arena, sizeof(*hc));
    hc->interval_ms = 30000;
    hc->timeout_ms = 5000;
    if (tree_decode_fields(c, hc, v, hc_fields, "healthCheck") != 0)
        return -1;
    if (hc->grpc && hc->path == NULL)
        hc->path = "/"; /* gRPC checks call grpc.health.v1.Health/Check whatever the path */
    if (hc->path == NULL || hc->path[0] != '/')
        return tree_decode_fail(c, v, "healthCheck.path is required and must start with '/'");
    if (hc->interval_ms == 0)
        return tree_decode_fail(c, v, "healthCheck.interval must be positive");
    if (hc->unhealthy_interval_ms == 0)
        hc->unhealthy_interval_ms = hc->interval_ms;
    if (hc->timeout_ms == 0 || hc->timeout_ms > hc->interval_ms)
        hc->timeout_ms = hc->interval_ms < 5000 ? hc->interval_ms : 5000;
    lb->healthcheck = hc;
    return 0;
}

static int cookie_name(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_sticky *)obj)->name);
}

static int cookie_secure(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_sticky *)obj)->secure);
}

static int cookie_http_only(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_sticky *)obj)->http_only);
}

static int cookie_same_site(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_sticky *st = obj;
    if (tree_decode_string(c, v, &st->same_site) != 0)
        return -1;
    if (st->same_site && *st->same_site && strcasecmp(st->same_site, "none") != 0 && strcasecmp(st->same_site, "lax") != 0 &&
        strcasecmp(st->same_site, "strict") != 0)
        return tree_decode_fail(c, v, "sameSite must be none, lax or strict (got '%s')", st->same_site);
    return 0;
}

static int cookie_max_age(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_int(c, v, INT32_MIN, INT32_MAX, &((struct model_sticky *)obj)->max_age);
}

static int cookie_path(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_sticky *)obj)->path);
}

static int cookie_domain(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_sticky *)obj)->domain);
}

static const struct tree_field cookie_fields[] = {{"name", cookie_name},       {"secure", cookie_secure}, {"httpOnly", cookie_http_only},
                                             {"sameSite", cookie_same_site}, {"maxAge", cookie_max_age}, {"path", cookie_path},
                                             {"domain", cookie_domain},   {NULL, NULL}};

static int sticky_cookie(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_sticky **out = obj;
    if (v->kind == TREE_SCALAR) { /* the label form: sticky.cookie=true */
        bool on;
        if (tree_decode_bool(c, v, &on) != 0)
            return -1;
        *out = on ? arena_alloc(&dc(c)->m->arena, sizeof(**out)) : NULL;
        return 0;
    }
    struct model_sticky *st = arena_alloc(&dc(c)->m->arena, sizeof(*st));
    if (tree_decode_fields(c, st, v, cookie_fields, "sticky.cookie") != 0)
        return -1;
    *out = st;
    return 0;
}

static const struct tree_field sticky_fields[] = {{"cookie", sticky_cookie}, {NULL, NULL}};

static int decode_sticky(struct tree_decoder *c, struct model_sticky **out, const struct tree_node *v)
{
    return tree_decode_fields(c, out, v, sticky_fields, "sticky");
}

static int lb_sticky(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return decode_sticky(c, &((struct model_lb *)obj)->sticky, v);
}

static int passive_window(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(c, v, &((struct model_lb *)obj)->passive_window_ms);
}

static int passive_max(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t n;
    if (tree_decode_int(c, v, 1, 1000000, &n) != 0)
        return -1;
    ((struct model_lb *)obj)->passive_max_failed = (uint32_t)n;
    return 0;
}

static int lb_transport(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_lb *)obj)->servers_transport);
}

static const struct tree_field passive_fields[] = {
    {"failureWindow", passive_window}, {"maxFailedAttempts", passive_max}, {NULL, NULL}};

static int lb_passive(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    lb->passive_window_ms = 10000; /* Traefik's defaults: 10s, 1 */
    lb->passive_max_failed = 1;
    if (tree_decode_fields(c, lb, v, passive_fields, "passiveHealthcheck") != 0)
        return -1;
    if (lb->passive_window_ms == 0)
        return tree_decode_fail(c, v, "passiveHealthcheck.failureWindow must be positive");
    return 0;
}

static const struct tree_field lb_fields[] = {{"servers", lb_servers},
                                         {"passHostHeader", lb_pass_host},
                                         {"strategy", lb_strategy},
                                         {"healthCheck", lb_healthcheck},
                                         {"sticky", lb_sticky},
                                         {"serversTransport", lb_transport},
                                         {"responseForwarding", NULL},
                                         {"passiveHealthCheck", lb_passive},
                                         {NULL, NULL}};

static int mirroring_service(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_mirroring *)obj)->service);
}

static int mirroring_body(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_mirroring *)obj)->mirror_body);
}

static int mirroring_max_body(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_int(c, v, -1, INT64_MAX, &((struct model_mirroring *)obj)->max_body_size);
}

static int mirror_name(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_mirror *)obj)->name);
}

static int mirror_percent(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t p;
    if (tree_decode_int(c, v, 0, 100, &p) != 0)
        return -1;
    ((struct model_mirror *)obj)->percent = (int)p;
    return 0;
}

static const struct tree_field mirror_fields[] = {{"name", mirror_name}, {"percent", mirror_percent}, {NULL, NULL}};

static int mirroring_mirrors(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_mirroring *mi = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "mirrors must be a list");
    mi->mirrors = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*mi->mirrors));
    for (size_t i = 0; i < v->n; i++) {
        struct model_mirror *mr = &mi->mirrors[mi->n_mirrors];
        if (tree_decode_fields(c, mr, v->items[i], mirror_fields, "mirror") != 0)
            return -1;
        if (mr->name == NULL)
            return tree_decode_fail(c, v->items[i], "mirror without name");
        mi->n_mirrors++;
    }
    return 0;
}

static const struct tree_field mirroring_fields[] = {{"service", mirroring_service},
                                                {"mirrors", mirroring_mirrors},
                                                {"mirrorBody", mirroring_body},
                                                {"maxBodySize", mirroring_max_body},
                                                {"healthCheck", NULL},
                                                {NULL, NULL}};

static int weighted_ref_name(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_weighted_ref *)obj)->name);
}

static int weighted_ref_weight(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t w;
    if (tree_decode_int(c, v, 0, MAX_WEIGHT, &w) != 0)
        return -1;
    ((struct model_weighted_ref *)obj)->weight = (int)w;
    return 0;
}

static const struct tree_field weighted_ref_fields[] = {{"name", weighted_ref_name}, {"weight", weighted_ref_weight}, {NULL, NULL}};

static int weighted_services(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_weighted *w = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "weighted.services must be a list");
    w->services = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*w->services));
    for (size_t i = 0; i < v->n; i++) {
        struct model_weighted_ref *r = &w->services[w->n_services];
        r->weight = 1;
        if (tree_decode_fields(c, r, v->items[i], weighted_ref_fields, "weighted service") != 0)
            return -1;
        if (r->name == NULL)
            return tree_decode_fail(c, v->items[i], "weighted service without name");
        w->n_services++;
    }
    return 0;
}

static int weighted_sticky(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return decode_sticky(c, &((struct model_weighted *)obj)->sticky, v);
}

static int weighted_healthcheck(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    ((struct model_weighted *)obj)->healthcheck = true;
    return 0;
}

static const struct tree_field weighted_fields[] = {
    {"services", weighted_services}, {"sticky", weighted_sticky}, {"healthCheck", weighted_healthcheck}, {NULL, NULL}};

static int service_lb(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_lb *lb = arena_alloc(&dc(c)->m->arena, sizeof(*lb));
    lb->pass_host_header = true;
    if (tree_decode_fields(c, lb, v, lb_fields, "loadBalancer") != 0)
        return -1;
    s->lb = lb;
    return 0;
}

static int service_mirroring(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_mirroring *mi = arena_alloc(&dc(c)->m->arena, sizeof(*mi));
    mi->mirror_body = true;
    mi->max_body_size = -1;
    if (tree_decode_fields(c, mi, v, mirroring_fields, "mirroring") != 0)
        return -1;
    if (mi->service == NULL)
        return tree_decode_fail(c, v, "mirroring.service is required");
    s->mirroring = mi;
    return 0;
}

static int service_weighted(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_weighted *w = arena_alloc(&dc(c)->m->arena, sizeof(*w));
    if (tree_decode_fields(c, w, v, weighted_fields, "weighted") != 0)
        return -1;
    s->weighted = w;
    return 0;
}

static int service_middlewares(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    return tree_decode_list(c, v, &s->middlewares, &s->n_middlewares);
}

static int failover_service(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_failover *)obj)->service);
}

static int failover_fallback(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_failover *)obj)->fallback);
}

/* healthCheck: {} on a failover only propagates its status upwards (Traefik);
 * gantry always looks down the tree, so it is accepted as is. */
static int failover_healthcheck(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return 0;
}

static int failover_error_status(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_failover *f = obj;
    if (tree_decode_list(c, v, &f->error_status, &f->n_error_status) != 0)
        return -1;
    for (size_t i = 0; i < f->n_error_status; i++) {
        struct status_range r;
        if (status_range_parse(f->error_status[i], &r) != 0)
            return tree_decode_fail(c, v, "errors.status: `%s` is not a status or a range of statuses (\"500-504\")",
                                    f->error_status[i]);
    }
    return 0;
}

static int failover_error_max_body(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_int(c, v, -1, INT64_MAX, &((struct model_failover *)obj)->error_max_body);
}

static const struct tree_field failover_error_fields[] = {{"status", failover_error_status},
                                                         {"maxRequestBodyBytes", failover_error_max_body},
                                                         {NULL, NULL}};

static int failover_errors(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(c, obj, v, failover_error_fields, "errors");
}

static const struct tree_field failover_fields[] = {{"service", failover_service},
                                                   {"fallback", failover_fallback},
                                                   {"healthCheck", failover_healthcheck},
                                                   {"errors", failover_errors},
                                                   {NULL, NULL}};

static int service_failover(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_failover *f = arena_alloc(&dc(c)->m->arena, sizeof(*f));
    f->error_max_body = -1; /* Traefik's default: the whole body is kept */
    if (tree_decode_fields(c, f, v, failover_fields, "failover") != 0)
        return -1;
    if (f->service == NULL || f->fallback == NULL)
        return tree_decode_fail(c, v, "failover needs service and fallback");
    s->failover = f;
    return 0;
}

static int service_hrw(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_weighted *w = arena_alloc(&dc(c)->m->arena, sizeof(*w));
    if (tree_decode_fields(c, w, v, weighted_fields, "highestRandomWeight") != 0)
        return -1;
    if (w->sticky != NULL)
        return tree_decode_fail(c, v, "highestRandomWeight has no sticky option");
    s->hrw = w;
    return 0;
}

static const struct tree_field service_fields[] = {{"loadBalancer", service_lb},
                                              {"mirroring", service_mirroring},
                                              {"weighted", service_weighted},
                                              {"failover", service_failover},
                                              {"highestRandomWeight", service_hrw},
                                              {"middlewares", service_middlewares},
                                              {NULL, NULL}};

/* ---- http.routers (also tcp.routers) ---- */

static int router_rule(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_router *)obj)->rule);
}

static int router_service(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_router *)obj)->service);
}

static int router_entrypoints(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    return tree_decode_list(c, v, &r->entrypoints, &r->n_entrypoints);
}

static int router_middlewares(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    return tree_decode_list(c, v, &r->middlewares, &r->n_middlewares);
}

static int router_priority(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_int(c, v, INT32_MIN, INT64_MAX - 1000, &((struct model_router *)obj)->priority);
}

static int tls_cert_resolver(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_router_tls *t = obj;
    return tree_decode_string(c, v, &t->cert_resolver); /* resolved by the ACME manager */
}

static int tls_options(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_router_tls *)obj)->options);
}

static int tls_passthrough(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_router_tls *)obj)->passthrough);
}

static int domain_main(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_tls_domain *)obj)->main);
}

static int domain_sans(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tls_domain *d = obj;
    return tree_decode_list(c, v, &d->sans, &d->n_sans);
}

static const struct tree_field tls_domain_fields[] = {{"main", domain_main}, {"sans", domain_sans}, {NULL, NULL}};

/* tls.domains: the certificates an ACME resolver orders for this router
 * instead of the names of its Host rules (Traefik's semantics). */
static int tls_domains(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_router_tls *t = obj;
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "tls.domains must be a list");
    t->domains = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*t->domains));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tls_domain *d = &t->domains[t->n_domains];
        if (tree_decode_fields(c, d, v->items[i], tls_domain_fields, "domain") != 0)
            return -1;
        if (d->main == NULL && d->n_sans == 0)
            return tree_decode_fail(c, v->items[i], "tls.domains entry without main or sans");
        t->n_domains++;
    }
    return 0;
}

static const struct tree_field router_tls_fields[] = {{"certResolver", tls_cert_resolver},
                                                 {"options", tls_options},
                                                 {"passthrough", tls_passthrough},
                                                 {"domains", tls_domains},
                                                 {NULL, NULL}};

static int router_tls(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    if (v->kind == TREE_SCALAR) {
        bool on;
        if (tree_decode_bool(c, v, &on) != 0)
            return -1;
        r->tls = on ? arena_alloc(&dc(c)->m->arena, sizeof(*r->tls)) : NULL;
        return 0;
    }
    struct model_router_tls *t = arena_alloc(&dc(c)->m->arena, sizeof(*t));
    if (tree_decode_fields(c, t, v, router_tls_fields, "tls") != 0)
        return -1;
    r->tls = t;
    return 0;
}

static const struct tree_field router_fields[] = {{"rule", router_rule},
                                             {"service", router_service},
                                             {"entryPoints", router_entrypoints},
                                             {"middlewares", router_middlewares},
                                             {"priority", router_priority},
                                             {"tls", router_tls},
                                             {"ruleSyntax", NULL},
                                             {"observability", NULL},
                                             {NULL, NULL}};

/* ---- http.middlewares ---- */

static void flatten(struct tree_decoder *c, struct model_middleware *mw, struct ptr_vec *keys, struct ptr_vec *vals, const char *prefix,
                    const struct tree_node *v)
{
    if (v->kind == TREE_MAP) {
        for (size_t i = 0; i < v->n; i++) {
            const char *k = *prefix ? arena_printf(&dc(c)->m->arena, "%s.%s", prefix, v->keys[i]) : v->keys[i];
            flatten(c, mw, keys, vals, k, v->items[i]);
        }
    } else if (v->kind == TREE_SEQ) {
        /* "name[i]" per item: a list item keeps its commas (a regex {1,3});
         * labels write lists comma-separated instead, and the middleware
         * option reader takes either form. An empty list stays a key
         * with an empty value: set, unlike an absent option
         * (errors.errorRequestHeaders: [] forwards no header) */
        if (v->n == 0) {
            ptr_vec_push(&dc(c)->m->arena, keys, arena_strdup(&dc(c)->m->arena, prefix));
            ptr_vec_push(&dc(c)->m->arena, vals, arena_strdup(&dc(c)->m->arena, ""));
        }
        for (size_t i = 0; i < v->n; i++)
            flatten(c, mw, keys, vals, arena_printf(&dc(c)->m->arena, "%s[%zu]", prefix, i), v->items[i]);
    } else {
        ptr_vec_push(&dc(c)->m->arena, keys, arena_strdup(&dc(c)->m->arena, prefix));
        ptr_vec_push(&dc(c)->m->arena, vals, arena_strdup(&dc(c)->m->arena, v->kind == TREE_SCALAR ? v->scalar : ""));
    }
}

static int decode_middleware(struct tree_decoder *c, struct model_middleware *mw, const struct tree_node *v)
{
    if (v->kind != TREE_MAP || v->n != 1)
        return tree_decode_fail(c, v, "a middleware must have exactly one type key (stripPrefix, headers, ...)");
    /* The type is kept as written, known or not: the table builder refuses
     * the routers using a type gantry does not implement, and only those. */
    mw->type = arena_strdup(&dc(c)->m->arena, v->keys[0]);
    struct ptr_vec keys = {0}, vals = {0};
    flatten(c, mw, &keys, &vals, "", v->items[0]);
    mw->keys = (const char **)keys.items;
    mw->values = (const char **)vals.items;
    mw->n_options = keys.len;
    return 0;
}

/* ---- tcp.services ---- */

static int tcp_server_address(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_server *s = obj;
    if (tree_decode_string(c, v, &s->address) != 0)
        return -1;
    struct hostport hp;
    struct diag d;
    if (hostport_parse(s->address ? s->address : "", 0, &hp, &d) != 0)
        return tree_decode_fail(c, v, "%s", d.msg);
    return 0;
}

static int tcp_server_tls(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_tcp_server *)obj)->tls);
}

static const struct tree_field tcp_server_fields[] = {{"address", tcp_server_address}, {"tls", tcp_server_tls}, {NULL, NULL}};

static int tcp_lb_servers(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "servers must be a list");
    s->servers = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*s->servers));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tcp_server *srv = &s->servers[s->n_servers];
        if (tree_decode_fields(c, srv, v->items[i], tcp_server_fields, "server") != 0)
            return -1;
        if (srv->address == NULL)
            return tree_decode_fail(c, v->items[i], "server without address");
        s->n_servers++;
    }
    return 0;
}

/* proxyProtocol: {version: 1|2}, version 2 when not given (Traefik's
 * default); "proxyProtocol=true" (labels) is the same as {}. */
static int proxy_protocol_version(struct tree_decoder *c, const struct tree_node *v, int *out)
{
    int64_t version = 2;
    if (v->kind == TREE_MAP) {
        for (size_t i = 0; i < v->n; i++) {
            if (strcasecmp(v->keys[i], "version") == 0) {
                if (tree_decode_int(c, v->items[i], 1, 2, &version) != 0)
                    return -1;
            } else {
                tree_decode_warn(c, v->items[i], "proxyProtocol: unknown key '%s' (ignored)", v->keys[i]);
            }
        }
    } else if (v->kind == TREE_SCALAR && v->scalar != NULL && *v->scalar != '\0') {
        bool on;
        if (tree_decode_bool(c, v, &on) != 0)
            return -1;
        if (!on)
            version = 0;
    }
    *out = (int)version;
    return 0;
}

static int tcp_lb_proxy_protocol(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return proxy_protocol_version(c, v, &((struct model_tcp_service *)obj)->proxy_protocol);
}

static int tcp_lb_transport(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_tcp_service *)obj)->servers_transport);
}

/* TERMINATION_DELAY_MAX_MS: a bound far beyond any use (about 31 years), so
 * the arithmetic on it cannot overflow. */
#define TERMINATION_DELAY_MAX_MS 1000000000000LL

/* loadBalancer.terminationDelay (deprecated in Traefik v3): an integer of
 * milliseconds, negative for "wait forever". */
static int tcp_lb_termination_delay(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    if (tree_decode_int(c, v, -TERMINATION_DELAY_MAX_MS, TERMINATION_DELAY_MAX_MS, &s->termination_delay_ms) != 0)
        return -1;
    s->has_termination_delay = true;
    return 0;
}

static const struct tree_field tcp_lb_fields[] = {{"servers", tcp_lb_servers},
                                             {"proxyProtocol", tcp_lb_proxy_protocol},
                                             {"terminationDelay", tcp_lb_termination_delay},
                                             {"serversTransport", tcp_lb_transport},
                                             {NULL, NULL}};

/* ---- tcp.serversTransports ---- */

/* dialTimeout: an explicit 0 means no timeout (Go's dialer), unset 30s */
int model_decode_tcp_transport_dial(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_transport *t = obj;
    if (tree_decode_duration(c, v, &t->dial_ms) != 0)
        return -1;
    t->has_dial = true;
    return 0;
}

static int tcp_tls_decode(struct tree_decoder *c, struct model_transport *tls, const struct tree_node *v);

/* tls (Traefik's TLSClientConfig): the HTTP transport's keys that TCP has.
 * It configures the handshake of the servers with tls: true only (Traefik's
 * dialer); empty, the defaults. */
static int tcp_tr_tls(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_transport *t = obj;
    struct model_transport *tls = arena_alloc(&dc(c)->m->arena, sizeof(*tls));
    if (tcp_tls_decode(c, tls, v) != 0)
        return -1;
    if (tls->unsupported != NULL) /* spiffe: its services are refused, as in Traefik without a SPIFFE source */
        t->unsupported = arena_printf(&dc(c)->m->arena, "tls.%s", tls->unsupported);
    t->tls = tls;
    return 0;
}

static int tcp_tr_spiffe(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    (void)c, (void)v;
    ((struct model_tcp_transport *)obj)->unsupported = "spiffe";
    return 0;
}

static int tcp_tr_proxy_protocol(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return proxy_protocol_version(c, v, &((struct model_tcp_transport *)obj)->proxy_protocol);
}

int model_decode_signed_duration(struct tree_decoder *c, const struct tree_node *v, const char *what, int64_t *out)
{
    uint64_t ms;
    if (v->kind == TREE_SCALAR && v->scalar != NULL && v->scalar[0] == '-') {
        if (config_parse_duration_ms(v->scalar + 1, &ms) != 0 || ms > (uint64_t)TERMINATION_DELAY_MAX_MS)
            return tree_decode_fail(c, v, "%s: expected a duration such as 100ms or -1s, got '%s'", what, v->scalar);
        *out = ms == 0 ? 0 : -(int64_t)ms;
        return 0;
    }
    if (tree_decode_duration(c, v, &ms) != 0)
        return -1;
    if (ms > (uint64_t)TERMINATION_DELAY_MAX_MS)
        return tree_decode_fail(c, v, "%s: %llu ms is too long", what, (unsigned long long)ms);
    *out = (int64_t)ms;
    return 0;
}

/* terminationDelay of a TCP transport: a duration that may be negative
 * ("-1s": wait forever). */
int model_decode_tcp_transport_termination_delay(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_transport *t = obj;
    if (model_decode_signed_duration(c, v, "terminationDelay", &t->termination_delay_ms) != 0)
        return -1;
    t->has_termination_delay = true;
    return 0;
}

/* dialKeepAlive: as Go's net.Dialer KeepAlive (negative: off, 0: 15s) */
int model_decode_tcp_transport_keep_alive(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_transport *t = obj;
    if (model_decode_signed_duration(c, v, "dialKeepAlive", &t->keep_alive_ms) != 0)
        return -1;
    t->has_keep_alive = true;
    return 0;
}

static const struct tree_field tcp_transport_fields[] = {{"dialTimeout", model_decode_tcp_transport_dial},
                                                    {"dialKeepAlive", model_decode_tcp_transport_keep_alive},
                                                    {"terminationDelay", model_decode_tcp_transport_termination_delay},
                                                    {"tls", tcp_tr_tls},
                                                    {"proxyProtocol", tcp_tr_proxy_protocol},
                                                    {"spiffe", tcp_tr_spiffe}, /* as Traefik's docs show it, beside tls */
                                                    {NULL, NULL}};

static int tcp_service_lb(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(c, obj, v, tcp_lb_fields, "loadBalancer");
}

/* Traefik's TCP weighted round robin: services[{name, weight}] only (no sticky, which TCP has no place for) */
static const struct tree_field tcp_weighted_fields[] = {{"services", weighted_services}, {"healthCheck", NULL}, {NULL, NULL}};

static int tcp_service_weighted(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    struct model_weighted *w = arena_alloc(&dc(c)->m->arena, sizeof(*w));
    if (tree_decode_fields(c, w, v, tcp_weighted_fields, "weighted") != 0)
        return -1;
    if (w->n_services == 0)
        return tree_decode_fail(c, v, "weighted.services must name at least one TCP service");
    s->weighted = w;
    return 0;
}

static const struct tree_field tcp_service_fields[] = {
    {"loadBalancer", tcp_service_lb}, {"weighted", tcp_service_weighted}, {NULL, NULL}};

/* ---- udp.routers, udp.services ---- */

/* Traefik's UDP objects have few keys and none that gantry skips: any
 * other key is a mistake that would change what is served, so the object
 * is refused with the key named. Nested maps are checked the same way. */
static int udp_known_keys(struct tree_decoder *c, const struct tree_node *v, const char *const *keys, const char *what)
{
    if (v->kind != TREE_MAP)
        return 0; /* tree_decode_fields says what is wrong */
    for (size_t i = 0; i < v->n; i++) {
        size_t k = 0;
        while (keys[k] != NULL && strcasecmp(keys[k], v->keys[i]) != 0)
            k++;
        if (keys[k] == NULL)
            return tree_decode_fail(c, v->items[i], "unknown key '%s' in %s", v->keys[i], what);
    }
    return 0;
}

static const struct tree_field udp_router_fields[] = {
    {"service", router_service}, {"entryPoints", router_entrypoints}, {NULL, NULL}};
static const char *const udp_router_keys[] = {"service", "entryPoints", NULL};

static const struct tree_field udp_server_fields[] = {{"address", tcp_server_address}, {NULL, NULL}};
static const char *const udp_server_keys[] = {"address", NULL};

static int udp_lb_servers(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "servers must be a list");
    s->servers = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(*s->servers));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tcp_server *srv = &s->servers[s->n_servers];
        if (udp_known_keys(c, v->items[i], udp_server_keys, "a udp server") != 0 ||
            tree_decode_fields(c, srv, v->items[i], udp_server_fields, "server") != 0)
            return -1;
        if (srv->address == NULL)
            return tree_decode_fail(c, v->items[i], "server without address");
        s->n_servers++;
    }
    return 0;
}

static const struct tree_field udp_lb_fields[] = {{"servers", udp_lb_servers}, {NULL, NULL}};
static const char *const udp_lb_keys[] = {"servers", NULL};

static int udp_service_lb(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    if (udp_known_keys(c, v, udp_lb_keys, "loadBalancer") != 0)
        return -1;
    return tree_decode_fields(c, obj, v, udp_lb_fields, "loadBalancer");
}

static const struct tree_field udp_weighted_fields[] = {{"services", weighted_services}, {NULL, NULL}};
static const char *const udp_weighted_keys[] = {"services", NULL};

static int udp_service_weighted(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    struct model_weighted *w = arena_alloc(&dc(c)->m->arena, sizeof(*w));
    if (udp_known_keys(c, v, udp_weighted_keys, "weighted") != 0 ||
        tree_decode_fields(c, w, v, udp_weighted_fields, "weighted") != 0)
        return -1;
    if (w->n_services == 0)
        return tree_decode_fail(c, v, "weighted.services must name at least one UDP service");
    s->weighted = w;
    return 0;
}

static const struct tree_field udp_service_fields[] = {
    {"loadBalancer", udp_service_lb}, {"weighted", udp_service_weighted}, {NULL, NULL}};
static const char *const udp_service_keys[] = {"loadBalancer", "weighted", NULL};

/* ---- http.serversTransports ---- */

static int tr_server_name(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_transport *)obj)->server_name);
}

static int tr_insecure(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_transport *)obj)->insecure_skip_verify);
}

static int tr_root_cas(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_transport *t = obj;
    return tree_decode_list(c, v, &t->root_cas, &t->n_root_cas);
}

struct cert_pair {
    const char *cert, *key;
};

static int tr_cert_file(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct cert_pair *)obj)->cert);
}

static int tr_key_file(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct cert_pair *)obj)->key);
}

static const struct tree_field tr_cert_fields[] = {{"certFile", tr_cert_file}, {"keyFile", tr_key_file}, {NULL, NULL}};

static int tr_certificates(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_transport *t = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "certificates must be a list of {certFile, keyFile}");
    t->cert_files = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(char *));
    t->key_files = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        struct cert_pair p = {0};
        if (tree_decode_fields(c, &p, v->items[i], tr_cert_fields, "certificate") != 0)
            return -1;
        if (p.cert == NULL || p.key == NULL)
            return tree_decode_fail(c, v->items[i], "certFile and keyFile are both required");
        t->cert_files[t->n_certs] = p.cert;
        t->key_files[t->n_certs++] = p.key;
    }
    return 0;
}

static int tr_max_idle(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    int64_t n;
    if (tree_decode_int(c, v, 0, 1000000, &n) != 0)
        return -1;
    ((struct model_transport *)obj)->max_idle_conns_per_host = (uint32_t)n;
    return 0;
}

TREE_FIELD_DURATION(tr_dial, struct model_transport, dial_ms)
TREE_FIELD_DURATION(tr_header, struct model_transport, response_header_ms)
TREE_FIELD_DURATION(tr_idle, struct model_transport, idle_conn_ms)
TREE_FIELD_DURATION(tr_read, struct model_transport, read_ms)

TREE_FIELD_DURATION(tr_read_idle, struct model_transport, read_idle_ms)
TREE_FIELD_DURATION(tr_ping, struct model_transport, ping_ms)

static int tr_disable_http2(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_transport *)obj)->disable_http2);
}

static const struct tree_field tr_timeout_fields[] = {{"dialTimeout", tr_dial},           {"responseHeaderTimeout", tr_header},
                                                 {"idleConnTimeout", tr_idle},       {"readTimeout", tr_read},
                                                 {"readIdleTimeout", tr_read_idle},  {"pingTimeout", tr_ping},
                                                 {NULL, NULL}};

static int tr_timeouts(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(c, obj, v, tr_timeout_fields, "forwardingTimeouts");
}

static int tr_peer_cert_uri(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_transport *)obj)->peer_cert_uri);
}

struct san_pair {
    const char *type, *value;
};

static int tr_san_type(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct san_pair *)obj)->type);
}

static int tr_san_value(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct san_pair *)obj)->value);
}

static const struct tree_field tr_san_fields[] = {{"type", tr_san_type}, {"value", tr_san_value}, {NULL, NULL}};

/* peerCertSANs (Traefik v3.8): [{type: URI|DNSName, value}], kept as
 * "URI:<value>" / "DNSName:<value>"; another type would never match in
 * Traefik (every connection refused): here the transport's services are
 * refused with the reason. */
static int tr_peer_cert_sans(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_transport *t = obj;
    if (v->kind != TREE_SEQ)
        return tree_decode_fail(c, v, "peerCertSANs must be a list of {type, value}");
    t->peer_cert_sans = arena_alloc(&dc(c)->m->arena, (v->n ? v->n : 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        struct san_pair p = {0};
        if (tree_decode_fields(c, &p, v->items[i], tr_san_fields, "peerCertSAN") != 0)
            return -1;
        if (p.type == NULL || (strcmp(p.type, "URI") != 0 && strcmp(p.type, "DNSName") != 0) || p.value == NULL ||
            *p.value == '\0') { /* its services only are refused, as spiffe's */
            t->unsupported = arena_printf(&dc(c)->m->arena, "peerCertSANs entry {type: '%s', value: '%s'} (type URI or DNSName, a value)",
                                          p.type ? p.type : "", p.value ? p.value : "");
            continue;
        }
        t->peer_cert_sans[t->n_peer_cert_sans++] = arena_printf(&dc(c)->m->arena, "%s:%s", p.type, p.value);
    }
    return 0;
}

static int tr_spiffe(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    ((struct model_transport *)obj)->unsupported = "spiffe";
    return 0;
}

static const struct tree_field transport_fields[] = {{"serverName", tr_server_name},
                                                {"insecureSkipVerify", tr_insecure},
                                                {"rootCAs", tr_root_cas},
                                                {"certificates", tr_certificates},
                                                {"maxIdleConnsPerHost", tr_max_idle},
                                                {"forwardingTimeouts", tr_timeouts},
                                                {"disableHTTP2", tr_disable_http2},
                                                {"peerCertURI", tr_peer_cert_uri},
                                                {"peerCertSANs", tr_peer_cert_sans},
                                                {"spiffe", tr_spiffe},
                                                {NULL, NULL}};

/* tcp.serversTransports.<name>.tls: Traefik's TLSClientConfig */
static const struct tree_field tcp_tls_fields[] = {{"serverName", tr_server_name},
                                              {"insecureSkipVerify", tr_insecure},
                                              {"rootCAs", tr_root_cas},
                                              {"certificates", tr_certificates},
                                              {"peerCertURI", tr_peer_cert_uri},
                                              {"spiffe", tr_spiffe},
                                              {NULL, NULL}};

static int tcp_tls_decode(struct tree_decoder *c, struct model_transport *tls, const struct tree_node *v)
{
    return tree_decode_fields(c, tls, v, tcp_tls_fields, "tls");
}

/* ---- sections ---- */

enum section {
    SEC_ROUTERS, SEC_SERVICES, SEC_MIDDLEWARES, SEC_TCP_ROUTERS, SEC_TCP_SERVICES, SEC_TRANSPORTS, SEC_TCP_MIDDLEWARES, SEC_TCP_TRANSPORTS,
    SEC_UDP_ROUTERS, SEC_UDP_SERVICES
};

static void decode_named(struct tree_decoder *c, const struct tree_node *map, enum section sec, const char *kind)
{
    if (map->kind == TREE_NULL)
        return;
    if (map->kind != TREE_MAP) {
        c->context = kind;
        tree_decode_fail(c, map, "expected a mapping of names to %s definitions", kind);
        return;
    }
    struct model *m = dc(c)->m;
    for (size_t i = 0; i < map->n; i++) {
        const char *name = map->keys[i];
        const struct tree_node *v = map->items[i];
        c->context = arena_printf(&dc(c)->rep->arena, "%s '%s'", kind, name);
        if (!valid_name(name)) {
            tree_decode_fail(c, v, "invalid name (names may not be empty or contain '@')");
            continue;
        }
        struct model_origin origin = {m->provider, origin_of(c, v)};
        const char *dup_name = arena_strdup(&m->arena, name);
        switch (sec) {
        case SEC_ROUTERS:
        case SEC_TCP_ROUTERS: {
            struct model_router *r = arena_alloc(&m->arena, sizeof(*r));
            r->name = dup_name;
            r->origin = origin;
            if (tree_decode_fields(c, r, v, router_fields, kind) != 0)
                continue;
            if (sec == SEC_ROUTERS && r->rule == NULL) {
                tree_decode_fail(c, v, "rule is required");
                continue;
            }
            ptr_vec_push(&m->arena, sec == SEC_ROUTERS ? &m->routers : &m->tcp_routers, r);
            break;
        }
        case SEC_SERVICES: {
            struct model_service *s = arena_alloc(&m->arena, sizeof(*s));
            s->name = dup_name;
            s->origin = origin;
            if (tree_decode_fields(c, s, v, service_fields, kind) != 0)
                continue;
            int kinds = (s->lb != NULL) + (s->mirroring != NULL) + (s->weighted != NULL) + (s->hrw != NULL) +
                        (s->failover != NULL) + (s->unsupported != NULL);
            if (kinds != 1) {
                tree_decode_fail(c, v, kinds ? "a service must have exactly one of loadBalancer, mirroring, weighted, failover or highestRandomWeight"
                                 : "a service needs loadBalancer, mirroring, weighted, failover or highestRandomWeight");
                continue;
            }
            ptr_vec_push(&m->arena, &m->services, s);
            break;
        }
        case SEC_MIDDLEWARES:
        case SEC_TCP_MIDDLEWARES: {
            struct model_middleware *mw = arena_alloc(&m->arena, sizeof(*mw));
            mw->name = dup_name;
            mw->origin = origin;
            if (decode_middleware(c, mw, v) != 0)
                continue;
            ptr_vec_push(&m->arena, sec == SEC_MIDDLEWARES ? &m->middlewares : &m->tcp_middlewares, mw);
            break;
        }
        case SEC_TRANSPORTS: {
            struct model_transport *t = arena_alloc(&m->arena, sizeof(*t));
            t->name = dup_name;
            t->origin = origin;
            if (tree_decode_fields(c, t, v, transport_fields, kind) != 0)
                continue;
            ptr_vec_push(&m->arena, &m->transports, t);
            break;
        }
        case SEC_TCP_TRANSPORTS: {
            struct model_tcp_transport *t = arena_alloc(&m->arena, sizeof(*t));
            t->name = dup_name;
            t->origin = origin;
            if (tree_decode_fields(c, t, v, tcp_transport_fields, kind) != 0)
                continue;
            ptr_vec_push(&m->arena, &m->tcp_transports, t);
            break;
        }
        case SEC_UDP_ROUTERS: {
            struct model_router *r = arena_alloc(&m->arena, sizeof(*r));
            r->name = dup_name;
            r->origin = origin;
            if (udp_known_keys(c, v, udp_router_keys, kind) != 0 || tree_decode_fields(c, r, v, udp_router_fields, kind) != 0)
                continue;
            ptr_vec_push(&m->arena, &m->udp_routers, r);
            break;
        }
        case SEC_UDP_SERVICES: {
            struct model_tcp_service *s = arena_alloc(&m->arena, sizeof(*s));
            s->name = dup_name;
            s->origin = origin;
            if (udp_known_keys(c, v, udp_service_keys, kind) != 0 || tree_decode_fields(c, s, v, udp_service_fields, kind) != 0)
                continue;
            if ((s->weighted != NULL) == (s->servers != NULL)) {
                tree_decode_fail(c, v, "a udp service must have exactly one of loadBalancer or weighted");
                continue;
            }
            ptr_vec_push(&m->arena, &m->udp_services, s);
            break;
        }
        case SEC_TCP_SERVICES: {
            struct model_tcp_service *s = arena_alloc(&m->arena, sizeof(*s));
            s->name = dup_name;
            s->origin = origin;
            if (tree_decode_fields(c, s, v, tcp_service_fields, kind) != 0)
                continue;
            if (s->weighted != NULL && s->servers != NULL) {
                tree_decode_fail(c, v, "a tcp service must have exactly one of loadBalancer or weighted");
                continue;
            }
            ptr_vec_push(&m->arena, &m->tcp_services, s);
            break;
        }
        }
    }
}

static int cert_file(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tls_cert *cert = obj;
    const char *s = NULL;
    if (tree_decode_string(c, v, &s) != 0)
        return -1;
    if (s && strstr(s, "-----BEGIN") != NULL)
        cert->cert_pem = s;
    else
        cert->cert_file = s;
    return 0;
}

static int key_file(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    struct model_tls_cert *cert = obj;
    const char *s = NULL;
    if (tree_decode_string(c, v, &s) != 0)
        return -1;
    if (s && strstr(s, "-----BEGIN") != NULL)
        cert->key_pem = s;
    else
        cert->key_file = s;
    return 0;
}

static const struct tree_field cert_fields[] = {{"certFile", cert_file}, {"keyFile", key_file}, {"stores", NULL}, {NULL, NULL}};

static void decode_certs(struct tree_decoder *c, const struct tree_node *seq)
{
    c->context = "tls certificate";
    if (seq->kind == TREE_NULL)
        return;
    if (seq->kind != TREE_SEQ) {
        tree_decode_fail(c, seq, "tls.certificates must be a list");
        return;
    }
    for (size_t i = 0; i < seq->n; i++) {
        struct model_tls_cert *cert = arena_alloc(&dc(c)->m->arena, sizeof(*cert));
        cert->origin = (struct model_origin){dc(c)->m->provider, origin_of(c, seq->items[i])};
        if (tree_decode_fields(c, cert, seq->items[i], cert_fields, "certificate") != 0)
            continue;
        if ((cert->cert_file == NULL && cert->cert_pem == NULL) || (cert->key_file == NULL && cert->key_pem == NULL)) {
            tree_decode_fail(c, seq->items[i], "certFile and keyFile are both required");
            continue;
        }
        ptr_vec_push(&dc(c)->m->arena, &dc(c)->m->certs, cert);
    }
}

/* ---- tls.options ---- */

TREE_FIELD_STRING(opt_min, struct model_tls_option, min_version)
TREE_FIELD_STRING(opt_max, struct model_tls_option, max_version)
TREE_FIELD_STRING(opt_auth_type, struct model_tls_option, client_auth_type)
TREE_FIELD_LIST(opt_ciphers, struct model_tls_option, cipher_suites)
TREE_FIELD_LIST(opt_curves, struct model_tls_option, curves)
TREE_FIELD_LIST(opt_alpn, struct model_tls_option, alpn)
TREE_FIELD_LIST(opt_ca_files, struct model_tls_option, client_ca_files)

static int opt_sni_strict(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_tls_option *)obj)->sni_strict);
}

static int opt_no_tickets(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(c, v, &((struct model_tls_option *)obj)->disable_session_tickets);
}

/* accepted for compatibility: Go ignores it since 1.18, and so does Gantry */
static int opt_ignored(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return 0;
}

static const struct tree_field client_auth_fields[] = {{"caFiles", opt_ca_files}, {"clientAuthType", opt_auth_type}, {NULL, NULL}};

static int opt_client_auth(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(c, obj, v, client_auth_fields, "clientAuth");
}

static const struct tree_field tls_option_fields[] = {{"minVersion", opt_min},
                                                 {"maxVersion", opt_max},
                                                 {"cipherSuites", opt_ciphers},
                                                 {"curvePreferences", opt_curves},
                                                 {"clientAuth", opt_client_auth},
                                                 {"sniStrict", opt_sni_strict},
                                                 {"alpnProtocols", opt_alpn},
                                                 {"disableSessionTickets", opt_no_tickets},
                                                 {"preferServerCipherSuites", opt_ignored},
                                                 {NULL, NULL}};

static void decode_tls_options(struct tree_decoder *c, const struct tree_node *map)
{
    if (map->kind == TREE_NULL)
        return;
    if (map->kind != TREE_MAP) {
        c->context = "tls.options";
        tree_decode_fail(c, map, "expected a mapping of names to TLS options");
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        c->context = arena_printf(&dc(c)->rep->arena, "tls option '%s'", map->keys[i]);
        struct model_tls_option *o = arena_alloc(&dc(c)->m->arena, sizeof(*o));
        o->name = arena_strdup(&dc(c)->m->arena, map->keys[i]);
        o->origin = (struct model_origin){dc(c)->m->provider, origin_of(c, map->items[i])};
        if (tree_decode_fields(c, o, map->items[i], tls_option_fields, "tls option") != 0)
            continue;
        ptr_vec_push(&dc(c)->m->arena, &dc(c)->m->tls_options, o);
    }
}

static int generated_resolver(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_string(c, v, &((struct model_default_generated *)obj)->resolver);
}

static int generated_domain(struct tree_decoder *c, void *obj, const struct tree_node *v)
{
    return tree_decode_fields(c, &((struct model_default_generated *)obj)->domain, v, tls_domain_fields, "domain");
}

static const struct tree_field generated_fields[] = {
    {"resolver", generated_resolver}, {"domain", generated_domain}, {NULL, NULL}};

/* tls.stores.default.defaultGeneratedCert: resolver and domain.main are required */
static void decode_default_generated(struct tree_decoder *c, const struct tree_node *v)
{
    c->context = "tls.stores.default.defaultGeneratedCert";
    struct model_default_generated *g = arena_alloc(&dc(c)->m->arena, sizeof(*g));
    g->origin = (struct model_origin){dc(c)->m->provider, origin_of(c, v)};
    if (tree_decode_fields(c, g, v, generated_fields, "defaultGeneratedCert") != 0)
        return;
    if (g->resolver == NULL || *g->resolver == '\0' || g->domain.main == NULL || *g->domain.main == '\0') {
        tree_decode_fail(c, v, "resolver and domain.main are both required");
        return;
    }
    dc(c)->m->default_generated = g;
}

/* tls.stores.default: defaultCertificate, defaultGeneratedCert. Traefik
 * uses no other store and logs an error for one: here an error in the log
 * and the API (a problem of the provider), and the rest is served. */
static void decode_tls_stores(struct tree_decoder *c, struct decode_report *rep, const struct tree_node *map)
{
    if (map->kind != TREE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        const struct tree_node *store = map->items[i];
        if (strcmp(map->keys[i], "default") != 0 || store->kind != TREE_MAP) {
            char where[512];
            ptr_vec_push(&dc(c)->m->arena, &dc(c)->m->problems,
                         arena_printf(&dc(c)->m->arena, "%s: tls.stores.%s: only the TLS store named 'default' is supported; "
                                                        "this store is ignored",
                                      tree_where(store, where, sizeof(where)), map->keys[i]));
            continue;
        }
        for (size_t j = 0; j < store->n; j++) {
            if (strcasecmp(store->keys[j], "defaultCertificate") == 0) {
                c->context = "tls.stores.default.defaultCertificate";
                struct model_tls_cert *cert = arena_alloc(&dc(c)->m->arena, sizeof(*cert));
                cert->origin = (struct model_origin){dc(c)->m->provider, origin_of(c, store->items[j])};
                if (tree_decode_fields(c, cert, store->items[j], cert_fields, "defaultCertificate") != 0)
                    continue;
                if ((cert->cert_file == NULL && cert->cert_pem == NULL) || (cert->key_file == NULL && cert->key_pem == NULL)) {
                    tree_decode_fail(c, store->items[j], "certFile and keyFile are both required");
                    continue;
                }
                dc(c)->m->default_cert = cert;
            } else if (strcasecmp(store->keys[j], "defaultGeneratedCert") == 0) {
                decode_default_generated(c, store->items[j]);
            } else {
                decode_report_warn(rep, store->items[j], "tls.stores.default.%s is not supported by gantry yet (ignored)",
                                   store->keys[j]);
            }
        }
    }
}

void model_decode(struct model *m, const struct tree_node *root, struct decode_report *rep)
{
    struct dctx dctx = {
        .super = {.arena = &m->arena, .report = report_to, .context = "configuration", .keep_going = true}, .m = m, .rep = rep};
    struct tree_decoder *c = &dctx.super;
    if (root == NULL || root->kind == TREE_NULL)
        return;
    if (root->kind != TREE_MAP) {
        tree_decode_fail(c, root, "the configuration must be a mapping with http, tcp or tls sections");
        return;
    }
    for (size_t i = 0; i < root->n; i++) {
        const char *key = root->keys[i];
        const struct tree_node *sec = root->items[i];
        if (strcasecmp(key, "http") == 0 || strcasecmp(key, "tcp") == 0) {
            bool tcp = strcasecmp(key, "tcp") == 0;
            if (sec->kind == TREE_NULL)
                continue;
            if (sec->kind != TREE_MAP) {
                c->context = key;
                tree_decode_fail(c, sec, "'%s' must be a mapping", key);
                continue;
            }
            for (size_t j = 0; j < sec->n; j++) {
                const char *k = sec->keys[j];
                if (strcasecmp(k, "routers") == 0)
                    decode_named(c, sec->items[j], tcp ? SEC_TCP_ROUTERS : SEC_ROUTERS, tcp ? "tcp router" : "router");
                else if (strcasecmp(k, "services") == 0)
                    decode_named(c, sec->items[j], tcp ? SEC_TCP_SERVICES : SEC_SERVICES, tcp ? "tcp service" : "service");
                else if (strcasecmp(k, "middlewares") == 0)
                    decode_named(c, sec->items[j], tcp ? SEC_TCP_MIDDLEWARES : SEC_MIDDLEWARES,
                                 tcp ? "tcp middleware" : "middleware");
                else if (!tcp && strcasecmp(k, "serversTransports") == 0)
                    decode_named(c, sec->items[j], SEC_TRANSPORTS, "serversTransport");
                else if (strcasecmp(k, "serversTransports") == 0)
                    decode_named(c, sec->items[j], SEC_TCP_TRANSPORTS, "tcp serversTransport");
                else
                    decode_report_warn(rep, sec->items[j], "unknown key '%s.%s' (ignored)", key, k);
            }
        } else if (strcasecmp(key, "tls") == 0) {
            if (sec->kind != TREE_MAP)
                continue;
            for (size_t j = 0; j < sec->n; j++) {
                if (strcasecmp(sec->keys[j], "certificates") == 0)
                    decode_certs(c, sec->items[j]);
                else if (strcasecmp(sec->keys[j], "options") == 0)
                    decode_tls_options(c, sec->items[j]);
                else if (strcasecmp(sec->keys[j], "stores") == 0)
                    decode_tls_stores(c, rep, sec->items[j]);
                else
                    decode_report_warn(rep, sec->items[j], "unknown key 'tls.%s' (ignored)", sec->keys[j]);
            }
        } else if (strcasecmp(key, "udp") == 0) {
            if (sec->kind == TREE_NULL)
                continue;
            if (sec->kind != TREE_MAP) {
                c->context = key;
                tree_decode_fail(c, sec, "'udp' must be a mapping");
                continue;
            }
            for (size_t j = 0; j < sec->n; j++) {
                const char *k = sec->keys[j];
                if (strcasecmp(k, "routers") == 0)
                    decode_named(c, sec->items[j], SEC_UDP_ROUTERS, "udp router");
                else if (strcasecmp(k, "services") == 0)
                    decode_named(c, sec->items[j], SEC_UDP_SERVICES, "udp service");
                else
                    decode_report_warn(rep, sec->items[j], "unknown key 'udp.%s' (ignored)", k);
            }
        } else {
            decode_report_warn(rep, sec, "unknown top-level key '%s' (ignored)", key);
        }
    }
}
