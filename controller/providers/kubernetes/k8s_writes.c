/* Serial JSON writes to the API server (see k8s_writes.h). */
#include "k8s_writes.h"

#include <stdlib.h>

#include "../../../common/arena.h"
#include "../../curl_body.h"
#include "../../watcher.h"

#define WRITE_TIMEOUT_MS 10000L

struct pending {
    char *path, *body, *what;
};

struct k8s_writes {
    const struct k8s_conn *conn;
    const char *method;
    k8s_write_done_cb done;
    void *data;
    struct pending *queue; /* [head, n) wait; queue[head] is in flight when easy is set */
    size_t n, cap, head;
    CURL *easy;
    struct curl_slist *headers;
};

struct k8s_writes *k8s_writes_new(const struct k8s_conn *conn, const char *method, k8s_write_done_cb done, void *data)
{
    struct k8s_writes *w = mem_calloc(1, sizeof(*w));
    *w = (struct k8s_writes){.conn = conn, .method = method, .done = done, .data = data};
    return w;
}

static void pending_free(struct pending *p)
{
    free(p->path);
    free(p->body);
    free(p->what);
}

void k8s_writes_free(struct k8s_writes *w)
{
    if (w == NULL)
        return;
    if (w->easy) {
        watcher_remove_transfer(w->easy);
        curl_easy_cleanup(w->easy);
    }
    curl_slist_free_all(w->headers);
    for (size_t i = w->head; i < w->n; i++)
        pending_free(&w->queue[i]);
    free(w->queue);
    free(w);
}

void k8s_writes_push(struct k8s_writes *w, const char *path, char *body, const char *what)
{
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->queue = mem_realloc(w->queue, w->cap * sizeof(*w->queue));
    }
    w->queue[w->n++] = (struct pending){mem_strdup(path), body, mem_strdup(what)};
}

static void on_done(CURL *easy, CURLcode rc, void *data)
{
    struct k8s_writes *w = data;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(easy);
    w->easy = NULL;
    curl_slist_free_all(w->headers);
    w->headers = NULL;
    struct pending p = w->queue[w->head++];
    w->done(w->data, p.what, rc, status);
    pending_free(&p);
    k8s_writes_start(w);
}

void k8s_writes_start(struct k8s_writes *w)
{
    if (w->easy != NULL)
        return;
    if (w->head >= w->n) {
        w->n = w->head = 0;
        return;
    }
    struct pending *p = &w->queue[w->head];
    w->easy = k8s_request(w->conn, p->path, &w->headers);
    w->headers = curl_slist_append(w->headers, "Content-Type: application/json");
    curl_easy_setopt(w->easy, CURLOPT_HTTPHEADER, w->headers);
    curl_easy_setopt(w->easy, CURLOPT_CUSTOMREQUEST, w->method);
    curl_easy_setopt(w->easy, CURLOPT_POSTFIELDS, p->body);
    curl_easy_setopt(w->easy, CURLOPT_TIMEOUT_MS, WRITE_TIMEOUT_MS);
    curl_easy_setopt(w->easy, CURLOPT_WRITEFUNCTION, curl_body_discard); /* the written object: not needed */
    watcher_add_transfer(w->easy, on_done, w);
}

bool k8s_writes_busy(const struct k8s_writes *w)
{
    return w->easy != NULL;
}

size_t k8s_writes_queued(const struct k8s_writes *w)
{
    return w->n - w->head;
}
