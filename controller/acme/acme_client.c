/*
 * The ACME order flow as a state machine (see acme_client.h).
 *
 * One transfer is in flight at a time per client. A POST needs a nonce:
 * the last Replay-Nonce seen, else one from newNonce first. A badNonce
 * answer carries a fresh nonce, so the same request is signed again and
 * resent (up to MAX_BAD_NONCE times). Steps:
 *
 *   DIRECTORY -> [NONCE] -> ACCOUNT (newAccount; onlyReturnExisting is not
 *   needed: a known key returns the existing account) -> ORDER ->
 *   AUTHZ (each, POST-as-GET) -> CHALLENGE (respond) -> POLL_AUTHZ ->
 *   FINALIZE (CSR) -> POLL_ORDER -> CERT (download)
 *
 * Between orders, the same transfer slot asks the CA's renewalInfo
 * (RFC 9773) about one certificate: DIRECTORY (when not read yet) -> ARI,
 * an unauthenticated GET; its outcome goes to its own callback, never to
 * an order's.
 */
#include "acme_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/hmac.h>

#include "../../common/arena.h"
#include "../../common/log.h"
#include "../curl_body.h"
#include "../watcher.h"
#include "acme_crypto.h"
#include "acme_retry.h"

#define MAX_BODY (1024 * 1024)
#define MAX_BAD_NONCE 20
#define MAX_POLLS 60
#define POLL_MS 500
#define DEFAULT_CERTIFICATE_TIMEOUT_MS 30000
#define MIN_ORDER_POLL_MS 100
#define MAX_ALTERNATES 8

enum step { S_IDLE, S_ARI, S_DIRECTORY, S_NONCE, S_ACCOUNT, S_ORDER, S_RESUME, S_AUTHZ, S_CHALLENGE_WAIT, S_CHALLENGE_DELAY, S_CHALLENGE, S_POLL_AUTHZ, S_FINALIZE, S_POLL_ORDER, S_CERT, S_ALT_CERT };

struct acme_client {
    struct acme_client_config cfg;
    char *directory_url, *email, *eab_kid, *eab_hmac, *preferred_chain, *ca_server_name;
    char **csr_emails; /* cfg.csr.emails, owned */
    EVP_PKEY *key;
    char *kid, *thumb;
    char *new_nonce_url, *new_account_url, *new_order_url;
    char *renewal_info_url; /* the directory's renewalInfo (RFC 9773), or NULL */
    char *nonce;

    /* the transfer in flight */
    CURL *easy;
    struct curl_slist *headers;
    struct curl_body in;
    char *out;
    char location[1024], replay_nonce[256], retry_after[128];
    char error[CURL_ERROR_SIZE]; /* libcurl's detail of a failed transfer */
    char *url;                   /* the URL asked (caServerName: its host replaced) */
    struct curl_slist *connect_to;
    bool got_status;             /* a final status line arrived */
    struct watcher_timer *header_timer; /* clientResponseHeaderTimeout */
    time_t retry_at;             /* the failed order's Retry-After (acme_client_retry_after) */
    char *alt[MAX_ALTERNATES]; /* Link: rel="alternate" of the last answer (RFC 8555 7.4.2) */
    size_t n_alt;
    enum step step, resume; /* resume: the step a NONCE fetch or DIRECTORY was for */
    char *post_url, *post_payload;
    int bad_nonce;
    struct watcher_timer *timer;

    /* the order */
    char **names;
    size_t n_names;
    char *key_type;
    EVP_PKEY *cert_key;
    char *order_url, *finalize_url, *cert_url;
    bool resuming; /* order_url is another instance's order, to take up */
    char **authz;
    size_t n_authz, i_authz;
    char *chall_url, *chall_token, *chall_domain;
    bool chall_started; /* a resumed order's challenge the CA is already validating: poll, do not respond */
    int polls;
    uint64_t finalized_ms; /* watcher clock: when the CSR was sent (certificateTimeout) */
    /* preferredChain: the CA's default chain, and the alternates still to look at */
    char *default_chain;
    char *alts[MAX_ALTERNATES];
    size_t n_alts, i_alts;
    acme_order_cb done;
    void *done_data;
    char *replaces;          /* the order's "replaces" (RFC 9773 §5), NULL once refused */

    /* a renewalInfo request (no order at the same time) */
    char *ari_cert_id, *ari_url;
    acme_ari_cb ari_done;
    void *ari_data;
};

static void fail(struct acme_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void next(struct acme_client *c);
/* The key authorization of <token> (token.thumbprint). malloc'd. */
static char *acme_client_keyauth(struct acme_client *c, const char *token);

static void set(char **p, const char *v)
{
    free(*p);
    *p = v ? mem_strdup(v) : NULL;
}

static size_t on_header(char *p, size_t size, size_t n, void *data)
{
    struct acme_client *c = data;
    size_t len = size * n, k;
    char *dst = NULL;
    size_t cap = 0;
    if (len > 13 && strncasecmp(p, "Replay-Nonce:", 13) == 0)
        k = 13, dst = c->replay_nonce, cap = sizeof(c->replay_nonce);
    else if (len > 9 && strncasecmp(p, "Location:", 9) == 0)
        k = 9, dst = c->location, cap = sizeof(c->location);
    else if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
        k = 12, dst = c->retry_after, cap = sizeof(c->retry_after);
    else if (len > 7 && strncasecmp(p, "HTTP/", 5) == 0 && !c->got_status) {
        /* the response's headers have begun (an interim 1xx does not count) */
        const char *sp = memchr(p, ' ', len);
        if (sp && sp + 1 < p + len && sp[1] != '1') {
            c->got_status = true;
            watcher_timer_cancel(c->header_timer);
        }
    }
    if (len > 5 && strncasecmp(p, "Link:", 5) == 0 && c->n_alt < MAX_ALTERNATES) {
        /* Link: <url>;rel="alternate" (one link per header line, as CAs send them) */
        char line[2048];
        snprintf(line, sizeof(line), "%.*s", (int)(len - 5), p + 5);
        char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;
        if (gt && strstr(gt, "rel=\"alternate\"")) {
            *gt = '\0';
            c->alt[c->n_alt++] = mem_strdup(lt + 1);
        }
    }
    if (dst != NULL) {
        while (k < len && (p[k] == ' ' || p[k] == '\t'))
            k++;
        size_t e = len;
        while (e > k && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
            e--;
        if (e - k < cap) {
            memcpy(dst, p + k, e - k);
            dst[e - k] = '\0';
        }
    }
    return len;
}

static void end_transfer(struct acme_client *c)
{
    if (c->easy) {
        watcher_remove_transfer(c->easy);
        curl_easy_cleanup(c->easy);
        c->easy = NULL;
    }
    watcher_timer_cancel(c->header_timer);
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    curl_slist_free_all(c->connect_to);
    c->connect_to = NULL;
    free(c->url);
    c->url = NULL;
    free(c->out);
    c->out = NULL;
    curl_body_reset(&c->in, MAX_BODY);
}

static void on_done(CURL *easy, CURLcode rc, void *data);

/* The transfer in flight failed (no HTTP answer): the order with it, saying where and why. */
static void fail_transfer(struct acme_client *c, const char *why)
{
    const char *url = c->post_url && c->step != S_DIRECTORY && c->step != S_NONCE ? c->post_url : c->directory_url;
    if (c->step == S_NONCE)
        url = c->new_nonce_url;
    if (c->step == S_ARI)
        url = c->ari_url;
    if (c->ca_server_name)
        fail(c, "%s: %s (TLS server name: caServerName '%s')", url, why, c->ca_server_name);
    else
        fail(c, "%s: %s", url, why);
}

/* clientResponseHeaderTimeout ran out: the transfer is given up. */
static void on_header_timeout(void *data)
{
    struct acme_client *c = data;
    if (c->easy == NULL || c->got_status)
        return;
    char why[160];
    snprintf(why, sizeof(why), "no response headers within clientResponseHeaderTimeout (%llu ms)",
             (unsigned long long)c->cfg.response_header_timeout_ms);
    fail_transfer(c, why);
}

/* The connection is up and the request about to go: the header timeout starts (as Go's ResponseHeaderTimeout). */
static int on_prereq(void *data, char *primary_ip, char *local_ip, int primary_port, int local_port)
{
    struct acme_client *c = data;
    (void)primary_ip, (void)local_ip, (void)primary_port, (void)local_port;
    if (c->cfg.response_header_timeout_ms > 0 && !c->got_status)
        watcher_timer_arm(c->header_timer, c->cfg.response_header_timeout_ms);
    return CURL_PREREQFUNC_OK;
}

/* caServerName: the request goes to the URL's host and port, but TLS sends
 * and verifies <name> (Go's tls.Config.ServerName); the Host header stays
 * the URL's, so the JWS "url" still matches what the CA sees. */
static void apply_server_name(struct acme_client *c, CURL *e, const char *url)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *explicit_port = NULL, *out = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        strcasecmp(scheme, "https") != 0 || curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK || strcasecmp(host, c->ca_server_name) == 0)
        goto done;
    (void)curl_url_get(u, CURLUPART_PORT, &explicit_port, 0); /* absent: the default port */
    char line[1200];
    snprintf(line, sizeof(line), "%s:%s:%s:%s", c->ca_server_name, port, host, port);
    c->connect_to = curl_slist_append(NULL, line);
    snprintf(line, sizeof(line), "Host: %s%s%s", host, explicit_port ? ":" : "", explicit_port ? explicit_port : "");
    c->headers = curl_slist_append(c->headers, line);
    if (curl_url_set(u, CURLUPART_HOST, c->ca_server_name, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK) {
        free(c->url);
        c->url = mem_strdup(out);
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, c->connect_to);
    }
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(explicit_port);
    curl_free(out);
    curl_url_cleanup(u);
}

/* Starts a request: GET (<body> NULL, !head), HEAD (<head>) or a JWS POST. */
static void start(struct acme_client *c, const char *url, const char *body, bool head)
{
    end_transfer(c);
    c->location[0] = c->replay_nonce[0] = c->retry_after[0] = c->error[0] = '\0';
    c->got_status = false;
    for (size_t i = 0; i < c->n_alt; i++)
        free(c->alt[i]);
    c->n_alt = 0;
    CURL *e = curl_easy_init();
    c->url = mem_strdup(url);
    if (c->ca_server_name)
        apply_server_name(c, e, url);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->error);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "gantry-acme");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->cfg.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 30000L); /* Go's dialer and TLS handshake timeouts in Traefik's client */
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(e, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L); /* a proxy's CONNECT answer is not the CA's */
    curl_easy_setopt(e, CURLOPT_PREREQDATA, c);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &c->in);
    if (c->cfg.ca_blob) {
        struct curl_blob b = {.data = (void *)c->cfg.ca_blob, .len = c->cfg.ca_blob_len, .flags = CURL_BLOB_COPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &b);
    }
    if (head)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (body) {
        c->out = mem_strdup(body);
        c->headers = curl_slist_append(c->headers, "Content-Type: application/jose+json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->out);
    }
    if (c->headers)
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    c->easy = e;
    watcher_add_transfer(e, on_done, c);
}

/* External account binding (RFC 8555 7.3.4): the account JWK signed with the CA's MAC key. */
static char *eab_object(struct acme_client *c)
{
    size_t klen;
    unsigned char *key = acme_b64_decode(c->eab_hmac, &klen);
    if (key == NULL)
        return NULL;
    char *jwk = acme_jwk(c->key);
    char header[1024];
    snprintf(header, sizeof(header), "{\"alg\":\"HS256\",\"kid\":\"%s\",\"url\":\"%s\"}", c->eab_kid, c->new_account_url);
    char *ph = acme_b64url((const unsigned char *)header, strlen(header));
    char *pp = acme_b64url((const unsigned char *)jwk, strlen(jwk));
    size_t in_len = strlen(ph) + strlen(pp) + 2;
    char *input = mem_alloc(in_len);
    snprintf(input, in_len, "%s.%s", ph, pp);
    unsigned char mac[32];
    unsigned int mlen = 0;
    HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)input, strlen(input), mac, &mlen);
    char *sig = acme_b64url(mac, mlen);
    size_t on = in_len + strlen(sig) + 64;
    char *out = mem_alloc(on);
    snprintf(out, on, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", ph, pp, sig);
    free(key);
    free(jwk);
    free(ph);
    free(pp);
    free(input);
    free(sig);
    return out;
}

/* A signed POST of <payload> ("" = POST-as-GET) to <url> as step <s>. */
static void post(struct acme_client *c, enum step s, const char *url, const char *payload)
{
    if (c->post_url != url)
        set(&c->post_url, url);
    if (c->post_payload != payload)
        set(&c->post_payload, payload);
    c->step = s;
    if (c->nonce == NULL) {
        c->resume = s;
        c->step = S_NONCE;
        start(c, c->new_nonce_url, NULL, true);
        return;
    }
    char *jws = acme_jws(c->key, s == S_ACCOUNT ? NULL : c->kid, c->nonce, c->post_url, c->post_payload);
    free(c->nonce);
    c->nonce = NULL; /* each nonce is good for one request */
    if (jws == NULL) {
        fail(c, "could not sign a request");
        return;
    }
    start(c, c->post_url, jws, false);
    free(jws);
}

static void clear_order(struct acme_client *c)
{
    if (c->chall_token && c->cfg.on_challenge)
        c->cfg.on_challenge(c->cfg.data, c->chall_domain, c->chall_token, NULL, false);
    for (size_t i = 0; i < c->n_names; i++)
        free(c->names[i]);
    free(c->names);
    c->names = NULL;
    c->n_names = 0;
    for (size_t i = 0; i < c->n_authz; i++)
        free(c->authz[i]);
    free(c->authz);
    c->authz = NULL;
    c->n_authz = c->i_authz = 0;
    EVP_PKEY_free(c->cert_key);
    c->cert_key = NULL;
    set(&c->key_type, NULL);
    set(&c->replaces, NULL);
    set(&c->order_url, NULL);
    c->resuming = false;
    set(&c->finalize_url, NULL);
    set(&c->cert_url, NULL);
    set(&c->chall_url, NULL);
    set(&c->chall_token, NULL);
    set(&c->chall_domain, NULL);
    set(&c->default_chain, NULL);
    for (size_t i = 0; i < c->n_alts; i++)
        free(c->alts[i]);
    c->n_alts = c->i_alts = 0;
    c->step = S_IDLE;
}

static void finish(struct acme_client *c, const char *error, const char *cert_pem, const char *key_pem)
{
    acme_order_cb done = c->done;
    void *data = c->done_data;
    end_transfer(c);
    watcher_timer_cancel(c->timer);
    clear_order(c);
    c->done = NULL;
    if (done)
        done(data, error, cert_pem, key_pem);
}

/* The renewalInfo request is over: the client is idle again, then <done> learns how it went. */
static void ari_finish(struct acme_client *c, enum acme_ari_outcome outcome, const char *text, const char *retry_after)
{
    acme_ari_cb done = c->ari_done;
    void *data = c->ari_data;
    char *ra = retry_after && *retry_after ? mem_strdup(retry_after) : NULL;
    char *t = mem_strdup(text ? text : "");
    end_transfer(c);
    c->step = S_IDLE;
    c->ari_done = NULL;
    set(&c->ari_cert_id, NULL);
    set(&c->ari_url, NULL);
    if (done)
        done(data, outcome, t, ra);
    free(t);
    free(ra);
}

static void fail(struct acme_client *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->ari_done) /* the directory or renewalInfo of an ARI request: no order to end */
        ari_finish(c, ACME_ARI_FAILED, msg, c->retry_after);
    else
        finish(c, msg, NULL, NULL);
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The problem document of a failed answer, for messages (RFC 8555 6.7). */
static void problem_text(const cJSON *j, char *buf, size_t len)
{
    const char *type = str(j, "type"), *detail = str(j, "detail");
    snprintf(buf, len, "%s%s%s", type ? type : "no problem document", detail ? ": " : "", detail ? detail : "");
}

static void start_order(struct acme_client *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *ids = cJSON_AddArrayToObject(o, "identifiers");
    for (size_t i = 0; i < c->n_names; i++) {
        cJSON *id = cJSON_CreateObject();
        cJSON_AddStringToObject(id, "type", "dns");
        cJSON_AddStringToObject(id, "value", c->names[i]);
        cJSON_AddItemToArray(ids, id);
    }
    if (c->replaces)
        cJSON_AddStringToObject(o, "replaces", c->replaces);
    char *payload = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    post(c, S_ORDER, c->new_order_url, payload);
    free(payload);
}

static void start_account(struct acme_client *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "termsOfServiceAgreed", 1);
    if (c->email && *c->email) {
        char mail[512];
        snprintf(mail, sizeof(mail), "mailto:%s", c->email);
        cJSON *contact = cJSON_AddArrayToObject(o, "contact");
        cJSON_AddItemToArray(contact, cJSON_CreateString(mail));
    }
    if (c->eab_kid && c->eab_hmac) {
        char *eab = eab_object(c);
        if (eab == NULL) {
            cJSON_Delete(o);
            fail(c, "eab.hmacEncoded is not valid base64");
            return;
        }
        cJSON_AddItemToObject(o, "externalAccountBinding", cJSON_Parse(eab));
        free(eab);
    }
    char *payload = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    post(c, S_ACCOUNT, c->new_account_url, payload);
    free(payload);
}

/* GET <renewalInfo>/<certID>: no account, no nonce, no signature (RFC 9773 §4.1). */
static void start_renewal_info(struct acme_client *c)
{
    if (c->renewal_info_url == NULL) {
        ari_finish(c, ACME_ARI_UNSUPPORTED, NULL, NULL);
        return;
    }
    size_t n = strlen(c->renewal_info_url) + strlen(c->ari_cert_id) + 2;
    char *url = mem_alloc(n);
    /* the directory's URL may end with a slash (Boulder's did): one between */
    size_t l = strlen(c->renewal_info_url);
    snprintf(url, n, "%s%s%s", c->renewal_info_url, l && c->renewal_info_url[l - 1] == '/' ? "" : "/", c->ari_cert_id);
    free(c->ari_url);
    c->ari_url = url;
    c->step = S_ARI;
    start(c, c->ari_url, NULL, false);
}

/* Where the flow goes when nothing is in flight: the prerequisites first. */
static void next(struct acme_client *c)
{
    if (c->new_order_url == NULL) {
        c->step = S_DIRECTORY;
        start(c, c->directory_url, NULL, false);
    } else if (c->ari_done) {
        start_renewal_info(c);
    } else if (c->kid == NULL) {
        start_account(c);
    } else if (c->resuming) {
        post(c, S_RESUME, c->order_url, "");
    } else {
        start_order(c);
    }
}

static void on_poll_timer(void *data)
{
    struct acme_client *c = data;
    if (c->step == S_CHALLENGE_DELAY)
        post(c, S_CHALLENGE, c->chall_url, "{}");
    else if (c->step == S_POLL_AUTHZ)
        post(c, S_POLL_AUTHZ, c->authz[c->i_authz], "");
    else if (c->step == S_POLL_ORDER)
        post(c, S_POLL_ORDER, c->order_url, "");
}

/* lego's rule: certificateTimeout bounds the polls of a finalized order,
 * asked every sixtieth of it; a poll under way when it ends still counts */
static uint64_t certificate_timeout_ms(const struct acme_client *c)
{
    return c->cfg.certificate_timeout_ms ? c->cfg.certificate_timeout_ms : DEFAULT_CERTIFICATE_TIMEOUT_MS;
}

static void poll_later(struct acme_client *c, enum step s)
{
    end_transfer(c);
    c->step = s;
    if (s == S_POLL_ORDER) {
        uint64_t limit = certificate_timeout_ms(c), every = limit / 60 > MIN_ORDER_POLL_MS ? limit / 60 : MIN_ORDER_POLL_MS;
        if (watcher_now_ms() - c->finalized_ms >= limit) {
            fail(c, "the CA did not issue the certificate within certificateTimeout (%llu ms after the finalization)",
                 (unsigned long long)limit);
            return;
        }
        watcher_timer_arm(c->timer, every);
        return;
    }
    if (++c->polls > MAX_POLLS) {
        fail(c, "the CA did not complete %s in time", s == S_POLL_AUTHZ ? "the authorization" : "the order");
        return;
    }
    watcher_timer_arm(c->timer, POLL_MS);
}

static void next_authz(struct acme_client *c)
{
    if (c->chall_token && c->cfg.on_challenge)
        c->cfg.on_challenge(c->cfg.data, c->chall_domain, c->chall_token, NULL, false);
    set(&c->chall_token, NULL);
    set(&c->chall_domain, NULL);
    if (c->i_authz < c->n_authz) {
        c->polls = 0;
        post(c, S_AUTHZ, c->authz[c->i_authz], "");
        return;
    }
    /* every authorization is valid: finalize with a CSR */
    c->cert_key = acme_key_new(c->key_type);
    char *csr = c->cert_key ? acme_csr(c->cert_key, (const char *const *)c->names, c->n_names, &c->cfg.csr) : NULL;
    if (csr == NULL) {
        fail(c, "could not make the certificate key or CSR (%s)", c->key_type);
        return;
    }
    char payload[16384];
    snprintf(payload, sizeof(payload), "{\"csr\":\"%s\"}", csr);
    free(csr);
    c->polls = 0;
    c->finalized_ms = watcher_now_ms();
    post(c, S_FINALIZE, c->finalize_url, payload);
}

/* The challenge is published: the CA is told to validate it, after
 * httpChallenge.delay; a resumed order's challenge already under way is only polled. */
static void respond(struct acme_client *c)
{
    if (c->chall_started) {
        c->polls = 0;
        post(c, S_POLL_AUTHZ, c->authz[c->i_authz], "");
    } else if (c->cfg.challenge_delay_ms > 0 && c->step != S_CHALLENGE_DELAY) {
        end_transfer(c);
        c->step = S_CHALLENGE_DELAY;
        log_info("acme: the challenge for %s is published; the CA validates it in %llu ms (%s)",
                 c->chall_domain ? c->chall_domain : "?", (unsigned long long)c->cfg.challenge_delay_ms,
                 c->cfg.challenge_delay_key ? c->cfg.challenge_delay_key : "delay");
        watcher_timer_arm(c->timer, c->cfg.challenge_delay_ms);
    } else {
        post(c, S_CHALLENGE, c->chall_url, "{}");
    }
}

static const char *challenge_name(enum acme_challenge_type t)
{
    return t == ACME_HTTP01 ? "http-01" : t == ACME_DNS01 ? "dns-01" : "tls-alpn-01";
}

static void on_authz(struct acme_client *c, cJSON *j)
{
    const char *status = str(j, "status");
    const cJSON *ident = cJSON_GetObjectItemCaseSensitive(j, "identifier");
    const char *domain = str(ident, "value");
    if (status && strcmp(status, "valid") == 0) { /* reused from an earlier order */
        c->i_authz++;
        next_authz(c);
        return;
    }
    if (!status || strcmp(status, "pending") != 0) {
        fail(c, "authorization for %s is %s", domain ? domain : "?", status ? status : "unreadable");
        return;
    }
    const char *want = challenge_name(c->cfg.challenge);
    const cJSON *ch;
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(j, "challenges"))
    {
        const char *type = str(ch, "type");
        if (type && strcmp(type, want) == 0 && str(ch, "url") && str(ch, "token")) {
            set(&c->chall_url, str(ch, "url"));
            const char *cs = str(ch, "status");
            c->chall_started = cs && strcmp(cs, "pending") != 0;
            set(&c->chall_token, str(ch, "token"));
            set(&c->chall_domain, domain);
            char *ka = acme_client_keyauth(c, c->chall_token);
            if (c->cfg.on_challenge)
                c->cfg.on_challenge(c->cfg.data, domain, c->chall_token, ka, true);
            free(ka);
            if (c->cfg.defer_challenge) {
                end_transfer(c);
                c->step = S_CHALLENGE_WAIT;
                return;
            }
            respond(c);
            return;
        }
    }
    fail(c, "the CA offers no %s challenge for %s", want, domain ? domain : "?");
}

static void on_authz_polled(struct acme_client *c, cJSON *j)
{
    const char *status = str(j, "status");
    if (status && strcmp(status, "valid") == 0) {
        c->i_authz++;
        next_authz(c);
    } else if (status && strcmp(status, "pending") == 0) {
        poll_later(c, S_POLL_AUTHZ);
    } else {
        /* the failed challenge's error says why (RFC 8555 7.1.4) */
        char why[768] = "no detail";
        const cJSON *ch;
        cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(j, "challenges"))
        {
            const cJSON *err = cJSON_GetObjectItemCaseSensitive(ch, "error");
            if (cJSON_IsObject(err))
                problem_text(err, why, sizeof(why));
        }
        fail(c, "%s challenge for %s failed (%s): %s", c->cfg.challenge == ACME_HTTP01 ? "HTTP-01" : c->cfg.challenge == ACME_DNS01 ? "DNS-01" : "TLS-ALPN-01",
             c->chall_domain ? c->chall_domain : "?", status ? status : "unreadable", why);
    }
}

static void on_order_polled(struct acme_client *c, cJSON *j)
{
    const char *status = str(j, "status");
    if (status && strcmp(status, "valid") == 0 && str(j, "certificate")) {
        set(&c->cert_url, str(j, "certificate"));
        post(c, S_CERT, c->cert_url, "");
    } else if (status && (strcmp(status, "processing") == 0 || strcmp(status, "ready") == 0 || strcmp(status, "pending") == 0)) {
        poll_later(c, S_POLL_ORDER);
    } else {
        char why[768] = "";
        problem_text(cJSON_GetObjectItemCaseSensitive(j, "error"), why, sizeof(why));
        fail(c, "order is %s: %s", status ? status : "unreadable", why);
    }
}

static void on_new_order(struct acme_client *c, cJSON *j)
{
    const char *fin = str(j, "finalize");
    const cJSON *authz = cJSON_GetObjectItemCaseSensitive(j, "authorizations");
    if (c->resuming) {
        /* pending or ready: the rest is ours to do; otherwise its CSR (and key) were someone else's */
        const char *status = str(j, "status");
        if (!status || (strcmp(status, "pending") != 0 && strcmp(status, "ready") != 0) || !fin || !cJSON_IsArray(authz)) {
            fail(c, ACME_RESUME_FAILED ": the order is %s", status ? status : "unreadable");
            return;
        }
    } else if (!fin || !cJSON_IsArray(authz) || !c->location[0]) {
        fail(c, "the CA's order has no finalize URL, authorizations or Location");
        return;
    } else {
        set(&c->order_url, c->location);
        if (c->cfg.on_order_url)
            c->cfg.on_order_url(c->cfg.data, c->order_url);
    }
    set(&c->finalize_url, fin);
    size_t n = (size_t)cJSON_GetArraySize(authz);
    c->authz = mem_calloc(n ? n : 1, sizeof(char *));
    const cJSON *a;
    cJSON_ArrayForEach(a, authz)
    {
        if (cJSON_IsString(a))
            c->authz[c->n_authz++] = mem_strdup(a->valuestring);
    }
    c->i_authz = 0;
    next_authz(c);
}

/* preferredChain (lego's meaning): the chain whose top-most certificate
 * was issued by the CA with this Common Name. */
static bool chain_matches(const char *pem, const char *issuer_cn)
{
    char cn[256];
    return acme_chain_top_issuer(pem, cn, sizeof(cn)) == 0 && strcmp(cn, issuer_cn) == 0;
}

static void finish_with(struct acme_client *c, const char *pem)
{
    char *chain = mem_strdup(pem);
    char *key = acme_key_pem(c->cert_key);
    finish(c, NULL, chain, key);
    free(chain);
    free(key);
}

/* A chain arrived (<pem>), or an alternate could not be had (NULL): done,
 * or the next alternate asked for. */
static void on_chain(struct acme_client *c, const char *pem)
{
    if (c->step == S_CERT) {
        if (c->preferred_chain == NULL || chain_matches(pem, c->preferred_chain) || c->n_alt == 0) {
            finish_with(c, pem);
            return;
        }
        set(&c->default_chain, pem);
        for (size_t i = 0; i < c->n_alt; i++)
            c->alts[i] = mem_strdup(c->alt[i]);
        c->n_alts = c->n_alt;
        c->i_alts = 0;
    } else if (pem && chain_matches(pem, c->preferred_chain)) {
        log_info("acme: the alternate chain issued by '%s' is used (preferredChain)", c->preferred_chain);
        finish_with(c, pem);
        return;
    }
    if (c->i_alts < c->n_alts) {
        const char *url = c->alts[c->i_alts++];
        post(c, S_ALT_CERT, url, "");
        return;
    }
    log_info("acme: no chain issued by '%s' (preferredChain): the default chain is used", c->preferred_chain);
    char *chain = c->default_chain;
    c->default_chain = NULL;
    finish_with(c, chain);
    free(chain);
}

/* The renewalInfo answer: its body goes to the caller, who reads the window. */
static void on_renewal_info(struct acme_client *c, long status)
{
    if (status == 200) {
        ari_finish(c, ACME_ARI_ANSWER, c->in.data ? c->in.data : "", c->retry_after);
        return;
    }
    cJSON *j = c->in.data ? cJSON_Parse(c->in.data) : NULL;
    char why[768];
    problem_text(j, why, sizeof(why));
    cJSON_Delete(j);
    fail(c, "HTTP %ld from %s: %s", status, c->ari_url, why);
}

/* The answer of <c->step> arrived (status, body and headers in <c>). */
static void on_done(CURL *easy, CURLcode rc, void *data)
{
    struct acme_client *c = data;
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (c->replay_nonce[0])
        set(&c->nonce, c->replay_nonce);
    if (rc != CURLE_OK) {
        fail_transfer(c, c->error[0] ? c->error : curl_easy_strerror(rc));
        return;
    }
    if (c->step == S_ARI) {
        on_renewal_info(c, status);
        return;
    }
    if ((c->step == S_CERT || c->step == S_ALT_CERT) && status == 200) {
        on_chain(c, c->in.data ? c->in.data : "");
        return;
    }
    if (c->step == S_ALT_CERT) { /* an alternate that cannot be had: the next, or the default */
        on_chain(c, NULL);
        return;
    }
    cJSON *j = c->in.data ? cJSON_Parse(c->in.data) : NULL;
    if (status >= 400) {
        const char *type = str(j, "type");
        if (status == 400 && type && strcmp(type, "urn:ietf:params:acme:error:badNonce") == 0 && c->nonce &&
            ++c->bad_nonce <= MAX_BAD_NONCE) {
            log_debug("acme: badNonce from %s, signing again with the fresh nonce", c->post_url);
            cJSON_Delete(j);
            post(c, c->step, c->post_url, c->post_payload);
            return;
        }
        char why[768];
        problem_text(j, why, sizeof(why));
        if (c->step == S_ORDER && c->replaces &&
            (status == 409 || (type && strcmp(type, "urn:ietf:params:acme:error:alreadyReplaced") == 0))) {
            /* RFC 9773 §5: the predecessor cannot be named (replaced already, not ours...): once more without it */
            log_warn("acme: the CA refused an order replacing %s (HTTP %ld: %s); ordering again without \"replaces\"",
                     c->replaces, status, why);
            set(&c->replaces, NULL);
            cJSON_Delete(j);
            start_order(c);
            return;
        }
        bool limited = acme_retry_is_rate_limit(status, type);
        cJSON_Delete(j);
        if (limited) {
            c->retry_at = acme_retry_after_parse(c->retry_after, time(NULL));
            char at[64] = "no Retry-After";
            if (c->retry_at > 0) {
                struct tm tm;
                gmtime_r(&c->retry_at, &tm);
                strftime(at, sizeof(at), "Retry-After: not before %Y-%m-%dT%H:%M:%SZ", &tm);
            }
            log_warn("acme: %s declines for now (HTTP %ld: %s); %s", c->directory_url, status, why, at);
            fail(c, "HTTP %ld from %s: %s (%s)", status, c->step == S_DIRECTORY ? c->directory_url : c->post_url, why, at);
            return;
        }
        if (c->step == S_RESUME) {
            fail(c, ACME_RESUME_FAILED ": HTTP %ld: %s", status, why);
            return;
        }
        if (c->step == S_CHALLENGE && c->resuming) {
            /* the predecessor's response may have been validated meanwhile: the authorization says */
            log_debug("acme: the challenge response of a resumed order was refused (%s); polling its authorization", why);
            c->polls = 0;
            post(c, S_POLL_AUTHZ, c->authz[c->i_authz], "");
            return;
        }
        fail(c, "HTTP %ld from %s: %s", status, c->step == S_DIRECTORY ? c->directory_url : c->post_url, why);
        return;
    }
    c->bad_nonce = 0;
    enum step s = c->step;
    if (s != S_NONCE && s != S_CHALLENGE && j == NULL) {
        fail(c, "unreadable answer (HTTP %ld) from %s", status, s == S_DIRECTORY ? c->directory_url : c->post_url);
        return;
    }
    switch (s) {
    case S_DIRECTORY:
        set(&c->new_nonce_url, str(j, "newNonce"));
        set(&c->new_account_url, str(j, "newAccount"));
        set(&c->new_order_url, str(j, "newOrder"));
        set(&c->renewal_info_url, str(j, "renewalInfo"));
        if (!c->new_nonce_url || !c->new_account_url || !c->new_order_url) {
            set(&c->new_order_url, NULL);
            fail(c, "the directory %s lacks newNonce, newAccount or newOrder", c->directory_url);
            break;
        }
        next(c);
        break;
    case S_NONCE:
        if (c->nonce == NULL) {
            fail(c, "newNonce gave no Replay-Nonce");
            break;
        }
        post(c, c->resume, c->post_url, c->post_payload);
        break;
    case S_ACCOUNT:
        if (!c->location[0]) {
            fail(c, "newAccount gave no Location");
            break;
        }
        set(&c->kid, c->location);
        if (c->cfg.on_account)
            c->cfg.on_account(c->cfg.data, c->kid);
        next(c);
        break;
    case S_ORDER:
    case S_RESUME:
        on_new_order(c, j);
        break;
    case S_AUTHZ:
        on_authz(c, j);
        break;
    case S_CHALLENGE:
        c->polls = 0;
        post(c, S_POLL_AUTHZ, c->authz[c->i_authz], "");
        break;
    case S_POLL_AUTHZ:
        on_authz_polled(c, j);
        break;
    case S_FINALIZE:
    case S_POLL_ORDER:
        on_order_polled(c, j);
        break;
    default:
        fail(c, "unexpected answer");
        break;
    }
    cJSON_Delete(j);
}

struct acme_client *acme_client_new(const struct acme_client_config *cfg, EVP_PKEY *account_key, const char *account_url)
{
    struct acme_client *c = mem_calloc(1, sizeof(*c));
    c->cfg = *cfg;
    c->directory_url = mem_strdup(cfg->directory_url);
    c->email = cfg->email ? mem_strdup(cfg->email) : NULL;
    c->eab_kid = cfg->eab_kid ? mem_strdup(cfg->eab_kid) : NULL;
    c->eab_hmac = cfg->eab_hmac ? mem_strdup(cfg->eab_hmac) : NULL;
    c->preferred_chain = cfg->preferred_chain ? mem_strdup(cfg->preferred_chain) : NULL;
    c->ca_server_name = cfg->ca_server_name && *cfg->ca_server_name ? mem_strdup(cfg->ca_server_name) : NULL;
    c->csr_emails = mem_calloc(cfg->csr.n_emails + 1, sizeof(char *));
    for (size_t i = 0; i < cfg->csr.n_emails; i++)
        c->csr_emails[i] = mem_strdup(cfg->csr.emails[i]);
    c->cfg.csr.emails = (const char *const *)c->csr_emails;
    c->header_timer = watcher_timer_new(on_header_timeout, c);
    c->key = account_key;
    c->kid = account_url ? mem_strdup(account_url) : NULL;
    c->thumb = acme_thumbprint(account_key);
    c->timer = watcher_timer_new(on_poll_timer, c);
    curl_body_reset(&c->in, MAX_BODY);
    return c;
}

void acme_client_free(struct acme_client *c)
{
    if (c == NULL)
        return;
    end_transfer(c);
    for (size_t i = 0; i < c->n_alt; i++)
        free(c->alt[i]);
    watcher_timer_free(c->timer);
    watcher_timer_free(c->header_timer);
    clear_order(c);
    EVP_PKEY_free(c->key);
    free(c->directory_url);
    free(c->email);
    free(c->eab_kid);
    free(c->eab_hmac);
    free(c->preferred_chain);
    free(c->ca_server_name);
    for (size_t i = 0; i < c->cfg.csr.n_emails; i++)
        free(c->csr_emails[i]);
    free(c->csr_emails);
    free(c->kid);
    free(c->thumb);
    free(c->new_nonce_url);
    free(c->new_account_url);
    free(c->new_order_url);
    free(c->renewal_info_url);
    free(c->ari_cert_id);
    free(c->ari_url);
    free(c->nonce);
    free(c->post_url);
    free(c->post_payload);
    curl_body_reset(&c->in, 0);
    free(c);
}

bool acme_client_busy(const struct acme_client *c)
{
    return c->step != S_IDLE;
}

static void acme_client_order_prepare(struct acme_client *c, const char *const *names, size_t n, const char *key_type,
                                      acme_order_cb done, void *data)
{
    clear_order(c);
    c->names = mem_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        c->names[i] = mem_strdup(names[i]);
    c->n_names = n;
    c->key_type = mem_strdup(key_type);
    c->done = done;
    c->done_data = data;
    c->bad_nonce = 0;
    c->retry_at = 0;
}

void acme_client_order(struct acme_client *c, const char *const *names, size_t n, const char *key_type,
                       const char *replaces, acme_order_cb done, void *data)
{
    acme_client_order_prepare(c, names, n, key_type, done, data);
    set(&c->replaces, replaces);
    next(c);
}

void acme_client_renewal_info(struct acme_client *c, const char *cert_id, acme_ari_cb done, void *data)
{
    set(&c->ari_cert_id, cert_id);
    c->ari_done = done;
    c->ari_data = data;
    c->retry_at = 0;
    next(c);
}

int acme_client_has_renewal_info(const struct acme_client *c)
{
    return c->new_order_url == NULL ? -1 : c->renewal_info_url != NULL;
}

void acme_client_resume(struct acme_client *c, const char *order_url, const char *const *names, size_t n,
                        const char *key_type, acme_order_cb done, void *data)
{
    acme_client_order_prepare(c, names, n, key_type, done, data);
    set(&c->order_url, order_url);
    c->resuming = true;
    next(c);
}

void acme_client_challenge_ready(struct acme_client *c, const char *error)
{
    if (c->step != S_CHALLENGE_WAIT)
        return;
    if (error != NULL)
        fail(c, "%s", error);
    else
        respond(c);
}

static char *acme_client_keyauth(struct acme_client *c, const char *token)
{
    size_t n = strlen(token) + strlen(c->thumb) + 2;
    char *out = mem_alloc(n);
    snprintf(out, n, "%s.%s", token, c->thumb);
    return out;
}

time_t acme_client_retry_after(const struct acme_client *c)
{
    return c->retry_at;
}

EVP_PKEY *acme_client__key(struct acme_client *c)
{
    return c->key;
}

const char *acme_client__account_url(const struct acme_client *c)
{
    return c->kid;
}
