/*
 * A service of one child that carries service-level middlewares: the
 * Kubernetes translators (Traefik CRDs: a service reference's own
 * middlewares; Gateway API: one backendRef's own filters) reach a load
 * balancer through it when the middlewares belong to that child alone.
 */
#ifndef GANTRY_K8S_WRAP_H
#define GANTRY_K8S_WRAP_H

#include "../../tree.h"

/* The dynamic-configuration tree (in <pa>, its nodes from <where>) of
 *   weighted: {services: [{name: <child>, weight: "1"}]}
 *   middlewares: <middlewares>   (a sequence of middleware names, used as is)
 * for the caller to add under its own name to its services. */
struct tree_node *k8s_wrap_service(struct arena *pa, const char *where, const char *child, struct tree_node *middlewares);

#endif
