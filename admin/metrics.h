/*
 * Prometheus metrics (see metrics.c). Admin thread.
 */
#ifndef GANTRY_METRICS_H
#define GANTRY_METRICS_H

#include <stddef.h>

/* The exposition text (malloc'd). */
char *metrics_render(size_t *len);

#endif
