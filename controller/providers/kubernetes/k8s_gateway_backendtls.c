/*
 * BackendTLSPolicy (gateway.networking.k8s.io/v1) -> serversTransports.
 * A valid policy becomes the serversTransport "<ns>-<policy>-backendtls"
 * (serverName from validation.hostname, rootCAs from the ca.crt of its
 * ConfigMaps or Secrets (Traefik reads both; gantry watches the
 * kubernetes.io/tls Secrets only, as cert-manager writes its ca.crt), or
 * the system's with wellKnownCACertificates: System;
 * subjectAltNames as peerCertSANs); the Service ports it targets are
 * then dialed with TLS through it (k8s_gateway_backends.c). A policy that
 * cannot be honoured makes those backends answer 500 (never plaintext).
 * Its status names, as ancestors, our Gateways of the routes that use a
 * Service it targets.
 */
#include "k8s_gateway_internal.h"

#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#define GW_GROUP "gateway.networking.k8s.io"
#define get k8s_gw__get
#define str k8s_gw__str
#define meta k8s_gw__meta

static const char *or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

/* Whether <pem> holds at least one certificate and nothing unparsable. */
static bool pem_certificates(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    int n = 0;
    for (X509 *x; b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL; n++)
        X509_free(x);
    BIO_free(b);
    ERR_clear_error();
    return n > 0;
}

static void fail(struct gw_cx *c, struct gw_btls *p, const char *accepted, const char *resolved, const char *message)
{
    if (p->accepted_reason == NULL && p->resolved_reason == NULL) {
        p->accepted_reason = accepted;
        p->resolved_reason = resolved;
        p->message = message;
    }
    k8s_gw__problem(c, "BackendTLSPolicy %s/%s: %s", p->ns, p->name, message);
}

/* The serversTransport of policy <p> (validation <v>), or NULL (p's
 * reasons set) when it cannot be honoured. */
static struct tree_node *transport_of(struct gw_cx *c, struct gw_btls *p, const cJSON *v)
{
    const char *where = p->name, *host = str(v, "hostname"), *wk = str(v, "wellKnownCACertificates");
    const cJSON *refs = get(v, "caCertificateRefs"), *sans = get(v, "subjectAltNames");
    struct tree_node *t = k8s_gw__map(c, where);
    if (host == NULL || !*host) {
        fail(c, p, "Invalid", NULL, "validation.hostname is required");
        return NULL;
    }
    k8s_gw__put_str(c, t, "serverName", host);
    bool has_refs = cJSON_GetArraySize(refs) > 0;
    if (wk && has_refs) {
        fail(c, p, "Invalid", NULL, "validation sets both caCertificateRefs and wellKnownCACertificates");
        return NULL;
    }
    if (wk && strcmp(wk, "System") != 0) {
        fail(c, p, "Invalid", NULL, arena_printf(c->pa, "wellKnownCACertificates %s is not supported (only System)", wk));
        return NULL;
    }
    if (!wk && !has_refs) {
        fail(c, p, "Invalid", NULL, "validation needs caCertificateRefs or wellKnownCACertificates");
        return NULL;
    }
    if (has_refs) {
        struct tree_node *cas = k8s_gw__seq(c, where);
        int i = 0;
        for (const cJSON *r = refs->child; r; r = r->next, i++) {
            const char *g = or(str(r, "group"), ""), *k = or(str(r, "kind"), ""), *n = or(str(r, "name"), "");
            bool secret = strcmp(k, "Secret") == 0;
            if (*g || (strcmp(k, "ConfigMap") != 0 && !secret)) {
                fail(c, p, "NoValidCACertificate", "InvalidKind",
                     arena_printf(c->pa, "caCertificateRefs[%d]: kind %s%s%s is not supported (only ConfigMap and Secret)", i, g,
                                  *g ? "/" : "", k));
                return NULL;
            }
            const cJSON *obj = k8s_index_get(&c->ix[secret ? K8S_GW_SECRETS : K8S_GW_CONFIGMAPS], p->ns, n);
            size_t len = 0;
            const char *pem = secret ? (obj ? k8s_gw__secret_data(c, obj, "ca.crt", &len) : NULL) : str(get(obj, "data"), "ca.crt");
            if (obj == NULL || pem == NULL || !pem_certificates(pem)) {
                fail(c, p, "NoValidCACertificate", "InvalidCACertificateRef",
                     obj == NULL  ? arena_printf(c->pa, "caCertificateRefs[%d]: %s %s/%s does not exist%s", i, k, p->ns, n,
                                                 secret ? " (gantry reads Secrets of type kubernetes.io/tls)" : "")
                     : pem == NULL ? arena_printf(c->pa, "caCertificateRefs[%d]: %s %s/%s has no ca.crt", i, k, p->ns, n)
                                   : arena_printf(c->pa, "caCertificateRefs[%d]: the ca.crt of %s %s/%s holds no valid PEM certificate",
                                                  i, k, p->ns, n));
                return NULL;
            }
            struct tree_node *s = tree_new_node(c->pa, TREE_SCALAR, where, 0, 0);
            s->scalar = arena_strdup(c->pa, pem);
            tree_seq_add(c->pa, cas, s);
        }
        k8s_gw__add(c, t, "rootCAs", cas);
    }
    if (cJSON_GetArraySize(sans) > 0) {
        /* with subjectAltNames the certificate must carry one of them and
         * hostname is the SNI only: the transport's peerCertSANs (the chain
         * still verified, the name checked against the list, not hostname) */
        struct tree_node *list = k8s_gw__seq(c, where);
        int i = 0;
        for (const cJSON *e = sans->child; e; e = e->next, i++) {
            const char *type = or(str(e, "type"), "");
            bool uri = strcmp(type, "URI") == 0, dns = strcmp(type, "Hostname") == 0;
            const char *value = uri ? str(e, "uri") : dns ? str(e, "hostname") : NULL;
            if (value == NULL || !*value) {
                fail(c, p, "Invalid", NULL,
                     arena_printf(c->pa, "subjectAltNames[%d]: type %s needs its %s value", i, *type ? type : "(none)",
                                  uri ? "uri" : dns ? "hostname" : "Hostname or URI"));
                return NULL;
            }
            struct tree_node *m = k8s_gw__map(c, where);
            k8s_gw__put_str(c, m, "type", uri ? "URI" : "DNSName");
            k8s_gw__put_str(c, m, "value", value);
            tree_seq_add(c->pa, list, m);
        }
        k8s_gw__put_str(c, t, "insecureSkipVerify", "true");
        k8s_gw__add(c, t, "peerCertSANs", list);
    }
    return t;
}

void k8s_gw__backend_tls_policies(struct gw_cx *c)
{
    size_t n = c->objs->n[K8S_GW_BACKENDTLS];
    c->btls = arena_alloc(c->pa, (n + 1) * sizeof(*c->btls));
    c->n_btls = 0;
    for (size_t i = 0; i < n; i++) {
        const cJSON *obj = c->objs->items[K8S_GW_BACKENDTLS][i];
        struct gw_btls *p = &c->btls[c->n_btls];
        memset(p, 0, sizeof(*p));
        p->obj = obj;
        p->ns = meta(obj, "namespace");
        p->name = meta(obj, "name");
        if (p->ns == NULL || p->name == NULL)
            continue;
        c->n_btls++;
        p->ancestors = arena_alloc(c->pa, (c->n_gws + 1) * sizeof(bool));
        memset(p->ancestors, 0, (c->n_gws + 1) * sizeof(bool));
        struct tree_node *t = transport_of(c, p, get(get(obj, "spec"), "validation"));
        if (t == NULL)
            continue;
        p->transport = k8s_gw__id(c, "%s-%s-backendtls", p->ns, p->name);
        p->tree = t;
        k8s_gw__add(c, c->transports, p->transport, t);
    }
}

/* Whether policy <p> targets port <port_name> of Service <ns>/<svc>: with
 * sectionName, 2 (more specific), without, 1; else 0. */
static int targets(const struct gw_btls *p, const char *ns, const char *svc, const char *port_name)
{
    if (strcmp(p->ns, ns) != 0)
        return 0;
    const cJSON *refs = get(get(p->obj, "spec"), "targetRefs");
    int best = 0;
    for (const cJSON *r = refs ? refs->child : NULL; r; r = r->next) {
        const char *g = or(str(r, "group"), ""), *k = or(str(r, "kind"), ""), *n = or(str(r, "name"), "");
        const char *sec = str(r, "sectionName");
        if (*g || strcmp(k, "Service") != 0 || strcmp(n, svc) != 0)
            continue;
        if (sec == NULL)
            best = best > 1 ? best : 1;
        else if (port_name && strcmp(sec, port_name) == 0)
            best = 2;
    }
    return best;
}

struct gw_btls *k8s_gw__backend_tls(struct gw_cx *c, const char *ns, const char *svc, const char *port_name)
{
    struct gw_btls *found = NULL;
    int best = 0;
    for (size_t i = 0; i < c->n_btls; i++) {
        int t = targets(&c->btls[i], ns, svc, port_name);
        if (t > best) { /* a sectionName beats none; among equals the first (oldest listed) wins */
            best = t;
            found = &c->btls[i];
        }
    }
    return found;
}

/* Marks, for every Service a route of <kind> uses, the policies targeting
 * it with the route's parent Gateways of ours. */
static void mark_ancestors(struct gw_cx *c, enum k8s_gw_kind kind)
{
    for (size_t i = 0; i < c->objs->n[kind]; i++) {
        const cJSON *rt = c->objs->items[kind][i], *spec = get(rt, "spec");
        const char *rns = meta(rt, "namespace");
        if (rns == NULL)
            continue;
        for (const cJSON *rule = get(spec, "rules") ? get(spec, "rules")->child : NULL; rule; rule = rule->next)
            for (const cJSON *b = get(rule, "backendRefs") ? get(rule, "backendRefs")->child : NULL; b; b = b->next) {
                if (*or(str(b, "group"), "") || strcmp(or(str(b, "kind"), "Service"), "Service") != 0)
                    continue;
                const char *bns = or(str(b, "namespace"), rns), *bn = or(str(b, "name"), "");
                const cJSON *svc = k8s_index_get(&c->ix[K8S_GW_SERVICES], bns, bn), *port = get(b, "port");
                const char *pname = NULL;
                for (const cJSON *sp = get(get(svc, "spec"), "ports") ? get(get(svc, "spec"), "ports")->child : NULL; sp; sp = sp->next)
                    if (cJSON_IsNumber(port) && cJSON_IsNumber(get(sp, "port")) && get(sp, "port")->valueint == port->valueint)
                        pname = str(sp, "name");
                struct gw_btls *p = k8s_gw__backend_tls(c, bns, bn, pname);
                if (p == NULL)
                    continue;
                for (const cJSON *pr = get(spec, "parentRefs") ? get(spec, "parentRefs")->child : NULL; pr; pr = pr->next) {
                    const char *pk = or(str(pr, "kind"), "Gateway"), *pns = or(str(pr, "namespace"), rns), *pn = or(str(pr, "name"), "");
                    if (strcmp(pk, "Gateway") != 0)
                        continue;
                    for (size_t g = 0; g < c->n_gws; g++)
                        if (strcmp(c->gws[g].ns, pns) == 0 && strcmp(c->gws[g].name, pn) == 0)
                            p->ancestors[g] = true;
                }
            }
    }
}

static void cond(cJSON *conds, const cJSON *obj, const char *type, const char *bad_reason, const char *good_reason,
                 const char *message)
{
    const cJSON *g = get(get(obj, "metadata"), "generation");
    cJSON *x = cJSON_CreateObject();
    cJSON_AddStringToObject(x, "type", type);
    cJSON_AddStringToObject(x, "status", bad_reason ? "False" : "True");
    cJSON_AddStringToObject(x, "reason", bad_reason ? bad_reason : good_reason);
    cJSON_AddStringToObject(x, "message", bad_reason && message ? message : "");
    cJSON_AddNumberToObject(x, "observedGeneration", cJSON_IsNumber(g) ? g->valuedouble : 0);
    cJSON_AddItemToArray(conds, x);
}

void k8s_gw__backend_tls_status(struct gw_cx *c)
{
    if (c->n_btls == 0)
        return;
    mark_ancestors(c, K8S_GW_HTTPROUTES);
    mark_ancestors(c, K8S_GW_GRPCROUTES);
    for (size_t i = 0; i < c->n_btls; i++) {
        struct gw_btls *p = &c->btls[i];
        cJSON *ancestors = cJSON_CreateArray();
        for (size_t g = 0; g < c->n_gws; g++) {
            if (!p->ancestors[g])
                continue;
            cJSON *a = cJSON_CreateObject(), *ref = cJSON_CreateObject(), *conds = cJSON_CreateArray();
            cJSON_AddStringToObject(ref, "group", GW_GROUP);
            cJSON_AddStringToObject(ref, "kind", "Gateway");
            cJSON_AddStringToObject(ref, "namespace", c->gws[g].ns);
            cJSON_AddStringToObject(ref, "name", c->gws[g].name);
            cJSON_AddItemToObject(a, "ancestorRef", ref);
            cJSON_AddStringToObject(a, "controllerName", c->controller);
            cond(conds, p->obj, "Accepted", p->accepted_reason, "Accepted", p->message);
            cond(conds, p->obj, "ResolvedRefs", p->resolved_reason, "ResolvedRefs", p->message);
            cJSON_AddItemToObject(a, "conditions", conds);
            cJSON_AddItemToArray(ancestors, a);
        }
        cJSON *st = cJSON_CreateObject();
        cJSON_AddItemToObject(st, "ancestors", ancestors);
        k8s_gw__push_status(c, K8S_GW_BACKENDTLS, p->obj, st);
    }
}
