/*
 * Shared by basicAuth and digestAuth (see auth.h): the user list, htpasswd
 * secret checks and the 401 challenge.
 *
 * Secret formats are go-http-auth's CheckSecret, which Traefik uses: "{SHA}"
 * is SHA-1, "$2a$", "$2b$", "$2x$" and "$2y$" are bcrypt (libxcrypt, always
 * computed as $2b$ because Go's bcrypt ignores the minor version), and any
 * other "$magic$salt$hash" is MD5-crypt with that magic (Apache's $apr1$ and
 * crypt's $1$; libxcrypt has no $apr1$, so MD5-crypt is done here on
 * OpenSSL's MD5). Everything else (plain text, DES crypt, SHA-crypt) never
 * matches, as in Traefik.
 */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Message digests fetched once: an implicit fetch per call costs a lookup
 * under a lock in OpenSSL 3. */
static EVP_MD *md_md5, *md_sha1, *md_sha256;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void md_fetch(void)
{
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
    md_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
    md_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (md_md5 == NULL || md_sha1 == NULL || md_sha256 == NULL)
        abort(); /* the default provider always has them */
}

static void digest(EVP_MD_CTX *ctx, const EVP_MD *md, const h2o_iovec_t *parts, size_t n, unsigned char *out)
{
    EVP_DigestInit_ex(ctx, md, NULL);
    for (size_t i = 0; i < n; i++)
        EVP_DigestUpdate(ctx, parts[i].base, parts[i].len);
    EVP_DigestFinal_ex(ctx, out, NULL);
}

static void digest_once(const EVP_MD *md, const h2o_iovec_t *parts, size_t n, unsigned char *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        abort();
    digest(ctx, md, parts, n, out);
    EVP_MD_CTX_free(ctx);
}

void auth_sha256(const h2o_iovec_t *parts, size_t n, unsigned char out[32])
{
    pthread_once(&md_once, md_fetch);
    digest_once(md_sha256, parts, n, out);
}

void auth_md5_hex(const h2o_iovec_t *parts, size_t n, char out[33])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[16];
    pthread_once(&md_once, md_fetch);
    digest_once(md_md5, parts, n, md);
    for (int i = 0; i < 16; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[32] = '\0';
}

/* ---- MD5-crypt (Poul-Henning Kamp's algorithm; $apr1$ differs only by its magic) ---- */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static char *to64(char *p, uint32_t v, int n)
{
    while (n-- > 0) {
        *p++ = itoa64[v & 0x3f];
        v >>= 6;
    }
    return p;
}

size_t auth_md5crypt(const char *pw, size_t pw_len, const char *magic, size_t magic_len, const char *salt, size_t salt_len,
                     char *out)
{
    pthread_once(&md_once, md_fetch);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        abort();
    unsigned char alt[16], fin[16];
    h2o_iovec_t alt_parts[] = {{(char *)pw, pw_len}, {(char *)salt, salt_len}, {(char *)pw, pw_len}};
    digest(ctx, md_md5, alt_parts, 3, alt);

    EVP_DigestInit_ex(ctx, md_md5, NULL);
    EVP_DigestUpdate(ctx, pw, pw_len);
    EVP_DigestUpdate(ctx, magic, magic_len);
    EVP_DigestUpdate(ctx, salt, salt_len);
    for (size_t left = pw_len; left > 0; left -= left > 16 ? 16 : left)
        EVP_DigestUpdate(ctx, alt, left > 16 ? 16 : left);
    /* the bits of the length pick a NUL or the first password byte */
    for (size_t i = pw_len; i != 0; i >>= 1)
        EVP_DigestUpdate(ctx, (i & 1) ? "" : pw, 1);
    EVP_DigestFinal_ex(ctx, fin, NULL);

    for (int i = 0; i < 1000; i++) {
        EVP_DigestInit_ex(ctx, md_md5, NULL);
        if (i & 1)
            EVP_DigestUpdate(ctx, pw, pw_len);
        else
            EVP_DigestUpdate(ctx, fin, 16);
        if (i % 3)
            EVP_DigestUpdate(ctx, salt, salt_len);
        if (i % 7)
            EVP_DigestUpdate(ctx, pw, pw_len);
        if (i & 1)
            EVP_DigestUpdate(ctx, fin, 16);
        else
            EVP_DigestUpdate(ctx, pw, pw_len);
        EVP_DigestFinal_ex(ctx, fin, NULL);
    }
    EVP_MD_CTX_free(ctx);

    char *p = out;
    memcpy(p, magic, magic_len);
    p += magic_len;
    memcpy(p, salt, salt_len);
    p += salt_len;
    *p++ = '$';
    static const int order[5][3] = {{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}};
    for (int i = 0; i < 5; i++)
        p = to64(p, ((uint32_t)fin[order[i][0]] << 16) | ((uint32_t)fin[order[i][1]] << 8) | fin[order[i][2]], 4);
    p = to64(p, fin[11], 2);
    OPENSSL_cleanse(fin, sizeof(fin));
    OPENSSL_cleanse(alt, sizeof(alt));
    return (size_t)(p - out);
}

/* ---- base64 ---- */

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

ssize_t auth_base64_decode(const char *in, size_t len, unsigned char *out)
{
    if (len % 4 != 0)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)in[i + j];
            if (c == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad || (v[j] = b64_value(c)) < 0)
                return -1; /* data after padding, or not in the alphabet */
        }
        uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
        /* Go refuses non-zero bits under the padding ("illegal base64 data") */
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (ssize_t)o;
}

/* ---- secrets ---- */

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

/* Decides once how <u>'s secret is checked (go-http-auth's prefix table). */
static void classify(struct arena *a, struct auth_user *u)
{
    const char *s = u->secret;
    u->hash = AUTH_HASH_NEVER;
    if (*s == '\0')
        return; /* Traefik: an empty secret never matches */
    if (has_prefix(s, "{SHA}")) {
        u->hash = AUTH_HASH_SHA1;
    } else if (has_prefix(s, "$2a$") || has_prefix(s, "$2b$") || has_prefix(s, "$2x$") || has_prefix(s, "$2y$")) {
        char *setting = arena_strdup(a, s);
        setting[2] = 'b';
        u->bcrypt_setting = setting;
        u->hash = AUTH_HASH_BCRYPT;
    } else if (s[0] == '$') {
        /* "$magic$salt$hash": the computed hash is 22 characters of itoa64,
         * so anything else can never match */
        const char *m_end = strchr(s + 1, '$');
        const char *s_end = m_end ? strchr(m_end + 1, '$') : NULL;
        if (s_end == NULL || strlen(s_end + 1) != 22 || strspn(s_end + 1, itoa64) != 22)
            return;
        u->magic_len = (size_t)(m_end - s) + 1;
        u->salt_off = u->magic_len;
        u->salt_len = (size_t)(s_end - m_end) - 1;
        u->hash = AUTH_HASH_MD5CRYPT;
    }
}

bool auth_check_secret(const struct auth_user *u, const char *pw, size_t len)
{
    switch (u->hash) {
    case AUTH_HASH_SHA1: {
        unsigned char md[20];
        char b64[32];
        pthread_once(&md_once, md_fetch);
        h2o_iovec_t part = {(char *)pw, len};
        digest_once(md_sha1, &part, 1, md);
        int n = EVP_EncodeBlock((unsigned char *)b64, md, sizeof(md));
        return u->secret_len - 5 == (size_t)n && CRYPTO_memcmp(u->secret + 5, b64, (size_t)n) == 0;
    }
    case AUTH_HASH_BCRYPT: {
        /* crypt_rn reads a C string; Go's bcrypt keys on every byte, so a
         * password holding a NUL is refused rather than cut short */
        if (memchr(pw, '\0', len) != NULL)
            return false;
        char *p = strndup(pw, len);
        struct crypt_data *cd = calloc(1, sizeof(*cd));
        if (p == NULL || cd == NULL)
            abort();
        const char *r = crypt_rn(p, u->bcrypt_setting, cd, sizeof(*cd));
        bool ok = r != NULL && r[0] != '*' && strlen(r) == u->secret_len && CRYPTO_memcmp(r, u->bcrypt_setting, u->secret_len) == 0;
        OPENSSL_cleanse(p, len);
        OPENSSL_cleanse(cd, sizeof(*cd));
        free(p);
        free(cd);
        return ok;
    }
    case AUTH_HASH_MD5CRYPT: {
        char out[u->magic_len + u->salt_len + 24];
        size_t n = auth_md5crypt(pw, len, u->secret, u->magic_len, u->secret + u->salt_off, u->salt_len, out);
        return n == u->secret_len && CRYPTO_memcmp(out, u->secret, n) == 0;
    }
    case AUTH_HASH_NEVER:
        break;
    }
    return false;
}

/* ---- user lists ---- */

struct user_line {
    struct auth_user u;
    size_t seq;
};

static int line_cmp(const void *pa, const void *pb)
{
    const struct user_line *a = pa, *b = pb;
    int c = strcmp(a->u.name, b->u.name);
    if (c != 0)
        return c;
    return a->seq < b->seq ? 1 : -1; /* the later line first */
}

static int user_cmp(const void *key, const void *elem)
{
    const h2o_iovec_t *k = key;
    const struct auth_user *u = elem;
    size_t n = k->len < u->name_len ? k->len : u->name_len;
    int c = memcmp(k->base, u->name, n);
    return c != 0 ? c : k->len < u->name_len ? -1 : k->len > u->name_len ? 1 : 0;
}

const struct auth_user *auth_users_find(const struct auth_users *u, const char *name, size_t len)
{
    h2o_iovec_t k = {(char *)name, len};
    return u->n ? bsearch(&k, u->v, u->n, sizeof(*u->v), user_cmp) : NULL;
}

/* One "name:hash" or "name:realm:HA1" line into <lines>; -1 when it does
 * not split into <fields> parts (the line is not echoed: it holds a secret). */
static int add_line(struct arena *a, struct ptr_vec *lines, const char *line, unsigned fields, const char *realm, const char *where,
                    struct diag *d)
{
    const char *c1 = strchr(line, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (c1 == NULL || (fields == 2 && c2 != NULL) || (fields == 3 && (c2 == NULL || c3 != NULL)))
        return diag_set(d, "%s: expected %s", where, fields == 2 ? "name:hashed-password" : "name:realm:encoded-password");
    const char *secret = fields == 2 ? c1 + 1 : c2 + 1;
    if (fields == 3 && ((size_t)(c2 - c1 - 1) != strlen(realm) || memcmp(c1 + 1, realm, strlen(realm)) != 0))
        return 0; /* another realm's user: Traefik never looks it up */
    struct user_line *l = arena_alloc(a, sizeof(*l));
    l->u.name = arena_strndup(a, line, (size_t)(c1 - line));
    l->u.name_len = (size_t)(c1 - line);
    l->u.secret = arena_strdup(a, secret);
    l->u.secret_len = strlen(secret);
    l->seq = lines->len;
    if (fields == 2)
        classify(a, &l->u);
    ptr_vec_push(a, lines, l);
    return 0;
}

static int load_file(struct arena *a, const char *path, struct ptr_vec *lines, unsigned fields, const char *realm, struct diag *d)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return diag_set(d, "usersFile: cannot read '%s': %s", path, strerror(errno));
    char *buf = mem_alloc(AUTH_USERS_FILE_MAX + 1);
    size_t len = fread(buf, 1, AUTH_USERS_FILE_MAX + 1, f);
    int err = ferror(f) ? errno : 0, rc = 0;
    fclose(f);
    if (err != 0)
        rc = diag_set(d, "usersFile: cannot read '%s': %s", path, strerror(err));
    else if (len > AUTH_USERS_FILE_MAX)
        rc = diag_set(d, "usersFile: '%s' is larger than %u bytes", path, AUTH_USERS_FILE_MAX);
    buf[len < AUTH_USERS_FILE_MAX ? len : AUTH_USERS_FILE_MAX] = '\0';
    size_t lineno = 0;
    for (char *p = buf; rc == 0 && *p;) {
        char *nl = strchr(p, '\n'), *next = nl ? nl + 1 : p + strlen(p);
        if (nl)
            *nl = '\0';
        lineno++;
        /* Go's strings.TrimSpace */
        char *s = p, *e = p + strlen(p);
        while (s < e && strchr(" \t\r\v\f", *s))
            s++;
        while (e > s && strchr(" \t\r\v\f", e[-1]))
            e--;
        *e = '\0';
        if (*s != '\0' && *s != '#') {
            char where[64];
            snprintf(where, sizeof(where), "usersFile line %zu", lineno);
            rc = add_line(a, lines, s, fields, realm, where, d);
        }
        p = next;
    }
    OPENSSL_cleanse(buf, len < AUTH_USERS_FILE_MAX ? len : AUTH_USERS_FILE_MAX);
    free(buf);
    return rc;
}

int auth_users_load(struct arena *a, struct mw_options *o, unsigned fields, const char *realm, struct auth_users *out,
                    struct diag *d)
{
    struct ptr_vec lines = {0};
    const char *file = mw_opt_string(o, "usersFile");
    if (file != NULL && *file != '\0' && load_file(a, file, &lines, fields, realm, d) != 0)
        return -1;
    size_t n;
    const char **users = mw_opt_list(a, o, "users", &n);
    for (size_t i = 0; i < n; i++) {
        char where[32];
        snprintf(where, sizeof(where), "users[%zu]", i);
        if (add_line(a, &lines, users[i], fields, realm, where, d) != 0)
            return -1;
    }
    struct user_line *tmp = mem_calloc(lines.len ? lines.len : 1, sizeof(*tmp));
    for (size_t i = 0; i < lines.len; i++)
        tmp[i] = *(struct user_line *)lines.items[i];
    qsort(tmp, lines.len, sizeof(*tmp), line_cmp);
    out->v = arena_alloc(a, (lines.len ? lines.len : 1) * sizeof(*out->v));
    out->n = 0;
    for (size_t i = 0; i < lines.len; i++)
        if (out->n == 0 || strcmp(out->v[out->n - 1].name, tmp[i].u.name) != 0)
            out->v[out->n++] = tmp[i].u;
    free(tmp);
    return 0;
}

/* ---- the challenge ---- */

int auth_pass_load(struct arena *a, struct mw_options *o, struct auth_pass *out, struct diag *d)
{
    *out = (struct auth_pass){NULL, 0, false};
    const char *field = mw_opt_string(o, "headerField");
    if (field != NULL && *field != '\0') {
        out->header_field = arena_strdup(a, field);
        out->header_field_len = strlen(field);
    }
    return mw_opt_bool(o, "removeHeader", false, &out->remove_header, d);
}

void auth_pass_apply(const struct auth_pass *p, h2o_req_t *req, const struct auth_user *u)
{
    if (p->header_field != NULL)
        mw_header_set(req, &req->headers, p->header_field, p->header_field_len, u->name, u->name_len);
    if (p->remove_header)
        mw_header_unset(&req->headers, H2O_STRLIT("authorization"));
}

void auth_challenge(struct mw_run *run, const char *challenge, size_t len)
{
    static const char body[] = "401 Unauthorized\n";
    h2o_req_t *req = run->req;
    req->res.headers = (h2o_headers_t){NULL};
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, h2o_strdup(&req->pool, challenge, len).base,
                   len);
    mw_send(run, 401, "Unauthorized", h2o_iovec_init(body, sizeof(body) - 1));
}
