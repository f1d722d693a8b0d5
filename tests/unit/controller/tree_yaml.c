/* Tests controller/tree_yaml.c: positions, errors, hostile documents. */
#include "../../../controller/tree_yaml.c"

#include "test.h"

static struct tree_node *parse(struct arena *a, const char *text, struct diag *d)
{
    return tree_yaml_parse(a, "t.yaml", text, strlen(text), d);
}

int main(void)
{
    struct arena a;
    arena_init(&a);
    struct diag d;

    struct tree_node *r = parse(&a, "http:\n  routers:\n    api:\n      rule: \"Host(`a`)\"\n      priority: 5\n", &d);
    CHECK(r != NULL);
    struct tree_node *api = tree_map_get(tree_map_get(tree_map_get(r, "http"), "routers"), "api");
    CHECK(api != NULL && api->line == 4 && api->col == 7);
    CHECK_STR(tree_map_get(api, "rule")->scalar, "Host(`a`)");

    CHECK(parse(&a, "", &d) != NULL);                     /* empty file: empty config */
    CHECK(parse(&a, "# only a comment\n", &d) != NULL);
    CHECK(parse(&a, "- a\n- b\n", &d) == NULL);           /* top level must be a map */
    CHECK_CONTAINS(d.msg, "top level must be a mapping");

    CHECK(parse(&a, "http:\n  routers: [\n", &d) == NULL); /* syntax error with position */
    CHECK_CONTAINS(d.msg, "t.yaml:3:1:");
    CHECK(parse(&a, "a: 1\nb:\n\tc: 2\n", &d) == NULL);    /* tabs */
    CHECK_CONTAINS(d.msg, "t.yaml:3:");

    CHECK(parse(&a, "a: 1\na: 2\n", &d) == NULL);          /* duplicate key */
    CHECK_CONTAINS(d.msg, "t.yaml:2:1: key 'a' is defined twice");

    CHECK(parse(&a, "a: &x {b: 1}\nc: *x\n", &d) != NULL); /* aliases expand */

    /* billion laughs: fails cleanly instead of expanding */
    char bomb[4096] = "a: &a [x,x,x,x,x,x,x,x,x,x]\n";
    const char *prev = "a";
    char name[8];
    for (int i = 0; i < 9; i++) {
        snprintf(name, sizeof(name), "l%d", i);
        char line[256];
        snprintf(line, sizeof(line), "%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n", name, name, prev, prev, prev, prev,
                 prev, prev, prev, prev, prev, prev);
        strcat(bomb, line);
        prev = arena_strdup(&a, name);
    }
    CHECK(parse(&a, bomb, &d) == NULL);
    CHECK_CONTAINS(d.msg, "more than");

    /* deep nesting */
    char deep[1000] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    CHECK(parse(&a, deep, &d) == NULL);

    /* every prefix of a valid document: never crashes */
    const char *doc = "http:\n  services:\n    s:\n      loadBalancer:\n        servers:\n          - url: http://a:1\n";
    for (size_t i = 0; i <= strlen(doc); i++) {
        char *copy = arena_strndup(&a, doc, i);
        struct diag dd;
        (void)tree_yaml_parse(&a, "p.yaml", copy, i, &dd);
    }
    arena_free(&a);
    return test_report("controller/tree_yaml");
}
