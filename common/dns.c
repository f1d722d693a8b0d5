/*
 * The resolver thread (see dns.h). c-ares 1.18 channels are not thread
 * safe, so the channel is only touched by the resolver thread or under
 * <lock>; the thread drops the lock only while it sleeps in poll().
 */
#include "dns.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "log.h"

struct dns_watch {
    struct dns_watch *next, *prev;
    char *host;
    int port;
    dns_result_cb cb;
    void *ctx;
    int64_t due_ms;
    uint32_t failures;
    bool in_flight;
    bool cancelled; /* unwatched while its question was out: the answer frees it */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t thread;
static bool started, running;
static int wake_fd[2] = {-1, -1};
static ares_channel channel;
static struct dns_watch *watches;

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint32_t dns_next_delay_ms(bool ok, int32_t ttl_s, uint32_t failures)
{
    uint64_t s;
    if (ok) {
        s = ttl_s < DNS_MIN_INTERVAL_S ? DNS_MIN_INTERVAL_S : (uint64_t)ttl_s;
    } else {
        uint32_t shift = failures == 0 ? 0 : failures - 1;
        s = shift >= 16 ? DNS_MAX_INTERVAL_S : (uint64_t)DNS_MIN_INTERVAL_S << shift;
    }
    if (s > DNS_MAX_INTERVAL_S)
        s = DNS_MAX_INTERVAL_S;
    return (uint32_t)(s * 1000);
}

bool dns_literal(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *len = sizeof(*v4);
        return true;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*v6);
        return true;
    }
    return false;
}

static void wake(void)
{
    char c = 1;
    if (write(wake_fd[1], &c, 1) < 0 && errno != EAGAIN)
        log_warn("dns: cannot wake the resolver thread: %s", strerror(errno));
}

static void watch_free(struct dns_watch *w)
{
    free(w->host);
    free(w);
}

static void on_answer(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
    (void)timeouts;
    struct dns_watch *w = arg;
    w->in_flight = false;
    if (w->cancelled || status == ARES_EDESTRUCTION) {
        if (res != NULL)
            ares_freeaddrinfo(res);
        if (w->cancelled)
            watch_free(w);
        return;
    }
    struct dns_addrs a = {.n = 0};
    int32_t ttl = DNS_MAX_INTERVAL_S;
    if (status == ARES_SUCCESS && res != NULL) {
        for (struct ares_addrinfo_node *n = res->nodes; n != NULL && a.n < DNS_MAX_ADDRS; n = n->ai_next) {
            if ((n->ai_family != AF_INET && n->ai_family != AF_INET6) || n->ai_addrlen > sizeof(a.addr[0]))
                continue;
            memcpy(&a.addr[a.n], n->ai_addr, n->ai_addrlen);
            a.len[a.n] = n->ai_addrlen;
            if (n->ai_family == AF_INET)
                ((struct sockaddr_in *)&a.addr[a.n])->sin_port = htons((uint16_t)w->port);
            else
                ((struct sockaddr_in6 *)&a.addr[a.n])->sin6_port = htons((uint16_t)w->port);
            if (n->ai_ttl < ttl)
                ttl = n->ai_ttl;
            a.n++;
        }
    }
    if (res != NULL)
        ares_freeaddrinfo(res);
    if (a.n > 0) {
        w->failures = 0;
        w->due_ms = mono_ms() + dns_next_delay_ms(true, ttl, 0);
        w->cb(w->ctx, &a, NULL);
    } else {
        w->failures++;
        w->due_ms = mono_ms() + dns_next_delay_ms(false, 0, w->failures);
        w->cb(w->ctx, NULL, status == ARES_SUCCESS ? "no address" : ares_strerror(status));
    }
}

static void ask(struct dns_watch *w)
{
    struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    w->in_flight = true; /* before: a hosts-file answer comes back inside the call */
    ares_getaddrinfo(channel, w->host, NULL, &hints, on_answer, w);
}

static void *resolver_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&lock);
    while (running) {
        int64_t now = mono_ms(), next = now + DNS_MAX_INTERVAL_S * 1000;
        for (struct dns_watch *w = watches; w != NULL; w = w->next) {
            if (w->in_flight)
                continue;
            if (w->due_ms <= now)
                ask(w);
            else if (w->due_ms < next)
                next = w->due_ms;
        }
        struct timeval max = {.tv_sec = (next - now) / 1000, .tv_usec = (next - now) % 1000 * 1000}, tv;
        struct timeval *t = ares_timeout(channel, &max, &tv);
        int timeout_ms = (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
        ares_socket_t socks[ARES_GETSOCK_MAXNUM];
        int bits = ares_getsock(channel, socks, ARES_GETSOCK_MAXNUM);
        struct pollfd pfd[ARES_GETSOCK_MAXNUM + 1] = {{.fd = wake_fd[0], .events = POLLIN}};
        nfds_t n = 1;
        for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
            /* c-ares' own macros shift a signed 1 into the sign bit (UB) */
            unsigned r = ((unsigned)bits >> i) & 1u, w = ((unsigned)bits >> (i + ARES_GETSOCK_MAXNUM)) & 1u;
            short ev = (short)((r ? POLLIN : 0) | (w ? POLLOUT : 0));
            if (ev)
                pfd[n++] = (struct pollfd){.fd = socks[i], .events = ev};
        }
        pthread_mutex_unlock(&lock);
        poll(pfd, n, timeout_ms);
        pthread_mutex_lock(&lock);
        if (pfd[0].revents) {
            char buf[64];
            while (read(wake_fd[0], buf, sizeof(buf)) > 0) {
            }
        }
        for (nfds_t i = 1; i < n; i++) {
            short r = pfd[i].revents;
            if (r)
                ares_process_fd(channel, r & (POLLIN | POLLERR | POLLHUP) ? pfd[i].fd : ARES_SOCKET_BAD,
                                r & POLLOUT ? pfd[i].fd : ARES_SOCKET_BAD);
        }
        ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD); /* timeouts */
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Under <lock>. */
static bool start(void)
{
    if (started)
        return true;
    int rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc == ARES_SUCCESS)
        rc = ares_init(&channel);
    if (rc != ARES_SUCCESS) {
        log_error("dns: cannot start the resolver: %s", ares_strerror(rc));
        return false;
    }
    const char *servers = getenv("GANTRY_DNS_SERVERS");
    if (servers != NULL && *servers) {
        rc = ares_set_servers_ports_csv(channel, servers);
        if (rc != ARES_SUCCESS)
            log_error("dns: GANTRY_DNS_SERVERS '%s': %s", servers, ares_strerror(rc));
    }
    if (pipe2(wake_fd, O_NONBLOCK | O_CLOEXEC) != 0) {
        log_error("dns: pipe: %s", strerror(errno));
        ares_destroy(channel);
        return false;
    }
    running = true;
    if (pthread_create(&thread, NULL, resolver_main, NULL) != 0) {
        log_error("dns: cannot start the resolver thread");
        running = false;
        close(wake_fd[0]);
        close(wake_fd[1]);
        ares_destroy(channel);
        return false;
    }
    started = true;
    return true;
}

struct dns_watch *dns_watch(const char *host, int port, dns_result_cb cb, void *ctx)
{
    pthread_mutex_lock(&lock);
    if (!start()) {
        pthread_mutex_unlock(&lock);
        return NULL;
    }
    struct dns_watch *w = mem_calloc(1, sizeof(*w));
    w->host = mem_strdup(host);
    w->port = port;
    w->cb = cb;
    w->ctx = ctx;
    w->next = watches;
    if (watches != NULL)
        watches->prev = w;
    watches = w;
    wake();
    pthread_mutex_unlock(&lock);
    return w;
}

void dns_unwatch(struct dns_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&lock);
    if (w->prev != NULL)
        w->prev->next = w->next;
    else
        watches = w->next;
    if (w->next != NULL)
        w->next->prev = w->prev;
    if (w->in_flight)
        w->cancelled = true;
    else
        watch_free(w);
    pthread_mutex_unlock(&lock);
}

void dns_shutdown(void)
{
    pthread_mutex_lock(&lock);
    if (!started) {
        pthread_mutex_unlock(&lock);
        return;
    }
    running = false;
    wake();
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    ares_destroy(channel); /* answers still out: cancelled watches are freed */
    ares_library_cleanup();
    close(wake_fd[0]);
    close(wake_fd[1]);
    started = false;
}
