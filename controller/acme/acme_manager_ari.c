/*
 * The manager's ACME Renewal Information (RFC 9773): when the CA's
 * directory has renewalInfo, the issuer asks it about each certificate
 * (one request at a time, between orders, on the resolver's client) and
 * renews at a random time in the window it suggests; again after its
 * Retry-After (6 h without one). No answer, or one that cannot be read,
 * leaves the certificatesDuration schedule (acme_renewal.h) in place:
 * logged once per certificate, never an end of renewals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "../../common/log.h"
#include "acme_ari.h"
#include "acme_manager_internal.h"
#include "acme_renewal.h"

static void format_time(time_t t, char *out, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void acme_manager__ari_reset(struct domain_set *s)
{
    free(s->ari_id);
    s->ari_id = s->cert_pem ? acme_ari_cert_id(s->cert_pem) : NULL;
    s->ari_at = s->ari_start = s->ari_end = 0;
    s->ari_poll_ms = 0;
    s->ari_fallback_logged = false;
}

time_t acme_manager__renew_at(const struct resolver *r, const struct domain_set *s)
{
    if (s->ari_at > 0)
        return s->ari_at;
    return acme_renewal_plan(r->cfg->certificates_duration_h, s->not_before, s->not_after).at;
}

const char *acme_manager__ari_replaces(const struct resolver *r, const struct domain_set *s)
{
    return s->cert_pem && r->client && acme_client_has_renewal_info(r->client) == 1 ? s->ari_id : NULL;
}

/* No usable answer: the normal schedule, said once per certificate. */
static void fall_back(const struct resolver *r, struct domain_set *s, const char *why)
{
    s->ari_at = s->ari_start = s->ari_end = 0;
    time_t at = acme_renewal_plan(r->cfg->certificates_duration_h, s->not_before, s->not_after).at;
    char from[32];
    format_time(at, from, sizeof(from));
    if (s->ari_fallback_logged) {
        log_debug("acme: resolver %s: renewalInfo for the certificate for %s: %s", r->cfg->name, s->names[0], why);
        return;
    }
    s->ari_fallback_logged = true;
    log_warn("acme: resolver %s: renewalInfo for the certificate for %s (%s): %s; the normal schedule applies (renewal "
             "from %s)", r->cfg->name, s->names[0], s->ari_id, why, from);
}

static void on_renewal_info(void *data, enum acme_ari_outcome outcome, const char *text, const char *retry_after)
{
    struct resolver *r = data;
    struct domain_set *s = r->ari_set;
    r->ari_set = NULL;
    acme_manager__schedule(0);
    if (s == NULL || s->cert_pem == NULL)
        return;
    if (outcome == ACME_ARI_UNSUPPORTED) { /* once per client: the directory is read once */
        log_info("acme: resolver %s: the CA's directory has no renewalInfo (RFC 9773): renewals follow "
                 "certificatesDuration", r->cfg->name);
        s->ari_at = 0;
        return;
    }
    time_t now = time(NULL);
    s->ari_poll_ms = watcher_now_ms() + (uint64_t)acme_ari_retry_after(retry_after, now) * 1000;
    struct acme_ari_window w;
    if (outcome == ACME_ARI_FAILED) {
        fall_back(r, s, text);
        return;
    }
    if (acme_ari_parse(text, &w) != 0) {
        fall_back(r, s, "malformed answer (no suggestedWindow with RFC 3339 start and end, end after start)");
        return;
    }
    if (w.start >= s->not_after) {
        fall_back(r, s, "the suggested window begins after the certificate ends");
        return;
    }
    if (w.end >= s->not_after) /* a window running past the end: the renewal comes before it */
        w.end = s->not_after - 1;
    if (w.explanation_url[0])
        log_info("acme: resolver %s: the CA explains the renewal window of the certificate for %s: %s", r->cfg->name,
                 s->names[0], w.explanation_url);
    if (s->ari_at > 0 && w.start == s->ari_start && w.end == s->ari_end) {
        log_debug("acme: resolver %s: renewalInfo for %s: the same window; renewal still at the time picked in it",
                  r->cfg->name, s->names[0]);
        return;
    }
    uint64_t rnd = 0;
    if (RAND_bytes((unsigned char *)&rnd, sizeof(rnd)) != 1)
        rnd = (uint64_t)now ^ (uint64_t)watcher_now_ms();
    s->ari_start = w.start;
    s->ari_end = w.end;
    s->ari_at = acme_ari_pick(&w, now, rnd);
    char start[32], end[32], at[32];
    format_time(w.start, start, sizeof(start));
    format_time(w.end, end, sizeof(end));
    format_time(s->ari_at, at, sizeof(at));
    log_info("acme: resolver %s: the CA's renewalInfo suggests renewing the certificate for %s between %s and %s: "
             "renewal %s%s", r->cfg->name, s->names[0], start, end, s->ari_at <= now ? "now" : "at ",
             s->ari_at <= now ? "" : at);
}

bool acme_manager__ari_poll(struct resolver *r, struct domain_set *s, uint64_t mono, uint64_t *next)
{
    if (s->cert_pem == NULL || s->revoked || s->ari_id == NULL || r->client == NULL ||
        acme_client_has_renewal_info(r->client) == 0 || time(NULL) >= s->not_after)
        return false; /* the normal schedule; an expired certificate is renewed at once anyway */
    if (s->ari_poll_ms > mono) {
        if (s->ari_poll_ms - mono < *next)
            *next = s->ari_poll_ms - mono;
        return false;
    }
    if (r->ari_set == NULL && r->current == NULL && !acme_client_busy(r->client)) {
        r->ari_set = s;
        log_debug("acme: resolver %s: asking the CA's renewalInfo about the certificate for %s (%s)", r->cfg->name,
                  s->names[0], s->ari_id);
        acme_client_renewal_info(r->client, s->ari_id, on_renewal_info, r);
    }
    return true; /* its answer (or the client's next idle moment) ticks again */
}
