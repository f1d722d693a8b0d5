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

struct table;
struct compile_reuse;

/* The parsed rule <text> of router <key> for table <t> (which holds a
 * reference until it is freed): the one in <prev> (the published table's)
 * when <key> is there, else parsed now. Recorded in <next>. NULL with <d>
 * filled when the rule is refused. */
const struct rule_node *aggregator_rule(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                        const void *key, const char *text, struct diag *d);
/* How many shared rules are alive (tests). */
size_t aggregator_rules_live(void);

#endif
