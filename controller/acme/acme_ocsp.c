/* OCSP for ACME certificates (see acme_ocsp.h). */
#include "acme_ocsp.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ocsp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../../common/arena.h"

/* The chain's certificates in order (leaf first); NULL when it has fewer than two. */
static STACK_OF(X509) *read_chain(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    STACK_OF(X509) *sk = sk_X509_new_null();
    X509 *x;
    while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        sk_X509_push(sk, x);
    ERR_clear_error(); /* the end of the input reads as an error */
    BIO_free(b);
    if (sk_X509_num(sk) < 2) {
        sk_X509_pop_free(sk, X509_free);
        return NULL;
    }
    return sk;
}

static OCSP_CERTID *cert_id(STACK_OF(X509) *chain)
{
    return OCSP_cert_to_id(EVP_sha1(), sk_X509_value(chain, 0), sk_X509_value(chain, 1));
}

int acme_ocsp_request(const char *chain_pem, char **url, unsigned char **der, size_t *len)
{
    STACK_OF(X509) *chain = read_chain(chain_pem);
    if (chain == NULL)
        return -1;
    STACK_OF(OPENSSL_STRING) *urls = X509_get1_ocsp(sk_X509_value(chain, 0));
    int rc = -1;
    if (sk_OPENSSL_STRING_num(urls) > 0) {
        OCSP_REQUEST *req = OCSP_REQUEST_new();
        OCSP_CERTID *id = cert_id(chain);
        if (req && id && OCSP_request_add0_id(req, id) != NULL) {
            id = NULL; /* owned by the request */
            unsigned char *p = NULL;
            int n = i2d_OCSP_REQUEST(req, &p);
            if (n > 0) {
                *der = mem_alloc((size_t)n);
                memcpy(*der, p, (size_t)n);
                *len = (size_t)n;
                *url = mem_strdup(sk_OPENSSL_STRING_value(urls, 0));
                rc = 0;
            }
            OPENSSL_free(p);
        }
        OCSP_CERTID_free(id);
        OCSP_REQUEST_free(req);
    }
    X509_email_free(urls);
    sk_X509_pop_free(chain, X509_free);
    return rc;
}

enum acme_ocsp_status acme_ocsp_status(const char *chain_pem, const unsigned char *resp, size_t len)
{
    STACK_OF(X509) *chain = read_chain(chain_pem);
    if (chain == NULL)
        return ACME_OCSP_ERROR;
    const unsigned char *p = resp;
    OCSP_RESPONSE *r = d2i_OCSP_RESPONSE(NULL, &p, (long)len);
    OCSP_BASICRESP *bs = r && OCSP_response_status(r) == OCSP_RESPONSE_STATUS_SUCCESSFUL ? OCSP_response_get1_basic(r) : NULL;
    enum acme_ocsp_status out = ACME_OCSP_ERROR;
    X509_STORE *store = X509_STORE_new();
    STACK_OF(X509) *issuer = sk_X509_new_null();
    sk_X509_push(issuer, sk_X509_value(chain, 1));
    X509_STORE_add_cert(store, sk_X509_value(chain, 1));
    /* signed by the issuer itself, or by a responder certificate the issuer signed */
    OCSP_CERTID *id = cert_id(chain);
    int status = -1, reason = 0;
    ASN1_GENERALIZEDTIME *this_upd = NULL, *next_upd = NULL;
    if (bs && id && OCSP_basic_verify(bs, issuer, store, OCSP_TRUSTOTHER | OCSP_PARTIAL_CHAIN) == 1 &&
        OCSP_resp_find_status(bs, id, &status, &reason, NULL, &this_upd, &next_upd) == 1 &&
        OCSP_check_validity(this_upd, next_upd, 300, -1) == 1) {
        out = status == V_OCSP_CERTSTATUS_GOOD      ? ACME_OCSP_GOOD
              : status == V_OCSP_CERTSTATUS_REVOKED ? ACME_OCSP_REVOKED
                                                    : ACME_OCSP_UNKNOWN;
    }
    ERR_clear_error();
    OCSP_CERTID_free(id);
    sk_X509_free(issuer);
    X509_STORE_free(store);
    OCSP_BASICRESP_free(bs);
    OCSP_RESPONSE_free(r);
    sk_X509_pop_free(chain, X509_free);
    return out;
}
