/* Tests controller/aggregator.c's placing of service middlewares inside a
 * mirroring service and a failover with errors (struct table_route's cut,
 * mirror_chains, failover_fallback), through its public interface: a file
 * model in, the published table and router statuses out. */
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
    aggregator_shutdown();
    publish_shutdown();
    return test_report("controller/aggregator");
}
