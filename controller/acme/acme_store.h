/*
 * acme.json in Traefik's format, so a file written by Traefik can be used
 * by gantry and the other way round:
 *
 *   { "<resolver>": { "Account": { "Email", "Registration": {"body": {...}, "uri"},
 *                                  "PrivateKey": base64 DER, "KeyType" },
 *                     "Certificates": [ { "domain": {"main", "sans": [...]},
 *                                         "certificate": base64 PEM chain, "key": base64 PEM,
 *                                         "Store": "default" } ] },
 *                     "GantryRetryAfter": { "notBefore": RFC 3339 UTC, "caServer" } } }
 *
 * GantryRetryAfter (Gantry only) is the CA's pause (Retry-After) still to be
 * honoured after a restart; Traefik's reader ignores the field (Go's JSON
 * decoder skips unknown keys) and drops it when it writes the file.
 *
 * The document is kept as a cJSON tree by its owner (the ACME manager,
 * watcher thread) and written whole: mode 0600, temporary file, fsync,
 * rename, so a crash leaves the old or the new file, never half of one.
 */
#ifndef GANTRY_ACME_STORE_H
#define GANTRY_ACME_STORE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../../common/diag.h"

/* The document at <path>, an empty object when the file does not exist;
 * NULL with <d> set when it cannot be read or parsed. */
cJSON *acme_store_load(const char *path, struct diag *d) WARN_UNUSED;
int acme_store_save(const char *path, const cJSON *root, struct diag *d) WARN_UNUSED;

/* The resolver's object, created when missing. */
cJSON *acme_store_resolver(cJSON *root, const char *name);

/* The stored account: its URL and key (base64 DER); 0, or -1 when none. */
int acme_store_account(const cJSON *res, const char **uri, const char **key_b64);
void acme_store_set_account(cJSON *res, const char *email, const char *uri, const char *key_b64, const char *key_type);

/* The CA's pause kept for the resolver: <not_before> (RFC 3339) and the
 * <ca_server> it came from; 0, or -1 when none is stored. */
int acme_store_pause(const cJSON *res, const char **not_before, const char **ca_server);
/* Stores the pause (<not_before> NULL: removes it). */
void acme_store_set_pause(cJSON *res, const char *not_before, const char *ca_server);

struct acme_store_cert {
    const char *main;
    const char *const *sans;
    size_t n_sans;
    char *cert_pem, *key_pem; /* malloc'd by acme_store_cert_get */
};
/* The <i>th certificate (decoded); -1 past the end or when unreadable (then skipped by the caller). */
int acme_store_cert_get(const cJSON *res, size_t i, struct acme_store_cert *out, const char **sans_buf, size_t sans_cap);
size_t acme_store_cert_count(const cJSON *res);
/* Adds or replaces (same main domain) a certificate. */
void acme_store_put_cert(cJSON *res, const char *main, const char *const *sans, size_t n_sans, const char *cert_pem,
                         const char *key_pem);

#endif
