/* Tests proxy/hash_key.c: nginx variable expressions (upstream-hash-by)
 * compiled, refused with the variable named, and evaluated on requests:
 * equal values give equal keys, different values different ones. */
#include "../../../proxy/hash_key.c"

#include "test.h"

static struct arena a;
static const uint8_t ip1[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 1}, ip2[16] = {[10] = 0xff, [11] = 0xff, 127, 0, 0, 2};

static void request(h2o_req_t *req, const char *authority, const char *path)
{
    h2o_mem_clear_pool(&req->pool); /* the previous request's fields (a zeroed pool has none) */
    memset(req, 0, sizeof(*req));
    h2o_mem_init_pool(&req->pool);
    req->input.authority = h2o_iovec_init(authority, strlen(authority));
    req->input.path = h2o_iovec_init(path, strlen(path));
    req->path_normalized = h2o_iovec_init(path, strcspn(path, "?"));
    req->input.method = h2o_iovec_init(H2O_STRLIT("GET"));
    req->input.scheme = &H2O_URL_SCHEME_HTTP;
}

static void header(h2o_req_t *req, const char *name, const char *value)
{
    h2o_add_header_by_str(&req->pool, &req->headers, name, strlen(name), 1, NULL, value, strlen(value));
}

static const struct hash_key *compile(const char *expr)
{
    char err[256] = "";
    const struct hash_key *k = hash_key_compile(&a, expr, err, sizeof(err));
    if (k == NULL)
        fprintf(stderr, "%s: %s\n", expr, err);
    return k;
}

static void refused(const char *expr, const char *reason)
{
    char err[256] = "";
    CHECK(hash_key_compile(&a, expr, err, sizeof(err)) == NULL);
    CHECK(strstr(err, reason) != NULL);
}

static void compiles_and_refuses(void)
{
    CHECK(compile("$request_uri") != NULL);
    CHECK(compile("${host}$request_uri") != NULL);
    CHECK(compile("tenant-$http_x_tenant") != NULL);
    CHECK(compile("$cookie_session") != NULL);
    CHECK(compile("$arg_user$scheme$request_method$uri$args") != NULL);
    refused("$server_port", "$server_port is not one gantry evaluates");
    refused("${upstream_addr}", "$upstream_addr is not one gantry evaluates");
    refused("constant", "no nginx variable");
    refused("${host", "without its `}`");
    refused("$-x", "without a variable name");
}

static void evaluates(void)
{
    h2o_req_t r1 = {0}, r2 = {0};
    const struct hash_key *uri = compile("$request_uri");
    request(&r1, "a.test", "/x?q=1");
    request(&r2, "b.test", "/x?q=1");
    CHECK(hash_key_of(uri, &r1, ip1) == hash_key_of(uri, &r2, ip2)); /* same URI, any host or client */
    request(&r2, "a.test", "/x?q=2");
    CHECK(hash_key_of(uri, &r1, ip1) != hash_key_of(uri, &r2, ip1));
    const struct hash_key *path = compile("$uri");
    CHECK(hash_key_of(path, &r1, ip1) == hash_key_of(path, &r2, ip2)); /* the query is not part of $uri */

    const struct hash_key *host = compile("$host");
    request(&r1, "A.Test:8080", "/");
    request(&r2, "a.test", "/other");
    CHECK(hash_key_of(host, &r1, ip1) == hash_key_of(host, &r2, ip1)); /* lowercase, no port */

    const struct hash_key *tenant = compile("$http_x_tenant");
    request(&r1, "a.test", "/");
    request(&r2, "a.test", "/");
    header(&r1, "x-tenant", "t1");
    header(&r2, "x-tenant", "t1");
    CHECK(hash_key_of(tenant, &r1, ip1) == hash_key_of(tenant, &r2, ip2));
    request(&r2, "a.test", "/");
    header(&r2, "x-tenant", "t2");
    CHECK(hash_key_of(tenant, &r1, ip1) != hash_key_of(tenant, &r2, ip1));

    const struct hash_key *cookie = compile("$cookie_session");
    request(&r1, "a.test", "/");
    request(&r2, "a.test", "/");
    header(&r1, "cookie", "theme=dark; session=s1");
    header(&r2, "cookie", "session=s1");
    CHECK(hash_key_of(cookie, &r1, ip1) == hash_key_of(cookie, &r2, ip2));
    request(&r2, "a.test", "/");
    header(&r2, "cookie", "session=s2; theme=dark");
    CHECK(hash_key_of(cookie, &r1, ip1) != hash_key_of(cookie, &r2, ip1));

    const struct hash_key *arg = compile("$arg_user");
    request(&r1, "a.test", "/a?x=1&USER=bob");
    request(&r2, "a.test", "/b?user=bob");
    CHECK(hash_key_of(arg, &r1, ip1) == hash_key_of(arg, &r2, ip2)); /* nginx's $arg_ names ignore case */
    request(&r2, "a.test", "/b?user=alice");
    CHECK(hash_key_of(arg, &r1, ip1) != hash_key_of(arg, &r2, ip1));

    const struct hash_key *addr = compile("$remote_addr");
    CHECK(hash_key_of(addr, &r1, ip1) == hash_key_of(addr, &r2, ip1));
    CHECK(hash_key_of(addr, &r1, ip1) != hash_key_of(addr, &r1, ip2));
    h2o_mem_clear_pool(&r1.pool);
    h2o_mem_clear_pool(&r2.pool);
}

int main(void)
{
    arena_init(&a);
    compiles_and_refuses();
    evaluates();
    arena_free(&a);
    return test_report("hash_key");
}
