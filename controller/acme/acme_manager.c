/*
 * The ACME manager (see acme_manager.h).
 *
 * Data: a resolver per certificatesResolvers entry, each with its client
 * and its domain sets (one per router's host list, or found again from
 * acme.json); a storage per distinct acme.json path (resolvers may share
 * one, as in Traefik); the list of pending challenge tokens, published to
 * the workers as one immutable set (proxy/acme_challenge.h).
 *
 * One tick (a watcher timer) decides what to order: a wanted set without
 * a certificate or due for renewal, whose backoff has passed, on a
 * resolver whose client is idle.
 */
#include "acme_manager.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../common/log.h"
#include "../../proxy/acme_challenge.h"
#include "../aggregator.h"
#include "../../common/rule.h"
#include "../watcher.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_revocation.h"
#include "acme_store.h"
#include "acme_store_k8s.h"

#define BACKOFF_FIRST_MS 10000
#define BACKOFF_MAX_MS (24ull * 3600 * 1000)
#define TICK_MAX_MS (3600 * 1000)
#define MAX_NAMES 100
/* after the challenge Secret is seen on our own watch, the other replicas'
 * watches deliver it at about the same time: a short grace, then the CA */
#define CHALLENGE_GRACE_MS 300
#define CHALLENGE_WAIT_MAX_MS 5000
#define STORE_RETRY_MS 5000

struct storage {
    char *path;
    cJSON *root;
};

struct domain_set {
    char **names; /* names[0] is the main domain */
    size_t n;
    char *cert_pem, *key_pem;
    time_t not_before, not_after;
    bool wanted;
    uint64_t next_try_ms; /* watcher clock */
    uint64_t backoff_ms;
    unsigned failures;
    char *error;
    /* Kubernetes storage: issued, not yet in its Secret (never served before it is) */
    char *unsaved_cert, *unsaved_key;
    bool writing;
    uint64_t ocsp_next_ms; /* watcher clock: the next revocation check */
    bool resuming, resume_tried; /* Kubernetes storage: taking up a predecessor's order (once) */
    bool revoked;          /* the CA said so: replaced at once */
};

struct resolver {
    const struct acme_resolver_config *cfg;
    struct storage *st;
    struct acme_client *client;
    struct domain_set **sets;
    size_t n_sets;
    struct domain_set *current; /* being ordered */
    int http_ep;
    bool tls_alpn; /* tlsChallenge without httpChallenge */
    bool k8s;      /* storage in Kubernetes Secrets: issues only while holding the Lease */
    struct domain_set *writing_set;
    char *wait_token; /* the challenge whose Secret the CA must not see before the replicas do */
    bool wait_written;
    struct watcher_timer *wait_timer;
};

struct token {
    int ep;
    char *token, *keyauth;     /* HTTP-01 */
    char *domain, *cert, *key; /* TLS-ALPN-01 */
};

static struct {
    struct resolver *resolvers;
    size_t n_resolvers;
    struct storage *storages;
    size_t n_storages;
    struct token *tokens;
    size_t n_tokens;
    struct watcher_timer *tick;
    char **problems; /* from the routers: unknown resolvers, wildcards */
    size_t n_problems;
    char *ca_blob;
    size_t ca_blob_len;
    bool started, problems_dirty;
    struct acme_k8s *k8s;
    char *k8s_storage;
    struct token *k8s_tokens; /* the challenges in Secrets, served by every replica */
    size_t n_k8s_tokens;
    char *k8s_token_ids;      /* their tokens joined, to see a change */
} M;

static void schedule(uint64_t ms);
static struct acme_client *new_client(struct resolver *r, EVP_PKEY *key, const char *uri);

/* ---- challenge tokens ---- */

static void token_free(struct token *t)
{
    free(t->token);
    free(t->keyauth);
    free(t->domain);
    free(t->cert);
    free(t->key);
}

static void publish_tokens(void)
{
    size_t n = M.n_tokens + M.n_k8s_tokens;
    struct acme_challenge_spec *specs = mem_calloc(n ? n : 1, sizeof(*specs));
    for (size_t i = 0; i < n; i++) {
        const struct token *t = i < M.n_tokens ? &M.tokens[i] : &M.k8s_tokens[i - M.n_tokens];
        specs[i] = (struct acme_challenge_spec){.entrypoint = t->ep,
                                                .token = t->domain ? NULL : t->token,
                                                .keyauth = t->domain ? NULL : t->keyauth,
                                                .domain = t->domain,
                                                .cert_pem = t->cert,
                                                .key_pem = t->key};
    }
    if (acme_challenge_publish(specs, n) != 0)
        log_error("acme: the TLS-ALPN-01 challenge certificate could not be loaded");
    free(specs);
}

/* The issuer's pending challenge is among those its watch delivered. */
static bool challenge_seen(const struct resolver *r)
{
    for (size_t j = 0; r->wait_token && j < M.n_k8s_tokens; j++)
        if (strcmp(M.k8s_tokens[j].token, r->wait_token) == 0)
            return true;
    return false;
}

static void on_challenge_stored(void *data, const char *error)
{
    struct resolver *r = data;
    if (r->wait_token == NULL || r->client == NULL)
        return;
    if (error != NULL) {
        char msg[512];
        snprintf(msg, sizeof(msg), "the challenge could not be stored in Kubernetes: %s", error);
        free(r->wait_token);
        r->wait_token = NULL;
        acme_client_challenge_ready(r->client, msg);
        return;
    }
    r->wait_written = true;
    /* the watch may have delivered it before the API server's answer came */
    watcher_timer_arm(r->wait_timer, challenge_seen(r) ? CHALLENGE_GRACE_MS : CHALLENGE_WAIT_MAX_MS);
}

static void on_challenge_wait(void *data)
{
    struct resolver *r = data;
    if (r->wait_token == NULL || r->client == NULL)
        return;
    free(r->wait_token);
    r->wait_token = NULL;
    acme_client_challenge_ready(r->client, NULL);
}

static void token_from_challenge(struct token *t, const struct resolver *r, const char *domain, const char *token,
                                 const char *keyauth);

static void on_challenge(void *data, const char *domain, const char *token, const char *keyauth, bool add)
{
    struct resolver *r = data;
    if (r->k8s) {
        if (M.k8s == NULL) /* stopping */
            return;
        /* every replica serves it from the Secret (the CA may reach any of them) */
        if (add) {
            free(r->wait_token);
            r->wait_token = mem_strdup(token);
            r->wait_written = false;
            acme_k8s_put_challenge(M.k8s, r->cfg->name, domain, token, keyauth, on_challenge_stored, r);
        }
        /* a withdrawn challenge stays until the order ends (on_order deletes them all): a CA validating
         * from several places may come late, and a successor taking the order up needs it */
        return;
    }
    if (add) {
        struct token t;
        token_from_challenge(&t, r, domain, token, keyauth);
        if (t.token == NULL)
            return;
        M.tokens = mem_realloc(M.tokens, (M.n_tokens + 1) * sizeof(*M.tokens));
        M.tokens[M.n_tokens++] = t;
    } else {
        for (size_t i = 0; i < M.n_tokens; i++) {
            if (strcmp(M.tokens[i].token, token) == 0) {
                token_free(&M.tokens[i]);
                M.tokens[i] = M.tokens[--M.n_tokens];
                break;
            }
        }
    }
    publish_tokens();
}

/* <t> for a challenge of <r>; t->token NULL when the TLS-ALPN-01 certificate cannot be made. */
static void token_from_challenge(struct token *t, const struct resolver *r, const char *domain, const char *token,
                                 const char *keyauth)
{
    *t = (struct token){.ep = r->http_ep, .token = mem_strdup(token), .keyauth = mem_strdup(keyauth)};
    if (r->tls_alpn) {
        /* lowercase: the ClientHello's name is compared without case, the stored one as is */
        t->domain = mem_strdup(domain ? domain : "");
        for (char *p = t->domain; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (acme_tlsalpn_cert(t->domain, keyauth, &t->cert, &t->key) != 0) {
            log_error("acme: resolver %s: cannot make the TLS-ALPN-01 certificate for %s", r->cfg->name, t->domain);
            token_free(t);
            memset(t, 0, sizeof(*t));
        }
    }
}

/* ---- storage and the model ---- */

static void save(struct resolver *r)
{
    struct diag d;
    if (acme_store_save(r->st->path, r->st->root, &d) != 0)
        log_error("acme: resolver %s: %s", r->cfg->name, d.msg);
}

static void on_order_url(void *data, const char *url)
{
    struct resolver *r = data;
    if (r->k8s && M.k8s && r->current)
        acme_k8s_put_order(M.k8s, r->cfg->name, r->current->names[0], url);
}

static void on_account(void *data, const char *url)
{
    struct resolver *r = data;
    log_info("acme: resolver %s: account %s", r->cfg->name, url);
    if (r->k8s) {
        size_t n;
        const cJSON **acct = acme_k8s_list(M.k8s, "account", r->cfg->name, &n);
        const char *old = n ? acme_k8s_annotation(acct[0], "gantry.io/acme-account-uri") : NULL;
        bool same = old && strcmp(old, url) == 0;
        free(acct);
        if (!same) {
            char *pem = acme_key_pem(acme_client__key(r->client));
            acme_k8s_put_account(M.k8s, r->cfg->name, r->cfg->email, url, pem, NULL, NULL);
            free(pem);
        }
        return;
    }
    /* the key is stored with the URL so the next start reuses the account */
    cJSON *res = acme_store_resolver(r->st->root, r->cfg->name);
    const char *old_uri, *key_b64;
    if (acme_store_account(res, &old_uri, &key_b64) == 0 && old_uri && strcmp(old_uri, url) == 0)
        return;
    EVP_PKEY *key = acme_client__key(r->client);
    char *kb = acme_key_der_b64(key);
    /* lego's names for the account key's type */
    const char *alg = acme_jws_alg(key), *type = "P256";
    char bits[16];
    if (strcmp(alg, "ES384") == 0)
        type = "P384";
    else if (strcmp(alg, "RS256") == 0)
        snprintf(bits, sizeof(bits), "%d", EVP_PKEY_get_bits(key)), type = bits;
    acme_store_set_account(res, r->cfg->email, url, kb, type);
    free(kb);
    save(r);
}

static void submit_model(void)
{
    struct model *m = model_new("acme");
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        for (size_t j = 0; j < r->n_sets; j++) {
            struct domain_set *s = r->sets[j];
            if (s->cert_pem) {
                struct model_tls_cert *c = arena_alloc(&m->arena, sizeof(*c));
                c->cert_pem = arena_strdup(&m->arena, s->cert_pem);
                c->key_pem = arena_strdup(&m->arena, s->key_pem);
                c->origin.provider = "acme";
                c->origin.source = arena_printf(&m->arena, "certificate resolver %s, %s", r->cfg->name, s->names[0]);
                ptr_vec_push(&m->arena, &m->certs, c);
            }
            if (s->error)
                ptr_vec_push(&m->arena, &m->problems,
                             arena_printf(&m->arena, "acme: resolver %s: certificate for %s: %s (failures: %u, next attempt in %llu s)",
                                          r->cfg->name, s->names[0], s->error, s->failures,
                                          (unsigned long long)((s->next_try_ms > watcher_now_ms() ? s->next_try_ms - watcher_now_ms() : 0) / 1000)));
        }
    }
    for (size_t i = 0; i < M.n_problems; i++)
        ptr_vec_push(&m->arena, &m->problems, arena_strdup(&m->arena, M.problems[i]));
    aggregator_submit(m);
}

/* ---- domain sets ---- */

static struct domain_set *set_new(struct resolver *r, const char *const *names, size_t n)
{
    struct domain_set *s = mem_calloc(1, sizeof(*s));
    s->names = mem_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        s->names[i] = mem_strdup(names[i]);
    s->n = n;
    r->sets = mem_realloc(r->sets, (r->n_sets + 1) * sizeof(*r->sets));
    r->sets[r->n_sets++] = s;
    return s;
}

static void set_free(struct domain_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->cert_pem);
    free(s->key_pem);
    free(s->error);
    free(s->unsaved_cert);
    free(s->unsaved_key);
    free(s);
}

static bool set_has(const struct domain_set *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcasecmp(s->names[i], name) == 0)
            return true;
    return false;
}

/* When a renewal is due: a third of the certificate's lifetime before it ends. */
static time_t renew_at(const struct domain_set *s)
{
    return s->not_after - (s->not_after - s->not_before) / 3;
}

static void set_cert(struct domain_set *s, const char *cert_pem, const char *key_pem, time_t nb, time_t na)
{
    free(s->cert_pem);
    free(s->key_pem);
    s->cert_pem = mem_strdup(cert_pem);
    s->key_pem = mem_strdup(key_pem);
    s->not_before = nb;
    s->not_after = na;
    s->revoked = false;
    s->ocsp_next_ms = 0;
}

/* Kubernetes storage: the issued certificate's Secret is written; now it is served. */
static void on_cert_stored(void *data, const char *error)
{
    struct resolver *r = data;
    struct domain_set *s = r->writing_set;
    r->writing_set = NULL;
    if (s == NULL)
        return;
    s->writing = false;
    time_t nb, na;
    if (error != NULL || s->unsaved_cert == NULL || acme_cert_validity(s->unsaved_cert, &nb, &na) != 0) {
        s->next_try_ms = watcher_now_ms() + STORE_RETRY_MS; /* the tick writes it again */
        schedule(STORE_RETRY_MS);
        return;
    }
    log_info("acme: resolver %s: certificate for %s stored in Kubernetes", r->cfg->name, s->names[0]);
    set_cert(s, s->unsaved_cert, s->unsaved_key, nb, na);
    free(s->unsaved_cert);
    free(s->unsaved_key);
    s->unsaved_cert = s->unsaved_key = NULL;
    s->next_try_ms = 0;
    submit_model();
    schedule(0);
}

static void store_cert(struct resolver *r, struct domain_set *s)
{
    s->writing = true;
    r->writing_set = s;
    acme_k8s_put_certificate(M.k8s, r->cfg->name, (const char *const *)s->names, s->n, s->unsaved_cert, s->unsaved_key,
                             on_cert_stored, r);
}

static void on_order(void *data, const char *error, const char *cert_pem, const char *key_pem)
{
    struct resolver *r = data;
    struct domain_set *s = r->current;
    r->current = NULL;
    if (s == NULL)
        return;
    time_t nb, na;
    if (error == NULL && acme_cert_validity(cert_pem, &nb, &na) != 0)
        error = "the CA's certificate cannot be read";
    bool resumed = s->resuming;
    s->resuming = false;
    if (!resumed)
        s->resume_tried = false; /* a later failover may take up a later order */
    if (r->k8s && M.k8s) { /* the order is over: its record and any challenge left are stale */
        acme_k8s_delete_order(M.k8s, r->cfg->name, s->names[0]);
        acme_k8s_delete_all_challenges(M.k8s, r->cfg->name);
    }
    if (error != NULL && resumed) {
        /* a new order at once: the one retry a failover may cost */
        log_info("acme: resolver %s: the order for %s could not be resumed (%s); ordering anew", r->cfg->name, s->names[0],
                 error);
        schedule(0);
        return;
    }
    if (error != NULL) {
        s->failures++;
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (s->backoff_ms > BACKOFF_MAX_MS)
            s->backoff_ms = BACKOFF_MAX_MS;
        s->next_try_ms = watcher_now_ms() + s->backoff_ms;
        free(s->error);
        s->error = mem_strdup(error);
        log_error("acme: resolver %s: certificate for %s: %s (failure %u, next attempt in %llu s)", r->cfg->name, s->names[0],
                  error, s->failures, (unsigned long long)(s->backoff_ms / 1000));
    } else {
        s->failures = 0;
        s->backoff_ms = 0;
        s->next_try_ms = 0;
        free(s->error);
        s->error = NULL;
        char until[64];
        struct tm tm;
        gmtime_r(&na, &tm);
        strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
        log_info("acme: resolver %s: certificate for %s issued (%zu names, valid until %s)", r->cfg->name, s->names[0], s->n,
                 until);
        if (r->k8s) { /* served once its Secret is written (store_cert), so every replica has what the issuer serves */
            free(s->unsaved_cert);
            free(s->unsaved_key);
            s->unsaved_cert = mem_strdup(cert_pem);
            s->unsaved_key = mem_strdup(key_pem);
            schedule(0);
            return;
        }
        set_cert(s, cert_pem, key_pem, nb, na);
        acme_store_put_cert(acme_store_resolver(r->st->root, r->cfg->name), s->names[0], (const char *const *)s->names + 1,
                            s->n - 1, cert_pem, key_pem);
        save(r);
    }
    submit_model();
    schedule(0);
}

/* Kubernetes storage: the issuer's client, made when this replica holds the
 * Lease and has the Secrets, with the stored account when there is one. */
static bool ensure_client(struct resolver *r)
{
    if (!acme_k8s_leader(M.k8s) || !acme_k8s_synced(M.k8s))
        return false;
    if (r->client)
        return true;
    size_t n;
    const cJSON **acct = acme_k8s_list(M.k8s, "account", r->cfg->name, &n);
    EVP_PKEY *key = NULL;
    const char *uri = NULL;
    if (n > 0) {
        char *pem = acme_k8s_data(acct[0], "accountKey");
        key = pem ? acme_key_from_pem(pem) : NULL;
        free(pem);
        uri = acme_k8s_annotation(acct[0], "gantry.io/acme-account-uri");
        if (key == NULL)
            log_warn("acme: resolver %s: the account Secret's key is unreadable; a new account will be created", r->cfg->name);
    }
    if (key == NULL) {
        key = acme_key_new("EC256");
        uri = NULL;
    } else {
        log_info("acme: resolver %s: reusing the stored account %s", r->cfg->name, uri && *uri ? uri : "(URL to be found)");
    }
    r->client = new_client(r, key, uri && *uri ? uri : NULL);
    free(acct);
    return true;
}

/* ---- revocation ---- */

static void on_revocation(void *data, const char *chain_pem, bool revoked)
{
    struct domain_set *s = data;
    /* still the certificate asked about (not replaced meanwhile) */
    if (revoked && s->cert_pem && strcmp(s->cert_pem, chain_pem) == 0 && !s->revoked) {
        s->revoked = true;
        s->next_try_ms = 0;
    }
    schedule(0);
}

static void check_revocation(struct resolver *r, struct domain_set *s)
{
    s->ocsp_next_ms = watcher_now_ms() + acme_revocation_interval_ms(s->not_before, s->not_after);
    char what[512];
    snprintf(what, sizeof(what), "resolver %s: the certificate for %s", r->cfg->name, s->names[0]);
    acme_revocation_check(s->cert_pem, what, on_revocation, s);
}

static void on_tick(void *data)
{
    (void)data;
    if (M.problems_dirty) {
        M.problems_dirty = false;
        submit_model();
    }
    time_t now = time(NULL);
    uint64_t mono = watcher_now_ms(), next = TICK_MAX_MS;
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        if (r->k8s && !ensure_client(r))
            continue; /* another replica issues; its Secrets arrive through the watch */
        for (size_t j = 0; j < r->n_sets; j++) {
            struct domain_set *s = r->sets[j];
            if (s->unsaved_cert) { /* issued: stored before anything else */
                if (!s->writing && s->next_try_ms <= mono && r->writing_set == NULL)
                    store_cert(r, s);
                else if (s->next_try_ms > mono && s->next_try_ms - mono < next)
                    next = s->next_try_ms - mono;
                continue;
            }
            if (!s->wanted || s == r->current)
                continue;
            if (s->cert_pem && !s->revoked && r->client) { /* the issuer asks whether the CA revoked it */
                if (s->ocsp_next_ms <= mono && !acme_revocation_busy())
                    check_revocation(r, s);
                if (s->ocsp_next_ms > mono && s->ocsp_next_ms - mono < next)
                    next = s->ocsp_next_ms - mono;
            }
            uint64_t wait = 0;
            if (s->next_try_ms > mono)
                wait = s->next_try_ms - mono;
            if (s->cert_pem && !s->revoked && renew_at(s) > now) {
                uint64_t until = (uint64_t)(renew_at(s) - now) * 1000;
                wait = wait > until ? wait : until;
            }
            if (wait > 0 || r->current != NULL || acme_client_busy(r->client)) {
                if (wait > 0 && wait < next)
                    next = wait;
                continue;
            }
            log_info("acme: resolver %s: %s certificate for %s%s", r->cfg->name, s->cert_pem ? "renewing the" : "ordering a",
                     s->names[0], s->revoked ? " (revoked by the CA)" : "");
            r->current = s;
            const char *order = r->k8s && !s->resume_tried ? acme_k8s_order(M.k8s, r->cfg->name, s->names[0]) : NULL;
            if (order != NULL) { /* a predecessor's order in flight: taken up, not made again */
                log_info("acme: resolver %s: resuming the order %s for %s", r->cfg->name, order, s->names[0]);
                s->resuming = s->resume_tried = true;
                acme_client_resume(r->client, order, (const char *const *)s->names, s->n, r->cfg->key_type, on_order, r);
            } else {
                acme_client_order(r->client, (const char *const *)s->names, s->n, r->cfg->key_type, on_order, r);
            }
        }
    }
    schedule(next);
}

static void schedule(uint64_t ms)
{
    if (!watcher_timer_armed(M.tick) || ms == 0)
        watcher_timer_arm(M.tick, ms);
}

/* Adds the exact hosts of <n> to <out> (Host matchers anywhere in the rule). */
static void rule_hosts(const struct rule_node *n, const char **out, size_t *count)
{
    if (n == NULL)
        return;
    if (n->op != RULE_MATCH) {
        rule_hosts(n->a, out, count);
        rule_hosts(n->b, out, count);
        return;
    }
    if (n->matcher != RULE_HOST)
        return;
    for (size_t i = 0; i < n->nargs && *count < MAX_NAMES; i++) {
        bool dup = false;
        for (size_t k = 0; k < *count; k++)
            dup = dup || strcmp(out[k], n->args[i].s) == 0;
        if (!dup)
            out[(*count)++] = n->args[i].s;
    }
}

static void add_problem(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void add_problem(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    M.problems = mem_realloc(M.problems, (M.n_problems + 1) * sizeof(char *));
    M.problems[M.n_problems++] = mem_strdup(msg);
}

/* Marks the set covering <names> wanted, making one when none does. */
static void want_names(struct resolver *r, const struct model_router *rt, const char *provider, const char *const *names,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr(names[i], '*') != NULL) {
            add_problem("acme: router %s@%s: %s is a wildcard, which needs the DNS-01 challenge (not implemented)", rt->name,
                        provider, names[i]);
            return;
        }
    }
    for (size_t j = 0; j < r->n_sets; j++) {
        bool covered = true;
        for (size_t i = 0; i < n && covered; i++)
            covered = set_has(r->sets[j], names[i]);
        if (covered) {
            r->sets[j]->wanted = true;
            return;
        }
    }
    set_new(r, names, n)->wanted = true;
}

static void want(const struct model_router *rt, const char *provider, struct arena *scratch)
{
    struct resolver *r = NULL;
    for (size_t i = 0; i < M.n_resolvers && r == NULL; i++)
        if (strcmp(M.resolvers[i].cfg->name, rt->tls->cert_resolver) == 0)
            r = &M.resolvers[i];
    if (r == NULL) {
        add_problem("acme: router %s@%s: tls.certResolver '%s' is not defined in certificatesResolvers", rt->name, provider,
                    rt->tls->cert_resolver);
        return;
    }
    if (rt->tls->n_domains > 0) { /* tls.domains replace the Host rules' names */
        for (size_t i = 0; i < rt->tls->n_domains; i++) {
            const struct model_tls_domain *dom = &rt->tls->domains[i];
            const char *names[MAX_NAMES];
            size_t n = 0;
            if (dom->main)
                names[n++] = dom->main;
            for (size_t j = 0; j < dom->n_sans && n < MAX_NAMES; j++)
                names[n++] = dom->sans[j];
            want_names(r, rt, provider, names, n);
        }
        return;
    }
    const char *names[MAX_NAMES];
    size_t n = 0;
    struct diag d;
    struct rule_node *ast = rt->rule ? rule_parse(scratch, rt->rule, &d) : NULL;
    rule_hosts(ast, names, &n);
    if (n == 0) {
        add_problem("acme: router %s@%s: no Host in its rule and no tls.domains: no certificate to ask for", rt->name, provider);
        return;
    }
    want_names(r, rt, provider, names, n);
}

void acme_manager_routers(struct model *const *models, size_t n)
{
    if (!M.started)
        return;
    size_t old_problems = M.n_problems;
    char *old_joined = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&old_joined, &len);
    for (size_t i = 0; i < M.n_problems; i++) {
        fputs(M.problems[i], f);
        free(M.problems[i]);
    }
    fclose(f);
    M.n_problems = 0;
    for (size_t i = 0; i < M.n_resolvers; i++)
        for (size_t j = 0; j < M.resolvers[i].n_sets; j++)
            M.resolvers[i].sets[j]->wanted = false;
    struct arena scratch;
    arena_init(&scratch);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(models[i]->provider, "acme") == 0)
            continue;
        for (size_t j = 0; j < models[i]->routers.len; j++) {
            const struct model_router *rt = models[i]->routers.items[j];
            if (rt->tls && rt->tls->cert_resolver && *rt->tls->cert_resolver)
                want(rt, models[i]->provider, &scratch);
        }
    }
    arena_free(&scratch);
    char *joined = NULL;
    f = open_memstream(&joined, &len);
    for (size_t i = 0; i < M.n_problems; i++)
        fputs(M.problems[i], f);
    fclose(f);
    /* a new problem is a change of the acme model: submitted from the tick, never from inside a compile */
    bool changed = old_problems != M.n_problems || strcmp(old_joined, joined) != 0;
    free(old_joined);
    free(joined);
    if (changed) {
        for (size_t i = 0; i < M.n_problems; i++)
            log_warn("%s", M.problems[i]);
    }
    schedule(0);
    if (changed)
        M.problems_dirty = true;
}

/* LEGO_CA_CERTIFICATES (Traefik's variable): PEM files, separated by ':',
 * trusted instead of the system store for the CA's HTTPS. */
static int load_ca(struct diag *d)
{
    const char *env = getenv("LEGO_CA_CERTIFICATES");
    if (env == NULL || *env == '\0')
        return 0;
    char *list = mem_strdup(env), *save = NULL;
    FILE *out = open_memstream(&M.ca_blob, &M.ca_blob_len);
    int rc = 0;
    for (char *p = strtok_r(list, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
        FILE *f = fopen(p, "r");
        if (f == NULL) {
            rc = diag_set(d, "LEGO_CA_CERTIFICATES: cannot read %s", p);
            break;
        }
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
            fwrite(buf, 1, n, out);
        fputc('\n', out);
        fclose(f);
    }
    fclose(out);
    free(list);
    return rc;
}

static struct storage *storage_of(const char *path, struct diag *d)
{
    for (size_t i = 0; i < M.n_storages; i++)
        if (strcmp(M.storages[i].path, path) == 0)
            return &M.storages[i];
    cJSON *root = acme_store_load(path, d);
    if (root == NULL)
        return NULL;
    struct storage *s = &M.storages[M.n_storages++];
    *s = (struct storage){mem_strdup(path), root};
    return s;
}

/* The certificates already in acme.json, served at once and renewed when due. */
static void load_certs(struct resolver *r, cJSON *res)
{
    for (size_t i = 0; i < acme_store_cert_count(res); i++) {
        const char *sans[MAX_NAMES], *names[MAX_NAMES + 1];
        struct acme_store_cert c;
        time_t nb, na;
        if (acme_store_cert_get(res, i, &c, sans, MAX_NAMES) != 0)
            continue;
        if (acme_cert_validity(c.cert_pem, &nb, &na) == 0) {
            names[0] = c.main;
            if (c.n_sans) /* no SANs: c.sans may be NULL */
                memcpy(names + 1, c.sans, c.n_sans * sizeof(char *));
            struct domain_set *s = set_new(r, names, c.n_sans + 1);
            s->cert_pem = c.cert_pem;
            s->key_pem = c.key_pem;
            s->not_before = nb;
            s->not_after = na;
            continue;
        }
        log_warn("acme: resolver %s: the stored certificate for %s is unreadable; it will be ordered again", r->cfg->name,
                 c.main);
        free(c.cert_pem);
        free(c.key_pem);
    }
}

/* ---- Kubernetes storage ---- */

static bool same_token_ids(const char *joined)
{
    return M.k8s_token_ids && strcmp(M.k8s_token_ids, joined) == 0;
}

static struct resolver *resolver_named(const char *name)
{
    for (size_t i = 0; name && i < M.n_resolvers; i++)
        if (strcmp(M.resolvers[i].cfg->name, name) == 0)
            return &M.resolvers[i];
    return NULL;
}

/* The challenges in Secrets, published to this replica's workers when they changed. */
static void k8s_challenges(void)
{
    size_t n;
    const cJSON **items = acme_k8s_list(M.k8s, "challenge", NULL, &n);
    char *joined = NULL;
    size_t jlen = 0;
    FILE *f = open_memstream(&joined, &jlen);
    for (size_t i = 0; i < n; i++) {
        const cJSON *rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(items[i], "metadata"),
                                                           "resourceVersion");
        fprintf(f, "%s;", cJSON_IsString(rv) ? rv->valuestring : "");
    }
    fclose(f);
    if (!same_token_ids(joined)) {
        for (size_t i = 0; i < M.n_k8s_tokens; i++)
            token_free(&M.k8s_tokens[i]);
        M.n_k8s_tokens = 0;
        M.k8s_tokens = mem_realloc(M.k8s_tokens, (n ? n : 1) * sizeof(*M.k8s_tokens));
        for (size_t i = 0; i < n; i++) {
            struct resolver *r = resolver_named(acme_k8s_annotation(items[i], "gantry.io/acme-resolver"));
            char *token = acme_k8s_data(items[i], "token"), *ka = acme_k8s_data(items[i], "keyAuthorization"),
                 *domain = acme_k8s_data(items[i], "domain");
            if (r && token && ka && domain) {
                struct token t;
                token_from_challenge(&t, r, domain, token, ka);
                if (t.token)
                    M.k8s_tokens[M.n_k8s_tokens++] = t;
            }
            free(token);
            free(ka);
            free(domain);
        }
        free(M.k8s_token_ids);
        M.k8s_token_ids = joined;
        joined = NULL;
        publish_tokens();
    }
    free(joined);
    free(items);
    /* the issuer's own challenge is visible on its watch: the others' see it too, about now */
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        if (r->wait_written && challenge_seen(r))
            watcher_timer_arm(r->wait_timer, CHALLENGE_GRACE_MS);
    }
}

/* The certificates in Secrets, served as they appear or change. */
static bool k8s_certificates(struct resolver *r)
{
    size_t n;
    bool changed = false;
    const cJSON **items = acme_k8s_list(M.k8s, "certificate", r->cfg->name, &n);
    for (size_t i = 0; i < n; i++) {
        const char *domains = acme_k8s_annotation(items[i], "gantry.io/acme-domains");
        char *cert = acme_k8s_data(items[i], "tls.crt"), *key = acme_k8s_data(items[i], "tls.key");
        time_t nb, na;
        if (domains && *domains && cert && key && acme_cert_validity(cert, &nb, &na) == 0) {
            char *copy = mem_strdup(domains), *save = NULL;
            const char *names[MAX_NAMES];
            size_t nn = 0;
            for (char *p = strtok_r(copy, ",", &save); p && nn < MAX_NAMES; p = strtok_r(NULL, ",", &save))
                names[nn++] = p;
            struct domain_set *s = NULL;
            for (size_t j = 0; j < r->n_sets && s == NULL; j++)
                if (strcasecmp(r->sets[j]->names[0], names[0]) == 0)
                    s = r->sets[j];
            if (s == NULL)
                s = set_new(r, names, nn);
            if (s->cert_pem == NULL || strcmp(s->cert_pem, cert) != 0) {
                set_cert(s, cert, key, nb, na);
                free(s->error);
                s->error = NULL;
                changed = true;
            }
            free(copy);
        }
        free(cert);
        free(key);
    }
    free(items);
    return changed;
}

static void on_k8s_changed(void *data)
{
    (void)data;
    bool changed = false;
    for (size_t i = 0; i < M.n_resolvers; i++)
        if (M.resolvers[i].k8s)
            changed = k8s_certificates(&M.resolvers[i]) || changed;
    k8s_challenges();
    if (changed)
        submit_model();
    schedule(0);
}

static void on_k8s_leader(bool leader, void *data)
{
    (void)data;
    if (leader) {
        log_info("acme: this replica issues the certificates (Kubernetes storage %s)", M.k8s_storage);
        schedule(0);
        return;
    }
    /* another replica issues now: an order in flight is dropped (the new issuer orders again) */
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        if (!r->k8s)
            continue;
        acme_k8s_forget(M.k8s, r);
        watcher_timer_cancel(r->wait_timer);
        free(r->wait_token);
        r->wait_token = NULL;
        if (r->writing_set)
            r->writing_set->writing = false;
        r->writing_set = NULL;
        r->current = NULL;
        acme_client_free(r->client);
        r->client = NULL;
    }
}

static int k8s_resolver_init(struct resolver *r, const struct acme_manager_options *o, const char *ns, const char *prefix,
                             struct diag *d)
{
    r->k8s = true;
    r->wait_timer = watcher_timer_new(on_challenge_wait, r);
    if (M.k8s != NULL) {
        if (strcmp(M.k8s_storage, r->cfg->storage) != 0)
            return diag_set(d, "certificatesResolvers.%s.acme.storage: '%s': every resolver stored in Kubernetes must name the "
                               "same storage (here '%s')", r->cfg->name, r->cfg->storage, M.k8s_storage);
        return 0;
    }
    if (*ns == '\0')
        return diag_set(d, "certificatesResolvers.%s.acme.storage: '%s' names no namespace (kubernetes://<namespace>[/<prefix>])",
                        r->cfg->name, r->cfg->storage);
    struct acme_k8s_options ko = {.conn = o->k8s_conn,
                                  .ns = ns,
                                  .prefix = prefix,
                                  .lease_ms = o->k8s_lease_ms,
                                  .changed = on_k8s_changed,
                                  .leader = on_k8s_leader};
    M.k8s_storage = mem_strdup(r->cfg->storage);
    M.k8s = acme_k8s_start(&ko, d);
    return M.k8s ? 0 : -1;
}

static int resolver_init(struct resolver *r, const struct acme_resolver_config *cfg, const struct acme_manager_options *o,
                         struct diag *d)
{
    r->cfg = cfg;
    r->http_ep = -1;
    if (!acme_key_type_valid(cfg->key_type))
        return diag_set(d, "certificatesResolvers.%s.acme.keyType: '%s' is not one of EC256, EC384, RSA2048, RSA3072, RSA4096, "
                           "RSA8192", cfg->name, cfg->key_type);
    r->tls_alpn = cfg->tls_challenge && !cfg->http_challenge; /* both: HTTP-01, as lego prefers */
    if (cfg->http_entrypoint) {
        for (size_t i = 0; i < o->n_entrypoints; i++)
            if (strcmp(o->entrypoints[i], cfg->http_entrypoint) == 0)
                r->http_ep = (int)i;
        if (r->http_ep < 0)
            return diag_set(d, "certificatesResolvers.%s.acme.httpChallenge.entryPoint: no entry point named '%s'", cfg->name,
                            cfg->http_entrypoint);
    }
    if ((cfg->eab_kid == NULL) != (cfg->eab_hmac == NULL))
        return diag_set(d, "certificatesResolvers.%s.acme.eab needs both kid and hmacEncoded", cfg->name);
    char ns[256], prefix[200];
    if (acme_k8s_parse(cfg->storage, ns, sizeof(ns), prefix, sizeof(prefix)))
        return k8s_resolver_init(r, o, ns, prefix, d);
    if ((r->st = storage_of(cfg->storage, d)) == NULL)
        return -1;
    cJSON *res = acme_store_resolver(r->st->root, cfg->name);
    const char *uri = NULL, *key_b64 = NULL;
    EVP_PKEY *key = NULL;
    if (acme_store_account(res, &uri, &key_b64) == 0) {
        key = acme_key_from_der_b64(key_b64);
        if (key != NULL && acme_jws_alg(key) == NULL) {
            /* RSA (Traefik's default, RS256), P-256 and P-384 sign; anything else means a new account */
            log_warn("acme: resolver %s: the stored account key is neither RSA, EC P-256 nor EC P-384; a new account will be "
                     "created", cfg->name);
            EVP_PKEY_free(key);
            key = NULL;
        }
        if (key == NULL)
            uri = NULL;
        else
            log_info("acme: resolver %s: reusing the stored account %s (%s key)", cfg->name,
                     uri && *uri ? uri : "(URL to be found)", acme_jws_alg(key));
    }
    if (key == NULL) {
        key = acme_key_new("EC256");
        uri = NULL;
    }
    r->client = new_client(r, key, uri && *uri ? uri : NULL);
    load_certs(r, res);
    return 0;
}

static struct acme_client *new_client(struct resolver *r, EVP_PKEY *key, const char *uri)
{
    const struct acme_resolver_config *cfg = r->cfg;
    struct acme_client_config cc = {.directory_url = cfg->ca_server,
                                    .email = cfg->email,
                                    .eab_kid = cfg->eab_kid,
                                    .eab_hmac = cfg->eab_hmac,
                                    .preferred_chain = cfg->preferred_chain,
                                    .challenge = r->tls_alpn ? ACME_TLSALPN01 : ACME_HTTP01,
                                    .ca_blob = M.ca_blob,
                                    .ca_blob_len = M.ca_blob_len,
                                    .on_challenge = on_challenge,
                                    .on_account = on_account,
                                    .on_order_url = on_order_url,
                                    .defer_challenge = r->k8s,
                                    .data = r};
    return acme_client_new(&cc, key, uri);
}

int acme_manager_start(const struct acme_manager_options *o, struct diag *d)
{
    M.tick = watcher_timer_new(on_tick, NULL);
    M.started = true; /* even without resolvers: a router naming one gets a problem in the API */
    aggregator_set_compile_hook(acme_manager_routers);
    if (o->n_resolvers == 0)
        return 0;
    if (load_ca(d) != 0)
        return -1;
    M.resolvers = mem_calloc(o->n_resolvers, sizeof(*M.resolvers));
    M.storages = mem_calloc(o->n_resolvers, sizeof(*M.storages));
    for (size_t i = 0; i < o->n_resolvers; i++) {
        M.n_resolvers++;
        if (resolver_init(&M.resolvers[i], &o->resolvers[i], o, d) != 0)
            return -1;
    }
    submit_model();
    return 0;
}

void acme_manager_stop(void)
{
    acme_k8s_stop(M.k8s); /* first: the lease is released, and the clients freed below write nothing more */
    M.k8s = NULL;
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        acme_client_free(r->client);
        r->client = NULL;
        if (r->wait_timer)
            watcher_timer_free(r->wait_timer);
        free(r->wait_token);
        for (size_t j = 0; j < r->n_sets; j++)
            set_free(r->sets[j]);
        free(r->sets);
    }
    for (size_t i = 0; i < M.n_storages; i++) {
        cJSON_Delete(M.storages[i].root);
        free(M.storages[i].path);
    }
    acme_revocation_stop();
    for (size_t i = 0; i < M.n_tokens; i++)
        token_free(&M.tokens[i]);
    for (size_t i = 0; i < M.n_k8s_tokens; i++)
        token_free(&M.k8s_tokens[i]);
    free(M.k8s_tokens);
    free(M.k8s_token_ids);
    free(M.k8s_storage);
    for (size_t i = 0; i < M.n_problems; i++)
        free(M.problems[i]);
    if (M.tick)
        watcher_timer_free(M.tick);
    free(M.resolvers);
    free(M.storages);
    free(M.tokens);
    free(M.problems);
    free(M.ca_blob);
    acme_challenge_shutdown();
    memset(&M, 0, sizeof(M));
}
