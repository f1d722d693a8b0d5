/*
 * Traefik's Ingress annotations -> router settings (see
 * k8s_traefik_annotations.h).
 */
#include "k8s_traefik_annotations.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ROUTER_PREFIX K8S_TRAEFIK_PREFIX "router."

/* Go's strconv.ParseBool, which Traefik's label decoder uses. */
static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < 6; i++) {
        if (strcmp(v, yes[i]) == 0)
            return *out = true, 0;
        if (strcmp(v, no[i]) == 0)
            return *out = false, 0;
    }
    return -1;
}

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
            if (parse_bool(v, &on) != 0)
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
            out->tls = true; /* the domains only steer ACME requests */
            ptr_vec_push(a, notes, arena_printf(a, "annotation %s: not implemented by gantry (ignored)", key));
        } else if (strncasecmp(k, "observability.", 14) == 0 || strcasecmp(k, "rulesyntax") == 0) {
            ptr_vec_push(a, notes, arena_printf(a, "annotation %s: not implemented by gantry (ignored)", key));
        } else {
            /* Traefik's decoder fails on an unknown field, and so the Ingress */
            return fail(a, why, key, "unknown router option", k);
        }
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
