/*
 * The API's view of the TCP routers and services (Traefik's
 * /api/tcp/routers and /api/tcp/services): what each model defines, with
 * status "enabled" when it made it into the table, else "disabled" and the
 * compile's errors that name it.
 */
#ifndef GANTRY_TCP_STATUS_H
#define GANTRY_TCP_STATUS_H

#include <stddef.h>

#include "../common/arena.h"
#include "model.h"

struct table;

/* JSON arrays (unformatted) in <a>: *routers and *services. <errors> are
 * the compile's messages (n_errors). */
void tcp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services);

#endif
