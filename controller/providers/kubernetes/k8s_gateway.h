/*
 * Kubernetes Gateway API (gateway.networking.k8s.io) -> the provider-neutral
 * model, and the status every object we manage should carry. Pure: the
 * caches in, a model and statuses out; unit-tested on fixtures.
 *
 *   GatewayClass  ours when spec.controllerName is ours; Accepted.
 *   Gateway       of one of our classes; each listener binds to the entry
 *                 point whose address has the listener's port (80 and 443
 *                 fall back to "web" and "websecure"); HTTPS and TLS
 *                 (Terminate) listeners load their certificateRefs;
 *   HTTPRoute     one router per (parent listener, rule, match, hostname):
 *                 "httproute-<ns>-<name>-<gwns>-<gw>-<listener>-r<i>-m<j>[-h<k>]",
 *                 its rule built from the match and the hostnames the route
 *                 and the listener share, its priority from the spec's
 *                 precedence (see gw_priority in k8s_gateway_http.c);
 *                 one service per backend "<ns>-<svc>-<port>", shared by
 *                 every route (a weighted "<ns>-<name>-r<i>" per rule with
 *                 several backendRefs), filters as middlewares,
 *                 timeouts.backendRequest as a serversTransport;
 *   GRPCRoute     likewise ("grpcroute-..."), method matches as paths,
 *                 backends as h2c:// servers;
 *   TLSRoute      TCP routers on HostSNI, passthrough or terminated per the
 *   TCPRoute      listener (experimental channel only).
 *   BackendTLSPolicy  (experimental channel) the Service ports it targets
 *                 become https:// servers through a serversTransport
 *                 "<ns>-<policy>-backendtls"; one that cannot be honoured
 *                 makes them answer 500 (k8s_gateway_backendtls.c).
 *   A Service port's appProtocol picks its servers' scheme (h2c, https).
 *
 * A route or listener that cannot be built is left out with its reason in
 * its status (and a problem naming object, field and reason); the rest is
 * served.
 */
#ifndef GANTRY_K8S_GATEWAY_H
#define GANTRY_K8S_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"
#include "../../model.h"

#define K8S_GW_PROVIDER "kubernetesgateway"
#define K8S_GW_DEFAULT_CONTROLLER "gantry.io/gateway-controller"

/* The kinds read, in the order the provider watches them. */
enum k8s_gw_kind {
    K8S_GW_CLASSES,
    K8S_GW_GATEWAYS,
    K8S_GW_HTTPROUTES,
    K8S_GW_GRPCROUTES,
    K8S_GW_GRANTS,
    K8S_GW_SERVICES,
    K8S_GW_SLICES,
    K8S_GW_SECRETS,
    K8S_GW_NAMESPACES,
    K8S_GW_TLSROUTES, /* experimental channel */
    K8S_GW_TCPROUTES,
    K8S_GW_BACKENDTLS, /* BackendTLSPolicy v1 (Gateway API v1.4 CRD), read with the experimental channel */
    K8S_GW_CONFIGMAPS, /* their caCertificateRefs */
    K8S_GW_KINDS
};

struct k8s_gw_objects {
    const cJSON **items[K8S_GW_KINDS];
    size_t n[K8S_GW_KINDS];
};

struct k8s_gw_entrypoint {
    const char *name;
    int port;
};

struct k8s_gw_options {
    const char *controller_name; /* NULL: K8S_GW_DEFAULT_CONTROLLER */
    const struct k8s_gw_entrypoint *entrypoints;
    size_t n_entrypoints;
    bool experimental; /* TLSRoute, TCPRoute */
    bool native_lb;    /* nativeLBByDefault: the ClusterIP instead of the endpoints */
    const char *status_ip, *status_hostname; /* statusAddress: the Gateways' status.addresses */
    const char *status_service;              /* statusAddress.service "ns/name": its load balancer's addresses */
};

/* What the status of one managed object should be. */
struct k8s_gw_status {
    enum k8s_gw_kind kind;
    const cJSON *obj; /* borrowed: the object as cached */
    cJSON *status;    /* owned: the whole status (routes: only our parents' entries) */
};

struct k8s_gw_statuses {
    struct k8s_gw_status *v;
    size_t n, cap;
};

void k8s_gw_statuses_free(struct k8s_gw_statuses *s);

/* Builds the model of <objs> (borrowed); problems are strings in <pa>;
 * <st> (may be NULL) receives the statuses to publish. */
struct model *k8s_gw_translate(const struct k8s_gw_objects *objs, const struct k8s_gw_options *o, struct arena *pa,
                               struct ptr_vec *problems, struct k8s_gw_statuses *st);

/* Incremental translation: the translation of each HTTPRoute and GRPCRoute
 * (its routers, middlewares, own services, problems, listener attachments
 * and status) is kept and reused while the route (uid, generation) and the
 * context are unchanged. The context is a version, given by the caller, of
 * everything else a route's translation reads: GatewayClasses, Gateways,
 * ReferenceGrants, Services, Secrets, Namespaces (EndpointSlices are not
 * part of it: shared load balancers are defined per translation). */
struct k8s_gw_cache;
struct k8s_gw_cache *k8s_gw_cache_new(void);
void k8s_gw_cache_free(struct k8s_gw_cache *cache);
/* Whether k8s_gw_translate_cached() of <objs> in <context> would reuse
 * every route's translation and drop none. */
bool k8s_gw_cache_current(const struct k8s_gw_cache *cache, const struct k8s_gw_objects *objs, uint64_t context);
/* The next translation hands the statuses of the next slice (a thirtieth)
 * of the routes to the writer, not only those of routes that changed since
 * their status was last handed over: a write lost for another reason than
 * a change of its object is redone within thirty such calls. */
void k8s_gw_cache_force_status(struct k8s_gw_cache *cache);
/* Routes translated afresh by the last translation. */
size_t k8s_gw_cache_fresh(const struct k8s_gw_cache *cache);

struct model *k8s_gw_translate_cached(const struct k8s_gw_objects *objs, const struct k8s_gw_options *o,
                                      struct k8s_gw_cache *cache, uint64_t context, struct arena *pa,
                                      struct ptr_vec *problems, struct k8s_gw_statuses *st);

#endif
