/*
 * A provider's configuration problems, logged once each: a rebuild after
 * every event would otherwise repeat the same error lines in a loop. The
 * problems also go into the model, for the admin API.
 */
#ifndef GANTRY_PROBLEM_LOG_H
#define GANTRY_PROBLEM_LOG_H

#include "../common/arena.h"
#include "model.h"

struct problem_log {
    struct arena arena;
    struct ptr_vec last;
};

void problem_log_init(struct problem_log *pl);
void problem_log_free(struct problem_log *pl);
/* Logs the problems of <problems> not in the previous call, remembers them,
 * and copies them all into <m>'s problems. */
void problem_log_update(struct problem_log *pl, const char *provider, const struct ptr_vec *problems, struct model *m);

#endif
