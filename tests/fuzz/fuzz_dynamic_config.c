/*
 * libFuzzer target: a dynamic configuration file (YAML) through the
 * parser and the decoder into the provider-neutral model, then dumped.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/model_decode.h"
#include "../../controller/tree_yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct arena a;
    arena_init(&a);
    struct diag d;
    struct tree_node *root = tree_yaml_parse(&a, "fuzz.yaml", (const char *)data, size, &d);
    if (root != NULL) {
        struct model *m = model_new("file");
        struct decode_report rep;
        decode_report_init(&rep);
        model_decode(m, root, &rep);
        free(model_dump(m));
        decode_report_free(&rep);
        model_free(m);
    }
    arena_free(&a);
    return 0;
}
