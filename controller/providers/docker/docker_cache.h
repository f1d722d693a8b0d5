/*
 * Incremental Docker build: each container's objects are built once per
 * inspect (a "piece", with a model of its own) and kept while the
 * container's revision and stopping flag are unchanged. Objects of the
 * same name from several containers (replicas) form a name group whose
 * merge is computed again only when a member changes. A rebuild then
 * builds the changed containers only and assembles the provider's model
 * from the pieces BY REFERENCE: an unchanged object is handed over as the
 * same pointer, so the compile can reuse what it built from it last time
 * (compile_reuse.h). The assembled model holds a reference on each piece
 * and merge it points into, released when the aggregator frees it.
 *
 * Cost per rebuild: the changed containers' builds, plus one walk over the
 * kept pieces that pushes pointers (no parsing, hashing or merging).
 * Watcher thread; references are atomic because a model may be freed
 * elsewhere.
 */
#ifndef GANTRY_DOCKER_CACHE_H
#define GANTRY_DOCKER_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../../../common/strmap.h"
#include "docker_build.h"

struct docker_piece;

struct docker_cache {
    struct strmap by_id;          /* container id -> struct docker_piece * */
    struct docker_piece **order;  /* every piece, by container name then id */
    size_t n_order;
    struct strmap groups[6];      /* routers, services, TCP routers, UDP routers, UDP services, TCP services: name -> struct docker_group * */
    uint64_t gen;
    /* the last build, for the debug log and tests */
    size_t last_built, last_kept, last_merged;
};

void docker_cache_init(struct docker_cache *k);
void docker_cache_clear(struct docker_cache *k);

/* docker_build() with the pieces of the previous call kept: only the
 * containers of <s> whose revision or stopping flag changed (or that read
 * another container: network mode container:<x>) are built again. */
struct model *docker_build_cached(struct docker_cache *k, const struct docker_store *s, const struct docker_options *o,
                                  struct arena *pa, struct ptr_vec *problems);

#endif
