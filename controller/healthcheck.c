/*
 * Active health checks (loadBalancer.healthCheck), run on the watcher
 * thread through the curl multi handle, off the data plane. Each checked
 * server gets one curl handle (reused, so the check keeps its keep-alive
 * connection) and one timer. The result is one atomic store into the
 * registry server, which every table and worker sees; a transition is
 * logged once.
 *
 * A server is checked once even if several services name it; the most
 * recently compiled configuration of its check wins.
 */
#include "healthcheck.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "../proxy/registry.h"
#include "watcher.h"

struct check {
    struct check *next;
    struct server *srv; /* holds a registry reference */
    char *url;          /* what we GET */
    char *host_header;  /* NULL: curl's default */
    char *method;
    char *service;
    int status; /* 0: 2xx/3xx */
    uint64_t interval_ms, unhealthy_interval_ms, timeout_ms;
    struct curl_slist *headers;
    CURL *easy;
    struct watcher_timer *timer;
    bool in_flight, seen, last_healthy, first_done;
    /* mode: grpc — grpc.health.v1.Health/Check over HTTP/2 */
    bool grpc;
    int grpc_status; /* from the response head or trailers; -1: none seen */
    unsigned char body[16];
    size_t body_len;
};

static struct check *checks;

static void schedule(struct check *c)
{
    watcher_timer_arm(c->timer, c->last_healthy ? c->interval_ms : c->unhealthy_interval_ms);
}

static void set_health(struct check *c, bool healthy, const char *why)
{
    int prev = atomic_exchange(&c->srv->healthy, healthy ? 1 : 0);
    if (prev != (healthy ? 1 : 0) || !c->first_done) {
        if (healthy && prev)
            log_debug("health check %s (service %s): healthy", c->url, c->service);
        else if (healthy)
            log_info("health check %s (service %s): healthy again", c->url, c->service);
        else
            log_warn("health check %s (service %s): unhealthy (%s); removed from load balancing", c->url, c->service, why);
    }
    c->first_done = true;
    c->last_healthy = healthy;
}

static void on_done(CURL *easy, CURLcode rc, void *data)
{
    struct check *c = data;
    c->in_flight = false;
    char why[CURL_ERROR_SIZE + 64];
    if (rc != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", curl_easy_strerror(rc));
        set_health(c, false, why);
    } else if (c->grpc) {
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        /* one message: 5-byte prefix, then HealthCheckResponse{status (field 1) = SERVING (1)} */
        bool serving = c->body_len == 7 && c->body[0] == 0 && c->body[4] == 2 && c->body[5] == 0x08 && c->body[6] == 1;
        snprintf(why, sizeof(why), "HTTP status %ld, grpc-status %d, %s", code, c->grpc_status,
                 serving ? "SERVING" : "not SERVING");
        set_health(c, code == 200 && c->grpc_status == 0 && serving, why);
    } else {
        long code = 0;
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
        bool ok = c->status ? code == c->status : code >= 200 && code < 400;
        snprintf(why, sizeof(why), "status %ld", code);
        set_health(c, ok, why);
    }
    if (c->seen)
        schedule(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *data)
{
    struct check *c = data;
    size_t len = size * n;
    for (size_t i = 0; i < len && c->body_len < sizeof(c->body); i++)
        c->body[c->body_len++] = (unsigned char)p[i];
    return len;
}

/* Header lines, the HTTP/2 trailers included: grpc-status is in either. */
static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    struct check *c = data;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "grpc-status:", 12) == 0)
        c->grpc_status = atoi(p + 12);
    return len;
}

static void on_timer(void *data)
{
    struct check *c = data;
    if (c->in_flight)
        return;
    curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
    c->grpc_status = -1;
    c->body_len = 0;
    c->in_flight = true;
    watcher_add_transfer(c->easy, on_done, c);
}

static void free_check(struct check *c)
{
    if (c->in_flight)
        watcher_remove_transfer(c->easy);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    watcher_timer_free(c->timer);
    atomic_store(&c->srv->healthy, 1); /* no check: no opinion */
    registry_release(c->srv);
    free(c->url);
    free(c->host_header);
    free(c->method);
    free(c->service);
    free(c);
}

void healthcheck_begin(void)
{
    for (struct check *c = checks; c; c = c->next)
        c->seen = false;
}

static void configure(struct check *c, struct server *s, const struct model_healthcheck *hc, const char *service)
{
    const char *scheme = hc->scheme ? hc->scheme : s->tls ? "https" : "http";
    int port = hc->port ? hc->port : s->port;
    bool v6 = strchr(s->host, ':') != NULL;
    char url[2048];
    /* gRPC: the health service's method, whatever the path (as Traefik) */
    const char *path = hc->grpc ? "/grpc.health.v1.Health/Check" : hc->path;
    snprintf(url, sizeof(url), v6 ? "%s://[%s]:%d%s" : "%s://%s:%d%s", scheme, s->host, port, path);
    bool same = c->url && strcmp(c->url, url) == 0;
    free(c->url);
    c->url = mem_strdup(url);
    free(c->service);
    c->service = mem_strdup(service);
    free(c->method);
    c->method = mem_strdup(hc->grpc ? "POST" : hc->method ? hc->method : "GET");
    c->grpc = hc->grpc;
    c->status = hc->status;
    c->interval_ms = hc->interval_ms;
    c->unhealthy_interval_ms = hc->unhealthy_interval_ms ? hc->unhealthy_interval_ms : hc->interval_ms;
    c->timeout_ms = hc->timeout_ms;
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    if (hc->hostname) {
        char h[512];
        snprintf(h, sizeof(h), "Host: %s", hc->hostname);
        c->headers = curl_slist_append(c->headers, h);
    }
    for (size_t i = 0; i < hc->n_headers; i++) {
        char h[1024];
        snprintf(h, sizeof(h), "%s: %s", hc->header_names[i], hc->header_values[i]);
        c->headers = curl_slist_append(c->headers, h);
    }
    if (hc->grpc) {
        c->headers = curl_slist_append(c->headers, "content-type: application/grpc");
        c->headers = curl_slist_append(c->headers, "te: trailers");
    }
    bool tls = strcasecmp(scheme, "https") == 0;
    if (!c->in_flight) {
        /* h2c servers, and gRPC checks, speak HTTP/2 (prior knowledge in cleartext) */
        long version = (s->h2c && !tls) || hc->grpc ? (tls ? CURL_HTTP_VERSION_2TLS : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
                                                    : CURL_HTTP_VERSION_NONE;
        curl_easy_setopt(c->easy, CURLOPT_HTTP_VERSION, version);
        /* a fresh connection per HTTP/2 check: the watcher's curl 7.88 failed the
         * second check on a kept HTTP/2 connection ("Error in the HTTP2 framing layer") */
        curl_easy_setopt(c->easy, CURLOPT_FORBID_REUSE, version != CURL_HTTP_VERSION_NONE ? 1L : 0L);
        if (hc->grpc) { /* an empty HealthCheckRequest: the server's overall health */
            curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, 5L);
            curl_easy_setopt(c->easy, CURLOPT_COPYPOSTFIELDS, "\0\0\0\0\0");
        } else {
            curl_easy_setopt(c->easy, CURLOPT_HTTPGET, 1L); /* no body (undoes a gRPC check's POST) */
        }
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, c->method);
        curl_easy_setopt(c->easy, CURLOPT_NOBODY, strcasecmp(c->method, "HEAD") == 0 ? 1L : 0L);
    }
    if (!same && !c->in_flight)
        watcher_timer_arm(c->timer, 0); /* new or moved: check now */
}

void healthcheck_want(struct server *s, const struct model_healthcheck *hc, const char *service)
{
    struct check *c = checks;
    while (c && c->srv != s)
        c = c->next;
    if (c == NULL) {
        c = mem_calloc(1, sizeof(*c));
        c->srv = s;
        atomic_fetch_add(&s->refs, 1);
        c->easy = curl_easy_init();
        curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(c->easy, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c->easy, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYPEER, 0L); /* checks the server, not its certificate */
        curl_easy_setopt(c->easy, CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "gantry-healthcheck");
        c->timer = watcher_timer_new(on_timer, c);
        c->last_healthy = true;
        c->next = checks;
        checks = c;
    }
    if (!c->seen) /* first service naming the server this round configures it */
        configure(c, s, hc, service);
    c->seen = true;
}

void healthcheck_end(void)
{
    for (struct check **p = &checks; *p;) {
        struct check *c = *p;
        if (!c->seen) {
            *p = c->next;
            free_check(c);
        } else {
            p = &c->next;
        }
    }
}

void healthcheck_shutdown(void)
{
    healthcheck_begin();
    healthcheck_end();
}
