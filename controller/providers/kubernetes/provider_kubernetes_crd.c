/*
 * Kubernetes CRD provider: one list+watch (k8s_watch.c) per kind and
 * namespace, for Traefik's traefik.io/v1alpha1 kinds and the Services,
 * EndpointSlices and Secrets they reference; after any change the model is
 * rebuilt from the caches (k8s_crd.c) after throttleDuration (a few ms by
 * default), so a burst of events costs one rebuild. Ready once every watch
 * has completed its first list. The connection is resolved as for the
 * Ingress provider (k8s_conn.c); the two providers run side by side with
 * their own watches.
 */
#include "provider_kubernetes_crd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/log.h"
#include "../../../admin/status.h"
#include "../../aggregator.h"
#include "k8s_compact.h"
#include "k8s_conn.h"
#include "k8s_crd.h"
#include "k8s_watch.h"
#include "../../problem_log.h"
#include "../../watcher.h"

#define REBUILD_DELAY_MS 2

/* Indexed by enum k8s_crd_kind. */
static const struct {
    const char *name; /* also the collection's path segment */
    const char *group_version;
    bool selected; /* labelSelector applies (Traefik: the traefik.io kinds) */
} kinds[K8S_CRD_KINDS] = {
    {"ingressroutes", "/apis/traefik.io/v1alpha1", true},
    {"middlewares", "/apis/traefik.io/v1alpha1", true},
    {"tlsoptions", "/apis/traefik.io/v1alpha1", true},
    {"tlsstores", "/apis/traefik.io/v1alpha1", true},
    {"serverstransports", "/apis/traefik.io/v1alpha1", true},
    {"traefikservices", "/apis/traefik.io/v1alpha1", true},
    {"services", "/api/v1", false},
    {"endpointslices", "/apis/discovery.k8s.io/v1", false},
    {"secrets", "/api/v1", false}, /* every type: basic-auth, Opaque users and CAs, TLS */
    {"ingressroutetcps", "/apis/traefik.io/v1alpha1", true},
    {"middlewaretcps", "/apis/traefik.io/v1alpha1", true},
    {"serverstransporttcps", "/apis/traefik.io/v1alpha1", true},
    {"ingressrouteudps", "/apis/traefik.io/v1alpha1", true},
};

static struct {
    bool started, ready;
    struct k8s_conn conn;
    struct k8s_crd_options opts;
    char *ingress_class;
    uint64_t delay_ms;
    struct k8s_watch *watches; /* K8S_CRD_KINDS x namespaces */
    enum k8s_crd_kind *watch_kind;
    size_t n_watches;
    struct watcher_timer *rebuild_timer;
    struct problem_log problems;
} cp;

/* Every cached object of <k>, over all namespaces; free() it. */
static const cJSON **collect(enum k8s_crd_kind k, size_t *n)
{
    return k8s_watches_collect(cp.watches, cp.n_watches, (int)k, n);
}

static void rebuild(void *data)
{
    (void)data;
    struct k8s_crd_objects objs;
    for (int k = 0; k < K8S_CRD_KINDS; k++)
        objs.items[k] = collect((enum k8s_crd_kind)k, &objs.n[k]);
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_crd_translate(&objs, &cp.opts, &pa, &problems);
    problem_log_update(&cp.problems, K8S_CRD_PROVIDER, &problems, m);
    arena_free(&pa);
    for (int k = 0; k < K8S_CRD_KINDS; k++)
        free(objs.items[k]);
    aggregator_submit(m);
}

static void on_changed(struct k8s_watch *w, void *data)
{
    (void)w;
    (void)data;
    if (!cp.ready) {
        for (size_t i = 0; i < cp.n_watches; i++)
            if (!cp.watches[i].synced)
                return; /* the first configuration waits for every first list */
        cp.ready = true;
        log_info("kubernetescrd provider: synchronised with %s (%zu watches)", cp.conn.base_url, cp.n_watches);
        status_provider_set(K8S_CRD_PROVIDER, true, true);
    }
    if (!watcher_timer_armed(cp.rebuild_timer))
        watcher_timer_arm(cp.rebuild_timer, cp.delay_ms);
}

static void add_watch(enum k8s_crd_kind k, const char *ns, const char *selector)
{
    size_t i = cp.n_watches++;
    cp.watch_kind[i] = k;
    k8s_watch_start(&cp.watches[i], kinds[k].group_version, ns, kinds[k].name, selector, &cp.conn, on_changed, NULL);
    cp.watches[i].kind = (int)k;
    /* only the CRDs themselves may be written back (status) */
    cp.watches[i].slim = k == K8S_CRD_SLICES    ? K8S_SLIM_ENDPOINTS | K8S_SLIM_LAST_APPLIED
                         : k == K8S_CRD_SERVICES ? K8S_SLIM_LAST_APPLIED
                                                 : 0;
}

int provider_kubernetes_crd_start(const struct kube_crd_provider_config *cfg, struct diag *d)
{
    memset(&cp, 0, sizeof(cp));
    problem_log_init(&cp.problems);
    const char *how = "";
    struct k8s_conn_config cc = {cfg->endpoint, cfg->token, cfg->cert_auth_file_path, "providers.kubernetesCRD",
                                 "providers.kubernetesCRD.endpoint"};
    if (k8s_conn_resolve(&cp.conn, &cc, d, &how) != 0) {
        k8s_conn_free(&cp.conn);
        problem_log_free(&cp.problems);
        return -1;
    }
    cp.ingress_class = cfg->ingress_class && *cfg->ingress_class ? mem_strdup(cfg->ingress_class) : NULL;
    cp.opts = (struct k8s_crd_options){.ingress_class = cp.ingress_class,
                                       .allow_cross_namespace = cfg->allow_cross_namespace,
                                       .allow_external_name = cfg->allow_external_name_services,
                                       .native_lb_by_default = cfg->native_lb_by_default,
                                       .allow_empty_services = cfg->allow_empty_services};
    cp.delay_ms = cfg->throttle_ms ? cfg->throttle_ms : REBUILD_DELAY_MS;
    size_t n_ns = cfg->n_namespaces ? cfg->n_namespaces : 1;
    cp.watches = mem_calloc(K8S_CRD_KINDS * n_ns, sizeof(*cp.watches));
    cp.watch_kind = mem_calloc(K8S_CRD_KINDS * n_ns, sizeof(*cp.watch_kind));
    cp.rebuild_timer = watcher_timer_new(rebuild, NULL);
    cp.started = true;
    status_provider_set(K8S_CRD_PROVIDER, false, false);
    char *sel = NULL;
    if (cfg->label_selector && *cfg->label_selector) {
        char *enc = curl_easy_escape(NULL, cfg->label_selector, 0);
        size_t l = strlen(enc) + 16;
        sel = mem_alloc(l);
        snprintf(sel, l, "labelSelector=%s", enc);
        curl_free(enc);
    }
    log_info("kubernetescrd provider: API server %s (%s)%s%s", cp.conn.base_url, how, sel ? ", objects with " : "",
             sel ? cfg->label_selector : "");
    for (size_t i = 0; i < n_ns; i++)
        for (int k = 0; k < K8S_CRD_KINDS; k++)
            add_watch((enum k8s_crd_kind)k, cfg->n_namespaces ? cfg->namespaces[i] : NULL, kinds[k].selected && sel ? sel : "");
    free(sel);
    return 0;
}

void provider_kubernetes_crd_stop(void)
{
    if (!cp.started)
        return;
    for (size_t i = 0; i < cp.n_watches; i++)
        k8s_watch_stop(&cp.watches[i]);
    free(cp.watches);
    free(cp.watch_kind);
    watcher_timer_free(cp.rebuild_timer);
    k8s_conn_free(&cp.conn);
    free(cp.ingress_class);
    problem_log_free(&cp.problems);
    cp.started = false;
}
