/*
 * List then watch one Kubernetes resource, as the API concepts document
 * describes it, on the watcher loop (libcurl multi):
 *
 *   list:   GET <path>?limit=500[&continue=...], page by page, into a fresh
 *           cache; the collection's resourceVersion is where the watch starts;
 *   watch:  GET <path>?watch=1&allowWatchBookmarks=true&resourceVersion=RV
 *           &timeoutSeconds=~300, a chunked stream of JSON lines applied to
 *           the cache as they arrive (BOOKMARKs only move RV);
 *   server timeout (the stream ends cleanly): watch again from RV;
 *   410 Gone (HTTP status or an ERROR event): list again;
 *   other errors: capped exponential backoff with jitter, then watch again
 *   from RV (list when there is none); 429 waits its Retry-After.
 *
 * The owner is told after the cache changed (and once the first list is
 * complete, which is when the cache can be trusted).
 */
#ifndef GANTRY_K8S_WATCH_H
#define GANTRY_K8S_WATCH_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "../../curl_body.h"
#include "k8s_store.h"
#include "../../ndjson.h"

/* How to reach the API server; read at every request, so a rotated token
 * file is picked up. */
struct k8s_conn {
    char *base_url;   /* https://10.0.0.1:443 */
    char *token;      /* a fixed bearer token, or NULL */
    char *token_file; /* a token file re-read per request (in-cluster), or NULL */
    char *ca_file;    /* NULL: the system's CAs */
    char *client_cert, *client_key; /* files */
    /* kubeconfig's *-data fields, decoded (PEM) */
    char *ca_pem, *cert_pem, *key_pem;
    size_t ca_pem_len, cert_pem_len, key_pem_len;
};

struct k8s_watch;
typedef void (*k8s_changed_cb)(struct k8s_watch *w, void *data);


struct k8s_watch {
    const char *name;  /* for logs: "ingresses" */
    int kind;          /* the provider's kind of object, for k8s_watches_collect (set after start) */
    unsigned slim;     /* K8S_SLIM_* (k8s_compact.h): what else to drop at ingest (set after start) */
    char *path;        /* /apis/networking.k8s.io/v1/ingresses */
    char *selector;    /* labelSelector=...&fieldSelector=... (encoded), or "" */
    const struct k8s_conn *conn;
    k8s_changed_cb changed;
    void *data;

    struct k8s_store store; /* what is known */
    /* what changed in <store> since the owner last reset it; by the label
     * <change_label> of the objects when set (after start) */
    struct k8s_changes changes;
    const char *change_label;
    struct k8s_store fresh; /* a list being assembled */
    bool synced;            /* a list completed at least once */
    bool listing;
    char rv[64];
    char *cont;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_body body;
    struct ndjson framer;
    struct watcher_timer *timer;
    unsigned attempts;
    bool failing;
    bool restart_with_list; /* the next start lists (410, no RV) */
};

/* Watches <resource> ("ingresses") of <group_version> ("networking.k8s.io/v1")
 * in namespace <ns>, or in all of them when <ns> is NULL; <resource> must
 * outlive the watch (it names it in logs), the rest is copied. Starts
 * listing at once. */
void k8s_watch_start(struct k8s_watch *w, const char *group_version, const char *ns, const char *resource,
                     const char *selector, const struct k8s_conn *conn, k8s_changed_cb changed, void *data);
void k8s_watch_stop(struct k8s_watch *w);

/* Applies one line of a watch stream (an event) to the cache; the
 * transfer code's entry point, exposed for tests and fuzzing. A malformed
 * line is logged and ignored; an ERROR 410 sets restart_with_list. */
void k8s_watch_apply(struct k8s_watch *w, const char *line, size_t len);

/* A curl handle for <conn> and <path_and_query> with the bearer token;
 * <headers> receives the list to free after the transfer. */
CURL *k8s_request(const struct k8s_conn *conn, const char *path_and_query, struct curl_slist **headers);

/* Every cached object of the watches of <kind> among <watches>, each
 * watch's sorted, in watch order; free() the array. */
const cJSON **k8s_watches_collect(const struct k8s_watch *watches, size_t n_watches, int kind, size_t *n);

#endif
