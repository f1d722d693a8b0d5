/*
 * Shared, rotated session-ticket keys (see tls_tickets.h).
 */
#include "tls_tickets.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include "../common/log.h"

struct ticket_key {
    unsigned char name[16]; /* sent in the clear with the ticket: which key to use */
    unsigned char aes[32];  /* AES-256-CBC */
    unsigned char hmac[32]; /* HMAC-SHA256 over the encrypted ticket */
};

static uint64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A mutex, not a read-write lock: the section is an 80-byte copy, and
 * glibc's rwlock prefers readers, so a busy process could starve the
 * rotation (and the worker waiting to make it). */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticket_key keys[TLS_TICKETS_KEEP]; /* [0]: the newest, the one that encrypts */
static unsigned n_keys;
static _Atomic uint64_t next_rotation_ms; /* 0: no key yet */
static _Atomic uint64_t rotations;
static uint64_t interval_ms = TLS_TICKETS_ROTATE_MS;
static uint64_t (*clock_ms)(void) = monotonic_ms;

/* Makes a new newest key when the interval is over (or there is none yet).
 * The check without the lock keeps the common case to one atomic load. */
static void rotate_if_due(void)
{
    uint64_t now = clock_ms();
    if (now < atomic_load_explicit(&next_rotation_ms, memory_order_acquire))
        return;
    pthread_mutex_lock(&lock);
    if (now >= atomic_load_explicit(&next_rotation_ms, memory_order_relaxed)) {
        struct ticket_key k;
        if (RAND_bytes(k.name, sizeof(k.name)) == 1 && RAND_bytes(k.aes, sizeof(k.aes)) == 1 &&
            RAND_bytes(k.hmac, sizeof(k.hmac)) == 1) {
            OPENSSL_cleanse(&keys[TLS_TICKETS_KEEP - 1], sizeof(keys[0])); /* the oldest goes */
            memmove(&keys[1], &keys[0], (TLS_TICKETS_KEEP - 1) * sizeof(keys[0]));
            keys[0] = k;
            if (n_keys < TLS_TICKETS_KEEP)
                n_keys++;
            atomic_fetch_add(&rotations, 1);
            atomic_store_explicit(&next_rotation_ms, now + interval_ms, memory_order_release);
        } else {
            log_error("TLS session tickets: no random bytes for a new ticket key; the current key stays");
        }
        OPENSSL_cleanse(&k, sizeof(k));
    }
    pthread_mutex_unlock(&lock);
}

static int mac_init(EVP_MAC_CTX *mac, unsigned char *key)
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key, 32),
                           OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
                           OSSL_PARAM_construct_end()};
    return EVP_MAC_CTX_set_params(mac, params);
}

int tls_tickets_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac,
                   int enc)
{
    (void)ssl;
    rotate_if_due();
    struct ticket_key k;
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (enc) {
        if (n_keys > 0) {
            k = keys[0];
            rc = 1;
        }
    } else {
        for (unsigned i = 0; i < n_keys; i++)
            if (CRYPTO_memcmp(keys[i].name, key_name, sizeof(keys[i].name)) == 0) {
                k = keys[i];
                rc = i == 0 ? 1 : 2; /* 2: OpenSSL issues a new ticket under the newest key */
                break;
            }
    }
    pthread_mutex_unlock(&lock);
    if (rc == 0) /* encrypting: no key (no random bytes yet), no ticket, the handshake goes on;
                  * decrypting: an unknown or aged-out key, a full handshake */
        return 0;
    const EVP_CIPHER *aes = EVP_aes_256_cbc();
    bool ok;
    if (enc) {
        memcpy(key_name, k.name, sizeof(k.name));
        ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) == 1 && EVP_EncryptInit_ex(cipher, aes, NULL, k.aes, iv) == 1 &&
             mac_init(mac, k.hmac) == 1;
    } else {
        ok = mac_init(mac, k.hmac) == 1 && EVP_DecryptInit_ex(cipher, aes, NULL, k.aes, iv) == 1;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return ok ? rc : -1;
}

void tls_tickets_install(SSL_CTX *ctx)
{
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_tickets_cb);
}

void tls_tickets_set_interval(uint64_t rotate_ms)
{
    interval_ms = rotate_ms ? rotate_ms : TLS_TICKETS_ROTATE_MS;
}

void tls_tickets_set_clock(uint64_t (*now_ms)(void))
{
    clock_ms = now_ms ? now_ms : monotonic_ms;
}

void tls_tickets_reset(void)
{
    pthread_mutex_lock(&lock);
    OPENSSL_cleanse(keys, sizeof(keys));
    n_keys = 0;
    atomic_store(&next_rotation_ms, 0);
    atomic_store(&rotations, 0);
    pthread_mutex_unlock(&lock);
}

uint64_t tls_tickets_rotations(void)
{
    return atomic_load(&rotations);
}
