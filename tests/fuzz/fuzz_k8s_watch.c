/*
 * libFuzzer target: the Kubernetes watch stream and object translation.
 * Bytes are cut at arbitrary places through the line framer; each line is
 * applied as a watch event to one of five caches (the event's object kind
 * picks which, as the five watches of the provider would); then the caches
 * are translated into a model (Ingress classes, rules, paths, backends,
 * EndpointSlices, TLS secrets), which must dump without trouble.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../controller/providers/kubernetes/k8s_translate.h"
#include "../../controller/providers/kubernetes/k8s_watch.h"
#include "../../controller/ndjson.h"

static struct k8s_watch watches[5];
static const char *const kinds[5] = {"IngressClass", "Ingress", "Service", "EndpointSlice", "Secret"};

static void changed(struct k8s_watch *w, void *data)
{
    (void)w;
    (void)data;
}

static void on_line(const char *line, size_t len, void *data)
{
    (void)data;
    int k = 1; /* default: ingresses */
    for (int i = 0; i < 5; i++) {
        for (int space = 0; space < 2; space++) {
            char needle[64];
            snprintf(needle, sizeof(needle), "\"kind\":%s\"%s\"", space ? " " : "", kinds[i]);
            if (memmem(line, len, needle, strlen(needle)) != NULL)
                k = i;
        }
    }
    k8s_watch_apply(&watches[k], line, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    static bool quiet;
    if (!quiet) {
        log_set_level_name("ERROR");
        quiet = true;
    }
    for (int i = 0; i < 5; i++) {
        memset(&watches[i], 0, sizeof(watches[i]));
        watches[i].name = kinds[i];
        watches[i].changed = changed;
        k8s_store_init(&watches[i].store);
        k8s_changes_init(&watches[i].changes);
        watches[i].changes.all = false; /* note every change */
    }
    size_t piece = data[0] % 64 + 1;
    struct ndjson f;
    ndjson_init(&f, 1 << 20);
    for (size_t off = 1; off < size; off += piece)
        ndjson_feed(&f, (const char *)data + off, off + piece <= size ? piece : size - off, on_line, NULL);
    ndjson_free(&f);

    struct k8s_objects o;
    o.ingress_classes = k8s_store_list(&watches[0].store, &o.n_ingress_classes);
    o.ingresses = k8s_store_list(&watches[1].store, &o.n_ingresses);
    o.services = k8s_store_list(&watches[2].store, &o.n_services);
    o.endpoint_slices = k8s_store_list(&watches[3].store, &o.n_endpoint_slices);
    o.secrets = k8s_store_list(&watches[4].store, &o.n_secrets);
    struct k8s_translate_options opts = {.ingress_class = "gantry", .allow_external_name = data[0] & 1};
    struct arena pa;
    arena_init(&pa);
    struct ptr_vec problems = {0};
    struct model *m = k8s_translate(&o, &opts, &pa, &problems);
    free(model_dump(m));
    model_free(m);
    arena_free(&pa);
    free(o.ingress_classes);
    free(o.ingresses);
    free(o.services);
    free(o.endpoint_slices);
    free(o.secrets);
    for (int i = 0; i < 5; i++) {
        k8s_store_clear(&watches[i].store);
        k8s_changes_free(&watches[i].changes);
    }
    return 0;
}
