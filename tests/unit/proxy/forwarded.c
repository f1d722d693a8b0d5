/* Tests proxy/forwarded.c: the client address as 16 bytes and as text, and
 * the HTTP/2 field list made in a pool that outlives the request (mirror
 * copies). */
#include <arpa/inet.h>

#include "../../../proxy/forwarded.c"

#include "test.h"

static void check_v4(const char *addr)
{
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, addr, &in.sin_addr);
    uint8_t ip16[16];
    char text[64];
    forwarded_client_ip((const struct sockaddr *)&in, ip16, text, sizeof(text));
    CHECK_STR(text, addr);
    CHECK(ip16[10] == 0xff && ip16[11] == 0xff && memcmp(ip16 + 12, &in.sin_addr, 4) == 0);
}

/* The request's own memory, scribbled over once the fields are built. */
static char *req_text(h2o_req_t *req, const char *s)
{
    return h2o_strdup(&req->pool, s, strlen(s)).base;
}

static const h2o_header_t *field(const h2o_header_t *fs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (h2o_memis(fs[i].name->base, fs[i].name->len, name, strlen(name)))
            return &fs[i];
    return NULL;
}

static void check_field(const h2o_header_t *fs, size_t n, const char *name, const char *value)
{
    const h2o_header_t *f = field(fs, n, name);
    CHECK(f != NULL && h2o_memis(f->value.base, f->value.len, value, strlen(value)));
}

static void check_fields_in_other_pool(void)
{
    forwarded_init();
    h2o_req_t req = {0};
    h2o_mem_init_pool(&req.pool);
    char *authority = req_text(&req, "app.test:8080");
    req.authority = h2o_iovec_init(authority, strlen(authority));
    req.method = h2o_iovec_init(req_text(&req, "POST"), 4);
    req.entity = h2o_iovec_init(H2O_STRLIT("body"));
    char *custom = req_text(&req, "x-custom"), *orig = req_text(&req, "X-Custom");
    h2o_add_header_by_str(&req.pool, &req.headers, custom, strlen(custom), 0, orig, req_text(&req, "one"), 3);
    h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_USER_AGENT, NULL, req_text(&req, "curl"), 4);
    h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_CONNECTION, NULL, req_text(&req, "close"), 5);
    h2o_add_header(&req.pool, &req.headers, H2O_TOKEN_HOST, NULL, authority, strlen(authority));
    char ip[16] = "10.1.2.3";
    struct forwarded_params fp = {.pass_host = true, .server_hostport = "10.0.0.9:80", .client_ip = ip,
                                  .path = h2o_iovec_init(H2O_STRLIT("/p"))};
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    h2o_header_t *fs;
    h2o_iovec_t auth;
    size_t n = forwarded_build_fields(&req, &fp, &pool, 0, &fs, &auth);
    /* everything the request owned is gone: the fields must not notice */
    for (size_t i = 0; i < req.headers.size; i++) {
        h2o_header_t *h = &req.headers.entries[i];
        memset(h->value.base, 'Z', h->value.len);
        if (!h2o_iovec_is_token(h->name))
            memset(h->name->base, 'Z', h->name->len);
    }
    memset(authority, 'Z', strlen(authority));
    memset(ip, 'Z', sizeof(ip) - 1);
    h2o_mem_clear_pool(&req.pool);
    CHECK(h2o_memis(auth.base, auth.len, H2O_STRLIT("app.test:8080")));
    check_field(fs, n, "x-custom", "one");
    check_field(fs, n, "user-agent", "curl");
    check_field(fs, n, "x-forwarded-for", "10.1.2.3");
    check_field(fs, n, "x-real-ip", "10.1.2.3");
    check_field(fs, n, "x-forwarded-host", "app.test:8080");
    check_field(fs, n, "x-forwarded-port", "8080");
    check_field(fs, n, "content-length", "4");
    /* not in HTTP/2 (RFC 9113 8.2.2), and Host is the authority */
    CHECK(field(fs, n, "connection") == NULL && field(fs, n, "host") == NULL);
    h2o_mem_clear_pool(&pool);
}

int main(void)
{
    check_fields_in_other_pool();
    const char *v4[] = {"0.0.0.0", "255.255.255.255", "10.0.100.9", "127.0.0.1", "192.168.10.200", "1.22.103.4"};
    for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
        check_v4(v4[i]);
    /* every octet value once, against inet_ntop */
    for (unsigned v = 0; v < 256; v++) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        uint8_t *b = (uint8_t *)&in.sin_addr;
        b[0] = (uint8_t)v, b[1] = (uint8_t)(255 - v), b[2] = (uint8_t)(v / 2), b[3] = (uint8_t)(v * 7);
        char want[INET_ADDRSTRLEN], got[64];
        uint8_t ip16[16];
        inet_ntop(AF_INET, &in.sin_addr, want, sizeof(want));
        forwarded_client_ip((const struct sockaddr *)&in, ip16, got, sizeof(got));
        CHECK_STR(got, want);
    }
    /* a v4-mapped IPv6 peer reads as IPv4 */
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    uint8_t ip16[16];
    char text[64];
    forwarded_client_ip((const struct sockaddr *)&in6, ip16, text, sizeof(text));
    CHECK_STR(text, "10.1.2.3");
    inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
    forwarded_client_ip((const struct sockaddr *)&in6, ip16, text, sizeof(text));
    CHECK_STR(text, "2001:db8::1");
    CHECK(memcmp(ip16, &in6.sin6_addr, 16) == 0);
    /* a short buffer is truncated, still terminated */
    struct sockaddr_in in = {.sin_family = AF_INET};
    inet_pton(AF_INET, "192.168.100.200", &in.sin_addr);
    char small[8];
    forwarded_client_ip((const struct sockaddr *)&in, ip16, small, sizeof(small));
    CHECK(memchr(small, '\0', sizeof(small)) != NULL);
    CHECK(strncmp(small, "192.168", 7) == 0);
    return test_report("proxy/forwarded");
}
