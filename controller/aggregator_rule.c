/*
 * Shared router rules (see aggregator_rule.h): each lives in an arena of
 * its own, referenced by every table holding it; the last table freed
 * frees it (and its regexes).
 */
#include "aggregator_rule.h"

#include <stdlib.h>
#include <string.h>

#include "../common/arena.h"
#include "../proxy/table.h"
#include "compile_reuse.h"

struct shared_rule {
    int refs; /* tables holding it */
    struct arena arena;
    const struct rule_node *rule;
};

static size_t live;

size_t aggregator_rules_live(void)
{
    return live;
}

static void release(void *p)
{
    struct shared_rule *s = p;
    if (--s->refs > 0)
        return;
    arena_free(&s->arena);
    free(s);
    live--;
}

const struct rule_node *aggregator_rule(struct table *t, const struct compile_reuse *prev, struct compile_reuse *next,
                                        const void *key, const char *text, struct diag *d)
{
    struct shared_rule *s = prev ? compile_reuse_get(prev, key) : NULL;
    if (s == NULL) {
        s = mem_calloc(1, sizeof(*s));
        arena_init_sized(&s->arena, 256 + 4 * strlen(text)); /* 10,000 rules at 4 KiB each would not be small */
        s->rule = rule_parse(&s->arena, text, d);
        if (s->rule == NULL) {
            arena_free(&s->arena);
            free(s);
            return NULL;
        }
        live++;
    }
    s->refs++;
    arena_on_free(&t->arena, release, s);
    if (next != NULL)
        compile_reuse_put(next, key, s);
    return s->rule;
}
