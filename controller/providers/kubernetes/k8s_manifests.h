/*
 * Kubernetes manifests as kubectl reads them: YAML (one or more documents
 * separated by `---`) or JSON, where a `List` (or any `...List` kind)
 * contributes its items. For `gantry migrate ingress-nginx --file`.
 */
#ifndef GANTRY_K8S_MANIFESTS_H
#define GANTRY_K8S_MANIFESTS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "../../../common/diag.h"

/* Appends every object of <text> (named <name> in errors) to the cJSON
 * array <out>. YAML plain scalars become numbers, booleans and nulls as
 * YAML 1.1 core says (`80`, `true`, `null`), quoted ones strings. -1 with
 * <d> set on a syntax error. */
int k8s_manifests_parse(const char *name, const char *text, size_t len, cJSON *out, struct diag *d);

#endif
