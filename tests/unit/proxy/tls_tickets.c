/* Tests proxy/tls_tickets.c: the ticket key callback encrypts with the
 * newest key, opens tickets of older keys (asking for renewal) until they
 * age out, rotates on the interval (a fake clock), and survives threads
 * using it during rotations. */
#include "../../../proxy/tls_tickets.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "test.h"

static _Atomic uint64_t fake_now = 1000000;
static uint64_t fake_clock(void)
{
    return atomic_load(&fake_now);
}

static EVP_MAC *hmac;

struct ticket {
    unsigned char name[16], iv[EVP_MAX_IV_LENGTH];
    unsigned char ct[64], tag[32];
    int ct_len;
};

static const unsigned char plain[] = "session state: resumption secret";

/* Seals <plain> as OpenSSL does with what the callback set up; 1 on success. */
static int seal(struct ticket *t)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(hmac);
    int rc = tls_tickets_cb(NULL, t->name, t->iv, c, m, 1), n = 0, f = 0;
    size_t tl = 0;
    if (rc == 1) {
        EVP_EncryptUpdate(c, t->ct, &n, plain, sizeof(plain));
        EVP_EncryptFinal_ex(c, t->ct + n, &f);
        t->ct_len = n + f;
        EVP_MAC_init(m, NULL, 0, NULL);
        EVP_MAC_update(m, t->ct, (size_t)t->ct_len);
        EVP_MAC_final(m, t->tag, &tl, sizeof(t->tag));
    }
    EVP_MAC_CTX_free(m);
    EVP_CIPHER_CTX_free(c);
    return rc;
}

/* The callback's answer for <t>; when it accepts, the ticket must open to <plain>. */
static int open_ticket(struct ticket *t)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_MAC_CTX *m = EVP_MAC_CTX_new(hmac);
    int rc = tls_tickets_cb(NULL, t->name, t->iv, c, m, 0);
    if (rc == 1 || rc == 2) {
        unsigned char tag[32], out[80];
        size_t tl = 0;
        int n = 0, f = 0;
        EVP_MAC_init(m, NULL, 0, NULL);
        EVP_MAC_update(m, t->ct, (size_t)t->ct_len);
        EVP_MAC_final(m, tag, &tl, sizeof(tag));
        CHECK(tl == 32 && memcmp(tag, t->tag, 32) == 0);
        CHECK(EVP_DecryptUpdate(c, out, &n, t->ct, t->ct_len) == 1);
        CHECK(EVP_DecryptFinal_ex(c, out + n, &f) == 1);
        CHECK((size_t)(n + f) == sizeof(plain) && memcmp(out, plain, sizeof(plain)) == 0);
    }
    EVP_MAC_CTX_free(m);
    EVP_CIPHER_CTX_free(c);
    return rc;
}

static void test_rotation(void)
{
    tls_tickets_set_clock(fake_clock);
    tls_tickets_set_interval(1000);
    tls_tickets_reset();
    struct ticket a, b, x;
    CHECK(seal(&a) == 1);
    CHECK(tls_tickets_rotations() == 1); /* the first key, made on first use */
    CHECK(open_ticket(&a) == 1);
    atomic_fetch_add(&fake_now, 999);
    CHECK(seal(&x) == 1 && memcmp(x.name, a.name, 16) == 0); /* not yet due */
    atomic_fetch_add(&fake_now, 1);
    CHECK(seal(&b) == 1 && memcmp(b.name, a.name, 16) != 0); /* rotated */
    CHECK(tls_tickets_rotations() == 2);
    CHECK(open_ticket(&b) == 1);
    CHECK(open_ticket(&a) == 2); /* an older key: accepted, renewal asked */
    atomic_fetch_add(&fake_now, 1000);
    CHECK(open_ticket(&a) == 2); /* decryption alone also rotates: 3 keys now, a's the oldest */
    CHECK(tls_tickets_rotations() == 3);
    atomic_fetch_add(&fake_now, 1000);
    CHECK(open_ticket(&a) == 0); /* aged out: full handshake */
    CHECK(open_ticket(&b) == 2);
    /* a forged or foreign ticket */
    memset(x.name, 0x5a, sizeof(x.name));
    CHECK(open_ticket(&x) == 0);
    /* a long pause rotates once, not once per missed interval */
    uint64_t r = tls_tickets_rotations();
    atomic_fetch_add(&fake_now, 100000);
    CHECK(seal(&x) == 1);
    CHECK(tls_tickets_rotations() == r + 1);
}

static _Atomic bool stop;

static void *hammer(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        struct ticket t;
        if (seal(&t) != 1) {
            CHECK(0);
            break;
        }
        /* usually 1 or 2; 0 only if this thread slept through three
         * rotations (a loaded machine): never an error */
        CHECK(open_ticket(&t) >= 0);
    }
    return NULL;
}

static void test_threads(void)
{
    tls_tickets_set_interval(10);
    tls_tickets_reset();
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer, NULL);
    for (int i = 0; i < 200; i++) {
        atomic_fetch_add(&fake_now, 5);
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&stop, true);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK(tls_tickets_rotations() > 10); /* rotations happened while threads used the keys */
}

int main(void)
{
    hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    test_rotation();
    test_threads();
    tls_tickets_set_clock(NULL);
    tls_tickets_set_interval(0);
    tls_tickets_reset();
    EVP_MAC_free(hmac);
    return test_report("proxy/tls_tickets");
}
