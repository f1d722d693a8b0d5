/*
 * Tests controller/providers/kubernetes/k8s_gateway*.c: Gateway API objects (inline JSON, with
 * ' for ") -> routers, services, middlewares and statuses: every match,
 * filter, precedence rule and status reason the provider claims.
 */
#include "../../../../../controller/providers/kubernetes/k8s_gateway.c"

#include <stdlib.h>
#include <time.h>

#include "../../../../../controller/providers/kubernetes/k8s_gateway_status.h"
#include "test.h"

static const char *const kind_names[K8S_GW_KINDS] = {"GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "ReferenceGrant",
                                                     "Service", "EndpointSlice", "Secret", "Namespace", "TLSRoute", "TCPRoute",
                                                     "BackendTLSPolicy", "ConfigMap"};

/* A cert/key pair is not parsed by the translation: any base64 will do. */
#define CERT "{'kind':'Secret','metadata':{'namespace':'default','name':'cert'},'data':{'tls.crt':'Q0VSVA==','tls.key':'S0VZ'}}"

/* The cluster every case starts from: our class, another class, one Gateway
 * with HTTP on 80 (-> web), HTTPS on 8443, and Services a and b with one
 * endpoint each. */
#define BASE                                                                                                                       \
    "{'kind':'GatewayClass','metadata':{'name':'gantry'},'spec':{'controllerName':'gantry.io/gateway-controller'}},"             \
    "{'kind':'GatewayClass','metadata':{'name':'other'},'spec':{'controllerName':'example.com/other'}},"                           \
    "{'kind':'Namespace','metadata':{'name':'default'}},"                                                                          \
    "{'kind':'Namespace','metadata':{'name':'team','labels':{'team':'yes'}}},"                                                     \
    "{'kind':'Gateway','metadata':{'namespace':'default','name':'gw','generation':3},'spec':{'gatewayClassName':'gantry',"       \
    "'listeners':[{'name':'http','port':80,'protocol':'HTTP'},"                                                                    \
    "{'name':'https','port':8443,'protocol':'HTTPS','hostname':'*.example.com','tls':{'certificateRefs':[{'name':'cert'}]}}]}},"   \
    "{'kind':'Gateway','metadata':{'namespace':'default','name':'notours'},'spec':{'gatewayClassName':'other','listeners':[]}}," \
    CERT ","                                                                                                                       \
    "{'kind':'Service','metadata':{'namespace':'default','name':'a'},'spec':{'ports':[{'name':'web','port':80}]}},"               \
    "{'kind':'EndpointSlice','metadata':{'namespace':'default','name':'a-1','labels':{'kubernetes.io/service-name':'a'}},"      \
    "'ports':[{'name':'web','port':8080}],'endpoints':[{'addresses':['10.0.0.1']}]},"                                              \
    "{'kind':'Service','metadata':{'namespace':'default','name':'b'},'spec':{'ports':[{'name':'web','port':80}]}},"               \
    "{'kind':'EndpointSlice','metadata':{'namespace':'default','name':'b-1','labels':{'kubernetes.io/service-name':'b'}},"      \
    "'ports':[{'name':'web','port':8081}],'endpoints':[{'addresses':['10.0.0.2']}]}"

struct run {
    cJSON *root;
    struct k8s_gw_objects objs;
    struct arena pa;
    struct ptr_vec problems;
    struct k8s_gw_statuses st;
    struct model *m;
    char *problem_text;
    double ms; /* the translation alone */
};

static const struct k8s_gw_entrypoint eps[] = {{"web", 8000}, {"websecure", 8443}, {"tcp", 9000}};

static char *statuses_text(const struct k8s_gw_statuses *st)
{
    size_t cap = 1;
    char **parts = mem_calloc(st->n + 1, sizeof(char *));
    for (size_t i = 0; i < st->n; i++) {
        parts[i] = cJSON_PrintUnformatted(st->v[i].status);
        cap += strlen(parts[i]) + 64;
    }
    char *out = mem_calloc(1, cap);
    for (size_t i = 0; i < st->n; i++) {
        sprintf(out + strlen(out), "%d %s ", (int)st->v[i].kind, meta(st->v[i].obj, "name"));
        strcat(out, parts[i]);
        strcat(out, "\n");
        free(parts[i]);
    }
    free(parts);
    return out;
}

/* Every case also checks the incremental translation: with a cache, a
 * first and a second translation (every route's fragment reused) give the
 * model, problems and statuses of the plain translation. */
static void check_cached(struct run *r, const struct k8s_gw_options *opts)
{
    char *want = model_dump(r->m), *want_st = statuses_text(&r->st);
    struct k8s_gw_cache *cache = k8s_gw_cache_new();
    for (int round = 0; round < 2; round++) {
        struct arena pa;
        arena_init(&pa);
        struct ptr_vec problems = {0};
        struct k8s_gw_statuses st = {0};
        struct model *m = k8s_gw_translate_cached(&r->objs, opts, cache, 42, &pa, &problems, &st);
        char *got = model_dump(m), *got_st = statuses_text(&st);
        if (strcmp(got, want) != 0)
            fprintf(stderr, "cached translation (round %d) differs:\n%s\n--- plain:\n%s\n", round, got, want);
        CHECK(strcmp(got, want) == 0);
        if (strcmp(got_st, want_st) != 0)
            fprintf(stderr, "cached statuses (round %d) differ:\n%s\n--- plain:\n%s\n", round, got_st, want_st);
        CHECK(strcmp(got_st, want_st) == 0);
        CHECK(problems.len == r->problems.len);
        for (size_t i = 0; i < problems.len && i < r->problems.len; i++)
            CHECK(strcmp(problems.items[i], r->problems.items[i]) == 0);
        if (round == 1)
            CHECK(k8s_gw_cache_fresh(cache) == 0);
        CHECK(k8s_gw_cache_current(cache, &r->objs, 42));
        CHECK(!k8s_gw_cache_current(cache, &r->objs, 43) || r->objs.n[K8S_GW_HTTPROUTES] + r->objs.n[K8S_GW_GRPCROUTES] == 0);
        free(got);
        free(got_st);
        k8s_gw_statuses_free(&st);
        model_free(m);
        arena_free(&pa);
    }
    k8s_gw_cache_free(cache);
    free(want);
    free(want_st);
}

static void run(struct run *r, const char *objects, bool experimental)
{
    memset(r, 0, sizeof(*r));
    char *json = mem_strdup(objects);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    char *wrapped = mem_alloc(strlen(json) + 3);
    sprintf(wrapped, "[%s]", json);
    r->root = cJSON_Parse(wrapped);
    if (r->root == NULL)
        fprintf(stderr, "bad JSON near: %.80s\n", cJSON_GetErrorPtr());
    CHECK(r->root != NULL);
    free(json);
    free(wrapped);
    int n = cJSON_GetArraySize(r->root);
    for (int k = 0; k < K8S_GW_KINDS; k++)
        r->objs.items[k] = mem_alloc((size_t)(n ? n : 1) * sizeof(cJSON *));
    for (const cJSON *o = r->root ? r->root->child : NULL; o; o = o->next) {
        int k = 0;
        while (k < K8S_GW_KINDS && strcmp(kind_names[k], str(o, "kind")) != 0)
            k++;
        CHECK(k < K8S_GW_KINDS);
        if (k < K8S_GW_KINDS)
            r->objs.items[k][r->objs.n[k]++] = o;
    }
    struct k8s_gw_options opts = {.entrypoints = eps, .n_entrypoints = 3, .experimental = experimental, .status_ip = "192.0.2.1"};
    arena_init(&r->pa);
    struct timespec t0, t1;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0); /* CPU time: the machine is shared */
    r->m = k8s_gw_translate(&r->objs, &opts, &r->pa, &r->problems, getenv("GW_BENCH_NOSTATUS") ? NULL : &r->st);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
    r->ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (!getenv("GW_BENCH"))
        check_cached(r, &opts);
    size_t cap = 16;
    for (size_t i = 0; i < r->problems.len; i++)
        cap += strlen(r->problems.items[i]) + 1;
    r->problem_text = mem_calloc(1, cap);
    for (size_t i = 0; i < r->problems.len; i++) {
        strcat(r->problem_text, r->problems.items[i]);
        strcat(r->problem_text, "\n");
    }
}

static void done(struct run *r)
{
    /* whatever a case built, every router names a service it defined (the aggregator would refuse it) */
    for (size_t i = 0; i < r->m->routers.len; i++) {
        const struct model_router *rt = r->m->routers.items[i];
        if (model_find_service(r->m, rt->service) == NULL)
            fprintf(stderr, "router %s: service %s is not defined\n", rt->name, rt->service);
        CHECK(model_find_service(r->m, rt->service) != NULL);
    }
    for (size_t i = 0; i < r->m->tcp_routers.len; i++) {
        const struct model_router *rt = r->m->tcp_routers.items[i];
        bool found = false;
        for (size_t j = 0; j < r->m->tcp_services.len && !found; j++)
            found = strcmp(((const struct model_tcp_service *)r->m->tcp_services.items[j])->name, rt->service) == 0;
        CHECK(found);
    }
    model_free(r->m);
    k8s_gw_statuses_free(&r->st);
    arena_free(&r->pa);
    for (int k = 0; k < K8S_GW_KINDS; k++)
        free(r->objs.items[k]);
    cJSON_Delete(r->root);
    free(r->problem_text);
}

/* The status computed for <kind> <name>, printed; "" when none. */
static char *status_of(struct run *r, enum k8s_gw_kind kind, const char *name)
{
    for (size_t i = 0; i < r->st.n; i++)
        if (r->st.v[i].kind == kind && strcmp(meta(r->st.v[i].obj, "name"), name) == 0) {
            char *s = cJSON_PrintUnformatted(r->st.v[i].status);
            char *out = arena_strdup(&r->pa, s);
            free(s);
            return out;
        }
    return "";
}

static const struct model_router *router(struct run *r, const char *name)
{
    const struct model_router *rt = model_find_router(r->m, name);
    if (rt == NULL)
        fprintf(stderr, "no router %s; problems:\n%s", name, r->problem_text);
    return rt;
}

static const struct model_middleware *mw(struct run *r, const char *name)
{
    for (size_t i = 0; i < r->m->middlewares.len; i++) {
        const struct model_middleware *m = r->m->middlewares.items[i];
        if (strcmp(m->name, name) == 0)
            return m;
    }
    fprintf(stderr, "no middleware %s\n", name);
    return NULL;
}

static const char *opt(const struct model_middleware *m, const char *key)
{
    for (size_t i = 0; m && i < m->n_options; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->values[i];
    return NULL;
}

#define ROUTE(name, spec)                                                                                                          \
    "{'kind':'HTTPRoute','metadata':{'namespace':'default','name':'" name "','generation':1},'spec':" spec "}"

static void test_gateway_and_class_status(void)
{
    struct run r;
    run(&r,
        BASE ",{'kind':'Gateway','metadata':{'namespace':'default','name':'bad'},'spec':{'gatewayClassName':'gantry','listeners':["
             "{'name':'noport','port':9999,'protocol':'HTTP'},{'name':'udp','port':8000,'protocol':'UDP'},"
             "{'name':'h1','port':8000,'protocol':'HTTP','hostname':'x.test'},{'name':'h2','port':8000,'protocol':'HTTP','hostname':'x.test'},"
             "{'name':'tls','port':8443,'protocol':'HTTPS','tls':{'certificateRefs':[{'name':'missing'}]}},"
             "{'name':'xns','port':8443,'protocol':'HTTPS','hostname':'y.test','tls':{'certificateRefs':[{'name':'c','namespace':'team'}]}},"
             "{'name':'kinds','port':8000,'protocol':'HTTP','hostname':'k.test','allowedRoutes':{'kinds':[{'kind':'TCPRoute'}]}}]}}",
        false);
    CHECK_CONTAINS(status_of(&r, K8S_GW_CLASSES, "gantry"), "\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Accepted\"");
    CHECK_STR(status_of(&r, K8S_GW_CLASSES, "other"), "");
    CHECK_STR(status_of(&r, K8S_GW_GATEWAYS, "notours"), "");
    const char *gw = status_of(&r, K8S_GW_GATEWAYS, "gw");
    CHECK_CONTAINS(gw, "\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"192.0.2.1\"}]");
    CHECK_CONTAINS(gw, "\"name\":\"http\",\"supportedKinds\":[{\"group\":\"gateway.networking.k8s.io\",\"kind\":\"HTTPRoute\"},"
                       "{\"group\":\"gateway.networking.k8s.io\",\"kind\":\"GRPCRoute\"}],\"attachedRoutes\":0");
    CHECK_CONTAINS(gw, "\"type\":\"Programmed\",\"status\":\"True\",\"reason\":\"Programmed\",\"message\":\"\",\"observedGeneration\":3");
    const char *bad = status_of(&r, K8S_GW_GATEWAYS, "bad");
    CHECK_CONTAINS(bad, "\"reason\":\"PortUnavailable\"");
    CHECK_CONTAINS(bad, "\"reason\":\"UnsupportedProtocol\"");
    CHECK_CONTAINS(bad, "\"reason\":\"HostnameConflict\"");
    CHECK_CONTAINS(bad, "\"reason\":\"InvalidCertificateRef\"");
    CHECK_CONTAINS(bad, "\"reason\":\"RefNotPermitted\"");
    CHECK_CONTAINS(bad, "\"reason\":\"InvalidRouteKinds\"");
    CHECK_CONTAINS(bad, "\"reason\":\"ProtocolConflict\""); /* UDP and HTTP on 8000 */
    CHECK_CONTAINS(r.problem_text, "gateway default/bad listener noport: no entry point listens on port 9999");
    CHECK(r.m->certs.len == 1); /* default/cert, once */
    done(&r);
}

static void test_status_address_from_a_service(void)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    char *json = mem_strdup(BASE ",{'kind':'Service','metadata':{'namespace':'ops','name':'gantry'},'spec':{'ports':[{'port':80}]},"
                                 "'status':{'loadBalancer':{'ingress':[{'ip':'203.0.113.7'},{'hostname':'lb.example.com'}]}}}");
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    char *wrapped = mem_alloc(strlen(json) + 3);
    sprintf(wrapped, "[%s]", json);
    r.root = cJSON_Parse(wrapped);
    free(json);
    free(wrapped);
    int n = cJSON_GetArraySize(r.root);
    for (int k = 0; k < K8S_GW_KINDS; k++)
        r.objs.items[k] = mem_alloc((size_t)n * sizeof(cJSON *));
    for (const cJSON *o = r.root->child; o; o = o->next)
        for (int k = 0; k < K8S_GW_KINDS; k++)
            if (strcmp(kind_names[k], str(o, "kind")) == 0)
                r.objs.items[k][r.objs.n[k]++] = o;
    struct k8s_gw_options opts = {.entrypoints = eps, .n_entrypoints = 3, .status_service = "ops/gantry"};
    arena_init(&r.pa);
    r.m = k8s_gw_translate(&r.objs, &opts, &r.pa, &r.problems, &r.st);
    r.problem_text = mem_strdup("");
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "gw"),
                   "\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"203.0.113.7\"},"
                   "{\"type\":\"Hostname\",\"value\":\"lb.example.com\"}]");
    done(&r);
}

static void test_path_matches_and_precedence(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("m", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'hostnames':['app.test'],'rules':[{'matches':["
                            "{'path':{'type':'Exact','value':'/exact'}},"
                            "{'path':{'type':'PathPrefix','value':'/pre/'}},"
                            "{'path':{'type':'RegularExpression','value':'/re/[0-9]+'}},"
                            "{'path':{'type':'PathPrefix','value':'/pre'},'method':'POST'},"
                            "{'headers':[{'name':'X-A','value':'1'},{'type':'RegularExpression','name':'X-B','value':'^b'}]},"
                            "{'queryParams':[{'name':'q','value':'v'},{'type':'RegularExpression','name':'r','value':'x.*'}]},"
                            "{'path':{'type':'PathPrefix','value':'/'}}],"
                            "'backendRefs':[{'name':'a','port':80}]}]}"),
        false);
    const char *p = "httproute-default-m-default-gw-http-r0-m";
    char n[128];
    const struct model_router *rt[7];
    for (int i = 0; i < 7; i++) {
        snprintf(n, sizeof(n), "%s%d", p, i);
        rt[i] = router(&r, n);
        CHECK(rt[i] != NULL);
        if (rt[i] == NULL) {
            done(&r);
            return;
        }
        CHECK(rt[i]->n_entrypoints == 1 && strcmp(rt[i]->entrypoints[0], "web") == 0); /* port 80 -> web */
    }
    CHECK_STR(rt[0]->rule, "Host(`app.test`) && Path(`/exact`)");
    CHECK_STR(rt[1]->rule, "Host(`app.test`) && (Path(`/pre`) || PathPrefix(`/pre/`))");
    CHECK_STR(rt[2]->rule, "Host(`app.test`) && PathRegexp(`^/re/[0-9]+$`)");
    CHECK_STR(rt[3]->rule, "Host(`app.test`) && (Path(`/pre`) || PathPrefix(`/pre/`)) && Method(`POST`)");
    CHECK_STR(rt[4]->rule, "Host(`app.test`) && PathPrefix(`/`) && Header(`X-A`, `1`) && HeaderRegexp(`X-B`, `^b`)");
    CHECK_STR(rt[5]->rule, "Host(`app.test`) && PathPrefix(`/`) && Query(`q`, `v`) && QueryRegexp(`r`, `x.*`)");
    CHECK_STR(rt[6]->rule, "Host(`app.test`) && PathPrefix(`/`)");
    /* Exact > longer prefix > method > headers > queries > "/" > regex */
    CHECK(rt[0]->priority > rt[3]->priority);
    CHECK(rt[3]->priority > rt[1]->priority);
    CHECK(rt[1]->priority > rt[4]->priority);
    CHECK(rt[4]->priority > rt[5]->priority);
    CHECK(rt[5]->priority > rt[6]->priority);
    CHECK(rt[6]->priority > rt[2]->priority);
    CHECK(rt[2]->priority > 1000); /* above Ingress routers' rule-length default */
    CHECK_STR(rt[0]->service, "default-a-80"); /* one service per backend, shared by every route */
    const struct model_service *s = model_find_service(r.m, "default-a-80");
    CHECK(s && s->lb && s->lb->n_servers == 1 && strcmp(s->lb->servers[0].url, "http://10.0.0.1:8080") == 0);
    const char *st = status_of(&r, K8S_GW_HTTPROUTES, "m");
    CHECK_CONTAINS(st, "\"controllerName\":\"gantry.io/gateway-controller\"");
    CHECK_CONTAINS(st, "\"type\":\"Accepted\",\"status\":\"True\"");
    CHECK_CONTAINS(st, "\"type\":\"ResolvedRefs\",\"status\":\"True\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "gw"), "\"name\":\"http\",\"supportedKinds\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "gw"), "\"attachedRoutes\":1");
    done(&r);
}

static void test_hostnames(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("h", "{'parentRefs':[{'name':'gw','sectionName':'https'}],'hostnames':['a.example.com','other.test','*.example.com'],"
                            "'rules':[{'backendRefs':[{'name':'a','port':80}]}]}") "," ROUTE("none", "{'parentRefs':[{'name':'gw','sectionName':'https'}],'hostnames':['x.test'],'rules':[]}") "," ROUTE("any", "{'parentRefs':[{'name':'gw','sectionName':'https'}],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}"),
        false);
    const struct model_router *exact = router(&r, "httproute-default-h-default-gw-https-r0-m0-h0");
    const struct model_router *wild = router(&r, "httproute-default-h-default-gw-https-r0-m0-h1");
    CHECK(exact && wild);
    if (exact && wild) {
        CHECK_STR(exact->rule, "Host(`a.example.com`) && PathPrefix(`/`)");
        CHECK_STR(wild->rule, "HostRegexp(`^[a-z0-9-]+(\\.[a-z0-9-]+)*\\.example\\.com$`) && PathPrefix(`/`)");
        CHECK(exact->priority > wild->priority); /* a non-wildcard hostname first */
        CHECK(exact->tls != NULL);
        CHECK_STR(exact->entrypoints[0], "websecure");
    }
    const struct model_router *any = router(&r, "httproute-default-any-default-gw-https-r0-m0");
    CHECK(any && strstr(any->rule, "HostRegexp") == any->rule); /* the listener's hostname */
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "none"), "\"reason\":\"NoMatchingListenerHostname\"");
    done(&r);
}

static void test_attachment_reasons(void)
{
    struct run r;
    run(&r,
        BASE ","
             "{'kind':'Gateway','metadata':{'namespace':'default','name':'sel'},'spec':{'gatewayClassName':'gantry','listeners':["
             "{'name':'sel','port':8000,'protocol':'HTTP','allowedRoutes':{'namespaces':{'from':'Selector','selector':{'matchLabels':{'team':'yes'}}}}}]}},"
             "{'kind':'HTTPRoute','metadata':{'namespace':'team','name':'other-ns'},'spec':{'parentRefs':[{'name':'gw','namespace':'default'}],'rules':[]}},"
             "{'kind':'HTTPRoute','metadata':{'namespace':'team','name':'selected'},'spec':{'parentRefs':[{'name':'sel','namespace':'default'}],'rules':[]}}," ROUTE("not-selected", "{'parentRefs':[{'name':'sel'}],'rules':[]}") "," ROUTE("nosection", "{'parentRefs':[{'name':'gw','sectionName':'nope'}],'rules':[]}") "," ROUTE("port", "{'parentRefs':[{'name':'gw','port':8443}],'hostnames':['p.example.com'],'rules':[]}") "," ROUTE("elsewhere", "{'parentRefs':[{'name':'notours'}],'rules':[]}"),
        false);
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "other-ns"), "\"reason\":\"NotAllowedByListeners\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "selected"), "\"reason\":\"Accepted\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "not-selected"), "\"reason\":\"NotAllowedByListeners\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "nosection"), "\"reason\":\"NoMatchingParent\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "port"), "\"port\":8443");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "port"), "\"reason\":\"Accepted\"");
    CHECK_STR(status_of(&r, K8S_GW_HTTPROUTES, "elsewhere"), ""); /* not our Gateway: not ours to write */
    done(&r);
}

static void test_backends(void)
{
    struct run r;
    run(&r,
        BASE ",{'kind':'Service','metadata':{'namespace':'team','name':'t'},'spec':{'ports':[{'port':80}]}},"
             "{'kind':'ReferenceGrant','metadata':{'namespace':'team','name':'g'},'spec':{'from':[{'group':'gateway.networking.k8s.io','kind':'HTTPRoute','namespace':'default'}],'to':[{'group':'','kind':'Service','name':'t'}]}}," ROUTE("w", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'a','port':80,'weight':3},{'name':'b','port':80,'weight':0},{'name':'missing','port':80}]}]}") "," ROUTE("granted", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'t','namespace':'team','port':80}]}]}") "," ROUTE("refused", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'a','namespace':'team2','port':80}]}]}") "," ROUTE("kind", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'group':'example.com','kind':'Bucket','name':'x'}]}]}") "," ROUTE("port", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'a','port':81}]}]}"),
        false);
    const struct model_service *w = model_find_service(r.m, "httproute-default-w-r0");
    CHECK(w && w->weighted && w->weighted->n_services == 3);
    if (w && w->weighted && w->weighted->n_services == 3) {
        CHECK(w->weighted->services[0].weight == 3);
        CHECK(w->weighted->services[1].weight == 0);
        const struct model_service *bad = model_find_service(r.m, w->weighted->services[2].name);
        CHECK(bad && bad->lb && bad->lb->n_servers == 0 && bad->lb->empty_status == 500); /* its share fails with 500 */
        CHECK(model_find_service(r.m, w->weighted->services[0].name)->lb->empty_status == 0);
    }
    /* a rule whose only reference fails: 500 for all of it (HTTPRouteInvalidBackendRefUnknownKind) */
    const struct model_router *kind = router(&r, "httproute-default-kind-default-gw-http-r0-m0");
    const struct model_service *ks = kind ? model_find_service(r.m, kind->service) : NULL;
    CHECK(ks && ks->lb && ks->lb->n_servers == 0 && ks->lb->empty_status == 500);
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "w"), "\"type\":\"ResolvedRefs\",\"status\":\"False\",\"reason\":\"BackendNotFound\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "w"), "\"type\":\"Accepted\",\"status\":\"True\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "granted"), "\"type\":\"ResolvedRefs\",\"status\":\"True\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "refused"), "\"reason\":\"RefNotPermitted\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "kind"), "\"reason\":\"InvalidKind\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "port"), "\"reason\":\"BackendNotFound\"");
    CHECK_CONTAINS(r.problem_text, "Service default/a has no port 81");
    done(&r);
}

static void test_filters(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("f", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':["
                            "{'matches':[{'path':{'type':'PathPrefix','value':'/hdr'}}],'filters':["
                            "{'type':'RequestHeaderModifier','requestHeaderModifier':{'set':[{'name':'X-Set','value':'s'}],'add':[{'name':'X-Add','value':'a'}],'remove':['X-Gone']}},"
                            "{'type':'ResponseHeaderModifier','responseHeaderModifier':{'set':[{'name':'X-Res','value':'r'}]}},"
                            "{'type':'ExtensionRef','extensionRef':{'group':'traefik.io','kind':'Middleware','name':'auth'}}],"
                            "'backendRefs':[{'name':'a','port':80}]},"
                            "{'matches':[{'path':{'type':'PathPrefix','value':'/redir'}}],'filters':["
                            "{'type':'RequestRedirect','requestRedirect':{'scheme':'https','hostname':'new.test','statusCode':301}}]},"
                            "{'matches':[{'path':{'type':'PathPrefix','value':'/prefix/one'}}],'filters':["
                            "{'type':'URLRewrite','urlRewrite':{'hostname':'rewritten.test','path':{'type':'ReplacePrefixMatch','replacePrefixMatch':'/one'}}}],"
                            "'backendRefs':[{'name':'a','port':80}]},"
                            "{'matches':[{'path':{'type':'PathPrefix','value':'/full'}}],'filters':["
                            "{'type':'URLRewrite','urlRewrite':{'path':{'type':'ReplaceFullPath','replaceFullPath':'/one'}}},"
                            "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80}}}],"
                            "'backendRefs':[{'name':'a','port':80}]},"
                            "{'matches':[{'path':{'type':'PathPrefix','value':'/port'}}],'filters':["
                            "{'type':'RequestRedirect','requestRedirect':{'port':8443,'path':{'type':'ReplacePrefixMatch','replacePrefixMatch':'/p2'}}}]}]}"),
        false);
    const char *p = "httproute-default-f-default-gw-http-";
    char n[160];
    snprintf(n, sizeof(n), "%sr0-m0", p);
    const struct model_router *hdr = router(&r, n);
    CHECK(hdr && hdr->n_middlewares == 3);
    if (hdr && hdr->n_middlewares == 3) {
        const struct model_middleware *req = mw(&r, hdr->middlewares[0]), *res = mw(&r, hdr->middlewares[1]);
        /* the internal header modifiers: add appends (the headers middleware would replace) */
        CHECK(req && strcmp(req->type, "requestHeaderModifier") == 0);
        CHECK(res && strcmp(res->type, "responseHeaderModifier") == 0);
        CHECK_STR(opt(req, "set.X-Set"), "s");
        CHECK_STR(opt(req, "add.X-Add"), "a");
        CHECK_STR(opt(req, "remove[0]"), "X-Gone");
        CHECK_STR(opt(res, "set.X-Res"), "r");
        CHECK_STR(hdr->middlewares[2], "default-auth@kubernetescrd");
    }
    snprintf(n, sizeof(n), "%sr1-m0", p);
    const struct model_router *redir = router(&r, n);
    CHECK(redir && redir->n_middlewares == 1);
    if (redir && redir->n_middlewares == 1) {
        const struct model_middleware *m = mw(&r, redir->middlewares[0]);
        CHECK(m && strcmp(m->type, "redirectRegex") == 0);
        CHECK_STR(opt(m, "replacement"), "https://new.test${4}${5}");
        CHECK_STR(opt(m, "permanent"), "true");
    }
    /* ReplacePrefixMatch: the prefix itself and what is below it, apart */
    snprintf(n, sizeof(n), "%sr2-m0-e", p);
    const struct model_router *ex = router(&r, n);
    snprintf(n, sizeof(n), "%sr2-m0-s", p);
    const struct model_router *sub = router(&r, n);
    CHECK(ex && sub);
    if (ex && sub) {
        CHECK_STR(ex->rule, "Path(`/prefix/one`)");
        CHECK_STR(sub->rule, "PathPrefix(`/prefix/one/`)");
        CHECK(ex->n_middlewares == 2 && sub->n_middlewares == 2);
        CHECK_STR(opt(mw(&r, ex->middlewares[0]), "customRequestHeaders.Host"), "rewritten.test");
        CHECK_STR(opt(mw(&r, ex->middlewares[1]), "path"), "/one");
        const struct model_middleware *rx = mw(&r, sub->middlewares[1]);
        CHECK(rx && strcmp(rx->type, "replacePathRegex") == 0);
        CHECK_STR(opt(rx, "regex"), "^/prefix/one(/.*)$");
        CHECK_STR(opt(rx, "replacement"), "/one$1");
    }
    snprintf(n, sizeof(n), "%sr3-m0", p);
    const struct model_router *full = router(&r, n);
    CHECK(full && full->n_middlewares == 1);
    if (full) {
        CHECK_STR(opt(mw(&r, full->middlewares[0]), "path"), "/one");
        const struct model_service *ms = model_find_service(r.m, full->service);
        CHECK(ms && ms->mirroring && ms->mirroring->n_mirrors == 1 && ms->mirroring->mirrors[0].percent == 100);
        CHECK(ms && ms->mirroring && strcmp(ms->mirroring->service, "default-a-80") == 0);
    }
    snprintf(n, sizeof(n), "%sr4-m0-s", p);
    const struct model_router *port = router(&r, n);
    if (port) {
        const struct model_middleware *m = mw(&r, port->middlewares[0]);
        CHECK_STR(opt(m, "replacement"), "${1}://${2}:8443/p2${4}${5}");
        CHECK_STR(opt(m, "permanent"), "false");
    }
    done(&r);
}

static void test_timeouts(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("t", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':["
                            "{'timeouts':{'backendRequest':'500ms','request':'2s'},'backendRefs':[{'name':'a','port':80}]},"
                            "{'matches':[{'path':{'value':'/plain'}}],'backendRefs':[{'name':'a','port':80}]}]}"),
        false);
    const struct model_router *slow = router(&r, "httproute-default-t-default-gw-http-r0-m0");
    const struct model_router *plain = router(&r, "httproute-default-t-default-gw-http-r1-m0");
    CHECK(slow && plain);
    if (slow && plain) {
        /* the rule's own load balancer, with a transport: the shared one stays without */
        CHECK(strcmp(slow->service, plain->service) != 0);
        const struct model_service *s = model_find_service(r.m, slow->service);
        CHECK(s && s->lb && s->lb->servers_transport && strcmp(s->lb->servers_transport, "httproute-default-t-r0-timeouts") == 0);
        CHECK(model_find_service(r.m, plain->service)->lb->servers_transport == NULL);
        const struct model_transport *t = NULL;
        for (size_t i = 0; i < r.m->transports.len; i++)
            if (strcmp(((const struct model_transport *)r.m->transports.items[i])->name, "httproute-default-t-r0-timeouts") == 0)
                t = r.m->transports.items[i];
        CHECK(t && t->response_header_ms == 500);
        /* timeouts.request: the internal requestTimeout middleware, first in the chain */
        CHECK(slow->n_middlewares == 1 && plain->n_middlewares == 0);
        const struct model_middleware *rt = slow->n_middlewares ? mw(&r, slow->middlewares[0]) : NULL;
        CHECK(rt && strcmp(rt->type, "requestTimeout") == 0);
        CHECK_STR(rt ? opt(rt, "timeout") : NULL, "2s");
    }
    CHECK(strstr(r.problem_text, "timeouts") == NULL);
    done(&r);
}

static void test_grpc_route(void)
{
    struct run r;
    run(&r,
        BASE ",{'kind':'GRPCRoute','metadata':{'namespace':'default','name':'g'},'spec':{'parentRefs':[{'name':'gw','sectionName':'http'}],"
             "'rules':[{'matches':[{'method':{'service':'helloworld.Greeter','method':'SayHello'}},{'method':{'service':'helloworld.Greeter'}},"
             "{'method':{'method':'Echo'}},{'method':{'type':'RegularExpression','service':'foo\\\\..*'},'headers':[{'name':'x-v','value':'1'}]}],"
             "'filters':[{'type':'RequestHeaderModifier','requestHeaderModifier':{'set':[{'name':'x-g','value':'1'}]}}],"
             "'backendRefs':[{'name':'a','port':80}]}]}}",
        false);
    const char *p = "grpcroute-default-g-default-gw-http-r0-m";
    char n[128];
    const char *want[] = {"Path(`/helloworld.Greeter/SayHello`)", "PathPrefix(`/helloworld.Greeter/`)", "PathRegexp(`^/[^/]+/Echo$`)",
                          "PathRegexp(`^/(foo\\..*)/([^/]+)$`) && Header(`x-v`, `1`)"};
    for (int i = 0; i < 4; i++) {
        snprintf(n, sizeof(n), "%s%d", p, i);
        const struct model_router *rt = router(&r, n);
        CHECK(rt != NULL);
        if (rt) {
            CHECK_STR(rt->rule, want[i]);
            CHECK(rt->n_middlewares == 1);
        }
    }
    const struct model_service *s = model_find_service(r.m, "default-a-80-h2c");
    CHECK(s && s->lb && s->lb->n_servers == 1 && strcmp(s->lb->servers[0].url, "h2c://10.0.0.1:8080") == 0);
    CHECK_CONTAINS(status_of(&r, K8S_GW_GRPCROUTES, "g"), "\"reason\":\"Accepted\"");
    done(&r);
}

static void test_tls_and_tcp_routes(void)
{
    const char *objs = BASE ",{'kind':'Gateway','metadata':{'namespace':'default','name':'l4'},'spec':{'gatewayClassName':'gantry','listeners':["
                            "{'name':'pass','port':8443,'protocol':'TLS','hostname':'*.pass.test','tls':{'mode':'Passthrough'}},"
                            "{'name':'tcp','port':9000,'protocol':'TCP'}]}},"
                            "{'kind':'TLSRoute','metadata':{'namespace':'default','name':'t'},'spec':{'parentRefs':[{'name':'l4','sectionName':'pass'}],"
                            "'hostnames':['a.pass.test'],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}},"
                            "{'kind':'TCPRoute','metadata':{'namespace':'default','name':'c'},'spec':{'parentRefs':[{'name':'l4','sectionName':'tcp'}],"
                            "'rules':[{'backendRefs':[{'name':'b','port':80}]}]}}";
    struct run r;
    run(&r, objs, true);
    const struct model_router *t = NULL, *c = NULL;
    for (size_t i = 0; i < r.m->tcp_routers.len; i++) {
        const struct model_router *x = r.m->tcp_routers.items[i];
        if (strcmp(x->name, "tlsroute-default-t-default-l4-pass") == 0)
            t = x;
        if (strcmp(x->name, "tcproute-default-c-default-l4-tcp") == 0)
            c = x;
    }
    CHECK(t && c);
    if (t && c) {
        CHECK_STR(t->rule, "HostSNI(`a.pass.test`)");
        CHECK(t->tls && t->tls->passthrough);
        CHECK_STR(c->rule, "HostSNI(`*`)");
        CHECK_STR(c->entrypoints[0], "tcp");
        CHECK_STR(c->service, "default-b-80"); /* the shared TCP service of the backend */
        CHECK_STR(t->service, "default-a-80");
    }
    CHECK_CONTAINS(status_of(&r, K8S_GW_TLSROUTES, "t"), "\"reason\":\"Accepted\"");
    CHECK(strstr(r.problem_text, "does not exist") == NULL); /* every router's service is defined */
    done(&r);
    /* without the experimental channel, TLS and TCP listeners are not supported */
    run(&r, objs, false);
    CHECK(r.m->tcp_routers.len == 0);
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "l4"), "\"reason\":\"UnsupportedProtocol\"");
    done(&r);
}

static const struct model_tcp_service *tcp_service(struct run *r, const char *name)
{
    for (size_t i = 0; i < r->m->tcp_services.len; i++)
        if (strcmp(((const struct model_tcp_service *)r->m->tcp_services.items[i])->name, name) == 0)
            return r->m->tcp_services.items[i];
    return NULL;
}

/* Several rules on a TLSRoute/TCPRoute: none has matches, so the first
 * takes every connection (the spec's precedence within a Route); the refs
 * of every rule count for ResolvedRefs and their failures are told. */
static void test_tls_and_tcp_routes_with_several_rules(void)
{
#define L4_GW                                                                                                                      \
    BASE ",{'kind':'Gateway','metadata':{'namespace':'default','name':'l4'},'spec':{'gatewayClassName':'gantry','listeners':["  \
         "{'name':'pass','port':8443,'protocol':'TLS','hostname':'*.pass.test','tls':{'mode':'Passthrough'}},"                     \
         "{'name':'tcp','port':9000,'protocol':'TCP'}]}},"
    struct run r;
    run(&r, L4_GW "{'kind':'TCPRoute','metadata':{'namespace':'default','name':'c'},'spec':{'parentRefs':[{'name':'l4','sectionName':'tcp'}],"
                  "'rules':[{'backendRefs':[{'name':'a','port':80,'weight':3},{'name':'b','port':80}]},"
                  "{'backendRefs':[{'name':'b','port':80}]}]}}",
        true);
    CHECK(r.m->tcp_routers.len == 1); /* one router: the first rule's */
    const struct model_router *c = r.m->tcp_routers.len ? r.m->tcp_routers.items[0] : NULL;
    CHECK(c && strcmp(c->name, "tcproute-default-c-default-l4-tcp") == 0);
    if (c) {
        CHECK_STR(c->rule, "HostSNI(`*`)");
        CHECK_STR(c->service, "tcproute-default-c-r0"); /* the first rule's weighted service: a 3, b 1 */
        const struct model_tcp_service *w = tcp_service(&r, c->service);
        CHECK(w && w->weighted && w->weighted->n_services == 2);
        if (w && w->weighted && w->weighted->n_services == 2) {
            CHECK_STR(w->weighted->services[0].name, "default-a-80");
            CHECK(w->weighted->services[0].weight == 3);
            CHECK_STR(w->weighted->services[1].name, "default-b-80");
            CHECK(w->weighted->services[1].weight == 1);
        }
    }
    CHECK_CONTAINS(status_of(&r, K8S_GW_TCPROUTES, "c"), "\"type\":\"ResolvedRefs\",\"status\":\"True\"");
    CHECK_CONTAINS(r.problem_text, "TCPRoute default/c: rules after the first take no connection");
    done(&r);

    /* an invalid ref in the second rule: ResolvedRefs False with its reason; the first rule serves on */
    run(&r, L4_GW "{'kind':'TCPRoute','metadata':{'namespace':'default','name':'c'},'spec':{'parentRefs':[{'name':'l4','sectionName':'tcp'}],"
                  "'rules':[{'backendRefs':[{'name':'a','port':80}]},{'backendRefs':[{'name':'missing','port':80}]},"
                  "{'backendRefs':[{'name':'b','port':81}]}]}},"
                  "{'kind':'TLSRoute','metadata':{'namespace':'default','name':'t'},'spec':{'parentRefs':[{'name':'l4','sectionName':'pass'}],"
                  "'hostnames':['a.pass.test'],'rules':[{'backendRefs':[{'name':'b','port':80}]},"
                  "{'backendRefs':[{'name':'a','port':80}]},{'backendRefs':[{'group':'example.com','kind':'Thing','name':'x'}]}]}}",
        true);
    CHECK(r.m->tcp_routers.len == 2);
    for (size_t i = 0; i < r.m->tcp_routers.len; i++) {
        const struct model_router *x = r.m->tcp_routers.items[i];
        if (strcmp(x->name, "tcproute-default-c-default-l4-tcp") == 0)
            CHECK_STR(x->service, "default-a-80");
        else
            CHECK(strcmp(x->name, "tlsroute-default-t-default-l4-pass") == 0 && strcmp(x->service, "default-b-80") == 0 &&
                  strcmp(x->rule, "HostSNI(`a.pass.test`)") == 0);
    }
    CHECK(tcp_service(&r, "default-missing-80") == NULL && tcp_service(&r, "tcproute-default-c-r0-invalid") == NULL);
    const char *st = status_of(&r, K8S_GW_TCPROUTES, "c");
    CHECK_CONTAINS(st, "\"type\":\"ResolvedRefs\",\"status\":\"False\"");
    CHECK_CONTAINS(st, "\"reason\":\"BackendNotFound\"");
    CHECK_CONTAINS(st, "Service default/missing does not exist");
    CHECK(strstr(st, "no port 81") == NULL); /* the first failure is the reason */
    CHECK_CONTAINS(st, "\"type\":\"Accepted\",\"status\":\"True\"");
    st = status_of(&r, K8S_GW_TLSROUTES, "t");
    CHECK_CONTAINS(st, "\"reason\":\"InvalidKind\"");
    CHECK_CONTAINS(st, "backendRef kind example.com/Thing is not supported");
    CHECK_CONTAINS(r.problem_text, "TCPRoute default backendRef default/missing: Service default/missing does not exist");
    CHECK_CONTAINS(r.problem_text, "TCPRoute default backendRef default/b: Service default/b has no port 81"); /* each told */
    CHECK_CONTAINS(r.problem_text, "TLSRoute default backendRef default/x: backendRef kind example.com/Thing is not supported");
    done(&r);
#undef L4_GW
}

static void test_status_merge(void)
{
    cJSON *want = cJSON_Parse("{\"parents\":[{\"parentRef\":{\"name\":\"gw\"},\"controllerName\":\"gantry.io/gateway-controller\","
                              "\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Accepted\"}]}]}");
    cJSON *cur = cJSON_Parse("{\"parents\":[{\"parentRef\":{\"name\":\"gw\"},\"controllerName\":\"gantry.io/gateway-controller\","
                             "\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Accepted\",\"lastTransitionTime\":\"T0\"}]},"
                             "{\"parentRef\":{\"name\":\"x\"},\"controllerName\":\"example.com/other\",\"conditions\":[]}]}");
    /* the same, with another controller's entry kept: nothing to write */
    CHECK(k8s_gw_writer__merge("gantry.io/gateway-controller", K8S_GW_HTTPROUTES, cur, want, "T1") == NULL);
    cJSON *changed = cJSON_Parse("{\"parents\":[{\"parentRef\":{\"name\":\"gw\"},\"controllerName\":\"gantry.io/gateway-controller\","
                                 "\"conditions\":[{\"type\":\"Accepted\",\"status\":\"False\",\"reason\":\"NotAllowedByListeners\"}]}]}");
    cJSON *out = k8s_gw_writer__merge("gantry.io/gateway-controller", K8S_GW_HTTPROUTES, cur, changed, "T1");
    char *s = out ? cJSON_PrintUnformatted(out) : NULL;
    CHECK_CONTAINS(s, "\"lastTransitionTime\":\"T1\"");
    CHECK_CONTAINS(s, "example.com/other");
    free(s);
    cJSON_Delete(out);
    /* a reason change keeps the time of an unchanged status */
    cJSON *reason = cJSON_Parse("{\"parents\":[{\"parentRef\":{\"name\":\"gw\"},\"controllerName\":\"gantry.io/gateway-controller\","
                                "\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Other\"}]}]}");
    out = k8s_gw_writer__merge("gantry.io/gateway-controller", K8S_GW_HTTPROUTES, cur, reason, "T1");
    s = out ? cJSON_PrintUnformatted(out) : NULL;
    CHECK_CONTAINS(s, "\"lastTransitionTime\":\"T0\"");
    free(s);
    cJSON_Delete(out);
    cJSON_Delete(want);
    cJSON_Delete(cur);
    cJSON_Delete(changed);
    cJSON_Delete(reason);
    /* a BackendTLSPolicy's ancestors[]: another controller's entry kept, ours stamped */
    cJSON *pw = cJSON_Parse("{\"ancestors\":[{\"ancestorRef\":{\"name\":\"gw\"},\"controllerName\":\"gantry.io/gateway-controller\","
                            "\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Accepted\"}]}]}");
    cJSON *pc = cJSON_Parse("{\"ancestors\":[{\"ancestorRef\":{\"name\":\"x\"},\"controllerName\":\"example.com/other\",\"conditions\":[]}]}");
    out = k8s_gw_writer__merge("gantry.io/gateway-controller", K8S_GW_BACKENDTLS, pc, pw, "T2");
    s = out ? cJSON_PrintUnformatted(out) : NULL;
    CHECK_CONTAINS(s, "\"reason\":\"Accepted\",\"lastTransitionTime\":\"T2\"");
    CHECK_CONTAINS(s, "example.com/other");
    CHECK(out && k8s_gw_writer__merge("gantry.io/gateway-controller", K8S_GW_BACKENDTLS, out, pw, "T3") == NULL);
    free(s);
    cJSON_Delete(out);
    cJSON_Delete(pw);
    cJSON_Delete(pc);
}

/* A change to one route translates that route only; a removed route is
 * gone; an EndpointSlice change (not part of the context) reaches the
 * shared load balancer without translating any route. */
static void test_incremental(void)
{
#define INC_ROUTE(name, gen, host, svc)                                                                                                \
    ",{'kind':'HTTPRoute','metadata':{'namespace':'default','name':'" name "','uid':'u-" name "','generation':" gen "},"       \
    "'spec':{'parentRefs':[{'name':'gw'}],'hostnames':['" host "'],'rules':[{'backendRefs':[{'name':'" svc "','port':80}]}]}}"
    const char *first = BASE INC_ROUTE("r1", "1", "a.test", "a") INC_ROUTE("r2", "1", "b.test", "b") INC_ROUTE("r3", "1", "c.test", "a");
    char *second = mem_strdup(BASE INC_ROUTE("r1", "2", "z.test", "a") INC_ROUTE("r3", "1", "c.test", "a"));
    char *ip = strstr(second, "10.0.0.1");
    ip[7] = '9'; /* Service a's endpoint moves */
    struct run r1, r2;
    run(&r1, first, false);
    run(&r2, second, false);
    struct k8s_gw_options opts = {.entrypoints = eps, .n_entrypoints = 3};
    struct k8s_gw_cache *cache = k8s_gw_cache_new();
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_gw_translate_cached(&r1.objs, &opts, cache, 7, &pa, &problems, NULL);
    CHECK(k8s_gw_cache_fresh(cache) == 3);
    model_free(m);
    CHECK(!k8s_gw_cache_current(cache, &r2.objs, 7));
    problems = (struct ptr_vec){0};
    m = k8s_gw_translate_cached(&r2.objs, &opts, cache, 7, &pa, &problems, NULL);
    CHECK(k8s_gw_cache_fresh(cache) == 1);
    char *dump = model_dump(m), *want = model_dump(r2.m);
    CHECK(strcmp(dump, want) == 0);
    CHECK(strstr(dump, "z.test") != NULL && strstr(dump, "a.test") == NULL && strstr(dump, "b.test") == NULL);
    CHECK(strstr(dump, "10.0.0.9") != NULL && strstr(dump, "10.0.0.1:") == NULL);
    CHECK(k8s_gw_cache_current(cache, &r2.objs, 7));
    free(dump);
    free(want);
    model_free(m);
    problems = (struct ptr_vec){0};
    m = k8s_gw_translate_cached(&r2.objs, &opts, cache, 8, &pa, &problems, NULL); /* a new context: every route again */
    CHECK(k8s_gw_cache_fresh(cache) == 2);
    model_free(m);
    arena_free(&pa);
    k8s_gw_cache_free(cache);
    done(&r1);
    done(&r2);
    free(second);
#undef INC_ROUTE
}

/* GatewayStaticAddresses: spec.addresses is honoured only with gantry's own
 * addresses (statusAddress, 192.0.2.1 here); anything else takes the
 * Gateway and its routes out with the spec's reasons. */
#define ADDR_GW(name, addrs)                                                                                                       \
    "{'kind':'Gateway','metadata':{'namespace':'default','name':'" name "','generation':2},'spec':{'gatewayClassName':'gantry',"  \
    "'addresses':" addrs ",'listeners':[{'name':'http','port':80,'protocol':'HTTP','hostname':'" name ".test'}]}},"             \
    "{'kind':'HTTPRoute','metadata':{'namespace':'default','name':'" name "-route','generation':1},'spec':{'parentRefs':"        \
    "[{'name':'" name "'}],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}}"

static void test_gateway_addresses(void)
{
    struct run r;
    run(&r,
        BASE "," ADDR_GW("usable", "[{'type':'IPAddress','value':'192.0.2.1'}]") "," ADDR_GW("any-ip", "[{'type':'IPAddress'}]")
             "," ADDR_GW("unusable", "[{'value':'10.9.9.9'}]") "," ADDR_GW("unassigned", "[{'type':'Hostname'}]")
             "," ADDR_GW("invalid", "[{'type':'test/fake-invalid-type','value':'x'},{'value':'192.0.2.1'}]"),
        false);
    const char *ok = status_of(&r, K8S_GW_GATEWAYS, "usable");
    CHECK_CONTAINS(ok, "\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"192.0.2.1\"}]");
    CHECK_CONTAINS(ok, "\"type\":\"Programmed\",\"status\":\"True\",\"reason\":\"Programmed\"");
    CHECK(router(&r, "httproute-default-usable-route-default-usable-http-r0-m0") != NULL);
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "any-ip"), "\"addresses\":[{\"type\":\"IPAddress\",\"value\":\"192.0.2.1\"}]");
    const char *bad = status_of(&r, K8S_GW_GATEWAYS, "unusable");
    CHECK_CONTAINS(bad, "\"type\":\"Accepted\",\"status\":\"True\"");
    CHECK_CONTAINS(bad, "\"type\":\"Programmed\",\"status\":\"False\",\"reason\":\"AddressNotUsable\",\"message\":\"spec.addresses[0]: "
                        "IPAddress 10.9.9.9 is not an address of gantry");
    CHECK_CONTAINS(bad, "\"addresses\":[]");
    CHECK_CONTAINS(status_of(&r, K8S_GW_GATEWAYS, "unassigned"),
                   "\"type\":\"Programmed\",\"status\":\"False\",\"reason\":\"AddressNotAssigned\"");
    const char *inv = status_of(&r, K8S_GW_GATEWAYS, "invalid");
    CHECK_CONTAINS(inv, "\"type\":\"Accepted\",\"status\":\"False\",\"reason\":\"UnsupportedAddress\"");
    CHECK_CONTAINS(inv, "\"type\":\"Programmed\",\"status\":\"False\",\"reason\":\"Invalid\"");
    /* fail closed: the routes of those Gateways are not served, and say why */
    for (size_t i = 0; i < r.m->routers.len; i++) {
        const char *name = ((const struct model_router *)r.m->routers.items[i])->name;
        CHECK(strstr(name, "unusable") == NULL && strstr(name, "unassigned") == NULL && strstr(name, "invalid-route") == NULL);
    }
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "unusable-route"),
                   "\"reason\":\"NoMatchingParent\",\"message\":\"Gateway default/unusable is not programmed: spec.addresses[0]");
    CHECK_CONTAINS(r.problem_text, "gateway default/invalid: spec.addresses[0]: address type test/fake-invalid-type is not supported");
    done(&r);
}

/* HTTPRouteRequestMultipleMirrors and HTTPRouteRequestPercentageMirror:
 * several mirrors of a rule are one mirroring service; backendRefs[].filters
 * (HTTPRouteBackendRequestRedirect, HTTPRouteBackendURLRewrite)
 * are the rule's when every backendRef has the same, refused otherwise. */
static void test_mirrors_and_backend_filters(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("mm", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':["
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/multi'}}],'filters':["
                             "{'type':'RequestHeaderModifier','requestHeaderModifier':{'set':[{'name':'X-Set','value':'s'}]}},"
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80}}},"
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'a','port':80},'percent':20}},"
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80},'fraction':{'numerator':1,'denominator':4}}}],"
                             "'backendRefs':[{'name':'a','port':80}]},"
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/bf'}}],'backendRefs':[{'name':'a','port':80,'filters':["
                             "{'type':'RequestHeaderModifier','requestHeaderModifier':{'add':[{'name':'X-Backend','value':'a'}]}},"
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80}}}]}]},"
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/differ'}}],'backendRefs':["
                             "{'name':'a','port':80,'filters':[{'type':'RequestHeaderModifier','requestHeaderModifier':{'add':[{'name':'X','value':'a'}]}}]},"
                             "{'name':'b','port':80}]},"
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/third'}}],'filters':["
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80},'fraction':{'numerator':1,'denominator':3}}}],"
                             "'backendRefs':[{'name':'a','port':80}]}]}"),
        false);
    const char *p = "httproute-default-mm-default-gw-http-";
    char n[160];
    snprintf(n, sizeof(n), "%sr0-m0", p);
    const struct model_router *multi = router(&r, n);
    CHECK(multi && multi->n_middlewares == 1);
    const struct model_service *ms = multi ? model_find_service(r.m, multi->service) : NULL;
    CHECK(ms && ms->mirroring && ms->mirroring->n_mirrors == 3);
    if (ms && ms->mirroring && ms->mirroring->n_mirrors == 3) {
        CHECK_STR(ms->mirroring->service, "default-a-80");
        CHECK_STR(ms->mirroring->mirrors[0].name, "default-b-80");
        CHECK(ms->mirroring->mirrors[0].percent == 100);
        CHECK_STR(ms->mirroring->mirrors[1].name, "default-a-80");
        CHECK(ms->mirroring->mirrors[1].percent == 20);
        CHECK(ms->mirroring->mirrors[2].percent == 25);
    }
    snprintf(n, sizeof(n), "%sr1-m0", p);
    const struct model_router *bf = router(&r, n);
    CHECK(bf && bf->n_middlewares == 1);
    if (bf && bf->n_middlewares == 1) {
        CHECK_STR(opt(mw(&r, bf->middlewares[0]), "add.X-Backend"), "a");
        const struct model_service *bs = model_find_service(r.m, bf->service);
        CHECK(bs && bs->mirroring && bs->mirroring->n_mirrors == 1);
    }
    snprintf(n, sizeof(n), "%sr2-m0", p);
    const struct model_router *differ = router(&r, n); /* each backend's own filters: its service's middlewares */
    CHECK(differ && differ->n_middlewares == 0);
    const struct model_service *ws = differ ? model_find_service(r.m, differ->service) : NULL;
    CHECK(ws && ws->weighted && ws->weighted->n_services == 2);
    if (ws && ws->weighted && ws->weighted->n_services == 2) {
        CHECK_STR(ws->weighted->services[0].name, "httproute-default-mm-r2-b0");
        CHECK_STR(ws->weighted->services[1].name, "default-b-80");
        const struct model_service *wrap = model_find_service(r.m, "httproute-default-mm-r2-b0");
        CHECK(wrap && wrap->weighted && wrap->weighted->n_services == 1 && wrap->n_middlewares == 1);
        if (wrap && wrap->weighted && wrap->n_middlewares == 1) {
            CHECK_STR(wrap->weighted->services[0].name, "default-a-80");
            CHECK_STR(opt(mw(&r, wrap->middlewares[0]), "add.X"), "a");
        }
    }
    snprintf(n, sizeof(n), "%sr3-m0", p);
    CHECK(model_find_router(r.m, n) == NULL); /* refused: 1/3 is no whole percent */
    CHECK(strstr(r.problem_text, "rule 2") == NULL);
    CHECK_CONTAINS(r.problem_text, "HTTPRoute default/mm rule 3: requestMirror percent/fraction is not a whole percent");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "mm"), "\"type\":\"ResolvedRefs\",\"status\":\"False\",\"reason\":\"UnsupportedValue\"");
    done(&r);
}

/* backendRefs whose filters differ: one that rewrites the matched prefix,
 * or a rule that also mirrors, cannot be given per backend: refused. */
static void test_backend_filters_that_cannot_be_per_backend(void)
{
    struct run r;
    run(&r,
        BASE "," ROUTE("pb", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':["
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/p'}}],'backendRefs':["
                             "{'name':'a','port':80,'filters':[{'type':'URLRewrite','urlRewrite':{'path':{'type':'ReplacePrefixMatch','replacePrefixMatch':'/x'}}}]},"
                             "{'name':'b','port':80}]},"
                             "{'matches':[{'path':{'type':'PathPrefix','value':'/m'}}],'filters':["
                             "{'type':'RequestMirror','requestMirror':{'backendRef':{'name':'b','port':80}}}],'backendRefs':["
                             "{'name':'a','port':80,'filters':[{'type':'RequestHeaderModifier','requestHeaderModifier':{'add':[{'name':'X','value':'a'}]}}]},"
                             "{'name':'b','port':80}]}]}"),
        false);
    char n[160];
    snprintf(n, sizeof(n), "httproute-default-pb-default-gw-http-r0-m0");
    CHECK(model_find_router(r.m, n) == NULL);
    snprintf(n, sizeof(n), "httproute-default-pb-default-gw-http-r1-m0");
    CHECK(model_find_router(r.m, n) == NULL);
    CHECK_CONTAINS(r.problem_text, "HTTPRoute default/pb rule 0 backendRef 0: a backendRef's own filter rewrites the matched prefix");
    CHECK_CONTAINS(r.problem_text, "HTTPRoute default/pb rule 1: a rule that mirrors cannot also give its backendRefs different filters");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "pb"), "\"type\":\"ResolvedRefs\",\"status\":\"False\",\"reason\":\"UnsupportedValue\"");
    done(&r);
}

/* Listener isolation: each listener's routers leave to its more specific
 * siblings of the same port (valid ones only) the hosts those match. */
static void test_listener_isolation(void)
{
#define ISO_WILD "HostRegexp(`^[a-z0-9-]+(\\.[a-z0-9-]+)*\\.example\\.com$`)"
    struct run r;
    run(&r,
        BASE ",{'kind':'Gateway','metadata':{'namespace':'default','name':'iso'},'spec':{'gatewayClassName':'gantry',"
             "'listeners':[{'name':'any','port':80,'protocol':'HTTP'},{'name':'wild','port':80,'protocol':'HTTP','hostname':'*.example.com'},"
             "{'name':'abc','port':80,'protocol':'HTTP','hostname':'abc.example.com'},"
             "{'name':'d1','port':80,'protocol':'HTTP','hostname':'dup.example.com'},{'name':'d2','port':80,'protocol':'HTTP','hostname':'dup.example.com'},"
             "{'name':'tls','port':8443,'protocol':'HTTPS','hostname':'tls.example.com','tls':{'certificateRefs':[{'name':'cert'}]}}]}},"
        ROUTE("r-any", "{'parentRefs':[{'name':'iso','sectionName':'any'}],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}") ","
        ROUTE("r-wild", "{'parentRefs':[{'name':'iso','sectionName':'wild'}],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}") ","
        ROUTE("r-abc", "{'parentRefs':[{'name':'iso','sectionName':'abc'}],'rules':[{'backendRefs':[{'name':'a','port':80}]}]}") ","
        ROUTE("r-hosts", "{'parentRefs':[{'name':'iso','sectionName':'any'}],'hostnames':['abc.example.com','*.example.com','bar.com'],"
                         "'rules':[{'backendRefs':[{'name':'a','port':80}]}]}"),
        false);
    const struct model_router *any = router(&r, "httproute-default-r-any-default-iso-any-r0-m0");
    const struct model_router *wild = router(&r, "httproute-default-r-wild-default-iso-wild-r0-m0");
    const struct model_router *abc = router(&r, "httproute-default-r-abc-default-iso-abc-r0-m0");
    CHECK(any && wild && abc);
    if (any && wild && abc) {
        /* the conflicted dup.example.com pair serves nothing, so takes nothing; port 8443 is another port */
        CHECK_STR(any->rule, "!" ISO_WILD " && !Host(`abc.example.com`) && PathPrefix(`/`)");
        CHECK_STR(wild->rule, ISO_WILD " && !Host(`abc.example.com`) && PathPrefix(`/`)");
        CHECK_STR(abc->rule, "Host(`abc.example.com`) && PathPrefix(`/`)");
    }
    /* a route hostname a sibling matches whole gets no router; the route stays Accepted */
    CHECK(model_find_router(r.m, "httproute-default-r-hosts-default-iso-any-r0-m0-h0") == NULL);
    CHECK(model_find_router(r.m, "httproute-default-r-hosts-default-iso-any-r0-m0-h1") == NULL);
    const struct model_router *bar = router(&r, "httproute-default-r-hosts-default-iso-any-r0-m0-h2");
    CHECK(bar && strcmp(bar->rule, "Host(`bar.com`) && PathPrefix(`/`)") == 0);
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "r-hosts"), "\"reason\":\"Accepted\"");
    done(&r);
#undef ISO_WILD
}

/* Service port appProtocol selects the servers' scheme (HTTPRouteBackendProtocolH2C,
 * HTTPRouteBackendProtocolWebSocket); an unknown one is UnsupportedProtocol and 500. */
static void test_backend_app_protocol(void)
{
    struct run r;
    run(&r,
        BASE ",{'kind':'Service','metadata':{'namespace':'default','name':'p'},'spec':{'ports':["
             "{'name':'h2c','port':81,'appProtocol':'kubernetes.io/h2c'},{'name':'ws','port':82,'appProtocol':'kubernetes.io/ws'},"
             "{'name':'wss','port':83,'appProtocol':'kubernetes.io/wss'},{'name':'odd','port':84,'appProtocol':'example.com/odd'},"
             "{'name':'https-api','port':85},{'name':'udp','port':86,'protocol':'UDP'},{'name':'s','port':87,'appProtocol':'HTTPS'}]}},"
             "{'kind':'EndpointSlice','metadata':{'namespace':'default','name':'p-1','labels':{'kubernetes.io/service-name':'p'}},"
             "'ports':[{'name':'h2c','port':9001},{'name':'ws','port':9002},{'name':'wss','port':9003},{'name':'odd','port':9004},"
             "{'name':'https-api','port':9005},{'name':'udp','port':9006},{'name':'s','port':9007}],'endpoints':[{'addresses':['10.0.0.9']}]},"
             ROUTE("h", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'p','port':81}]},"
                        "{'backendRefs':[{'name':'p','port':82}]},{'backendRefs':[{'name':'p','port':83}]},{'backendRefs':[{'name':'p','port':85}]}]}") ","
             ROUTE("odd", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'p','port':84,'weight':1},{'name':'a','port':80,'weight':1}]}]}") ","
             ROUTE("udp", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'p','port':86}]}]}") ","
             "{'kind':'GRPCRoute','metadata':{'namespace':'default','name':'g'},'spec':{'parentRefs':[{'name':'gw','sectionName':'http'}],"
             "'rules':[{'backendRefs':[{'name':'p','port':87}]},{'backendRefs':[{'name':'p','port':82}]}]}}",
        false);
    static const char *const want[][2] = {{"default-p-81", "h2c://10.0.0.9:9001"},  {"default-p-82", "http://10.0.0.9:9002"},
                                          {"default-p-83", "https://10.0.0.9:9003"}, {"default-p-85", "https://10.0.0.9:9005"},
                                          {"default-p-87-h2c", "https://10.0.0.9:9007"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct model_service *s = model_find_service(r.m, want[i][0]);
        CHECK(s && s->lb && s->lb->n_servers == 1);
        if (s && s->lb && s->lb->n_servers == 1)
            CHECK_STR(s->lb->servers[0].url, want[i][1]);
    }
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "h"), "\"type\":\"ResolvedRefs\",\"status\":\"True\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "odd"), "\"type\":\"ResolvedRefs\",\"status\":\"False\",\"reason\":\"UnsupportedProtocol\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "udp"), "\"reason\":\"UnsupportedProtocol\"");
    /* kubernetes.io/ws is no gRPC protocol */
    CHECK_CONTAINS(status_of(&r, K8S_GW_GRPCROUTES, "g"), "\"reason\":\"UnsupportedProtocol\"");
    CHECK(model_find_service(r.m, "default-p-82-h2c") == NULL);
    CHECK_CONTAINS(r.problem_text, "appProtocol example.com/odd is not supported for HTTPRoute backends");
    /* the unsupported share answers 500, the other is served */
    const struct model_service *w = model_find_service(r.m, "httproute-default-odd-r0");
    CHECK(w && w->weighted && w->weighted->n_services == 2);
    if (w && w->weighted && w->weighted->n_services == 2) {
        const struct model_service *bad = model_find_service(r.m, w->weighted->services[0].name);
        CHECK(bad && bad->lb && bad->lb->n_servers == 0 && bad->lb->empty_status == 500);
        CHECK_STR(w->weighted->services[1].name, "default-a-80");
    }
    done(&r);
}

/* A CA certificate (openssl req -x509, EC P-256), as a ConfigMap's ca.crt holds it. */
#define UNIT_CA_PEM \
    "-----BEGIN CERTIFICATE-----\\n" \
    "MIIBeTCCAR+gAwIBAgIUJSnogXU56+/z/pi6hDz/YwqPfPowCgYIKoZIzj0EAwIw\\n" \
    "EjEQMA4GA1UEAwwHdW5pdC1jYTAeFw0yNjEyMDQyMDQ5NTVaFw0zNjEyMDEyMDQ5\\n" \
    "NTVaMBIxEDAOBgNVBAMMB3VuaXQtY2EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\\n" \
    "AARdtJPM0W249YgOSnw6rFAd3sHfJwA3PDHneI9Dtx+ZUmoeW73HcAS3aaFJZBLM\\n" \
    "h1yOePEai4fdQUdSlwO7vDuPo1MwUTAdBgNVHQ4EFgQUZboHTyE/UmTpzkogQCp+\\n" \
    "0frb7rgwHwYDVR0jBBgwFoAUZboHTyE/UmTpzkogQCp+0frb7rgwDwYDVR0TAQH/\\n" \
    "BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEAmAqbZwUpPiamHwlffm9NYN2KEXcN\\n" \
    "XuJSX32hiHNjNTwCICcxlEmuV5x5TmKr4Fhwib8vOpBwVBvL/n49Vma/xlGC\\n" \
    "-----END CERTIFICATE-----\\n"

#define BTLS(name, target, validation)                                                                                             \
    "{'kind':'BackendTLSPolicy','metadata':{'namespace':'default','name':'" name "','generation':2},'spec':{'targetRefs':[" target \
    "],'validation':" validation "}}"

/* BackendTLSPolicy: a valid one dials its Services' ports with TLS through
 * its serversTransport; one that cannot be honoured answers 500 (never
 * plaintext); statuses per Gateway ancestor (BackendTLSPolicy,
 * BackendTLSPolicyInvalidCACertificateRef, BackendTLSPolicyInvalidKind). */
static void test_backend_tls_policy(void)
{
    struct run r;
    run(&r,
        BASE ",{'kind':'ConfigMap','metadata':{'namespace':'default','name':'ca'},'data':{'ca.crt':'" UNIT_CA_PEM "'}},"
             "{'kind':'ConfigMap','metadata':{'namespace':'default','name':'junk'},'data':{'ca.crt':'not a certificate'}},"
             "{'kind':'Secret','type':'kubernetes.io/tls','metadata':{'namespace':'default','name':'ca-secret'},'data':{'ca.crt':'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJlVENDQVIrZ0F3SUJBZ0lVSlNub2dYVTU2Ky96L3BpNmhEei9Zd3FQZlBvd0NnWUlLb1pJemowRUF3SXcKRWpFUU1BNEdBMVVFQXd3SGRXNXBkQzFqWVRBZUZ3MHlOakV5TURReU1EUTVOVFZhRncwek5qRXlNREV5TURRNQpOVFZhTUJJeEVEQU9CZ05WQkFNTUIzVnVhWFF0WTJFd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxaGtqT1BRTUJCd05DCkFBUmR0SlBNMFcyNDlZZ09Tbnc2ckZBZDNzSGZKd0EzUERIbmVJOUR0eCtaVW1vZVc3M0hjQVMzYWFGSlpCTE0KaDF5T2VQRWFpNGZkUVVkU2x3Tzd2RHVQbzFNd1VUQWRCZ05WSFE0RUZnUVVaYm9IVHlFL1VtVHB6a29nUUNwKwowZnJiN3Jnd0h3WURWUjBqQkJnd0ZvQVVaYm9IVHlFL1VtVHB6a29nUUNwKzBmcmI3cmd3RHdZRFZSMFRBUUgvCkJBVXdBd0VCL3pBS0JnZ3Foa2pPUFFRREFnTklBREJGQWlFQW1BcWJad1VwUGlhbUh3bGZmbTlOWU4yS0VYY04KWHVKU1gzMmhpSE5qTlR3Q0lDY3hsRW11VjV4NVRtS3I0Rmh3aWI4dk9wQndWQnZML240OVZtYS94bEdDCi0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K'}},"
             "{'kind':'Service','metadata':{'namespace':'default','name':'s'},'spec':{'ports':[{'name':'tls','port':443},{'name':'other','port':444}]}},"
             "{'kind':'EndpointSlice','metadata':{'namespace':'default','name':'s-1','labels':{'kubernetes.io/service-name':'s'}},"
             "'ports':[{'name':'tls','port':8443},{'name':'other','port':8444}],'endpoints':[{'addresses':['10.0.0.7']}]},"
             BTLS("good", "{'group':'','kind':'Service','name':'s','sectionName':'tls'}", "{'caCertificateRefs':[{'group':'','kind':'ConfigMap','name':'ca'}],'hostname':'abc.example.com'}") ","
             BTLS("sys", "{'group':'','kind':'Service','name':'a'}", "{'wellKnownCACertificates':'System','hostname':'a.example.com','subjectAltNames':[{'type':'URI','uri':'spiffe://a'},{'type':'Hostname','hostname':'other.example.com'}]}") ","
             BTLS("nosan", "{'group':'','kind':'Service','name':'n'}", "{'wellKnownCACertificates':'System','hostname':'n.example.com','subjectAltNames':[{'type':'Hostname'}]}") ","
             BTLS("missing", "{'group':'','kind':'Service','name':'b'}", "{'caCertificateRefs':[{'group':'','kind':'ConfigMap','name':'nope'}],'hostname':'b.example.com'}") ","
             BTLS("junk", "{'group':'','kind':'Service','name':'s','sectionName':'other'}", "{'caCertificateRefs':[{'group':'','kind':'ConfigMap','name':'junk'}],'hostname':'s.example.com'}") ","
             BTLS("bysecret", "{'group':'','kind':'Service','name':'t'}", "{'caCertificateRefs':[{'group':'','kind':'Secret','name':'ca-secret'}],'hostname':'t.example.com'}") ","
             BTLS("nosecret", "{'group':'','kind':'Service','name':'u'}", "{'caCertificateRefs':[{'group':'','kind':'Secret','name':'opaque'}],'hostname':'u.example.com'}") ","
             BTLS("kind", "{'group':'','kind':'Service','name':'k'}", "{'caCertificateRefs':[{'group':'invalid.io','kind':'InvalidKind','name':'x'}],'hostname':'k.example.com'}") ","
             ROUTE("tls", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'s','port':443}]},"
                          "{'backendRefs':[{'name':'a','port':80}],'timeouts':{'backendRequest':'2s'}}]}") ","
             ROUTE("bad", "{'parentRefs':[{'name':'gw','sectionName':'http'}],'rules':[{'backendRefs':[{'name':'b','port':80,'weight':1},{'name':'s','port':444,'weight':1}]}]}") ","
             "{'kind':'GRPCRoute','metadata':{'namespace':'default','name':'g'},'spec':{'parentRefs':[{'name':'gw','sectionName':'http'}],"
             "'rules':[{'backendRefs':[{'name':'s','port':443}]}]}}",
        true);
    /* a GRPCRoute's backend too (HTTP/2 by ALPN over the policy's TLS) */
    const struct model_service *gs = model_find_service(r.m, "default-s-443-h2c-default-good-backendtls");
    CHECK(gs && gs->lb && gs->lb->n_servers == 1 && strcmp(gs->lb->servers[0].url, "https://10.0.0.7:8443") == 0 &&
          strcmp(gs->lb->servers_transport, "default-good-backendtls") == 0);
    const struct model_service *s = model_find_service(r.m, "default-s-443-default-good-backendtls");
    CHECK(s && s->lb && s->lb->n_servers == 1);
    if (s && s->lb && s->lb->n_servers == 1) {
        CHECK_STR(s->lb->servers[0].url, "https://10.0.0.7:8443");
        CHECK_STR(s->lb->servers_transport, "default-good-backendtls");
    }
    const struct model_transport *t = NULL;
    for (size_t i = 0; i < r.m->transports.len; i++)
        if (strcmp(((struct model_transport *)r.m->transports.items[i])->name, "default-good-backendtls") == 0)
            t = r.m->transports.items[i];
    CHECK(t && t->server_name && strcmp(t->server_name, "abc.example.com") == 0 && t->n_root_cas == 1 && !t->insecure_skip_verify);
    if (t && t->n_root_cas == 1)
        CHECK_CONTAINS(t->root_cas[0], "-----BEGIN CERTIFICATE-----");
    /* with the rule's backendRequest timeout: one transport with both */
    const struct model_service *a = model_find_service(r.m, "default-a-80-httproute-default-tls-r1-timeouts-default-sys-backendtls");
    CHECK(a && a->lb && a->lb->n_servers == 1 && strcmp(a->lb->servers[0].url, "https://10.0.0.1:8080") == 0);
    const struct model_transport *both = NULL;
    for (size_t i = 0; i < r.m->transports.len; i++)
        if (strcmp(((struct model_transport *)r.m->transports.items[i])->name, "httproute-default-tls-r1-timeouts-default-sys-backendtls") == 0)
            both = r.m->transports.items[i];
    /* subjectAltNames: any of them (peerCertSANs), the chain still verified; hostname is the SNI */
    CHECK(both && both->response_header_ms == 2000 && both->n_root_cas == 0 && both->insecure_skip_verify &&
          both->peer_cert_uri == NULL && both->n_peer_cert_sans == 2 && strcmp(both->server_name, "a.example.com") == 0);
    if (both && both->n_peer_cert_sans == 2) {
        CHECK_STR(both->peer_cert_sans[0], "URI:spiffe://a");
        CHECK_STR(both->peer_cert_sans[1], "DNSName:other.example.com");
    }
    CHECK_CONTAINS(r.problem_text, "BackendTLSPolicy default/nosan: subjectAltNames[0]: type Hostname needs its hostname value");
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "tls"), "\"type\":\"ResolvedRefs\",\"status\":\"True\"");
    /* policies that cannot be honoured: both shares answer 500, nothing in plaintext */
    const struct model_service *w = model_find_service(r.m, "httproute-default-bad-r0");
    CHECK(w && w->weighted && w->weighted->n_services == 2);
    for (size_t i = 0; w && w->weighted && i < w->weighted->n_services; i++) {
        const struct model_service *x = model_find_service(r.m, w->weighted->services[i].name);
        CHECK(x && x->lb && x->lb->n_servers == 0 && x->lb->empty_status == 500);
    }
    CHECK(model_find_service(r.m, "default-s-444") == NULL && model_find_service(r.m, "default-b-80") == NULL);
    CHECK_CONTAINS(status_of(&r, K8S_GW_HTTPROUTES, "bad"), "\"reason\":\"RefNotPermitted\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_BACKENDTLS, "good"),
                   "{\"ancestors\":[{\"ancestorRef\":{\"group\":\"gateway.networking.k8s.io\",\"kind\":\"Gateway\",\"namespace\":\"default\",\"name\":\"gw\"},"
                   "\"controllerName\":\"gantry.io/gateway-controller\",\"conditions\":[{\"type\":\"Accepted\",\"status\":\"True\",\"reason\":\"Accepted\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_BACKENDTLS, "good"), "\"type\":\"ResolvedRefs\",\"status\":\"True\",\"reason\":\"ResolvedRefs\",\"message\":\"\",\"observedGeneration\":2");
    CHECK_CONTAINS(status_of(&r, K8S_GW_BACKENDTLS, "missing"), "\"type\":\"Accepted\",\"status\":\"False\",\"reason\":\"NoValidCACertificate\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_BACKENDTLS, "missing"), "\"type\":\"ResolvedRefs\",\"status\":\"False\",\"reason\":\"InvalidCACertificateRef\"");
    CHECK_CONTAINS(status_of(&r, K8S_GW_BACKENDTLS, "junk"), "\"reason\":\"InvalidCACertificateRef\",\"message\":\"caCertificateRefs[0]: the ca.crt of ConfigMap default/junk holds no valid PEM certificate\"");
    /* no route uses Service k: no ancestor of ours */
    CHECK_STR(status_of(&r, K8S_GW_BACKENDTLS, "kind"), "{\"ancestors\":[]}");
    CHECK_CONTAINS(r.problem_text, "BackendTLSPolicy default/kind: caCertificateRefs[0]: kind invalid.io/InvalidKind is not supported (only ConfigMap and Secret)");
    /* a Secret's ca.crt (base64, as cert-manager writes it in its TLS Secrets) */
    const struct model_transport *st = NULL;
    for (size_t i = 0; i < r.m->transports.len; i++)
        if (strcmp(((struct model_transport *)r.m->transports.items[i])->name, "default-bysecret-backendtls") == 0)
            st = r.m->transports.items[i];
    CHECK(st && st->n_root_cas == 1 && st->server_name && strcmp(st->server_name, "t.example.com") == 0);
    if (st && st->n_root_cas == 1)
        CHECK_CONTAINS(st->root_cas[0], "MIIBeTCCAR+gAwIBAgIUJSnogXU56+/z/pi6hDz/YwqPfPowCgYIKoZIzj0EAwIw");
    CHECK_CONTAINS(r.problem_text, "BackendTLSPolicy default/nosecret: caCertificateRefs[0]: Secret default/opaque does not exist "
                                   "(gantry reads Secrets of type kubernetes.io/tls)");
    done(&r);
}

int main(void)
{
    test_incremental();
    test_gateway_and_class_status();
    test_status_address_from_a_service();
    test_gateway_addresses();
    test_path_matches_and_precedence();
    test_hostnames();
    test_listener_isolation();
    test_attachment_reasons();
    test_backends();
    test_filters();
    test_mirrors_and_backend_filters();
    test_backend_filters_that_cannot_be_per_backend();
    test_timeouts();
    test_grpc_route();
    test_backend_app_protocol();
    test_backend_tls_policy();
    test_tls_and_tcp_routes();
    test_tls_and_tcp_routes_with_several_rules();
    test_status_merge();
    printf("k8s_gateway: %d checks, %d failures\n", test_checks, test_failures);
    return test_failures ? 1 : 0;
}

/* GW_BENCH=<routes>: times the translation of that many HTTPRoutes (one
 * per hostname, one Gateway), for profiling; not a test. */
__attribute__((constructor)) static void bench_mode(void)
{
    const char *env = getenv("GW_BENCH");
    if (env == NULL)
        return;
    int n = atoi(env);
    size_t cap = (size_t)n * 256 + 8192;
    char *objs = mem_alloc(cap);
    size_t o = (size_t)snprintf(objs, cap, "%s", BASE);
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(objs + o, cap - o,
                              ",{'kind':'HTTPRoute','metadata':{'namespace':'default','name':'r%d','generation':1},'spec':{"
                              "'parentRefs':[{'name':'gw'}],'hostnames':['h%d.test'],'rules':[{'matches':[{'path':{'type':"
                              "'PathPrefix','value':'/'}}],'backendRefs':[{'name':'a','port':80}]}]}}",
                              i, i);
    for (int round = 0; round < 5; round++) {
        struct run r;
        run(&r, objs, false);
        printf("%d routes: %zu routers, translated in %.1f ms of CPU\n", n, r.m->routers.len, r.ms);
        if (round == 0) { /* then with the cache: the first translation fills it, the others reuse it */
            struct k8s_gw_options opts = {.entrypoints = eps, .n_entrypoints = 3};
            struct k8s_gw_cache *cache = k8s_gw_cache_new();
            for (int i = 0; i < (getenv("GW_BENCH_ROUNDS") ? atoi(getenv("GW_BENCH_ROUNDS")) : 4); i++) {
                struct arena pa;
                arena_init(&pa);
                struct ptr_vec problems = {0};
                struct timespec t0, t1;
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
                struct model *m = k8s_gw_translate_cached(&r.objs, &opts, cache, 1, &pa, &problems, NULL);
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
                struct timespec t2;
                model_compute_digest(m); /* what the aggregator does first */
                clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t2);
                printf("  cached translation %d: %.1f ms of CPU, %zu routes afresh; digest %.1f ms\n", i,
                       (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6, k8s_gw_cache_fresh(cache),
                       (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6);
                model_free(m);
                arena_free(&pa);
            }
            k8s_gw_cache_free(cache);
        }
        done(&r);
    }
    free(objs);
    exit(0);
}
