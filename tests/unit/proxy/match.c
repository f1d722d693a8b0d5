/* Tests proxy/match.c: every matcher against requests, Traefik semantics. */
#include "../../../proxy/match.c"

#include "../../../common/rule.h"
#include "test.h"

static struct arena a;
static h2o_mem_pool_t pool;

struct req {
    const char *host, *path, *method, *query;
    const char *hdr_name, *hdr_value;
    const char *ip;
};

static bool eval(const char *rule, struct req q)
{
    struct diag d;
    struct rule_node *n = rule_parse(&a, rule, &d);
    if (n == NULL) {
        fprintf(stderr, "rule `%s`: %s\n", rule, d.msg);
        CHECK(n != NULL);
        return false;
    }
    char host[256];
    const char *authority = q.host ? q.host : "example.com";
    h2o_headers_t headers = {NULL, 0, 0};
    if (q.hdr_name)
        h2o_add_header_by_str(&pool, &headers, q.hdr_name, strlen(q.hdr_name), 1, NULL, q.hdr_value, strlen(q.hdr_value));
    struct match_req r = {
        .host = host,
        .host_len = match_normalize_host(authority, strlen(authority), host),
        .path = q.path ? q.path : "/",
        .method = q.method ? q.method : "GET",
        .query = q.query,
        .headers = &headers,
    };
    r.path_len = strlen(r.path);
    r.method_len = strlen(r.method);
    r.query_len = q.query ? strlen(q.query) : 0;
    if (q.ip) {
        struct rule_cidr c;
        CHECK(rule_parse_cidr(q.ip, strlen(q.ip), &c) == 0);
        memcpy(r.client_ip, c.addr, 16);
        r.has_client_ip = true;
    }
    return match_rule(n, &r);
}

#define R(...) ((struct req){__VA_ARGS__})

int main(void)
{
    arena_init(&a);
    h2o_mem_init_pool(&pool);

    /* Host: case-insensitive, port and trailing dot ignored, several names */
    CHECK(eval("Host(`example.com`)", R(.host = "Example.COM:8080")));
    CHECK(eval("Host(`example.com`)", R(.host = "example.com.")));
    CHECK(!eval("Host(`example.com`)", R(.host = "www.example.com")));
    CHECK(eval("Host(`a.com`, `example.com`)", R(.host = "example.com")));
    CHECK(eval("Host(`[::1]`)", R(.host = "[::1]:443")));
    /* wildcard: one label only */
    CHECK(eval("Host(`*.example.com`)", R(.host = "api.example.com")));
    CHECK(!eval("Host(`*.example.com`)", R(.host = "a.b.example.com")));
    CHECK(!eval("Host(`*.example.com`)", R(.host = "example.com")));
    CHECK(eval("Host(`*`)", R(.host = "anything")));
    CHECK(eval("HostRegexp(`^[a-z]+\\.example\\.com$`)", R(.host = "API.example.com")));
    CHECK(!eval("HostRegexp(`^[a-z]+\\.example\\.com$`)", R(.host = "a1.example.com")));

    /* Path is exact, PathPrefix character-wise (as Traefik) */
    CHECK(eval("Path(`/api`)", R(.path = "/api")));
    CHECK(!eval("Path(`/api`)", R(.path = "/api/")));
    CHECK(eval("PathPrefix(`/api`)", R(.path = "/api/v1")));
    CHECK(eval("PathPrefix(`/api`)", R(.path = "/apis")));
    CHECK(!eval("PathPrefix(`/api`)", R(.path = "/ap")));
    CHECK(eval("PathRegexp(`^/v[0-9]+/`)", R(.path = "/v2/x")));
    CHECK(!eval("PathRegexp(`^/v[0-9]+/`)", R(.path = "/vx/")));

    CHECK(eval("Method(`POST`, `PUT`)", R(.method = "PUT")));
    CHECK(!eval("Method(`POST`)", R(.method = "GET")));

    CHECK(eval("Header(`X-Env`, `prod`)", R(.hdr_name = "x-env", .hdr_value = "prod")));
    CHECK(!eval("Header(`X-Env`, `prod`)", R(.hdr_name = "x-env", .hdr_value = "production")));
    CHECK(!eval("Header(`X-Env`, `prod`)", R()));
    CHECK(eval("HeaderRegexp(`User-Agent`, `^curl/`)", R(.hdr_name = "user-agent", .hdr_value = "curl/8.0")));

    CHECK(eval("Query(`debug`)", R(.query = "a=1&debug")));
    CHECK(eval("Query(`debug`)", R(.query = "debug=")));
    CHECK(!eval("Query(`debug`)", R(.query = "debugging=1")));
    CHECK(!eval("Query(`debug`)", R()));
    CHECK(eval("Query(`mode`, `fast car`)", R(.query = "x=1&mode=fast+car")));
    CHECK(eval("Query(`mode`, `a&b`)", R(.query = "mode=a%26b")));
    CHECK(!eval("Query(`mode`, `fast`)", R(.query = "mode=slow")));
    CHECK(eval("QueryRegexp(`id`, `^[0-9]+$`)", R(.query = "id=42")));
    CHECK(!eval("QueryRegexp(`id`, `^[0-9]+$`)", R(.query = "id=4x")));

    CHECK(eval("ClientIP(`10.0.0.0/8`)", R(.ip = "10.2.3.4")));
    CHECK(!eval("ClientIP(`10.0.0.0/8`)", R(.ip = "11.2.3.4")));
    CHECK(eval("ClientIP(`192.168.1.1`, `::1`)", R(.ip = "::1")));
    CHECK(!eval("ClientIP(`10.0.0.0/8`)", R()));

    /* operators */
    CHECK(eval("Host(`a.com`) && PathPrefix(`/x`)", R(.host = "a.com", .path = "/x/y")));
    CHECK(!eval("Host(`a.com`) && PathPrefix(`/x`)", R(.host = "a.com", .path = "/y")));
    CHECK(eval("Path(`/a`) || Path(`/b`)", R(.path = "/b")));
    CHECK(eval("!Path(`/a`)", R(.path = "/b")));
    CHECK(eval("Host(`a.com`) && !(Path(`/a`) || Method(`POST`))", R(.host = "a.com", .path = "/c")));
    CHECK(!eval("Host(`a.com`) && !(Path(`/a`) || Method(`POST`))", R(.host = "a.com", .method = "POST")));

    /* a catastrophic pattern stops at the match limit instead of pinning the worker */
    char evil[4096];
    memset(evil, 'a', sizeof(evil) - 2);
    evil[sizeof(evil) - 2] = '!';
    evil[sizeof(evil) - 1] = '\0';
    char path[4100] = "/";
    strcat(path, evil);
    CHECK(!eval("PathRegexp(`^/(a+)+$`)", R(.path = path)));

    h2o_mem_clear_pool(&pool);
    match_thread_cleanup();
    arena_free(&a);
    return test_report("proxy/match");
}
