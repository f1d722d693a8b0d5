/* Retry-After from the CA (see acme_retry.h). */
#include "acme_retry.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

bool acme_retry_is_rate_limit(long status, const char *problem_type)
{
    return status == 429 || status == 503 ||
           (problem_type != NULL && strcmp(problem_type, "urn:ietf:params:acme:error:rateLimited") == 0);
}

time_t acme_retry_after_parse(const char *value, time_t now)
{
    if (value == NULL)
        return 0;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value == '\0')
        return 0;
    if (isdigit((unsigned char)*value)) { /* delta-seconds */
        char *end;
        unsigned long long s = strtoull(value, &end, 10);
        while (*end == ' ' || *end == '\t')
            end++;
        if (*end != '\0')
            return 0;
        if (s > ACME_RETRY_AFTER_MAX_S)
            s = ACME_RETRY_AFTER_MAX_S;
        return now + (time_t)s;
    }
    time_t t = curl_getdate(value, NULL); /* IMF-fixdate, RFC 850 and asctime, as HTTP allows */
    return t > 0 ? t : 0;
}

uint64_t acme_retry_wait_ms(uint64_t backoff_ms, time_t retry_at, time_t now)
{
    if (retry_at <= now)
        return backoff_ms;
    uint64_t asked = (uint64_t)(retry_at - now);
    if (asked > ACME_RETRY_AFTER_MAX_S)
        asked = ACME_RETRY_AFTER_MAX_S;
    return asked * 1000 > backoff_ms ? asked * 1000 : backoff_ms;
}

time_t acme_retry_cap(time_t at, time_t now)
{
    return at > now + ACME_RETRY_AFTER_MAX_S ? now + ACME_RETRY_AFTER_MAX_S : at;
}

void acme_retry_format(time_t at, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&at, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t acme_retry_stored(const char *value, time_t now)
{
    struct tm tm = {0};
    char z = 0, extra = 0;
    if (value == NULL || sscanf(value, "%4d-%2d-%2dT%2d:%2d:%2d%c%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                                &tm.tm_min, &tm.tm_sec, &z, &extra) != 7 || z != 'Z')
        return 0;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
        tm.tm_sec > 60)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t at = timegm(&tm);
    if (at <= now)
        return 0;
    return acme_retry_cap(at, now);
}
