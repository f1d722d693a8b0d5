/*
 * When an ACME certificate is renewed: Traefik's rule for
 * certificatesDuration (hours), a renewal period before the end of the
 * certificate and a check interval, both read from a fixed table:
 *
 *   certificatesDuration   renewal period   check interval
 *   >= 1 year              4 months         1 week
 *   >= 90 days             30 days          1 day
 *   >= 30 days             10 days          12 hours
 *   >= 7 days              1 day            1 hour
 *   >= 1 day               6 hours          10 minutes
 *   otherwise              20 minutes       1 minute
 *
 * A certificate whose own lifetime is not longer than that period (the CA
 * issues shorter certificates than configured) would be renewed as soon as
 * it arrives, over and over: its lifetime picks the row instead (what
 * Traefik's later versions do), and below 20 minutes a third of it is left.
 * Pure functions; no state.
 */
#ifndef GANTRY_ACME_RENEWAL_H
#define GANTRY_ACME_RENEWAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct acme_renewal_window {
    int64_t period_s;   /* renew once less than this is left */
    int64_t interval_s; /* Traefik checks this often: the longest wait between two attempts */
};

/* The table's row for a duration of <hours>. */
struct acme_renewal_window acme_renewal_window(int64_t hours);

enum acme_renewal_basis {
    ACME_RENEWAL_CONFIGURED, /* certificatesDuration's row */
    ACME_RENEWAL_LIFETIME,   /* the certificate's own lifetime's row */
    ACME_RENEWAL_THIRD,      /* a third of a lifetime under 20 minutes */
};

struct acme_renewal {
    time_t at;          /* renewal due from then on */
    int64_t period_s;   /* at = not_after - period_s */
    int64_t interval_s; /* the row's check interval (for the third: a tenth of the lifetime, at least 1 s) */
    enum acme_renewal_basis basis;
};

/* The renewal of a certificate valid from <not_before> to <not_after> under
 * certificatesDuration <hours>. A lifetime <= 0: due at not_after. */
struct acme_renewal acme_renewal_plan(int64_t hours, time_t not_before, time_t not_after);

/* <seconds> as Go prints a duration, without zero parts ("720h", "20m", "1h30m", "0s"). */
void acme_renewal_format(int64_t seconds, char *out, size_t size);

#endif
