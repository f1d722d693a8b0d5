/*
 * What basicAuth and digestAuth share (auth.c): the user list (the `users`
 * option plus an htpasswd/htdigest `usersFile`, read once at build time),
 * htpasswd secret verification the way Traefik's go-http-auth CheckSecret
 * does it, and the 401 challenge.
 */
#ifndef GANTRY_MW_AUTH_H
#define GANTRY_MW_AUTH_H

#include <sys/types.h>

#include "middleware.h"

/* How a basicAuth secret is checked, decided at build time. */
enum auth_hash {
    AUTH_HASH_NEVER,    /* a format go-http-auth never matches (plain text, DES crypt, $5$, $6$, empty) */
    AUTH_HASH_SHA1,     /* {SHA}base64(sha1(password)) */
    AUTH_HASH_BCRYPT,   /* $2a$ $2b$ $2x$ $2y$ (computed as $2b$, like Go's bcrypt) */
    AUTH_HASH_MD5CRYPT, /* $<magic>$<salt>$<22 chars>: $apr1$ and $1$ */
};

struct auth_user {
    const char *name; /* basicAuth: the user; digestAuth: the user of the configured realm */
    const char *secret;
    size_t name_len, secret_len;
    enum auth_hash hash;
    /* AUTH_HASH_BCRYPT: <secret> with its prefix rewritten to $2b$ */
    const char *bcrypt_setting;
    /* AUTH_HASH_MD5CRYPT: "$magic$" and the salt, inside <secret> */
    size_t magic_len, salt_off, salt_len;
};

struct auth_users {
    struct auth_user *v; /* sorted by name, names unique (a later line wins) */
    size_t n;
};

/* Largest usersFile read. */
#define AUTH_USERS_FILE_MAX (16u << 20)

/* Reads `usersFile` (lines trimmed, blank and '#' lines skipped; a file that
 * cannot be read refuses the middleware), then `users`, each line split on
 * ':' into exactly <fields> parts (2: "name:hash", 3: "name:realm:HA1"); a
 * later line replaces an earlier one of the same key, so `users` wins over
 * the file (Traefik's behaviour). digestAuth (<fields> 3) keeps the lines of
 * <realm> only, keyed by name. Watcher thread. */
int auth_users_load(struct arena *a, struct mw_options *o, unsigned fields, const char *realm, struct auth_users *out,
                    struct diag *d) WARN_UNUSED;
const struct auth_user *auth_users_find(const struct auth_users *u, const char *name, size_t len);

/* Whether <pw> matches <u>'s htpasswd secret, in constant time for a given
 * secret. bcrypt and MD5-crypt are slow on purpose: callers cache. */
bool auth_check_secret(const struct auth_user *u, const char *pw, size_t len);

/* "$<magic>$<salt>$<hash>" with the MD5-crypt algorithm (what $1$ and
 * Apache's $apr1$ are) into <out> (at least magic_len + salt_len + 24 bytes).
 * Returns the length written. */
size_t auth_md5crypt(const char *pw, size_t pw_len, const char *magic, size_t magic_len, const char *salt, size_t salt_len,
                     char *out);

/* Standard base64 with padding, strict (Go's StdEncoding): -1 on bad input.
 * <out> holds at least len / 4 * 3 bytes. */
ssize_t auth_base64_decode(const char *in, size_t len, unsigned char *out);

/* MD5 of the concatenated <parts> as 32 lowercase hex digits + NUL. */
void auth_md5_hex(const h2o_iovec_t *parts, size_t n, char out[33]);
void auth_sha256(const h2o_iovec_t *parts, size_t n, unsigned char out[32]);

/* What an authenticated request carries on: `headerField` names a request
 * header set to the user's name, `removeHeader` drops Authorization. */
struct auth_pass {
    const char *header_field; /* NULL: none */
    size_t header_field_len;
    bool remove_header;
};
int auth_pass_load(struct arena *a, struct mw_options *o, struct auth_pass *out, struct diag *d) WARN_UNUSED;
void auth_pass_apply(const struct auth_pass *p, h2o_req_t *req, const struct auth_user *u);

/* Answers 401 the way go-http-auth does: Content-Type: text/plain,
 * WWW-Authenticate: <challenge>, body "401 Unauthorized\n" (mw_send: the
 * earlier middlewares' response hooks see it, and may take it over). */
void auth_challenge(struct mw_run *run, const char *challenge, size_t len);

#endif
