/*
 * Pending ACME challenges, as the workers see them: an immutable set
 * published through one atomic pointer by the ACME manager (watcher
 * thread) and read lock-free by the request handler (route.c, HTTP-01)
 * and the TLS ClientHello and SNI callbacks (TLS-ALPN-01). With no
 * challenge pending the pointer is NULL and a request or a handshake pays
 * one load.
 */
#ifndef GANTRY_ACME_CHALLENGE_H
#define GANTRY_ACME_CHALLENGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* What the manager asks to publish: an HTTP-01 token, or a TLS-ALPN-01
 * certificate for a domain. */
struct acme_challenge_spec {
    int entrypoint;      /* HTTP-01 is answered on this entry point only (index); -1: every one */
    const char *token;   /* HTTP-01: the last path segment */
    const char *keyauth; /* HTTP-01: token.thumbprint, the body to answer */
    const char *domain;  /* TLS-ALPN-01: the server name, lowercase */
    const char *cert_pem, *key_pem; /* TLS-ALPN-01: the certificate carrying id-pe-acmeIdentifier */
};

struct acme_challenge_item {
    int entrypoint;
    const char *token, *keyauth, *domain;
    size_t token_len;
    SSL_CTX *tls_ctx; /* TLS-ALPN-01 only */
};

struct acme_challenge_set {
    size_t n;
    struct acme_challenge_item items[];
};

extern _Atomic(struct acme_challenge_set *) acme_challenge_current;

/* Watcher thread. Builds and publishes the set of <n> specs (NULL/0:
 * nothing pending); the previous set is freed once no worker can still be
 * reading it. -1 when a TLS-ALPN-01 certificate cannot be loaded (nothing
 * changes then). */
int acme_challenge_publish(const struct acme_challenge_spec *specs, size_t n);
void acme_challenge_shutdown(void);

/* Worker, ClientHello callback: when the client offers only "acme-tls/1"
 * for a pending domain <name>, switches <ssl> to the challenge certificate
 * and returns true. */
bool acme_challenge_hello(SSL *ssl, const char *name, size_t len);
/* Worker, SNI callback: true when <ssl> was switched by acme_challenge_hello. */
bool acme_challenge_owns(SSL *ssl);

static inline bool acme_challenge_pending(void)
{
    return atomic_load_explicit(&acme_challenge_current, memory_order_relaxed) != NULL;
}

/* Worker: the key authorization for <path> on entry point <ep>, or NULL. */
static inline const char *acme_challenge_answer(int ep, const char *path, size_t len)
{
    struct acme_challenge_set *s = atomic_load_explicit(&acme_challenge_current, memory_order_acquire);
    if (__builtin_expect(s == NULL, 1))
        return NULL;
    static const char prefix[] = "/.well-known/acme-challenge/";
    size_t pl = sizeof(prefix) - 1;
    if (len <= pl || __builtin_memcmp(path, prefix, pl) != 0)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct acme_challenge_item *it = &s->items[i];
        if (it->token != NULL && (it->entrypoint < 0 || it->entrypoint == ep) && it->token_len == len - pl &&
            __builtin_memcmp(it->token, path + pl, len - pl) == 0)
            return it->keyauth;
    }
    return NULL;
}

#endif
