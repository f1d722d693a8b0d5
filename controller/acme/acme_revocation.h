/*
 * Asking whether the CA revoked a certificate, one check at a time: the
 * OCSP request (acme_ocsp.h) sent with libcurl on the watcher thread, the
 * answer verified and read. A responder that cannot be reached or gives an
 * unusable answer changes nothing (logged at debug level). Watcher thread.
 */
#ifndef GANTRY_ACME_REVOCATION_H
#define GANTRY_ACME_REVOCATION_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The check of <chain_pem> (the chain asked about, which the caller may
 * have replaced since) ended; <revoked> when the CA said so. */
typedef void (*acme_revocation_cb)(void *data, const char *chain_pem, bool revoked);

/* How often to ask: every hour, as Caddy does; a tenth of the lifetime
 * for short-lived certificates, 5 s at least. */
uint64_t acme_revocation_interval_ms(time_t not_before, time_t not_after);
bool acme_revocation_busy(void);
/* Starts a check of <chain_pem>, named <what> in logs; false when the
 * chain names no OCSP responder (nothing to ask) or a check is in flight. */
bool acme_revocation_check(const char *chain_pem, const char *what, acme_revocation_cb done, void *data);
void acme_revocation_stop(void);

#endif
