/* Tests controller/acme/acme_ca_trust.c: caCertificates alone, with the
 * system store (caSystemCertPool), caServerName alone, the LEGO_CA_*
 * variables when no option is set (and ignored when one is), and files
 * that are missing or hold no certificate. */
#include "../../../controller/acme/acme_ca_trust.c"

#include <unistd.h>

#include "test.h"

/* A self-signed certificate written to <path> (PEM). */
static void write_cert(const char *path)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"test ca", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, k);
    X509_sign(x, k, EVP_sha256());
    FILE *f = fopen(path, "w");
    PEM_write_X509(f, x);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(k);
}

int main(void)
{
    char dir[] = "/tmp/acme_ca_trust.XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char a[256], b[256], empty[256], missing[256];
    snprintf(a, sizeof(a), "%s/a.pem", dir);
    snprintf(b, sizeof(b), "%s/b.pem", dir);
    snprintf(empty, sizeof(empty), "%s/empty.pem", dir);
    snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
    write_cert(a);
    write_cert(b);
    fclose(fopen(empty, "w"));
    unsetenv("LEGO_CA_CERTIFICATES");
    unsetenv("LEGO_CA_SERVER_NAME");
    unsetenv("LEGO_CA_SYSTEM_CERT_POOL");
    struct acme_ca_trust t;
    struct diag d;

    /* nothing set: libcurl's default store, the URL's name */
    CHECK(acme_ca_trust_load(&t, "r", NULL, 0, false, NULL, &d) == 0);
    CHECK(t.pem == NULL && t.server_name == NULL && t.source == NULL);

    /* caCertificates: exactly those certificates */
    const char *two[] = {a, b};
    CHECK(acme_ca_trust_load(&t, "r", two, 2, false, NULL, &d) == 0);
    CHECK(t.pem != NULL && count_certs(t.pem, t.pem_len) == 2);
    CHECK_STR(t.source, "caCertificates");
    acme_ca_trust_free(&t);

    /* caSystemCertPool: the system bundle first, then the files */
    CHECK(acme_ca_trust_load(&t, "r", two, 1, true, NULL, &d) == 0);
    int with_system = count_certs(t.pem, t.pem_len);
    CHECK(with_system > 1);
    acme_ca_trust_free(&t);

    /* caServerName alone: the name, the default store */
    CHECK(acme_ca_trust_load(&t, "r", NULL, 0, false, "ca.internal", &d) == 0);
    CHECK(t.pem == NULL);
    CHECK_STR(t.server_name, "ca.internal");
    acme_ca_trust_free(&t);

    /* the environment when no option is set */
    char both[600];
    snprintf(both, sizeof(both), "%s:%s", a, b);
    setenv("LEGO_CA_CERTIFICATES", both, 1);
    setenv("LEGO_CA_SERVER_NAME", "env.internal", 1);
    CHECK(acme_ca_trust_load(&t, "r", NULL, 0, false, NULL, &d) == 0);
    CHECK(count_certs(t.pem, t.pem_len) == 2);
    CHECK_STR(t.server_name, "env.internal");
    CHECK_STR(t.source, "LEGO_CA_CERTIFICATES");
    acme_ca_trust_free(&t);
    setenv("LEGO_CA_SYSTEM_CERT_POOL", "true", 1);
    CHECK(acme_ca_trust_load(&t, "r", NULL, 0, false, NULL, &d) == 0);
    CHECK(count_certs(t.pem, t.pem_len) == with_system + 1);
    acme_ca_trust_free(&t);
    /* ... and not when an option is: the options alone decide (Traefik) */
    CHECK(acme_ca_trust_load(&t, "r", two, 1, false, NULL, &d) == 0);
    CHECK(count_certs(t.pem, t.pem_len) == 1 && t.server_name == NULL);
    acme_ca_trust_free(&t);
    unsetenv("LEGO_CA_CERTIFICATES");
    unsetenv("LEGO_CA_SERVER_NAME");
    unsetenv("LEGO_CA_SYSTEM_CERT_POOL");

    /* refused: a missing file, a file without a certificate (named with the option) */
    const char *bad[] = {a, missing};
    CHECK(acme_ca_trust_load(&t, "r", bad, 2, false, NULL, &d) == -1);
    CHECK(strstr(d.msg, "certificatesResolvers.r.acme.caCertificates: cannot read") != NULL && strstr(d.msg, missing) != NULL);
    CHECK(t.pem == NULL);
    const char *none[] = {empty};
    CHECK(acme_ca_trust_load(&t, "r", none, 1, false, NULL, &d) == -1);
    CHECK(strstr(d.msg, "holds no PEM certificate") != NULL);

    unlink(a);
    unlink(b);
    unlink(empty);
    rmdir(dir);
    return test_report("controller/acme_ca_trust");
}
