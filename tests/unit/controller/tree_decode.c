/* Tests controller/tree_decode.c: lists, maps, field tables in both modes
 * (static: key paths, stop at the first error; dynamic: object context,
 * report everything), message shapes. */
#include "../../../controller/tree_decode.c"

#include "../../../controller/tree_yaml.h"
#include "test.h"

struct collect {
    struct tree_decoder super;
    const char *errors[8], *warnings[8];
    int n_errors, n_warnings;
};

static void collect(struct tree_decoder *td, bool is_error, const char *msg)
{
    struct collect *c = (struct collect *)td;
    if (is_error && c->n_errors < 8)
        c->errors[c->n_errors++] = arena_strdup(td->arena, msg);
    else if (!is_error && c->n_warnings < 8)
        c->warnings[c->n_warnings++] = arena_strdup(td->arena, msg);
}

struct thing {
    const char *name;
    bool on;
    int64_t n;
    uint64_t wait_ms;
    const char **tags;
    size_t n_tags;
};

static int f_name(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_string(td, v, &((struct thing *)obj)->name);
}
static int f_on(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_bool(td, v, &((struct thing *)obj)->on);
}
static int f_n(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_int(td, v, 0, 10, &((struct thing *)obj)->n);
}
static int f_wait(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    return tree_decode_duration(td, v, &((struct thing *)obj)->wait_ms);
}
static int f_tags(struct tree_decoder *td, void *obj, const struct tree_node *v)
{
    struct thing *t = obj;
    return tree_decode_list(td, v, &t->tags, &t->n_tags);
}

static const struct tree_field thing_fields[] = {{"name", f_name}, {"on", f_on},     {"n", f_n},  {"wait", f_wait},
                                                 {"tags", f_tags}, {"legacy", NULL}, {NULL, NULL}};

static struct tree_node *yaml(struct arena *a, const char *text)
{
    struct diag d;
    struct tree_node *n = tree_yaml_parse(a, "t.yaml", text, strlen(text), &d);
    CHECK(n != NULL);
    return n;
}

int main(void)
{
    struct arena a;
    arena_init(&a);

    /* dynamic mode: context is the object, every problem reported */
    struct collect c = {.super = {.arena = &a, .report = collect, .context = "router 'r'", .keep_going = true}};
    struct thing t = {0};
    struct tree_node *n = yaml(&a, "name: x\nOn: TRUE\nn: 11\nwait: 1m30s\ntags: \"a, b \"\ncolour: red\nlegacy: 1\n");
    CHECK(tree_decode_fields(&c.super, &t, n, thing_fields, "router") != 0);
    CHECK_STR(t.name, "x");
    CHECK(t.on);               /* keys match case-insensitively */
    CHECK(t.wait_ms == 90000); /* after the error in "n": keep going */
    CHECK(t.n_tags == 2);
    CHECK_STR(t.tags[1], "b");
    CHECK(c.n_errors == 1);
    CHECK_CONTAINS(c.errors[0], "t.yaml:3:4: 11 is out of range [0, 10] (router 'r')");
    CHECK(c.n_warnings == 2);
    CHECK_CONTAINS(c.warnings[0], "t.yaml:6:9: router 'r': unknown key 'colour' in router (ignored)");
    CHECK_CONTAINS(c.warnings[1], "router 'r': key 'legacy' is not supported by gantry yet (ignored)");
    CHECK(c.super.context != NULL && strcmp(c.super.context, "router 'r'") == 0);

    /* a sequence of strings; a nested map where a string belongs */
    t = (struct thing){0};
    c.n_errors = 0;
    CHECK(tree_decode_fields(&c.super, &t, yaml(&a, "tags: [p, q]\nname: {x: 1}\n"), thing_fields, "router") != 0);
    CHECK(t.n_tags == 2);
    CHECK_STR(t.tags[0], "p");
    CHECK_CONTAINS(c.errors[0], "t.yaml:2:7: router 'r': expected a string value");

    /* static mode: the context is the key path, the first error stops */
    struct collect s = {
        .super = {.arena = &a, .report = collect, .context = "", .track_path = true, .kind = "static configuration"}};
    t = (struct thing){0};
    CHECK(tree_decode_fields(&s.super, &t, yaml(&a, "wait: soon\nname: never-decoded\nzzz: 1\n"), thing_fields, NULL) != 0);
    CHECK(t.name == NULL);
    CHECK(s.n_errors == 1);
    CHECK_CONTAINS(s.errors[0], "t.yaml:1:7: expected a duration such as 10s or 250ms, got 'soon' (wait)");
    CHECK(s.n_warnings == 0);
    s.n_errors = 0;
    CHECK(tree_decode_fields(&s.super, &t, yaml(&a, "zzz: 1\nlegacy: 2\n"), thing_fields, NULL) == 0);
    CHECK_CONTAINS(s.warnings[0], "unknown static configuration key 'zzz' (ignored)");
    CHECK_CONTAINS(s.warnings[1], "static configuration key 'legacy' is not supported by gantry yet (ignored)");

    /* a switch: a boolean, or a map that implies true */
    bool on = false;
    t = (struct thing){0};
    CHECK(tree_decode_switch(&c.super, &on, &t, yaml(&a, "n: 3\n"), thing_fields, "thing") == 0 && on && t.n == 3);
    struct tree_node *root = tree_new_node(&a, TREE_MAP, "flags", 0, 0);
    struct diag d;
    CHECK(tree_set_path(&a, root, "thing", "false", "flag --thing", &d) == 0);
    CHECK(tree_decode_switch(&c.super, &on, &t, tree_map_get(root, "thing"), thing_fields, "thing") == 0 && !on);

    /* a map of strings, keys verbatim */
    const char **keys, **values;
    size_t nm;
    CHECK(tree_decode_string_map(&c.super, yaml(&a, "X-One: 1\nx-two:\n"), &keys, &values, &nm) == 0 && nm == 2);
    CHECK_STR(keys[0], "X-One");
    CHECK_STR(values[0], "1");
    CHECK_STR(values[1], "");

    arena_free(&a);
    return test_report("controller/tree_decode");
}
