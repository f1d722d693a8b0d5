/*
 * libFuzzer target: a container inspect document (what the Engine
 * returns) parsed, then its labels translated into the model the way the
 * Docker provider does it, with both label prefixes.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../controller/providers/docker/docker_build.h"
#include "../../controller/providers/docker/docker_container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct diag d;
    struct docker_container *c = docker_container_parse((const char *)data, size, &d);
    if (c == NULL)
        return 0;
    struct docker_store store = {.items = &c, .n = 1};
    const char *prefixes[] = {"gantry", "traefik"};
    for (int i = 0; i < 2; i++) {
        struct docker_options o = {.label_prefix = prefixes[i],
                                   .exposed_by_default = i == 0,
                                   .default_rule = "Host(`{{ normalize .Name }}.docker.localhost`)",
                                   .host_ip = "127.0.0.1"};
        struct arena pa;
        arena_init(&pa);
        struct ptr_vec problems = {0};
        struct model *m = docker_build(&store, &o, &pa, &problems);
        if (m != NULL) {
            free(model_dump(m));
            model_free(m);
        }
        arena_free(&pa);
    }
    docker_container_free(c);
    return 0;
}
