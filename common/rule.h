/*
 * The router rule language of Traefik v3:
 *
 *   Host(`a.example`) && (PathPrefix(`/api`) || Method(`POST`)) && !ClientIP(`10.0.0.0/8`)
 *
 * rule_parse() turns text into an AST (struct rule_node, types here so the
 * proxy's matcher can read them); regular expressions are compiled with
 * PCRE2 at parse time, so a bad regex is a configuration error, never a
 * request-time one. All nodes live in the caller's arena.
 */
#ifndef GANTRY_RULE_H
#define GANTRY_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/arena.h"
#include "../common/diag.h"

enum rule_op { RULE_MATCH, RULE_AND, RULE_OR, RULE_NOT };

enum rule_matcher {
    RULE_HOST,
    RULE_HOST_REGEXP,
    RULE_PATH,
    RULE_PATH_PREFIX,
    RULE_PATH_REGEXP,
    RULE_METHOD,
    RULE_HEADER,
    RULE_HEADER_REGEXP,
    RULE_QUERY,
    RULE_QUERY_REGEXP,
    RULE_CLIENT_IP,
    /* constraint expressions (providers.docker.constraints) only */
    RULE_LABEL,
    RULE_LABEL_REGEXP,
    /* TCP router rules only: matched against the ClientHello's server name */
    RULE_HOST_SNI,
    RULE_HOST_SNI_REGEXP,
};

struct rule_cidr {
    uint8_t addr[16]; /* IPv4 as ::ffff:a.b.c.d */
    uint8_t bits;     /* prefix length over the 128-bit form */
};

struct rule_str {
    const char *s;
    size_t len;
};

struct rule_node {
    enum rule_op op;
    struct rule_node *a, *b; /* AND/OR: both; NOT: a */
    /* RULE_MATCH */
    enum rule_matcher matcher;
    struct rule_str *args; /* Host names lowercased; header names lowercased */
    size_t nargs;
    void **regex; /* pcre2_code_8 *, one per pattern argument */
    struct rule_cidr *cidrs;
    size_t ncidrs;
};

/* Parses <text>. On error returns NULL and <d> says at which column what
 * was expected. */
struct rule_node *rule_parse(struct arena *a, const char *text, struct diag *d);

/* Parses a TCP router rule: HostSNI(`a.example`, `*.example`), HostSNI(`*`),
 * HostSNIRegexp(`re`), ClientIP(`cidr`), with the same operators. */
struct rule_node *rule_parse_tcp(struct arena *a, const char *text, struct diag *d);

/* Parses a provider constraint: Label(`k`, `v`), LabelRegex(`k`, `re`)
 * with the same operators. */
struct rule_node *rule_parse_constraint(struct arena *a, const char *text, struct diag *d);

/* Default router priority: the length of the rule text (Traefik). */
int64_t rule_default_priority(const char *text);

/* Parses "10.0.0.1", "10.0.0.0/8", "::1", "fd00::/8". */
int rule_parse_cidr(const char *s, size_t len, struct rule_cidr *out);
/* <addr16> in the ::ffff:-mapped form for IPv4. */
bool rule_cidr_contains(const struct rule_cidr *c, const uint8_t *addr16);

#endif
