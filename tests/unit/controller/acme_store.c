/* Tests controller/acme/acme_store.c: acme.json in Traefik's format,
 * written atomically with mode 0600 and read back. */
#include "../../../controller/acme/acme_store.c"

#include <sys/stat.h>

#include "test.h"

int main(void)
{
    char dir[] = "/tmp/gantry-acme-store-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/acme.json", dir);
    struct diag d;

    cJSON *root = acme_store_load(path, &d); /* missing: empty */
    CHECK(cJSON_IsObject(root) && cJSON_GetArraySize(root) == 0);
    cJSON *res = acme_store_resolver(root, "le");
    const char *uri, *key;
    CHECK(acme_store_account(res, &uri, &key) == -1);
    acme_store_set_account(res, "ops@example.test", "https://ca/acct/7", "S0VZ", "P256");
    const char *sans[] = {"www.a.test"};
    acme_store_put_cert(res, "a.test", sans, 1, "-----BEGIN CERTIFICATE-----\nA\n", "-----BEGIN PRIVATE KEY-----\nK\n");
    acme_store_put_cert(res, "b.test", NULL, 0, "B", "KB");
    acme_store_put_cert(res, "a.test", sans, 1, "A2", "KA2"); /* replaces the first */
    CHECK(acme_store_save(path, root, &d) == 0);
    cJSON_Delete(root);

    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    root = acme_store_load(path, &d);
    CHECK(root != NULL);
    res = acme_store_resolver(root, "le");
    CHECK(acme_store_account(res, &uri, &key) == 0);
    CHECK_STR(uri, "https://ca/acct/7");
    CHECK_STR(key, "S0VZ");
    /* Traefik's field names and shapes */
    cJSON *acct = cJSON_GetObjectItemCaseSensitive(res, "Account");
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(acct, "Email")->valuestring, "ops@example.test");
    CHECK(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(acct, "Registration"), "body"), "contact")));
    CHECK(acme_store_cert_count(res) == 2);
    const char *buf[4];
    struct acme_store_cert c;
    CHECK(acme_store_cert_get(res, 0, &c, buf, 4) == 0);
    CHECK_STR(c.main, "b.test");
    CHECK(c.n_sans == 0);
    CHECK_STR(c.cert_pem, "B");
    free(c.cert_pem);
    free(c.key_pem);
    CHECK(acme_store_cert_get(res, 1, &c, buf, 4) == 0);
    CHECK_STR(c.main, "a.test");
    CHECK(c.n_sans == 1);
    CHECK_STR(c.sans[0], "www.a.test");
    CHECK_STR(c.cert_pem, "A2");
    CHECK_STR(c.key_pem, "KA2");
    free(c.cert_pem);
    free(c.key_pem);
    cJSON *stored = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "Certificates"), 1);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(stored, "certificate")->valuestring, "QTI="); /* base64 of the PEM bytes */
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(stored, "Store")->valuestring, "default");
    CHECK(acme_store_cert_get(res, 5, &c, buf, 4) == -1);

    /* the CA's pause: kept through a save, beside Traefik's two fields only, removed again */
    const char *nb, *ca;
    CHECK(acme_store_pause(res, &nb, &ca) == -1);
    acme_store_set_pause(res, "2026-12-05T12:30:00Z", "https://ca/dir");
    CHECK(acme_store_save(path, root, &d) == 0);
    cJSON_Delete(root);
    root = acme_store_load(path, &d);
    res = acme_store_resolver(root, "le");
    CHECK(acme_store_pause(res, &nb, &ca) == 0);
    CHECK_STR(nb, "2026-12-05T12:30:00Z");
    CHECK_STR(ca, "https://ca/dir");
    CHECK(cJSON_GetArraySize(res) == 3 && cJSON_GetObjectItemCaseSensitive(res, "GantryRetryAfter") != NULL);
    CHECK(acme_store_account(res, &uri, &key) == 0 && acme_store_cert_count(res) == 2);
    acme_store_set_pause(res, NULL, NULL);
    CHECK(acme_store_pause(res, &nb, &ca) == -1 && cJSON_GetArraySize(res) == 2);
    cJSON_Delete(root);

    /* an empty file (Traefik creates one before its first write) and a broken one */
    FILE *f = fopen(path, "w");
    fclose(f);
    root = acme_store_load(path, &d);
    CHECK(cJSON_IsObject(root));
    cJSON_Delete(root);
    f = fopen(path, "w");
    fputs("[1,2", f);
    fclose(f);
    CHECK(acme_store_load(path, &d) == NULL && strstr(d.msg, "not a JSON object") != NULL);
    unlink(path);
    rmdir(dir);
    return test_report("controller/acme_store");
}
