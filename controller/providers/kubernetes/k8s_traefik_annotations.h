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
 *
 * Fail closed, as Traefik: a malformed value or an unknown router.* key
 * leaves the whole Ingress unserved (Traefik skips an Ingress whose
 * annotations do not decode); a middleware, TLS option or entry point that
 * does not exist refuses the router in the aggregator. Keys that only
 * steer what gantry does not have (router.tls.domains, observability) are
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
    const char *path_matcher; /* NULL: the Ingress specification's matching */
};

/* Reads <ing>'s annotations into <out> (strings in <a>). Returns 0, or -1
 * with <why> set to "annotation <key>: <reason>". Ignored keys are pushed
 * to <notes> as "annotation <key>: <reason>". */
int k8s_traefik_router_parse(struct arena *a, const cJSON *ing, struct k8s_traefik_router *out, const char **why,
                             struct ptr_vec *notes);

/* Entry points, middlewares, priority and TLS of <cfg> on <r>. */
void k8s_traefik_router_apply(struct arena *a, const struct k8s_traefik_router *cfg, struct model_router *r);

/* The rule of a path of pathType ImplementationSpecific (or none) under
 * router.pathmatcher; NULL when <cfg> sets none or the path is not usable. */
const char *k8s_traefik_path_rule(struct arena *a, const struct k8s_traefik_router *cfg, const char *host,
                                  const char *path, const char *path_type);

#endif
