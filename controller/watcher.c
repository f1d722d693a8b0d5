/*
 * Watcher loop (see watcher.h): curl_multi_poll() with the providers'
 * extra file descriptors and a timeout set by the nearest timer; a wakeup
 * from another thread ends it. Until the first transfer there is no curl
 * multi handle (libcurl is loaded on first use, controller/curl_dl.c): the
 * same loop waits with poll().
 */
#include "watcher.h"

#include "../proxy/h2o_cache.h"

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "../common/mem_trim.h"

#define MAX_FDS 32
#define MAX_WAIT_MS 1000
#define TRIM_EVERY_MS 10000        /* how often malloc's free memory is looked at */
#define TRIM_SLACK (4u << 20)      /* free bytes malloc may keep for the next burst */

struct watcher_timer {
    struct watcher_timer *next;
    uint64_t due_ms;
    bool armed;
    watcher_timer_cb cb;
    void *data;
};

struct fd_entry {
    int fd;
    short events;
    watcher_fd_cb cb;
    void *data;
};

struct transfer {
    watcher_done_cb cb;
    void *data;
};

static CURLM *multi; /* watcher thread (or before start); NULL until the first transfer */
static int wake_fd = -1; /* watcher_stop() ends a wait with or without curl */
static struct fd_entry fds[MAX_FDS];
static size_t n_fds;
static struct watcher_timer *timers;
static pthread_t thread;
static bool running;
static _Atomic bool stop_requested;
static void (*idle_hook)(void);
/* curl forbids adding handles from inside its callbacks (a write callback
 * that reacts to an event by starting a request): those wait here until
 * curl_multi_perform has returned. */
static bool in_perform;
static CURL **deferred;
static size_t n_deferred, cap_deferred;

uint64_t watcher_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int watcher_init(struct diag *d)
{
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_fd < 0)
        return diag_set(d, "watcher: eventfd failed");
    return 0;
}

void watcher_set_idle_hook(void (*hook)(void))
{
    idle_hook = hook;
}

void watcher_add_fd(int fd, short events, watcher_fd_cb cb, void *data)
{
    if (n_fds == MAX_FDS) {
        log_error("watcher: too many file descriptors");
        return;
    }
    fds[n_fds++] = (struct fd_entry){fd, events, cb, data};
}

void watcher_remove_fd(int fd)
{
    for (size_t i = 0; i < n_fds; i++) {
        if (fds[i].fd == fd) {
            fds[i] = fds[--n_fds];
            return;
        }
    }
}

struct watcher_timer *watcher_timer_new(watcher_timer_cb cb, void *data)
{
    struct watcher_timer *t = mem_calloc(1, sizeof(*t));
    t->cb = cb;
    t->data = data;
    t->next = timers;
    timers = t;
    return t;
}

void watcher_timer_arm(struct watcher_timer *t, uint64_t ms)
{
    t->due_ms = watcher_now_ms() + ms;
    t->armed = true;
}

void watcher_timer_cancel(struct watcher_timer *t)
{
    t->armed = false;
}

bool watcher_timer_armed(const struct watcher_timer *t)
{
    return t->armed;
}

void watcher_timer_free(struct watcher_timer *t)
{
    for (struct watcher_timer **p = &timers; *p; p = &(*p)->next) {
        if (*p == t) {
            *p = t->next;
            break;
        }
    }
    free(t);
}

static void defer(CURL *easy)
{
    if (n_deferred == cap_deferred) {
        cap_deferred = cap_deferred ? cap_deferred * 2 : 16;
        deferred = mem_realloc(deferred, cap_deferred * sizeof(*deferred));
    }
    deferred[n_deferred++] = easy;
}

void watcher_add_transfer(CURL *easy, watcher_done_cb cb, void *data)
{
    struct transfer *tr = mem_alloc(sizeof(*tr));
    tr->cb = cb;
    tr->data = data;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, tr);
    if (multi == NULL && (multi = curl_multi_init()) == NULL)
        /* the easy handle exists, so libcurl is loaded: out of memory. The
         * transfer fails on the next turn of the loop (run_transfers). */
        log_error("watcher: curl_multi_init failed");
    if (in_perform || multi == NULL) {
        defer(easy);
        return;
    }
    curl_multi_add_handle(multi, easy);
}

void watcher_remove_transfer(CURL *easy)
{
    struct transfer *tr = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&tr);
    for (size_t i = 0; i < n_deferred; i++)
        if (deferred[i] == easy)
            deferred[i] = deferred[--n_deferred];
    curl_multi_remove_handle(multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    free(tr);
}

static int next_timeout(void)
{
    uint64_t now = watcher_now_ms(), best = now + MAX_WAIT_MS;
    for (struct watcher_timer *t = timers; t; t = t->next)
        if (t->armed && t->due_ms < best)
            best = t->due_ms;
    return best <= now ? 0 : (int)(best - now);
}

static void run_timers(void)
{
    uint64_t now = watcher_now_ms();
    /* a callback may arm, create or free timers: restart the scan after each */
    for (bool fired = true; fired;) {
        fired = false;
        for (struct watcher_timer *t = timers; t; t = t->next) {
            if (t->armed && t->due_ms <= now) {
                t->armed = false;
                t->cb(t->data);
                fired = true;
                break;
            }
        }
    }
}

/* Transfers that could not be added (no multi handle): each fails. */
static void fail_deferred(void)
{
    /* a callback may start another transfer: that one fails next turn */
    for (size_t k = n_deferred; k > 0 && n_deferred > 0; k--) {
        CURL *easy = deferred[0];
        struct transfer *tr = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&tr);
        if (tr == NULL) { /* no handle at all (curl_easy_init failed): nothing to tell */
            deferred[0] = deferred[--n_deferred];
            continue;
        }
        watcher_done_cb cb = tr->cb;
        void *data = tr->data;
        watcher_remove_transfer(easy);
        cb(easy, CURLE_OUT_OF_MEMORY, data);
    }
}

static void run_transfers(void)
{
    if (multi == NULL) {
        fail_deferred();
        return;
    }
    int running_handles, left;
    in_perform = true;
    curl_multi_perform(multi, &running_handles);
    in_perform = false;
    for (size_t i = 0; i < n_deferred; i++)
        curl_multi_add_handle(multi, deferred[i]);
    n_deferred = 0;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode rc = msg->data.result;
        struct transfer *tr = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&tr);
        if (tr == NULL)
            continue;
        watcher_done_cb cb = tr->cb;
        void *data = tr->data;
        watcher_remove_transfer(easy);
        cb(easy, rc, data);
    }
}

/* poll() as curl_multi_poll() does it: only IN, OUT and PRI are reported
 * (the CURL_WAIT_* bits are poll's). */
static void wait_fds(struct curl_waitfd *wfds, size_t n, int timeout_ms)
{
    struct pollfd p[MAX_FDS + 1];
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = wfds[i].fd, .events = (short)wfds[i].events};
    int rc = poll(p, (nfds_t)n, timeout_ms);
    for (size_t i = 0; i < n; i++)
        wfds[i].revents = rc > 0 ? (short)(p[i].revents & (POLLIN | POLLOUT | POLLPRI)) : 0;
}

static void *loop(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_requested)) {
        struct curl_waitfd wfds[MAX_FDS + 1];
        size_t n = n_fds;
        for (size_t i = 0; i < n; i++)
            wfds[i] = (struct curl_waitfd){.fd = fds[i].fd, .events = fds[i].events};
        wfds[n] = (struct curl_waitfd){.fd = wake_fd, .events = CURL_WAIT_POLLIN};
        if (multi != NULL) {
            int numfds = 0;
            curl_multi_poll(multi, wfds, (unsigned)n + 1, next_timeout(), &numfds);
        } else {
            wait_fds(wfds, n + 1, next_timeout());
        }
        if (atomic_load(&stop_requested))
            break;
        run_transfers();
        for (size_t i = 0; i < n; i++) {
            if (wfds[i].revents == 0)
                continue;
            for (size_t j = 0; j < n_fds; j++) /* the callback may have removed entries */
                if (fds[j].fd == wfds[i].fd) {
                    fds[j].cb(fds[j].fd, wfds[i].revents, fds[j].data);
                    break;
                }
        }
        run_timers();
        if (idle_hook)
            idle_hook();
    }
    h2o_cache_release_thread(); /* tables compiled here used h2o memory pools (middleware builds) */
    return NULL;
}

static struct watcher_timer *trim_timer;
static uint64_t trim_every_ms = TRIM_EVERY_MS;

/* After a burst, what the workers freed goes back to the kernel. */
static void on_trim(void *data)
{
    (void)data;
    size_t freed, cached = arena_trim_cache(); /* idle tables' spare chunks: malloc's free memory now */
    if (cached)
        log_debug("memory: %zu KiB of spare arena chunks freed", cached >> 10);
    if (mem_trim_if_slack(TRIM_SLACK, &freed))
        log_debug("memory: %zu KiB freed since the last look given back to the kernel", freed >> 10);
    watcher_timer_arm(trim_timer, trim_every_ms);
}

int watcher_start(struct diag *d)
{
    const char *every = getenv("GANTRY_MEM_TRIM_MS"); /* tests: a shorter period */
    if (every != NULL && atoi(every) > 0)
        trim_every_ms = (uint64_t)atoi(every);
    trim_timer = watcher_timer_new(on_trim, NULL);
    watcher_timer_arm(trim_timer, trim_every_ms);
    atomic_store(&stop_requested, false);
    if (pthread_create(&thread, NULL, loop, NULL) != 0)
        return diag_set(d, "cannot start the watcher thread");
    running = true;
    return 0;
}

void watcher_stop(void)
{
    if (!running)
        return;
    atomic_store(&stop_requested, true);
    uint64_t one = 1;
    if (write(wake_fd, &one, sizeof(one)) != sizeof(one))
        log_error("watcher: cannot wake the watcher thread");
    pthread_join(thread, NULL);
    running = false;
}

void watcher_free(void)
{
    while (timers != NULL) {
        struct watcher_timer *t = timers;
        timers = t->next;
        free(t);
    }
    free(deferred);
    deferred = NULL;
    n_deferred = cap_deferred = 0;
    if (multi != NULL)
        curl_multi_cleanup(multi);
    multi = NULL;
    n_fds = 0;
    if (wake_fd >= 0)
        close(wake_fd);
    wake_fd = -1;
    curl_global_cleanup(); /* only if a provider loaded libcurl */
}
