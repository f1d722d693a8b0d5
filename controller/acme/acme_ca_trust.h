/*
 * How a resolver trusts its CA's HTTPS (Traefik v3's caCertificates,
 * caSystemCertPool, caServerName; without them lego's LEGO_CA_CERTIFICATES,
 * LEGO_CA_SYSTEM_CERT_POOL, LEGO_CA_SERVER_NAME): the PEM to verify with
 * (NULL: libcurl's default store) and the name to verify and send as SNI
 * (NULL: the URL's host).
 */
#ifndef GANTRY_ACME_CA_TRUST_H
#define GANTRY_ACME_CA_TRUST_H

#include <stdbool.h>
#include <stddef.h>

#include "../../common/diag.h"

struct acme_ca_trust {
    char *pem; /* malloc'd, or NULL */
    size_t pem_len;
    char *server_name; /* malloc'd, or NULL */
    const char *source; /* "caCertificates" or "LEGO_CA_CERTIFICATES" (for messages), or NULL */
};

/* From the resolver's options (<files>, <system>, <server_name>), or the
 * environment when neither files nor a name are given. Every file must
 * hold at least one certificate; <d> names the option and the file. */
int acme_ca_trust_load(struct acme_ca_trust *t, const char *resolver, const char *const *files, size_t n_files, bool system,
                       const char *server_name, struct diag *d) WARN_UNUSED;
void acme_ca_trust_free(struct acme_ca_trust *t);

#endif
