/*
 * Helpers for middlewares that rewrite the upstream path: client.path holds
 * the normalised path and the query ("/a/b?x=1"); these split and rejoin it.
 */
#ifndef GANTRY_MW_PATH_EDIT_H
#define GANTRY_MW_PATH_EDIT_H

#include "middleware.h"

/* The path part of run->client.path (without the query). */
h2o_iovec_t mw_path(const struct mw_run *run);
/* The query part including '?', or an empty iovec. */
h2o_iovec_t mw_query(const struct mw_run *run);
/* Replaces the path part, keeping the query. <path> is copied. */
void mw_path_set(struct mw_run *run, const char *path, size_t len);

#endif
