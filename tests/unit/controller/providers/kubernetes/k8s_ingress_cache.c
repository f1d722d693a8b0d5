/* Tests controller/providers/kubernetes/k8s_ingress_cache.c through k8s_translate_cached(): an
 * unchanged Ingress is reused, a change to it or to what it references
 * (Service, EndpointSlice, Secret, IngressClass) re-translates it alone, the
 * assembled model equals a fresh translation, pieces outlive the cache while
 * a model uses them; and names that collide ("team-a"/"app" vs
 * "team"/"a-app") leave the younger Ingress unserved with both named; list
 * generations keep indexes and skip dependency checks; the model's digest
 * comes from its pieces. With a delta (what changed, k8s_translate.h), only
 * the changed Ingresses and the pieces that depend on a changed Service,
 * EndpointSlice, Secret, canary or TLS host are looked at (the reverse
 * index), each kind re-translating exactly its dependents; without one (a
 * list) everything is, again. */
#include "../../../../../controller/providers/kubernetes/k8s_ingress_cache.h"
#include "../../../../../controller/providers/kubernetes/k8s_translate.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static cJSON *store[160];
static size_t n_store;

static const cJSON *J(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    store[n_store++] = o;
    return o;
}

static const char *ING = "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s-%s\",\"resourceVersion\":"
                         "\"%s\",\"creationTimestamp\":\"%s\"},\"spec\":{\"ingressClassName\":\"gantry\",\"tls\":"
                         "[{\"secretName\":\"tls\"}],\"rules\":[{\"host\":\"%s\",\"http\":{\"paths\":[{\"path\":\"/\","
                         "\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"%s\",\"port\":{\"number\":80}}}}]}}]}}";

static const cJSON *ingress(const char *ns, const char *name, const char *rv, const char *created, const char *host,
                            const char *svc)
{
    char buf[1200];
    snprintf(buf, sizeof(buf), ING, name, ns, ns, name, rv, created, host, svc);
    return J(buf);
}

static const cJSON *service(const char *ns, const char *name, const char *rv)
{
    char buf[400];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"resourceVersion\":\"%s\"},\"spec\":{\"ports\":"
             "[{\"name\":\"http\",\"port\":80}]}}",
             name, ns, rv);
    return J(buf);
}

static const cJSON *slice(const char *ns, const char *svc, const char *rv, const char *addr)
{
    char buf[600];
    snprintf(buf, sizeof(buf),
             "{\"metadata\":{\"name\":\"%s-x\",\"namespace\":\"%s\",\"resourceVersion\":\"%s\",\"labels\":"
             "{\"kubernetes.io/service-name\":\"%s\"}},\"ports\":[{\"name\":\"http\",\"port\":8080}],\"endpoints\":"
             "[{\"addresses\":[\"%s\"]}]}",
             svc, ns, rv, svc, addr);
    return J(buf);
}

static char *problems_text(const struct ptr_vec *p)
{
    size_t len = 1;
    for (size_t i = 0; i < p->len; i++)
        len += strlen(p->items[i]) + 1;
    char *out = calloc(1, len);
    for (size_t i = 0; i < p->len; i++) {
        strcat(out, p->items[i]);
        strcat(out, "\n");
    }
    return out;
}

/* The cached translation's dump equals a fresh one's; the model in <*out>. */
static void translate_both(struct k8s_ingress_cache *c, const struct k8s_objects *o,
                           const struct k8s_translate_options *opts, struct model **out, char **problems)
{
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec p1 = {0}, p2 = {0};
    struct model *cached = k8s_translate_cached(c, o, opts, &pa, &p1);
    struct model *fresh = k8s_translate(o, opts, &pa, &p2);
    char *a = model_dump(cached), *b = model_dump(fresh);
    CHECK_STR(a, b);
    char *pa_text = problems_text(&p1), *pb_text = problems_text(&p2);
    CHECK_STR(pa_text, pb_text);
    free(pb_text);
    *problems = pa_text;
    free(a);
    free(b);
    model_free(fresh);
    arena_free(&pa);
    *out = cached;
}

/* ---- the delta path ---- */

static const char *NING = "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"%s\",\"uid\":\"u-%s\",\"resourceVersion\":"
                          "\"%s\",\"creationTimestamp\":\"2026-01-01T00:00:00Z\",\"annotations\":{%s}},\"spec\":{"
                          "\"ingressClassName\":\"nginx\"%s,\"rules\":[{\"host\":\"%s\",\"http\":{\"paths\":[{"
                          "\"path\":\"%s\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"%s\","
                          "\"port\":{\"number\":80}}}}]}}]}}";

/* An ingress-nginx Ingress; <annotations> and <tls> are JSON fragments. */
static const cJSON *ning(const char *ns, const char *name, const char *rv, const char *annotations, const char *tls,
                         const char *host, const char *path, const char *svc)
{
    char buf[1600];
    snprintf(buf, sizeof(buf), NING, name, ns, name, rv, annotations, tls, host, path, svc);
    return J(buf);
}

/* One rebuild with <d> (NULL: not known); the model must equal a fresh
 * translation's, and exactly the Ingresses <want> ("a/i1 b/i4 ", each
 * followed by a space) are translated again. */
static void delta_step(struct k8s_ingress_cache *c, struct k8s_objects *o, const struct k8s_translate_options *opts,
                       const struct k8s_delta *d, const char *const *keys, size_t n_keys, const char *want)
{
    struct model *m;
    char *pt, made[400] = "";
    o->delta = d;
    translate_both(c, o, opts, &m, &pt);
    for (size_t i = 0; i < n_keys; i++) {
        const struct k8s_piece *p = k8s_ingress_cache_get(c, keys[i]);
        if (p && p->made_gen == c->gen) {
            strcat(made, keys[i]);
            strcat(made, " ");
        }
    }
    CHECK_STR(made, want);
    CHECK(c->last_translated + c->last_reused == c->n_order);
    model_free(m);
    free(pt);
}

static void test_delta(void)
{
    const cJSON *classes[] = {J("{\"metadata\":{\"name\":\"nginx\",\"resourceVersion\":\"1\"},\"spec\":{"
                                "\"controller\":\"k8s.io/ingress-nginx\"}}")};
    const char *tls_secret = "{\"metadata\":{\"name\":\"tls\",\"namespace\":\"a\",\"resourceVersion\":\"%s\"},"
                             "\"type\":\"kubernetes.io/tls\",\"data\":{\"tls.crt\":\"%s\",\"tls.key\":\"S0VZ\"}}";
    char buf[400];
    snprintf(buf, sizeof(buf), tls_secret, "1", "Q0VSVA==");
    const cJSON *secrets[] = {J(buf)};
    const cJSON *services[] = {service("a", "one", "1"), service("a", "two", "1"), service("a", "three", "1"),
                               service("b", "one", "1")};
    const cJSON *slices[] = {slice("a", "one", "1", "10.0.0.1"), slice("a", "two", "1", "10.0.0.2"),
                             slice("a", "three", "1", "10.0.0.3"), slice("b", "one", "1", "10.0.1.1")};
    const char *TLS = ",\"tls\":[{\"hosts\":[\"one.test\"],\"secretName\":\"tls\"}]";
    const char *CANARY = "\"nginx.ingress.kubernetes.io/canary\":\"true\","
                         "\"nginx.ingress.kubernetes.io/canary-weight\":\"%s\"";
    char canary[300];
    snprintf(canary, sizeof(canary), CANARY, "30");
    /* a/i1 has one.test's certificate, which a/i3 (same host) shares; a/c1
     * is a canary of a/i2; b/i4 uses b's Service "one" */
    const cJSON *ings[] = {ning("a", "i1", "1", "", TLS, "one.test", "/", "one"),
                           ning("a", "i2", "1", "", "", "two.test", "/", "two"),
                           ning("a", "i3", "1", "", "", "one.test", "/x", "two"),
                           ning("a", "c1", "1", canary, "", "two.test", "/", "three"),
                           ning("b", "i4", "1", "", "", "four.test", "/", "one")};
    const char *keys[] = {"a/i1", "a/i2", "a/i3", "a/c1", "b/i4"};
    struct k8s_objects o = {classes, ings, services, slices, secrets, 1, 5, 4, 4, 1};
    struct k8s_nginx_options no = {0};
    struct k8s_translate_options opts = {.ingress_class = "gantry", .nginx = &no, .nginx_only = true};
    struct k8s_ingress_cache c;
    k8s_ingress_cache_init(&c);
    struct k8s_delta none = {0};

    delta_step(&c, &o, &opts, &none, keys, 5, "a/i1 a/i2 a/i3 a/c1 b/i4 "); /* the first: everything */
    CHECK(c.rev_valid && c.n_order == 5);
    delta_step(&c, &o, &opts, &none, keys, 5, ""); /* nothing changed */

    /* a Service: its dependents only (not b/i4, of b's "one") */
    services[0] = service("a", "one", "2");
    const char *svc_keys[] = {"a/one"};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.services = svc_keys, .n_services = 1}, keys, 5, "a/i1 ");

    /* an EndpointSlice, by its Service: a/i2 and a/i3 use "two" */
    slices[1] = slice("a", "two", "2", "10.0.0.22");
    const char *slice_keys[] = {"a/two"};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.slices = slice_keys, .n_slices = 1}, keys, 5, "a/i2 a/i3 ");
    CHECK(c.last_patched); /* the service both name: patched, the oldest's again */

    /* a Secret: the Ingress whose certificate it is */
    snprintf(buf, sizeof(buf), tls_secret, "2", "Q0VSVDI=");
    secrets[0] = J(buf);
    const char *secret_keys[] = {"a/tls"};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.secrets = secret_keys, .n_secrets = 1}, keys, 5, "a/i1 ");

    /* a canary: itself, and the Ingress of its host and path (and the
     * others of its namespace that looked for one) */
    snprintf(canary, sizeof(canary), CANARY, "70");
    ings[3] = ning("a", "c1", "2", canary, "", "two.test", "/", "three");
    const char *c1[] = {"a/c1"};
    const cJSON *c1_obj[] = {ings[3]};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.ingress_keys = c1, .ingress_objs = c1_obj, .n_ingresses = 1}, keys,
               5, "a/i1 a/i2 a/i3 a/c1 ");

    /* a host's certificate: a/i1 without TLS, and a/i3 of the same host
     * loses the TLS it shared */
    ings[0] = ning("a", "i1", "2", "", "", "one.test", "/", "one");
    const char *i1[] = {"a/i1"};
    const cJSON *i1_obj[] = {ings[0]};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.ingress_keys = i1, .ingress_objs = i1_obj, .n_ingresses = 1}, keys,
               5, "a/i1 a/i3 ");

    /* an Ingress deleted, then added again */
    const cJSON *gone[] = {NULL};
    o.n_ingresses = 4; /* b/i4 is last */
    const char *i4[] = {"b/i4"};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.ingress_keys = i4, .ingress_objs = gone, .n_ingresses = 1}, keys, 5,
               "");
    CHECK(c.n_order == 4 && k8s_ingress_cache_get(&c, "b/i4") == NULL);
    o.n_ingresses = 5;
    const cJSON *i4_obj[] = {ings[4]};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.ingress_keys = i4, .ingress_objs = i4_obj, .n_ingresses = 1}, keys,
               5, "b/i4 ");
    CHECK(c.n_order == 5);

    /* only what the delta names is looked at: a change it does not name
     * waits (a watch always names it); a list (no delta) finds it */
    services[3] = service("b", "one", "2");
    struct k8s_ingress_cache *cp = &c;
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec pr = {0};
    o.delta = &none;
    model_free(k8s_translate_cached(cp, &o, &opts, &pa, &pr));
    CHECK(c.last_translated == 0);
    arena_free(&pa);
    delta_step(&c, &o, &opts, NULL, keys, 5, "b/i4 ");
    CHECK(c.rev_valid);

    /* after a list, the delta path again */
    slices[3] = slice("b", "one", "2", "10.0.1.2");
    const char *b_slice[] = {"b/one"};
    delta_step(&c, &o, &opts, &(struct k8s_delta){.slices = b_slice, .n_slices = 1}, keys, 5, "b/i4 ");
    k8s_ingress_cache_clear(&c);

    /* a Service two Ingresses name: the older's object is served, through
     * additions and new versions of either */
    const cJSON *sh_svc[] = {service("s", "one", "1")};
    const cJSON *sh_sl[] = {slice("s", "one", "1", "10.3.0.1")};
    const cJSON *sh_ing[] = {ingress("s", "ing-0", "1", "", "a.test", "one"), ingress("s", "ing-1000", "1", "", "b.test", "one")};
    const char *sh_keys[] = {"s/ing-0", "s/ing-1000"};
    const cJSON *sh_classes[] = {J("{\"metadata\":{\"name\":\"gantry\",\"resourceVersion\":\"1\"},\"spec\":{"
                                   "\"controller\":\"gantry.io/ingress-controller\"}}")};
    struct k8s_objects osh = {sh_classes, sh_ing, sh_svc, sh_sl, secrets, 1, 1, 1, 1, 1};
    struct k8s_translate_options gopts0 = {.ingress_class = "gantry"};
    k8s_ingress_cache_init(&c);
    delta_step(&c, &osh, &gopts0, &none, sh_keys, 2, "s/ing-0 ");
    osh.n_ingresses = 2;
    const cJSON *sh_new[] = {sh_ing[1]};
    delta_step(&c, &osh, &gopts0, &(struct k8s_delta){.ingress_keys = sh_keys + 1, .ingress_objs = sh_new, .n_ingresses = 1},
               sh_keys, 2, "s/ing-1000 ");
    CHECK(c.last_patched);
    for (int round = 0; round < 2; round++) {
        sh_ing[0] = ingress("s", "ing-0", round ? "3" : "2", "", round ? "a.test" : "a2.test", "one");
        const cJSON *sh_mod[] = {sh_ing[0]};
        delta_step(&c, &osh, &gopts0, &(struct k8s_delta){.ingress_keys = sh_keys, .ingress_objs = sh_mod, .n_ingresses = 1},
                   sh_keys, 2, "s/ing-0 ");
        CHECK(c.last_patched);
    }
    /* an older one naming it too takes it over ("s/ing-00" < "s/ing-0" is
     * false, "s/ing-+" sorts first) */
    const cJSON *sh_ing3[] = {sh_ing[0], sh_ing[1], ingress("s", "ing-+", "1", "", "c.test", "one")};
    osh.ingresses = sh_ing3;
    osh.n_ingresses = 3;
    const char *sh_keys3[] = {"s/ing-0", "s/ing-1000", "s/ing-+"};
    const cJSON *sh_plus[] = {sh_ing3[2]};
    delta_step(&c, &osh, &gopts0, &(struct k8s_delta){.ingress_keys = sh_keys3 + 2, .ingress_objs = sh_plus, .n_ingresses = 1},
               sh_keys3, 3, "s/ing-+ ");
    CHECK(c.last_patched);
    osh.n_ingresses = 2; /* and gone again: the first piece goes, the next oldest is served (names checked) */
    delta_step(&c, &osh, &gopts0, &(struct k8s_delta){.ingress_keys = sh_keys3 + 2, .ingress_objs = gone, .n_ingresses = 1},
               sh_keys3, 3, "");
    CHECK(!c.last_patched && c.claims_valid);
    /* both again (their Service's EndpointSlice), the younger found first */
    sh_sl[0] = slice("s", "one", "2", "10.3.0.2");
    const char *sh_slice[] = {"s/one"};
    delta_step(&c, &osh, &gopts0, &(struct k8s_delta){.slices = sh_slice, .n_slices = 1}, sh_keys, 2,
               "s/ing-0 s/ing-1000 ");
    CHECK(c.last_patched);
    k8s_ingress_cache_clear(&c);

    /* names that collide, by delta: the younger Ingress added is not
     * served; once the older goes, it is (the claims checked in full) */
    const cJSON *gclasses[] = {J("{\"metadata\":{\"name\":\"gantry\",\"resourceVersion\":\"1\"},\"spec\":{"
                                 "\"controller\":\"gantry.io/ingress-controller\"}}")};
    const cJSON *svc_c[] = {service("team-a", "x", "1"), service("team", "a-x", "1")};
    const cJSON *sl_c[] = {slice("team-a", "x", "1", "10.1.0.1"), slice("team", "a-x", "1", "10.2.0.1")};
    const cJSON *ing_c[] = {ingress("team", "a-app", "1", "2026-01-01T00:00:00Z", "old.test", "a-x"),
                            ingress("team-a", "app", "1", "2026-02-01T00:00:00Z", "new.test", "x")};
    const char *ckeys[] = {"team/a-app", "team-a/app"};
    struct k8s_objects oc = {gclasses, ing_c, svc_c, sl_c, secrets, 1, 1, 2, 2, 1};
    struct k8s_translate_options gopts = {.ingress_class = "gantry"};
    k8s_ingress_cache_init(&c);
    delta_step(&c, &oc, &gopts, &none, ckeys, 2, "team/a-app ");
    CHECK(c.claims_valid);
    oc.n_ingresses = 2;
    const char *young[] = {"team-a/app"};
    const cJSON *young_obj[] = {ing_c[1]};
    delta_step(&c, &oc, &gopts, &(struct k8s_delta){.ingress_keys = young, .ingress_objs = young_obj, .n_ingresses = 1},
               ckeys, 2, "team-a/app ");
    CHECK(!c.claims_valid);
    ing_c[0] = ing_c[1];
    oc.n_ingresses = 1;
    const char *old_key[] = {"team/a-app"};
    delta_step(&c, &oc, &gopts, &(struct k8s_delta){.ingress_keys = old_key, .ingress_objs = gone, .n_ingresses = 1},
               ckeys, 2, "");
    CHECK(c.claims_valid && c.n_order == 1);
    k8s_ingress_cache_clear(&c);
}

int main(void)
{
    const cJSON *classes[] = {J("{\"metadata\":{\"name\":\"gantry\",\"resourceVersion\":\"1\"},\"spec\":{\"controller\":"
                                "\"gantry.io/ingress-controller\"}}")};
    const cJSON *secrets[] = {J("{\"metadata\":{\"name\":\"tls\",\"namespace\":\"a\",\"resourceVersion\":\"1\"},"
                                "\"data\":{\"tls.crt\":\"Q0VSVA==\",\"tls.key\":\"S0VZ\"}}")};
    const cJSON *services[] = {service("a", "one", "1"), service("a", "two", "1"), service("b", "one", "1")};
    const cJSON *slices[] = {slice("a", "one", "1", "10.0.0.1"), slice("a", "two", "1", "10.0.0.2"),
                             slice("b", "one", "1", "10.0.1.1")};
    const cJSON *ings[] = {ingress("a", "i1", "1", "2026-01-01T00:00:00Z", "one.test", "one"),
                           ingress("a", "i2", "1", "2026-01-01T00:00:00Z", "two.test", "two"),
                           ingress("b", "i3", "1", "2026-01-01T00:00:00Z", "three.test", "one")};
    struct k8s_objects o = {classes, ings, services, slices, secrets, 1, 3, 3, 3, 1};
    struct k8s_translate_options opts = {.ingress_class = "gantry"};
    struct k8s_ingress_cache c;
    k8s_ingress_cache_init(&c);
    struct model *m;
    char *pt;

    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 3 && c.last_reused == 0);
    CHECK(m->routers.len == 6 && m->services.len == 3 && m->certs.len == 2); /* one per Ingress; b/i3's is missing */
    struct model *first = m;
    free(pt);

    /* nothing changed: everything reused */
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 0 && c.last_reused == 3);
    model_free(m);
    free(pt);

    /* an EndpointSlice of a/two: only a/i2 again, with the new address */
    slices[1] = slice("a", "two", "2", "10.0.0.22");
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 1 && c.last_reused == 2);
    const struct model_service *two = model_find_service(m, "a-two-80");
    CHECK(two && two->lb && two->lb->n_servers == 1 && strcmp(two->lb->servers[0].url, "http://10.0.0.22:8080") == 0);
    model_free(m);
    free(pt);

    /* the Service b/one and the Secret a/tls: b/i3, then a/i1 and a/i2 */
    services[2] = service("b", "one", "2");
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 1);
    model_free(m);
    free(pt);
    secrets[0] = J("{\"metadata\":{\"name\":\"tls\",\"namespace\":\"a\",\"resourceVersion\":\"2\"},"
                   "\"data\":{\"tls.crt\":\"Q0VSVDI=\",\"tls.key\":\"S0VZ\"}}");
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 2);
    model_free(m);
    free(pt);

    /* an Ingress's own version */
    ings[0] = ingress("a", "i1", "2", "2026-01-01T00:00:00Z", "uno.test", "one");
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 1 && c.last_reused == 2);
    model_free(m);
    free(pt);

    /* a Service that did not exist yet: the Ingress that wanted it */
    const cJSON *ings2[] = {ings[0], ings[1], ings[2], ingress("a", "i4", "1", "2026-01-01T00:00:00Z", "four.test", "four")};
    o.ingresses = ings2;
    o.n_ingresses = 4;
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 1);
    CHECK_CONTAINS(pt, "ingress a/i4: service a/four does not exist");
    model_free(m);
    free(pt);
    const cJSON *services2[] = {services[0], services[1], services[2], service("a", "four", "1")};
    o.services = services2;
    o.n_services = 4;
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 1 && c.last_reused == 3);
    CHECK(strstr(pt, "a/four") == NULL);
    model_free(m);
    free(pt);

    /* an IngressClass change invalidates every piece */
    classes[0] = J("{\"metadata\":{\"name\":\"gantry\",\"resourceVersion\":\"2\"},\"spec\":{\"controller\":"
                   "\"gantry.io/ingress-controller\"}}");
    translate_both(&c, &o, &opts, &m, &pt);
    CHECK(c.last_translated == 4);
    model_free(m);
    free(pt);

    /* the first model still reads its pieces after the cache let them go */
    k8s_ingress_cache_clear(&c);
    char *d = model_dump(first);
    CHECK_CONTAINS(d, "Host(`one.test`)");
    CHECK_CONTAINS(d, "http://10.0.0.2:8080");
    free(d);
    model_free(first);

    /* collisions: "team-a"/"app" and "team"/"a-app" are both "team-a-app";
     * the one created first keeps the name, whatever the order they come in */
    const cJSON *svc_c[] = {service("team-a", "x", "1"), service("team", "a-x", "1")};
    const cJSON *sl_c[] = {slice("team-a", "x", "1", "10.1.0.1"), slice("team", "a-x", "1", "10.2.0.1")};
    const cJSON *ing_c[] = {ingress("team", "a-app", "1", "2026-01-01T00:00:00Z", "old.test", "a-x"),
                            ingress("team-a", "app", "1", "2026-02-01T00:00:00Z", "new.test", "x")};
    struct k8s_objects oc = {classes, ing_c, svc_c, sl_c, secrets, 1, 2, 2, 2, 1};
    k8s_ingress_cache_init(&c);
    translate_both(&c, &oc, &opts, &m, &pt);
    CHECK_CONTAINS(pt, "ingress team-a/app: the name `team-a-app-0-0` is also ingress team/a-app's");
    CHECK_CONTAINS(pt, "ingress team/a-app, created first, keeps it (not served)");
    const struct model_router *r = model_find_router(m, "team-a-app-0-0");
    CHECK(r && strcmp(r->rule, "Host(`old.test`) && PathPrefix(`/`)") == 0 && strcmp(r->service, "team-a-x-80") == 0);
    CHECK(m->routers.len == 2); /* team/a-app's plain and TLS routers only */
    const struct model_service *s = model_find_service(m, "team-a-x-80");
    CHECK(s && s->lb && s->lb->n_servers == 1 && strcmp(s->lb->servers[0].url, "http://10.2.0.1:8080") == 0);
    model_free(m);
    free(pt);

    /* only the Services collide (different Ingress names): team-a/x and
     * team/a-x are both "team-a-x-80"; the younger Ingress is not served */
    const cJSON *ing_s[] = {ingress("team", "one", "1", "2026-01-01T00:00:00Z", "one.test", "a-x"),
                            ingress("team-a", "two", "1", "2026-02-01T00:00:00Z", "two.test", "x")};
    oc.ingresses = ing_s;
    translate_both(&c, &oc, &opts, &m, &pt);
    CHECK_CONTAINS(pt, "ingress team-a/two: the name `team-a-x-80` is also ingress team/one's");
    CHECK(model_find_router(m, "team-a-two-0-0") == NULL && model_find_router(m, "team-one-0-0") != NULL);
    model_free(m);
    free(pt);

    /* two Services of one Ingress: "a-b" port 80 and "a" port "b-80" are
     * both "ns-a-b-80": the second path is skipped, the first keeps its own */
    const cJSON *svc_i[] = {J("{\"metadata\":{\"name\":\"a-b\",\"namespace\":\"ns\",\"resourceVersion\":\"1\"},"
                              "\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}"),
                            J("{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"1\"},"
                              "\"spec\":{\"ports\":[{\"name\":\"b-80\",\"port\":81}]}}")};
    const cJSON *ing_i[] = {J("{\"metadata\":{\"name\":\"two\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":"
                              "\"gantry\",\"rules\":[{\"host\":\"two.test\",\"http\":{\"paths\":["
                              "{\"path\":\"/x\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"a-b\","
                              "\"port\":{\"number\":80}}}},"
                              "{\"path\":\"/y\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"a\","
                              "\"port\":{\"name\":\"b-80\"}}}}]}}]}}")};
    struct k8s_objects oi = {classes, ing_i, svc_i, sl_c, secrets, 1, 1, 2, 0, 0};
    translate_both(&c, &oi, &opts, &m, &pt);
    CHECK_CONTAINS(pt, "ingress ns/two: services ns/a-b and ns/a are both named `ns-a-b-80`");
    CHECK(model_find_router(m, "ns-two-0-0") != NULL && model_find_router(m, "ns-two-0-1") == NULL);
    model_free(m);
    free(pt);
    k8s_ingress_cache_clear(&c);

    /* Events (ingress-nginx): once per Ingress version, when translated;
     * those of unchanged Ingresses again only when asked (a new leader) */
    const cJSON *nclass[] = {J("{\"metadata\":{\"name\":\"nginx\",\"resourceVersion\":\"1\"},\"spec\":{\"controller\":"
                               "\"k8s.io/ingress-nginx\"}}")};
    const cJSON *ning[] = {J("{\"metadata\":{\"name\":\"n\",\"namespace\":\"a\",\"uid\":\"u-n\",\"resourceVersion\":\"1\","
                             "\"annotations\":{\"nginx.ingress.kubernetes.io/proxy-buffer-size\":\"16k\"}},\"spec\":{"
                             "\"ingressClassName\":\"nginx\",\"rules\":[{\"host\":\"n.test\",\"http\":{\"paths\":[{\"path\":"
                             "\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"one\",\"port\":{\"number\":"
                             "80}}}}]}}]}}")};
    struct k8s_objects on = {nclass, ning, services, slices, secrets, 1, 1, 3, 3, 1};
    struct k8s_nginx_options no = {0};
    struct k8s_translate_options nopts = {.ingress_class = "gantry", .nginx = &no, .nginx_only = true};
    k8s_ingress_cache_init(&c);
    for (int round = 0; round < 3; round++) {
        struct arena pa;
        arena_init(&pa);
        struct ptr_vec problems = {0}, events = {0};
        nopts.nginx_events = &events;
        nopts.events_of_unchanged = round == 2;
        m = k8s_translate_cached(&c, &on, &nopts, &pa, &problems);
        CHECK(events.len == (round == 1 ? 0u : 1u));
        CHECK(problems.len == 1); /* the problem stays in the API and the log */
        if (events.len == 1)
            CHECK_CONTAINS(((struct k8s_nginx_event *)events.items[0])->message, "proxy-buffer-size");
        model_free(m);
        arena_free(&pa);
    }
    k8s_ingress_cache_clear(&c);

    /* generations of the lists (the provider's, kept until a watch reports
     * a change): unchanged, the index is kept and no piece's dependencies
     * are looked at again; a new one is read again. The model's digest
     * folds its pieces': the same pieces give the same digest. */
    const cJSON *gsv[] = {service("a", "one", "1")};
    const cJSON *gsl[] = {slice("a", "one", "1", "10.0.0.1")};
    const cJSON *gin[] = {ingress("a", "i1", "1", "2026-01-01T00:00:00Z", "one.test", "one")};
    struct k8s_objects og = {classes, gin, gsv, gsl, secrets, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    k8s_ingress_cache_init(&c);
    struct arena gpa;
    arena_init(&gpa);
    struct ptr_vec gpr = {0};
    struct model *g[5];
    for (int round = 0; round < 5; round++) {
        if (round == 2) /* another object under the same generation: taken as the same */
            gsl[0] = slice("a", "one", "2", "10.0.0.9");
        if (round == 3)
            og.endpoint_slices_gen = 2;
        if (round == 4) { /* the Ingresses' list too */
            gin[0] = ingress("a", "i1", "2", "2026-01-01T00:00:00Z", "uno.test", "one");
            og.ingresses_gen = 2;
        }
        g[round] = k8s_translate_cached(&c, &og, &opts, &gpa, &gpr);
        model_set_digest(g[round], g[round]->digest);
        CHECK(g[round]->digest_known);
        CHECK(c.last_translated == (round == 0 || round >= 3 ? 1u : 0u));
        CHECK(c.last_translated + c.last_reused == 1);
    }
    CHECK(g[1]->digest == g[0]->digest && g[2]->digest == g[0]->digest && g[3]->digest != g[0]->digest);
    const struct model_service *gs = model_find_service(g[3], "a-one-80");
    CHECK(gs && gs->lb && gs->lb->n_servers == 1 && strcmp(gs->lb->servers[0].url, "http://10.0.0.9:8080") == 0);
    char *gd = model_dump(g[4]);
    CHECK_CONTAINS(gd, "Host(`uno.test`)");
    CHECK_CONTAINS(gd, "http://10.0.0.9:8080");
    free(gd);
    for (int round = 0; round < 5; round++)
        model_free(g[round]);
    arena_free(&gpa);
    k8s_ingress_cache_clear(&c);

    test_delta();

    for (size_t i = 0; i < n_store; i++)
        cJSON_Delete(store[i]);
    return test_report("controller/providers/kubernetes/k8s_ingress_cache");
}
