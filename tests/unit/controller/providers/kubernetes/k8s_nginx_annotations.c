/* Tests controller/providers/kubernetes/k8s_nginx_annotations.c through k8s_translate(): each
 * fixture tests/fixtures/k8s_nginx/<name>.json holds provider options and
 * Kubernetes objects as kubectl would show them; the model dump and the
 * problems must equal <name>.expected (GANTRY_UPDATE_FIXTURES=1 rewrites the
 * expected files, to be reviewed in the diff). Class selection is checked
 * directly. */
#include "../../../../../controller/providers/kubernetes/k8s_nginx_annotations.c"
#include "../../../../../controller/providers/kubernetes/k8s_translate.h"

#include <stdlib.h>

#include "test.h"

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    size_t got = fread(s, 1, (size_t)n, f);
    s[got] = '\0';
    fclose(f);
    return s;
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The dump of <name>'s translation, then its problems, sorted. */
static char *run_fixture(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/k8s_nginx/%s.json", dir, name);
    char *text = slurp(path);
    CHECK(text != NULL);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(root != NULL);
    if (root == NULL)
        return strdup("");
    static const char *kinds[] = {"IngressClass", "Ingress", "Service", "EndpointSlice", "Secret", "ConfigMap"};
    const cJSON *lists[6][32];
    size_t counts[6] = {0};
    for (const cJSON *o = get(root, "objects") ? get(root, "objects")->child : NULL; o; o = o->next)
        for (size_t k = 0; k < 6; k++)
            if (str(o, "kind") && strcmp(str(o, "kind"), kinds[k]) == 0 && counts[k] < 32)
                lists[k][counts[k]++] = o;
    struct k8s_objects objs = {lists[0], lists[1], lists[2], lists[3], lists[4],
                               counts[0], counts[1], counts[2], counts[3], counts[4]};
    objs.config_maps = lists[5];
    objs.n_config_maps = counts[5];
    const cJSON *opt = get(root, "options");
    struct k8s_nginx_options no = {.ingress_class = str(opt, "ingressClass"),
                                   .controller_class = str(opt, "controllerClass"),
                                   .watch_without_class = cJSON_IsTrue(get(opt, "watchIngressWithoutClass")),
                                   .class_by_name = cJSON_IsTrue(get(opt, "ingressClassByName")),
                                   .allow_unsafe = cJSON_IsTrue(get(opt, "allowUnsafeAnnotations")),
                                   .native_lb_by_default = cJSON_IsTrue(get(opt, "nativeLBByDefault")),
                                   .enable_ssl_passthrough = cJSON_IsTrue(get(opt, "enableSSLPassthrough")),
                                   .config_map = str(opt, "configMap")};
    struct k8s_translate_options to = {.ingress_class = "gantry",
                                       .nginx = &no,
                                       .nginx_only = !cJSON_IsTrue(get(opt, "kubernetesIngress"))};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_translate(&objs, &to, &pa, &problems);
    char *dump = model_dump(m);
    if (problems.len > 1) /* no list at all: items is NULL */
        qsort(problems.items, problems.len, sizeof(*problems.items), by_str);
    size_t len = strlen(dump) + 16;
    for (size_t i = 0; i < problems.len; i++)
        len += strlen(problems.items[i]) + 4;
    char *out = malloc(len);
    snprintf(out, len, "%sproblems:\n", dump);
    for (size_t i = 0; i < problems.len; i++) {
        strcat(out, "- ");
        strcat(out, problems.items[i]);
        strcat(out, "\n");
    }
    free(dump);
    model_free(m);
    arena_free(&pa);
    cJSON_Delete(root);
    return out;
}

static void check_fixture(const char *dir, const char *name)
{
    char *got = run_fixture(dir, name);
    char path[512];
    snprintf(path, sizeof(path), "%s/k8s_nginx/%s.expected", dir, name);
    if (getenv("GANTRY_UPDATE_FIXTURES")) {
        FILE *f = fopen(path, "wb");
        CHECK(f != NULL);
        if (f) {
            fputs(got, f);
            fclose(f);
        }
    }
    char *want = slurp(path);
    if (want == NULL || strcmp(got, want) != 0)
        fprintf(stderr, "fixture %s differs; got:\n%s\n", name, got);
    CHECK(want != NULL && strcmp(got, want) == 0);
    free(want);
    free(got);
}

static const cJSON *J(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    return o;
}

static void test_class_selection(void)
{
    const cJSON *classes[] = {
        J("{\"metadata\":{\"name\":\"nginx\"},\"spec\":{\"controller\":\"k8s.io/ingress-nginx\"}}"),
        J("{\"metadata\":{\"name\":\"internal\"},\"spec\":{\"controller\":\"k8s.io/ingress-nginx\"}}"),
        J("{\"metadata\":{\"name\":\"public\"},\"spec\":{\"controller\":\"example.com/other\"}}"),
    };
    const cJSON *by_class = J("{\"metadata\":{\"name\":\"a\"},\"spec\":{\"ingressClassName\":\"internal\"}}");
    const cJSON *other = J("{\"metadata\":{\"name\":\"b\"},\"spec\":{\"ingressClassName\":\"public\"}}");
    const cJSON *missing = J("{\"metadata\":{\"name\":\"c\"},\"spec\":{\"ingressClassName\":\"nginx2\"}}");
    const cJSON *legacy = J("{\"metadata\":{\"name\":\"d\",\"annotations\":{\"kubernetes.io/ingress.class\":\"nginx\"}},"
                            "\"spec\":{}}");
    const cJSON *none = J("{\"metadata\":{\"name\":\"e\"},\"spec\":{}}");
    struct k8s_nginx_options o = {0};
    CHECK(k8s_nginx_is_ours(classes, 3, &o, by_class)); /* any class of the controller, whatever its name */
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, other));
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, missing));
    CHECK(k8s_nginx_is_ours(classes, 3, &o, legacy));
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, none));
    o.watch_without_class = true;
    CHECK(k8s_nginx_is_ours(classes, 3, &o, none));
    o.ingress_class = "public";
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, other)); /* by name only when asked */
    o.class_by_name = true;
    CHECK(k8s_nginx_is_ours(classes, 3, &o, other));
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, legacy)); /* the legacy annotation must equal ingressClass */
    o.controller_class = "example.com/other";
    CHECK(!k8s_nginx_is_ours(classes, 3, &o, by_class));
    cJSON_Delete((cJSON *)by_class);
    cJSON_Delete((cJSON *)other);
    cJSON_Delete((cJSON *)missing);
    cJSON_Delete((cJSON *)legacy);
    cJSON_Delete((cJSON *)none);
    for (size_t i = 0; i < 3; i++)
        cJSON_Delete((cJSON *)classes[i]);
}

static void test_helpers(void)
{
    long long n;
    CHECK(parse_size("8m", &n) == 0 && n == 8 * 1024 * 1024);
    CHECK(parse_size("512K", &n) == 0 && n == 512 * 1024);
    CHECK(parse_size("0", &n) == 0 && n == 0);
    CHECK(parse_size("1.5m", &n) != 0);
    CHECK(parse_size("-1", &n) != 0);
    CHECK(cidr_ok("10.0.0.0/8") && cidr_ok("192.168.1.7") && cidr_ok("fd00::/64"));
    CHECK(!cidr_ok("10.0.0.0/33") && !cidr_ok("10.0.0") && !cidr_ok("") && !cidr_ok("10.0.0.0/"));
    bool b;
    CHECK(config_parse_go_bool("True", &b) == 0 && b);
    CHECK(config_parse_go_bool("0", &b) == 0 && !b);
    CHECK(config_parse_go_bool("yes", &b) != 0);
}

int main(void)
{
    const char *dir = getenv("GANTRY_FIXTURES");
    if (dir == NULL)
        dir = "tests/fixtures";
    test_class_selection();
    test_helpers();
    static const char *fixtures[] = {"class", "redirects", "rewrite", "cors", "auth", "source_ranges",
                                     "limits_affinity_backend", "refused", "canary", "upstream_tls_mirror",
                                     "balancing", "passthrough", "passthrough_off", "configmap_defaults",
                                     "configmap_invalid", "configmap_restricting", "configmap_restricting_unsafe",
                                     "configmap_missing", "configmap_bad_code", "configmap_hsts",
                                     "configmap_hsts_zero", "configmap_hsts_off", "configmap_hsts_invalid", "hsts_catch_all", "catch_all_hostless",
                                     "shared_tls_host"};
    for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
        check_fixture(dir, fixtures[i]);
    return test_report("controller/providers/kubernetes/k8s_nginx_annotations");
}
