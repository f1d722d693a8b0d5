/*
 * `gantry healthcheck`: asks a running gantry's admin listener for /healthz,
 * so a container image needs no curl for its HEALTHCHECK.
 */
#ifndef GANTRY_CLI_HEALTHCHECK_H
#define GANTRY_CLI_HEALTHCHECK_H

#include "static_config.h"

/* Exit status: 0 when /healthz answered 200 within the timeout, 1 otherwise
 * (with one line on stderr saying why). */
int cli_healthcheck(const struct static_config *c);

#endif
