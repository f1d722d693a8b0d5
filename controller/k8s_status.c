/*
 * Ingress status writer (see k8s_status.h).
 *
 * rbac: networking.k8s.io ingresses/status update
 */
#include "k8s_status.h"

#include "curl_body.h"

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
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, curl_body_discard); /* the updated object: the status says enough */
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
