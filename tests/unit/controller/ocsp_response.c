/* Tests controller/ocsp_response.c with a CA, leaves and responses made
 * here with OpenSSL: the responder URL, the issuer lookup, the request, the
 * checks (good, revoked, delegated responder with and without OCSPSigning,
 * a stranger's signature, another certificate, expired, not yet valid, a
 * non-successful status, garbage) and the refresh schedule. */
#include "../../../controller/ocsp_response.h"

#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdlib.h>

#include "test.h"

static EVP_PKEY *new_key(void)
{
    return EVP_EC_gen("P-256");
}

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(x, e, -1);
    X509_EXTENSION_free(e);
}

/* <issuer> NULL: self-signed with <key>. */
static X509 *new_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long serial)
{
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
    return x;
}

static void sign(X509 *x, EVP_PKEY *k)
{
    X509_sign(x, k, EVP_sha256());
}

static EVP_PKEY *ca_key, *other_key, *leaf_key, *resp_key;
static X509 *ca, *other_ca, *leaf, *leaf2, *bare, *responder, *responder_no_eku;

static void make_pki(void)
{
    ca_key = new_key(), other_key = new_key(), leaf_key = new_key(), resp_key = new_key();
    ca = new_cert("test CA", ca_key, NULL, NULL, 1);
    add_ext(ca, NULL, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca, NULL, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature");
    add_ext(ca, NULL, NID_subject_key_identifier, "hash");
    sign(ca, ca_key);
    other_ca = new_cert("other CA", other_key, NULL, NULL, 2);
    add_ext(other_ca, NULL, NID_basic_constraints, "critical,CA:TRUE");
    sign(other_ca, other_key);
    leaf = new_cert("a.test", leaf_key, ca, ca_key, 100);
    add_ext(leaf, ca, NID_info_access, "OCSP;URI:http://127.0.0.1:9/ocsp,caIssuers;URI:http://127.0.0.1:9/ca.crt");
    add_ext(leaf, ca, NID_subject_alt_name, "DNS:a.test");
    sign(leaf, ca_key);
    leaf2 = new_cert("b.test", leaf_key, ca, ca_key, 101);
    sign(leaf2, ca_key);
    bare = new_cert("c.test", leaf_key, ca, ca_key, 102);
    add_ext(bare, ca, NID_info_access, "caIssuers;URI:http://127.0.0.1:9/ca.crt");
    sign(bare, ca_key);
    responder = new_cert("ocsp responder", resp_key, ca, ca_key, 200);
    add_ext(responder, ca, NID_ext_key_usage, "OCSPSigning");
    sign(responder, ca_key);
    responder_no_eku = new_cert("not a responder", resp_key, ca, ca_key, 201);
    sign(responder_no_eku, ca_key);
}

/* A DER response about <about> (issued by ca) signed by <signer>. */
static unsigned char *response(X509 *about, X509 *signer, EVP_PKEY *key, int status, long this_off, long next_off,
                               bool with_next, size_t *len)
{
    OCSP_BASICRESP *bs = OCSP_BASICRESP_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), about, ca);
    ASN1_TIME *thisu = X509_gmtime_adj(NULL, this_off), *nextu = with_next ? X509_gmtime_adj(NULL, next_off) : NULL;
    ASN1_TIME *rev = status == V_OCSP_CERTSTATUS_REVOKED ? X509_gmtime_adj(NULL, -7200) : NULL;
    OCSP_basic_add1_status(bs, id, status, status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_REVOKED_STATUS_KEYCOMPROMISE : 0,
                           rev, thisu, nextu);
    STACK_OF(X509) *extra = sk_X509_new_null();
    if (signer != ca)
        sk_X509_push(extra, signer);
    OCSP_basic_sign(bs, signer, key, EVP_sha256(), extra, 0);
    OCSP_RESPONSE *r = OCSP_response_create(OCSP_RESPONSE_STATUS_SUCCESSFUL, bs);
    unsigned char *der = NULL;
    int n = i2d_OCSP_RESPONSE(r, &der);
    *len = (size_t)n;
    OCSP_RESPONSE_free(r);
    OCSP_BASICRESP_free(bs);
    OCSP_CERTID_free(id);
    sk_X509_free(extra);
    ASN1_TIME_free(thisu);
    ASN1_TIME_free(nextu);
    ASN1_TIME_free(rev);
    return der;
}

static int check(unsigned char *der, size_t len, struct ocsp_result *r, struct diag *d)
{
    int rc = ocsp_response_check(der, len, leaf, ca, time(NULL), r, d);
    OPENSSL_free(der);
    return rc;
}

static void test_url_issuer_request(void)
{
    char *u = ocsp_responder_url(leaf);
    CHECK_STR(u, "http://127.0.0.1:9/ocsp");
    free(u);
    CHECK(ocsp_responder_url(bare) == NULL);
    CHECK(ocsp_responder_url(ca) == NULL);
    STACK_OF(X509) *chain = sk_X509_new_null();
    CHECK(ocsp_find_issuer(leaf, chain) == NULL);
    sk_X509_push(chain, other_ca);
    CHECK(ocsp_find_issuer(leaf, chain) == NULL);
    sk_X509_push(chain, ca);
    CHECK(ocsp_find_issuer(leaf, chain) == ca);
    CHECK(ocsp_find_issuer(leaf, NULL) == NULL);
    sk_X509_free(chain);
    unsigned char *der = NULL;
    size_t len = 0;
    struct diag d;
    CHECK(ocsp_request_der(leaf, ca, &der, &len, &d) == 0);
    const unsigned char *p = der;
    OCSP_REQUEST *req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
    CHECK(req != NULL && OCSP_request_onereq_count(req) == 1);
    OCSP_CERTID *want = OCSP_cert_to_id(EVP_sha1(), leaf, ca);
    CHECK(req != NULL && OCSP_id_cmp(OCSP_onereq_get0_id(OCSP_request_onereq_get0(req, 0)), want) == 0);
    OCSP_CERTID_free(want);
    OCSP_REQUEST_free(req);
    free(der);
}

static void test_verdicts(void)
{
    struct ocsp_result r;
    struct diag d;
    size_t len;
    time_t now = time(NULL);
    unsigned char *der;

    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) == 0);
    CHECK(r.status == OCSP_CERT_GOOD);
    CHECK(r.this_update >= now - 62 && r.this_update <= now - 58);
    CHECK(r.next_update >= now + 3598 && r.next_update <= now + 3602);

    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_REVOKED, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) == 0);
    CHECK(r.status == OCSP_CERT_REVOKED && r.reason == OCSP_REVOKED_STATUS_KEYCOMPROMISE);
    CHECK(r.revoked_at >= now - 7202 && r.revoked_at <= now - 7198);

    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_UNKNOWN, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) == 0 && r.status == OCSP_CERT_UNKNOWN);

    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, -60, 0, false, &len);
    CHECK(check(der, len, &r, &d) == 0 && r.next_update == 0);

    /* a responder the CA delegated (OCSPSigning) */
    der = response(leaf, responder, resp_key, V_OCSP_CERTSTATUS_GOOD, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) == 0);
    /* a certificate of the CA without OCSPSigning may not answer for it */
    der = response(leaf, responder_no_eku, resp_key, V_OCSP_CERTSTATUS_GOOD, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "does not verify against the issuer");
    /* another CA's signature */
    der = response(leaf, other_ca, other_key, V_OCSP_CERTSTATUS_GOOD, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "does not verify against the issuer");
    /* about another certificate */
    der = response(leaf2, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, -60, 3600, true, &len);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "not about this certificate");
    /* expired, and not valid yet (beyond the skew) */
    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, -7200, -10, true, &len);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "expired");
    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, 3600, 7200, true, &len);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "in the future");
    der = response(leaf, ca, ca_key, V_OCSP_CERTSTATUS_GOOD, 60, 7200, true, &len); /* within the skew */
    CHECK(check(der, len, &r, &d) == 0);

    /* an error status from the responder */
    OCSP_RESPONSE *later = OCSP_response_create(OCSP_RESPONSE_STATUS_TRYLATER, NULL);
    der = NULL;
    len = (size_t)i2d_OCSP_RESPONSE(later, &der);
    OCSP_RESPONSE_free(later);
    CHECK(check(der, len, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "trylater");
    /* garbage, and nothing */
    CHECK(ocsp_response_check((const unsigned char *)"<html>", 6, leaf, ca, now, &r, &d) != 0);
    CHECK_CONTAINS(d.msg, "not an OCSP response");
    CHECK(ocsp_response_check((const unsigned char *)"", 0, leaf, ca, now, &r, &d) != 0);
}

static void test_schedule(void)
{
    time_t now = 1700000000;
    struct ocsp_result r = {.status = OCSP_CERT_GOOD, .this_update = now - 10, .next_update = now + 50};
    CHECK(ocsp_refresh_delay(now, &r) == 20); /* half way: now + 20 */
    r = (struct ocsp_result){.this_update = now - 3 * 86400, .next_update = now + 4 * 86400}; /* Let's Encrypt's 7 days */
    CHECK(ocsp_refresh_delay(now, &r) == 86400 / 2);
    r = (struct ocsp_result){.this_update = now - 100, .next_update = now + 10}; /* past half way already */
    CHECK(ocsp_refresh_delay(now, &r) == OCSP_MIN_REFRESH_S);
    r = (struct ocsp_result){.this_update = now - 100, .next_update = 0};
    CHECK(ocsp_refresh_delay(now, &r) == 3600);
    CHECK(ocsp_retry_delay(1) == 10);
    CHECK(ocsp_retry_delay(2) == 20);
    CHECK(ocsp_retry_delay(5) == 160);
    CHECK(ocsp_retry_delay(9) == 2560);
    CHECK(ocsp_retry_delay(10) == OCSP_MAX_RETRY_S);
    CHECK(ocsp_retry_delay(1000) == OCSP_MAX_RETRY_S);
}

int main(void)
{
    make_pki();
    test_url_issuer_request();
    test_verdicts();
    test_schedule();
    X509 *xs[] = {ca, other_ca, leaf, leaf2, bare, responder, responder_no_eku};
    for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
        X509_free(xs[i]);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(leaf_key);
    EVP_PKEY_free(resp_key);
    return test_report("controller/ocsp_response");
}
