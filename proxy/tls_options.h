/*
 * TLS options (Traefik's tls.options): protocol versions, TLS 1.2 cipher
 * suites, curves, client authentication, sniStrict, ALPN and session
 * tickets, chosen per connection by the server name in the ClientHello.
 *
 * An option is compiled once per table (CA store and names loaded) and is
 * immutable. The ClientHello callback (worker thread) looks the name up in
 * the worker's current table and applies the option to the SSL object
 * before OpenSSL negotiates anything; the SSL keeps a small copy of what it
 * needs later (the option's identity for the 421 check, its ALPN list), so
 * a connection never points into a table that may be freed before it ends.
 */
#ifndef GANTRY_TLS_OPTIONS_H
#define GANTRY_TLS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "../common/arena.h"
#include "../common/diag.h"

struct table;

struct tls_option_spec {
    const char *min_version, *max_version; /* VersionTLS10 .. VersionTLS13 */
    const char *const *cipher_suites;      /* Go names */
    size_t n_cipher_suites;
    const char *const *curves; /* CurveP256, X25519, secp384r1... */
    size_t n_curves;
    const char *const *client_ca_files; /* files or inline PEM */
    size_t n_client_ca_files;
    const char *client_auth_type; /* NoClientCert (default), RequestClientCert, ... */
    bool sni_strict, disable_session_tickets;
    const char *const *alpn; /* default h2, http/1.1, acme-tls/1 */
    size_t n_alpn;
};

struct tls_option {
    const char *name; /* name@provider, or "default" */
    uint64_t id;      /* identity: a digest of the definition (never 0) */
    int min_version, max_version;
    const char *cipher_list; /* OpenSSL names for TLS <= 1.2; NULL: the default list */
    const char *groups;      /* NULL: OpenSSL's */
    X509_STORE *ca_store;    /* client certificates are checked against it */
    STACK_OF(X509_NAME) *ca_names; /* sent in the CertificateRequest */
    int verify_mode;
    bool verify_chain; /* false: a certificate is asked for but not checked */
    bool sni_strict, no_tickets;
    unsigned char *alpn; /* wire format: length-prefixed names */
    size_t alpn_len;
};

/* Compiles an option into <a> (OpenSSL objects freed with the arena). -1
 * with <d> naming the option and the value refused. */
int tls_option_build(struct arena *a, const char *name, const struct tls_option_spec *spec, struct tls_option **out,
                     struct diag *d) WARN_UNUSED;

/* Installed on every server SSL_CTX: the ClientHello callback (default
 * context) and the ALPN choice (every certificate's context). */
void tls_options_install(SSL_CTX *default_ctx);
void tls_options_install_alpn(SSL_CTX *ctx);

/* From the SNI callback, after SSL_set_SSL_CTX (which replaces the SSL's
 * certificate state): puts the option's client-CA store and security level
 * back. <name>: lowercased, may be empty. */
void tls_options_after_sni(SSL *ssl, const struct table *t, const char *name, size_t len);

/* The identity of the option the connection was negotiated with (0: the
 * default or none). Worker thread. */
uint64_t tls_options_of(SSL *ssl);

#endif
