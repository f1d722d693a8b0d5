/*
 * lego's DNS-01 lookups, on the DNS-01 thread (each one bounded):
 * - the CNAME chain of _acme-challenge.<domain> is followed at the
 *   recursive resolvers, and the record is written at its end;
 * - a check round asks the recursive resolvers for the TXT record (every
 *   one with requireAllRNS), then, unless disableANSChecks, finds the zone
 *   by its SOA, its NS records and their addresses, and asks each of them
 *   (without recursion) for the record.
 */
#ifndef GANTRY_ACME_DNS_CHECK_H
#define GANTRY_ACME_DNS_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acme_dns_query.h"

#define ACME_DNS_EXCHANGE_MS 4000 /* one question to one server */
#define ACME_DNS_MAX_CNAMES 50    /* lego's bound on a CNAME chain */

struct acme_dns_check {
    const struct acme_dns_server *servers; /* recursive: dnsChallenge.resolvers, else /etc/resolv.conf */
    size_t n_servers;
    bool require_all; /* propagation.requireAllRNS */
    bool ans;         /* !propagation.disableANSChecks */
    uint64_t exchange_ms;
    bool (*stop)(void *data); /* polled between questions */
    void *stop_data;
};

/* The end of <fqdn>'s CNAME chain (<fqdn> itself when it has none), malloc'd. */
char *acme_dns_follow_cname(const struct acme_dns_check *c, const char *fqdn);

/* One round: 1 when <value> is there wherever it must be, 0 when not (yet),
 * <why> says where and why. <ans_seen> (may be NULL) gets the authoritative
 * servers asked ("zone example.org.: ns1.example.org. 192.0.2.1:53, ..."). */
int acme_dns_check_round(const struct acme_dns_check *c, const char *fqdn, const char *value, char *why, size_t why_len,
                         char *ans_seen, size_t ans_seen_len);

#endif
