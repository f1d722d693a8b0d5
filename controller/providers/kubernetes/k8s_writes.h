/*
 * JSON writes (POST an Event, PUT an Ingress status) to the API server,
 * queued and sent one at a time on the watcher's curl multi, so that a
 * burst of changes never opens a burst of connections. The response body
 * is not kept. Watcher thread.
 */
#ifndef GANTRY_K8S_WRITES_H
#define GANTRY_K8S_WRITES_H

#include <stdbool.h>
#include <stddef.h>

#include "k8s_watch.h"

/* After each write: <status> is the HTTP status, 0 when no answer came
 * (<rc> says why); <what> is the caller's label for logs. */
typedef void (*k8s_write_done_cb)(void *data, const char *what, CURLcode rc, long status);

struct k8s_writes;

/* <method> ("POST", "PUT") is a literal. */
struct k8s_writes *k8s_writes_new(const struct k8s_conn *conn, const char *method, k8s_write_done_cb done, void *data);
/* Cancels the write in flight and drops the queue. */
void k8s_writes_free(struct k8s_writes *w);

/* Queues a write of <body> (malloc'd JSON, taken) to <path>; it goes out
 * at the next k8s_writes_start(). */
void k8s_writes_push(struct k8s_writes *w, const char *path, char *body, const char *what);
/* Sends the next queued write unless one is in flight. */
void k8s_writes_start(struct k8s_writes *w);

/* Whether a write is in flight; how many are queued, that one included. */
bool k8s_writes_busy(const struct k8s_writes *w);
size_t k8s_writes_queued(const struct k8s_writes *w);

#endif
