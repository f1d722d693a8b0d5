/*
 * What the Docker provider keeps about one container, parsed from the
 * Engine API's inspect document (GET /containers/{id}/json), and the few
 * fields of an event (GET /events) it acts on. cJSON trees are parsed,
 * copied into these structs and deleted in the same function.
 */
#ifndef GANTRY_DOCKER_CONTAINER_H
#define GANTRY_DOCKER_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../../common/arena.h"
#include "../../../common/diag.h"

struct docker_kv {
    const char *key, *value;
};

struct docker_network {
    const char *name, *ip, *ip6;
};

enum docker_health { DOCKER_HEALTH_NONE, DOCKER_HEALTH_STARTING, DOCKER_HEALTH_HEALTHY, DOCKER_HEALTH_UNHEALTHY };

struct docker_container {
    struct arena arena;
    uint64_t revision; /* unique per parsed document: what docker_cache keys a build on */
    const char *id;
    const char *name; /* without the leading '/' */
    struct docker_kv *labels; /* sorted by key */
    size_t n_labels;
    bool running, paused, restarting;
    bool stopping; /* set by the provider on a terminating kill event */
    enum docker_health health;
    const char *network_mode; /* "host", "bridge", "none", "container:<id>", or a network name */
    struct docker_network *networks; /* sorted by name */
    size_t n_networks;
    int *exposed_ports; /* tcp, ascending */
    size_t n_exposed;
};

/* Parses an inspect document. The caller frees with docker_container_free. */
struct docker_container *docker_container_parse(const char *json, size_t len, struct diag *d);
void docker_container_free(struct docker_container *c);
/* Value of label <key>, or NULL. */
const char *docker_label(const struct docker_container *c, const char *key);

/* The parts of an event the provider uses. */
struct docker_event {
    char type[32];
    char action[64]; /* "start", "health_status", ... (text after ':' dropped) */
    char id[80];
    int signal;      /* kill events: the signal number, else 0 */
    int64_t time_nano;
};

int docker_event_parse(const char *json, size_t len, struct docker_event *ev, struct diag *d) WARN_UNUSED;

/* Container ids and names from GET /containers/json, for the initial sync. */
int docker_list_parse(const char *json, size_t len, char ***ids, size_t *n, struct diag *d) WARN_UNUSED;

#endif
