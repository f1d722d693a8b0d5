/* Tests controller/acme/acme_renewal.c: Traefik's certificatesDuration
 * table (each row and its edges), the renewal time of certificates that fit
 * it, of certificates shorter than the configured period (their own
 * lifetime's row, then a third), and the duration format. */
#include "../../../controller/acme/acme_renewal.c"

#include "test.h"

static void check_window(int64_t hours, int64_t period_s, int64_t interval_s)
{
    struct acme_renewal_window w = acme_renewal_window(hours);
    if (w.period_s != period_s || w.interval_s != interval_s)
        fprintf(stderr, "certificatesDuration %lld: got %lld/%lld\n", (long long)hours, (long long)w.period_s,
                (long long)w.interval_s);
    CHECK(w.period_s == period_s && w.interval_s == interval_s);
}

static void test_table(void)
{
    check_window(100 * 365 * 24, 120 * DAY, 7 * DAY);
    check_window(365 * 24, 120 * DAY, 7 * DAY); /* >= 1 year: 4 months, 1 week */
    check_window(365 * 24 - 1, 30 * DAY, DAY);
    check_window(2160, 30 * DAY, DAY); /* the default, 90 days: 30 days, 1 day */
    check_window(2159, 10 * DAY, 12 * HOUR);
    check_window(720, 10 * DAY, 12 * HOUR); /* >= 30 days: 10 days, 12 hours */
    check_window(719, 2 * DAY, 2 * HOUR);
    check_window(160, 2 * DAY, 2 * HOUR); /* Let's Encrypt's 6-day certificates */
    check_window(144, 2 * DAY, 2 * HOUR); /* >= 6 days: 2 days, 2 hours */
    check_window(143, 6 * HOUR, 10 * MINUTE);
    check_window(24, 6 * HOUR, 10 * MINUTE); /* >= 1 day: 6 hours, 10 minutes */
    check_window(23, 20 * MINUTE, MINUTE);
    check_window(1, 20 * MINUTE, MINUTE);
    check_window(0, 20 * MINUTE, MINUTE);
}

static void test_plan_configured(void)
{
    time_t nb = 1700000000;
    /* Let's Encrypt's 90 days under the default: 30 days before the end (60 days in) */
    struct acme_renewal p = acme_renewal_plan(2160, nb, nb + 90 * DAY);
    CHECK(p.basis == ACME_RENEWAL_CONFIGURED && p.at == nb + 60 * DAY && p.period_s == 30 * DAY && p.interval_s == DAY);
    /* a 1-year certificate under certificatesDuration 8760: 4 months before the end */
    p = acme_renewal_plan(8760, nb, nb + 365 * DAY);
    CHECK(p.basis == ACME_RENEWAL_CONFIGURED && p.at == nb + 245 * DAY && p.interval_s == 7 * DAY);
    /* the configured row wins even if the lifetime would pick another (Traefik reads certificatesDuration) */
    p = acme_renewal_plan(2160, nb, nb + 45 * DAY);
    CHECK(p.basis == ACME_RENEWAL_CONFIGURED && p.at == nb + 15 * DAY);
    /* short durations: 20 minutes before the end of a 1-hour certificate */
    p = acme_renewal_plan(1, nb, nb + HOUR);
    CHECK(p.basis == ACME_RENEWAL_CONFIGURED && p.at == nb + 40 * MINUTE && p.interval_s == MINUTE);
    /* just longer than the period: due 1 s after it starts */
    p = acme_renewal_plan(2160, nb, nb + 30 * DAY + 1);
    CHECK(p.basis == ACME_RENEWAL_CONFIGURED && p.at == nb + 1);
}

static void test_plan_shorter_than_configured(void)
{
    time_t nb = 1700000000;
    /* Let's Encrypt's 6-day certificates (160 h) under the default 2160: not renewed on arrival but by the
     * 6-day row (2 days before the end, checked every 2 hours) */
    struct acme_renewal p = acme_renewal_plan(2160, nb, nb + 160 * HOUR);
    CHECK(p.basis == ACME_RENEWAL_LIFETIME && p.at == nb + 112 * HOUR && p.interval_s == 2 * HOUR);
    /* exactly the period: the lifetime's row too (30 days -> 10 days) */
    p = acme_renewal_plan(2160, nb, nb + 30 * DAY);
    CHECK(p.basis == ACME_RENEWAL_LIFETIME && p.at == nb + 20 * DAY);
    /* the lifetime rounded to hours: 6 days minus 20 minutes is 144 h, the 6-day row */
    p = acme_renewal_plan(2160, nb, nb + 6 * DAY - 20 * MINUTE);
    CHECK(p.basis == ACME_RENEWAL_LIFETIME && p.period_s == 2 * DAY);
    /* 30 minutes: the row under a day leaves 20 minutes */
    p = acme_renewal_plan(2160, nb, nb + 30 * MINUTE);
    CHECK(p.basis == ACME_RENEWAL_LIFETIME && p.at == nb + 10 * MINUTE && p.interval_s == MINUTE);
    /* 20 minutes and less (test CAs): a third of the lifetime, checked every tenth */
    p = acme_renewal_plan(2160, nb, nb + 20 * MINUTE);
    CHECK(p.basis == ACME_RENEWAL_THIRD && p.at == nb + 20 * MINUTE - 400 && p.interval_s == 120);
    p = acme_renewal_plan(1, nb, nb + 30);
    CHECK(p.basis == ACME_RENEWAL_THIRD && p.at == nb + 20 && p.interval_s == 3);
    p = acme_renewal_plan(1, nb, nb + 5);
    CHECK(p.basis == ACME_RENEWAL_THIRD && p.at == nb + 4 && p.interval_s == 1);
    /* never valid: due at its end */
    p = acme_renewal_plan(2160, nb, nb);
    CHECK(p.at == nb);
    p = acme_renewal_plan(2160, nb, nb - 10);
    CHECK(p.at == nb - 10);
}

static void test_format(void)
{
    char b[32];
    acme_renewal_format(30 * DAY, b, sizeof(b));
    CHECK_STR(b, "720h");
    acme_renewal_format(20 * MINUTE, b, sizeof(b));
    CHECK_STR(b, "20m");
    acme_renewal_format(HOUR + 30 * MINUTE + 5, b, sizeof(b));
    CHECK_STR(b, "1h30m5s");
    acme_renewal_format(10, b, sizeof(b));
    CHECK_STR(b, "10s");
    acme_renewal_format(0, b, sizeof(b));
    CHECK_STR(b, "0s");
    char small[4];
    acme_renewal_format(120 * DAY, small, sizeof(small)); /* truncated, still a string */
    CHECK(strlen(small) == 3);
}

int main(void)
{
    test_table();
    test_plan_configured();
    test_plan_shorter_than_configured();
    test_format();
    return test_report("controller/acme_renewal");
}
