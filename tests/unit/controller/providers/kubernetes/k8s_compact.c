/* Tests controller/providers/kubernetes/k8s_compact.c: what slimming drops
 * and keeps, packed objects read like the originals, and the Ingress
 * translation of slimmed + packed objects equals that of the API server's
 * full objects (managedFields, kubectl's annotation, targetRef ...). */
#include "../../../../../controller/providers/kubernetes/k8s_compact.c"

#include "../../../../../controller/providers/kubernetes/k8s_translate.h"
#include <malloc.h>

#include "test.h"

#define MANAGED "\"managedFields\":[{\"manager\":\"kubectl-client-side-apply\",\"operation\":\"Update\"," \
                "\"apiVersion\":\"v1\",\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:spec\":{\"f:ports\":{}}}}]"
#define APPLIED "\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"kind\\\":\\\"X\\\"}\\n\""

static const char *CLASS = "{\"metadata\":{\"name\":\"gantry\"," MANAGED "},"
                           "\"spec\":{\"controller\":\"gantry.io/ingress-controller\"}}";
static const char *SERVICE =
    "{\"metadata\":{\"name\":\"app\",\"namespace\":\"ns\",\"uid\":\"u-1\",\"resourceVersion\":\"7\"," MANAGED ","
    "\"annotations\":{" APPLIED ",\"traefik.ingress.kubernetes.io/service.sticky.cookie\":\"true\"}},"
    "\"spec\":{\"clusterIP\":\"10.96.0.9\",\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":\"web\"}]}}";
static const char *SLICE =
    "{\"metadata\":{\"name\":\"app-1\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/service-name\":\"app\"}," MANAGED ","
    "\"annotations\":{" APPLIED "}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080}],\"endpoints\":["
    "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true},\"nodeName\":\"n1\",\"zone\":\"z\","
    "\"targetRef\":{\"kind\":\"Pod\",\"namespace\":\"ns\",\"name\":\"app-x\",\"uid\":\"p-1\"},"
    "\"hints\":{\"forZones\":[{\"name\":\"z\"}]}},"
    "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
    "{\"addresses\":[\"fd00::3\"],\"hostname\":\"h\"}]}";
static const char *SLIM_SLICE =
    "{\"metadata\":{\"name\":\"app-1\",\"namespace\":\"ns\",\"labels\":{\"kubernetes.io/service-name\":\"app\"},"
    "\"annotations\":{}},\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080}],\"endpoints\":["
    "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
    "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
    "{\"addresses\":[\"fd00::3\"]}]}";
static const char *INGRESS =
    "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns\",\"uid\":\"i-1\",\"resourceVersion\":\"9\"," MANAGED ","
    "\"annotations\":{" APPLIED ",\"traefik.ingress.kubernetes.io/router.priority\":\"5\"}},"
    "\"spec\":{\"ingressClassName\":\"gantry\",\"rules\":[{\"host\":\"a.test\",\"http\":{\"paths\":["
    "{\"path\":\"/\",\"pathType\":\"Prefix\",\"backend\":{\"service\":{\"name\":\"app\",\"port\":{\"name\":\"http\"}}}}]}}]},"
    "\"status\":{\"loadBalancer\":{}}}";

static char *translated(const cJSON *cls, const cJSON *svc, const cJSON *slice, const cJSON *ing)
{
    const cJSON *classes[] = {cls}, *services[] = {svc}, *slices[] = {slice}, *ingresses[] = {ing};
    struct k8s_objects o = {classes, ingresses, services, slices, NULL, 1, 1, 1, 1, 0};
    struct k8s_translate_options opts = {.ingress_class = "gantry"};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_translate(&o, &opts, &pa, &problems);
    char *dump = model_dump(m);
    CHECK(problems.len == 0);
    model_free(m);
    arena_free(&pa);
    return dump;
}

/* The packed copy of <text> after slimming with <flags>. */
static cJSON *kept(const char *text, unsigned flags)
{
    cJSON *o = cJSON_Parse(text);
    CHECK(o != NULL);
    k8s_object_slim(o, flags);
    cJSON *p = k8s_object_pack(o);
    CHECK(p != NULL && k8s_object_is_packed(p) && !k8s_object_is_packed(o));
    CHECK(cJSON_Compare(o, p, true)); /* the same document */
    cJSON_Delete(o);
    return p;
}

int main(void)
{
    /* slimming: what goes, what stays */
    cJSON *slice = kept(SLICE, K8S_SLIM_ENDPOINTS | K8S_SLIM_LAST_APPLIED);
    char *text = cJSON_PrintUnformatted(slice);
    CHECK_STR(text, SLIM_SLICE);
    free(text);
    cJSON *ing = kept(INGRESS, 0); /* written back (status): kubectl's annotation stays */
    const cJSON *ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ing, "metadata"), "annotations");
    CHECK(cJSON_GetObjectItemCaseSensitive(ann, "kubectl.kubernetes.io/last-applied-configuration") != NULL);
    CHECK(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ing, "metadata"), "managedFields") == NULL);
    cJSON *svc = kept(SERVICE, K8S_SLIM_LAST_APPLIED), *cls = kept(CLASS, K8S_SLIM_LAST_APPLIED);
    ann = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(svc, "metadata"), "annotations");
    CHECK(cJSON_GetObjectItemCaseSensitive(ann, "kubectl.kubernetes.io/last-applied-configuration") == NULL);
    CHECK_STR(cJSON_GetObjectItemCaseSensitive(ann, "traefik.ingress.kubernetes.io/service.sticky.cookie")->valuestring,
              "true");

    /* packed objects read as cJSON: sizes, last child, duplicates */
    const cJSON *eps = cJSON_GetObjectItemCaseSensitive(slice, "endpoints");
    CHECK(cJSON_GetArraySize(eps) == 3 && eps->child->prev == cJSON_GetArrayItem(eps, 2));
    CHECK(cJSON_IsObject(slice) && cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(
        cJSON_GetObjectItemCaseSensitive(slice, "ports"), 0), "port")->valueint == 8080);
    cJSON *dup = cJSON_Duplicate(ing, true); /* the status writer's copy is an ordinary object */
    CHECK(cJSON_Compare(dup, ing, true));
    cJSON_Delete(dup);

    /* what repeats is stored once: equal tails of sibling lists, strings */
    cJSON *rep = kept("{\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
                      "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true}},"
                      "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}}]}", 0);
    const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rep, "endpoints"), 0);
    const cJSON *e1 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rep, "endpoints"), 1);
    const cJSON *e2 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rep, "endpoints"), 2);
    CHECK(e0 != e1 && e0 != e2 && e0->child == e2->child); /* equal members, equal tails: one list */
    CHECK(cJSON_GetObjectItemCaseSensitive(e0, "conditions") == cJSON_GetObjectItemCaseSensitive(e1, "conditions"));
    CHECK(e0->child->string == e1->child->string); /* "addresses" once */
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(rep, "endpoints")) == 3);
    /* root, "endpoints", 3 endpoints, 2 x (addresses, its string), the
     * shared conditions and ready: 11 nodes, not 17, and the block shrunk to
     * what it holds (55 bytes of strings) */
    CHECK(malloc_usable_size(rep) < 11 * sizeof(cJSON) + 55 + 24);
    /* a block that moved (realloc): its pointers follow */
    size_t size = malloc_usable_size(rep);
    char *moved = malloc(size);
    memcpy(moved, rep, size);
    shift((cJSON *)(void *)moved, 11, (uintptr_t)rep, size, (uintptr_t)moved - (uintptr_t)rep);
    k8s_object_free(rep);
    cJSON *want_rep = cJSON_Parse("{\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
                                  "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":true}},"
                                  "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}}]}");
    CHECK(cJSON_Compare((cJSON *)(void *)moved, want_rep, true));
    cJSON_Delete(want_rep);
    free(moved);

    /* the translation does not see the difference */
    cJSON *full[4] = {cJSON_Parse(CLASS), cJSON_Parse(SERVICE), cJSON_Parse(SLICE), cJSON_Parse(INGRESS)};
    char *want = translated(full[0], full[1], full[2], full[3]);
    char *got = translated(cls, svc, slice, ing);
    CHECK(strstr(want, "10.0.0.1:8080") != NULL); /* the fixture does translate to something */
    CHECK_STR(got, want);
    free(want);
    free(got);
    for (int i = 0; i < 4; i++)
        k8s_object_free(full[i]); /* an ordinary object: cJSON_Delete */

    /* edge cases: a scalar, an empty object */
    cJSON *num = cJSON_CreateNumber(42), *empty = cJSON_CreateObject();
    cJSON *pn = k8s_object_pack(num), *pe = k8s_object_pack(empty);
    CHECK(pn->valueint == 42 && cJSON_IsNumber(pn) && pe->child == NULL && cJSON_IsObject(pe));
    k8s_object_slim(num, K8S_SLIM_ENDPOINTS | K8S_SLIM_LAST_APPLIED); /* not an object: nothing happens */
    CHECK(k8s_object_pack(NULL) == NULL);
    cJSON_Delete(num);
    cJSON_Delete(empty);
    k8s_object_free(pn);
    k8s_object_free(pe);
    k8s_object_free(slice);
    k8s_object_free(ing);
    k8s_object_free(svc);
    k8s_object_free(cls);
    return test_report("controller/providers/kubernetes/k8s_compact");
}
