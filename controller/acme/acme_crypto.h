/*
 * The cryptography of an ACME client (RFC 8555, RFC 7515/7638): base64url,
 * the account key's JWK and thumbprint, JWS signing with ES256, key
 * generation for certificates (EC or RSA), the CSR, and reading a
 * certificate's validity. Pure functions over OpenSSL 3 EVP; any thread.
 */
#ifndef GANTRY_ACME_CRYPTO_H
#define GANTRY_ACME_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>

/* base64url without padding (RFC 7515 section 2). Returns malloc'd text. */
char *acme_b64url(const unsigned char *p, size_t len);
/* Standard base64 with padding (acme.json's fields). Returns malloc'd text. */
char *acme_b64(const unsigned char *p, size_t len);
/* Decodes standard base64; returns malloc'd bytes and their length, NULL on a bad input. */
unsigned char *acme_b64_decode(const char *s, size_t *len);

/* A new key: "EC256" (the account key in Kubernetes Secrets), "EC384", "RSA2048", "RSA3072",
 * "RSA4096" (certificates' and acme.json accounts' default, as in Traefik), "RSA8192". NULL for an unknown type. */
EVP_PKEY *acme_key_new(const char *type);
int acme_key_type_valid(const char *type);
/* The key as PEM (PKCS#8), malloc'd. */
char *acme_key_pem(EVP_PKEY *k);
EVP_PKEY *acme_key_from_pem(const char *pem);
/* The private key as DER (SEC1 for EC, as Go's MarshalECPrivateKey), base64: acme.json's Account.PrivateKey. */
char *acme_key_der_b64(EVP_PKEY *k);
EVP_PKEY *acme_key_from_der_b64(const char *b64);

/* The JWS algorithm of an account key: "ES256" (EC P-256), "ES384" (P-384),
 * "RS256" (RSA, as Traefik's acme.json often holds); NULL: not usable. */
const char *acme_jws_alg(EVP_PKEY *k);
/* The JWK of an account key's public half with its members in lexicographic
 * order, which is also the input of the RFC 7638 thumbprint. malloc'd. */
char *acme_jwk(EVP_PKEY *k);
/* base64url(SHA-256(jwk)). malloc'd. */
char *acme_thumbprint(EVP_PKEY *k);

/* A flattened JWS (RFC 8555 6.2) for <url> with <nonce>, identified by
 * <kid> or, when NULL, by the JWK. <payload> "" means POST-as-GET. malloc'd. */
char *acme_jws(EVP_PKEY *k, const char *kid, const char *nonce, const char *url, const char *payload);

/* What the CSR carries besides the DNS names (Traefik's disableCommonName, emailAddresses). */
struct acme_csr_options {
    bool disable_common_name; /* no CN: the names only in the SANs */
    const char *const *emails; /* email SANs */
    size_t n_emails;
};
/* A CSR naming <names> (the first also as CN unless <o> disables it or it is longer than 64) signed by
 * <k>, as base64url DER; <o> may be NULL. malloc'd, NULL on failure. */
char *acme_csr(EVP_PKEY *k, const char *const *names, size_t n, const struct acme_csr_options *o);

/* The TLS-ALPN-01 certificate (RFC 8737 3): self-signed for <domain>,
 * with the critical id-pe-acmeIdentifier extension holding
 * SHA-256(<keyauth>). PEM certificate and key, malloc'd; -1 on failure. */
int acme_tlsalpn_cert(const char *domain, const char *keyauth, char **cert_pem, char **key_pem);

/* The issuer Common Name of the last certificate of the PEM chain <pem>
 * (its top, as the CA sends it); -1 when unreadable. */
int acme_chain_top_issuer(const char *pem, char *cn, size_t len);

/* notBefore and notAfter of the first certificate of <pem>; -1 when unreadable. */
int acme_cert_validity(const char *pem, time_t *not_before, time_t *not_after);

#endif
