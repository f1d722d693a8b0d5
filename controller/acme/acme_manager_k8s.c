/*
 * The ACME manager's Kubernetes storage (storage "kubernetes://<namespace>
 * [/<prefix>]", see acme_store_k8s.h): only the replica holding the Lease
 * orders; the account, each order in flight, the certificates and the
 * pending challenges live in Secrets, so that every replica serves the
 * same certificates and answers the CA's challenges, and a successor takes
 * an order up where its predecessor left it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../admin/status.h"
#include "../../common/log.h"
#include "acme_crypto.h"
#include "acme_manager_internal.h"
#include "acme_retry.h"

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

void acme_manager__k8s_challenge(struct resolver *r, const char *domain, const char *token, const char *keyauth, bool add)
{
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
}

/* The order's URL in a Secret: a successor takes the order up instead of making another. */
void acme_manager__k8s_order_url(void *data, const char *url)
{
    struct resolver *r = data;
    if (r->k8s && M.k8s && r->current)
        acme_k8s_put_order(M.k8s, r->cfg->name, r->current->names[0], url);
}

/* The account Secret as this issuer knows it: key, <url>, and the CA's pause when one is on. */
static void put_account(struct resolver *r, const char *url)
{
    char at[32];
    acme_retry_format(r->retry_at_wall, at, sizeof(at));
    char *pem = acme_key_pem(acme_client__key(r->client));
    acme_k8s_put_account(M.k8s, r->cfg->name, r->cfg->email, url, pem, r->retry_at_wall ? at : NULL, r->cfg->ca_server, NULL,
                         NULL);
    free(pem);
}

/* The account's URL and key into its Secret (once: the next issuer reuses it). */
void acme_manager__k8s_account(struct resolver *r, const char *url)
{
    size_t n;
    const cJSON **acct = acme_k8s_list(M.k8s, "account", r->cfg->name, &n);
    const char *old = n ? acme_k8s_annotation(acct[0], "gantry.io/acme-account-uri") : NULL;
    bool same = old && strcmp(old, url) == 0;
    free(acct);
    if (!same)
        put_account(r, url);
}

/* The CA's pause in the account Secret, so that the next issuer (a failover,
 * a rolling update) does not order before the CA allows it either. */
void acme_manager__k8s_store_pause(struct resolver *r)
{
    if (M.k8s == NULL || r->client == NULL)
        return;
    size_t n;
    const cJSON **acct = acme_k8s_list(M.k8s, "account", r->cfg->name, &n);
    const char *stored = n ? acme_k8s_annotation(acct[0], ACME_K8S_RETRY_AFTER) : NULL;
    const char *old_url = n ? acme_k8s_annotation(acct[0], "gantry.io/acme-account-uri") : NULL;
    char at[32];
    acme_retry_format(r->retry_at_wall, at, sizeof(at));
    bool same = r->retry_at_wall ? stored && strcmp(stored, at) == 0 : stored == NULL;
    /* the client's URL first: the Secret's may not be written yet */
    const char *url = acme_client__account_url(r->client);
    char *keep = mem_strdup(url ? url : old_url ? old_url : "");
    free(acct);
    if (!same)
        put_account(r, keep);
    free(keep);
}

/* The pause the account Secret holds for <r>'s CA, 0: none (or over). */
static time_t k8s_stored_pause(const struct resolver *r)
{
    size_t n;
    const cJSON **acct = acme_k8s_list(M.k8s, "account", r->cfg->name, &n);
    time_t until = n ? acme_manager__stored_pause(r, acme_k8s_annotation(acct[0], ACME_K8S_RETRY_AFTER),
                                                  acme_k8s_annotation(acct[0], ACME_K8S_RETRY_AFTER_CA))
                     : 0;
    free(acct);
    return until;
}

/* Takes up the stored pause: a replica that does not issue mirrors the
 * Secret (for the API, and for when it issues); the issuer keeps the later
 * of its own and the stored one (its own write may be under way). True
 * when the pause changed. */
static bool k8s_adopt_pause(struct resolver *r)
{
    time_t stored = k8s_stored_pause(r);
    if (r->client != NULL ? stored <= r->retry_at_wall : stored == r->retry_at_wall)
        return false;
    acme_manager__set_pause(r, stored);
    if (stored) {
        char at[32];
        acme_retry_format(stored, at, sizeof(at));
        log_info("acme: resolver %s: the account Secret holds the CA's pause: no new request before %s (Retry-After)",
                 r->cfg->name, at);
    }
    return true;
}

void acme_manager__k8s_order_over(struct resolver *r, const struct domain_set *s)
{
    if (M.k8s == NULL)
        return;
    acme_k8s_delete_order(M.k8s, r->cfg->name, s->names[0]);
    acme_k8s_delete_all_challenges(M.k8s, r->cfg->name);
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
        acme_manager__schedule(STORE_RETRY_MS);
        return;
    }
    acme_manager__set_cert(s, s->unsaved_cert, s->unsaved_key, nb, na);
    acme_manager__log_renewal(r, s, "stored in Kubernetes");
    free(s->unsaved_cert);
    free(s->unsaved_key);
    s->unsaved_cert = s->unsaved_key = NULL;
    s->next_try_ms = 0;
    acme_manager__submit_model();
    acme_manager__schedule(0);
}

void acme_manager__k8s_store_cert(struct resolver *r, struct domain_set *s)
{
    s->writing = true;
    r->writing_set = s;
    acme_k8s_put_certificate(M.k8s, r->cfg->name, (const char *const *)s->names, s->n, s->unsaved_cert, s->unsaved_key,
                             on_cert_stored, r);
}

/* Kubernetes storage: the issuer's client, made when this replica holds the
 * Lease and has the Secrets, with the stored account when there is one. */
bool acme_manager__k8s_ensure_client(struct resolver *r)
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
        key = acme_key_new(ACCOUNT_KEY_TYPE_K8S);
        uri = NULL;
    } else {
        log_info("acme: resolver %s: reusing the stored account %s", r->cfg->name, uri && *uri ? uri : "(URL to be found)");
    }
    r->client = acme_manager__new_client(r, key, uri && *uri ? uri : NULL);
    free(acct);
    k8s_adopt_pause(r);
    if (r->paused_until_ms > watcher_now_ms()) { /* a predecessor was told to wait: so is this issuer */
        char at[32];
        acme_retry_format(r->retry_at_wall, at, sizeof(at));
        log_warn("acme: resolver %s: the CA asked for no new request before %s (Retry-After, kept in the account Secret); "
                 "every order of this resolver waits until then", r->cfg->name, at);
        acme_manager__submit_model();
    }
    return true;
}

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
            acme_manager__token_free(&M.k8s_tokens[i]);
        M.n_k8s_tokens = 0;
        M.k8s_tokens = mem_realloc(M.k8s_tokens, (n ? n : 1) * sizeof(*M.k8s_tokens));
        for (size_t i = 0; i < n; i++) {
            struct resolver *r = resolver_named(acme_k8s_annotation(items[i], "gantry.io/acme-resolver"));
            char *token = acme_k8s_data(items[i], "token"), *ka = acme_k8s_data(items[i], "keyAuthorization"),
                 *domain = acme_k8s_data(items[i], "domain");
            if (r && token && ka && domain) {
                struct token t;
                acme_manager__token_from_challenge(&t, r, domain, token, ka);
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
        acme_manager__publish_tokens();
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
                s = acme_manager__set_new(r, names, nn);
            if (s->cert_pem == NULL || strcmp(s->cert_pem, cert) != 0) {
                acme_manager__set_cert(s, cert, key, nb, na);
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
        if (M.resolvers[i].k8s) {
            changed = k8s_certificates(&M.resolvers[i]) || changed;
            changed = k8s_adopt_pause(&M.resolvers[i]) || changed; /* the problem in the API */
        }
    k8s_challenges();
    if (changed)
        acme_manager__submit_model();
    /* /readyz: a new replica takes traffic once it serves the stored
     * certificates and answers the pending challenges (what was submitted
     * above is still "pending" there until live) */
    if (acme_k8s_synced(M.k8s))
        status_provider_set(ACME_K8S_STATUS, true, true);
    acme_manager__schedule(0);
}

static void on_k8s_leader(bool leader, void *data)
{
    (void)data;
    if (leader) {
        log_info("acme: this replica issues the certificates (Kubernetes storage %s)", M.k8s_storage);
        acme_manager__schedule(0);
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
        r->ari_set = NULL;
        acme_client_free(r->client);
        r->client = NULL;
    }
}

int acme_manager__k8s_resolver_init(struct resolver *r, const struct acme_manager_options *o, const char *ns, const char *prefix,
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
    if (M.k8s != NULL)
        status_provider_set(ACME_K8S_STATUS, false, false);
    return M.k8s ? 0 : -1;
}
