/* Tests controller/providers/kubernetes/k8s_translate.c: class selection, rule text of each
 * pathType, priorities, backends through Service and EndpointSlice ports,
 * ready/terminating endpoints, ExternalName, TLS secrets and problems. */
#include "../../../../../controller/providers/kubernetes/k8s_translate.c"

#include "test.h"

static cJSON *objs_store[64];
static size_t n_store;

static const cJSON *J(const char *text)
{
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    objs_store[n_store++] = o;
    return o;
}

static const struct model_router *router(const struct model *m, const char *name)
{
    return model_find_router(m, name);
}

static const char *problems_text(const struct ptr_vec *p)
{
    static char buf[4096];
    buf[0] = '\0';
    for (size_t i = 0; i < p->len; i++) {
        strncat(buf, p->items[i], sizeof(buf) - strlen(buf) - 2);
        strcat(buf, "\n");
    }
    return buf;
}

int main(void)
{
    const cJSON *classes[] = {
        J("{\"metadata\":{\"name\":\"gantry\"},\"spec\":{\"controller\":\"gantry.io/ingress-controller\"}}"),
        J("{\"metadata\":{\"name\":\"nginx\"},\"spec\":{\"controller\":\"k8s.io/ingress-nginx\"}}"),
    };
    const cJSON *services[] = {
        J("{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,"
          "\"targetPort\":\"web\"},{\"name\":\"https\",\"port\":443}]}}"),
        J("{\"metadata\":{\"name\":\"ext\",\"namespace\":\"ns\"},\"spec\":{\"type\":\"ExternalName\","
          "\"externalName\":\"api.example.org\",\"ports\":[{\"port\":443}]}}"),
    };
    const cJSON *slices[] = {
        J("{\"metadata\":{\"name\":\"app-1\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/service-name\":\"app\"}},"
          "\"ports\":[{\"name\":\"http\",\"port\":8080},{\"name\":\"https\",\"port\":8443}],\"endpoints\":["
          "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
          "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
          "{\"addresses\":[\"fd00::3\"]}]}"),
    };
    const cJSON *secrets[] = {
        /* tls.crt = "CERT", tls.key = "KEY" */
        J("{\"metadata\":{\"name\":\"tls\",\"namespace\":\"ns\"},\"type\":\"kubernetes.io/tls\","
          "\"data\":{\"tls.crt\":\"Q0VSVA==\",\"tls.key\":\"S0VZ\"}}"),
    };
    const cJSON *ingresses[] = {
        J("{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":\"gantry\","
          "\"tls\":[{\"hosts\":[\"a.test\"],\"secretName\":\"tls\"}],"
          "\"rules\":[{\"host\":\"a.test\",\"http\":{\"paths\":["
          "{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"name\":\"http\"}}}},"
          "{\"path\":\"/foo/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}},"
          "{\"path\":\"/foo\",\"pathType\":\"Exact\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":443}}}},"
          "{\"path\":\"/ext\",\"pathType\":\"ImplementationSpecific\",\"backend\":{\"service\":{\"name\":\"ext\",\"port\":{\"number\":443}}}},"
          "{\"path\":\"/x\",\"pathType\":\"Regex\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}},"
          "{\"path\":\"/none\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"missing\",\"port\":{\"number\":80}}}}"
          "]}},{\"host\":\"*.w.test\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\","
          "\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}},"
          "{\"host\":\"bad host\",\"http\":{\"paths\":[]}}],"
          "\"defaultBackend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}}"),
        J("{\"metadata\":{\"name\":\"theirs\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":\"nginx\",\"rules\":[]}}"),
        J("{\"metadata\":{\"name\":\"legacy\",\"namespace\":\"ns\",\"annotations\":{\"kubernetes.io/ingress.class\":"
          "\"gantry\"}},\"spec\":{\"rules\":[]}}"),
        J("{\"metadata\":{\"name\":\"classless\",\"namespace\":\"ns\"},\"spec\":{\"rules\":[]}}"),
    };
    struct k8s_objects o = {classes, ingresses, services, slices, secrets, 2, 4, 2, 1, 1};
    struct k8s_translate_options opts = {.ingress_class = "gantry", .allow_external_name = false};
    CHECK(k8s_ingress_is_ours(&o, &opts, ingresses[0]));
    CHECK(!k8s_ingress_is_ours(&o, &opts, ingresses[1]));
    CHECK(k8s_ingress_is_ours(&o, &opts, ingresses[2]));
    CHECK(!k8s_ingress_is_ours(&o, &opts, ingresses[3])); /* no default class */

    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_translate(&o, &opts, &pa, &problems);
    const struct model_router *root = router(m, "ns-web-0-0"), *foo = router(m, "ns-web-0-1"),
                              *exact = router(m, "ns-web-0-2"), *wild = router(m, "ns-web-1-0"),
                              *def = router(m, "ns-web-default");
    CHECK(root && foo && exact && wild && def);
    if (root && foo && exact && wild && def) {
        CHECK_STR(root->rule, "Host(`a.test`) && PathPrefix(`/`)");
        CHECK_STR(foo->rule, "Host(`a.test`) && (Path(`/foo`) || PathPrefix(`/foo/`))"); /* element-wise */
        CHECK_STR(exact->rule, "Host(`a.test`) && Path(`/foo`)");
        CHECK(exact->priority == foo->priority + 1); /* Exact before Prefix at equal length */
        CHECK(foo->priority > root->priority);       /* longer first */
        CHECK(root->priority > wild->priority);      /* exact host before wildcard */
        CHECK(wild->priority > def->priority);
        CHECK_STR(def->rule, "PathPrefix(`/`)");
        CHECK(router(m, "ns-web-0-0-tls") != NULL && router(m, "ns-web-0-0-tls")->tls != NULL); /* TLS too */
    }
    /* backends: the slice's port for the service port's name; ready first */
    const struct model_service *http = model_find_service(m, "ns-app-http");
    CHECK(http && http->lb && http->lb->n_servers == 2);
    if (http && http->lb && http->lb->n_servers == 2) {
        CHECK_STR(http->lb->servers[0].url, "http://10.0.0.1:8080");
        CHECK_STR(http->lb->servers[1].url, "http://[fd00::3]:8080"); /* unset ready means ready */
    }
    const struct model_service *https = model_find_service(m, "ns-app-443");
    CHECK(https && https->lb && https->lb->n_servers == 2 && strncmp(https->lb->servers[0].url, "https://", 8) == 0);
    CHECK(model_find_service(m, "ns-ext-443") == NULL); /* ExternalName not allowed */
    CHECK(m->certs.len == 1);
    if (m->certs.len == 1)
        CHECK_STR(((struct model_tls_cert *)m->certs.items[0])->cert_pem, "CERT");
    const char *pt = problems_text(&problems);
    CHECK_CONTAINS(pt, "ingress ns/web: service ns/missing does not exist");
    CHECK_CONTAINS(pt, "unknown pathType Regex");
    CHECK_CONTAINS(pt, "ExternalName, which is not allowed");
    CHECK_CONTAINS(pt, "invalid host `bad host`");
    model_free(m);

    /* ExternalName allowed; the default class makes class-less Ingresses ours */
    opts.allow_external_name = true;
    const cJSON *def_class[] = {J("{\"metadata\":{\"name\":\"gantry\",\"annotations\":{\"ingressclass.kubernetes.io/"
                                  "is-default-class\":\"true\"}},\"spec\":{\"controller\":\"gantry.io/ingress-controller\"}}")};
    o.ingress_classes = def_class;
    o.n_ingress_classes = 1;
    CHECK(k8s_ingress_is_ours(&o, &opts, ingresses[3]));
    problems = (struct ptr_vec){0};
    m = k8s_translate(&o, &opts, &pa, &problems);
    const struct model_service *ext = model_find_service(m, "ns-ext-443");
    CHECK(ext && ext->lb && ext->lb->n_servers == 1);
    if (ext && ext->lb && ext->lb->n_servers == 1)
        CHECK_STR(ext->lb->servers[0].url, "https://api.example.org:443");
    model_free(m);

    /* the serving-but-terminating endpoint only when no ready one is left */
    const cJSON *only_term[] = {J("{\"metadata\":{\"name\":\"app-1\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/"
                                  "service-name\":\"app\"}},\"ports\":[{\"name\":\"http\",\"port\":8080}],\"endpoints\":["
                                  "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,"
                                  "\"terminating\":true}},{\"addresses\":[\"10.0.0.9\"],\"conditions\":{\"ready\":false}}]}")};
    o.endpoint_slices = only_term;
    problems = (struct ptr_vec){0};
    m = k8s_translate(&o, &opts, &pa, &problems);
    http = model_find_service(m, "ns-app-http");
    CHECK(http && http->lb && http->lb->n_servers == 1);
    if (http && http->lb && http->lb->n_servers == 1)
        CHECK_STR(http->lb->servers[0].url, "http://10.0.0.2:8080");
    model_free(m);
    /* Traefik's router.* annotations: applied to every router of the Ingress */
    o.endpoint_slices = slices;
    const cJSON *annotated[] = {J(
        "{\"metadata\":{\"name\":\"tr\",\"namespace\":\"ns\",\"annotations\":{"
        "\"traefik.ingress.kubernetes.io/router.entrypoints\":\"websecure\","
        "\"traefik.ingress.kubernetes.io/router.middlewares\":\"ns-auth@kubernetescrd, strip@file\","
        "\"traefik.ingress.kubernetes.io/router.priority\":\"42\","
        "\"traefik.ingress.kubernetes.io/router.tls.options\":\"ns-modern@kubernetescrd\","
        "\"traefik.ingress.kubernetes.io/router.tls.domains.0.main\":\"example.com\","
        "\"traefik.ingress.kubernetes.io/router.tls.domains.0.sans\":\"a.example.com, *.b.example.com\","
        "\"traefik.ingress.kubernetes.io/router.tls.domains.1.main\":\"example.org\","
        "\"traefik.ingress.kubernetes.io/service.sticky.cookie\":\"true\"}},"
        "\"spec\":{\"ingressClassName\":\"gantry\",\"rules\":[{\"host\":\"a.example.com\",\"http\":{\"paths\":"
        "[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}}]}}"),
        J("{\"metadata\":{\"name\":\"bad\",\"namespace\":\"ns\",\"annotations\":{"
          "\"traefik.ingress.kubernetes.io/router.priority\":\"high\","
          "\"traefik.ingress.kubernetes.io/router.tls.domains.9.main\":\"x.example\"}},"
          "\"spec\":{\"ingressClassName\":\"gantry\",\"rules\":[{\"host\":\"b.example.com\",\"http\":{\"paths\":"
          "[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}}]}}")};
    o.ingresses = annotated;
    o.n_ingresses = 2;
    o.ingress_classes = classes;
    o.n_ingress_classes = 2;
    problems = (struct ptr_vec){0};
    m = k8s_translate(&o, &opts, &pa, &problems);
    const struct model_router *tr = router(m, "ns-tr-0-0-tls");
    CHECK(tr != NULL);
    CHECK(router(m, "ns-tr-0-0") == NULL); /* router.tls.*: TLS only */
    if (tr) {
        CHECK(tr->n_entrypoints == 1 && strcmp(tr->entrypoints[0], "websecure") == 0);
        CHECK(tr->n_middlewares == 2);
        if (tr->n_middlewares == 2) {
            CHECK_STR(tr->middlewares[0], "ns-auth@kubernetescrd");
            CHECK_STR(tr->middlewares[1], "strip@file");
        }
        CHECK(tr->priority == 42);
        CHECK(tr->tls && tr->tls->options && strcmp(tr->tls->options, "ns-modern@kubernetescrd") == 0);
        CHECK(tr->tls && tr->tls->n_domains == 2);
        if (tr->tls && tr->tls->n_domains == 2) {
            CHECK_STR(tr->tls->domains[0].main, "example.com");
            CHECK(tr->tls->domains[0].n_sans == 2);
            if (tr->tls->domains[0].n_sans == 2)
                CHECK_STR(tr->tls->domains[0].sans[1], "*.b.example.com");
            CHECK_STR(tr->tls->domains[1].main, "example.org");
        }
    }
    CHECK(router(m, "ns-bad-0-0") == NULL && router(m, "ns-bad-0-0-tls") == NULL);
    pt = problems_text(&problems);
    CHECK_CONTAINS(pt, "ingress ns/bad: annotation traefik.ingress.kubernetes.io/router.priority: not an integer: `high` "
                       "(not served)");
    CHECK_CONTAINS(pt, "service.sticky.cookie: service annotations are read on the Service");
    model_free(m);
    /* Traefik's service.* annotations on the Service: for Traefik's Ingresses
     * only; an ingress-nginx Ingress of the same Service gets its own service */
    const cJSON *annotated_svc[] = {J(
        "{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns\",\"annotations\":{"
        "\"traefik.ingress.kubernetes.io/service.serversscheme\":\"h2c\","
        "\"traefik.ingress.kubernetes.io/service.middlewares\":\"ns-auth@kubernetescrd\","
        "\"traefik.ingress.kubernetes.io/service.passhostheader\":\"false\"}},"
        "\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80}]}}")};
    const cJSON *both[] = {
        J("{\"metadata\":{\"name\":\"t\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":\"gantry\",\"rules\":"
          "[{\"host\":\"t.example.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":"
          "{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}}]}}"),
        J("{\"metadata\":{\"name\":\"n\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":\"nginx\",\"rules\":"
          "[{\"host\":\"n.example.com\",\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":"
          "{\"service\":{\"name\":\"app\",\"port\":{\"number\":80}}}}]}}]}}")};
    struct k8s_nginx_options nxo = {0};
    struct k8s_translate_options opts2 = {.ingress_class = "gantry", .nginx = &nxo};
    o.services = annotated_svc;
    o.n_services = 1;
    o.ingresses = both;
    o.n_ingresses = 2;
    problems = (struct ptr_vec){0};
    m = k8s_translate(&o, &opts2, &pa, &problems);
    const struct model_service *ts = model_find_service(m, "ns-app-80");
    const struct model_service *nsvc = model_find_service(m, "ns-app-80-ingress-nginx");
    CHECK(ts && ts->lb && ts->lb->n_servers == 2 && !ts->lb->pass_host_header);
    if (ts && ts->lb && ts->lb->n_servers > 0)
        CHECK_STR(ts->lb->servers[0].url, "h2c://10.0.0.1:8080");
    CHECK(ts && ts->n_middlewares == 1 && strcmp(ts->middlewares[0], "ns-auth@kubernetescrd") == 0);
    CHECK(nsvc && nsvc->lb && nsvc->lb->pass_host_header && nsvc->n_middlewares == 0);
    if (nsvc && nsvc->lb && nsvc->lb->n_servers > 0)
        CHECK_STR(nsvc->lb->servers[0].url, "http://10.0.0.1:8080");
    const struct model_router *nr = router(m, "ns-n-0-0");
    CHECK(nr && strcmp(nr->service, "ns-app-80-ingress-nginx") == 0);
    CHECK(router(m, "ns-t-0-0") && strcmp(router(m, "ns-t-0-0")->service, "ns-app-80") == 0);
    model_free(m);
    /* a port named https-*: https servers, as Traefik */
    const cJSON *sec_svc[] = {J("{\"metadata\":{\"name\":\"sec\",\"namespace\":\"ns\"},"
                                "\"spec\":{\"ports\":[{\"name\":\"https-web\",\"port\":8443}]}}")};
    const cJSON *sec_slices[] = {J("{\"metadata\":{\"name\":\"sec-1\",\"namespace\":\"ns\",\"labels\":"
                                   "{\"kubernetes.io/service-name\":\"sec\"}},\"ports\":[{\"name\":\"https-web\","
                                   "\"port\":9443}],\"endpoints\":[{\"addresses\":[\"10.0.0.5\"]}]}")};
    const cJSON *sec_ing[] = {J("{\"metadata\":{\"name\":\"s\",\"namespace\":\"ns\"},\"spec\":{\"ingressClassName\":"
                                "\"gantry\",\"rules\":[{\"http\":{\"paths\":[{\"path\":\"/\",\"pathType\":\"Prefix\","
                                "\"backend\":{\"service\":{\"name\":\"sec\",\"port\":{\"number\":8443}}}}]}}]}}")};
    o.services = sec_svc;
    o.endpoint_slices = sec_slices;
    o.n_endpoint_slices = 1;
    o.ingresses = sec_ing;
    o.n_ingresses = 1;
    problems = (struct ptr_vec){0};
    m = k8s_translate(&o, &opts2, &pa, &problems);
    const struct model_service *sec = model_find_service(m, "ns-sec-8443");
    CHECK(sec && sec->lb && sec->lb->n_servers == 1);
    if (sec && sec->lb && sec->lb->n_servers == 1)
        CHECK_STR(sec->lb->servers[0].url, "https://10.0.0.5:9443");
    model_free(m);
    arena_free(&pa);
    for (size_t i = 0; i < n_store; i++)
        cJSON_Delete(objs_store[i]);
    return test_report("controller/providers/kubernetes/k8s_translate");
}
