/*
 * Lease-based leader election (see k8s_lease.h).
 *
 * rbac: coordination.k8s.io leases get,create,update
 */
#include "k8s_lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "../../../common/arena.h"
#include "../../../common/log.h"
#include "../../watcher.h"

#define MAX_BODY (1024 * 1024)

struct k8s_lease {
    const struct k8s_conn *conn;
    char *path, *collection, *ns, *name, *identity;
    uint64_t duration_ms, retry_ms;
    bool leader;
    k8s_lease_cb changed;
    void *data;
    struct watcher_timer *timer;
    CURL *easy;
    struct curl_slist *headers;
    char *out;             /* the request body being sent */
    struct curl_body in;
    char observed[512];    /* holder and renewTime last seen */
    uint64_t observed_at;  /* our clock when that record was first seen */
    uint64_t renewed_at;   /* our clock at our last successful renewal */
};

/* RFC 3339 with microseconds (a Kubernetes MicroTime) of the wall clock. */
static void k8s_micro_time(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%06ldZ", base, (long)tv.tv_usec);
}

static void set_leader(struct k8s_lease *l, bool leader)
{
    if (l->leader == leader)
        return;
    l->leader = leader;
    log_info("kubernetes provider: %s the leader (lease %s/%s, identity %s)", leader ? "became" : "is no longer", l->ns,
             l->name, l->identity);
    l->changed(leader, l->data);
}

static void end_request(struct k8s_lease *l)
{
    if (l->easy) {
        watcher_remove_transfer(l->easy);
        curl_easy_cleanup(l->easy);
        l->easy = NULL;
    }
    curl_slist_free_all(l->headers);
    l->headers = NULL;
    free(l->out);
    l->out = NULL;
    curl_body_reset(&l->in, MAX_BODY);
}

static void request(struct k8s_lease *l, const char *method, const char *path, cJSON *body, watcher_done_cb done)
{
    l->easy = k8s_request(l->conn, path, &l->headers);
    curl_easy_setopt(l->easy, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(l->easy, CURLOPT_WRITEDATA, &l->in);
    curl_easy_setopt(l->easy, CURLOPT_TIMEOUT_MS, (long)(l->retry_ms > 1000 ? l->retry_ms : 1000));
    if (body) {
        l->out = cJSON_PrintUnformatted(body);
        l->headers = curl_slist_append(l->headers, "Content-Type: application/json");
        curl_easy_setopt(l->easy, CURLOPT_HTTPHEADER, l->headers);
        curl_easy_setopt(l->easy, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(l->easy, CURLOPT_POSTFIELDS, l->out);
    }
    watcher_add_transfer(l->easy, done, l);
}

static long status_of(struct k8s_lease *l)
{
    long status = 0;
    curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void next_round(struct k8s_lease *l)
{
    end_request(l);
    /* a leader that could not renew for a whole lease duration steps down:
     * another instance may hold the lease by now */
    if (l->leader && watcher_now_ms() > l->renewed_at + l->duration_ms)
        set_leader(l, false);
    watcher_timer_arm(l->timer, l->retry_ms);
}

static void on_written(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_lease *l = data;
    (void)easy;
    long status = status_of(l);
    if (rc == CURLE_OK && (status == 200 || status == 201)) {
        l->renewed_at = watcher_now_ms();
        set_leader(l, true);
    } else if (status == 409) {
        set_leader(l, false); /* someone else wrote first */
    } else {
        log_debug("kubernetes provider: lease %s/%s: write failed (curl %d, HTTP %ld)", l->ns, l->name, (int)rc, status);
    }
    next_round(l);
}

static cJSON *lease_spec(struct k8s_lease *l, cJSON *spec, bool acquire, int transitions)
{
    char now[64];
    k8s_micro_time(now, sizeof(now));
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "holderIdentity");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "renewTime");
    cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseDurationSeconds");
    cJSON_AddStringToObject(spec, "holderIdentity", l->identity);
    cJSON_AddStringToObject(spec, "renewTime", now);
    cJSON_AddNumberToObject(spec, "leaseDurationSeconds", (double)((l->duration_ms + 999) / 1000));
    if (acquire) {
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "acquireTime");
        cJSON_DeleteItemFromObjectCaseSensitive(spec, "leaseTransitions");
        cJSON_AddStringToObject(spec, "acquireTime", now);
        cJSON_AddNumberToObject(spec, "leaseTransitions", transitions);
    }
    return spec;
}

static void on_read(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_lease *l = data;
    (void)easy;
    long status = status_of(l);
    if (rc == CURLE_OK && status == 404) { /* nobody holds it: create it */
        cJSON *obj = cJSON_CreateObject();
        cJSON_AddStringToObject(obj, "apiVersion", "coordination.k8s.io/v1");
        cJSON_AddStringToObject(obj, "kind", "Lease");
        cJSON *meta = cJSON_AddObjectToObject(obj, "metadata");
        cJSON_AddStringToObject(meta, "name", l->name);
        cJSON_AddStringToObject(meta, "namespace", l->ns);
        lease_spec(l, cJSON_AddObjectToObject(obj, "spec"), true, 0);
        end_request(l);
        request(l, "POST", l->collection, obj, on_written);
        cJSON_Delete(obj);
        return;
    }
    cJSON *obj = rc == CURLE_OK && status == 200 && l->in.data ? cJSON_Parse(l->in.data) : NULL;
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    if (obj == NULL || !cJSON_IsObject(spec)) {
        log_debug("kubernetes provider: lease %s/%s: read failed (curl %d, HTTP %ld)", l->ns, l->name, (int)rc, status);
        cJSON_Delete(obj);
        next_round(l);
        return;
    }
    const cJSON *holder = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
    const cJSON *renew = cJSON_GetObjectItemCaseSensitive(spec, "renewTime");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(spec, "leaseDurationSeconds");
    const cJSON *trans = cJSON_GetObjectItemCaseSensitive(spec, "leaseTransitions");
    const char *h = cJSON_IsString(holder) ? holder->valuestring : "";
    char record[512];
    snprintf(record, sizeof(record), "%s|%s", h, cJSON_IsString(renew) ? renew->valuestring : "");
    uint64_t now = watcher_now_ms();
    if (strcmp(record, l->observed) != 0) {
        snprintf(l->observed, sizeof(l->observed), "%s", record);
        l->observed_at = now;
    }
    uint64_t their_ms = cJSON_IsNumber(dur) && dur->valuedouble > 0 ? (uint64_t)(dur->valuedouble * 1000) : l->duration_ms;
    bool mine = strcmp(h, l->identity) == 0;
    bool expired = h[0] == '\0' || now > l->observed_at + their_ms;
    if (!mine && !expired) {
        set_leader(l, false);
        cJSON_Delete(obj);
        next_round(l);
        return;
    }
    lease_spec(l, spec, !mine, mine ? 0 : (cJSON_IsNumber(trans) ? trans->valueint : 0) + 1);
    end_request(l);
    request(l, "PUT", l->path, obj, on_written); /* carries metadata.resourceVersion: a lost race is a 409 */
    cJSON_Delete(obj);
}

static void on_timer(void *data)
{
    struct k8s_lease *l = data;
    end_request(l);
    request(l, "GET", l->path, NULL, on_read);
}

struct k8s_lease *k8s_lease_start(const struct k8s_conn *conn, const char *ns, const char *name, const char *identity,
                                  uint64_t duration_ms, k8s_lease_cb changed, void *data)
{
    struct k8s_lease *l = mem_calloc(1, sizeof(*l));
    l->conn = conn;
    l->ns = mem_strdup(ns);
    l->name = mem_strdup(name);
    l->identity = mem_strdup(identity);
    l->duration_ms = duration_ms ? duration_ms : 15000;
    l->retry_ms = l->duration_ms / 5 ? l->duration_ms / 5 : 1;
    l->changed = changed;
    l->data = data;
    char p[512];
    snprintf(p, sizeof(p), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", ns);
    l->collection = mem_strdup(p);
    snprintf(p, sizeof(p), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s", ns, name);
    l->path = mem_strdup(p);
    l->timer = watcher_timer_new(on_timer, l);
    watcher_timer_arm(l->timer, 0);
    return l;
}

bool k8s_lease_is_leader(const struct k8s_lease *l)
{
    return l && l->leader;
}

/* Hands the lease back (holder cleared) so a successor takes over at once. */
static void release(struct k8s_lease *l)
{
    struct curl_slist *h = NULL;
    CURL *e = k8s_request(l->conn, l->path, &h);
    curl_body_reset(&l->in, MAX_BODY);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &l->in);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
    long status = 0;
    if (curl_easy_perform(e) == CURLE_OK)
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
    cJSON *obj = status == 200 && l->in.data ? cJSON_Parse(l->in.data) : NULL;
    curl_body_reset(&l->in, MAX_BODY);
    cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
    const cJSON *holder = cJSON_GetObjectItemCaseSensitive(spec, "holderIdentity");
    if (cJSON_IsString(holder) && strcmp(holder->valuestring, l->identity) == 0) {
        cJSON_ReplaceItemInObjectCaseSensitive(spec, "holderIdentity", cJSON_CreateString(""));
        char *body = cJSON_PrintUnformatted(obj);
        h = NULL;
        e = k8s_request(l->conn, l->path, &h);
        h = curl_slist_append(h, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &l->in);
        if (curl_easy_perform(e) == CURLE_OK)
            log_info("kubernetes provider: released the lease %s/%s", l->ns, l->name);
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        free(body);
        curl_body_reset(&l->in, MAX_BODY);
    }
    cJSON_Delete(obj);
}

void k8s_lease_stop(struct k8s_lease *l)
{
    if (l == NULL)
        return;
    end_request(l);
    watcher_timer_free(l->timer);
    if (l->leader)
        release(l);
    free(l->path);
    free(l->collection);
    free(l->ns);
    free(l->name);
    free(l->identity);
    free(l);
}
