/*
 * The watcher thread: one loop that drives every provider's I/O (a curl
 * multi handle for Docker and Kubernetes, plain file descriptors such as
 * inotify), timers, configuration compiles and table reclamation. Nothing
 * here runs on a worker thread, so providers and the aggregator need no
 * locks.
 */
#ifndef GANTRY_WATCHER_H
#define GANTRY_WATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "../common/diag.h"

typedef void (*watcher_fd_cb)(int fd, short revents, void *data);
typedef void (*watcher_timer_cb)(void *data);
/* A finished transfer: <result> is curl's code for it. */
typedef void (*watcher_done_cb)(CURL *easy, CURLcode result, void *data);

struct watcher_timer;

int watcher_init(struct diag *d) WARN_UNUSED;
/* Runs the loop on a new thread. */
int watcher_start(struct diag *d) WARN_UNUSED;
/* Any thread: stops the loop and joins the thread. */
void watcher_stop(void);
void watcher_free(void);

/* Watcher thread (or before start). */
void watcher_add_fd(int fd, short events, watcher_fd_cb cb, void *data);
void watcher_remove_fd(int fd);
/* One-shot timer <ms> from now; re-arming an armed timer moves it. */
struct watcher_timer *watcher_timer_new(watcher_timer_cb cb, void *data);
void watcher_timer_arm(struct watcher_timer *t, uint64_t ms);
void watcher_timer_cancel(struct watcher_timer *t);
bool watcher_timer_armed(const struct watcher_timer *t);
void watcher_timer_free(struct watcher_timer *t);
/* Adds a transfer; <cb> runs when it completes (then the caller owns <easy>
 * again and must remove or reuse it). */
void watcher_add_transfer(CURL *easy, watcher_done_cb cb, void *data);
void watcher_remove_transfer(CURL *easy);
uint64_t watcher_now_ms(void);
/* Called once per loop iteration (the aggregator's reclaim hook). */
void watcher_set_idle_hook(void (*hook)(void));

#endif
