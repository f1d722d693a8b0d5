/*
 * ACME cryptography on OpenSSL 3 EVP (see acme_crypto.h). Everything
 * returned is malloc'd (or an EVP_PKEY the caller frees); nothing here
 * keeps state.
 */
#include "acme_crypto.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../../common/arena.h"

static const char b64url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char b64_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *encode(const unsigned char *p, size_t len, const char *alphabet, int pad)
{
    char *out = mem_alloc(len / 3 * 4 + 5);
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return out;
}

char *acme_b64url(const unsigned char *p, size_t len)
{
    return encode(p, len, b64url_chars, 0);
}

char *acme_b64(const unsigned char *p, size_t len)
{
    return encode(p, len, b64_chars, 1);
}

unsigned char *acme_b64_decode(const char *s, size_t *len)
{
    size_t n = strlen(s);
    unsigned char *out = mem_alloc(n / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=' || c == '\n' || c == '\r')
            continue;
        const char *at = strchr(b64_chars, c);
        if (at == NULL || c == '\0') {
            /* acme.json written by other tools may use the URL alphabet */
            at = strchr(b64url_chars, c);
            if (at == NULL) {
                free(out);
                return NULL;
            }
            at = b64_chars + (at - b64url_chars);
        }
        acc = acc << 6 | (uint32_t)(at - b64_chars);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    *len = o;
    return out;
}

int acme_key_type_valid(const char *type)
{
    static const char *const types[] = {"EC256", "EC384", "RSA2048", "RSA3072", "RSA4096", "RSA8192", NULL};
    for (size_t i = 0; types[i]; i++)
        if (strcmp(type, types[i]) == 0)
            return 1;
    return 0;
}

EVP_PKEY *acme_key_new(const char *type)
{
    if (!acme_key_type_valid(type))
        return NULL;
    if (strcmp(type, "EC256") == 0)
        return EVP_EC_gen("P-256");
    if (strcmp(type, "EC384") == 0)
        return EVP_EC_gen("P-384");
    return EVP_RSA_gen((unsigned)atoi(type + 3));
}

static char *bio_text(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *out = mem_alloc((size_t)n + 1);
    memcpy(out, p, (size_t)n);
    out[n] = '\0';
    BIO_free(b);
    return out;
}

char *acme_key_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    return bio_text(b);
}

EVP_PKEY *acme_key_from_pem(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    return k;
}

char *acme_key_der_b64(EVP_PKEY *k)
{
    unsigned char *der = NULL;
    int n = i2d_PrivateKey(k, &der);
    if (n <= 0)
        return NULL;
    char *out = acme_b64(der, (size_t)n);
    OPENSSL_free(der);
    return out;
}

EVP_PKEY *acme_key_from_der_b64(const char *b64)
{
    size_t n;
    unsigned char *der = acme_b64_decode(b64, &n);
    if (der == NULL)
        return NULL;
    const unsigned char *p = der;
    /* SEC1 (EC) first, then PKCS#1 (RSA): the two forms lego writes */
    EVP_PKEY *k = d2i_PrivateKey(EVP_PKEY_EC, NULL, &p, (long)n);
    if (k == NULL) {
        p = der;
        k = d2i_PrivateKey(EVP_PKEY_RSA, NULL, &p, (long)n);
    }
    free(der);
    return k;
}

/* A big number as big-endian bytes, base64url: <width> bytes (an EC
 * coordinate), or as few as it needs when 0 (RSA's n and e, RFC 7518 6.3.1). */
static char *coordinate(EVP_PKEY *k, const char *param, int width)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(k, param, &bn))
        return NULL;
    int n = width ? width : BN_num_bytes(bn);
    unsigned char *buf = mem_alloc((size_t)(n ? n : 1));
    BN_bn2binpad(bn, buf, n);
    BN_free(bn);
    char *out = acme_b64url(buf, (size_t)n);
    free(buf);
    return out;
}

/* The account key's JWS algorithm: ES256 (P-256), ES384 (P-384), RS256
 * (RSA: Traefik's default account keys); NULL for anything else. */
const char *acme_jws_alg(EVP_PKEY *k)
{
    if (k == NULL)
        return NULL;
    if (EVP_PKEY_base_id(k) == EVP_PKEY_RSA)
        return "RS256";
    if (EVP_PKEY_base_id(k) != EVP_PKEY_EC)
        return NULL;
    return EVP_PKEY_get_bits(k) == 256 ? "ES256" : EVP_PKEY_get_bits(k) == 384 ? "ES384" : NULL;
}

char *acme_jwk(EVP_PKEY *k)
{
    const char *alg = acme_jws_alg(k);
    if (alg == NULL)
        return NULL;
    bool rsa = alg[0] == 'R', p384 = strcmp(alg, "ES384") == 0;
    char *a = rsa ? coordinate(k, OSSL_PKEY_PARAM_RSA_E, 0) : coordinate(k, OSSL_PKEY_PARAM_EC_PUB_X, p384 ? 48 : 32);
    char *b = rsa ? coordinate(k, OSSL_PKEY_PARAM_RSA_N, 0) : coordinate(k, OSSL_PKEY_PARAM_EC_PUB_Y, p384 ? 48 : 32);
    char *out = NULL;
    if (a && b) {
        size_t n = strlen(a) + strlen(b) + 64;
        out = mem_alloc(n);
        /* members in lexicographic order: also the RFC 7638 thumbprint input */
        if (rsa)
            snprintf(out, n, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b);
        else
            snprintf(out, n, "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", p384 ? "P-384" : "P-256", a, b);
    }
    free(a);
    free(b);
    return out;
}

char *acme_thumbprint(EVP_PKEY *k)
{
    char *jwk = acme_jwk(k);
    if (jwk == NULL)
        return NULL;
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(jwk, strlen(jwk), md, &mdlen, EVP_sha256(), NULL);
    free(jwk);
    return acme_b64url(md, mdlen);
}

/* RS256: PKCS#1 v1.5 with SHA-256, as is. ES256/ES384: the DER signature
 * turned into r||s of the curve's width (RFC 7518 3.4). */
static char *sign(EVP_PKEY *k, const char *alg, const char *input)
{
    bool rsa = alg[0] == 'R', p384 = strcmp(alg, "ES384") == 0;
    int width = p384 ? 48 : 32;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t dlen = 0;
    unsigned char *der = NULL;
    char *out = NULL;
    if (EVP_DigestSignInit(ctx, NULL, p384 ? EVP_sha384() : EVP_sha256(), NULL, k) == 1 &&
        EVP_DigestSign(ctx, NULL, &dlen, (const unsigned char *)input, strlen(input)) == 1) {
        der = mem_alloc(dlen);
        if (EVP_DigestSign(ctx, der, &dlen, (const unsigned char *)input, strlen(input)) != 1) {
            free(der);
            der = NULL;
        }
    }
    EVP_MD_CTX_free(ctx);
    if (der == NULL)
        return NULL;
    if (rsa) {
        out = acme_b64url(der, dlen);
        free(der);
        return out;
    }
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (sig != NULL) {
        unsigned char rs[96];
        BN_bn2binpad(ECDSA_SIG_get0_r(sig), rs, width);
        BN_bn2binpad(ECDSA_SIG_get0_s(sig), rs + width, width);
        out = acme_b64url(rs, (size_t)(2 * width));
        ECDSA_SIG_free(sig);
    }
    free(der);
    return out;
}

char *acme_jws(EVP_PKEY *k, const char *kid, const char *nonce, const char *url, const char *payload)
{
    const char *alg = acme_jws_alg(k);
    char *jwk = kid ? NULL : acme_jwk(k);
    if (alg == NULL || (kid == NULL && jwk == NULL)) {
        free(jwk);
        return NULL;
    }
    size_t hn = strlen(nonce) + strlen(url) + (kid ? strlen(kid) : strlen(jwk)) + 96;
    char *header = mem_alloc(hn);
    if (kid)
        snprintf(header, hn, "{\"alg\":\"%s\",\"kid\":\"%s\",\"nonce\":\"%s\",\"url\":\"%s\"}", alg, kid, nonce, url);
    else
        snprintf(header, hn, "{\"alg\":\"%s\",\"jwk\":%s,\"nonce\":\"%s\",\"url\":\"%s\"}", alg, jwk, nonce, url);
    char *ph = acme_b64url((const unsigned char *)header, strlen(header));
    char *pp = acme_b64url((const unsigned char *)payload, strlen(payload));
    size_t in = strlen(ph) + strlen(pp) + 2;
    char *input = mem_alloc(in);
    snprintf(input, in, "%s.%s", ph, pp);
    char *sig = sign(k, alg, input);
    char *out = NULL;
    if (sig) {
        size_t on = in + strlen(sig) + 64;
        out = mem_alloc(on);
        snprintf(out, on, "{\"protected\":\"%s\",\"payload\":\"%s\",\"signature\":\"%s\"}", ph, pp, sig);
    }
    free(jwk);
    free(header);
    free(ph);
    free(pp);
    free(input);
    free(sig);
    return out;
}

static void add_san(GENERAL_NAMES *sans, int type, const char *value)
{
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_IA5STRING *s = ASN1_IA5STRING_new();
    ASN1_STRING_set(s, value, -1);
    GENERAL_NAME_set0_value(g, type, s);
    sk_GENERAL_NAME_push(sans, g);
}

char *acme_csr(EVP_PKEY *k, const char *const *names, size_t n, const struct acme_csr_options *o)
{
    if (n == 0)
        return NULL;
    X509_REQ *req = X509_REQ_new();
    X509_NAME *subject = X509_NAME_new();
    char *out = NULL;
    /* a CN holds at most 64 characters (RFC 5280 ub-common-name): a longer
     * first name is left to the SANs, as lego does */
    if ((o == NULL || !o->disable_common_name) && strlen(names[0]) <= 64)
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, (const unsigned char *)names[0], -1, -1, 0);
    X509_REQ_set_subject_name(req, subject);
    X509_REQ_set_version(req, 0);
    X509_REQ_set_pubkey(req, k);
    GENERAL_NAMES *sans = GENERAL_NAMES_new();
    for (size_t i = 0; i < n; i++)
        add_san(sans, GEN_DNS, names[i]);
    for (size_t i = 0; o && i < o->n_emails; i++)
        add_san(sans, GEN_EMAIL, o->emails[i]);
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    X509_EXTENSION *ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, sans);
    sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req, exts);
    if (X509_REQ_sign(req, k, EVP_sha256()) > 0) {
        unsigned char *der = NULL;
        int len = i2d_X509_REQ(req, &der);
        if (len > 0)
            out = acme_b64url(der, (size_t)len);
        OPENSSL_free(der);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(sans);
    X509_NAME_free(subject);
    X509_REQ_free(req);
    return out;
}

static time_t asn1_time(const ASN1_TIME *t)
{
    struct tm tm;
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
        return -1;
    return timegm(&tm);
}

int acme_cert_validity(const char *pem, time_t *not_before, time_t *not_after)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    if (x == NULL)
        return -1;
    *not_before = asn1_time(X509_get0_notBefore(x));
    *not_after = asn1_time(X509_get0_notAfter(x));
    X509_free(x);
    return *not_before < 0 || *not_after < 0 ? -1 : 0;
}

int acme_chain_top_issuer(const char *pem, char *cn, size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x, *last = NULL;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        X509_free(last);
        last = x;
    }
    ERR_clear_error(); /* the end of the input reads as an error */
    BIO_free(b);
    int rc = -1;
    if (last && X509_NAME_get_text_by_NID(X509_get_issuer_name(last), NID_commonName, cn, (int)len) >= 0)
        rc = 0;
    X509_free(last);
    return rc;
}

int acme_tlsalpn_cert(const char *domain, const char *keyauth, char **cert_pem, char **key_pem)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    int rc = -1;
    if (k == NULL || x == NULL)
        goto done;
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_UTF8, (const unsigned char *)domain, -1, -1, 0);
    X509_set_issuer_name(x, nm);
    X509_set_pubkey(x, k);
    char san[300];
    snprintf(san, sizeof(san), "DNS:%s", domain);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, san);
    if (e == NULL)
        goto done;
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    /* extnValue is the DER of Authorization ::= OCTET STRING (SIZE (32)) */
    unsigned char der[34] = {0x04, 0x20};
    unsigned int mdlen = 0;
    EVP_Digest(keyauth, strlen(keyauth), der + 2, &mdlen, EVP_sha256(), NULL);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    ASN1_OCTET_STRING *val = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING_set(val, der, sizeof(der));
    e = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, val);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(val);
    if (e == NULL)
        goto done;
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
    if (X509_sign(x, k, EVP_sha256()) <= 0)
        goto done;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(b, x);
    *cert_pem = bio_text(b);
    *key_pem = acme_key_pem(k);
    rc = 0;
done:
    X509_free(x);
    EVP_PKEY_free(k);
    return rc;
}
