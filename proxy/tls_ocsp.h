/*
 * OCSP stapling, the handshake side: every server context carries a slot
 * for one DER-encoded OCSP response, filled by the watcher thread
 * (controller/ocsp_fetch.c) and read by the status callback on worker
 * threads when a client sends status_request. The callback only copies
 * bytes from memory: a slow or failing responder can never hold up a
 * handshake. A response past its nextUpdate is not stapled, even if the
 * watcher has not replaced it yet.
 *
 * Relies on a context's certificate never changing: a reloaded certificate
 * is a new context from tls_load (its cache key has the file's mtime), so
 * the fetcher sees the old one dropped and the new one loaded. Code that
 * swapped a certificate inside a live context would staple the old
 * certificate's response.
 */
#ifndef GANTRY_TLS_OCSP_H
#define GANTRY_TLS_OCSP_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

/* Gives <ctx> its (empty) slot and the status callback. Before the context
 * is shared with workers (the slot pointer must not change afterwards). */
void tls_ocsp_install(SSL_CTX *ctx);

/* Watcher thread: replaces the response of <ctx> (copied); <der> NULL
 * removes it. Not stapled at or after <expires> (Unix seconds). */
void tls_ocsp_set(SSL_CTX *ctx, const unsigned char *der, size_t len, time_t expires);

#endif
