/*
 * Unit-test helper: a provider's model decoded from dynamic-configuration
 * YAML, checked to decode without errors (CHECK from test.h).
 */
#ifndef GANTRY_TEST_MODEL_YAML_FIXTURE_H
#define GANTRY_TEST_MODEL_YAML_FIXTURE_H

#include <string.h>

#include "../../../controller/model_decode.h"
#include "../../../controller/tree_yaml.h"
#include "test.h"

static inline struct model *model_from_yaml(const char *provider, const char *yaml)
{
    struct model *m = model_new(provider);
    struct decode_report rep;
    decode_report_init(&rep);
    struct diag d;
    struct tree_node *root = tree_yaml_parse(&m->arena, "dyn.yaml", yaml, strlen(yaml), &d);
    CHECK(root != NULL);
    if (root)
        model_decode(m, root, &rep);
    CHECK(rep.errors.len == 0);
    decode_report_free(&rep);
    return m;
}

#endif
