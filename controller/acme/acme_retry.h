/*
 * A CA's "not now" (RFC 8555 6.6): HTTP 429, 503 or a rateLimited problem,
 * with a Retry-After header (seconds or an HTTP date) saying when to come
 * back. The next attempt is then not before that time, however short the
 * backoff; an unreasonably far time is capped so a bad header cannot stop
 * renewals for good.
 */
#ifndef GANTRY_ACME_RETRY_H
#define GANTRY_ACME_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define ACME_RETRY_AFTER_MAX_S (7 * 24 * 3600) /* Let's Encrypt's longest rate-limit window */

/* Whether an answer is the CA declining for now (<problem_type> may be NULL). */
bool acme_retry_is_rate_limit(long status, const char *problem_type);
/* The time a Retry-After <value> names, seen at <now>; 0 when absent or unreadable. */
time_t acme_retry_after_parse(const char *value, time_t now);
/* The wait before the next attempt: the backoff, or longer when the CA
 * asked (<retry_at> from acme_retry_after_parse, 0: not asked). */
uint64_t acme_retry_wait_ms(uint64_t backoff_ms, time_t retry_at, time_t now);

#endif
