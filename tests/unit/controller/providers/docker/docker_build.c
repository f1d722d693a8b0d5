/*
 * Tests controller/providers/docker/docker_build.c: table-driven over fixtures, each a set of
 * inspected containers (tests/fixtures/docker/<case>.json) and the model
 * and problems they must give (<case>.expected.yaml). Set
 * GANTRY_UPDATE_FIXTURES=1 to rewrite the expected files after a deliberate
 * change (then read the diff).
 */
#include "../../../../../controller/providers/docker/docker_build.c"

#include <cjson/cJSON.h>

#include "../../../../../controller/tree_yaml.h"
#include "test.h"

static const char *const cases[] = {"host_network",   "defaults",          "compose_replicas", "exposed_by_default_false",
                                    "health_and_state", "bad_labels",      "networks",         "traefik_prefix",
                                    "routers_and_services", "constraints_and_template", "mirroring",
                                    /* one per line from here: merges stay clean */
                                    "auth_middlewares",
                                    "middleware_headers",
                                    "path_middlewares",
                                    "mw_limits",
                                    "udp_labels",
                                    "udp_replicas",
                                    "tcp_replicas",
};

static char *slurp(const char *path, size_t *len)
{
    struct diag d;
    char *s = read_file(path, 16 * 1024 * 1024, len, &d);
    if (s == NULL)
        fprintf(stderr, "%s\n", d.msg);
    return s;
}

static const char *opt(const cJSON *o, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static void run_case(const char *dir, const char *name)
{
    char path[2200];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    char *json = slurp(path, &len);
    CHECK(json != NULL);
    if (json == NULL)
        return;
    cJSON *root = cJSON_ParseWithLength(json, len);
    CHECK(root != NULL);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "options");
    struct arena a;
    arena_init(&a);
    struct docker_options opts = {
        .label_prefix = opt(o, "labelPrefix", "gantry"),
        .exposed_by_default = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "exposedByDefault")),
        .network = opt(o, "network", ""),
        .default_rule = opt(o, "defaultRule", "Host(`{{ normalize .Name }}`)"),
        .host_ip = "127.0.0.1",
    };
    const char *constraints = opt(o, "constraints", NULL);
    struct diag d;
    if (constraints) {
        opts.constraints = rule_parse_constraint(&a, constraints, &d);
        CHECK(opts.constraints != NULL);
    }
    struct docker_store store = {mem_calloc(64, sizeof(struct docker_container *)), 0};
    const cJSON *item;
    cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root, "containers"))
    {
        char *doc = cJSON_PrintUnformatted(item);
        struct docker_container *c = docker_container_parse(doc, strlen(doc), &d);
        CHECK(c != NULL);
        if (c)
            store.items[store.n++] = c;
        free(doc);
    }
    struct ptr_vec problems = {0};
    struct model *m = docker_build(&store, &opts, &a, &problems);
    char *dump = model_dump(m);
    size_t cap = strlen(dump) + 64;
    for (size_t i = 0; i < problems.len; i++)
        cap += strlen(problems.items[i]) + 8;
    char *got = mem_alloc(cap);
    int n = snprintf(got, cap, "%sproblems:\n", dump);
    for (size_t i = 0; i < problems.len; i++)
        n += snprintf(got + n, cap - (size_t)n, "  - %s\n", (const char *)problems.items[i]);

    snprintf(path, sizeof(path), "%s/%s.expected.yaml", dir, name);
    if (getenv("GANTRY_UPDATE_FIXTURES")) {
        FILE *f = fopen(path, "w");
        fputs(got, f);
        fclose(f);
    }
    char *want = slurp(path, &len);
    if (want == NULL || strcmp(got, want) != 0) {
        fprintf(stderr, "fixture %s differs:\n--- got ---\n%s--- want ---\n%s", name, got, want ? want : "(missing)\n");
        CHECK(!"fixture output matches");
    }
    free(want);
    free(got);
    free(dump);
    model_free(m);
    for (size_t i = 0; i < store.n; i++)
        docker_container_free(store.items[i]);
    free(store.items);
    cJSON_Delete(root);
    free(json);
    arena_free(&a);
}

int main(void)
{
    const char *dir = getenv("GANTRY_FIXTURES");
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s/docker", dir ? dir : "tests/fixtures");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(buf, cases[i]);

    /* normalize and the template subset */
    struct arena a;
    arena_init(&a);
    CHECK_STR(docker_normalize(&a, "my_app.1"), "my-app-1");
    CHECK_STR(docker_normalize(&a, "--a__b--"), "a-b");
    CHECK_STR(docker_normalize(&a, "web_proj"), "web-proj");
    struct docker_kv labels[] = {{"domain", "example.com"}};
    struct docker_container c = {.name = "My_App", .labels = labels, .n_labels = 1, .network_mode = ""};
    struct diag d;
    CHECK_STR(docker_expand_rule(&a, "Host(`{{ normalize .Name }}.docker.localhost`)", "My_App", &c, &d),
              "Host(`My-App.docker.localhost`)");
    CHECK_STR(docker_expand_rule(&a, "Host(`{{.ContainerName}}`)", "svc", &c, &d), "Host(`My_App`)");
    CHECK_STR(docker_expand_rule(&a, "Host(`{{ index .Labels \"domain\" }}`)", "svc", &c, &d), "Host(`example.com`)");
    CHECK_STR(docker_expand_rule(&a, "Host(`{{- .Name -}}`)", "svc", &c, &d), "Host(`svc`)");
    CHECK(docker_expand_rule(&a, "Host(`{{ .Name | upper }}`)", "svc", &c, &d) == NULL);
    CHECK_CONTAINS(d.msg, "unsupported template action");
    CHECK(docker_expand_rule(&a, "Host(`{{ .Name `)", "svc", &c, &d) == NULL);
    CHECK_CONTAINS(d.msg, "unterminated");
    arena_free(&a);
    return test_report("controller/providers/docker/docker_build");
}
