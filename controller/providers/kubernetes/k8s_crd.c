/*
 * Traefik CRD translation (see k8s_crd.h). The objects become one
 * configuration tree in the file provider's shape (http.routers,
 * http.services, http.middlewares, http.serversTransports, tls.options),
 * which model_decode() turns into the model; certificates from Secrets go
 * into the model directly. Every tree node's "file" names the object it
 * came from, so decoding errors say "ingressroute default/web".
 */
#include "k8s_crd.h"

#include "../../../common/base64.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "k8s_index.h"
#include "k8s_wrap.h"
#include "../../model_decode.h"
#include "../../tree.h"

struct cx {
    const struct k8s_crd_options *o;
    struct model *m;
    struct arena *pa; /* problems and the tree */
    struct ptr_vec *problems;
    struct k8s_index ix[K8S_CRD_KINDS];
    struct tree_node *root, *routers, *services, *middlewares, *transports, *tls_options;
    struct tree_node *tcp_routers, *tcp_services, *tcp_middlewares, *tcp_transports;
    struct tree_node *udp_routers, *udp_services;
    struct ptr_vec certs_added; /* "ns/secret" already in m->certs */
};

/* ---- helpers ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

static const char *meta(const cJSON *o, const char *k)
{
    return str(get(o, "metadata"), k);
}

static void problem(struct cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct cx *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(c->pa, c->problems, fmt, ap);
    va_end(ap);
}

static const cJSON *find(const struct cx *c, enum k8s_crd_kind k, const char *ns, const char *name)
{
    return k8s_index_get(&c->ix[k], ns, name);
}

/* Traefik's object names: "<ns>-<name>", with anything but [A-Za-z0-9-_]
 * folded to '-' so that the result is a valid model name. */
static const char *make_id(struct cx *c, const char *ns, const char *name)
{
    char *out = arena_printf(&c->m->arena, "%s-%s", ns, name);
    for (char *p = out; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            *p = '-';
    return out;
}

/* Base64 data of a Secret key, decoded into <pa>; NULL when absent or
 * invalid. */
static char *secret_data(struct cx *c, const cJSON *secret, const char *key, size_t *len)
{
    const char *in = str(get(secret, "data"), key);
    if (in == NULL)
        return NULL;
    size_t n = strlen(in), l;
    unsigned char *out = arena_alloc(c->pa, base64_decoded_room(n));
    if (!base64_decode(in, n, out, &l))
        return NULL;
    if (len)
        *len = l;
    return (char *)out;
}

/* ---- tree building ---- */

static struct tree_node *node(struct cx *c, enum tree_kind kind, const char *where)
{
    return tree_new_node(c->pa, kind, where, 0, 0);
}

static struct tree_node *scalar(struct cx *c, const char *value, const char *where)
{
    struct tree_node *n = node(c, TREE_SCALAR, where);
    n->scalar = arena_strdup(c->pa, value);
    return n;
}

static void put(struct cx *c, struct tree_node *map, const char *key, struct tree_node *v)
{
    tree_map_remove_ci(map, key);
    tree_map_add(c->pa, map, arena_strdup(c->pa, key), v);
}

static void put_str(struct cx *c, struct tree_node *map, const char *key, const char *value)
{
    put(c, map, key, scalar(c, value, map->file));
}

/* A JSON value as a tree (numbers and booleans as their text, as YAML
 * scalars would be). */
static struct tree_node *from_json(struct cx *c, const cJSON *j, const char *where)
{
    if (cJSON_IsObject(j)) {
        struct tree_node *n = node(c, TREE_MAP, where);
        for (const cJSON *k = j->child; k; k = k->next)
            tree_map_add(c->pa, n, arena_strdup(c->pa, k->string), from_json(c, k, where));
        return n;
    }
    if (cJSON_IsArray(j)) {
        struct tree_node *n = node(c, TREE_SEQ, where);
        for (const cJSON *k = j->child; k; k = k->next)
            tree_seq_add(c->pa, n, from_json(c, k, where));
        return n;
    }
    if (cJSON_IsString(j))
        return scalar(c, j->valuestring, where);
    if (cJSON_IsBool(j))
        return scalar(c, cJSON_IsTrue(j) ? "true" : "false", where);
    if (cJSON_IsNumber(j)) {
        char buf[64];
        /* integers print as integers; the bound keeps the cast defined */
        if (fabs(j->valuedouble) < 9e15 && j->valuedouble == (double)(long long)j->valuedouble)
            snprintf(buf, sizeof(buf), "%lld", (long long)j->valuedouble);
        else
            snprintf(buf, sizeof(buf), "%g", j->valuedouble);
        return scalar(c, buf, where);
    }
    return node(c, TREE_NULL, where);
}

/* ---- references ---- */

/* The namespace a {name, namespace} reference of an object of <ns> points
 * into; NULL (with a problem) when that is another namespace and
 * allowCrossNamespace is off. */
static const char *ref_ns(struct cx *c, const cJSON *ref, const char *ns, const char *what)
{
    const char *rns = str(ref, "namespace");
    if (rns == NULL || strcmp(rns, ns) == 0)
        return ns;
    if (!c->o->allow_cross_namespace) {
        problem(c,
                "%s: reference to %s/%s in another namespace refused (providers.kubernetesCRD.allowCrossNamespace "
                "is false)",
                what, rns, str(ref, "name") ? str(ref, "name") : "");
        return NULL;
    }
    return rns;
}

/* ---- services ---- */

/* A server {url: scheme://addr:port}, or {address: addr:port} for TCP
 * (<scheme> NULL). */
static void add_url(struct cx *c, struct tree_node *servers, const char *scheme, const char *addr, int port, const char *where)
{
    bool v6 = strchr(addr, ':') != NULL;
    struct tree_node *s = node(c, TREE_MAP, where);
    const char *hostport = arena_printf(c->pa, "%s%s%s:%d", v6 ? "[" : "", addr, v6 ? "]" : "", port);
    if (scheme)
        put(c, s, "url", scalar(c, arena_printf(c->pa, "%s://%s", scheme, hostport), where));
    else
        put(c, s, "address", scalar(c, hostport, where));
    tree_seq_add(c->pa, servers, s);
}

static bool endpoint_usable(const cJSON *ep, bool want_ready)
{
    const cJSON *cond = get(ep, "conditions");
    const cJSON *ready = get(cond, "ready");
    if (want_ready)
        return ready == NULL || cJSON_IsNull(ready) || cJSON_IsTrue(ready); /* unset means ready */
    return cJSON_IsTrue(get(cond, "serving")) && cJSON_IsTrue(get(cond, "terminating"));
}

/* Fills <servers> with the endpoints of Service <svc> (namespace <ns>)
 * behind its port <sp>: the ready ones, else the serving-but-terminating
 * ones; the ClusterIP with nativeLB. */
static void endpoints(struct cx *c, const char *ns, const cJSON *svc, const cJSON *sp, const char *scheme, bool native,
                      struct tree_node *servers, const char *where)
{
    const cJSON *spec = get(svc, "spec");
    int svc_port = cJSON_IsNumber(get(sp, "port")) ? get(sp, "port")->valueint : 0;
    if (native) {
        const char *ip = str(spec, "clusterIP");
        if (ip && strcmp(ip, "None") != 0)
            add_url(c, servers, scheme, ip, svc_port, where);
        return;
    }
    const char *sp_name = str(sp, "name");
    const cJSON *target = get(sp, "targetPort");
    size_t n = 0;
    const struct k8s_index_entry *slices = k8s_index_find(&c->ix[K8S_CRD_SLICES], ns, meta(svc, "name"), &n);
    for (int pass = 0; pass < 2 && servers->n == 0; pass++) {
        for (size_t i = 0; i < n; i++) {
            const cJSON *es = slices[i].obj;
            int port = 0;
            for (const cJSON *p = get(es, "ports") ? get(es, "ports")->child : NULL; p; p = p->next) {
                const char *pn = str(p, "name");
                bool same = pn == NULL ? sp_name == NULL : (sp_name && strcmp(pn, sp_name) == 0);
                if (same && cJSON_IsNumber(get(p, "port")))
                    port = get(p, "port")->valueint;
            }
            if (port == 0 && cJSON_IsNumber(target))
                port = target->valueint;
            if (port <= 0)
                continue;
            for (const cJSON *ep = get(es, "endpoints") ? get(es, "endpoints")->child : NULL; ep; ep = ep->next) {
                if (!endpoint_usable(ep, pass == 0))
                    continue;
                for (const cJSON *a = get(ep, "addresses") ? get(ep, "addresses")->child : NULL; a; a = a->next)
                    if (cJSON_IsString(a))
                        add_url(c, servers, scheme, a->valuestring, port, where);
            }
        }
    }
}

/* The load-balancer options a service reference may carry, copied from
 * the reference into <lb>. */
static void lb_options(struct cx *c, const cJSON *ref, const char *ns, struct tree_node *lb, const char *where)
{
    static const char *const passthrough[] = {"strategy", "sticky", "healthCheck", "passHostHeader", "responseForwarding"};
    for (size_t i = 0; i < sizeof(passthrough) / sizeof(*passthrough); i++)
        if (get(ref, passthrough[i]))
            put(c, lb, passthrough[i], from_json(c, get(ref, passthrough[i]), where));
    const char *st = str(ref, "serversTransport");
    if (st)
        put_str(c, lb, "serversTransport", strchr(st, '@') ? st : make_id(c, ns, st));
}

/* The model service for a reference to a Kubernetes Service: <id>, or
 * "<ns>-<svc>-<port>" when NULL (weighted/mirroring children,
 * errors.service), defined once. A route's only service is named after the
 * route, as Traefik does, so that its options (sticky, scheme, transport)
 * belong to that route alone. NULL with a problem when the Service, its
 * port or (without allowEmptyServices) its endpoints are missing. With
 * <l4> (c->tcp_services, c->udp_services), a service of addresses there
 * (IngressRouteTCP, IngressRouteUDP); NULL: an HTTP one. */
static const char *kube_service(struct cx *c, const char *ns, const cJSON *ref, const char *id, struct tree_node *l4,
                                const char *what, const char *where)
{
    bool tcp = l4 != NULL;
    struct tree_node *into = tcp ? l4 : c->services;
    const char *name = str(ref, "name");
    const cJSON *port = get(ref, "port");
    char portbuf[32] = "";
    if (cJSON_IsNumber(port))
        snprintf(portbuf, sizeof(portbuf), "%d", port->valueint);
    else if (cJSON_IsString(port))
        snprintf(portbuf, sizeof(portbuf), "%s", port->valuestring);
    if (name == NULL || portbuf[0] == '\0') {
        problem(c, "%s: service reference without name or port", what);
        return NULL;
    }
    if (id == NULL)
        id = make_id(c, ns, arena_printf(c->pa, "%s-%s", name, portbuf));
    if (tree_map_get(into, id))
        return id;
    const cJSON *svc = find(c, K8S_CRD_SERVICES, ns, name);
    if (svc == NULL) {
        problem(c, "%s: service %s/%s does not exist", what, ns, name);
        return NULL;
    }
    const cJSON *spec = get(svc, "spec"), *sp = NULL;
    for (const cJSON *p = get(spec, "ports") ? get(spec, "ports")->child : NULL; p; p = p->next) {
        const cJSON *pn = get(p, "port");
        if ((cJSON_IsString(port) && str(p, "name") && strcmp(str(p, "name"), port->valuestring) == 0) ||
            (cJSON_IsNumber(port) && cJSON_IsNumber(pn) && pn->valueint == port->valueint)) {
            sp = p;
            break;
        }
    }
    const char *type = str(spec, "type");
    bool external = type && strcmp(type, "ExternalName") == 0;
    if ((sp == NULL || !cJSON_IsNumber(get(sp, "port"))) && !(external && cJSON_IsNumber(port))) {
        problem(c, "%s: service %s/%s has no port %s", what, ns, name, portbuf);
        return NULL;
    }
    int port_no = sp && cJSON_IsNumber(get(sp, "port")) ? get(sp, "port")->valueint : port->valueint;
    const char *sp_name = sp ? str(sp, "name") : NULL;
    const char *scheme = str(ref, "scheme");
    if (scheme == NULL)
        scheme = port_no == 443 || (sp_name && strncmp(sp_name, "https", 5) == 0) ? "https" : "http";
    if (tcp)
        scheme = NULL;
    struct tree_node *svc_node = node(c, TREE_MAP, where), *lb = node(c, TREE_MAP, where);
    struct tree_node *servers = node(c, TREE_SEQ, where);
    if (external) {
        if (!c->o->allow_external_name) {
            problem(c,
                    "%s: service %s/%s is of type ExternalName, which is not allowed "
                    "(providers.kubernetesCRD.allowExternalNameServices)",
                    what, ns, name);
            return NULL;
        }
        if (str(spec, "externalName"))
            add_url(c, servers, scheme, str(spec, "externalName"), port_no, where);
    } else {
        /* nativeLB, when set, wins over nativeLBByDefault (Traefik v3) */
        const cJSON *native = get(ref, "nativeLB");
        endpoints(c, ns, svc, sp, scheme, cJSON_IsBool(native) ? cJSON_IsTrue(native) : c->o->native_lb_by_default,
                  servers, where);
    }
    if (servers->n == 0 && !c->o->allow_empty_services) {
        problem(c, "%s: service %s/%s has no endpoints (providers.kubernetesCRD.allowEmptyServices is false)", what, ns, name);
        return NULL;
    }
    put(c, lb, "servers", servers);
    if (!tcp)
        lb_options(c, ref, ns, lb, where);
    put(c, svc_node, "loadBalancer", lb);
    put(c, into, id, svc_node);
    return id;
}

static struct tree_node *route_middlewares(struct cx *c, const char *ns, const cJSON *mws, enum k8s_crd_kind kind, const char *what,
                                           const char *where);

/* A reference's own middlewares (services[].middlewares, Traefik v3.7's
 * service middlewares): <child> is reached through a service of one child
 * that carries them (k8s_wrap.h), named after the child, the referring object and the
 * names, so that each reference site keeps its own. The aggregator runs
 * them where the service is used (the router's service, or a weighted
 * service's child) and refuses the routers where it cannot. */
static const char *with_ref_middlewares(struct cx *c, const char *ns, const cJSON *ref, const char *child, const char *what,
                                        const char *where)
{
    const cJSON *mws = get(ref, "middlewares");
    if (child == NULL || cJSON_GetArraySize(mws) == 0)
        return child;
    struct tree_node *names = route_middlewares(c, ns, mws, K8S_CRD_MIDDLEWARES, what, where);
    if (names == NULL)
        return NULL;
    const char *key = what;
    for (size_t i = 0; i < names->n; i++)
        key = arena_printf(c->pa, "%s|%s", key, names->items[i]->scalar);
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)key, strlen(key), h);
    const char *id = arena_printf(c->pa, "%s-mw-%02x%02x%02x%02x%02x", child, h[0], h[1], h[2], h[3], h[4]);
    if (tree_map_get(c->services, id))
        return id;
    put(c, c->services, id, k8s_wrap_service(c->pa, where, child, names));
    return id;
}

/* Any service reference: kind Service (default; named <id> when given) or
 * TraefikService ("<ns>-<name>", or "name@provider" as it is), through its
 * own middlewares when it has some. */
static const char *service_ref_plain(struct cx *c, const char *ns, const cJSON *ref, const char *id, const char *what,
                                     const char *where);

static const char *service_ref(struct cx *c, const char *ns, const cJSON *ref, const char *id, const char *what, const char *where)
{
    return with_ref_middlewares(c, ns, ref, service_ref_plain(c, ns, ref, id, what, where), what, where);
}

static const char *service_ref_plain(struct cx *c, const char *ns, const cJSON *ref, const char *id, const char *what,
                                     const char *where)
{
    const char *kind = str(ref, "kind"), *name = str(ref, "name");
    if (name == NULL) {
        problem(c, "%s: service reference without a name", what);
        return NULL;
    }
    if (kind && strcmp(kind, "TraefikService") == 0) {
        if (strchr(name, '@'))
            return name;
        const char *rns = ref_ns(c, ref, ns, what);
        if (rns == NULL)
            return NULL;
        if (find(c, K8S_CRD_TRAEFIKSERVICES, rns, name) == NULL) {
            problem(c, "%s: TraefikService %s/%s does not exist", what, rns, name);
            return NULL;
        }
        return make_id(c, rns, name);
    }
    if (kind && strcmp(kind, "Service") != 0) {
        problem(c, "%s: service kind '%s' is neither Service nor TraefikService", what, kind);
        return NULL;
    }
    const char *rns = ref_ns(c, ref, ns, what);
    return rns ? kube_service(c, rns, ref, id, NULL, what, where) : NULL;
}

static bool weighted_as(struct cx *c, const char *kind, const char *id, const char *ns, const cJSON *refs, const cJSON *sticky,
                        const char *what, const char *where);

/* A weighted service <id> over the references <refs>; false when one fails. */
static bool weighted(struct cx *c, const char *id, const char *ns, const cJSON *refs, const cJSON *sticky, const char *what,
                     const char *where)
{
    return weighted_as(c, "weighted", id, ns, refs, sticky, what, where);
}

/* failover: {service, fallback, errors} (TraefikService, Traefik v3.7). */
static void failover(struct cx *c, const char *id, const char *ns, const cJSON *fo, const char *what, const char *where)
{
    const char *main = service_ref(c, ns, get(fo, "service"), NULL, what, where);
    const char *fallback = main ? service_ref(c, ns, get(fo, "fallback"), NULL, what, where) : NULL;
    if (fallback == NULL)
        return;
    struct tree_node *f = node(c, TREE_MAP, where), *svc = node(c, TREE_MAP, where);
    put_str(c, f, "service", main);
    put_str(c, f, "fallback", fallback);
    const cJSON *errors = get(fo, "errors");
    if (errors != NULL) /* status, maxRequestBodyBytes: checked by the decoder */
        put(c, f, "errors", from_json(c, errors, where));
    put(c, svc, "failover", f);
    put(c, c->services, id, svc);
}

static bool weighted_as(struct cx *c, const char *kind, const char *id, const char *ns, const cJSON *refs, const cJSON *sticky,
                        const char *what, const char *where)
{
    struct tree_node *list = node(c, TREE_SEQ, where);
    for (const cJSON *r = refs ? refs->child : NULL; r; r = r->next) {
        const char *child = service_ref(c, ns, r, NULL, what, where);
        if (child == NULL)
            return false;
        struct tree_node *e = node(c, TREE_MAP, where);
        put_str(c, e, "name", child);
        const cJSON *w = get(r, "weight");
        put_str(c, e, "weight", arena_printf(c->pa, "%d", cJSON_IsNumber(w) ? w->valueint : 1));
        tree_seq_add(c->pa, list, e);
    }
    struct tree_node *wn = node(c, TREE_MAP, where), *svc = node(c, TREE_MAP, where);
    put(c, wn, "services", list);
    if (sticky)
        put(c, wn, "sticky", from_json(c, sticky, where));
    put(c, svc, kind, wn);
    put(c, c->services, id, svc);
    return true;
}

static void traefik_service(struct cx *c, const cJSON *ts)
{
    const char *ns = meta(ts, "namespace"), *name = meta(ts, "name");
    const char *what = arena_printf(c->pa, "traefikservice %s/%s", ns, name);
    const char *where = arena_printf(c->pa, "traefikservice %s/%s", ns, name);
    const char *id = make_id(c, ns, name);
    const cJSON *spec = get(ts, "spec"), *w = get(spec, "weighted"), *mi = get(spec, "mirroring");
    if (w) {
        weighted(c, id, ns, get(w, "services"), get(w, "sticky"), what, where);
        return;
    }
    if (get(spec, "highestRandomWeight")) {
        weighted_as(c, "highestRandomWeight", id, ns, get(get(spec, "highestRandomWeight"), "services"), NULL, what, where);
        return;
    }
    if (get(spec, "failover")) {
        failover(c, id, ns, get(spec, "failover"), what, where);
        return;
    }
    if (mi == NULL) {
        problem(c, "%s: none of weighted, mirroring, highestRandomWeight, failover", what);
        return;
    }
    const char *main = service_ref(c, ns, mi, NULL, what, where);
    if (main == NULL)
        return;
    struct tree_node *mn = node(c, TREE_MAP, where), *mirrors = node(c, TREE_SEQ, where);
    put_str(c, mn, "service", main);
    for (const cJSON *r = get(mi, "mirrors") ? get(mi, "mirrors")->child : NULL; r; r = r->next) {
        const char *child = service_ref(c, ns, r, NULL, what, where);
        if (child == NULL)
            return;
        struct tree_node *e = node(c, TREE_MAP, where);
        put_str(c, e, "name", child);
        if (get(r, "percent"))
            put(c, e, "percent", from_json(c, get(r, "percent"), where));
        tree_seq_add(c->pa, mirrors, e);
    }
    put(c, mn, "mirrors", mirrors);
    if (get(mi, "mirrorBody"))
        put(c, mn, "mirrorBody", from_json(c, get(mi, "mirrorBody"), where));
    if (get(mi, "maxBodySize"))
        put(c, mn, "maxBodySize", from_json(c, get(mi, "maxBodySize"), where));
    struct tree_node *svc = node(c, TREE_MAP, where);
    put(c, svc, "mirroring", mn);
    put(c, c->services, id, svc);
}

/* ---- middlewares ---- */

/* basicAuth/digestAuth.secret: the Secret's "users" lines, or for a
 * kubernetes.io/basic-auth Secret (basicAuth only) username with the
 * password as {SHA}, as Traefik does. */
static bool auth_users(struct cx *c, const char *ns, struct tree_node *body, const char *secret, bool basic, const char *what)
{
    const cJSON *s = find(c, K8S_CRD_SECRETS, ns, secret);
    if (s == NULL) {
        problem(c, "%s: secret %s/%s does not exist", what, ns, secret);
        return false;
    }
    struct tree_node *users = node(c, TREE_SEQ, body->file);
    const char *type = str(s, "type");
    if (basic && type && strcmp(type, "kubernetes.io/basic-auth") == 0) {
        size_t pl = 0;
        const char *u = secret_data(c, s, "username", NULL), *p = secret_data(c, s, "password", &pl);
        if (u == NULL || p == NULL) {
            problem(c, "%s: secret %s/%s has no username and password", what, ns, secret);
            return false;
        }
        unsigned char sha[SHA_DIGEST_LENGTH];
        char b64[64];
        SHA1((const unsigned char *)p, pl, sha);
        EVP_EncodeBlock((unsigned char *)b64, sha, SHA_DIGEST_LENGTH);
        tree_seq_add(c->pa, users, scalar(c, arena_printf(c->pa, "%s:{SHA}%s", u, b64), body->file));
    } else {
        char *text = secret_data(c, s, "users", NULL);
        if (text == NULL) {
            problem(c, "%s: secret %s/%s has no users key", what, ns, secret);
            return false;
        }
        for (char *line = text; *line;) { /* one user per line; blank lines and CRs dropped */
            size_t l = strcspn(line, "\r\n");
            if (l)
                tree_seq_add(c->pa, users, scalar(c, arena_strndup(c->pa, line, l), body->file));
            line += l;
            line += strspn(line, "\r\n");
        }
    }
    tree_map_remove_ci(body, "secret");
    put(c, body, "users", users);
    return true;
}

static const char *ca_pem(struct cx *c, const char *ns, const char *name, const char *what);

/* forwardAuth.tls: caSecret and certSecret (Secrets in the middleware's
 * namespace, read as Traefik reads them) become the inline PEM of tls.ca,
 * tls.cert and tls.key. */
static bool forward_auth_tls(struct cx *c, const char *ns, const cJSON *tls, struct tree_node *body, const char *what)
{
    struct tree_node *t = tree_map_get_ci(body, "tls");
    if (t == NULL || t->kind != TREE_MAP || !cJSON_IsObject(tls)) {
        problem(c, "%s: forwardAuth.tls must be an object", what);
        return false;
    }
    const cJSON *ca = get(tls, "caSecret"), *cert = get(tls, "certSecret");
    if (ca != NULL) {
        const char *pem = ca_pem(c, ns, cJSON_IsString(ca) ? ca->valuestring : NULL, what);
        if (pem == NULL)
            return false;
        put_str(c, t, "ca", pem);
    }
    if (cert != NULL) {
        const cJSON *sec = cJSON_IsString(cert) ? find(c, K8S_CRD_SECRETS, ns, cert->valuestring) : NULL;
        const char *crt = sec ? secret_data(c, sec, "tls.crt", NULL) : NULL, *key = sec ? secret_data(c, sec, "tls.key", NULL) : NULL;
        if (crt == NULL || key == NULL) {
            problem(c, "%s: forwardAuth.tls.certSecret %s/%s does not exist or has no tls.crt and tls.key", what, ns,
                    cJSON_IsString(cert) ? cert->valuestring : "");
            return false;
        }
        put_str(c, t, "cert", crt);
        put_str(c, t, "key", key);
    }
    tree_map_remove_ci(t, "caSecret");
    tree_map_remove_ci(t, "certSecret");
    return true;
}

/* The Kubernetes-only fields of one middleware body of <type>, resolved
 * into the file provider's; false (with a problem) when one cannot be. */
static bool middleware_fixups(struct cx *c, const char *ns, const char *type, const cJSON *spec_body, struct tree_node *body,
                              const char *what)
{
    bool basic = strcasecmp(type, "basicAuth") == 0;
    if ((basic || strcasecmp(type, "digestAuth") == 0) && str(spec_body, "secret"))
        return auth_users(c, ns, body, str(spec_body, "secret"), basic, what);
    if (strcasecmp(type, "errors") == 0 && cJSON_IsObject(get(spec_body, "service"))) {
        if (cJSON_GetArraySize(get(get(spec_body, "service"), "middlewares")) > 0) {
            problem(c, "%s: errors.service.middlewares: the error page request runs no middlewares in gantry", what);
            return false;
        }
        const char *svc = service_ref(c, ns, get(spec_body, "service"), NULL, what, body->file);
        if (svc == NULL)
            return false;
        put_str(c, body, "service", svc);
        return true;
    }
    if (strcasecmp(type, "chain") == 0) {
        struct tree_node *list = node(c, TREE_SEQ, body->file);
        const cJSON *mws = get(spec_body, "middlewares");
        for (const cJSON *r = mws ? mws->child : NULL; r; r = r->next) {
            const char *name = str(r, "name");
            if (name == NULL)
                continue;
            if (strchr(name, '@')) {
                tree_seq_add(c->pa, list, scalar(c, name, body->file));
                continue;
            }
            const char *rns = ref_ns(c, r, ns, what);
            if (rns == NULL)
                return false;
            if (find(c, K8S_CRD_MIDDLEWARES, rns, name) == NULL) {
                problem(c, "%s: middleware %s/%s does not exist", what, rns, name);
                return false;
            }
            tree_seq_add(c->pa, list, scalar(c, make_id(c, rns, name), body->file));
        }
        put(c, body, "middlewares", list);
        return true;
    }
    if (strcasecmp(type, "forwardAuth") == 0 && get(spec_body, "tls"))
        return forward_auth_tls(c, ns, get(spec_body, "tls"), body, what);
    return true;
}

/* A Middleware (<tcp> false) or MiddlewareTCP: one type per spec. */
static void middleware(struct cx *c, const cJSON *mw, bool tcp)
{
    const char *ns = meta(mw, "namespace"), *name = meta(mw, "name");
    const char *where = arena_printf(c->pa, "%s %s/%s", tcp ? "middlewaretcp" : "middleware", ns, name);
    const cJSON *spec = get(mw, "spec");
    if (!cJSON_IsObject(spec) || spec->child == NULL || spec->child->next != NULL) {
        problem(c, "%s: spec must hold exactly one middleware type", where);
        return;
    }
    struct tree_node *body = from_json(c, spec->child, where);
    if (body->kind != TREE_MAP)
        body = node(c, TREE_MAP, where); /* "type: {}" arrives as a map; anything else is decoded as empty */
    if (!tcp && !middleware_fixups(c, ns, spec->child->string, spec->child, body, where))
        return;
    struct tree_node *m = node(c, TREE_MAP, where);
    put(c, m, spec->child->string, body);
    put(c, tcp ? c->tcp_middlewares : c->middlewares, make_id(c, ns, name), m);
}

/* ---- TLS ---- */

/* The certificate of TLS Secret <ns>/<name> into the model, once. */
static bool add_cert(struct cx *c, const char *ns, const char *name, struct model_tls_cert **out, const char *what)
{
    const char *key = arena_printf(c->pa, "%s/%s", ns, name);
    const cJSON *s = find(c, K8S_CRD_SECRETS, ns, name);
    size_t cl = 0, kl = 0;
    const char *crt = s ? secret_data(c, s, "tls.crt", &cl) : NULL, *k = s ? secret_data(c, s, "tls.key", &kl) : NULL;
    if (s == NULL) {
        problem(c, "%s: TLS secret %s does not exist", what, key);
        return false;
    }
    if (crt == NULL || k == NULL) {
        problem(c, "%s: TLS secret %s has no valid tls.crt and tls.key", what, key);
        return false;
    }
    for (size_t i = 0; out == NULL && i < c->certs_added.len; i++)
        if (strcmp(c->certs_added.items[i], key) == 0)
            return true;
    struct model_tls_cert *mc = arena_alloc(&c->m->arena, sizeof(*mc));
    mc->cert_pem = arena_strndup(&c->m->arena, crt, cl);
    mc->key_pem = arena_strndup(&c->m->arena, k, kl);
    mc->origin = (struct model_origin){K8S_CRD_PROVIDER, arena_printf(&c->m->arena, "secret %s", key)};
    if (out) {
        *out = mc;
        return true;
    }
    ptr_vec_push(&c->m->arena, &c->m->certs, mc);
    ptr_vec_push(c->pa, &c->certs_added, (void *)key);
    return true;
}

/* The CA PEM of Secret <ns>/<name> ("tls.ca" or "ca.crt", as Traefik reads
 * it); NULL with a problem. */
static const char *ca_pem(struct cx *c, const char *ns, const char *name, const char *what)
{
    if (name == NULL) {
        problem(c, "%s: a secret name is not a string", what);
        return NULL;
    }
    const cJSON *s = find(c, K8S_CRD_SECRETS, ns, name);
    const char *pem = s ? secret_data(c, s, "tls.ca", NULL) : NULL;
    if (pem == NULL && s)
        pem = secret_data(c, s, "ca.crt", NULL);
    if (pem == NULL)
        problem(c, "%s: secret %s/%s %s", what, ns, name, s ? "has no tls.ca or ca.crt" : "does not exist");
    return pem;
}

static void tls_option(struct cx *c, const cJSON *to)
{
    const char *ns = meta(to, "namespace"), *name = meta(to, "name");
    if (ns == NULL || name == NULL) /* the API server never stores such an object */
        return;
    const char *where = arena_printf(c->pa, "tlsoption %s/%s", ns, name);
    const char *id = strcmp(name, "default") == 0 ? "default" : make_id(c, ns, name);
    if (tree_map_get(c->tls_options, id)) {
        problem(c, "%s: another TLSOption is already named default (ignored)", where);
        return;
    }
    struct tree_node *body = from_json(c, get(to, "spec"), where);
    if (body->kind != TREE_MAP)
        body = node(c, TREE_MAP, where);
    const cJSON *ca = get(get(get(to, "spec"), "clientAuth"), "secretNames");
    struct tree_node *auth = tree_map_get_ci(body, "clientAuth");
    if (auth && auth->kind == TREE_MAP) {
        tree_map_remove_ci(auth, "secretNames");
        struct tree_node *files = node(c, TREE_SEQ, where);
        for (const cJSON *s = ca ? ca->child : NULL; s; s = s->next) {
            const char *pem = ca_pem(c, ns, cJSON_IsString(s) ? s->valuestring : NULL, where);
            if (pem == NULL)
                return;
            tree_seq_add(c->pa, files, scalar(c, pem, where));
        }
        if (files->n)
            put(c, auth, "caFiles", files);
    }
    put(c, c->tls_options, id, body);
}

/* spec.defaultGeneratedCert: the default certificate from an ACME resolver (the acme manager orders it) */
static void tls_store_generated(struct cx *c, const cJSON *g, const char *where)
{
    if (g == NULL)
        return;
    const cJSON *domain = get(g, "domain"), *sans = get(domain, "sans");
    const char *resolver = str(g, "resolver"), *main_name = str(domain, "main");
    if (resolver == NULL || *resolver == '\0' || main_name == NULL || *main_name == '\0') {
        problem(c, "%s: defaultGeneratedCert needs resolver and domain.main (ignored)", where);
        return;
    }
    struct model_default_generated *d = arena_alloc(&c->m->arena, sizeof(*d));
    d->resolver = arena_strdup(&c->m->arena, resolver);
    d->domain.main = arena_strdup(&c->m->arena, main_name);
    size_t n = cJSON_IsArray(sans) ? (size_t)cJSON_GetArraySize(sans) : 0;
    d->domain.sans = arena_alloc(&c->m->arena, (n ? n : 1) * sizeof(char *));
    for (const cJSON *s = n ? sans->child : NULL; s; s = s->next)
        if (cJSON_IsString(s))
            d->domain.sans[d->domain.n_sans++] = arena_strdup(&c->m->arena, s->valuestring);
    d->origin = (struct model_origin){c->m->provider, arena_strdup(&c->m->arena, where)};
    c->m->default_generated = d;
}

static void tls_store(struct cx *c, const cJSON *ts)
{
    const char *ns = meta(ts, "namespace"), *name = meta(ts, "name");
    if (ns == NULL || name == NULL) /* the API server never stores such an object */
        return;
    const char *where = arena_printf(c->pa, "tlsstore %s/%s", ns, name);
    if (strcmp(name, "default") != 0) {
        problem(c, "%s: only the TLSStore named default is used (ignored)", where);
        return;
    }
    const char *secret = str(get(get(ts, "spec"), "defaultCertificate"), "secretName");
    if (secret && c->m->default_cert) {
        problem(c, "%s: another TLSStore default already sets the default certificate (ignored)", where);
        return;
    }
    if (secret && !add_cert(c, ns, secret, &c->m->default_cert, where))
        return;
    const cJSON *spec = get(ts, "spec");
    for (const cJSON *k = spec ? spec->child : NULL; k; k = k->next)
        if (strcmp(k->string, "defaultCertificate") != 0 && strcmp(k->string, "defaultGeneratedCert") != 0)
            problem(c, "%s: %s is not supported by gantry (ignored)", where, k->string);
    tls_store_generated(c, get(spec, "defaultGeneratedCert"), where);
}

/* A (TCP) servers transport's TLS keys that name Secrets (rootCAsSecrets,
 * certificatesSecrets, v3's rootCAs [{secret}]) become the file keys with
 * inline PEM (rootCAs, certificates) in <body>, the tree of <spec>. false,
 * with a problem, when a Secret is missing: the transport is not defined,
 * so its services are refused rather than served with less. */
static bool transport_secrets(struct cx *c, const char *ns, const cJSON *spec, struct tree_node *body, const char *where)
{
    struct tree_node *cas = node(c, TREE_SEQ, where), *certs = node(c, TREE_SEQ, where);
    const cJSON *list = get(spec, "rootCAsSecrets");
    for (const cJSON *s = list ? list->child : NULL; s; s = s->next) {
        const char *pem = ca_pem(c, ns, cJSON_IsString(s) ? s->valuestring : NULL, where);
        if (pem == NULL)
            return false;
        tree_seq_add(c->pa, cas, scalar(c, pem, where));
    }
    list = get(spec, "rootCAs"); /* v3: [{secret: name} | {configMap: name}] */
    for (const cJSON *s = list ? list->child : NULL; s; s = s->next) {
        if (str(s, "secret") == NULL) {
            problem(c, "%s: rootCAs from a ConfigMap are not supported by gantry", where);
            return false;
        }
        const char *pem = ca_pem(c, ns, str(s, "secret"), where);
        if (pem == NULL)
            return false;
        tree_seq_add(c->pa, cas, scalar(c, pem, where));
    }
    list = get(spec, "certificatesSecrets");
    for (const cJSON *s = list ? list->child : NULL; s; s = s->next) {
        const cJSON *sec = cJSON_IsString(s) ? find(c, K8S_CRD_SECRETS, ns, s->valuestring) : NULL;
        const char *crt = sec ? secret_data(c, sec, "tls.crt", NULL) : NULL,
                   *key = sec ? secret_data(c, sec, "tls.key", NULL) : NULL;
        if (crt == NULL || key == NULL) {
            problem(c, "%s: secret %s/%s does not exist or has no tls.crt and tls.key", where, ns,
                    cJSON_IsString(s) ? s->valuestring : "");
            return false;
        }
        struct tree_node *e = node(c, TREE_MAP, where);
        put_str(c, e, "certFile", crt);
        put_str(c, e, "keyFile", key);
        tree_seq_add(c->pa, certs, e);
    }
    tree_map_remove_ci(body, "rootCAsSecrets");
    tree_map_remove_ci(body, "certificatesSecrets");
    tree_map_remove_ci(body, "rootCAs");
    if (cas->n)
        put(c, body, "rootCAs", cas);
    if (certs->n)
        put(c, body, "certificates", certs);
    return true;
}

static void transport(struct cx *c, const cJSON *st)
{
    const char *ns = meta(st, "namespace"), *name = meta(st, "name");
    const char *where = arena_printf(c->pa, "serverstransport %s/%s", ns, name);
    const cJSON *spec = get(st, "spec");
    struct tree_node *body = from_json(c, spec, where);
    if (body->kind != TREE_MAP)
        body = node(c, TREE_MAP, where);
    if (transport_secrets(c, ns, spec, body, where))
        put(c, c->transports, make_id(c, ns, name), body);
}

/* ---- IngressRoute ---- */

/* Traefik's router key: "<ns>-<ingressroute>-" and the first 10 bytes of
 * sha256(match) in hex, stable across restarts and unique per match. */
static const char *router_key(struct cx *c, const char *ns, const char *ir, const char *match)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)match, strlen(match), h);
    char hex[21];
    for (int i = 0; i < 10; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    return make_id(c, ns, arena_printf(c->pa, "%s-%s", ir, hex));
}

static struct tree_node *string_seq(struct cx *c, const cJSON *arr, const char *where)
{
    struct tree_node *s = node(c, TREE_SEQ, where);
    for (const cJSON *e = arr ? arr->child : NULL; e; e = e->next)
        if (cJSON_IsString(e))
            tree_seq_add(c->pa, s, scalar(c, e->valuestring, where));
    return s;
}

/* routes[].middlewares -> model names; NULL when one is refused or missing.
 * <kind>: K8S_CRD_MIDDLEWARES or K8S_CRD_MIDDLEWARETCPS. */
static struct tree_node *route_middlewares(struct cx *c, const char *ns, const cJSON *mws, enum k8s_crd_kind kind, const char *what,
                                           const char *where)
{
    struct tree_node *list = node(c, TREE_SEQ, where);
    for (const cJSON *r = mws ? mws->child : NULL; r; r = r->next) {
        const char *name = str(r, "name");
        if (name == NULL)
            continue;
        if (strchr(name, '@')) { /* another provider's: the aggregator resolves it */
            tree_seq_add(c->pa, list, scalar(c, name, where));
            continue;
        }
        const char *rns = ref_ns(c, r, ns, what);
        if (rns == NULL)
            return NULL;
        if (find(c, kind, rns, name) == NULL) {
            problem(c, "%s: %s %s/%s does not exist", what, kind == K8S_CRD_MIDDLEWARES ? "middleware" : "MiddlewareTCP", rns,
                    name);
            return NULL;
        }
        tree_seq_add(c->pa, list, scalar(c, make_id(c, rns, name), where));
    }
    return list;
}

/* spec.tls -> the router's tls node; false when its secret or options are
 * missing or refused. */
static bool route_tls(struct cx *c, const char *ns, const cJSON *tls, struct tree_node *router, const char *what, const char *where)
{
    struct tree_node *t = node(c, TREE_MAP, where);
    if (str(tls, "certResolver"))
        put_str(c, t, "certResolver", str(tls, "certResolver"));
    const cJSON *domains = get(tls, "domains"); /* the certificates certResolver orders: checked by the decoder */
    if (cJSON_IsArray(domains) && cJSON_GetArraySize(domains) > 0)
        put(c, t, "domains", from_json(c, domains, where));
    if (cJSON_IsTrue(get(tls, "passthrough"))) /* IngressRouteTCP */
        put_str(c, t, "passthrough", "true");
    const cJSON *opt = get(tls, "options");
    const char *oname = str(opt, "name");
    if (oname && strchr(oname, '@')) {
        put_str(c, t, "options", oname);
    } else if (oname) {
        const char *rns = ref_ns(c, opt, ns, what);
        if (rns == NULL)
            return false;
        const char *id = strcmp(oname, "default") == 0 ? "default" : make_id(c, rns, oname);
        if (strcmp(id, "default") != 0 && find(c, K8S_CRD_TLSOPTIONS, rns, oname) == NULL) {
            problem(c, "%s: TLSOption %s/%s does not exist", what, rns, oname);
            return false;
        }
        put_str(c, t, "options", id);
    }
    if (str(tls, "secretName") && !add_cert(c, ns, str(tls, "secretName"), NULL, what))
        return false;
    put(c, router, "tls", t);
    return true;
}

/* IngressRoutes carry the legacy class annotation only; with
 * ingressClass set, routes of other classes (and of none) are not ours. */
static bool class_matches(const struct cx *c, const cJSON *obj)
{
    const char *want = c->o->ingress_class;
    const char *cls = str(get(get(obj, "metadata"), "annotations"), "kubernetes.io/ingress.class");
    return want == NULL || *want == '\0' || (cls && strcmp(cls, want) == 0);
}

/* The router of one route of an IngressRoute(TCP): rule, priority, entry
 * points, middlewares of <mw_kind> and TLS; NULL when any is refused, which
 * happens before the services are built so that a refused route leaves
 * none behind. */
static struct tree_node *route_router(struct cx *c, const char *ns, const cJSON *spec, const cJSON *rt,
                                      const char *match, enum k8s_crd_kind mw_kind, const char *what,
                                      const char *where)
{
    struct tree_node *r = node(c, TREE_MAP, where);
    put_str(c, r, "rule", match);
    if (get(rt, "priority"))
        put(c, r, "priority", from_json(c, get(rt, "priority"), where));
    if (get(spec, "entryPoints"))
        put(c, r, "entryPoints", string_seq(c, get(spec, "entryPoints"), where));
    struct tree_node *mws = route_middlewares(c, ns, get(rt, "middlewares"), mw_kind, what, where);
    if (mws == NULL)
        return NULL;
    if (mws->n)
        put(c, r, "middlewares", mws);
    if (get(spec, "tls") && !route_tls(c, ns, get(spec, "tls"), r, what, where))
        return NULL;
    return r;
}

static void ingress_route(struct cx *c, const cJSON *ir)
{
    const char *ns = meta(ir, "namespace"), *name = meta(ir, "name");
    if (!class_matches(c, ir))
        return;
    const cJSON *spec = get(ir, "spec"), *routes = get(spec, "routes");
    int idx = 0;
    for (const cJSON *rt = routes ? routes->child : NULL; rt; rt = rt->next, idx++) {
        const char *what = arena_printf(c->pa, "ingressroute %s/%s route %d", ns, name, idx);
        const char *where = arena_printf(c->pa, "ingressroute %s/%s", ns, name);
        const char *match = str(rt, "match"), *kind = str(rt, "kind");
        if (match == NULL) {
            problem(c, "%s: no match", what);
            continue;
        }
        if (kind && strcmp(kind, "Rule") != 0) {
            problem(c, "%s: kind '%s' is not Rule", what, kind);
            continue;
        }
        const char *key = router_key(c, ns, name, match);
        struct tree_node *r = route_router(c, ns, spec, rt, match, K8S_CRD_MIDDLEWARES, what, where);
        if (r == NULL)
            continue;
        const cJSON *svcs = get(rt, "services");
        int n = cJSON_GetArraySize(svcs);
        const char *svc = NULL;
        if (n == 0)
            problem(c, "%s: no services", what);
        else if (n == 1)
            svc = service_ref(c, ns, svcs->child, key, what, where);
        else if (weighted(c, key, ns, svcs, NULL, what, where))
            svc = key;
        if (svc == NULL)
            continue;
        put_str(c, r, "service", svc);
        put(c, c->routers, key, r);
    }
}

/* ---- IngressRouteTCP ---- */

/* The TCP service <key> of a route's services[]: one is a load balancer
 * named <key>; several make <key> weighted (Traefik's CRD semantics) over
 * load balancers "<key>-<name>-<port>", weight 1 unless given. NULL when
 * one cannot be built: the route is not served (Traefik skips that
 * service and serves the others). */
/* A TCP service reference's serversTransport (a ServersTransportTCP of the
 * route's namespace, or name@provider), its (deprecated) proxyProtocol and
 * terminationDelay, and its tls (Traefik: every server of the Service is
 * dialed with TLS) on the load balancer <id>. */
static void tcp_transport_ref(struct cx *c, const char *ns, const cJSON *ref, const char *id)
{
    const char *st = str(ref, "serversTransport");
    const cJSON *pp = get(ref, "proxyProtocol");
    struct tree_node *lb = tree_map_get(tree_map_get(c->tcp_services, id), "loadBalancer");
    if (lb == NULL)
        return;
    struct tree_node *servers = tree_map_get(lb, "servers");
    for (size_t i = 0; cJSON_IsTrue(get(ref, "tls")) && servers != NULL && i < servers->n; i++)
        if (tree_map_get(servers->items[i], "tls") == NULL)
            put_str(c, servers->items[i], "tls", "true");
    if (st != NULL && tree_map_get(lb, "serversTransport") == NULL)
        put_str(c, lb, "serversTransport", strchr(st, '@') ? st : make_id(c, ns, st));
    if (pp != NULL && tree_map_get(lb, "proxyProtocol") == NULL)
        put(c, lb, "proxyProtocol", from_json(c, pp, id));
    const cJSON *td = get(ref, "terminationDelay");
    if (td != NULL && tree_map_get(lb, "terminationDelay") == NULL)
        put(c, lb, "terminationDelay", from_json(c, td, id));
}

/* The service of a TCP (<into> c->tcp_services) or UDP (c->udp_services)
 * route: the one Kubernetes Service's load balancer named <key>, or a
 * weighted service <key> over one per Service ("<key>-<name>-<port>"). */
static const char *l4_services(struct cx *c, const char *ns, const cJSON *svcs, const char *key, struct tree_node *into,
                               const char *what, const char *where)
{
    bool tcp = into == c->tcp_services;
    if (cJSON_GetArraySize(svcs) == 1) {
        const char *rns = ref_ns(c, svcs->child, ns, what);
        const char *id = rns ? kube_service(c, rns, svcs->child, key, into, what, where) : NULL;
        if (id != NULL && tcp)
            tcp_transport_ref(c, ns, svcs->child, id);
        return id;
    }
    struct tree_node *list = node(c, TREE_SEQ, where);
    for (const cJSON *ref = svcs->child; ref; ref = ref->next) {
        const cJSON *port = get(ref, "port"), *w = get(ref, "weight");
        const char *portstr = cJSON_IsNumber(port)   ? arena_printf(c->pa, "%d", port->valueint)
                              : cJSON_IsString(port) ? port->valuestring
                                                     : "";
        if (w != NULL && (!cJSON_IsNumber(w) || w->valueint < 0)) {
            problem(c, "%s: service %s: weight must be a number >= 0", what, str(ref, "name") ? str(ref, "name") : "");
            return NULL;
        }
        const char *rns = ref_ns(c, ref, ns, what);
        const char *child_id = arena_printf(c->pa, "%s-%s-%s", key, str(ref, "name") ? str(ref, "name") : "", portstr);
        const char *child = rns ? kube_service(c, rns, ref, child_id, into, what, where) : NULL;
        if (child == NULL)
            return NULL;
        if (tcp)
            tcp_transport_ref(c, ns, ref, child);
        struct tree_node *e = node(c, TREE_MAP, where);
        put_str(c, e, "name", child);
        put_str(c, e, "weight", arena_printf(c->pa, "%d", w ? w->valueint : 1));
        tree_seq_add(c->pa, list, e);
    }
    struct tree_node *wn = node(c, TREE_MAP, where), *svc = node(c, TREE_MAP, where);
    put(c, wn, "services", list);
    put(c, svc, "weighted", wn);
    put(c, into, key, svc);
    return key;
}

/* One TCP router per route, named as the HTTP ones, with one TCP service
 * named like it (weighted over several, tcp_services). */
static void ingress_route_tcp(struct cx *c, const cJSON *ir)
{
    const char *ns = meta(ir, "namespace"), *name = meta(ir, "name");
    if (!class_matches(c, ir))
        return;
    const cJSON *spec = get(ir, "spec"), *routes = get(spec, "routes");
    int idx = 0;
    for (const cJSON *rt = routes ? routes->child : NULL; rt; rt = rt->next, idx++) {
        const char *what = arena_printf(c->pa, "ingressroutetcp %s/%s route %d", ns, name, idx);
        const char *where = arena_printf(c->pa, "ingressroutetcp %s/%s", ns, name);
        const char *match = str(rt, "match");
        const cJSON *svcs = get(rt, "services");
        if (match == NULL) {
            problem(c, "%s: no match", what);
            continue;
        }
        if (cJSON_GetArraySize(svcs) == 0) {
            problem(c, "%s: no services", what);
            continue;
        }
        const char *key = router_key(c, ns, name, match);
        struct tree_node *r = route_router(c, ns, spec, rt, match, K8S_CRD_MIDDLEWARETCPS, what, where);
        if (r == NULL)
            continue;
        const char *svc = l4_services(c, ns, svcs, key, c->tcp_services, what, where);
        if (svc == NULL)
            continue;
        put_str(c, r, "service", svc);
        put(c, c->tcp_routers, key, r);
    }
}

/* ---- IngressRouteUDP ---- */

/* One UDP router per route, named "<ns>-<name>-<index>" as Traefik's, on
 * the route's entryPoints (none: every UDP entry point), with one UDP
 * service named like it (weighted over several Services, weight 1 unless
 * given). */
static void ingress_route_udp(struct cx *c, const cJSON *ir)
{
    const char *ns = meta(ir, "namespace"), *name = meta(ir, "name");
    if (!class_matches(c, ir))
        return;
    const cJSON *spec = get(ir, "spec"), *routes = get(spec, "routes");
    int idx = 0;
    for (const cJSON *rt = routes ? routes->child : NULL; rt; rt = rt->next, idx++) {
        const char *what = arena_printf(c->pa, "ingressrouteudp %s/%s route %d", ns, name, idx);
        const char *where = arena_printf(c->pa, "ingressrouteudp %s/%s", ns, name);
        const cJSON *svcs = get(rt, "services");
        if (cJSON_GetArraySize(svcs) == 0) {
            problem(c, "%s: no services", what);
            continue;
        }
        const char *key = make_id(c, ns, arena_printf(c->pa, "%s-%d", name, idx));
        const char *svc = l4_services(c, ns, svcs, key, c->udp_services, what, where);
        if (svc == NULL)
            continue;
        struct tree_node *r = node(c, TREE_MAP, where);
        if (get(spec, "entryPoints"))
            put(c, r, "entryPoints", string_seq(c, get(spec, "entryPoints"), where));
        put_str(c, r, "service", svc);
        put(c, c->udp_routers, key, r);
    }
}

/* A ServersTransportTCP: tcp.serversTransports."<ns>-<name>", its spec as
 * Traefik's keys (dialTimeout, dialKeepAlive, terminationDelay, tls,
 * proxyProtocol), tls's Secrets as inline PEM; what gantry cannot honour
 * for TCP (tls.spiffe) refuses the services using it (model_decode,
 * aggregator). */
static void transport_tcp(struct cx *c, const cJSON *st)
{
    const char *ns = meta(st, "namespace"), *name = meta(st, "name");
    const char *where = arena_printf(c->pa, "serverstransporttcp %s/%s", ns, name);
    const cJSON *spec = get(st, "spec");
    struct tree_node *body = from_json(c, spec, where);
    if (body->kind != TREE_MAP)
        body = node(c, TREE_MAP, where);
    struct tree_node *tls = tree_map_get(body, "tls");
    if (tls != NULL && tls->kind == TREE_MAP && !transport_secrets(c, ns, get(spec, "tls"), tls, where))
        return;
    put(c, c->tcp_transports, make_id(c, ns, name), body);
}

/* ---- entry point ---- */

typedef void (*object_cb)(struct cx *c, const cJSON *obj);

static void middleware_http(struct cx *c, const cJSON *obj)
{
    middleware(c, obj, false);
}

static void middleware_tcp(struct cx *c, const cJSON *obj)
{
    middleware(c, obj, true);
}

/* <fn> on every object of <k> that has a namespace and a name (the API
 * server guarantees both; a test or a broken cache need not). */
static void for_each(struct cx *c, const struct k8s_crd_objects *objs, enum k8s_crd_kind k, object_cb fn)
{
    for (size_t i = 0; i < objs->n[k]; i++)
        if (meta(objs->items[k][i], "namespace") && meta(objs->items[k][i], "name"))
            fn(c, objs->items[k][i]);
}

struct model *k8s_crd_translate(const struct k8s_crd_objects *objs, const struct k8s_crd_options *o, struct arena *pa,
                                struct ptr_vec *problems)
{
    struct cx c = {.o = o, .m = model_new(K8S_CRD_PROVIDER), .pa = pa, .problems = problems};
    for (int k = 0; k < K8S_CRD_KINDS; k++)
        k8s_index_build(pa, &c.ix[k], objs->items[k], objs->n[k], k == K8S_CRD_SLICES ? "kubernetes.io/service-name" : NULL);
    c.root = node(&c, TREE_MAP, "kubernetescrd");
    struct tree_node *http = node(&c, TREE_MAP, "kubernetescrd"), *tls = node(&c, TREE_MAP, "kubernetescrd");
    c.routers = node(&c, TREE_MAP, "kubernetescrd");
    c.services = node(&c, TREE_MAP, "kubernetescrd");
    c.middlewares = node(&c, TREE_MAP, "kubernetescrd");
    c.transports = node(&c, TREE_MAP, "kubernetescrd");
    c.tls_options = node(&c, TREE_MAP, "kubernetescrd");
    put(&c, c.root, "http", http);
    put(&c, c.root, "tls", tls);
    put(&c, http, "routers", c.routers);
    put(&c, http, "services", c.services);
    put(&c, http, "middlewares", c.middlewares);
    put(&c, http, "serversTransports", c.transports);
    put(&c, tls, "options", c.tls_options);
    struct tree_node *tcp = node(&c, TREE_MAP, "kubernetescrd");
    c.tcp_routers = node(&c, TREE_MAP, "kubernetescrd");
    c.tcp_services = node(&c, TREE_MAP, "kubernetescrd");
    c.tcp_middlewares = node(&c, TREE_MAP, "kubernetescrd");
    c.tcp_transports = node(&c, TREE_MAP, "kubernetescrd");
    put(&c, tcp, "serversTransports", c.tcp_transports);
    put(&c, tcp, "middlewares", c.tcp_middlewares);
    put(&c, c.root, "tcp", tcp);
    put(&c, tcp, "routers", c.tcp_routers);
    put(&c, tcp, "services", c.tcp_services);
    struct tree_node *udp = node(&c, TREE_MAP, "kubernetescrd");
    c.udp_routers = node(&c, TREE_MAP, "kubernetescrd");
    c.udp_services = node(&c, TREE_MAP, "kubernetescrd");
    put(&c, c.root, "udp", udp);
    put(&c, udp, "routers", c.udp_routers);
    put(&c, udp, "services", c.udp_services);
    /* objects are listed sorted by namespace/name, so the output is deterministic; what is
     * referenced (transports, TLS options, TraefikServices, middlewares) comes first */
    for_each(&c, objs, K8S_CRD_TRANSPORTS, transport);
    for_each(&c, objs, K8S_CRD_TRANSPORTTCPS, transport_tcp);
    for_each(&c, objs, K8S_CRD_TLSOPTIONS, tls_option);
    for_each(&c, objs, K8S_CRD_TLSSTORES, tls_store);
    for_each(&c, objs, K8S_CRD_TRAEFIKSERVICES, traefik_service);
    for_each(&c, objs, K8S_CRD_MIDDLEWARES, middleware_http);
    for_each(&c, objs, K8S_CRD_MIDDLEWARETCPS, middleware_tcp);
    for_each(&c, objs, K8S_CRD_INGRESSROUTES, ingress_route);
    for_each(&c, objs, K8S_CRD_INGRESSROUTETCPS, ingress_route_tcp);
    for_each(&c, objs, K8S_CRD_INGRESSROUTEUDPS, ingress_route_udp);
    struct decode_report rep;
    decode_report_init(&rep);
    model_decode(c.m, c.root, &rep);
    for (size_t i = 0; i < rep.errors.len; i++)
        problem(&c, "%s", (const char *)rep.errors.items[i]);
    for (size_t i = 0; i < rep.warnings.len; i++)
        problem(&c, "warning: %s", (const char *)rep.warnings.items[i]);
    decode_report_free(&rep);
    return c.m;
}
