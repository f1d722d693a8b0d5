/*
 * Docker containers -> the provider's model, as Traefik's Docker provider
 * does it: labels under a prefix are the dynamic configuration, with
 * defaults (one service and one router per container when labels define
 * none), server addresses from the container's network and ports, and
 * same-name services of several containers merged into one.
 *
 * A pure function of the container store: the tests drive it with
 * fixtures, the provider with what the Engine reported.
 */
#ifndef GANTRY_DOCKER_BUILD_H
#define GANTRY_DOCKER_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "docker_container.h"
#include "../../model.h"
#include "../../../common/rule.h"

struct docker_options {
    const char *label_prefix;              /* "gantry", or "traefik" to read existing labels */
    bool exposed_by_default;
    const char *network;                   /* default network to reach containers on ("" or NULL: first) */
    const char *default_rule;              /* Go-template subset: {{ normalize .Name }} ... */
    const char *host_ip;                   /* address of containers on the host network */
    const struct rule_node *constraints;   /* Label(...) expression, or NULL */
};

struct docker_store {
    struct docker_container **items;
    size_t n;
};

/*
 * Builds the model of every eligible container. Problems (a bad label, a
 * missing port, conflicting definitions) are appended to <problems> as
 * strings allocated in <pa>, each naming the container and the label; the
 * object concerned is left out, everything else is built.
 */
struct model *docker_build(const struct docker_store *s, const struct docker_options *o, struct arena *pa,
                           struct ptr_vec *problems);

/* One container's objects, added to <m> (a model of its own: see
 * docker_cache.h), its problems to <problems> in <pa>. <s> is read only for
 * network mode container:<x>. */
void docker_build_container(const struct docker_store *s, const struct docker_options *o, const struct docker_container *c,
                            struct model *m, struct arena *pa, struct ptr_vec *problems);

/* Traefik's normalize: runs of characters that are not letters or digits
 * become one '-', trimmed at both ends. Allocated in <a>. */
char *docker_normalize(struct arena *a, const char *name);

/* Expands the defaultRule template for a container; NULL and <d> set when
 * the template uses something unsupported. */
char *docker_expand_rule(struct arena *a, const char *tmpl, const char *service_name, const struct docker_container *c,
                         struct diag *d);

#endif
