/*
 * Ingress status writer (see k8s_status.h).
 *
 * rbac: networking.k8s.io ingresses/status update
 */
#include "k8s_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/arena.h"
#include "../../../common/log.h"
#include "k8s_writes.h"

struct k8s_status {
    struct k8s_writes *writer;
};

static void on_written(void *data, const char *what, CURLcode rc, long status);

struct k8s_status *k8s_status_new(const struct k8s_conn *conn)
{
    struct k8s_status *s = mem_calloc(1, sizeof(*s));
    s->writer = k8s_writes_new(conn, "PUT", on_written, s);
    return s;
}

void k8s_status_free(struct k8s_status *s)
{
    if (s == NULL)
        return;
    k8s_writes_free(s->writer);
    free(s);
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static void add_address(cJSON *arr, const char *key, const char *value)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, key, value);
    cJSON_AddItemToArray(arr, o);
}

/* A Service's addresses: its load balancer's, else its external IPs, else
 * its cluster IP. */
static void service_addresses(const cJSON *svc, cJSON *arr)
{
    const cJSON *lb = get(get(get(svc, "status"), "loadBalancer"), "ingress");
    for (const cJSON *e = lb ? lb->child : NULL; e; e = e->next) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *v;
        if (cJSON_IsString(v = get(e, "ip")))
            cJSON_AddStringToObject(o, "ip", v->valuestring);
        if (cJSON_IsString(v = get(e, "hostname")))
            cJSON_AddStringToObject(o, "hostname", v->valuestring);
        cJSON_AddItemToArray(arr, o);
    }
    if (cJSON_GetArraySize(arr) > 0)
        return;
    const cJSON *spec = get(svc, "spec");
    const cJSON *ext = get(spec, "externalIPs");
    for (const cJSON *e = ext ? ext->child : NULL; e; e = e->next)
        if (cJSON_IsString(e))
            add_address(arr, "ip", e->valuestring);
    const cJSON *cip = get(spec, "clusterIP");
    if (cJSON_GetArraySize(arr) == 0 && cJSON_IsString(cip) && strcmp(cip->valuestring, "None") != 0)
        add_address(arr, "ip", cip->valuestring);
}

cJSON *k8s_status_target(const char *ip, const char *hostname, const char *published_service, const cJSON **services,
                         size_t n_services)
{
    cJSON *arr = cJSON_CreateArray();
    if (ip && *ip) {
        add_address(arr, "ip", ip);
    } else if (hostname && *hostname) {
        add_address(arr, "hostname", hostname);
    } else if (published_service && *published_service) {
        for (size_t i = 0; i < n_services; i++) {
            const cJSON *meta = get(services[i], "metadata");
            char key[512];
            snprintf(key, sizeof(key), "%s/%s", cJSON_IsString(get(meta, "namespace")) ? get(meta, "namespace")->valuestring : "",
                     cJSON_IsString(get(meta, "name")) ? get(meta, "name")->valuestring : "");
            if (strcmp(key, published_service) == 0) {
                service_addresses(services[i], arr);
                break;
            }
        }
    }
    if (cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static void on_written(void *data, const char *what, CURLcode rc, long status)
{
    (void)data;
    if (rc == CURLE_OK && status == 200) {
        log_debug("kubernetes provider: status of ingress %s written", what);
    } else {
        log_warn("kubernetes provider: writing the status of ingress %s failed (curl %d, HTTP %ld); retried at the next sync",
                 what, (int)rc, status);
    }
}

void k8s_status_sync(struct k8s_status *s, const cJSON **ingresses, size_t n, cJSON *target)
{
    /* While writes are under way, the next sync recomputes what is left
     * from the objects as they are then. */
    for (size_t i = 0; target && i < n && !k8s_writes_busy(s->writer); i++) {
        const cJSON *ing = ingresses[i];
        const cJSON *meta = get(ing, "metadata");
        const cJSON *ns = get(meta, "namespace"), *name = get(meta, "name");
        if (!cJSON_IsString(ns) || !cJSON_IsString(name))
            continue;
        const cJSON *current = get(get(get(ing, "status"), "loadBalancer"), "ingress");
        if (current && cJSON_Compare(current, target, true))
            continue;
        cJSON *obj = cJSON_Duplicate(ing, true);
        cJSON_DeleteItemFromObjectCaseSensitive(obj, "status");
        cJSON *st = cJSON_AddObjectToObject(obj, "status");
        cJSON *lb = cJSON_AddObjectToObject(st, "loadBalancer");
        cJSON_AddItemToObject(lb, "ingress", cJSON_Duplicate(target, true));
        char path[1024], what[512];
        snprintf(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s/status", ns->valuestring,
                 name->valuestring);
        snprintf(what, sizeof(what), "%s/%s", ns->valuestring, name->valuestring);
        k8s_writes_push(s->writer, path, cJSON_PrintUnformatted(obj), what);
        cJSON_Delete(obj);
    }
    cJSON_Delete(target);
    k8s_writes_start(s->writer);
}
