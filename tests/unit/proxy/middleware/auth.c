/* Tests proxy/middleware/auth.c: MD5-crypt against Debian htpasswd -m
 * ($apr1$) and libxcrypt ($1$), every go-http-auth secret format, strict
 * base64, and the users/usersFile loader. */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../../../proxy/middleware/auth.h"
#include "../../test.h"

static bool check_n(const char *secret, const char *pw, size_t pw_len)
{
    struct arena a;
    arena_init(&a);
    const char *keys[] = {"users"};
    char line[512];
    snprintf(line, sizeof(line), "u:%s", secret);
    const char *values[] = {line};
    bool used[1] = {false};
    struct mw_options o = {keys, values, 1, used};
    struct auth_users users;
    struct diag d;
    bool ok = false;
    if (auth_users_load(&a, &o, 2, NULL, &users, &d) == 0 && users.n == 1)
        ok = auth_check_secret(&users.v[0], pw, pw_len);
    arena_free(&a);
    return ok;
}

static bool check(const char *secret, const char *pw)
{
    return check_n(secret, pw, strlen(pw));
}

static int load(const char *const *kv, unsigned fields, const char *realm, struct arena *a, struct auth_users *u, struct diag *d)
{
    size_t n = 0;
    while (kv[2 * n])
        n++;
    const char *keys[8], *values[8];
    bool used[8] = {false};
    for (size_t i = 0; i < n; i++) {
        keys[i] = kv[2 * i];
        values[i] = kv[2 * i + 1];
    }
    struct mw_options o = {keys, values, n, used};
    return auth_users_load(a, &o, fields, realm, u, d);
}

int main(void)
{
    /* MD5-crypt: hashes made by Debian's `htpasswd -nbm` (apache2-utils 2.4) */
    CHECK(check("$apr1$xo5RIT3a$TpTI7AmwkAaFtgKTFOU.j1", "s3cret pw"));
    CHECK(!check("$apr1$xo5RIT3a$TpTI7AmwkAaFtgKTFOU.j1", "s3cret pW"));
    CHECK(check("$apr1$Y/bIrt1d$B4jejgQg1crIwW/8eKdq//", "a:colon"));
    CHECK(check("$apr1$kBrUA8Do$fdQxI2hTqzY4Q.Ebbt0zd/", ""));
    CHECK(check("$apr1$S5TegqGC$NK3vx/DJEsVV1cAYah2Yd/", "this password is much longer than sixteen bytes!"));
    /* Traefik's documentation examples */
    CHECK(check("$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/", "test"));
    CHECK(check("$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0", "test2"));
    CHECK(!check("$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0", "test"));
    /* $1$ is the same algorithm: agree with libxcrypt over lengths and salts */
    const char *salts[] = {"", "a", "abcdefgh", "./AZaz09"};
    for (size_t s = 0; s < 4; s++)
        for (size_t len = 0; len < 70; len += 7) {
            char pw[80], setting[32], mine[64];
            for (size_t i = 0; i < len; i++)
                pw[i] = (char)('!' + (i * 7 + s) % 90);
            pw[len] = '\0';
            snprintf(setting, sizeof(setting), "$1$%s$", salts[s]);
            struct crypt_data cd = {0};
            const char *ref = crypt_rn(pw, setting, &cd, sizeof(cd));
            size_t n = auth_md5crypt(pw, len, "$1$", 3, salts[s], strlen(salts[s]), mine);
            mine[n] = '\0';
            CHECK(ref != NULL);
            CHECK_STR(mine, ref);
            CHECK(check(ref, pw));
        }

    /* bcrypt (htpasswd -B), all four prefixes go-http-auth knows */
    CHECK(check("$2y$05$XcBIuBSe9FWJ.w0Wg6HUXeUV6PzC8Mc0vIPzAMhzB8op4lhCi9tka", "s3cret pw"));
    CHECK(!check("$2y$05$XcBIuBSe9FWJ.w0Wg6HUXeUV6PzC8Mc0vIPzAMhzB8op4lhCi9tka", "s3cret"));
    CHECK(check("$2a$05$XcBIuBSe9FWJ.w0Wg6HUXeUV6PzC8Mc0vIPzAMhzB8op4lhCi9tka", "s3cret pw"));
    CHECK(check("$2b$05$XcBIuBSe9FWJ.w0Wg6HUXeUV6PzC8Mc0vIPzAMhzB8op4lhCi9tka", "s3cret pw"));
    CHECK(check("$2x$05$XcBIuBSe9FWJ.w0Wg6HUXeUV6PzC8Mc0vIPzAMhzB8op4lhCi9tka", "s3cret pw"));
    CHECK(check("$2y$04$btG6NNkeKU4izPEpipo2e.C0VcAxZB9Y4.ydZ1HRwSgBqb0gDEscu", "b"));
    CHECK(!check_n("$2y$04$btG6NNkeKU4izPEpipo2e.C0VcAxZB9Y4.ydZ1HRwSgBqb0gDEscu", "b\0", 2)); /* NUL: refused */
    CHECK(!check("$2y$04$btG6NNkeKU4izPEpipo2e.C0VcAxZB9Y4.ydZ1HRwSgBqb0gDEsc", "b"));         /* truncated hash */
    CHECK(!check("$2y$04$btG6NNkeKU4izPEpipo2e.C0VcAxZB9Y4.ydZ1HRwSgBqb0gDEscuX", "b"));
    /* SHA-1 (htpasswd -s) */
    CHECK(check("{SHA}r+PQ/OnaVl2XSPhlHUY75Onr1SQ=", "s3cret pw"));
    CHECK(!check("{SHA}r+PQ/OnaVl2XSPhlHUY75Onr1SQ=", "s3cret p"));
    CHECK(!check("{SHA}", ""));
    /* what go-http-auth never matches: DES crypt (htpasswd -d), SHA-crypt
     * (htpasswd -2), plain text, a bare "$" */
    CHECK(!check("6c3JIqGoZHp1Y", "s3cret p"));
    CHECK(!check("$5$mr0EXRsCnVEvMwFC$IzKzzcB2sEMMmPQzBv3g4QdZFE2q6HL7uckXCiiOyfD", "x"));
    CHECK(!check("test", "test"));
    CHECK(!check("$", ""));
    CHECK(!check("$apr1$salt", ""));

    /* base64 as Go's StdEncoding */
    unsigned char out[64];
    CHECK(auth_base64_decode("dGVzdDp0ZXN0", 12, out) == 9 && memcmp(out, "test:test", 9) == 0);
    CHECK(auth_base64_decode("YQ==", 4, out) == 1 && out[0] == 'a');
    CHECK(auth_base64_decode("YWI=", 4, out) == 2);
    CHECK(auth_base64_decode("YQ=", 3, out) == -1);
    CHECK(auth_base64_decode("YR==", 4, out) == -1); /* non-zero padding bits */
    CHECK(auth_base64_decode("Y===", 4, out) == -1);
    CHECK(auth_base64_decode("YQ==YQ==", 8, out) == -1);
    CHECK(auth_base64_decode("dGVz dA==", 9, out) == -1);
    CHECK(auth_base64_decode("", 0, out) == 0);

    /* users + usersFile: the file is read, trimmed, comments skipped, users win */
    char path[] = "/tmp/gantry-auth-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char file[] = "# comment\n  test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/  \r\n\n"
                        "test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0\n";
    CHECK(write(fd, file, sizeof(file) - 1) == (ssize_t)sizeof(file) - 1);
    close(fd);
    struct arena a;
    arena_init(&a);
    struct auth_users u;
    struct diag d;
    const char *kv1[] = {"usersFile", path, "users", "test2:{SHA}qUqP5cyxm6YcTAhz05Hph5gvu9M=,zed:x", NULL};
    CHECK(load(kv1, 2, NULL, &a, &u, &d) == 0);
    CHECK(u.n == 3);
    const struct auth_user *t = auth_users_find(&u, "test", 4);
    CHECK(t != NULL && auth_check_secret(t, "test", 4));
    t = auth_users_find(&u, "test2", 5);
    CHECK(t != NULL && t->hash == AUTH_HASH_SHA1 && auth_check_secret(t, "test", 4)); /* users replaced the file's */
    CHECK(auth_users_find(&u, "tes", 3) == NULL && auth_users_find(&u, "test22", 6) == NULL);
    const char *kv2[] = {"usersFile", "/nonexistent/htpasswd", NULL};
    CHECK(load(kv2, 2, NULL, &a, &u, &d) == -1);
    CHECK_CONTAINS(d.msg, "usersFile: cannot read '/nonexistent/htpasswd'");
    const char *kv3[] = {"users", "ok:x,nocolon", NULL};
    CHECK(load(kv3, 2, NULL, &a, &u, &d) == -1);
    CHECK_CONTAINS(d.msg, "users[1]: expected name:hashed-password");
    const char *kv4[] = {"users", "a:b:c", NULL};
    CHECK(load(kv4, 2, NULL, &a, &u, &d) == -1);
    /* htdigest lines: three fields, only the configured realm's users kept */
    const char *kv5[] = {"users", "test:traefik:a2688e031edb4be6a3797f3882655c05,test:other:00,x:other:11", NULL};
    CHECK(load(kv5, 3, "traefik", &a, &u, &d) == 0);
    CHECK(u.n == 1 && strcmp(u.v[0].secret, "a2688e031edb4be6a3797f3882655c05") == 0);
    const char *kv6[] = {"users", "test:a2688e031edb4be6a3797f3882655c05", NULL};
    CHECK(load(kv6, 3, "traefik", &a, &u, &d) == -1);
    CHECK_CONTAINS(d.msg, "users[0]: expected name:realm:encoded-password");
    FILE *f = fopen(path, "w");
    fputs("ok:traefik:00\nbad line\n", f);
    fclose(f);
    const char *kv7[] = {"usersFile", path, NULL};
    CHECK(load(kv7, 3, "traefik", &a, &u, &d) == -1);
    CHECK_CONTAINS(d.msg, "usersFile line 2: expected name:realm:encoded-password");
    unlink(path);
    arena_free(&a);

    char hex[33];
    h2o_iovec_t parts[] = {{(char *)"test:traefik:", 13}, {(char *)"test", 4}};
    auth_md5_hex(parts, 2, hex);
    CHECK_STR(hex, "a2688e031edb4be6a3797f3882655c05");
    return test_report("proxy/middleware/auth");
}
