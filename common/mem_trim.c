/* See mem_trim.h. */
#include "mem_trim.h"

#include <malloc.h>

static size_t low_water; /* free bytes at the last trim, or lower since (memory reused) */

bool mem_trim_if_slack(size_t slack, size_t *freed)
{
    *freed = 0;
#ifdef __GLIBC__
    size_t now = mallinfo2().fordblks;
    if (now < low_water)
        low_water = now;
    if (now <= low_water + slack)
        return false;
    *freed = now - low_water;
    malloc_trim(0);
    low_water = now;
    return true;
#else
    (void)slack;
    return false;
#endif
}
