/* Tests controller/tree.c: dotted paths (flags, labels), conversions. */
#include "../../../controller/tree.c"

#include "test.h"

int main(void)
{
    struct arena a;
    arena_init(&a);
    struct diag d;
    struct tree_node *root = tree_new_node(&a, TREE_MAP, "test", 0, 0);

    CHECK(tree_set_path(&a, root, "http.routers.Api.rule", "Host(`a`)", "label r", &d) == 0);
    CHECK(tree_set_path(&a, root, "HTTP.Routers.Api.service", "svc", "label s", &d) == 0); /* fields merge case-insensitively */
    CHECK(tree_set_path(&a, root, "http.routers.api.rule", "x", "label lower", &d) == 0);  /* ... and so do names here */
    struct tree_node *routers = tree_map_get_ci(tree_map_get_ci(root, "http"), "routers");
    CHECK(routers != NULL && routers->n == 1);
    CHECK_STR(tree_map_get(tree_map_get(routers, "Api"), "rule")->scalar, "x");

    /* bare "=true" then sub-keys enables a struct (tls=true, tls.options=x) */
    CHECK(tree_set_path(&a, root, "http.routers.Api.tls", "true", "l", &d) == 0);
    CHECK(tree_set_path(&a, root, "http.routers.Api.tls.options", "modern", "l", &d) == 0);
    CHECK(tree_map_get(tree_map_get(routers, "Api"), "tls")->kind == TREE_MAP);
    CHECK(tree_set_path(&a, root, "http.routers.Api.tls", "true", "l", &d) == 0); /* after sub-keys: no-op */

    /* lists with [n] */
    CHECK(tree_set_path(&a, root, "tls.domains[1].main", "b.example", "l", &d) == 0);
    struct tree_node *domains = tree_map_get(tree_map_get(root, "tls"), "domains");
    CHECK(domains->kind == TREE_SEQ && domains->n == 2 && domains->items[0]->kind == TREE_NULL);
    CHECK_STR(tree_map_get(domains->items[1], "main")->scalar, "b.example");

    /* malformed paths */
    CHECK(tree_set_path(&a, root, "a..b", "1", "l", &d) != 0);
    CHECK_CONTAINS(d.msg, "empty segment");
    CHECK(tree_set_path(&a, root, "a.b.", "1", "l", &d) != 0);
    CHECK(tree_set_path(&a, root, "a[x].b", "1", "l", &d) != 0);
    CHECK_CONTAINS(d.msg, "invalid index");
    CHECK(tree_set_path(&a, root, "http.routers.Api.rule.deeper", "1", "l", &d) != 0); /* crosses a scalar */
    CHECK_CONTAINS(d.msg, "already set");

    /* durations */
    uint64_t ms;
    CHECK(config_parse_duration_ms("10s", &ms) == 0 && ms == 10000);
    CHECK(config_parse_duration_ms("250ms", &ms) == 0 && ms == 250);
    CHECK(config_parse_duration_ms("1m30s", &ms) == 0 && ms == 90000);
    CHECK(config_parse_duration_ms("2h", &ms) == 0 && ms == 7200000);
    CHECK(config_parse_duration_ms("42", &ms) == 0 && ms == 42000);
    CHECK(config_parse_duration_ms("1.5s", &ms) == 0 && ms == 1500);
    CHECK(config_parse_duration_ms("1.5", &ms) != 0); /* Traefik: a bare number is an integer of seconds */
    CHECK(config_parse_duration_ms("10x", &ms) != 0);
    CHECK(config_parse_duration_ms("", &ms) != 0);
    CHECK(config_parse_duration_ms("-1s", &ms) != 0);

    struct tree_node *n = tree_new_node(&a, TREE_SCALAR, "f.yaml", 3, 7);
    bool b;
    int64_t v;
    n->scalar = "TRUE";
    CHECK(tree_to_bool(n, &b, &d) == 0 && b);
    n->scalar = "maybe";
    CHECK(tree_to_bool(n, &b, &d) != 0);
    CHECK_CONTAINS(d.msg, "f.yaml:3:7: expected true or false, got 'maybe'");
    n->scalar = "8080";
    CHECK(tree_to_int64(n, 1, 65535, &v, &d) == 0 && v == 8080);
    n->scalar = "80a";
    CHECK(tree_to_int64(n, 1, 65535, &v, &d) != 0);
    CHECK_CONTAINS(d.msg, "expected an integer, got '80a'");
    n->scalar = "70000";
    CHECK(tree_to_int64(n, 1, 65535, &v, &d) != 0);
    CHECK_CONTAINS(d.msg, "out of range");
    arena_free(&a);
    return test_report("controller/tree");
}
