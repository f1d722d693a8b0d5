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
#include <stddef.h>
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

/* The pause kept in storage (acme.json, the account Secret) so that a
 * restarted process or the next issuer honours it: <at> capped to
 * <now> + ACME_RETRY_AFTER_MAX_S, as RFC 3339 UTC ("2026-12-05T12:30:00Z"). */
time_t acme_retry_cap(time_t at, time_t now);
void acme_retry_format(time_t at, char *out, size_t size);
/* A stored pause read back at <now>: its time, capped; 0 when unreadable or
 * already over (a bad or tampered value never stops orders for good). */
time_t acme_retry_stored(const char *value, time_t now);

#endif
