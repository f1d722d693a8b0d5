/*
 * acme.json (see acme_store.h). Reading happens once at start; writing
 * after an account is made or a certificate issued, a few times a day at
 * most, so the whole document is rewritten each time.
 */
#include "acme_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/arena.h"
#include "acme_crypto.h"

#define MAX_STORE (64 * 1024 * 1024)

cJSON *acme_store_load(const char *path, struct diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return cJSON_CreateObject();
        diag_set(d, "acme storage %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size > MAX_STORE) {
        close(fd);
        diag_set(d, "acme storage %s: unreadable or larger than %d bytes", path, MAX_STORE);
        return NULL;
    }
    char *buf = mem_alloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    buf[got] = '\0';
    /* Traefik creates an empty file before its first write */
    cJSON *root = got == 0 ? cJSON_CreateObject() : cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        diag_set(d, "acme storage %s: not a JSON object", path);
        return NULL;
    }
    return root;
}

int acme_store_save(const char *path, const cJSON *root, struct diag *d)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    char *text = cJSON_Print(root);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        free(text);
        return diag_set(d, "acme storage %s: %s", tmp, strerror(errno));
    }
    size_t len = strlen(text), done = 0;
    while (done < len) {
        ssize_t w = write(fd, text + done, len - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    free(text);
    int ok = done == len && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return diag_set(d, "acme storage %s: %s", path, strerror(e));
    }
    return 0;
}

cJSON *acme_store_resolver(cJSON *root, const char *name)
{
    cJSON *res = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!cJSON_IsObject(res)) {
        cJSON_DeleteItemFromObjectCaseSensitive(root, name);
        res = cJSON_AddObjectToObject(root, name);
    }
    if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(res, "Certificates"))) {
        cJSON_DeleteItemFromObjectCaseSensitive(res, "Certificates");
        cJSON_AddArrayToObject(res, "Certificates");
    }
    return res;
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int acme_store_account(const cJSON *res, const char **uri, const char **key_b64)
{
    const cJSON *acct = cJSON_GetObjectItemCaseSensitive(res, "Account");
    *uri = str(cJSON_GetObjectItemCaseSensitive(acct, "Registration"), "uri");
    *key_b64 = str(acct, "PrivateKey");
    return *key_b64 ? 0 : -1;
}

void acme_store_set_account(cJSON *res, const char *email, const char *uri, const char *key_b64, const char *key_type)
{
    cJSON_DeleteItemFromObjectCaseSensitive(res, "Account");
    cJSON *acct = cJSON_AddObjectToObject(res, "Account");
    cJSON_AddStringToObject(acct, "Email", email ? email : "");
    cJSON *reg = cJSON_AddObjectToObject(acct, "Registration");
    cJSON *body = cJSON_AddObjectToObject(reg, "body");
    cJSON_AddStringToObject(body, "status", "valid");
    if (email && *email) {
        char mail[512];
        snprintf(mail, sizeof(mail), "mailto:%s", email);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "contact"), cJSON_CreateString(mail));
    }
    cJSON_AddStringToObject(reg, "uri", uri ? uri : "");
    cJSON_AddStringToObject(acct, "PrivateKey", key_b64);
    cJSON_AddStringToObject(acct, "KeyType", key_type);
}

#define PAUSE_KEY "GantryRetryAfter"

int acme_store_pause(const cJSON *res, const char **not_before, const char **ca_server)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(res, PAUSE_KEY);
    *not_before = str(p, "notBefore");
    *ca_server = str(p, "caServer");
    return *not_before && *ca_server ? 0 : -1;
}

void acme_store_set_pause(cJSON *res, const char *not_before, const char *ca_server)
{
    cJSON_DeleteItemFromObjectCaseSensitive(res, PAUSE_KEY);
    if (not_before == NULL)
        return;
    cJSON *p = cJSON_AddObjectToObject(res, PAUSE_KEY);
    cJSON_AddStringToObject(p, "notBefore", not_before);
    cJSON_AddStringToObject(p, "caServer", ca_server ? ca_server : "");
}

size_t acme_store_cert_count(const cJSON *res)
{
    return (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(res, "Certificates"));
}

static char *decode_text(const char *b64)
{
    size_t n;
    unsigned char *p = b64 ? acme_b64_decode(b64, &n) : NULL;
    if (p == NULL)
        return NULL;
    char *s = mem_alloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    free(p);
    return s;
}

int acme_store_cert_get(const cJSON *res, size_t i, struct acme_store_cert *out, const char **sans_buf, size_t sans_cap)
{
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "Certificates"), (int)i);
    const cJSON *dom = cJSON_GetObjectItemCaseSensitive(c, "domain");
    *out = (struct acme_store_cert){.main = str(dom, "main"), .sans = sans_buf};
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(dom, "sans"))
    {
        if (cJSON_IsString(s) && out->n_sans < sans_cap)
            sans_buf[out->n_sans++] = s->valuestring;
    }
    if (out->main == NULL)
        return -1;
    out->cert_pem = decode_text(str(c, "certificate"));
    out->key_pem = decode_text(str(c, "key"));
    if (out->cert_pem == NULL || out->key_pem == NULL) {
        free(out->cert_pem);
        free(out->key_pem);
        return -1;
    }
    return 0;
}

void acme_store_put_cert(cJSON *res, const char *main, const char *const *sans, size_t n_sans, const char *cert_pem,
                         const char *key_pem)
{
    cJSON *arr = cJSON_GetObjectItemCaseSensitive(res, "Certificates");
    int n = cJSON_GetArraySize(arr);
    for (int i = n - 1; i >= 0; i--) {
        const char *m = str(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "domain"), "main");
        if (m && strcmp(m, main) == 0)
            cJSON_DeleteItemFromArray(arr, i);
    }
    cJSON *c = cJSON_CreateObject();
    cJSON *dom = cJSON_AddObjectToObject(c, "domain");
    cJSON_AddStringToObject(dom, "main", main);
    if (n_sans) {
        cJSON *a = cJSON_AddArrayToObject(dom, "sans");
        for (size_t i = 0; i < n_sans; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(sans[i]));
    }
    char *cb = acme_b64((const unsigned char *)cert_pem, strlen(cert_pem));
    char *kb = acme_b64((const unsigned char *)key_pem, strlen(key_pem));
    cJSON_AddStringToObject(c, "certificate", cb);
    cJSON_AddStringToObject(c, "key", kb);
    cJSON_AddStringToObject(c, "Store", "default");
    free(cb);
    free(kb);
    cJSON_AddItemToArray(arr, c);
}
