/*
 * Active health checks (see healthcheck.c). Watcher thread only.
 */
#ifndef GANTRY_HEALTHCHECK_H
#define GANTRY_HEALTHCHECK_H

#include <stddef.h>

#include "model.h"

struct server;

/* Around each compile: begin, want() every (server, check) the new
 * configuration has, end() drops the checks no longer wanted. */
void healthcheck_begin(void);
void healthcheck_want(struct server *s, const struct model_healthcheck *hc, const char *service);
void healthcheck_end(void);
void healthcheck_shutdown(void);

#endif
