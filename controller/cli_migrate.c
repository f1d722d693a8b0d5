/* `gantry migrate ingress-nginx` (see cli_migrate.h). */
#include "cli_migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "../common/buf.h"
#include "curl_body.h"
#include "providers/kubernetes/k8s_conn.h"
#include "providers/kubernetes/k8s_manifests.h"
#include "providers/kubernetes/k8s_nginx_migrate.h"
#include "tree_yaml.h"

#define MAX_MANIFEST (64u << 20)
#define MAX_LIST (256u << 20)

static const char *USAGE =
    "usage: gantry migrate ingress-nginx [--file=PATH]... [--endpoint=URL] [--token=TOKEN]\n"
    "         [--certAuthFilePath=PATH] [--ingressClass=nginx] [--controllerClass=k8s.io/ingress-nginx]\n"
    "         [--watchIngressWithoutClass] [--ingressClassByName] [--allowUnsafeAnnotations]\n"
    "         [--enableSSLPassthrough] [--configMap=NAMESPACE/NAME]\n"
    "Reports, for each Ingress ingress-nginx would serve, what gantry's providers.kubernetesIngressNGINX does\n"
    "with it and its annotations (honoured, differs, refused, ignored). Without --file the cluster is read\n"
    "(--endpoint, else KUBECONFIG, else in-cluster); --configMap is then read from it too, else taken from\n"
    "the files. Exit status 1 when an Ingress would not be served.\n";

/* K_CONFIGMAP last: listed from files only (the cluster's one is read by name) */
enum { K_CLASS, K_INGRESS, K_SERVICE, K_SLICE, K_SECRET, K_CONFIGMAP, K_N };
static const char *const kind_names[K_N] = {"IngressClass", "Ingress", "Service", "EndpointSlice", "Secret",
                                            "ConfigMap"};
static const char *const list_paths[K_N] = {
    "/apis/networking.k8s.io/v1/ingressclasses", "/apis/networking.k8s.io/v1/ingresses", "/api/v1/services",
    "/apis/discovery.k8s.io/v1/endpointslices", "/api/v1/secrets", NULL};

static const char *opt_value(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static bool opt_flag(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || strcmp(arg + n, "=true") == 0);
}

static char *slurp_stdin(size_t *len)
{
    struct buf b;
    buf_init(&b, BUF_UNBOUNDED);
    char chunk[65536];
    size_t r;
    while ((r = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (buf_append(&b, chunk, r) != 0) /* unbounded: cannot fail */
            abort();
    return buf_take(&b, len);
}

/* GET <path> of the cluster: the parsed body in *out (NULL unless HTTP 200),
 * the status in *status. */
static int get_cluster(const struct k8s_conn *conn, const char *path, cJSON **out, long *status, struct diag *d)
{
    struct curl_slist *headers = NULL;
    CURL *e = k8s_request(conn, path, &headers);
    struct curl_body body = {0};
    curl_body_reset(&body, MAX_LIST);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curl_body_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 60000L);
    CURLcode rc = curl_easy_perform(e);
    *status = 0;
    *out = NULL;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(e);
    curl_slist_free_all(headers);
    int ret = 0;
    if (rc != CURLE_OK)
        ret = diag_set(d, "GET %s%s: %s", conn->base_url, path, curl_easy_strerror(rc));
    else if (*status == 200 && (*out = cJSON_Parse(body.data ? body.data : "")) == NULL)
        ret = diag_set(d, "GET %s%s: not JSON", conn->base_url, path);
    curl_body_reset(&body, 0);
    free(body.data);
    return ret;
}

/* GET <path> of the cluster; its items appended to <out>. */
static int list_cluster(const struct k8s_conn *conn, const char *path, const char *kind, cJSON *out, struct diag *d)
{
    long status;
    cJSON *list;
    if (get_cluster(conn, path, &list, &status, d) != 0)
        return -1;
    if (status != 200)
        return diag_set(d, "GET %s%s: HTTP %ld", conn->base_url, path, status);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(list, "items");
    for (cJSON *i = items ? items->child : NULL, *next; i; i = next) {
        next = i->next;
        cJSON_DetachItemViaPointer(items, i);
        if (!cJSON_GetObjectItemCaseSensitive(i, "kind"))
            cJSON_AddStringToObject(i, "kind", kind);
        cJSON_AddItemToArray(out, i);
    }
    cJSON_Delete(list);
    return 0;
}

/* The controller ConfigMap <ns>/<name> of the cluster into <out>; absent
 * (404) is no error: the report says ingress-nginx's defaults apply, as
 * the provider does. Any other failure is (a report without a ConfigMap
 * that exists could say "served" where the provider would refuse). */
static int get_config_map(const struct k8s_conn *conn, const char *ref, cJSON *out, struct diag *d)
{
    const char *slash = strchr(ref, '/');
    char path[600];
    int n = snprintf(path, sizeof(path), "/api/v1/namespaces/%.*s/configmaps/%s", (int)(slash - ref), ref, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(path)) /* config_map_ref_ok keeps it shorter */
        return diag_set(d, "--configMap: `%s` is too long", ref);
    long status;
    cJSON *cm;
    if (get_cluster(conn, path, &cm, &status, d) != 0)
        return -1;
    if (status == 404)
        return 0;
    if (status != 200)
        return diag_set(d, "GET %s%s: HTTP %ld (the ConfigMap of --configMap)", conn->base_url, path, status);
    if (!cJSON_GetObjectItemCaseSensitive(cm, "kind"))
        cJSON_AddStringToObject(cm, "kind", "ConfigMap");
    cJSON_AddItemToArray(out, cm);
    return 0;
}

/* "namespace/name", both Kubernetes names (lowercase letters, digits, '-'
 * and '.'), as the provider's static configuration requires. */
static bool config_map_ref_ok(const char *v)
{
    const char *slash = strchr(v, '/');
    if (slash == NULL || slash == v || slash[1] == '\0' || strchr(slash + 1, '/') || strlen(v) > 300)
        return false;
    for (const char *p = v; *p; p++)
        if (p != slash && !((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
            return false;
    return true;
}

/* Manifests name their Services only sometimes: a Service a path uses and
 * the files lack is assumed to exist with that port (the report is about
 * annotations), without endpoints. */
static void stub_services(cJSON *all)
{
    for (const cJSON *o = all->child; o; o = o->next) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
        if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "Ingress") != 0)
            continue;
        const cJSON *md = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        const cJSON *nsj = cJSON_GetObjectItemCaseSensitive(md, "namespace");
        const char *ns = cJSON_IsString(nsj) ? nsj->valuestring : "default";
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(o, "spec");
        const cJSON *backends[256];
        size_t nb = 0;
        if (cJSON_GetObjectItemCaseSensitive(spec, "defaultBackend"))
            backends[nb++] = cJSON_GetObjectItemCaseSensitive(spec, "defaultBackend");
        const cJSON *rules = cJSON_GetObjectItemCaseSensitive(spec, "rules");
        for (const cJSON *r = rules ? rules->child : NULL; r; r = r->next) {
            const cJSON *paths = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "http"), "paths");
            for (const cJSON *p = paths ? paths->child : NULL; p && nb < 256; p = p->next)
                backends[nb++] = cJSON_GetObjectItemCaseSensitive(p, "backend");
        }
        for (size_t i = 0; i < nb; i++) {
            const cJSON *svc = cJSON_GetObjectItemCaseSensitive(backends[i], "service");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(svc, "name");
            const cJSON *port = cJSON_GetObjectItemCaseSensitive(svc, "port");
            if (!cJSON_IsString(name))
                continue;
            bool have = false;
            for (const cJSON *s = all->child; s && !have; s = s->next) {
                const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "kind");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(s, "metadata");
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(m, "name");
                const cJSON *sn = cJSON_GetObjectItemCaseSensitive(m, "namespace");
                have = cJSON_IsString(k) && strcmp(k->valuestring, "Service") == 0 && cJSON_IsString(n) &&
                       strcmp(n->valuestring, name->valuestring) == 0 &&
                       strcmp(cJSON_IsString(sn) ? sn->valuestring : "default", ns) == 0;
            }
            if (have)
                continue;
            cJSON *s = cJSON_CreateObject();
            cJSON_AddStringToObject(s, "kind", "Service");
            cJSON *m = cJSON_AddObjectToObject(s, "metadata");
            cJSON_AddStringToObject(m, "name", name->valuestring);
            cJSON_AddStringToObject(m, "namespace", ns);
            cJSON *ports = cJSON_AddArrayToObject(cJSON_AddObjectToObject(s, "spec"), "ports");
            cJSON *p = cJSON_CreateObject();
            const cJSON *pn = cJSON_GetObjectItemCaseSensitive(port, "name");
            const cJSON *pnum = cJSON_GetObjectItemCaseSensitive(port, "number");
            if (cJSON_IsString(pn))
                cJSON_AddStringToObject(p, "name", pn->valuestring);
            cJSON_AddNumberToObject(p, "port", cJSON_IsNumber(pnum) ? pnum->valuedouble : 80);
            cJSON_AddItemToArray(ports, p);
            cJSON_AddItemToArray(all, s); /* at the end: later backends see it */
        }
    }
}

/* Objects without a namespace are in "default", as kubectl applies them. */
static void default_namespaces(cJSON *all)
{
    for (cJSON *o = all->child; o; o = o->next) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
        if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "IngressClass") == 0)
            continue;
        cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "metadata");
        if (m && !cJSON_GetObjectItemCaseSensitive(m, "namespace"))
            cJSON_AddStringToObject(m, "namespace", "default");
    }
}

int cli_migrate(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "ingress-nginx") != 0) {
        fputs(USAGE, stderr);
        return 2;
    }
    struct k8s_nginx_options no = {0};
    const char *endpoint = NULL, *token = NULL, *ca = NULL;
    const char **files = mem_calloc((size_t)argc + 1, sizeof(*files));
    size_t n_files = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if ((v = opt_value(a, "--file")) != NULL)
            files[n_files++] = v;
        else if ((v = opt_value(a, "--endpoint")) != NULL)
            endpoint = v;
        else if ((v = opt_value(a, "--token")) != NULL)
            token = v;
        else if ((v = opt_value(a, "--certAuthFilePath")) != NULL)
            ca = v;
        else if ((v = opt_value(a, "--ingressClass")) != NULL)
            no.ingress_class = v;
        else if ((v = opt_value(a, "--controllerClass")) != NULL)
            no.controller_class = v;
        else if (opt_flag(a, "--watchIngressWithoutClass"))
            no.watch_without_class = true;
        else if (opt_flag(a, "--ingressClassByName"))
            no.class_by_name = true;
        else if (opt_flag(a, "--allowUnsafeAnnotations"))
            no.allow_unsafe = true;
        else if (opt_flag(a, "--enableSSLPassthrough"))
            no.enable_ssl_passthrough = true;
        else if ((v = opt_value(a, "--configMap")) != NULL) {
            if (!config_map_ref_ok(v)) {
                fprintf(stderr, "gantry migrate ingress-nginx: --configMap: `%s` is not namespace/name\n", v);
                free(files);
                return 2;
            }
            no.config_map = v;
        }
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            free(files);
            return 0;
        } else {
            fprintf(stderr, "gantry migrate ingress-nginx: unknown option %s\n%s", a, USAGE);
            free(files);
            return 2;
        }
    }
    struct diag d = {{0}};
    cJSON *all = cJSON_CreateArray();
    int rc = 0;
    if (n_files) {
        for (size_t i = 0; i < n_files && rc == 0; i++) {
            size_t len = 0;
            char *text = strcmp(files[i], "-") == 0 ? slurp_stdin(&len) : read_file(files[i], MAX_MANIFEST, &len, &d);
            if (text == NULL) {
                rc = -1;
                break;
            }
            rc = k8s_manifests_parse(files[i], text, len, all, &d);
            free(text);
        }
        if (rc == 0) {
            default_namespaces(all);
            stub_services(all);
        }
    } else {
        struct k8s_conn conn = {0};
        struct k8s_conn_config cc = {endpoint, token, ca, "gantry migrate", "--endpoint"};
        const char *how = "";
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) /* libcurl missing: curl_dl.c said why */
            rc = diag_set(&d, "reading a cluster needs libcurl, which cannot be loaded");
        else
            rc = k8s_conn_resolve(&conn, &cc, &d, &how);
        for (int k = 0; k < K_N && list_paths[k] && rc == 0; k++) {
            rc = list_cluster(&conn, list_paths[k], kind_names[k], all, &d);
            if (rc != 0 && (k == K_SECRET || k == K_SLICE)) { /* may be forbidden: said, and the report goes on */
                fprintf(stderr, "gantry migrate: %s (auth-secret and endpoints are judged without them)\n", d.msg);
                rc = 0;
            }
        }
        if (rc == 0 && no.config_map)
            rc = get_config_map(&conn, no.config_map, all, &d);
        k8s_conn_free(&conn);
    }
    free(files);
    if (rc != 0) {
        fprintf(stderr, "gantry migrate: %s\n", d.msg);
        cJSON_Delete(all);
        return 2;
    }
    size_t n = (size_t)cJSON_GetArraySize(all) + 1;
    const cJSON **lists[K_N];
    size_t counts[K_N] = {0};
    for (int k = 0; k < K_N; k++)
        lists[k] = mem_calloc(n, sizeof(*lists[k]));
    for (const cJSON *o = all->child; o; o = o->next) {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(o, "kind");
        for (int k = 0; k < K_N && cJSON_IsString(kind); k++)
            if (strcmp(kind->valuestring, kind_names[k]) == 0)
                lists[k][counts[k]++] = o;
    }
    struct k8s_objects objs = {lists[K_CLASS],          lists[K_INGRESS],         lists[K_SERVICE],
                               lists[K_SLICE],          lists[K_SECRET],          counts[K_CLASS],
                               counts[K_INGRESS],       counts[K_SERVICE],        counts[K_SLICE],
                               counts[K_SECRET]};
    objs.config_maps = lists[K_CONFIGMAP];
    objs.n_config_maps = counts[K_CONFIGMAP];
    struct k8s_migration_summary sum;
    char *report = k8s_nginx_migration_report(&objs, &no, &sum);
    fputs(report, stdout);
    free(report);
    for (int k = 0; k < K_N; k++)
        free(lists[k]);
    cJSON_Delete(all);
    return sum.not_served ? 1 : 0;
}
