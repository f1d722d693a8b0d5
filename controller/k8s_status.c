/*
 * Ingress status writer (see k8s_status.h).
 *
 * rbac: networking.k8s.io ingresses/status update
 */
#include "k8s_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "watcher.h"

struct pending {
    char *path; /* .../namespaces/NS/ingresses/NAME/status */
    char *body;
    char *what; /* ns/name, for logs */
};

struct k8s_status {
    const struct k8s_conn *conn;
    struct pending *queue;
    size_t n, cap, head;
    CURL *easy;
    struct curl_slist *headers;
    size_t writes;
};

struct k8s_status *k8s_status_new(const struct k8s_conn *conn)
{
    struct k8s_status *s = mem_calloc(1, sizeof(*s));
    s->conn = conn;
    return s;
}

static void drop_queue(struct k8s_status *s)
{
    for (size_t i = s->head; i < s->n; i++) {
        free(s->queue[i].path);
        free(s->queue[i].body);
        free(s->queue[i].what);
    }
    s->n = s->head = 0;
}

void k8s_status_free(struct k8s_status *s)
{
    if (s == NULL)
        return;
    if (s->easy) {
        watcher_remove_transfer(s->easy);
        curl_easy_cleanup(s->easy);
    }
    curl_slist_free_all(s->headers);
    drop_queue(s);
    free(s->queue);
    free(s);
}

size_t k8s_status_writes(const struct k8s_status *s)
{
    return s ? s->writes : 0;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

cJSON *k8s_status_target(const char *ip, const char *hostname, const char *published_service, const cJSON **services,
                         size_t n_services)
{
    cJSON *arr = cJSON_CreateArray();
    if (ip && *ip) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "ip", ip);
        cJSON_AddItemToArray(arr, e);
    } else if (hostname && *hostname) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "hostname", hostname);
        cJSON_AddItemToArray(arr, e);
    } else if (published_service && *published_service) {
        const char *slash = strchr(published_service, '/');
        for (size_t i = 0; slash && i < n_services; i++) {
            const cJSON *meta = get(services[i], "metadata");
            const cJSON *ns = get(meta, "namespace"), *name = get(meta, "name");
            if (!cJSON_IsString(ns) || !cJSON_IsString(name) || strlen(ns->valuestring) != (size_t)(slash - published_service) ||
                strncmp(ns->valuestring, published_service, (size_t)(slash - published_service)) != 0 ||
                strcmp(name->valuestring, slash + 1) != 0)
                continue;
            /* the load balancer's addresses, else the external IPs, else the cluster IP */
            const cJSON *lb = get(get(get(services[i], "status"), "loadBalancer"), "ingress");
            for (const cJSON *e = lb ? lb->child : NULL; e; e = e->next) {
                cJSON *o = cJSON_CreateObject();
                const cJSON *v;
                if (cJSON_IsString(v = get(e, "ip")))
                    cJSON_AddStringToObject(o, "ip", v->valuestring);
                if (cJSON_IsString(v = get(e, "hostname")))
                    cJSON_AddStringToObject(o, "hostname", v->valuestring);
                cJSON_AddItemToArray(arr, o);
            }
            const cJSON *spec = get(services[i], "spec");
            for (const cJSON *e = cJSON_GetArraySize(arr) ? NULL : (get(spec, "externalIPs") ? get(spec, "externalIPs")->child : NULL);
                 e; e = e->next) {
                cJSON *o = cJSON_CreateObject();
                if (cJSON_IsString(e))
                    cJSON_AddStringToObject(o, "ip", e->valuestring);
                cJSON_AddItemToArray(arr, o);
            }
            const cJSON *cip = get(spec, "clusterIP");
            if (cJSON_GetArraySize(arr) == 0 && cJSON_IsString(cip) && strcmp(cip->valuestring, "None") != 0) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddStringToObject(o, "ip", cip->valuestring);
                cJSON_AddItemToArray(arr, o);
            }
        }
    }
    if (cJSON_GetArraySize(arr) == 0) {
        cJSON_Delete(arr);
        return NULL;
    }
    return arr;
}

static void next(struct k8s_status *s);

static void on_done(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_status *s = data;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    struct pending *p = &s->queue[s->head];
    if (rc == CURLE_OK && status == 200) {
        s->writes++;
        log_debug("kubernetes provider: status of ingress %s written", p->what);
    } else {
        log_warn("kubernetes provider: writing the status of ingress %s failed (curl %d, HTTP %ld); retried at the next sync",
                 p->what, (int)rc, status);
    }
    curl_easy_cleanup(easy);
    s->easy = NULL;
    curl_slist_free_all(s->headers);
    s->headers = NULL;
    free(p->path);
    free(p->body);
    free(p->what);
    s->head++;
    next(s);
}

static void next(struct k8s_status *s)
{
    if (s->easy != NULL)
        return;
    if (s->head >= s->n) {
        s->n = s->head = 0;
        return;
    }
    struct pending *p = &s->queue[s->head];
    s->easy = k8s_request(s->conn, p->path, &s->headers);
    s->headers = curl_slist_append(s->headers, "Content-Type: application/json");
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->headers);
    curl_easy_setopt(s->easy, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 10000L);
    watcher_add_transfer(s->easy, on_done, s);
}

void k8s_status_sync(struct k8s_status *s, const cJSON **ingresses, size_t n, cJSON *target)
{
    if (s->easy == NULL)
        drop_queue(s); /* recomputed from the current objects */
    for (size_t i = 0; target && i < n && s->easy == NULL; i++) {
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
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 16;
            s->queue = mem_realloc(s->queue, s->cap * sizeof(*s->queue));
        }
        char path[1024], what[512];
        snprintf(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/ingresses/%s/status", ns->valuestring,
                 name->valuestring);
        snprintf(what, sizeof(what), "%s/%s", ns->valuestring, name->valuestring);
        s->queue[s->n++] = (struct pending){mem_strdup(path), cJSON_PrintUnformatted(obj), mem_strdup(what)};
        cJSON_Delete(obj);
    }
    cJSON_Delete(target);
    next(s);
}
