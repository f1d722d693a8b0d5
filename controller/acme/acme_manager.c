/*
 * The ACME manager (see acme_manager.h).
 *
 * Data: a resolver per certificatesResolvers entry, each with its client
 * and its domain sets (one per router's host list, or found again from
 * acme.json); a storage per distinct acme.json path (resolvers may share
 * one, as in Traefik); the list of pending challenge tokens, published to
 * the workers as one immutable set (proxy/acme_challenge.h).
 *
 * Storage in Kubernetes Secrets is acme_manager_k8s.c; which sets the
 * routers want, acme_manager_routers.c.
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
#include "acme_crypto.h"
#include "acme_manager_internal.h"
#include "acme_renewal.h"
#include "acme_retry.h"
#include "acme_revocation.h"
#include "acme_store.h"

struct acme_manager_state acme_manager__state;

/* ---- challenge tokens ---- */

void acme_manager__token_free(struct token *t)
{
    free(t->token);
    free(t->keyauth);
    free(t->domain);
    free(t->cert);
    free(t->key);
}

void acme_manager__publish_tokens(void)
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

/* DNS-01: the record is published and seen at the resolvers (or not): the CA may validate */
static void on_dns_ready(void *data, const char *error)
{
    struct resolver *r = data;
    if (r->client)
        acme_client_challenge_ready(r->client, error);
}

static void on_challenge(void *data, const char *domain, const char *token, const char *keyauth, bool add)
{
    struct resolver *r = data;
    if (r->dns) { /* the TXT record, not a token served by gantry (nor a Secret for the replicas) */
        if (add)
            acme_dns_present(r->dns, domain, token, keyauth, on_dns_ready, r);
        else
            acme_dns_cleanup(r->dns);
        return;
    }
    if (r->k8s) {
        acme_manager__k8s_challenge(r, domain, token, keyauth, add);
        return;
    }
    if (add) {
        struct token t;
        acme_manager__token_from_challenge(&t, r, domain, token, keyauth);
        if (t.token == NULL)
            return;
        M.tokens = mem_realloc(M.tokens, (M.n_tokens + 1) * sizeof(*M.tokens));
        M.tokens[M.n_tokens++] = t;
    } else {
        for (size_t i = 0; i < M.n_tokens; i++) {
            if (strcmp(M.tokens[i].token, token) == 0) {
                acme_manager__token_free(&M.tokens[i]);
                M.tokens[i] = M.tokens[--M.n_tokens];
                break;
            }
        }
    }
    acme_manager__publish_tokens();
}

/* <t> for a challenge of <r>; t->token NULL when the TLS-ALPN-01 certificate cannot be made. */
void acme_manager__token_from_challenge(struct token *t, const struct resolver *r, const char *domain, const char *token,
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
            acme_manager__token_free(t);
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

static void on_account(void *data, const char *url)
{
    struct resolver *r = data;
    log_info("acme: resolver %s: account %s", r->cfg->name, url);
    if (r->k8s) {
        acme_manager__k8s_account(r, url);
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

static void format_time(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- the CA's pause, kept where a restart or the next issuer finds it ---- */

void acme_manager__set_pause(struct resolver *r, time_t until)
{
    time_t now = time(NULL);
    until = until > now ? acme_retry_cap(until, now) : 0;
    r->retry_at_wall = until;
    r->paused_until_ms = until ? watcher_now_ms() + acme_retry_wait_ms(0, until, now) : 0;
}

time_t acme_manager__stored_pause(const struct resolver *r, const char *not_before, const char *ca)
{
    if (not_before == NULL)
        return 0;
    if (ca == NULL || strcmp(ca, r->cfg->ca_server) != 0) { /* another CA's limit (staging vs production) */
        log_debug("acme: resolver %s: the stored pause until %s is for the CA %s, not %s: ignored", r->cfg->name, not_before,
                  ca ? ca : "(none)", r->cfg->ca_server);
        return 0;
    }
    return acme_retry_stored(not_before, time(NULL));
}

/* r->retry_at_wall into acme.json or the account Secret (0: removed). */
static void store_pause(struct resolver *r)
{
    if (r->k8s) {
        acme_manager__k8s_store_pause(r);
        return;
    }
    char at[32];
    acme_retry_format(r->retry_at_wall, at, sizeof(at));
    acme_store_set_pause(acme_store_resolver(r->st->root, r->cfg->name), r->retry_at_wall ? at : NULL, r->cfg->ca_server);
    save(r);
}

void acme_manager__submit_model(void)
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
    for (size_t i = 0; i < M.n_resolvers; i++) {
        const struct resolver *r = &M.resolvers[i];
        if (r->key_failed)
            ptr_vec_push(&m->arena, &m->problems,
                         arena_printf(&m->arena, "acme: resolver %s: the %s account key could not be made; no certificate is "
                                                 "ordered", r->cfg->name, ACCOUNT_KEY_TYPE_FILE));
        if (r->paused_until_ms > watcher_now_ms()) {
            char at[32];
            format_time(r->retry_at_wall, at, sizeof(at));
            ptr_vec_push(&m->arena, &m->problems,
                         arena_printf(&m->arena, "acme: resolver %s: the CA asked for no new request before %s (Retry-After); "
                                                 "every order of this resolver waits", r->cfg->name, at));
        }
    }
    const struct domain_set *d = M.default_set;
    if (d && d->cert_pem) { /* defaultGeneratedCert: for no SNI and unknown names */
        struct model_tls_cert *c = arena_alloc(&m->arena, sizeof(*c));
        c->cert_pem = arena_strdup(&m->arena, d->cert_pem);
        c->key_pem = arena_strdup(&m->arena, d->key_pem);
        c->origin.provider = "acme";
        c->origin.source = arena_printf(&m->arena, "certificate resolver %s, %s (tls.stores.default.defaultGeneratedCert)",
                                        M.default_resolver->cfg->name, d->names[0]);
        m->default_cert = c;
    }
    for (size_t i = 0; i < M.n_problems; i++)
        ptr_vec_push(&m->arena, &m->problems, arena_strdup(&m->arena, M.problems[i]));
    aggregator_submit(m);
}

/* ---- domain sets ---- */

struct domain_set *acme_manager__set_new(struct resolver *r, const char *const *names, size_t n)
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
    free(s->ari_id);
    free(s);
}

/* When a renewal of <s> is due, by certificatesDuration (acme_renewal.h). */
static struct acme_renewal renewal_of(const struct resolver *r, const struct domain_set *s)
{
    return acme_renewal_plan(r->cfg->certificates_duration_h, s->not_before, s->not_after);
}

void acme_manager__log_renewal(const struct resolver *r, const struct domain_set *s, const char *what)
{
    struct acme_renewal p = renewal_of(r, s);
    char until[32], from[32], period[32], lifetime[32], configured[32];
    format_time(s->not_after, until, sizeof(until));
    format_time(p.at, from, sizeof(from));
    acme_renewal_format(p.period_s, period, sizeof(period));
    log_info("acme: resolver %s: certificate for %s %s (%zu names, valid until %s, renewal from %s, %s before the end)",
             r->cfg->name, s->names[0], what, s->n, until, from, period);
    if (p.basis == ACME_RENEWAL_CONFIGURED)
        return;
    acme_renewal_format((int64_t)(s->not_after - s->not_before), lifetime, sizeof(lifetime));
    acme_renewal_format(acme_renewal_window(r->cfg->certificates_duration_h).period_s, configured, sizeof(configured));
    log_warn("acme: resolver %s: the certificate for %s lives %s, not longer than the renewal period of certificatesDuration "
             "%lld (%s): renewed %s before the end instead (%s); set certificatesDuration to the CA's lifetime in hours",
             r->cfg->name, s->names[0], lifetime, (long long)r->cfg->certificates_duration_h, configured, period,
             p.basis == ACME_RENEWAL_LIFETIME ? "the row of its own lifetime" : "a third of its lifetime");
}

void acme_manager__set_cert(struct domain_set *s, const char *cert_pem, const char *key_pem, time_t nb, time_t na)
{
    free(s->cert_pem);
    free(s->key_pem);
    s->cert_pem = mem_strdup(cert_pem);
    s->key_pem = mem_strdup(key_pem);
    s->not_before = nb;
    s->not_after = na;
    s->revoked = false;
    s->ocsp_next_ms = 0;
    acme_manager__ari_reset(s);
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
    if (r->k8s)
        acme_manager__k8s_order_over(r, s);
    if (error != NULL && resumed) {
        /* a new order at once: the one retry a failover may cost */
        log_info("acme: resolver %s: the order for %s could not be resumed (%s); ordering anew", r->cfg->name, s->names[0],
                 error);
        acme_manager__schedule(0);
        return;
    }
    if (error != NULL) {
        s->failures++;
        /* a renewal is tried again at least once per check interval (Traefik's ticker), before the certificate ends */
        uint64_t cap = BACKOFF_MAX_MS;
        if (s->cert_pem && !s->revoked && (uint64_t)renewal_of(r, s).interval_s * 1000 < cap)
            cap = (uint64_t)renewal_of(r, s).interval_s * 1000;
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_FIRST_MS;
        if (s->backoff_ms > cap)
            s->backoff_ms = cap;
        /* the CA's Retry-After, however short the backoff or the renewal interval */
        time_t retry_at = acme_client_retry_after(r->client), now = time(NULL);
        uint64_t wait = acme_retry_wait_ms(s->backoff_ms, retry_at, now);
        s->next_try_ms = watcher_now_ms() + wait;
        if (retry_at > now) { /* and for every other order of the resolver, here and after a restart or failover */
            uint64_t until = watcher_now_ms() + acme_retry_wait_ms(0, retry_at, now);
            if (until > r->paused_until_ms) {
                acme_manager__set_pause(r, retry_at);
                char at[32];
                format_time(r->retry_at_wall, at, sizeof(at));
                log_warn("acme: resolver %s: the CA asked for no new request before %s (Retry-After); every order of this "
                         "resolver waits until then", r->cfg->name, at);
                store_pause(r);
            }
        }
        free(s->error);
        s->error = mem_strdup(error);
        log_error("acme: resolver %s: certificate for %s: %s (failure %u, next attempt in %llu s%s)", r->cfg->name, s->names[0],
                  error, s->failures, (unsigned long long)(wait / 1000), wait > s->backoff_ms ? ", as the CA asked" : "");
    } else {
        s->failures = 0;
        s->backoff_ms = 0;
        s->next_try_ms = 0;
        free(s->error);
        s->error = NULL;
        if (r->retry_at_wall != 0)
            log_info("acme: resolver %s: the CA took an order again: its pause is cleared", r->cfg->name);
        acme_manager__set_pause(r, 0);
        if (r->k8s) /* the stored pause is removed (acme.json: with the certificate, below) */
            acme_manager__k8s_store_pause(r);
        else
            acme_store_set_pause(acme_store_resolver(r->st->root, r->cfg->name), NULL, NULL);
        if (r->k8s) { /* served once its Secret is written (store_cert), so every replica has what the issuer serves */
            log_info("acme: resolver %s: certificate for %s issued (%zu names); storing it in Kubernetes", r->cfg->name,
                     s->names[0], s->n);
            free(s->unsaved_cert);
            free(s->unsaved_key);
            s->unsaved_cert = mem_strdup(cert_pem);
            s->unsaved_key = mem_strdup(key_pem);
            acme_manager__schedule(0);
            return;
        }
        acme_manager__set_cert(s, cert_pem, key_pem, nb, na);
        acme_manager__log_renewal(r, s, "issued");
        acme_store_put_cert(acme_store_resolver(r->st->root, r->cfg->name), s->names[0], (const char *const *)s->names + 1,
                            s->n - 1, cert_pem, key_pem);
        save(r);
    }
    acme_manager__submit_model();
    acme_manager__schedule(0);
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
    acme_manager__schedule(0);
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
        acme_manager__submit_model();
    }
    time_t now = time(NULL);
    uint64_t mono = watcher_now_ms(), next = TICK_MAX_MS;
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        if (r->k8s && !acme_manager__k8s_ensure_client(r))
            continue; /* another replica issues; its Secrets arrive through the watch */
        if (r->client == NULL)
            continue; /* the account key is being made (on_account_key ticks again) */
        for (size_t j = 0; j < r->n_sets; j++) {
            struct domain_set *s = r->sets[j];
            if (s->unsaved_cert) { /* issued: stored before anything else */
                if (!s->writing && s->next_try_ms <= mono && r->writing_set == NULL)
                    acme_manager__k8s_store_cert(r, s);
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
            if (acme_manager__ari_poll(r, s, mono, &next))
                continue; /* the renewal time is the CA's to suggest first */
            uint64_t wait = 0;
            if (s->next_try_ms > mono)
                wait = s->next_try_ms - mono;
            if (r->paused_until_ms > mono && r->paused_until_ms - mono > wait) /* the CA's Retry-After */
                wait = r->paused_until_ms - mono;
            time_t renew_at = s->cert_pem ? acme_manager__renew_at(r, s) : 0;
            if (s->cert_pem && !s->revoked && renew_at > now) {
                uint64_t until = (uint64_t)(renew_at - now) * 1000;
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
            if (r->dns)
                acme_dns_order_start(r->dns);
            const char *order = r->k8s && !s->resume_tried ? acme_k8s_order(M.k8s, r->cfg->name, s->names[0]) : NULL;
            if (order != NULL) { /* a predecessor's order in flight: taken up, not made again */
                log_info("acme: resolver %s: resuming the order %s for %s", r->cfg->name, order, s->names[0]);
                s->resuming = s->resume_tried = true;
                acme_client_resume(r->client, order, (const char *const *)s->names, s->n, r->cfg->key_type, on_order, r);
            } else {
                const char *replaces = acme_manager__ari_replaces(r, s);
                if (replaces)
                    log_info("acme: resolver %s: the order for %s replaces %s (RFC 9773)", r->cfg->name, s->names[0],
                             replaces);
                acme_client_order(r->client, (const char *const *)s->names, s->n, r->cfg->key_type, replaces, on_order, r);
            }
        }
    }
    acme_manager__schedule(next);
}

void acme_manager__schedule(uint64_t ms)
{
    if (!watcher_timer_armed(M.tick) || ms == 0)
        watcher_timer_arm(M.tick, ms);
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
            struct domain_set *s = acme_manager__set_new(r, names, c.n_sans + 1);
            s->cert_pem = c.cert_pem;
            s->key_pem = c.key_pem;
            s->not_before = nb;
            s->not_after = na;
            acme_manager__ari_reset(s);
            acme_manager__log_renewal(r, s, "loaded from acme.json");
            continue;
        }
        log_warn("acme: resolver %s: the stored certificate for %s is unreadable; it will be ordered again", r->cfg->name,
                 c.main);
        free(c.cert_pem);
        free(c.key_pem);
    }
}

static void on_account_key(void *data, EVP_PKEY *key)
{
    struct resolver *r = data;
    r->keygen = NULL;
    if (key == NULL) { /* its routers keep no certificate: the problem says why */
        log_error("acme: resolver %s: the %s account key could not be made", r->cfg->name, ACCOUNT_KEY_TYPE_FILE);
        r->key_failed = true;
        acme_manager__submit_model();
        return;
    }
    log_info("acme: resolver %s: new %s account key for %s (%llu ms)", r->cfg->name, ACCOUNT_KEY_TYPE_FILE, r->cfg->storage,
             (unsigned long long)(watcher_now_ms() - r->keygen_started_ms));
    r->client = acme_manager__new_client(r, key, NULL);
    acme_manager__schedule(0);
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

static int resolver_init(struct resolver *r, const struct acme_resolver_config *cfg, const struct acme_manager_options *o,
                         struct diag *d)
{
    r->cfg = cfg;
    r->http_ep = -1;
    if (!acme_key_type_valid(cfg->key_type))
        return diag_set(d, "certificatesResolvers.%s.acme.keyType: '%s' is not one of EC256, EC384, RSA2048, RSA3072, RSA4096, "
                           "RSA8192", cfg->name, cfg->key_type);
    r->tls_alpn = cfg->tls_challenge && !cfg->http_challenge && !cfg->dns_challenge; /* both: HTTP-01, as lego prefers */
    if (cfg->dns_challenge) {
        /* lego tries dns-01 before http-01 and tls-alpn-01 when the CA offers it (every CA does) */
        struct acme_dns_config dc;
        if (acme_dns_config_load(&dc, cfg, env_get, d) != 0)
            return -1;
        if ((r->dns = acme_dns_new(&dc, cfg->name)) == NULL) {
            acme_dns_config_free(&dc);
            return diag_set(d, "certificatesResolvers.%s.acme.dnsChallenge: cannot start its thread", cfg->name);
        }
        log_info("acme: resolver %s: DNS-01 through the %s provider", cfg->name, cfg->dns_provider);
    }
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
    if (acme_ca_trust_load(&r->trust, cfg->name, cfg->ca_certificates, cfg->n_ca_certificates, cfg->ca_system_cert_pool,
                           cfg->ca_server_name, d) != 0)
        return -1;
    if (r->trust.source)
        log_info("acme: resolver %s: the CA's HTTPS is verified with %s%s%s%s", cfg->name,
                 r->trust.pem ? r->trust.source : "the system store",
                 r->trust.server_name ? " as '" : "", r->trust.server_name ? r->trust.server_name : "",
                 r->trust.server_name ? "' (caServerName)" : "");
    char ns[256], prefix[200];
    if (acme_k8s_parse(cfg->storage, ns, sizeof(ns), prefix, sizeof(prefix)))
        return acme_manager__k8s_resolver_init(r, o, ns, prefix, d);
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
    load_certs(r, res);
    const char *not_before, *ca;
    time_t stored = acme_store_pause(res, &not_before, &ca) == 0 ? acme_manager__stored_pause(r, not_before, ca) : 0;
    if (stored > 0) { /* told to wait before a restart: still honoured */
        acme_manager__set_pause(r, stored);
        char at[32];
        format_time(r->retry_at_wall, at, sizeof(at));
        log_warn("acme: resolver %s: the CA asked for no new request before %s (Retry-After, kept in %s); every order of "
                 "this resolver waits until then", cfg->name, at, cfg->storage);
    }
    if (key == NULL) {
        /* Traefik's account key: RSA 4096, stored as PKCS#1, the only form
         * Traefik reads back (x509.ParsePKCS1PrivateKey), so acme.json can
         * move back to Traefik. Seconds of CPU: made on a thread; the
         * resolver orders once it is there (stored certificates serve meanwhile). */
        r->keygen_started_ms = watcher_now_ms();
        if ((r->keygen = acme_keygen_start(ACCOUNT_KEY_TYPE_FILE, on_account_key, r)) == NULL)
            return diag_set(d, "certificatesResolvers.%s.acme: cannot start making the account key (%s)", cfg->name,
                            ACCOUNT_KEY_TYPE_FILE);
        return 0;
    }
    r->client = acme_manager__new_client(r, key, uri && *uri ? uri : NULL);
    return 0;
}

struct acme_client *acme_manager__new_client(struct resolver *r, EVP_PKEY *key, const char *uri)
{
    const struct acme_resolver_config *cfg = r->cfg;
    struct acme_client_config cc = {.directory_url = cfg->ca_server,
                                    .email = cfg->email,
                                    .eab_kid = cfg->eab_kid,
                                    .eab_hmac = cfg->eab_hmac,
                                    .preferred_chain = cfg->preferred_chain,
                                    .csr = {.disable_common_name = cfg->disable_common_name,
                                            .emails = cfg->email_addresses,
                                            .n_emails = cfg->n_email_addresses},
                                    .challenge = r->dns ? ACME_DNS01 : r->tls_alpn ? ACME_TLSALPN01 : ACME_HTTP01,
                                    .ca_blob = r->trust.pem,
                                    .ca_blob_len = r->trust.pem_len,
                                    .ca_server_name = r->trust.server_name,
                                    .timeout_ms = cfg->client_timeout_ms,
                                    .response_header_timeout_ms = cfg->client_response_header_timeout_ms,
                                    .challenge_delay_ms = r->dns ? 0 : r->tls_alpn ? cfg->tls_delay_ms : cfg->http_delay_ms,
                                    .challenge_delay_key = r->tls_alpn ? "tlsChallenge.delay" : "httpChallenge.delay",
                                    .certificate_timeout_ms = cfg->certificate_timeout_ms,
                                    .on_challenge = on_challenge,
                                    .on_account = on_account,
                                    .on_order_url = acme_manager__k8s_order_url,
                                    .defer_challenge = r->k8s || r->dns, /* DNS-01: until the record is seen */
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
    M.resolvers = mem_calloc(o->n_resolvers, sizeof(*M.resolvers));
    M.storages = mem_calloc(o->n_resolvers, sizeof(*M.storages));
    for (size_t i = 0; i < o->n_resolvers; i++) {
        M.n_resolvers++;
        if (resolver_init(&M.resolvers[i], &o->resolvers[i], o, d) != 0)
            return -1;
    }
    acme_manager__submit_model();
    return 0;
}

void acme_manager_stop(void)
{
    acme_k8s_stop(M.k8s); /* first: the lease is released, and the clients freed below write nothing more */
    M.k8s = NULL;
    for (size_t i = 0; i < M.n_resolvers; i++) {
        struct resolver *r = &M.resolvers[i];
        acme_keygen_cancel(r->keygen);
        acme_client_free(r->client); /* a DNS-01 record left is cleaned up by acme_dns_free */
        r->client = NULL;
        acme_dns_free(r->dns);
        r->dns = NULL;
        acme_ca_trust_free(&r->trust);
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
        acme_manager__token_free(&M.tokens[i]);
    for (size_t i = 0; i < M.n_k8s_tokens; i++)
        acme_manager__token_free(&M.k8s_tokens[i]);
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
    acme_challenge_shutdown();
    memset(&M, 0, sizeof(M));
}
