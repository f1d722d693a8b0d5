/*
 * ACME Renewal Information (RFC 9773), the pure parts: the certificate's
 * ARI identifier, the renewalInfo answer's suggested window, the renewal
 * time picked in it and the re-poll delay from Retry-After. No I/O.
 */
#ifndef GANTRY_ACME_ARI_H
#define GANTRY_ACME_ARI_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* RFC 9773 §4.1: base64url(authorityKeyIdentifier keyIdentifier) "."
 * base64url(serial number DER content octets), unpadded, of the first
 * certificate in <pem>. malloc'd; NULL without a certificate or an AKI. */
char *acme_ari_cert_id(const char *pem);

struct acme_ari_window {
    time_t start, end;
    char explanation_url[512]; /* "" when absent */
};

/* A renewalInfo response body: 0 and <w> filled, or -1 (not JSON, no
 * suggestedWindow, a time that is not RFC 3339, end before start). */
int acme_ari_parse(const char *json, struct acme_ari_window *w);

/* An RFC 3339 date-time ("2025-01-02T04:00:00Z", "…T04:00:00.5+02:00"):
 * seconds since the epoch, or -1. */
time_t acme_ari_rfc3339(const char *s);

/* The renewal time: a uniformly random second of the window (from <rnd>),
 * so replicas spread; <now> when the window has begun or is over. */
time_t acme_ari_pick(const struct acme_ari_window *w, time_t now, uint64_t rnd);

#define ACME_ARI_RETRY_DEFAULT_S (6 * 3600)
#define ACME_ARI_RETRY_MIN_S 60
#define ACME_ARI_RETRY_MAX_S (24 * 3600)

/* Seconds until the next renewalInfo poll from a Retry-After value (delta
 * seconds or an HTTP-date; NULL or unreadable: 6 hours), clamped to
 * [1 minute, 24 hours]. */
int64_t acme_ari_retry_after(const char *value, time_t now);

#endif
