/*
 * Gateway API translation: GatewayClasses, Gateways and their listeners,
 * how routes attach to listeners, backend references and every status
 * (see k8s_gateway.h). The routes' own rules are in k8s_gateway_http.c and
 * k8s_gateway_tcp.c. As for the Traefik CRDs (k8s_crd.c), the output is a
 * configuration tree in the file provider's shape decoded by
 * model_decode(); certificates go into the model directly.
 */
#include "k8s_gateway_internal.h"

#include "../../../common/base64.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>


#include "../../model_decode.h"

#define GW_GROUP "gateway.networking.k8s.io"

/* ---- helpers ---- */

const cJSON *k8s_gw__get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

const char *k8s_gw__str(const cJSON *o, const char *k)
{
    const cJSON *v = k8s_gw__get(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

const char *k8s_gw__meta(const cJSON *o, const char *k)
{
    return k8s_gw__str(k8s_gw__get(o, "metadata"), k);
}

#define get k8s_gw__get
#define str k8s_gw__str
#define meta k8s_gw__meta

void k8s_gw__problem(struct gw_cx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(c->pa, c->problems, fmt, ap);
    va_end(ap);
}

/* A model name from <fmt>, anything but [A-Za-z0-9-_] folded to '-'. */
const char *k8s_gw__id(struct gw_cx *c, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            *p = '-';
    return arena_strdup(c->pa, buf);
}

struct tree_node *k8s_gw__map(struct gw_cx *c, const char *where)
{
    return tree_new_node(c->pa, TREE_MAP, where, 0, 0);
}

struct tree_node *k8s_gw__seq(struct gw_cx *c, const char *where)
{
    return tree_new_node(c->pa, TREE_SEQ, where, 0, 0);
}

/* Keys are unique by construction: added without the search a replace
 * would cost (thousands of routers). */
void k8s_gw__add(struct gw_cx *c, struct tree_node *map, const char *key, struct tree_node *v)
{
    tree_map_add(c->pa, map, arena_strdup(c->pa, key), v);
}

void k8s_gw__put_str(struct gw_cx *c, struct tree_node *map, const char *key, const char *value)
{
    struct tree_node *n = tree_new_node(c->pa, TREE_SCALAR, map->file, 0, 0);
    n->scalar = arena_strdup(c->pa, value);
    k8s_gw__add(c, map, key, n);
}

static const char *or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

static int64_t generation(const cJSON *obj)
{
    const cJSON *g = get(get(obj, "metadata"), "generation");
    return cJSON_IsNumber(g) ? (int64_t)g->valuedouble : 0;
}

/* A status condition; lastTransitionTime is set by the writer. */
static void condition(cJSON *conds, const cJSON *obj, const char *type, bool ok, const char *reason, const char *message)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "type", type);
    cJSON_AddStringToObject(c, "status", ok ? "True" : "False");
    cJSON_AddStringToObject(c, "reason", reason);
    cJSON_AddStringToObject(c, "message", message ? message : "");
    cJSON_AddNumberToObject(c, "observedGeneration", (double)generation(obj));
    cJSON_AddItemToArray(conds, c);
}

void k8s_gw__push_status(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, cJSON *status)
{
    struct k8s_gw_statuses *s = c->st;
    if (s == NULL) {
        cJSON_Delete(status);
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->v = mem_realloc(s->v, s->cap * sizeof(*s->v));
    }
    s->v[s->n++] = (struct k8s_gw_status){kind, obj, status};
}

void k8s_gw_statuses_free(struct k8s_gw_statuses *s)
{
    for (size_t i = 0; i < s->n; i++)
        cJSON_Delete(s->v[i].status);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Base64 data of a Secret key, decoded into <pa>; NULL when absent or invalid. */
char *k8s_gw__secret_data(struct gw_cx *c, const cJSON *secret, const char *key, size_t *len)
{
    const char *in = str(get(secret, "data"), key);
    if (in == NULL)
        return NULL;
    size_t n = strlen(in);
    unsigned char *out = arena_alloc(c->pa, base64_decoded_room(n));
    return base64_decode(in, n, out, len) ? (char *)out : NULL;
}

/* ---- ReferenceGrant ---- */

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

bool k8s_gw__granted(struct gw_cx *c, const char *from_group, const char *from_kind, const char *from_ns, const char *to_group,
                     const char *to_kind, const char *to_ns, const char *to_name)
{
    const struct k8s_index *ix = &c->ix[K8S_GW_GRANTS];
    size_t n = strlen(to_ns);
    /* grants are indexed "ns/name": those of <to_ns> are contiguous */
    for (size_t i = 0; i < ix->n; i++) {
        const char *k = ix->e[i].key;
        if (strncmp(k, to_ns, n) != 0 || k[n] != '/')
            continue;
        const cJSON *spec = get(ix->e[i].obj, "spec");
        bool from_ok = false, to_ok = false;
        for (const cJSON *f = get(spec, "from") ? get(spec, "from")->child : NULL; f && !from_ok; f = f->next)
            from_ok = same(str(f, "group"), from_group) && same(str(f, "kind"), from_kind) && same(str(f, "namespace"), from_ns);
        for (const cJSON *t = get(spec, "to") ? get(spec, "to")->child : NULL; t && !to_ok; t = t->next)
            to_ok = same(str(t, "group"), to_group) && same(str(t, "kind"), to_kind) &&
                    (str(t, "name") == NULL || strcmp(str(t, "name"), to_name) == 0);
        if (from_ok && to_ok)
            return true;
    }
    return false;
}

/* ---- GatewayClass ---- */

/* A cluster-scoped object (GatewayClass, Namespace) by name: k8s_index
 * holds namespaced ones only, and these are few. */
static const cJSON *cluster_get(struct gw_cx *c, enum k8s_gw_kind k, const char *name)
{
    for (size_t i = 0; name && i < c->objs->n[k]; i++)
        if (same(meta(c->objs->items[k][i], "name"), name))
            return c->objs->items[k][i];
    return NULL;
}

static bool class_is_ours(struct gw_cx *c, const char *name)
{
    const cJSON *gc = cluster_get(c, K8S_GW_CLASSES, name);
    return gc && same(str(get(gc, "spec"), "controllerName"), c->controller);
}

static void gateway_class(struct gw_cx *c, const cJSON *gc)
{
    if (!same(str(get(gc, "spec"), "controllerName"), c->controller))
        return;
    cJSON *st = cJSON_CreateObject(), *conds = cJSON_AddArrayToObject(st, "conditions");
    condition(conds, gc, "Accepted", true, "Accepted", "Handled by gantry");
    k8s_gw__push_status(c, K8S_GW_CLASSES, gc, st);
}

/* ---- Gateway and listeners ---- */

static enum gw_proto protocol(const char *p)
{
    static const char *const names[] = {"HTTP", "HTTPS", "TLS", "TCP", "UDP"};
    for (int i = 0; i < 5; i++)
        if (p && strcmp(p, names[i]) == 0)
            return (enum gw_proto)i;
    return GW_PROTO_OTHER;
}

static unsigned default_kinds(enum gw_proto p, bool passthrough, bool experimental)
{
    switch (p) {
    case GW_HTTP:
    case GW_HTTPS:
        return GW_K_HTTP | GW_K_GRPC;
    case GW_TLS:
        return experimental ? GW_K_TLS | (passthrough ? 0 : GW_K_TCP) : 0;
    case GW_TCP:
        return experimental ? GW_K_TCP : 0;
    default:
        return 0;
    }
}

static unsigned kind_bit(const char *kind)
{
    static const char *const names[] = {"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"};
    for (int i = 0; i < 4; i++)
        if (kind && strcmp(kind, names[i]) == 0)
            return 1u << i;
    return 0;
}

/* The entry point of port <port>: its own, else web/websecure for 80/443
 * (a Service mapping 80/443 to the pod's ports). */
static const char *entrypoint(struct gw_cx *c, int port)
{
    for (size_t i = 0; i < c->o->n_entrypoints; i++)
        if (c->o->entrypoints[i].port == port)
            return c->o->entrypoints[i].name;
    const char *fallback = port == 80 ? "web" : port == 443 ? "websecure" : NULL;
    for (size_t i = 0; fallback && i < c->o->n_entrypoints; i++)
        if (strcmp(c->o->entrypoints[i].name, fallback) == 0)
            return fallback;
    return NULL;
}

/* tls.certificateRefs of an HTTPS or terminating TLS listener into the
 * model; false with the listener's ResolvedRefs reason when one fails. */
static bool listener_certs(struct gw_cx *c, const struct gw_gateway *g, struct gw_listener *l)
{
    const cJSON *refs = get(get(l->spec, "tls"), "certificateRefs");
    if (cJSON_GetArraySize(refs) == 0) {
        l->resolved_reason = "InvalidCertificateRef";
        l->message = "tls.certificateRefs is empty";
        return false;
    }
    for (const cJSON *r = refs->child; r; r = r->next) {
        const char *group = str(r, "group"), *kind = or(str(r, "kind"), "Secret"), *name = str(r, "name");
        const char *ns = or(str(r, "namespace"), g->ns);
        if ((group && *group) || strcmp(kind, "Secret") != 0 || name == NULL) {
            l->resolved_reason = "InvalidCertificateRef";
            l->message = arena_printf(c->pa, "certificateRef %s %s is not a Secret", kind, or(name, ""));
            return false;
        }
        if (strcmp(ns, g->ns) != 0 && !k8s_gw__granted(c, GW_GROUP, "Gateway", g->ns, "", "Secret", ns, name)) {
            l->resolved_reason = "RefNotPermitted";
            l->message = arena_printf(c->pa, "no ReferenceGrant in %s allows Gateways of %s to use Secret %s", ns, g->ns, name);
            return false;
        }
        const char *key = arena_printf(c->pa, "%s/%s", ns, name);
        const cJSON *s = k8s_index_get(&c->ix[K8S_GW_SECRETS], ns, name);
        size_t cl = 0, kl = 0;
        const char *crt = s ? k8s_gw__secret_data(c, s, "tls.crt", &cl) : NULL, *k = s ? k8s_gw__secret_data(c, s, "tls.key", &kl) : NULL;
        if (crt == NULL || k == NULL) {
            l->resolved_reason = "InvalidCertificateRef";
            l->message = arena_printf(c->pa, "Secret %s %s", key, s ? "has no valid tls.crt and tls.key" : "does not exist");
            return false;
        }
        bool seen = false;
        for (size_t i = 0; i < c->certs_added.len && !seen; i++)
            seen = strcmp(c->certs_added.items[i], key) == 0;
        if (seen)
            continue;
        struct model_tls_cert *mc = arena_alloc(&c->m->arena, sizeof(*mc));
        memset(mc, 0, sizeof(*mc));
        mc->cert_pem = arena_strndup(&c->m->arena, crt, cl);
        mc->key_pem = arena_strndup(&c->m->arena, k, kl);
        mc->origin = (struct model_origin){K8S_GW_PROVIDER, arena_printf(&c->m->arena, "secret %s", key)};
        ptr_vec_push(&c->m->arena, &c->m->certs, mc);
        ptr_vec_push(c->pa, &c->certs_added, (void *)key);
    }
    return true;
}

static void listener_init(struct gw_cx *c, const struct gw_gateway *g, struct gw_listener *l, const cJSON *spec)
{
    l->spec = spec;
    l->name = or(str(spec, "name"), "");
    l->hostname = str(spec, "hostname");
    l->proto = protocol(str(spec, "protocol"));
    l->port = cJSON_IsNumber(get(spec, "port")) ? get(spec, "port")->valueint : 0;
    l->passthrough = l->proto == GW_TLS && same(str(get(spec, "tls"), "mode"), "Passthrough");
    const char *what = arena_printf(c->pa, "gateway %s/%s listener %s", g->ns, g->name, l->name);
    unsigned supported = default_kinds(l->proto, l->passthrough, c->o->experimental);
    if (supported == 0) {
        l->accepted_reason = "UnsupportedProtocol";
        l->message = arena_printf(c->pa, "protocol %s is not supported%s", or(str(spec, "protocol"), "(none)"),
                                  l->proto == GW_TLS || l->proto == GW_TCP ? " (experimentalChannel is off)" : "");
        k8s_gw__problem(c, "%s: %s", what, l->message);
        return;
    }
    const cJSON *kinds = get(get(spec, "allowedRoutes"), "kinds");
    l->kinds = cJSON_GetArraySize(kinds) ? 0 : supported;
    for (const cJSON *k = kinds ? kinds->child : NULL; k; k = k->next) {
        unsigned b = kind_bit(str(k, "kind"));
        if (!same(or(str(k, "group"), GW_GROUP), GW_GROUP) || (b & supported) == 0) {
            l->resolved_reason = "InvalidRouteKinds";
            l->message = arena_printf(c->pa, "route kind %s is not supported on a %s listener", or(str(k, "kind"), ""),
                                      or(str(spec, "protocol"), ""));
            continue;
        }
        l->kinds |= b;
    }
    l->ep = entrypoint(c, l->port);
    if (l->ep == NULL) {
        l->accepted_reason = "PortUnavailable";
        l->message = arena_printf(c->pa, "no entry point listens on port %d", l->port);
        k8s_gw__problem(c, "%s: %s", what, l->message);
        return;
    }
    if ((l->proto == GW_HTTPS || (l->proto == GW_TLS && !l->passthrough)) && !listener_certs(c, g, l))
        k8s_gw__problem(c, "%s: %s", what, l->message);
}

/* Two listeners on one port: different protocols conflict (TLS passthrough
 * shares a port with HTTPS only by SNI, which gantry's entry points do
 * allow, so only HTTP vs the others is a ProtocolConflict); the same
 * protocol and hostname is a HostnameConflict. */
static void conflicts(struct gw_cx *c, struct gw_gateway *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (size_t j = 0; j < g->n; j++) {
            struct gw_listener *a = &g->l[i], *b = &g->l[j];
            if (i == j || a->port != b->port)
                continue;
            bool http_a = a->proto == GW_HTTP, http_b = b->proto == GW_HTTP;
            if (http_a != http_b || (a->proto == GW_TCP) != (b->proto == GW_TCP))
                a->conflicted_reason = "ProtocolConflict";
            else if (a->proto == b->proto && same(a->hostname, b->hostname))
                a->conflicted_reason = "HostnameConflict";
            if (a->conflicted_reason)
                k8s_gw__problem(c, "gateway %s/%s listener %s: %s with listener %s", g->ns, g->name, a->name,
                                a->conflicted_reason, b->name);
        }
}

/* Whether listener <l> is valid on its own. */
bool k8s_gw__listener_valid(const struct gw_listener *l)
{
    return l->accepted_reason == NULL && l->conflicted_reason == NULL && l->ep &&
           (l->resolved_reason == NULL || strcmp(l->resolved_reason, "InvalidRouteKinds") == 0);
}

/* Whether listener <l> of <g> serves: a Gateway whose spec.addresses
 * cannot be honoured serves on none. */
static bool listener_ok(const struct gw_gateway *g, const struct gw_listener *l)
{
    return g->addr_reason == NULL && k8s_gw__listener_valid(l);
}

static void gateway(struct gw_cx *c, const cJSON *obj)
{
    const cJSON *spec = get(obj, "spec");
    if (!class_is_ours(c, str(spec, "gatewayClassName")))
        return;
    struct gw_gateway *g = &c->gws[c->n_gws++];
    g->obj = obj;
    g->ns = meta(obj, "namespace");
    g->name = meta(obj, "name");
    const cJSON *ls = get(spec, "listeners");
    g->n = (size_t)cJSON_GetArraySize(ls);
    g->l = arena_alloc(c->pa, (g->n ? g->n : 1) * sizeof(*g->l));
    memset(g->l, 0, (g->n ? g->n : 1) * sizeof(*g->l));
    size_t i = 0;
    for (const cJSON *l = ls ? ls->child : NULL; l; l = l->next)
        listener_init(c, g, &g->l[i++], l);
    conflicts(c, g);
    k8s_gw__gateway_addresses(c, g);
    k8s_gw__isolation_siblings(c, g);
}

static void supported_kinds(cJSON *arr, unsigned kinds)
{
    static const char *const names[] = {"HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute"};
    for (int i = 0; i < 4; i++)
        if (kinds & (1u << i)) {
            cJSON *k = cJSON_CreateObject();
            cJSON_AddStringToObject(k, "group", GW_GROUP);
            cJSON_AddStringToObject(k, "kind", names[i]);
            cJSON_AddItemToArray(arr, k);
        }
}

/* status of Gateway <g>, once routes have been attached (attachedRoutes). */
static void gateway_status(struct gw_cx *c, const struct gw_gateway *g)
{
    cJSON *st = cJSON_CreateObject();
    cJSON *addrs = cJSON_AddArrayToObject(st, "addresses");
    for (size_t i = 0; i < g->n_addrs; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "type", g->addrs[i].type);
        cJSON_AddStringToObject(e, "value", g->addrs[i].value);
        cJSON_AddItemToArray(addrs, e);
    }
    size_t valid = 0;
    cJSON *ls = cJSON_AddArrayToObject(st, "listeners");
    for (size_t i = 0; i < g->n; i++) {
        const struct gw_listener *l = &g->l[i];
        bool ok = listener_ok(g, l);
        valid += k8s_gw__listener_valid(l);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", l->name);
        supported_kinds(cJSON_AddArrayToObject(e, "supportedKinds"), l->kinds);
        cJSON_AddNumberToObject(e, "attachedRoutes", l->attached);
        cJSON *conds = cJSON_AddArrayToObject(e, "conditions");
        condition(conds, g->obj, "Accepted", l->accepted_reason == NULL, or(l->accepted_reason, "Accepted"),
                  l->accepted_reason ? l->message : "");
        condition(conds, g->obj, "Conflicted", l->conflicted_reason != NULL, or(l->conflicted_reason, "NoConflicts"), "");
        condition(conds, g->obj, "ResolvedRefs", l->resolved_reason == NULL, or(l->resolved_reason, "ResolvedRefs"),
                  l->resolved_reason ? l->message : "");
        condition(conds, g->obj, "Programmed", ok, ok ? "Programmed" : "Invalid",
                  ok ? "" : g->addr_reason ? g->addr_message : l->message);
        cJSON_AddItemToArray(ls, e);
    }
    cJSON *conds = cJSON_AddArrayToObject(st, "conditions");
    bool unsupported = g->addr_reason && !g->addr_accepted;
    bool accepted = !unsupported && (valid > 0 || g->n == 0);
    condition(conds, g->obj, "Accepted", accepted,
              accepted ? "Accepted" : unsupported ? g->addr_reason : "ListenersNotValid", unsupported ? g->addr_message : "");
    if (g->addr_reason)
        condition(conds, g->obj, "Programmed", false, unsupported ? "Invalid" : g->addr_reason, g->addr_message);
    else
        condition(conds, g->obj, "Programmed", accepted, accepted ? "Programmed" : "Invalid", "");
    k8s_gw__push_status(c, K8S_GW_GATEWAYS, g->obj, st);
}

/* ---- route attachment ---- */

/* The Namespace object <ns> matches the label selector <sel>
 * (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist). */
static bool ns_selected(struct gw_cx *c, const char *ns, const cJSON *sel)
{
    const cJSON *nso = cluster_get(c, K8S_GW_NAMESPACES, ns);
    const cJSON *labels = get(get(nso, "metadata"), "labels");
    const cJSON *ml = get(sel, "matchLabels");
    for (const cJSON *kv = ml ? ml->child : NULL; kv; kv = kv->next)
        if (!cJSON_IsString(kv) || !same(str(labels, kv->string), kv->valuestring))
            return false;
    const cJSON *me = get(sel, "matchExpressions");
    for (const cJSON *e = me ? me->child : NULL; e; e = e->next) {
        const char *key = or(str(e, "key"), ""), *op = or(str(e, "operator"), ""), *v = str(labels, key);
        bool in = false;
        for (const cJSON *x = get(e, "values") ? get(e, "values")->child : NULL; x; x = x->next)
            in |= cJSON_IsString(x) && v && strcmp(x->valuestring, v) == 0;
        if ((strcmp(op, "In") == 0 && !in) || (strcmp(op, "NotIn") == 0 && in) || (strcmp(op, "Exists") == 0 && !v) ||
            (strcmp(op, "DoesNotExist") == 0 && v))
            return false;
    }
    return true;
}

static bool namespace_allowed(struct gw_cx *c, const struct gw_gateway *g, const struct gw_listener *l, const char *ns)
{
    const cJSON *from = get(get(l->spec, "allowedRoutes"), "namespaces");
    const char *f = or(str(from, "from"), "Same");
    if (strcmp(f, "All") == 0)
        return true;
    if (strcmp(f, "Selector") == 0)
        return ns_selected(c, ns, get(from, "selector"));
    return strcmp(ns, g->ns) == 0;
}

/* The hostnames route <obj> and listener <l> share; false when none. */
static bool intersect(struct gw_cx *c, const cJSON *obj, const struct gw_listener *l, struct gw_attach *a)
{
    const cJSON *hs = get(get(obj, "spec"), "hostnames");
    size_t n = (size_t)cJSON_GetArraySize(hs);
    a->n_hosts = 0;
    if (n == 0) {
        if (l->hostname) {
            a->hosts = arena_alloc(c->pa, sizeof(*a->hosts));
            a->hosts[a->n_hosts++] = l->hostname;
        }
        return true;
    }
    a->hosts = arena_alloc(c->pa, n * sizeof(*a->hosts));
    for (const cJSON *h = hs->child; h; h = h->next) {
        if (!cJSON_IsString(h))
            continue;
        const char *r = h->valuestring;
        if (l->hostname == NULL || k8s_gw__host_within(r, l->hostname))
            a->hosts[a->n_hosts++] = r;
        else if (k8s_gw__host_within(l->hostname, r))
            a->hosts[a->n_hosts++] = l->hostname;
    }
    return a->n_hosts > 0;
}

struct gw_attach *k8s_gw__attach(struct gw_cx *c, const cJSON *obj, unsigned kind, size_t *n_out)
{
    const char *ns = meta(obj, "namespace");
    const cJSON *prs = get(get(obj, "spec"), "parentRefs");
    size_t cap = 0, n = 0;
    for (const cJSON *p = prs ? prs->child : NULL; p; p = p->next)
        for (size_t g = 0; g < c->n_gws; g++)
            cap += c->gws[g].n;
    struct gw_attach *out = arena_alloc(c->pa, (cap ? cap : 1) * sizeof(*out));
    cJSON_Delete(c->pending_parents);
    c->pending_parents = c->st ? cJSON_CreateArray() : NULL;
    for (const cJSON *p = prs ? prs->child : NULL; p; p = p->next) {
        if (!same(or(str(p, "group"), GW_GROUP), GW_GROUP) || !same(or(str(p, "kind"), "Gateway"), "Gateway"))
            continue;
        const char *gns = or(str(p, "namespace"), ns), *gname = or(str(p, "name"), "");
        const struct gw_gateway *g = NULL;
        for (size_t i = 0; i < c->n_gws && !g; i++)
            if (strcmp(c->gws[i].ns, gns) == 0 && strcmp(c->gws[i].name, gname) == 0)
                g = &c->gws[i];
        if (g == NULL)
            continue; /* not ours (or not there): not ours to write either */
        const char *section = str(p, "sectionName");
        int port = cJSON_IsNumber(get(p, "port")) ? get(p, "port")->valueint : 0;
        const char *reason = "NoMatchingParent", *message = "";
        if (g->addr_reason)
            message = arena_printf(c->pa, "Gateway %s/%s is not programmed: %s", gns, gname, g->addr_message);
        size_t before = n;
        for (size_t i = 0; i < g->n; i++) {
            struct gw_listener *l = &g->l[i];
            if ((section && strcmp(section, l->name) != 0) || (port && port != l->port))
                continue;
            if (!listener_ok(g, l)) {
                continue;
            }
            if ((l->kinds & kind) == 0 || !namespace_allowed(c, g, l, ns)) {
                if (strcmp(reason, "NoMatchingParent") == 0)
                    reason = "NotAllowedByListeners";
                continue;
            }
            struct gw_attach a = {g, l, NULL, 0, NULL, NULL};
            if ((kind & (GW_K_TCP)) == 0 && !intersect(c, obj, l, &a)) {
                reason = "NoMatchingListenerHostname";
                continue;
            }
            out[n++] = a;
        }
        bool ok = n > before;
        if (!ok)
            k8s_gw__problem(c, "route %s/%s: not accepted by gateway %s/%s: %s%s%s", ns, meta(obj, "name"), gns, gname, reason,
                            *message ? ": " : "", message);
        if (c->st == NULL)
            continue; /* no statuses wanted this time */
        cJSON *e = cJSON_CreateObject(), *ref = cJSON_AddObjectToObject(e, "parentRef");
        cJSON_AddStringToObject(ref, "group", GW_GROUP);
        cJSON_AddStringToObject(ref, "kind", "Gateway");
        cJSON_AddStringToObject(ref, "namespace", gns);
        cJSON_AddStringToObject(ref, "name", gname);
        if (section)
            cJSON_AddStringToObject(ref, "sectionName", section);
        if (port)
            cJSON_AddNumberToObject(ref, "port", port);
        cJSON_AddStringToObject(e, "controllerName", c->controller);
        cJSON *conds = cJSON_AddArrayToObject(e, "conditions");
        condition(conds, obj, "Accepted", ok, ok ? "Accepted" : reason, ok ? "" : message);
        cJSON_AddItemToArray(c->pending_parents, e);
    }
    for (size_t i = 0; i < n; i++)
        if (c->frag) /* counted when the fragment is used */
            k8s_gw__frag_attached(c, out[i].gw, out[i].l);
        else
            out[i].l->attached++;
    *n_out = n;
    return out;
}

void k8s_gw__route_status(struct gw_cx *c, enum k8s_gw_kind kind, const cJSON *obj, const struct gw_refs *refs)
{
    cJSON *parents = c->pending_parents;
    c->pending_parents = NULL;
    if (parents == NULL || cJSON_GetArraySize(parents) == 0) {
        cJSON_Delete(parents);
        return;
    }
    for (cJSON *e = parents->child; e; e = e->next)
        condition(cJSON_GetObjectItemCaseSensitive(e, "conditions"), obj, "ResolvedRefs", refs->reason == NULL,
                  or(refs->reason, "ResolvedRefs"), or(refs->message, ""));
    cJSON *st = cJSON_CreateObject();
    cJSON_AddItemToObject(st, "parents", parents);
    k8s_gw__push_status(c, kind, obj, st);
}

/* ---- hostnames ---- */

const char *k8s_gw__host_rule(struct gw_cx *c, const char *h, bool sni)
{
    if (h[0] != '*')
        return arena_printf(c->pa, "%s(`%s`)", sni ? "HostSNI" : "Host", h);
    /* "*.example.com": one or more labels before the suffix */
    char *rx = arena_alloc(c->pa, strlen(h) * 2 + 32), *o = rx;
    o += sprintf(o, "^[a-z0-9-]+(\\.[a-z0-9-]+)*");
    for (const char *p = h + 1; *p; p++) {
        if (*p == '.')
            *o++ = '\\';
        *o++ = (char)tolower((unsigned char)*p);
    }
    strcpy(o, "$");
    return arena_printf(c->pa, "%s(`%s`)", sni ? "HostSNIRegexp" : "HostRegexp", rx);
}

/* ---- entry point ---- */

typedef void (*object_cb)(struct gw_cx *c, const cJSON *obj);

static void for_each(struct gw_cx *c, const struct k8s_gw_objects *objs, enum k8s_gw_kind k, object_cb fn)
{
    for (size_t i = 0; i < objs->n[k]; i++)
        if (meta(objs->items[k][i], "name") && (k == K8S_GW_CLASSES || meta(objs->items[k][i], "namespace")))
            fn(c, objs->items[k][i]);
}

static void http_routes(struct gw_cx *c, const cJSON *obj)
{
    k8s_gw__cached_route(c, K8S_GW_HTTPROUTES, obj, k8s_gw__http_route);
}

static void grpc_routes(struct gw_cx *c, const cJSON *obj)
{
    k8s_gw__cached_route(c, K8S_GW_GRPCROUTES, obj, k8s_gw__grpc_route);
}

struct model *k8s_gw_translate(const struct k8s_gw_objects *objs, const struct k8s_gw_options *o, struct arena *pa,
                               struct ptr_vec *problems, struct k8s_gw_statuses *st)
{
    return k8s_gw_translate_cached(objs, o, NULL, 0, pa, problems, st);
}

struct model *k8s_gw_translate_cached(const struct k8s_gw_objects *objs, const struct k8s_gw_options *o,
                                      struct k8s_gw_cache *cache, uint64_t context, struct arena *pa,
                                      struct ptr_vec *problems, struct k8s_gw_statuses *st)
{
    struct gw_cx c = {.o = o, .objs = objs, .m = model_new(K8S_GW_PROVIDER), .pa = pa, .problems = problems, .st = st,
                      .cache = cache, .context = context};
    c.controller = o->controller_name && *o->controller_name ? o->controller_name : K8S_GW_DEFAULT_CONTROLLER;
    /* only what is looked up by name: routes and Gateways are walked in order */
    static const enum k8s_gw_kind indexed[] = {K8S_GW_GRANTS, K8S_GW_SERVICES, K8S_GW_SLICES, K8S_GW_SECRETS, K8S_GW_CONFIGMAPS};
    for (size_t i = 0; i < sizeof(indexed) / sizeof(*indexed); i++)
        k8s_index_build(pa, &c.ix[indexed[i]], objs->items[indexed[i]], objs->n[indexed[i]],
                        indexed[i] == K8S_GW_SLICES ? "kubernetes.io/service-name" : NULL);
    c.gws = arena_alloc(pa, (objs->n[K8S_GW_GATEWAYS] + 1) * sizeof(*c.gws));
    c.root = k8s_gw__map(&c, K8S_GW_PROVIDER);
    struct tree_node *http = k8s_gw__map(&c, K8S_GW_PROVIDER), *tcp = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.routers = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.services = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.middlewares = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.transports = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.tcp_routers = k8s_gw__map(&c, K8S_GW_PROVIDER);
    c.tcp_services = k8s_gw__map(&c, K8S_GW_PROVIDER);
    k8s_gw__add(&c, c.root, "http", http);
    k8s_gw__add(&c, c.root, "tcp", tcp);
    k8s_gw__add(&c, http, "routers", c.routers);
    k8s_gw__add(&c, http, "services", c.services);
    k8s_gw__add(&c, http, "middlewares", c.middlewares);
    k8s_gw__add(&c, http, "serversTransports", c.transports);
    k8s_gw__add(&c, tcp, "routers", c.tcp_routers);
    k8s_gw__add(&c, tcp, "services", c.tcp_services);
    for_each(&c, objs, K8S_GW_CLASSES, gateway_class);
    for_each(&c, objs, K8S_GW_GATEWAYS, gateway);
    if (o->experimental)
        k8s_gw__backend_tls_policies(&c);
    for_each(&c, objs, K8S_GW_HTTPROUTES, http_routes);
    for_each(&c, objs, K8S_GW_GRPCROUTES, grpc_routes);
    if (o->experimental) {
        for_each(&c, objs, K8S_GW_TLSROUTES, k8s_gw__tls_route);
        for_each(&c, objs, K8S_GW_TCPROUTES, k8s_gw__tcp_route);
    }
    for (size_t i = 0; i < c.n_gws; i++)
        gateway_status(&c, &c.gws[i]);
    k8s_gw__backend_tls_status(&c);
    struct decode_report rep;
    decode_report_init(&rep);
    model_decode(c.m, c.root, &rep);
    for (size_t i = 0; i < rep.errors.len; i++)
        k8s_gw__problem(&c, "%s", (const char *)rep.errors.items[i]);
    for (size_t i = 0; i < rep.warnings.len; i++)
        k8s_gw__problem(&c, "warning: %s", (const char *)rep.warnings.items[i]);
    decode_report_free(&rep);
    size_t sl = strlen(K8S_GW_INVALID_SUFFIX);
    for (size_t i = 0; i < c.m->services.len; i++) {
        struct model_service *s = c.m->services.items[i];
        size_t l = strlen(s->name);
        if (s->lb && l > sl && strcmp(s->name + l - sl, K8S_GW_INVALID_SUFFIX) == 0)
            s->lb->empty_status = 500;
    }
    k8s_gw__cache_sweep(&c);
    return c.m;
}
