/*
 * Docker provider (see provider_docker.c). Watcher thread only.
 */
#ifndef GANTRY_PROVIDER_DOCKER_H
#define GANTRY_PROVIDER_DOCKER_H

#include <stdbool.h>

#include "../../../common/diag.h"

/* providers.docker (Traefik's keys) */
struct docker_provider_config {
    bool enabled;          /* providers.docker is configured */
    const char *endpoint;  /* unix:///var/run/docker.sock, tcp://host:port */
    bool endpoint_set;     /* given in the configuration (else DOCKER_HOST wins) */
    const char *label_prefix;
    bool exposed_by_default;
    const char *network;
    const char *default_rule;
    const char *constraints;
    const char *host_ip;
    bool watch; /* decoded; events are always watched (false is refused with a warning) */
};

/* Validates the configuration and starts connecting (asynchronously: a
 * daemon that is not there yet is retried with backoff). */
int provider_docker_start(const struct docker_provider_config *cfg, struct diag *d) WARN_UNUSED;
void provider_docker_stop(void);

#endif
