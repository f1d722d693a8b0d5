/*
 * Whether the CA revoked an ACME certificate, by OCSP (RFC 6960): the
 * request for a chain's leaf, and the reading of the answer, verified
 * against the chain's issuer. Pure functions over OpenSSL; the transfer
 * is the caller's (the ACME manager, on the watcher thread).
 */
#ifndef GANTRY_ACME_OCSP_H
#define GANTRY_ACME_OCSP_H

#include <stddef.h>

enum acme_ocsp_status { ACME_OCSP_GOOD, ACME_OCSP_REVOKED, ACME_OCSP_UNKNOWN, ACME_OCSP_ERROR };

/* The responder URL of the leaf of <chain_pem> (its AIA) and the DER
 * request for it; -1 when the chain has no OCSP URL or no issuer. */
int acme_ocsp_request(const char *chain_pem, char **url, unsigned char **der, size_t *len);
/* The leaf's status in the DER answer <resp>, whose signature must verify
 * with the chain's issuer (or a responder it delegated to). */
enum acme_ocsp_status acme_ocsp_status(const char *chain_pem, const unsigned char *resp, size_t len);

#endif
