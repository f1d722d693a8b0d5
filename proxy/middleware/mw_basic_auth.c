/*
 * BasicAuth (Traefik): RFC 7617 credentials checked against htpasswd
 * secrets (auth.c); 401 with `WWW-Authenticate: Basic realm="<realm>"`
 * otherwise. On success the user name goes into <headerField> and, with
 * <removeHeader>, Authorization is not forwarded.
 *
 * bcrypt (~50-100 ms at cost 10) and MD5-crypt (1000 MD5 rounds) would stall
 * every connection of the worker thread on each request, so each worker
 * keeps a small direct-mapped cache of the credentials it verified: slot key
 * = SHA-256(per-instance random salt || Authorization value), value = the
 * user. Only successes are cached (a wrong password costs the full hash each
 * time, as in Traefik); the cache belongs to this configuration, so a new
 * users list starts empty. Traefik instead collapses concurrent identical
 * checks (singleflight) and keeps nothing.
 */
#include "auth.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <strings.h>

#include "../server.h"
#include "../worker.h"

#define BASIC_CACHE_SLOTS 128 /* per worker and middleware: 128 * 40 bytes */

struct basic_cache_slot {
    unsigned char key[32];
    const struct auth_user *user; /* NULL: empty */
};

struct basic_cache {
    struct basic_cache_slot slots[BASIC_CACHE_SLOTS];
} __attribute__((aligned(64))); /* one worker's cache on its own cache lines */

struct basic_auth {
    struct auth_users users;
    struct auth_pass pass;
    const char *challenge;
    size_t challenge_len;
    unsigned char salt[16];
    struct basic_cache *caches; /* [n_caches], one per worker, written only by that worker */
    uint32_t n_caches;
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct basic_auth *c = arena_alloc(a, sizeof(*c));
    if (auth_users_load(a, o, 2, NULL, &c->users, d) != 0)
        return -1;
    const char *realm = mw_opt_string(o, "realm");
    if (realm == NULL || *realm == '\0')
        realm = "traefik";
    c->challenge = arena_printf(a, "Basic realm=\"%s\"", realm);
    c->challenge_len = strlen(c->challenge);
    if (auth_pass_load(a, o, &c->pass, d) != 0)
        return -1;
    if (RAND_bytes(c->salt, sizeof(c->salt)) != 1)
        return diag_set(d, "cannot draw random bytes for the credential cache");
#ifndef GANTRY_BENCH_NO_AUTH_CACHE /* bench/basic_auth_cost.sh builds without the cache to compare */
    c->n_caches = server_worker_count();
#endif
    if (c->n_caches > 0) {
        char *mem = arena_alloc(a, c->n_caches * sizeof(struct basic_cache) + 64);
        c->caches = (struct basic_cache *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
    }
    *cfg = c;
    return 0;
}

/* Go's Request.BasicAuth: "Basic " (any case), standard base64, split at the
 * first ':'. */
static bool parse_credentials(h2o_req_t *req, const h2o_iovec_t *v, h2o_iovec_t *user, h2o_iovec_t *pw)
{
    if (v->len < 6 || strncasecmp(v->base, "basic ", 6) != 0)
        return false;
    unsigned char *buf = h2o_mem_alloc_pool(&req->pool, v->len);
    ssize_t n = auth_base64_decode(v->base + 6, v->len - 6, buf);
    if (n < 0)
        return false;
    unsigned char *colon = memchr(buf, ':', (size_t)n);
    if (colon == NULL)
        return false;
    *user = h2o_iovec_init(buf, (size_t)(colon - buf));
    *pw = h2o_iovec_init(colon + 1, (size_t)(buf + n - colon - 1));
    return true;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct basic_auth *c = cfg;
    h2o_req_t *req = run->req;
    const h2o_iovec_t *v = mw_header_get(&req->headers, H2O_STRLIT("authorization"));
    struct basic_cache_slot *slot = NULL;
    unsigned char key[32];
    const struct auth_user *u = NULL;
    if (v == NULL)
        goto refuse;
    if (c->caches != NULL && run->w != NULL && run->w->id < c->n_caches) {
        h2o_iovec_t parts[] = {{(char *)c->salt, sizeof(c->salt)}, *v};
        auth_sha256(parts, 2, key);
        slot = &c->caches[run->w->id].slots[(key[0] | (unsigned)key[1] << 8) % BASIC_CACHE_SLOTS];
        if (slot->user != NULL && CRYPTO_memcmp(slot->key, key, sizeof(key)) == 0) {
            u = slot->user;
            goto pass;
        }
    }
    h2o_iovec_t user, pw;
    if (!parse_credentials(req, v, &user, &pw) || (u = auth_users_find(&c->users, user.base, user.len)) == NULL ||
        !auth_check_secret(u, pw.base, pw.len))
        goto refuse;
    if (slot != NULL && u->hash != AUTH_HASH_SHA1) { /* SHA-1 costs less than the cache key */
        memcpy(slot->key, key, sizeof(key));
        slot->user = u;
    }
pass:
    auth_pass_apply(&c->pass, req, u);
    return MW_NEXT;
refuse:
    auth_challenge(run, c->challenge, c->challenge_len);
    return MW_ANSWERED;
}

const struct mw_type mw_basic_auth = {"basicAuth", build, on_request, NULL};
