/* The ingress-nginx migration report (see k8s_nginx_migrate.h). */
#include "k8s_nginx_migrate.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/buf.h"

static void put(struct buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (buf_vprintf(o, fmt, ap) != 0) /* unbounded: only a broken format fails */
        abort();
    va_end(ap);
}

static const char *meta(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Whether <msg> names annotation <full> (not merely a longer one that
 * starts with it: "canary" is not "canary-weight"). */
static bool names(const char *msg, const char *full)
{
    size_t fl = strlen(full);
    for (const char *p = strstr(msg, full); p; p = strstr(p + 1, full)) {
        char next = p[fl];
        if (!((next >= 'a' && next <= 'z') || next == '-'))
            return true;
    }
    return false;
}

/* <msg> without its "ingress ns/name: " head. */
static const char *reason(const char *msg, size_t head)
{
    return strlen(msg) > head ? msg + head : msg;
}

/* <why> (a problem about annotation <full>) without "annotation <full>: "
 * and the trailing " (not served)" / " (ignored)", which the verdict says. */
static void put_why(struct buf *o, const char *why, const char *full)
{
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "annotation %s", full);
    size_t pl = strlen(prefix);
    if (full && strncmp(why, prefix, pl) == 0) {
        why += pl;
        while (*why == ':' || *why == ' ')
            why++;
    }
    size_t len = strlen(why);
    static const char *const tails[] = {" (not served)", " (ignored)"};
    for (size_t i = 0; i < 2; i++) {
        size_t tl = strlen(tails[i]);
        if (len > tl && strcmp(why + len - tl, tails[i]) == 0)
            len -= tl;
    }
    put(o, "%.*s", (int)len, why);
}

static bool is_ignored(const char *msg)
{
    return strstr(msg, "(ignored)") || strstr(msg, "is not implemented") || strstr(msg, "is ignored");
}

static void report_ingress(struct buf *o, const struct model *m, const cJSON *ing, const struct ptr_vec *problems,
                           const struct k8s_nginx_options *opts, struct k8s_migration_summary *sum)
{
    const char *ns = meta(ing, "namespace"), *name = meta(ing, "name");
    char head[600], source[600];
    snprintf(head, sizeof(head), "ingress %s/%s: ", ns, name);
    snprintf(source, sizeof(source), "ingress %s/%s", ns, name);
    size_t hl = strlen(head);
    const char *refused = NULL;
    for (size_t i = 0; i < problems->len && !refused; i++) {
        const char *p = problems->items[i];
        size_t pl = strlen(p);
        if (strncmp(p, head, hl) == 0 && pl > 12 && strcmp(p + pl - 12, "(not served)") == 0)
            refused = p;
    }
    const cJSON *anns = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ing, "metadata"),
                                                         "annotations");
    const char *canary = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(anns, K8S_NGINX_PREFIX "canary"))
                             ? cJSON_GetObjectItemCaseSensitive(anns, K8S_NGINX_PREFIX "canary")->valuestring
                             : NULL;
    bool is_canary = canary && strcmp(canary, "true") == 0;
    size_t routers = 0;
    for (size_t i = 0; i < m->routers.len; i++) {
        const struct model_router *r = m->routers.items[i];
        routers += r->origin.source && strcmp(r->origin.source, source) == 0;
    }
    sum->ingresses++;
    if (refused) {
        sum->not_served++;
        put(o, "%s/%s: NOT SERVED: ", ns, name);
        put_why(o, reason(refused, hl), NULL);
        put(o, "\n");
    } else if (routers == 0 && !is_canary) {
        sum->not_served++;
        put(o, "%s/%s: NOT SERVED: no path could be routed (see the problems below)\n", ns, name);
    } else {
        sum->served++;
        put(o, "%s/%s: served%s\n", ns, name, is_canary ? " (a canary: through the main Ingress of its host and path)" : "");
    }
    size_t plen = strlen(K8S_NGINX_PREFIX);
    for (const cJSON *kv = anns ? anns->child : NULL; kv; kv = kv->next) {
        if (kv->string == NULL || strncmp(kv->string, K8S_NGINX_PREFIX, plen) != 0)
            continue;
        const char *differs, *said = NULL;
        int flags = k8s_nginx_annotation_info(kv->string + plen, &differs);
        for (size_t i = 0; i < problems->len && !said; i++) {
            const char *p = problems->items[i];
            if (strncmp(p, head, hl) == 0 && p != refused && names(p, kv->string))
                said = p;
        }
        bool unimplemented = flags < 0 || !(flags & K8S_NGINX_IMPLEMENTED);
        if (refused && names(refused, kv->string)) {
            sum->refused++;
            put(o, "  refused   %s: ", kv->string);
            put_why(o, reason(refused, hl), kv->string);
            put(o, "\n");
        } else if (said && is_ignored(said)) {
            sum->ignored++;
            put(o, "  ignored   %s: ", kv->string);
            put_why(o, reason(said, hl), kv->string);
            put(o, " (Event AnnotationNotHonoured)\n");
        } else if (said) {
            sum->differs++;
            put(o, "  differs   %s: ", kv->string);
            put_why(o, reason(said, hl), kv->string);
            put(o, "\n");
        } else if (unimplemented && flags > 0 && ((flags & K8S_NGINX_NEVER) || !opts->allow_unsafe)) {
            /* the Ingress stopped at its first refusal: this one would refuse it too */
            sum->refused++;
            put(o, "  refused   %s: %s\n", kv->string,
                (flags & K8S_NGINX_NEVER) ? "nginx configuration snippets are never executed by gantry"
                                          : "restricts access and is not implemented by gantry");
        } else if (unimplemented) {
            sum->ignored++;
            put(o, "  ignored   %s: not implemented by gantry (Event AnnotationNotHonoured)\n", kv->string);
        } else if (differs) {
            sum->differs++;
            put(o, "  differs   %s: %s\n", kv->string, differs);
        } else {
            sum->honoured++;
            put(o, "  honoured  %s\n", kv->string);
        }
    }
    /* what the annotations do not explain: missing Services, bad paths... */
    for (size_t i = 0; i < problems->len; i++) {
        const char *p = problems->items[i];
        if (strncmp(p, head, hl) != 0 || p == refused || strstr(p, K8S_NGINX_PREFIX))
            continue;
        put(o, "  problem   ");
        put_why(o, reason(p, hl), NULL);
        put(o, "\n");
    }
}

/* The controller ConfigMap (--configMap): found or not, whether it takes
 * every nginx Ingress out, and per key: honoured (the default of the
 * annotation of that name, or hsts* / http-redirect-code), refused (the
 * nginx Ingresses, or those using it, are not served), ignored, or differs
 * (a note), from the problems the provider's reader gave. */
static void report_config(struct buf *o, const struct k8s_objects *objs, const struct k8s_nginx_options *opts,
                          const struct ptr_vec *problems)
{
    const cJSON *cm = k8s_nginx_config_find(opts->config_map, objs->config_maps, objs->n_config_maps);
    char ref[320];
    int rn = snprintf(ref, sizeof(ref), "ConfigMap %s", opts->config_map);
    if (rn < 0 || (size_t)rn >= sizeof(ref)) { /* checked where the option is read: namespace/name */
        put(o, "ConfigMap: `%s` is not namespace/name\n", opts->config_map);
        return;
    }
    size_t rl = (size_t)rn;
    const char *all_out = NULL; /* "<reason>: no ingress-nginx Ingress is served" */
    for (size_t i = 0; i < problems->len && !all_out; i++)
        if (strstr(problems->items[i], ": no ingress-nginx Ingress is served") &&
            strncmp(problems->items[i], ref, rl) == 0)
            all_out = problems->items[i];
    if (cm == NULL)
        put(o, "%s: not found: ingress-nginx's defaults apply\n", ref);
    else if (all_out)
        put(o, "%s: EVERY nginx Ingress NOT SERVED: %s\n", ref, all_out);
    else
        put(o, "%s: read (its keys are the defaults of every nginx Ingress)\n", ref);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(cm, "data");
    for (const cJSON *kv = cJSON_IsObject(data) ? data->child : NULL; kv; kv = kv->next) {
        if (kv->string == NULL)
            continue;
        char key[640]; /* Kubernetes limits a key to 253 characters */
        int kn = snprintf(key, sizeof(key), "%s key %s", ref, kv->string);
        if (kn < 0 || (size_t)kn >= sizeof(key))
            continue;
        const char *said = NULL;
        for (size_t i = 0; i < problems->len && !said; i++)
            if (strstr(problems->items[i], key) && names(strstr(problems->items[i], key), key))
                said = problems->items[i];
        if (said == NULL) {
            put(o, "  honoured  %s\n", kv->string);
            continue;
        }
        const char *why = strstr(said, key) + strlen(key);
        while (*why == ':' || *why == ' ')
            why++;
        bool refused = strstr(said, "(not served)") || strstr(said, "no ingress-nginx Ingress is served");
        put(o, "  %s %s: ", refused ? "refused  " : is_ignored(said) ? "ignored  " : "differs  ", kv->string);
        put_why(o, why, NULL);
        put(o, "%s\n", refused && strstr(said, "(not served)") ? " (the Ingresses using it are not served)" : "");
    }
}

char *k8s_nginx_migration_report(const struct k8s_objects *objs, const struct k8s_nginx_options *o,
                                 struct k8s_migration_summary *sum)
{
    memset(sum, 0, sizeof(*sum));
    struct k8s_translate_options to = {.ingress_class = "gantry", .nginx = o, .nginx_only = true};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_translate(objs, &to, &pa, &problems);
    struct buf out;
    buf_init(&out, BUF_UNBOUNDED);
    put(&out, "# gantry migrate ingress-nginx: %zu Ingresses read\n", objs->n_ingresses);
    if (o->config_map)
        report_config(&out, objs, o, &problems);
    size_t others = 0;
    for (size_t i = 0; i < objs->n_ingresses; i++) {
        const cJSON *ing = objs->ingresses[i];
        if (!meta(ing, "namespace") || !meta(ing, "name"))
            continue;
        if (!k8s_nginx_is_ours(objs->ingress_classes, objs->n_ingress_classes, o, ing)) {
            others++;
            continue;
        }
        report_ingress(&out, m, ing, &problems, o, sum);
    }
    put(&out,
        "\n%zu Ingresses of ingress-nginx's class: %zu served, %zu not served; annotations: %zu honoured, %zu differ, "
        "%zu refused, %zu ignored",
        sum->ingresses, sum->served, sum->not_served, sum->honoured, sum->differs, sum->refused, sum->ignored);
    if (others)
        put(&out, "; %zu Ingresses of other classes left out", others);
    put(&out, "\n");
    model_free(m);
    arena_free(&pa);
    return buf_take(&out, NULL);
}
