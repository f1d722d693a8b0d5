/*
 * Router rules parsed once and shared by every table built while the
 * router's model object does not change (providers hand unchanged routers
 * over by reference, compile_reuse.h): an unchanged router's rule (its
 * regexes JIT-compiled) is carried into the next table instead of parsed
 * again. Watcher thread only.
 */
#ifndef GANTRY_AGGREGATOR_RULE_H
#define GANTRY_AGGREGATOR_RULE_H

#include <stddef.h>

#include "../common/diag.h"
#include "../common/rule.h"

struct arena;
struct table;
struct table_hosts;
struct compile_reuse;
struct model_router;
struct stats;

/* The parsed rule <text> of router <key> for table <t> (which holds a
 * reference until it is freed): the one in <prev> (the published table's)
 * when <key> is there, else parsed now. Recorded in <next>. NULL with <d>
 * filled when the rule is refused. */
const struct rule_node *aggregator_rule(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                        const void *key, const char *text, struct diag *d);
/* What a router compiles to whatever else changed, found once per model
 * object and shared like its rule (the compile's per-router "unit"): the
 * qualified names, the hosts its rule pins (the table's host index), its
 * statistics and the digest of what it names. */
struct route_unit {
    const struct rule_node *rule;
    const char *provider; /* the one <name> and <service> were qualified in */
    const char *name;     /* name@provider */
    const char *service;  /* the service's qualified name; NULL: none named */
    const char *rule_text;
    int64_t priority; /* the router's, or its rule's default */
    const struct table_hosts *hosts;
    struct stats *stats; /* the router's (one reference) */
    uint64_t sig;        /* digest of the service, rule and middleware names */
};

/* The unit of router <r> of <provider> for table <t> (which holds a
 * reference until it is freed): <prev>'s when <r> is there and was
 * qualified in the same provider, else built now. Recorded in <next>. NULL
 * with <d> filled when the rule is refused. */
const struct route_unit *aggregator_route_unit(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                               const struct model_router *r, const char *provider, struct diag *d);
/* One more reference on <u>, dropped when <a> is freed (an API snapshot
 * showing its names). */
void aggregator_route_unit_hold(struct arena *a, const struct route_unit *u);
/* The digest of a router's names (its unit's <sig>). */
uint64_t aggregator_router_digest(const char *service, const struct model_router *r);

/* How many shared rules are alive (tests). */
size_t aggregator_rules_live(void);

#endif
