/*
 * Listener isolation (the spec's GatewayHTTPListenerIsolation): a request
 * belongs to the listener of its Gateway and port whose hostname matches
 * it most specifically, and only the routes of that listener may answer
 * it. The routers of one entry point form one table, so the routers of a
 * listener carry the hostnames of its more specific siblings as negated
 * host matches; a route hostname that a sibling covers whole gets none.
 */
#include "k8s_gateway_internal.h"

#include <string.h>
#include <strings.h>

bool k8s_gw__host_within(const char *h, const char *p)
{
    if (p[0] != '*')
        return strcasecmp(h, p) == 0;
    size_t hl = strlen(h), sl = strlen(p + 1); /* ".example.com" */
    return hl > sl && strcasecmp(h + hl - sl, p + 1) == 0;
}

static bool http_family(enum gw_proto p)
{
    return p == GW_HTTP || p == GW_HTTPS;
}

void k8s_gw__isolation_siblings(struct gw_cx *c, struct gw_gateway *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct gw_listener *l = &g->l[i];
        l->n_shadow = 0;
        l->shadow = NULL;
        if (!http_family(l->proto))
            continue;
        for (size_t j = 0; j < g->n; j++) {
            const struct gw_listener *s = &g->l[j];
            if (j == i || s->port != l->port || !http_family(s->proto) || s->hostname == NULL || !k8s_gw__listener_valid(s))
                continue;
            if (l->hostname && (!k8s_gw__host_within(s->hostname, l->hostname) || strcasecmp(s->hostname, l->hostname) == 0))
                continue; /* not more specific than l's own */
            if (l->shadow == NULL)
                l->shadow = arena_alloc(c->pa, g->n * sizeof(*l->shadow));
            l->shadow[l->n_shadow++] = s->hostname;
        }
    }
}

const char *k8s_gw__isolated_host(struct gw_cx *c, const struct gw_listener *l, const char *host)
{
    const char *rule = host ? arena_printf(c->pa, "%s && ", k8s_gw__host_rule(c, host, false)) : "";
    for (size_t i = 0; i < l->n_shadow; i++) {
        const char *s = l->shadow[i];
        if (host && k8s_gw__host_within(host, s))
            return NULL; /* every such request is the sibling's */
        if (host == NULL || k8s_gw__host_within(s, host))
            rule = arena_printf(c->pa, "%s!%s && ", rule, k8s_gw__host_rule(c, s, false));
    }
    return rule;
}
