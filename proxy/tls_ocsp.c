/*
 * OCSP staple slots on server contexts and the status callback (see
 * tls_ocsp.h). A slot is guarded by a mutex held only for a memcpy of a
 * response (a few hundred bytes to a few KiB), once per handshake that
 * asks for a staple, against a writer that comes at most every few
 * minutes: cheaper and simpler than deferred reclamation.
 */
#include "tls_ocsp.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"

struct staple_slot {
    pthread_mutex_t mu;
    unsigned char *der; /* NULL: nothing to staple */
    size_t len;
    time_t expires;
};

static int slot_index = -1;
static pthread_once_t slot_once = PTHREAD_ONCE_INIT;

static void free_slot(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    struct staple_slot *s = ptr;
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->mu);
    free(s->der);
    free(s);
}

static void init_index(void)
{
    slot_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, free_slot);
}

static struct staple_slot *slot_of(SSL_CTX *ctx)
{
    return ctx != NULL && slot_index >= 0 ? SSL_CTX_get_ex_data(ctx, slot_index) : NULL;
}

/* Runs after the certificate is chosen (OpenSSL calls the callback of the
 * context SNI switched to), only when the client sent status_request. */
static int on_status(SSL *ssl, void *arg)
{
    (void)arg;
    struct staple_slot *s = slot_of(SSL_get_SSL_CTX(ssl));
    if (s == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    unsigned char *copy = NULL;
    size_t len = 0;
    pthread_mutex_lock(&s->mu);
    if (s->der != NULL && time(NULL) < s->expires) {
        copy = OPENSSL_memdup(s->der, s->len); /* OpenSSL frees it with the connection */
        len = s->len;
    }
    pthread_mutex_unlock(&s->mu);
    if (copy == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    if (SSL_set_tlsext_status_ocsp_resp(ssl, copy, (long)len) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

void tls_ocsp_install(SSL_CTX *ctx)
{
    pthread_once(&slot_once, init_index);
    if (slot_index < 0 || slot_of(ctx) != NULL)
        return;
    struct staple_slot *s = mem_calloc(1, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    if (SSL_CTX_set_ex_data(ctx, slot_index, s) != 1) {
        free_slot(NULL, s, NULL, 0, 0, NULL);
        return;
    }
    SSL_CTX_set_tlsext_status_cb(ctx, on_status);
}

void tls_ocsp_set(SSL_CTX *ctx, const unsigned char *der, size_t len, time_t expires)
{
    struct staple_slot *s = slot_of(ctx);
    if (s == NULL)
        return;
    unsigned char *copy = NULL;
    if (der != NULL && len > 0) {
        copy = mem_alloc(len);
        memcpy(copy, der, len);
    }
    pthread_mutex_lock(&s->mu);
    unsigned char *old = s->der;
    s->der = copy;
    s->len = copy ? len : 0;
    s->expires = expires;
    pthread_mutex_unlock(&s->mu);
    free(old);
}
