/*
 * ACME storage in Kubernetes Secrets (see acme_store_k8s.h).
 *
 * rbac: core secrets get,list,watch,create,update,delete (in the storage namespace)
 * rbac: coordination.k8s.io leases get,create,update (the issuer's Lease)
 */
#include "acme_store_k8s.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "../../common/arena.h"
#include "../../common/base64.h"
#include "../../common/log.h"
#include "../providers/kubernetes/k8s_lease.h"
#include "../providers/kubernetes/k8s_watch.h"
#include "../watcher.h"
#include "acme_crypto.h"

#define KIND_LABEL "gantry.io/acme-kind"
#define RESOLVER_KEY "gantry.io/acme-resolver"
#define DOMAINS_KEY "gantry.io/acme-domains"
#define URI_KEY "gantry.io/acme-account-uri"
#define EMAIL_KEY "gantry.io/acme-email"
#define ORDER_KEY "gantry.io/acme-order-url"
#define TIMEOUT_MS 10000L
#define CONFLICT_RETRY_MS 500
#define MAX_ATTEMPTS 6

struct write {
    char *name;   /* the Secret */
    cJSON *obj;   /* NULL: delete */
    acme_k8s_done_cb done;
    void *data;
    int attempts;
    bool create; /* our cache still had it, the API server no longer: POST */
};

struct acme_k8s {
    struct k8s_conn conn;
    char *ns, *prefix;
    struct k8s_watch watch;
    struct k8s_lease *lease;
    void (*changed)(void *data);
    void (*leader_cb)(bool leader, void *data);
    void *data;
    /* writes, one at a time */
    struct write *queue;
    size_t n, cap;
    CURL *easy;
    struct curl_slist *headers;
    char *out;
    struct curl_body in;
    struct watcher_timer *retry;
};

bool acme_k8s_parse(const char *storage, char *ns, size_t ns_len, char *prefix, size_t prefix_len)
{
    static const char scheme[] = "kubernetes://";
    if (storage == NULL || strncmp(storage, scheme, sizeof(scheme) - 1) != 0)
        return false;
    const char *p = storage + sizeof(scheme) - 1;
    size_t l = strcspn(p, "/");
    snprintf(ns, ns_len, "%.*s", (int)l, p);
    const char *rest = p[l] == '/' ? p + l + 1 : "";
    snprintf(prefix, prefix_len, "%s", *rest ? rest : "gantry-acme");
    return true;
}

/* A Secret name (RFC 1123 subdomain): lowercase letters, digits, '-' and '.'. */
static void name_of(const struct acme_k8s *k, const char *resolver, const char *suffix, char *out, size_t len)
{
    snprintf(out, len, "%s-%s-%s", k->prefix, resolver, suffix);
    for (char *p = out; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            *p = '-';
    }
    size_t n = strlen(out);
    if (n > 253)
        out[n = 253] = '\0';
    while (n > 0 && !isalnum((unsigned char)out[n - 1]))
        out[--n] = '\0';
}

static void token_name(const struct acme_k8s *k, const char *resolver, const char *token, char *out, size_t len)
{
    unsigned char md[32];
    unsigned int mlen = 0;
    EVP_Digest(token, strlen(token), md, &mlen, EVP_sha256(), NULL);
    char suffix[64] = "chall-";
    for (int i = 0; i < 12; i++)
        snprintf(suffix + 6 + 2 * i, 3, "%02x", md[i]);
    name_of(k, resolver, suffix, out, len);
}

/* ---- reading ---- */

const char *acme_k8s_annotation(const cJSON *secret, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(secret, "metadata"), "annotations");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

char *acme_k8s_data(const cJSON *secret, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(secret, "data"), key);
    if (!cJSON_IsString(v))
        return NULL;
    size_t n = strlen(v->valuestring), len = 0;
    unsigned char *out = mem_alloc(base64_decoded_room(n));
    if (!base64_decode(v->valuestring, n, out, &len)) {
        free(out);
        return NULL;
    }
    out[len] = '\0';
    return (char *)out;
}

static const char *label(const cJSON *secret, const char *key)
{
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(secret, "metadata"), "labels");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(l, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON **acme_k8s_list(const struct acme_k8s *k, const char *kind, const char *resolver, size_t *n)
{
    size_t all;
    const cJSON **items = k8s_store_list(&k->watch.store, &all);
    const cJSON **out = mem_alloc((all ? all : 1) * sizeof(*out));
    *n = 0;
    for (size_t i = 0; i < all; i++) {
        const char *kd = label(items[i], KIND_LABEL), *res = acme_k8s_annotation(items[i], RESOLVER_KEY);
        if (kd && strcmp(kd, kind) == 0 && (resolver == NULL || (res && strcmp(res, resolver) == 0)))
            out[(*n)++] = items[i];
    }
    free(items);
    return out;
}

static const cJSON *cached(const struct acme_k8s *k, const char *name)
{
    char key[512];
    snprintf(key, sizeof(key), "%s/%s", k->ns, name);
    return k8s_store_get(&k->watch.store, key);
}

/* ---- writing ---- */

static void start_next(struct acme_k8s *k);

static void end_transfer(struct acme_k8s *k)
{
    if (k->easy) {
        watcher_remove_transfer(k->easy);
        curl_easy_cleanup(k->easy);
        k->easy = NULL;
    }
    curl_slist_free_all(k->headers);
    k->headers = NULL;
    free(k->out);
    k->out = NULL;
    curl_body_reset(&k->in, 64 * 1024);
}

static void pop(struct acme_k8s *k, const char *error)
{
    struct write w = k->queue[0];
    memmove(k->queue, k->queue + 1, (k->n - 1) * sizeof(*k->queue));
    k->n--;
    if (error)
        log_error("acme: kubernetes storage %s/%s: %s %s", k->ns, w.name, w.obj ? "writing" : "deleting", error);
    if (w.done)
        w.done(w.data, error);
    free(w.name);
    cJSON_Delete(w.obj);
}

static void on_written(CURL *easy, CURLcode rc, void *data)
{
    struct acme_k8s *k = data;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    struct write *w = &k->queue[0];
    char err[256] = "";
    if (rc != CURLE_OK)
        snprintf(err, sizeof(err), "%s", curl_easy_strerror(rc));
    else if (status == 409 && ++w->attempts < MAX_ATTEMPTS) {
        /* our cache was behind the API server (created or changed meanwhile): again once the watch caught up */
        end_transfer(k);
        watcher_timer_arm(k->retry, CONFLICT_RETRY_MS);
        return;
    } else if (status == 404 && w->obj && !w->create && ++w->attempts < MAX_ATTEMPTS) {
        /* deleted meanwhile (our cache was behind): create it */
        w->create = true;
        end_transfer(k);
        start_next(k);
        return;
    } else if (status >= 300 && !(w->obj == NULL && status == 404))
        snprintf(err, sizeof(err), "HTTP %ld", status);
    end_transfer(k);
    pop(k, err[0] ? err : NULL);
    start_next(k);
}

static void start_next(struct acme_k8s *k)
{
    if (k->easy || k->n == 0 || watcher_timer_armed(k->retry))
        return;
    struct write *w = &k->queue[0];
    const cJSON *old = cached(k, w->name);
    const char *method;
    char path[768];
    if (w->obj == NULL) {
        method = "DELETE";
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", k->ns, w->name);
    } else if (old != NULL && !w->create) {
        /* a replace of the version we know: a concurrent change is a 409, not lost */
        method = "PUT";
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", k->ns, w->name);
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(old, "metadata"),
                                                           "resourceVersion");
        cJSON *meta = cJSON_GetObjectItemCaseSensitive(w->obj, "metadata");
        cJSON_DeleteItemFromObjectCaseSensitive(meta, "resourceVersion");
        if (cJSON_IsString(rv))
            cJSON_AddStringToObject(meta, "resourceVersion", rv->valuestring);
    } else {
        method = "POST";
        snprintf(path, sizeof(path), "/api/v1/namespaces/%s/secrets", k->ns);
    }
    k->easy = k8s_request(&k->conn, path, &k->headers);
    k->headers = curl_slist_append(k->headers, "Content-Type: application/json");
    curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, k->headers);
    curl_easy_setopt(k->easy, CURLOPT_CUSTOMREQUEST, method);
    if (w->obj) {
        k->out = cJSON_PrintUnformatted(w->obj);
        curl_easy_setopt(k->easy, CURLOPT_POSTFIELDS, k->out);
    }
    curl_easy_setopt(k->easy, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, &k->in);
    watcher_add_transfer(k->easy, on_written, k);
}

static void on_retry(void *data)
{
    start_next(data);
}

static void push(struct acme_k8s *k, const char *name, cJSON *obj, acme_k8s_done_cb done, void *data)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 8;
        k->queue = mem_realloc(k->queue, k->cap * sizeof(*k->queue));
    }
    k->queue[k->n++] = (struct write){.name = mem_strdup(name), .obj = obj, .done = done, .data = data};
    start_next(k);
}

static cJSON *secret(const struct acme_k8s *k, const char *name, const char *type, const char *kind, const char *resolver)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "apiVersion", "v1");
    cJSON_AddStringToObject(o, "kind", "Secret");
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(meta, "name", name);
    cJSON_AddStringToObject(meta, "namespace", k->ns);
    cJSON *labels = cJSON_AddObjectToObject(meta, "labels");
    cJSON_AddStringToObject(labels, KIND_LABEL, kind);
    char value[64];
    /* a label value is at most 63 characters of [A-Za-z0-9._-]; the exact name is in the annotation */
    snprintf(value, sizeof(value), "%s", resolver);
    for (char *p = value; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            *p = '-';
    cJSON_AddStringToObject(labels, RESOLVER_KEY, value);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(meta, "annotations"), RESOLVER_KEY, resolver);
    cJSON_AddStringToObject(o, "type", type);
    cJSON_AddObjectToObject(o, "data");
    return o;
}

static void add_data(cJSON *o, const char *key, const char *value)
{
    char *b = acme_b64((const unsigned char *)value, strlen(value));
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(o, "data"), key, b);
    free(b);
}

static void annotate(cJSON *o, const char *key, const char *value)
{
    cJSON_AddStringToObject(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "metadata"), "annotations"),
                            key, value);
}

void acme_k8s_put_certificate(struct acme_k8s *k, const char *resolver, const char *const *names, size_t n,
                              const char *cert_pem, const char *key_pem, acme_k8s_done_cb done, void *data)
{
    char name[300];
    name_of(k, resolver, names[0], name, sizeof(name));
    cJSON *o = secret(k, name, "kubernetes.io/tls", "certificate", resolver);
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += strlen(names[i]) + 1;
    char *domains = mem_alloc(len + 1), *p = domains;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%s", i ? "," : "", names[i]);
    annotate(o, DOMAINS_KEY, domains);
    free(domains);
    add_data(o, "tls.crt", cert_pem);
    add_data(o, "tls.key", key_pem);
    push(k, name, o, done, data);
}

void acme_k8s_put_account(struct acme_k8s *k, const char *resolver, const char *email, const char *uri, const char *key_pem,
                          const char *retry_after, const char *retry_ca, acme_k8s_done_cb done, void *data)
{
    char name[300];
    name_of(k, resolver, "account", name, sizeof(name));
    cJSON *o = secret(k, name, "Opaque", "account", resolver);
    annotate(o, URI_KEY, uri);
    annotate(o, EMAIL_KEY, email ? email : "");
    if (retry_after) {
        annotate(o, ACME_K8S_RETRY_AFTER, retry_after);
        annotate(o, ACME_K8S_RETRY_AFTER_CA, retry_ca ? retry_ca : "");
    }
    add_data(o, "accountKey", key_pem);
    push(k, name, o, done, data);
}

void acme_k8s_put_challenge(struct acme_k8s *k, const char *resolver, const char *domain, const char *token,
                            const char *keyauth, acme_k8s_done_cb done, void *data)
{
    char name[300];
    token_name(k, resolver, token, name, sizeof(name));
    cJSON *o = secret(k, name, "Opaque", "challenge", resolver);
    add_data(o, "token", token);
    add_data(o, "keyAuthorization", keyauth);
    add_data(o, "domain", domain ? domain : "");
    push(k, name, o, done, data);
}

static void order_name(const struct acme_k8s *k, const char *resolver, const char *main, char *out, size_t len)
{
    char suffix[300];
    snprintf(suffix, sizeof(suffix), "order-%s", main);
    name_of(k, resolver, suffix, out, len);
}

void acme_k8s_put_order(struct acme_k8s *k, const char *resolver, const char *main, const char *url)
{
    char name[300];
    order_name(k, resolver, main, name, sizeof(name));
    cJSON *o = secret(k, name, "Opaque", "order", resolver);
    annotate(o, ORDER_KEY, url);
    annotate(o, DOMAINS_KEY, main);
    push(k, name, o, NULL, NULL);
}

void acme_k8s_delete_order(struct acme_k8s *k, const char *resolver, const char *main)
{
    char name[300];
    order_name(k, resolver, main, name, sizeof(name));
    if (cached(k, name) != NULL)
        push(k, name, NULL, NULL, NULL);
}

const char *acme_k8s_order(const struct acme_k8s *k, const char *resolver, const char *main)
{
    char name[300];
    order_name(k, resolver, main, name, sizeof(name));
    const cJSON *o = cached(k, name);
    const char *res = o ? acme_k8s_annotation(o, RESOLVER_KEY) : NULL;
    return res && strcmp(res, resolver) == 0 ? acme_k8s_annotation(o, ORDER_KEY) : NULL;
}

void acme_k8s_delete_all_challenges(struct acme_k8s *k, const char *resolver)
{
    size_t n;
    const cJSON **items = acme_k8s_list(k, "challenge", resolver, &n);
    for (size_t i = 0; i < n; i++) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(items[i], "metadata"), "name");
        if (cJSON_IsString(name))
            push(k, name->valuestring, NULL, NULL, NULL);
    }
    free(items);
}

void acme_k8s_forget(struct acme_k8s *k, void *data)
{
    for (size_t i = 0; k && i < k->n; i++)
        if (k->queue[i].data == data)
            k->queue[i].done = NULL;
}

/* ---- start and stop ---- */

static void on_changed(struct k8s_watch *w, void *data)
{
    struct acme_k8s *k = data;
    (void)w;
    start_next(k); /* a write waiting for the cache may go now */
    k->changed(k->data);
}

static void on_leader(bool leader, void *data)
{
    struct acme_k8s *k = data;
    k->leader_cb(leader, k->data);
}

struct acme_k8s *acme_k8s_start(const struct acme_k8s_options *o, struct diag *d)
{
    struct acme_k8s *k = mem_calloc(1, sizeof(*k));
    const char *how = "";
    if (k8s_conn_resolve(&k->conn, &o->conn, d, &how) != 0) {
        free(k);
        return NULL;
    }
    k->ns = mem_strdup(o->ns);
    k->prefix = mem_strdup(o->prefix);
    k->changed = o->changed;
    k->leader_cb = o->leader;
    k->data = o->data;
    k->retry = watcher_timer_new(on_retry, k);
    curl_body_reset(&k->in, 64 * 1024);
    log_info("acme: certificates stored in Kubernetes Secrets %s/%s-* (API server from %s)", k->ns, k->prefix, how);
    k8s_watch_start(&k->watch, "/api/v1", k->ns, "secrets", "labelSelector=" KIND_LABEL, &k->conn, on_changed, k);
    char identity[256], host[200] = "", lease[300];
    const char *pod = getenv("POD_NAME");
    gethostname(host, sizeof(host) - 1);
    snprintf(identity, sizeof(identity), "%s_%d", pod && *pod ? pod : host, (int)getpid());
    snprintf(lease, sizeof(lease), "%s-issuer", k->prefix);
    k->lease = k8s_lease_start(&k->conn, k->ns, lease, identity, o->lease_ms, on_leader, k);
    return k;
}

void acme_k8s_stop(struct acme_k8s *k)
{
    if (k == NULL)
        return;
    k8s_lease_stop(k->lease);
    k8s_watch_stop(&k->watch);
    end_transfer(k);
    curl_body_reset(&k->in, 0);
    watcher_timer_free(k->retry);
    for (size_t i = 0; i < k->n; i++) {
        free(k->queue[i].name);
        cJSON_Delete(k->queue[i].obj);
    }
    free(k->queue);
    free(k->ns);
    free(k->prefix);
    k8s_conn_free(&k->conn);
    free(k);
}

bool acme_k8s_synced(const struct acme_k8s *k)
{
    return k && k->watch.synced;
}

bool acme_k8s_leader(const struct acme_k8s *k)
{
    return k && k8s_lease_is_leader(k->lease);
}
