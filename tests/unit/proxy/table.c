/* Tests proxy/table.c: priority order, host indexes, fallback, SNI map,
 * and a randomised comparison of table_lookup with a brute-force scan. */
#include "../../../proxy/table.c"

#include <stdlib.h>

#include "../../../proxy/match.h"
#include "test.h"

static struct table *t;
static struct table_service *svc;

static struct table_route *add(const char *name, const char *rule, int64_t prio, uint64_t eps, bool tls)
{
    struct diag d;
    struct rule_node *n = rule_parse(&t->arena, rule, &d);
    CHECK(n != NULL);
    return n ? table_add_route(t, name, rule, n, prio, eps, tls, svc) : NULL;
}

static struct match_req req(const char *host, const char *path, char *buf)
{
    struct match_req r = {.host = buf, .path = path, .method = "GET", .method_len = 3};
    r.host_len = match_normalize_host(host, strlen(host), buf);
    r.path_len = strlen(path);
    return r;
}

static const char *lookup(const char *host, const char *path, uint32_t ep, bool tls)
{
    char buf[256];
    struct match_req r = req(host, path, buf);
    const struct table_route *rt = table_lookup(t, &r, ep, tls);
    return rt ? rt->name : "none";
}

static void fixed_cases(void)
{
    t = table_new(2);
    svc = table_add_service(t, "s@file", true, 0);
    add("catchall", "PathPrefix(`/`)", 1, 1, false);
    add("api", "Host(`a.com`) && PathPrefix(`/api`)", 0, 1, false); /* priority = rule length 35 */
    add("a", "Host(`a.com`)", 0, 1, false);
    add("wild", "Host(`*.b.com`)", 0, 1, false);
    add("regex", "HostRegexp(`^x[0-9]+\\.c\\.com$`)", 0, 1, false);
    add("either", "Host(`d.com`) || Host(`*.e.com`)", 0, 1, false);
    add("secure", "Host(`a.com`)", 0, 1, true);
    add("other-ep", "Host(`f.com`)", 0, 2, false);
    add("tie-b", "Host(`g.com`) && Path(`/x`)", 100, 1, false);
    add("tie-a", "Host(`g.com`) && Path(`/x`)", 100, 1, false);
    table_finish(t);

    CHECK(t->exact.n == 4 && t->wildcard.n == 2 && t->fallback.n == 2);
    CHECK_STR(lookup("a.com", "/api/v1", 0, false), "api");
    CHECK_STR(lookup("A.com:80", "/other", 0, false), "a");
    CHECK_STR(lookup("a.com", "/", 0, true), "secure"); /* TLS connections see tls routers only */
    CHECK_STR(lookup("x.b.com", "/", 0, false), "wild");
    CHECK_STR(lookup("y.x.b.com", "/", 0, false), "catchall");
    CHECK_STR(lookup("x12.c.com", "/", 0, false), "regex");
    CHECK_STR(lookup("d.com", "/", 0, false), "either");
    CHECK_STR(lookup("q.e.com", "/", 0, false), "either");
    CHECK_STR(lookup("f.com", "/", 0, false), "catchall"); /* other entry point */
    CHECK_STR(lookup("f.com", "/", 1, false), "other-ep");
    CHECK_STR(lookup("g.com", "/x", 0, false), "tie-a"); /* equal priority: name order */
    CHECK_STR(lookup("nothing.com", "/", 0, true), "none");
    CHECK(table_find_service(t, "s@file") == svc && table_find_service(t, "x@file") == NULL);
    table_free(t);
}

/* ---- randomised: indexed lookup == first match of a full scan ---- */

static const char *hosts[] = {"a.com", "b.com", "x.a.com", "y.b.com", "c.org", "z.x.a.com", "d.net"};
static const char *paths[] = {"/", "/api", "/api/v1", "/static/x.png", "/admin", "/apix"};

static const char *random_rule(struct arena *ar)
{
    const char *host_parts[] = {"Host(`a.com`)", "Host(`*.a.com`)", "Host(`b.com`, `c.org`)", "HostRegexp(`^[xy]\\.`)",
                                "Host(`*.b.com`) || Host(`d.net`)", "!Host(`a.com`)", "Host(`*`)", ""};
    const char *path_parts[] = {"PathPrefix(`/api`)", "Path(`/admin`)", "PathRegexp(`png$`)", "!PathPrefix(`/static`)", ""};
    const char *h = host_parts[rand() % 8], *p = path_parts[rand() % 5];
    if (!*h && !*p)
        return "PathPrefix(`/`)";
    if (!*h)
        return p;
    if (!*p)
        return h;
    return arena_printf(ar, rand() % 4 ? "%s && %s" : "(%s) || %s", h, p);
}

static void randomised(void)
{
    srand(12345);
    for (int round = 0; round < 200; round++) {
        t = table_new(1);
        svc = table_add_service(t, "s@file", true, 0);
        int n = 1 + rand() % 30;
        for (int i = 0; i < n; i++) {
            char name[16];
            snprintf(name, sizeof(name), "r%02d", i);
            add(name, random_rule(&t->arena), rand() % 3 ? 0 : rand() % 50, 1 + (uint64_t)(rand() % 3), rand() % 5 == 0);
        }
        table_finish(t);
        for (size_t h = 0; h < sizeof(hosts) / sizeof(*hosts); h++) {
            for (size_t p = 0; p < sizeof(paths) / sizeof(*paths); p++) {
                for (uint32_t ep = 0; ep < 2; ep++) {
                    bool tls = (h + p) % 3 == 0;
                    char buf[256];
                    struct match_req r = req(hosts[h], paths[p], buf);
                    const struct table_route *want = NULL;
                    for (uint32_t i = 0; i < t->n_routes && want == NULL; i++) /* routes are sorted */
                        if ((t->routes[i]->entrypoints >> ep & 1) && t->routes[i]->tls == tls && match_rule(t->routes[i]->rule, &r))
                            want = t->routes[i];
                    const struct table_route *got = table_lookup(t, &r, ep, tls);
                    CHECK(got == want);
                    if (got != want)
                        fprintf(stderr, "round %d host %s path %s: got %s want %s\n", round, hosts[h], paths[p],
                                got ? got->rule_text : "none", want ? want->rule_text : "none");
                }
            }
        }
        table_free(t);
    }
}

int main(void)
{
    fixed_cases();
    randomised();

    /* host map grows and finds everything */
    struct arena ar;
    arena_init(&ar);
    struct table_host_map m = {0};
    for (int i = 0; i < 10000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "host-%d.example", i);
        *table_host_map_slot(&ar, &m, k, strlen(k)) = (void *)(intptr_t)(i + 1);
    }
    int found = 0;
    for (int i = 0; i < 10000; i++) {
        char k[32];
        snprintf(k, sizeof(k), "host-%d.example", i);
        found += table_host_map_get(&m, k, strlen(k)) == (void *)(intptr_t)(i + 1);
    }
    CHECK(found == 10000 && m.n == 10000);
    CHECK(table_host_map_get(&m, "nope", 4) == NULL);
    arena_free(&ar);
    match_thread_cleanup();
    return test_report("proxy/table");
}
