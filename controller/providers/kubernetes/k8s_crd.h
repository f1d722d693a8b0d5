/*
 * Traefik's Kubernetes CRDs (traefik.io/v1alpha1) -> the provider-neutral
 * model, as Traefik's kubernetescrd provider names things:
 *
 *   IngressRoute    one router per route, "<ns>-<name>-<sha256(match)[:10] hex>";
 *                   one Service: the service "<ns>-<svc>-<port>"; several: a
 *                   weighted service named like the router;
 *   Middleware      "<ns>-<name>", its spec decoded as a file provider's
 *                   middleware body once the Kubernetes-only fields are
 *                   resolved (basicAuth/digestAuth.secret, errors.service,
 *                   chain.middlewares);
 *   TLSOption       "<ns>-<name>" ("default" stays "default"); clientAuth.secretNames
 *                   become inline CA PEM;
 *   TLSStore        "default" only: defaultCertificate.secretName;
 *   ServersTransport "<ns>-<name>"; rootCAsSecrets / certificatesSecrets inline PEM;
 *   TraefikService  "<ns>-<name>": weighted or mirroring;
 *   IngressRouteTCP one TCP router and service per route, named as above
 *                   (one Service per route: gantry's TCP model has no
 *                   weighted services);
 *   MiddlewareTCP   "<ns>-<name>" (ipAllowList, inFlightConn), decoded as a
 *                   file provider's tcp.middlewares body.
 *   IngressRouteUDP one UDP router per route, "<ns>-<name>-<index>" (Traefik's
 *                   names), and a UDP service named like it (weighted over
 *                   "<router>-<svc>-<port>" when the route has several).
 *
 * The objects are turned into a configuration tree with the file
 * provider's keys and decoded by model_decode(), so both providers share
 * one notion of every option. A reference to another namespace is refused
 * unless allowCrossNamespace; an unresolvable reference (Middleware,
 * Service, Secret, TLSOption, TraefikService) takes out only the router
 * (or middleware, service) that holds it, with a problem naming both.
 * Pure: unit-tested on fixtures.
 */
#ifndef GANTRY_K8S_CRD_H
#define GANTRY_K8S_CRD_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"
#include "../../model.h"

#define K8S_CRD_PROVIDER "kubernetescrd"

/* The kinds read, in the order the provider watches them. */
enum k8s_crd_kind {
    K8S_CRD_INGRESSROUTES,
    K8S_CRD_MIDDLEWARES,
    K8S_CRD_TLSOPTIONS,
    K8S_CRD_TLSSTORES,
    K8S_CRD_TRANSPORTS,
    K8S_CRD_TRAEFIKSERVICES,
    K8S_CRD_SERVICES,
    K8S_CRD_SLICES,
    K8S_CRD_SECRETS,
    K8S_CRD_INGRESSROUTETCPS,
    K8S_CRD_MIDDLEWARETCPS,
    K8S_CRD_TRANSPORTTCPS, /* ServersTransportTCP */
    K8S_CRD_INGRESSROUTEUDPS,
    K8S_CRD_KINDS
};

struct k8s_crd_objects {
    const cJSON **items[K8S_CRD_KINDS];
    size_t n[K8S_CRD_KINDS];
};

struct k8s_crd_options {
    const char *ingress_class; /* NULL or "": every IngressRoute; else kubernetes.io/ingress.class must match */
    bool allow_cross_namespace;
    bool allow_external_name;
    bool allow_empty_services; /* a Service without endpoints: an empty load balancer (503) instead of no router */
    bool native_lb_by_default; /* nativeLBByDefault: the ClusterIP unless the service sets nativeLB: false */
};

/* Builds the model of <objs> (borrowed). Problems are strings in <pa>. */
struct model *k8s_crd_translate(const struct k8s_crd_objects *objs, const struct k8s_crd_options *o, struct arena *pa,
                                struct ptr_vec *problems);

#endif
