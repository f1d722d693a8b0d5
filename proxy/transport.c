/* serversTransports (see transport.h). */
#include "transport.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "tls.h"

static struct transport *all; /* watcher thread only */

/* What the verify callback checks on a transport's contexts besides the
 * chain, kept as the context's ex_data (freed with it: a context may
 * outlive its transport in a connection still handshaking). */
struct peer_check {
    bool check_name; /* false with insecureSkipVerify: the chain and the SANs only, as Traefik */
    /* peerCertSANs and peerCertURI: "URI:<uri>\0DNSName:<name>\0...\0",
     * one of them must be in the certificate */
    char sans[];
};

static _Atomic int peer_check_index = -1;
static pthread_once_t peer_check_once = PTHREAD_ONCE_INIT;

static void peer_check_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    (void)parent, (void)ad, (void)idx, (void)argl, (void)argp;
    free(ptr);
}

static void peer_check_index_init(void)
{
    atomic_store(&peer_check_index, SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, peer_check_free));
}

static const struct peer_check *peer_check_of(const SSL_CTX *ctx)
{
    int idx = atomic_load(&peer_check_index);
    return idx >= 0 && ctx != NULL ? SSL_CTX_get_ex_data(ctx, idx) : NULL;
}

/* A URI SAN of <cert> equal to <uri> without case (Go's strings.EqualFold
 * on each of the certificate's URIs, as Traefik v3.7 compares them). */
static bool has_uri_san(X509 *cert, const char *uri)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    size_t len = strlen(uri);
    bool found = false;
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !found; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type != GEN_URI)
            continue;
        const ASN1_IA5STRING *s = g->d.uniformResourceIdentifier;
        found = (size_t)ASN1_STRING_length(s) == len && strncasecmp((const char *)ASN1_STRING_get0_data(s), uri, len) == 0;
    }
    GENERAL_NAMES_free(names);
    return found;
}

static void digest_add(char **buf, size_t *len, const char *tag, const char *v)
{
    size_t add = strlen(tag) + (v ? strlen(v) : 4) + 2;
    *buf = mem_realloc(*buf, *len + add + 1);
    *len += (size_t)snprintf(*buf + *len, add + 1, "%s=%s;", tag, v ? v : "null");
}

/* A file's path and identity (through symlinks), so that a transport
 * whose CA or client certificate files changed is built again. */
static void digest_file(char **buf, size_t *len, const char *tag, const char *v)
{
    struct stat st;
    char id[96] = "";
    if (v != NULL && strstr(v, "-----BEGIN") == NULL && stat(v, &st) == 0)
        snprintf(id, sizeof(id), "%llu/%lld.%09ld/%lld", (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
                 st.st_mtim.tv_nsec, (long long)st.st_size);
    digest_add(buf, len, tag, v);
    digest_add(buf, len, "id", id);
}

/* One of the "URI:..."/"DNSName:..." entries of <sans> is in <cert>: a URI
 * SAN equal without case, or a name that matches as Go's VerifyHostname
 * (wildcards; an IP address against IP SANs). */
static bool has_one_san(X509 *cert, const char *sans)
{
    for (const char *e = sans; *e; e += strlen(e) + 1) {
        if (strncmp(e, "URI:", 4) == 0 && has_uri_san(cert, e + 4))
            return true;
        if (strncmp(e, "DNSName:", 8) == 0) {
            const char *name = e + 8;
            unsigned char ip[16];
            bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
            if ((is_ip ? X509_check_ip_asc(cert, name, 0) : X509_check_host(cert, name, 0, 0, NULL)) == 1)
                return true;
        }
    }
    return false;
}

static char *digest(const struct transport_spec *s)
{
    char *buf = mem_strdup(""), num[96];
    size_t len = 0;
    digest_add(&buf, &len, "sn", s->server_name);
    digest_add(&buf, &len, "insecure", s->insecure_skip_verify ? "1" : "0");
    for (size_t i = 0; i < s->n_root_cas; i++)
        digest_file(&buf, &len, "ca", s->root_cas[i]);
    for (size_t i = 0; i < s->n_certs; i++) {
        digest_file(&buf, &len, "cert", s->cert_files[i]);
        digest_file(&buf, &len, "key", s->key_files[i]);
    }
    snprintf(num, sizeof(num), "%llu/%llu/%llu/%llu/%u/%d/%llu/%llu", (unsigned long long)s->dial_ms,
             (unsigned long long)s->response_header_ms, (unsigned long long)s->idle_conn_ms, (unsigned long long)s->read_ms,
             s->max_idle_conns_per_host, s->disable_http2, (unsigned long long)s->read_idle_ms, (unsigned long long)s->ping_ms);
    digest_add(&buf, &len, "t", num);
    digest_add(&buf, &len, "uri", s->peer_cert_uri);
    snprintf(num, sizeof(num), "%d/%d/%d", s->verify_depth, s->min_version, s->max_version);
    digest_add(&buf, &len, "tls", num);
    digest_add(&buf, &len, "ciphers", s->ciphers);
    for (size_t i = 0; i < s->n_peer_cert_sans; i++)
        digest_add(&buf, &len, "san", s->peer_cert_sans[i]);
    return buf;
}

static const char *ssl_error(void)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    ERR_error_string_n(e, buf, sizeof(buf));
    return e ? buf : "unknown error";
}

/* A PEM file or inline PEM text, as a memory BIO. */
static BIO *pem_bio(const char *v)
{
    return strstr(v, "-----BEGIN") ? BIO_new_mem_buf(v, -1) : BIO_new_file(v, "r");
}

static int load_cas(SSL_CTX *ctx, const struct transport_spec *s, struct diag *d)
{
    X509_STORE *store = SSL_CTX_get_cert_store(ctx);
    for (size_t i = 0; i < s->n_root_cas; i++) {
        BIO *b = pem_bio(s->root_cas[i]);
        if (b == NULL)
            return diag_set(d, "rootCAs: cannot read '%s'", s->root_cas[i]);
        size_t n = 0;
        for (X509 *x; (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL; n++) {
            X509_STORE_add_cert(store, x);
            X509_free(x);
        }
        ERR_clear_error();
        BIO_free(b);
        if (n == 0)
            return diag_set(d, "rootCAs: no certificate in '%.80s'", s->root_cas[i]);
    }
    return 0;
}

static int load_client_cert(SSL_CTX *ctx, const char *cert, const char *key, struct diag *d)
{
    BIO *cb = pem_bio(cert), *kb = pem_bio(key);
    X509 *x = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
    EVP_PKEY *k = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
    int rc = 0;
    if (x == NULL || k == NULL || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, k) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        rc = diag_set(d, "certificates: cannot use '%.80s' / '%.80s': %s", cert, key, ssl_error());
    } else {
        for (X509 *extra; cb && (extra = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL;) { /* the chain after the leaf */
            SSL_CTX_add1_chain_cert(ctx, extra); /* takes its own reference */
            X509_free(extra);
        }
        ERR_clear_error();
    }
    X509_free(x);
    EVP_PKEY_free(k);
    BIO_free(cb);
    BIO_free(kb);
    return rc;
}

static SSL_CTX *build_ctx(const struct transport_spec *s, struct diag *d)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        diag_set(d, "%s", ssl_error());
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, s->min_version > TLS1_2_VERSION ? s->min_version : TLS1_2_VERSION);
    if (s->max_version)
        SSL_CTX_set_max_proto_version(ctx, s->max_version);
    if (s->verify_depth > 0)
        SSL_CTX_set_verify_depth(ctx, s->verify_depth);
    if (s->ciphers != NULL && SSL_CTX_set_cipher_list(ctx, s->ciphers) != 1) {
        diag_set(d, "ciphers: '%.80s' selects no cipher", s->ciphers);
        ERR_clear_error();
        goto fail;
    }
    if (s->n_root_cas == 0 && tls_system_roots() != NULL) /* one parsed copy, shared */
        SSL_CTX_set1_cert_store(ctx, tls_system_roots());
    /* peerCertURI / peerCertSANs: the chain is verified even with
     * insecureSkipVerify (Traefik's VerifyPeerCertificate), which then
     * skips the name only */
    bool sans = s->peer_cert_uri != NULL || s->n_peer_cert_sans != 0;
    bool verify = !s->insecure_skip_verify || sans;
    SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, verify ? transport_verify_cb : NULL);
    if (sans) {
        pthread_once(&peer_check_once, peer_check_index_init);
        size_t n = s->peer_cert_uri ? strlen(s->peer_cert_uri) + 5 : 0;
        for (size_t i = 0; i < s->n_peer_cert_sans; i++)
            n += strlen(s->peer_cert_sans[i]) + 1;
        struct peer_check *pc = malloc(sizeof(*pc) + n + 1);
        if (pc == NULL)
            abort();
        pc->check_name = !s->insecure_skip_verify;
        char *w = pc->sans;
        for (size_t i = 0; i < s->n_peer_cert_sans; i++)
            w += sprintf(w, "%s", s->peer_cert_sans[i]) + 1;
        if (s->peer_cert_uri != NULL) /* Traefik appends it as a URI SAN */
            w += sprintf(w, "URI:%s", s->peer_cert_uri) + 1;
        *w = '\0';
        if (atomic_load(&peer_check_index) < 0 || SSL_CTX_set_ex_data(ctx, atomic_load(&peer_check_index), pc) != 1) {
            free(pc);
            diag_set(d, "peerCertSANs/peerCertURI: %s", ssl_error());
            goto fail;
        }
    }
    if (load_cas(ctx, s, d) != 0)
        goto fail;
    for (size_t i = 0; i < s->n_certs; i++)
        if (load_client_cert(ctx, s->cert_files[i], s->key_files[i], d) != 0)
            goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

bool transport_checks_name(const SSL_CTX *ctx)
{
    if (SSL_CTX_get_verify_mode(ctx) == SSL_VERIFY_NONE)
        return false; /* insecureSkipVerify without peerCertURI/peerCertSANs */
    const struct peer_check *pc = peer_check_of(ctx);
    return pc == NULL || pc->check_name;
}

bool transport_ciphers_valid(const char *list)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    bool ok = ctx != NULL && SSL_CTX_set_cipher_list(ctx, list) == 1;
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return ok;
}

SSL_CTX *transport_client_ctx(const struct transport *t, bool offer_h2)
{
    if (t == NULL)
        return offer_h2 ? tls_client_ctx_h2() : tls_client_ctx();
    return offer_h2 && t->ssl_ctx_h2 != NULL ? t->ssl_ctx_h2 : t->ssl_ctx;
}

void transport_offer_h2(SSL_CTX *ctx)
{
    static const unsigned char protos[] = "\x02h2\x08http/1.1";
    SSL_CTX_set_alpn_protos(ctx, protos, sizeof(protos) - 1);
}

int transport_verify_cb(int preverify_ok, X509_STORE_CTX *store)
{
    if (!preverify_ok || X509_STORE_CTX_get_error_depth(store) != 0)
        return preverify_ok;
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    const struct peer_check *pc = ssl ? peer_check_of(SSL_get_SSL_CTX(ssl)) : NULL;
    const char *name = ssl ? SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name) : NULL;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    if (cert == NULL || (name == NULL && (pc == NULL || pc->check_name))) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_HOSTNAME_MISMATCH);
        return 0;
    }
    if (pc == NULL || pc->check_name) {
        unsigned char ip[16];
        bool is_ip = inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1;
        if ((is_ip ? X509_check_ip_asc(cert, name, 0) : X509_check_host(cert, name, 0, 0, NULL)) != 1) {
            X509_STORE_CTX_set_error(store, is_ip ? X509_V_ERR_IP_ADDRESS_MISMATCH : X509_V_ERR_HOSTNAME_MISMATCH);
            return 0;
        }
    }
    if (pc != NULL && !has_one_san(cert, pc->sans)) {
        bool uri = strncmp(pc->sans, "URI:", 4) == 0, more = pc->sans[strlen(pc->sans) + 1] != '\0';
        log_warn("upstream %s: the certificate has no %s SAN '%s'%s (serversTransport peerCertSANs/peerCertURI)",
                 name ? name : "?", uri ? "URI" : "DNSName", pc->sans + (uri ? 4 : 8), more ? " nor any other listed" : "");
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
        return 0;
    }
    return 1;
}

struct transport *transport_acquire(const struct transport_spec *spec, struct diag *d)
{
    char *key = digest(spec);
    for (struct transport *t = all; t != NULL; t = t->next)
        if (strcmp(t->key, key) == 0) {
            free(key);
            transport_ref(t);
            return t;
        }
    SSL_CTX *ctx = build_ctx(spec, d), *ctx_h2 = NULL;
    if (ctx != NULL && !spec->disable_http2) {
        ctx_h2 = build_ctx(spec, d);
        if (ctx_h2 == NULL) {
            SSL_CTX_free(ctx);
            ctx = NULL;
        } else {
            transport_offer_h2(ctx_h2);
        }
    }
    if (ctx == NULL) {
        free(key);
        return NULL;
    }
    struct transport *t = mem_calloc(1, sizeof(*t));
    t->key = key;
    atomic_init(&t->refs, 1);
    t->ssl_ctx = ctx;
    t->ssl_ctx_h2 = ctx_h2;
    t->server_name = spec->server_name && *spec->server_name ? mem_strdup(spec->server_name) : NULL;
    t->dial_ms = spec->dial_ms;
    t->response_header_ms = spec->response_header_ms;
    t->idle_conn_ms = spec->idle_conn_ms;
    t->read_ms = spec->read_ms;
    t->max_idle_conns_per_host = spec->max_idle_conns_per_host;
    t->disable_http2 = spec->disable_http2;
    t->read_idle_ms = spec->read_idle_ms;
    t->ping_ms = spec->ping_ms;
    t->next = all;
    all = t;
    return t;
}

void transport_ref(struct transport *t)
{
    atomic_fetch_add(&t->refs, 1);
}

static void transport_free(struct transport *t)
{
    SSL_CTX_free(t->ssl_ctx);
    SSL_CTX_free(t->ssl_ctx_h2);
    free(t->server_name);
    free(t->key);
    free(t);
}

/* Servers release their transport when the last worker lets go of them,
 * which may be on a worker thread: the unlinking is deferred to the
 * watcher (transport_acquire / transport_shutdown sweep refs == 0). */
void transport_release(struct transport *t)
{
    atomic_fetch_sub(&t->refs, 1);
}

void transport_sweep(void)
{
    for (struct transport **p = &all; *p != NULL;) {
        struct transport *t = *p;
        if (atomic_load(&t->refs) == 0) {
            *p = t->next;
            transport_free(t);
        } else {
            p = &t->next;
        }
    }
}

void transport_shutdown(void)
{
    while (all != NULL) {
        struct transport *t = all;
        all = t->next;
        transport_free(t);
    }
}
