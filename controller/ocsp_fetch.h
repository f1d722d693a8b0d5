/*
 * OCSP stapling, the fetching side (Traefik's static `ocsp` section): for
 * every certificate in use that names an OCSP responder, a request on the
 * watcher thread's curl multi handle, the response checked
 * (ocsp_response.c) and handed to the certificate's staple slot
 * (proxy/tls_ocsp.c), refreshed half way to its nextUpdate, retried with
 * backoff on failure. Nothing here runs on a worker or during a handshake.
 */
#ifndef GANTRY_OCSP_FETCH_H
#define GANTRY_OCSP_FETCH_H

#include <stdbool.h>
#include <stddef.h>

struct ocsp_config {
    bool enabled; /* `ocsp: {}` or --ocsp=true */
    /* ocsp.responderOverrides: the URL in the certificate -> the one asked */
    const char **override_from, **override_to;
    size_t n_overrides;
};

/* Before the providers start (their first configuration loads
 * certificates). Does nothing when OCSP is not enabled. */
void ocsp_fetch_start(const struct ocsp_config *cfg);
/* After the watcher thread has stopped. */
void ocsp_fetch_stop(void);

#endif
