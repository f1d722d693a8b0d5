/*
 * Access log (see accesslog.h). Lines are formatted on the worker into its
 * 64 KiB buffer; full buffers (and, once per loop iteration, partial ones)
 * go to a queue the writer thread drains with write(2). Client-controlled
 * text (path, host, user agent, referer) is escaped so a request cannot
 * forge log lines.
 */
#include "accesslog.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../common/arena.h"
#include "../common/log.h"

#define BUF_SIZE (64 * 1024)
#define MAX_LINE 16384 /* fits every field at its cap below */
#define CAP_METHOD 64
#define CAP_PATH 4096
#define CAP_SHORT 1024
#define MAX_QUEUED 256 /* buffers (16 MiB) waiting for the disk before lines are dropped */

struct wbuf {
    struct wbuf *next;
    size_t len, lines;
    uint64_t since_ms; /* when its first line was written */
    char data[BUF_SIZE];
};

#define MAX_HOLD_MS 100 /* a line reaches the file within this, on a quiet worker too */

static uint64_t coarse_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct worker_log {
    struct wbuf *cur;
    uint64_t count;
    time_t cached_sec;
    char cached_time[40];
} __attribute__((aligned(64)));

static struct {
    bool enabled, json, is_stdout;
    char *path;
    int fd;
    uint32_t n_workers;
    struct worker_log *workers;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct wbuf *head, *tail, *free_list;
    size_t queued;
    bool stop;
    _Atomic bool reopen;
    _Atomic uint64_t dropped;
} al = {.fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static int open_file(struct diag *d)
{
    if (al.is_stdout) {
        al.fd = STDOUT_FILENO;
        return 0;
    }
    int fd = open(al.path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return diag_set(d, "accessLog.filePath %s: %s", al.path, strerror(errno));
    al.fd = fd;
    return 0;
}

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(al.fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            atomic_fetch_add(&al.dropped, 1);
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

static void *writer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&al.lock);
    for (;;) {
        while (al.head == NULL && !al.stop && !atomic_load(&al.reopen))
            pthread_cond_wait(&al.cond, &al.lock);
        struct wbuf *list = al.head;
        al.head = al.tail = NULL;
        al.queued = 0;
        bool stop = al.stop;
        pthread_mutex_unlock(&al.lock);
        if (atomic_exchange(&al.reopen, false) && !al.is_stdout) {
            struct diag d;
            int old = al.fd;
            if (open_file(&d) == 0)
                close(old);
            else
                log_error("%s", d.msg);
        }
        struct wbuf *done = list;
        for (struct wbuf *b = list; b; b = b->next)
            write_all(b->data, b->len);
        pthread_mutex_lock(&al.lock);
        while (done) {
            struct wbuf *next = done->next;
            done->next = al.free_list;
            al.free_list = done;
            done = next;
        }
        if (stop)
            break;
    }
    pthread_mutex_unlock(&al.lock);
    return NULL;
}

int accesslog_open(const char *path, bool json, uint32_t n_workers, struct diag *d)
{
    al.json = json;
    al.is_stdout = path == NULL || *path == '\0';
    al.path = al.is_stdout ? NULL : mem_strdup(path);
    al.n_workers = n_workers;
    if (open_file(d) != 0)
        return -1;
    al.workers = aligned_alloc(64, sizeof(*al.workers) * (n_workers ? n_workers : 1));
    if (al.workers == NULL)
        abort();
    memset(al.workers, 0, sizeof(*al.workers) * (n_workers ? n_workers : 1));
    if (pthread_create(&al.thread, NULL, writer, NULL) != 0)
        return diag_set(d, "access log: cannot start the writer thread");
    al.enabled = true;
    return 0;
}

bool accesslog_enabled(void)
{
    return al.enabled;
}

uint64_t accesslog_dropped(void)
{
    return atomic_load(&al.dropped);
}

void accesslog_reopen(void)
{
    if (!al.enabled)
        return;
    pthread_mutex_lock(&al.lock);
    atomic_store(&al.reopen, true);
    pthread_cond_signal(&al.cond);
    pthread_mutex_unlock(&al.lock);
}

static struct wbuf *fresh_buffer(void)
{
    pthread_mutex_lock(&al.lock);
    struct wbuf *b = al.free_list;
    if (b)
        al.free_list = b->next;
    pthread_mutex_unlock(&al.lock);
    if (b == NULL)
        b = mem_alloc(sizeof(*b));
    b->next = NULL;
    b->len = b->lines = 0;
    return b;
}

static void hand_over(struct worker_log *wl);

void accesslog_flush(uint32_t w)
{
    if (!al.enabled)
        return;
    struct worker_log *wl = &al.workers[w];
    struct wbuf *b = wl->cur;
    /* Batching: a buffer goes to the writer when half full or old enough,
     * not on every loop iteration (each hand-over may wake the writer). */
    if (b == NULL || b->len == 0 || (b->len < BUF_SIZE / 2 && coarse_ms() - b->since_ms < MAX_HOLD_MS))
        return;
    hand_over(wl);
}

static void hand_over(struct worker_log *wl)
{
    struct wbuf *b = wl->cur;
    wl->cur = NULL;
    pthread_mutex_lock(&al.lock);
    if (al.queued >= MAX_QUEUED) { /* the disk is not keeping up: drop, count, never block */
        atomic_fetch_add(&al.dropped, b->lines);
        b->next = al.free_list;
        al.free_list = b;
    } else {
        bool was_empty = al.head == NULL;
        if (al.tail)
            al.tail->next = b;
        else
            al.head = b;
        al.tail = b;
        al.queued++;
        if (was_empty) /* the writer only sleeps on an empty queue */
            pthread_cond_signal(&al.cond);
    }
    pthread_mutex_unlock(&al.lock);
}

/* Appends <s> (length <n>) escaped for a quoted field: ", \ and control
 * characters become \xHH (common) or JSON escapes. */
static size_t put_escaped(char *out, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, al.json ? "\\u%04x" : "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    return o;
}

static const char *time_text(struct worker_log *wl, uint64_t unix_us)
{
    time_t sec = (time_t)(unix_us / 1000000);
    if (sec != wl->cached_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        strftime(wl->cached_time, sizeof(wl->cached_time), al.json ? "%Y-%m-%dT%H:%M:%S" : "%d/%b/%Y:%H:%M:%S +0000", &tm);
        wl->cached_sec = sec;
    }
    return wl->cached_time;
}

static const char *proto(int version)
{
    return version >= 0x200 ? "HTTP/2.0" : version == 0x100 ? "HTTP/1.0" : "HTTP/1.1";
}

static size_t format_common(struct worker_log *wl, char *l, const struct accesslog_entry *e)
{
    size_t n = (size_t)snprintf(l, MAX_LINE, "%s - - [%s] \"", e->client_ip, time_text(wl, e->start_unix_us));
    n += put_escaped(l + n, CAP_METHOD, e->method, e->method_len);
    l[n++] = ' ';
    n += put_escaped(l + n, CAP_PATH, e->path, e->path_len);
    n += (size_t)snprintf(l + n, MAX_LINE - n, " %s\" %d %llu \"", proto(e->version), e->status,
                          (unsigned long long)e->bytes_out);
    n += put_escaped(l + n, CAP_SHORT, e->referer ? e->referer : "-", e->referer ? e->referer_len : 1);
    n += (size_t)snprintf(l + n, MAX_LINE - n, "\" \"");
    n += put_escaped(l + n, CAP_SHORT, e->user_agent ? e->user_agent : "-", e->user_agent ? e->user_agent_len : 1);
    n += (size_t)snprintf(l + n, MAX_LINE - n, "\" %llu \"%s\" \"%s\" %llums\n", (unsigned long long)wl->count,
                          e->router ? e->router : "-", e->upstream ? e->upstream : "-",
                          (unsigned long long)(e->duration_us / 1000));
    return n;
}

static size_t json_field(char *l, size_t n, const char *key, const char *v, size_t vlen)
{
    n += (size_t)snprintf(l + n, MAX_LINE - n, ",\"%s\":\"", key);
    n += put_escaped(l + n, strcmp(key, "RequestPath") == 0 ? CAP_PATH : CAP_SHORT, v, vlen);
    l[n++] = '"';
    return n;
}

static size_t format_json(struct worker_log *wl, char *l, const struct accesslog_entry *e)
{
    size_t n = (size_t)snprintf(l, MAX_LINE, "{\"StartUTC\":\"%s.%06lluZ\"", time_text(wl, e->start_unix_us),
                                (unsigned long long)(e->start_unix_us % 1000000));
    n = json_field(l, n, "ClientHost", e->client_ip, strlen(e->client_ip));
    n = json_field(l, n, "RequestMethod", e->method, e->method_len);
    n = json_field(l, n, "RequestPath", e->path, e->path_len);
    n = json_field(l, n, "RequestHost", e->host, e->host_len);
    n = json_field(l, n, "RequestProtocol", proto(e->version), strlen(proto(e->version)));
    n += (size_t)snprintf(l + n, MAX_LINE - n,
                          ",\"DownstreamStatus\":%d,\"DownstreamContentSize\":%llu,\"RequestContentSize\":%llu,\"Duration\":%llu",
                          e->status, (unsigned long long)e->bytes_out, (unsigned long long)e->bytes_in,
                          (unsigned long long)e->duration_us * 1000);
    if (e->entrypoint)
        n = json_field(l, n, "entryPointName", e->entrypoint, strlen(e->entrypoint));
    if (e->router)
        n = json_field(l, n, "RouterName", e->router, strlen(e->router));
    if (e->service)
        n = json_field(l, n, "ServiceName", e->service, strlen(e->service));
    if (e->upstream)
        n = json_field(l, n, "ServiceURL", e->upstream, strlen(e->upstream));
    if (e->user_agent)
        n = json_field(l, n, "request_User-Agent", e->user_agent, e->user_agent_len);
    if (e->referer)
        n = json_field(l, n, "request_Referer", e->referer, e->referer_len);
    n += (size_t)snprintf(l + n, MAX_LINE - n, "}\n");
    return n;
}

void accesslog_write(uint32_t w, const struct accesslog_entry *e)
{
    if (!al.enabled)
        return;
    struct worker_log *wl = &al.workers[w];
    wl->count++;
    char line[MAX_LINE + 64];
    size_t n = al.json ? format_json(wl, line, e) : format_common(wl, line, e);
    if (n > MAX_LINE) { /* truncated by the field limits: keep it one line */
        n = MAX_LINE;
        line[n - 1] = '\n';
    }
    if (wl->cur != NULL && wl->cur->len + n > BUF_SIZE)
        hand_over(wl);
    if (wl->cur == NULL) {
        wl->cur = fresh_buffer();
        wl->cur->since_ms = coarse_ms();
    }
    memcpy(wl->cur->data + wl->cur->len, line, n);
    wl->cur->len += n;
    wl->cur->lines++;
}

void accesslog_close(void)
{
    if (!al.enabled)
        return;
    for (uint32_t w = 0; w < al.n_workers; w++) /* workers have stopped: their buffers are ours */
        if (al.workers[w].cur != NULL && al.workers[w].cur->len != 0)
            hand_over(&al.workers[w]);
    pthread_mutex_lock(&al.lock);
    al.stop = true;
    pthread_cond_signal(&al.cond);
    pthread_mutex_unlock(&al.lock);
    pthread_join(al.thread, NULL);
    while (al.free_list) {
        struct wbuf *b = al.free_list;
        al.free_list = b->next;
        free(b);
    }
    if (!al.is_stdout)
        close(al.fd);
    free(al.path);
    free(al.workers);
    al.enabled = false;
}
