/*
 * OCSP requests, response checks and the refresh schedule (see
 * ocsp_response.h). All verification is OpenSSL's; this file only decides
 * what must hold and says which check failed.
 */
#include "ocsp_response.h"

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"

static const char *ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "unknown error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

char *ocsp_responder_url(X509 *leaf)
{
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(leaf);
    char *url = NULL;
    for (int i = 0; urls != NULL && i < sk_OPENSSL_STRING_num(urls) && url == NULL; i++) {
        const char *u = sk_OPENSSL_STRING_value(urls, i);
        if (u != NULL && *u)
            url = mem_strdup(u);
    }
    X509_email_free(urls); /* the string-stack free OpenSSL documents for X509_get1_ocsp */
    return url;
}

X509 *ocsp_find_issuer(X509 *leaf, STACK_OF(X509) *chain)
{
    for (int i = 0; chain != NULL && i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        if (X509_check_issued(c, leaf) == X509_V_OK)
            return c;
    }
    return NULL;
}

int ocsp_request_der(X509 *leaf, X509 *issuer, unsigned char **der, size_t *len, struct diag *d)
{
    char err[256];
    OCSP_REQUEST *req = OCSP_REQUEST_new();
    OCSP_CERTID *id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    if (req == NULL || id == NULL || OCSP_request_add0_id(req, id) == NULL) {
        OCSP_CERTID_free(id);
        OCSP_REQUEST_free(req);
        return diag_set(d, "cannot build the OCSP request: %s", ssl_error(err, sizeof(err)));
    }
    unsigned char *p = NULL;
    int n = i2d_OCSP_REQUEST(req, &p);
    OCSP_REQUEST_free(req); /* frees id */
    if (n <= 0)
        return diag_set(d, "cannot encode the OCSP request: %s", ssl_error(err, sizeof(err)));
    *der = mem_alloc((size_t)n);
    memcpy(*der, p, (size_t)n);
    *len = (size_t)n;
    OPENSSL_free(p);
    return 0;
}

static time_t to_time(const ASN1_GENERALIZEDTIME *t)
{
    struct tm tm;
    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return 0;
    return timegm(&tm);
}

int ocsp_response_check(const unsigned char *der, size_t len, X509 *leaf, X509 *issuer, time_t now,
                        struct ocsp_result *out, struct diag *d)
{
    char err[256];
    int rc = -1;
    const unsigned char *p = der;
    OCSP_RESPONSE *resp = len > 0 && len < 1 << 20 ? d2i_OCSP_RESPONSE(NULL, &p, (long)len) : NULL;
    OCSP_BASICRESP *bs = NULL;
    OCSP_CERTID *id = NULL;
    X509_STORE *store = NULL;
    STACK_OF(X509) *certs = NULL;
    if (resp == NULL) {
        ERR_clear_error();
        diag_set(d, "not an OCSP response (%zu bytes)", len);
        goto out;
    }
    int st = OCSP_response_status(resp);
    if (st != OCSP_RESPONSE_STATUS_SUCCESSFUL) {
        diag_set(d, "the responder answered '%s'", OCSP_response_status_str(st));
        goto out;
    }
    if ((bs = OCSP_response_get1_basic(resp)) == NULL) {
        diag_set(d, "not a basic OCSP response: %s", ssl_error(err, sizeof(err)));
        goto out;
    }
    /* The issuer is the only trust anchor: the response must be signed by
     * it or by a responder certificate it issued for OCSP signing (OpenSSL
     * checks both, and the EKU). PARTIAL_CHAIN: the issuer is often an
     * intermediate, trusted here without its root. */
    store = X509_STORE_new();
    certs = sk_X509_new_null();
    if (store == NULL || certs == NULL || X509_STORE_add_cert(store, issuer) != 1 || !sk_X509_push(certs, issuer)) {
        diag_set(d, "out of memory");
        goto out;
    }
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    if (OCSP_basic_verify(bs, certs, store, 0) <= 0) {
        diag_set(d, "the response's signature does not verify against the issuer: %s", ssl_error(err, sizeof(err)));
        goto out;
    }
    id = OCSP_cert_to_id(EVP_sha1(), leaf, issuer);
    int status = -1, reason = -1;
    ASN1_GENERALIZEDTIME *rev = NULL, *thisu = NULL, *nextu = NULL;
    if (id == NULL || OCSP_resp_find_status(bs, id, &status, &reason, &rev, &thisu, &nextu) != 1) {
        ERR_clear_error();
        diag_set(d, "the response is not about this certificate");
        goto out;
    }
    *out = (struct ocsp_result){.status = status == V_OCSP_CERTSTATUS_GOOD      ? OCSP_CERT_GOOD
                                          : status == V_OCSP_CERTSTATUS_REVOKED ? OCSP_CERT_REVOKED
                                                                                : OCSP_CERT_UNKNOWN,
                                .reason = reason,
                                .this_update = to_time(thisu),
                                .next_update = nextu ? to_time(nextu) : 0,
                                .revoked_at = to_time(rev)};
    if (out->this_update == 0 || (nextu != NULL && out->next_update == 0)) {
        diag_set(d, "the response's thisUpdate/nextUpdate cannot be read");
        goto out;
    }
    if (out->this_update > now + OCSP_CLOCK_SKEW_S) {
        diag_set(d, "the response's thisUpdate is %lld s in the future", (long long)(out->this_update - now));
        goto out;
    }
    if (out->next_update != 0 && out->next_update <= now) {
        diag_set(d, "the response expired %lld s ago (nextUpdate)", (long long)(now - out->next_update));
        goto out;
    }
    if (out->next_update != 0 && out->next_update < out->this_update) {
        diag_set(d, "the response's nextUpdate is before its thisUpdate");
        goto out;
    }
    rc = 0;
out:
    OCSP_CERTID_free(id);
    sk_X509_free(certs);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(resp);
    return rc;
}

time_t ocsp_refresh_delay(time_t now, const struct ocsp_result *r)
{
    if (r->next_update == 0)
        return 3600;
    time_t half = r->this_update + (r->next_update - r->this_update) / 2;
    time_t delay = half - now;
    return delay < OCSP_MIN_REFRESH_S ? OCSP_MIN_REFRESH_S : delay;
}

time_t ocsp_retry_delay(unsigned failures)
{
    time_t delay = 10;
    for (unsigned i = 1; i < failures && delay < OCSP_MAX_RETRY_S; i++)
        delay *= 2;
    return delay > OCSP_MAX_RETRY_S ? OCSP_MAX_RETRY_S : delay;
}

const char *ocsp_status_name(enum ocsp_cert_status s)
{
    return s == OCSP_CERT_GOOD ? "good" : s == OCSP_CERT_REVOKED ? "revoked" : "unknown";
}
