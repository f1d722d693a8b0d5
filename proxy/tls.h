/*
 * TLS: the default server context with SNI switching, certificate loading
 * (cached), and the client context for https:// upstreams.
 */
#ifndef GANTRY_TLS_H
#define GANTRY_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "../common/diag.h"

struct tls_cert_source {
    const char *cert_file, *key_file; /* or */
    const char *cert_pem, *key_pem;
};

int tls_init(bool insecure_skip_verify, struct diag *d) WARN_UNUSED;
void tls_shutdown(void);
SSL_CTX *tls_default_ctx(void);
SSL_CTX *tls_client_ctx(void);
/* The system's CA certificates, loaded once on first use and shared (the
 * caller takes a reference with SSL_CTX_set1_cert_store); NULL when no
 * store could be made. */
X509_STORE *tls_system_roots(void);
/* The same offering h2 and http/1.1 by ALPN (Traefik's default for https servers). */
SSL_CTX *tls_client_ctx_h2(void);

struct st_h2o_socket_t;
/* The server context whose certificate the TLS connection on <sock> was
 * established with: the one on_sni switched to, or the default context (no
 * SNI, or a name with no certificate). NULL for a cleartext socket, NULL
 * <sock>, or when it cannot be told. Worker threads; a pointer compare and
 * two loads, no locks. */
SSL_CTX *tls_socket_ctx(struct st_h2o_socket_t *sock);
/* The SSL object of a TLS client connection, or NULL (see tls_socket_ctx). */
SSL *tls_socket_ssl(struct st_h2o_socket_t *sock);
/* The client closed or reset the connection: closing it sends no
 * close_notify (it would only meet a dead socket: EPIPE, or a read that
 * waits for the TCP end), as nginx does on a connection error. */
void tls_peer_gone(struct st_h2o_socket_t *sock);

/* Watcher thread. Mark-and-sweep around one table build: begin, load the
 * certificates the build uses, sweep the unused ones. */
void tls_cache_begin(void);
void tls_cache_sweep(void);
/* Returns a context owned by the cache (valid until the next sweep that
 * does not use it; tables take their own reference) and its DNS names. */
SSL_CTX *tls_load(const struct tls_cert_source *src, const char *const **names, size_t *n_names, struct diag *d);
/* After tls_load failed on files that changed: the last context loaded
 * from the same certificate and key paths (kept through the sweep), or
 * NULL. A broken replacement keeps the last good certificate serving. */
SSL_CTX *tls_load_last_good(const struct tls_cert_source *src, const char *const **names, size_t *n_names);
/* Any thread: the same context, or two loaded from the same files (before
 * and after a reload), or two inline PEM certificates for the same names
 * (before and after an ACME renewal or a Secret update). */
bool tls_ctx_same_source(const SSL_CTX *a, const SSL_CTX *b);

/* Watcher thread: told when the cache loads a certificate's context and
 * when it drops it (the OCSP fetcher follows the certificates in use).
 * NULL hooks: none. */
typedef void (*tls_cert_hook)(SSL_CTX *ctx, const char *const *names, size_t n_names);
void tls_set_cert_hooks(tls_cert_hook loaded, tls_cert_hook dropped);

#endif
