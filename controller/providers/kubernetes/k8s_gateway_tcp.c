/*
 * TLSRoute and TCPRoute (experimental channel) -> TCP routers (see
 * k8s_gateway.h): a TLSRoute matches the SNI of its hostnames (those it
 * shares with the listener), passthrough or terminated as the listener's
 * tls.mode says; a TCPRoute takes every connection of its listener
 * (HostSNI(`*`)). Several backendRefs of the rule make a weighted TCP
 * service (weight 0: none; an invalid ref's share of connections is
 * refused, as the spec asks).
 *
 * Several rules: a rule of these kinds has no matches, so every rule
 * matches every connection of the route, and the spec's precedence (each
 * connection maps to at most one rule; a tie within a Route goes to the
 * first rule) gives all of them to the first rule. The later rules take
 * none (Traefik makes one router per rule, all with the same rule, and one
 * of them, which is undefined, takes everything); their backendRefs are
 * still resolved for ResolvedRefs and their failures told, as Traefik does.
 * Later versions of the spec allow one rule only (TLSRoute v1).
 */
#include "k8s_gateway_internal.h"

#include <string.h>

#define get k8s_gw__get
#define str k8s_gw__str
#define meta k8s_gw__meta

static void tcp_like(struct gw_cx *c, const cJSON *obj, bool tls)
{
    const char *ns = meta(obj, "namespace"), *name = meta(obj, "name");
    const char *kind_name = tls ? "TLSRoute" : "TCPRoute", *prefix = tls ? "tlsroute" : "tcproute";
    size_t n_at = 0;
    struct gw_attach *at = k8s_gw__attach(c, obj, tls ? GW_K_TLS : GW_K_TCP, &n_at);
    struct gw_refs refs = {0};
    const cJSON *rules = get(get(obj, "spec"), "rules"), *first = rules ? rules->child : NULL;
    const char *svc = k8s_gw__id(c, "%s-%s-%s-r0", prefix, ns, name); /* a stand-in when no backend resolves */
    if (n_at) {
        svc = k8s_gw__backends(c, kind_name, ns, get(first, "backendRefs"), svc, NULL, NULL, true, NULL, &refs);
        for (const cJSON *later = first ? first->next : NULL; later; later = later->next)
            k8s_gw__check_tcp_backends(c, kind_name, ns, get(later, "backendRefs"), &refs);
        if (first && first->next)
            k8s_gw__problem(c, "%s %s/%s: rules after the first take no connection: rules without matches all match, and "
                               "the first rule takes every connection (Gateway API precedence)", kind_name, ns, name);
    }
    for (size_t a = 0; a < n_at; a++) {
        const struct gw_attach *x = &at[a];
        const char *where = arena_printf(c->pa, "%s %s/%s", kind_name, ns, name);
        char *rule = arena_strdup(c->pa, "");
        for (size_t h = 0; tls && h < x->n_hosts; h++)
            rule = arena_printf(c->pa, "%s%s%s", rule, h ? " || " : "", k8s_gw__host_rule(c, x->hosts[h], true));
        if (*rule == '\0')
            rule = "HostSNI(`*`)";
        struct tree_node *rt = k8s_gw__map(c, where), *eps = k8s_gw__seq(c, where);
        k8s_gw__put_str(c, rt, "rule", rule);
        struct tree_node *ep = tree_new_node(c->pa, TREE_SCALAR, where, 0, 0);
        ep->scalar = x->l->ep;
        tree_seq_add(c->pa, eps, ep);
        k8s_gw__add(c, rt, "entryPoints", eps);
        k8s_gw__put_str(c, rt, "service", svc);
        if (x->l->proto == GW_TLS) {
            struct tree_node *t = k8s_gw__map(c, where);
            if (x->l->passthrough)
                k8s_gw__put_str(c, t, "passthrough", "true");
            k8s_gw__add(c, rt, "tls", t);
        }
        k8s_gw__add(c, c->tcp_routers, k8s_gw__id(c, "%s-%s-%s-%s-%s-%s", prefix, ns, name, x->gw->ns, x->gw->name, x->l->name),
                    rt);
    }
    k8s_gw__route_status(c, tls ? K8S_GW_TLSROUTES : K8S_GW_TCPROUTES, obj, &refs);
}

void k8s_gw__tls_route(struct gw_cx *c, const cJSON *obj)
{
    tcp_like(c, obj, true);
}

void k8s_gw__tcp_route(struct gw_cx *c, const cJSON *obj)
{
    tcp_like(c, obj, false);
}
