/* Tests controller/aggregator.c's placing of service middlewares inside a
 * mirroring service and a failover with errors (struct table_route's cut,
 * mirror_chains, failover_fallback), through its public interface: a file
 * model in, the published table and router statuses out; and that a
 * compile carrying unchanged routers' units over from the last table (the
 * model objects handed over by reference) publishes the same table as a
 * fresh compile, whatever kind of change came in between. */
#include <stdlib.h>
#include <string.h>

#include "../../../admin/status.h"
#include "../../../controller/aggregator.h"
#include "../../../controller/watcher.h"
#include "../../../proxy/middleware/middleware.h"
#include "../../../proxy/publish.h"
#include "../../../proxy/registry.h"
#include "../../../proxy/table.h"
#include "model_yaml_fixture.h"
#include "test.h"

static void compile(const char *yaml)
{
    aggregator_submit(model_from_yaml("file", yaml));
    aggregator_flush();
    publish_reclaim();
    status_reclaim();
}

static const struct table_route *route(const char *name)
{
    const struct table *t = publish_current();
    for (uint32_t i = 0; t && i < t->n_routes; i++)
        if (strcmp(t->routes[i]->name, name) == 0)
            return t->routes[i];
    return NULL;
}

/* The router's error, or "" when it is served. */
static const char *router_error(const char *name, char *buf, size_t len)
{
    struct status_snapshot *s = status_acquire();
    snprintf(buf, len, "(no router)");
    for (size_t i = 0; s && i < s->n_routers; i++)
        if (strcmp(s->routers[i].name, name) == 0)
            snprintf(buf, len, "%s", s->routers[i].error ? s->routers[i].error : "");
    status_release(s);
    return buf;
}

static const char *mw_name(const struct table_route *r, uint32_t i)
{
    return r && i < r->n_middlewares ? r->middlewares[i]->name : "(none)";
}

#define SERVICES                                                                                                                   \
    "    sa: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}, middlewares: [ma]}\n"                                         \
    "    sb: {loadBalancer: {servers: [{url: \"http://127.0.0.1:2\"}]}, middlewares: [mb]}\n"                                         \
    "    sc: {loadBalancer: {servers: [{url: \"http://127.0.0.1:3\"}]}}\n"                                                            \
    "    sw: {loadBalancer: {servers: [{url: \"http://127.0.0.1:4\"}]}, middlewares: [waits]}\n"                                      \
    "    inner: {weighted: {services: [{name: sa, weight: 1}]}}\n"

#define MIDDLEWARES                                                                                                                \
    "  middlewares:\n"                                                                                                             \
    "    mr: {headers: {customRequestHeaders: {X-R: r}}}\n"                                                                         \
    "    ma: {headers: {customRequestHeaders: {X-A: a}}}\n"                                                                         \
    "    mb: {addPrefix: {prefix: /b}}\n"                                                                                           \
    "    waits: {forwardAuth: {address: \"http://127.0.0.1:9/auth\"}}\n"

static void mirroring(void)
{
    compile("http:\n  routers:\n"
            "    main-and-mirror: {rule: \"Host(`a`)\", service: m1, middlewares: [mr]}\n"
            "    mirror-only: {rule: \"Host(`b`)\", service: m2}\n"
            "    plain: {rule: \"Host(`c`)\", service: m3}\n"
            "    waiting: {rule: \"Host(`d`)\", service: m4}\n"
            "    branch: {rule: \"Host(`e`)\", service: split}\n"
            "    wrapped: {rule: \"Host(`f`)\", service: m5}\n" MIDDLEWARES "  services:\n" SERVICES
            "    m1: {mirroring: {service: sa, mirrors: [{name: sc, percent: 100}, {name: sb, percent: 50}]}}\n"
            "    m2: {mirroring: {service: sc, mirrors: [{name: sb, percent: 100}]}}\n"
            "    m3: {mirroring: {service: sc, mirrors: [{name: sc, percent: 100}]}}\n"
            "    m4: {mirroring: {service: sc, mirrors: [{name: sw, percent: 100}]}}\n"
            "    split: {weighted: {services: [{name: m1, weight: 1}]}}\n"
            "    m5: {mirroring: {service: wa, mirrors: [{name: wb, percent: 100}]}}\n"
            "    wa: {weighted: {services: [{name: sc, weight: 1}]}, middlewares: [ma]}\n"
            "    wb: {weighted: {services: [{name: sc, weight: 1}]}, middlewares: [mb]}\n");
    char buf[512];
    /* the router's chain, cut before the main's; the second mirror's chain */
    const struct table_route *r = route("main-and-mirror@file");
    CHECK(r != NULL && r->n_middlewares == 2 && r->cut != NULL && r->mirror_chains != NULL);
    CHECK_STR(mw_name(r, 0), "mr@file");
    CHECK_STR(mw_name(r, 1), "ma@file");
    CHECK(r && r->cut && r->cut->n_middlewares == 1 && r->cut->cut == NULL && r->cut->service == r->service);
    CHECK(r && r->mirror_chains && r->mirror_chains[0] == NULL && r->mirror_chains[1] != NULL);
    const struct table_route *mc = r && r->mirror_chains ? r->mirror_chains[1] : NULL;
    CHECK(mc && mc->n_middlewares == 1 && mc->service == r->service->mirrors[1].svc && mc->stats == r->stats);
    CHECK_STR(mw_name(mc, 0), "mb@file");
    CHECK(r && r->failover_fallback == NULL);
    /* a mirror's own only: no cut, the copies are sent on the way down */
    r = route("mirror-only@file");
    CHECK(r && r->n_middlewares == 0 && r->cut == NULL && r->mirror_chains && r->mirror_chains[0]);
    /* nothing below has middlewares: nothing extra */
    r = route("plain@file");
    CHECK(r && r->cut == NULL && r->mirror_chains == NULL);
    /* a copy cannot wait */
    CHECK(route("waiting@file") == NULL);
    CHECK_CONTAINS(router_error("waiting@file", buf, sizeof(buf)), "sw@file");
    CHECK_CONTAINS(router_error("waiting@file", buf, sizeof(buf)), "waits");
    /* a weighted child that mirrors: its branch carries the parts */
    r = route("branch@file");
    CHECK(r && r->n_branches == 1 && r->cut == NULL);
    const struct table_route *br = r && r->n_branches ? r->branches[0] : NULL;
    CHECK(br && br->cut && br->n_middlewares == 1 && br->mirror_chains && br->mirror_chains[1]);
    CHECK_STR(mw_name(br, 0), "ma@file");
    /* main and mirror through weighted services of one child (Kubernetes' wrapped references): their load
     * balancer, their middlewares */
    r = route("wrapped@file");
    CHECK(r && r->cut && r->n_middlewares == 1 && r->mirror_chains && r->mirror_chains[0]);
    CHECK_STR(mw_name(r, 0), "ma@file");
    CHECK(r && r->service->main && strcmp(r->service->main->name, "sc@file") == 0 &&
          strcmp(r->service->mirrors[0].svc->name, "sc@file") == 0);
    CHECK_STR(mw_name(r && r->mirror_chains ? r->mirror_chains[0] : NULL, 0), "mb@file");
}

static void failover_with_errors(void)
{
    compile("http:\n  routers:\n"
            "    fo: {rule: \"Host(`a`)\", service: fo, middlewares: [mr]}\n"
            "    fallback-only: {rule: \"Host(`b`)\", service: fo2}\n"
            "    no-errors: {rule: \"Host(`c`)\", service: fo3}\n"
            "    deeper: {rule: \"Host(`d`)\", service: fo4}\n"
            "    waiting: {rule: \"Host(`e`)\", service: fo5}\n" MIDDLEWARES "  services:\n" SERVICES
            "    fo: {failover: {service: sa, fallback: sb, errors: {status: [\"500-599\"]}}}\n"
            "    fo2: {failover: {service: sc, fallback: sb, errors: {status: [\"500\"]}}}\n"
            "    fo3: {failover: {service: sa, fallback: sb}}\n"
            "    fo4: {failover: {service: inner, fallback: sc, errors: {status: [\"500\"]}}}\n"
            "    fo5: {failover: {service: sc, fallback: sw, errors: {status: [\"500\"]}}}\n");
    char buf[512];
    const struct table_route *r = route("fo@file");
    CHECK(r && r->n_middlewares == 2 && r->cut && r->cut->n_middlewares == 1 && r->failover_fallback);
    CHECK_STR(mw_name(r, 1), "ma@file");
    const struct table_route *fb = r ? r->failover_fallback : NULL;
    CHECK(fb && fb->failover_fallback == fb && fb->service == r->service && fb->n_middlewares == 2 && fb->cut == NULL);
    CHECK_STR(mw_name(fb, 0), "mr@file");
    CHECK_STR(mw_name(fb, 1), "mb@file");
    r = route("fallback-only@file");
    CHECK(r && r->n_middlewares == 0 && r->cut && r->cut->n_middlewares == 0 && r->failover_fallback &&
          r->failover_fallback->n_middlewares == 1);
    /* without errors: branches, as before */
    r = route("no-errors@file");
    CHECK(r && r->n_branches == 2 && r->failover_fallback == NULL && r->cut == NULL);
    /* below a failover's main: refused, naming the service */
    CHECK(route("deeper@file") == NULL);
    CHECK_CONTAINS(router_error("deeper@file", buf, sizeof(buf)), "sa@file");
    CHECK(route("waiting@file") == NULL);
    CHECK_CONTAINS(router_error("waiting@file", buf, sizeof(buf)), "waits");
}

/* ---- units carried over == fresh compile ---- */

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The published table and router statuses as text: routes in their order
 * with everything a lookup reads, the host index, the snapshot's names. */
static char *dump_current(void)
{
    const struct table *t = publish_current();
    char *lines[4096];
    size_t n = 0;
    char buf[2048];
    for (uint32_t i = 0; t && i < t->n_routes && n < 4000; i++) {
        const struct table_route *r = t->routes[i];
        int len = snprintf(buf, sizeof(buf), "route %u %s rule=%s prio=%lld eps=%llx tls=%d opt=%llu svc=%s mws=", r->rank, r->name,
                           r->rule_text, (long long)r->priority, (unsigned long long)r->entrypoints, r->tls,
                           (unsigned long long)r->tls_option_id, r->service ? r->service->name : "-");
        for (uint32_t j = 0; j < r->n_middlewares && len < 1900; j++)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, "%s,", r->middlewares[j]->name);
        lines[n++] = strdup(buf);
    }
    const struct table_host_map *maps[] = {t ? &t->exact : NULL, t ? &t->wildcard : NULL};
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; maps[k] && maps[k]->slots && i <= maps[k]->mask && n < 4000; i++) {
            const struct table_host_slot *sl = &maps[k]->slots[i];
            if (sl->key == NULL)
                continue;
            const struct table_route_list *l = sl->value;
            int len = snprintf(buf, sizeof(buf), "host%d %.*s:", k, (int)sl->len, sl->key);
            for (uint32_t j = 0; j < l->n && len < 1900; j++)
                len += snprintf(buf + len, sizeof(buf) - (size_t)len, " %s", l->items[j]->name);
            lines[n++] = strdup(buf);
        }
    for (uint32_t j = 0; t && j < t->fallback.n && n < 4000; j++) {
        snprintf(buf, sizeof(buf), "fallback %u %s", j, t->fallback.items[j]->name);
        lines[n++] = strdup(buf);
    }
    struct status_snapshot *s = status_acquire();
    for (size_t i = 0; s && i < s->n_routers && n < 4000; i++) {
        const struct status_router *r = &s->routers[i];
        snprintf(buf, sizeof(buf), "status %s svc=%s prio=%lld err=%s", r->name, r->service ? r->service : "-",
                 (long long)r->priority, r->error ? r->error : "");
        lines[n++] = strdup(buf);
    }
    for (size_t i = 0; s && i < s->n_services && n < 4000; i++) {
        snprintf(buf, sizeof(buf), "service %s err=%s", s->services[i].name, s->services[i].error ? s->services[i].error : "");
        lines[n++] = strdup(buf);
    }
    status_release(s);
    qsort(lines, n, sizeof(char *), str_cmp); /* the host map's slot order is not the table's */
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(lines[i]) + 1;
    char *out = calloc(1, total);
    for (size_t i = 0; i < n; i++) {
        strcat(out, lines[i]);
        strcat(out, "\n");
        free(lines[i]);
    }
    return out;
}

static const struct aggregator_options *two_eps(void)
{
    static const char *eps[] = {"web", "websecure"};
    static struct aggregator_options o = {.window_ms = 0, .n_workers = 2, .entrypoints = eps, .n_entrypoints = 2};
    return &o;
}

/* <yaml>'s model with every router and service that <prev> has under the
 * same name and definition handed over by reference (as providers do),
 * so that the aggregator may carry them over. */
static struct model *sharing(const char *provider, const char *yaml, const struct model *prev)
{
    struct model *m = model_from_yaml(provider, yaml);
    struct model *scratch = model_from_yaml(provider, yaml); /* definitions to compare by digest of one object */
    for (size_t i = 0; prev && i < m->routers.len; i++) {
        struct model_router *r = m->routers.items[i];
        struct model_router *old = model_find_router(prev, r->name);
        if (old != NULL && strcmp(old->rule, r->rule) == 0 && old->priority == r->priority &&
            (old->service == NULL) == (r->service == NULL) && (!r->service || strcmp(old->service, r->service) == 0) &&
            old->n_entrypoints == r->n_entrypoints && (old->tls == NULL) == (r->tls == NULL) &&
            old->n_middlewares == r->n_middlewares) {
            bool same = true;
            for (size_t j = 0; j < r->n_entrypoints; j++)
                same &= strcmp(old->entrypoints[j], r->entrypoints[j]) == 0;
            for (size_t j = 0; j < r->n_middlewares; j++)
                same &= strcmp(old->middlewares[j], r->middlewares[j]) == 0;
            if (same && (r->tls == NULL || ((old->tls->options == NULL) == (r->tls->options == NULL) &&
                                            (!r->tls->options || strcmp(old->tls->options, r->tls->options) == 0))))
                m->routers.items[i] = old;
        }
    }
    for (size_t i = 0; prev && i < m->services.len; i++) {
        struct model_service *s = m->services.items[i];
        struct model_service *old = model_find_service(prev, s->name);
        if (old && old->lb && s->lb && old->lb->n_servers == s->lb->n_servers && s->lb->n_servers == 1 &&
            strcmp(old->lb->servers[0].url, s->lb->servers[0].url) == 0 && !s->n_middlewares && !old->n_middlewares)
            m->services.items[i] = old;
    }
    model_free(scratch);
    return m;
}

#define UNIT_BASE                                                                                                                  \
    "http:\n"                                                                                                                      \
    "  services:\n"                                                                                                                \
    "    s1: {loadBalancer: {servers: [{url: \"http://127.0.0.1:1\"}]}}\n"                                                         \
    "    s2: {loadBalancer: {servers: [{url: \"http://127.0.0.1:2\"}]}}\n"                                                         \
    "  middlewares:\n"                                                                                                             \
    "    m1: {headers: {customRequestHeaders: {X-A: a}}}\n"                                                                         \
    "    m2: {addPrefix: {prefix: /p}}\n"                                                                                           \
    "  routers:\n"                                                                                                                 \
    "    other: {rule: \"Host(`o.test`) || Host(`*.o.test`)\", service: s2}\n"                                                     \
    "    any: {rule: \"PathPrefix(`/`)\", service: s2, priority: 1}\n"

/* One router "r" in each variant (the change), next to two that stay. */
static const char *const unit_variants[] = {
    UNIT_BASE "    r: {rule: \"Host(`a.test`)\", service: s1, middlewares: [m1]}\n",
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s1, middlewares: [m1]}\n", /* rule */
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s1, middlewares: [m1], priority: 99}\n", /* priority */
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s2, middlewares: [m1], priority: 99}\n", /* service */
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s2, middlewares: [m2], priority: 99}\n", /* middleware */
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s2, middlewares: [m2], entryPoints: [websecure]}\n",
    UNIT_BASE "    r: {rule: \"Host(`b.test`) && PathPrefix(`/x`)\", service: s2, entryPoints: [websecure], tls: {}}\n", /* TLS */
    UNIT_BASE "    r: {rule: \"Host(`b.test`)\", service: gone}\n",                  /* a service that does not exist */
    UNIT_BASE "    r: {rule: \"Host(`b.test`) &&\", service: s1}\n",                /* a refused rule */
    UNIT_BASE "    r: {rule: \"Host(`a.test`)\", service: s1, middlewares: [m1]}\n", /* back to the first */
};

#define ONLY_Z "http:\n  services:\n    z: {loadBalancer: {servers: [{url: \"http://127.0.0.1:9\"}]}}\n"

/* Every variant compiled after the one before it with the unchanged
 * objects handed over, then each compiled alone from scratch: the same
 * table and statuses. The last step moves the routers to another provider
 * (the objects handed over from the file's model). */
static void units_equal_fresh(void)
{
    size_t n = sizeof(unit_variants) / sizeof(unit_variants[0]);
    char *carried[16];
    aggregator_shutdown();
    aggregator_init(two_eps());
    struct model *prev = NULL, *kept[16]; /* the objects handed over live in the model that made them, as in a provider's cache */
    for (size_t v = 0; v <= n; v++) {
        struct model *m = v < n ? sharing("file", unit_variants[v], prev) : sharing("other", unit_variants[0], prev);
        if (v == n)
            aggregator_submit(model_from_yaml("file", ONLY_Z)); /* the file's routers gone */
        prev = kept[v] = model_ref(m); /* its objects are handed to the next variant's model */
        aggregator_submit(m);
        aggregator_flush();
        publish_reclaim();
        status_reclaim();
        carried[v] = dump_current();
    }
    CHECK(strstr(carried[n], "route 0 r@other") != NULL || strstr(carried[n], " r@other ") != NULL);
    CHECK(strstr(carried[n], "@file rule") == NULL);
    for (size_t v = 0; v <= n; v++) {
        aggregator_shutdown();
        aggregator_init(two_eps());
        if (v == n) {
            aggregator_submit(model_from_yaml("file", ONLY_Z));
            aggregator_submit(model_from_yaml("other", unit_variants[0]));
        } else {
            aggregator_submit(model_from_yaml("file", unit_variants[v]));
        }
        aggregator_flush();
        publish_reclaim();
        status_reclaim();
        char *fresh = dump_current();
        CHECK_STR(carried[v], fresh);
        free(fresh);
        free(carried[v]);
    }
    for (size_t v = 0; v <= n; v++) /* after the aggregator let go of the models pointing into them */
        model_free(kept[v]);
}

int main(void)
{
    registry_init(2);
    publish_init(0, NULL); /* no workers: superseded tables are freed at once */
    struct diag d;
    if (watcher_init(&d) != 0)
        return 1;
    const char *eps[] = {"web"};
    struct aggregator_options o = {.window_ms = 0, .n_workers = 2, .entrypoints = eps, .n_entrypoints = 1};
    aggregator_init(&o);
    mirroring();
    failover_with_errors();
    units_equal_fresh();
    aggregator_shutdown();
    publish_shutdown();
    return test_report("controller/aggregator");
}
