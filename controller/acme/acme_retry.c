/* Retry-After from the CA (see acme_retry.h). */
#include "acme_retry.h"

#include <ctype.h>
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
