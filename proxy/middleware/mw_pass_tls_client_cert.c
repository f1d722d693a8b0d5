/*
 * PassTLSClientCert (Traefik): the client certificates of a mutual-TLS
 * connection (the leaf, then the chain the client sent) passed to the
 * service: <pem> as X-Forwarded-Tls-Client-Cert (each certificate's PEM
 * without its BEGIN/END lines and newlines, joined by ","), <info> as
 * X-Forwarded-Tls-Client-Cert-Info (per certificate Subject="C=..,CN=..";
 * Issuer="..";SerialNumber="..";NB="unix";NA="unix";SAN="a,b", the chosen
 * fields only, certificates joined by ",", the whole query-escaped) — the
 * field order, names and escaping are Traefik's. Without a client
 * certificate nothing is added; the client's own X-Forwarded-* were
 * already removed at the entry point.
 */
#include "middleware.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "../tls.h"
#include "pool_buf.h"

struct dn_fields {
    bool on; /* the subject/issuer section is present */
    bool country, province, locality, organization, organizational_unit, serial_number, common_name, domain_component;
};

struct pass_cert {
    bool pem;
    bool info, not_after, not_before, sans, serial_number;
    struct dn_fields subject, issuer;
};

static int dn_options(struct mw_options *o, const char *prefix, struct dn_fields *f, bool with_ou, struct diag *d)
{
    char key[96];
    f->on = mw_opt_has(o, prefix);
    struct {
        const char *name;
        bool *out;
    } keys[] = {{"country", &f->country},           {"province", &f->province},       {"locality", &f->locality},
                {"organization", &f->organization}, {"serialNumber", &f->serial_number}, {"commonName", &f->common_name},
                {"domainComponent", &f->domain_component}, {"organizationalUnit", &f->organizational_unit}};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!with_ou && keys[i].out == &f->organizational_unit)
            continue; /* Traefik's issuer has no organizationalUnit */
        snprintf(key, sizeof(key), "%s.%s", prefix, keys[i].name);
        if (mw_opt_bool(o, key, false, keys[i].out, d) != 0)
            return -1;
    }
    snprintf(key, sizeof(key), "%s", prefix); /* "subject: {}" arrives as an empty key */
    (void)mw_opt_string(o, key);
    return 0;
}

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct pass_cert *c = arena_alloc(a, sizeof(*c));
    c->info = mw_opt_has(o, "info");
    (void)mw_opt_string(o, "info");
    if (mw_opt_bool(o, "pem", false, &c->pem, d) != 0 || mw_opt_bool(o, "info.notAfter", false, &c->not_after, d) != 0 ||
        mw_opt_bool(o, "info.notBefore", false, &c->not_before, d) != 0 || mw_opt_bool(o, "info.sans", false, &c->sans, d) != 0 ||
        mw_opt_bool(o, "info.serialNumber", false, &c->serial_number, d) != 0 ||
        dn_options(o, "info.subject", &c->subject, true, d) != 0 || dn_options(o, "info.issuer", &c->issuer, false, d) != 0)
        return -1;
    *cfg = c;
    return 0;
}

/* ---- formatting ---- */

/* Every entry of <nid> in <name> as "<tag>=value," (Go's writeParts). */
static void dn_part(struct pool_buf *o, X509_NAME *name, int nid, const char *tag)
{
    for (int i = -1; (i = X509_NAME_get_index_by_NID(name, nid, i)) >= 0;) {
        ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
        unsigned char *utf8 = NULL;
        int n = ASN1_STRING_to_UTF8(&utf8, v);
        if (n > 0) {
            pool_buf_puts(o, tag);
            pool_buf_put(o, "=", 1);
            pool_buf_put(o, (const char *)utf8, (size_t)n);
            pool_buf_put(o, ",", 1);
        }
        OPENSSL_free(utf8);
    }
}

static void dn_info(struct pool_buf *o, const struct dn_fields *f, X509_NAME *name, const char *label)
{
    struct pool_buf part = {.pool = o->pool};
    if (f->domain_component)
        dn_part(&part, name, NID_domainComponent, "DC");
    if (f->country)
        dn_part(&part, name, NID_countryName, "C");
    if (f->province)
        dn_part(&part, name, NID_stateOrProvinceName, "ST");
    if (f->locality)
        dn_part(&part, name, NID_localityName, "L");
    if (f->organization)
        dn_part(&part, name, NID_organizationName, "O");
    if (f->organizational_unit)
        dn_part(&part, name, NID_organizationalUnitName, "OU");
    if (f->serial_number)
        dn_part(&part, name, NID_serialNumber, "SN");
    if (f->common_name)
        dn_part(&part, name, NID_commonName, "CN");
    if (part.len == 0)
        return;
    if (o->len && o->p[o->len - 1] != ',')
        pool_buf_put(o, ";", 1);
    pool_buf_puts(o, label);
    pool_buf_put(o, "=\"", 2);
    pool_buf_put(o, part.p, part.len - 1); /* without the last "," */
    pool_buf_put(o, "\"", 1);
}

static void field(struct pool_buf *o, const char *name, const char *value)
{
    if (o->len && o->p[o->len - 1] != ',')
        pool_buf_put(o, ";", 1);
    pool_buf_puts(o, name);
    pool_buf_put(o, "=\"", 2);
    pool_buf_puts(o, value);
    pool_buf_put(o, "\"", 1);
}

static long long unix_time(const ASN1_TIME *t)
{
    struct tm tm;
    return ASN1_TIME_to_tm(t, &tm) == 1 ? (long long)timegm(&tm) : 0;
}

static void cert_info(struct pool_buf *o, const struct pass_cert *c, X509 *x)
{
    dn_info(o, &c->subject, X509_get_subject_name(x), "Subject");
    dn_info(o, &c->issuer, X509_get_issuer_name(x), "Issuer");
    char num[64];
    if (c->serial_number) {
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        char *dec = bn ? BN_bn2dec(bn) : NULL;
        if (dec && *dec)
            field(o, "SerialNumber", dec);
        OPENSSL_free(dec);
        BN_free(bn);
    }
    if (c->not_before) {
        snprintf(num, sizeof(num), "%lld", unix_time(X509_get0_notBefore(x)));
        field(o, "NB", num);
    }
    if (c->not_after) {
        snprintf(num, sizeof(num), "%lld", unix_time(X509_get0_notAfter(x)));
        field(o, "NA", num);
    }
    if (c->sans) { /* Go's order: DNS names, emails, IP addresses, URIs */
        GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        struct pool_buf sans = {.pool = o->pool};
        static const int order[] = {GEN_DNS, GEN_EMAIL, GEN_IPADD, GEN_URI};
        for (size_t k = 0; k < 4; k++)
            for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
                GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
                if (g->type != order[k])
                    continue;
                if (sans.len)
                    pool_buf_put(&sans, ",", 1);
                if (g->type == GEN_IPADD) {
                    char ip[64];
                    const unsigned char *b = ASN1_STRING_get0_data(g->d.iPAddress);
                    int n = ASN1_STRING_length(g->d.iPAddress);
                    if (n == 4 || n == 16) {
                        inet_ntop(n == 4 ? AF_INET : AF_INET6, b, ip, sizeof(ip));
                        pool_buf_puts(&sans, ip);
                    }
                } else {
                    pool_buf_put(&sans, (const char *)ASN1_STRING_get0_data(g->d.ia5), (size_t)ASN1_STRING_length(g->d.ia5));
                }
            }
        GENERAL_NAMES_free(gens);
        if (sans.len)
            field(o, "SAN", sans.p);
    }
}

/* Go's url.QueryEscape */
static h2o_iovec_t query_escape(h2o_mem_pool_t *pool, const char *s, size_t len)
{
    char *out = h2o_mem_alloc_pool(pool, len * 3 + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
            out[n++] = (char)ch;
        else if (ch == ' ')
            out[n++] = '+';
        else
            n += (size_t)sprintf(out + n, "%%%02X", ch);
    }
    return h2o_iovec_init(out, n);
}

/* The PEM of <x> without BEGIN/END lines and newlines. */
static void cert_pem(struct pool_buf *o, X509 *x)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL || PEM_write_bio_X509(b, x) != 1) {
        BIO_free(b);
        return;
    }
    char *data;
    long n = BIO_get_mem_data(b, &data);
    for (long i = 0; i < n;) {
        char *eol = memchr(data + i, '\n', (size_t)(n - i));
        size_t l = eol ? (size_t)(eol - (data + i)) : (size_t)(n - i);
        if (!(l >= 5 && memcmp(data + i, "-----", 5) == 0))
            pool_buf_put(o, data + i, l);
        i += (long)l + 1;
    }
    BIO_free(b);
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct pass_cert *c = cfg;
    h2o_req_t *req = run->req;
    SSL *ssl = run->client.tls && req->conn->callbacks->get_socket ? tls_socket_ssl(req->conn->callbacks->get_socket(req->conn))
                                                                  : NULL;
    X509 *leaf = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    if (leaf == NULL)
        return MW_NEXT; /* not a mutual-TLS connection */
    STACK_OF(X509) *chain = SSL_get_peer_cert_chain(ssl); /* the server side's chain excludes the leaf */
    int n = chain ? sk_X509_num(chain) : 0;
    if (c->pem) {
        struct pool_buf o = {.pool = &req->pool};
        cert_pem(&o, leaf);
        for (int i = 0; i < n; i++)
            if (X509_cmp(sk_X509_value(chain, i), leaf) != 0) {
                pool_buf_put(&o, ",", 1);
                cert_pem(&o, sk_X509_value(chain, i));
            }
        mw_header_set(req, &req->headers, H2O_STRLIT("X-Forwarded-Tls-Client-Cert"), o.p ? o.p : "", o.len);
    }
    if (c->info) {
        struct pool_buf o = {.pool = &req->pool};
        cert_info(&o, c, leaf);
        for (int i = 0; i < n; i++)
            if (X509_cmp(sk_X509_value(chain, i), leaf) != 0) {
                pool_buf_put(&o, ",", 1);
                cert_info(&o, c, sk_X509_value(chain, i));
            }
        h2o_iovec_t v = query_escape(&req->pool, o.p ? o.p : "", o.len);
        mw_header_set(req, &req->headers, H2O_STRLIT("X-Forwarded-Tls-Client-Cert-Info"), v.base, v.len);
    }
    return MW_NEXT;
}

const struct mw_type mw_pass_tls_client_cert = {"passTLSClientCert", build, on_request, NULL};
