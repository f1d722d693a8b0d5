/*
 * Kubernetes Events writer (see k8s_events.h).
 *
 * rbac: core events create
 *
 * <seen> holds the keys "uid/resourceVersion/reason/message" already
 * queued; it is forgotten past SEEN_MAX keys (a cluster that changes that
 * much gets an Event again, which is harmless), so memory stays bounded.
 */
#include "k8s_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../../common/log.h"
#include "k8s_writes.h"

#define SEEN_MAX 20000
#define QUEUE_MAX 1000

struct k8s_events {
    char **seen;
    size_t n_seen;
    struct k8s_writes *writer;
    unsigned long serial;
    bool failing; /* logged once per outage (typically RBAC without events create) */
};

static void on_posted(void *data, const char *what, CURLcode rc, long status);

struct k8s_events *k8s_events_new(const struct k8s_conn *conn)
{
    struct k8s_events *e = mem_calloc(1, sizeof(*e));
    e->writer = k8s_writes_new(conn, "POST", on_posted, e);
    return e;
}

static void forget_seen(struct k8s_events *e)
{
    for (size_t i = 0; i < e->n_seen; i++)
        free(e->seen[i]);
    e->n_seen = 0;
}

void k8s_events_free(struct k8s_events *e)
{
    if (e == NULL)
        return;
    k8s_writes_free(e->writer);
    forget_seen(e);
    free(e->seen);
    free(e);
}

static void on_posted(void *data, const char *what, CURLcode rc, long status)
{
    struct k8s_events *e = data;
    (void)what;
    if (rc == CURLE_OK && (status == 200 || status == 201)) {
        e->failing = false;
    } else if (!e->failing) {
        log_warn("kubernetes provider: posting an Event failed (curl %d, HTTP %ld); the problem stays in the log and "
                 "the API (may the service account create events?)",
                 (int)rc, status);
        e->failing = true;
    }
}

static bool seen_before(struct k8s_events *e, const char *key)
{
    for (size_t i = 0; i < e->n_seen; i++)
        if (strcmp(e->seen[i], key) == 0)
            return true;
    if (e->n_seen == SEEN_MAX)
        forget_seen(e);
    if (e->seen == NULL)
        e->seen = mem_alloc(SEEN_MAX * sizeof(*e->seen));
    e->seen[e->n_seen++] = mem_strdup(key);
    return false;
}

/* The Event object, as client-go's recorder writes one. */
static char *event_json(struct k8s_events *e, const struct k8s_nginx_event *ev)
{
    char stamp[32], name[300], host[128] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(name, sizeof(name), "%.200s.%llx%lx", ev->name,
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec, e->serial++);
    gethostname(host, sizeof(host) - 1);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "Event");
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", ev->ns);
    cJSON *inv = cJSON_AddObjectToObject(o, "involvedObject");
    cJSON_AddStringToObject(inv, "apiVersion", "networking.k8s.io/v1");
    cJSON_AddStringToObject(inv, "kind", "Ingress");
    cJSON_AddStringToObject(inv, "namespace", ev->ns);
    cJSON_AddStringToObject(inv, "name", ev->name);
    if (ev->uid)
        cJSON_AddStringToObject(inv, "uid", ev->uid);
    if (ev->resource_version)
        cJSON_AddStringToObject(inv, "resourceVersion", ev->resource_version);
    cJSON_AddStringToObject(o, "type", "Warning");
    cJSON_AddStringToObject(o, "reason", ev->reason);
    cJSON_AddStringToObject(o, "message", ev->message);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(o, "source"), "component", "gantry");
    cJSON_AddStringToObject(o, "reportingComponent", "gantry.io/ingress-controller");
    cJSON_AddStringToObject(o, "reportingInstance", host);
    cJSON_AddStringToObject(o, "firstTimestamp", stamp);
    cJSON_AddStringToObject(o, "lastTimestamp", stamp);
    cJSON_AddNumberToObject(o, "count", 1);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

void k8s_events_emit(struct k8s_events *e, struct k8s_nginx_event *const *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char key[1400];
        snprintf(key, sizeof(key), "%s/%s/%s/%s/%s/%.1000s", ev[i]->ns, ev[i]->name, ev[i]->uid ? ev[i]->uid : "",
                 ev[i]->resource_version ? ev[i]->resource_version : "", ev[i]->reason, ev[i]->message);
        if (seen_before(e, key) || k8s_writes_queued(e->writer) >= QUEUE_MAX)
            continue;
        char path[600];
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events", ev[i]->ns);
        k8s_writes_push(e->writer, path, event_json(e, ev[i]), ev[i]->name);
    }
    k8s_writes_start(e->writer);
}
