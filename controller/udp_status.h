/*
 * The API's view of the UDP routers and services (Traefik's
 * /api/udp/routers and /api/udp/services): what each model defines, with
 * status "enabled" when it made it into the table, else "disabled" and the
 * compile's errors that name it.
 */
#ifndef GANTRY_UDP_STATUS_H
#define GANTRY_UDP_STATUS_H

#include <stddef.h>

#include "../common/arena.h"
#include "model.h"

struct table;

/* JSON arrays (unformatted) in <a>: *routers and *services. */
void udp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services);

#endif
