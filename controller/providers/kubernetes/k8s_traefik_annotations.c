/*
 * Traefik's Ingress annotations -> router settings (see
 * k8s_traefik_annotations.h).
 */
#include "k8s_traefik_annotations.h"

#include "../../../common/config_value.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTER_PREFIX K8S_TRAEFIK_PREFIX "router."
#define SERVICE_PREFIX K8S_TRAEFIK_PREFIX "service."

/* A name Traefik would accept in a reference: no spaces, quotes or
 * backquotes (it becomes part of a qualified model name). */
static bool ref_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || *p == '`' || *p == '"' || *p == '\'' || *p == ',' || (unsigned char)*p < 0x20)
            return false;
    return true;
}

/* "a, b,c" -> items; -1 when an item is empty or malformed (*bad set). */
static int split_refs(struct arena *a, const char *v, const char ***out, size_t *n, const char **bad)
{
    size_t cap = 1;
    for (const char *p = v; *p; p++)
        cap += *p == ',';
    const char **items = arena_alloc(a, cap * sizeof(*items));
    size_t k = 0;
    const char *p = v;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len && isspace((unsigned char)*p))
            p++, len--;
        while (len && isspace((unsigned char)p[len - 1]))
            len--;
        char *item = arena_strndup(a, p, len);
        if (!ref_ok(item)) {
            *bad = item;
            return -1;
        }
        items[k++] = item;
        if (end == NULL)
            break;
        p = end + 1;
    }
    *out = items;
    *n = k;
    return 0;
}

static int fail(struct arena *a, const char **why, const char *key, const char *reason, const char *value)
{
    *why = arena_printf(a, "annotation %s: %s `%s`", key, reason, value);
    return -1;
}

#define MAX_DOMAINS (sizeof(((struct k8s_traefik_router *)0)->domains) / sizeof(struct model_tls_domain))

/* router.tls.domains.<n>.main / .sans: <rest> is "<n>.main" or "<n>.sans". */
static int tls_domain(struct arena *a, const char *key, const char *rest, const char *v, struct k8s_traefik_router *out,
                      const char **why)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(rest, &end, 10);
    if (end == rest || *end != '.' || errno != 0 || !isdigit((unsigned char)rest[0]))
        return fail(a, why, key, "not router.tls.domains.<n>.main or .sans:", key);
    if (n >= MAX_DOMAINS)
        return fail(a, why, key, "gantry reads up to 8 domains (index 0 to 7):", key);
    struct model_tls_domain *d = &out->domains[n];
    if (strcasecmp(end + 1, "main") == 0) {
        if (!ref_ok(v) || strchr(v, ',') != NULL)
            return fail(a, why, key, "not a domain name:", v);
        d->main = arena_strdup(a, v);
    } else if (strcasecmp(end + 1, "sans") == 0) {
        const char *bad;
        if (split_refs(a, v, &d->sans, &d->n_sans, &bad) != 0)
            return fail(a, why, key, "not a domain name:", bad);
    } else {
        return fail(a, why, key, "not router.tls.domains.<n>.main or .sans:", key);
    }
    if (n + 1 > out->n_domains)
        out->n_domains = n + 1;
    return 0;
}

int k8s_traefik_router_parse(struct arena *a, const cJSON *ing, struct k8s_traefik_router *out, const char **why,
                             struct ptr_vec *notes)
{
    memset(out, 0, sizeof(*out));
    *why = NULL;
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ing, "metadata"), "annotations");
    size_t plen = strlen(K8S_TRAEFIK_PREFIX), rlen = strlen(ROUTER_PREFIX);
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next) {
        const char *key = kv->string;
        if (key == NULL || strncmp(key, K8S_TRAEFIK_PREFIX, plen) != 0)
            continue;
        if (!cJSON_IsString(kv))
            return fail(a, why, key, "is not a string:", "");
        const char *v = kv->valuestring;
        if (strncmp(key, ROUTER_PREFIX, rlen) != 0) {
            /* service.* belong on the Service (Traefik reads them there); anything
             * else is unknown to Traefik's Ingress provider too */
            ptr_vec_push(a, notes,
                         arena_printf(a, "annotation %s: %s (ignored)", key,
                                      strncmp(key + plen, "service.", 8) == 0
                                          ? "service annotations are read on the Service, not the Ingress"
                                          : "unknown to Traefik's Ingress provider"));
            continue;
        }
        const char *k = key + rlen;
        out->any = true;
        /* Traefik's label keys are case-insensitive */
        if (strcasecmp(k, "entrypoints") == 0) {
            const char *bad;
            if (split_refs(a, v, &out->entrypoints, &out->n_entrypoints, &bad) != 0)
                return fail(a, why, key, "not an entry point name:", bad);
        } else if (strcasecmp(k, "middlewares") == 0) {
            const char *bad;
            if (split_refs(a, v, &out->middlewares, &out->n_middlewares, &bad) != 0)
                return fail(a, why, key, "not a middleware name:", bad);
        } else if (strcasecmp(k, "priority") == 0) {
            char *end;
            errno = 0;
            long long p = strtoll(v, &end, 10);
            if (end == v || *end != '\0' || errno != 0 || p < -2147483648LL || p > 2147483647LL)
                return fail(a, why, key, "not an integer:", v);
            out->priority = p;
        } else if (strcasecmp(k, "pathmatcher") == 0) {
            if (strcmp(v, "Path") != 0 && strcmp(v, "PathPrefix") != 0 && strcmp(v, "PathRegexp") != 0)
                return fail(a, why, key, "not Path, PathPrefix or PathRegexp:", v);
            out->path_matcher = arena_strdup(a, v);
        } else if (strcasecmp(k, "tls") == 0) {
            bool on;
            if (config_parse_go_bool(v, &on) != 0)
                return fail(a, why, key, "not a boolean:", v);
            out->tls |= on;
        } else if (strcasecmp(k, "tls.certresolver") == 0) {
            if (!ref_ok(v))
                return fail(a, why, key, "not a resolver name:", v);
            out->cert_resolver = arena_strdup(a, v);
            out->tls = true;
        } else if (strcasecmp(k, "tls.options") == 0) {
            if (!ref_ok(v))
                return fail(a, why, key, "not a TLS option name:", v);
            out->tls_options = arena_strdup(a, v);
            out->tls = true;
        } else if (strncasecmp(k, "tls.domains.", 12) == 0) {
            if (tls_domain(a, key, k + 12, v, out, why) != 0)
                return -1;
            out->tls = true;
        } else if (strncasecmp(k, "observability.", 14) == 0 || strcasecmp(k, "rulesyntax") == 0) {
            ptr_vec_push(a, notes, arena_printf(a, "annotation %s: not implemented by gantry (ignored)", key));
        } else {
            /* Traefik's decoder fails on an unknown field, and so the Ingress */
            return fail(a, why, key, "unknown router option", k);
        }
    }
    return 0;
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* One sticky.cookie.* option <opt> (after "sticky.cookie.") into <c>. */
static int sticky_option(struct arena *a, const char *key, const char *opt, const char *v, struct model_sticky *c,
                         const char **why)
{
    bool on;
    if (strcasecmp(opt, "name") == 0) {
        if (!ref_ok(v) || strpbrk(v, "=;") != NULL)
            return fail(a, why, key, "not a cookie name:", v);
        c->name = arena_strdup(a, v);
    } else if (strcasecmp(opt, "secure") == 0 || strcasecmp(opt, "httponly") == 0) {
        if (config_parse_go_bool(v, &on) != 0)
            return fail(a, why, key, "not a boolean:", v);
        *(strcasecmp(opt, "secure") == 0 ? &c->secure : &c->http_only) = on;
    } else if (strcasecmp(opt, "samesite") == 0) {
        if (strcasecmp(v, "none") != 0 && strcasecmp(v, "lax") != 0 && strcasecmp(v, "strict") != 0)
            return fail(a, why, key, "not none, lax or strict:", v);
        char *lower = arena_strdup(a, v);
        for (char *p = lower; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        c->same_site = lower;
    } else if (strcasecmp(opt, "maxage") == 0) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (end == v || *end != '\0' || errno != 0 || n < -2147483648LL || n > 2147483647LL)
            return fail(a, why, key, "not an integer:", v);
        c->max_age = n;
    } else if (strcasecmp(opt, "path") == 0) {
        if (v[0] != '/' || strpbrk(v, " ;\"\r\n") != NULL)
            return fail(a, why, key, "not a cookie path:", v);
        c->path = arena_strdup(a, v);
    } else if (strcasecmp(opt, "domain") == 0) {
        if (!ref_ok(v) || strchr(v, ';') != NULL)
            return fail(a, why, key, "not a cookie domain:", v);
        c->domain = arena_strdup(a, v);
    } else {
        return fail(a, why, key, "unknown sticky cookie option", opt);
    }
    return 0;
}

bool k8s_traefik_service_annotated(const cJSON *svc)
{
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "metadata"), "annotations");
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next)
        if (kv->string && strncmp(kv->string, SERVICE_PREFIX, strlen(SERVICE_PREFIX)) == 0)
            return true;
    return false;
}

int k8s_traefik_service_parse(struct arena *a, const cJSON *svc, struct k8s_traefik_service *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    out->pass_host_header = true;
    *why = NULL;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(svc, "metadata");
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(meta, "annotations");
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(svc, "spec");
    size_t slen = strlen(SERVICE_PREFIX);
    struct model_sticky *cookie = NULL;
    bool sticky_on = false, native = false, node_port = false;
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next) {
        const char *key = kv->string;
        /* router.* on a Service: Traefik reads only service.* there */
        if (key == NULL || strncmp(key, SERVICE_PREFIX, slen) != 0)
            continue;
        if (!cJSON_IsString(kv))
            return fail(a, why, key, "is not a string:", "");
        const char *v = kv->valuestring, *k = key + slen;
        bool on;
        out->any = true;
        if (strcasecmp(k, "serversscheme") == 0) {
            if (strcmp(v, "http") != 0 && strcmp(v, "https") != 0 && strcmp(v, "h2c") != 0)
                return fail(a, why, key, "not http, https or h2c:", v);
            out->scheme = arena_strdup(a, v);
        } else if (strcasecmp(k, "serverstransport") == 0) {
            if (!ref_ok(v))
                return fail(a, why, key, "not a serversTransport name:", v);
            out->transport = arena_strdup(a, v);
        } else if (strcasecmp(k, "passhostheader") == 0) {
            if (config_parse_go_bool(v, &out->pass_host_header) != 0)
                return fail(a, why, key, "not a boolean:", v);
        } else if (strcasecmp(k, "middlewares") == 0) {
            const char *bad;
            if (split_refs(a, v, &out->middlewares, &out->n_middlewares, &bad) != 0)
                return fail(a, why, key, "not a middleware name:", bad);
        } else if (strcasecmp(k, "nativelb") == 0 || strcasecmp(k, "nodeportlb") == 0) {
            if (config_parse_go_bool(v, &on) != 0)
                return fail(a, why, key, "not a boolean:", v);
            *(strcasecmp(k, "nativelb") == 0 ? &native : &node_port) = on;
            if (strcasecmp(k, "nativelb") == 0)
                out->native_off = !on;
        } else if (strncasecmp(k, "sticky.cookie", 13) == 0 && (k[13] == '\0' || k[13] == '.')) {
            if (cookie == NULL)
                cookie = arena_alloc(a, sizeof(*cookie));
            if (k[13] == '\0') { /* "true" alone enables it with the defaults */
                if (config_parse_go_bool(v, &on) != 0)
                    return fail(a, why, key, "not a boolean:", v);
                sticky_on |= on;
            } else if (sticky_option(a, key, k + 14, v, cookie, why) != 0) {
                return -1;
            } else {
                sticky_on = true; /* an option implies the cookie */
            }
        } else {
            return fail(a, why, key, "unknown service option", k);
        }
    }
    if (sticky_on)
        out->sticky = cookie;
    const char *type = json_str(spec, "type");
    if (node_port && type && strcmp(type, "NodePort") == 0)
        return fail(a, why, SERVICE_PREFIX "nodeportlb",
                    "is not implemented by gantry (it needs the cluster's Nodes, which gantry does not read):", "true");
    if (native && !(type && strcmp(type, "ExternalName") == 0)) {
        const char *ip = json_str(spec, "clusterIP");
        if (ip == NULL || *ip == '\0' || strcmp(ip, "None") == 0)
            return fail(a, why, SERVICE_PREFIX "nativelb", "the Service has no clusterIP:", ip ? ip : "");
        out->native_address = arena_strdup(a, ip);
    }
    return 0;
}

void k8s_traefik_router_apply(struct arena *a, const struct k8s_traefik_router *cfg, struct model_router *r)
{
    if (!cfg->any)
        return;
    if (cfg->n_entrypoints) {
        r->entrypoints = cfg->entrypoints;
        r->n_entrypoints = cfg->n_entrypoints;
    }
    if (cfg->n_middlewares) {
        r->middlewares = cfg->middlewares;
        r->n_middlewares = cfg->n_middlewares;
    }
    if (cfg->priority != 0)
        r->priority = cfg->priority;
    if (cfg->tls) {
        if (r->tls == NULL)
            r->tls = arena_alloc(a, sizeof(*r->tls));
        r->tls->cert_resolver = cfg->cert_resolver;
        r->tls->options = cfg->tls_options;
        size_t n = 0; /* indexes without a name (a gap, sans only) are left out: nothing to order */
        r->tls->domains = arena_alloc(a, (cfg->n_domains ? cfg->n_domains : 1) * sizeof(*r->tls->domains));
        for (size_t i = 0; i < cfg->n_domains; i++)
            if (cfg->domains[i].main != NULL || cfg->domains[i].n_sans != 0)
                r->tls->domains[n++] = cfg->domains[i];
        r->tls->n_domains = n;
    }
}

const char *k8s_traefik_path_rule(struct arena *a, const struct k8s_traefik_router *cfg, const char *host,
                                  const char *path, const char *path_type)
{
    if (cfg->path_matcher == NULL || (path_type && strcmp(path_type, "ImplementationSpecific") != 0))
        return NULL;
    if (path == NULL || path[0] != '/' || strchr(path, '`'))
        return NULL;
    const char *p = arena_printf(a, "%s(`%s`)", cfg->path_matcher, path);
    return host && *host ? arena_printf(a, "Host(`%s`) && %s", host, p) : p;
}
