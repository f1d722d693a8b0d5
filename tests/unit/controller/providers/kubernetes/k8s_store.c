/* Tests controller/providers/kubernetes/k8s_store.c: put/replace/delete, keys, growth, sorted lists, swap;
 * the changes noted since a reset (by key, or by a label before and after), "all" until the first reset. */
#include "../../../../../controller/providers/kubernetes/k8s_store.c"

#include "test.h"

int main(void)
{
    struct k8s_store s, fresh;
    k8s_store_init(&s);
    char key[64];
    cJSON *o = cJSON_Parse("{\"metadata\":{\"name\":\"web\",\"namespace\":\"prod\"}}");
    CHECK_STR(k8s_object_key(o, key, sizeof(key)), "prod/web");
    cJSON *c = cJSON_Parse("{\"metadata\":{\"name\":\"gantry\"}}");
    CHECK_STR(k8s_object_key(c, key, sizeof(key)), "gantry"); /* cluster-scoped */
    cJSON *bad = cJSON_Parse("{\"metadata\":{}}");
    CHECK(k8s_object_key(bad, key, sizeof(key)) == NULL);
    cJSON_Delete(bad);
    k8s_store_put(&s, "prod/web", o);
    k8s_store_put(&s, "gantry", c);
    CHECK(k8s_store_count(&s) == 2 && k8s_store_get(&s, "prod/web") == o);
    cJSON *o2 = cJSON_Parse("{\"v\":2}");
    k8s_store_put(&s, "prod/web", o2); /* replaces and frees the old one */
    CHECK(k8s_store_count(&s) == 2 && k8s_store_get(&s, "prod/web") == o2);
    for (int i = 0; i < 1000; i++) { /* growth */
        snprintf(key, sizeof(key), "ns/obj-%04d", 999 - i);
        k8s_store_put(&s, key, cJSON_CreateNumber(999 - i));
    }
    CHECK(k8s_store_count(&s) == 1002 && s.objs.cap >= 1002);
    size_t n;
    const cJSON **all = k8s_store_list(&s, &n);
    CHECK(n == 1002 && all[0] == c && cJSON_IsNumber(all[1]) && all[1]->valueint == 0 && all[1000]->valueint == 999);
    free(all);
    k8s_store_del(&s, "ns/obj-0500");
    k8s_store_del(&s, "ns/absent");
    CHECK(k8s_store_count(&s) == 1001 && k8s_store_get(&s, "ns/obj-0500") == NULL && k8s_store_get(&s, "ns/obj-0501") != NULL);
    k8s_store_init(&fresh);
    k8s_store_put(&fresh, "x/y", cJSON_CreateTrue());
    k8s_store_swap(&s, &fresh); /* a new list replaces everything */
    CHECK(k8s_store_count(&s) == 1 && k8s_store_get(&s, "x/y") != NULL && k8s_store_count(&fresh) == 0);
    k8s_store_clear(&s);
    k8s_store_clear(&fresh);

    struct k8s_changes ch;
    k8s_changes_init(&ch);
    k8s_changes_note(&ch, "a/x", NULL, NULL, NULL);
    CHECK(ch.all && ch.keys.n == 0); /* nothing one by one before the first reset */
    k8s_changes_reset(&ch);
    CHECK(!ch.all);
    k8s_changes_note(&ch, "a/x", NULL, NULL, NULL);
    k8s_changes_note(&ch, "a/x", NULL, NULL, NULL);
    CHECK(ch.keys.n == 1 && strmap_get(&ch.keys, "a/x") == NULL);
    size_t it = 0;
    const char *k;
    void *v;
    CHECK(strmap_next(&ch.keys, &it, &k, &v) && strcmp(k, "a/x") == 0);
    k8s_changes_reset(&ch);
    CHECK(ch.keys.n == 0);
    /* an EndpointSlice moved from Service "one" to "two": both */
    cJSON *before = cJSON_Parse("{\"metadata\":{\"name\":\"s1\",\"namespace\":\"a\",\"labels\":{\"kubernetes.io/service-name\":\"one\"}}}");
    cJSON *after = cJSON_Parse("{\"metadata\":{\"name\":\"s1\",\"namespace\":\"a\",\"labels\":{\"kubernetes.io/service-name\":\"two\"}}}");
    cJSON *unlabelled = cJSON_Parse("{\"metadata\":{\"name\":\"s2\",\"namespace\":\"a\"}}");
    const char *label = "kubernetes.io/service-name";
    k8s_changes_note(&ch, "a/s1", before, after, label);
    k8s_changes_note(&ch, "a/s2", NULL, unlabelled, label);
    CHECK(ch.keys.n == 2);
    bool one = false, two = false;
    for (it = 0; strmap_next(&ch.keys, &it, &k, &v);) {
        one |= strcmp(k, "a/one") == 0;
        two |= strcmp(k, "a/two") == 0;
    }
    CHECK(one && two);
    k8s_changes_reset(&ch);
    k8s_changes_note(&ch, "a/s1", after, NULL, label); /* deleted: by what it was */
    it = 0;
    CHECK(ch.keys.n == 1 && strmap_next(&ch.keys, &it, &k, &v) && strcmp(k, "a/two") == 0);
    k8s_changes_free(&ch);
    cJSON_Delete(before);
    cJSON_Delete(after);
    cJSON_Delete(unlabelled);
    return test_report("controller/providers/kubernetes/k8s_store");
}
