/*
 * Docker provider: the Engine API over libcurl on the watcher loop.
 *
 *   connect:  GET /_ping (the daemon's API version), then at once
 *             GET /events (container events, streamed) and
 *             GET /containers/json -> GET /containers/{id}/json for each;
 *   events:   one inspect of the container the event names (never a full
 *             relist), or its removal; a terminating kill removes it from
 *             routing before its process exits;
 *   failure:  the stream ends or a request fails -> reconnect with capped
 *             exponential backoff and jitter, then a full resync (events
 *             missed while away cannot leave stale routes). The last good
 *             configuration keeps serving meanwhile; the problem is logged
 *             once, and the recovery once.
 *
 * The store maps container ids to their last inspect. Each inspect carries
 * a per-container generation so an older answer cannot overwrite a newer
 * one. The model is rebuilt from the store after changes (docker_build_cached:
 * only the changed containers are built again, the others' objects are
 * handed over by the same pointer) and submitted once the initial sync is
 * complete.
 */
#include "provider_docker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../../common/log.h"
#include "../../../common/strmap.h"
#include "../../../admin/status.h"
#include "../../aggregator.h"
#include "../../curl_body.h"
#include "docker_build.h"
#include "docker_cache.h"
#include "docker_container.h"
#include "../../ndjson.h"
#include "../../problem_log.h"
#include "../../watcher.h"

#define MAX_EVENT_LINE (1024 * 1024)
#define MAX_LIST_BODY (64 * 1024 * 1024)
#define MAX_INSPECT_BODY (8 * 1024 * 1024)
#define PING_TIMEOUT_MS 3000
#define REQUEST_TIMEOUT_MS 15000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define INSPECT_RETRY_MIN_MS 200
#define INSPECT_RETRY_MAX_MS 10000
/* inspects in flight at once; the others wait in a queue (5,000 at once
 * timed out by the hundred against a busy daemon, and held a transfer each) */
#define MAX_INSPECTS_IN_FLIGHT 32
/* a change waits at most this long for the rest of its burst's inspects */
#define REBUILD_HOLD_MS 20


struct entry {
    struct docker_container *c; /* NULL while the first inspect is in flight */
    char *id;
    uint64_t gen;       /* generation of the latest inspect requested */
    bool stale;         /* not seen in the current resync's list yet */
    /* a failed inspect is asked again with backoff; until it succeeds the
     * container keeps its last state (or is absent), the reason is in the
     * log and the API, and an initial sync is not complete */
    uint32_t failures;
    uint64_t retry_due_ms; /* 0: no retry waiting */
    bool retry_initial;    /* the failed inspect belonged to the initial sync */
    char why[160];
};

struct inspect {
    struct inspect *next;
    CURL *easy; /* NULL while queued */
    char *id;
    uint64_t gen;
    bool initial; /* part of the initial sync */
    struct curl_body body;
};

enum state { ST_IDLE, ST_PING, ST_SYNC, ST_LIVE, ST_BACKOFF };

static struct {
    struct docker_options opts;
    char *socket_path; /* unix endpoint */
    char *base_url;    /* "http://docker" or "https://host:port" */
    char *cert_dir;
    char api[16];      /* "/v1.41" */
    enum state state;
    bool ever_connected, failing, ready, started;
    unsigned attempts;
    char last_error[256];
    struct watcher_timer *retry_timer;
    struct watcher_timer *rebuild_timer; /* one rebuild for everything that changed in a loop pass */
    struct watcher_timer *inspect_retry_timer;
    uint64_t inspect_retry_at; /* when it fires, while armed */
    uint64_t rebuild_wanted_at; /* the first change not rebuilt yet; 0: none */
    CURL *ping, *list, *events;
    struct curl_body ping_body, list_body;
    struct ndjson framer;
    struct inspect *inspects;       /* in flight */
    size_t n_inspects;
    struct inspect *queued, **queued_tail; /* waiting for a place, oldest first */
    struct strmap entry_index;      /* container id -> index in entries + 1 */
    size_t initial_pending;
    struct entry *entries;
    size_t n_entries, cap_entries;
    uint64_t gen_counter;
    struct problem_log problems;
    struct arena constraint_arena;
    struct docker_cache cache; /* each container's build, kept between events */
} dp;

static void connect_now(void);
static void rebuild(void);
static void schedule_rebuild(void);
static void schedule_inspect_retry(struct entry *e, bool initial);
static void inspect_pump(void);

/* ---- small helpers ---- */

static CURL *new_request(const char *path, struct curl_body *body, long timeout_ms)
{
    CURL *e = curl_easy_init();
    char url[1024];
    snprintf(url, sizeof(url), "%s%s%s", dp.base_url, dp.api, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    if (dp.socket_path)
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, dp.socket_path);
    if (dp.cert_dir) {
        char f[1100];
        snprintf(f, sizeof(f), "%s/ca.pem", dp.cert_dir);
        curl_easy_setopt(e, CURLOPT_CAINFO, f);
        snprintf(f, sizeof(f), "%s/cert.pem", dp.cert_dir);
        curl_easy_setopt(e, CURLOPT_SSLCERT, f);
        snprintf(f, sizeof(f), "%s/key.pem", dp.cert_dir);
        curl_easy_setopt(e, CURLOPT_SSLKEY, f);
    }
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gantry");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)PING_TIMEOUT_MS);
    if (timeout_ms)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    if (body) {
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, body);
    }
    return e;
}

static void describe_failure(CURL *e, CURLcode rc, char *out, size_t len)
{
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_COULDNT_CONNECT && dp.socket_path) {
        struct stat st;
        if (stat(dp.socket_path, &st) != 0)
            snprintf(out, len, "%s: %s (is dockerd running?)", dp.socket_path, strerror(errno));
        else if (access(dp.socket_path, R_OK | W_OK) != 0)
            snprintf(out, len,
                     "permission denied on %s: run gantry as a member of the socket's group (docker run --group-add %u) "
                     "or as root",
                     dp.socket_path, (unsigned)st.st_gid);
        else
            snprintf(out, len, "%s: connection refused (is dockerd running?)", dp.socket_path);
    } else if (rc == CURLE_HTTP_RETURNED_ERROR) {
        snprintf(out, len, "HTTP status %ld", status);
    } else {
        snprintf(out, len, "%s", curl_easy_strerror(rc));
    }
}

static struct entry *entry_find(const char *id)
{
    uintptr_t i = (uintptr_t)strmap_get(&dp.entry_index, id);
    return i ? &dp.entries[i - 1] : NULL;
}

static struct entry *entry_get(const char *id)
{
    struct entry *e = entry_find(id);
    if (e != NULL)
        return e;
    if (dp.n_entries == dp.cap_entries) {
        dp.cap_entries = dp.cap_entries ? dp.cap_entries * 2 : 64;
        dp.entries = mem_realloc(dp.entries, dp.cap_entries * sizeof(*dp.entries));
    }
    e = &dp.entries[dp.n_entries++];
    *e = (struct entry){.id = mem_strdup(id)};
    *strmap_put(&dp.entry_index, id, &(bool){false}) = (void *)(uintptr_t)dp.n_entries;
    return e;
}

static void entry_remove(struct entry *e)
{
    strmap_del(&dp.entry_index, e->id);
    docker_container_free(e->c);
    free(e->id);
    *e = dp.entries[--dp.n_entries];
    if (e != &dp.entries[dp.n_entries]) /* the last one moved into its place */
        *strmap_put(&dp.entry_index, e->id, &(bool){false}) = (void *)(uintptr_t)(e - dp.entries + 1);
}

static void inspect_free(struct inspect *in)
{
    free(in->id);
    free(in->body.data);
    free(in);
}

/* ---- failure and reconnection ---- */

static void cancel_all(void)
{
    CURL **handles[] = {&dp.ping, &dp.list, &dp.events};
    for (size_t i = 0; i < 3; i++) {
        if (*handles[i]) {
            watcher_remove_transfer(*handles[i]);
            curl_easy_cleanup(*handles[i]);
            *handles[i] = NULL;
        }
    }
    while (dp.inspects) {
        struct inspect *in = dp.inspects;
        dp.inspects = in->next;
        watcher_remove_transfer(in->easy);
        curl_easy_cleanup(in->easy);
        inspect_free(in);
    }
    dp.n_inspects = 0;
    while (dp.queued) {
        struct inspect *in = dp.queued;
        dp.queued = in->next;
        inspect_free(in);
    }
    dp.queued_tail = &dp.queued;
    dp.initial_pending = 0;
    for (size_t i = 0; i < dp.n_entries; i++) {
        dp.entries[i].failures = 0;
        dp.entries[i].retry_due_ms = 0;
        dp.entries[i].why[0] = '\0';
    }
    if (dp.inspect_retry_timer)
        watcher_timer_cancel(dp.inspect_retry_timer);
    if (dp.rebuild_timer)
        watcher_timer_cancel(dp.rebuild_timer);
    dp.rebuild_wanted_at = 0;
}

static void fail(const char *why)
{
    cancel_all();
    status_provider_set("docker", false, dp.ready);
    if (!dp.failing) {
        log_warn("docker provider: %s at %s%s; the last configuration keeps serving, retrying with backoff", why,
                 dp.socket_path ? "unix://" : "", dp.socket_path ? dp.socket_path : dp.base_url);
        dp.failing = true;
    } else if (strcmp(why, dp.last_error) != 0) {
        log_info("docker provider: still unavailable: %s", why);
    }
    snprintf(dp.last_error, sizeof(dp.last_error), "%s", why);
    unsigned shift = dp.attempts < 10 ? dp.attempts : 10;
    uint64_t delay = (uint64_t)BACKOFF_MIN_MS << shift;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    delay = delay / 2 + (uint64_t)rand() % (delay / 2 + 1); /* jitter: half to full */
    dp.attempts++;
    dp.state = ST_BACKOFF;
    watcher_timer_arm(dp.retry_timer, delay);
}

static void on_retry(void *data)
{
    (void)data;
    connect_now();
}

/* ---- inspects ---- */

static void finish_initial_sync(void)
{
    /* containers the daemon no longer lists are gone */
    for (size_t i = 0; i < dp.n_entries;) {
        if (dp.entries[i].stale)
            entry_remove(&dp.entries[i]);
        else
            i++;
    }
    dp.state = ST_LIVE;
    if (dp.failing)
        log_info("docker provider: connected to the Docker API (%s) after %u attempts; resynchronised %zu containers",
                 dp.api + 1, dp.attempts, dp.n_entries);
    else
        log_info("docker provider: connected to the Docker API (%s); %zu containers", dp.api + 1, dp.n_entries);
    dp.failing = false;
    dp.attempts = 0;
    dp.ready = true;
    rebuild();
    status_provider_set("docker", true, true); /* after its model is submitted: /readyz waits for the compile */
}

static void on_inspect(CURL *easy, CURLcode rc, void *data)
{
    struct inspect *in = data;
    for (struct inspect **p = &dp.inspects; *p; p = &(*p)->next)
        if (*p == in) {
            *p = in->next;
            dp.n_inspects--;
            break;
        }
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    log_debug("docker provider: inspect %.12s: curl %d, status %ld", in->id, (int)rc, status);
    struct entry *e = entry_find(in->id);
    bool changed = false, retrying = false;
    if (e != NULL && e->gen == in->gen) { /* only the latest answer counts */
        struct diag d;
        struct docker_container *c = NULL;
        if (rc == CURLE_OK && (c = docker_container_parse(in->body.data, in->body.len, &d)) == NULL)
            snprintf(e->why, sizeof(e->why), "unreadable answer: %.120s", d.msg); /* a failure like any other */
        if (c != NULL) {
            if (e->failures > 0)
                log_info("docker provider: container %.12s inspected after %u failed attempts", in->id, e->failures);
            e->failures = 0, e->why[0] = '\0';
            docker_container_free(e->c);
            e->c = c;
            e->stale = false;
            changed = true;
        } else if (rc != CURLE_OK && status == 404) {
            entry_remove(e); /* gone between the event and the inspect */
            changed = true;
        } else {
            if (rc != CURLE_OK)
                describe_failure(easy, rc, e->why, sizeof(e->why));
            retrying = true;
            schedule_inspect_retry(e, in->initial);
            changed = dp.state == ST_LIVE && e->failures == 1; /* the API shows the problem */
        }
    }
    bool initial = in->initial;
    curl_easy_cleanup(easy);
    inspect_free(in);
    inspect_pump();
    /* a failed initial inspect stays pending: the sync is complete only
     * once every listed container was inspected */
    if (initial && !retrying && dp.initial_pending > 0 && --dp.initial_pending == 0 && dp.state == ST_SYNC &&
        dp.list == NULL) {
        finish_initial_sync();
        return;
    }
    if (changed && dp.state == ST_LIVE)
        schedule_rebuild();
}

/* Starts queued inspects while there is room. */
static void inspect_pump(void)
{
    while (dp.queued != NULL && dp.n_inspects < MAX_INSPECTS_IN_FLIGHT) {
        struct inspect *in = dp.queued;
        dp.queued = in->next;
        if (dp.queued == NULL)
            dp.queued_tail = &dp.queued;
        char path[256];
        snprintf(path, sizeof(path), "/containers/%s/json", in->id);
        in->easy = new_request(path, &in->body, REQUEST_TIMEOUT_MS);
        in->next = dp.inspects;
        dp.inspects = in;
        dp.n_inspects++;
        watcher_add_transfer(in->easy, on_inspect, in);
    }
}

/* Asks for an inspect of <e> (<initial>: counted in initial_pending by the
 * caller); it starts when fewer than MAX_INSPECTS_IN_FLIGHT are running.
 * The generation is taken now: a queued answer still reflects the latest
 * state, an older one in flight is ignored. */
static void inspect_send(struct entry *e, bool initial)
{
    e->gen = ++dp.gen_counter;
    e->retry_due_ms = 0;
    struct inspect *in = mem_calloc(1, sizeof(*in));
    in->id = mem_strdup(e->id);
    in->gen = e->gen;
    in->initial = initial;
    in->body.max = MAX_INSPECT_BODY;
    *dp.queued_tail = in;
    dp.queued_tail = &in->next;
    inspect_pump();
}

static void inspect(const char *id, bool initial)
{
    struct entry *e = entry_get(id);
    if (initial && e->retry_due_ms != 0 && e->retry_initial)
        return; /* already counted, its retry is on the way */
    if (initial)
        dp.initial_pending++;
    else if (e->retry_due_ms != 0 && e->retry_initial)
        initial = true; /* an event for a container whose initial inspect failed: still the sync's */
    inspect_send(e, initial);
}

static void on_inspect_retry(void *data)
{
    (void)data;
    uint64_t now = watcher_now_ms(), next = 0;
    for (size_t i = 0; i < dp.n_entries; i++) {
        struct entry *e = &dp.entries[i];
        if (e->retry_due_ms == 0)
            continue;
        if (e->retry_due_ms <= now)
            inspect_send(e, e->retry_initial);
        else if (next == 0 || e->retry_due_ms < next)
            next = e->retry_due_ms;
    }
    if (next != 0) {
        dp.inspect_retry_at = next;
        watcher_timer_arm(dp.inspect_retry_timer, next - now);
    }
}

/* Asks for <e> again after a backoff (200 ms doubling to 10 s). */
static void schedule_inspect_retry(struct entry *e, bool initial)
{
    e->failures++;
    unsigned shift = e->failures - 1 < 6 ? e->failures - 1 : 6;
    uint64_t delay = (uint64_t)INSPECT_RETRY_MIN_MS << shift;
    if (delay > INSPECT_RETRY_MAX_MS)
        delay = INSPECT_RETRY_MAX_MS;
    e->retry_due_ms = watcher_now_ms() + delay;
    e->retry_initial = initial;
    if (e->failures == 1 || e->failures % 10 == 0)
        log_warn("docker provider: inspect of container %.12s failed (%s, %u time%s); retrying in %llu ms%s", e->id, e->why,
                 e->failures, e->failures == 1 ? "" : "s", (unsigned long long)delay,
                 initial ? "; the initial synchronisation waits for it" : "");
    if (!watcher_timer_armed(dp.inspect_retry_timer) || dp.inspect_retry_at > e->retry_due_ms) {
        dp.inspect_retry_at = e->retry_due_ms;
        watcher_timer_arm(dp.inspect_retry_timer, delay);
    }
}

/* ---- events ---- */

static bool terminating_signal(int sig)
{
    return sig == 2 || sig == 3 || sig == 9 || sig == 15; /* INT QUIT KILL TERM */
}

static void on_event_line(const char *line, size_t len, void *data)
{
    (void)data;
    struct docker_event ev;
    struct diag d;
    if (docker_event_parse(line, len, &ev, &d) != 0) {
        log_warn("docker provider: ignoring a malformed event (%s)", d.msg);
        return;
    }
    if (strcmp(ev.type, "container") != 0 || strncmp(ev.action, "exec_", 5) == 0)
        return;
    log_debug("docker provider: event %s %.12s", ev.action, ev.id);
    if (strcmp(ev.action, "destroy") == 0) {
        struct entry *e = entry_find(ev.id);
        if (e != NULL) {
            bool waited = e->retry_due_ms != 0 && e->retry_initial; /* the initial sync waits for it no more */
            entry_remove(e);
            if (waited && dp.initial_pending > 0 && --dp.initial_pending == 0 && dp.state == ST_SYNC && dp.list == NULL) {
                finish_initial_sync();
                return;
            }
            if (dp.state == ST_LIVE)
                schedule_rebuild();
        }
        return;
    }
    if (strcmp(ev.action, "kill") == 0 && terminating_signal(ev.signal)) {
        /* docker stop: take it out of rotation before it goes away */
        struct entry *e = entry_find(ev.id);
        if (e != NULL && e->c != NULL && !e->c->stopping) {
            e->c->stopping = true;
            if (dp.state == ST_LIVE)
                schedule_rebuild();
        }
        return;
    }
    static const char *const relevant[] = {"start", "restart", "unpause", "pause", "die", "stop", "health_status",
                                           "rename", "update", "oom", NULL};
    for (const char *const *a = relevant; *a; a++)
        if (strcmp(ev.action, *a) == 0) {
            inspect(ev.id, false);
            return;
        }
}

static size_t on_events_data(char *p, size_t size, size_t n, void *data)
{
    (void)data;
    size_t dropped = dp.framer.dropped;
    ndjson_feed(&dp.framer, p, size * n, on_event_line, NULL);
    if (dp.framer.dropped != dropped)
        log_warn("docker provider: an event longer than %d bytes was dropped", MAX_EVENT_LINE);
    return size * n;
}

static void on_events_done(CURL *easy, CURLcode rc, void *data)
{
    (void)data;
    char why[300];
    if (rc == CURLE_OK)
        snprintf(why, sizeof(why), "the event stream ended");
    else
        describe_failure(easy, rc, why, sizeof(why));
    curl_easy_cleanup(easy);
    dp.events = NULL;
    fail(why);
}

static void start_events(void)
{
    /* since: a second back, so nothing between this request and the list is lost */
    char path[256];
    snprintf(path, sizeof(path), "/events?since=%lld&filters=%%7B%%22type%%22%%3A%%5B%%22container%%22%%5D%%7D",
             (long long)time(NULL) - 1);
    ndjson_reset(&dp.framer);
    dp.events = new_request(path, NULL, 0);
    curl_easy_setopt(dp.events, CURLOPT_WRITEFUNCTION, on_events_data);
    curl_easy_setopt(dp.events, CURLOPT_TCP_KEEPALIVE, 1L);
    watcher_add_transfer(dp.events, on_events_done, NULL);
}

/* ---- list and ping ---- */

static void on_list(CURL *easy, CURLcode rc, void *data)
{
    (void)data;
    char why[300];
    if (rc != CURLE_OK) {
        describe_failure(easy, rc, why, sizeof(why));
        curl_easy_cleanup(easy);
        dp.list = NULL;
        fail(dp.list_body.too_big ? "container list too large" : why);
        return;
    }
    curl_easy_cleanup(easy);
    dp.list = NULL;
    char **ids;
    size_t n;
    struct diag d;
    if (docker_list_parse(dp.list_body.data, dp.list_body.len, &ids, &n, &d) != 0) {
        fail(d.msg);
        return;
    }
    for (size_t i = 0; i < dp.n_entries; i++)
        dp.entries[i].stale = true;
    for (size_t i = 0; i < n; i++) {
        inspect(ids[i], true);
        free(ids[i]);
    }
    free(ids);
    curl_body_reset(&dp.list_body, MAX_LIST_BODY);
    if (dp.initial_pending == 0)
        finish_initial_sync();
}

static size_t on_ping_header(char *p, size_t size, size_t n, void *data)
{
    (void)data;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Api-Version:", 12) == 0) {
        const char *v = p + 12;
        while (*v == ' ')
            v++;
        size_t vl = strcspn(v, "\r\n");
        if (vl > 0 && vl < 8) /* "1.41" */
            snprintf(dp.api, sizeof(dp.api), "/v%.*s", (int)vl, v);
    }
    return len;
}

static void on_ping(CURL *easy, CURLcode rc, void *data)
{
    (void)data;
    char why[300];
    if (rc != CURLE_OK) {
        describe_failure(easy, rc, why, sizeof(why));
        curl_easy_cleanup(easy);
        dp.ping = NULL;
        fail(why);
        return;
    }
    curl_easy_cleanup(easy);
    dp.ping = NULL;
    if (dp.api[0] == '\0')
        snprintf(dp.api, sizeof(dp.api), "/v1.24"); /* a daemon too old to say: the oldest we speak */
    dp.state = ST_SYNC;
    start_events();
    curl_body_reset(&dp.list_body, MAX_LIST_BODY);
    dp.list = new_request("/containers/json", &dp.list_body, REQUEST_TIMEOUT_MS);
    watcher_add_transfer(dp.list, on_list, NULL);
}

static void connect_now(void)
{
    cancel_all();
    dp.state = ST_PING;
    dp.api[0] = '\0';
    curl_body_reset(&dp.ping_body, 4096);
    dp.ping = new_request("/_ping", &dp.ping_body, PING_TIMEOUT_MS); /* unversioned */
    curl_easy_setopt(dp.ping, CURLOPT_HEADERFUNCTION, on_ping_header);
    watcher_add_transfer(dp.ping, on_ping, NULL);
}

/* ---- model ---- */

static void on_rebuild(void *data)
{
    (void)data;
    if (dp.state == ST_LIVE)
        rebuild();
}

/* Events and inspects land in bursts (300 containers started at once): one
 * rebuild after the loop pass that delivered them, not one each. While
 * inspects are still out (queued 32 at a time, they answer in waves), the
 * rebuild waits for them up to REBUILD_HOLD_MS after the first change: one
 * rebuild for the burst instead of one per wave. A lone event has nothing
 * out when its inspect answers: rebuilt at once. */
static void schedule_rebuild(void)
{
    uint64_t now = watcher_now_ms();
    if (dp.rebuild_wanted_at == 0)
        dp.rebuild_wanted_at = now;
    uint64_t due = dp.rebuild_wanted_at + REBUILD_HOLD_MS;
    uint64_t delay = (dp.n_inspects > 0 || dp.queued != NULL) && due > now ? due - now : 0;
    if (!watcher_timer_armed(dp.rebuild_timer) || delay == 0)
        watcher_timer_arm(dp.rebuild_timer, delay);
}

static void rebuild(void)
{
    watcher_timer_cancel(dp.rebuild_timer);
    dp.rebuild_wanted_at = 0;
    struct docker_container **items = mem_alloc((dp.n_entries ? dp.n_entries : 1) * sizeof(*items));
    size_t n = 0;
    for (size_t i = 0; i < dp.n_entries; i++)
        if (dp.entries[i].c != NULL)
            items[n++] = dp.entries[i].c;
    struct docker_store store = {items, n};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct timespec t0, t1; /* CPU time of this thread: the machine's load does not count */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
    struct model *m = docker_build_cached(&dp.cache, &store, &dp.opts, &pa, &problems);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    free(items);
    log_debug("docker provider: model of %zu containers in %.3f ms CPU: %zu built, %zu kept, %zu name groups merged", n,
              (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, dp.cache.last_built,
              dp.cache.last_kept, dp.cache.last_merged);
    for (size_t i = 0; i < dp.n_entries; i++)
        if (dp.entries[i].failures > 0)
            ptr_vec_push(&pa, &problems,
                         arena_printf(&pa, "container %.12s: inspect failed (%s); retrying with backoff", dp.entries[i].id,
                                      dp.entries[i].why));
    problem_log_update(&dp.problems, "docker", &problems, m);
    model_set_digest(m, m->digest); /* the pieces' digests and the problems: no walk over the model */
    arena_free(&pa);
    aggregator_submit(m);
}

/* ---- start and stop ---- */

static int parse_endpoint(const char *endpoint, struct diag *d)
{
    if (strncmp(endpoint, "unix://", 7) == 0) {
        dp.socket_path = mem_strdup(endpoint + 7);
        dp.base_url = mem_strdup("http://docker");
        return 0;
    }
    if (strncmp(endpoint, "tcp://", 6) == 0 || strncmp(endpoint, "http://", 7) == 0 || strncmp(endpoint, "https://", 8) == 0) {
        const char *hostport = strstr(endpoint, "://") + 3;
        const char *cert_dir = getenv("DOCKER_CERT_PATH");
        bool tls = strncmp(endpoint, "https://", 8) == 0 || (cert_dir && *cert_dir) ||
                   (getenv("DOCKER_TLS_VERIFY") && *getenv("DOCKER_TLS_VERIFY"));
        char url[512];
        snprintf(url, sizeof(url), "%s://%s", tls ? "https" : "http", hostport);
        size_t l = strlen(url);
        if (l > 0 && url[l - 1] == '/')
            url[l - 1] = '\0';
        dp.base_url = mem_strdup(url);
        if (tls && cert_dir && *cert_dir)
            dp.cert_dir = mem_strdup(cert_dir);
        return 0;
    }
    return diag_set(d, "providers.docker.endpoint: unsupported endpoint '%s' (expected unix:///path or tcp://host:port)",
                    endpoint);
}

int provider_docker_start(const struct docker_provider_config *cfg, struct diag *d)
{
    memset(&dp, 0, sizeof(dp));
    problem_log_init(&dp.problems);
    strmap_init(&dp.entry_index);
    dp.queued_tail = &dp.queued;
    arena_init(&dp.constraint_arena);
    docker_cache_init(&dp.cache);
    const char *endpoint = cfg->endpoint;
    const char *env = getenv("DOCKER_HOST");
    if (!cfg->endpoint_set && env && *env)
        endpoint = env;
    if (parse_endpoint(endpoint, d) != 0)
        return -1;
    dp.opts = (struct docker_options){
        .label_prefix = cfg->label_prefix,
        .exposed_by_default = cfg->exposed_by_default,
        .network = cfg->network,
        .default_rule = cfg->default_rule,
        .host_ip = cfg->host_ip,
    };
    if (cfg->constraints && *cfg->constraints) {
        struct diag cd;
        dp.opts.constraints = rule_parse_constraint(&dp.constraint_arena, cfg->constraints, &cd);
        if (dp.opts.constraints == NULL)
            return diag_set(d, "providers.docker.constraints: %s", cd.msg);
    }
    /* a defaultRule that cannot expand is a configuration error: say so now */
    struct docker_container probe = {.name = "probe", .network_mode = ""};
    struct arena a;
    arena_init(&a);
    char *rule = docker_expand_rule(&a, cfg->default_rule, "probe", &probe, d);
    arena_free(&a);
    if (rule == NULL)
        return diag_set(d, "providers.docker.defaultRule: %s", d->msg);
    ndjson_init(&dp.framer, MAX_EVENT_LINE);
    dp.retry_timer = watcher_timer_new(on_retry, NULL);
    dp.rebuild_timer = watcher_timer_new(on_rebuild, NULL);
    dp.inspect_retry_timer = watcher_timer_new(on_inspect_retry, NULL);
    dp.started = true;
    status_provider_set("docker", false, false);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    connect_now();
    return 0;
}

void provider_docker_stop(void)
{
    if (!dp.started)
        return;
    cancel_all();
    watcher_timer_free(dp.retry_timer);
    watcher_timer_free(dp.rebuild_timer);
    watcher_timer_free(dp.inspect_retry_timer);
    while (dp.n_entries)
        entry_remove(&dp.entries[0]);
    free(dp.entries);
    strmap_free(&dp.entry_index, NULL);
    curl_body_reset(&dp.ping_body, 0);
    curl_body_reset(&dp.list_body, 0);
    ndjson_free(&dp.framer);
    free(dp.socket_path);
    free(dp.base_url);
    free(dp.cert_dir);
    problem_log_free(&dp.problems);
    docker_cache_clear(&dp.cache);
    arena_free(&dp.constraint_arena);
    dp.started = false;
}
