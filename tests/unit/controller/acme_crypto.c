/* Tests controller/acme/acme_crypto.c: base64, JWS (verified with the
 * public key), CSR, key round trips, the TLS-ALPN-01 certificate. */
#include "../../../controller/acme/acme_crypto.c"

#include <cjson/cJSON.h>
#include <openssl/ecdsa.h>

#include "test.h"

/* Verifies a flattened ES256 JWS with <k>; returns the decoded protected header. */
static char *verify_jws(EVP_PKEY *k, const char *jws)
{
    cJSON *j = cJSON_Parse(jws);
    const char *ph = cJSON_GetObjectItem(j, "protected")->valuestring, *pp = cJSON_GetObjectItem(j, "payload")->valuestring,
               *sig = cJSON_GetObjectItem(j, "signature")->valuestring;
    size_t n;
    unsigned char *rs = acme_b64_decode(sig, &n);
    char *out = NULL;
    if (rs != NULL && n == 64) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(rs, 32, NULL), BN_bin2bn(rs + 32, 32, NULL));
        unsigned char *der = NULL;
        int dl = i2d_ECDSA_SIG(es, &der);
        char input[8192];
        snprintf(input, sizeof(input), "%s.%s", ph, pp);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
            EVP_DigestVerify(ctx, der, (size_t)dl, (const unsigned char *)input, strlen(input)) == 1) {
            unsigned char *h = acme_b64_decode(ph, &n);
            out = mem_alloc(n + 1);
            memcpy(out, h, n);
            out[n] = '\0';
            free(h);
        }
        EVP_MD_CTX_free(ctx);
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
    }
    free(rs);
    cJSON_Delete(j);
    return out;
}

static void test_base64(void)
{
    static const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *url[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    static const char *std[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *a = acme_b64url((const unsigned char *)in[i], strlen(in[i])), *b = acme_b64((const unsigned char *)in[i], strlen(in[i]));
        CHECK_STR(a, url[i]);
        CHECK_STR(b, std[i]);
        size_t n;
        unsigned char *d = acme_b64_decode(b, &n);
        CHECK(d != NULL && n == strlen(in[i]) && memcmp(d, in[i], n) == 0);
        free(d);
        d = acme_b64_decode(a, &n); /* the URL alphabet without padding is read too */
        CHECK(d != NULL && n == strlen(in[i]) && memcmp(d, in[i], n) == 0);
        free(d);
        free(a);
        free(b);
    }
    unsigned char bytes[] = {0xfb, 0xff, 0xfe};
    char *a = acme_b64url(bytes, 3), *b = acme_b64(bytes, 3);
    CHECK_STR(a, "-__-");
    CHECK_STR(b, "+//+");
    free(a);
    free(b);
    size_t n;
    CHECK(acme_b64_decode("a$b", &n) == NULL);
}

static void test_jws(void)
{
    EVP_PKEY *k = acme_key_new("EC256");
    char *jwk = acme_jwk(k);
    CHECK(jwk != NULL && strncmp(jwk, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"", 31) == 0); /* RFC 7638 member order */
    char *thumb = acme_thumbprint(k);
    CHECK(thumb != NULL && strlen(thumb) == 43);
    char *jws = acme_jws(k, NULL, "nonce-1", "https://ca/new-acct", "{\"a\":1}");
    char *h = verify_jws(k, jws);
    CHECK(h != NULL && strstr(h, "\"jwk\":{\"crv\":\"P-256\"") && strstr(h, "\"nonce\":\"nonce-1\"") &&
          strstr(h, "\"url\":\"https://ca/new-acct\"") && !strstr(h, "kid"));
    free(h);
    free(jws);
    jws = acme_jws(k, "https://ca/acct/1", "n2", "https://ca/order", ""); /* POST-as-GET: empty payload */
    h = verify_jws(k, jws);
    CHECK(h != NULL && strstr(h, "\"kid\":\"https://ca/acct/1\"") && !strstr(h, "jwk"));
    CHECK(strstr(jws, "\"payload\":\"\"") != NULL);
    free(h);
    free(jws);
    /* a different key does not verify it */
    EVP_PKEY *other = acme_key_new("EC256");
    jws = acme_jws(k, "kid", "n", "u", "{}");
    CHECK(verify_jws(other, jws) == NULL);
    free(jws);
    EVP_PKEY_free(other);
    /* the account key survives acme.json's encoding */
    char *der = acme_key_der_b64(k);
    EVP_PKEY *back = acme_key_from_der_b64(der);
    char *thumb2 = back ? acme_thumbprint(back) : NULL;
    CHECK_STR(thumb2, thumb);
    free(thumb2);
    EVP_PKEY_free(back);
    free(der);
    free(thumb);
    free(jwk);
    EVP_PKEY_free(k);
}

static void test_keys_and_csr(void)
{
    CHECK(acme_key_new("EC521") == NULL && acme_key_new("RSA1024") == NULL && !acme_key_type_valid("ec256"));
    const char *types[] = {"EC256", "EC384", "RSA2048"};
    for (size_t t = 0; t < 3; t++) {
        EVP_PKEY *k = acme_key_new(types[t]);
        CHECK(k != NULL);
        char *pem = acme_key_pem(k);
        EVP_PKEY *back = acme_key_from_pem(pem);
        CHECK(back != NULL && EVP_PKEY_eq(k, back) == 1);
        EVP_PKEY_free(back);
        free(pem);
        const char *names[] = {"a.test", "b.test"};
        char *csr = acme_csr(k, names, 2, NULL);
        CHECK(csr != NULL && strchr(csr, '=') == NULL && strchr(csr, '+') == NULL);
        size_t n;
        unsigned char *der = acme_b64_decode(csr, &n);
        const unsigned char *p = der;
        X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)n);
        CHECK(req != NULL && X509_REQ_verify(req, k) == 1);
        STACK_OF(X509_EXTENSION) *exts = req ? X509_REQ_get_extensions(req) : NULL;
        GENERAL_NAMES *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
        CHECK(sans != NULL && sk_GENERAL_NAME_num(sans) == 2);
        if (sans && sk_GENERAL_NAME_num(sans) == 2) {
            int type;
            ASN1_IA5STRING *s = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(sans, 1), &type);
            CHECK(type == GEN_DNS && strcmp((const char *)ASN1_STRING_get0_data(s), "b.test") == 0);
        }
        GENERAL_NAMES_free(sans);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
        X509_REQ_free(req);
        free(der);
        free(csr);
        EVP_PKEY_free(k);
    }
}

static X509_REQ *parse_csr(const char *csr)
{
    size_t n = 0;
    unsigned char *der = csr ? acme_b64_decode(csr, &n) : NULL;
    const unsigned char *p = der;
    X509_REQ *req = der ? d2i_X509_REQ(NULL, &p, (long)n) : NULL;
    free(der);
    return req;
}

/* The subject's CN, "" when the subject has none. */
static void csr_cn(X509_REQ *req, char *cn, size_t len)
{
    cn[0] = '\0';
    X509_NAME_get_text_by_NID(X509_REQ_get_subject_name(req), NID_commonName, cn, (int)len);
}

/* disableCommonName: no CN, the names stay in the SANs; emailAddresses: email SANs after the DNS ones */
static void test_csr_options(void)
{
    EVP_PKEY *k = acme_key_new("EC256");
    const char *names[] = {"a.test", "b.test"};
    char cn[128];

    char *csr = acme_csr(k, names, 2, NULL);
    X509_REQ *req = parse_csr(csr);
    CHECK(req != NULL);
    if (req) {
        csr_cn(req, cn, sizeof(cn));
        CHECK_STR(cn, "a.test");
    }
    X509_REQ_free(req);
    free(csr);

    /* 65 characters: too long for a CN (RFC 5280), left to the SANs */
    const char *long_names[] = {"a23456789012345678901234567890123456789012345678901234567890.test"};
    csr = acme_csr(k, long_names, 1, NULL);
    req = parse_csr(csr);
    CHECK(req != NULL && X509_REQ_verify(req, k) == 1);
    if (req) {
        csr_cn(req, cn, sizeof(cn));
        CHECK_STR(cn, "");
    }
    X509_REQ_free(req);
    free(csr);
    const char *max_names[] = {"a2345678901234567890123456789012345678901234567890123456789.test"};
    csr = acme_csr(k, max_names, 1, NULL);
    req = parse_csr(csr);
    if (req) {
        csr_cn(req, cn, sizeof(cn));
        CHECK_STR(cn, max_names[0]);
    }
    X509_REQ_free(req);
    free(csr);

    const char *emails[] = {"ops@example.test", "sec@example.test"};
    struct acme_csr_options o = {.disable_common_name = true, .emails = emails, .n_emails = 2};
    csr = acme_csr(k, names, 2, &o);
    req = parse_csr(csr);
    CHECK(req != NULL && X509_REQ_verify(req, k) == 1);
    if (req) {
        csr_cn(req, cn, sizeof(cn));
        CHECK_STR(cn, "");
        CHECK(X509_NAME_entry_count(X509_REQ_get_subject_name(req)) == 0);
        STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
        GENERAL_NAMES *sans = exts ? X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL) : NULL;
        CHECK(sans != NULL && sk_GENERAL_NAME_num(sans) == 4);
        const int want_type[] = {GEN_DNS, GEN_DNS, GEN_EMAIL, GEN_EMAIL};
        const char *want[] = {"a.test", "b.test", "ops@example.test", "sec@example.test"};
        for (int i = 0; sans && i < 4 && i < sk_GENERAL_NAME_num(sans); i++) {
            int type;
            ASN1_IA5STRING *v = GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(sans, i), &type);
            CHECK(type == want_type[i]);
            CHECK_STR((const char *)ASN1_STRING_get0_data(v), want[i]);
        }
        GENERAL_NAMES_free(sans);
        sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    }
    X509_REQ_free(req);
    free(csr);
    EVP_PKEY_free(k);
}

static void test_tlsalpn_cert(void)
{
    char *cert = NULL, *key = NULL;
    CHECK(acme_tlsalpn_cert("app.test", "tok.thumb", &cert, &key) == 0);
    BIO *b = BIO_new_mem_buf(cert, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    CHECK(x != NULL);
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    int at = X509_get_ext_by_OBJ(x, oid, -1);
    CHECK(at >= 0);
    X509_EXTENSION *e = X509_get_ext(x, at);
    CHECK(X509_EXTENSION_get_critical(e) == 1);
    const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
    unsigned char want[34] = {0x04, 0x20};
    unsigned int ml;
    EVP_Digest("tok.thumb", 9, want + 2, &ml, EVP_sha256(), NULL);
    CHECK(ASN1_STRING_length(v) == 34 && memcmp(ASN1_STRING_get0_data(v), want, 34) == 0);
    CHECK(X509_check_host(x, "app.test", 0, 0, NULL) == 1);
    time_t nb, na;
    CHECK(acme_cert_validity(cert, &nb, &na) == 0 && na > nb && na > time(NULL));
    CHECK(acme_cert_validity("not a certificate", &nb, &na) == -1);
    ASN1_OBJECT_free(oid);
    X509_free(x);
    free(cert);
    free(key);
}

/* Verifies an RS256 or ES384 JWS (the signature as RFC 7518 encodes it); 1 when good. */
static int verify_other(EVP_PKEY *k, const char *jws, bool rsa)
{
    cJSON *j = cJSON_Parse(jws);
    const char *ph = cJSON_GetObjectItem(j, "protected")->valuestring, *pp = cJSON_GetObjectItem(j, "payload")->valuestring,
               *sig = cJSON_GetObjectItem(j, "signature")->valuestring;
    char input[8192];
    snprintf(input, sizeof(input), "%s.%s", ph, pp);
    size_t n;
    unsigned char *raw = acme_b64_decode(sig, &n), *der = NULL;
    int dl = (int)n, ok = 0;
    ECDSA_SIG *es = NULL;
    if (!rsa && raw && n == 96) {
        es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(raw, 48, NULL), BN_bin2bn(raw + 48, 48, NULL));
        dl = i2d_ECDSA_SIG(es, &der);
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (raw && (rsa || der) && EVP_DigestVerifyInit(ctx, NULL, rsa ? EVP_sha256() : EVP_sha384(), NULL, k) == 1 &&
        EVP_DigestVerify(ctx, rsa ? raw : der, (size_t)dl, (const unsigned char *)input, strlen(input)) == 1)
        ok = 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    free(raw);
    cJSON_Delete(j);
    return ok;
}

/* Traefik's acme.json often holds an RSA account key (lego's PKCS#1 DER): RS256; P-384: ES384. */
static void test_other_account_keys(void)
{
    EVP_PKEY *rsa = acme_key_new("RSA2048"), *p384 = acme_key_new("EC384");
    CHECK_STR(acme_jws_alg(rsa), "RS256");
    CHECK_STR(acme_jws_alg(p384), "ES384");
    char *jwk = acme_jwk(rsa);
    CHECK(jwk != NULL && strncmp(jwk, "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"", 29) == 0);
    free(jwk);
    jwk = acme_jwk(p384);
    CHECK(jwk != NULL && strncmp(jwk, "{\"crv\":\"P-384\",\"kty\":\"EC\",\"x\":\"", 31) == 0);
    free(jwk);
    char *jws = acme_jws(rsa, NULL, "n1", "https://ca/new-acct", "{}");
    CHECK(jws != NULL && verify_other(rsa, jws, true));
    free(jws);
    jws = acme_jws(p384, "https://ca/acct/1", "n1", "https://ca/order", "");
    CHECK(jws != NULL && verify_other(p384, jws, false));
    CHECK(verify_other(rsa, jws, true) == 0);
    free(jws);
    /* lego writes RSA account keys as PKCS#1 DER, base64 */
    unsigned char *der = NULL;
    int dl = i2d_PrivateKey(rsa, &der);
    char *b64 = acme_b64(der, (size_t)dl);
    EVP_PKEY *back = acme_key_from_der_b64(b64);
    CHECK(back != NULL && EVP_PKEY_eq(back, rsa) == 1);
    char *t1 = acme_thumbprint(rsa), *t2 = back ? acme_thumbprint(back) : NULL;
    CHECK(t1 && t2 && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    EVP_PKEY_free(back);
    free(b64);
    OPENSSL_free(der);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
}

int main(void)
{
    test_base64();
    test_jws();
    test_other_account_keys();
    test_keys_and_csr();
    test_csr_options();
    test_tlsalpn_cert();
    return test_report("controller/acme_crypto");
}
