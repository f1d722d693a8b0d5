/*
 * Compiles the providers' udp.routers and udp.services into the routing
 * table (proxy/udp/table_udp.h), as Traefik's UDP router and service
 * managers build them. Watcher thread (called by the aggregator).
 */
#ifndef GANTRY_UDP_COMPILE_H
#define GANTRY_UDP_COMPILE_H

#include <stddef.h>

#include "../common/arena.h"
#include "model.h"

struct table;

/* <eps>: the UDP entry points' names (index = UDP entry point). Problems,
 * each naming the object ("udp router 'r@file'", "udp service 's@file'"),
 * are pushed to <errors> (char *, in <scratch>); warnings are logged. */
void udp_compile(struct table *t, const struct model *const *models, size_t n_models, const char *const *eps, size_t n_eps,
                 struct arena *scratch, struct ptr_vec *errors);

#endif
