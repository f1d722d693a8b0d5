/* TLS options (see tls_options.h). */
#include "tls_options.h"

#include "acme_challenge.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "publish.h"
#include "table.h"
#include "worker.h"

/* Go's cipher suite names (what Traefik users write) -> OpenSSL's. The TLS
 * 1.3 suites are accepted and, as in Go, change nothing: TLS 1.3 always
 * offers its three AEAD suites. */
static const struct {
    const char *go, *openssl;
} suites[] = {
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", "ECDHE-ECDSA-AES128-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "ECDHE-RSA-AES128-SHA256"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_CBC_SHA256", "AES128-SHA256"},
    {"TLS_RSA_WITH_3DES_EDE_CBC_SHA", "DES-CBC3-SHA"},
    {"TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "ECDHE-RSA-DES-CBC3-SHA"},
    {"TLS_AES_128_GCM_SHA256", ""},
    {"TLS_AES_256_GCM_SHA384", ""},
    {"TLS_CHACHA20_POLY1305_SHA256", ""},
};

static const struct {
    const char *go, *openssl;
} curves[] = {
    {"CurveP256", "P-256"}, {"secp256r1", "P-256"}, {"CurveP384", "P-384"}, {"secp384r1", "P-384"},
    {"CurveP521", "P-521"}, {"secp521r1", "P-521"}, {"X25519", "X25519"},   {"x25519", "X25519"},
};

static int version_of(const char *v, int def)
{
    if (v == NULL || *v == '\0')
        return def;
    if (strcmp(v, "VersionTLS10") == 0)
        return TLS1_VERSION;
    if (strcmp(v, "VersionTLS11") == 0)
        return TLS1_1_VERSION;
    if (strcmp(v, "VersionTLS12") == 0)
        return TLS1_2_VERSION;
    if (strcmp(v, "VersionTLS13") == 0)
        return TLS1_3_VERSION;
    return -1;
}

static void free_store(void *s)
{
    X509_STORE_free(s);
}

static void free_names(void *n)
{
    sk_X509_NAME_pop_free(n, X509_NAME_free);
}

static void free_mem(void *p)
{
    OPENSSL_free(p);
}

static uint64_t fnv(uint64_t h, const char *s)
{
    for (; s && *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return (h ^ 0xff) * 0x100000001b3ULL;
}

static int load_client_cas(struct arena *a, struct tls_option *o, const struct tls_option_spec *s, struct diag *d)
{
    o->ca_store = X509_STORE_new();
    o->ca_names = sk_X509_NAME_new_null();
    arena_on_free(a, free_store, o->ca_store);
    arena_on_free(a, free_names, o->ca_names);
    for (size_t i = 0; i < s->n_client_ca_files; i++) {
        const char *v = s->client_ca_files[i];
        BIO *b = strstr(v, "-----BEGIN") ? BIO_new_mem_buf(v, -1) : BIO_new_file(v, "r");
        if (b == NULL)
            return diag_set(d, "clientAuth.caFiles: cannot read '%s'", v);
        size_t n = 0;
        for (X509 *x; (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL; n++) {
            X509_STORE_add_cert(o->ca_store, x);
            sk_X509_NAME_push(o->ca_names, X509_NAME_dup(X509_get_subject_name(x)));
            X509_free(x);
        }
        ERR_clear_error();
        BIO_free(b);
        if (n == 0)
            return diag_set(d, "clientAuth.caFiles: no certificate in '%.80s'", v);
    }
    return 0;
}

static int client_auth(struct arena *a, struct tls_option *o, const struct tls_option_spec *s, struct diag *d)
{
    /* Traefik: caFiles without a type means RequireAndVerifyClientCert */
    const char *t = s->client_auth_type && *s->client_auth_type ? s->client_auth_type
                    : s->n_client_ca_files                      ? "RequireAndVerifyClientCert"
                                                                : "NoClientCert";
    bool verify;
    if (strcmp(t, "NoClientCert") == 0)
        o->verify_mode = SSL_VERIFY_NONE, verify = false;
    else if (strcmp(t, "RequestClientCert") == 0)
        o->verify_mode = SSL_VERIFY_PEER, verify = false;
    else if (strcmp(t, "RequireAnyClientCert") == 0)
        o->verify_mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify = false;
    else if (strcmp(t, "VerifyClientCertIfGiven") == 0)
        o->verify_mode = SSL_VERIFY_PEER, verify = true;
    else if (strcmp(t, "RequireAndVerifyClientCert") == 0)
        o->verify_mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, verify = true;
    else
        return diag_set(d, "clientAuth.clientAuthType: '%s' is not NoClientCert, RequestClientCert, RequireAnyClientCert, "
                           "VerifyClientCertIfGiven or RequireAndVerifyClientCert", t);
    o->verify_chain = verify;
    if (s->n_client_ca_files && load_client_cas(a, o, s, d) != 0)
        return -1;
    if (verify && s->n_client_ca_files == 0) /* nothing to verify against: refuse rather than accept any */
        return diag_set(d, "clientAuth.clientAuthType %s needs clientAuth.caFiles", t);
    return 0;
}

/* Checks a list against OpenSSL with a scratch context. */
static bool openssl_accepts(const char *ciphers, const char *groups)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    bool ok = ctx != NULL && (ciphers == NULL || SSL_CTX_set_cipher_list(ctx, ciphers) == 1) &&
              (groups == NULL || SSL_CTX_set1_groups_list(ctx, groups) == 1);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

int tls_option_build(struct arena *a, const char *name, const struct tls_option_spec *s, struct tls_option **out,
                     struct diag *d)
{
    struct tls_option *o = arena_alloc(a, sizeof(*o));
    o->name = arena_strdup(a, name);
    o->min_version = version_of(s->min_version, TLS1_2_VERSION);
    o->max_version = version_of(s->max_version, 0);
    if (o->min_version < 0)
        return diag_set(d, "minVersion: '%s' is not VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13", s->min_version);
    if (o->max_version < 0)
        return diag_set(d, "maxVersion: '%s' is not VersionTLS10, VersionTLS11, VersionTLS12 or VersionTLS13", s->max_version);
    if (o->max_version && o->max_version < o->min_version)
        return diag_set(d, "maxVersion %s is below minVersion %s", s->max_version, s->min_version ? s->min_version : "VersionTLS12");
    char buf[2048];
    size_t len = 0;
    for (size_t i = 0; i < s->n_cipher_suites; i++) {
        size_t k = 0;
        while (k < sizeof(suites) / sizeof(suites[0]) && strcmp(suites[k].go, s->cipher_suites[i]) != 0)
            k++;
        if (k == sizeof(suites) / sizeof(suites[0]))
            return diag_set(d, "cipherSuites: '%s' is not a cipher suite Gantry knows", s->cipher_suites[i]);
        if (*suites[k].openssl && len + strlen(suites[k].openssl) + 2 < sizeof(buf))
            len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? ":" : "", suites[k].openssl);
    }
    o->cipher_list = len ? arena_strdup(a, buf) : NULL;
    len = 0;
    for (size_t i = 0; i < s->n_curves; i++) {
        size_t k = 0;
        while (k < sizeof(curves) / sizeof(curves[0]) && strcmp(curves[k].go, s->curves[i]) != 0)
            k++;
        if (k == sizeof(curves) / sizeof(curves[0]))
            return diag_set(d, "curvePreferences: '%s' is not CurveP256, CurveP384, CurveP521 or X25519", s->curves[i]);
        len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", len ? ":" : "", curves[k].openssl);
    }
    o->groups = len ? arena_strdup(a, buf) : NULL;
    if (!openssl_accepts(o->cipher_list, o->groups))
        return diag_set(d, "OpenSSL refuses the cipherSuites or curvePreferences given");
    if (client_auth(a, o, s, d) != 0)
        return -1;
    o->sni_strict = s->sni_strict;
    o->no_tickets = s->disable_session_tickets;
    /* ALPN: what the client may get among what the HTTP server speaks */
    unsigned char wire[256];
    size_t wl = 0;
    static const char *const defaults[] = {"h2", "http/1.1"};
    const char *const *alpn = s->n_alpn ? s->alpn : defaults;
    size_t n_alpn = s->n_alpn ? s->n_alpn : 2;
    for (size_t i = 0; i < n_alpn; i++) {
        if (strcmp(alpn[i], "acme-tls/1") == 0)
            continue; /* answered by the ACME resolver only, not by HTTP */
        if (strcmp(alpn[i], "h2") != 0 && strcmp(alpn[i], "http/1.1") != 0)
            return diag_set(d, "alpnProtocols: '%s' is not h2, http/1.1 or acme-tls/1", alpn[i]);
        size_t l = strlen(alpn[i]);
        wire[wl++] = (unsigned char)l;
        memcpy(wire + wl, alpn[i], l);
        wl += l;
    }
    if (wl == 0)
        return diag_set(d, "alpnProtocols: none of h2 or http/1.1");
    o->alpn = OPENSSL_memdup(wire, wl);
    o->alpn_len = wl;
    arena_on_free(a, free_mem, o->alpn);
    /* identity: the definition, so the same option in the next table is the same */
    uint64_t h = 0xcbf29ce484222325ULL;
    char nums[64];
    snprintf(nums, sizeof(nums), "%d/%d/%d/%d/%d/%d", o->min_version, o->max_version, o->verify_mode, o->verify_chain,
             o->sni_strict, o->no_tickets);
    h = fnv(fnv(fnv(fnv(h, name), nums), o->cipher_list), o->groups);
    for (size_t i = 0; i < s->n_client_ca_files; i++)
        h = fnv(h, s->client_ca_files[i]);
    for (size_t i = 0; i < wl; i++)
        h = (h ^ wire[i]) * 0x100000001b3ULL;
    o->id = h ? h : 1;
    *out = o;
    return 0;
}

/* ---- per connection ---- */

/* What a connection keeps of its option: heap memory freed with the SSL. */
struct conn_option {
    uint64_t id;
    size_t alpn_len;
    unsigned char alpn[];
};

static int ex_index = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void free_conn_option(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
    OPENSSL_free(ptr);
}

static void init_ex_index(void)
{
    ex_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, free_conn_option);
}

static int accept_any_certificate(int ok, X509_STORE_CTX *store)
{
    return 1; /* RequestClientCert / RequireAnyClientCert: asked for, not checked */
}

/* The server name of the ClientHello, lowercased, without a final dot. */
static size_t hello_server_name(SSL *ssl, char *out, size_t cap)
{
    const unsigned char *p;
    size_t len;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len) || len < 5)
        return 0;
    size_t list = (size_t)p[0] << 8 | p[1];
    if (list + 2 != len || p[2] != TLSEXT_NAMETYPE_host_name)
        return 0;
    size_t n = (size_t)p[3] << 8 | p[4];
    if (n + 5 > len || n == 0 || n >= cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)tolower(p[5 + i]);
    if (out[n - 1] == '.')
        n--;
    out[n] = '\0';
    return n;
}

static void apply(const struct tls_option *o, SSL *ssl)
{
    if (o->min_version < TLS1_2_VERSION)
        SSL_set_security_level(ssl, 0); /* OpenSSL 3 refuses TLS 1.0/1.1 signatures above level 0 */
    SSL_set_min_proto_version(ssl, o->min_version);
    SSL_set_max_proto_version(ssl, o->max_version);
    if (o->cipher_list != NULL)
        SSL_set_cipher_list(ssl, o->cipher_list);
    if (o->groups != NULL)
        SSL_set1_groups_list(ssl, o->groups);
    if (o->verify_mode != SSL_VERIFY_NONE) {
        SSL_set_verify(ssl, o->verify_mode, o->verify_chain ? NULL : accept_any_certificate);
        if (o->ca_store != NULL) {
            SSL_set1_verify_cert_store(ssl, o->ca_store);
            SSL_set_client_CA_list(ssl, SSL_dup_CA_list(o->ca_names));
        }
    }
    if (o->no_tickets) { /* no resumption at all, as Go's SessionTicketsDisabled */
        SSL_set_options(ssl, SSL_OP_NO_TICKET);
        SSL_set_num_tickets(ssl, 0); /* TLS 1.3 would send stateful tickets instead */
    }
    /* A session resumes only under the option it was made with: one made
     * without a client certificate must not skip the certificate another
     * option requires (OpenSSL compares this context before resuming;
     * SSL_set_SSL_CTX on SNI keeps a per-connection value). */
    unsigned char sid_ctx[6 + sizeof(o->id)];
    memcpy(sid_ctx, "gantry", 6);
    memcpy(sid_ctx + 6, &o->id, sizeof(o->id));
    SSL_set_session_id_context(ssl, sid_ctx, sizeof(sid_ctx));
    struct conn_option *c = OPENSSL_malloc(sizeof(*c) + o->alpn_len);
    if (c != NULL) {
        c->id = o->id;
        c->alpn_len = o->alpn_len;
        memcpy(c->alpn, o->alpn, o->alpn_len);
        SSL_set_ex_data(ssl, ex_index, c);
    }
}

static int on_client_hello(SSL *ssl, int *al, void *arg)
{
    struct worker *w = worker_self;
    char name[256];
    size_t len = 0;
    if (acme_challenge_pending()) { /* TLS-ALPN-01: the challenge certificate, whatever the table says */
        len = hello_server_name(ssl, name, sizeof(name));
        if (acme_challenge_hello(ssl, name, len))
            return SSL_CLIENT_HELLO_SUCCESS;
    }
    struct table *t = w ? publish_worker_table(w->id) : NULL;
    if (t == NULL || !t->has_tls_options)
        return SSL_CLIENT_HELLO_SUCCESS;
    if (len == 0)
        len = hello_server_name(ssl, name, sizeof(name));
    const struct tls_option *o = len ? table_lookup_tls_option(t, name, len) : NULL;
    if (o == NULL)
        o = t->tls_default_option;
    if (o == NULL)
        return SSL_CLIENT_HELLO_SUCCESS;
    if (o->sni_strict && (len == 0 || table_lookup_sni(t, name, len) == NULL)) {
        *al = SSL_AD_UNRECOGNIZED_NAME; /* sniStrict: no certificate of ours for that name */
        return SSL_CLIENT_HELLO_ERROR;
    }
    apply(o, ssl);
    return SSL_CLIENT_HELLO_SUCCESS;
}

void tls_options_after_sni(SSL *ssl, const struct table *t, const char *name, size_t len)
{
    if (t == NULL || !t->has_tls_options)
        return;
    const struct tls_option *o = len ? table_lookup_tls_option(t, name, len) : NULL;
    if (o == NULL)
        o = t->tls_default_option;
    if (o == NULL)
        return;
    /* SSL_set_SSL_CTX replaced the SSL's certificate state, which holds these */
    if (o->min_version < TLS1_2_VERSION)
        SSL_set_security_level(ssl, 0);
    if (o->verify_mode != SSL_VERIFY_NONE && o->ca_store != NULL)
        SSL_set1_verify_cert_store(ssl, o->ca_store);
}

/* h2o's list when the connection has no option of its own */
static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in, unsigned int inlen,
                   void *arg)
{
    const struct conn_option *c = ex_index >= 0 ? SSL_get_ex_data(ssl, ex_index) : NULL;
    static unsigned char defaults[64];
    static size_t defaults_len;
    if (defaults_len == 0) { /* h2o_alpn_protocols as wire format (written once, same bytes each time) */
        size_t n = 0;
        for (const h2o_iovec_t *p = h2o_alpn_protocols; p->len != 0 && n + p->len + 1 < sizeof(defaults); p++) {
            defaults[n++] = (unsigned char)p->len;
            memcpy(defaults + n, p->base, p->len);
            n += p->len;
        }
        defaults_len = n;
    }
    const unsigned char *srv = c ? c->alpn : defaults;
    unsigned srv_len = c ? (unsigned)c->alpn_len : (unsigned)defaults_len;
    unsigned char *sel;
    unsigned char sel_len;
    if (SSL_select_next_proto(&sel, &sel_len, srv, srv_len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = sel;
    *outlen = sel_len;
    return SSL_TLSEXT_ERR_OK;
}

void tls_options_install(SSL_CTX *default_ctx)
{
    pthread_once(&ex_once, init_ex_index);
    SSL_CTX_set_client_hello_cb(default_ctx, on_client_hello, NULL);
    tls_options_install_alpn(default_ctx);
}

void tls_options_install_alpn(SSL_CTX *ctx)
{
    pthread_once(&ex_once, init_ex_index);
    SSL_CTX_set_alpn_select_cb(ctx, on_alpn, NULL);
}

uint64_t tls_options_of(SSL *ssl)
{
    const struct conn_option *c = ex_index >= 0 && ssl ? SSL_get_ex_data(ssl, ex_index) : NULL;
    return c ? c->id : 0;
}
