/*
 * Traffic mirroring: copies of a share of a mirroring service's requests
 * go to its shadow services; their answers are read, measured and
 * dropped. The client's request never waits for a mirror: copies are sent
 * after the main request has been handed to its upstream, each shadow has
 * a bounded number of copies in flight per worker (more are dropped and
 * counted), and a copy's connection, write and answer are all on their
 * own timers. Sampling is deterministic: over N requests a mirror at P%
 * receives floor(N * P / 100) of them.
 */
#ifndef GANTRY_MIRROR_H
#define GANTRY_MIRROR_H

#include <h2o.h>

#include "table.h"
#include "upstream.h"
#include "worker.h"

/* Copies in flight per mirror and worker before further ones are dropped. */
#define MIRROR_MAX_IN_FLIGHT 64

/* Worker thread: sends the copies <svc> (a mirroring service) wants of
 * <req>. The request's table must be linked to req->pool. <chains>: per
 * mirror, the chain its copy passes first (NULL entries: none; NULL: no
 * mirror has one): it runs at once on the request's fields, which are put
 * back after; a middleware that answers drops that copy only. */
void mirror_dispatch(struct worker *w, h2o_req_t *req, const struct table_service *svc, const struct upstream_client *client,
                     struct table_route *const *chains);

void mirror_worker_init(struct worker *w);
/* End of a drain: abandons the copies still in flight. */
void mirror_abort_all(struct worker *w);

#endif
