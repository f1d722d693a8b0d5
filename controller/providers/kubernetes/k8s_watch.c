/*
 * List and watch one resource (see k8s_watch.h).
 */
#include "k8s_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../common/arena.h"
#include "../../../common/log.h"
#include "../../watcher.h"
#include "k8s_compact.h"

#define PAGE_SIZE 500
#define MAX_LIST_PAGE (256 * 1024 * 1024)
#define MAX_EVENT_LINE (16 * 1024 * 1024)
#define WATCH_TIMEOUT_S 290 /* plus jitter: every watcher does not come back at once */
#define LIST_TIMEOUT_MS 60000
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 30000

static void start(struct k8s_watch *w);

/* ---- requests ---- */

static char *read_token_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    return mem_strdup(buf);
}

CURL *k8s_request(const struct k8s_conn *conn, const char *path_and_query, struct curl_slist **headers)
{
    CURL *e = curl_easy_init();
    char url[4096];
    snprintf(url, sizeof(url), "%s%s", conn->base_url, path_and_query);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gantry");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (conn->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, conn->ca_file);
    } else if (conn->ca_pem) {
        struct curl_blob b = {conn->ca_pem, conn->ca_pem_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    }
    if (conn->client_cert && conn->client_key) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, conn->client_cert);
        curl_easy_setopt(e, CURLOPT_SSLKEY, conn->client_key);
    } else if (conn->cert_pem && conn->key_pem) {
        struct curl_blob c = {conn->cert_pem, conn->cert_pem_len, CURL_BLOB_COPY};
        struct curl_blob k = {conn->key_pem, conn->key_pem_len, CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
        curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &k);
        curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
    }
    *headers = curl_slist_append(NULL, "Accept: application/json");
    char *token = conn->token_file ? read_token_file(conn->token_file) : NULL;
    const char *t = token ? token : conn->token;
    if (t && *t) {
        size_t len = strlen(t) + 32;
        char *h = mem_alloc(len);
        snprintf(h, len, "Authorization: Bearer %s", t);
        *headers = curl_slist_append(*headers, h);
        free(h);
    }
    free(token);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, *headers);
    return e;
}

static void end_request(struct k8s_watch *w)
{
    if (w->easy) {
        watcher_remove_transfer(w->easy);
        curl_easy_cleanup(w->easy);
        w->easy = NULL;
    }
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    curl_body_reset(&w->body, MAX_LIST_PAGE);
}

/* ---- failure ---- */

static void backoff(struct k8s_watch *w, const char *why, uint64_t at_least_ms)
{
    end_request(w);
    if (!w->failing)
        log_warn("kubernetes provider: %s: %s; the last configuration keeps serving, retrying with backoff", w->name,
                 why);
    else
        log_debug("kubernetes provider: %s: still failing: %s", w->name, why);
    w->failing = true;
    unsigned shift = w->attempts < 12 ? w->attempts : 12;
    uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    delay = delay / 2 + (uint64_t)rand() % (delay / 2 + 1);
    if (delay < at_least_ms)
        delay = at_least_ms;
    w->attempts++;
    watcher_timer_arm(w->timer, delay);
}

static void recovered(struct k8s_watch *w)
{
    if (w->failing)
        log_info("kubernetes provider: %s: connected again after %u attempts", w->name, w->attempts);
    w->failing = false;
    w->attempts = 0;
}

/* Why a transfer failed, and how long the server asked us to wait. */
static void describe(CURL *e, CURLcode rc, char *out, size_t len, long *status, uint64_t *retry_ms)
{
    *status = 0;
    *retry_ms = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_off_t retry = 0;
    if (curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &retry) == CURLE_OK && retry > 0)
        *retry_ms = (uint64_t)retry * 1000;
    if (rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && *status >= 400))
        snprintf(out, len, "HTTP status %ld", *status);
    else
        snprintf(out, len, "%s", curl_easy_strerror(rc));
}

/* ---- list ---- */

static void list_page(struct k8s_watch *w);

/* What the cache keeps of <obj> (freed here): what is read, packed. */
static cJSON *keep(const struct k8s_watch *w, cJSON *obj)
{
    k8s_object_slim(obj, w->slim);
    cJSON *packed = k8s_object_pack(obj);
    if (packed == NULL)
        return obj; /* out of memory: the unpacked object serves as well */
    cJSON_Delete(obj);
    return packed;
}

static void on_list(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_watch *w = data;
    (void)easy;
    char why[300];
    long status;
    uint64_t retry_ms;
    describe(w->easy, rc, why, sizeof(why), &status, &retry_ms);
    if (rc != CURLE_OK || status != 200) {
        if (status == 410) { /* an expired continue token: start the list over */
            k8s_store_clear(&w->fresh);
            k8s_store_init(&w->fresh);
            free(w->cont);
            w->cont = NULL;
        }
        backoff(w, why, status == 429 ? retry_ms : 0);
        return;
    }
    cJSON *root = cJSON_ParseWithLength(w->body.data ? w->body.data : "", w->body.len);
    const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
    const cJSON *cont = cJSON_GetObjectItemCaseSensitive(meta, "continue");
    if (root == NULL || !cJSON_IsArray(items) || !cJSON_IsString(rv)) {
        cJSON_Delete(root);
        backoff(w, "a list answer that is not a Kubernetes list", 0);
        return;
    }
    size_t n = (size_t)cJSON_GetArraySize(items);
    for (size_t i = 0; i < n; i++) {
        cJSON *it = cJSON_DetachItemFromArray((cJSON *)items, 0);
        char key[512];
        if (k8s_object_key(it, key, sizeof(key)) != NULL)
            k8s_store_put(&w->fresh, key, keep(w, it));
        else
            cJSON_Delete(it);
    }
    snprintf(w->rv, sizeof(w->rv), "%s", rv->valuestring);
    free(w->cont);
    w->cont = cJSON_IsString(cont) && cont->valuestring[0] ? mem_strdup(cont->valuestring) : NULL;
    cJSON_Delete(root);
    end_request(w);
    if (w->cont) {
        list_page(w);
        return;
    }
    /* complete: the fresh list replaces what was known (deletions missed
     * while away are gone with it) */
    k8s_store_swap(&w->store, &w->fresh);
    w->changes.all = true; /* what went or changed while away is not known one by one */
    w->listing = false;
    w->synced = true;
    recovered(w);
    log_debug("kubernetes provider: %s: listed %zu at resourceVersion %s", w->name, k8s_store_count(&w->store), w->rv);
    w->changed(w, w->data);
    start(w);
}

static void list_page(struct k8s_watch *w)
{
    char q[3072];
    int n = snprintf(q, sizeof(q), "%s?limit=%d%s%s", w->path, PAGE_SIZE, *w->selector ? "&" : "", w->selector);
    if (w->cont) {
        char *enc = curl_easy_escape(NULL, w->cont, 0);
        snprintf(q + n, sizeof(q) - (size_t)n, "&continue=%s", enc);
        curl_free(enc);
    }
    w->easy = k8s_request(w->conn, q, &w->headers);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, &w->body);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, (long)LIST_TIMEOUT_MS);
    watcher_add_transfer(w->easy, on_list, w);
}

/* ---- watch ---- */

void k8s_watch_apply(struct k8s_watch *w, const char *line, size_t len)
{
    cJSON *ev = cJSON_ParseWithLength(line, len);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev, "type");
    cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    if (!cJSON_IsString(type) || !cJSON_IsObject(obj)) {
        log_warn("kubernetes provider: %s: ignoring a malformed watch event", w->name);
        cJSON_Delete(ev);
        return;
    }
    const char *t = type->valuestring;
    if (strcmp(t, "ERROR") == 0) {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(obj, "code");
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(obj, "message");
        if (cJSON_IsNumber(code) && code->valueint == 410) {
            log_info("kubernetes provider: %s: resourceVersion %s expired (%s); listing again", w->name, w->rv,
                     cJSON_IsString(msg) ? msg->valuestring : "410 Gone");
            w->restart_with_list = true;
        } else {
            log_warn("kubernetes provider: %s: watch error %d: %s", w->name, cJSON_IsNumber(code) ? code->valueint : 0,
                     cJSON_IsString(msg) ? msg->valuestring : "?");
        }
        cJSON_Delete(ev);
        return;
    }
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
    const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
    if (cJSON_IsString(rv))
        snprintf(w->rv, sizeof(w->rv), "%s", rv->valuestring);
    if (strcmp(t, "BOOKMARK") == 0) {
        cJSON_Delete(ev);
        return;
    }
    char key[512];
    if (k8s_object_key(obj, key, sizeof(key)) == NULL) {
        cJSON_Delete(ev);
        return;
    }
    if (strcmp(t, "DELETED") == 0) {
        k8s_changes_note(&w->changes, key, k8s_store_get(&w->store, key), NULL, w->change_label);
        k8s_store_del(&w->store, key);
    } else if (strcmp(t, "ADDED") == 0 || strcmp(t, "MODIFIED") == 0) {
        k8s_changes_note(&w->changes, key, k8s_store_get(&w->store, key), obj, w->change_label);
        k8s_store_put(&w->store, key, keep(w, cJSON_DetachItemViaPointer(ev, obj)));
    } else {
        cJSON_Delete(ev);
        return;
    }
    cJSON_Delete(ev);
    w->changed(w, w->data);
}

static void apply_line(const char *line, size_t len, void *data)
{
    k8s_watch_apply(data, line, len);
}

static size_t on_watch_data(char *p, size_t size, size_t n, void *data)
{
    struct k8s_watch *w = data;
    long status = 0;
    curl_easy_getinfo(w->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200)
        return curl_body_write(p, size, n, &w->body); /* an error document */
    if (w->failing)
        recovered(w);
    ndjson_feed(&w->framer, p, size * n, apply_line, w);
    if (w->restart_with_list)
        return 0; /* abort the transfer: on_watch_done lists again */
    return size * n;
}

static void on_watch_done(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_watch *w = data;
    (void)easy;
    char why[300];
    long status;
    uint64_t retry_ms;
    describe(w->easy, rc, why, sizeof(why), &status, &retry_ms);
    if (w->restart_with_list || status == 410) {
        end_request(w);
        w->restart_with_list = true;
        start(w);
        return;
    }
    if (rc == CURLE_OK && status == 200) { /* the server's timeout: carry on from where we are */
        end_request(w);
        start(w);
        return;
    }
    backoff(w, rc == CURLE_OK ? why : (status == 200 ? "the watch stream broke" : why), status == 429 ? retry_ms : 0);
}

static void watch(struct k8s_watch *w)
{
    char q[3072];
    snprintf(q, sizeof(q), "%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d%s%s", w->path,
             w->rv, WATCH_TIMEOUT_S + rand() % 20, *w->selector ? "&" : "", w->selector);
    ndjson_reset(&w->framer);
    w->easy = k8s_request(w->conn, q, &w->headers);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, on_watch_data);
    curl_easy_setopt(w->easy, CURLOPT_WRITEDATA, w);
    /* a stream silent for longer than the server's own timeout is dead */
    curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(w->easy, CURLOPT_LOW_SPEED_TIME, (long)WATCH_TIMEOUT_S + 60);
    watcher_add_transfer(w->easy, on_watch_done, w);
}

/* ---- lifecycle ---- */

static void start(struct k8s_watch *w)
{
    if (w->restart_with_list || w->rv[0] == '\0') {
        w->restart_with_list = false;
        w->listing = true;
        k8s_store_clear(&w->fresh);
        k8s_store_init(&w->fresh);
        free(w->cont);
        w->cont = NULL;
        list_page(w);
        return;
    }
    watch(w);
}

static void on_timer(void *data)
{
    struct k8s_watch *w = data;
    if (w->listing) { /* a failed page: the list starts over */
        w->restart_with_list = true;
    }
    start(w);
}

void k8s_watch_start(struct k8s_watch *w, const char *group_version, const char *ns, const char *resource,
                     const char *selector, const struct k8s_conn *conn, k8s_changed_cb changed, void *data)
{
    char path[512];
    if (ns)
        snprintf(path, sizeof(path), "%s/namespaces/%s/%s", group_version, ns, resource);
    else
        snprintf(path, sizeof(path), "%s/%s", group_version, resource);
    memset(w, 0, sizeof(*w));
    w->name = resource;
    w->path = mem_strdup(path);
    w->selector = mem_strdup(selector ? selector : "");
    w->conn = conn;
    w->changed = changed;
    w->data = data;
    k8s_store_init(&w->store);
    k8s_store_init(&w->fresh);
    k8s_changes_init(&w->changes);
    curl_body_reset(&w->body, MAX_LIST_PAGE);
    ndjson_init(&w->framer, MAX_EVENT_LINE);
    w->timer = watcher_timer_new(on_timer, w);
    start(w);
}

void k8s_watch_stop(struct k8s_watch *w)
{
    if (w->path == NULL)
        return;
    end_request(w);
    watcher_timer_free(w->timer);
    k8s_store_clear(&w->store);
    k8s_store_clear(&w->fresh);
    k8s_changes_free(&w->changes);
    ndjson_free(&w->framer);
    free(w->cont);
    free(w->path);
    free(w->selector);
    memset(w, 0, sizeof(*w));
}

const cJSON **k8s_watches_collect(const struct k8s_watch *watches, size_t n_watches, int kind, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < n_watches; i++)
        if (watches[i].kind == kind)
            total += k8s_store_count(&watches[i].store);
    const cJSON **out = mem_alloc((total ? total : 1) * sizeof(*out));
    size_t o = 0;
    for (size_t i = 0; i < n_watches; i++) {
        if (watches[i].kind != kind)
            continue;
        size_t m;
        const cJSON **items = k8s_store_list(&watches[i].store, &m);
        if (m) /* an empty store lists NULL */
            memcpy(out + o, items, m * sizeof(*out));
        o += m;
        free(items);
    }
    *n = o;
    return out;
}
