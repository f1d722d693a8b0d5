/*
 * Kubernetes Gateway API provider: one list+watch (k8s_watch.c) per kind
 * and namespace (GatewayClasses and Namespaces cluster-wide), and after any
 * change the model is rebuilt from the caches (k8s_gateway.c) after
 * throttleDuration, so a burst of events costs one rebuild. The translation
 * is incremental: a route's translation is reused while the route and the
 * context (a fingerprint of the other kinds a route reads) are unchanged
 * (k8s_gateway_cache.c; see docs/benchmarks.md, bench/gateway_scale.py). Statuses are written by the
 * leader of a Lease only (k8s_lease.c), after each rebuild and every few
 * seconds, so that a write lost to a conflict is redone.
 */
#include "provider_kubernetes_gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../common/log.h"
#include "../../../admin/status.h"
#include "../../aggregator.h"
#include "k8s_compact.h"
#include "k8s_conn.h"
#include "k8s_gateway_status.h"
#include "k8s_lease.h"
#include "k8s_watch.h"
#include "../../problem_log.h"
#include "../../watcher.h"

#define REBUILD_DELAY_MS 2
#define STATUS_RESYNC_MS 5000
/* a rebuild that translated more routes than this was part of a burst */
#define BURST_ROUTES 16
/* statuses are computed at most this often: with thousands of routes they
 * cost as much as the routes themselves, and a burst of changes needs only
 * the last */
#define STATUS_INTERVAL_MS 1000

/* Indexed by enum k8s_gw_kind. */
static const struct {
    const char *name;
    const char *group_version;
    bool cluster, selected; /* cluster-scoped; labelSelector applies */
} kinds[K8S_GW_KINDS] = {
    {"gatewayclasses", "/apis/gateway.networking.k8s.io/v1", true, true},
    {"gateways", "/apis/gateway.networking.k8s.io/v1", false, true},
    {"httproutes", "/apis/gateway.networking.k8s.io/v1", false, true},
    {"grpcroutes", "/apis/gateway.networking.k8s.io/v1", false, true},
    {"referencegrants", "/apis/gateway.networking.k8s.io/v1beta1", false, true},
    {"services", "/api/v1", false, false},
    {"endpointslices", "/apis/discovery.k8s.io/v1", false, false},
    {"secrets", "/api/v1", false, false},
    {"namespaces", "/api/v1", true, false},
    {"tlsroutes", "/apis/gateway.networking.k8s.io/v1alpha2", false, true},
    {"tcproutes", "/apis/gateway.networking.k8s.io/v1alpha2", false, true},
    {"backendtlspolicies", "/apis/gateway.networking.k8s.io/v1", false, true},
    {"configmaps", "/api/v1", false, false},
};

static struct {
    bool started, ready, built;
    struct k8s_conn conn;
    struct k8s_gw_options opts;
    struct k8s_gw_entrypoint *eps;
    char *controller, *status_ip, *status_hostname, *status_service;
    uint64_t delay_ms;
    uint64_t last_end_ms, last_cost_ms; /* the last rebuild: when it ended, what it cost (with the aggregator's compile) */
    size_t last_fresh;                  /* and how many routes it translated afresh */
    struct k8s_watch *watches;
    enum k8s_gw_kind *watch_kind;
    uint64_t *fingerprint; /* per watch: what of its objects the translation reads */
    bool *dirty;           /* per watch: events since the last fingerprint */
    size_t n_watches;
    struct watcher_timer *rebuild_timer, *status_timer;
    uint64_t next_status_ms; /* statuses are computed again from then on */
    uint64_t status_due_ms;  /* when the status timer fires */
    struct problem_log problems;
    struct k8s_lease *lease;
    struct k8s_gw_writer *writer;
    struct k8s_gw_cache *cache;
    bool routes_only;      /* only HTTPRoutes/GRPCRoutes had events since the last rebuild */
} gp;

/* What a route's cached translation depends on besides the route. */
static bool is_context(enum k8s_gw_kind k)
{
    return k == K8S_GW_CLASSES || k == K8S_GW_GATEWAYS || k == K8S_GW_GRANTS || k == K8S_GW_SERVICES || k == K8S_GW_SECRETS ||
           k == K8S_GW_NAMESPACES || k == K8S_GW_BACKENDTLS || k == K8S_GW_CONFIGMAPS;
}

static bool is_cached_route(enum k8s_gw_kind k)
{
    return k == K8S_GW_HTTPROUTES || k == K8S_GW_GRPCROUTES;
}

static uint64_t context_version(void)
{
    uint64_t v = 0;
    for (size_t i = 0; i < gp.n_watches; i++)
        if (is_context(gp.watch_kind[i]))
            v += gp.fingerprint[i] * (2 * i + 1);
    return v;
}

static const cJSON **collect(enum k8s_gw_kind k, size_t *n)
{
    return k8s_watches_collect(gp.watches, gp.n_watches, (int)k, n);
}

static void arm_status(uint64_t ms)
{
    gp.status_due_ms = watcher_now_ms() + ms;
    watcher_timer_arm(gp.status_timer, ms);
}

static void rebuild(void *data)
{
    (void)data;
    uint64_t t0 = watcher_now_ms();
    struct k8s_gw_objects objs;
    for (int k = 0; k < K8S_GW_KINDS; k++)
        objs.items[k] = collect((enum k8s_gw_kind)k, &objs.n[k]);
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct k8s_gw_statuses st = {0};
    /* statuses are computed only when they can be written now: the next
     * rebuild or the resync timer recomputes them from the objects then */
    bool leader = k8s_lease_is_leader(gp.lease) && !k8s_gw_writer_busy(gp.writer);
    if (leader && t0 < gp.next_status_ms) {
        leader = false; /* soon: the status timer rebuilds with statuses */
        if (gp.status_due_ms > gp.next_status_ms)
            arm_status(gp.next_status_ms - t0);
    }
    uint64_t context = context_version();
    bool routes_only = gp.routes_only;
    gp.routes_only = false;
    if (!leader && routes_only && gp.built && k8s_gw_cache_current(gp.cache, &objs, context)) {
        /* events that change nothing translated (our own status writes) */
        for (int k = 0; k < K8S_GW_KINDS; k++)
            free(objs.items[k]);
        arena_free(&pa);
        return;
    }
    if (leader) {
        gp.next_status_ms = t0 + STATUS_INTERVAL_MS;
        k8s_gw_cache_force_status(gp.cache); /* a slice of the routes is compared again each time */
    }
    struct model *m = k8s_gw_translate_cached(&objs, &gp.opts, gp.cache, context, &pa, &problems, leader ? &st : NULL);
    problem_log_update(&gp.problems, K8S_GW_PROVIDER, &problems, m);
    arena_free(&pa);
    log_debug("kubernetesgateway provider: translated %zu HTTPRoutes in %llu ms (%zu routes afresh%s)", objs.n[K8S_GW_HTTPROUTES],
              (unsigned long long)(watcher_now_ms() - t0), k8s_gw_cache_fresh(gp.cache),
              leader ? ", with statuses" : "");
    aggregator_submit(m); /* live first: comparing thousands of statuses can wait */
    gp.last_end_ms = watcher_now_ms();
    gp.last_cost_ms = gp.last_end_ms - t0;
    gp.last_fresh = k8s_gw_cache_fresh(gp.cache);
    gp.built = true;
    if (gp.ready)
        status_provider_set(K8S_GW_PROVIDER, true, true);
    if (leader) /* the statuses point at the cached objects: still there (the objs arrays are freed below) */
        k8s_gw_writer_sync(gp.writer, &st);
    k8s_gw_statuses_free(&st);
    for (int k = 0; k < K8S_GW_KINDS; k++)
        free(objs.items[k]);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* What the translation reads of the objects of watch <w>, as one number:
 * for the Gateway API kinds the generation (their status, which gantry
 * itself writes, does not count: a status write must not cost a rebuild),
 * for the others the resourceVersion. Order-independent: a sum. */
static uint64_t fingerprint(const struct k8s_watch *w, enum k8s_gw_kind k)
{
    bool by_generation = k == K8S_GW_CLASSES || k == K8S_GW_GATEWAYS || k == K8S_GW_HTTPROUTES || k == K8S_GW_GRPCROUTES ||
                         k == K8S_GW_TLSROUTES || k == K8S_GW_TCPROUTES || k == K8S_GW_BACKENDTLS;
    uint64_t sum = k8s_store_count(&w->store);
    size_t i = 0;
    const char *key;
    const cJSON *obj;
    while (k8s_store_next(&w->store, &i, &key, &obj)) {
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
        const cJSON *g = cJSON_GetObjectItemCaseSensitive(md, "generation");
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(md, "resourceVersion");
        uint64_t v = by_generation && cJSON_IsNumber(g) ? (uint64_t)g->valuedouble
                                                        : hash_str(cJSON_IsString(rv) ? rv->valuestring : "");
        sum += mix(hash_str(key) ^ mix(v + 1));
    }
    return sum;
}

/* Whether what the translation reads changed since the last rebuild
 * (statuses written by gantry itself do not count); updates the
 * fingerprints of the watches that had events. */
static bool inputs_changed(void)
{
    bool changed = false, others = false;
    for (size_t i = 0; i < gp.n_watches; i++) {
        if (!gp.dirty[i])
            continue;
        gp.dirty[i] = false;
        if (is_cached_route(gp.watch_kind[i])) { /* the route cache tells, without a pass over every route here */
            changed = true;
            continue;
        }
        uint64_t fp = fingerprint(&gp.watches[i], gp.watch_kind[i]);
        others |= fp != gp.fingerprint[i];
        gp.fingerprint[i] = fp;
    }
    gp.routes_only = changed && !others; /* for the rebuild that follows */
    return changed || others;
}

static void on_rebuild_timer(void *data)
{
    if (inputs_changed() || !gp.built)
        rebuild(data);
}

static void on_changed(struct k8s_watch *w, void *data)
{
    (void)data;
    gp.dirty[w - gp.watches] = true;
    if (!gp.ready) {
        for (size_t i = 0; i < gp.n_watches; i++)
            if (!gp.watches[i].synced)
                return; /* the first configuration waits for every first list */
        gp.ready = true;
        log_info("kubernetesgateway provider: synchronised with %s (%zu watches)", gp.conn.base_url, gp.n_watches);
    }
    if (!watcher_timer_armed(gp.rebuild_timer)) {
        /* in a burst of new routes (the last rebuild took many, and events
         * come within its cost of its end), wait as long as a rebuild
         * costs: at most half the time goes to rebuilds, and thousands of
         * routes written at once become live in a few large steps rather
         * than many compiles of the whole table; a single change (or a
         * status write) waits only throttleDuration */
        uint64_t delay = gp.delay_ms, now = watcher_now_ms();
        if (gp.built && gp.last_fresh > BURST_ROUTES && now - gp.last_end_ms < gp.last_cost_ms && gp.last_cost_ms > delay)
            delay = gp.last_cost_ms;
        watcher_timer_arm(gp.rebuild_timer, delay);
    }
}

static void on_leader(bool leader, void *data)
{
    (void)data;
    if (leader && gp.ready)
        rebuild(NULL); /* write what the previous leader may have left undone */
}

static void on_status_timer(void *data)
{
    (void)data;
    arm_status(STATUS_RESYNC_MS);
    if (gp.ready && k8s_lease_is_leader(gp.lease))
        rebuild(NULL);
}

static void add_watch(enum k8s_gw_kind k, const char *ns, const char *selector)
{
    size_t i = gp.n_watches++;
    gp.watch_kind[i] = k;
    k8s_watch_start(&gp.watches[i], kinds[k].group_version, ns, kinds[k].name, selector, &gp.conn, on_changed, NULL);
    gp.watches[i].kind = (int)k;
    /* the Gateway API's objects are written back (status): Services and
     * EndpointSlices never are */
    gp.watches[i].slim = k == K8S_GW_SLICES    ? K8S_SLIM_ENDPOINTS | K8S_SLIM_LAST_APPLIED
                         : k == K8S_GW_SERVICES ? K8S_SLIM_LAST_APPLIED
                                                : 0;
}

static char *dup_or_null(const char *s)
{
    return s && *s ? mem_strdup(s) : NULL;
}

static void start_status(const struct kube_gateway_provider_config *cfg)
{
    gp.writer = k8s_gw_writer_new(&gp.conn, gp.opts.controller_name);
    const char *ns = cfg->lease_namespace && *cfg->lease_namespace ? cfg->lease_namespace : getenv("POD_NAMESPACE");
    char identity[256], host[200] = "", name[256];
    const char *pod = getenv("POD_NAME");
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%d", pod && *pod ? pod : host, (int)getpid());
    /* its own Lease: the Ingress provider elects only when it writes status */
    snprintf(name, sizeof(name), "%s-gateway", cfg->lease_name && *cfg->lease_name ? cfg->lease_name : "gantry-leader");
    gp.lease = k8s_lease_start(&gp.conn, ns && *ns ? ns : "default", name, identity, cfg->lease_duration_ms, on_leader, NULL);
    gp.status_timer = watcher_timer_new(on_status_timer, NULL);
    arm_status(STATUS_RESYNC_MS);
}

int provider_kubernetes_gateway_start(const struct kube_gateway_provider_config *cfg, struct diag *d)
{
    memset(&gp, 0, sizeof(gp));
    problem_log_init(&gp.problems);
    const char *how = "";
    struct k8s_conn_config cc = {cfg->endpoint, cfg->token, cfg->cert_auth_file_path, "providers.kubernetesGateway",
                                 "providers.kubernetesGateway.endpoint"};
    if (k8s_conn_resolve(&gp.conn, &cc, d, &how) != 0) {
        k8s_conn_free(&gp.conn);
        problem_log_free(&gp.problems);
        return -1;
    }
    gp.controller = mem_strdup(cfg->controller_name && *cfg->controller_name ? cfg->controller_name : K8S_GW_DEFAULT_CONTROLLER);
    gp.status_ip = dup_or_null(cfg->status_ip);
    gp.status_hostname = dup_or_null(cfg->status_hostname);
    if (cfg->status_service_name && *cfg->status_service_name) {
        const char *ns = cfg->status_service_namespace && *cfg->status_service_namespace ? cfg->status_service_namespace
                                                                                          : getenv("POD_NAMESPACE");
        size_t l = strlen(cfg->status_service_name) + (ns ? strlen(ns) : 7) + 2;
        gp.status_service = mem_alloc(l);
        snprintf(gp.status_service, l, "%s/%s", ns && *ns ? ns : "default", cfg->status_service_name);
    }
    gp.eps = mem_calloc(cfg->n_entrypoints + 1, sizeof(*gp.eps));
    for (size_t i = 0; i < cfg->n_entrypoints; i++)
        gp.eps[i] = (struct k8s_gw_entrypoint){mem_strdup(cfg->entrypoints[i].name), cfg->entrypoints[i].port};
    gp.opts = (struct k8s_gw_options){.controller_name = gp.controller,
                                      .entrypoints = gp.eps,
                                      .n_entrypoints = cfg->n_entrypoints,
                                      .experimental = cfg->experimental_channel,
                                      .native_lb = cfg->native_lb_by_default,
                                      .status_ip = gp.status_ip,
                                      .status_hostname = gp.status_hostname,
                                      .status_service = gp.status_service};
    gp.delay_ms = cfg->throttle_ms ? cfg->throttle_ms : REBUILD_DELAY_MS;
    size_t n_ns = cfg->n_namespaces ? cfg->n_namespaces : 1;
    gp.watches = mem_calloc(K8S_GW_KINDS * n_ns, sizeof(*gp.watches));
    gp.watch_kind = mem_calloc(K8S_GW_KINDS * n_ns, sizeof(*gp.watch_kind));
    gp.fingerprint = mem_calloc(K8S_GW_KINDS * n_ns, sizeof(*gp.fingerprint));
    gp.dirty = mem_calloc(K8S_GW_KINDS * n_ns, sizeof(*gp.dirty));
    gp.rebuild_timer = watcher_timer_new(on_rebuild_timer, NULL);
    gp.cache = k8s_gw_cache_new();
    gp.started = true;
    status_provider_set(K8S_GW_PROVIDER, false, false);
    char *sel = NULL;
    if (cfg->label_selector && *cfg->label_selector) {
        char *enc = curl_easy_escape(NULL, cfg->label_selector, 0);
        size_t l = strlen(enc) + 16;
        sel = mem_alloc(l);
        snprintf(sel, l, "labelSelector=%s", enc);
        curl_free(enc);
    }
    log_info("kubernetesgateway provider: API server %s (%s), controller %s%s", gp.conn.base_url, how, gp.controller,
             cfg->experimental_channel ? ", experimental channel" : "");
    int n_kinds = cfg->experimental_channel ? K8S_GW_KINDS : K8S_GW_TLSROUTES;
    for (int k = 0; k < n_kinds; k++) {
        const char *s = kinds[k].selected && sel ? sel : "";
        if (kinds[k].cluster) {
            add_watch((enum k8s_gw_kind)k, NULL, s);
            continue;
        }
        if (k == K8S_GW_SECRETS) /* certificateRefs: TLS Secrets only */
            s = "fieldSelector=type%3Dkubernetes.io%2Ftls";
        for (size_t i = 0; i < n_ns; i++)
            add_watch((enum k8s_gw_kind)k, cfg->n_namespaces ? cfg->namespaces[i] : NULL, s);
    }
    free(sel);
    start_status(cfg);
    return 0;
}

void provider_kubernetes_gateway_stop(void)
{
    if (!gp.started)
        return;
    k8s_lease_stop(gp.lease);
    k8s_gw_writer_free(gp.writer);
    watcher_timer_free(gp.status_timer);
    for (size_t i = 0; i < gp.n_watches; i++)
        k8s_watch_stop(&gp.watches[i]);
    free(gp.watches);
    free(gp.watch_kind);
    free(gp.fingerprint);
    free(gp.dirty);
    watcher_timer_free(gp.rebuild_timer);
    k8s_gw_cache_free(gp.cache);
    k8s_conn_free(&gp.conn);
    for (size_t i = 0; i < gp.opts.n_entrypoints; i++)
        free((char *)gp.eps[i].name);
    free(gp.eps);
    free(gp.controller);
    free(gp.status_ip);
    free(gp.status_hostname);
    free(gp.status_service);
    problem_log_free(&gp.problems);
    gp.started = false;
}
