/*
 * ACME storage in Kubernetes (Gantry-only: storage "kubernetes://<ns>[/<prefix>]"),
 * so several replicas share certificates and one of them issues:
 *
 *   <prefix>-<resolver>-<main domain>   type kubernetes.io/tls (tls.crt, tls.key), one per certificate
 *   <prefix>-<resolver>-account         Opaque (accountKey: PEM; the URL in an annotation; the CA's
 *                                       pause, when one is to be honoured, in the annotations
 *                                       gantry.io/acme-retry-after (RFC 3339 UTC) and
 *                                       gantry.io/acme-retry-after-ca (the caServer it came from))
 *   <prefix>-<resolver>-chall-<hash>    Opaque (token, keyAuthorization, domain): a pending challenge,
 *                                       so every replica behind the load balancer answers it
 *   <prefix>-<resolver>-order-<main>    Opaque (the order URL in an annotation): an order in flight,
 *                                       which a new issuer resumes instead of ordering again
 *
 * all labelled gantry.io/acme-kind (certificate, account, challenge) and
 * gantry.io/acme-resolver; the resolver's name and the domains are in
 * annotations (gantry.io/acme-resolver, gantry.io/acme-domains). Every
 * replica watches them; the holder of the Lease <prefix>-issuer (same
 * namespace) is the only one that orders and writes. Writes are serial;
 * a replace carries the cached resourceVersion, so a stale one is a 409,
 * retried once the watch has caught up. Watcher thread only.
 */
#ifndef GANTRY_ACME_STORE_K8S_H
#define GANTRY_ACME_STORE_K8S_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "../../common/diag.h"
#include "../providers/kubernetes/k8s_conn.h"

struct acme_k8s;

/* the account Secret's annotations of the CA's pause (see above) */
#define ACME_K8S_RETRY_AFTER "gantry.io/acme-retry-after"
#define ACME_K8S_RETRY_AFTER_CA "gantry.io/acme-retry-after-ca"

struct acme_k8s_options {
    struct k8s_conn_config conn;
    const char *ns, *prefix;
    uint64_t lease_ms;
    void (*changed)(void *data);             /* the cached Secrets changed (or the first list completed) */
    void (*leader)(bool leader, void *data); /* this replica became / stopped being the issuer */
    void *data;
};

/* Parses "kubernetes://<ns>[/<prefix>]"; false when <storage> is not such a URI. */
bool acme_k8s_parse(const char *storage, char *ns, size_t ns_len, char *prefix, size_t prefix_len);

struct acme_k8s *acme_k8s_start(const struct acme_k8s_options *o, struct diag *d);
void acme_k8s_stop(struct acme_k8s *k);
bool acme_k8s_synced(const struct acme_k8s *k);
bool acme_k8s_leader(const struct acme_k8s *k);

/* Every cached Secret of <kind> ("certificate", "account", "challenge") for
 * <resolver> (NULL: any), sorted by name; free() the array. */
const cJSON **acme_k8s_list(const struct acme_k8s *k, const char *kind, const char *resolver, size_t *n);
/* A Secret's annotation or decoded data field (malloc'd), NULL when absent. */
const char *acme_k8s_annotation(const cJSON *secret, const char *key);
char *acme_k8s_data(const cJSON *secret, const char *key);

typedef void (*acme_k8s_done_cb)(void *data, const char *error);

/* Creates or replaces; <done> (may be NULL) after the API server answered. */
void acme_k8s_put_certificate(struct acme_k8s *k, const char *resolver, const char *const *names, size_t n,
                              const char *cert_pem, const char *key_pem, acme_k8s_done_cb done, void *data);
/* <retry_after> (RFC 3339) and <retry_ca>: the CA's pause, or NULL: none. */
void acme_k8s_put_account(struct acme_k8s *k, const char *resolver, const char *email, const char *uri, const char *key_pem,
                          const char *retry_after, const char *retry_ca, acme_k8s_done_cb done, void *data);
void acme_k8s_put_challenge(struct acme_k8s *k, const char *resolver, const char *domain, const char *token,
                            const char *keyauth, acme_k8s_done_cb done, void *data);
void acme_k8s_put_order(struct acme_k8s *k, const char *resolver, const char *main, const char *url);
void acme_k8s_delete_order(struct acme_k8s *k, const char *resolver, const char *main);
/* The URL of the stored order in flight for <main>, or NULL (borrowed from the cache). */
const char *acme_k8s_order(const struct acme_k8s *k, const char *resolver, const char *main);
/* Deletes every challenge Secret of <resolver> (an order ended: any left are stale). */
void acme_k8s_delete_all_challenges(struct acme_k8s *k, const char *resolver);
/* Cancels the <done> callbacks still due to <data> (its owner goes away). */
void acme_k8s_forget(struct acme_k8s *k, void *data);

#endif
