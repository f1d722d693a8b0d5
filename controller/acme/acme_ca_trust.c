/*
 * The CA's trust (see acme_ca_trust.h). Traefik (createClientTLSConfig)
 * builds a pool of the files, on a copy of the system pool when asked;
 * here the same pool is one PEM blob given to libcurl (CURLOPT_CAINFO_BLOB
 * replaces the default store, so the system bundle is copied in first).
 */
#include "acme_ca_trust.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "../../common/arena.h"

/* The number of certificates in <len> bytes of PEM at <p>. */
static int count_certs(const char *p, size_t len)
{
    BIO *b = BIO_new_mem_buf(p, (int)len);
    int n = 0;
    X509 *x;
    while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    BIO_free(b);
    return n;
}

/* Appends the file at <path> to <out>; -1 with errno when unreadable. */
static int append_file(FILE *out, const char *path, size_t *added)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char buf[8192];
    size_t n;
    *added = 0;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        fwrite(buf, 1, n, out);
        *added += n;
    }
    fputc('\n', out);
    fclose(f);
    return 0;
}

/* libcurl's default CA bundle (Debian: /etc/ssl/certs/ca-certificates.crt). */
static const char *system_bundle(void)
{
    static char path[1024];
    CURL *e = curl_easy_init();
    char *p = NULL;
    if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAINFO, &p) == CURLE_OK && p != NULL)
        snprintf(path, sizeof(path), "%s", p);
    else
        snprintf(path, sizeof(path), "%s", X509_get_default_cert_file());
    curl_easy_cleanup(e);
    return path;
}

static bool env_true(const char *v)
{
    /* Go's strconv.ParseBool */
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 || strcasecmp(v, "true") == 0);
}

int acme_ca_trust_load(struct acme_ca_trust *t, const char *resolver, const char *const *files, size_t n_files, bool system,
                       const char *server_name, struct diag *d)
{
    memset(t, 0, sizeof(*t));
    char *env_list = NULL;
    const char *env_files[64];
    if (n_files > 0 || (server_name && *server_name)) {
        t->source = "caCertificates";
    } else {
        const char *env = getenv("LEGO_CA_CERTIFICATES");
        server_name = getenv("LEGO_CA_SERVER_NAME");
        system = env_true(getenv("LEGO_CA_SYSTEM_CERT_POOL"));
        if ((env == NULL || *env == '\0') && (server_name == NULL || *server_name == '\0'))
            return 0; /* the system store, the URL's name */
        t->source = "LEGO_CA_CERTIFICATES";
        n_files = 0;
        if (env && *env) {
            char *save = NULL;
            env_list = mem_strdup(env);
            for (char *p = strtok_r(env_list, ":", &save); p && n_files < 64; p = strtok_r(NULL, ":", &save))
                env_files[n_files++] = p;
        }
        files = env_files;
    }
    if (server_name && *server_name)
        t->server_name = mem_strdup(server_name);
    if (n_files == 0) { /* a name alone: verified against the default store (Traefik: an empty pool) */
        free(env_list);
        return 0;
    }
    FILE *out = open_memstream(&t->pem, &t->pem_len);
    int rc = 0;
    if (system) {
        size_t added;
        if (append_file(out, system_bundle(), &added) != 0)
            rc = diag_set(d, "certificatesResolvers.%s.acme.caSystemCertPool: cannot read the system store %s: %s", resolver,
                          system_bundle(), strerror(errno));
    }
    for (size_t i = 0; i < n_files && rc == 0; i++) {
        size_t before = (fflush(out), t->pem_len), added = 0;
        if (append_file(out, files[i], &added) != 0) {
            rc = diag_set(d, "certificatesResolvers.%s.acme.%s: cannot read %s: %s", resolver, t->source, files[i],
                          strerror(errno));
            break;
        }
        fflush(out);
        if (count_certs(t->pem + before, added) == 0)
            rc = diag_set(d, "certificatesResolvers.%s.acme.%s: %s holds no PEM certificate", resolver, t->source, files[i]);
    }
    fclose(out);
    free(env_list);
    if (rc != 0)
        acme_ca_trust_free(t);
    return rc;
}

void acme_ca_trust_free(struct acme_ca_trust *t)
{
    free(t->pem);
    free(t->server_name);
    memset(t, 0, sizeof(*t));
}
