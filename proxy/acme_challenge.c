/*
 * The published set of pending ACME challenges (see acme_challenge.h).
 *
 * A worker reads the set and keeps nothing from it across a loop
 * iteration: an HTTP-01 answer is handed to h2o within the same handler
 * call, and a TLS-ALPN-01 SSL_CTX is referenced by the SSL object itself
 * (SSL_set_SSL_CTX takes a reference). A superseded set is therefore kept
 * for a grace period far longer than any callback (RETIRE_MS) and freed
 * by a later publish or at shutdown, which keeps reference counts off the
 * request path.
 */
#include "acme_challenge.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/pem.h>

#include "../common/arena.h"
#include "../common/log.h"

#define RETIRE_MS 30000
#define MAX_RETIRED 64

_Atomic(struct acme_challenge_set *) acme_challenge_current;

static struct {
    struct acme_challenge_set *set;
    uint64_t at_ms;
} retired[MAX_RETIRED];
static size_t n_retired;

static const unsigned char acme_alpn[] = "\x0a" "acme-tls/1";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void set_free(struct acme_challenge_set *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        SSL_CTX_free(s->items[i].tls_ctx);
    free(s);
}

/* RFC 8737 3: the challenge handshake negotiates "acme-tls/1" or fails. */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
                   void *arg)
{
    (void)ssl;
    (void)arg;
    unsigned char *sel;
    unsigned char sel_len;
    if (SSL_select_next_proto(&sel, &sel_len, acme_alpn, sizeof(acme_alpn) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    *outlen = sel_len;
    return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *challenge_ctx(const char *cert_pem, const char *key_pem)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
    BIO *b = BIO_new_mem_buf(cert_pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    b = BIO_new_mem_buf(key_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    int ok = x && k && SSL_CTX_use_certificate(ctx, x) == 1 && SSL_CTX_use_PrivateKey(ctx, k) == 1;
    X509_free(x);
    EVP_PKEY_free(k);
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int acme_challenge_publish(const struct acme_challenge_spec *specs, size_t n)
{
    struct acme_challenge_set *s = NULL;
    if (n > 0) {
        size_t size = sizeof(*s) + n * sizeof(s->items[0]);
        for (size_t i = 0; i < n; i++)
            size += (specs[i].token ? strlen(specs[i].token) + strlen(specs[i].keyauth) + 2 : 0) +
                    (specs[i].domain ? strlen(specs[i].domain) + 1 : 0);
        s = mem_calloc(1, size);
        char *p = (char *)&s->items[n];
        for (size_t i = 0; i < n; i++) {
            struct acme_challenge_item *it = &s->items[s->n++];
            it->entrypoint = specs[i].entrypoint;
            if (specs[i].token) {
                it->token = p;
                it->token_len = strlen(specs[i].token);
                p = stpcpy(p, specs[i].token) + 1;
                it->keyauth = p;
                p = stpcpy(p, specs[i].keyauth) + 1;
            }
            if (specs[i].domain) {
                it->domain = p;
                p = stpcpy(p, specs[i].domain) + 1;
                if ((it->tls_ctx = challenge_ctx(specs[i].cert_pem, specs[i].key_pem)) == NULL) {
                    set_free(s);
                    return -1;
                }
            }
        }
    }
    struct acme_challenge_set *old = atomic_exchange_explicit(&acme_challenge_current, s, memory_order_acq_rel);
    uint64_t now = now_ms();
    size_t kept = 0;
    for (size_t i = 0; i < n_retired; i++) {
        if (now - retired[i].at_ms >= RETIRE_MS)
            set_free(retired[i].set);
        else
            retired[kept++] = retired[i];
    }
    n_retired = kept;
    if (old != NULL) {
        if (n_retired == MAX_RETIRED) { /* a burst of changes: the oldest has had the longest grace */
            set_free(retired[0].set);
            memmove(retired, retired + 1, (MAX_RETIRED - 1) * sizeof(retired[0]));
            n_retired--;
        }
        retired[n_retired].set = old;
        retired[n_retired++].at_ms = now;
    }
    return 0;
}

void acme_challenge_shutdown(void)
{
    set_free(atomic_exchange(&acme_challenge_current, NULL));
    for (size_t i = 0; i < n_retired; i++)
        set_free(retired[i].set);
    n_retired = 0;
}

/* True when the ClientHello's ALPN list is exactly "acme-tls/1" (RFC 8737 3:
 * the validation offers only that protocol). */
static bool offers_only_acme(SSL *ssl)
{
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p, &len) || len < 2)
        return false;
    return len == 2 + sizeof(acme_alpn) - 1 && (size_t)(p[0] << 8 | p[1]) == len - 2 &&
           memcmp(p + 2, acme_alpn, sizeof(acme_alpn) - 1) == 0;
}

bool acme_challenge_hello(SSL *ssl, const char *name, size_t len)
{
    struct acme_challenge_set *s = atomic_load_explicit(&acme_challenge_current, memory_order_acquire);
    if (s == NULL || len == 0 || !offers_only_acme(ssl))
        return false;
    for (size_t i = 0; i < s->n; i++) {
        const struct acme_challenge_item *it = &s->items[i];
        if (it->tls_ctx && strlen(it->domain) == len && strncasecmp(it->domain, name, len) == 0) {
            SSL_set_SSL_CTX(ssl, it->tls_ctx);
            return true;
        }
    }
    return false;
}

bool acme_challenge_owns(SSL *ssl)
{
    struct acme_challenge_set *s = atomic_load_explicit(&acme_challenge_current, memory_order_acquire);
    if (s == NULL)
        return false;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);
    for (size_t i = 0; i < s->n; i++)
        if (s->items[i].tls_ctx != NULL && s->items[i].tls_ctx == ctx)
            return true;
    return false;
}
