/*
 * Gateway API backendRefs -> services (see k8s_gateway.h): a reference to
 * a Service port is the load balancer "<ns>-<svc>-<port>" over the
 * Service's ready endpoints (its ClusterIP with nativeLBByDefault), defined
 * once and shared by every route that names it; several references make a
 * weighted service (TLSRoute/TCPRoute: a weighted TCP service), and the
 * share of one that cannot be resolved goes to an empty load balancer
 * "...-invalid", which answers 500 (the spec's status; empty_status, set
 * after decoding), or for TCP closes the connection. Resolution failures set the route's
 * ResolvedRefs reason (InvalidKind, RefNotPermitted, BackendNotFound).
 */
#include "k8s_gateway_internal.h"
#include "k8s_wrap.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define GW_GROUP "gateway.networking.k8s.io"
#define get k8s_gw__get
#define str k8s_gw__str
#define meta k8s_gw__meta

static const char *or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool endpoint_ready(const cJSON *ep)
{
    const cJSON *ready = get(get(ep, "conditions"), "ready");
    return ready == NULL || cJSON_IsNull(ready) || cJSON_IsTrue(ready);
}

static void add_server(struct gw_cx *c, struct tree_node *servers, const char *scheme, const char *addr, int port,
                       const char *where)
{
    bool v6 = strchr(addr, ':') != NULL;
    struct tree_node *s = k8s_gw__map(c, where);
    const char *hp = arena_printf(c->pa, "%s%s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "", port);
    if (scheme)
        k8s_gw__put_str(c, s, "url", arena_printf(c->pa, "%s://%s", scheme, hp));
    else
        k8s_gw__put_str(c, s, "address", hp);
    tree_seq_add(c->pa, servers, s);
}

/* The ready endpoints of Service <svc> behind its port <sp>; the ClusterIP
 * with nativeLB. */
static void endpoints(struct gw_cx *c, const char *ns, const cJSON *svc, const cJSON *sp, const char *scheme,
                      struct tree_node *servers, const char *where)
{
    int svc_port = get(sp, "port")->valueint;
    if (c->o->native_lb) {
        const char *ip = str(get(svc, "spec"), "clusterIP");
        if (ip && strcmp(ip, "None") != 0)
            add_server(c, servers, scheme, ip, svc_port, where);
        return;
    }
    const char *sp_name = str(sp, "name");
    const cJSON *target = get(sp, "targetPort");
    size_t n = 0;
    const struct k8s_index_entry *slices = k8s_index_find(&c->ix[K8S_GW_SLICES], ns, meta(svc, "name"), &n);
    for (size_t i = 0; i < n; i++) {
        const cJSON *es = slices[i].obj;
        int port = 0;
        for (const cJSON *p = get(es, "ports") ? get(es, "ports")->child : NULL; p; p = p->next)
            if (same(str(p, "name"), sp_name) && cJSON_IsNumber(get(p, "port")))
                port = get(p, "port")->valueint;
        if (port == 0 && cJSON_IsNumber(target))
            port = target->valueint;
        for (const cJSON *ep = get(es, "endpoints") ? get(es, "endpoints")->child : NULL; port > 0 && ep; ep = ep->next)
            if (endpoint_ready(ep))
                for (const cJSON *a = get(ep, "addresses") ? get(ep, "addresses")->child : NULL; a; a = a->next)
                    if (cJSON_IsString(a))
                        add_server(c, servers, scheme, a->valuestring, port, where);
    }
}

/* Sets ResolvedRefs from one reference that failed and tells it as a
 * problem of <what>. */
static void refs_fail(struct gw_cx *c, struct gw_refs *r, const char *what, const char *reason, const char *message)
{
    if (r->reason == NULL) { /* the first failure is the one reported */
        r->reason = reason;
        r->message = message;
    }
    k8s_gw__problem(c, "%s: %s", what, message); /* each one is told */
}

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Whether <key> is not yet in the set of defined services; with <add>,
 * it is added (copied). */
static bool first_definition(struct gw_cx *c, const char *key, bool add)
{
    if (c->defined.n * 2 >= c->defined.cap) {
        size_t cap = c->defined.cap ? c->defined.cap * 2 : 256;
        const char **slots = arena_alloc(c->pa, cap * sizeof(*slots));
        memset(slots, 0, cap * sizeof(*slots));
        for (size_t i = 0; i < c->defined.cap; i++)
            if (c->defined.slots[i]) {
                size_t j = fnv(c->defined.slots[i]) & (cap - 1);
                while (slots[j])
                    j = (j + 1) & (cap - 1);
                slots[j] = c->defined.slots[i];
            }
        c->defined.slots = slots;
        c->defined.cap = cap;
    }
    size_t j = fnv(key) & (c->defined.cap - 1);
    for (; c->defined.slots[j]; j = (j + 1) & (c->defined.cap - 1))
        if (strcmp(c->defined.slots[j], key) == 0)
            return false;
    if (add) {
        c->defined.slots[j] = arena_strdup(c->pa, key);
        c->defined.n++;
    }
    return true;
}

static void define_lb(struct gw_cx *c, const char *id, struct tree_node *servers, bool tcp, const char *where)
{
    struct tree_node *svc = k8s_gw__map(c, where), *lb = k8s_gw__map(c, where);
    k8s_gw__add(c, lb, "servers", servers);
    k8s_gw__add(c, svc, "loadBalancer", lb);
    k8s_gw__add(c, tcp ? c->tcp_services : c->services, id, svc);
}

static const cJSON *service_port(const cJSON *svc, int port)
{
    const cJSON *ports = get(get(svc, "spec"), "ports");
    for (const cJSON *p = ports ? ports->child : NULL; p; p = p->next)
        if (cJSON_IsNumber(get(p, "port")) && get(p, "port")->valueint == port)
            return p;
    return NULL;
}

/* The scheme of the servers behind Service port <sp> from its protocol and
 * appProtocol, as Traefik's gateway provider reads them: for HTTPRoutes
 * none is http (https on port 443 or a port named https*), http and
 * kubernetes.io/ws are http (WebSocket is an HTTP/1.1 Upgrade),
 * kubernetes.io/h2c is h2c, https and kubernetes.io/wss are https; for
 * GRPCRoutes (<grpc>) none and kubernetes.io/h2c are h2c, https is https.
 * NULL (with <why>) for anything else: the spec's UnsupportedProtocol. */
static const char *port_scheme(struct gw_cx *c, const cJSON *sp, bool grpc, const char **why)
{
    const char *proto = str(sp, "protocol"), *app = str(sp, "appProtocol"), *pname = str(sp, "name");
    if (proto && strcmp(proto, "TCP") != 0) {
        *why = arena_printf(c->pa, "protocol %s is not supported (only TCP)", proto);
        return NULL;
    }
    if (app == NULL) {
        if (grpc)
            return "h2c";
        bool tls = get(sp, "port")->valueint == 443 || (pname && strncmp(pname, "https", 5) == 0);
        return tls ? "https" : "http";
    }
    char low[64];
    size_t n = 0;
    for (; app[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)tolower((unsigned char)app[n]);
    low[n] = '\0';
    if (app[n] == '\0') {
        if (strcmp(low, "kubernetes.io/h2c") == 0)
            return "h2c";
        if (strcmp(low, "https") == 0 || (!grpc && strcmp(low, "kubernetes.io/wss") == 0))
            return "https";
        if (!grpc && (strcmp(low, "http") == 0 || strcmp(low, "kubernetes.io/ws") == 0))
            return "http";
    }
    *why = arena_printf(c->pa, "appProtocol %s is not supported for %s backends", app, grpc ? "GRPCRoute" : "HTTPRoute");
    return NULL;
}

static void define_shared(struct gw_cx *c, const struct gw_need *n, const cJSON *svc, const cJSON *sp)
{
    struct tree_node *servers = k8s_gw__seq(c, n->id);
    endpoints(c, n->ns, svc, sp, n->tcp ? NULL : n->scheme, servers, n->id);
    define_lb(c, n->id, servers, n->tcp, n->id);
    if (n->transport && !n->tcp)
        k8s_gw__put_str(c, tree_map_get(tree_map_get(c->services, n->id), "loadBalancer"), "serversTransport", n->transport);
}

void k8s_gw__define_need(struct gw_cx *c, const struct gw_need *n)
{
    if (!first_definition(c, n->key, false))
        return;
    const cJSON *svc = k8s_index_get(&c->ix[K8S_GW_SERVICES], n->ns, n->name);
    const cJSON *sp = service_port(svc, n->port);
    if (sp == NULL)
        return; /* cannot be: the Services are part of the cache's context */
    first_definition(c, n->key, true);
    define_shared(c, n, svc, sp);
}

/* The Service port backendRef <ref> (of a <kind_name> in <ns>) names, with
 * its Service (<svc>) and namespace (<rns>); NULL, with <refs> set and the
 * problem told, when it names another kind, one no ReferenceGrant lets it
 * use, or a Service or port that does not exist. */
static const cJSON *resolve(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *ref, struct gw_refs *refs,
                            const cJSON **svc, const char **rns)
{
    const char *group = str(ref, "group"), *kind = or(str(ref, "kind"), "Service"), *name = or(str(ref, "name"), "");
    *rns = or(str(ref, "namespace"), ns);
    *svc = NULL;
#define what arena_printf(c->pa, "%s %s backendRef %s/%s", kind_name, ns, *rns, name) /* for problems only */
    const cJSON *port = get(ref, "port");
    if ((group && *group) || strcmp(kind, "Service") != 0) {
        refs_fail(c, refs, what, "InvalidKind",
                  arena_printf(c->pa, "backendRef kind %s%s%s is not supported", or(group, ""), group ? "/" : "", kind));
        return NULL;
    }
    if (strcmp(*rns, ns) != 0 && !k8s_gw__granted(c, GW_GROUP, kind_name, ns, "", "Service", *rns, name)) {
        refs_fail(c, refs, what, "RefNotPermitted",
                  arena_printf(c->pa, "no ReferenceGrant in %s allows %ss of %s to use Service %s", *rns, kind_name, ns, name));
        return NULL;
    }
    int pnum = cJSON_IsNumber(port) ? port->valueint : -1;
    *svc = k8s_index_get(&c->ix[K8S_GW_SERVICES], *rns, name);
    const cJSON *sp = service_port(*svc, pnum);
    if (sp == NULL) {
        refs_fail(c, refs, what, "BackendNotFound",
                  *svc ? arena_printf(c->pa, "Service %s/%s has no port %d", *rns, name, cJSON_IsNumber(port) ? port->valueint : 0)
                       : arena_printf(c->pa, "Service %s/%s does not exist", *rns, name));
        return NULL;
    }
    return sp;
#undef what
}

void k8s_gw__check_tcp_backends(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *refs, struct gw_refs *out)
{
    for (const cJSON *r = refs ? refs->child : NULL; r; r = r->next) {
        const cJSON *svc;
        const char *rns;
        resolve(c, kind_name, ns, r, out, &svc, &rns);
    }
}

const char *k8s_gw__backend(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *ref, const char *scheme,
                            const char *transport, bool tcp, struct gw_refs *refs)
{
    const cJSON *svc;
    const char *rns, *name = or(str(ref, "name"), "");
#define what arena_printf(c->pa, "%s %s backendRef %s/%s", kind_name, ns, rns, name) /* for problems only */
    const cJSON *sp = resolve(c, kind_name, ns, ref, refs, &svc, &rns);
    if (sp == NULL)
        return NULL;
    const cJSON *port = get(ref, "port");
    int pnum = cJSON_IsNumber(port) ? port->valueint : -1;
    bool h2c = !tcp && scheme && strcmp(scheme, "h2c") == 0; /* a GRPCRoute's */
    struct gw_btls *pol = tcp ? NULL : k8s_gw__backend_tls(c, rns, name, str(sp, "name"));
    if (pol && pol->transport == NULL) { /* fail closed: 500 for its share, never plaintext */
        refs_fail(c, refs, what, "RefNotPermitted",
                  arena_printf(c->pa, "cannot apply BackendTLSPolicy %s/%s to Service %s/%s: %s", pol->ns, pol->name, rns, name,
                               pol->message ? pol->message : "invalid"));
        return NULL;
    }
    if (pol) { /* dialed with TLS through the policy's transport (with the rule's timeouts, if any) */
        scheme = "https";
        if (transport) {
            const char *both = k8s_gw__id(c, "%s-%s", transport, pol->transport);
            if (tree_map_get(c->transports, both) == NULL) {
                struct tree_node *t = k8s_gw__map(c, both); /* the policy's fields (shared nodes) and the rule's timeouts */
                for (size_t i = 0; i < pol->tree->n; i++)
                    k8s_gw__add(c, t, pol->tree->keys[i], pol->tree->items[i]);
                struct tree_node *ft = tree_map_get(tree_map_get(c->transports, transport), "forwardingTimeouts");
                if (ft)
                    k8s_gw__add(c, t, "forwardingTimeouts", ft);
                k8s_gw__add(c, c->transports, both, t);
            }
            transport = both;
        } else {
            transport = pol->transport;
        }
    } else if (!tcp) {
        const char *why = NULL;
        scheme = port_scheme(c, sp, h2c, &why);
        if (scheme == NULL) {
            refs_fail(c, refs, what, "UnsupportedProtocol",
                      arena_printf(c->pa, "Service %s/%s port %d: %s", rns, name, pnum, why));
            return NULL;
        }
    }
    /* once defined, a backend is shared: the set holds
     * "<tcp|http>|<ns>/<name>:<port>[:h2c]|<transport>" */
    char key[600];
    int kl = snprintf(key, sizeof(key), "%s|%s/%s:%d%s|%s", tcp ? "tcp" : "http", rns, name, pnum, h2c ? ":h2c" : "",
                      transport ? transport : "");
    if (kl <= 0 || (size_t)kl >= sizeof(key)) {
        refs_fail(c, refs, what, "BackendNotFound", "backendRef name too long");
        return NULL;
    }
    const char *shared = k8s_gw__id(c, "%s-%s-%d%s%s%s", rns, name, pnum, h2c ? "-h2c" : "", transport ? "-" : "",
                                    transport ? transport : "");
    if (c->frag == NULL && !first_definition(c, key, false))
        return shared;
    struct gw_need need = {key, shared, rns, name, scheme, transport, pnum, tcp};
    if (c->frag) { /* a cached route: defined when its fragment is used */
        k8s_gw__need(c, &need);
        return shared;
    }
    first_definition(c, key, true);
    define_shared(c, &need, svc, sp);
    return shared;
#undef what
}

const char *k8s_gw__backends(struct gw_cx *c, const char *kind_name, const char *ns, const cJSON *refs, const char *id,
                             const char *scheme, const char *transport, bool tcp, struct tree_node *const *child_mws,
                             struct gw_refs *out)
{
    int n = cJSON_GetArraySize(refs);
    const char *where = id;
    if (n == 0) { /* no backends: 500, as the spec says */
        const char *invalid = arena_printf(c->pa, "%s" K8S_GW_INVALID_SUFFIX, id);
        define_lb(c, invalid, k8s_gw__seq(c, where), tcp, where);
        return invalid;
    }
    if (n == 1) {
        const char *one = k8s_gw__backend(c, kind_name, ns, refs->child, scheme, transport, tcp, out);
        if (one)
            return one;
        const char *invalid = arena_printf(c->pa, "%s" K8S_GW_INVALID_SUFFIX, id);
        define_lb(c, invalid, k8s_gw__seq(c, where), tcp, where);
        return invalid;
    }
    struct tree_node *list = k8s_gw__seq(c, where);
    int i = 0;
    for (const cJSON *r = refs->child; r; r = r->next, i++) {
        const char *child = k8s_gw__backend(c, kind_name, ns, r, scheme, transport, tcp, out);
        if (child == NULL) { /* its share fails with 500 (TCP: its share of connections is refused) */
            child = arena_printf(c->pa, "%s-b%d" K8S_GW_INVALID_SUFFIX, id, i);
            define_lb(c, child, k8s_gw__seq(c, where), tcp, where);
        }
        if (child_mws && child_mws[i] && child_mws[i]->n) { /* its own filters: a service of one child that runs them */
            struct tree_node *os = k8s_wrap_service(c->pa, where, child, child_mws[i]);
            child = arena_printf(c->pa, "%s-b%d", id, i);
            k8s_gw__add(c, c->services, child, os);
        }
        struct tree_node *e = k8s_gw__map(c, where);
        k8s_gw__put_str(c, e, "name", child);
        const cJSON *w = get(r, "weight");
        k8s_gw__put_str(c, e, "weight", arena_printf(c->pa, "%d", cJSON_IsNumber(w) ? w->valueint : 1));
        tree_seq_add(c->pa, list, e);
    }
    struct tree_node *wn = k8s_gw__map(c, where), *svc = k8s_gw__map(c, where);
    k8s_gw__add(c, wn, "services", list);
    k8s_gw__add(c, svc, "weighted", wn);
    k8s_gw__add(c, tcp ? c->tcp_services : c->services, id, svc);
    return id;
}
