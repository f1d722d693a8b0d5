/*
 * The API's view of the TCP routers and services (Traefik's
 * /api/tcp/routers and /api/tcp/services): what each model defines, with
 * status "enabled" when it made it into the table, else "disabled" and the
 * compile's errors that name it.
 */
#ifndef GANTRY_TCP_STATUS_H
#define GANTRY_TCP_STATUS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../common/arena.h"
#include "model.h"

struct table;

/* JSON arrays (unformatted) in <a>: *routers and *services. <errors> are
 * the compile's messages (n_errors). */
void tcp_status_render(struct arena *a, const struct model *const *models, size_t n_models, const struct table *t,
                       const char *const *errors, size_t n_errors, const char **routers, const char **services);

/* Shared with the UDP view (udp_status.c), whose services are TCP-shaped: */
/* <name>@<provider> in <buf>, unless <name> is qualified already. */
const char *tcp_status_qualified(char *buf, size_t cap, const char *name, const char *provider);
/* Adds "status" and the <errors> that name "<what> '<q>'". */
void tcp_status_add_status(cJSON *o, bool enabled, const char *what, const char *q, const char *const *errors,
                           size_t n_errors);
/* Service <s> named <q> as Traefik's API shows it, into <o>. */
void tcp_status_service(cJSON *o, const struct model_tcp_service *s, const char *q, const char *provider);
/* <j> printed unformatted into <a>, and deleted. */
char *tcp_status_json(struct arena *a, cJSON *j);

#endif
