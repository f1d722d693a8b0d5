/*
 * Tree -> model decoder. Each struct of the dynamic configuration has a
 * table of fields (name matched case-insensitively, as Traefik does) with a
 * function that decodes the value into the object. An error in a field
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

#include "../common/hostport.h"

#define MAX_WEIGHT 1000000

struct dctx {
    struct model *m;
    struct decode_report *rep;
    const char *object; /* "router 'api'", for messages */
};

typedef int (*field_fn)(struct dctx *c, void *obj, const struct tree_node *v);

struct field {
    const char *name;
    field_fn fn; /* NULL: accepted but not supported (warning) */
};

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

void decode_report_error(struct decode_report *r, const struct tree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, &r->errors, at, fmt, ap);
    va_end(ap);
}

void decode_report_warn(struct decode_report *r, const struct tree_node *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, &r->warnings, at, fmt, ap);
    va_end(ap);
}

static int fail(struct dctx *c, const struct tree_node *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct dctx *c, const struct tree_node *at, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    decode_report_error(c->rep, at, "%s: %s", c->object, msg);
    return -1;
}

static int from_diag(struct dctx *c, const struct diag *d)
{
    ptr_vec_push(&c->rep->arena, &c->rep->errors, arena_printf(&c->rep->arena, "%s (%s)", d->msg, c->object));
    return -1;
}

static int decode_fields(struct dctx *c, void *obj, const struct tree_node *n, const struct field *fields, const char *what)
{
    if (n->kind == TREE_NULL)
        return 0;
    if (n->kind != TREE_MAP)
        return fail(c, n, "%s must be a mapping of keys", what);
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct field *f = fields;
        while (f->name != NULL && strcasecmp(f->name, n->keys[i]) != 0)
            f++;
        if (f->name == NULL) {
            decode_report_warn(c->rep, n->items[i], "%s: unknown key '%s' in %s (ignored)", c->object, n->keys[i], what);
            continue;
        }
        if (f->fn == NULL) {
            decode_report_warn(c->rep, n->items[i], "%s: key '%s' is not supported by gantry yet (ignored)", c->object,
                               n->keys[i]);
            continue;
        }
        if (f->fn(c, obj, n->items[i]) != 0)
            rc = -1; /* keep going to report every problem at once */
    }
    return rc;
}

/* ---- scalar helpers ---- */

static int get_string(struct dctx *c, const struct tree_node *v, const char **out)
{
    if (v->kind == TREE_NULL) {
        *out = NULL;
        return 0;
    }
    if (v->kind != TREE_SCALAR)
        return fail(c, v, "expected a string value");
    *out = arena_strdup(&c->m->arena, v->scalar);
    return 0;
}

static int get_bool(struct dctx *c, const struct tree_node *v, bool *out)
{
    struct diag d;
    return tree_to_bool(v, out, &d) == 0 ? 0 : from_diag(c, &d);
}

static int get_int(struct dctx *c, const struct tree_node *v, int64_t min, int64_t max, int64_t *out)
{
    struct diag d;
    return tree_to_int64(v, min, max, out, &d) == 0 ? 0 : from_diag(c, &d);
}

static int get_duration(struct dctx *c, const struct tree_node *v, uint64_t *out)
{
    struct diag d;
    return tree_to_duration_ms(v, out, &d) == 0 ? 0 : from_diag(c, &d);
}

/* A list of strings: a YAML sequence, or "a,b,c" as labels write it. */
static int get_string_list(struct dctx *c, const struct tree_node *v, const char ***out, size_t *n_out)
{
    struct ptr_vec vec = {0};
    if (v->kind == TREE_SEQ) {
        for (size_t i = 0; i < v->n; i++) {
            if (v->items[i]->kind != TREE_SCALAR)
                return fail(c, v->items[i], "expected a list of strings");
            ptr_vec_push(&c->m->arena, &vec, arena_strdup(&c->m->arena, v->items[i]->scalar));
        }
    } else if (v->kind == TREE_SCALAR) {
        const char *p = v->scalar;
        while (*p) {
            size_t len = strcspn(p, ",");
            const char *s = p, *e = p + len;
            while (s < e && isspace((unsigned char)*s))
                s++;
            while (e > s && isspace((unsigned char)e[-1]))
                e--;
            if (e > s)
                ptr_vec_push(&c->m->arena, &vec, arena_strndup(&c->m->arena, s, (size_t)(e - s)));
            p += len;
            if (*p == ',')
                p++;
        }
    } else if (v->kind != TREE_NULL) {
        return fail(c, v, "expected a list of strings");
    }
    *out = (const char **)vec.items;
    *n_out = vec.len;
    return 0;
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

static const char *origin_of(struct dctx *c, const struct tree_node *n)
{
    char where[512];
    return arena_strdup(&c->m->arena, tree_where(n, where, sizeof(where)));
}

/* ---- http.services ---- */

static int server_url(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_server *s = obj;
    struct server_url u;
    struct diag d;
    if (get_string(c, v, &s->url) != 0)
        return -1;
    if (server_url_parse(s->url ? s->url : "", false, &u, &d) != 0)
        return fail(c, v, "%s", d.msg);
    return 0;
}

static int server_weight(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t w;
    if (get_int(c, v, 0, MAX_WEIGHT, &w) != 0)
        return -1;
    ((struct model_server *)obj)->weight = (int)w;
    return 0;
}

static int server_preserve_path(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_server *)obj)->preserve_path);
}

static const struct field server_fields[] = {
    {"url", server_url}, {"weight", server_weight}, {"preservePath", server_preserve_path}, {NULL, NULL}};

static int lb_servers(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "servers must be a list");
    lb->servers = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(*lb->servers));
    int rc = 0;
    for (size_t i = 0; i < v->n; i++) {
        struct model_server *s = &lb->servers[lb->n_servers];
        s->weight = 1;
        if (decode_fields(c, s, v->items[i], server_fields, "server") != 0) {
            rc = -1;
            continue;
        }
        if (s->url == NULL) {
            rc = fail(c, v->items[i], "server without url");
            continue;
        }
        lb->n_servers++;
    }
    return rc;
}

static int lb_pass_host(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_lb *)obj)->pass_host_header);
}

static int lb_strategy(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    if (get_string(c, v, &lb->strategy) != 0)
        return -1;
    if (lb->strategy && strcasecmp(lb->strategy, "wrr") != 0 && strcasecmp(lb->strategy, "RoundRobin") != 0 &&
        strcasecmp(lb->strategy, "p2c") != 0 && strcasecmp(lb->strategy, "hrw") != 0 &&
        strcasecmp(lb->strategy, "leasttime") != 0) {
        decode_report_warn(c->rep, v, "%s: load-balancing strategy '%s' is not supported yet; using wrr", c->object,
                           lb->strategy);
        lb->strategy = "wrr";
    }
    return 0;
}

#define HC_STRING_FIELD(fname, member)                                                                                             \
    static int fname(struct dctx *c, void *obj, const struct tree_node *v)                                                         \
    {                                                                                                                              \
        return get_string(c, v, &((struct model_healthcheck *)obj)->member);                                                       \
    }
HC_STRING_FIELD(hc_path, path)
HC_STRING_FIELD(hc_scheme, scheme)
HC_STRING_FIELD(hc_hostname, hostname)
HC_STRING_FIELD(hc_method, method)

static int hc_port(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t p;
    if (get_int(c, v, 1, 65535, &p) != 0)
        return -1;
    ((struct model_healthcheck *)obj)->port = (int)p;
    return 0;
}

static int hc_status(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t s;
    if (get_int(c, v, 100, 599, &s) != 0)
        return -1;
    ((struct model_healthcheck *)obj)->status = (int)s;
    return 0;
}

static int hc_interval(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_duration(c, v, &((struct model_healthcheck *)obj)->interval_ms);
}

static int hc_unhealthy_interval(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_duration(c, v, &((struct model_healthcheck *)obj)->unhealthy_interval_ms);
}

static int hc_timeout(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_duration(c, v, &((struct model_healthcheck *)obj)->timeout_ms);
}

static int hc_headers(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_healthcheck *hc = obj;
    if (v->kind != TREE_MAP)
        return fail(c, v, "healthCheck.headers must be a mapping of header names to values");
    hc->header_names = arena_alloc(&c->m->arena, (v->n + 1) * sizeof(char *));
    hc->header_values = arena_alloc(&c->m->arena, (v->n + 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        const char *val = NULL;
        if (get_string(c, v->items[i], &val) != 0)
            return -1;
        hc->header_names[hc->n_headers] = arena_strdup(&c->m->arena, v->keys[i]);
        hc->header_values[hc->n_headers++] = val ? val : "";
    }
    return 0;
}

static int hc_mode(struct dctx *c, void *obj, const struct tree_node *v)
{
    const char *s = v->kind == TREE_SCALAR ? v->scalar : NULL;
    if (s == NULL || (strcasecmp(s, "http") != 0 && strcasecmp(s, "grpc") != 0))
        return fail(c, v, "healthCheck.mode must be http or grpc");
    ((struct model_healthcheck *)obj)->grpc = strcasecmp(s, "grpc") == 0;
    return 0;
}

static const struct field hc_fields[] = {
    {"path", hc_path},         {"scheme", hc_scheme},   {"hostname", hc_hostname},
    {"method", hc_method},     {"port", hc_port},       {"status", hc_status},
    {"interval", hc_interval}, {"timeout", hc_timeout}, {"unhealthyInterval", hc_unhealthy_interval},
    {"headers", hc_headers},   {"mode", hc_mode},          {"followRedirects", NULL},
    {NULL, NULL}};

static int lb_healthcheck(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    struct model_healthcheck *hc = arena_alloc(&c->m->arena, sizeof(*hc));
    hc->interval_ms = 30000;
    hc->timeout_ms = 5000;
    if (decode_fields(c, hc, v, hc_fields, "healthCheck") != 0)
        return -1;
    if (hc->grpc && hc->path == NULL)
        hc->path = "/"; /* gRPC checks call grpc.health.v1.Health/Check whatever the path */
    if (hc->path == NULL || hc->path[0] != '/')
        return fail(c, v, "healthCheck.path is required and must start with '/'");
    if (hc->interval_ms == 0)
        return fail(c, v, "healthCheck.interval must be positive");
    if (hc->unhealthy_interval_ms == 0)
        hc->unhealthy_interval_ms = hc->interval_ms;
    if (hc->timeout_ms == 0 || hc->timeout_ms > hc->interval_ms)
        hc->timeout_ms = hc->interval_ms < 5000 ? hc->interval_ms : 5000;
    lb->healthcheck = hc;
    return 0;
}

static int cookie_name(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_sticky *)obj)->name);
}

static int cookie_secure(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_sticky *)obj)->secure);
}

static int cookie_http_only(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_sticky *)obj)->http_only);
}

static int cookie_same_site(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_sticky *st = obj;
    if (get_string(c, v, &st->same_site) != 0)
        return -1;
    if (st->same_site && *st->same_site && strcasecmp(st->same_site, "none") != 0 && strcasecmp(st->same_site, "lax") != 0 &&
        strcasecmp(st->same_site, "strict") != 0)
        return fail(c, v, "sameSite must be none, lax or strict (got '%s')", st->same_site);
    return 0;
}

static int cookie_max_age(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_int(c, v, INT32_MIN, INT32_MAX, &((struct model_sticky *)obj)->max_age);
}

static int cookie_path(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_sticky *)obj)->path);
}

static int cookie_domain(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_sticky *)obj)->domain);
}

static const struct field cookie_fields[] = {{"name", cookie_name},       {"secure", cookie_secure}, {"httpOnly", cookie_http_only},
                                             {"sameSite", cookie_same_site}, {"maxAge", cookie_max_age}, {"path", cookie_path},
                                             {"domain", cookie_domain},   {NULL, NULL}};

static int sticky_cookie(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_sticky **out = obj;
    if (v->kind == TREE_SCALAR) { /* the label form: sticky.cookie=true */
        bool on;
        if (get_bool(c, v, &on) != 0)
            return -1;
        *out = on ? arena_alloc(&c->m->arena, sizeof(**out)) : NULL;
        return 0;
    }
    struct model_sticky *st = arena_alloc(&c->m->arena, sizeof(*st));
    if (decode_fields(c, st, v, cookie_fields, "sticky.cookie") != 0)
        return -1;
    *out = st;
    return 0;
}

static const struct field sticky_fields[] = {{"cookie", sticky_cookie}, {NULL, NULL}};

static int decode_sticky(struct dctx *c, struct model_sticky **out, const struct tree_node *v)
{
    return decode_fields(c, out, v, sticky_fields, "sticky");
}

static int lb_sticky(struct dctx *c, void *obj, const struct tree_node *v)
{
    return decode_sticky(c, &((struct model_lb *)obj)->sticky, v);
}

static int passive_window(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct diag d;
    if (tree_to_duration_ms(v, &((struct model_lb *)obj)->passive_window_ms, &d) != 0)
        return fail(c, v, "passiveHealthcheck.failureWindow: %s", d.msg);
    return 0;
}

static int passive_max(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t n;
    if (get_int(c, v, 1, 1000000, &n) != 0)
        return -1;
    ((struct model_lb *)obj)->passive_max_failed = (uint32_t)n;
    return 0;
}

static int lb_transport(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_lb *)obj)->servers_transport);
}

static const struct field passive_fields[] = {
    {"failureWindow", passive_window}, {"maxFailedAttempts", passive_max}, {NULL, NULL}};

static int lb_passive(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_lb *lb = obj;
    lb->passive_window_ms = 10000; /* Traefik's defaults: 10s, 1 */
    lb->passive_max_failed = 1;
    if (decode_fields(c, lb, v, passive_fields, "passiveHealthcheck") != 0)
        return -1;
    if (lb->passive_window_ms == 0)
        return fail(c, v, "passiveHealthcheck.failureWindow must be positive");
    return 0;
}

static const struct field lb_fields[] = {{"servers", lb_servers},
                                         {"passHostHeader", lb_pass_host},
                                         {"strategy", lb_strategy},
                                         {"healthCheck", lb_healthcheck},
                                         {"sticky", lb_sticky},
                                         {"serversTransport", lb_transport},
                                         {"responseForwarding", NULL},
                                         {"passiveHealthCheck", lb_passive},
                                         {NULL, NULL}};

static int mirroring_service(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_mirroring *)obj)->service);
}

static int mirroring_body(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_mirroring *)obj)->mirror_body);
}

static int mirroring_max_body(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_int(c, v, -1, INT64_MAX, &((struct model_mirroring *)obj)->max_body_size);
}

static int mirror_name(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_mirror *)obj)->name);
}

static int mirror_percent(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t p;
    if (get_int(c, v, 0, 100, &p) != 0)
        return -1;
    ((struct model_mirror *)obj)->percent = (int)p;
    return 0;
}

static const struct field mirror_fields[] = {{"name", mirror_name}, {"percent", mirror_percent}, {NULL, NULL}};

static int mirroring_mirrors(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_mirroring *mi = obj;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "mirrors must be a list");
    mi->mirrors = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(*mi->mirrors));
    for (size_t i = 0; i < v->n; i++) {
        struct model_mirror *mr = &mi->mirrors[mi->n_mirrors];
        if (decode_fields(c, mr, v->items[i], mirror_fields, "mirror") != 0)
            return -1;
        if (mr->name == NULL)
            return fail(c, v->items[i], "mirror without name");
        mi->n_mirrors++;
    }
    return 0;
}

static const struct field mirroring_fields[] = {{"service", mirroring_service},
                                                {"mirrors", mirroring_mirrors},
                                                {"mirrorBody", mirroring_body},
                                                {"maxBodySize", mirroring_max_body},
                                                {"healthCheck", NULL},
                                                {NULL, NULL}};

static int weighted_ref_name(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_weighted_ref *)obj)->name);
}

static int weighted_ref_weight(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t w;
    if (get_int(c, v, 0, MAX_WEIGHT, &w) != 0)
        return -1;
    ((struct model_weighted_ref *)obj)->weight = (int)w;
    return 0;
}

static const struct field weighted_ref_fields[] = {{"name", weighted_ref_name}, {"weight", weighted_ref_weight}, {NULL, NULL}};

static int weighted_services(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_weighted *w = obj;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "weighted.services must be a list");
    w->services = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(*w->services));
    for (size_t i = 0; i < v->n; i++) {
        struct model_weighted_ref *r = &w->services[w->n_services];
        r->weight = 1;
        if (decode_fields(c, r, v->items[i], weighted_ref_fields, "weighted service") != 0)
            return -1;
        if (r->name == NULL)
            return fail(c, v->items[i], "weighted service without name");
        w->n_services++;
    }
    return 0;
}

static int weighted_sticky(struct dctx *c, void *obj, const struct tree_node *v)
{
    return decode_sticky(c, &((struct model_weighted *)obj)->sticky, v);
}

static int weighted_healthcheck(struct dctx *c, void *obj, const struct tree_node *v)
{
    ((struct model_weighted *)obj)->healthcheck = true;
    return 0;
}

static const struct field weighted_fields[] = {
    {"services", weighted_services}, {"sticky", weighted_sticky}, {"healthCheck", weighted_healthcheck}, {NULL, NULL}};

static int service_lb(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_lb *lb = arena_alloc(&c->m->arena, sizeof(*lb));
    lb->pass_host_header = true;
    if (decode_fields(c, lb, v, lb_fields, "loadBalancer") != 0)
        return -1;
    s->lb = lb;
    return 0;
}

static int service_mirroring(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_mirroring *mi = arena_alloc(&c->m->arena, sizeof(*mi));
    mi->mirror_body = true;
    mi->max_body_size = -1;
    if (decode_fields(c, mi, v, mirroring_fields, "mirroring") != 0)
        return -1;
    if (mi->service == NULL)
        return fail(c, v, "mirroring.service is required");
    s->mirroring = mi;
    return 0;
}

static int service_weighted(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_weighted *w = arena_alloc(&c->m->arena, sizeof(*w));
    if (decode_fields(c, w, v, weighted_fields, "weighted") != 0)
        return -1;
    s->weighted = w;
    return 0;
}

static int service_middlewares(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    return get_string_list(c, v, &s->middlewares, &s->n_middlewares);
}

static int failover_service(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_failover *)obj)->service);
}

static int failover_fallback(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_failover *)obj)->fallback);
}

/* healthCheck: {} on a failover only propagates its status upwards (Traefik);
 * gantry always looks down the tree, so it is accepted as is. */
static int failover_healthcheck(struct dctx *c, void *obj, const struct tree_node *v)
{
    return 0;
}

static const struct field failover_fields[] = {
    {"service", failover_service}, {"fallback", failover_fallback}, {"healthCheck", failover_healthcheck}, {NULL, NULL}};

static int service_failover(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_failover *f = arena_alloc(&c->m->arena, sizeof(*f));
    if (decode_fields(c, f, v, failover_fields, "failover") != 0)
        return -1;
    if (f->service == NULL || f->fallback == NULL)
        return fail(c, v, "failover needs service and fallback");
    s->failover = f;
    return 0;
}

static int service_hrw(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_service *s = obj;
    struct model_weighted *w = arena_alloc(&c->m->arena, sizeof(*w));
    if (decode_fields(c, w, v, weighted_fields, "highestRandomWeight") != 0)
        return -1;
    if (w->sticky != NULL)
        return fail(c, v, "highestRandomWeight has no sticky option");
    s->hrw = w;
    return 0;
}

static const struct field service_fields[] = {{"loadBalancer", service_lb},
                                              {"mirroring", service_mirroring},
                                              {"weighted", service_weighted},
                                              {"failover", service_failover},
                                              {"highestRandomWeight", service_hrw},
                                              {"middlewares", service_middlewares},
                                              {NULL, NULL}};

/* ---- http.routers (also tcp.routers) ---- */

static int router_rule(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_router *)obj)->rule);
}

static int router_service(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_router *)obj)->service);
}

static int router_entrypoints(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    return get_string_list(c, v, &r->entrypoints, &r->n_entrypoints);
}

static int router_middlewares(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    return get_string_list(c, v, &r->middlewares, &r->n_middlewares);
}

static int router_priority(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_int(c, v, INT32_MIN, INT64_MAX - 1000, &((struct model_router *)obj)->priority);
}

static int tls_cert_resolver(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_router_tls *t = obj;
    return get_string(c, v, &t->cert_resolver); /* resolved by the ACME manager */
}

static int tls_options(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_router_tls *)obj)->options);
}

static int tls_passthrough(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_router_tls *)obj)->passthrough);
}

static int domain_main(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_tls_domain *)obj)->main);
}

static int domain_sans(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_tls_domain *d = obj;
    return get_string_list(c, v, &d->sans, &d->n_sans);
}

static const struct field tls_domain_fields[] = {{"main", domain_main}, {"sans", domain_sans}, {NULL, NULL}};

/* tls.domains: the certificates an ACME resolver orders for this router
 * instead of the names of its Host rules (Traefik's semantics). */
static int tls_domains(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_router_tls *t = obj;
    if (v->kind == TREE_NULL)
        return 0;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "tls.domains must be a list");
    t->domains = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(*t->domains));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tls_domain *d = &t->domains[t->n_domains];
        if (decode_fields(c, d, v->items[i], tls_domain_fields, "domain") != 0)
            return -1;
        if (d->main == NULL && d->n_sans == 0)
            return fail(c, v->items[i], "tls.domains entry without main or sans");
        t->n_domains++;
    }
    return 0;
}

static const struct field router_tls_fields[] = {{"certResolver", tls_cert_resolver},
                                                 {"options", tls_options},
                                                 {"passthrough", tls_passthrough},
                                                 {"domains", tls_domains},
                                                 {NULL, NULL}};

static int router_tls(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_router *r = obj;
    if (v->kind == TREE_SCALAR) {
        bool on;
        if (get_bool(c, v, &on) != 0)
            return -1;
        r->tls = on ? arena_alloc(&c->m->arena, sizeof(*r->tls)) : NULL;
        return 0;
    }
    struct model_router_tls *t = arena_alloc(&c->m->arena, sizeof(*t));
    if (decode_fields(c, t, v, router_tls_fields, "tls") != 0)
        return -1;
    r->tls = t;
    return 0;
}

static const struct field router_fields[] = {{"rule", router_rule},
                                             {"service", router_service},
                                             {"entryPoints", router_entrypoints},
                                             {"middlewares", router_middlewares},
                                             {"priority", router_priority},
                                             {"tls", router_tls},
                                             {"ruleSyntax", NULL},
                                             {"observability", NULL},
                                             {NULL, NULL}};

/* ---- http.middlewares ---- */

static void flatten(struct dctx *c, struct model_middleware *mw, struct ptr_vec *keys, struct ptr_vec *vals, const char *prefix,
                    const struct tree_node *v)
{
    if (v->kind == TREE_MAP) {
        for (size_t i = 0; i < v->n; i++) {
            const char *k = *prefix ? arena_printf(&c->m->arena, "%s.%s", prefix, v->keys[i]) : v->keys[i];
            flatten(c, mw, keys, vals, k, v->items[i]);
        }
    } else if (v->kind == TREE_SEQ) {
        /* "name[i]" per item: a list item keeps its commas (a regex {1,3});
         * labels write lists comma-separated instead, and the middleware
         * option reader takes either form */
        for (size_t i = 0; i < v->n; i++)
            flatten(c, mw, keys, vals, arena_printf(&c->m->arena, "%s[%zu]", prefix, i), v->items[i]);
    } else {
        ptr_vec_push(&c->m->arena, keys, arena_strdup(&c->m->arena, prefix));
        ptr_vec_push(&c->m->arena, vals, arena_strdup(&c->m->arena, v->kind == TREE_SCALAR ? v->scalar : ""));
    }
}

static int decode_middleware(struct dctx *c, struct model_middleware *mw, const struct tree_node *v)
{
    if (v->kind != TREE_MAP || v->n != 1)
        return fail(c, v, "a middleware must have exactly one type key (stripPrefix, headers, ...)");
    /* The type is kept as written, known or not: the table builder refuses
     * the routers using a type gantry does not implement, and only those. */
    mw->type = arena_strdup(&c->m->arena, v->keys[0]);
    struct ptr_vec keys = {0}, vals = {0};
    flatten(c, mw, &keys, &vals, "", v->items[0]);
    mw->keys = (const char **)keys.items;
    mw->values = (const char **)vals.items;
    mw->n_options = keys.len;
    return 0;
}

/* ---- tcp.services ---- */

static int tcp_server_address(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_server *s = obj;
    if (get_string(c, v, &s->address) != 0)
        return -1;
    struct hostport hp;
    struct diag d;
    if (hostport_parse(s->address ? s->address : "", 0, &hp, &d) != 0)
        return fail(c, v, "%s", d.msg);
    return 0;
}

static const struct field tcp_server_fields[] = {{"address", tcp_server_address}, {"tls", NULL}, {NULL, NULL}};

static int tcp_lb_servers(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_tcp_service *s = obj;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "servers must be a list");
    s->servers = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(*s->servers));
    for (size_t i = 0; i < v->n; i++) {
        struct model_tcp_server *srv = &s->servers[s->n_servers];
        if (decode_fields(c, srv, v->items[i], tcp_server_fields, "server") != 0)
            return -1;
        if (srv->address == NULL)
            return fail(c, v->items[i], "server without address");
        s->n_servers++;
    }
    return 0;
}

static const struct field tcp_lb_fields[] = {{"servers", tcp_lb_servers},
                                             {"proxyProtocol", NULL},
                                             {"terminationDelay", NULL},
                                             {"serversTransport", NULL},
                                             {NULL, NULL}};

static int tcp_service_lb(struct dctx *c, void *obj, const struct tree_node *v)
{
    return decode_fields(c, obj, v, tcp_lb_fields, "loadBalancer");
}

static const struct field tcp_service_fields[] = {{"loadBalancer", tcp_service_lb}, {"weighted", NULL}, {NULL, NULL}};

/* ---- http.serversTransports ---- */

static int tr_server_name(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct model_transport *)obj)->server_name);
}

static int tr_insecure(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_transport *)obj)->insecure_skip_verify);
}

static int tr_root_cas(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_transport *t = obj;
    return get_string_list(c, v, &t->root_cas, &t->n_root_cas);
}

struct cert_pair {
    const char *cert, *key;
};

static int tr_cert_file(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct cert_pair *)obj)->cert);
}

static int tr_key_file(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_string(c, v, &((struct cert_pair *)obj)->key);
}

static const struct field tr_cert_fields[] = {{"certFile", tr_cert_file}, {"keyFile", tr_key_file}, {NULL, NULL}};

static int tr_certificates(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_transport *t = obj;
    if (v->kind != TREE_SEQ)
        return fail(c, v, "certificates must be a list of {certFile, keyFile}");
    t->cert_files = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(char *));
    t->key_files = arena_alloc(&c->m->arena, (v->n ? v->n : 1) * sizeof(char *));
    for (size_t i = 0; i < v->n; i++) {
        struct cert_pair p = {0};
        if (decode_fields(c, &p, v->items[i], tr_cert_fields, "certificate") != 0)
            return -1;
        if (p.cert == NULL || p.key == NULL)
            return fail(c, v->items[i], "certFile and keyFile are both required");
        t->cert_files[t->n_certs] = p.cert;
        t->key_files[t->n_certs++] = p.key;
    }
    return 0;
}

static int tr_max_idle(struct dctx *c, void *obj, const struct tree_node *v)
{
    int64_t n;
    if (get_int(c, v, 0, 1000000, &n) != 0)
        return -1;
    ((struct model_transport *)obj)->max_idle_conns_per_host = (uint32_t)n;
    return 0;
}

#define TR_DURATION(fn, member)                                                                                                    \
    static int fn(struct dctx *c, void *obj, const struct tree_node *v)                                                            \
    {                                                                                                                              \
        struct diag d;                                                                                                             \
        if (tree_to_duration_ms(v, &((struct model_transport *)obj)->member, &d) != 0)                                            \
            return fail(c, v, "%s", d.msg);                                                                                        \
        return 0;                                                                                                                  \
    }
TR_DURATION(tr_dial, dial_ms)
TR_DURATION(tr_header, response_header_ms)
TR_DURATION(tr_idle, idle_conn_ms)
TR_DURATION(tr_read, read_ms)

TR_DURATION(tr_read_idle, read_idle_ms)
TR_DURATION(tr_ping, ping_ms)

static int tr_disable_http2(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_transport *)obj)->disable_http2);
}

static const struct field tr_timeout_fields[] = {{"dialTimeout", tr_dial},           {"responseHeaderTimeout", tr_header},
                                                 {"idleConnTimeout", tr_idle},       {"readTimeout", tr_read},
                                                 {"readIdleTimeout", tr_read_idle},  {"pingTimeout", tr_ping},
                                                 {NULL, NULL}};

static int tr_timeouts(struct dctx *c, void *obj, const struct tree_node *v)
{
    return decode_fields(c, obj, v, tr_timeout_fields, "forwardingTimeouts");
}

static int tr_peer_cert_uri(struct dctx *c, void *obj, const struct tree_node *v)
{
    ((struct model_transport *)obj)->unsupported = "peerCertURI";
    return 0;
}

static int tr_spiffe(struct dctx *c, void *obj, const struct tree_node *v)
{
    ((struct model_transport *)obj)->unsupported = "spiffe";
    return 0;
}

static const struct field transport_fields[] = {{"serverName", tr_server_name},
                                                {"insecureSkipVerify", tr_insecure},
                                                {"rootCAs", tr_root_cas},
                                                {"certificates", tr_certificates},
                                                {"maxIdleConnsPerHost", tr_max_idle},
                                                {"forwardingTimeouts", tr_timeouts},
                                                {"disableHTTP2", tr_disable_http2},
                                                {"peerCertURI", tr_peer_cert_uri},
                                                {"spiffe", tr_spiffe},
                                                {NULL, NULL}};

/* ---- sections ---- */

enum section { SEC_ROUTERS, SEC_SERVICES, SEC_MIDDLEWARES, SEC_TCP_ROUTERS, SEC_TCP_SERVICES, SEC_TRANSPORTS, SEC_TCP_MIDDLEWARES };

static void decode_named(struct dctx *c, const struct tree_node *map, enum section sec, const char *kind)
{
    if (map->kind == TREE_NULL)
        return;
    if (map->kind != TREE_MAP) {
        c->object = kind;
        fail(c, map, "expected a mapping of names to %s definitions", kind);
        return;
    }
    struct model *m = c->m;
    for (size_t i = 0; i < map->n; i++) {
        const char *name = map->keys[i];
        const struct tree_node *v = map->items[i];
        c->object = arena_printf(&c->rep->arena, "%s '%s'", kind, name);
        if (!valid_name(name)) {
            fail(c, v, "invalid name (names may not be empty or contain '@')");
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
            if (decode_fields(c, r, v, router_fields, kind) != 0)
                continue;
            if (sec == SEC_ROUTERS && r->rule == NULL) {
                fail(c, v, "rule is required");
                continue;
            }
            ptr_vec_push(&m->arena, sec == SEC_ROUTERS ? &m->routers : &m->tcp_routers, r);
            break;
        }
        case SEC_SERVICES: {
            struct model_service *s = arena_alloc(&m->arena, sizeof(*s));
            s->name = dup_name;
            s->origin = origin;
            if (decode_fields(c, s, v, service_fields, kind) != 0)
                continue;
            int kinds = (s->lb != NULL) + (s->mirroring != NULL) + (s->weighted != NULL) + (s->hrw != NULL) +
                        (s->failover != NULL) + (s->unsupported != NULL);
            if (kinds != 1) {
                fail(c, v, kinds ? "a service must have exactly one of loadBalancer, mirroring, weighted, failover or highestRandomWeight"
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
            if (decode_fields(c, t, v, transport_fields, kind) != 0)
                continue;
            ptr_vec_push(&m->arena, &m->transports, t);
            break;
        }
        case SEC_TCP_SERVICES: {
            struct model_tcp_service *s = arena_alloc(&m->arena, sizeof(*s));
            s->name = dup_name;
            s->origin = origin;
            if (decode_fields(c, s, v, tcp_service_fields, kind) != 0)
                continue;
            ptr_vec_push(&m->arena, &m->tcp_services, s);
            break;
        }
        }
    }
}

static int cert_file(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_tls_cert *cert = obj;
    const char *s = NULL;
    if (get_string(c, v, &s) != 0)
        return -1;
    if (s && strstr(s, "-----BEGIN") != NULL)
        cert->cert_pem = s;
    else
        cert->cert_file = s;
    return 0;
}

static int key_file(struct dctx *c, void *obj, const struct tree_node *v)
{
    struct model_tls_cert *cert = obj;
    const char *s = NULL;
    if (get_string(c, v, &s) != 0)
        return -1;
    if (s && strstr(s, "-----BEGIN") != NULL)
        cert->key_pem = s;
    else
        cert->key_file = s;
    return 0;
}

static const struct field cert_fields[] = {{"certFile", cert_file}, {"keyFile", key_file}, {"stores", NULL}, {NULL, NULL}};

static void decode_certs(struct dctx *c, const struct tree_node *seq)
{
    c->object = "tls certificate";
    if (seq->kind == TREE_NULL)
        return;
    if (seq->kind != TREE_SEQ) {
        fail(c, seq, "tls.certificates must be a list");
        return;
    }
    for (size_t i = 0; i < seq->n; i++) {
        struct model_tls_cert *cert = arena_alloc(&c->m->arena, sizeof(*cert));
        cert->origin = (struct model_origin){c->m->provider, origin_of(c, seq->items[i])};
        if (decode_fields(c, cert, seq->items[i], cert_fields, "certificate") != 0)
            continue;
        if ((cert->cert_file == NULL && cert->cert_pem == NULL) || (cert->key_file == NULL && cert->key_pem == NULL)) {
            fail(c, seq->items[i], "certFile and keyFile are both required");
            continue;
        }
        ptr_vec_push(&c->m->arena, &c->m->certs, cert);
    }
}

/* ---- tls.options ---- */

#define OPT_STRING(fn, member)                                                                                                     \
    static int fn(struct dctx *c, void *obj, const struct tree_node *v)                                                            \
    {                                                                                                                              \
        return get_string(c, v, &((struct model_tls_option *)obj)->member);                                                       \
    }
#define OPT_LIST(fn, member)                                                                                                       \
    static int fn(struct dctx *c, void *obj, const struct tree_node *v)                                                            \
    {                                                                                                                              \
        struct model_tls_option *o = obj;                                                                                          \
        return get_string_list(c, v, &o->member, &o->n_##member);                                                                 \
    }
OPT_STRING(opt_min, min_version)
OPT_STRING(opt_max, max_version)
OPT_STRING(opt_auth_type, client_auth_type)
OPT_LIST(opt_ciphers, cipher_suites)
OPT_LIST(opt_curves, curves)
OPT_LIST(opt_alpn, alpn)
OPT_LIST(opt_ca_files, client_ca_files)

static int opt_sni_strict(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_tls_option *)obj)->sni_strict);
}

static int opt_no_tickets(struct dctx *c, void *obj, const struct tree_node *v)
{
    return get_bool(c, v, &((struct model_tls_option *)obj)->disable_session_tickets);
}

/* accepted for compatibility: Go ignores it since 1.18, and so does Gantry */
static int opt_ignored(struct dctx *c, void *obj, const struct tree_node *v)
{
    return 0;
}

static const struct field client_auth_fields[] = {{"caFiles", opt_ca_files}, {"clientAuthType", opt_auth_type}, {NULL, NULL}};

static int opt_client_auth(struct dctx *c, void *obj, const struct tree_node *v)
{
    return decode_fields(c, obj, v, client_auth_fields, "clientAuth");
}

static const struct field tls_option_fields[] = {{"minVersion", opt_min},
                                                 {"maxVersion", opt_max},
                                                 {"cipherSuites", opt_ciphers},
                                                 {"curvePreferences", opt_curves},
                                                 {"clientAuth", opt_client_auth},
                                                 {"sniStrict", opt_sni_strict},
                                                 {"alpnProtocols", opt_alpn},
                                                 {"disableSessionTickets", opt_no_tickets},
                                                 {"preferServerCipherSuites", opt_ignored},
                                                 {NULL, NULL}};

static void decode_tls_options(struct dctx *c, const struct tree_node *map)
{
    if (map->kind == TREE_NULL)
        return;
    if (map->kind != TREE_MAP) {
        c->object = "tls.options";
        fail(c, map, "expected a mapping of names to TLS options");
        return;
    }
    for (size_t i = 0; i < map->n; i++) {
        c->object = arena_printf(&c->rep->arena, "tls option '%s'", map->keys[i]);
        struct model_tls_option *o = arena_alloc(&c->m->arena, sizeof(*o));
        o->name = arena_strdup(&c->m->arena, map->keys[i]);
        o->origin = (struct model_origin){c->m->provider, origin_of(c, map->items[i])};
        if (decode_fields(c, o, map->items[i], tls_option_fields, "tls option") != 0)
            continue;
        ptr_vec_push(&c->m->arena, &c->m->tls_options, o);
    }
}

/* tls.stores.default.defaultCertificate; other stores and defaultGeneratedCert: warned */
static void decode_tls_stores(struct dctx *c, struct decode_report *rep, const struct tree_node *map)
{
    if (map->kind != TREE_MAP)
        return;
    for (size_t i = 0; i < map->n; i++) {
        const struct tree_node *store = map->items[i];
        if (strcmp(map->keys[i], "default") != 0 || store->kind != TREE_MAP) {
            decode_report_warn(rep, store, "tls.stores.%s: only the store named default is used (ignored)", map->keys[i]);
            continue;
        }
        for (size_t j = 0; j < store->n; j++) {
            if (strcasecmp(store->keys[j], "defaultCertificate") == 0) {
                c->object = "tls.stores.default.defaultCertificate";
                struct model_tls_cert *cert = arena_alloc(&c->m->arena, sizeof(*cert));
                cert->origin = (struct model_origin){c->m->provider, origin_of(c, store->items[j])};
                if (decode_fields(c, cert, store->items[j], cert_fields, "defaultCertificate") != 0)
                    continue;
                if ((cert->cert_file == NULL && cert->cert_pem == NULL) || (cert->key_file == NULL && cert->key_pem == NULL)) {
                    fail(c, store->items[j], "certFile and keyFile are both required");
                    continue;
                }
                c->m->default_cert = cert;
            } else {
                decode_report_warn(rep, store->items[j], "tls.stores.default.%s is not supported by gantry yet (ignored)",
                                   store->keys[j]);
            }
        }
    }
}

void model_decode(struct model *m, const struct tree_node *root, struct decode_report *rep)
{
    struct dctx c = {.m = m, .rep = rep, .object = "configuration"};
    if (root == NULL || root->kind == TREE_NULL)
        return;
    if (root->kind != TREE_MAP) {
        fail(&c, root, "the configuration must be a mapping with http, tcp or tls sections");
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
                c.object = key;
                fail(&c, sec, "'%s' must be a mapping", key);
                continue;
            }
            for (size_t j = 0; j < sec->n; j++) {
                const char *k = sec->keys[j];
                if (strcasecmp(k, "routers") == 0)
                    decode_named(&c, sec->items[j], tcp ? SEC_TCP_ROUTERS : SEC_ROUTERS, tcp ? "tcp router" : "router");
                else if (strcasecmp(k, "services") == 0)
                    decode_named(&c, sec->items[j], tcp ? SEC_TCP_SERVICES : SEC_SERVICES, tcp ? "tcp service" : "service");
                else if (strcasecmp(k, "middlewares") == 0)
                    decode_named(&c, sec->items[j], tcp ? SEC_TCP_MIDDLEWARES : SEC_MIDDLEWARES,
                                 tcp ? "tcp middleware" : "middleware");
                else if (!tcp && strcasecmp(k, "serversTransports") == 0)
                    decode_named(&c, sec->items[j], SEC_TRANSPORTS, "serversTransport");
                else if (strcasecmp(k, "serversTransports") == 0)
                    decode_report_warn(rep, sec->items[j], "%s.%s is not supported by gantry yet (ignored)", key, k);
                else
                    decode_report_warn(rep, sec->items[j], "unknown key '%s.%s' (ignored)", key, k);
            }
        } else if (strcasecmp(key, "tls") == 0) {
            if (sec->kind != TREE_MAP)
                continue;
            for (size_t j = 0; j < sec->n; j++) {
                if (strcasecmp(sec->keys[j], "certificates") == 0)
                    decode_certs(&c, sec->items[j]);
                else if (strcasecmp(sec->keys[j], "options") == 0)
                    decode_tls_options(&c, sec->items[j]);
                else if (strcasecmp(sec->keys[j], "stores") == 0)
                    decode_tls_stores(&c, rep, sec->items[j]);
                else
                    decode_report_warn(rep, sec->items[j], "unknown key 'tls.%s' (ignored)", sec->keys[j]);
            }
        } else if (strcasecmp(key, "udp") == 0) {
            decode_report_warn(rep, sec, "udp routing is not supported by gantry (ignored)");
        } else {
            decode_report_warn(rep, sec, "unknown top-level key '%s' (ignored)", key);
        }
    }
}
