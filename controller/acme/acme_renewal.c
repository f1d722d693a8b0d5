/* The renewal schedule of ACME certificates (see acme_renewal.h). */
#include "acme_renewal.h"

#include <stdio.h>

#define MINUTE 60
#define HOUR (60 * MINUTE)
#define DAY (24 * HOUR)

struct acme_renewal_window acme_renewal_window(int64_t hours)
{
    /* Traefik's thresholds (v3 since the ARI release: pkg/provider/acme
     * renewal.go), in hours; its "year" is 365 days and its "month" 30.
     * Let's Encrypt's 6-day certificates (160 h) fall in the 6-day row. */
    if (hours >= 365 * 24)
        return (struct acme_renewal_window){4 * 30 * DAY, 7 * DAY};
    if (hours >= 3 * 30 * 24)
        return (struct acme_renewal_window){30 * DAY, DAY};
    if (hours >= 30 * 24)
        return (struct acme_renewal_window){10 * DAY, 12 * HOUR};
    if (hours >= 6 * 24)
        return (struct acme_renewal_window){2 * DAY, 2 * HOUR};
    if (hours >= 24)
        return (struct acme_renewal_window){6 * HOUR, 10 * MINUTE};
    return (struct acme_renewal_window){20 * MINUTE, MINUTE};
}

struct acme_renewal acme_renewal_plan(int64_t hours, time_t not_before, time_t not_after)
{
    int64_t lifetime = (int64_t)not_after - (int64_t)not_before;
    struct acme_renewal_window w = acme_renewal_window(hours);
    enum acme_renewal_basis basis = ACME_RENEWAL_CONFIGURED;
    if (lifetime <= 0)
        return (struct acme_renewal){not_after, 0, w.interval_s, basis};
    if (w.period_s >= lifetime) {
        /* the lifetime rounded to whole hours, as Traefik rounds it */
        w = acme_renewal_window((lifetime + HOUR / 2) / HOUR);
        basis = ACME_RENEWAL_LIFETIME;
    }
    if (w.period_s >= lifetime) {
        int64_t tenth = lifetime / 10;
        w = (struct acme_renewal_window){lifetime / 3, tenth > 0 ? tenth : 1};
        basis = ACME_RENEWAL_THIRD;
    }
    return (struct acme_renewal){(time_t)(not_after - w.period_s), w.period_s, w.interval_s, basis};
}

void acme_renewal_format(int64_t seconds, char *out, size_t size)
{
    if (size == 0)
        return;
    if (seconds <= 0) {
        snprintf(out, size, "0s");
        return;
    }
    int64_t h = seconds / HOUR, m = seconds % HOUR / MINUTE, s = seconds % MINUTE;
    size_t n = 0;
    out[0] = '\0';
    if (h)
        n += (size_t)snprintf(out + n, size - n, "%lldh", (long long)h);
    if (m && n < size)
        n += (size_t)snprintf(out + n, size - n, "%lldm", (long long)m);
    if (s && n < size)
        snprintf(out + n, size - n, "%llds", (long long)s);
}
