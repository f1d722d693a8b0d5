/*
 * Per-request deadlines of any length on h2o 2.2.5's fixed-delay timeout
 * lists: a deadline links to the longest power-of-two list that does not
 * pass it and re-links for what remains when that fires (at most ~22 hops,
 * millisecond precision). Used for gRPC's grpc-timeout, whose values differ
 * per request and would exhaust worker_timeout_list's 32 lists.
 */
#ifndef GANTRY_DEADLINE_H
#define GANTRY_DEADLINE_H

#include <stdint.h>

#include <h2o.h>

#include "worker.h"

struct deadline {
    h2o_timeout_entry_t entry;
    int64_t at_ms; /* worker loop clock */
    struct worker *w;
    void (*cb)(struct deadline *d);
};

void deadline_worker_init(struct worker *w);
void deadline_worker_dispose(struct worker *w);
/* Calls cb(d) <ms> from now on the worker's thread, unless cleared. */
void deadline_set(struct deadline *d, struct worker *w, uint64_t ms, void (*cb)(struct deadline *d));
void deadline_clear(struct deadline *d);

#endif
