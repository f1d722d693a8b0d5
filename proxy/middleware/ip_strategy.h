/*
 * Traefik's ipStrategy and sourceCriterion, shared by ipAllowList,
 * inFlightReq and rateLimit.
 *
 * ipStrategy picks the client address of a request: with <depth> > 0 the
 * depth-th entry of X-Forwarded-For counted from the right; otherwise, with
 * <excludedIPs>, the right-most entry not in them; otherwise the
 * connection's remote address. <ipv6Subnet> (1 to 128) masks an IPv6
 * result to that prefix (so one /64 counts as one client), except with
 * excludedIPs (as in Traefik). The X-Forwarded-For a
 * middleware sees is the client's only when the entry point trusts it
 * (forwardedHeaders.trustedIPs / insecure); otherwise route.c has removed it
 * and a depth strategy finds no address — Traefik behaves the same.
 *
 * sourceCriterion groups requests for the limiters: an ipStrategy, a
 * request header's value, or the request's Host; at most one of them.
 */
#ifndef GANTRY_MW_IP_STRATEGY_H
#define GANTRY_MW_IP_STRATEGY_H

#include "../../common/rule.h"
#include "middleware.h"

#define IP_STRATEGY_TEXT 64 /* room for any address text we return */

struct ip_strategy {
    uint32_t depth;            /* 0: not by depth */
    struct rule_cidr *excluded; /* excludedIPs (used when depth is 0) */
    size_t n_excluded;
    int ipv6_subnet; /* -1: none */
};

/* Reads "<prefix>.depth", "<prefix>.excludedIPs", "<prefix>.ipv6Subnet".
 * -1 with <d> naming the option on a bad value. Watcher thread. */
int ip_strategy_build(struct arena *a, struct mw_options *o, const char *prefix, struct ip_strategy *out,
                      struct diag *d) WARN_UNUSED;

/* The client address the strategy picks for <run>'s request, as text in
 * <buf> (IP_STRATEGY_TEXT bytes): its length, 0 when there is none (no
 * X-Forwarded-For, too short for the depth, every entry excluded). The
 * text is the header's entry as written (it may carry a port, or not be an
 * address at all: callers decide). */
size_t ip_strategy_get(const struct ip_strategy *s, const struct mw_run *run, char *buf);

/* Parses an address as found in X-Forwarded-For ("1.2.3.4", "1.2.3.4:80",
 * "::1", "[::1]:80") into the ::ffff:-mapped 16-byte form. */
bool ip_strategy_parse_addr(const char *s, size_t len, uint8_t out16[16]);

enum source_kind { SOURCE_IP, SOURCE_HEADER, SOURCE_HOST };

struct source_criterion {
    enum source_kind kind;
    struct ip_strategy ip;
    const char *header; /* SOURCE_HEADER */
    size_t header_len;
};

/* Reads "sourceCriterion.*"; <def> when none is given (Traefik: remote
 * address for rateLimit, Host for inFlightReq). Refuses more than one. */
int source_criterion_build(struct arena *a, struct mw_options *o, enum source_kind def, struct source_criterion *out,
                           struct diag *d) WARN_UNUSED;

/* The request's source key (an address, a header value, the Host), pointing
 * into <buf> (IP_STRATEGY_TEXT bytes) or into the request. May be empty:
 * all such requests then share one key, as in Traefik. */
h2o_iovec_t source_criterion_key(const struct source_criterion *c, const struct mw_run *run, char *buf);

/* Gantry-internal "exemptSourceRange" of rateLimit and inFlightReq: the
 * client addresses (the connection's, as nginx's $remote_addr) the limit
 * does not apply to; set only by the kubernetes provider for ingress-nginx's
 * limit-whitelist (from another provider the option is unknown, as in
 * Traefik). */
struct source_exempt {
    struct rule_cidr *ranges;
    size_t n;
};

int source_exempt_build(struct arena *a, struct mw_options *o, struct source_exempt *out, struct diag *d) WARN_UNUSED;

/* Whether <run>'s client is exempt. */
bool source_exempt_has(const struct source_exempt *e, const struct mw_run *run);

/* 64-bit hash of a key, never 0 (0 marks an empty slot in the tables). */
uint64_t source_hash(uint64_t seed, h2o_iovec_t key);

#endif
