/*
 * ingress-nginx annotations -> model (see k8s_nginx_annotations.h).
 *
 * The middlewares of one Ingress are named "<ns>-<name>-nginx-<what>" and
 * run in the order of nginx's request phases, so that a request meets them
 * as it would meet ingress-nginx's location block:
 *   find-config     proxy-body-size (413)
 *   rewrite phase   ssl redirect (plain HTTP only), permanent/temporal
 *                   redirect, app-root, CORS (a preflight is answered
 *                   before any authentication, as nginx's `if OPTIONS`)
 *   preaccess       limit-rps / limit-rpm, limit-connections
 *   access          allow list, basic auth, auth-url
 *   proxy           x-forwarded-prefix, upstream-vhost, the path rewrite,
 *                   retries (proxy-next-upstream-tries).
 * The table `known` lists every annotation of ingress-nginx's reference and
 * whether it restricts access: an unimplemented one that does refuses the
 * Ingress (unless allowUnsafeAnnotations), the others are reported.
 */
#include "k8s_nginx_annotations.h"

#include "../../../common/base64.h"
#include "../../../common/config_value.h"
#include "../../../proxy/hash_key.h"
#include "../../../proxy/transport.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>


#define DEFAULT_CLASS "nginx"
#define DEFAULT_CONTROLLER "k8s.io/ingress-nginx"

/* ingress-nginx's CORS defaults (annotations.md, "Enable CORS") */
#define CORS_METHODS "GET, PUT, POST, DELETE, PATCH, OPTIONS"
#define CORS_HEADERS                                                                                                    \
    "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization"
#define CORS_MAX_AGE "1728000"

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static const char *plain_annotation(const cJSON *o, const char *k)
{
    return str(get(get(o, "metadata"), "annotations"), k);
}

/* ---- class ---- */

bool k8s_nginx_is_ours(const cJSON *const *classes, size_t n_classes, const struct k8s_nginx_options *o,
                       const cJSON *ingress)
{
    const char *want_class = o->ingress_class ? o->ingress_class : DEFAULT_CLASS;
    const char *want_ctl = o->controller_class ? o->controller_class : DEFAULT_CONTROLLER;
    const char *cls = str(get(ingress, "spec"), "ingressClassName");
    if (cls != NULL) {
        if (o->class_by_name && strcmp(cls, want_class) == 0)
            return true;
        for (size_t i = 0; i < n_classes; i++) {
            const char *n = str(get(classes[i], "metadata"), "name"), *ctl = str(get(classes[i], "spec"), "controller");
            if (n && ctl && strcmp(n, cls) == 0 && strcmp(ctl, want_ctl) == 0)
                return true;
        }
        return false;
    }
    const char *legacy = plain_annotation(ingress, "kubernetes.io/ingress.class");
    if (legacy != NULL)
        return strcmp(legacy, want_class) == 0;
    if (o->watch_without_class)
        return true;
    for (size_t i = 0; i < n_classes; i++) { /* no class: ours when the default IngressClass is */
        const char *def = plain_annotation(classes[i], "ingressclass.kubernetes.io/is-default-class");
        const char *ctl = str(get(classes[i], "spec"), "controller");
        if (def && strcmp(def, "true") == 0 && ctl && strcmp(ctl, want_ctl) == 0)
            return true;
    }
    return false;
}

/* ---- the annotations ---- */

enum { IMPL = 1, ACCESS = 2, NEVER = 4 };

/* Every annotation of ingress-nginx's reference. IMPL: handled below.
 * ACCESS: restricts who may reach the backend, so ignoring it would open
 * the route. NEVER: refused whatever the options (configuration snippets
 * are nginx configuration: gantry has nothing to run them with, and
 * serving without them drops whatever they protected). */
static const struct {
    const char *name;
    int flags;
    const char *differs; /* implemented, with this difference (migration report) */
} known[] = {
    {"ssl-redirect", IMPL, "301 for GET/HEAD and 308 otherwise, where ingress-nginx always sends 308"},
    {"force-ssl-redirect", IMPL, "301 for GET/HEAD and 308 otherwise, where ingress-nginx always sends 308"},
    {"permanent-redirect", IMPL, "codes 301 and 308 only, answered 301 for GET/HEAD and 308 otherwise"},
    {"permanent-redirect-code", IMPL, "301 and 308 only, answered 301 for GET/HEAD and 308 otherwise"},
    {"temporal-redirect", IMPL, "answered 302 for GET/HEAD and 307 otherwise"},
    {"temporal-redirect-code", IMPL, "302 and 307 only, answered 302 for GET/HEAD and 307 otherwise"},
    {"app-root", IMPL},
    {"rewrite-target", IMPL},
    {"use-regex", IMPL, "only this Ingress's paths become regexes (ingress-nginx: every path of the host)"},
    {"x-forwarded-prefix", IMPL},
    {"enable-cors", IMPL},
    {"cors-allow-origin", IMPL},
    {"cors-allow-methods", IMPL},
    {"cors-allow-headers", IMPL},
    {"cors-allow-credentials", IMPL},
    {"cors-max-age", IMPL},
    {"cors-expose-headers", IMPL},
    {"auth-type", IMPL | ACCESS},
    {"auth-secret", IMPL | ACCESS},
    {"auth-secret-type", IMPL | ACCESS},
    {"auth-realm", IMPL | ACCESS},
    {"auth-url", IMPL | ACCESS,
     "forwardAuth with GET; the auth service gets X-Forwarded-Method/-Uri/-Host rather than X-Original-URL/-Method"},
    {"auth-signin", IMPL | ACCESS},
    {"auth-response-headers", IMPL | ACCESS},
    {"auth-method", IMPL | ACCESS},
    {"whitelist-source-range", IMPL | ACCESS},
    {"allowlist-source-range", IMPL | ACCESS},
    {"denylist-source-range", IMPL | ACCESS},
    {"limit-rps", IMPL, "over the limit the answer is 429, where ingress-nginx answers 503"},
    {"limit-rpm", IMPL, "over the limit the answer is 429, where ingress-nginx answers 503"},
    {"limit-connections", IMPL, "counts requests in flight per client address, not connections"},
    {"limit-burst-multiplier", IMPL},
    {"limit-whitelist", IMPL},
    {"from-to-www-redirect", IMPL,
     "kept on the port the client used; a route of another Ingress for the other host wins path by path"},
    {"affinity", IMPL, "the cookie path defaults to /, not the Ingress path"},
    {"affinity-mode", IMPL, "always persistent"},
    {"upstream-hash-by", IMPL,
     "rendezvous hashing (hrw), not nginx's hash ring: equal values still go to one endpoint; variables "
     "$remote_addr, $binary_remote_addr, $request_uri, $uri, $args, $arg_*, $host, $http_*, $cookie_*, $scheme, "
     "$request_method (others: round robin, reported)"},
    {"upstream-hash-by-subset", IMPL},
    {"upstream-hash-by-subset-size", IMPL},
    {"load-balance", IMPL, "ewma: leasttime (the lowest latency EWMA x requests in flight of all servers, not of 2)"},
    {"ssl-passthrough", IMPL,
     "needs enableSSLPassthrough; to the endpoints (ingress-nginx: the ClusterIP), not with access annotations"},
    {"session-cookie-name", IMPL},
    {"session-cookie-path", IMPL},
    {"session-cookie-max-age", IMPL},
    {"session-cookie-expires", IMPL},
    {"session-cookie-samesite", IMPL},
    {"session-cookie-secure", IMPL},
    {"canary", IMPL},
    {"canary-weight", IMPL},
    {"canary-weight-total", IMPL},
    {"canary-by-header", IMPL},
    {"canary-by-header-value", IMPL},
    {"canary-by-header-pattern", IMPL},
    {"canary-by-cookie", IMPL},
    {"proxy-body-size", IMPL},
    {"proxy-next-upstream-tries", IMPL, "0 (nginx: no limit) is no retry"},
    {"proxy-next-upstream", IMPL,
     "non_idempotent: on a status, a response-header timeout and a connection never made"},
    {"proxy-next-upstream-timeout", IMPL},
    {"backend-protocol", IMPL},
    {"service-upstream", IMPL},
    {"mirror-target", IMPL, "the URL's path must be $request_uri; the Host sent is the URL's host and port"},
    {"mirror-request-body", IMPL},
    {"mirror-host", IMPL, "only the mirror-target's own host name"},
    {"proxy-ssl-secret", IMPL},
    {"proxy-ssl-verify", IMPL, "a value other than on/off refuses the Ingress (ingress-nginx: off)"},
    {"proxy-ssl-verify-depth", IMPL},
    {"proxy-ssl-name", IMPL, "without it the name verified is the pod's address (ingress-nginx: upstream_balancer)"},
    {"proxy-ssl-server-name", IMPL, "SNI is always sent (off does not remove it)"},
    {"proxy-ssl-protocols", IMPL, "TLSv1.2 and TLSv1.3 only; older ones in the list are skipped"},
    {"proxy-ssl-ciphers", IMPL, "TLS 1.2 ciphers (OpenSSL's list), as nginx; TLS 1.3 suites are OpenSSL's"},
    {"upstream-vhost", IMPL},
    {"server-alias", IMPL},
    {"custom-http-errors", IMPL,
     "the default backend gets GET / (ingress-nginx keeps the method) and X-Request-ID only when the client sent one"},
    {"default-backend", IMPL,
     "without custom-http-errors: the default backend's answer to GET /, with the 503, replaces Gantry's 503"},
    {"proxy-connect-timeout", IMPL},
    {"proxy-read-timeout", IMPL},
    {"proxy-send-timeout", IMPL},
    {"configuration-snippet", ACCESS | NEVER},
    {"server-snippet", ACCESS | NEVER},
    {"auth-snippet", ACCESS | NEVER},
    {"stream-snippet", ACCESS | NEVER},
    {"modsecurity-snippet", ACCESS | NEVER},
    {"auth-tls-secret", ACCESS},
    {"auth-tls-verify-client", ACCESS},
    {"auth-tls-verify-depth", ACCESS},
    {"auth-tls-error-page", ACCESS},
    {"auth-tls-pass-certificate-to-upstream", ACCESS},
    {"auth-tls-match-cn", ACCESS},
    {"auth-cache-key", ACCESS},
    {"auth-cache-duration", ACCESS},
    {"auth-keepalive", ACCESS},
    {"auth-keepalive-requests", ACCESS},
    {"auth-keepalive-timeout", ACCESS},
    {"auth-keepalive-share-vars", ACCESS},
    {"auth-proxy-set-headers", ACCESS},
    {"auth-request-redirect", ACCESS},
    {"auth-always-set-cookie", ACCESS},
    {"auth-signin-redirect-param", IMPL | ACCESS},
    {"satisfy", ACCESS},
    {"enable-modsecurity", ACCESS},
    {"enable-owasp-core-rules", ACCESS},
    {"modsecurity-transaction-id", ACCESS},
    {"global-rate-limit", ACCESS},
    {"global-rate-limit-window", ACCESS},
    {"global-rate-limit-key", ACCESS},
    {"global-rate-limit-ignored-cidrs", ACCESS},
};

int k8s_nginx_annotation_info(const char *name, const char **differs)
{
    *differs = NULL;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strcmp(known[i].name, name) == 0) {
            *differs = known[i].differs;
            return known[i].flags;
        }
    }
    return -1;
}

struct ctx {
    const struct k8s_nginx_env *env;
    const cJSON *ing;
    const char *ns, *name;
    struct k8s_nginx_plan *p;
};

static const char *own_ann(const struct ctx *c, const char *k)
{
    char key[160];
    snprintf(key, sizeof(key), K8S_NGINX_PREFIX "%s", k);
    return plain_annotation(c->ing, key);
}

/* The ConfigMap's value of <k> when it is honoured there (NULL: none). */
static const char *config_value(const struct ctx *c, const char *k)
{
    const struct k8s_nginx_config *cf = c->env->config;
    return cf && cf->data && k8s_nginx_config_honoured(k) ? str(cf->data, k) : NULL;
}

/* The annotation <k>, else the ConfigMap's global default of that name. */
static const char *ann(const struct ctx *c, const char *k)
{
    const char *v = own_ann(c, k);
    return v ? v : config_value(c, k);
}

/* Where <k>'s value comes from, for messages. */
static const char *src(const struct ctx *c, const char *k)
{
    if (own_ann(c, k) == NULL && config_value(c, k) != NULL)
        return arena_printf(c->env->pa, "%s key %s", c->env->config->ref, k);
    return arena_printf(c->env->pa, "annotation " K8S_NGINX_PREFIX "%s", k);
}

static void event(const struct ctx *c, const char *reason, const char *msg)
{
    if (c->env->events == NULL)
        return;
    const cJSON *meta = get(c->ing, "metadata");
    struct k8s_nginx_event *e = arena_alloc(c->env->pa, sizeof(*e));
    *e = (struct k8s_nginx_event){c->ns, c->name, str(meta, "uid"), str(meta, "resourceVersion"), reason,
                                  arena_strdup(c->env->pa, msg)};
    ptr_vec_push(c->env->pa, c->env->events, e);
}

static void problem(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(const struct ctx *c, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ptr_vec_push(c->env->pa, c->env->problems, arena_printf(c->env->pa, "ingress %s/%s: %s", c->ns, c->name, msg));
    event(c, "AnnotationNotHonoured", msg);
}

/* The first refusal wins: it is the one the log and the API show. */
static int refuse(const struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(const struct ctx *c, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->p->refused == NULL) {
        c->p->refused = arena_printf(c->env->pa, "ingress %s/%s: %s (not served)", c->ns, c->name, msg);
        ptr_vec_push(c->env->pa, c->env->problems, (void *)c->p->refused);
        event(c, "IngressNotServed", arena_printf(c->env->pa, "%s (not served)", msg));
    }
    return -1;
}

/* A boolean annotation; a malformed one refuses the Ingress (the user
 * meant something, and guessing may open or break the route). */
static int bool_ann(const struct ctx *c, const char *k, bool def, bool *out)
{
    const char *v = ann(c, k);
    *out = def;
    if (v == NULL)
        return 0;
    if (config_parse_go_bool(v, out) != 0)
        return refuse(c, "%s: `%s` is not a boolean", src(c, k), v);
    return 0;
}

static int int_ann(const struct ctx *c, const char *k, long def, long min, long max, long *out)
{
    const char *v = ann(c, k);
    *out = def;
    if (v == NULL)
        return 0;
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < min || n > max)
        return refuse(c, "%s: `%s` is not an integer in %ld..%ld", src(c, k), v, min, max);
    *out = n;
    return 0;
}

/* A middleware <what> of <type> with <key>, <value> pairs (NULL-ended);
 * its name goes into <list>. */
static void add_mw(const struct ctx *c, struct ptr_vec *list, const char *what, const char *type, ...)
{
    struct arena *a = &c->env->m->arena;
    struct model_middleware *mw = arena_alloc(a, sizeof(*mw));
    mw->name = arena_printf(a, "%s-nginx-%s", c->p->base, what);
    mw->type = type;
    va_list ap;
    va_start(ap, type);
    size_t n = 0;
    const char *keys[16], *values[16];
    for (const char *k = va_arg(ap, const char *); k && n < 16; k = va_arg(ap, const char *)) {
        const char *v = va_arg(ap, const char *);
        if (v == NULL)
            continue; /* an option left at its default */
        keys[n] = arena_strdup(a, k);
        values[n++] = arena_strdup(a, v);
    }
    va_end(ap);
    mw->keys = arena_alloc(a, (n ? n : 1) * sizeof(*mw->keys));
    mw->values = arena_alloc(a, (n ? n : 1) * sizeof(*mw->values));
    memcpy(mw->keys, keys, n * sizeof(*keys));
    memcpy(mw->values, values, n * sizeof(*values));
    mw->n_options = n;
    mw->origin = (struct model_origin){"kubernetes", arena_printf(a, "ingress %s/%s", c->ns, c->name)};
    ptr_vec_push(a, &c->env->m->middlewares, mw);
    ptr_vec_push(a, list, (void *)mw->name);
}

/* Both router kinds get it. */
static void add_both(const struct ctx *c, const char *what, const char *type, const char *k1, const char *v1,
                     const char *k2, const char *v2, const char *k3, const char *v3)
{
    add_mw(c, &c->p->mw_http, what, type, k1, v1, k2, v2, k3, v3, NULL);
    struct model_middleware *mw = c->env->m->middlewares.items[c->env->m->middlewares.len - 1];
    ptr_vec_push(&c->env->m->arena, &c->p->mw_tls, (void *)mw->name);
}

/* A URL ingress-nginx would accept in a redirect or auth-url: absolute
 * http(s), no spaces or quotes (the value lands in nginx configuration). */
static bool plain_url(const char *v)
{
    if (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return false;
    for (const char *p = v; *p; p++)
        if (isspace((unsigned char)*p) || *p == '"' || *p == '\'' || *p == '`' || *p == '\\')
            return false;
    return true;
}

/* "a, b ,c" -> "a,b,c" */
static const char *list_norm(struct arena *a, const char *v)
{
    char *out = arena_alloc(a, strlen(v) + 1), *o = out;
    for (const char *p = v; *p; p++)
        if (!isspace((unsigned char)*p))
            *o++ = *p;
    *o = '\0';
    return out;
}

static bool cidr_ok(const char *item)
{
    char buf[64];
    if (strlen(item) >= sizeof(buf) || *item == '\0')
        return false;
    strcpy(buf, item);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        char *end;
        *slash = '\0';
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0')
            return false;
    }
    unsigned char addr[16];
    bool v6 = strchr(buf, ':') != NULL;
    if (inet_pton(v6 ? AF_INET6 : AF_INET, buf, addr) != 1)
        return false;
    return bits == -1 || (bits >= 0 && bits <= (v6 ? 128 : 32));
}

/* ---- one concern each ---- */

/* Marks the middleware just added to mw_http as a Rewrite or Redirect one
 * (plan.rewrite_redirect). */
static void rewrite_redirect_mw(const struct ctx *c)
{
    struct k8s_nginx_plan *p = c->p;
    if (p->n_rewrite_redirect < sizeof(p->rewrite_redirect) / sizeof(p->rewrite_redirect[0]))
        p->rewrite_redirect[p->n_rewrite_redirect++] = p->mw_http.items[p->mw_http.len - 1];
}

/* The ssl-redirect middleware onto <list>. */
static void ssl_redirect(const struct ctx *c, struct ptr_vec *list)
{
    int ssl_code = c->env->config ? c->env->config->redirect_code : 0;
    if (ssl_code == 0)
        add_mw(c, list, "ssl-redirect", "redirectScheme", "scheme", "https", "permanent", "true", NULL);
    else /* http-redirect-code: that code whatever the method, as nginx */
        add_mw(c, list, "ssl-redirect", "redirectRegex", "regex", "^http://([^/:]+|\\[[^\\]]*\\])(:[0-9]+)?(.*)$",
               "replacement", "https://${1}${3}", "statusCode", arena_printf(c->env->pa, "%d", ssl_code), NULL);
}

static int redirects(const struct ctx *c, bool has_tls)
{
    bool ssl, force;
    bool shared = !has_tls && c->p->shared_tls;
    if (bool_ann(c, "ssl-redirect", has_tls || shared, &ssl) != 0 || bool_ann(c, "force-ssl-redirect", false, &force) != 0)
        return -1;
    /* ssl-redirect only matters with a TLS section (every host), or for the
     * hosts with another Ingress's certificate (k8s_nginx_router); force-
     * without one */
    if ((ssl && has_tls) || force) {
        ssl_redirect(c, &c->p->mw_http);
        c->p->own_redirect = c->p->mw_http.items[c->p->mw_http.len - 1];
        c->p->own_redirect_forced = force;
        rewrite_redirect_mw(c);
    } else if (ssl && shared) {
        struct ptr_vec one = {0};
        ssl_redirect(c, &one);
        c->p->shared_redirect = one.items[0];
        c->p->shared_redirect_at = c->p->mw_http.len;
    }
    if (bool_ann(c, "from-to-www-redirect", false, &c->p->www_redirect) != 0)
        return -1;
    const char *perm = ann(c, "permanent-redirect"), *temp = ann(c, "temporal-redirect");
    long code;
    if (perm) {
        if (!plain_url(perm))
            return refuse(c, "annotation " K8S_NGINX_PREFIX "permanent-redirect: `%s` is not an http(s) URL", perm);
        if (int_ann(c, "permanent-redirect-code", 301, 300, 308, &code) != 0)
            return -1;
        /* redirectRegex answers 301 (GET) / 308 (others) when permanent */
        if (code != 301 && code != 308)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "permanent-redirect-code: %ld is not supported (301 or 308)",
                          code);
        add_both(c, "permanent-redirect", "redirectRegex", "regex", "^.*", "replacement", perm, "permanent", "true");
        rewrite_redirect_mw(c);
    } else if (temp) {
        if (!plain_url(temp))
            return refuse(c, "annotation " K8S_NGINX_PREFIX "temporal-redirect: `%s` is not an http(s) URL", temp);
        if (int_ann(c, "temporal-redirect-code", 302, 300, 308, &code) != 0)
            return -1;
        if (code != 302 && code != 307)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "temporal-redirect-code: %ld is not supported (302 or 307)",
                          code);
        add_both(c, "temporal-redirect", "redirectRegex", "regex", "^.*", "replacement", temp, NULL, NULL);
        rewrite_redirect_mw(c);
    }
    const char *root = ann(c, "app-root");
    if (root) {
        if (root[0] != '/' || strpbrk(root, " \"'`\\$") != NULL)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "app-root: `%s` is not a path", root);
        /* only "/" itself moves, with a 302, keeping scheme and host */
        add_both(c, "app-root", "redirectRegex", "regex", "^(https?://[^/]+)/(\\?.*)?$", "replacement",
                 arena_printf(c->env->pa, "${1}%s", root), NULL, NULL);
        rewrite_redirect_mw(c);
    }
    return 0;
}

/* ingress-nginx's HSTS (lua_ingress.lua, header phase): on every response
 * of an https request whose host has a certificate, hsts* from the
 * ConfigMap. The headers middleware sends it on TLS requests only;
 * k8s_nginx_router puts it first on the TLS routers of the hosts in
 * spec.tls, so the answers of the other middlewares (401, 413, redirects)
 * carry it too, as nginx's header filter does. stsSeconds 0 means "no
 * header" to the headers middleware, so max-age=0 (which tells browsers
 * to forget the host) is a custom response header instead. */
static void hsts(const struct ctx *c, bool has_tls)
{
    struct k8s_nginx_hsts h = c->env->config ? c->env->config->hsts : K8S_NGINX_HSTS_DEFAULT;
    c->p->tls = get(get(c->ing, "spec"), "tls");
    if (!has_tls || !h.on)
        return;
    struct arena *a = c->env->pa;
    struct ptr_vec one = {0};
    if (h.max_age > 0)
        add_mw(c, &one, "hsts", "headers", "stsSeconds", arena_printf(a, "%lld", h.max_age), "stsIncludeSubdomains",
               h.include_subdomains ? "true" : NULL, "stsPreload", h.preload ? "true" : NULL, NULL);
    else
        add_mw(c, &one, "hsts", "headers", "customResponseHeaders.Strict-Transport-Security",
               arena_printf(a, "max-age=0%s%s", h.include_subdomains ? "; includeSubDomains" : "",
                            h.preload ? "; preload" : ""),
               NULL);
    c->p->hsts = one.items[0];
}

static int cors(const struct ctx *c)
{
    bool on, cred;
    if (bool_ann(c, "enable-cors", false, &on) != 0 || !on)
        return on ? -1 : 0;
    if (bool_ann(c, "cors-allow-credentials", true, &cred) != 0)
        return -1;
    const char *origin = ann(c, "cors-allow-origin"), *methods = ann(c, "cors-allow-methods");
    const char *headers = ann(c, "cors-allow-headers"), *expose = ann(c, "cors-expose-headers");
    long age;
    if (int_ann(c, "cors-max-age", 1728000, 0, 0x7fffffff, &age) != 0)
        return -1;
    struct arena *a = c->env->pa;
    add_mw(c, &c->p->mw_http, "cors", "headers", "accessControlAllowOriginList", list_norm(a, origin ? origin : "*"),
           "accessControlAllowMethods", list_norm(a, methods ? methods : CORS_METHODS), "accessControlAllowHeaders",
           list_norm(a, headers ? headers : CORS_HEADERS), "accessControlExposeHeaders",
           expose ? list_norm(a, expose) : NULL, "accessControlAllowCredentials", cred ? "true" : "false",
           "accessControlMaxAge", arena_printf(a, "%ld", age), NULL);
    struct model_middleware *mw = c->env->m->middlewares.items[c->env->m->middlewares.len - 1];
    ptr_vec_push(&c->env->m->arena, &c->p->mw_tls, (void *)mw->name);
    return 0;
}

/* The comma-separated CIDR list of annotation <k>, normalised ("a,b");
 * NULL when absent; "" after a refusal (malformed or empty). */
static const char *cidr_list(const struct ctx *c, const char *k)
{
    const char *v = ann(c, k);
    if (v == NULL)
        return NULL;
    const char *list = list_norm(c->env->pa, v);
    char *copy = arena_strdup(c->env->pa, list), *save = NULL;
    size_t n = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save), n++)
        if (!cidr_ok(item))
            return refuse(c, "%s: `%s` is not an address or CIDR", src(c, k), item), "";
    if (n == 0)
        return refuse(c, "%s is empty", src(c, k)), "";
    return list;
}

/* One more option on the middleware added last. */
static void last_mw_option(const struct ctx *c, const char *key, const char *value)
{
    struct arena *a = &c->env->m->arena;
    struct model_middleware *mw = c->env->m->middlewares.items[c->env->m->middlewares.len - 1];
    const char **keys = arena_alloc(a, (mw->n_options + 1) * sizeof(*keys));
    const char **values = arena_alloc(a, (mw->n_options + 1) * sizeof(*values));
    memcpy(keys, mw->keys, mw->n_options * sizeof(*keys));
    memcpy(values, mw->values, mw->n_options * sizeof(*values));
    keys[mw->n_options] = arena_strdup(a, key);
    values[mw->n_options] = arena_strdup(a, value);
    mw->keys = keys;
    mw->values = values;
    mw->n_options++;
}

static int limits(const struct ctx *c)
{
    long rps, rpm, conns, mult;
    if (int_ann(c, "limit-rps", 0, 0, 1000000, &rps) != 0 || int_ann(c, "limit-rpm", 0, 0, 60000000, &rpm) != 0 ||
        int_ann(c, "limit-connections", 0, 0, 1000000, &conns) != 0 ||
        int_ann(c, "limit-burst-multiplier", 5, 1, 1000, &mult) != 0)
        return -1;
    struct arena *a = c->env->pa;
    /* limit-whitelist: clients none of the limits apply to (gantry-internal
     * exemptSourceRange, read by rateLimit and inFlightReq) */
    const char *exempt = cidr_list(c, "limit-whitelist");
    if (exempt && *exempt == '\0')
        return -1;
    /* nginx's limit_req with burst = rate x multiplier and nodelay */
    if (rps > 0) {
        add_both(c, "limit-rps", "rateLimit", "average", arena_printf(a, "%ld", rps), "period", "1s", "burst",
                 arena_printf(a, "%ld", rps * mult));
        if (exempt)
            last_mw_option(c, "exemptSourceRange", exempt);
    }
    if (rpm > 0) {
        add_both(c, "limit-rpm", "rateLimit", "average", arena_printf(a, "%ld", rpm), "period", "1m", "burst",
                 arena_printf(a, "%ld", rpm * mult));
        if (exempt)
            last_mw_option(c, "exemptSourceRange", exempt);
    }
    /* per client address, as nginx's limit_conn on $binary_remote_addr
     * (inFlightReq's own default is the Host) */
    if (conns > 0) {
        add_both(c, "limit-connections", "inFlightReq", "amount", arena_printf(a, "%ld", conns),
                 "sourceCriterion.ipStrategy", "", NULL, NULL);
        if (exempt)
            last_mw_option(c, "exemptSourceRange", exempt);
    }
    return 0;
}

static int source_ranges(const struct ctx *c)
{
    /* nginx checks `deny` before `allow`: a denied client is refused even
     * when the allow list has it */
    const char *deny = cidr_list(c, "denylist-source-range");
    if (deny && *deny == '\0')
        return -1;
    if (deny)
        add_both(c, "denylist", "ipDenyList", "sourceRange", deny, NULL, NULL, NULL, NULL);
    const char *which = "allowlist-source-range";
    if (ann(c, which) == NULL) /* the old name; ingress-nginx reads the new one first */
        which = "whitelist-source-range";
    const char *allow = cidr_list(c, which);
    if (allow && *allow == '\0')
        return -1;
    if (allow)
        add_both(c, "allowlist", "ipAllowList", "sourceRange", allow, NULL, NULL, NULL, NULL);
    return 0;
}

static const char *b64_text(struct arena *a, const char *in)
{
    size_t n = strlen(in), len;
    unsigned char *out = arena_alloc(a, base64_decoded_room(n));
    if (!base64_decode(in, n, out, &len))
        return NULL;
    return memchr(out, '\0', len) ? NULL : (const char *)out;
}

/* The users of an htpasswd ("auth-file": key `auth`) or of one key per
 * user ("auth-map"), as basicAuth's "u:hash,u:hash". */
static const char *secret_users(const struct ctx *c, const cJSON *secret, const char *type, const char *sname)
{
    struct arena *a = c->env->pa;
    const cJSON *data = get(secret, "data");
    char *out = arena_strdup(a, "");
    if (strcmp(type, "auth-map") == 0) {
        for (const cJSON *kv = data ? data->child : NULL; kv; kv = kv->next) {
            const char *hash = cJSON_IsString(kv) ? b64_text(a, kv->valuestring) : NULL;
            if (hash == NULL || strpbrk(kv->string, ":,") || strchr(hash, ','))
                return NULL;
            out = arena_printf(a, "%s%s%s:%s", out, *out ? "," : "", kv->string, hash);
        }
    } else {
        const char *file = str(data, "auth") ? b64_text(a, str(data, "auth")) : NULL;
        if (file == NULL)
            return NULL;
        char *copy = arena_strdup(a, file), *save = NULL;
        for (char *line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save)) {
            while (isspace((unsigned char)*line))
                line++;
            if (*line == '\0' || *line == '#')
                continue;
            if (strchr(line, ':') == NULL || strchr(line, ','))
                return NULL;
            out = arena_printf(a, "%s%s%s", out, *out ? "," : "", line);
        }
    }
    (void)sname;
    return *out ? out : NULL;
}

static int basic_auth(const struct ctx *c)
{
    const char *type = ann(c, "auth-type");
    if (type == NULL)
        return 0;
    bool digest = strcmp(type, "digest") == 0;
    if (!digest && strcmp(type, "basic") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-type: `%s` is not basic or digest", type);
    const char *sref = ann(c, "auth-secret");
    if (sref == NULL || *sref == '\0')
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-type: %s needs " K8S_NGINX_PREFIX "auth-secret", type);
    const char *sns = c->ns, *sname = sref, *slash = strchr(sref, '/');
    if (slash) { /* "namespace/name", as ingress-nginx allows */
        sns = arena_strndup(c->env->pa, sref, (size_t)(slash - sref));
        sname = slash + 1;
    }
    const char *stype = ann(c, "auth-secret-type");
    if (stype == NULL)
        stype = "auth-file";
    if (strcmp(stype, "auth-file") != 0 && strcmp(stype, "auth-map") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-secret-type: `%s` is not auth-file or auth-map", stype);
    if (digest && strcmp(stype, "auth-file") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-secret-type: digest needs auth-file");
    const cJSON *secret = c->env->find_secret ? c->env->find_secret(c->env->data, sns, sname) : NULL;
    if (secret == NULL)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-secret: secret %s/%s does not exist", sns, sname);
    const char *users = secret_users(c, secret, stype, sname);
    if (users == NULL)
        return refuse(c,
                      "annotation " K8S_NGINX_PREFIX "auth-secret: secret %s/%s has no %s users (%s)", sns, sname,
                      stype, strcmp(stype, "auth-map") == 0 ? "one base64 key per user" : "base64 htpasswd in key `auth`");
    const char *realm = ann(c, "auth-realm");
    if (realm && strpbrk(realm, "\"\\\r\n"))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-realm: `%s` has a quote or a backslash", realm);
    add_both(c, "auth", digest ? "digestAuth" : "basicAuth", "users", users, "realm", realm, NULL, NULL);
    return 0;
}

static int forward_auth(const struct ctx *c)
{
    const char *url = ann(c, "auth-url");
    if (url == NULL)
        return 0;
    if (strchr(url, '$'))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-url: `%s` uses nginx variables, which gantry cannot "
                         "expand; use the auth service's address",
                      url);
    if (!plain_url(url))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-url: `%s` is not an http(s) URL", url);
    const char *method = ann(c, "auth-method");
    if (method && strcasecmp(method, "GET") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "auth-method: `%s`: forwardAuth always asks with GET", method);
    const char *hdrs = ann(c, "auth-response-headers");
    /* auth-signin: the auth service's 401 becomes a 302 to it, with rd= */
    const char *signin = ann(c, "auth-signin"), *param = ann(c, "auth-signin-redirect-param");
    if (signin && !(plain_url(signin) || (signin[0] == '/' && !strpbrk(signin, " \"'`\\")))) {
        problem(c, "annotation " K8S_NGINX_PREFIX "auth-signin: `%s` is not an http(s) URL or a path (ignored: the "
                   "auth service's 401 reaches the client)", signin);
        signin = NULL;
    }
    if (signin && param && !*param)
        param = NULL;
    if (signin && strchr(signin, '$')) {
        static const char *const vars[] = {"$escaped_request_uri", "$request_uri", "$pass_access_scheme", "$scheme",
                                           "$best_http_host", "$http_host", "$host", NULL};
        for (const char *p = strchr(signin, '$'); p && signin; p = strchr(p + 1, '$')) {
            bool ok = false;
            for (size_t i = 0; vars[i] && !ok; i++) {
                size_t n = strlen(vars[i]);
                ok = strncmp(p, vars[i], n) == 0 && !(p[n] >= 'a' && p[n] <= 'z') && p[n] != '_';
            }
            if (!ok) {
                problem(c, "annotation " K8S_NGINX_PREFIX "auth-signin: the nginx variable at `%.24s` cannot be "
                           "expanded (ignored: the auth service's 401 reaches the client)", p);
                signin = NULL;
            }
        }
    }
    add_mw(c, &c->p->mw_http, "auth-url", "forwardAuth", "address", url, "authResponseHeaders",
           hdrs ? list_norm(c->env->pa, hdrs) : NULL, "signinURL", signin, "signinRedirectParam",
           signin ? param : NULL, NULL);
    struct model_middleware *mw = c->env->m->middlewares.items[c->env->m->middlewares.len - 1];
    ptr_vec_push(&c->env->m->arena, &c->p->mw_tls, (void *)mw->name);
    return 0;
}

static int request_headers(const struct ctx *c)
{
    const char *prefix = ann(c, "x-forwarded-prefix"), *vhost = ann(c, "upstream-vhost");
    if (prefix && strpbrk(prefix, "\r\n"))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "x-forwarded-prefix: a line break in `%s`", prefix);
    if (vhost && (strpbrk(vhost, "\r\n /$") || *vhost == '\0'))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "upstream-vhost: `%s` is not a host name", vhost);
    if (prefix || vhost)
        add_mw(c, &c->p->mw_tail, "request-headers", "headers", "customRequestHeaders.X-Forwarded-Prefix", prefix,
               "customRequestHeaders.Host", vhost, NULL);
    return 0;
}

/* "8m" -> bytes; nginx sizes: k, m, g (either case); "0": unlimited. */
static int parse_size(const char *v, long long *out)
{
    char *end;
    long long n = strtoll(v, &end, 10);
    if (end == v || n < 0)
        return -1;
    long long mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1024, end++;
    else if (*end == 'm' || *end == 'M')
        mul = 1024 * 1024, end++;
    else if (*end == 'g' || *end == 'G')
        mul = 1024LL * 1024 * 1024, end++;
    if (*end != '\0' || n > (1LL << 50) / mul)
        return -1;
    *out = n * mul;
    return 0;
}

/* proxy-next-upstream(-tries, -timeout): nginx's proxy_next_upstream as
 * the retry middleware's options (Traefik v3.7), for proxy-next-upstream-
 * tries attempts in all:
 *   http_NNN        status (the server's answer dropped, the next one asked)
 *   error, timeout  a connection that fails is tried again on another server
 *                   (neither: disableRetryOnNetworkError); timeout also
 *                   passes on a request whose response head did not come
 *                   in time (retryOnResponseHeaderTimeout)
 *   non_idempotent  retryNonIdempotentMethod (else POST, PATCH and LOCK are
 *                   not passed on once sent, nginx's rule and Traefik's)
 *   off             no retry
 *   -timeout        timeout (unitless seconds; 0: none)
 * invalid_header is always on in Gantry (a malformed answer is a failed
 * exchange). Without the annotations, no retry middleware. */
static int next_upstream(const struct ctx *c)
{
    const char *next = ann(c, "proxy-next-upstream");
    long tries, timeout;
    if (int_ann(c, "proxy-next-upstream-tries", 3, 0, 100, &tries) != 0 ||
        int_ann(c, "proxy-next-upstream-timeout", 0, 0, 86400, &timeout) != 0)
        return -1;
    if (next == NULL && ann(c, "proxy-next-upstream-tries") == NULL)
        return 0;
    char status[128] = "", *copy = arena_strdup(c->env->pa, next ? next : "error timeout"), *save = NULL;
    size_t len = 0;
    bool network = false, non_idempotent = false, off = false, timeout_cond = false;
    for (char *t = strtok_r(copy, " \t,", &save); t; t = strtok_r(NULL, " \t,", &save)) {
        if (strcmp(t, "error") == 0 || strcmp(t, "timeout") == 0) {
            network = true;
            timeout_cond |= strcmp(t, "timeout") == 0; /* nginx: also no response head within proxy-read-timeout */
        }
        else if (strcmp(t, "non_idempotent") == 0)
            non_idempotent = true;
        else if (strcmp(t, "off") == 0)
            off = true;
        else if (strcmp(t, "http_500") == 0 || strcmp(t, "http_502") == 0 || strcmp(t, "http_503") == 0 ||
                 strcmp(t, "http_504") == 0 || strcmp(t, "http_403") == 0 || strcmp(t, "http_404") == 0 ||
                 strcmp(t, "http_429") == 0) {
            if (!strstr(status, t + 5))
                len += (size_t)snprintf(status + len, sizeof(status) - len, "%s%s", len ? "," : "", t + 5);
        } else if (strcmp(t, "invalid_header") != 0)
            problem(c, "%s: unknown condition '%s' (ignored)", src(c, "proxy-next-upstream"), t);
    }
    if (off || tries == 1 || tries == 0 || (!network && len == 0))
        return 0; /* nothing is passed to a next server (tries 0, nginx's "no limit": not retried) */
    add_mw(c, &c->p->mw_tail, "retry", "retry", "attempts", arena_printf(c->env->pa, "%ld", tries), "status",
           len ? arena_strdup(c->env->pa, status) : NULL, "disableRetryOnNetworkError", network ? NULL : "true",
           "retryNonIdempotentMethod", non_idempotent ? "true" : NULL, "retryOnResponseHeaderTimeout",
           timeout_cond ? "true" : NULL, "timeout",
           timeout ? arena_printf(c->env->pa, "%lds", timeout) : NULL, NULL);
    return 0;
}

/* "on" / "off", as ingress-nginx's proxy-ssl on/off annotations; anything
 * else refuses (ingress-nginx falls back to off, which would serve an
 * Ingress asking for verification without it). */
static int on_off_ann(const struct ctx *c, const char *k, bool *out)
{
    const char *v = ann(c, k);
    *out = false;
    if (v == NULL)
        return 0;
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "%s: `%s` is not on or off", k, v);
    *out = strcmp(v, "on") == 0;
    return 0;
}

/* proxy-ssl-protocols: ingress-nginx's list (SSLv2 .. TLSv1.3, space
 * separated; unknown words dropped, none left: its default). Gantry speaks
 * TLS 1.2 and 1.3 to upstreams, so the list narrows that range. */
static int ssl_protocols(const struct ctx *c)
{
    const char *v = ann(c, "proxy-ssl-protocols");
    bool known_word = false, v12 = false, v13 = false;
    char *copy = arena_strdup(c->env->pa, v ? v : ""), *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        static const char *const words[] = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
        for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
            known_word |= strcmp(t, words[i]) == 0;
        v12 |= strcmp(t, "TLSv1.2") == 0;
        v13 |= strcmp(t, "TLSv1.3") == 0;
    }
    if (!known_word) /* ingress-nginx's default: "TLSv1 TLSv1.1 TLSv1.2" */
        v12 = true;
    if (!v12 && !v13)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-protocols: `%s` has neither TLSv1.2 nor TLSv1.3 "
                         "(gantry does not speak older versions to upstreams)", v);
    c->p->ssl_min_version = v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    c->p->ssl_max_version = v13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return 0;
}

/* ingress-nginx's proxyssl: the Secret "namespace/name" of proxy-ssl-secret
 * gives the CA (ca.crt) and the client certificate (tls.crt, tls.key). As
 * in its template, verify, depth, protocols and ciphers come with the CA;
 * name, SNI and the client certificate on their own. */
static int proxy_ssl(const struct ctx *c)
{
    static const char *const others[] = {"proxy-ssl-verify", "proxy-ssl-verify-depth", "proxy-ssl-name",
                                         "proxy-ssl-server-name", "proxy-ssl-protocols", "proxy-ssl-ciphers"};
    struct k8s_nginx_plan *p = c->p;
    const char *sref = ann(c, "proxy-ssl-secret");
    bool verify, sni;
    if (on_off_ann(c, "proxy-ssl-verify", &verify) != 0 || on_off_ann(c, "proxy-ssl-server-name", &sni) != 0)
        return -1;
    if (sref == NULL) {
        if (verify)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-verify: on needs " K8S_NGINX_PREFIX
                             "proxy-ssl-secret (the Secret with the CA to verify with)");
        for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
            if (ann(c, others[i]))
                problem(c, "annotation " K8S_NGINX_PREFIX "%s has no effect without " K8S_NGINX_PREFIX
                           "proxy-ssl-secret (ignored, as ingress-nginx)", others[i]);
        return 0;
    }
    const char *slash = strchr(sref, '/');
    if (slash == NULL || slash == sref || slash[1] == '\0' || strchr(slash + 1, '/'))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-secret: `%s` is not namespace/name", sref);
    const char *sns = arena_strndup(c->env->pa, sref, (size_t)(slash - sref)), *sname = slash + 1;
    const cJSON *secret = c->env->find_secret ? c->env->find_secret(c->env->data, sns, sname) : NULL;
    if (secret == NULL)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-secret: secret %s/%s does not exist", sns, sname);
    struct arena *a = &c->env->m->arena;
    const cJSON *data = get(secret, "data");
    const char *keys[] = {"ca.crt", "tls.crt", "tls.key"}, *pem[3] = {NULL, NULL, NULL};
    for (size_t i = 0; i < 3; i++) {
        const char *b64 = str(data, keys[i]);
        if (b64 == NULL)
            continue;
        pem[i] = b64_text(a, b64);
        if (pem[i] == NULL || strstr(pem[i], "-----BEGIN") == NULL)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-secret: key %s of secret %s/%s is not PEM",
                          keys[i], sns, sname);
    }
    if ((pem[1] == NULL) != (pem[2] == NULL))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-secret: secret %s/%s has %s without %s", sns, sname,
                      pem[1] ? "tls.crt" : "tls.key", pem[1] ? "tls.key" : "tls.crt");
    if (pem[0] == NULL && pem[1] == NULL)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-secret: secret %s/%s has neither ca.crt nor "
                         "tls.crt/tls.key", sns, sname);
    if (pem[0] == NULL) {
        if (verify)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-verify: on needs ca.crt in secret %s/%s", sns,
                          sname);
        static const char *const with_ca[] = {"proxy-ssl-verify-depth", "proxy-ssl-protocols", "proxy-ssl-ciphers"};
        for (size_t i = 0; i < sizeof(with_ca) / sizeof(with_ca[0]); i++)
            if (ann(c, with_ca[i]))
                problem(c, "annotation " K8S_NGINX_PREFIX "%s has no effect without ca.crt in secret %s/%s (ignored, "
                           "as ingress-nginx)", with_ca[i], sns, sname);
    } else {
        long depth;
        if (int_ann(c, "proxy-ssl-verify-depth", 1, 0, 100, &depth) != 0 || ssl_protocols(c) != 0)
            return -1;
        p->ssl_verify_depth = depth ? (int)depth : 1; /* 0: ingress-nginx's default, 1 */
        const char *ciphers = ann(c, "proxy-ssl-ciphers");
        if (ciphers && strcmp(ciphers, "DEFAULT") != 0) {
            if (!transport_ciphers_valid(ciphers))
                return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-ciphers: `%s` selects no OpenSSL cipher",
                              ciphers);
            p->ssl_ciphers = arena_strdup(a, ciphers);
        }
        p->ssl_verify = verify;
    }
    const char *name = ann(c, "proxy-ssl-name");
    if (name) {
        if (*name == '\0' || strpbrk(name, "$ \t\r\n`\"'\\/"))
            return refuse(c, "annotation " K8S_NGINX_PREFIX "proxy-ssl-name: `%s` is not a host name (nginx variables "
                             "are not expanded by gantry)", name);
        p->ssl_name = arena_strdup(a, name);
    }
    if (!p->https_backend) {
        problem(c, "annotations " K8S_NGINX_PREFIX "proxy-ssl-* apply to HTTPS backends only (" K8S_NGINX_PREFIX
                   "backend-protocol is not HTTPS or GRPCS; ignored, as ingress-nginx)");
        return 0;
    }
    p->ssl_ca = pem[0];
    p->ssl_cert = pem[1];
    p->ssl_key = pem[2];
    p->proxy_ssl = true;
    return 0;
}

/* mirror-target: nginx's `mirror` to a location proxying to the URL, which
 * ingress-nginx's users end with $request_uri (without it nginx sends the
 * internal location's own URI). Gantry's mirroring sends the request's
 * URI to a server, so the URL must be scheme://host[:port] then
 * $request_uri; the Host of the copies is the URL's. */
static int mirror(const struct ctx *c)
{
    const char *target = ann(c, "mirror-target"), *host = ann(c, "mirror-host");
    bool body = true;
    if (target == NULL) {
        if (host || ann(c, "mirror-request-body"))
            problem(c, "annotations " K8S_NGINX_PREFIX "mirror-host and -request-body have no effect without "
                       K8S_NGINX_PREFIX "mirror-target (ignored)");
        return 0;
    }
    const char *body_v = ann(c, "mirror-request-body");
    if (body_v) {
        if (strcmp(body_v, "on") != 0 && strcmp(body_v, "off") != 0)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "mirror-request-body: `%s` is not on or off", body_v);
        body = strcmp(body_v, "on") == 0;
    }
    size_t skip = strncmp(target, "http://", 7) == 0 ? 7 : strncmp(target, "https://", 8) == 0 ? 8 : 0;
    const char *auth = target + skip, *end = auth + strcspn(auth, "/$?#");
    const char *rest = end;
    if (*rest == '/' && rest[1] == '$')
        rest++; /* "/$request_uri": nginx then sends "//path"; the path itself here */
    if (skip == 0 || end == auth || strcmp(rest, "$request_uri") != 0 || strpbrk(target, " \t\r\n`\"'\\@"))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "mirror-target: `%s` is not http(s)://host[:port]$request_uri "
                         "(gantry mirrors each request to its own URI)", target);
    struct arena *a = &c->env->m->arena;
    const char *authority = arena_strndup(a, auth, (size_t)(end - auth));
    if (host) {
        /* the URL's host name, without its port (ingress-nginx's default) */
        size_t hlen = authority[0] == '[' ? strcspn(authority, "]") + 1 : strcspn(authority, ":");
        if (strlen(host) != hlen || strncasecmp(host, authority, hlen) != 0)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "mirror-host: `%s` differs from the host of "
                             K8S_NGINX_PREFIX "mirror-target, which gantry cannot send", host);
    }
    c->p->mirror_url = arena_printf(a, "%.*s%s", (int)skip, target, authority);
    c->p->mirror_body = body;
    return 0;
}

static int upstream(const struct ctx *c)
{
    const char *proto = ann(c, "backend-protocol");
    if (proto) {
        /* GRPCS: TLS, where ALPN settles on h2 (gRPC servers offer only h2) */
        if (strcasecmp(proto, "HTTPS") == 0 || strcasecmp(proto, "GRPCS") == 0)
            c->p->https_backend = true;
        else if (strcasecmp(proto, "GRPC") == 0)
            c->p->h2c_backend = true;
        else if (strcasecmp(proto, "HTTP") != 0)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "backend-protocol: %s is not supported (HTTP, HTTPS, GRPC, GRPCS)",
                          proto);
    }
    if (proxy_ssl(c) != 0 || bool_ann(c, "service-upstream", false, &c->p->service_upstream) != 0)
        return -1;
    long connect, rd, snd;
    /* unitless seconds, as ingress-nginx takes them */
    if (int_ann(c, "proxy-connect-timeout", 0, 1, 86400, &connect) != 0 ||
        int_ann(c, "proxy-read-timeout", 0, 1, 86400, &rd) != 0 || int_ann(c, "proxy-send-timeout", 0, 1, 86400, &snd) != 0)
        return -1;
    c->p->connect_ms = (uint64_t)connect * 1000;
    c->p->read_ms = (uint64_t)rd * 1000;
    if (snd)
        problem(c, "annotation " K8S_NGINX_PREFIX "proxy-send-timeout is not implemented (the request is sent without "
                   "a per-write timeout)");
    if (next_upstream(c) != 0)
        return -1;
    return 0;
}

/* The one backend Service (name and port as written) of the Ingress's
 * paths and defaultBackend; NULL when there are several or none. */
static const char *single_backend(const struct ctx *c, const char **port)
{
    const cJSON *spec = get(c->ing, "spec");
    const cJSON *backs[64];
    size_t n = 0;
    if (get(spec, "defaultBackend"))
        backs[n++] = get(spec, "defaultBackend");
    const cJSON *rules = get(spec, "rules");
    for (const cJSON *r = rules ? rules->child : NULL; r; r = r->next) {
        const cJSON *paths = get(get(r, "http"), "paths");
        for (const cJSON *p = paths ? paths->child : NULL; p && n < 64; p = p->next)
            backs[n++] = get(p, "backend");
    }
    const char *name = NULL, *pval = NULL;
    for (size_t i = 0; i < n; i++) {
        const cJSON *svc = get(backs[i], "service"), *pt = get(svc, "port");
        const char *nm = str(svc, "name");
        const cJSON *num = get(pt, "number");
        const char *pv = cJSON_IsNumber(num) ? arena_printf(c->env->pa, "%d", num->valueint) : str(pt, "name");
        if (nm == NULL || pv == NULL || (name && (strcmp(name, nm) != 0 || strcmp(pval, pv) != 0)))
            return NULL;
        name = nm;
        pval = pv;
    }
    *port = pval;
    return name;
}

/* custom-http-errors / default-backend: nginx's error_page to the
 * default backend, which sees `GET /` (ingress-nginx rewrites the path so)
 * with ingress-nginx's X-Code, X-Format, X-Original-URI, X-Namespace,
 * X-Ingress-Name, X-Service-Name, X-Service-Port and X-Request-ID (the
 * errors middleware's internal nginxHeaders), and answers with its own
 * status; without custom-http-errors the default backend answers when the
 * Ingress's service has no endpoints (our 503). First in the chain: nginx's
 * error_page also catches the 401/403/413/503 nginx makes itself. */
static int error_pages(const struct ctx *c)
{
    const char *codes = ann(c, "custom-http-errors"), *backend = ann(c, "default-backend");
    if (codes == NULL && backend == NULL)
        return 0;
    const char *status = "503";
    if (codes) {
        const char *list = list_norm(c->env->pa, codes);
        char *copy = arena_strdup(c->env->pa, list), *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *end;
            long v = strtol(item, &end, 10);
            if (*end != '\0' || v < 400 || v > 599)
                return refuse(c, "%s: `%s` is not a status 400..599", src(c, "custom-http-errors"), item);
        }
        status = list;
    }
    if (backend == NULL && own_ann(c, "custom-http-errors") == NULL)
        return 0; /* the ConfigMap's: reported once, with it (the global default backend is not implemented) */
    if (backend == NULL) {
        problem(c, "annotation " K8S_NGINX_PREFIX "custom-http-errors is ignored: there is no default backend "
                   "(set " K8S_NGINX_PREFIX "default-backend)");
        return 0;
    }
    if (strchr(backend, '/') || strchr(backend, '`'))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "default-backend: `%s` is not a Service name", backend);
    const char *svc = c->env->service ? c->env->service(c->env->data, c->ns, c->name, backend) : NULL;
    if (svc == NULL) { /* error pages restrict nothing: served without them */
        problem(c, "annotation " K8S_NGINX_PREFIX "default-backend: service %s/%s cannot be used (ignored)", c->ns,
                backend);
        return 0;
    }
    if (codes == NULL) {
        add_both(c, "errors", "errors", "status", status, "service", svc, "query", "/");
        return 0;
    }
    const char *port = NULL, *name = single_backend(c, &port);
    if (name == NULL)
        problem(c, "annotation " K8S_NGINX_PREFIX "custom-http-errors: the default backend gets no X-Service-Name "
                   "and X-Service-Port (the Ingress has several backend services or ports)");
    add_mw(c, &c->p->mw_http, "errors", "errors", "status", status, "service", svc, "query", "/",
           "nginxHeaders.X-Namespace", c->ns, "nginxHeaders.X-Ingress-Name", c->name, "nginxHeaders.X-Service-Name", name,
           "nginxHeaders.X-Service-Port", port, NULL);
    struct model_middleware *mw = c->env->m->middlewares.items[c->env->m->middlewares.len - 1];
    ptr_vec_push(&c->env->m->arena, &c->p->mw_tls, (void *)mw->name);
    return 0;
}

/* server-alias: more host names for the Ingress's rules. */
static int server_alias(const struct ctx *c)
{
    const char *v = ann(c, "server-alias");
    if (v == NULL)
        return 0;
    char *list = arena_strdup(c->env->pa, v);
    for (char *p = list; *p; p++)
        if (*p == ' ')
            *p = ',';
    const char *norm = list_norm(c->env->pa, list);
    char *copy = arena_strdup(c->env->pa, norm), *save = NULL;
    size_t n = 0;
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save), n++)
        for (const char *q = item; *q; q++)
            if (!(isalnum((unsigned char)*q) || *q == '-' || *q == '.' || (*q == '*' && q == item && q[1] == '.')))
                return refuse(c, "annotation " K8S_NGINX_PREFIX "server-alias: `%s` is not a host name", item);
    if (n)
        c->p->aliases = norm;
    return 0;
}

/* nginx checks client_max_body_size when it picks the location, before
 * any redirect or authentication: first in the chain. */
static int body_size(const struct ctx *c)
{
    const char *size = ann(c, "proxy-body-size");
    long long bytes;
    if (size == NULL)
        return 0;
    if (parse_size(size, &bytes) != 0)
        return refuse(c, "%s: `%s` is not a size (8m, 512k, 0)", src(c, "proxy-body-size"), size);
    if (bytes > 0) /* 0: no limit */
        add_both(c, "body-size", "buffering", "maxRequestBodyBytes", arena_printf(c->env->pa, "%lld", bytes), NULL, NULL,
                 NULL, NULL);
    return 0;
}

static int affinity(const struct ctx *c)
{
    const char *a = ann(c, "affinity");
    if (a == NULL)
        return 0;
    if (strcmp(a, "cookie") != 0)
        return refuse(c, "annotation " K8S_NGINX_PREFIX "affinity: `%s` is not cookie", a);
    struct model_sticky *s = arena_alloc(&c->env->m->arena, sizeof(*s));
    const char *name = ann(c, "session-cookie-name"), *path = ann(c, "session-cookie-path");
    const char *same = ann(c, "session-cookie-samesite");
    s->name = arena_strdup(&c->env->m->arena, name ? name : "INGRESSCOOKIE");
    s->path = arena_strdup(&c->env->m->arena, path ? path : "/");
    s->http_only = true; /* ingress-nginx's cookies are HttpOnly */
    if (bool_ann(c, "session-cookie-secure", false, &s->secure) != 0)
        return -1;
    if (same) {
        if (strcasecmp(same, "None") && strcasecmp(same, "Lax") && strcasecmp(same, "Strict"))
            return refuse(c, "annotation " K8S_NGINX_PREFIX "session-cookie-samesite: `%s` is not None, Lax or Strict",
                          same);
        char *lower = arena_strdup(&c->env->m->arena, same);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        s->same_site = lower;
    }
    long age, expires;
    /* max-age wins; expires (seconds too) is the legacy spelling */
    if (int_ann(c, "session-cookie-max-age", 0, 0, 0x7fffffff, &age) != 0 ||
        int_ann(c, "session-cookie-expires", 0, 0, 0x7fffffff, &expires) != 0)
        return -1;
    s->max_age = age ? age : expires;
    c->p->sticky = s;
    return 0;
}

/* nginx's variables for the client address: the only hash keys gantry
 * has (hrw hashes the client address). */
static bool client_address_key(const char *v)
{
    return strcmp(v, "$remote_addr") == 0 || strcmp(v, "${remote_addr}") == 0 || strcmp(v, "$binary_remote_addr") == 0 ||
           strcmp(v, "${binary_remote_addr}") == 0;
}

/* upstream-hash-by-subset(-size) when the hash they subdivide is not
 * used: each set one reported, naming <why>. */
static void subset_unused(const struct ctx *c, const char *why)
{
    static const char *const keys[] = {"upstream-hash-by-subset", "upstream-hash-by-subset-size"};
    for (size_t i = 0; i < 2; i++)
        if (ann(c, keys[i]))
            problem(c, "annotation " K8S_NGINX_PREFIX "%s is not used: %s (ignored)", keys[i], why);
}

/* upstream-hash-by and load-balance, with the precedence of ingress-nginx's
 * balancer.lua: the affinity cookie, then the hash, then load-balance. A
 * value ingress-nginx's validation rejects refuses the Ingress, as
 * ingress-nginx drops it. The key's nginx variables ($request_uri, $host,
 * $http_*, $cookie_*, combinations) are evaluated per request for the hrw
 * balancer (proxy/hash_key.c); a variable gantry does not evaluate
 * restricts nothing, so that Ingress is served with the default balancing,
 * and reported. */
static int balancing(const struct ctx *c)
{
    const char *hash = ann(c, "upstream-hash-by"), *lb = ann(c, "load-balance");
    static const char *const algorithms[] = {"round_robin", "chash", "chashsubset", "sticky_balanced",
                                             "sticky_persistent", "ewma"};
    char alg[32] = "";
    if (lb) { /* ingress-nginx trims it, and compares it case-sensitively */
        size_t skip = strspn(lb, " \t\r\n"), len = strlen(lb + skip);
        while (len > 0 && strchr(" \t\r\n", lb[skip + len - 1]))
            len--;
        bool ok = false;
        for (size_t i = 0; len > 0 && len < sizeof(alg) && i < sizeof(algorithms) / sizeof(*algorithms); i++)
            ok |= strlen(algorithms[i]) == len && strncmp(algorithms[i], lb + skip, len) == 0;
        if (len > 0 && !ok)
            return refuse(c, "annotation " K8S_NGINX_PREFIX "load-balance: `%s` is not round_robin, ewma, chash, "
                             "chashsubset, sticky_balanced or sticky_persistent", lb);
        snprintf(alg, sizeof(alg), "%.*s", (int)len, lb + skip);
    }
    if (hash && strspn(hash, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_${}") != strlen(hash))
        return refuse(c, "annotation " K8S_NGINX_PREFIX "upstream-hash-by: `%s` has characters other than letters, "
                         "digits and -_${}", hash);
    if (hash && *hash == '\0')
        hash = NULL; /* ingress-nginx skips an empty value */
    bool subset;
    long size;
    if (bool_ann(c, "upstream-hash-by-subset", false, &subset) != 0 ||
        int_ann(c, "upstream-hash-by-subset-size", 3, 0, 1000000, &size) != 0)
        return -1;
    if (c->p->sticky != NULL) {
        if (hash) {
            problem(c, "annotation " K8S_NGINX_PREFIX "upstream-hash-by is not used: the affinity cookie comes first, as "
                       "in ingress-nginx (ignored)");
            subset_unused(c, "the affinity cookie comes first, as in ingress-nginx");
        }
        if (alg[0] && strcmp(alg, "round_robin") != 0)
            problem(c, "annotation " K8S_NGINX_PREFIX "load-balance is not used: the affinity cookie comes first, as in "
                       "ingress-nginx (ignored)");
        return 0;
    }
    if (hash) {
        if (alg[0] && strcmp(alg, "round_robin") != 0)
            problem(c, "annotation " K8S_NGINX_PREFIX "load-balance is not used: upstream-hash-by comes first, as in "
                       "ingress-nginx (ignored)");
        if (!client_address_key(hash)) {
            char err[256];
            if (hash_key_compile(c->env->pa, hash, err, sizeof(err)) == NULL) {
                problem(c, "annotation " K8S_NGINX_PREFIX "upstream-hash-by: `%s`: %s; served with round robin (ignored)",
                        hash, err);
                subset_unused(c, arena_printf(c->env->pa, "upstream-hash-by `%s` is not implemented", hash));
                return 0;
            }
            c->p->hash_key = hash;
        }
        if (subset)
            problem(c, "annotation " K8S_NGINX_PREFIX "upstream-hash-by-subset is not implemented: each hash value "
                       "goes to one endpoint (ignored)");
        if (ann(c, "upstream-hash-by-subset-size"))
            problem(c, "annotation " K8S_NGINX_PREFIX "upstream-hash-by-subset-size is not used: %s (ignored)",
                    subset ? "each hash value goes to one endpoint"
                           : "it applies with upstream-hash-by-subset only, as in ingress-nginx");
        c->p->strategy = "hrw";
        return 0;
    }
    subset_unused(c, "it applies with upstream-hash-by only, as in ingress-nginx");
    if (strcmp(alg, "ewma") == 0)
        c->p->strategy = "leasttime"; /* both favour the server answering fastest */
    else if (alg[0] && strcmp(alg, "round_robin") != 0)
        problem(c, "annotation " K8S_NGINX_PREFIX "load-balance: %s is not implemented: round_robin is used (ignored)",
                alg);
    return 0;
}

static int paths(const struct ctx *c)
{
    bool regex;
    if (bool_ann(c, "use-regex", false, &regex) != 0)
        return -1;
    const char *target = ann(c, "rewrite-target");
    if (target) {
        if (target[0] != '/' || strpbrk(target, " \"'`\\\r\n"))
            return refuse(c, "annotation " K8S_NGINX_PREFIX "rewrite-target: `%s` is not a path", target);
        c->p->rewrite_target = target;
        regex = true; /* ingress-nginx: rewrite-target makes the paths regexes */
    }
    c->p->use_regex = regex;
    return 0;
}

static int canary(const struct ctx *c)
{
    bool on;
    if (bool_ann(c, "canary", false, &on) != 0 || !on)
        return on ? -1 : 0;
    long w, total;
    if (int_ann(c, "canary-weight-total", 100, 1, 1000000, &total) != 0 ||
        int_ann(c, "canary-weight", 0, 0, total, &w) != 0)
        return -1;
    c->p->canary = true;
    c->p->canary_weight = (int)w;
    c->p->canary_total = (int)total;
    c->p->canary_header = ann(c, "canary-by-header");
    c->p->canary_header_value = ann(c, "canary-by-header-value");
    c->p->canary_header_pattern = ann(c, "canary-by-header-pattern");
    c->p->canary_cookie = ann(c, "canary-by-cookie");
    const char *checks[] = {c->p->canary_header, c->p->canary_header_value, c->p->canary_header_pattern,
                            c->p->canary_cookie};
    for (size_t i = 0; i < 4; i++)
        if (checks[i] && strpbrk(checks[i], "`\r\n"))
            return refuse(c, "canary annotations: `%s` has a backquote or a line break", checks[i]);
    return 0;
}

/* Whether annotation <k> (without the prefix) restricts access. */
static bool access_annotation(const char *k, int *flags_out)
{
    int flags = -1;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(known[i].name, k) == 0)
            flags = known[i].flags;
    *flags_out = flags;
    return flags >= 0 ? (flags & ACCESS) != 0 : strncmp(k, "auth-", 5) == 0 || strstr(k, "snippet") || strstr(k, "source-range");
}

/* ssl-passthrough: the HTTPS connections of the Ingress's hosts go
 * unterminated to the backend (k8s_translate.c builds the TCP routers).
 * Without enableSSLPassthrough it does nothing, as ingress-nginx without
 * --enable-ssl-passthrough. The other annotations cannot apply to those
 * connections (ingress-nginx drops them silently): one restricting access
 * keeps the Ingress terminated, with its policy. */
static int passthrough(const struct ctx *c)
{
    bool on;
    if (bool_ann(c, "ssl-passthrough", false, &on) != 0)
        return -1;
    if (!on)
        return 0;
    if (!c->env->o->enable_ssl_passthrough) {
        problem(c, "annotation " K8S_NGINX_PREFIX "ssl-passthrough is ignored: providers.kubernetesIngressNGINX."
                   "enableSSLPassthrough is off (as ingress-nginx without --enable-ssl-passthrough)");
        return 0;
    }
    const cJSON *anns = get(get(c->ing, "metadata"), "annotations");
    size_t plen = strlen(K8S_NGINX_PREFIX);
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next) {
        int flags;
        if (kv->string && strncmp(kv->string, K8S_NGINX_PREFIX, plen) == 0 && access_annotation(kv->string + plen, &flags)) {
            problem(c, "annotation " K8S_NGINX_PREFIX "ssl-passthrough is ignored: %s restricts access, which a "
                       "passthrough connection cannot apply (HTTPS is terminated by gantry, with it)", kv->string);
            return 0;
        }
    }
    c->p->ssl_passthrough = true;
    return 0;
}

/* Every nginx annotation: unknown ones reported, unimplemented access ones
 * refused unless allowed, snippets always refused. */
static void survey(const struct ctx *c)
{
    const cJSON *anns = get(get(c->ing, "metadata"), "annotations");
    size_t plen = strlen(K8S_NGINX_PREFIX);
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next) {
        if (kv->string == NULL || strncmp(kv->string, K8S_NGINX_PREFIX, plen) != 0)
            continue;
        const char *k = kv->string + plen;
        int flags;
        bool access = access_annotation(k, &flags);
        if (flags >= 0 && (flags & IMPL))
            continue;
        if (flags >= 0 && (flags & NEVER))
            refuse(c, "annotation %s: nginx configuration snippets are never executed by gantry", kv->string);
        else if (access && !c->env->o->allow_unsafe)
            refuse(c,
                   "annotation %s restricts access and is not implemented by gantry "
                   "(providers.kubernetesIngressNGINX.allowUnsafeAnnotations=true serves it without)",
                   kv->string);
        else
            problem(c, "annotation %s is not implemented by gantry (ignored)", kv->string);
    }
}

/* "<ns>-<name>-<hash>": "team-a"/"app" and "team"/"a-app" must not share
 * middlewares (one Ingress would get the other's basicAuth users), so a
 * hash of "ns/name" follows the readable part. */
static const char *object_base(struct arena *a, const char *ns, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const char *q = ns; *q; q++)
        h = (h ^ (unsigned char)*q) * 16777619u;
    h = (h ^ '/') * 16777619u;
    for (const char *q = name; *q; q++)
        h = (h ^ (unsigned char)*q) * 16777619u;
    char *base = arena_printf(a, "%s-%s-%08x", ns, name, h);
    for (char *q = base; *q; q++)
        if (!(isalnum((unsigned char)*q) || *q == '-'))
            *q = '-';
    return base;
}

void k8s_nginx_plan(const struct k8s_nginx_env *env, const cJSON *ing, const char *ns, const char *name, bool has_tls,
                    bool shared_tls, struct k8s_nginx_plan *p)
{
    memset(p, 0, sizeof(*p));
    p->shared_tls = shared_tls;
    p->catch_all = cJSON_GetArraySize(get(get(ing, "spec"), "rules")) == 0;
    struct ctx c = {env, ing, ns, name, p};
    p->base = object_base(&env->m->arena, ns, name);
    if (env->config && env->config->refused) {
        refuse(&c, "%s", env->config->refused);
        return;
    }
    survey(&c);
    if (p->refused)
        return;
    /* each step refuses on its own; the phase order is the middleware order */
    if (canary(&c) != 0 || paths(&c) != 0 || server_alias(&c) != 0 || error_pages(&c) != 0 || body_size(&c) != 0 ||
        redirects(&c, has_tls) != 0 || cors(&c) != 0 || limits(&c) != 0 ||
        source_ranges(&c) != 0 || basic_auth(&c) != 0 || forward_auth(&c) != 0 || request_headers(&c) != 0 ||
        affinity(&c) != 0 || balancing(&c) != 0 || upstream(&c) != 0 || mirror(&c) != 0 || passthrough(&c) != 0)
        return;
    hsts(&c, has_tls || shared_tls);
}

/* ---- rules, routers, services ---- */

const char *k8s_nginx_rule(struct arena *a, const struct k8s_nginx_plan *p, const char *host, const char *path,
                           const char *path_type, bool *exact)
{
    *exact = path_type && strcmp(path_type, "Exact") == 0;
    bool aliased = p->aliases && host && *host;
    if ((!p->use_regex || *exact) && !aliased)
        return NULL; /* the Ingress specification's rule, from k8s_translate.c */
    if (path == NULL || path[0] != '/' || strchr(path, '`'))
        return "";
    const char *hosts = NULL;
    if (host && *host) {
        hosts = arena_printf(a, "Host(`%s`)", host);
        char *copy = arena_strdup(a, p->aliases ? p->aliases : ""), *save = NULL;
        for (char *al = strtok_r(copy, ",", &save); al; al = strtok_r(NULL, ",", &save))
            hosts = arena_printf(a, "%s || Host(`%s`)", hosts, al);
        if (aliased)
            hosts = arena_printf(a, "(%s)", hosts);
    }
    const char *pathpart;
    size_t len = strlen(path);
    if (p->use_regex && !*exact) /* nginx's `location ~* "^<path>"`: a case-insensitive prefix regex */
        pathpart = arena_printf(a, "PathRegexp(`(?i)^%s`)", path);
    else if (*exact)
        pathpart = arena_printf(a, "Path(`%s`)", path);
    else if (len == 1)
        pathpart = "PathPrefix(`/`)";
    else { /* as k8s_translate.c: whole path elements, a trailing slash ignored */
        while (len > 1 && path[len - 1] == '/')
            len--;
        pathpart = arena_printf(a, "(Path(`%.*s`) || PathPrefix(`%.*s/`))", (int)len, path, (int)len, path);
    }
    return hosts ? arena_printf(a, "%s && %s", hosts, pathpart) : pathpart;
}

static void push_all(struct arena *a, const char ***list, size_t *n, const struct ptr_vec *v, size_t *cap)
{
    for (size_t i = 0; i < v->len; i++) {
        if (*n == *cap) {
            size_t nc = *cap ? *cap * 2 : 8;
            const char **nl = arena_alloc(a, nc * sizeof(*nl));
            if (*n) /* the first growth: *list is NULL */
                memcpy(nl, *list, *n * sizeof(*nl));
            *list = nl;
            *cap = nc;
        }
        (*list)[(*n)++] = v->items[i];
    }
}

void k8s_nginx_router(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, struct model_router *r,
                      const char *host, const char *path, bool tls, bool host_cert)
{
    struct arena *a = &env->m->arena;
    const char **list = NULL;
    size_t n = 0, cap = 0;
    if (tls && p->hsts && host_cert) { /* lua_ingress.lua: by the request's host, never the catch-all's */
        struct ptr_vec one = {0};
        ptr_vec_push(a, &one, (void *)p->hsts);
        push_all(a, &list, &n, &one, &cap);
    }
    if (!tls && p->shared_redirect && host_cert) { /* at its place in the phase order */
        struct ptr_vec head = p->mw_http, one = {0}, rest = {0};
        head.len = p->shared_redirect_at;
        push_all(a, &list, &n, &head, &cap);
        ptr_vec_push(a, &one, (void *)p->shared_redirect);
        push_all(a, &list, &n, &one, &cap);
        for (size_t i = p->shared_redirect_at; i < p->mw_http.len; i++)
            ptr_vec_push(a, &rest, p->mw_http.items[i]);
        push_all(a, &list, &n, &rest, &cap);
    } else if (path == NULL && p->catch_all && p->n_rewrite_redirect > 0) { /* the defaultBackend router: server `_` */
        const struct ptr_vec *all = tls ? &p->mw_tls : &p->mw_http;
        struct ptr_vec kept = {0};
        for (size_t i = 0; i < all->len; i++) {
            bool skip = false;
            for (size_t k = 0; k < p->n_rewrite_redirect && !skip; k++)
                skip = strcmp(all->items[i], p->rewrite_redirect[k]) == 0;
            if (!skip)
                ptr_vec_push(a, &kept, all->items[i]);
        }
        push_all(a, &list, &n, &kept, &cap);
    } else if (!tls && host == NULL && path != NULL && p->own_redirect && !p->own_redirect_forced) {
        struct ptr_vec kept = {0}; /* a host-less rule: server `_`, no certificate for its hosts */
        for (size_t i = 0; i < p->mw_http.len; i++)
            if (p->mw_http.items[i] != p->own_redirect)
                ptr_vec_push(a, &kept, p->mw_http.items[i]);
        push_all(a, &list, &n, &kept, &cap);
    } else {
        push_all(a, &list, &n, tls ? &p->mw_tls : &p->mw_http, &cap);
    }
    struct ptr_vec tail = p->mw_tail;
    if (p->rewrite_target && path) {
        /* nginx's `rewrite "(?i)<path>" <target> break`: the whole path is
         * replaced when the location's regex matches, query kept */
        struct model_middleware *mw = arena_alloc(a, sizeof(*mw));
        const char *name = r->name;
        size_t len = strlen(name);
        if (len > 4 && strcmp(name + len - 4, "-tls") == 0)
            name = arena_strndup(a, name, len - 4); /* one rewrite for both routers of a path */
        mw->name = arena_printf(a, "%s-nginx-rewrite-%s", p->base, name);
        mw->type = "replacePathRegex";
        mw->keys = arena_alloc(a, 2 * sizeof(*mw->keys));
        mw->values = arena_alloc(a, 2 * sizeof(*mw->values));
        mw->keys[0] = "regex";
        mw->values[0] = arena_printf(a, "(?i)^%s.*", path);
        mw->keys[1] = "replacement";
        mw->values[1] = arena_strdup(a, p->rewrite_target);
        mw->n_options = 2;
        mw->origin = r->origin;
        if (!tls)
            ptr_vec_push(a, &env->m->middlewares, mw);
        struct ptr_vec one = {0};
        ptr_vec_push(a, &one, (void *)mw->name);
        push_all(a, &list, &n, &one, &cap);
    }
    push_all(a, &list, &n, &tail, &cap);
    r->middlewares = list;
    r->n_middlewares = n;
}

const char *k8s_nginx_www_redirect(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, const char *host,
                                   const char **mw)
{
    if (!p->www_redirect || host == NULL || *host == '\0' || host[0] == '*')
        return NULL;
    struct arena *a = &env->m->arena;
    bool www = strncmp(host, "www.", 4) == 0;
    const char *from = www ? arena_strdup(a, host + 4) : arena_printf(a, "www.%s", host);
    if (*from == '\0')
        return NULL;
    const char *name = arena_printf(a, "%s-nginx-www-redirect-%s", p->base, host);
    for (char *q = (char *)name; *q; q++)
        if (*q == '.')
            *q = '-';
    *mw = name;
    for (size_t i = 0; i < env->m->middlewares.len; i++)
        if (strcmp(((struct model_middleware *)env->m->middlewares.items[i])->name, name) == 0)
            return from;
    /* the same scheme, port and request URI on <host>; as nginx's redirect
     * server, one trailing slash of the request URI goes */
    struct model_middleware *m = arena_alloc(a, sizeof(*m));
    m->name = name;
    m->type = "redirectRegex";
    m->keys = arena_alloc(a, 3 * sizeof(*m->keys));
    m->values = arena_alloc(a, 3 * sizeof(*m->values));
    m->keys[0] = "regex";
    m->values[0] = "^(https?)://[^/:]+(:[0-9]+)?(/.*?)/?$";
    m->keys[1] = "replacement";
    m->values[1] = arena_printf(a, "${1}://%s${2}${3}", host);
    m->keys[2] = "statusCode";
    m->values[2] = "308"; /* ingress-nginx's http-redirect-code default */
    m->n_options = 3;
    m->origin = (struct model_origin){"kubernetes", arena_printf(a, "annotation " K8S_NGINX_PREFIX "from-to-www-redirect")};
    ptr_vec_push(a, &env->m->middlewares, m);
    return from;
}

const char *k8s_nginx_service(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *p, const char *svc)
{
    if (p->sticky == NULL && p->strategy == NULL && !p->https_backend && !p->h2c_backend && !p->connect_ms &&
        !p->read_ms && !p->proxy_ssl)
        return svc;
    struct model *m = env->m;
    const char *name = arena_printf(&m->arena, "%s-nginx-%s", p->base, svc);
    if (model_find_service(m, name))
        return name;
    const struct model_service *orig = model_find_service(m, svc);
    if (orig == NULL || orig->lb == NULL)
        return svc;
    struct model_service *s = arena_alloc(&m->arena, sizeof(*s));
    *s = *orig;
    s->name = name;
    struct model_lb *lb = arena_alloc(&m->arena, sizeof(*lb));
    *lb = *orig->lb;
    lb->sticky = p->sticky;
    if (p->strategy)
        lb->strategy = p->strategy;
    lb->hash_key = p->hash_key;
    if (p->https_backend || p->h2c_backend) {
        lb->servers = arena_alloc(&m->arena, (lb->n_servers ? lb->n_servers : 1) * sizeof(*lb->servers));
        for (size_t i = 0; i < lb->n_servers; i++) {
            lb->servers[i] = orig->lb->servers[i];
            const char *u = orig->lb->servers[i].url;
            if (strncmp(u, "http://", 7) == 0)
                lb->servers[i].url = arena_printf(&m->arena, "%s://%s", p->h2c_backend ? "h2c" : "https", u + 7);
        }
    }
    if (p->https_backend || p->connect_ms || p->read_ms) {
        /* ingress-nginx does not verify the pods' certificates unless
         * proxy-ssl-verify is on: neither does this transport.
         * proxy_read_timeout bounds every wait for the upstream, the
         * response head included: both of ours. */
        struct model_transport *t = arena_alloc(&m->arena, sizeof(*t));
        t->name = arena_printf(&m->arena, "%s-nginx-transport", p->base);
        t->insecure_skip_verify = p->https_backend && !p->ssl_verify;
        if (p->proxy_ssl) {
            if (p->ssl_ca) {
                t->root_cas = arena_alloc(&m->arena, sizeof(*t->root_cas));
                t->root_cas[0] = p->ssl_ca;
                t->n_root_cas = 1;
            }
            if (p->ssl_cert) {
                t->cert_files = arena_alloc(&m->arena, sizeof(*t->cert_files));
                t->key_files = arena_alloc(&m->arena, sizeof(*t->key_files));
                t->cert_files[0] = p->ssl_cert;
                t->key_files[0] = p->ssl_key;
                t->n_certs = 1;
            }
            t->server_name = p->ssl_name;
            t->verify_depth = p->ssl_verify_depth;
            t->min_version = p->ssl_min_version;
            t->max_version = p->ssl_max_version;
            t->ciphers = p->ssl_ciphers;
        }
        t->dial_ms = p->connect_ms;
        t->response_header_ms = t->read_ms = p->read_ms;
        t->origin = orig->origin;
        bool have = false;
        for (size_t i = 0; i < m->transports.len; i++)
            have |= strcmp(((struct model_transport *)m->transports.items[i])->name, t->name) == 0;
        if (!have)
            ptr_vec_push(&m->arena, &m->transports, t);
        lb->servers_transport = t->name;
    }
    s->lb = lb;
    ptr_vec_push(&m->arena, &m->services, s);
    return name;
}

/* ---- canaries ---- */

/* Whether <ing> has a rule for <host> with <path>, and its backend. */
static const cJSON *path_backend(const cJSON *ing, const char *host, const char *path)
{
    const cJSON *rules = get(get(ing, "spec"), "rules");
    for (const cJSON *r = rules ? rules->child : NULL; r; r = r->next) {
        const char *h = str(r, "host");
        if (!((h == NULL && host == NULL) || (h && host && strcasecmp(h, host) == 0)))
            continue;
        const cJSON *ps = get(get(r, "http"), "paths");
        for (const cJSON *p = ps ? ps->child : NULL; p; p = p->next) {
            const char *pp = str(p, "path");
            if (strcmp(pp ? pp : "/", path ? path : "/") == 0)
                return get(p, "backend");
        }
    }
    return NULL;
}

const cJSON *k8s_nginx_canary_find(const struct k8s_nginx_env *env, const cJSON *const *ings, size_t n,
                                   const cJSON *const *classes, size_t n_classes, const char *ns, const char *host,
                                   const char *path, struct k8s_nginx_plan *cp, const char **canary_name)
{
    for (size_t i = 0; i < n; i++) {
        const cJSON *meta = get(ings[i], "metadata");
        const char *cns = str(meta, "namespace"), *cname = str(meta, "name");
        const char *flag = str(get(meta, "annotations"), K8S_NGINX_PREFIX "canary");
        bool on = false;
        if (cns == NULL || cname == NULL || strcmp(cns, ns) != 0 || flag == NULL || config_parse_go_bool(flag, &on) != 0 || !on ||
            !k8s_nginx_is_ours(classes, n_classes, env->o, ings[i]))
            continue;
        const cJSON *backend = path_backend(ings[i], host, path);
        if (backend == NULL)
            continue;
        /* the canary's own translation reports its problems; not again here */
        struct ptr_vec quiet = {0};
        struct k8s_nginx_env qenv = *env;
        qenv.problems = &quiet;
        qenv.events = NULL;
        memset(cp, 0, sizeof(*cp));
        cp->base = object_base(&env->m->arena, cns, cname);
        struct ctx c = {&qenv, ings[i], cns, cname, cp};
        survey(&c); /* a canary refused on its own (a snippet...) gets no traffic either */
        if (cp->refused || canary(&c) != 0 || cp->refused)
            continue;
        *canary_name = cname;
        return backend;
    }
    return NULL;
}

const char *k8s_nginx_canary_weighted(const struct k8s_nginx_env *env, const struct k8s_nginx_plan *cp,
                                      const char *main_svc, const char *canary_svc, const char *router)
{
    if (cp->canary_weight <= 0)
        return main_svc;
    struct model *m = env->m;
    const char *name = arena_printf(&m->arena, "%s-nginx-canary-%s", cp->base, router);
    struct model_service *s = arena_alloc(&m->arena, sizeof(*s));
    s->name = name;
    s->origin = (struct model_origin){"kubernetes", "annotation " K8S_NGINX_PREFIX "canary-weight"};
    struct model_weighted *w = arena_alloc(&m->arena, sizeof(*w));
    w->services = arena_alloc(&m->arena, 2 * sizeof(*w->services));
    w->services[0] = (struct model_weighted_ref){main_svc, cp->canary_total - cp->canary_weight};
    w->services[1] = (struct model_weighted_ref){canary_svc, cp->canary_weight};
    w->n_services = 2;
    s->weighted = w;
    ptr_vec_push(&m->arena, &m->services, s);
    return name;
}

const char *k8s_nginx_canary_rule(struct arena *a, const struct k8s_nginx_plan *cp, const char *rule,
                                  enum k8s_nginx_canary_route which)
{
    switch (which) {
    case K8S_NGINX_CANARY_HEADER:
        if (cp->canary_header == NULL)
            return NULL;
        if (cp->canary_header_value) /* exact value; "always"/"never" have no meaning then */
            return arena_printf(a, "(%s) && Header(`%s`, `%s`)", rule, cp->canary_header, cp->canary_header_value);
        if (cp->canary_header_pattern)
            return arena_printf(a, "(%s) && HeaderRegexp(`%s`, `%s`)", rule, cp->canary_header,
                                cp->canary_header_pattern);
        return arena_printf(a, "(%s) && Header(`%s`, `always`)", rule, cp->canary_header);
    case K8S_NGINX_CANARY_HEADER_NEVER:
        if (cp->canary_header == NULL || cp->canary_header_value || cp->canary_header_pattern)
            return NULL;
        return arena_printf(a, "(%s) && Header(`%s`, `never`)", rule, cp->canary_header);
    case K8S_NGINX_CANARY_COOKIE:
    case K8S_NGINX_CANARY_COOKIE_NEVER:
        if (cp->canary_cookie == NULL)
            return NULL;
        return arena_printf(a, "(%s) && HeaderRegexp(`Cookie`, `(^|;\\s*)%s=%s(;|$)`)", rule, cp->canary_cookie,
                            which == K8S_NGINX_CANARY_COOKIE ? "always" : "never");
    }
    return NULL;
}
