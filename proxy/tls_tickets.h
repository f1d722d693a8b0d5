/*
 * Session-ticket keys shared by every worker of the process, rotated on an
 * interval (TLS 1.2 tickets and TLS 1.3 stateless PSKs both go through
 * OpenSSL's ticket key callback).
 *
 * OpenSSL's own ticket keys are made once per SSL_CTX and never change, so
 * a key stolen from memory decrypts every ticket the process ever issued.
 * Here the newest key encrypts; the previous ones only decrypt (a ticket
 * they open is renewed under the newest key) until they age out. The key
 * set is behind a mutex: a handshake copies one key under it; the rotation,
 * due at most every interval, is checked with one atomic load first.
 * `disableSessionTickets` (SSL_OP_NO_TICKET, set per connection by the TLS
 * option) still wins: OpenSSL does not call the callback then.
 */
#ifndef GANTRY_TLS_TICKETS_H
#define GANTRY_TLS_TICKETS_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

/* A new encryption key every 12 hours; the two before it still decrypt, so
 * a ticket stays usable for 24 to 36 hours (longer than the session
 * lifetime OpenSSL enforces anyway, 2 hours by default). */
#define TLS_TICKETS_ROTATE_MS (12ULL * 3600 * 1000)
#define TLS_TICKETS_KEEP 3

/* Installs the callback on a server context (all of them: which context's
 * callback OpenSSL uses after the SNI switch differs between versions). */
void tls_tickets_install(SSL_CTX *ctx);

/* The callback itself (SSL_CTX_set_tlsext_ticket_key_evp_cb's shape): 1
 * with the newest key, 2 when an older key opened the ticket (renew it), 0
 * when no key knows the ticket (full handshake) or there is no key to
 * issue one (no ticket), -1 when OpenSSL could not set up the cipher. */
int tls_tickets_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv, EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac,
                   int enc);

/* Tests: a shorter interval, a fake clock (milliseconds, monotonic), and a
 * reset to a fresh key set. Not for use while workers run. */
void tls_tickets_set_interval(uint64_t rotate_ms);
void tls_tickets_set_clock(uint64_t (*now_ms)(void));
void tls_tickets_reset(void);
/* How many rotations happened since start (or reset). */
uint64_t tls_tickets_rotations(void);

#endif
