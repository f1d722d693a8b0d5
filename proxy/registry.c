/*
 * Server registry (see registry.h): a string map keyed by canonical URL,
 * owned by the watcher thread.
 */
#include "registry.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/arena.h"
#include "../common/dns.h"
#include "../common/hostport.h"
#include "../common/log.h"
#include "../common/strmap.h"
#include "transport.h"

static struct strmap servers = {.borrowed_keys = true}; /* key (in the server) -> struct server */
static uint32_t registry_workers = 1;
static size_t live_servers;
static _Atomic size_t names_unanswered;

void (*registry_retire_hook)(uint32_t worker, struct server *s);

void registry_init(uint32_t n_workers)
{
    registry_workers = n_workers ? n_workers : 1;
}

static void server_free(struct server *s)
{
    dns_unwatch(s->dns);
    pthread_mutex_destroy(&s->addr_lock);
    if (s->transport != NULL)
        transport_release(s->transport);
    free(s->dns_error);
    free(s); /* its workers and strings too */
}

static void server_free_any(void *s)
{
    server_free(s);
}

void registry_shutdown(void)
{
    live_servers -= servers.n;
    strmap_free(&servers, server_free_any);
    dns_shutdown();
}

/* What a URL names, before a server is allocated for it. */
struct server_names {
    struct server_url u;
    char hostport[300]; /* Host header */
    char canon[320];    /* canonical URL */
};

/* Splits <url> and writes its canonical form. <tcp>: only
 * "tcp://host:port" (TCP routers' servers, which share the resolution). */
static int names_of(const char *url, bool tcp, struct server_names *n, struct diag *d)
{
    struct server_url *u = &n->u;
    if (server_url_parse(url, tcp, u, d) != 0)
        return -1;
    bool tls = strcmp(u->scheme, "https") == 0;
    bool v6 = strchr(u->host, ':') != NULL;
    bool default_port = (u->port == 80 && !tls) || (u->port == 443 && tls);
    if (default_port)
        snprintf(n->hostport, sizeof(n->hostport), v6 ? "[%s]" : "%s", u->host);
    else
        snprintf(n->hostport, sizeof(n->hostport), v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
    const char *scheme = tcp ? "tcp" : tls ? "https" : strcmp(u->scheme, "h2c") == 0 ? "h2c" : "http";
    if (default_port)
        snprintf(n->canon, sizeof(n->canon), "%s://%s:%d", scheme, n->hostport, u->port);
    else
        snprintf(n->canon, sizeof(n->canon), "%s://%s", scheme, n->hostport);
    return 0;
}

/* Copies <s> to <*at> and moves past it. */
static const char *place(char **at, const char *s, size_t len)
{
    char *p = *at;
    memcpy(p, s, len + 1);
    *at += len + 1;
    return p;
}

_Static_assert(sizeof(struct server) % 64 == 0, "the workers' blocks start on a cache line");

/* One block: the server, its workers' blocks, then its strings. */
static struct server *server_new(const struct server_names *n, const char *key, bool keyed_by_url)
{
    size_t head = sizeof(struct server); /* a multiple of 64: the workers' blocks are aligned */
    size_t workers = sizeof(struct server_worker) * registry_workers;
    size_t l_url = strlen(n->canon), l_key = keyed_by_url ? 0 : strlen(key), l_host = strlen(n->u.host),
           l_hp = strlen(n->hostport);
    size_t size = head + workers + l_url + 1 + (keyed_by_url ? 0 : l_key + 1) + l_host + 1 + l_hp + 1;
    struct server *s = aligned_alloc(64, (size + 63) & ~(size_t)63);
    if (s == NULL)
        abort();
    memset(s, 0, head + workers);
    s->n_workers = registry_workers;
    for (uint32_t i = 0; i < registry_workers; i++) {
        h2o_linklist_init_anchor(&s->workers[i].idle);
        h2o_linklist_init_anchor(&s->workers[i].orphans);
        h2o_linklist_init_anchor(&s->workers[i].h2_conns);
    }
    char *at = (char *)s + head + workers;
    s->url = place(&at, n->canon, l_url);
    s->key = keyed_by_url ? s->url : place(&at, key, l_key);
    s->host = place(&at, n->u.host, l_host);
    s->hostport = place(&at, n->hostport, l_hp);
    s->tls = strcmp(n->u.scheme, "https") == 0;
    s->h2c = strcmp(n->u.scheme, "h2c") == 0; /* cleartext HTTP/2 with prior knowledge */
    s->port = n->u.port;
    pthread_mutex_init(&s->addr_lock, NULL);
    struct sockaddr_storage ss;
    socklen_t len;
    /* a literal IP never touches the resolver; a name is resolved later */
    if (dns_literal(s->host, s->port, &ss, &len) && len <= sizeof(s->addr)) {
        memcpy(&s->addr, &ss, len);
        s->addrlen = len;
        atomic_init(&s->resolved, 1);
    }
    return s;
}

static struct server *find(const char *key)
{
    return strmap_get(&servers, key);
}

/* url, or url + "|" + the transport's digest */
static char *server_key(const char *url, const struct transport *t)
{
    if (t == NULL)
        return mem_strdup(url);
    size_t n = strlen(url) + strlen(t->key) + 2;
    char *k = mem_alloc(n);
    snprintf(k, n, "%s|%s", url, t->key);
    return k;
}

static void set_dns_error(struct server *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Under addr_lock (or before the server is shared). */
static void set_dns_error(struct server *s, const char *fmt, ...)
{
    char msg[SERVER_DNS_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    free(s->dns_error);
    s->dns_error = mem_strdup(msg);
}

/* Resolver thread: a new answer for the server's name. */
static void on_dns(void *ctx, const struct dns_addrs *a, const char *err)
{
    struct server *s = ctx;
    pthread_mutex_lock(&s->addr_lock);
    if (s->awaiting_first) {
        s->awaiting_first = false;
        atomic_fetch_sub(&names_unanswered, 1);
    }
    bool was = atomic_load(&s->resolved);
    if (a != NULL) {
        if (a->len[0] > sizeof(s->addr)) { /* not IPv4 or IPv6: keep what there is */
            pthread_mutex_unlock(&s->addr_lock);
            return;
        }
        bool changed = !was || s->addrlen != a->len[0] || memcmp(&s->addr, &a->addr[0], a->len[0]) != 0;
        bool had_error = s->dns_error != NULL;
        free(s->dns_error);
        s->dns_error = NULL;
        if (changed) {
            memcpy(&s->addr, &a->addr[0], a->len[0]);
            s->addrlen = a->len[0];
            atomic_fetch_add(&s->addr_gen, 1);
        }
        pthread_mutex_unlock(&s->addr_lock);
        atomic_store(&s->resolved, 1);
        if (changed || had_error) {
            char ip[INET6_ADDRSTRLEN] = "?";
            const struct sockaddr *sa = (const struct sockaddr *)&a->addr[0];
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip));
            else
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, ip, sizeof(ip));
            if (was || had_error)
                log_info("server %s: %s resolves to %s now", s->url, s->host, ip);
            else
                log_debug("server %s: %s resolves to %s", s->url, s->host, ip);
        }
        return;
    }
    /* A name that stops resolving keeps its last address (a resolver outage
     * must not take a working server out); one never resolved stays out. */
    bool first = s->dns_error == NULL;
    set_dns_error(s, "cannot resolve '%s': %s", s->host, err);
    pthread_mutex_unlock(&s->addr_lock);
    if (first)
        log_error("server %s: cannot resolve '%s': %s%s (retrying)", s->url, s->host, err,
                  was ? ", keeping its last address" : ", unavailable");
}

uint32_t server_address(struct server *s, struct sockaddr_storage *ss, socklen_t *len)
{
    pthread_mutex_lock(&s->addr_lock);
    memcpy(ss, &s->addr, s->addrlen);
    *len = s->addrlen;
    uint32_t gen = atomic_load(&s->addr_gen);
    pthread_mutex_unlock(&s->addr_lock);
    return gen;
}

void server_dns_error(struct server *s, char *buf, size_t size)
{
    pthread_mutex_lock(&s->addr_lock);
    snprintf(buf, size, "%s", s->dns_error ? s->dns_error : "");
    pthread_mutex_unlock(&s->addr_lock);
}

struct server *registry_acquire(const char *url, struct diag *d)
{
    return registry_acquire_via(url, NULL, d);
}

static struct server *acquire(const char *url, bool tcp, struct transport *t, struct diag *d);

struct server *registry_acquire_via(const char *url, struct transport *t, struct diag *d)
{
    return acquire(url, false, t, d);
}

struct server *registry_acquire_tcp(const char *address, struct diag *d)
{
    char url[300];
    if (strlen(address) > 280)
        return diag_set(d, "address '%s': too long", address), NULL;
    snprintf(url, sizeof(url), "tcp://%s", address);
    return acquire(url, true, NULL, d);
}

static struct server *acquire(const char *url, bool tcp, struct transport *t, struct diag *d)
{
    /* Most URLs are already canonical: avoid resolving them again. */
    char *key = server_key(url, t);
    struct server *s = find(key);
    free(key);
    if (s != NULL) {
        atomic_fetch_add(&s->refs, 1);
        return s;
    }
    /* canonicalise so that "http://a:80" and "http://a" share a server */
    struct server_names names;
    if (names_of(url, tcp, &names, d) != 0)
        return NULL;
    key = server_key(names.canon, t);
    s = find(key);
    if (s != NULL) {
        free(key);
        atomic_fetch_add(&s->refs, 1);
        return s;
    }
    s = server_new(&names, key, t == NULL);
    free(key);
    if (t != NULL) {
        transport_ref(t);
        s->transport = t;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->healthy, 1);
    atomic_init(&s->down_until_ms, 0);
    *strmap_put(&servers, s->key, NULL) = s;
    live_servers++;
    if (!atomic_load(&s->resolved)) {
        s->awaiting_first = true; /* before the watch: its answer may come at once */
        atomic_fetch_add(&names_unanswered, 1);
        s->dns = dns_watch(s->host, s->port, on_dns, s);
        if (s->dns == NULL) {
            s->awaiting_first = false;
            atomic_fetch_sub(&names_unanswered, 1);
            set_dns_error(s, "cannot resolve '%s': no resolver", s->host);
        }
    }
    return s;
}

void registry_release(struct server *s)
{
    if (atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    strmap_del(&servers, s->key);
    live_servers--;
    dns_unwatch(s->dns); /* no answer touches s after this */
    s->dns = NULL;
    if (s->awaiting_first) {
        s->awaiting_first = false;
        atomic_fetch_sub(&names_unanswered, 1);
    }
    if (registry_retire_hook == NULL) {
        server_free(s);
        return;
    }
    uint32_t n = s->n_workers; /* the last worker to answer frees s */
    atomic_store(&s->pending_workers, (int)n);
    for (uint32_t i = 0; i < n; i++)
        registry_retire_hook(i, s);
}

void registry_worker_done(struct server *s)
{
    if (atomic_fetch_sub(&s->pending_workers, 1) == 1)
        server_free(s);
}

size_t registry_names_unanswered(void)
{
    return atomic_load(&names_unanswered);
}

size_t registry_count(void)
{
    return live_servers;
}

bool server_available(const struct server *s, int64_t now_ms)
{
    return server_healthy(s) && atomic_load_explicit(&s->down_until_ms, memory_order_relaxed) <= now_ms;
}

bool server_passive_failure(struct server *s, int64_t now_ms, uint64_t window_ms, uint32_t max_failed)
{
    int64_t since = atomic_load_explicit(&s->passive_since_ms, memory_order_relaxed);
    uint32_t n;
    if (atomic_load_explicit(&s->passive_failures, memory_order_relaxed) == 0 || now_ms - since > (int64_t)window_ms) {
        atomic_store_explicit(&s->passive_since_ms, now_ms, memory_order_relaxed);
        atomic_store_explicit(&s->passive_failures, 1, memory_order_relaxed);
        n = 1;
    } else {
        n = atomic_fetch_add_explicit(&s->passive_failures, 1, memory_order_relaxed) + 1;
    }
    if (n < (max_failed ? max_failed : 1))
        return false;
    atomic_store_explicit(&s->passive_failures, 0, memory_order_relaxed);
    int64_t prev = atomic_exchange(&s->down_until_ms, now_ms + (int64_t)window_ms);
    return prev <= now_ms;
}

void server_passive_success(struct server *s, uint64_t ttfb_us)
{
    if (atomic_load_explicit(&s->passive_failures, memory_order_relaxed) != 0)
        atomic_store_explicit(&s->passive_failures, 0, memory_order_relaxed);
    /* EWMA with weight 1/8; races between workers lose a sample, no more */
    uint64_t old = atomic_load_explicit(&s->ttfb_ewma_us, memory_order_relaxed);
    uint64_t next = old == 0 ? ttfb_us : old - old / 8 + ttfb_us / 8;
    atomic_store_explicit(&s->ttfb_ewma_us, next, memory_order_relaxed);
}
