/*
 * An RFC 8555 client driven by the watcher thread's curl multi handle:
 * directory, nonces, the account (created or found again from its key),
 * then one order at a time: authorizations, the challenge, polling,
 * finalization with a CSR and the certificate download. Every call
 * returns at once; the outcome arrives through callbacks on the watcher
 * thread. Nothing here blocks.
 */
#ifndef GANTRY_ACME_CLIENT_H
#define GANTRY_ACME_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

#include "acme_crypto.h"

enum acme_challenge_type { ACME_HTTP01, ACME_TLSALPN01, ACME_DNS01 };

/* A challenge to publish (<add>) or withdraw: <token> and its key authorization (NULL on withdrawal);
 * <domain> is the authorization's identifier (a wildcard's without "*."). */
typedef void (*acme_challenge_cb)(void *data, const char *domain, const char *token, const char *keyauth, bool add);
/* The end of an order: <error> NULL and the chain and key as PEM, or why it failed. */
typedef void (*acme_order_cb)(void *data, const char *error, const char *cert_pem, const char *key_pem);
/* An order was created at <order_url> (to be stored, so another instance can resume it). */
typedef void (*acme_order_url_cb)(void *data, const char *order_url);
/* The account URL became known (to be stored). */
typedef void (*acme_account_cb)(void *data, const char *account_url);

struct acme_client_config {
    const char *directory_url;
    const char *email;      /* may be NULL */
    const char *eab_kid, *eab_hmac; /* external account binding, both or neither */
    const char *preferred_chain;    /* issuer CN of an alternate chain to prefer, or NULL */
    struct acme_csr_options csr;    /* disableCommonName, emailAddresses (copied) */
    enum acme_challenge_type challenge;
    const char *ca_blob;    /* PEM trusted for the CA's HTTPS (caCertificates), or NULL: the system store */
    size_t ca_blob_len;
    const char *ca_server_name;        /* caServerName: the name verified and sent as SNI, or NULL: the URL's host */
    uint64_t timeout_ms;               /* clientTimeout: a whole transaction (0: none) */
    uint64_t response_header_timeout_ms; /* clientResponseHeaderTimeout: request sent -> response headers (0: none) */
    uint64_t challenge_delay_ms;       /* httpChallenge.delay or tlsChallenge.delay: published -> the CA told to validate */
    const char *challenge_delay_key;   /* the option that set it, for the log */
    uint64_t certificate_timeout_ms;   /* certificateTimeout: finalized -> certificate ready (0: 30 s, as lego) */
    /* the challenge is published elsewhere (other replicas): after on_challenge
     * adds one, the client waits for acme_client_challenge_ready before
     * telling the CA to validate */
    bool defer_challenge;
    acme_challenge_cb on_challenge;
    acme_account_cb on_account;
    acme_order_url_cb on_order_url; /* may be NULL */
    void *data;
};

struct acme_client;

/* Takes ownership of <account_key> (RSA: RS256, P-256: ES256, P-384: ES384); <account_url> may be NULL (found or created). */
struct acme_client *acme_client_new(const struct acme_client_config *c, EVP_PKEY *account_key, const char *account_url);
void acme_client_free(struct acme_client *c);
bool acme_client_busy(const struct acme_client *c);
/* Orders a certificate for <names> with a new key of <key_type>. One order at a time.
 * <replaces>: the ARI identifier of the certificate this one renews (RFC 9773
 * §5), or NULL; an order the CA refuses for it (409, alreadyReplaced) is made
 * once more without it. */
void acme_client_order(struct acme_client *c, const char *const *names, size_t n, const char *key_type,
                       const char *replaces, acme_order_cb done, void *data);
/* Takes up the order at <order_url> made by another instance with the same
 * account: its pending authorizations are answered, then it is finalized
 * with a new key. When it can no longer be (being or already finalized
 * with a key we do not have, invalid, gone), <done> gets an error starting
 * with ACME_RESUME_FAILED. */
#define ACME_RESUME_FAILED "cannot resume"
void acme_client_resume(struct acme_client *c, const char *order_url, const char *const *names, size_t n,
                        const char *key_type, acme_order_cb done, void *data);
/* With defer_challenge: the challenge added last is published (<error>
 * NULL) or could not be (the order fails with <error>). */
void acme_client_challenge_ready(struct acme_client *c, const char *error);
/* When the order that just failed (inside its acme_order_cb) was refused
 * with a rate limit (HTTP 429, 503, or rateLimited) and a Retry-After:
 * the wall-clock time before which the CA wants no new attempt; else 0. */
time_t acme_client_retry_after(const struct acme_client *c);
/* The outcome of acme_client_renewal_info: ANSWER, HTTP 200 (<text> its body,
 * "" when empty); UNSUPPORTED, the directory has no renewalInfo; FAILED,
 * <text> says why. <retry_after>: the answer's Retry-After header, or NULL. */
enum acme_ari_outcome { ACME_ARI_ANSWER, ACME_ARI_UNSUPPORTED, ACME_ARI_FAILED };
typedef void (*acme_ari_cb)(void *data, enum acme_ari_outcome outcome, const char *text, const char *retry_after);
/* Asks the CA's renewalInfo about the certificate <cert_id> (an
 * unauthenticated GET <renewalInfo>/<cert_id>, the directory read first when
 * it is not yet). Only while the client is idle; busy until <done>. */
void acme_client_renewal_info(struct acme_client *c, const char *cert_id, acme_ari_cb done, void *data);
/* 1: the CA's directory has renewalInfo; 0: it has not; -1: not read yet. */
int acme_client_has_renewal_info(const struct acme_client *c);
/* The account key (borrowed), to store it. */
EVP_PKEY *acme_client__key(struct acme_client *c);
/* The account's URL once known, else NULL (borrowed). */
const char *acme_client__account_url(const struct acme_client *c);

#endif
