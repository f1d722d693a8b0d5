/*
 * Gateway API status writer (see k8s_gateway_status.h).
 *
 * rbac: gateway.networking.k8s.io gatewayclasses/status update
 * rbac: gateway.networking.k8s.io gateways/status update
 * rbac: gateway.networking.k8s.io httproutes/status update
 * rbac: gateway.networking.k8s.io grpcroutes/status update
 * rbac: gateway.networking.k8s.io tlsroutes/status update
 * rbac: gateway.networking.k8s.io tcproutes/status update
 * rbac: gateway.networking.k8s.io backendtlspolicies/status update
 */
#include "k8s_gateway_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../../common/arena.h"
#include "../../../common/log.h"
#include "k8s_writes.h"

struct k8s_gw_writer {
    struct k8s_writes *writer;
    char *controller;
};

static const struct {
    const char *plural, *version;
} paths[K8S_GW_KINDS] = {
    [K8S_GW_CLASSES] = {"gatewayclasses", "v1"}, [K8S_GW_GATEWAYS] = {"gateways", "v1"},
    [K8S_GW_HTTPROUTES] = {"httproutes", "v1"},  [K8S_GW_GRPCROUTES] = {"grpcroutes", "v1"},
    [K8S_GW_TLSROUTES] = {"tlsroutes", "v1alpha2"}, [K8S_GW_TCPROUTES] = {"tcproutes", "v1alpha2"},
    [K8S_GW_BACKENDTLS] = {"backendtlspolicies", "v1"},
};

static void on_written(void *data, const char *what, CURLcode rc, long status)
{
    (void)data;
    if (rc == CURLE_OK && status == 200) {
        log_debug("kubernetesgateway provider: status of %s written", what);
    } else {
        log_warn("kubernetesgateway provider: writing the status of %s failed (curl %d, HTTP %ld); redone at the next sync",
                 what, (int)rc, status);
    }
}

struct k8s_gw_writer *k8s_gw_writer_new(const struct k8s_conn *conn, const char *controller)
{
    struct k8s_gw_writer *w = mem_calloc(1, sizeof(*w));
    w->writer = k8s_writes_new(conn, "PUT", on_written, w);
    w->controller = mem_strdup(controller);
    return w;
}

void k8s_gw_writer_free(struct k8s_gw_writer *w)
{
    if (w == NULL)
        return;
    k8s_writes_free(w->writer);
    free(w->controller);
    free(w);
}

bool k8s_gw_writer_busy(const struct k8s_gw_writer *w)
{
    return w == NULL || k8s_writes_busy(w->writer);
}

/* Every lastTransitionTime under <j> removed (for comparison). */
static void strip_times(cJSON *j)
{
    if (cJSON_IsObject(j))
        cJSON_DeleteItemFromObjectCaseSensitive(j, "lastTransitionTime");
    for (cJSON *k = j ? j->child : NULL; k; k = k->next)
        strip_times(k);
}

/* The condition of <type> in <conds>, or NULL. */
static const cJSON *find_cond(const cJSON *conds, const char *type)
{
    for (const cJSON *c = conds ? conds->child : NULL; c; c = c->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        if (cJSON_IsString(t) && strcmp(t->valuestring, type) == 0)
            return c;
    }
    return NULL;
}

/* Sets lastTransitionTime in every conditions[] under <j>: that of the
 * same condition in <old> (the matching object there) when its status did
 * not change, else <now>. */
static void stamp(cJSON *j, const cJSON *old, const char *now)
{
    if (!cJSON_IsObject(j) && !cJSON_IsArray(j))
        return;
    cJSON *conds = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "conditions") : NULL;
    const cJSON *old_conds = cJSON_IsObject(old) ? cJSON_GetObjectItemCaseSensitive(old, "conditions") : NULL;
    for (cJSON *c = cJSON_IsArray(conds) ? conds->child : NULL; c; c = c->next) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(c, "type");
        const cJSON *o = cJSON_IsString(t) ? find_cond(old_conds, t->valuestring) : NULL;
        const cJSON *os = cJSON_GetObjectItemCaseSensitive(o, "status"), *ot = cJSON_GetObjectItemCaseSensitive(o, "lastTransitionTime");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(c, "status");
        bool same = cJSON_IsString(os) && cJSON_IsString(ns) && strcmp(os->valuestring, ns->valuestring) == 0 && cJSON_IsString(ot);
        cJSON_AddStringToObject(c, "lastTransitionTime", same ? ot->valuestring : now);
    }
    /* listeners[] and parents[] pair by position, which is how both are built */
    static const char *const lists[] = {"listeners", "parents", "ancestors"};
    for (int i = 0; i < 3 && cJSON_IsObject(j); i++) {
        cJSON *l = cJSON_GetObjectItemCaseSensitive(j, lists[i]);
        const cJSON *ol = cJSON_IsObject(old) ? cJSON_GetObjectItemCaseSensitive(old, lists[i]) : NULL;
        int k = 0;
        for (cJSON *e = cJSON_IsArray(l) ? l->child : NULL; e; e = e->next, k++)
            stamp(e, ol ? cJSON_GetArrayItem(ol, k) : NULL, now);
    }
}

cJSON *k8s_gw_writer__merge(const char *controller, enum k8s_gw_kind kind, const cJSON *current, const cJSON *want,
                            const char *now)
{
    cJSON *out = cJSON_Duplicate(want, true);
    /* routes' parents[] and policies' ancestors[] keep other controllers' entries */
    bool route = kind != K8S_GW_CLASSES && kind != K8S_GW_GATEWAYS;
    const char *list = kind == K8S_GW_BACKENDTLS ? "ancestors" : "parents";
    const cJSON *cur_parents = route ? cJSON_GetObjectItemCaseSensitive(current, list) : NULL;
    cJSON *parents = route ? cJSON_GetObjectItemCaseSensitive(out, list) : NULL;
    for (const cJSON *p = cur_parents ? cur_parents->child : NULL; p && parents; p = p->next) {
        const cJSON *cn = cJSON_GetObjectItemCaseSensitive(p, "controllerName");
        if (!cJSON_IsString(cn) || strcmp(cn->valuestring, controller) != 0) /* another controller's */
            cJSON_AddItemToArray(parents, cJSON_Duplicate(p, true));
    }
    cJSON *a = cJSON_Duplicate(out, true), *b = current ? cJSON_Duplicate(current, true) : cJSON_CreateObject();
    strip_times(a);
    strip_times(b);
    bool unchanged = cJSON_Compare(a, b, true);
    cJSON_Delete(a);
    cJSON_Delete(b);
    if (unchanged) {
        cJSON_Delete(out);
        return NULL;
    }
    stamp(out, current, now);
    return out;
}

void k8s_gw_writer_sync(struct k8s_gw_writer *w, const struct k8s_gw_statuses *st)
{
    if (k8s_writes_busy(w->writer))
        return;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    for (size_t i = 0; i < st->n; i++) {
        const struct k8s_gw_status *s = &st->v[i];
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(s->obj, "metadata");
        const cJSON *ns = cJSON_GetObjectItemCaseSensitive(md, "namespace"), *name = cJSON_GetObjectItemCaseSensitive(md, "name");
        if (!cJSON_IsString(name) || paths[s->kind].plural == NULL)
            continue;
        cJSON *merged = k8s_gw_writer__merge(w->controller, s->kind, cJSON_GetObjectItemCaseSensitive(s->obj, "status"),
                                             s->status, now);
        if (merged == NULL)
            continue;
        cJSON *obj = cJSON_Duplicate(s->obj, true);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
        cJSON_AddItemToObject(obj, "status", merged);
        char path[1024], what[512];
        if (cJSON_IsString(ns))
            snprintf(path, sizeof(path), "/apis/gateway.networking.k8s.io/%s/namespaces/%s/%s/%s/status", paths[s->kind].version,
                     ns->valuestring, paths[s->kind].plural, name->valuestring);
        else
            snprintf(path, sizeof(path), "/apis/gateway.networking.k8s.io/%s/%s/%s/status", paths[s->kind].version,
                     paths[s->kind].plural, name->valuestring);
        snprintf(what, sizeof(what), "%s %s%s%s", paths[s->kind].plural, cJSON_IsString(ns) ? ns->valuestring : "",
                 cJSON_IsString(ns) ? "/" : "", name->valuestring);
        k8s_writes_push(w->writer, path, cJSON_PrintUnformatted(obj), what);
        cJSON_Delete(obj);
    }
    k8s_writes_start(w->writer);
}
