/*
 * Kubernetes objects -> the provider-neutral model, following the Ingress
 * specification (networking.k8s.io/v1):
 *
 *   class:    spec.ingressClassName naming an IngressClass whose
 *             spec.controller is ours; else the legacy annotation
 *             kubernetes.io/ingress.class equal to our class name; else,
 *             with no class at all, ours when our IngressClass carries
 *             ingressclass.kubernetes.io/is-default-class: "true";
 *   hosts:    exact, or "*.example.com" (one label);
 *   paths:    Exact -> Path; Prefix and ImplementationSpecific match whole
 *             path elements ("/foo" matches /foo and /foo/bar, not /foobar);
 *   priority: longest path first, Exact before Prefix at equal length,
 *             exact hosts before wildcard hosts before no host; the
 *             defaultBackend last;
 *   backends: Service port by number or name, resolved through the
 *             Service's ports to its EndpointSlices' ports; ready endpoints
 *             (serving-but-terminating ones only when none is ready);
 *             ExternalName only when allowed; for Traefik's own Ingresses
 *             the Service's traefik.ingress.kubernetes.io/service.*
 *             annotations (k8s_traefik_annotations.h: one that does not
 *             decode refuses the Ingress);
 *   TLS:      spec.tls secrets (kubernetes.io/tls) become certificates, and
 *             every rule of such an Ingress is also served over TLS.
 * A missing Service, port or Secret is a problem naming namespace/name and
 * what is missing; the rest is served. Pure: fuzzable and unit-tested.
 */
#ifndef GANTRY_K8S_TRANSLATE_H
#define GANTRY_K8S_TRANSLATE_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"
#include "k8s_nginx_annotations.h"
#include "../../model.h"

#define K8S_CONTROLLER_NAME "gantry.io/ingress-controller"

struct k8s_objects {
    const cJSON **ingress_classes, **ingresses, **services, **endpoint_slices, **secrets;
    size_t n_ingress_classes, n_ingresses, n_services, n_endpoint_slices, n_secrets;
    /* k8s_translate_cached: a nonzero generation equal to the last call's
     * says the list holds the very same objects (its index and what the
     * Ingresses read from it are kept); 0: unknown */
    uint64_t services_gen, endpoint_slices_gen, secrets_gen, ingresses_gen;
    /* kubernetesIngressNGINX configMap: the ConfigMaps watched for it */
    const cJSON **config_maps;
    size_t n_config_maps;
    /* k8s_translate_cached: what changed since its last call with the same
     * cache, when known (NULL: not known, every Ingress is looked at) */
    const struct k8s_delta *delta;
};

/* The objects added, modified or deleted since the last translation. */
struct k8s_delta {
    const char **ingress_keys;   /* "ns/name" */
    const cJSON **ingress_objs;  /* each one now; NULL: deleted */
    size_t n_ingresses;
    const char **services;       /* "ns/name" */
    const char **slices;         /* "ns/<service>" (kubernetes.io/service-name), before and after */
    const char **secrets;        /* "ns/name" */
    size_t n_services, n_slices, n_secrets;
};

struct k8s_translate_options {
    const char *ingress_class;        /* legacy annotation value, default "gantry" */
    bool allow_external_name;
    bool native_lb; /* kubernetesIngress nativeLBByDefault: the Services' ClusterIP (service.nativelb overrides) */
    /* providers.kubernetesIngressNGINX: NULL when off; <nginx_only> when
     * kubernetesIngress itself is off (Gantry's own class is not served) */
    const struct k8s_nginx_options *nginx;
    bool nginx_only;
    struct ptr_vec *nginx_events; /* struct k8s_nginx_event * in <pa>; NULL: not wanted */
    /* k8s_translate_cached: the Events of unchanged Ingresses too (they were
     * given when those were translated: wanted again by a new leader) */
    bool events_of_unchanged;
};

/* Problems are strings in <pa>. */
struct model *k8s_translate(const struct k8s_objects *objs, const struct k8s_translate_options *o, struct arena *pa,
                            struct ptr_vec *problems);

/* The same, re-translating only the Ingresses whose own version or whose
 * referenced objects changed since the last call with <cache>
 * (k8s_ingress_cache.h); k8s_translate() is this with a fresh cache.
 * The model's digest is that of the pieces it holds (each digested once,
 * when translated): model_set_digest() completes it once the problems are
 * in the model. */
struct k8s_ingress_cache;
struct model *k8s_translate_cached(struct k8s_ingress_cache *cache, const struct k8s_objects *objs,
                                   const struct k8s_translate_options *o, struct arena *pa, struct ptr_vec *problems);

/* Whether <ingress> is ours (for status updates). */
bool k8s_ingress_is_ours(const struct k8s_objects *objs, const struct k8s_translate_options *o, const cJSON *ingress);

#endif
