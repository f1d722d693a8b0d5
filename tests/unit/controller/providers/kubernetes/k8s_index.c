/* Tests controller/providers/kubernetes/k8s_index.c: lookups by "ns/name"
 * and by label, several objects under one key, keys that are prefixes of
 * others, namespaces whose characters sort around '/'. */
#include "../../../../../controller/providers/kubernetes/k8s_index.c"

#include "test.h"

static const cJSON *obj(const char *ns, const char *name, const char *svc)
{
    cJSON *o = cJSON_CreateObject(), *m = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(m, "namespace", ns);
    cJSON_AddStringToObject(m, "name", name);
    cJSON_AddStringToObject(cJSON_AddObjectToObject(m, "labels"), "kubernetes.io/service-name", svc);
    return o;
}

int main(void)
{
    const cJSON *items[] = {obj("a", "x", "s"),   obj("a-b", "x", "s"), obj("a.b", "x", "t"), obj("ab", "x", "s"),
                            obj("a", "xy", "s"),  obj("a", "x-1", "t"), obj("a0", "x", "s"),  obj("a", "", "s")};
    size_t n_items = sizeof(items) / sizeof(items[0]);
    struct arena a;
    arena_init(&a);
    struct k8s_index by_name, by_svc;
    k8s_index_build(&a, &by_name, items, n_items, NULL);
    k8s_index_build(&a, &by_svc, items, n_items, "kubernetes.io/service-name");
    CHECK(by_name.n == n_items && by_svc.n == n_items);
    for (size_t i = 1; i < by_name.n; i++) /* sorted as the "ns/name" strings are */
        CHECK(strcmp(by_name.e[i - 1].key, by_name.e[i].key) <= 0);
    CHECK(k8s_index_get(&by_name, "a", "x") == items[0]);
    CHECK(k8s_index_get(&by_name, "a-b", "x") == items[1]);
    CHECK(k8s_index_get(&by_name, "a.b", "x") == items[2]);
    CHECK(k8s_index_get(&by_name, "ab", "x") == items[3]);
    CHECK(k8s_index_get(&by_name, "a", "xy") == items[4]);
    CHECK(k8s_index_get(&by_name, "a0", "x") == items[6]);
    CHECK(k8s_index_get(&by_name, "a", "") == items[7]);
    CHECK(k8s_index_get(&by_name, "a", "x-") == NULL && k8s_index_get(&by_name, "a/x", "") == NULL);
    CHECK(k8s_index_get(&by_name, "", "a/x") == NULL && k8s_index_get(&by_name, "b", "x") == NULL);
    size_t count = 0;
    const struct k8s_index_entry *e = k8s_index_find(&by_svc, "a", "s", &count);
    CHECK(e != NULL && count == 3); /* x, xy and "" of namespace a */
    e = k8s_index_find(&by_svc, "a", "t", &count);
    CHECK(e != NULL && count == 1 && e->obj == items[5]);
    CHECK(k8s_index_find(&by_svc, "a", "u", &count) == NULL && count == 0);
    arena_free(&a);
    for (size_t i = 0; i < n_items; i++)
        cJSON_Delete((cJSON *)items[i]);
    return test_report("controller/providers/kubernetes/k8s_index");
}
