/* Tests controller/providers/kubernetes/k8s_nginx_configmap.c: which keys
 * are honoured, reported, or refuse every nginx Ingress; a missing
 * ConfigMap. (Their effect on Ingresses: the configmap_* fixtures of
 * k8s_nginx_annotations.) */
#include "../../../../../controller/providers/kubernetes/k8s_nginx_annotations.h"

#include <string.h>

#include "test.h"

static cJSON *cm(const char *data)
{
    char text[1024];
    snprintf(text, sizeof(text), "{\"metadata\":{\"namespace\":\"ingress-nginx\",\"name\":\"ctl\"},\"data\":%s}", data);
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    return o;
}

static bool has(const struct ptr_vec *v, const char *needle)
{
    for (size_t i = 0; i < v->len; i++)
        if (strstr(v->items[i], needle))
            return true;
    return false;
}

static void read_one(const char *data, bool unsafe, const char *ref, struct k8s_nginx_config *out, struct ptr_vec *problems,
                     struct arena *a)
{
    cJSON *o = data ? cm(data) : NULL;
    const cJSON *list[1] = {o};
    struct k8s_nginx_options opt = {.allow_unsafe = unsafe, .config_map = ref};
    k8s_nginx_config_read(&opt, list, o ? 1 : 0, a, problems, out);
    /* out->data points into <o>: the tests only look at it before this */
    if (out->data)
        out->data = NULL;
    cJSON_Delete(o);
}

static void test_keys(void)
{
    struct arena a;
    arena_init(&a);
    struct ptr_vec p = {0};
    struct k8s_nginx_config c;
    read_one("{\"whitelist-source-range\":\"10.0.0.0/8\",\"http-redirect-code\":\"301\",\"use-gzip\":\"true\"}", false,
             "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused == NULL);
    CHECK(c.redirect_code == 301);
    CHECK(has(&p, "ConfigMap ingress-nginx/ctl key use-gzip is not implemented"));
    /* hsts*: ingress-nginx's defaults unless set */
    CHECK(c.hsts.on && c.hsts.max_age == 31536000 && c.hsts.include_subdomains && !c.hsts.preload);
    CHECK(!has(&p, "whitelist-source-range"));
    CHECK(k8s_nginx_config_honoured("whitelist-source-range") && k8s_nginx_config_honoured("ssl-redirect"));
    CHECK(!k8s_nginx_config_honoured("allowlist-source-range") && !k8s_nginx_config_honoured("enable-cors"));

    p = (struct ptr_vec){0};
    read_one("{\"http-redirect-code\":\"303\"}", false, "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused && strstr(c.refused, "http-redirect-code: `303` is not 301, 302, 307 or 308"));

    /* restricting keys: refused unless allowUnsafeAnnotations; empty: nothing restricted */
    const char *restricting[] = {"{\"block-cidrs\":\"1.2.3.4\"}", "{\"global-auth-url\":\"http://a/\"}",
                                 "{\"global-rate-limit-memcached-host\":\"m\"}", "{\"block-user-agents\":\"x\"}",
                                 "{\"allowlist-source-range\":\"10.0.0.0/8\"}"};
    for (size_t i = 0; i < sizeof(restricting) / sizeof(*restricting); i++) {
        p = (struct ptr_vec){0};
        read_one(restricting[i], false, "ingress-nginx/ctl", &c, &p, &a);
        CHECK(c.refused && strstr(c.refused, "restricts access"));
        CHECK(has(&p, "no ingress-nginx Ingress is served"));
        p = (struct ptr_vec){0};
        read_one(restricting[i], true, "ingress-nginx/ctl", &c, &p, &a);
        CHECK(c.refused == NULL && has(&p, "is not implemented by gantry (ignored)"));
    }
    p = (struct ptr_vec){0};
    read_one("{\"block-cidrs\":\"\"}", false, "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused == NULL);
    /* snippets: never, whatever allowUnsafeAnnotations */
    p = (struct ptr_vec){0};
    read_one("{\"location-snippet\":\"deny all;\"}", true, "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused && strstr(c.refused, "snippets are never executed"));

    /* hsts keys: honoured (not reported), Go booleans, max-age in seconds */
    p = (struct ptr_vec){0};
    read_one("{\"hsts\":\"False\",\"hsts-max-age\":\"0\",\"hsts-include-subdomains\":\"0\",\"hsts-preload\":\"t\"}",
             false, "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused == NULL && p.len == 0);
    CHECK(!c.hsts.on && c.hsts.max_age == 0 && !c.hsts.include_subdomains && c.hsts.preload);
    const char *bad_hsts[] = {"{\"hsts\":\"yes\"}", "{\"hsts-preload\":\"\"}", "{\"hsts-max-age\":\"1y\"}",
                              "{\"hsts-max-age\":\"-1\"}", "{\"hsts-max-age\":\" 60\"}", "{\"hsts-max-age\":\"\"}",
                              "{\"hsts-max-age\":\"99999999999999999999\"}"};
    for (size_t i = 0; i < sizeof(bad_hsts) / sizeof(*bad_hsts); i++) {
        p = (struct ptr_vec){0};
        read_one(bad_hsts[i], false, "ingress-nginx/ctl", &c, &p, &a);
        CHECK(c.refused && strstr(c.refused, "ConfigMap ingress-nginx/ctl key hsts"));
        CHECK(has(&p, "no ingress-nginx Ingress is served"));
    }

    /* missing: ingress-nginx's defaults, reported */
    p = (struct ptr_vec){0};
    read_one(NULL, false, "ingress-nginx/ctl", &c, &p, &a);
    CHECK(c.refused == NULL && c.data == NULL && has(&p, "ConfigMap ingress-nginx/ctl not found"));
    CHECK(c.hsts.on && c.hsts.max_age == 31536000);
    /* another name or namespace is not it */
    p = (struct ptr_vec){0};
    read_one("{}", false, "other/ctl", &c, &p, &a);
    CHECK(has(&p, "ConfigMap other/ctl not found"));
    p = (struct ptr_vec){0};
    read_one("{}", false, "bad", &c, &p, &a);
    CHECK(c.refused != NULL);
    arena_free(&a);
}

int main(void)
{
    test_keys();
    return test_report("controller/providers/kubernetes/k8s_nginx_configmap");
}
