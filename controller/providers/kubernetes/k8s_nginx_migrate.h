/*
 * The ingress-nginx migration report (`gantry migrate ingress-nginx`): for
 * each Ingress ingress-nginx would serve, what Gantry does with it and with
 * each of its nginx.ingress.kubernetes.io annotations:
 *   honoured  same behaviour and default;
 *   differs   works, with the difference in one line;
 *   refused   the Ingress is not served because of it;
 *   ignored   served without it, reported with an Event;
 * and whether the Ingress would be served at all. Computed by translating
 * the objects exactly as providers.kubernetesIngressNGINX does (the same
 * problems and Events), so the report cannot disagree with the provider.
 */
#ifndef GANTRY_K8S_NGINX_MIGRATE_H
#define GANTRY_K8S_NGINX_MIGRATE_H

#include <stddef.h>

#include "k8s_translate.h"

struct k8s_migration_summary {
    size_t ingresses, served, not_served;
    size_t honoured, differs, refused, ignored;
};

/* The report as text (free() it); counts in <sum>. */
char *k8s_nginx_migration_report(const struct k8s_objects *objs, const struct k8s_nginx_options *o,
                                 struct k8s_migration_summary *sum);

#endif
