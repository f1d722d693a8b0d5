/*
 * ingress-nginx's controller ConfigMap (providers.kubernetesIngressNGINX.
 * configMap, ingress-nginx's --configmap): the keys gantry honours are the
 * defaults of the annotations of the same name (k8s_nginx_annotations.c
 * reads annotation, else ConfigMap key, else ingress-nginx's default).
 * Every other key is reported; one that restricts access (global auth,
 * block lists, global rate limits, ModSecurity, snippets) and is set makes
 * every nginx Ingress unserved, unless allowUnsafeAnnotations (snippets:
 * always), as for the annotations. The hsts* keys (ConfigMap only, no
 * annotation) are read here into out->hsts.
 */
#include "k8s_nginx_annotations.h"

#include "../../../common/config_value.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys read through the annotations' code (same name, same syntax). */
static const char *const honoured[] = {
    "ssl-redirect",           "force-ssl-redirect",    "proxy-body-size",
    "proxy-connect-timeout",  "proxy-read-timeout",    "proxy-next-upstream",
    "proxy-next-upstream-tries", "proxy-next-upstream-timeout", "whitelist-source-range",
    "denylist-source-range",  "custom-http-errors",
};

bool k8s_nginx_config_honoured(const char *k)
{
    for (size_t i = 0; i < sizeof(honoured) / sizeof(honoured[0]); i++)
        if (strcmp(honoured[i], k) == 0)
            return true;
    return false;
}

/* hsts, hsts-max-age, hsts-include-subdomains, hsts-preload into <h>:
 * 1 when <k> is one of them, -1 when its value is invalid (*why says
 * what), 0 when <k> is another key. ingress-nginx reads the booleans
 * with Go's ParseBool and puts hsts-max-age into the header as written:
 * a value that is not a number of seconds would send a broken header. */
static int hsts_key(const char *k, const char *v, struct k8s_nginx_hsts *h, const char **why)
{
    bool *flag = strcmp(k, "hsts") == 0                      ? &h->on
                 : strcmp(k, "hsts-include-subdomains") == 0 ? &h->include_subdomains
                 : strcmp(k, "hsts-preload") == 0            ? &h->preload
                                                             : NULL;
    if (flag != NULL) {
        *why = "is not a boolean";
        return config_parse_go_bool(v, flag) == 0 ? 1 : -1;
    }
    if (strcmp(k, "hsts-max-age") != 0)
        return 0;
    *why = "is not a number of seconds";
    if (v[0] < '0' || v[0] > '9')
        return -1;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return -1;
    h->max_age = n;
    return 1;
}

/* Whether key <k> restricts who may reach the backends (ignoring it would
 * open them); *never: refused whatever the options (nginx configuration). */
static bool restricts(const char *k, bool *never)
{
    *never = strstr(k, "snippet") != NULL;
    static const char *const keys[] = {"block-cidrs", "block-user-agents", "block-referers", "enable-modsecurity",
                                       "enable-owasp-modsecurity-crs", "allowlist-source-range"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (strcmp(keys[i], k) == 0)
            return true;
    return *never || strncmp(k, "global-auth-", 12) == 0 || strncmp(k, "global-rate-limit", 17) == 0;
}

const cJSON *k8s_nginx_config_find(const char *ref, const cJSON *const *cms, size_t n)
{
    const char *slash = ref ? strchr(ref, '/') : NULL;
    if (slash == NULL)
        return NULL;
    size_t nslen = (size_t)(slash - ref);
    for (size_t i = 0; i < n; i++) {
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(cms[i], "metadata");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(meta, "namespace");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(meta, "name");
        if (cJSON_IsString(ns) && cJSON_IsString(name) && strlen(ns->valuestring) == nslen &&
            strncmp(ns->valuestring, ref, nslen) == 0 && strcmp(name->valuestring, slash + 1) == 0)
            return cms[i];
    }
    return NULL;
}

/* Key refusing every nginx Ingress: the first one is the reason the
 * Ingresses give; every one is a problem (the migration report lists them
 * key by key), and the keys after it are still read and reported. */
static void refuse(struct k8s_nginx_config *out, struct arena *pa, struct ptr_vec *problems, const char *why)
{
    if (out->refused == NULL)
        out->refused = why;
    ptr_vec_push(pa, problems, arena_printf(pa, "%s: no ingress-nginx Ingress is served", why));
}

void k8s_nginx_config_read(const struct k8s_nginx_options *o, const cJSON *const *cms, size_t n, struct arena *pa,
                           struct ptr_vec *problems, struct k8s_nginx_config *out)
{
    memset(out, 0, sizeof(*out));
    out->hsts = K8S_NGINX_HSTS_DEFAULT;
    const char *ref = o->config_map, *slash = ref ? strchr(ref, '/') : NULL;
    out->ref = arena_printf(pa, "ConfigMap %s", ref ? ref : "");
    if (slash == NULL || slash == ref || slash[1] == '\0' || strchr(slash + 1, '/')) {
        /* the static configuration checks it: only a test gets here */
        out->refused = arena_printf(pa, "providers.kubernetesIngressNGINX.configMap: `%s` is not namespace/name",
                                    ref ? ref : "");
        ptr_vec_push(pa, problems, (void *)out->refused);
        return;
    }
    const cJSON *cm = k8s_nginx_config_find(ref, cms, n);
    if (cm == NULL) { /* as ingress-nginx: its defaults */
        ptr_vec_push(pa, problems, arena_printf(pa, "%s not found: ingress-nginx's defaults apply", out->ref));
        return;
    }
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cm, "data");
    out->data = cJSON_IsObject(data) ? data : NULL;
    for (const cJSON *kv = out->data ? out->data->child : NULL; kv; kv = kv->next) {
        const char *k = kv->string, *v = cJSON_IsString(kv) ? kv->valuestring : NULL;
        if (k == NULL)
            continue;
        if (v == NULL) { /* the API server allows only strings; say so rather than guess */
            refuse(out, pa, problems, arena_printf(pa, "%s key %s: the value is not a string", out->ref, k));
            continue;
        }
        if (strcmp(k, "custom-http-errors") == 0 && *v)
            ptr_vec_push(pa, problems,
                         arena_printf(pa, "%s key custom-http-errors applies only to Ingresses with the annotation "
                                          K8S_NGINX_PREFIX "default-backend (no global default backend)", out->ref));
        if (k8s_nginx_config_honoured(k))
            continue;
        const char *why;
        int h = hsts_key(k, v, &out->hsts, &why);
        if (h < 0) {
            refuse(out, pa, problems, arena_printf(pa, "%s key %s: `%s` %s", out->ref, k, v, why));
            continue;
        }
        if (h > 0)
            continue;
        if (strcmp(k, "http-redirect-code") == 0) {
            char *end;
            long code = strtol(v, &end, 10);
            if (end == v || *end != '\0' || (code != 301 && code != 302 && code != 307 && code != 308)) {
                refuse(out, pa, problems,
                       arena_printf(pa, "%s key http-redirect-code: `%s` is not 301, 302, 307 or 308", out->ref, v));
                continue;
            }
            out->redirect_code = (int)code;
            continue;
        }
        bool never;
        if (restricts(k, &never) && *v != '\0' && (never || !o->allow_unsafe)) {
            refuse(out, pa, problems,
                never ? arena_printf(pa, "%s key %s: nginx configuration snippets are never executed by gantry",
                                     out->ref, k)
                      : arena_printf(pa,
                                     "%s key %s restricts access and is not implemented by gantry "
                                     "(providers.kubernetesIngressNGINX.allowUnsafeAnnotations=true serves without it)",
                                     out->ref, k));
            continue;
        }
        ptr_vec_push(pa, problems, arena_printf(pa, "%s key %s is not implemented by gantry (ignored)", out->ref, k));
    }
}
