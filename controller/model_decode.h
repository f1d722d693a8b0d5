/*
 * Configuration tree -> model, with Traefik v3's dynamic configuration
 * keys (http.routers, http.services, http.middlewares, tcp.*, tls.*).
 * Used for YAML files and, after label-specific rewriting, Docker labels.
 */
#ifndef GANTRY_MODEL_DECODE_H
#define GANTRY_MODEL_DECODE_H

#include "model.h"
#include "tree.h"

/* Problems found while decoding. Errors drop the object they are about;
 * warnings (unknown or unsupported keys) do not. Messages name the place
 * (file:line:col or label) and the object. */
struct decode_report {
    struct arena arena;
    struct ptr_vec errors;   /* char * */
    struct ptr_vec warnings; /* char * */
};

void decode_report_init(struct decode_report *r);
void decode_report_free(struct decode_report *r);

/*
 * Adds the objects under <root> (a map with http/tcp/tls sections) to <m>.
 * Objects with errors are left out and reported; everything else is added.
 * <provider> labels each object's origin.
 */
void model_decode(struct model *m, const struct tree_node *root, struct decode_report *rep);

#endif
