/*
 * Kubernetes Ingress provider: one list+watch (k8s_watch.c) per watched
 * kind and namespace, all on the watcher loop's curl multi handle; after
 * any change the model is rebuilt from the caches (k8s_translate.c), a few
 * milliseconds later so a burst of events costs one rebuild. Ready once
 * every watch has completed its first list.
 *
 * Connection, first match wins:
 *   providers.kubernetesIngress.endpoint (+ token, certAuthFilePath);
 *   KUBECONFIG (current context: server, certificate-authority[-data],
 *   token / tokenFile / client-certificate[-data] + client-key[-data]);
 *   in-cluster: KUBERNETES_SERVICE_HOST/_PORT and the service account's
 *   token (re-read at every request, as it rotates) and CA.
 */
#include "provider_kubernetes.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../../common/log.h"
#include "../../../admin/status.h"
#include "../../aggregator.h"
#include "k8s_compact.h"
#include "k8s_conn.h"
#include "k8s_events.h"
#include "k8s_ingress_cache.h"
#include "k8s_lease.h"
#include "k8s_status.h"
#include "k8s_translate.h"
#include "k8s_watch.h"
#include "../../problem_log.h"
#include "../../tree.h"
#include "../../tree_yaml.h"
#include "../../watcher.h"

#define REBUILD_DELAY_MS 2
#define STATUS_RESYNC_MS 10000

enum kind { K_CLASSES, K_INGRESSES, K_SERVICES, K_SLICES, K_SECRETS, K_CONFIGMAPS, K_KINDS };

static const struct {
    const char *name; /* also the collection's path segment */
    const char *group_version;
} kinds[K_KINDS] = {
    {"ingressclasses", "/apis/networking.k8s.io/v1"},
    {"ingresses", "/apis/networking.k8s.io/v1"},
    {"services", "/api/v1"},
    {"endpointslices", "/apis/discovery.k8s.io/v1"},
    {"secrets", "/api/v1"},
    {"configmaps", "/api/v1"}, /* kubernetesIngressNGINX configMap only */
};

static struct {
    bool started, ready;
    struct k8s_conn conn;
    struct k8s_translate_options opts;
    char *ingress_class;
    struct k8s_watch *watches; /* K_KINDS x namespaces (1 for cluster-scoped kinds) */
    enum kind *watch_kind;
    size_t n_watches;
    struct watcher_timer *rebuild_timer;
    struct problem_log problems;
    /* status, written by the leader only */
    char *status_ip, *status_hostname, *status_service;
    struct k8s_lease *lease;
    struct k8s_status *status;
    struct watcher_timer *status_timer;
    struct k8s_events *events; /* kubernetesIngressNGINX: annotations not honoured */
    struct k8s_ingress_cache cache; /* each Ingress's translation, while still valid */
    bool events_leader;             /* the last rebuild wrote Events (was the leader) */
    /* Every cached object of each kind, sorted, as the last rebuild
     * collected it: kept while no watch of the kind reported a change (the
     * objects are then the same), with a generation that tells the
     * translation its indexes still hold. */
    struct {
        const cJSON **items;
        size_t n;
        uint64_t gen; /* 0: not collected, or changed since */
    } coll[K_KINDS];
    uint64_t coll_gen;
} kp;

/* ---- connection (k8s_conn.c) ---- */

static int resolve_connection(const struct kube_provider_config *cfg, struct diag *d, const char **how)
{
    struct k8s_conn_config cc = {cfg->endpoint, cfg->token, cfg->cert_auth_file_path, "providers.kubernetesIngress",
                                 "providers.kubernetesIngress.endpoint"};
    return k8s_conn_resolve(&kp.conn, &cc, d, how);
}

/* ---- model ---- */

/* Every cached object of <k>, over all namespaces, sorted per watch;
 * collected again only after a change. */
static const cJSON **collect(enum kind k, size_t *n, uint64_t *gen)
{
    if (kp.coll[k].gen == 0) {
        free(kp.coll[k].items);
        kp.coll[k].items = k8s_watches_collect(kp.watches, kp.n_watches, (int)k, &kp.coll[k].n);
        kp.coll[k].gen = ++kp.coll_gen;
    }
    *n = kp.coll[k].n;
    if (gen != NULL)
        *gen = kp.coll[k].gen;
    return kp.coll[k].items;
}

static void forget_collections(void)
{
    for (size_t k = 0; k < K_KINDS; k++) {
        free(kp.coll[k].items);
        kp.coll[k].items = NULL;
        kp.coll[k].gen = 0;
    }
}

/* What changed since the last rebuild, from the watches' notes (pointers
 * into them: valid until forget_changes); false when some kind the
 * Ingresses read is not known one by one (a list, the first one too). */
static bool take_delta(struct k8s_delta *d)
{
    static const enum kind read[] = {K_INGRESSES, K_SERVICES, K_SLICES, K_SECRETS};
    size_t n[K_KINDS] = {0};
    memset(d, 0, sizeof(*d));
    for (size_t i = 0; i < kp.n_watches; i++) {
        for (size_t k = 0; k < sizeof(read) / sizeof(read[0]); k++) {
            if (kp.watch_kind[i] != read[k])
                continue;
            if (kp.watches[i].changes.all)
                return false;
            n[read[k]] += kp.watches[i].changes.keys.n;
        }
    }
    d->ingress_keys = mem_alloc((n[K_INGRESSES] + 1) * sizeof(*d->ingress_keys));
    d->ingress_objs = mem_alloc((n[K_INGRESSES] + 1) * sizeof(*d->ingress_objs));
    d->services = mem_alloc((n[K_SERVICES] + 1) * sizeof(*d->services));
    d->slices = mem_alloc((n[K_SLICES] + 1) * sizeof(*d->slices));
    d->secrets = mem_alloc((n[K_SECRETS] + 1) * sizeof(*d->secrets));
    for (size_t i = 0; i < kp.n_watches; i++) {
        const struct k8s_watch *w = &kp.watches[i];
        const char *key;
        void *unused;
        for (size_t it = 0; strmap_next(&w->changes.keys, &it, &key, &unused);) {
            switch (kp.watch_kind[i]) {
            case K_INGRESSES:
                d->ingress_objs[d->n_ingresses] = k8s_store_get(&w->store, key);
                d->ingress_keys[d->n_ingresses++] = key;
                break;
            case K_SERVICES:
                d->services[d->n_services++] = key;
                break;
            case K_SLICES:
                d->slices[d->n_slices++] = key;
                break;
            case K_SECRETS:
                d->secrets[d->n_secrets++] = key;
                break;
            default:
                break;
            }
        }
    }
    return true;
}

static void free_delta(struct k8s_delta *d)
{
    free(d->ingress_keys);
    free(d->ingress_objs);
    free(d->services);
    free(d->slices);
    free(d->secrets);
}

/* The next rebuild's delta starts from here. */
static void forget_changes(void)
{
    for (size_t i = 0; i < kp.n_watches; i++)
        k8s_changes_reset(&kp.watches[i].changes);
}

static void rebuild(void *data)
{
    (void)data;
    uint64_t t0 = watcher_now_ms();
    struct k8s_objects objs = {0};
    objs.ingress_classes = collect(K_CLASSES, &objs.n_ingress_classes, NULL);
    objs.ingresses = collect(K_INGRESSES, &objs.n_ingresses, &objs.ingresses_gen);
    objs.services = collect(K_SERVICES, &objs.n_services, &objs.services_gen);
    objs.endpoint_slices = collect(K_SLICES, &objs.n_endpoint_slices, &objs.endpoint_slices_gen);
    objs.secrets = collect(K_SECRETS, &objs.n_secrets, &objs.secrets_gen);
    objs.config_maps = collect(K_CONFIGMAPS, &objs.n_config_maps, NULL);
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0}, events = {0};
    kp.opts.nginx_events = kp.events ? &events : NULL;
    /* Events are written by the leader, once per Ingress version: those of
     * unchanged Ingresses again only when this replica has just become it */
    bool leader = kp.lease == NULL || k8s_lease_is_leader(kp.lease);
    kp.opts.events_of_unchanged = leader && !kp.events_leader;
    kp.events_leader = leader;
    struct k8s_delta delta;
    if (take_delta(&delta))
        objs.delta = &delta;
    struct model *m = k8s_translate_cached(&kp.cache, &objs, &kp.opts, &pa, &problems);
    free_delta(&delta);
    forget_changes();
    uint64_t t1 = watcher_now_ms();
    if (kp.events && leader) /* one writer when several replicas */
        k8s_events_emit(kp.events, (struct k8s_nginx_event *const *)events.items, events.len);
    problem_log_update(&kp.problems, "kubernetes", &problems, m);
    model_set_digest(m, m->digest); /* the pieces' digests (k8s_translate_cached), and the problems */
    arena_free(&pa);
    if (k8s_lease_is_leader(kp.lease)) { /* the Ingresses we serve say where */
        const cJSON **ours = mem_alloc((objs.n_ingresses ? objs.n_ingresses : 1) * sizeof(*ours));
        size_t n = 0;
        for (size_t i = 0; i < objs.n_ingresses; i++)
            if (k8s_ingress_is_ours(&objs, &kp.opts, objs.ingresses[i]))
                ours[n++] = objs.ingresses[i];
        k8s_status_sync(kp.status, ours, n,
                        k8s_status_target(kp.status_ip, kp.status_hostname, kp.status_service, objs.services,
                                          objs.n_services));
        free(ours);
    }
    log_debug("kubernetes provider: %zu ingresses (%zu translated, %zu unchanged%s) in %llu ms, the rest %llu ms",
              objs.n_ingresses, kp.cache.last_translated, kp.cache.last_reused,
              kp.cache.last_patched ? ", patched" : objs.delta ? ", names checked" : "", (unsigned long long)(t1 - t0),
              (unsigned long long)(watcher_now_ms() - t1));
    aggregator_submit(m);
    if (kp.ready) /* the first complete model is with the aggregator: /readyz waits for its compile */
        status_provider_set("kubernetes", true, true);
}

static void on_changed(struct k8s_watch *w, void *data)
{
    (void)data;
    if (w->kind >= 0 && w->kind < K_KINDS)
        kp.coll[w->kind].gen = 0; /* its objects changed: collect again */
    if (!kp.ready) {
        for (size_t i = 0; i < kp.n_watches; i++)
            if (!kp.watches[i].synced)
                return; /* the first configuration waits for every first list */
        kp.ready = true;
        log_info("kubernetes provider: synchronised with %s (%zu watches)", kp.conn.base_url, kp.n_watches);
        /* synced (for /readyz) once its first complete model is submitted: rebuild() */
    }
    if (!watcher_timer_armed(kp.rebuild_timer))
        watcher_timer_arm(kp.rebuild_timer, REBUILD_DELAY_MS);
}

/* ---- status ---- */

static void on_leader(bool leader, void *data)
{
    (void)data;
    if (leader && kp.ready)
        rebuild(NULL); /* write what the previous leader may have left undone */
}

static void on_status_timer(void *data)
{
    (void)data;
    if (kp.ready && k8s_lease_is_leader(kp.lease))
        rebuild(NULL);
    watcher_timer_arm(kp.status_timer, STATUS_RESYNC_MS);
}

static void start_status(const struct kube_provider_config *cfg)
{
    bool any = (cfg->status_ip && *cfg->status_ip) || (cfg->status_hostname && *cfg->status_hostname) ||
               (cfg->status_published_service && *cfg->status_published_service);
    if (!any)
        return; /* no ingressEndpoint: nothing to write, no election */
    kp.status_ip = cfg->status_ip ? mem_strdup(cfg->status_ip) : NULL;
    kp.status_hostname = cfg->status_hostname ? mem_strdup(cfg->status_hostname) : NULL;
    kp.status_service = cfg->status_published_service ? mem_strdup(cfg->status_published_service) : NULL;
    kp.status = k8s_status_new(&kp.conn);
    const char *ns = cfg->lease_namespace && *cfg->lease_namespace ? cfg->lease_namespace : getenv("POD_NAMESPACE");
    char identity[256], host[200] = "";
    const char *pod = getenv("POD_NAME");
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%d", pod && *pod ? pod : host, (int)getpid());
    kp.lease = k8s_lease_start(&kp.conn, ns && *ns ? ns : "default", cfg->lease_name ? cfg->lease_name : "gantry-leader",
                               identity, cfg->lease_duration_ms, on_leader, NULL);
    kp.status_timer = watcher_timer_new(on_status_timer, NULL);
    watcher_timer_arm(kp.status_timer, STATUS_RESYNC_MS);
}

/* ---- start and stop ---- */

static void add_watch(enum kind k, const char *ns, const char *selector)
{
    size_t i = kp.n_watches++;
    kp.watch_kind[i] = k;
    k8s_watch_start(&kp.watches[i], kinds[k].group_version, ns, kinds[k].name, selector, &kp.conn, on_changed, NULL);
    kp.watches[i].kind = (int)k;
    /* the translation finds EndpointSlices by their Service: changes too */
    kp.watches[i].change_label = k == K_SLICES ? "kubernetes.io/service-name" : NULL;
    /* Ingresses keep kubectl's annotation: their status is written back
     * with a PUT of the whole object (k8s_status.c) */
    kp.watches[i].slim = k == K_INGRESSES ? 0 : k == K_SLICES ? K8S_SLIM_ENDPOINTS | K8S_SLIM_LAST_APPLIED : K8S_SLIM_LAST_APPLIED;
}

void provider_kubernetes_nginx_only(const struct kube_nginx_provider_config *nginx, const struct kube_provider_config *ingress,
                                    struct kube_provider_config *out)
{
    /* publishStatusAddress is an IP or a host name; the status takes either */
    const char *addr = nginx->publish_status_address;
    unsigned char ip[16];
    bool is_ip = addr && (inet_pton(AF_INET, addr, ip) == 1 || inet_pton(AF_INET6, addr, ip) == 1);
    *out = (struct kube_provider_config){.enabled = true,
                                         .endpoint = nginx->endpoint,
                                         .token = nginx->token,
                                         .cert_auth_file_path = nginx->cert_auth_file_path,
                                         .namespaces = &nginx->watch_namespace,
                                         .n_namespaces = nginx->watch_namespace && *nginx->watch_namespace ? 1 : 0,
                                         .status_ip = is_ip ? addr : NULL,
                                         .status_hostname = is_ip ? NULL : addr,
                                         .status_published_service = nginx->publish_service,
                                         .allow_external_name_services = !nginx->disable_external_name,
                                         .lease_namespace = ingress->lease_namespace,
                                         .lease_name = ingress->lease_name,
                                         .lease_duration_ms = ingress->lease_duration_ms,
                                         .nginx = &nginx->options,
                                         .nginx_only = true};
}

int provider_kubernetes_start(const struct kube_provider_config *cfg, struct diag *d)
{
    memset(&kp, 0, sizeof(kp));
    problem_log_init(&kp.problems);
    k8s_ingress_cache_init(&kp.cache);
    const char *how = "";
    if (resolve_connection(cfg, d, &how) != 0)
        return -1;
    kp.ingress_class = mem_strdup(cfg->ingress_class && *cfg->ingress_class ? cfg->ingress_class : "gantry");
    kp.opts = (struct k8s_translate_options){.ingress_class = kp.ingress_class,
                                              .allow_external_name = cfg->allow_external_name_services,
                                              .native_lb = cfg->native_lb_by_default,
                                              .nginx = cfg->nginx,
                                              .nginx_only = cfg->nginx_only};
    size_t n_ns = cfg->n_namespaces ? cfg->n_namespaces : 1;
    size_t cap = 2 + (K_KINDS - 1) * n_ns;
    kp.watches = mem_calloc(cap, sizeof(*kp.watches));
    kp.watch_kind = mem_calloc(cap, sizeof(*kp.watch_kind));
    kp.rebuild_timer = watcher_timer_new(rebuild, NULL);
    kp.started = true;
    status_provider_set("kubernetes", false, false);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    char *sel = NULL;
    if (cfg->label_selector && *cfg->label_selector) {
        char *enc = curl_easy_escape(NULL, cfg->label_selector, 0);
        size_t l = strlen(enc) + 16;
        sel = mem_alloc(l);
        snprintf(sel, l, "labelSelector=%s", enc);
        curl_free(enc);
    }
    log_info("kubernetes provider: API server %s (%s)%s%s", kp.conn.base_url, how, sel ? ", ingresses with " : "",
             sel ? cfg->label_selector : "");
    add_watch(K_CLASSES, NULL, "");
    /* ingress-nginx's controller ConfigMap: that one object, in its own
     * namespace whatever the Ingresses' */
    const char *cm = cfg->nginx ? cfg->nginx->config_map : NULL, *slash = cm ? strchr(cm, '/') : NULL;
    if (slash != NULL) {
        char *ns = mem_strdup(cm), *name = curl_easy_escape(NULL, slash + 1, 0);
        ns[slash - cm] = '\0';
        size_t l = strlen(name) + 40;
        char *field = mem_alloc(l);
        snprintf(field, l, "fieldSelector=metadata.name%%3D%s", name);
        add_watch(K_CONFIGMAPS, ns, field);
        free(field);
        curl_free(name);
        free(ns);
    }
    for (size_t i = 0; i < n_ns; i++) {
        const char *ns = cfg->n_namespaces ? cfg->namespaces[i] : NULL;
        add_watch(K_INGRESSES, ns, sel ? sel : "");
        add_watch(K_SERVICES, ns, "");
        add_watch(K_SLICES, ns, "");
        /* ingress-nginx's auth-secret is an Opaque Secret: all of them then */
        add_watch(K_SECRETS, ns, cfg->nginx ? "" : "fieldSelector=type%3Dkubernetes.io%2Ftls");
    }
    free(sel);
    if (cfg->nginx)
        kp.events = k8s_events_new(&kp.conn);
    start_status(cfg);
    return 0;
}

void provider_kubernetes_stop(void)
{
    if (!kp.started)
        return;
    k8s_lease_stop(kp.lease); /* releases the lease: a successor takes over at once */
    k8s_status_free(kp.status);
    k8s_events_free(kp.events);
    if (kp.status_timer)
        watcher_timer_free(kp.status_timer);
    free(kp.status_ip);
    free(kp.status_hostname);
    free(kp.status_service);
    for (size_t i = 0; i < kp.n_watches; i++)
        k8s_watch_stop(&kp.watches[i]);
    forget_collections();
    free(kp.watches);
    free(kp.watch_kind);
    watcher_timer_free(kp.rebuild_timer);
    k8s_conn_free(&kp.conn);
    free(kp.ingress_class);
    problem_log_free(&kp.problems);
    k8s_ingress_cache_clear(&kp.cache); /* the aggregator's model keeps the pieces it uses */
    kp.started = false;
}
