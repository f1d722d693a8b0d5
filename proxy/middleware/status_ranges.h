/*
 * HTTP status ranges as Traefik writes them ("500-599", "404"): the
 * errors middleware's `status` and retry's `status`.
 */
#ifndef GANTRY_PROXY_MIDDLEWARE_STATUS_RANGES_H
#define GANTRY_PROXY_MIDDLEWARE_STATUS_RANGES_H

#include <stdbool.h>
#include <stddef.h>

struct status_range {
    int lo, hi;
};

/* "500-599" or "404" into <r>; -1 unless both ends are statuses (100-599), lo <= hi. */
int status_range_parse(const char *s, struct status_range *r);

bool status_in_ranges(const struct status_range *r, size_t n, int status);

#endif
