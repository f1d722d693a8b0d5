/* Tests proxy/middleware/mw_digest_auth.c: options, the response check
 * (RFC 2617 example shape, go-http-auth's rules), nonce forgery, expiry,
 * replay and out-of-order counts, slot takeover. Challenges (401) are in
 * tests/integration/test_mw_auth.py. */
#include "mw_test.h"

#include <pthread.h>

#include "../../test.h"

#include "../../../../proxy/middleware/mw_digest_auth.c"

static void issue(const struct digest_auth *c, char nonce[NONCE_HEX + 1])
{
    uint32_t slot, tag;
    nonce_make(c, nonce, &slot, &tag);
    atomic_store(&c->slots[slot], (uint64_t)tag << 32);
}

/* An Authorization value for <user> with <ha1>; <extra> is appended. */
static const char *authz(struct mw_test *t, const struct digest_auth *c, const char *user, const char *ha1, const char *method,
                         const char *uri, const char *nonce, const char *nc, const char *opaque, const char *extra)
{
    char ha2[33], resp[33];
    h2o_iovec_t a2[] = {{(char *)method, strlen(method)}, {(char *)":", 1}, {(char *)uri, strlen(uri)}};
    auth_md5_hex(a2, 3, ha2);
    char kd[512];
    snprintf(kd, sizeof(kd), "%s:%s:%s:0a4f113b:auth:%s", ha1, nonce, nc, ha2);
    h2o_iovec_t k = {kd, strlen(kd)};
    auth_md5_hex(&k, 1, resp);
    char *out = h2o_mem_alloc_pool(&t->req.pool, 1024);
    snprintf(out, 1024,
             "Digest username=\"%s\", realm=\"%s\", nonce=\"%s\", uri=\"%s\", qop=auth, nc=%s, cnonce=\"0a4f113b\", "
             "response=\"%s\", opaque=\"%s\"%s",
             user, c->realm, nonce, uri, nc, resp, opaque ? opaque : c->opaque, extra ? extra : "");
    return out;
}

static enum nonce_state try(struct mw_test *t, const struct digest_auth *c, const char *method, const char *path, const char *value)
{
    t->req.headers = (h2o_headers_t){NULL};
    t->req.method = h2o_iovec_init(method, strlen(method));
    t->req.path = h2o_iovec_init(path, strlen(path));
    mw_test_add_header(t, "Authorization", value);
    const struct auth_user *u;
    return check(c, &t->req, &u);
}

/* Workers racing on one nonce's count: each count is accepted at most once. */
#define RACE_THREADS 4
#define RACE_COUNTS 20000
static const struct digest_auth *race_cfg;
static uint32_t race_slot, race_tag;
static _Atomic int race_accepted[RACE_COUNTS + 1];

static void *race(void *arg)
{
    for (uint64_t nc = 1; nc <= RACE_COUNTS; nc++)
        if (nonce_count(race_cfg, race_slot, race_tag, nc) == NONCE_OK)
            race_accepted[nc]++;
    return arg;
}

#define HA1_TEST "a2688e031edb4be6a3797f3882655c05" /* md5("test:traefik:test"), Traefik's docs */

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);
    const char *docs[] = {"users", "test:traefik:" HA1_TEST ",test2:traefik:518845800f9e2bfb1f1f740ec24f074e", NULL};
    struct table_middleware *m = mw_test_build(&t, "digestAuth", docs);
    CHECK(m != NULL);
    const struct digest_auth *c = m->cfg;
    CHECK_STR(c->realm, "traefik");
    CHECK(strlen(c->opaque) == 16 && c->pass.header_field == NULL && !c->pass.remove_header && c->users.n == 2);

    char nonce[NONCE_HEX + 1];
    issue(c, nonce);
    /* a pass through on_request, with headerField and removeHeader off */
    t.req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(&t, "Authorization",
                       authz(&t, c, "test", HA1_TEST, "GET", "/dir/index.html", nonce, "00000001", NULL, NULL));
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/dir/index.html") == MW_NEXT);
    CHECK(mw_test_header(&t, "authorization") != NULL);
    /* the same count again is a replay; a higher one passes; a lower one is stale */
    const char *a1 = authz(&t, c, "test", HA1_TEST, "GET", "/dir/index.html", nonce, "00000001", NULL, NULL);
    CHECK(try(&t, c, "GET", "/dir/index.html", a1) == NONCE_BAD);
    CHECK(try(&t, c, "GET", "/dir/index.html",
              authz(&t, c, "test", HA1_TEST, "GET", "/dir/index.html", nonce, "00000003", NULL, NULL)) == NONCE_OK);
    CHECK(try(&t, c, "GET", "/dir/index.html",
              authz(&t, c, "test", HA1_TEST, "GET", "/dir/index.html", nonce, "00000002", NULL, NULL)) == NONCE_STALE);
    /* the uri may be a path prefix of the request's (go-http-auth) */
    CHECK(try(&t, c, "GET", "/dir/index.html?q=1", authz(&t, c, "test", HA1_TEST, "GET", "/dir", nonce, "00000004", NULL, NULL)) ==
          NONCE_OK);
    CHECK(try(&t, c, "GET", "/other", authz(&t, c, "test", HA1_TEST, "GET", "/dir", nonce, "00000005", NULL, NULL)) == NONCE_BAD);
    /* the method is in HA2 */
    CHECK(try(&t, c, "POST", "/dir", authz(&t, c, "test", HA1_TEST, "GET", "/dir", nonce, "00000006", NULL, NULL)) == NONCE_BAD);
    /* wrong password, unknown user (even with the empty HA1 go-http-auth would use), other realm's user */
    CHECK(try(&t, c, "GET", "/",
              authz(&t, c, "test", "00000000000000000000000000000000", "GET", "/", nonce, "00000007", NULL, NULL)) == NONCE_BAD);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "nobody", "", "GET", "/", nonce, "00000008", NULL, NULL)) == NONCE_BAD);
    /* opaque, algorithm, qop and the scheme's spelling are checked */
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "00000009", "AAAAAAAAAAAAAAAA", NULL)) ==
          NONCE_BAD);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "0000000a", NULL, ", algorithm=MD5-sess")) ==
          NONCE_BAD);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "0000000b", NULL, ", algorithm=\"MD5\"")) ==
          NONCE_OK);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "0000000c", NULL, ", qop=auth-int")) ==
          NONCE_BAD);
    const char *lower = authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "0000000d", NULL, NULL);
    char *l = h2o_strdup(&t.req.pool, lower, SIZE_MAX).base;
    l[0] = 'd';
    CHECK(try(&t, c, "GET", "/", l) == NONCE_BAD);
    CHECK(try(&t, c, "GET", "/", lower) == NONCE_OK);

    /* a nonce we did not make */
    char forged[NONCE_HEX + 1];
    memcpy(forged, nonce, sizeof(forged));
    forged[20] = forged[20] == '0' ? '1' : '0';
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", forged, "00000001", NULL, NULL)) == NONCE_BAD);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", "abc", "00000001", NULL, NULL)) == NONCE_BAD);
    /* another nonce took the slot over: stale, the client gets a fresh one */
    char other[NONCE_HEX + 1];
    issue(c, other);
    uint32_t slot, tag;
    CHECK(nonce_check(c, h2o_iovec_init(nonce, NONCE_HEX), &slot, &tag) == NONCE_OK);
    atomic_store(&c->slots[slot], (uint64_t)(tag ^ 1) << 32);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "00000020", NULL, NULL)) == NONCE_STALE);
    /* first use of a fresh nonce: any count (go-http-auth) */
    CHECK(try(&t, c, "GET", "/",
              authz(&t, c, "test2", "518845800f9e2bfb1f1f740ec24f074e", "GET", "/", other, "00000005", NULL, NULL)) == NONCE_OK);
    /* an expired nonce (valid MAC, issued two hours ago) is stale */
    unsigned char raw[NONCE_RAW + 20]; /* the MAC is written whole (32 bytes) */
    uint64_t then = (uint64_t)time(NULL) - 7200;
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)(then >> (56 - 8 * i));
    memset(raw + 8, 0x42, 8);
    nonce_mac(c, raw, raw + 16);
    char old[NONCE_HEX + 1];
    for (int i = 0; i < NONCE_RAW; i++)
        sprintf(old + 2 * i, "%02x", raw[i]);
    CHECK(try(&t, c, "GET", "/", authz(&t, c, "test", HA1_TEST, "GET", "/", old, "00000001", NULL, NULL)) == NONCE_STALE);

    /* options: labels' lowercase form, headerField, removeHeader, realm filters the users */
    const char *labels[] = {"users",
                            "test:other:" HA1_TEST ",test:traefik:" HA1_TEST,
                            "realm",
                            "other",
                            "headerfield",
                            "X-User",
                            "removeheader",
                            "true",
                            NULL};
    m = mw_test_build(&t, "digestauth", labels);
    CHECK(m != NULL);
    c = m->cfg;
    CHECK_STR(c->realm, "other");
    CHECK(c->users.n == 1 && c->pass.remove_header);
    issue(c, nonce);
    /* HA1_TEST is the other realm's digest here, but the check uses what the file says */
    t.req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(&t, "Authorization", authz(&t, c, "test", HA1_TEST, "GET", "/", nonce, "00000001", NULL, NULL));
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/") == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "x-user"), "test");
    CHECK(mw_test_header(&t, "authorization") == NULL);

    const char *bad[] = {"users", "test:" HA1_TEST, NULL};
    CHECK(mw_test_build(&t, "digestAuth", bad) == NULL);
    CHECK_CONTAINS(t.error, "digestAuth: users[0]: expected name:realm:encoded-password");
    const char *bad_bool[] = {"removeHeader", "yes", NULL}; /* "1" is true, as in Traefik */
    CHECK(mw_test_build(&t, "digestAuth", bad_bool) == NULL);
    CHECK_CONTAINS(t.error, "removeHeader");
    const char *no_file[] = {"usersFile", "/nonexistent/htdigest", NULL};
    CHECK(mw_test_build(&t, "digestAuth", no_file) == NULL);
    CHECK_CONTAINS(t.error, "usersFile: cannot read");
    const char *unknown[] = {"users", "a:traefik:b", "algorithm", "SHA-256", NULL};
    CHECK(mw_test_build(&t, "digestAuth", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'algorithm'");

    /* concurrency: the same nonce counted from several threads */
    issue(c, nonce);
    CHECK(nonce_check(c, h2o_iovec_init(nonce, NONCE_HEX), &race_slot, &race_tag) == NONCE_OK);
    race_cfg = c;
    pthread_t th[RACE_THREADS];
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_create(&th[i], NULL, race, NULL);
    for (int i = 0; i < RACE_THREADS; i++)
        pthread_join(th[i], NULL);
    int twice = 0, once = 0;
    for (int i = 1; i <= RACE_COUNTS; i++) {
        twice += race_accepted[i] > 1;
        once += race_accepted[i] == 1;
    }
    CHECK(twice == 0 && once == RACE_COUNTS); /* counts go up one by one: each is first tried when it is above the last */
    CHECK((atomic_load(&c->slots[race_slot]) & UINT32_MAX) == RACE_COUNTS);

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_digest_auth");
}
