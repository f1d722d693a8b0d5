/*
 * Tests controller/providers/kubernetes/k8s_crd.c: table-driven over fixtures, each a set of
 * Kubernetes objects with the provider's options
 * (tests/fixtures/k8s_crd/<case>.json: {"options": {...}, "objects": [...]})
 * and the model and problems they must give (<case>.expected.yaml). Set
 * GANTRY_UPDATE_FIXTURES=1 to rewrite the expected files after a
 * deliberate change (then read the diff).
 */
#include "../../../../../controller/providers/kubernetes/k8s_crd.c"

#include "../../../../../controller/tree_yaml.h"
#include "test.h"

static const char *const cases[] = {
    "ingressroute_middlewares", "references", "cross_namespace_allowed", "ingressroutetcp", "ingressroutetcp_weighted", "ingressroutetcp_tls", "ingressrouteudp", "malformed", "service_ref_middlewares",
};

static char *slurp(const char *path, size_t *len)
{
    struct diag d;
    char *s = read_file(path, 16 * 1024 * 1024, len, &d);
    if (s == NULL)
        fprintf(stderr, "%s\n", d.msg);
    return s;
}

/* The enum k8s_crd_kind of an object's "kind"; K8S_CRD_KINDS when unknown. */
static enum k8s_crd_kind kind_of(const cJSON *obj)
{
    static const char *const names[K8S_CRD_KINDS] = {"IngressRoute",     "Middleware",      "TLSOption",    "TLSStore",
                                                     "ServersTransport", "TraefikService",  "Service",      "EndpointSlice",
                                                     "Secret",           "IngressRouteTCP", "MiddlewareTCP", "ServersTransportTCP",
                                                     "IngressRouteUDP"};
    const char *k = str(obj, "kind");
    for (int i = 0; k && i < K8S_CRD_KINDS; i++)
        if (strcmp(names[i], k) == 0)
            return (enum k8s_crd_kind)i;
    return K8S_CRD_KINDS;
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
    const cJSON *o = get(root, "options"), *objects = get(root, "objects");
    struct k8s_crd_options opts = {
        .ingress_class = str(o, "ingressClass"),
        .allow_cross_namespace = cJSON_IsTrue(get(o, "allowCrossNamespace")),
        .allow_external_name = cJSON_IsTrue(get(o, "allowExternalNameServices")),
        .allow_empty_services = cJSON_IsTrue(get(o, "allowEmptyServices")),
    };
    struct k8s_crd_objects objs;
    int n = cJSON_GetArraySize(objects);
    for (int k = 0; k < K8S_CRD_KINDS; k++) {
        objs.items[k] = mem_alloc((size_t)(n ? n : 1) * sizeof(cJSON *));
        objs.n[k] = 0;
    }
    for (const cJSON *item = objects ? objects->child : NULL; item; item = item->next) {
        enum k8s_crd_kind k = kind_of(item);
        CHECK(k != K8S_CRD_KINDS);
        if (k != K8S_CRD_KINDS)
            objs.items[k][objs.n[k]++] = item;
    }
    struct arena a;
    arena_init(&a);
    struct ptr_vec problems = {0};
    struct model *m = k8s_crd_translate(&objs, &opts, &a, &problems);
    char *dump = model_dump(m);
    size_t cap = strlen(dump) + 64;
    for (size_t i = 0; i < problems.len; i++)
        cap += strlen(problems.items[i]) + 8;
    char *got = mem_alloc(cap);
    int w = snprintf(got, cap, "%sproblems:\n", dump);
    for (size_t i = 0; i < problems.len; i++)
        w += snprintf(got + w, cap - (size_t)w, "  - %s\n", (const char *)problems.items[i]);
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
    for (int k = 0; k < K8S_CRD_KINDS; k++)
        free(objs.items[k]);
    cJSON_Delete(root);
    free(json);
    arena_free(&a);
}

int main(void)
{
    const char *dir = getenv("GANTRY_FIXTURES");
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s/k8s_crd", dir ? dir : "tests/fixtures");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        run_case(buf, cases[i]);

    /* Traefik's router key: sha256("Host(`foo.com`)")[:10] in hex */
    struct arena a;
    arena_init(&a);
    struct cx c = {.m = model_new(K8S_CRD_PROVIDER), .pa = &a};
    CHECK_STR(router_key(&c, "default", "my.route", "Host(`foo.com`)"), "default-my-route-6f97418635c7e18853da");
    model_free(c.m);
    arena_free(&a);
    return test_report("controller/providers/kubernetes/k8s_crd");
}
