/*
 * Traefik's Ingress annotations (traefik.ingress.kubernetes.io/router.*),
 * read by providers.kubernetesIngress on the Ingresses of its class, with
 * Traefik's names and meaning:
 *
 *   router.entrypoints        "web,websecure": the routers' entry points
 *   router.middlewares        "<ns>-<name>@kubernetescrd,auth@file": in order
 *   router.priority           an integer (0: the default priority)
 *   router.pathmatcher        Path, PathPrefix or PathRegexp for paths of
 *                             pathType ImplementationSpecific (or none)
 *   router.tls                "true": the routers are TLS routers only
 *   router.tls.certresolver   the ACME resolver (implies router.tls)
 *   router.tls.options        "<ns>-<name>@kubernetescrd", "foo@file"
 *   router.tls.domains.<n>.main / .sans   the certificates certresolver
 *                             orders (n from 0; sans comma-separated)
 *
 * Fail closed, as Traefik: a malformed value or an unknown router.* key
 * leaves the whole Ingress unserved (Traefik skips an Ingress whose
 * annotations do not decode); a middleware, TLS option or entry point that
 * does not exist refuses the router in the aggregator. Keys that only
 * steer what gantry does not have (observability) are
 * reported. Pure: unit-tested.
 */
#ifndef GANTRY_K8S_TRAEFIK_ANNOTATIONS_H
#define GANTRY_K8S_TRAEFIK_ANNOTATIONS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../../common/arena.h"
#include "../../model.h"

#define K8S_TRAEFIK_PREFIX "traefik.ingress.kubernetes.io/"

struct k8s_traefik_router {
    bool any; /* at least one router.* annotation */
    const char **entrypoints;
    size_t n_entrypoints;
    const char **middlewares;
    size_t n_middlewares;
    int64_t priority; /* 0: unset */
    bool tls;         /* router.tls or any router.tls.* key */
    const char *cert_resolver, *tls_options;
    /* router.tls.domains.<n>.main / .sans ("a.example,b.example"): n < K8S_TRAEFIK_MAX_DOMAINS */
    struct model_tls_domain domains[8];
    size_t n_domains; /* highest index + 1 */
    const char *path_matcher; /* NULL: the Ingress specification's matching */
};

/* Reads <ing>'s annotations into <out> (strings in <a>). Returns 0, or -1
 * with <why> set to "annotation <key>: <reason>". Ignored keys are pushed
 * to <notes> as "annotation <key>: <reason>". */
int k8s_traefik_router_parse(struct arena *a, const cJSON *ing, struct k8s_traefik_router *out, const char **why,
                             struct ptr_vec *notes);

/*
 * Traefik's Service annotations (traefik.ingress.kubernetes.io/service.*),
 * read on the Kubernetes Service an Ingress backend names:
 *
 *   service.serversscheme       http, https or h2c: the servers' scheme
 *                               (default: https for port 443 or a port
 *                               named https*, else http)
 *   service.serverstransport    "<name>@<provider>": the serversTransport
 *   service.passhostheader      default "true"
 *   service.middlewares         service middlewares, after the router's
 *   service.sticky.cookie       "true": sticky sessions; and its
 *     .name .secure .httponly .samesite .maxage .path .domain
 *   service.nativelb            "true": one server, the Service's clusterIP
 *   service.nodeportlb          the nodes' addresses: not implemented (its
 *                               Ingresses are refused when the Service is
 *                               of type NodePort, where Traefik uses it)
 *
 * Fail closed: a malformed value or an unknown service.* key is an error
 * (Traefik's decoder fails on it too).
 */
struct k8s_traefik_service {
    bool any;                  /* at least one service.* annotation */
    const char *scheme;        /* NULL: by the port */
    const char *transport;     /* NULL: the global one */
    bool pass_host_header;     /* default true */
    struct model_sticky *sticky; /* NULL: none */
    const char **middlewares;
    size_t n_middlewares;
    const char *native_address; /* nativelb: the clusterIP */
    bool native_off;            /* nativelb: "false", which wins over nativeLBByDefault */
};

/* Whether Service <svc> has a service.* annotation (cheap: no parsing). */
bool k8s_traefik_service_annotated(const cJSON *svc);

/* Reads the annotations of Service <svc> into <out> (strings in <a>).
 * 0, or -1 with <why> set to "annotation <key>: <reason>". */
int k8s_traefik_service_parse(struct arena *a, const cJSON *svc, struct k8s_traefik_service *out, const char **why);

/* Entry points, middlewares, priority and TLS of <cfg> on <r>. */
void k8s_traefik_router_apply(struct arena *a, const struct k8s_traefik_router *cfg, struct model_router *r);

/* The rule of a path of pathType ImplementationSpecific (or none) under
 * router.pathmatcher; NULL when <cfg> sets none or the path is not usable. */
const char *k8s_traefik_path_rule(struct arena *a, const struct k8s_traefik_router *cfg, const char *host,
                                  const char *path, const char *path_type);

#endif
