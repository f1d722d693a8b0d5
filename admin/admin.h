/*
 * The admin listener (admin.address, loopback by default): the JSON API,
 * /metrics, /healthz, /readyz and the dashboard, on a thread and event
 * loop of its own so that nothing an operator does there costs the
 * workers. Read-only: nothing on it can change the configuration.
 */
#ifndef GANTRY_ADMIN_H
#define GANTRY_ADMIN_H

#include <stdbool.h>

#include "../common/diag.h"

struct admin_config {
    const char *address; /* "127.0.0.1:8081" */
    const char *token;   /* NULL or "": no authentication */
    const char *version;
};

/* Readiness as the rest of gantry sees it: every enabled provider has
 * completed its first sync. Set by main. */
typedef bool (*admin_ready_cb)(char *why, size_t len);

int admin_start(const struct admin_config *cfg, admin_ready_cb ready, struct diag *d) WARN_UNUSED;
void admin_stop(void);

#endif
