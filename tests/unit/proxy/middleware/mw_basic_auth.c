/* Tests proxy/middleware/mw_basic_auth.c: options (every one, defaults, bad
 * values named), the decoded Docker label form, and requests that pass with
 * headerField/removeHeader (refusals answer 401: see
 * tests/integration/test_mw_auth.py). */
#include "mw_test.h"

#include "../../test.h"

#include "../../../../proxy/middleware/mw_basic_auth.c"

static const char *b64(const char *s)
{
    static char out[256];
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = strlen(s), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)(unsigned char)s[i] << 16 | (i + 1 < n ? (uint32_t)(unsigned char)s[i + 1] << 8 : 0) |
                     (i + 2 < n ? (unsigned char)s[i + 2] : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static enum mw_verdict with_auth(struct mw_test *t, struct table_middleware *m, const char *value)
{
    t->req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(t, "Authorization", value);
    return mw_test_request(t, m, "GET", "a.test", "/x");
}

int main(void)
{
    struct mw_test t;
    mw_test_init(&t);

    /* defaults: realm "traefik", no header field, Authorization kept */
    const char *docs[] = {"users", "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0", NULL};
    struct table_middleware *m = mw_test_build(&t, "basicAuth", docs);
    CHECK(m != NULL);
    const struct basic_auth *c = m->cfg;
    CHECK_STR(c->challenge, "Basic realm=\"traefik\"");
    CHECK(c->pass.header_field == NULL && !c->pass.remove_header && c->users.n == 2);
    char v[128];
    snprintf(v, sizeof(v), "Basic %s", b64("test:test"));
    CHECK(with_auth(&t, m, v) == MW_NEXT);
    CHECK_STR(mw_test_header(&t, "authorization"), v);
    snprintf(v, sizeof(v), "bAsIc %s", b64("test2:test2")); /* Go accepts the scheme in any case */
    CHECK(with_auth(&t, m, v) == MW_NEXT);

    /* the Docker label form as controller/docker_build decodes it (lowercased
     * type and keys; tests/fixtures/docker/auth_middlewares.json) */
    const char *labels[] = {"users",
                            "test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/,test2:$apr1$d9hr9HBB$4HxwgUir3HP4EsggP/QNo0",
                            "headerfield",
                            "X-WebAuth-User",
                            "removeheader",
                            "true",
                            "realm",
                            "My Realm",
                            NULL};
    m = mw_test_build(&t, "basicauth", labels);
    CHECK(m != NULL);
    c = m->cfg;
    CHECK_STR(c->challenge, "Basic realm=\"My Realm\"");
    snprintf(v, sizeof(v), "Basic %s", b64("test2:test2"));
    t.req.headers = (h2o_headers_t){NULL};
    mw_test_add_header(&t, "X-WebAuth-User", "forged");
    mw_test_add_header(&t, "Authorization", v);
    CHECK(mw_test_request(&t, m, "GET", "a.test", "/x") == MW_NEXT);
    CHECK(t.req.headers.size == 1); /* the forged value replaced, Authorization gone */
    CHECK_STR(mw_test_header(&t, "x-webauth-user"), "test2");
    CHECK(mw_test_header(&t, "authorization") == NULL);

    /* bad values, named */
    const char *bad_bool[] = {"users", "a:b", "removeHeader", "yes", NULL};
    CHECK(mw_test_build(&t, "basicAuth", bad_bool) == NULL);
    CHECK_CONTAINS(t.error, "basicAuth: removeHeader: 'yes' is not a boolean");
    const char *bad_user[] = {"users", "test", NULL};
    CHECK(mw_test_build(&t, "basicAuth", bad_user) == NULL);
    CHECK_CONTAINS(t.error, "basicAuth: users[0]: expected name:hashed-password");
    const char *no_file[] = {"usersFile", "/nonexistent/.htpasswd", NULL};
    CHECK(mw_test_build(&t, "basicAuth", no_file) == NULL);
    CHECK_CONTAINS(t.error, "basicAuth: usersFile: cannot read '/nonexistent/.htpasswd'");
    const char *unknown[] = {"users", "a:b", "secret", "k8s-secret", NULL};
    CHECK(mw_test_build(&t, "basicAuth", unknown) == NULL);
    CHECK_CONTAINS(t.error, "unknown option 'secret'");
    /* an empty list builds (every request is refused, as in Traefik) */
    CHECK(mw_test_build(&t, "basicAuth", NULL) != NULL);

    mw_test_free(&t);
    return test_report("proxy/middleware/mw_basic_auth");
}
