/*
 * OCSP fetching on the watcher thread (see ocsp_fetch.h). One entry per
 * certificate context the TLS cache holds; the cache tells us when one is
 * loaded and dropped (tls_set_cert_hooks), so a certificate that goes away
 * stops being fetched and a changed one starts fresh.
 *
 * A revoked response is stapled, as nginx and Caddy do: it is the truth
 * the CA publishes, a client would find it anyway, and a staple lets a
 * client fail at once instead of soft-failing an online check. It is
 * logged as an error on every fetch so the operator replaces the
 * certificate.
 */
#include "ocsp_fetch.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "../proxy/tls.h"
#include "../proxy/tls_ocsp.h"
#include "aggregator.h"
#include "curl_body.h"
#include "ocsp_response.h"
#include "watcher.h"

#define MAX_RESPONSE (64 * 1024)
#define TIMEOUT_MS 10000L

struct entry {
    struct entry *next;
    SSL_CTX *ctx; /* a reference: the slot it staples into lives as long */
    X509 *leaf, *issuer;
    char *name; /* the certificate's first DNS name, for the log */
    char *url;  /* the responder asked (after responderOverrides) */
    unsigned char *req;
    size_t req_len;
    CURL *easy; /* non-NULL while a fetch runs */
    struct curl_slist *headers;
    struct curl_body body;
    struct watcher_timer *timer;
    unsigned failures;
    time_t staple_expires; /* 0: nothing stapled */
    char *problem;         /* for /api/overview; stable text (no counters) so an unchanged state compiles nothing */
};

static struct ocsp_config config;
static struct entry *entries;
/* Problems reach the API as an "ocsp" provider's model; submitted from a
 * timer, never from inside a compile (the TLS cache hooks run in one). */
static struct watcher_timer *problems_timer;

static void submit_problems(void *data)
{
    (void)data;
    struct model *m = model_new("ocsp");
    for (struct entry *e = entries; e; e = e->next)
        if (e->problem != NULL)
            ptr_vec_push(&m->arena, &m->problems, arena_strdup(&m->arena, e->problem));
    aggregator_submit(m); /* unchanged: dropped by its digest */
}

static void set_problem(struct entry *e, const char *text)
{
    if (text == NULL ? e->problem == NULL : e->problem != NULL && strcmp(text, e->problem) == 0)
        return;
    free(e->problem);
    e->problem = text ? mem_strdup(text) : NULL;
    if (problems_timer != NULL)
        watcher_timer_arm(problems_timer, 0);
}

static void end_transfer(struct entry *e)
{
    if (e->easy != NULL) {
        watcher_remove_transfer(e->easy);
        curl_easy_cleanup(e->easy);
        e->easy = NULL;
    }
    curl_slist_free_all(e->headers);
    e->headers = NULL;
    curl_body_reset(&e->body, MAX_RESPONSE);
}

static void free_entry(struct entry *e)
{
    end_transfer(e);
    curl_body_reset(&e->body, 0);
    watcher_timer_free(e->timer);
    tls_ocsp_set(e->ctx, NULL, 0, 0);
    SSL_CTX_free(e->ctx);
    X509_free(e->leaf);
    X509_free(e->issuer);
    free(e->name);
    free(e->url);
    free(e->req);
    if (e->problem != NULL && problems_timer != NULL)
        watcher_timer_arm(problems_timer, 0);
    free(e->problem);
    free(e);
}

static void schedule(struct entry *e, time_t seconds)
{
    watcher_timer_arm(e->timer, (uint64_t)seconds * 1000);
}

static void fmt_time(time_t t, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void failed(struct entry *e, const char *why)
{
    e->failures++;
    time_t now = time(NULL), delay = ocsp_retry_delay(e->failures);
    /* a staple still valid is kept; try again before it runs out */
    if (e->staple_expires > now && e->staple_expires - now < 2 * delay)
        delay = (e->staple_expires - now) / 2 > OCSP_MIN_REFRESH_S ? (e->staple_expires - now) / 2 : OCSP_MIN_REFRESH_S;
    char until[32] = "";
    if (e->staple_expires > now)
        fmt_time(e->staple_expires, until, sizeof(until));
    log_error("OCSP: certificate %s: %s: %s; %s%s; next try in %lld s", e->name, e->url, why,
              until[0] ? "the previous response stays stapled until " : "no staple", until, (long long)delay);
    char problem[1400];
    snprintf(problem, sizeof(problem), "ocsp: certificate %s: %s: %s", e->name, e->url, why);
    set_problem(e, problem);
    schedule(e, delay);
}

static void on_done(CURL *easy, CURLcode result, void *data)
{
    struct entry *e = data;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(easy);
    e->easy = NULL;
    char why[1200];
    if (result != CURLE_OK) {
        snprintf(why, sizeof(why), "%s", e->body.too_big ? "response over 64 KiB" : curl_easy_strerror(result));
        failed(e, why);
        end_transfer(e);
        return;
    }
    if (code != 200) {
        snprintf(why, sizeof(why), "HTTP status %ld", code);
        failed(e, why);
        end_transfer(e);
        return;
    }
    time_t now = time(NULL);
    struct ocsp_result r;
    struct diag d;
    if (ocsp_response_check((const unsigned char *)e->body.data, e->body.len, e->leaf, e->issuer, now, &r, &d) != 0) {
        failed(e, d.msg);
        end_transfer(e);
        return;
    }
    if (r.status == OCSP_CERT_UNKNOWN) { /* nothing worth stapling: the responder does not know the certificate */
        failed(e, "the responder says the certificate's status is unknown");
        end_transfer(e);
        return;
    }
    /* no nextUpdate: fresh information is always available; keep this one two hours at most */
    time_t expires = r.next_update ? r.next_update : now + 7200;
    tls_ocsp_set(e->ctx, (const unsigned char *)e->body.data, e->body.len, expires);
    e->staple_expires = expires;
    e->failures = 0;
    time_t delay = ocsp_refresh_delay(now, &r);
    char next[32] = "none";
    if (r.next_update)
        fmt_time(r.next_update, next, sizeof(next));
    if (r.status == OCSP_CERT_REVOKED) {
        char at[32];
        fmt_time(r.revoked_at, at, sizeof(at));
        log_error("OCSP: certificate %s is REVOKED (since %s, reason %d) according to %s; the revoked response is "
                  "stapled; replace the certificate",
                  e->name, at, r.reason, e->url);
        char problem[512];
        snprintf(problem, sizeof(problem), "ocsp: certificate %s is revoked (since %s) according to %s", e->name, at,
                 e->url);
        set_problem(e, problem);
    } else {
        set_problem(e, NULL);
        log_info("OCSP: certificate %s: %s response from %s stapled (nextUpdate %s); next fetch in %lld s", e->name,
                 ocsp_status_name(r.status), e->url, next, (long long)delay);
    }
    schedule(e, delay);
    end_transfer(e);
}

static void fetch(void *data)
{
    struct entry *e = data;
    if (e->easy != NULL)
        return;
    curl_body_reset(&e->body, MAX_RESPONSE);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        failed(e, "curl_easy_init failed");
        return;
    }
    e->easy = c;
    e->headers = curl_slist_append(NULL, "Content-Type: application/ocsp-request");
    e->headers = curl_slist_append(e->headers, "Accept: application/ocsp-response");
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "gantry-ocsp");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)e->req);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)e->req_len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &e->body);
    log_debug("OCSP: certificate %s: asking %s", e->name, e->url);
    watcher_add_transfer(c, on_done, e);
}

static const char *override_for(const char *url)
{
    for (size_t i = 0; i < config.n_overrides; i++)
        if (strcmp(config.override_from[i], url) == 0)
            return config.override_to[i];
    return url;
}

static void on_loaded(SSL_CTX *ctx, const char *const *names, size_t n_names)
{
    X509 *leaf = SSL_CTX_get0_certificate(ctx);
    const char *name = n_names ? names[0] : "(unnamed)";
    char *url = leaf ? ocsp_responder_url(leaf) : NULL;
    if (url == NULL) {
        log_debug("OCSP: certificate %s names no OCSP responder: nothing to staple", name);
        return;
    }
    STACK_OF(X509) *chain = NULL;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    X509 *issuer = ocsp_find_issuer(leaf, chain);
    if (issuer == NULL) {
        log_warn("OCSP: certificate %s: its issuer is not in the certificate file (the chain after the leaf): "
                 "no OCSP stapling for it",
                 name);
        free(url);
        return;
    }
    if (*override_for(url) == '\0') {
        log_info("OCSP: certificate %s: responder %s disabled by ocsp.responderOverrides", name, url);
        free(url);
        return;
    }
    struct entry *e = mem_calloc(1, sizeof(*e));
    struct diag d;
    if (ocsp_request_der(leaf, issuer, &e->req, &e->req_len, &d) != 0) {
        log_error("OCSP: certificate %s: %s", name, d.msg);
        free(url);
        free(e);
        return;
    }
    SSL_CTX_up_ref(ctx);
    X509_up_ref(leaf);
    X509_up_ref(issuer);
    e->ctx = ctx;
    e->leaf = leaf;
    e->issuer = issuer;
    e->name = mem_strdup(name);
    const char *asked = override_for(url);
    e->url = mem_strdup(asked);
    if (asked != url)
        log_info("OCSP: certificate %s: responder %s overridden by %s", name, url, asked);
    free(url);
    e->timer = watcher_timer_new(fetch, e);
    e->next = entries;
    entries = e;
    schedule(e, 0); /* on the watcher loop, whichever thread loaded the certificate */
}

static void on_dropped(SSL_CTX *ctx, const char *const *names, size_t n_names)
{
    (void)names, (void)n_names;
    for (struct entry **p = &entries; *p; p = &(*p)->next) {
        if ((*p)->ctx == ctx) {
            struct entry *e = *p;
            *p = e->next;
            log_debug("OCSP: certificate %s no longer in use", e->name);
            free_entry(e);
            return;
        }
    }
}

void ocsp_fetch_start(const struct ocsp_config *cfg)
{
    config = *cfg;
    if (!config.enabled)
        return;
    tls_set_cert_hooks(on_loaded, on_dropped);
    problems_timer = watcher_timer_new(submit_problems, NULL);
    log_info("OCSP stapling on: certificates naming a responder get their status fetched and stapled");
}

void ocsp_fetch_stop(void)
{
    tls_set_cert_hooks(NULL, NULL);
    if (problems_timer != NULL)
        watcher_timer_free(problems_timer);
    problems_timer = NULL;
    while (entries != NULL) {
        struct entry *e = entries;
        entries = e->next;
        free_entry(e);
    }
}
