/*
 * TLS termination: one default SSL_CTX (a self-signed certificate made at
 * start, as Traefik does) whose SNI callback switches each handshake to
 * the certificate the worker's current table has for that name. Every
 * SSL_CTX registers ALPN (h2, http/1.1): after SSL_set_SSL_CTX the
 * selected context's callback is the one OpenSSL uses.
 *
 * Certificates are loaded on the watcher thread through a small cache keyed
 * by file identity or PEM digest, so an unchanged certificate is not
 * parsed again on every configuration change.
 */
#include "tls.h"

#include "acme_challenge.h"
#include "tls_ocsp.h"
#include "tls_options.h"
#include "tls_tickets.h"
#include "transport.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <h2o.h>

#include "../common/arena.h"
#include "../common/log.h"
#include "publish.h"
#include "worker.h"

static SSL_CTX *default_ctx;
static SSL_CTX *client_ctx, *client_ctx_h2;
/* the system roots (tls_system_roots) and whether the client contexts have them */
static pthread_mutex_t roots_lock = PTHREAD_MUTEX_INITIALIZER;
static X509_STORE *system_roots;
static atomic_bool client_roots_set;
static int source_index = -1; /* SSL_CTX ex_data: the certificate files a context was loaded from */

static const char *ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, len, "unknown TLS error");
    else
        ERR_error_string_n(e, buf, len);
    ERR_clear_error();
    return buf;
}

static int on_sni(SSL *ssl, int *ad, void *arg)
{
    (void)ad;
    (void)arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (worker_self == NULL || (acme_challenge_pending() && acme_challenge_owns(ssl))) /* TLS-ALPN-01 chosen in ClientHello */
        return SSL_TLSEXT_ERR_OK;
    if (name == NULL) { /* no SNI: the store's default certificate, if one is configured */
        struct table *t = publish_worker_table(worker_self->id);
        if (t != NULL && t->default_cert != NULL) {
            SSL_set_SSL_CTX(ssl, t->default_cert);
            tls_options_after_sni(ssl, t, "", 0);
        }
        return SSL_TLSEXT_ERR_OK;
    }
    char lower[256];
    size_t len = strlen(name);
    if (len >= sizeof(lower))
        return SSL_TLSEXT_ERR_OK;
    for (size_t i = 0; i < len; i++)
        lower[i] = (char)tolower((unsigned char)name[i]);
    if (len > 0 && lower[len - 1] == '.')
        len--;
    struct table *t = publish_worker_table(worker_self->id);
    SSL_CTX *ctx = t ? table_lookup_sni(t, lower, len) : NULL;
    if (ctx == NULL && t != NULL)
        ctx = t->default_cert; /* tls.stores.default.defaultCertificate */
    if (ctx != NULL) {
        SSL_set_SSL_CTX(ssl, ctx);
        tls_options_after_sni(ssl, t, lower, len);
    }
    return SSL_TLSEXT_ERR_OK;
}

/*
 * TLS 1.2 suites offered when no TLS options are configured: Mozilla's
 * "intermediate" profile without its DHE suites. Every one has forward
 * secrecy (ECDHE, no static RSA key exchange) and an AEAD (no CBC, so no
 * SHA-1 MAC and no Lucky13-style padding oracles). Both an ECDSA and an RSA
 * variant of each is listed because the certificate, chosen later by SNI,
 * decides which half can be used. TLS 1.3 suites are left as OpenSSL
 * offers them (all AEAD with forward secrecy).
 *
 * The list lives in every server context, but the one that counts is the
 * default context's: OpenSSL copies the cipher list into the SSL object when
 * the connection is accepted, and SSL_set_SSL_CTX on SNI does not replace it.
 */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static SSL_CTX *new_server_ctx(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* No SSL_OP_CIPHER_SERVER_PREFERENCE: every suite offered is strong, so
     * the client's order wins; it knows whether it has AES instructions and
     * otherwise picks ChaCha20 (Mozilla's intermediate profile does the same). */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) { /* a constant every OpenSSL 3 knows: a broken build */
        log_error("TLS: OpenSSL accepts none of the default TLS 1.2 cipher suites");
        abort();
    }
    /* Resumption by session tickets only (tls_tickets.c: one key set for
     * all workers): no server-side session cache to lock and grow, and
     * disableSessionTickets then means no resumption, as in Traefik. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"gantry", 6);
    /* One TLS 1.3 ticket per handshake, as Go's crypto/tls (Traefik) sends,
     * not OpenSSL's two: each costs a ticket encryption, HMAC and record. */
    SSL_CTX_set_num_tickets(ctx, 1);
    h2o_ssl_register_alpn_protocols(ctx, h2o_alpn_protocols);
    tls_options_install_alpn(ctx); /* a connection's TLS option may narrow ALPN */
    tls_ocsp_install(ctx);         /* staples what controller/ocsp_fetch.c fetched */
    tls_tickets_install(ctx);      /* one rotated key set for every worker */
    return ctx;
}

/* A self-signed P-256 certificate for "TRAEFIK DEFAULT CERT"-like use. */
static int make_self_signed(SSL_CTX *ctx, struct diag *d)
{
    char err[256];
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (key == NULL || x == NULL)
        goto fail;
    X509_set_version(x, 2);
    unsigned char serial[16];
    RAND_bytes(serial, sizeof(serial));
    serial[0] &= 0x7f;
    BIGNUM *bn = BN_bin2bn(serial, sizeof(serial), NULL);
    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"GANTRY DEFAULT CERT", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, "DNS:gantry.default.invalid");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, key, EVP_sha256()) || SSL_CTX_use_certificate(ctx, x) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1)
        goto fail;
    X509_free(x);
    EVP_PKEY_free(key);
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(key);
    return diag_set(d, "cannot create the default certificate: %s", ssl_error(err, sizeof(err)));
}

int tls_init(bool insecure_skip_verify, struct diag *d)
{
    if (source_index < 0) /* before any worker reads it */
        source_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    default_ctx = new_server_ctx();
    if (make_self_signed(default_ctx, d) != 0)
        return -1;
    SSL_CTX_set_tlsext_servername_callback(default_ctx, on_sni);
    tls_options_install(default_ctx);

    SSL_CTX **ctxs[2] = {&client_ctx, &client_ctx_h2};
    for (int i = 0; i < 2; i++) {
        SSL_CTX *c = *ctxs[i] = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION); /* the system's roots: on first use (tls_client_ctx) */
        SSL_CTX_set_verify(c, insecure_skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER,
                           insecure_skip_verify ? NULL : transport_verify_cb); /* the server's name too */
    }
    transport_offer_h2(client_ctx_h2);
    return 0;
}

static void tls_cache_clear(void);

void tls_shutdown(void)
{
    SSL_CTX_free(default_ctx);
    SSL_CTX_free(client_ctx);
    SSL_CTX_free(client_ctx_h2);
    default_ctx = client_ctx = client_ctx_h2 = NULL;
    pthread_mutex_lock(&roots_lock);
    X509_STORE_free(system_roots); /* the contexts still holding it keep their reference */
    system_roots = NULL;
    atomic_store(&client_roots_set, false);
    pthread_mutex_unlock(&roots_lock);
    tls_cache_clear();
}

SSL_CTX *tls_default_ctx(void)
{
    return default_ctx;
}

/* The system's CA certificates (SSL_CERT_FILE, SSL_CERT_DIR: what
 * SSL_CTX_set_default_verify_paths reads), parsed once, on first use, into
 * one store that every client context trusting them shares: the bundle
 * costs ~0.8 MB of heap per copy, and a proxy with no TLS upstream needs
 * none. */

X509_STORE *tls_system_roots(void)
{
    pthread_mutex_lock(&roots_lock);
    if (system_roots == NULL && (system_roots = X509_STORE_new()) != NULL && X509_STORE_set_default_paths(system_roots) != 1) {
        char err[256];
        log_warn("TLS: the system's CA certificates could not all be loaded: %s", ssl_error(err, sizeof(err)));
    }
    ERR_clear_error(); /* a missing default file or directory is not this thread's next error */
    X509_STORE *s = system_roots;
    pthread_mutex_unlock(&roots_lock);
    return s;
}

/* The default client contexts get the roots before their first use: a
 * store is not swapped under a context another worker is using. */
static void client_roots(void)
{
    if (atomic_load_explicit(&client_roots_set, memory_order_acquire))
        return;
    X509_STORE *s = tls_system_roots();
    pthread_mutex_lock(&roots_lock);
    if (!atomic_load_explicit(&client_roots_set, memory_order_relaxed) && s != NULL) {
        SSL_CTX_set1_cert_store(client_ctx, s);
        SSL_CTX_set1_cert_store(client_ctx_h2, s);
        atomic_store_explicit(&client_roots_set, true, memory_order_release);
    }
    pthread_mutex_unlock(&roots_lock);
}

SSL_CTX *tls_client_ctx(void)
{
    client_roots();
    return client_ctx;
}

SSL_CTX *tls_client_ctx_h2(void)
{
    client_roots();
    return client_ctx_h2;
}

/*
 * libh2o 2.2.5 keeps a socket's TLS state in a private struct
 * (lib/common/socket.c) and exports no accessor for its SSL object. Its
 * first two members are the context the handshake started with and the
 * SSL object; they are mirrored here, and nothing else of it is read. The
 * mirror is checked on every use: on a server socket the first member must
 * be the default context, the only one Gantry passes to h2o (h2o_accept and
 * tcp_proxy.c); if a different libh2o laid the struct out otherwise, the
 * answer is "unknown" (NULL) instead of a wild read of the SSL.
 */
struct st_h2o_socket_ssl_t {
    SSL_CTX *ssl_ctx;
    SSL *ossl;
};

SSL *tls_socket_ssl(struct st_h2o_socket_t *sock)
{
    if (sock == NULL || sock->ssl == NULL || sock->ssl->ssl_ctx != default_ctx)
        return NULL;
    return sock->ssl->ossl;
}

void tls_peer_gone(struct st_h2o_socket_t *sock)
{
    SSL *ssl = tls_socket_ssl(sock);
    if (ssl != NULL)
        SSL_set_quiet_shutdown(ssl, 1);
}

SSL_CTX *tls_socket_ctx(struct st_h2o_socket_t *sock)
{
    if (sock == NULL || sock->ssl == NULL || sock->ssl->ssl_ctx != default_ctx || sock->ssl->ossl == NULL)
        return NULL;
    /* after on_sni's SSL_set_SSL_CTX, the context of the certificate served */
    return SSL_get_SSL_CTX(sock->ssl->ossl);
}

/* ---- certificate loading and cache (watcher thread) ---- */

struct cached_cert {
    struct cached_cert *next;
    char *key;
    char *source; /* "cert_file|key_file" for files (the last good one is found by it), NULL for PEM
                   * (whose contexts are marked with their names instead, mark_pem_source) */
    SSL_CTX *ctx;
    char **names;
    size_t n_names;
    bool used;
    bool used_once; /* announced to the hooks */
};

static struct cached_cert *cache;
static tls_cert_hook cert_loaded, cert_dropped;

void tls_set_cert_hooks(tls_cert_hook loaded, tls_cert_hook dropped)
{
    cert_loaded = loaded;
    cert_dropped = dropped;
}

/* Each certificate file pair has one interned name, kept for the life of
 * the process (a handful of paths): contexts loaded from the same files
 * carry the same pointer, so a connection made before a reload is still
 * "on that host's certificate" after it (misdirected.c). */
static char **sources;
static size_t n_sources;

static void mark_source(SSL_CTX *ctx, const char *source)
{
    if (source_index < 0)
        source_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    const char *interned = NULL;
    for (size_t i = 0; i < n_sources && interned == NULL; i++)
        if (strcmp(sources[i], source) == 0)
            interned = sources[i];
    if (interned == NULL) {
        sources = mem_realloc(sources, (n_sources + 1) * sizeof(char *));
        interned = sources[n_sources++] = mem_strdup(source);
    }
    SSL_CTX_set_ex_data(ctx, source_index, (void *)interned);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Inline PEM (ACME, Kubernetes Secrets) has no files: its source is the
 * set of names it covers, so a keep-alive connection made before a renewal
 * or a Secret update (same names, new certificate) is still on the host's
 * certificate (misdirected.c); the client verified it for those names. */
static void mark_pem_source(const struct cached_cert *c)
{
    if (c->n_names == 0)
        return;
    char **sorted = mem_alloc(c->n_names * sizeof(*sorted));
    memcpy(sorted, c->names, c->n_names * sizeof(*sorted));
    qsort(sorted, c->n_names, sizeof(*sorted), cmp_names);
    size_t len = sizeof("pem:");
    for (size_t i = 0; i < c->n_names; i++)
        len += strlen(sorted[i]) + 1;
    char *source = mem_alloc(len), *p = source;
    p += sprintf(p, "pem:");
    for (size_t i = 0; i < c->n_names; i++)
        p += sprintf(p, "%s%s", i ? "," : "", sorted[i]);
    mark_source(c->ctx, source);
    free(source);
    free(sorted);
}

static void free_cached(struct cached_cert *c)
{
    if (cert_dropped != NULL && c->used_once)
        cert_dropped(c->ctx, (const char *const *)c->names, c->n_names);
    SSL_CTX_free(c->ctx);
    for (size_t i = 0; i < c->n_names; i++)
        free(c->names[i]);
    free(c->names);
    free(c->key);
    free(c->source);
    free(c);
}

static void tls_cache_clear(void)
{
    while (cache != NULL) {
        struct cached_cert *c = cache;
        cache = c->next;
        free_cached(c);
    }
}

void tls_cache_begin(void)
{
    for (struct cached_cert *c = cache; c; c = c->next)
        c->used = false;
}

void tls_cache_sweep(void)
{
    for (struct cached_cert **p = &cache; *p;) {
        if (!(*p)->used) {
            struct cached_cert *c = *p;
            *p = c->next;
            free_cached(c);
        } else {
            p = &(*p)->next;
        }
    }
}

static void add_name(struct cached_cert *c, const char *name, size_t len)
{
    if (len == 0 || len > 253)
        return;
    char *n = mem_alloc(len + 1);
    for (size_t i = 0; i < len; i++)
        n[i] = (char)tolower((unsigned char)name[i]);
    n[len] = '\0';
    for (size_t i = 0; i < c->n_names; i++)
        if (strcmp(c->names[i], n) == 0) {
            free(n);
            return;
        }
    c->names = mem_realloc(c->names, (c->n_names + 1) * sizeof(char *));
    c->names[c->n_names++] = n;
}

/* DNS names of the certificate: SANs, else the CN (as browsers did). */
static void collect_names(struct cached_cert *c, X509 *x)
{
    GENERAL_NAMES *sans = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (int i = 0; sans && i < sk_GENERAL_NAME_num(sans); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
        if (g->type == GEN_DNS)
            add_name(c, (const char *)ASN1_STRING_get0_data(g->d.dNSName), (size_t)ASN1_STRING_length(g->d.dNSName));
    }
    GENERAL_NAMES_free(sans);
    if (c->n_names == 0) {
        char cn[256];
        int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
        if (n > 0)
            add_name(c, cn, (size_t)n);
    }
}

static BIO *bio_for(const char *pem, const char *file, struct diag *d)
{
    BIO *b = pem ? BIO_new_mem_buf(pem, -1) : BIO_new_file(file, "r");
    if (b == NULL)
        diag_set(d, "cannot read %s: %s", file ? file : "inline PEM", file ? strerror(errno) : "out of memory");
    return b;
}

static int load_into(SSL_CTX *ctx, struct cached_cert *c, const struct tls_cert_source *src, struct diag *d)
{
    char err[256];
    const char *cname = src->cert_file ? src->cert_file : "certificate PEM";
    const char *kname = src->key_file ? src->key_file : "key PEM";
    BIO *b = bio_for(src->cert_pem, src->cert_file, d);
    if (b == NULL)
        return -1;
    X509 *leaf = PEM_read_bio_X509(b, NULL, NULL, NULL);
    if (leaf == NULL) {
        BIO_free(b);
        return diag_set(d, "%s: not a PEM certificate: %s", cname, ssl_error(err, sizeof(err)));
    }
    int rc = SSL_CTX_use_certificate(ctx, leaf);
    collect_names(c, leaf);
    X509_free(leaf);
    if (rc != 1) {
        BIO_free(b);
        return diag_set(d, "%s: %s", cname, ssl_error(err, sizeof(err)));
    }
    X509 *chain;
    while ((chain = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL)
        SSL_CTX_add0_chain_cert(ctx, chain); /* takes ownership */
    ERR_clear_error(); /* end of chain */
    BIO_free(b);

    if ((b = bio_for(src->key_pem, src->key_file, d)) == NULL)
        return -1;
    EVP_PKEY *key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    if (key == NULL)
        return diag_set(d, "%s: not a PEM private key: %s", kname, ssl_error(err, sizeof(err)));
    rc = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (rc != 1 || SSL_CTX_check_private_key(ctx) != 1)
        return diag_set(d, "%s does not match %s: %s", kname, cname, ssl_error(err, sizeof(err)));
    if (c->n_names == 0)
        return diag_set(d, "%s has no DNS name (subjectAltName or CN)", cname);
    return 0;
}

/* A file's identity through symlinks: an atomic rename or a Kubernetes
 * "..data" swap changes the inode, an in-place rewrite the mtime (ns). */
static void file_stamp(char *buf, size_t len, const char *path)
{
    struct stat st;
    memset(&st, 0, sizeof(st));
    stat(path, &st);
    snprintf(buf, len, "%s:%llu:%llu:%lld.%09ld:%lld", path, (unsigned long long)st.st_dev,
             (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_size);
}

/* "cert_file|key_file": what the last good context of a file pair is found by */
static char *source_of(const struct tls_cert_source *src)
{
    size_t l = strlen(src->cert_file) + (src->key_file ? strlen(src->key_file) : 0) + 2;
    char *s = mem_alloc(l);
    snprintf(s, l, "%s|%s", src->cert_file, src->key_file ? src->key_file : "");
    return s;
}

static char *cache_key(const struct tls_cert_source *src)
{
    char buf[2 * PATH_MAX + 256];
    if (src->cert_file) {
        char cert[PATH_MAX + 100], key[PATH_MAX + 100] = "";
        file_stamp(cert, sizeof(cert), src->cert_file);
        if (src->key_file)
            file_stamp(key, sizeof(key), src->key_file);
        snprintf(buf, sizeof(buf), "f:%s|%s", cert, key);
    } else {
        unsigned char md[32];
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        unsigned int mdlen = 0;
        EVP_DigestInit_ex(m, EVP_sha256(), NULL);
        EVP_DigestUpdate(m, src->cert_pem, strlen(src->cert_pem));
        EVP_DigestUpdate(m, "\0", 1);
        EVP_DigestUpdate(m, src->key_pem ? src->key_pem : "", src->key_pem ? strlen(src->key_pem) : 0);
        EVP_DigestFinal_ex(m, md, &mdlen);
        EVP_MD_CTX_free(m);
        int n = snprintf(buf, sizeof(buf), "p:");
        for (unsigned i = 0; i < mdlen; i++)
            n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%02x", md[i]);
    }
    return mem_strdup(buf);
}

SSL_CTX *tls_load(const struct tls_cert_source *src, const char *const **names, size_t *n_names, struct diag *d)
{
    char *key = cache_key(src);
    for (struct cached_cert *c = cache; c; c = c->next) {
        if (strcmp(c->key, key) == 0) {
            free(key);
            c->used = true;
            *names = (const char *const *)c->names;
            *n_names = c->n_names;
            return c->ctx;
        }
    }
    struct cached_cert *c = mem_calloc(1, sizeof(*c));
    c->key = key;
    c->ctx = new_server_ctx();
    if (load_into(c->ctx, c, src, d) != 0) {
        free_cached(c);
        return NULL;
    }
    if (src->cert_file) {
        c->source = source_of(src);
        mark_source(c->ctx, c->source);
    } else {
        mark_pem_source(c);
    }
    c->used = c->used_once = true;
    c->next = cache;
    cache = c;
    if (cert_loaded != NULL)
        cert_loaded(c->ctx, (const char *const *)c->names, c->n_names);
    *names = (const char *const *)c->names;
    *n_names = c->n_names;
    return c->ctx;
}

SSL_CTX *tls_load_last_good(const struct tls_cert_source *src, const char *const **names, size_t *n_names)
{
    if (src->cert_file == NULL)
        return NULL;
    char *source = source_of(src);
    struct cached_cert *found = NULL;
    for (struct cached_cert *c = cache; c && found == NULL; c = c->next) /* newest first */
        if (c->source != NULL && strcmp(c->source, source) == 0)
            found = c;
    free(source);
    if (found == NULL)
        return NULL;
    found->used = true;
    *names = (const char *const *)found->names;
    *n_names = found->n_names;
    return found->ctx;
}

bool tls_ctx_same_source(const SSL_CTX *a, const SSL_CTX *b)
{
    if (a == b)
        return true;
    if (a == NULL || b == NULL || source_index < 0)
        return false;
    const void *sa = SSL_CTX_get_ex_data(a, source_index), *sb = SSL_CTX_get_ex_data(b, source_index);
    return sa != NULL && sa == sb;
}
