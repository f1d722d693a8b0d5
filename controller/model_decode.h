/*
 * Configuration tree -> model, with Traefik v3's dynamic configuration
 * keys (http.routers, http.services, http.middlewares, tcp.*, tls.*).
 * Used for YAML files and, after label-specific rewriting, Docker labels.
 */
#ifndef GANTRY_MODEL_DECODE_H
#define GANTRY_MODEL_DECODE_H

#include "../common/diag.h"
#include "model.h"
#include "tree.h"

struct tree_decoder;

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

/* A Traefik duration that may be negative ("-1s", "-100ms"; a bare integer
 * is seconds) into milliseconds, bounded far beyond any use; <what> names
 * the key in the error. Used by TCP transports and tcpServersTransport. */
int model_decode_signed_duration(struct tree_decoder *c, const struct tree_node *v, const char *what, int64_t *out)
    WARN_UNUSED;

/* The scalar keys of a TCP serversTransport (tree_field callbacks on a
 * struct model_tcp_transport), shared with the static tcpServersTransport. */
int model_decode_tcp_transport_dial(struct tree_decoder *c, void *obj, const struct tree_node *v);
int model_decode_tcp_transport_keep_alive(struct tree_decoder *c, void *obj, const struct tree_node *v);
int model_decode_tcp_transport_termination_delay(struct tree_decoder *c, void *obj, const struct tree_node *v);

#endif
