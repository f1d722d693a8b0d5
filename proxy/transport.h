/*
 * HTTP serversTransports (Traefik): how Gantry talks to a service's
 * servers — TLS (CA, client certificate, server name, verification) and
 * timeouts. A transport is immutable and shared: servers hold references,
 * and an identical definition in the next configuration finds the same
 * object (by its digest), so its servers keep their pooled connections.
 * Acquired and released on the watcher thread; read by workers.
 */
#ifndef GANTRY_TRANSPORT_H
#define GANTRY_TRANSPORT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "../common/diag.h"

struct transport_spec {
    const char *server_name; /* SNI and the name verified; NULL: the URL's host */
    bool insecure_skip_verify;
    const char *const *root_cas; /* files or inline PEM; none: the system store */
    size_t n_root_cas;
    const char *const *cert_files, *const *key_files; /* client certificates (files or PEM) */
    size_t n_certs;
    uint64_t dial_ms, response_header_ms, idle_conn_ms, read_ms; /* 0: the global serversTransport's */
    uint32_t max_idle_conns_per_host;                           /* 0: the global one */
    bool disable_http2;                                         /* https servers: offer only http/1.1 by ALPN */
    uint64_t read_idle_ms, ping_ms;                             /* HTTP/2 health: PING after this much silence, its deadline */
    /* peerCertURI (Traefik): a URI SAN the server's certificate must carry
     * (compared without case). The chain is verified even with
     * insecureSkipVerify, which then skips only the name check. NULL: none */
    const char *peer_cert_uri;
    /* ingress-nginx's proxy-ssl-*: 0 / NULL keep gantry's defaults */
    int verify_depth;            /* the longest chain below the trusted CA (SSL_CTX_set_verify_depth) */
    int min_version, max_version; /* TLS1_2_VERSION, TLS1_3_VERSION */
    const char *ciphers;          /* OpenSSL cipher list for TLS 1.2 */
    /* peerCertSANs (Traefik v3.8): "URI:<uri>" (compared without case) or
     * "DNSName:<name>" (matched as a host name, wildcards included); the
     * certificate must carry one of them or peerCertURI. */
    const char *const *peer_cert_sans;
    size_t n_peer_cert_sans;
};

struct transport {
    char *key; /* digest of the definition: identity */
    _Atomic int refs;
    SSL_CTX *ssl_ctx;    /* for https servers: no ALPN (WebSocket, mirrors, forwardAuth) */
    SSL_CTX *ssl_ctx_h2; /* ALPN h2 and http/1.1 for proxied requests; NULL with disableHTTP2 */
    char *server_name;
    uint64_t dial_ms, response_header_ms, idle_conn_ms, read_ms;
    uint32_t max_idle_conns_per_host;
    bool disable_http2;
    uint64_t read_idle_ms, ping_ms;
    struct transport *next; /* registry chain */
};

/* Finds or builds the transport for <spec> and takes a reference. NULL with
 * <d> set when a CA or certificate cannot be loaded. */
struct transport *transport_acquire(const struct transport_spec *spec, struct diag *d) WARN_UNUSED;
void transport_ref(struct transport *t);
/* Any thread (a server's last worker may drop it): only decrements. */
void transport_release(struct transport *t);
/* Watcher thread: frees transports nobody references any more. */
void transport_sweep(void);
/* OpenSSL verify callback for every upstream TLS context: besides the
 * chain, the leaf certificate must be for the name sent as SNI (a DNS name
 * or an IP address) — unless the context's transport skips that
 * (insecureSkipVerify with peerCertURI) — and carry the transport's
 * peerCertURI as a URI SAN when it has one. libh2o 2.2.5 checks the name
 * only when the handshake ends without pending output, which a TLS 1.3
 * client never does. */
int transport_verify_cb(int preverify_ok, X509_STORE_CTX *store);

/* Whether handshakes with <ctx> (an upstream context) must verify the
 * server's name: false with insecureSkipVerify. libh2o 2.2.5 checks the name
 * itself at the end of a TLS 1.2 handshake whatever the context says; a
 * caller may ignore that check's h2o_socket_error_ssl_cert_name_mismatch
 * when this is false. */
bool transport_checks_name(const SSL_CTX *ctx);

/* ALPN h2 then http/1.1 on an upstream context (Traefik's default for
 * https servers unless disableHTTP2). */
void transport_offer_h2(SSL_CTX *ctx);
/* The context for a TLS connection to a server of <t> (NULL: the global
 * transport); <offer_h2>: a proxied request's, which may become HTTP/2. */
SSL_CTX *transport_client_ctx(const struct transport *t, bool offer_h2);

/* Whether <list> is an OpenSSL cipher list that selects a cipher. */
bool transport_ciphers_valid(const char *list);

/* Frees what is left at exit. */
void transport_shutdown(void);

#endif
