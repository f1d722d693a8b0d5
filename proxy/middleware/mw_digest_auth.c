/*
 * DigestAuth (Traefik): RFC 2617/7616 digest access authentication as
 * Traefik's go-http-auth fork implements it: MD5 only, qop="auth" only, an
 * opaque value per middleware that the client must echo, the nonce count
 * strictly increasing per nonce (a repeat is a replay and gets a plain 401,
 * a lower one an out-of-order request and gets stale="true"), no
 * Authentication-Info on success.
 *
 * Nonces: 8 bytes of issue time (seconds) + 8 random bytes + the first 12
 * bytes of HMAC-SHA256(instance secret, those 16), in hex. A nonce we did
 * not make is refused without any state. The nonce counts live in one table
 * per middleware shared by the workers (a nonce's later requests may land on
 * any worker): NONCE_SLOTS 64-bit atomic words, each (32-bit tag of a nonce,
 * last nonce count), the slot and tag taken from the nonce's random bytes.
 * Issuing a nonce claims its slot with count 0; a nonce whose slot another
 * nonce has since claimed is dead and gets stale="true" (the client retries
 * with the new nonce without asking the user again), as does one older than
 * NONCE_LIFETIME_S. go-http-auth keeps a map of the last 1000-1100 nonces
 * under a lock instead, without expiry.
 */
#include "auth.h"

#include <inttypes.h>
#include <stddef.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NONCE_SLOTS 4096
#define NONCE_LIFETIME_S 3600
#define NONCE_RAW 28 /* 8 time + 8 random + 12 MAC */
#define NONCE_HEX (2 * NONCE_RAW)

struct digest_auth {
    struct auth_users users;
    const char *realm;
    struct auth_pass pass;
    char opaque[17];
    unsigned char secret[32];
    _Atomic uint64_t *slots; /* [NONCE_SLOTS]: tag << 32 | last nonce count */
};

static int build(struct arena *a, struct mw_options *o, void **cfg, struct diag *d)
{
    struct digest_auth *c = arena_alloc(a, sizeof(*c));
    const char *realm = mw_opt_string(o, "realm");
    c->realm = arena_strdup(a, realm != NULL && *realm != '\0' ? realm : "traefik");
    if (auth_users_load(a, o, 3, c->realm, &c->users, d) != 0)
        return -1;
    if (auth_pass_load(a, o, &c->pass, d) != 0)
        return -1;
    unsigned char op[12];
    if (RAND_bytes(op, sizeof(op)) != 1 || RAND_bytes(c->secret, sizeof(c->secret)) != 1)
        return diag_set(d, "cannot draw random bytes for nonces");
    EVP_EncodeBlock((unsigned char *)c->opaque, op, sizeof(op)); /* 16 characters, as go-http-auth's RandomKey */
    c->slots = arena_alloc(a, NONCE_SLOTS * sizeof(*c->slots));
    *cfg = c;
    return 0;
}

/* ---- nonces ---- */

static void nonce_mac(const struct digest_auth *c, const unsigned char *payload, unsigned char mac[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), c->secret, sizeof(c->secret), payload, 16, mac, &len);
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void nonce_make(const struct digest_auth *c, char out[NONCE_HEX + 1], uint32_t *slot, uint32_t *tag)
{
    unsigned char raw[NONCE_RAW + 20];
    uint64_t now = (uint64_t)time(NULL);
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(now >> (56 - 8 * i));
    if (RAND_bytes(raw + 8, 8) != 1)
        abort(); /* the OpenSSL DRBG does not fail once seeded */
    nonce_mac(c, raw, raw + 16);
    uint64_t r = get64(raw + 8);
    *slot = (uint32_t)(r % NONCE_SLOTS);
    *tag = (uint32_t)(r >> 32);
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < NONCE_RAW; i++) {
        out[2 * i] = hex[raw[i] >> 4];
        out[2 * i + 1] = hex[raw[i] & 15];
    }
    out[NONCE_HEX] = '\0';
}

enum nonce_state { NONCE_BAD, NONCE_STALE, NONCE_OK };

/* A nonce of ours that is still live; its slot and tag. */
static enum nonce_state nonce_check(const struct digest_auth *c, h2o_iovec_t n, uint32_t *slot, uint32_t *tag)
{
    unsigned char raw[NONCE_RAW], mac[32];
    if (n.len != NONCE_HEX)
        return NONCE_BAD;
    if (h2o_hex_decode(raw, n.base, n.len) != 0)
        return NONCE_BAD;
    nonce_mac(c, raw, mac);
    if (CRYPTO_memcmp(mac, raw + 16, NONCE_RAW - 16) != 0)
        return NONCE_BAD;
    uint64_t r = get64(raw + 8), issued = get64(raw), now = (uint64_t)time(NULL);
    *slot = (uint32_t)(r % NONCE_SLOTS);
    *tag = (uint32_t)(r >> 32);
    return issued > now + 60 || now - issued > NONCE_LIFETIME_S ? NONCE_STALE : NONCE_OK;
}

/* Records nonce count <nc> for (slot, tag): NONCE_OK when it is higher than
 * the last, NONCE_BAD for a repeat (replay), NONCE_STALE for a lower one or a
 * nonce whose slot was taken over. Lock-free; any worker. */
static enum nonce_state nonce_count(const struct digest_auth *c, uint32_t slot, uint32_t tag, uint64_t nc)
{
    if (nc == 0 || nc > UINT32_MAX)
        return NONCE_BAD;
    _Atomic uint64_t *s = &c->slots[slot];
    uint64_t cur = atomic_load_explicit(s, memory_order_relaxed);
    for (;;) {
        if ((uint32_t)(cur >> 32) != tag)
            return NONCE_STALE;
        uint64_t last = cur & UINT32_MAX;
        if (last != 0 && nc == last)
            return NONCE_BAD;
        if (last != 0 && nc < last)
            return NONCE_STALE;
        if (atomic_compare_exchange_weak_explicit(s, &cur, (uint64_t)tag << 32 | nc, memory_order_relaxed, memory_order_relaxed))
            return NONCE_OK;
    }
}

/* ---- the Authorization header ---- */

struct digest_params {
    h2o_iovec_t username, nonce, uri, response, cnonce, nc, qop, opaque, algorithm;
    bool has_algorithm;
};

static const struct {
    const char *name;
    size_t off;
} param_fields[] = {
    {"username", offsetof(struct digest_params, username)},
    {"nonce", offsetof(struct digest_params, nonce)},
    {"uri", offsetof(struct digest_params, uri)},
    {"response", offsetof(struct digest_params, response)},
    {"cnonce", offsetof(struct digest_params, cnonce)},
    {"nc", offsetof(struct digest_params, nc)},
    {"qop", offsetof(struct digest_params, qop)},
    {"opaque", offsetof(struct digest_params, opaque)},
    {"algorithm", offsetof(struct digest_params, algorithm)},
};

/* go-http-auth's ParseList/ParsePairs: comma-separated items (commas inside
 * quotes kept, backslash escapes inside quotes undone), each item trimmed,
 * "key=value" with one pair of surrounding quotes removed; a later key wins. */
static void parse_params(h2o_req_t *req, const char *p, size_t len, struct digest_params *out)
{
    char *buf = h2o_mem_alloc_pool(&req->pool, len + 1);
    size_t i = 0;
    while (i <= len) {
        size_t b = 0;
        bool quote = false, escape = false;
        for (; i < len; i++) {
            char ch = p[i];
            if (escape) {
                buf[b++] = ch;
                escape = false;
            } else if (quote) {
                if (ch == '\\') {
                    escape = true;
                    continue;
                }
                quote = ch != '"';
                buf[b++] = ch;
            } else if (ch == ',') {
                break;
            } else {
                quote = ch == '"';
                buf[b++] = ch;
            }
        }
        i++; /* past the comma (or the end) */
        h2o_iovec_t item = h2o_str_stripws(buf, b);
        char *eq = memchr(item.base, '=', item.len);
        if (eq != NULL) {
            h2o_iovec_t k = h2o_iovec_init(item.base, (size_t)(eq - item.base));
            h2o_iovec_t v = h2o_iovec_init(eq + 1, item.len - k.len - 1);
            if (v.len >= 2 && v.base[0] == '"' && v.base[v.len - 1] == '"')
                v = h2o_iovec_init(v.base + 1, v.len - 2);
            v = h2o_strdup(&req->pool, v.base, v.len);
            for (size_t f = 0; f < sizeof(param_fields) / sizeof(param_fields[0]); f++)
                if (h2o_memis(k.base, k.len, param_fields[f].name, strlen(param_fields[f].name)))
                    *(h2o_iovec_t *)((char *)out + param_fields[f].off) = v;
            if (h2o_memis(k.base, k.len, H2O_STRLIT("algorithm")))
                out->has_algorithm = true;
        }
        if (i > len)
            break;
    }
}

/* go-http-auth: the uri parameter is the request target, or its path is a
 * prefix of the request's path. The target is the client's, before any
 * middleware rewrote it. */
static bool uri_matches(const h2o_req_t *req, h2o_iovec_t uri)
{
    if (h2o_memis(uri.base, uri.len, req->path.base, req->path.len))
        return true;
    size_t off = 0;
    const char *scheme = memchr(uri.base, ':', uri.len), *slash = memchr(uri.base, '/', uri.len);
    if (scheme != NULL && (slash == NULL || scheme < slash) && uri.len - (size_t)(scheme - uri.base) >= 3 &&
        memcmp(scheme, "://", 3) == 0) {
        const char *path = memchr(scheme + 3, '/', uri.len - (size_t)(scheme + 3 - uri.base));
        off = path ? (size_t)(path - uri.base) : uri.len;
    }
    size_t plen = off;
    while (plen < uri.len && uri.base[plen] != '?' && uri.base[plen] != '#')
        plen++;
    plen -= off;
    size_t rlen = req->path.len;
    const char *q = memchr(req->path.base, '?', req->path.len);
    if (q != NULL)
        rlen = (size_t)(q - req->path.base);
    return plen <= rlen && memcmp(uri.base + off, req->path.base, plen) == 0;
}

static bool parse_nc(h2o_iovec_t v, uint64_t *nc)
{
    if (v.len == 0 || v.len > 16)
        return false;
    *nc = 0;
    for (size_t i = 0; i < v.len; i++) {
        char ch = v.base[i];
        int d = ch >= '0' && ch <= '9'   ? ch - '0'
                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                         : -1;
        if (d < 0)
            return false;
        *nc = *nc << 4 | (uint64_t)d;
    }
    return true;
}

/* NONCE_OK with the user when the request carries valid credentials. */
static enum nonce_state check(const struct digest_auth *c, h2o_req_t *req, const struct auth_user **user)
{
    const h2o_iovec_t *v = mw_header_get(&req->headers, H2O_STRLIT("authorization"));
    if (v == NULL || v->len < 7 || memcmp(v->base, "Digest ", 7) != 0)
        return NONCE_BAD;
    struct digest_params p = {{0}};
    parse_params(req, v->base + 7, v->len - 7, &p);
    if (!p.has_algorithm)
        p.algorithm = h2o_iovec_init(H2O_STRLIT("MD5")); /* broken clients omit it; go-http-auth assumes MD5 */
    if (!h2o_memis(p.opaque.base, p.opaque.len, c->opaque, strlen(c->opaque)) ||
        !h2o_memis(p.algorithm.base, p.algorithm.len, H2O_STRLIT("MD5")) || !h2o_memis(p.qop.base, p.qop.len, H2O_STRLIT("auth")) ||
        !uri_matches(req, p.uri))
        return NONCE_BAD;
    /* an unknown user is refused here: go-http-auth would go on with an empty HA1 */
    const struct auth_user *u = auth_users_find(&c->users, p.username.base, p.username.len);
    if (u == NULL)
        return NONCE_BAD;
    char ha2[33], kd[33];
    h2o_iovec_t a2[] = {req->method, {(char *)":", 1}, p.uri};
    auth_md5_hex(a2, 3, ha2);
    h2o_iovec_t colon = {(char *)":", 1};
    h2o_iovec_t k[] = {
        {(char *)u->secret, u->secret_len}, colon, p.nonce, colon, p.nc, colon, p.cnonce, colon, p.qop, colon, {ha2, 32}};
    auth_md5_hex(k, sizeof(k) / sizeof(k[0]), kd);
    if (p.response.len != 32 || CRYPTO_memcmp(kd, p.response.base, 32) != 0)
        return NONCE_BAD;
    uint64_t nc;
    uint32_t slot, tag;
    if (!parse_nc(p.nc, &nc))
        return NONCE_BAD;
    enum nonce_state st = nonce_check(c, p.nonce, &slot, &tag);
    if (st == NONCE_OK)
        st = nonce_count(c, slot, tag, nc);
    *user = u;
    return st;
}

static enum mw_verdict on_request(const void *cfg, struct mw_run *run)
{
    const struct digest_auth *c = cfg;
    h2o_req_t *req = run->req;
    const struct auth_user *u = NULL;
    enum nonce_state st = check(c, req, &u);
    if (st == NONCE_OK) {
        auth_pass_apply(&c->pass, req, u);
        return MW_NEXT;
    }
    char nonce[NONCE_HEX + 1];
    uint32_t slot, tag;
    nonce_make(c, nonce, &slot, &tag);
    atomic_store_explicit(&c->slots[slot], (uint64_t)tag << 32, memory_order_relaxed);
    char *ch = h2o_mem_alloc_pool(&req->pool, strlen(c->realm) + NONCE_HEX + 128);
    int n = sprintf(ch, "Digest realm=\"%s\", nonce=\"%s\", opaque=\"%s\", %salgorithm=\"MD5\", qop=\"auth\"", c->realm, nonce,
                    c->opaque, st == NONCE_STALE ? "stale=\"true\", " : "");
    auth_challenge(run, ch, (size_t)n);
    return MW_ANSWERED;
}

const struct mw_type mw_digest_auth = {"digestAuth", build, on_request, NULL};
