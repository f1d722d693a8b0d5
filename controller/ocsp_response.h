/*
 * OCSP (RFC 6960) without I/O: the responder URL of a certificate, its
 * issuer in a chain, the request, the checks a response must pass before it
 * is stapled, and when to fetch again. The fetching is ocsp_fetch.c's.
 */
#ifndef GANTRY_OCSP_RESPONSE_H
#define GANTRY_OCSP_RESPONSE_H

#include <stddef.h>
#include <time.h>

#include <openssl/x509.h>

#include "../common/diag.h"

enum ocsp_cert_status { OCSP_CERT_GOOD, OCSP_CERT_REVOKED, OCSP_CERT_UNKNOWN };

struct ocsp_result {
    enum ocsp_cert_status status;
    int reason;         /* revoked: the CRL reason code, -1 when none given */
    time_t this_update; /* when the responder vouched for the status */
    time_t next_update; /* 0: none given ("newer information is always available") */
    time_t revoked_at;  /* revoked only */
};

/* Clock difference tolerated between Gantry and the responder. */
#define OCSP_CLOCK_SKEW_S 300

/* The first OCSP responder URL of <leaf>'s Authority Information Access
 * extension (malloc'd), or NULL when it has none. */
char *ocsp_responder_url(X509 *leaf);

/* The certificate of <chain> that issued <leaf> (a borrowed pointer), or
 * NULL. */
X509 *ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *chain);

/* The DER request for <leaf> (SHA-1 CertID and no nonce, RFC 5019's
 * profile: what public CAs answer from caches). <*der> malloc'd. */
int ocsp_request_der(X509 *leaf, X509 *issuer, unsigned char **der, size_t *len, struct diag *d) WARN_UNUSED;

/* Checks a DER response before it may be stapled: a successful response,
 * signed by <issuer> or a responder <issuer> delegated (OCSPSigning), about
 * <leaf>, already valid and not yet expired at <now> (within the skew).
 * 0 with <out> filled (the status may still be revoked or unknown); -1 with
 * <d> saying why. */
int ocsp_response_check(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer, time_t now,
                        struct ocsp_result *out, struct diag *d) WARN_UNUSED;

/* Seconds until the next fetch after a good (or revoked) response: half way
 * between thisUpdate and nextUpdate (as Traefik and Caddy), an hour when
 * the response has no nextUpdate, never less than OCSP_MIN_REFRESH_S. */
#define OCSP_MIN_REFRESH_S 5
#define OCSP_MAX_RETRY_S 3600
time_t ocsp_refresh_delay(time_t now, const struct ocsp_result *r);
/* Seconds until the next try after <failures> (>= 1) failures in a row:
 * 10 s doubling up to an hour (Traefik retries hourly). */
time_t ocsp_retry_delay(unsigned failures);

const char *ocsp_status_name(enum ocsp_cert_status s);

#endif
