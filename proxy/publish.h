/*
 * The current routing table and its safe reclamation.
 *
 * The watcher thread publishes with one atomic pointer store. Workers pick
 * the new table up at the top of their loop iteration, take one reference
 * for themselves and hand every request a non-atomic link to a per-worker
 * handle, so a request keeps its table however long it runs and the hot
 * path has no atomics. A superseded table loses "current"'s reference only
 * once every worker has announced a generation at least as new as the one
 * that replaced it (epoch-based reclamation); the last reference frees it
 * on the watcher thread.
 */
#ifndef GANTRY_PUBLISH_H
#define GANTRY_PUBLISH_H

#include <stdint.h>

#include <h2o.h>

#include "table.h"

/* <wake>(i) makes worker i's loop come round (NULL in tests that poll). */
void publish_init(uint32_t n_workers, void (*wake)(uint32_t worker));
/* Watcher thread: frees everything still held. Workers must have exited. */
void publish_shutdown(void);

/* Watcher thread: makes <t> current (takes its initial reference). */
void publish_swap(struct table *t);
/* Watcher thread: frees tables no worker or request can reach any more.
 * Returns how many tables are still waiting. */
size_t publish_reclaim(void);
/* Watcher thread only (it owns "current"). */
struct table *publish_current(void);

/* Worker <w>: call at the top of every loop iteration. */
void publish_worker_refresh(uint32_t w);
/* Worker <w>: the table this worker routes with (NULL before the first). */
struct table *publish_worker_table(uint32_t w);
/* Worker <w>: ties the worker's current table to <pool> (a request). */
void publish_link(uint32_t w, h2o_mem_pool_t *pool);
/* Worker <w>: releases its table at exit. */
void publish_worker_exit(uint32_t w);

#endif
