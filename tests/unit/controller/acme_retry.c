/* Tests controller/acme/acme_retry.c: which answers are a CA's "not now",
 * Retry-After in seconds and as each HTTP date form, garbage and absurd
 * values, and the wait before the next attempt (backoff vs. Retry-After). */
#include "../../../controller/acme/acme_retry.c"

#include "test.h"

static void test_rate_limit(void)
{
    CHECK(acme_retry_is_rate_limit(429, NULL));
    CHECK(acme_retry_is_rate_limit(503, NULL));
    CHECK(acme_retry_is_rate_limit(400, "urn:ietf:params:acme:error:rateLimited"));
    CHECK(!acme_retry_is_rate_limit(400, "urn:ietf:params:acme:error:badNonce"));
    CHECK(!acme_retry_is_rate_limit(500, NULL));
    CHECK(!acme_retry_is_rate_limit(403, "urn:ietf:params:acme:error:unauthorized"));
}

static void test_parse(void)
{
    time_t now = 1764806400; /* 2025-12-04T00:00:00Z */
    CHECK(acme_retry_after_parse("120", now) == now + 120);
    CHECK(acme_retry_after_parse("  0 ", now) == now);
    CHECK(acme_retry_after_parse("Thu, 04 Dec 2025 01:00:00 GMT", now) == now + 3600);  /* IMF-fixdate */
    CHECK(acme_retry_after_parse("Thursday, 04-Dec-25 01:00:00 GMT", now) == now + 3600); /* RFC 850 */
    CHECK(acme_retry_after_parse("Thu Dec  4 01:00:00 2025", now) == now + 3600);      /* asctime */
    CHECK(acme_retry_after_parse(NULL, now) == 0);
    CHECK(acme_retry_after_parse("", now) == 0);
    CHECK(acme_retry_after_parse("soon", now) == 0);
    CHECK(acme_retry_after_parse("12abc", now) == 0);
    CHECK(acme_retry_after_parse("-5", now) == 0);
    /* a year in seconds is capped at a week */
    CHECK(acme_retry_after_parse("31536000", now) == now + ACME_RETRY_AFTER_MAX_S);
    CHECK(acme_retry_after_parse("99999999999999999999999", now) == now + ACME_RETRY_AFTER_MAX_S);
}

static void test_wait(void)
{
    time_t now = 1764806400;
    CHECK(acme_retry_wait_ms(10000, 0, now) == 10000);           /* not asked: the backoff */
    CHECK(acme_retry_wait_ms(10000, now - 5, now) == 10000);     /* a past time: the backoff */
    CHECK(acme_retry_wait_ms(10000, now + 3600, now) == 3600000); /* asked for longer: honoured */
    CHECK(acme_retry_wait_ms(7200000, now + 60, now) == 7200000); /* the backoff is longer already */
    /* a date a year ahead is capped at a week */
    CHECK(acme_retry_wait_ms(10000, now + 365 * 86400, now) == (uint64_t)ACME_RETRY_AFTER_MAX_S * 1000);
}

/* the pause as stored for a restart or the next issuer: RFC 3339 UTC, read back capped */
static void test_stored(void)
{
    time_t now = 1764806400; /* 2025-12-04T00:00:00Z */
    char buf[32];
    acme_retry_format(now + 90, buf, sizeof(buf));
    CHECK_STR(buf, "2025-12-04T00:01:30Z");
    CHECK(acme_retry_stored(buf, now) == now + 90);
    CHECK(acme_retry_stored("2025-12-04T00:01:30Z", now + 90) == 0); /* over: no pause */
    CHECK(acme_retry_stored("2025-12-03T23:00:00Z", now) == 0);
    /* a far or tampered time stops orders for a week at most */
    CHECK(acme_retry_stored("2100-01-01T00:00:00Z", now) == now + ACME_RETRY_AFTER_MAX_S);
    CHECK(acme_retry_cap(now + 365 * 86400, now) == now + ACME_RETRY_AFTER_MAX_S);
    CHECK(acme_retry_cap(now + 60, now) == now + 60);
    /* unreadable: ignored */
    CHECK(acme_retry_stored(NULL, now) == 0);
    CHECK(acme_retry_stored("", now) == 0);
    CHECK(acme_retry_stored("tomorrow", now) == 0);
    CHECK(acme_retry_stored("2025-12-04T00:01:30", now) == 0);      /* no zone */
    CHECK(acme_retry_stored("2025-12-04T00:01:30+01:00", now) == 0); /* only Z is written */
    CHECK(acme_retry_stored("2025-12-04T00:01:30Zjunk", now) == 0);
    CHECK(acme_retry_stored("2025-13-04T00:01:30Z", now) == 0);
    CHECK(acme_retry_stored("2025-12-04T25:01:30Z", now) == 0);
}

int main(void)
{
    test_rate_limit();
    test_parse();
    test_wait();
    test_stored();
    return test_report("controller/acme_retry");
}
