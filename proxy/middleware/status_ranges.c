/*
 * HTTP status ranges (see status_ranges.h).
 */
#include "status_ranges.h"

#include <stdlib.h>

int status_range_parse(const char *s, struct status_range *r)
{
    char *end;
    long lo = strtol(s, &end, 10), hi = lo;
    if (end == s)
        return -1;
    if (*end == '-') {
        const char *from = end + 1;
        hi = strtol(from, &end, 10);
        if (end == from)
            return -1;
    }
    if (*end != '\0' || lo < 100 || hi > 599 || lo > hi)
        return -1;
    r->lo = (int)lo, r->hi = (int)hi;
    return 0;
}

bool status_in_ranges(const struct status_range *r, size_t n, int status)
{
    for (size_t i = 0; i < n; i++)
        if (status >= r[i].lo && status <= r[i].hi)
            return true;
    return false;
}
