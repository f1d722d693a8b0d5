/*
 * What the ACME manager's files share (acme_manager.c: resolvers, domain
 * sets, orders, renewal ticks, acme.json and the challenge tokens;
 * acme_manager_k8s.c: storage in Kubernetes Secrets, the issuer Lease and
 * the challenges every replica serves; acme_manager_routers.c: which
 * domain sets the routers want). Not for other modules. Watcher thread only.
 */
#ifndef GANTRY_ACME_MANAGER_INTERNAL_H
#define GANTRY_ACME_MANAGER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "../watcher.h"
#include "acme_ca_trust.h"
#include "acme_client.h"
#include "acme_dns.h"
#include "acme_keygen.h"
#include "acme_manager.h"
#include "acme_store_k8s.h"

#define BACKOFF_FIRST_MS 10000
#define BACKOFF_MAX_MS (24ull * 3600 * 1000)
#define TICK_MAX_MS (3600 * 1000)
#define MAX_NAMES 100
/* after the challenge Secret is seen on our own watch, the other replicas'
 * watches deliver it at about the same time (a loaded node: later): a
 * grace, then the CA is told to validate */
#define CHALLENGE_GRACE_MS 1000
/* the ACME storage's entry among the providers (/readyz, the API, metrics) */
#define ACME_K8S_STATUS "acme-kubernetes"
#define CHALLENGE_WAIT_MAX_MS 5000
#define STORE_RETRY_MS 5000
/* a new account's key: Traefik's in acme.json (RSA 4096, PKCS#1); in
 * Kubernetes Secrets (gantry's own format, made on the watcher thread when
 * the Lease is won) P-256, which takes no time to make */
#define ACCOUNT_KEY_TYPE_FILE "RSA4096"
#define ACCOUNT_KEY_TYPE_K8S "EC256"

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
    /* ARI (RFC 9773), when the CA's directory has renewalInfo */
    char *ari_id;            /* the certificate's identifier (its "replaces"); NULL: none (no AKI) */
    time_t ari_at;           /* the renewal time picked in the CA's window; 0: the normal schedule */
    time_t ari_start, ari_end; /* the window ari_at was picked in */
    uint64_t ari_poll_ms;    /* watcher clock: the next renewalInfo request (0: at once) */
    bool ari_fallback_logged; /* a failed or malformed answer is logged once per certificate */
};

struct resolver {
    const struct acme_resolver_config *cfg;
    struct acme_ca_trust trust; /* how the CA's HTTPS is verified */
    struct storage *st;
    struct acme_client *client;
    struct domain_set **sets;
    size_t n_sets;
    struct domain_set *current; /* being ordered */
    struct domain_set *ari_set; /* being asked about at the CA's renewalInfo */
    int http_ep;
    bool tls_alpn; /* tlsChallenge without httpChallenge */
    struct acme_dns *dns; /* dnsChallenge: DNS-01 (preferred over the others, as lego's challenge order) */
    bool k8s;      /* storage in Kubernetes Secrets: issues only while holding the Lease */
    struct domain_set *writing_set;
    char *wait_token; /* the challenge whose Secret the CA must not see before the replicas do */
    bool wait_written;
    struct watcher_timer *wait_timer;
    /* the CA's Retry-After (RFC 8555 6.6): a rate limit is the account's or
     * the CA's, not one certificate's, so no order of this resolver starts
     * before then (watcher clock; 0: none); retry_at_wall (capped) for the
     * API and the storage, where a restart or the next issuer finds it */
    uint64_t paused_until_ms;
    time_t retry_at_wall;
    struct acme_keygen *keygen; /* a new account key being made (acme.json): no client until it is */
    uint64_t keygen_started_ms;
    bool key_failed;
};

struct token {
    int ep;
    char *token, *keyauth;     /* HTTP-01 */
    char *domain, *cert, *key; /* TLS-ALPN-01 */
};

struct acme_manager_state {
    struct resolver *resolvers;
    size_t n_resolvers;
    struct storage *storages;
    size_t n_storages;
    struct token *tokens;
    size_t n_tokens;
    struct watcher_timer *tick;
    char **problems; /* from the routers: unknown resolvers, wildcards */
    size_t n_problems;
    bool started, problems_dirty;
    struct acme_k8s *k8s;
    char *k8s_storage;
    struct token *k8s_tokens; /* the challenges in Secrets, served by every replica */
    size_t n_k8s_tokens;
    char *k8s_token_ids;      /* their tokens joined, to see a change */
    /* tls.stores.default.defaultGeneratedCert: the set whose certificate is the default one, or NULL */
    struct domain_set *default_set;
    struct resolver *default_resolver;
};

/* The manager's one state; every file of it reads it as M. */
extern struct acme_manager_state acme_manager__state;
#define M acme_manager__state

/* acme_manager.c */
void acme_manager__schedule(uint64_t ms);
void acme_manager__submit_model(void);
struct acme_client *acme_manager__new_client(struct resolver *r, EVP_PKEY *key, const char *uri);
struct domain_set *acme_manager__set_new(struct resolver *r, const char *const *names, size_t n);
void acme_manager__set_cert(struct domain_set *s, const char *cert_pem, const char *key_pem, time_t nb, time_t na);
/* "certificate for <main> <what> (valid until, renewal from)", and a warning when certificatesDuration does not fit it */
void acme_manager__log_renewal(const struct resolver *r, const struct domain_set *s, const char *what);
void acme_manager__token_free(struct token *t);
void acme_manager__token_from_challenge(struct token *t, const struct resolver *r, const char *domain, const char *token,
                                        const char *keyauth);
void acme_manager__publish_tokens(void);
/* The resolver's pause until <until> (wall clock, capped; 0 or past: none), not stored. */
void acme_manager__set_pause(struct resolver *r, time_t until);
/* The pause a storage holds (<not_before> RFC 3339, for <ca>): its time when it
 * is for this resolver's caServer and not over, else 0. */
time_t acme_manager__stored_pause(const struct resolver *r, const char *not_before, const char *ca);

/* acme_manager_ari.c: ACME Renewal Information (RFC 9773) */
/* <s> has a new certificate (or none): its identifier, and renewalInfo asked again */
void acme_manager__ari_reset(struct domain_set *s);
/* When <s>'s certificate is renewed: the time picked in the CA's window, else certificatesDuration's */
time_t acme_manager__renew_at(const struct resolver *r, const struct domain_set *s);
/* The "replaces" of a renewal of <s> (its certificate's identifier while the CA has renewalInfo), or NULL */
const char *acme_manager__ari_replaces(const struct resolver *r, const struct domain_set *s);
/* In the tick: true while <s> waits for the CA's renewalInfo (asked now when the
 * client is free); otherwise false, <next> lowered to its next request. */
bool acme_manager__ari_poll(struct resolver *r, struct domain_set *s, uint64_t mono, uint64_t *next);

/* acme_manager_k8s.c: storage "kubernetes://<namespace>[/<prefix>]" */
int acme_manager__k8s_resolver_init(struct resolver *r, const struct acme_manager_options *o, const char *ns, const char *prefix,
                                    struct diag *d);
/* the issuer's client, once this replica holds the Lease and has the Secrets */
bool acme_manager__k8s_ensure_client(struct resolver *r);
void acme_manager__k8s_challenge(struct resolver *r, const char *domain, const char *token, const char *keyauth, bool add);
void acme_manager__k8s_account(struct resolver *r, const char *url);
void acme_manager__k8s_order_url(void *data, const char *url);
/* the order of <s> is over: its record and any challenge left are stale */
void acme_manager__k8s_order_over(struct resolver *r, const struct domain_set *s);
/* an issued certificate (s->unsaved_*) into its Secret; served once written */
void acme_manager__k8s_store_cert(struct resolver *r, struct domain_set *s);
/* the resolver's pause (r->retry_at_wall, 0: none) into the account Secret, when it differs */
void acme_manager__k8s_store_pause(struct resolver *r);

#endif
