/*
 * Ingress translation (see k8s_translate.h).
 */
#include "k8s_translate.h"

#include "../../../common/base64.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "k8s_index.h"
#include "k8s_ingress_cache.h"
#include "k8s_store.h"
#include "k8s_traefik_annotations.h"

#define PRIO_EXACT_HOST 4000000000LL
#define PRIO_WILDCARD_HOST 2000000000LL
#define PRIO_DEFAULT_BACKEND 1

struct tx {
    const struct k8s_objects *objs;
    const struct k8s_translate_options *o;
    struct model *m;
    struct arena *pa;
    struct ptr_vec *problems;
    struct k8s_index services, secrets, slices;
    struct k8s_index made; /* model services of this Ingress so far (made_has, made_add) */
    const cJSON **canaries; /* ingress-nginx Ingresses with a canary annotation */
    size_t n_canaries;
    struct ptr_vec *events; /* this Ingress's Events (NULL: not wanted) */
    bool traefik;           /* this Ingress is Traefik's kind: its Services' traefik annotations apply */
    bool native;            /* nativeLBByDefault / service-upstream: ClusterIP rather than endpoints */
    const struct k8s_nginx_config *nginx_config; /* the controller ConfigMap (NULL: none configured) */
    uint64_t gen;           /* this rebuild's (k8s_ingress_cache.h) */
    struct k8s_dep *deps;   /* what this Ingress's translation read */
    size_t n_deps, cap_deps;
    /* ingress-nginx Ingresses' TLS hosts (lowercase, sorted; "*.x" entries
     * as written): a host with a certificate from any of them is a TLS
     * host for every Ingress of that host (one nginx server block) */
    const char **tls_hosts; /* in the cache's notes */
    size_t n_tls_hosts;
};

/* ---- JSON helpers ---- */

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *meta_str(const cJSON *o, const char *k)
{
    return str(get(o, "metadata"), k);
}

static const char *annotation(const cJSON *o, const char *k)
{
    return str(get(get(o, "metadata"), "annotations"), k);
}

static void problem(struct tx *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct tx *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ptr_vec_vprintf(t->pa, t->problems, fmt, ap);
    va_end(ap);
}

/* ---- class selection ---- */

static const cJSON *our_class(const struct k8s_objects *objs, const char *name)
{
    for (size_t i = 0; i < objs->n_ingress_classes; i++) {
        const cJSON *c = objs->ingress_classes[i];
        const char *n = meta_str(c, "name"), *ctl = str(get(c, "spec"), "controller");
        if (n && ctl && strcmp(ctl, K8S_CONTROLLER_NAME) == 0 && (name == NULL || strcmp(n, name) == 0))
            return c;
    }
    return NULL;
}

static bool gantry_is_ours(const struct k8s_objects *objs, const struct k8s_translate_options *o, const cJSON *ingress)
{
    if (o->nginx_only)
        return false;
    const char *cls = str(get(ingress, "spec"), "ingressClassName");
    if (cls != NULL)
        return our_class(objs, cls) != NULL;
    const char *legacy = annotation(ingress, "kubernetes.io/ingress.class");
    if (legacy != NULL)
        return strcmp(legacy, o->ingress_class ? o->ingress_class : "gantry") == 0;
    for (size_t i = 0; i < objs->n_ingress_classes; i++) { /* no class: the default one, if it is ours */
        const cJSON *c = objs->ingress_classes[i];
        const char *def = annotation(c, "ingressclass.kubernetes.io/is-default-class");
        const char *ctl = str(get(c, "spec"), "controller");
        if (def && strcmp(def, "true") == 0 && ctl && strcmp(ctl, K8S_CONTROLLER_NAME) == 0)
            return true;
    }
    return false;
}

bool k8s_ingress_is_ours(const struct k8s_objects *objs, const struct k8s_translate_options *o, const cJSON *ingress)
{
    return gantry_is_ours(objs, o, ingress) ||
           (o->nginx && k8s_nginx_is_ours(objs->ingress_classes, objs->n_ingress_classes, o->nginx, ingress));
}

/* ---- ingress-nginx's shared server blocks: TLS hosts of all its Ingresses ---- */

static bool canary_candidate(const cJSON *ing);

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* What <ing> adds to every translation (k8s_ingress_cache.h), or NULL:
 * whether it asks to be a canary, and the hosts with a certificate, as
 * ingress-nginx's createServers gives them: every rule host of a
 * non-canary ingress-nginx Ingress whose spec.tls is not empty, listed in
 * a tls.hosts entry or not (unlisted, it gets a certificate whose SANs name
 * it, else the default certificate). A host only in tls.hosts (or a
 * certificate's SANs) with no rule has no server block: no certificate,
 * so no HSTS and no ssl-redirect. */
static struct k8s_ingress_note *note_of(const struct tx *t, const cJSON *ing)
{
    if (t->o->nginx == NULL)
        return NULL;
    const cJSON *spec = get(ing, "spec");
    bool canary = canary_candidate(ing);
    bool tls = !canary && cJSON_GetArraySize(get(spec, "tls")) != 0 && !gantry_is_ours(t->objs, t->o, ing) &&
               k8s_ingress_is_ours(t->objs, t->o, ing);
    if (!canary && !tls)
        return NULL;
    struct k8s_ingress_note *n = mem_calloc(1, sizeof(*n));
    n->canary = canary ? ing : NULL;
    const cJSON *rules = tls ? get(spec, "rules") : NULL;
    n->tls_hosts = mem_alloc(((size_t)cJSON_GetArraySize(rules) + 1) * sizeof(*n->tls_hosts));
    for (const cJSON *r = rules ? rules->child : NULL; r; r = r->next) {
        const char *host = str(r, "host");
        if (host == NULL || *host == '\0')
            continue;
        char *h = mem_strdup(host);
        for (char *q = h; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        n->tls_hosts[n->n_tls_hosts++] = h;
    }
    return n;
}

/* The notes of every Ingress of the list again (no delta). */
static void notes_rebuild(const struct tx *t, struct k8s_ingress_cache *c)
{
    k8s_ingress_cache_notes_drop(c);
    char key[600];
    for (size_t i = 0; t->o->nginx && i < t->objs->n_ingresses; i++) {
        struct k8s_ingress_note *n = note_of(t, t->objs->ingresses[i]);
        if (n != NULL && k8s_object_key(t->objs->ingresses[i], key, sizeof(key)) != NULL)
            k8s_ingress_cache_note_set(c, key, n);
        else if (n != NULL)
            k8s_ingress_cache_note_set(c, "", n); /* (not in a store without a name) */
    }
}

/* The notes of the changed Ingresses of <d> only. */
static void notes_patch(const struct tx *t, struct k8s_ingress_cache *c, const struct k8s_delta *d)
{
    for (size_t i = 0; i < d->n_ingresses; i++)
        k8s_ingress_cache_note_set(c, d->ingress_keys[i], d->ingress_objs[i] ? note_of(t, d->ingress_objs[i]) : NULL);
}

static int canary_key_cmp(const void *a, const void *b)
{
    char ka[600], kb[600];
    const char *x = k8s_object_key(*(const cJSON *const *)a, ka, sizeof(ka));
    const char *y = k8s_object_key(*(const cJSON *const *)b, kb, sizeof(kb));
    return strcmp(x ? x : "", y ? y : "");
}

/* The canaries (in list order: by key) and the TLS hosts (sorted) of the
 * notes. */
static void notes_collect(struct tx *t, const struct k8s_ingress_cache *c)
{
    size_t n_hosts = 0, i = 0;
    const char *key;
    void *v;
    while (strmap_next(&c->notes, &i, &key, &v))
        n_hosts += ((const struct k8s_ingress_note *)v)->n_tls_hosts;
    t->canaries = arena_alloc(t->pa, (c->notes.n + 1) * sizeof(*t->canaries));
    t->tls_hosts = arena_alloc(t->pa, (n_hosts + 1) * sizeof(*t->tls_hosts));
    for (i = 0; strmap_next(&c->notes, &i, &key, &v);) {
        const struct k8s_ingress_note *n = v;
        if (n->canary != NULL)
            t->canaries[t->n_canaries++] = n->canary;
        for (size_t j = 0; j < n->n_tls_hosts; j++)
            t->tls_hosts[t->n_tls_hosts++] = n->tls_hosts[j];
    }
    if (t->n_canaries > 1)
        qsort(t->canaries, t->n_canaries, sizeof(*t->canaries), canary_key_cmp);
    if (t->n_tls_hosts > 1)
        qsort(t->tls_hosts, t->n_tls_hosts, sizeof(*t->tls_hosts), str_cmp);
}

static bool tls_hosts_has(const struct tx *t, const char *name)
{
    return t->n_tls_hosts && bsearch(&name, t->tls_hosts, t->n_tls_hosts, sizeof(*t->tls_hosts), str_cmp) != NULL;
}

/* Whether <host> has a certificate from an ingress-nginx Ingress: listed
 * (case-insensitive) or under a "*.<parent>" entry (one label). */
static bool host_has_cert(const struct tx *t, const char *host)
{
    char h[256];
    if (host == NULL || *host == '\0' || strlen(host) >= sizeof(h) - 1)
        return false;
    size_t i = 0;
    for (; host[i]; i++)
        h[i] = (char)tolower((unsigned char)host[i]);
    h[i] = '\0';
    if (tls_hosts_has(t, h))
        return true;
    char *dot = strchr(h, '.');
    if (h[0] == '*' || dot == NULL || dot == h)
        return false;
    dot[-1] = '*';
    return tls_hosts_has(t, dot - 1);
}

/* ---- lookups (each one recorded: the Ingress's piece depends on it) ---- */

static void dep(struct tx *t, char kind, const char *ns, const char *name)
{
    if (t->n_deps == t->cap_deps) {
        t->cap_deps = t->cap_deps ? t->cap_deps * 2 : 8;
        t->deps = mem_realloc(t->deps, t->cap_deps * sizeof(*t->deps));
    }
    t->deps[t->n_deps++] = (struct k8s_dep){kind, ns, name};
}

static const cJSON *service_get(struct tx *t, const char *ns, const char *name)
{
    dep(t, 'S', ns, name);
    return k8s_index_get(&t->services, ns, name);
}

static const cJSON *secret_get(struct tx *t, const char *ns, const char *name)
{
    dep(t, 'T', ns, name);
    return k8s_index_get(&t->secrets, ns, name);
}

static const struct k8s_index_entry *slices_find(struct tx *t, const char *ns, const char *service, size_t *n)
{
    dep(t, 'E', ns, service);
    return k8s_index_find(&t->slices, ns, service, n);
}

/* Model services created so far: paths of one Ingress share them, so
 * the newest are looked at first. */
static bool made_has(const struct tx *t, const char *name)
{
    for (size_t i = t->made.n; i > 0; i--)
        if (strcmp(t->made.e[i - 1].key, name) == 0)
            return true;
    return false;
}

static void made_add(struct tx *t, struct model_service *s)
{
    ptr_vec_push(&t->m->arena, &t->m->services, s);
    if (t->made.n % 64 == 0)
        t->made.e = mem_realloc(t->made.e, (t->made.n + 64) * sizeof(*t->made.e));
    t->made.e[t->made.n++] = (struct k8s_index_entry){s->name, NULL};
}

/* A name safe in a router/service name: [a-z0-9-], the rest folded to '-'. */
static const char *slug(struct arena *a, const char *s)
{
    char *out = arena_strdup(a, s);
    for (char *p = out; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-'))
            *p = '-';
    return out;
}

/* ---- backends ---- */

struct backend_ref {
    const char *service;
    const char *port_name; /* or */
    int port_number;
};

static bool backend_of(const cJSON *backend, struct backend_ref *out)
{
    const cJSON *svc = get(backend, "service");
    out->service = str(svc, "name");
    const cJSON *port = get(svc, "port");
    out->port_name = str(port, "name");
    const cJSON *num = get(port, "number");
    out->port_number = cJSON_IsNumber(num) ? num->valueint : 0;
    return out->service != NULL && (out->port_name != NULL || out->port_number > 0);
}

static bool endpoint_usable(const cJSON *ep, bool want_ready)
{
    const cJSON *cond = get(ep, "conditions");
    const cJSON *ready = get(cond, "ready"), *serving = get(cond, "serving"), *terminating = get(cond, "terminating");
    bool is_ready = ready == NULL || cJSON_IsNull(ready) || cJSON_IsTrue(ready); /* unset means ready */
    if (want_ready)
        return is_ready;
    return cJSON_IsTrue(serving) && cJSON_IsTrue(terminating);
}

static void add_url(struct tx *t, struct ptr_vec *urls, const char *scheme, const char *addr, int port)
{
    bool v6 = strchr(addr, ':') != NULL;
    ptr_vec_push(&t->m->arena, urls,
                 arena_printf(&t->m->arena, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", addr, v6 ? "]" : "", port));
}

/* The service "<ns>-<svc>-<port>" for <ref>, created once; NULL (with a
 * problem) when the Service or its port does not exist. */
static const char *service_for(struct tx *t, const char *ns, const char *ingress, const struct backend_ref *ref)
{
    char portbuf[32];
    snprintf(portbuf, sizeof(portbuf), "%d", ref->port_number);
    const char *port_text = ref->port_name ? ref->port_name : portbuf;
    const char *name = arena_printf(&t->m->arena, "%s-%s-%s", slug(t->pa, ns), slug(t->pa, ref->service),
                                    slug(t->pa, port_text));
    /* Traefik's service.* annotations shape the service of Traefik's
     * Ingresses only: an ingress-nginx Ingress of the same Service gets a
     * service of its own name, without them */
    const cJSON *svc = service_get(t, ns, ref->service);
    bool annotated = k8s_traefik_service_annotated(svc);
    if (!t->traefik && annotated)
        name = arena_printf(&t->m->arena, "%s-ingress-nginx", name);
    /* an ingress-nginx Ingress whose choice of ClusterIP may differ from
     * the Traefik Ingresses' (or another nginx Ingress's) for the same
     * Service: a service of its own */
    if (!t->traefik && t->native)
        name = arena_printf(&t->m->arena, "%s-clusterip", name);
    else if (!t->traefik && !annotated && t->o->native_lb)
        name = arena_printf(&t->m->arena, "%s-ingress-nginx", name);
    if (made_has(t, name)) {
        /* the same Service again, or another whose parts join the same way
         * ("a-b" port 80 and "a" port "b-80") */
        const struct model_service *have = model_find_service(t->m, name);
        const char *want = arena_printf(t->pa, "service %s/%s", ns, ref->service);
        const char *src = have ? have->origin.source : NULL;
        if (src && strncmp(src, "service ", 8) == 0 && strcmp(src, want) != 0) {
            problem(t,
                    "ingress %s/%s: services %s and %s/%s are both named `%s` (namespace, name and port are joined "
                    "with '-') (path skipped)",
                    ns, ingress, src + 8, ns, ref->service, name);
            return NULL;
        }
        return name;
    }
    if (svc == NULL) {
        problem(t, "ingress %s/%s: service %s/%s does not exist (path skipped)", ns, ingress, ns, ref->service);
        return NULL;
    }
    struct k8s_traefik_service tcfg;
    const char *why = NULL;
    /* (checked for the whole Ingress by traefik_services_ok already) */
    if (k8s_traefik_service_parse(&t->m->arena, t->traefik ? svc : NULL, &tcfg, &why) != 0) {
        problem(t, "ingress %s/%s: service %s/%s: %s (path skipped)", ns, ingress, ns, ref->service, why);
        return NULL;
    }
    const cJSON *spec = get(svc, "spec");
    const cJSON *ports = get(spec, "ports");
    const cJSON *sp = NULL;
    for (const cJSON *p = ports ? ports->child : NULL; p; p = p->next) {
        const char *pn = str(p, "name");
        const cJSON *pnum = get(p, "port");
        if ((ref->port_name && pn && strcmp(pn, ref->port_name) == 0) ||
            (!ref->port_name && cJSON_IsNumber(pnum) && pnum->valueint == ref->port_number)) {
            sp = p;
            break;
        }
    }
    const char *type = str(spec, "type");
    struct ptr_vec urls = {0};
    if (type && strcmp(type, "ExternalName") == 0) {
        if (!t->o->allow_external_name) {
            problem(t,
                    "ingress %s/%s: service %s/%s is of type ExternalName, which is not allowed "
                    "(providers.kubernetesIngress.allowExternalNameServices) (path skipped)",
                    ns, ingress, ns, ref->service);
            return NULL;
        }
        const char *ext = str(spec, "externalName");
        int port = sp && cJSON_IsNumber(get(sp, "port")) ? get(sp, "port")->valueint : ref->port_number;
        if (ext == NULL || port <= 0) {
            problem(t, "ingress %s/%s: ExternalName service %s/%s has no name or port (path skipped)", ns, ingress, ns,
                    ref->service);
            return NULL;
        }
        add_url(t, &urls, tcfg.scheme ? tcfg.scheme : port == 443 ? "https" : "http", ext, port);
    } else if (tcfg.native_address != NULL || (t->native && !tcfg.native_off)) {
        /* service.nativelb (which wins over nativeLBByDefault), or
         * service-upstream: the Service's clusterIP and port, Kubernetes
         * balancing; a Service without one cannot be used (Traefik) */
        const char *ip = tcfg.native_address ? tcfg.native_address : str(spec, "clusterIP");
        if (ip == NULL || *ip == '\0' || strcmp(ip, "None") == 0) {
            problem(t, "ingress %s/%s: service %s/%s has no clusterIP (%s) (path skipped)", ns, ingress, ns, ref->service,
                    t->traefik ? "nativeLBByDefault" : "nativeLBByDefault / " K8S_NGINX_PREFIX "service-upstream");
            return NULL;
        }
        if (sp == NULL || !cJSON_IsNumber(get(sp, "port"))) {
            problem(t, "ingress %s/%s: service %s/%s has no port %s (path skipped)", ns, ingress, ns, ref->service,
                    port_text);
            return NULL;
        }
        const char *spn = str(sp, "name");
        int port = get(sp, "port")->valueint;
        bool https = port == 443 || (spn && strncmp(spn, "https", 5) == 0);
        add_url(t, &urls, tcfg.scheme ? tcfg.scheme : https ? "https" : "http", ip, port);
    } else {
        if (sp == NULL) {
            problem(t, "ingress %s/%s: service %s/%s has no port %s (path skipped)", ns, ingress, ns, ref->service,
                    port_text);
            return NULL;
        }
        const char *sp_name = str(sp, "name");
        const cJSON *sp_num = get(sp, "port");
        const cJSON *target = get(sp, "targetPort");
        /* EndpointSlices of the Service carry the resolved target port, by the service port's name */
        size_t n_slices = 0;
        const struct k8s_index_entry *slices = slices_find(t, ns, ref->service, &n_slices);
        for (int pass = 0; pass < 2 && urls.len == 0; pass++) { /* ready ones, else serving-but-terminating */
            for (size_t i = 0; i < n_slices; i++) {
                const cJSON *es = slices[i].obj;
                int port = 0;
                for (const cJSON *p = get(es, "ports") ? get(es, "ports")->child : NULL; p; p = p->next) {
                    const char *pn = str(p, "name");
                    bool same = (pn == NULL || pn[0] == '\0') ? (sp_name == NULL || sp_name[0] == '\0')
                                                              : (sp_name && strcmp(pn, sp_name) == 0);
                    if (same && cJSON_IsNumber(get(p, "port")))
                        port = get(p, "port")->valueint;
                }
                if (port == 0 && cJSON_IsNumber(target)) /* a slice without ports: the numeric targetPort */
                    port = target->valueint;
                if (port <= 0)
                    continue;
                /* Traefik: port 443 or a port name starting with "https" */
                bool https = (sp_name && strncmp(sp_name, "https", 5) == 0) ||
                             (cJSON_IsNumber(sp_num) && sp_num->valueint == 443);
                const char *scheme = tcfg.scheme ? tcfg.scheme : https ? "https" : "http";
                for (const cJSON *ep = get(es, "endpoints") ? get(es, "endpoints")->child : NULL; ep; ep = ep->next) {
                    if (!endpoint_usable(ep, pass == 0))
                        continue;
                    for (const cJSON *a = get(ep, "addresses") ? get(ep, "addresses")->child : NULL; a; a = a->next)
                        if (cJSON_IsString(a))
                            add_url(t, &urls, scheme, a->valuestring, port);
                }
            }
        }
    }
    struct model_service *s = arena_alloc(&t->m->arena, sizeof(*s));
    s->name = name;
    s->origin = (struct model_origin){"kubernetes", arena_printf(&t->m->arena, "service %s/%s", ns, ref->service)};
    struct model_lb *lb = arena_alloc(&t->m->arena, sizeof(*lb));
    lb->pass_host_header = tcfg.pass_host_header;
    lb->servers_transport = tcfg.transport;
    lb->sticky = tcfg.sticky;
    s->middlewares = tcfg.middlewares;
    s->n_middlewares = tcfg.n_middlewares;
    lb->servers = arena_alloc(&t->m->arena, (urls.len ? urls.len : 1) * sizeof(*lb->servers));
    lb->n_servers = urls.len;
    for (size_t i = 0; i < urls.len; i++)
        lb->servers[i] = (struct model_server){.url = urls.items[i], .weight = 1};
    s->lb = lb;
    made_add(t, s);
    return name;
}

/* ---- rules ---- */

/* The rule text for <host> and <path> of <path_type>; NULL when invalid. */
static const char *rule_text(struct arena *a, const char *host, const char *path, const char *path_type, bool *exact)
{
    char hostpart[600] = "";
    if (host && *host)
        snprintf(hostpart, sizeof(hostpart), "Host(`%s`)", host);
    *exact = path_type && strcmp(path_type, "Exact") == 0;
    if (path == NULL || path[0] != '/' || strchr(path, '`'))
        return NULL;
    char pathpart[1200];
    size_t len = strlen(path);
    if (*exact) {
        snprintf(pathpart, sizeof(pathpart), "Path(`%s`)", path);
    } else if (len == 1) {
        snprintf(pathpart, sizeof(pathpart), "PathPrefix(`/`)");
    } else {
        while (len > 1 && path[len - 1] == '/') /* "/foo/" is the prefix "/foo" */
            len--;
        snprintf(pathpart, sizeof(pathpart), "(Path(`%.*s`) || PathPrefix(`%.*s/`))", (int)len, path, (int)len, path);
    }
    if (hostpart[0])
        return arena_printf(a, "%s && %s", hostpart, pathpart);
    return arena_strdup(a, pathpart);
}

static bool valid_host(const char *h)
{
    if (h == NULL || *h == '\0' || strlen(h) > 253)
        return false;
    for (const char *p = h; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '.' || (*p == '*' && p == h && p[1] == '.')))
            return false;
    return true;
}

static struct model_router *add_router(struct tx *t, const char *name, const char *rule, const char *service,
                                      int64_t priority, bool tls, const char *source)
{
    struct model_router *r = arena_alloc(&t->m->arena, sizeof(*r));
    r->name = tls ? arena_printf(&t->m->arena, "%s-tls", name) : name;
    r->rule = rule;
    r->service = service;
    r->priority = priority;
    if (tls)
        r->tls = arena_alloc(&t->m->arena, sizeof(*r->tls));
    r->origin = (struct model_origin){"kubernetes", source};
    ptr_vec_push(&t->m->arena, &t->m->routers, r);
    return r;
}

static unsigned char *b64(struct arena *a, const char *in, size_t *out_len)
{
    size_t n = strlen(in);
    unsigned char *out = arena_alloc(a, base64_decoded_room(n));
    return base64_decode(in, n, out, out_len) ? out : NULL;
}

static bool add_tls(struct tx *t, const char *ns, const char *ingress, const cJSON *tls)
{
    bool any = false;
    for (const cJSON *e = tls ? tls->child : NULL; e; e = e->next) {
        const char *secret = str(e, "secretName");
        if (secret == NULL) {
            any = true; /* TLS with the default certificate */
            continue;
        }
        const cJSON *s = secret_get(t, ns, secret);
        const cJSON *data = get(s, "data");
        const char *crt = str(data, "tls.crt"), *key = str(data, "tls.key");
        size_t cl = 0, kl = 0;
        unsigned char *c = crt ? b64(t->pa, crt, &cl) : NULL, *k = key ? b64(t->pa, key, &kl) : NULL;
        if (s == NULL) {
            problem(t, "ingress %s/%s: TLS secret %s/%s does not exist (the default certificate is used)", ns, ingress, ns,
                    secret);
        } else if (c == NULL || k == NULL) {
            problem(t, "ingress %s/%s: TLS secret %s/%s has no valid tls.crt and tls.key (the default certificate is used)",
                    ns, ingress, ns, secret);
        } else {
            struct model_tls_cert *mc = arena_alloc(&t->m->arena, sizeof(*mc));
            mc->cert_pem = arena_strndup(&t->m->arena, (const char *)c, cl);
            mc->key_pem = arena_strndup(&t->m->arena, (const char *)k, kl);
            mc->origin = (struct model_origin){"kubernetes", arena_printf(&t->m->arena, "secret %s/%s", ns, secret)};
            ptr_vec_push(&t->m->arena, &t->m->certs, mc);
        }
        any = true;
    }
    return any;
}

/* gantry.io/mirror: "<service>:<port>=<percent>[,...]" copies a share of
 * the Ingress's requests to those Services of its namespace; with
 * gantry.io/mirror-max-body-size and gantry.io/mirror-body ("false": headers
 * only). Each backend of the Ingress becomes a mirroring service. NULL when
 * the annotation is absent or broken (a problem says why). */
struct mirror_spec {
    const char **services; /* model service names of the shadows */
    int *percent;
    size_t n;
    int64_t max_body;
    bool body;
};

static struct mirror_spec *mirror_annotation(struct tx *t, const cJSON *ing, const char *ns, const char *name)
{
    const char *a = annotation(ing, "gantry.io/mirror");
    if (a == NULL)
        return NULL;
    struct mirror_spec *ms = arena_alloc(t->pa, sizeof(*ms));
    ms->max_body = -1;
    ms->body = true;
    size_t cap = 1;
    for (const char *p = a; *p; p++)
        cap += *p == ',';
    ms->services = arena_alloc(t->pa, cap * sizeof(*ms->services));
    ms->percent = arena_alloc(t->pa, cap * sizeof(*ms->percent));
    char *copy = arena_strdup(t->pa, a), *save = NULL;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *colon = strchr(item, ':'), *eq = strchr(item, '=');
        char *end = NULL;
        long pct = eq ? strtol(eq + 1, &end, 10) : -1;
        if (colon == NULL || eq == NULL || eq < colon || colon == item || pct < 0 || pct > 100 || end == eq + 1 ||
            (*end != '\0' && *end != ' ')) {
            problem(t, "ingress %s/%s: annotation gantry.io/mirror: `%s` is not <service>:<port>=<percent 0..100> "
                       "(mirroring ignored)", ns, name, item);
            return NULL;
        }
        *colon = *eq = '\0';
        struct backend_ref ref = {.service = item};
        char *pend;
        long num = strtol(colon + 1, &pend, 10);
        if (*pend == '\0' && num > 0 && num < 65536)
            ref.port_number = (int)num;
        else
            ref.port_name = colon + 1;
        const char *svc = service_for(t, ns, name, &ref);
        if (svc == NULL)
            return NULL; /* service_for said what is missing */
        ms->services[ms->n] = svc;
        ms->percent[ms->n++] = (int)pct;
    }
    const char *max = annotation(ing, "gantry.io/mirror-max-body-size");
    if (max) {
        char *e;
        long long v = strtoll(max, &e, 10);
        if (*e != '\0' || v < 0)
            problem(t, "ingress %s/%s: annotation gantry.io/mirror-max-body-size: `%s` is not a byte count (no limit)", ns,
                    name, max);
        else
            ms->max_body = v;
    }
    const char *body = annotation(ing, "gantry.io/mirror-body");
    ms->body = !(body && strcmp(body, "false") == 0);
    return ms->n ? ms : NULL;
}

/* The mirroring service over <main> for <ms>, created once per Ingress. */
static const char *mirrored(struct tx *t, const struct mirror_spec *ms, const char *main, const char *base)
{
    const char *name = arena_printf(&t->m->arena, "%s-mirror-%s", base, main);
    if (made_has(t, name))
        return name;
    struct model_service *s = arena_alloc(&t->m->arena, sizeof(*s));
    s->name = name;
    s->origin = (struct model_origin){"kubernetes", "annotation gantry.io/mirror"};
    struct model_mirroring *mi = arena_alloc(&t->m->arena, sizeof(*mi));
    mi->service = main;
    mi->mirror_body = ms->body;
    mi->max_body_size = ms->max_body;
    mi->mirrors = arena_alloc(&t->m->arena, ms->n * sizeof(*mi->mirrors));
    mi->n_mirrors = ms->n;
    for (size_t i = 0; i < ms->n; i++)
        mi->mirrors[i] = (struct model_mirror){.name = ms->services[i], .percent = ms->percent[i]};
    s->mirroring = mi;
    made_add(t, s);
    return name;
}

/* ingress-nginx's mirror-target: every request also to that URL (a
 * service of one server, the Host its own), besides gantry.io/mirror's. */
static const struct mirror_spec *nginx_mirror(struct tx *t, const struct mirror_spec *ms, const struct k8s_nginx_plan *nx,
                                              const char *base)
{
    if (nx == NULL || nx->mirror_url == NULL)
        return ms;
    const char *name = arena_printf(&t->m->arena, "%s-nginx-mirror", base);
    if (!made_has(t, name)) {
        struct model_service *s = arena_alloc(&t->m->arena, sizeof(*s));
        s->name = name;
        s->origin = (struct model_origin){"kubernetes", "annotation " K8S_NGINX_PREFIX "mirror-target"};
        struct model_lb *lb = arena_alloc(&t->m->arena, sizeof(*lb));
        lb->servers = arena_alloc(&t->m->arena, sizeof(*lb->servers));
        lb->servers[0] = (struct model_server){.url = nx->mirror_url, .weight = 1};
        lb->n_servers = 1;
        lb->pass_host_header = false;
        s->lb = lb;
        made_add(t, s);
    }
    struct mirror_spec *out = arena_alloc(t->pa, sizeof(*out));
    size_t n = ms ? ms->n : 0;
    out->services = arena_alloc(t->pa, (n + 1) * sizeof(*out->services));
    out->percent = arena_alloc(t->pa, (n + 1) * sizeof(*out->percent));
    for (size_t i = 0; i < n; i++) {
        out->services[i] = ms->services[i];
        out->percent[i] = ms->percent[i];
    }
    out->services[n] = name;
    out->percent[n] = 100;
    out->n = n + 1;
    out->max_body = ms ? ms->max_body : -1;
    /* one body switch for all copies: gantry.io/mirror-body "false" or mirror-request-body "off" keeps bodies back */
    out->body = nx->mirror_body && (ms == NULL || ms->body);
    return out;
}

static const cJSON *secret_lookup(void *data, const char *ns, const char *name)
{
    return secret_get(data, ns, name);
}

/* default-backend: the Service's first port */
static const char *first_port_service(void *data, const char *ns, const char *ingress, const char *name)
{
    struct tx *t = data;
    const cJSON *ports = get(get(service_get(t, ns, name), "spec"), "ports");
    const cJSON *p0 = ports ? ports->child : NULL;
    struct backend_ref ref = {.service = name, .port_name = str(p0, "name"), .port_number = 80};
    if (cJSON_IsNumber(get(p0, "port")))
        ref.port_number = get(p0, "port")->valueint;
    if (ref.port_name && *ref.port_name == '\0')
        ref.port_name = NULL;
    return service_for(t, ns, ingress, &ref);
}

/* ingress-nginx's annotations on the routers of one path (<nx> NULL: none). */
static void nginx_router(struct tx *t, const struct k8s_nginx_plan *nx, struct model_router *r, const char *host,
                         const char *path, bool tls)
{
    if (nx == NULL)
        return;
    struct k8s_nginx_env env = {t->m, t->pa, t->problems, t->o->nginx, secret_lookup, t, t->events,
                                first_port_service, t->nginx_config};
    k8s_nginx_router(&env, nx, r, host, path, tls, host_has_cert(t, host)); /* its dependency: translate_ingress */
}

/* The annotations of either family on one router. */
static void ingress_router(struct tx *t, const struct k8s_nginx_plan *nx, const struct k8s_traefik_router *tr,
                           struct model_router *r, const char *host, const char *path, bool tls)
{
    if (nx != NULL)
        nginx_router(t, nx, r, host, path, tls);
    else
        k8s_traefik_router_apply(&t->m->arena, tr, r);
}

/* ingress-nginx canary: the service of the canary Ingress's backend for
 * <host> and <path> of namespace <ns>, its plan in <cp>; NULL when none. */
static const char *nginx_canary(struct tx *t, const struct k8s_nginx_env *env, const char *ns, const char *host,
                                const char *path, struct k8s_nginx_plan *cp)
{
    const char *cname = NULL;
    dep(t, 'C', ns, "");
    const cJSON *b = k8s_nginx_canary_find(env, t->canaries, t->n_canaries, t->objs->ingress_classes,
                                           t->objs->n_ingress_classes, ns, host, path, cp, &cname);
    struct backend_ref ref;
    if (b == NULL || !backend_of(b, &ref))
        return NULL;
    return service_for(t, ns, cname, &ref);
}

/* The header and cookie routers of a canary, above the main router <rname>. */
static void nginx_canary_routers(struct tx *t, const struct k8s_nginx_plan *nx, const struct k8s_nginx_plan *cp,
                                 const char *rname, const char *rule, const char *main_svc, const char *canary_svc,
                                 int64_t prio, bool tls, const char *source, const char *host, const char *path)
{
    static const struct {
        enum k8s_nginx_canary_route which;
        int64_t bump; /* header before cookie before weight */
        bool to_canary;
        const char *suffix;
    } routes[] = {{K8S_NGINX_CANARY_HEADER, 2, true, "canary-header"},
                  {K8S_NGINX_CANARY_HEADER_NEVER, 2, false, "canary-header-never"},
                  {K8S_NGINX_CANARY_COOKIE, 1, true, "canary-cookie"},
                  {K8S_NGINX_CANARY_COOKIE_NEVER, 1, false, "canary-cookie-never"}};
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const char *r = k8s_nginx_canary_rule(&t->m->arena, cp, rule, routes[i].which);
        if (r == NULL)
            continue;
        const char *n = arena_printf(&t->m->arena, "%s-%s", rname, routes[i].suffix);
        const char *svc = routes[i].to_canary ? canary_svc : main_svc;
        nginx_router(t, nx, add_router(t, n, r, svc, prio + routes[i].bump, false, source), host, path, false);
        if (tls)
            nginx_router(t, nx, add_router(t, n, r, svc, prio + routes[i].bump, true, source), host, path, true);
    }
}

/* ingress-nginx's ssl-passthrough (with enableSSLPassthrough): for each
 * rule's host, a TCP router HostSNI(host) passing the TLS connection
 * unterminated to the backend of the rule's path `/` (of the
 * defaultBackend for a rule without paths, as Traefik), on every entry
 * point as the Ingress's HTTPS routers. The servers are those of the HTTP
 * service (endpoints, or the ClusterIP with service-upstream /
 * nativeLBByDefault): a TCP service of the same name. */
static void nginx_passthrough(struct tx *t, const cJSON *spec, const char *ns, const char *name, const char *base,
                              const char *source)
{
    int rule_i = 0;
    for (const cJSON *rule = get(spec, "rules") ? get(spec, "rules")->child : NULL; rule; rule = rule->next, rule_i++) {
        const char *host = str(rule, "host");
        if (host == NULL || !valid_host(host)) {
            problem(t, "ingress %s/%s: rule %d: ssl-passthrough needs a valid host (no passthrough for it)", ns, name,
                    rule_i);
            continue;
        }
        const cJSON *paths = get(get(rule, "http"), "paths"), *backend = NULL;
        for (const cJSON *p = paths ? paths->child : NULL; p && backend == NULL; p = p->next) {
            const char *path = str(p, "path");
            if (path == NULL || strcmp(path, "/") == 0)
                backend = get(p, "backend");
        }
        if (paths == NULL)
            backend = get(spec, "defaultBackend");
        struct backend_ref ref;
        if (backend == NULL || !backend_of(backend, &ref)) {
            problem(t, "ingress %s/%s: ssl-passthrough: host %s has no backend for the path / (no passthrough for it)",
                    ns, name, host);
            continue;
        }
        /* the HTTP routes of that backend say what is wrong with it */
        struct ptr_vec *said = t->problems, quiet = {0};
        t->problems = &quiet;
        const char *svc = service_for(t, ns, name, &ref);
        t->problems = said;
        const struct model_service *hs = svc ? model_find_service(t->m, svc) : NULL;
        if (hs == NULL || hs->lb == NULL) {
            problem(t, "ingress %s/%s: ssl-passthrough: the backend of host %s cannot be used (no passthrough for it)",
                    ns, name, host);
            continue;
        }
        bool have = false;
        for (size_t i = 0; i < t->m->tcp_services.len && !have; i++)
            have = strcmp(((struct model_tcp_service *)t->m->tcp_services.items[i])->name, svc) == 0;
        if (!have) {
            struct model_tcp_service *ts = arena_alloc(&t->m->arena, sizeof(*ts));
            ts->name = svc;
            ts->origin = hs->origin;
            ts->servers = arena_alloc(&t->m->arena, (hs->lb->n_servers ? hs->lb->n_servers : 1) * sizeof(*ts->servers));
            for (size_t i = 0; i < hs->lb->n_servers; i++) {
                const char *u = hs->lb->servers[i].url, *sep = strstr(u, "://");
                ts->servers[ts->n_servers++].address = sep ? sep + 3 : u;
            }
            ptr_vec_push(&t->m->arena, &t->m->tcp_services, ts);
        }
        struct model_router *r = arena_alloc(&t->m->arena, sizeof(*r));
        r->name = arena_printf(&t->m->arena, "%s-%d-ssl-passthrough", base, rule_i);
        r->rule = arena_printf(&t->m->arena, "HostSNI(`%s`)", host);
        r->service = svc;
        r->tls = arena_alloc(&t->m->arena, sizeof(*r->tls));
        r->tls->passthrough = true;
        r->origin = (struct model_origin){"kubernetes", source};
        ptr_vec_push(&t->m->arena, &t->m->tcp_routers, r);
    }
}

/* Whether the Service of <backend> has annotations Traefik decodes (or
 * none); a problem names the Service, the annotation and the reason. */
static bool traefik_service_ok(struct tx *t, const cJSON *backend, const char *ns, const char *name)
{
    const char *svc = str(get(backend, "service"), "name"), *why;
    struct k8s_traefik_service cfg;
    if (svc == NULL || k8s_traefik_service_parse(t->pa, service_get(t, ns, svc), &cfg, &why) == 0)
        return true;
    problem(t, "ingress %s/%s: service %s/%s: %s (not served)", ns, name, ns, svc, why);
    return false;
}

/* Traefik skips an Ingress path whose Service's annotations do not
 * decode; gantry refuses the whole Ingress (fail closed: another path of
 * it could otherwise answer the skipped path's requests). */
static bool traefik_services_ok(struct tx *t, const cJSON *spec, const char *ns, const char *name)
{
    if (get(spec, "defaultBackend") && !traefik_service_ok(t, get(spec, "defaultBackend"), ns, name))
        return false;
    for (const cJSON *r = get(spec, "rules") ? get(spec, "rules")->child : NULL; r; r = r->next) {
        const cJSON *paths = get(get(r, "http"), "paths");
        for (const cJSON *p = paths ? paths->child : NULL; p; p = p->next)
            if (!traefik_service_ok(t, get(p, "backend"), ns, name))
                return false;
    }
    return true;
}

static void translate_ingress(struct tx *t, const cJSON *ing)
{
    const char *ns = meta_str(ing, "namespace"), *name = meta_str(ing, "name");
    if (ns == NULL || name == NULL)
        return;
    const char *source = arena_printf(&t->m->arena, "ingress %s/%s", ns, name);
    const cJSON *spec = get(ing, "spec");
    struct k8s_nginx_plan nx_plan, *nx = NULL; /* providers.kubernetesIngressNGINX: annotations */
    struct k8s_nginx_env nx_env = {t->m, t->pa, t->problems, t->o->nginx, secret_lookup, t, t->events,
                                first_port_service, t->nginx_config};
    bool shared_tls = false; /* a host with a certificate from another Ingress */
    if (t->o->nginx && !gantry_is_ours(t->objs, t->o, ing)) {
        /* a canary's routes are its main Ingress's: no TLS of its own to share */
        const cJSON *first = canary_candidate(ing) ? NULL : get(spec, "rules") ? get(spec, "rules")->child : NULL;
        for (const cJSON *r = first; r; r = r->next) {
            const char *host = str(r, "host");
            if (host == NULL || *host == '\0')
                continue;
            dep(t, 'H', "", host);
            shared_tls |= host_has_cert(t, host);
        }
        k8s_nginx_plan(&nx_env, ing, ns, name, get(spec, "tls") != NULL, shared_tls, &nx_plan);
        if (nx_plan.refused)
            return;
        if (nx_plan.canary)
            return; /* routed by the main Ingress of the same host and path (nginx_canary) */
        nx = &nx_plan;
    }
    /* Traefik's router.* annotations, on the Ingresses of its own class */
    struct k8s_traefik_router tr = {0};
    if (nx == NULL) {
        const char *why;
        struct ptr_vec notes = {0};
        int rc = k8s_traefik_router_parse(&t->m->arena, ing, &tr, &why, &notes); /* the model keeps its strings */
        for (size_t i = 0; i < notes.len; i++)
            problem(t, "ingress %s/%s: %s", ns, name, (const char *)notes.items[i]);
        if (rc != 0) {
            problem(t, "ingress %s/%s: %s (not served)", ns, name, why);
            return;
        }
    }
    t->traefik = nx == NULL;
    t->native = nx == NULL ? t->o->native_lb : (t->o->nginx->native_lb_by_default || nx->service_upstream);
    if (t->traefik && !traefik_services_ok(t, spec, ns, name))
        return;
    bool tls = add_tls(t, ns, name, get(spec, "tls"));
    /* router.tls without a TLS section: TLS routers only, as Traefik's */
    bool plain = !(tr.tls && !tls);
    tls |= tr.tls;
    const char *base = arena_printf(t->pa, "%s-%s", slug(t->pa, ns), slug(t->pa, name));
    const struct mirror_spec *ms = nginx_mirror(t, mirror_annotation(t, ing, ns, name), nx, base);
    /* the HTTP routes stay: port 80, and HTTPS clients sending another
     * server name, are served by them, as by ingress-nginx's server block */
    if (nx && nx->ssl_passthrough)
        nginx_passthrough(t, spec, ns, name, base, source);
    int rule_i = 0;
    for (const cJSON *rule = get(spec, "rules") ? get(spec, "rules")->child : NULL; rule; rule = rule->next, rule_i++) {
        const char *host = str(rule, "host");
        if (host && !valid_host(host)) {
            problem(t, "ingress %s/%s: rule %d: invalid host `%s` (rule skipped)", ns, name, rule_i, host);
            continue;
        }
        int64_t host_prio = host == NULL ? 0 : host[0] == '*' ? PRIO_WILDCARD_HOST : PRIO_EXACT_HOST;
        const cJSON *paths = get(get(rule, "http"), "paths");
        const char *www_svc = NULL; /* from-to-www-redirect: the router needs a service */
        int path_i = 0;
        for (const cJSON *p = paths ? paths->child : NULL; p; p = p->next, path_i++) {
            const char *path = str(p, "path");
            if (path == NULL)
                path = "/";
            const char *ptype = str(p, "pathType");
            if (ptype && strcmp(ptype, "Exact") != 0 && strcmp(ptype, "Prefix") != 0 &&
                strcmp(ptype, "ImplementationSpecific") != 0) {
                problem(t, "ingress %s/%s: path %s: unknown pathType %s (path skipped)", ns, name, path, ptype);
                continue;
            }
            bool exact;
            const char *rt = nx ? k8s_nginx_rule(&t->m->arena, nx, host, path, ptype, &exact)
                                : k8s_traefik_path_rule(&t->m->arena, &tr, host, path, ptype);
            if (rt != NULL && nx == NULL)
                exact = tr.path_matcher && strcmp(tr.path_matcher, "Path") == 0;
            else if (rt == NULL)
                rt = rule_text(&t->m->arena, host, path, ptype, &exact);
            else if (*rt == '\0')
                rt = NULL;
            struct backend_ref ref;
            if (rt == NULL) {
                problem(t, "ingress %s/%s: invalid path `%s` (path skipped)", ns, name, path);
                continue;
            }
            if (!backend_of(get(p, "backend"), &ref)) {
                problem(t, "ingress %s/%s: path %s: a backend needs service.name and service.port (path skipped)", ns,
                        name, path);
                continue;
            }
            const char *svc = service_for(t, ns, name, &ref);
            if (svc == NULL)
                continue;
            if (nx != NULL)
                svc = k8s_nginx_service(&nx_env, nx, svc);
            if (ms != NULL)
                svc = mirrored(t, ms, svc, base);
            size_t plen = strlen(path);
            while (!exact && plen > 1 && path[plen - 1] == '/')
                plen--;
            int64_t prio = host_prio + (int64_t)plen * 2 + (exact ? 1 : 0) + 2;
            const char *rname = arena_printf(&t->m->arena, "%s-%d-%d", base, rule_i, path_i);
            struct k8s_nginx_plan cp;
            const char *canary = nx ? nginx_canary(t, &nx_env, ns, host, path, &cp) : NULL;
            const char *routed = canary ? k8s_nginx_canary_weighted(&nx_env, &cp, svc, canary, rname) : svc;
            /* ingress-nginx: a host with another Ingress's certificate serves this Ingress's paths over HTTPS too */
            bool rule_tls = tls || (nx != NULL && host_has_cert(t, host));
            if (plain)
                ingress_router(t, nx, &tr, add_router(t, rname, rt, routed, prio, false, source), host, path, false);
            if (rule_tls)
                ingress_router(t, nx, &tr, add_router(t, rname, rt, routed, prio, true, source), host, path, true);
            if (canary)
                nginx_canary_routers(t, nx, &cp, rname, rt, svc, canary, prio, rule_tls, source, host, path);
            if (www_svc == NULL)
                www_svc = routed;
        }
        const char *www_mw = NULL, *from = nx && www_svc ? k8s_nginx_www_redirect(&nx_env, nx, host, &www_mw) : NULL;
        if (from != NULL) {
            /* below every route of an exact host (a route of any Ingress for
             * <from> wins, as ingress-nginx skips the redirect when <from> is
             * served), above wildcard ones (nginx: exact names first) */
            const char *wname = arena_printf(&t->m->arena, "%s-%d-from-to-www-redirect", base, rule_i);
            const char *wrule = arena_printf(&t->m->arena, "Host(`%s`)", from);
            const char **mws = arena_alloc(&t->m->arena, sizeof(*mws));
            mws[0] = www_mw;
            for (int k = 0; k < 2; k++) {
                if (k == 0 ? !plain : !tls)
                    continue;
                struct model_router *r = add_router(t, wname, wrule, www_svc, PRIO_EXACT_HOST + 1, k == 1, source);
                r->middlewares = mws;
                r->n_middlewares = 1;
            }
        }
    }
    struct backend_ref def;
    const cJSON *db = get(spec, "defaultBackend");
    if (db != NULL) {
        if (!backend_of(db, &def)) {
            problem(t, "ingress %s/%s: defaultBackend needs service.name and service.port (skipped)", ns, name);
            return;
        }
        const char *svc = service_for(t, ns, name, &def);
        if (svc == NULL)
            return;
        if (nx != NULL)
            svc = k8s_nginx_service(&nx_env, nx, svc);
        if (ms != NULL)
            svc = mirrored(t, ms, svc, base);
        const char *rname = arena_printf(&t->m->arena, "%s-default", base);
        if (plain)
            ingress_router(t, nx, &tr, add_router(t, rname, "PathPrefix(`/`)", svc, PRIO_DEFAULT_BACKEND, false, source),
                           NULL, NULL, false);
        if (tls)
            ingress_router(t, nx, &tr, add_router(t, rname, "PathPrefix(`/`)", svc, PRIO_DEFAULT_BACKEND, true, source),
                           NULL, NULL, true);
    }
}

/* ---- incremental translation (k8s_ingress_cache.h) ---- */

static uint64_t hash_rv(uint64_t h, const cJSON *o)
{
    return k8s_hash_str(h, o ? meta_str(o, "resourceVersion") : NULL);
}

/* The current version of what <d> names; order-independent where several
 * objects answer (the EndpointSlices of a Service). */
static uint64_t dep_version(const struct tx *t, const struct k8s_dep *d)
{
    uint64_t h = k8s_hash_str(k8s_hash_str(K8S_HASH_INIT, d->ns), d->name) ^ (uint64_t)d->kind;
    switch (d->kind) {
    case 'S':
        return hash_rv(h, k8s_index_get(&t->services, d->ns, d->name));
    case 'T':
        return hash_rv(h, k8s_index_get(&t->secrets, d->ns, d->name));
    case 'E': {
        size_t n = 0;
        const struct k8s_index_entry *e = k8s_index_find(&t->slices, d->ns, d->name, &n);
        uint64_t sum = n;
        for (size_t i = 0; i < n; i++)
            sum += hash_rv(K8S_HASH_INIT, e[i].obj);
        return h ^ sum;
    }
    case 'H': /* whether the host has an ingress-nginx certificate */
        return h ^ (host_has_cert(t, d->name) ? 0x9e3779b97f4a7c15ULL : 0);
    case 'C': {
        uint64_t sum = 0;
        for (size_t i = 0; i < t->n_canaries; i++) {
            const char *ns = meta_str(t->canaries[i], "namespace");
            if (ns && strcmp(ns, d->ns) == 0)
                sum += hash_rv(k8s_hash_str(K8S_HASH_INIT, meta_str(t->canaries[i], "name")), t->canaries[i]);
        }
        return h ^ sum;
    }
    }
    return h;
}

/* Each namespace's sum of its canaries' versions, as dep_version('C')
 * adds them, into <out> (ns -> the sum, cast to a pointer). */
static void canary_sums(const struct tx *t, struct strmap *out)
{
    for (size_t i = 0; i < t->n_canaries; i++) {
        const char *ns = meta_str(t->canaries[i], "namespace");
        if (ns == NULL)
            continue;
        void **slot = strmap_put(out, ns, NULL);
        uintptr_t sum = (uintptr_t)*slot + (uintptr_t)hash_rv(k8s_hash_str(K8S_HASH_INIT, meta_str(t->canaries[i], "name")),
                                                             t->canaries[i]);
        *slot = (void *)(sum ? sum : 1); /* 0 is "none" */
    }
}

static uint64_t deps_digest(const struct tx *t, const struct k8s_dep *deps, size_t n)
{
    uint64_t h = K8S_HASH_INIT;
    for (size_t i = 0; i < n; i++)
        h = (h ^ dep_version(t, &deps[i])) * 1099511628211ULL;
    return h;
}

/* What every piece depends on: the IngressClasses and the options. */
static uint64_t context_digest(const struct k8s_objects *objs, const struct k8s_translate_options *o)
{
    uint64_t h = k8s_hash_str(K8S_HASH_INIT, o->ingress_class);
    h = k8s_hash_str(h, o->allow_external_name ? "x" : "-");
    h = k8s_hash_str(h, o->nginx_only ? "n" : "-");
    if (o->nginx) {
        const struct k8s_nginx_options *n = o->nginx;
        h = k8s_hash_str(k8s_hash_str(h, n->ingress_class), n->controller_class);
        char flags[8];
        snprintf(flags, sizeof(flags), "%d%d%d%d%d", n->watch_without_class, n->class_by_name, n->allow_unsafe,
                 n->native_lb_by_default, n->enable_ssl_passthrough);
        h = k8s_hash_str(h, flags);
        /* the ConfigMap: its every change re-translates the Ingresses */
        h = k8s_hash_str(h, n->config_map ? n->config_map : "-");
        for (size_t i = 0; n->config_map && i < objs->n_config_maps; i++)
            h = hash_rv(k8s_hash_str(h, meta_str(objs->config_maps[i], "name")), objs->config_maps[i]);
    }
    for (size_t i = 0; i < objs->n_ingress_classes; i++)
        h = hash_rv(k8s_hash_str(h, meta_str(objs->ingress_classes[i], "name")), objs->ingress_classes[i]);
    return h;
}

static struct k8s_nginx_event *copy_event(struct arena *a, const struct k8s_nginx_event *e)
{
    struct k8s_nginx_event *c = arena_alloc(a, sizeof(*c));
    *c = (struct k8s_nginx_event){arena_strdup(a, e->ns),
                                  arena_strdup(a, e->name),
                                  e->uid ? arena_strdup(a, e->uid) : NULL,
                                  e->resource_version ? arena_strdup(a, e->resource_version) : NULL,
                                  arena_strdup(a, e->reason),
                                  arena_strdup(a, e->message)};
    return c;
}

/* A fresh piece for <ing>: its translation into a model of its own. */
static struct k8s_piece *translate_piece(struct tx *t, struct k8s_ingress_cache *c, const cJSON *ing, const char *key,
                                         const char *version)
{
    struct k8s_piece *p = k8s_ingress_cache_put(c, key, version, meta_str(ing, "creationTimestamp"));
    struct arena *pa = &p->m->arena;
    struct ptr_vec problems = {0}, events = {0};
    t->m = p->m;
    t->made.n = 0;
    t->n_deps = 0;
    t->problems = &problems;
    t->events = t->o->nginx_events ? &events : NULL;
    translate_ingress(t, ing);
    for (size_t i = 0; i < problems.len; i++) /* the rebuild's arena goes: the piece keeps its own copies */
        ptr_vec_push(pa, &p->m->problems, arena_strdup(pa, problems.items[i]));
    for (size_t i = 0; i < events.len; i++)
        ptr_vec_push(pa, &p->events, copy_event(pa, events.items[i]));
    p->deps = arena_alloc(pa, (t->n_deps ? t->n_deps : 1) * sizeof(*p->deps));
    for (size_t i = 0; i < t->n_deps; i++)
        p->deps[i] = (struct k8s_dep){t->deps[i].kind, arena_strdup(pa, t->deps[i].ns), arena_strdup(pa, t->deps[i].name)};
    p->n_deps = t->n_deps;
    p->deps_digest = deps_digest(t, p->deps, p->n_deps);
    p->ing = ing;
    p->made_gen = p->seen_gen = t->gen;
    k8s_ingress_cache_index(c, p);
    model_compute_digest(p->m); /* once: the assembled model's digest folds the pieces' */
    p->firsts = arena_alloc(pa, p->m->services.len + p->m->tcp_services.len + 1);
    /* the next piece's first chunk: Ingresses tend to look alike; a bigger
     * one takes a second chunk, a smaller one leaves less unused */
    size_t used = p->m->arena.allocated + 128;
    c->piece_bytes = used < 512 ? 512 : used > 4096 ? 4096 : used;
    t->m = NULL;
    return p;
}

/* ---- assembly: the model from the pieces, names checked for collisions ---- */

struct claim {
    const char *name;
    const char *owner;   /* the Kubernetes object the name stands for */
    const char *ingress; /* the Ingress that claimed it */
};

struct claims {
    struct claim *slots;
    size_t cap; /* a power of two */
};

static struct claim *claim_slot(struct claims *cl, const char *name)
{
    size_t i = (size_t)k8s_hash_str(K8S_HASH_INIT, name) & (cl->cap - 1);
    while (cl->slots[i].name && strcmp(cl->slots[i].name, name) != 0)
        i = (i + 1) & (cl->cap - 1);
    return &cl->slots[i];
}

/* Routers are the Ingress's own; a service "<ns>-<svc>-<port>" stands for
 * a Kubernetes Service and may be shared by the Ingresses that use it. */
static const char *service_owner(const struct model_service *s, const char *ingress)
{
    const char *d = s->origin.source;
    return d && strncmp(d, "service ", 8) == 0 ? d : ingress;
}

/* TCP routers and services have names of their own: "tcp:" keeps them
 * apart from the HTTP ones in the claims (names are [a-z0-9-]). */
static const char *tcp_key(struct arena *a, const char *name)
{
    return arena_printf(a, "tcp:%s", name);
}

/* The other Ingress when one of <p>'s names is already another's; NULL when
 * none is. */
static const char *collision(struct claims *cl, struct arena *a, const struct k8s_piece *p, const char **name)
{
    for (size_t i = 0; i < p->m->tcp_routers.len; i++) {
        const struct model_router *r = p->m->tcp_routers.items[i];
        struct claim *c = claim_slot(cl, tcp_key(a, r->name));
        if (c->name && strcmp(c->ingress, p->key) != 0)
            return *name = r->name, c->ingress;
    }
    for (size_t i = 0; i < p->m->tcp_services.len; i++) {
        const struct model_tcp_service *s = p->m->tcp_services.items[i];
        struct claim *c = claim_slot(cl, tcp_key(a, s->name));
        const char *owner = s->origin.source && strncmp(s->origin.source, "service ", 8) == 0 ? s->origin.source : p->key;
        if (c->name && strcmp(c->owner, owner) != 0)
            return *name = s->name, c->ingress;
    }
    for (size_t i = 0; i < p->m->routers.len; i++) {
        const struct model_router *r = p->m->routers.items[i];
        struct claim *c = claim_slot(cl, r->name);
        if (c->name && strcmp(c->ingress, p->key) != 0)
            return *name = r->name, c->ingress;
    }
    for (size_t i = 0; i < p->m->services.len; i++) {
        const struct model_service *s = p->m->services.items[i];
        struct claim *c = claim_slot(cl, s->name);
        if (c->name && strcmp(c->owner, service_owner(s, p->key)) != 0)
            return *name = s->name, c->ingress;
    }
    return NULL;
}

/* An Ingress's problems, and its Events once per version (when it is
 * translated, or for a new leader), into the rebuild's lists. */
static void piece_notes(struct tx *t, const struct k8s_piece *p, struct ptr_vec *problems)
{
    for (size_t j = 0; j < p->m->problems.len; j++)
        ptr_vec_push(t->pa, problems, arena_strdup(t->pa, p->m->problems.items[j]));
    for (size_t j = 0; t->o->nginx_events && (p->made_gen == t->gen || t->o->events_of_unchanged) && j < p->events.len;
         j++)
        ptr_vec_push(t->pa, t->o->nginx_events, copy_event(t->pa, p->events.items[j]));
}

/* <p>'s objects into <m>: every router, middleware, certificate and
 * transport; a service only where the piece is its first (p->firsts). */
static void piece_add(struct model *m, const struct k8s_piece *p)
{
    struct arena *ma = &m->arena;
    const struct model *pm = p->m;
    for (size_t j = 0; j < pm->routers.len; j++)
        ptr_vec_push(ma, &m->routers, pm->routers.items[j]);
    for (size_t j = 0; j < pm->services.len; j++)
        if (p->firsts[j])
            ptr_vec_push(ma, &m->services, pm->services.items[j]);
    for (size_t j = 0; j < pm->tcp_routers.len; j++)
        ptr_vec_push(ma, &m->tcp_routers, pm->tcp_routers.items[j]);
    for (size_t j = 0; j < pm->tcp_services.len; j++)
        if (p->firsts[pm->services.len + j])
            ptr_vec_push(ma, &m->tcp_services, pm->tcp_services.items[j]);
    for (size_t j = 0; j < pm->middlewares.len; j++)
        ptr_vec_push(ma, &m->middlewares, pm->middlewares.items[j]);
    for (size_t j = 0; j < pm->certs.len; j++)
        ptr_vec_push(ma, &m->certs, pm->certs.items[j]);
    for (size_t j = 0; j < pm->transports.len; j++)
        ptr_vec_push(ma, &m->transports, pm->transports.items[j]);
}

/* The model's digest folds its pieces'; it holds each of them. */
static struct model *assembled(struct model *m, struct k8s_piece **pieces, size_t used)
{
    uint64_t parts = K8S_HASH_INIT;
    for (size_t i = 0; i < used; i++)
        parts = (parts ^ pieces[i]->m->digest) * 1099511628211ULL;
    m->digest = parts; /* the provider completes it with the problems (model_set_digest) */
    k8s_model_hold_pieces(m, pieces, used);
    return m;
}

/* Whether <a> is older than <b> (the assembly order). */
static bool piece_older(const struct k8s_piece *a, const struct k8s_piece *b)
{
    int c = strcmp(a->created, b->created);
    return c ? c < 0 : strcmp(a->key, b->key) < 0;
}

static int piece_age_cmp(const void *a, const void *b)
{
    const struct k8s_piece *x = *(struct k8s_piece *const *)a, *y = *(struct k8s_piece *const *)b;
    return piece_older(x, y) ? -1 : piece_older(y, x) ? 1 : 0;
}

/* One claim more on <key> by <p> (k8s_ingress_cache claims). */
static void claim_add(struct k8s_ingress_cache *c, const char *key, const char *owner, struct k8s_piece *p)
{
    void **slot = strmap_put(&c->claims, key, NULL);
    struct k8s_claim *cl = *slot;
    if (cl == NULL) {
        cl = *slot = mem_alloc(sizeof(*cl));
        *cl = (struct k8s_claim){owner, p, 0};
    }
    cl->n++;
}

/* The claims of <pieces> (assembled with no collision), to be patched. */
static void claims_build(struct tx *t, struct k8s_ingress_cache *c, struct k8s_piece **pieces, size_t n)
{
    k8s_ingress_cache_claims_drop(c);
    for (size_t i = 0; i < n; i++) {
        struct k8s_piece *p = pieces[i];
        const struct model *pm = p->m;
        for (size_t j = 0; j < pm->routers.len; j++)
            claim_add(c, ((const struct model_router *)pm->routers.items[j])->name, p->key, p);
        for (size_t j = 0; j < pm->services.len; j++) {
            const struct model_service *s = pm->services.items[j];
            claim_add(c, s->name, service_owner(s, p->key), p);
        }
        for (size_t j = 0; j < pm->tcp_routers.len; j++)
            claim_add(c, tcp_key(t->pa, ((const struct model_router *)pm->tcp_routers.items[j])->name), p->key, p);
        for (size_t j = 0; j < pm->tcp_services.len; j++) {
            const struct model_tcp_service *s = pm->tcp_services.items[j];
            const char *src = s->origin.source;
            claim_add(c, tcp_key(t->pa, s->name), src && strncmp(src, "service ", 8) == 0 ? src : p->key, p);
        }
    }
    c->claims_valid = true;
}

/* The model of <pieces>, oldest first (k8s_ingress_cache_order_set), every
 * name checked; <pieces> ends with those used, the rest lost a name to an
 * older one. When none did, the claims are kept for the next patch. */
static struct model *assemble(struct tx *t, struct k8s_ingress_cache *cache, struct k8s_piece **pieces, size_t n,
                              struct ptr_vec *problems)
{
    struct model *m = model_new("kubernetes");
    size_t names = 0;
    for (size_t i = 0; i < n; i++)
        names += pieces[i]->m->routers.len + pieces[i]->m->services.len + pieces[i]->m->tcp_routers.len +
                 pieces[i]->m->tcp_services.len;
    struct claims cl = {.cap = 64};
    while (cl.cap < names * 2)
        cl.cap *= 2;
    cl.slots = mem_calloc(cl.cap, sizeof(*cl.slots));
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        struct k8s_piece *p = pieces[i];
        struct model *pm = p->m;
        piece_notes(t, p, problems);
        const char *name = NULL, *other = collision(&cl, t->pa, p, &name);
        if (other != NULL) {
            ptr_vec_push(t->pa, problems,
                         arena_printf(t->pa,
                                      "ingress %s: the name `%s` is also ingress %s's (namespace and name are "
                                      "joined with '-'); ingress %s, created first, keeps it (not served)",
                                      p->key, name, other, other));
            continue;
        }
        for (size_t j = 0; j < pm->routers.len; j++) {
            const struct model_router *r = pm->routers.items[j];
            *claim_slot(&cl, r->name) = (struct claim){r->name, p->key, p->key};
        }
        for (size_t j = 0; j < pm->services.len; j++) {
            const struct model_service *s = pm->services.items[j];
            struct claim *c = claim_slot(&cl, s->name);
            p->firsts[j] = c->name == NULL; /* else the same Service, from another Ingress's piece */
            if (c->name == NULL)
                *c = (struct claim){s->name, service_owner(s, p->key), p->key};
        }
        for (size_t j = 0; j < pm->tcp_routers.len; j++) {
            const struct model_router *r = pm->tcp_routers.items[j];
            const char *k = tcp_key(t->pa, r->name);
            *claim_slot(&cl, k) = (struct claim){k, p->key, p->key};
        }
        for (size_t j = 0; j < pm->tcp_services.len; j++) {
            const struct model_tcp_service *s = pm->tcp_services.items[j];
            const char *k = tcp_key(t->pa, s->name);
            struct claim *c = claim_slot(&cl, k);
            p->firsts[pm->services.len + j] = c->name == NULL;
            const char *src = s->origin.source;
            if (c->name == NULL)
                *c = (struct claim){k, src && strncmp(src, "service ", 8) == 0 ? src : p->key, p->key};
        }
        piece_add(m, p);
        pieces[used++] = p;
    }
    free(cl.slots);
    if (used == n)
        claims_build(t, cache, pieces, n);
    else
        k8s_ingress_cache_claims_drop(cache); /* a change may give a name back: checked in full again */
    return assembled(m, pieces, used);
}

/* The claims without <gone>'s and with <added>'s, while <gone> are still
 * alive; false (the claims then unusable) when that could change more than
 * those pieces: a name taken by another piece, a shared service whose
 * first piece goes and is not replaced by its own new version; TCP names.
 * An older piece naming a shared service takes it over. */
static bool claims_patch(struct k8s_ingress_cache *c, struct k8s_piece *const *gone, size_t n_gone,
                         struct k8s_piece *const *added, size_t n_added)
{
    if (!c->claims_valid)
        return false;
    size_t orphans = 0;
    for (size_t i = 0; i < n_gone; i++) {
        struct k8s_piece *p = gone[i];
        const struct model *pm = p->m;
        if (pm->tcp_routers.len || pm->tcp_services.len)
            return false;
        for (size_t j = 0; j < pm->routers.len + pm->services.len; j++) {
            const char *name = j < pm->routers.len ? ((const struct model_router *)pm->routers.items[j])->name
                                                   : ((const struct model_service *)pm->services.items[j - pm->routers.len])->name;
            struct k8s_claim *cl = strmap_get(&c->claims, name);
            if (cl == NULL)
                return false;
            if (--cl->n == 0) {
                orphans -= cl->first == NULL;
                free(strmap_del(&c->claims, name));
            } else if (cl->first == p) { /* the next oldest is served: this one's new version, or see below */
                *cl = (struct k8s_claim){cl->owner, NULL, cl->n, p->key, p->created};
                orphans++;
            }
        }
    }
    for (size_t i = 0; i < n_added; i++) {
        struct k8s_piece *p = added[i];
        const struct model *pm = p->m;
        if (pm->tcp_routers.len || pm->tcp_services.len)
            return false;
        for (size_t j = 0; j < pm->routers.len; j++) {
            const char *name = ((const struct model_router *)pm->routers.items[j])->name;
            if (strmap_get(&c->claims, name) != NULL)
                return false; /* another's, or a service's */
            claim_add(c, name, p->key, p);
        }
        for (size_t j = 0; j < pm->services.len; j++) {
            const struct model_service *s = pm->services.items[j];
            const char *owner = service_owner(s, p->key);
            struct k8s_claim *cl = strmap_get(&c->claims, s->name);
            if (cl != NULL && strcmp(cl->owner, owner) != 0)
                return false;
            if (cl != NULL && cl->first == NULL) { /* its first went: back only as that one, no younger */
                if (strcmp(cl->was_key, p->key) != 0 || strcmp(p->created, cl->was_created) > 0)
                    return false;
                *cl = (struct k8s_claim){owner, p, cl->n, NULL, NULL};
                orphans--;
                p->firsts[j] = 1;
                cl->n++;
                continue;
            }
            if (cl != NULL && cl->first == p)
                return false; /* its own router's name */
            if (cl != NULL && piece_older(p, cl->first)) { /* served from this one now */
                const struct model *fm = cl->first->m;
                for (size_t k = 0; k < fm->services.len; k++)
                    if (strcmp(((const struct model_service *)fm->services.items[k])->name, s->name) == 0)
                        cl->first->firsts[k] = 0;
                cl->first = p;
                cl->owner = owner;
                p->firsts[j] = 1;
                cl->n++;
                continue;
            }
            p->firsts[j] = cl == NULL;
            claim_add(c, s->name, owner, p);
        }
    }
    return orphans == 0;
}

/* The model of the assembly order (patched): from the claims when
 * <patched>, else every name checked again. */
static struct model *assemble_order(struct tx *t, struct k8s_ingress_cache *c, bool patched, struct ptr_vec *problems)
{
    struct k8s_piece **pieces = mem_alloc((c->n_order ? c->n_order : 1) * sizeof(*pieces));
    memcpy(pieces, c->order, c->n_order * sizeof(*pieces));
    struct model *m;
    if (!patched) {
        m = assemble(t, c, pieces, c->n_order, problems);
    } else {
        m = model_new("kubernetes");
        for (size_t i = 0; i < c->n_order; i++) {
            piece_notes(t, pieces[i], problems);
            piece_add(m, pieces[i]);
        }
        m = assembled(m, pieces, c->n_order);
    }
    free(pieces);
    return m;
}

/* Whether <ing> asks to be an ingress-nginx canary (checked further by
 * k8s_nginx_canary_find). */
static bool canary_candidate(const cJSON *ing)
{
    return annotation(ing, K8S_NGINX_PREFIX "canary") != NULL;
}

/* Index <i> of <c> over <items>, built again unless <gen> says the list is
 * the one indexed last time. */
static void cached_index(struct k8s_ingress_cache *c, int i, struct k8s_index *out, const cJSON **items, size_t n,
                         uint64_t gen, const char *by_label)
{
    if (gen == 0 || gen != c->ix_gen[i]) {
        arena_free(&c->ix_arena[i]);
        arena_init(&c->ix_arena[i]);
        k8s_index_build(&c->ix_arena[i], &c->ix[i], items, n, by_label);
        c->ix_gen[i] = gen;
    }
    *out = c->ix[i];
}

/* Every Ingress of the list looked at (its piece reused when its version
 * and its dependencies' are those it was translated with): the path
 * without a delta, or when the cache is new. Rebuilds the reverse index and
 * the assembly order. */
static struct model *translate_all(struct tx *t, struct k8s_ingress_cache *cache, bool deps_same,
                                   struct ptr_vec *problems)
{
    const struct k8s_objects *objs = t->objs;
    const struct k8s_translate_options *o = t->o;
    uint64_t gen = t->gen;
    struct k8s_piece **pieces;
    size_t n = 0;
    k8s_ingress_cache_rev_drop(cache); /* made again at the end: cheaper than piece by piece */
    if (objs->ingresses_gen != 0 && objs->ingresses_gen == cache->ours_gen) {
        /* the same Ingresses: the last rebuild's own, each with its piece
         * (its version is the one translated); only dependencies may differ */
        pieces = cache->ours_pieces;
        n = cache->n_ours;
        cache->ours_pieces = mem_alloc((n ? n : 1) * sizeof(*pieces));
        for (size_t i = 0; i < n; i++) {
            struct k8s_piece *p = pieces[i];
            if (deps_same || deps_digest(t, p->deps, p->n_deps) == p->deps_digest) {
                cache->last_reused++;
            } else {
                char key[600], version[300]; /* the old piece goes in translate_piece */
                snprintf(key, sizeof(key), "%s", p->key);
                snprintf(version, sizeof(version), "%s", p->version);
                p = translate_piece(t, cache, cache->ours[i], key, version);
                cache->last_translated++;
            }
            p->ing = cache->ours[i];
            p->used_gen = gen;
            pieces[i] = p;
        }
    } else {
        pieces = mem_alloc((objs->n_ingresses ? objs->n_ingresses : 1) * sizeof(*pieces));
        free(cache->ours);
        free(cache->ours_pieces);
        cache->ours = mem_alloc((objs->n_ingresses ? objs->n_ingresses : 1) * sizeof(*cache->ours));
        cache->ours_pieces = mem_alloc((objs->n_ingresses ? objs->n_ingresses : 1) * sizeof(*pieces));
        cache->ours_gen = objs->ingresses_gen;
        for (size_t i = 0; i < objs->n_ingresses; i++) {
            const cJSON *ing = objs->ingresses[i];
            const char *ns = meta_str(ing, "namespace"), *name = meta_str(ing, "name");
            if (ns == NULL || name == NULL || !k8s_ingress_is_ours(objs, o, ing))
                continue;
            char key[600], version[300];
            snprintf(key, sizeof(key), "%s/%s", ns, name);
            snprintf(version, sizeof(version), "%s/%s", meta_str(ing, "uid") ? meta_str(ing, "uid") : "",
                     meta_str(ing, "resourceVersion") ? meta_str(ing, "resourceVersion") : "");
            struct k8s_piece *p = k8s_ingress_cache_get(cache, key);
            if (p && strcmp(p->version, version) == 0 &&
                (deps_same || deps_digest(t, p->deps, p->n_deps) == p->deps_digest)) {
                cache->last_reused++;
            } else {
                p = translate_piece(t, cache, ing, key, version);
                cache->last_translated++;
            }
            p->ing = ing;
            p->used_gen = gen;
            cache->ours[n] = ing;
            pieces[n++] = p;
        }
    }
    cache->n_ours = n;
    memcpy(cache->ours_pieces, pieces, n * sizeof(*pieces));
    k8s_ingress_cache_order_set(cache, pieces, n); /* sorts <pieces> too */
    struct model *m = assemble(t, cache, pieces, n, problems);
    free(pieces);
    k8s_ingress_cache_sweep(cache, gen); /* Ingresses gone or no longer ours */
    k8s_ingress_cache_rev_build(cache);
    cache->primed = true;
    return m;
}

static void push_piece(struct tx *t, struct ptr_vec *v, struct k8s_piece *p)
{
    ptr_vec_push(t->pa, v, p);
}

/* The pieces that depend on <kind> <ns_name>, not looked at yet in this
 * rebuild, onto <cand>. */
static void dependents_of(struct tx *t, struct k8s_ingress_cache *c, char kind, const char *ns_name,
                          struct ptr_vec *cand)
{
    const struct k8s_dependents *d = k8s_ingress_cache_dependents(c, kind, ns_name);
    for (size_t i = 0; d && i < d->n; i++) {
        if (d->p[i]->seen_gen != t->gen) {
            d->p[i]->seen_gen = t->gen;
            push_piece(t, cand, d->p[i]);
        }
    }
}

/* Namespaces whose canaries changed since the last rebuild ('C' deps). */
static void canary_changes(struct tx *t, struct k8s_ingress_cache *c, struct ptr_vec *cand)
{
    struct strmap now = STRMAP_INIT;
    canary_sums(t, &now);
    size_t i = 0;
    const char *ns;
    void *v;
    char key[600];
    while (strmap_next(&now, &i, &ns, &v)) {
        if (strmap_get(&c->canary_sums, ns) != v) {
            snprintf(key, sizeof(key), "%s/", ns);
            dependents_of(t, c, 'C', key, cand);
        }
    }
    for (i = 0; strmap_next(&c->canary_sums, &i, &ns, &v);) {
        if (v != NULL && strmap_get(&now, ns) == NULL) {
            snprintf(key, sizeof(key), "%s/", ns);
            dependents_of(t, c, 'C', key, cand);
        }
    }
    strmap_free(&now, NULL);
}

/* Hosts that gained or lost an ingress-nginx certificate ('H' deps): the
 * difference of the last rebuild's TLS hosts and these (both sorted, with
 * repeats in these). Whether there was any. */
static bool tls_host_changes(struct tx *t, struct k8s_ingress_cache *c, struct ptr_vec *cand)
{
    size_t i = 0, j = 0;
    bool any = false;
    char key[600];
    while (i < c->n_tls_hosts || j < t->n_tls_hosts) {
        int cmp = i == c->n_tls_hosts ? 1 : j == t->n_tls_hosts ? -1 : strcmp(c->tls_hosts[i], t->tls_hosts[j]);
        const char *host = cmp <= 0 ? c->tls_hosts[i] : t->tls_hosts[j];
        if (cmp != 0) {
            snprintf(key, sizeof(key), "/%s", host);
            dependents_of(t, c, 'H', key, cand);
            any = true;
        }
        if (cmp <= 0)
            i++;
        if (cmp >= 0)
            while (++j < t->n_tls_hosts && strcmp(t->tls_hosts[j], host) == 0)
                ;
    }
    return any;
}

/* Only what the delta names looked at: the changed Ingresses, and the
 * pieces that depend on a changed Service, EndpointSlice, Secret,
 * namespace's canaries or host's certificate (the reverse index); each
 * re-translated when its version or its dependencies' differ. The rest of
 * the last assembly order stays as it was. */
static struct model *translate_delta(struct tx *t, struct k8s_ingress_cache *c, struct ptr_vec *problems)
{
    const struct k8s_delta *d = t->objs->delta;
    struct ptr_vec gone = {0}, added = {0}, cand = {0};
    for (size_t i = 0; i < d->n_ingresses; i++) {
        const cJSON *ing = d->ingress_objs[i];
        char key[600], version[300];
        snprintf(key, sizeof(key), "%s", d->ingress_keys[i]);
        struct k8s_piece *old = k8s_ingress_cache_get(c, key);
        const char *ns = meta_str(ing, "namespace"), *name = meta_str(ing, "name");
        if (ing == NULL || ns == NULL || name == NULL || !k8s_ingress_is_ours(t->objs, t->o, ing)) {
            if (old != NULL) { /* gone, or no longer ours */
                push_piece(t, &gone, old);
                k8s_ingress_cache_del(c, key);
            }
            continue;
        }
        snprintf(version, sizeof(version), "%s/%s", meta_str(ing, "uid") ? meta_str(ing, "uid") : "",
                 meta_str(ing, "resourceVersion") ? meta_str(ing, "resourceVersion") : "");
        if (old && strcmp(old->version, version) == 0 && deps_digest(t, old->deps, old->n_deps) == old->deps_digest) {
            old->ing = ing; /* the same version, another copy */
            old->seen_gen = t->gen;
            continue;
        }
        if (old != NULL)
            push_piece(t, &gone, old); /* alive: the assembly order holds it */
        push_piece(t, &added, translate_piece(t, c, ing, key, version));
    }
    for (size_t i = 0; i < d->n_services; i++)
        dependents_of(t, c, 'S', d->services[i], &cand);
    for (size_t i = 0; i < d->n_slices; i++)
        dependents_of(t, c, 'E', d->slices[i], &cand);
    for (size_t i = 0; i < d->n_secrets; i++)
        dependents_of(t, c, 'T', d->secrets[i], &cand);
    canary_changes(t, c, &cand);
    tls_host_changes(t, c, &cand);
    bool bulk = cand.len > c->n_order / 4 + 64; /* the index again at the end, not piece by piece */
    if (bulk)
        k8s_ingress_cache_rev_drop(c);
    for (size_t i = 0; i < cand.len; i++) {
        struct k8s_piece *p = cand.items[i];
        if (deps_digest(t, p->deps, p->n_deps) == p->deps_digest)
            continue;
        char key[600], version[300]; /* the old piece leaves the cache in translate_piece */
        snprintf(key, sizeof(key), "%s", p->key);
        snprintf(version, sizeof(version), "%s", p->version);
        push_piece(t, &gone, p);
        push_piece(t, &added, translate_piece(t, c, p->ing, key, version));
    }
    if (bulk)
        k8s_ingress_cache_rev_build(c);
    if (added.len > 1) /* oldest first, as the names are claimed */
        qsort(added.items, added.len, sizeof(*added.items), piece_age_cmp);
    bool patched = claims_patch(c, (struct k8s_piece *const *)gone.items, gone.len,
                                (struct k8s_piece *const *)added.items, added.len);
    k8s_ingress_cache_order_patch(c, (struct k8s_piece *const *)gone.items, gone.len, (struct k8s_piece **)added.items,
                                  added.len); /* <gone> may be freed from here */
    c->last_translated = added.len;
    c->last_reused = c->n_order - added.len;
    c->ours_gen = 0; /* the list walk's own record is not kept up to date here */
    c->last_patched = patched;
    return assemble_order(t, c, patched, problems);
}

/* What the next delta is told apart from (canary_changes). */
static void snapshot_canaries(struct tx *t, struct k8s_ingress_cache *c)
{
    strmap_free(&c->canary_sums, NULL);
    strmap_init(&c->canary_sums);
    canary_sums(t, &c->canary_sums);
}

/* (tls_host_changes) */
static void snapshot_tls_hosts(struct tx *t, struct k8s_ingress_cache *c)
{
    size_t n = 0;
    for (size_t j = 0; j < t->n_tls_hosts; j++) /* unchanged: nothing to do */
        if (j == 0 || strcmp(t->tls_hosts[j], t->tls_hosts[j - 1]) != 0) {
            if (n >= c->n_tls_hosts || strcmp(c->tls_hosts[n], t->tls_hosts[j]) != 0)
                goto changed;
            n++;
        }
    if (n == c->n_tls_hosts)
        return;
changed:
    for (size_t i = 0; i < c->n_tls_hosts; i++)
        free(c->tls_hosts[i]);
    free(c->tls_hosts);
    c->tls_hosts = mem_alloc((t->n_tls_hosts ? t->n_tls_hosts : 1) * sizeof(*c->tls_hosts));
    c->n_tls_hosts = 0;
    for (size_t j = 0; j < t->n_tls_hosts; j++)
        if (j == 0 || strcmp(t->tls_hosts[j], t->tls_hosts[j - 1]) != 0)
            c->tls_hosts[c->n_tls_hosts++] = mem_strdup(t->tls_hosts[j]);
}

struct model *k8s_translate_cached(struct k8s_ingress_cache *cache, const struct k8s_objects *objs,
                                   const struct k8s_translate_options *o, struct arena *pa, struct ptr_vec *problems)
{
    struct tx t = {.objs = objs, .o = o, .pa = pa};
    struct k8s_nginx_config nginx_config;
    if (o->nginx && o->nginx->config_map) {
        k8s_nginx_config_read(o->nginx, objs->config_maps, objs->n_config_maps, pa, problems, &nginx_config);
        t.nginx_config = &nginx_config;
    }
    uint64_t ctx = context_digest(objs, o);
    if (ctx != cache->context_digest) { /* a class or an option changed: every piece may differ */
        k8s_ingress_cache_clear(cache);
        k8s_ingress_cache_init(cache);
        cache->context_digest = ctx;
    }
    /* nothing an Ingress reads but canaries changed: every piece's
     * dependencies still have the versions it was checked against */
    bool deps_same = o->nginx == NULL && objs->services_gen != 0 && objs->services_gen == cache->ix_gen[0] &&
                     objs->endpoint_slices_gen != 0 && objs->endpoint_slices_gen == cache->ix_gen[1] &&
                     objs->secrets_gen != 0 && objs->secrets_gen == cache->ix_gen[2];
    cached_index(cache, 0, &t.services, objs->services, objs->n_services, objs->services_gen, NULL);
    cached_index(cache, 1, &t.slices, objs->endpoint_slices, objs->n_endpoint_slices, objs->endpoint_slices_gen,
                 "kubernetes.io/service-name");
    cached_index(cache, 2, &t.secrets, objs->secrets, objs->n_secrets, objs->secrets_gen, NULL);
    /* with what changed: only that is looked at (the canaries and TLS
     * hosts too); else everything */
    bool from_delta = objs->delta != NULL && cache->primed && cache->rev_valid;
    if (from_delta)
        notes_patch(&t, cache, objs->delta);
    else
        notes_rebuild(&t, cache);
    notes_collect(&t, cache);
    t.gen = ++cache->gen;
    cache->last_reused = cache->last_translated = 0;
    cache->last_patched = false;
    struct model *m;
    if (from_delta)
        m = translate_delta(&t, cache, problems);
    else
        m = translate_all(&t, cache, deps_same, problems);
    snapshot_canaries(&t, cache);
    snapshot_tls_hosts(&t, cache);
    free(t.deps);
    free(t.made.e);
    return m;
}

struct model *k8s_translate(const struct k8s_objects *objs, const struct k8s_translate_options *o, struct arena *pa,
                            struct ptr_vec *problems)
{
    struct k8s_ingress_cache c;
    k8s_ingress_cache_init(&c);
    struct model *m = k8s_translate_cached(&c, objs, o, pa, problems);
    k8s_ingress_cache_clear(&c); /* the model keeps the pieces it uses */
    return m;
}
